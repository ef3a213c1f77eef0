"""Evaluate a CRD's ``x-kubernetes-validations`` (CEL) rules as kube-apiserver does.

Each rule runs with ``self`` bound to the value at its schema node (and ``oldSelf`` to the
old value on an update); a false result becomes a field error at that node (or at the rule's
``fieldPath``) with the rule's ``message``/``messageExpression``/``reason``. Transition rules
(those naming ``oldSelf``) run only when an old value exists unless ``optionalOldSelf``. On an
update, a rule without ``oldSelf`` whose value did not change is not re-reported (kube's
validation ratcheting turns it into a warning). Null values are never validated.

The CEL engine is ``celpy`` (cel-python); the Kubernetes library functions rules commonly use
(strings, lists, regex) are added here; a rule calling one it lacks (``quantity``, ``url``,
``format``, ``optional.of``...) is not enforced; ``oldSelf`` of an ``optionalOldSelf`` rule is
an optional (``hasValue()``, ``value()``, ``orValue()``). Cost limits are not enforced.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError

from .errors import (
    DUPLICATE,
    FORBIDDEN,
    INVALID,
    OMIT,
    REQUIRED,
    FieldError,
    child,
    duplicate,
    forbidden,
    index,
    invalid,
    key,
    required,
)
from .props import Props, Rule

__all__ = ["compile_error", "validate_rules"]

_ENV = celpy.Environment()
_OLD_SELF = re.compile(r"\boldSelf\b")


# ------------------------------------------------------------------ library


def _str(value: Any) -> celtypes.StringType:
    return celtypes.StringType(value)


def _lower_ascii(s: Any) -> Any:
    return _str("".join(c.lower() if c.isascii() else c for c in str(s)))


def _upper_ascii(s: Any) -> Any:
    return _str("".join(c.upper() if c.isascii() else c for c in str(s)))


def _split(s: Any, sep: Any, limit: Any = None) -> Any:
    n = -1 if limit is None else int(limit)
    if n == 0:
        return celtypes.ListType([])
    parts = list(str(s)) if sep == "" else str(s).split(str(sep), -1 if n < 0 else n - 1)
    if sep == "" and n > 0 and len(parts) > n:
        parts = [*parts[: n - 1], "".join(parts[n - 1 :])]
    return celtypes.ListType([_str(p) for p in parts])


def _join(items: Any, sep: Any = "") -> Any:
    return _str(str(sep).join(str(i) for i in items))


def _replace(s: Any, old: Any, new: Any, limit: Any = None) -> Any:
    n = -1 if limit is None else int(limit)
    return _str(str(s).replace(str(old), str(new), n))


def _trim(s: Any) -> Any:
    return _str(str(s).strip())


def _index_of(target: Any, item: Any, start: Any = None) -> Any:
    if isinstance(target, str):
        return celtypes.IntType(str(target).find(str(item), int(start or 0)))
    for i, v in enumerate(target):
        if v == item:
            return celtypes.IntType(i)
    return celtypes.IntType(-1)


def _last_index_of(target: Any, item: Any) -> Any:
    if isinstance(target, str):
        return celtypes.IntType(str(target).rfind(str(item)))
    for i in range(len(target) - 1, -1, -1):
        if target[i] == item:
            return celtypes.IntType(i)
    return celtypes.IntType(-1)


def _is_sorted(items: Any) -> Any:
    seq = list(items)
    return celtypes.BoolType(all(a <= b for a, b in itertools.pairwise(seq)))


def _sum(items: Any) -> Any:
    seq = list(items)
    if not seq:
        return celtypes.IntType(0)
    total = seq[0]
    for v in seq[1:]:
        total = total + v
    return total


def _min(items: Any) -> Any:
    seq = list(items)
    if not seq:
        raise ValueError("min called on empty list")
    return min(seq)


def _max(items: Any) -> Any:
    seq = list(items)
    if not seq:
        raise ValueError("max called on empty list")
    return max(seq)


def _find(s: Any, pattern: Any) -> Any:
    m = re.search(str(pattern), str(s))
    return _str(m.group(0) if m else "")


def _find_all(s: Any, pattern: Any, limit: Any = None) -> Any:
    found = [_str(m.group(0)) for m in re.finditer(str(pattern), str(s))]
    if limit is not None and int(limit) >= 0:
        found = found[: int(limit)]
    return celtypes.ListType(found)


def _char_at(s: Any, i: Any) -> Any:
    text = str(s)
    return _str(text[int(i)] if int(i) < len(text) else "")


def _substring(s: Any, start: Any, end: Any = None) -> Any:
    text = str(s)
    return _str(text[int(start) :] if end is None else text[int(start) : int(end)])


class _Optional:
    """CEL's ``optional_type``: how ``oldSelf`` is given to an ``optionalOldSelf`` rule."""

    def __init__(self, value: Any = None, present: bool = False) -> None:
        self.value = value
        self.present = present


