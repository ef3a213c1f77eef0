"""Type-check a parsed CEL expression against the declared type of ``self`` as cel-go's checker
does: identifiers and comprehension scopes, field selection on the schema's struct types,
overload resolution with type parameters, homogeneous list and map literals, optional
selection, and cel-go's messages (``undefined field 'x'``, ``found no matching overload for
'_==_' applied to '(int, string)'``, ``undeclared reference to 'f' (in container '')``...) at
the positions cel-go reports them."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import cel_types as t
from .cel_ast import Call, Comp, Expr, Ident, ListExpr, Literal, MapExpr, Select, StructExpr, UInt
from .cel_decl import DeclType
from .cel_decls import FUNCTIONS, IDENTS, Overload
from .cel_source import Issues

__all__ = ["Checked", "check"]


@dataclass
class Checked:
    """Types and resolutions of a checked expression."""

    types: dict[int, t.Type]
    overloads: dict[int, list[str]] = field(default_factory=dict)  # call id -> matching ids
    idents: dict[int, str] = field(default_factory=dict)  # ident id -> global name it names
    qualified: dict[int, str] = field(default_factory=dict)  # select id -> global ident name
    namespaced: dict[int, str] = field(default_factory=dict)  # call id -> qualified function

    def type_of(self, e: Expr) -> t.Type:
        return self.types.get(e.id, t.DYN)


class _Checker:
    def __init__(
        self,
        issues: Issues,
        offsets: dict[int, int],
        variables: dict[str, t.Type],
        structs: dict[str, DeclType],
    ) -> None:
        self.issues = issues
        self.offsets = offsets
        self.globals = {**IDENTS, **variables}
        self.structs = structs
        self.scopes: list[dict[str, t.Type]] = []
        self.mapping = t.Mapping()
        self.counter = 0
        self.out = Checked({})

    # -- helpers

    def error(self, e: Expr | int, message: str) -> None:
        eid = e if isinstance(e, int) else e.id
        self.issues.report(self.offsets.get(eid), message)

    def set_type(self, e: Expr, ty: t.Type) -> None:
        self.out.types[e.id] = ty

    def get(self, e: Expr) -> t.Type:
        return self.out.types.get(e.id, t.ERROR)

    def new_var(self) -> t.Type:
        v = t.param(f"_var{self.counter}")
        self.counter += 1
        return v

    def assignable(self, t1: t.Type, t2: t.Type) -> bool:
        m = t.is_assignable(self.mapping, t1, t2)
        if m is None:
            return False
        self.mapping = m
        return True

    def assignable_list(self, l1: list[t.Type], l2: list[t.Type]) -> bool:
        m = t.is_assignable_list(self.mapping, l1, l2)
        if m is None:
            return False
        self.mapping = m
        return True

    def sub(self, ty: t.Type, to_dyn: bool = False) -> t.Type:
        return t.substitute(self.mapping, ty, to_dyn)

    def mismatch(self, e: Expr | int, expected: t.Type, actual: t.Type) -> None:
        self.error(e, f"expected type '{t.fmt(expected)}' but found '{t.fmt(actual)}'")

    def local(self, name: str) -> t.Type | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def resolve(self, name: str) -> tuple[str, t.Type] | None:
        if not name.startswith(".") and (local := self.local(name)) is not None:
            return name, local
        bare = name.lstrip(".")
        if bare in self.globals:
            return bare, self.globals[bare]
        if bare in self.structs:
            return bare, t.type_of(self.structs[bare].type)
        return None

    # -- the walk

    def check(self, e: Expr) -> None:
        if isinstance(e, Literal):
            self.set_type(e, _literal_type(e.value))
        elif isinstance(e, Ident):
            self.check_ident(e)
        elif isinstance(e, Select):
            self.check_select(e)
        elif isinstance(e, Call):
            self.check_call(e)
        elif isinstance(e, ListExpr):
            self.check_list(e)
        elif isinstance(e, MapExpr):
            self.check_map(e)
        elif isinstance(e, StructExpr):
            self.check_struct(e)
        elif isinstance(e, Comp):
            self.check_comp(e)

    def check_ident(self, e: Ident) -> None:
        found = self.resolve(e.name)
        if found is None:
            self.set_type(e, t.ERROR)
            self.error(e, f"undeclared reference to '{e.name}' (in container '')")
            return
        name, ty = found
        if self.local(e.name) is None or e.name.startswith("."):
            self.out.idents[e.id] = name
        self.set_type(e, ty)

    def qualifiers(self, e: Expr) -> list[str] | None:
        names: list[str] = []
        while isinstance(e, Select):
            if e.test_only:
                return None
            names.append(e.field)
            e = e.operand
            if isinstance(e, Ident):
                names.append(e.name)
                return list(reversed(names))
        return None

    def check_select(self, e: Select) -> None:
        names = self.qualifiers(e)
        if names is not None and len(names) > 1:
            first = names[0]
            if first.startswith(".") or self.local(first) is None:
                qualified = ".".join(names).lstrip(".")
                if qualified in self.globals:
                    self.out.qualified[e.id] = qualified
                    self.set_type(e, self.globals[qualified])
                    return
        result = self.select_field(e, e.operand, e.field, False)
        if e.test_only:
            result = t.BOOL
        self.set_type(e, self.sub(result))

    def select_field(self, e: Expr, operand: Expr, name: str, optional: bool) -> t.Type:
        self.check(operand)
        operand_type = self.sub(self.get(operand))
        target, was_optional = t.unwrap_optional(operand_type)
        result = t.ERROR
        if target.kind == "map":
            result = target.params[1]
        elif target.kind == "struct":
            found = self.field_type(e, target.name, name)
            if found is not None:
                result = found
        elif target.kind == "param":
            self.assignable(t.DYN, target)
            result = t.DYN
        else:
            if not t.is_dyn_or_error(target):
                self.error(e, f"type '{t.fmt(target)}' does not support field selection")
            result = t.DYN
        if was_optional or optional:
            return t.optional_of(result)
        return result

    def field_type(self, e: Expr, struct: str, name: str) -> t.Type | None:
        decl = self.structs.get(struct)
        if decl is None:
            self.error(e, f"undefined field '{name}'")
            return None
        sub = decl.fields.get(name)
        if sub is None:
            self.error(e, f"undefined field '{name}'")
            return None
        return sub.type

    def check_call(self, e: Call) -> None:
        if e.function == "_?._":
            self.check_opt_select(e)
            return
        for arg in e.args:
            self.check(arg)
        if e.target is None:
            overloads = FUNCTIONS.get(e.function.lstrip("."))
            if overloads is None:
                self.error(e, f"undeclared reference to '{e.function}' (in container '')")
                self.set_type(e, t.ERROR)
                return
            self.resolve_overload(e, e.function.lstrip("."), overloads, None)
            return
        names = self.qualifiers(e.target) if isinstance(e.target, Select) else None
        if isinstance(e.target, Ident):
            names = [e.target.name]
        if names is not None:
            qualified = ".".join(names).lstrip(".") + "." + e.function
            overloads = FUNCTIONS.get(qualified)
            if overloads is not None:
                self.out.namespaced[e.id] = qualified
                self.resolve_overload(e, qualified, overloads, None)
                return
        self.check(e.target)
        overloads = FUNCTIONS.get(e.function)
        if overloads is not None:
            self.resolve_overload(e, e.function, overloads, e.target)
            return
        self.set_type(e, t.ERROR)
        self.error(e, f"undeclared reference to '{e.function}' (in container '')")

    def check_opt_select(self, e: Call) -> None:
        operand, name = e.args[0], e.args[1]
        assert isinstance(name, Literal) and isinstance(name.value, str)
        result = self.select_field(e, operand, name.value, True)
        self.set_type(e, self.sub(result))

    def resolve_overload(
        self, e: Call, name: str, overloads: list[Overload], target: Expr | None
    ) -> None:
        args = ([target] if target is not None else []) + e.args
        arg_types = [self.get(a) for a in args]
        if name in ("_&&_", "_||_"):
            ok = True
            for a, ty in zip(args, arg_types, strict=True):
                if not self.assignable(ty, t.BOOL):
                    self.mismatch(a, t.BOOL, ty)
                    ok = False
            self.set_type(e, t.BOOL if ok else t.ERROR)
            self.out.overloads[e.id] = [overloads[0].id]
            return
        result: t.Type | None = None
        matched: list[str] = []
        for o in overloads:
            if o.member != (target is not None) or len(o.args) != len(arg_types):
                continue
            subs = t.Mapping()
            for p in o.params:
                subs.add(t.param(p), self.new_var())
            cand = [t.substitute(subs, a, False) for a in o.args]
            ret = t.substitute(subs, o.result, False)
            if self.assignable_list(arg_types, cand):
                matched.append(o.id)
                fn_result = self.sub(ret)
                if result is None:
                    result = fn_result
                elif not t.is_dyn(result) and fn_result != result:
                    result = t.DYN
        if result is None:
            shown = [self.sub(a, True) for a in arg_types]
            sig = t.fmt_function(None, shown, target is not None)
            self.error(e, f"found no matching overload for '{name}' applied to '{sig}'")
            self.set_type(e, t.ERROR)
            return
        self.out.overloads[e.id] = matched
        self.set_type(e, result)

    def join(self, e: Expr, previous: t.Type | None, current: t.Type) -> t.Type:
        if previous is None:
            return current
        if self.assignable(previous, current):
            return t.most_general(previous, current)
        return t.DYN  # mixed literals are reported by the literal validator afterwards

    def check_list(self, e: ListExpr) -> None:
        elem: t.Type | None = None
        for i, item in enumerate(e.elements):
            self.check(item)
            ty = self.get(item)
            if i in e.optional_indices:
                ty, was = t.unwrap_optional(ty)
                if not was and not t.is_dyn(ty):
                    self.mismatch(item, t.optional_of(ty), ty)
            elem = self.join(item, elem, ty)
        self.set_type(e, t.list_of(elem if elem is not None else self.new_var()))

    def check_map(self, e: MapExpr) -> None:
        key_t: t.Type | None = None
        val_t: t.Type | None = None
        for entry in e.entries:
            assert isinstance(entry.key, Expr)
            self.check(entry.key)
            key_t = self.join(entry.key, key_t, self.get(entry.key))
            self.check(entry.value)
            vt = self.get(entry.value)
            if entry.optional:
                vt, was = t.unwrap_optional(vt)
                if not was and not t.is_dyn(vt):
                    self.mismatch(entry.value, t.optional_of(vt), vt)
            val_t = self.join(entry.value, val_t, vt)
        if key_t is None or val_t is None:
            key_t, val_t = self.new_var(), self.new_var()
        self.set_type(e, t.map_of(key_t, val_t))

    def check_struct(self, e: StructExpr) -> None:
        # No message types are declared for CRD rules: every struct literal names an
        # undeclared type (the schema's own object types are not constructible by name).
        for f in e.fields:
            self.check(f.value)
        self.error(e, f"undeclared reference to '{e.type_name}' (in container '')")
        self.set_type(e, t.ERROR)

    def check_comp(self, e: Comp) -> None:
        self.check(e.iter_range)
        self.check(e.accu_init)
        range_t = self.sub(self.get(e.iter_range))
        accu_t = self.get(e.accu_init)
        self.scopes.append({e.accu_var: accu_t})
        var2_t: t.Type | None = None
        if range_t.kind == "list":
            var_t = range_t.params[0]
            if e.iter_var2:
                var2_t, var_t = var_t, t.INT
        elif range_t.kind == "map":
            var_t = range_t.params[0]
            if e.iter_var2:
                var2_t = range_t.params[1]
        elif range_t.kind in ("dyn", "any", "error", "param"):
            self.assignable(t.DYN, range_t)
            var_t = t.DYN
            var2_t = t.DYN if e.iter_var2 else None
        else:
            self.error(
                e.iter_range,
                f"expression of type '{t.fmt(range_t)}' cannot be range of a comprehension "
                "(must be list, map, or dynamic)",
            )
            var_t = t.ERROR
            var2_t = t.ERROR if e.iter_var2 else None
        scope = {e.iter_var: var_t}
        if e.iter_var2 and var2_t is not None:
            scope[e.iter_var2] = var2_t
        self.scopes.append(scope)
        self.check(e.loop_condition)
        self.assert_type(e.loop_condition, t.BOOL)
        self.check(e.loop_step)
        self.assert_type(e.loop_step, accu_t)
        self.scopes.pop()
        self.check(e.result)
        self.scopes.pop()
        self.set_type(e, self.sub(self.get(e.result)))

    def assert_type(self, e: Expr, ty: t.Type) -> None:
        if not self.assignable(ty, self.get(e)):
            self.mismatch(e, ty, self.get(e))


def _literal_type(value: object) -> t.Type:
    if isinstance(value, bool):
        return t.BOOL
    if isinstance(value, UInt):
        return t.UINT
    if isinstance(value, int):
        return t.INT
    if isinstance(value, float):
        return t.DOUBLE
    if isinstance(value, str):
        return t.STRING
    if isinstance(value, bytes):
        return t.BYTES
    return t.NULL


def check(
    expr: Expr,
    issues: Issues,
    offsets: dict[int, int],
    variables: dict[str, t.Type],
    structs: dict[str, DeclType],
) -> Checked:
    """Check ``expr``; errors go to ``issues``. Type parameters left unbound become ``dyn``."""
    checker = _Checker(issues, offsets, variables, structs)
    checker.check(expr)
    out = checker.out
    out.types = {k: t.substitute(checker.mapping, v, True) for k, v in out.types.items()}
    return out
