"""Compile one CEL expression as kube compiles a CRD's rules: parse, type-check with ``self``
(and ``oldSelf``, an optional for an ``optionalOldSelf`` rule) bound to the node's declared
type, then cel-go's AST validators for literals (duration, timestamp and regex arguments,
homogeneous list and map literals). The issues print as cel-go prints them."""

from __future__ import annotations

from dataclasses import dataclass

from . import cel_types as t
from .cel_ast import Call, Expr, ListExpr, Literal, MapExpr, children
from .cel_check import Checked, check
from .cel_decl import DeclType
from .cel_parse import Parsed, parse
from .cel_regex import RegexError, compile_re2
from .cel_source import Issues
from .cel_strformat import check_format_calls
from .cel_time import CelTimeError, parse_duration, parse_timestamp

__all__ = ["Compiled", "compile_expr", "instantiation_error"]


@dataclass
class Compiled:
    parsed: Parsed
    checked: Checked
    output: t.Type
    uses_old_self: bool


def _walk(e: Expr) -> list[Expr]:
    out = [e]
    for c in children(e):
        out.extend(_walk(c))
    return out


def _equivalent(a: t.Type, b: t.Type) -> bool:
    if a.kind != b.kind:
        return False
    if a.kind == "param":
        return True
    if a.name != b.name or len(a.params) != len(b.params):
        return False
    return all(_equivalent(x, y) for x, y in zip(a.params, b.params, strict=True))


def _valid_regex(pattern: str) -> bool:
    try:
        compile_re2(pattern)
    except RegexError:
        return False
    return True


def _inside_format(expr: Expr) -> set[int]:
    """Ids of the expressions below a ``format`` call."""
    out: set[int] = set()

    def walk(e: Expr, inside: bool) -> None:
        if inside:
            out.add(e.id)
        now = inside or (isinstance(e, Call) and e.function == "format")
        for c in children(e):
            walk(c, now)

    walk(expr, False)
    return out


def _validate(expr: Expr, checked: Checked, issues: Issues, offsets: dict[int, int]) -> None:
    """cel-go's ``ValidateDurationLiterals``, ``ValidateTimestampLiterals``,
    ``ValidateRegexLiterals`` and ``ValidateHomogeneousAggregateLiterals``."""
    nodes = _walk(expr)
    for fn, what in (("duration", "duration"), ("timestamp", "timestamp"), ("matches", "matches")):
        for e in nodes:
            if not (isinstance(e, Call) and e.function == fn and e.args):
                continue
            arg = e.args[0]
            if not isinstance(arg, Literal):
                continue
            ok = True
            value = arg.value
            if fn == "matches":
                ok = isinstance(value, str) and _valid_regex(value)
            elif isinstance(value, str):
                try:
                    (parse_duration if fn == "duration" else parse_timestamp)(value)
                except CelTimeError:
                    ok = False
            elif fn == "timestamp" and isinstance(value, int) and not isinstance(value, bool):
                ok = -62135596800 <= value <= 253402300799
            if not ok:
                issues.report(offsets.get(arg.id), f"invalid {what} argument")
    check_format_calls(expr, checked, issues, offsets)
    exempt = _inside_format(expr)
    for e in nodes:
        if e.id in exempt:
            continue  # the strings extension exempts format()'s arguments
        if isinstance(e, ListExpr):
            elem: t.Type | None = None
            for i, item in enumerate(e.elements):
                et = checked.type_of(item)
                if i in e.optional_indices and et.params:
                    et = et.params[0]
                if elem is None:
                    elem = et
                elif not _equivalent(elem, et):
                    issues.report(
                        offsets.get(item.id),
                        f"expected type '{t.fmt(elem)}' but found '{t.fmt(et)}'",
                    )
                    break
        elif isinstance(e, MapExpr):
            kt0: t.Type | None = None
            vt0: t.Type | None = None
            for entry in e.entries:
                assert isinstance(entry.key, Expr)
                kt = checked.type_of(entry.key)
                vt = checked.type_of(entry.value)
                if entry.optional and vt.params:
                    vt = vt.params[0]
                if kt0 is None or vt0 is None:
                    kt0, vt0 = kt, vt
                    continue
                if not _equivalent(kt0, kt):
                    issues.report(
                        offsets.get(entry.key.id),
                        f"expected type '{t.fmt(kt0)}' but found '{t.fmt(kt)}'",
                    )
                if not _equivalent(vt0, vt):
                    issues.report(
                        offsets.get(entry.value.id),
                        f"expected type '{t.fmt(vt0)}' but found '{t.fmt(vt)}'",
                    )


def compile_expr(
    text: str, decl: DeclType, structs: dict[str, DeclType], optional_old_self: bool
) -> tuple[Compiled | None, Issues]:
    """The compiled expression, or ``None`` and its issues."""
    parsed, issues = parse(text)
    if parsed is None:
        return None, issues
    old = t.optional_of(decl.type) if optional_old_self else decl.type
    variables = {"self": decl.type, "oldSelf": old}
    checked = check(parsed.expr, issues, parsed.offsets, variables, structs)
    if issues:
        return None, issues
    _validate(parsed.expr, checked, issues, parsed.offsets)
    if issues:
        return None, issues
    uses_old = "oldSelf" in checked.idents.values()
    return Compiled(parsed, checked, checked.type_of(parsed.expr), uses_old), issues


def instantiation_error(compiled: Compiled) -> str | None:
    """Why cel-go cannot plan the program: a conversion of a constant that it folds when
    planning fails (``int('x')``: ``type conversion error from 'string' to 'int'``)."""
    from .cel_eval import constant_calls, evaluate
    from .cel_k8s import FUNCTIONS
    from .cel_values import EvalError

    for call in constant_calls(compiled.parsed.expr):
        try:
            evaluate(call, compiled.checked, {}, FUNCTIONS)
        except EvalError as err:
            return str(err)
    return None
