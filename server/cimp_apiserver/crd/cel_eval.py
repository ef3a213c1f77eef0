"""Evaluate a checked CEL expression as cel-go's interpreter does: strict functions raise
:class:`~.cel_values.EvalError`; ``&&``/``||`` absorb an error when the other side decides;
comprehensions keep an error in their accumulator until a later step absorbs or returns it;
``has()``, optional selection and optional indexing never fail on a missing field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .cel_actual_cost import call_cost
from .cel_ast import (
    Call,
    Comp,
    Expr,
    Ident,
    ListExpr,
    Literal,
    MapExpr,
    Select,
    StructExpr,
    children,
)
from .cel_check import Checked
from .cel_decl import RESERVED
from .cel_decls import IDENTS
from .cel_lib import FUNCTIONS
from .cel_values import NONE, CelType, EvalError, Optional, map_get, no_overload

__all__ = ["CostLimitExceeded", "constant_calls", "evaluate"]


@dataclass
class _ErrVal:
    """An error held as a value (in a comprehension's accumulator)."""

    error: EvalError


class _Scope:
    __slots__ = ("parent", "vars")

    def __init__(self, vars: dict[str, Any], parent: _Scope | None = None) -> None:
        self.vars = vars
        self.parent = parent

    def find(self, name: str) -> tuple[bool, Any]:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.vars:
                return True, scope.vars[name]
            scope = scope.parent
        return False, None


# The list functions whose cost tracker reads an argument as a list: (function, argument).
_LIST_TRACKERS = {"sort": 0, "distinct": 0, "@sortByAssociatedKeys": 1}


class CostLimitExceeded(Exception):
    """cel-go cancels an evaluation whose actual cost passes the per-call limit."""

    def __init__(self) -> None:
        super().__init__("operation cancelled: actual cost limit exceeded")


_CONVERSIONS = frozenset(
    {"bool", "bytes", "double", "duration", "dyn", "int", "string", "timestamp", "type", "uint"}
)
_QUALIFIERS = ("_[_]", "_?._", "_[?_]")


def _is_attribute(e: Expr) -> bool:
    """Whether cel-go plans ``e`` as an attribute (a variable with qualifiers)."""
    if isinstance(e, Ident):
        return e.name.lstrip(".") not in IDENTS
    if isinstance(e, Select):
        return not e.test_only
    return isinstance(e, Call) and e.function in _QUALIFIERS


def _is_constant(e: Expr) -> bool:
    """What cel-go's planner folds into a constant (no cost when evaluated)."""
    if isinstance(e, Literal):
        return True
    if isinstance(e, Ident):
        return e.name.lstrip(".") in IDENTS
    if isinstance(e, ListExpr):
        return not e.optional_indices and all(_is_constant(x) for x in e.elements)
    if isinstance(e, MapExpr):
        return all(
            not x.optional
            and isinstance(x.key, Expr)
            and _is_constant(x.key)
            and _is_constant(x.value)
            for x in e.entries
        )
    if isinstance(e, Call):
        return (
            e.function in _CONVERSIONS
            and e.target is None
            and len(e.args) == 1
            and _is_constant(e.args[0])
        )
    return False


def constant_calls(e: Expr) -> list[Call]:
    """The outermost conversions of constants in ``e``, in the order cel-go plans them."""
    if isinstance(e, Call) and _is_constant(e):
        return [e]
    out: list[Call] = []
    for c in children(e):
        out.extend(constant_calls(c))
    return out


def _type_value(name: str) -> CelType:
    t = IDENTS[name].params[0]
    return CelType(t.name)


class _Interpreter:
    def __init__(
        self, checked: Checked, functions: dict[str, Any], limit: int | None = None
    ) -> None:
        self.checked = checked
        self.functions = functions
        self.cost = 0
        self.limit = limit

    def charge(self, n: int) -> None:
        self.cost += n
        if self.limit is not None and self.cost > self.limit:
            raise CostLimitExceeded()

    def base(self, operand: Expr) -> int:
        """A qualifier on a value that is not an attribute starts a relative one (+1)."""
        if _is_attribute(operand):
            return 0
        if isinstance(operand, Call) and operand.function == "_?_:_":
            return 0
        return 1

    def eval(self, e: Expr, scope: _Scope) -> Any:
        if isinstance(e, Literal):
            return e.value
        if isinstance(e, Ident):
            return self.ident(e, scope)
        if isinstance(e, Select):
            return self.select(e, scope)
        if isinstance(e, Call):
            return self.call(e, scope)
        if isinstance(e, ListExpr):
            if not _is_constant(e):
                self.charge(10)
            out = []
            for i, item in enumerate(e.elements):
                v = self.eval(item, scope)
                if i in e.optional_indices:
                    if not isinstance(v, Optional):
                        raise no_overload()
                    if v.present:
                        out.append(v.value)
                    continue
                out.append(v)
            return out
        if isinstance(e, MapExpr):
            if not _is_constant(e):
                self.charge(30)
            m: dict[Any, Any] = {}
            for entry in e.entries:
                assert isinstance(entry.key, Expr)
                k = self.eval(entry.key, scope)
                v = self.eval(entry.value, scope)
                if entry.optional:
                    if not isinstance(v, Optional):
                        raise no_overload()
                    if not v.present:
                        continue
                    v = v.value
                if isinstance(k, (float, list, dict)) or k is None:
                    raise EvalError(f"unsupported key type: {type(k).__name__}")
                if map_get(m, k)[0]:
                    raise EvalError(f"Failed with repeated key: {k}")
                m[k] = v
            return m
        if isinstance(e, Comp):
            return self.comprehension(e, scope)
        assert isinstance(e, StructExpr)
        raise no_overload()

    def ident(self, e: Ident, scope: _Scope) -> Any:
        if _is_attribute(e):
            self.charge(1)
        found, value = scope.find(e.name)
        if found and not e.name.startswith("."):
            if isinstance(value, _ErrVal):
                raise value.error
            return value
        name = self.checked.idents.get(e.id, e.name.lstrip("."))
        found, value = scope.find(name)
        if found:
            return value
        if name in IDENTS:
            return _type_value(name)
        raise EvalError(f"no such attribute(s): {name}")

    def field(self, operand: Any, name: str) -> tuple[bool, Any]:
        if isinstance(operand, dict):
            found, value = map_get(operand, name)
            if not found and name in RESERVED:
                found, value = map_get(operand, f"__{name}__")
            return found, value
        raise no_overload()

    def select(self, e: Select, scope: _Scope) -> Any:
        qualified = self.checked.qualified.get(e.id)
        if qualified is not None:
            found, value = scope.find(qualified)
            if found:
                self.charge(1)
                return value
            return _type_value(qualified)
        operand = self.eval(e.operand, scope)
        if not e.test_only:
            self.charge(1 + self.base(e.operand))
        if isinstance(operand, Optional):
            if not operand.present:
                return False if e.test_only else NONE
            found, value = self.field(operand.value, e.field)
            if e.test_only:
                return found
            return Optional(value, True) if found else NONE
        found, value = self.field(operand, e.field)
        if e.test_only:
            return found
        if not found:
            raise EvalError(f"no such key: {e.field}")
        return value

    def call(self, e: Call, scope: _Scope) -> Any:
        fn = e.function
        if fn in ("_&&_", "_||_"):
            return self.logic(e, scope, fn == "_&&_")
        if fn == "_?_:_":
            cond = self.eval(e.args[0], scope)
            if not isinstance(cond, bool):
                raise no_overload()
            branch = e.args[1] if cond else e.args[2]
            if _is_attribute(branch):
                self.cost -= 1  # a branch attribute resolves without its own base cost
            return self.eval(branch, scope)
        if fn == "@not_strictly_false":
            try:
                v = self.eval(e.args[0], scope)
            except EvalError:
                v = True
            self.charge(1)
            return v if isinstance(v, bool) else True
        if fn == "_?._":
            operand = self.eval(e.args[0], scope)
            self.charge(1 + self.base(e.args[0]))
            name = e.args[1]
            assert isinstance(name, Literal)
            if isinstance(operand, Optional):
                if not operand.present:
                    return NONE
                operand = operand.value
            found, value = self.field(operand, str(name.value))
            return Optional(value, True) if found else NONE
        if fn in ("orValue", "or") and e.target is not None and len(e.args) == 1:
            receiver = self.eval(e.target, scope)
            if not isinstance(receiver, Optional):
                raise no_overload()
            if receiver.present:
                return receiver if fn == "or" else receiver.value
            alternative = self.eval(e.args[0], scope)
            if fn == "or" and not isinstance(alternative, Optional):
                raise no_overload()
            return alternative
        if _is_constant(e):
            return self.constant(e, scope)
        namespaced = self.checked.namespaced.get(e.id)
        operands = list(e.args)
        if namespaced is not None:
            fn = namespaced
        elif e.target is not None:
            operands.insert(0, e.target)
        args: list[Any] = []
        first: EvalError | None = None
        for operand in operands:
            try:
                args.append(self.eval(operand, scope))
            except EvalError as err:
                first = first or err
                args.append(_ErrVal(err))
        if first is not None:
            self.charge(self.call_cost(e, fn, args, None))  # cel-go observes the call anyway
            tracked = _LIST_TRACKERS.get(fn)
            if tracked is not None and isinstance(args[tracked], _ErrVal):
                # cel-go's cost tracker of these list functions panics on an error argument
                raise EvalError(
                    "internal error: interface conversion: *types.Err is not traits.Lister: "
                    "missing method Add"
                )
            raise first
        impl = self.functions.get(fn.lstrip("."))
        if impl is None:
            raise EvalError(f"no such overload: {fn}")
        try:
            if fn == "sum":
                result = impl(*args, _zero_for(self.checked.overloads.get(e.id, [])))
            else:
                result = impl(*args)
        except EvalError:
            self.charge(self.call_cost(e, fn, args, None))
            raise
        self.charge(self.call_cost(e, fn, args, result))
        return result

    def call_cost(self, e: Call, fn: str, args: list[Any], result: Any) -> int:
        if fn in _QUALIFIERS:
            index = e.args[1]
            own = 0 if _is_attribute(index) else 1
            return own + self.base(e.args[0])
        if fn == "@in" and isinstance(e.args[1], ListExpr) and _is_constant(e.args[1]):
            return 0  # cel-go turns membership in a constant list into a set lookup
        return call_cost(fn.lstrip("."), args, result)

    def constant(self, e: Call, scope: _Scope) -> Any:
        """A conversion of a constant, folded when cel-go plans the rule: no cost."""
        saved = self.cost
        try:
            args = [self.eval(a, scope) for a in e.args]
            impl = self.functions[e.function.lstrip(".")]
            return impl(*args)
        finally:
            self.cost = saved

    def logic(self, e: Call, scope: _Scope, is_and: bool) -> Any:
        decisive = not is_and  # false decides &&, true decides ||
        err: EvalError | None = None
        for arg in e.args:
            try:
                v = self.eval(arg, scope)
            except EvalError as ex:
                err = err or ex
                continue
            if not isinstance(v, bool):
                err = err or no_overload()
                continue
            if v is decisive:
                return decisive
        if err is not None:
            raise err
        return not decisive

    def comprehension(self, e: Comp, scope: _Scope) -> Any:
        rng = self.eval(e.iter_range, scope)
        if isinstance(rng, list):
            pairs = list(enumerate(rng)) if e.iter_var2 else [(v, None) for v in rng]
        elif isinstance(rng, dict):
            pairs = list(rng.items()) if e.iter_var2 else [(k, None) for k in rng]
        else:
            raise no_overload()
        try:
            accu = self.eval(e.accu_init, scope)
        except EvalError as err:
            accu = _ErrVal(err)
        for first, second in pairs:
            loop_vars: dict[str, Any] = {e.iter_var: first, e.accu_var: accu}
            if e.iter_var2:
                loop_vars[e.iter_var2] = second
            inner = _Scope(loop_vars, scope)
            cond = self.eval(e.loop_condition, inner)
            if cond is False:
                break
            try:
                accu = self.eval(e.loop_step, inner)
            except EvalError as err:
                accu = _ErrVal(err)
        return self.eval(e.result, _Scope({e.accu_var: accu}, scope))


def _zero_for(overload_ids: list[str]) -> Any:
    from .cel_ast import UInt
    from .cel_time import Duration

    for oid in overload_ids:
        if oid.startswith("list_uint"):
            return UInt(0)
        if oid.startswith("list_double"):
            return 0.0
        if oid.startswith("list_duration"):
            return Duration(0)
    return 0


def evaluate(
    expr: Expr,
    checked: Checked,
    variables: dict[str, Any],
    functions: dict[str, Any] | None,
    limit: int | None = None,
) -> tuple[Any, int]:
    """The value of ``expr`` with ``variables`` bound and its actual cost as cel-go counts it
    (raises :class:`EvalError`, or :class:`CostLimitExceeded` past ``limit``)."""
    interp = _Interpreter(checked, functions if functions is not None else FUNCTIONS, limit)
    try:
        value = interp.eval(expr, _Scope(dict(variables)))
    except EvalError as err:
        err.cost = interp.cost
        raise
    return value, interp.cost
