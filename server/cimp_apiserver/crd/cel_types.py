"""CEL's static types as cel-go's checker sees them: kinds, names and parameters, the way its
messages print them (``list(string)``, ``map(string, int)``, ``optional_type(int)``), and its
unification rules (assignability with type parameters, ``dyn`` as a wildcard, the legacy
nullability of messages, timestamps and opaque types)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ANY",
    "BOOL",
    "BYTES",
    "DOUBLE",
    "DURATION",
    "DYN",
    "ERROR",
    "INT",
    "NULL",
    "STRING",
    "TIMESTAMP",
    "TYPE",
    "UINT",
    "Mapping",
    "Type",
    "fmt",
    "is_assignable",
    "is_assignable_list",
    "list_of",
    "map_of",
    "most_general",
    "opaque",
    "optional_of",
    "param",
    "substitute",
    "type_of",
]


@dataclass(frozen=True)
class Type:
    """``kind``: dyn any error bool int uint double string bytes null timestamp duration list
    map type opaque struct param. ``name``: the runtime type name (struct, opaque, param)."""

    kind: str
    name: str = ""
    params: tuple[Type, ...] = ()

    def __str__(self) -> str:
        return fmt(self)


_NAMES = {
    "dyn": "dyn",
    "any": "google.protobuf.Any",
    "error": "*error*",
    "bool": "bool",
    "int": "int",
    "uint": "uint",
    "double": "double",
    "string": "string",
    "bytes": "bytes",
    "null": "null_type",
    "timestamp": "google.protobuf.Timestamp",
    "duration": "google.protobuf.Duration",
    "list": "list",
    "map": "map",
    "type": "type",
}


def _simple(kind: str) -> Type:
    return Type(kind, _NAMES[kind])


DYN = _simple("dyn")
ANY = _simple("any")
ERROR = _simple("error")
BOOL = _simple("bool")
INT = _simple("int")
UINT = _simple("uint")
DOUBLE = _simple("double")
STRING = _simple("string")
BYTES = _simple("bytes")
NULL = _simple("null")
TIMESTAMP = _simple("timestamp")
DURATION = _simple("duration")
TYPE = _simple("type")


def list_of(elem: Type) -> Type:
    return Type("list", "list", (elem,))


def map_of(key: Type, value: Type) -> Type:
    return Type("map", "map", (key, value))


def type_of(t: Type) -> Type:
    return Type("type", "type", (t,))


def opaque(name: str, *params: Type) -> Type:
    return Type("opaque", name, tuple(params))


def optional_of(t: Type) -> Type:
    return opaque("optional_type", t)


def param(name: str) -> Type:
    return Type("param", name)


def struct(name: str) -> Type:
    return Type("struct", name)


def is_optional(t: Type) -> bool:
    return t.kind == "opaque" and t.name == "optional_type"


def unwrap_optional(t: Type) -> tuple[Type, bool]:
    return (t.params[0], True) if is_optional(t) else (t, False)


def fmt(t: Type | None) -> str:
    """cel-go's ``FormatCELType``."""
    if t is None:
        return ""
    special = {
        "any": "any",
        "duration": "duration",
        "error": "!error!",
        "null": "null",
        "timestamp": "timestamp",
    }
    if t.kind in special:
        return special[t.kind]
    if t.kind == "param":
        return t.name
    if t.kind == "opaque" and t.name == "function":
        return fmt_function(t.params[0], list(t.params[1:]), False)
    if not t.params:
        return t.name
    return f"{t.name}({', '.join(fmt(p) for p in t.params)})"


def fmt_function(result: Type | None, args: list[Type], member: bool) -> str:
    out = ""
    if member:
        out = fmt(args[0]) + "."
        args = args[1:]
    out += "(" + ", ".join(fmt(a) for a in args) + ")"
    rt = fmt(result)
    return out + (f" -> {rt}" if rt else "")


def is_dyn(t: Type) -> bool:
    return t.kind in ("dyn", "any")


def is_dyn_or_error(t: Type) -> bool:
    return t.kind in ("dyn", "any", "error")


def exact(a: Type, b: Type) -> bool:
    return a == b


# ------------------------------------------------------------------ unification


class Mapping:
    """Type parameter substitutions (copied before each tentative unification)."""

    def __init__(self, subs: dict[str, Type] | None = None) -> None:
        self.subs: dict[str, Type] = dict(subs or {})

    def copy(self) -> Mapping:
        return Mapping(self.subs)

    def find(self, t: Type) -> Type | None:
        return self.subs.get(t.name) if t.kind == "param" else None

    def add(self, t: Type, sub: Type) -> None:
        self.subs[t.name] = sub


