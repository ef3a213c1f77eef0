"""Field paths and field sets as server-side apply tracks them (``metadata.managedFields``).

A path element selects a child of a JSON value: a field of an object (``f:name``), an
element of a list of objects by its key fields (``k:{"name":"a"}``), an element of a list of
scalars by its value (``v:"x"``) or, for atomic lists only, by its index (``i:0``). A
:class:`FieldSet` is a trie of such paths: a path is a *member* when the manager owns that
node itself (the ``"."`` entry of FieldsV1 for a node that also has children).

The ordering, the FieldsV1 encoding and the human form of a path (``.spec.containers
[name="a"].image``, the one conflict messages print) are those of
sigs.k8s.io/structured-merge-diff v6, which kube-apiserver 1.37 uses: clients compare them
byte for byte (kubectl prints the conflicts; controllers parse FieldsV1).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from constrained_impersonation._goquote import quote

__all__ = [
    "FIELD",
    "INDEX",
    "KEY",
    "VALUE",
    "FieldSet",
    "FieldsError",
    "Path",
    "PathElement",
    "field",
    "freeze",
    "go_json",
    "index",
    "key",
    "path_string",
    "thaw",
    "value",
]

# Path elements are ``(kind, payload)`` tuples whose natural order is structured-merge-diff's:
# field names < keys < values < indices, then by payload.
FIELD, KEY, VALUE, INDEX = 0, 1, 2, 3
PathElement = tuple[int, Any]
Path = tuple[PathElement, ...]

# Frozen JSON values: hashable, and ordered as structured-merge-diff's ``value.Compare``
# (numbers < strings < booleans < lists < maps < null). ``True`` never equals ``1`` here.
_NUMBER, _STRING, _BOOL, _LIST, _MAP, _NULL = range(6)


class FieldsError(ValueError):
    """A FieldsV1 document that cannot be read."""


def freeze(v: Any) -> tuple[int, Any]:
    """A hashable, ordered stand-in for the JSON value ``v``."""
    if v is None:
        return (_NULL, None)
    if isinstance(v, bool):
        return (_BOOL, v)
    if isinstance(v, int | float):
        return (_NUMBER, v)
    if isinstance(v, str):
        return (_STRING, v)
    if isinstance(v, list):
        return (_LIST, tuple(freeze(x) for x in v))
    if isinstance(v, dict):
        return (_MAP, tuple(sorted((str(k), freeze(x)) for k, x in v.items())))
    raise TypeError(f"not a JSON value: {v!r}")


def thaw(frozen: tuple[int, Any]) -> Any:
    """The JSON value a :func:`freeze` result stands for."""
    kind, payload = frozen
    if kind == _LIST:
        return [thaw(x) for x in payload]
    if kind == _MAP:
        return {k: thaw(x) for k, x in payload}
    return payload


def field(name: str) -> PathElement:
    return (FIELD, name)


def key(fields: dict[str, Any]) -> PathElement:
    """The element of an associative list whose key fields have these values."""
    return (KEY, tuple(sorted((k, freeze(v)) for k, v in fields.items())))


def value(v: Any) -> PathElement:
    return (VALUE, freeze(v))


def index(i: int) -> PathElement:
    return (INDEX, i)


# --------------------------------------------------------------------------- text forms


def go_json(v: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON as Go's encoders write it: UTF-8 kept, ``<``, ``>``, ``&``, U+2028 and
    U+2029 escaped (``sort_keys`` as ``json.Marshal`` orders a map)."""
    text = json.dumps(
        v, ensure_ascii=False, separators=(",", ":"), allow_nan=False, sort_keys=sort_keys
    )
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


def _go_float(f: float) -> str:
    """Go's ``%v`` of a float64: the shortest digits, exponent form below 1e-4 or from
    1e21."""
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if math.isnan(f):
        return "NaN"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    sign, digits, exp = Decimal(repr(f)).normalize().as_tuple()
    assert isinstance(exp, int)
    text = "".join(map(str, digits))
    point = len(text) + exp  # digits before the decimal point
    lead = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 21:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        e = point - 1
        return f"{lead}{mantissa}e{'-' if e < 0 else '+'}{abs(e):02d}"
    if point <= 0:
        return f"{lead}0.{'0' * -point}{text}"
    if point >= len(text):
        return lead + text + "0" * (point - len(text))
    return f"{lead}{text[:point]}.{text[point:]}"


def _to_string(frozen: tuple[int, Any]) -> str:
    """structured-merge-diff's ``value.ToString``."""
    kind, payload = frozen
    if kind == _NULL:
        return "null"
    if kind == _NUMBER:
        return _go_float(payload) if isinstance(payload, float) else str(payload)
    if kind == _STRING:
        return quote(payload)
    if kind == _BOOL:
        return "true" if payload else "false"
    if kind == _LIST:
        return "[" + ",".join(_to_string(x) for x in payload) + "]"
    return "".join(f"{k}={_to_string(x)}" for k, x in payload)


def element_string(pe: PathElement) -> str:
    """One element as a conflict message prints it: ``.name``, ``[k="v"]``, ``[="v"]``,
    ``[0]``."""
    kind, payload = pe
    if kind == FIELD:
        return "." + str(payload)
    if kind == KEY:
        return "[" + ",".join(f"{k}={_to_string(v)}" for k, v in payload) + "]"
    if kind == VALUE:
        return f"[={_to_string(payload)}]"
    return f"[{payload}]"


def path_string(path: Path) -> str:
    return "".join(element_string(pe) for pe in path)


def _serialize(pe: PathElement) -> str:
    kind, payload = pe
    if kind == FIELD:
        return "f:" + str(payload)
    if kind == KEY:
        return "k:{" + ",".join(f"{go_json(k)}:{go_json(thaw(v))}" for k, v in payload) + "}"
    if kind == VALUE:
        return "v:" + go_json(thaw(payload))
    return f"i:{payload}"