def _has_value(opt: Any) -> Any:
    return celtypes.BoolType(isinstance(opt, _Optional) and opt.present)


def _value(opt: Any) -> Any:
    if not isinstance(opt, _Optional) or not opt.present:
        raise ValueError("optional.none() dereference")
    return opt.value


def _or_value(opt: Any, default: Any) -> Any:
    return opt.value if isinstance(opt, _Optional) and opt.present else default


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "hasValue": _has_value,
    "value": _value,
    "orValue": _or_value,
    "lowerAscii": _lower_ascii,
    "upperAscii": _upper_ascii,
    "split": _split,
    "join": _join,
    "replace": _replace,
    "trim": _trim,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "isSorted": _is_sorted,
    "sum": _sum,
    "min": _min,
    "max": _max,
    "find": _find,
    "findAll": _find_all,
    "charAt": _char_at,
    "substring": _substring,
}


# ------------------------------------------------------------------ compile / evaluate


@functools.lru_cache(maxsize=1024)
def _program(text: str) -> Any:
    return _ENV.program(_ENV.compile(text), functions=_FUNCTIONS)


def compile_error(text: str) -> str | None:
    """Why ``text`` does not parse as CEL, worded as cel-go's ``ERROR: <input>:L:C: ...``
    report (the syntax error's own text is the parser's, not ANTLR's), else ``None``. Type
    errors (an unknown field, mismatched operands) are not detected here."""
    try:
        _program(text)
    except CELParseError as err:
        line = int(getattr(err, "line", None) or 1)
        column = int(getattr(err, "column", None) or 1)
        lines = text.split("\n")
        source = lines[line - 1] if 0 < line <= len(lines) else text
        return (
            f"ERROR: <input>:{line}:{column}: Syntax error: unexpected input\n"
            f" | {source}\n | {'.' * (column - 1)}^"
        )
    except Exception as err:
        return f"ERROR: <input>:1:1: {err}"
    return None


def _uses_old_self(text: str) -> bool:
    return bool(_OLD_SELF.search(text))


def _eval(text: str, activation: dict[str, Any]) -> Any:
    return _program(text).evaluate(activation)


def _error_text(err: Exception) -> str:
    """kube's wording for the commonest runtime errors (``no such key: x``)."""
    args = getattr(err, "args", ())
    first = args[0] if args else str(err)
    first = str(first).split(" (in activation", 1)[0]
    m = re.match(r"no such member in mapping: '(.*)'", first)
    if m:
        return f"no such key: {m.group(1)}"
    if "division by zero" in str(first) or "ZeroDivision" in str(args):
        return "division by zero"
    return str(first)


def _unsupported(err: Exception) -> bool:
    """A function kube's libraries have and this engine lacks (``quantity``, ``url``,
    ``format``, ...): the rule is not enforced rather than refusing what kube accepts."""
    if isinstance(err, CELParseError):
        return True  # syntax cel-python lacks (``.?``, backquoted names) that kube accepted
    args: tuple[Any, ...] = tuple(getattr(err, "args", ()))
    return bool(args) and str(args[0]).startswith("undeclared reference to ")


def _message(rule: Rule) -> str:
    return rule.message.strip() or f"failed rule: {rule.rule.strip()}"


def _error_string(rule: Rule) -> str:
    return rule.message.strip() or rule.rule.strip()


def _type_name(props: Props) -> str:
    return props.type or ""


def _field_error(path: str, value: Any, detail: str, reason: str | None) -> FieldError:
    if reason == FORBIDDEN:
        return forbidden(path, detail)
    if reason == REQUIRED:
        return required(path, detail)
    if reason == DUPLICATE:
        return duplicate(path, value)
    return FieldError(INVALID, path, value, detail)


def _rule_path(path: str, field_path: str) -> str:
    """The rule's ``fieldPath`` (``.a.b``, ``.a['k']``) below the node's path."""
    out = path
    for m in re.finditer(r"\.([A-Za-z_$][\w$-]*)|\[['\"]?([^\]'\"]*)['\"]?\]", field_path):
        out = child(out, m.group(1)) if m.group(1) else key(out, m.group(2))
    return out