def _default_assignable(to: Type, frm: Type) -> bool:
    if to == frm or is_dyn(to):
        return True
    if to.kind != frm.kind or to.name != frm.name or len(to.params) != len(frm.params):
        return False
    return all(_default_assignable(a, b) for a, b in zip(to.params, frm.params, strict=True))


def _less_specific(t1: Type, t2: Type) -> bool:
    if is_dyn(t1) or t1.kind == "param":
        return True
    if is_dyn(t2) or t2.kind == "param":
        return False
    if t1.kind != t2.kind:
        return False
    if t1.kind == "opaque":
        return (
            t1.name == t2.name
            and len(t1.params) == len(t2.params)
            and all(_less_specific(a, b) for a, b in zip(t1.params, t2.params, strict=True))
        )
    if t1.kind in ("list", "map"):
        return all(_less_specific(a, b) for a, b in zip(t1.params, t2.params, strict=True))
    if t1.kind == "type":
        return True
    return t1 == t2


def most_general(t1: Type, t2: Type) -> Type:
    return t1 if _less_specific(t1, t2) else t2


def _not_referenced_in(m: Mapping, t: Type, within: Type) -> bool:
    if t == within:
        return False
    if within.kind == "param":
        sub = m.find(within)
        return True if sub is None else _not_referenced_in(m, t, sub)
    if within.kind in ("opaque", "list", "map", "type"):
        return all(_not_referenced_in(m, t, p) for p in within.params)
    return True


def _valid_substitution(m: Mapping, t1: Type, t2: Type) -> tuple[bool, bool]:
    if t1.kind == t2.kind and t1 == t2:
        return True, True
    sub = m.find(t2)
    if sub is not None:
        if t1.kind == sub.kind and t1 == sub:
            return True, True
        if _assignable(m, t1, sub):
            new = most_general(t1, sub)
            if _not_referenced_in(m, t2, new):
                m.add(t2, new)
            return True, True
        return False, True
    if _not_referenced_in(m, t2, t1):
        m.add(t2, t1)
        return True, False
    return False, False


def _nullable(t: Type) -> bool:
    return t.kind in ("opaque", "struct", "any", "duration", "timestamp", "null", "dyn")


def _assignable(m: Mapping, t1: Type, t2: Type) -> bool:
    if t2.kind == "param":
        valid, has_sub = _valid_substitution(m, t1, t2)
        if valid:
            return True
        if has_sub:
            return False
    if t1.kind == "param":
        return _valid_substitution(m, t2, t1)[0]
    if is_dyn_or_error(t1) or is_dyn_or_error(t2):
        return True
    if t1.kind == "null":
        return _nullable(t2)
    if t2.kind == "null":
        return _nullable(t1)
    if t1.kind in (
        "bool",
        "bytes",
        "double",
        "int",
        "string",
        "uint",
        "any",
        "duration",
        "timestamp",
        "struct",
    ):
        return _default_assignable(t2, t1)
    if t1.kind == "type":
        return t2.kind == "type"
    if t1.kind in ("opaque", "list", "map"):
        return (
            t1.kind == t2.kind
            and t1.name == t2.name
            and _assignable_list(m, list(t1.params), list(t2.params))
        )
    return False


def _assignable_list(m: Mapping, l1: list[Type], l2: list[Type]) -> bool:
    if len(l1) != len(l2):
        return False
    return all(_assignable(m, a, b) for a, b in zip(l1, l2, strict=True))


def is_assignable(m: Mapping, t1: Type, t2: Type) -> Mapping | None:
    """The updated substitutions if ``t1`` is assignable to ``t2``."""
    copy = m.copy()
    return copy if _assignable(copy, t1, t2) else None


def is_assignable_list(m: Mapping, l1: list[Type], l2: list[Type]) -> Mapping | None:
    copy = m.copy()
    return copy if _assignable_list(copy, l1, l2) else None


def substitute(m: Mapping, t: Type, to_dyn: bool) -> Type:
    sub = m.find(t)
    if sub is not None:
        return substitute(m, sub, to_dyn)
    if to_dyn and t.kind == "param":
        return DYN
    if t.kind in ("opaque", "list", "map", "type") and t.params:
        return Type(t.kind, t.name, tuple(substitute(m, p, to_dyn) for p in t.params))
    return t