def _deserialize(text: str) -> PathElement | None:
    """``None`` for an element of an unknown kind (dropped, as structured-merge-diff does)."""
    if len(text) < 2:
        raise FieldsError("key must be 2 characters long:")
    if text[1] != ":":
        raise FieldsError(f"missing colon: {text}")
    kind, rest = text[0], text[2:]
    if kind == "f":
        return (FIELD, rest)
    try:
        if kind == "v":
            return (VALUE, freeze(json.loads(rest)))
        if kind == "k":
            fields = json.loads(rest)
            if not isinstance(fields, dict):
                raise FieldsError(f"invalid key: {rest}")
            return key(fields)
        if kind == "i":
            return (INDEX, int(rest))
    except ValueError as exc:
        raise FieldsError(str(exc)) from None
    return None


# --------------------------------------------------------------------------- sets


class FieldSet:
    """A set of paths (structured-merge-diff's ``fieldpath.Set``).

    Operations return new sets and may share unchanged subtrees with their operands, so a set
    is never changed once another set may hold it; only :meth:`insert` mutates, on sets being
    built.
    """

    __slots__ = ("children", "members")

    def __init__(self) -> None:
        self.members: set[PathElement] = set()
        self.children: dict[PathElement, FieldSet] = {}

    @classmethod
    def of(cls, *paths: Path) -> FieldSet:
        s = cls()
        for p in paths:
            s.insert(p)
        return s

    def insert(self, path: Path) -> None:
        if not path:
            return
        node = self
        for pe in path[:-1]:
            child = node.children.get(pe)
            if child is None:
                child = node.children[pe] = FieldSet()
            node = child
        node.members.add(path[-1])

    def has(self, path: Path) -> bool:
        if not path:
            return False
        node: FieldSet | None = self
        for pe in path[:-1]:
            node = node.children.get(pe) if node is not None else None
            if node is None:
                return False
        return node is not None and path[-1] in node.members

    def empty(self) -> bool:
        return not self.members and all(c.empty() for c in self.children.values())

    def with_prefix(self, pe: PathElement) -> FieldSet:
        return self.children.get(pe) or _EMPTY

    def union(self, other: FieldSet) -> FieldSet:
        out = FieldSet()
        out.members = self.members | other.members
        out.children = dict(self.children)
        for pe, child in other.children.items():
            mine = out.children.get(pe)
            out.children[pe] = child if mine is None else mine.union(child)
        return out

    def intersection(self, other: FieldSet) -> FieldSet:
        out = FieldSet()
        out.members = self.members & other.members
        for pe, child in self.children.items():
            theirs = other.children.get(pe)
            if theirs is not None:
                both = child.intersection(theirs)
                if not both.empty():
                    out.children[pe] = both
        return out

    def difference(self, other: FieldSet) -> FieldSet:
        """Members of ``other`` removed at each level; a member of ``other`` does not remove
        the subtree below the same element (see :meth:`recursive_difference`)."""
        out = FieldSet()
        out.members = self.members - other.members
        for pe, child in self.children.items():
            theirs = other.children.get(pe)
            if theirs is None:
                out.children[pe] = child
            else:
                rest = child.difference(theirs)
                if not rest.empty():
                    out.children[pe] = rest
        return out

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """As :meth:`difference`, but a member of ``other`` also removes everything below."""
        out = FieldSet()
        out.members = self.members - other.members
        for pe, child in self.children.items():
            if pe in other.members:
                continue
            theirs = other.children.get(pe)
            if theirs is None:
                out.children[pe] = child
            else:
                rest = child.recursive_difference(theirs)
                if not rest.empty():
                    out.children[pe] = rest
        return out

    def paths(self, prefix: Path = ()) -> Iterator[Path]:
        """Every member path, in structured-merge-diff's order (a level's members, then its
        children)."""
        for pe in sorted(self.members):
            yield (*prefix, pe)
        for pe in sorted(self.children):
            yield from self.children[pe].paths((*prefix, pe))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FieldSet({self.to_json()!r})"

    # ------------------------------------------------------------------ FieldsV1

    def to_json(self) -> dict[str, Any]:
        """The FieldsV1 object (keys in structured-merge-diff's order)."""
        out: dict[str, Any] = {}
        for pe in sorted(self.members | set(self.children)):
            child = self.children.get(pe)
            if child is None or child.empty():
                if pe in self.members:
                    out[_serialize(pe)] = {}
                continue
            body = child.to_json()
            if pe in self.members:
                body = {".": {}, **body}
            out[_serialize(pe)] = body
        return out

    @classmethod
    def from_json(cls, doc: Any) -> FieldSet:
        """Read a FieldsV1 object; raises :class:`FieldsError` for one that is not."""
        if not isinstance(doc, dict):
            raise FieldsError("FieldsV1 must be a JSON object")
        s, _ = cls._read(doc)
        return s if s is not None else cls()

    @classmethod
    def _read(cls, doc: dict[str, Any]) -> tuple[FieldSet | None, bool]:
        children: FieldSet | None = None
        is_member = False
        for text, sub in doc.items():
            if text == ".":
                is_member = True
                continue
            pe = _deserialize(text)
            if pe is None:
                continue
            if not isinstance(sub, dict):
                raise FieldsError(f"expected an object at {text!r}")
            grandchildren, child_is_member = cls._read(sub)
            if children is None and (child_is_member or grandchildren is not None):
                children = cls()
            if child_is_member and children is not None:
                children.members.add(pe)
            if grandchildren is not None and children is not None:
                children.children[pe] = grandchildren
        if children is None:
            is_member = True
        return children, is_member


_EMPTY = FieldSet()