def _to_cel(props: Props | None, value: Any, root: bool = False) -> Any:
    """``value`` typed as kube types it from its schema: ``number`` is a double even when
    written as an integer, and an object at a resource's root (or an embedded resource)
    shows only ``name`` and ``generateName`` of its ``metadata``."""
    if props is None or value is None:
        return json_to_cel(value)
    if isinstance(value, dict):
        props_of = props.properties or {}
        extra = props.additional_properties[1] if props.additional_properties else None
        out: dict[Any, Any] = {}
        for k, v in value.items():
            shown = v
            if root and k == "metadata" and isinstance(v, dict):
                shown = {m: v[m] for m in ("name", "generateName") if m in v}
            out[celtypes.StringType(k)] = _to_cel(props_of.get(k, extra), shown)
        return celtypes.MapType(out)
    if isinstance(value, list):
        return celtypes.ListType([_to_cel(props.items, v) for v in value])
    if props.type == "number" and isinstance(value, int) and not isinstance(value, bool):
        return celtypes.DoubleType(float(value))
    return json_to_cel(value)


def _node_errors(
    props: Props, value: Any, old: Any, has_old: bool, path: str, root: bool = False
) -> Iterator[FieldError]:
    type_name = _type_name(props)
    bad = OMIT if type_name in ("object", "array") else value
    for rule in props.x_validations or ():
        text = rule.rule.strip()
        if not text:
            continue
        uses_old = _uses_old_self(text)
        optional_old = bool(rule.optional_old_self)
        if uses_old and not has_old and not optional_old:
            continue
        if not uses_old and has_old and old == value:
            continue  # ratcheting: an unchanged value is not re-reported
        activation: dict[str, Any] = {"self": _to_cel(props, value, root)}
        if uses_old:
            if optional_old:
                activation["oldSelf"] = (
                    _Optional(_to_cel(props, old, root), True) if has_old else _Optional()
                )
            else:
                activation["oldSelf"] = _to_cel(props, old, root)
        try:
            result = _eval(text, activation)
        except Exception as err:
            if _unsupported(err):
                continue
            yield invalid(
                path or "<nil>",
                type_name,
                f"{_error_text(err)} evaluating rule: {_error_string(rule)}",
            )
            continue
        if isinstance(result, Exception) and _unsupported(result):
            continue
        if isinstance(result, Exception):
            yield invalid(
                path or "<nil>",
                type_name,
                f"{_error_text(result)} evaluating rule: {_error_string(rule)}",
            )
            continue
        if result is True or (isinstance(result, celtypes.BoolType) and bool(result)):
            continue
        # A nil field.Path prints as <nil> (a rule on the resource's root).
        where = (_rule_path(path, rule.field_path) if rule.field_path else path) or "<nil>"
        detail = ""
        if rule.message_expression.strip():
            try:
                out = _eval(rule.message_expression, activation)
                if isinstance(out, str) and out.strip() and "\n" not in out:
                    detail = str(out)
            except Exception:
                detail = ""
        yield _field_error(where, bad, detail or _message(rule), rule.reason)


def _walk(
    props: Props | None, value: Any, old: Any, has_old: bool, path: str
) -> Iterator[FieldError]:
    if props is None or value is None:
        return
    root = not path or props.x_embedded_resource
    yield from _node_errors(props, value, old, has_old, path, root)
    for sub in props.all_of or ():
        yield from _node_errors(sub, value, old, has_old, path, root)
    if isinstance(value, dict):
        old_map = old if has_old and isinstance(old, dict) else {}
        for name, sub in (props.properties or {}).items():
            if name in value:
                yield from _walk(
                    sub, value[name], old_map.get(name), name in old_map, child(path, name)
                )
        extra = props.additional_properties[1] if props.additional_properties else None
        if extra is not None:
            for k, v in value.items():
                yield from _walk(extra, v, old_map.get(k), k in old_map, key(path, k))
    elif isinstance(value, list) and props.items is not None:
        old_list = old if has_old and isinstance(old, list) else None
        keys = props.x_list_map_keys if props.x_list_type == "map" else None
        for i, item in enumerate(value):
            has, prev = _correlate(item, i, old_list, props.x_list_type, keys)
            yield from _walk(props.items, item, prev, has, index(path, i))


def _correlate(
    item: Any, i: int, old: list[Any] | None, list_type: str | None, keys: list[str] | None
) -> tuple[bool, Any]:
    """The old element an element is compared with: same keys in a map list, the equal
    element in a set; atomic lists have no correlation (as kube)."""
    if old is None:
        return False, None
    if list_type == "map" and keys and isinstance(item, dict):
        for prev in old:
            if isinstance(prev, dict) and all(prev.get(k) == item.get(k) for k in keys):
                return True, prev
        return False, None
    if list_type == "set":
        return (True, item) if item in old else (False, None)
    return False, None


def validate_rules(
    schema: Props | None, obj: Any, old: Any | None, base: str = ""
) -> list[FieldError]:
    """Every failed ``x-kubernetes-validations`` rule of ``schema`` on ``obj`` (``old``: the
    stored object on an update)."""
    if schema is None or not any(p.x_validations for p in schema.walk()):
        return []
    return list(_walk(schema, obj, old, old is not None, base))
