"""CEL runtime values for CRD rules and the way kube builds them from an object: a schema's
objects are maps keyed by escaped property names (null fields absent), ``number`` is a double
even when written as an integer, ``format``-ted strings are timestamps, durations or bytes,
``x-kubernetes-list-type: set``/``map`` lists compare (and concatenate) as sets and keyed
maps. Equality is CEL's heterogeneous equality (``1 == 1.0``); errors are raised as
:class:`EvalError` with cel-go's text."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

from .cel_ast import UInt
from .cel_decl import escape
from .cel_time import Duration, Timestamp, parse_timestamp
from .props import Props

__all__ = [
    "CelType",
    "EvalError",
    "KList",
    "Optional",
    "compare",
    "equals",
    "from_json",
    "type_name",
]

INT_MIN = -(1 << 63)
INT_MAX = (1 << 63) - 1
UINT_MAX = (1 << 64) - 1


class EvalError(Exception):
    """A CEL evaluation error (cel-go's message); ``cost``: what the evaluation had cost."""

    cost = 0


def no_overload() -> EvalError:
    return EvalError("no such overload")


@dataclass(frozen=True)
class CelType:
    """A type as a value (``type(x)``, ``int``)."""

    name: str


@dataclass(frozen=True)
class Optional:
    value: Any = None
    present: bool = False


NONE = Optional()


class KList(list[Any]):
    """A list from the object (``x-kubernetes-list-type`` ``atomic``, ``set`` or ``map``, with
    the map keys escaped); literals and computed lists are plain ``list``."""

    list_type: str = "atomic"
    keys: tuple[str, ...] = ()

    @classmethod
    def of(cls, items: list[Any], list_type: str, keys: tuple[str, ...] = ()) -> KList:
        out = cls(items)
        out.list_type = list_type
        out.keys = keys
        return out


def type_name(v: Any) -> str:
    """The runtime type name cel-go gives ``v``."""
    if v is None:
        return "null_type"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, UInt):
        return "uint"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bytes):
        return "bytes"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "map"
    if isinstance(v, Timestamp):
        return "google.protobuf.Timestamp"
    if isinstance(v, Duration):
        return "google.protobuf.Duration"
    if isinstance(v, CelType):
        return "type"
    if isinstance(v, Optional):
        return "optional_type"
    name = getattr(v, "cel_type", None)
    return str(name) if name else "unknown"


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _set_key(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        raise EvalError("listSet operations are only supported on lists of scalar values")
    return (type_name(v), v) if not _is_num(v) else ("num", v)


def _map_key(item: Any, keys: tuple[str, ...]) -> Any:
    if not isinstance(item, dict):
        return None
    return tuple(item.get(k) for k in keys)


def equals(a: Any, b: Any) -> bool:
    """CEL equality (``_==_``)."""
    if isinstance(a, KList) and a.list_type == "set" and isinstance(b, list):
        if len(a) != len(b):
            return False
        mine = {_set_key(x) for x in a}
        theirs = {_set_key(x) for x in b}
        return mine == theirs
    if isinstance(a, KList) and a.list_type == "map" and isinstance(b, list):
        if len(a) != len(b):
            return False
        index = {_map_key(x, a.keys): x for x in a}
        seen = set()
        for item in b:
            k = _map_key(item, a.keys)
            if k not in index or not equals(index[k], item):
                return False
            seen.add(k)
        return len(seen) == len(index)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_num(a) and _is_num(b):
        if isinstance(a, float) or isinstance(b, float):
            return float(a) == float(b)
        return int(a) == int(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equals(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        if len(a) != len(b):
            return False
        for k, v in a.items():
            found, other = map_get(b, k)
            if not found or not equals(v, other):
                return False
        return True
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    eq = getattr(a, "cel_equals", None)
    if eq is not None:
        return bool(eq(b))
    return bool(a == b)


def map_get(m: dict[Any, Any], key: Any) -> tuple[bool, Any]:
    """A map lookup with CEL's numeric key equivalence (``m[1u]`` and ``m[1.0]`` find key
    ``1``; ``true`` never finds ``1``)."""
    if isinstance(key, float):
        if not key.is_integer():
            return False, None
        key = int(key)
    if isinstance(key, str):
        return (True, m[key]) if key in m else (False, None)
    if not isinstance(key, int) or key not in m:
        return False, None
    for k, v in m.items():  # Python's dict does not tell True from 1
        if k == key and isinstance(k, bool) == isinstance(key, bool) and not isinstance(k, str):
            return True, v
    return False, None


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1 for the ordering operators; raises on types without an order."""
    if _is_num(a) and _is_num(b):
        if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
            raise EvalError("NaN values cannot be ordered")
        return int((a > b) - (a < b))
    for kind in (bool, str, bytes, Timestamp, Duration):
        if isinstance(a, kind) and isinstance(b, kind):
            if kind is not bool and (isinstance(a, bool) or isinstance(b, bool)):
                break
            return (a > b) - (a < b)  # type: ignore[operator]
    cmp = getattr(a, "cel_compare", None)
    if cmp is not None and type(a) is type(b):
        return int(cmp(b))
    raise no_overload()


# ------------------------------------------------------------------ from the object


def _parse_date_time(text: str) -> Timestamp:
    fixed = text.replace("t", "T").replace(" ", "T", 1)
    if fixed.endswith("z"):
        fixed = fixed[:-1] + "Z"
    return parse_timestamp(fixed)


def _string_value(props: Props, value: str) -> Any:
    from .cel_time import CelTimeError, parse_duration

    fmt = props.format
    try:
        if fmt == "duration":
            return parse_duration(value)
        if fmt == "date":
            return parse_timestamp(value + "T00:00:00Z")
        if fmt == "date-time":
            return _parse_date_time(value)
    except CelTimeError as err:
        raise EvalError(str(err)) from None
    if fmt == "byte":
        try:
            return base64.b64decode(value, validate=True)
        except ValueError as err:
            raise EvalError(f"Invalid byte formatted string {value}: {err}") from None
    return value


_META = Props(
    type="object",
    properties={"name": Props(type="string"), "generateName": Props(type="string")},
)


def from_json(props: Props | None, value: Any, root: bool = False) -> Any:
    """``value`` as kube gives it to a rule at a node of schema ``props``."""
    if value is None:
        return None
    if props is None:
        return _plain(value)
    if props.x_int_or_string:
        return value
    kind = props.type
    if kind == "object" and isinstance(value, dict):
        if props.properties is not None or props.x_embedded_resource or root:
            props_of = dict(props.properties or {})
            out: dict[Any, Any] = {}
            for k, raw in value.items():
                if raw is None:
                    continue
                sub = props_of.get(k)
                shown = raw
                meta = root or props.x_embedded_resource
                if meta and k == "metadata" and isinstance(raw, dict):
                    shown = {m: raw[m] for m in ("name", "generateName") if m in raw}
                    sub = _META
                elif meta and k in ("kind", "apiVersion"):
                    sub = sub or Props(type="string")
                if sub is None:
                    continue
                name = escape(k)
                out[name if name is not None else k] = from_json(
                    sub, shown, sub.x_embedded_resource
                )
            return out
        extra = props.additional_properties[1] if props.additional_properties else None
        if extra is not None:
            return {k: from_json(extra, v, extra.x_embedded_resource) for k, v in value.items()}
        return {}
    if kind == "array" and isinstance(value, list):
        items = [
            from_json(props.items, v, bool(props.items and props.items.x_embedded_resource))
            for v in value
        ]
        if props.x_list_type == "set":
            return KList.of(items, "set")
        if props.x_list_type == "map":
            keys = tuple(escape(k) or k for k in props.x_list_map_keys or ())
            return KList.of(items, "map", keys)
        return KList.of(items, "atomic")
    if kind == "string" and isinstance(value, str):
        return _string_value(props, value)
    if kind == "number" and _is_num(value):
        return float(value)
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
