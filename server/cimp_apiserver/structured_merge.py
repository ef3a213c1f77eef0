"""Server-side apply's merge and ownership rules, as sigs.k8s.io/structured-merge-diff v6.

The schema comes from the OpenAPI v3 components the server serves, read as kube-openapi's
``schemaconv`` reads them: ``x-kubernetes-list-type`` (``atomic``, ``set``, ``map`` with
``x-kubernetes-list-map-keys``), failing that ``x-kubernetes-patch-strategy: merge`` (keyed by
``x-kubernetes-patch-merge-key``), ``x-kubernetes-map-type``, ``default`` (a key field's
default completes a list element's key, as ``protocol: TCP`` does for container ports), and
``x-kubernetes-preserve-unknown-fields`` (deduced types). Lists without a type are atomic;
objects are granular unless marked atomic.

On that schema this module validates an applied configuration, computes the field set of a
value, compares two values (added, modified, removed fields), merges a configuration into a
live object, removes fields, and runs structured-merge-diff's ``Updater``: conflicts of an
apply with other managers, pruning of what a manager stopped applying, and the ownership an
update takes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from constrained_impersonation._goquote import quote

from .fieldpath import FIELD, KEY, FieldSet, Path, PathElement, element_string
from .fieldpath import field as field_element
from .fieldpath import key as key_element
from .fieldpath import value as value_element

__all__ = [
    "ABSENT",
    "Atom",
    "Conflict",
    "Conflicts",
    "Ref",
    "Schema",
    "TypedError",
    "VersionedSet",
    "apply",
    "compare",
    "ensure_named_fields_are_members",
    "merge",
    "remove_items",
    "to_field_set",
    "update",
    "validate",
]

_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
_UNTYPED = "__untyped_atomic_"
_DEDUCED = "__untyped_deduced_"
ATOMIC, ASSOCIATIVE, SEPARABLE = "atomic", "associative", "separable"


class _Absent:
    """A value that is not there (Go's nil ``value.Value``), unlike JSON ``null``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


class TypedError(ValueError):
    """A value that does not fit its schema; the message is structured-merge-diff's."""


# --------------------------------------------------------------------------- schema


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to a type: a named type, an inlined atom, or nothing (``Ref()``), with an
    optional override of the referred map's or list's element relationship."""

    name: str | None = None
    inlined: Atom | None = None
    relationship: str | None = None


@dataclass(frozen=True, slots=True)
class FieldDef:
    type: Ref
    default: Any = ABSENT


@dataclass(frozen=True, slots=True)
class ListDef:
    element: Ref
    relationship: str = ATOMIC
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MapDef:
    fields: Mapping[str, FieldDef]
    element: Ref  # Ref() when the object takes no other fields
    relationship: str = ""


@dataclass(frozen=True, slots=True)
class Atom:
    scalar: str | None = None  # "numeric", "string", "boolean", "untyped"
    list: ListDef | None = None
    map: MapDef | None = None


_NO_TYPE = Ref()
_UNTYPED_ATOM = Atom(
    scalar="untyped",
    list=ListDef(Ref(_UNTYPED), ATOMIC),
    map=MapDef({}, Ref(_UNTYPED), ATOMIC),
)
_DEDUCED_ATOM = Atom(
    scalar="untyped",
    list=ListDef(Ref(_UNTYPED), ATOMIC),
    map=MapDef({}, Ref(_DEDUCED), SEPARABLE),
)
DEDUCED = Ref(_DEDUCED)


def _list_relationship(ext: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    list_type = ext.get("x-kubernetes-list-type")
    if list_type is not None:
        if list_type == "set":
            return ASSOCIATIVE, ()
        if list_type == "map":
            keys = ext.get("x-kubernetes-list-map-keys")
            names = tuple(k for k in keys if isinstance(k, str)) if isinstance(keys, list) else ()
            return ASSOCIATIVE, names
        return ATOMIC, ()
    strategy = ext.get("x-kubernetes-patch-strategy")
    if strategy in ("merge", "merge,retainKeys"):
        merge_key = ext.get("x-kubernetes-patch-merge-key")
        return ASSOCIATIVE, ((merge_key,) if isinstance(merge_key, str) else ())
    return ATOMIC, ()


def _map_relationship(ext: Mapping[str, Any]) -> str:
    map_type = ext.get("x-kubernetes-map-type")
    if map_type == "atomic":
        return ATOMIC
    if map_type == "granular":
        return SEPARABLE
    return ""


def _ref_name(spec: Mapping[str, Any]) -> str | None:
    ref = spec.get("$ref")
    if not ref:
        all_of = spec.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            ref = all_of[0].get("$ref")
    if isinstance(ref, str) and ref:
        return ref.rsplit("/", 1)[-1] or None
    return None


class Schema:
    """The types of one OpenAPI v3 document, converted on first use."""

    def __init__(self, components: Mapping[str, Any], preserve_unknown: bool = False) -> None:
        self._components = components
        self._preserve = preserve_unknown
        self._named: dict[str, Atom | None] = {_UNTYPED: _UNTYPED_ATOM, _DEDUCED: _DEDUCED_ATOM}
        self._overrides: dict[Ref, Atom | None] = {}
        self._kinds: dict[tuple[str, str, str], str] | None = None

    def component(self, name: str) -> Any:
        """The OpenAPI schema of a component, as served."""
        return self._components.get(name)

    def type_for(self, group: str, version: str, kind: str) -> Ref | None:
        """The type tagged ``x-kubernetes-group-version-kind`` with this kind, if any."""
        if self._kinds is None:
            kinds: dict[tuple[str, str, str], str] = {}
            for name, spec in self._components.items():
                tags = (
                    spec.get("x-kubernetes-group-version-kind") if isinstance(spec, dict) else None
                )
                for tag in tags if isinstance(tags, list) else ():
                    if isinstance(tag, dict) and tag.get("kind"):
                        gvk = (str(tag.get("group", "")), str(tag.get("version", "")), tag["kind"])
                        kinds[gvk] = name
            self._kinds = kinds
        found = self._kinds.get((group, version, kind))
        return Ref(found) if found is not None else None

    def resolve(self, ref: Ref) -> Atom | None:
        if ref.relationship is None:
            return self._resolve_plain(ref)
        if ref not in self._overrides:
            atom = self._resolve_plain(ref)
            out: Atom | None = None
            if atom is not None and atom.map is not None:
                m = atom.map
                out = Atom(atom.scalar, atom.list, MapDef(m.fields, m.element, ref.relationship))
            elif atom is not None and atom.list is not None:
                li = atom.list
                out = Atom(atom.scalar, ListDef(li.element, ref.relationship, li.keys), atom.map)
            self._overrides[ref] = out
        return self._overrides[ref]

    def _resolve_plain(self, ref: Ref) -> Atom | None:
        if ref.inlined is not None:
            return ref.inlined
        if ref.name is None:
            return None
        if ref.name not in self._named:
            self._named[ref.name] = None  # against cycles while converting
            self._named[ref.name] = self._convert_named(ref.name)
        return self._named[ref.name]

    def _convert_named(self, name: str) -> Atom | None:
        spec = self._components.get(name)
        if not isinstance(spec, dict) or spec.get("$ref"):
            return None
        if name == _QUANTITY:
            return Atom(scalar="untyped")
        if name == _RAW_EXTENSION:
            return _UNTYPED_ATOM
        atom = self._visit(spec, self._preserve)
        return None if atom == Atom() else atom

    def _visit(self, spec: Mapping[str, Any], preserve: bool) -> Atom:
        if spec.get("x-kubernetes-preserve-unknown-fields") is True:
            preserve = True
        typ = spec.get("type")
        if isinstance(typ, list):
            typ = typ[0] if typ else ""
        typ = typ or ""
        if typ == "":
            return Atom(
                scalar="untyped",
                list=self._list(spec, preserve),
                map=self._object(spec, preserve),
            )
        if typ == "object":
            return Atom(map=self._object(spec, preserve))
        if typ == "array":
            return Atom(list=self._list(spec, preserve))
        if typ in ("integer", "number"):
            return Atom(scalar="numeric")
        if typ == "boolean":
            return Atom(scalar="boolean")
        if typ == "string" and spec.get("format", "") in ("", "byte"):
            return Atom(scalar="string")
        return Atom(scalar="untyped")

    def _ref(self, spec: Any, preserve: bool) -> Ref:
        if not isinstance(spec, dict):
            return Ref(inlined=Atom(scalar="untyped"))
        name = _ref_name(spec)
        if name is not None:
            return Ref(name, relationship=_map_relationship(spec) or None)
        return Ref(inlined=self._visit(spec, preserve))

    def _object(self, spec: Mapping[str, Any], preserve: bool) -> MapDef:
        properties = spec.get("properties")
        props = properties if isinstance(properties, dict) else {}
        fields = {
            name: FieldDef(
                self._ref(member, preserve),
                member.get("default", ABSENT) if isinstance(member, dict) else ABSENT,
            )
            for name, member in props.items()
        }
        additional = spec.get("additionalProperties")
        if additional is None:
            element = DEDUCED if preserve or not props else _NO_TYPE
        elif isinstance(additional, dict):
            element = self._ref(additional, preserve)
        elif additional is True:
            element = DEDUCED
        else:
            element = _NO_TYPE
        return MapDef(fields, element, _map_relationship(spec))

    def _list(self, spec: Mapping[str, Any], preserve: bool) -> ListDef:
        relationship, keys = _list_relationship(spec)
        items = spec.get("items")
        if isinstance(items, dict):
            element = self._ref(items, preserve)
        elif isinstance(items, list):
            element = self._ref(items[0], preserve) if len(items) == 1 else DEDUCED
        else:
            element = Ref(_UNTYPED)
        return ListDef(element, relationship, keys)


# --------------------------------------------------------------------------- values


def _is_scalar(v: Any) -> bool:
    return isinstance(v, bool | int | float | str)


def _handler(atom: Atom, v: Any) -> str | None:
    """Which of the atom's forms handles ``v`` (structured-merge-diff's deduceAtom and
    handleAtom: map, then scalar, then list, when the value does not decide)."""
    if v is not ABSENT and v is not None:
        if _is_scalar(v) and atom.scalar is not None:
            return "scalar"
        if isinstance(v, list) and atom.list is not None:
            return "list"
        if isinstance(v, dict) and atom.map is not None:
            return "map"
    if atom.map is not None:
        return "map"
    if atom.scalar is not None:
        return "scalar"
    if atom.list is not None:
        return "list"
    return None


def _equal(a: Any, b: Any) -> bool:
    """JSON equality that tells ``true`` from ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_equal, a, b))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _go_v(v: Any) -> str:
    """Go's ``%v`` of a decoded JSON value."""
    from .fieldpath import _go_float

    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, int | str):
        return str(v)
    if isinstance(v, list):
        return "[" + " ".join(_go_v(x) for x in v) + "]"
    return "map[" + " ".join(f"{k}:{_go_v(v[k])}" for k in sorted(v)) + "]"


def _go_sharp_v(v: Any) -> str:
    """Go's ``%#v`` of a decoded JSON value (inside an interface)."""
    from .fieldpath import _go_float

    if v is None:
        return "interface {}(nil)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(_go_sharp_v(x) for x in v) + "}"
    items = ", ".join(f"{quote(k)}:{_go_sharp_v(v[k])}" for k in sorted(v))
    return "map[string]interface {}{" + items + "}"


def _go_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return "int64" if isinstance(v, int) else "float64"


def _scalar_error(kind: str, v: Any, prefix: str) -> str | None:
    if v is ABSENT or v is None:
        return None
    number = isinstance(v, int | float) and not isinstance(v, bool)
    if kind == "numeric" and not number:
        return f"{prefix}expected numeric (int or float), got {_go_type(v)}"
    if kind == "string" and not isinstance(v, str):
        inner = _go_sharp_v(v)
        return f"{prefix}expected string, got &value.valueUnstructured{{Value:{inner}}}"
    if kind == "boolean" and not isinstance(v, bool):
        return f"{prefix}expected boolean, got &{{{_go_v(v)}}}"
    if kind == "untyped" and not _is_scalar(v):
        return f"{prefix}expected any scalar, got &{{{_go_v(v)}}}"
    return None


def _key_default(schema: Schema, li: ListDef, name: str) -> Any:
    atom = schema.resolve(li.element)
    if atom is None:
        raise TypedError("invalid elementType for list")
    if atom.map is None:
        raise TypedError("associative list may not have non-map types")
    fd = atom.map.fields.get(name)
    return fd.default if fd is not None else ABSENT


def _element(schema: Schema, li: ListDef, child: Any) -> PathElement:
    """The path element of an associative list's item (``k:`` by key fields or ``v:``)."""
    if li.relationship != ASSOCIATIVE:
        raise TypedError("invalid indexing of non-associative list")
    if li.keys:
        if child is None:
            raise TypedError("associative list with keys may not have a null element")
        if not isinstance(child, dict):
            raise TypedError("associative list with keys may not have non-map elements")
        fields: dict[str, Any] = {}
        for name in li.keys:
            if name in child:
                fields[name] = child[name]
            else:
                default = _key_default(schema, li, name)
                if default is not ABSENT and default is not None:
                    fields[name] = default
        if not fields:
            listed = "[" + " ".join(quote(k) for k in li.keys) + "]"
            raise TypedError(
                f"associative list with keys has an element that omits all key fields {listed} "
                "(and doesn't have default values for any key fields)"
            )
        return key_element(fields)
    if isinstance(child, dict):
        raise TypedError("associative list without keys has an element that's a map type")
    if isinstance(child, list):
        raise TypedError("not supported: associative list with lists as elements")
    if child is None:
        raise TypedError("associative list without keys has an element that's an explicit null")
    return value_element(child)


def _field_type(m: MapDef, name: str) -> Ref:
    fd = m.fields.get(name)
    return fd.type if fd is not None else m.element


def _type_name(ref: Ref) -> str:
    return ref.name if ref.name is not None else "inlined type"


# --------------------------------------------------------------------------- validate


def validate(schema: Schema, v: Any, ref: Ref, *, allow_duplicates: bool = False) -> None:
    """Raise :class:`TypedError` (structured-merge-diff's message) if ``v`` does not fit."""
    errors = _validate(schema, v, ref, allow_duplicates)
    if not errors:
        return
    texts = [f"{p}: {m}" if p else m for p, m in errors]
    raise TypedError(texts[0] if len(texts) == 1 else "errors:\n  " + "\n  ".join(texts))


def _prefixed(errors: list[list[str]], prefix: str) -> list[list[str]]:
    for e in errors:
        e[0] = prefix + e[0]
    return errors


def _validate(schema: Schema, v: Any, ref: Ref, dups: bool) -> list[list[str]]:
    atom = schema.resolve(ref)
    if atom is None:
        return [["", f"schema error: no type found matching: {_type_name(ref)}"]]
    handler = _handler(atom, v)
    if handler == "scalar":
        assert atom.scalar is not None
        message = _scalar_error(atom.scalar, v, "")
        return [["", message]] if message else []
    if handler == "list":
        assert atom.list is not None
        if v is None:
            return []
        if not isinstance(v, list):
            return [["", f"expected list, got &{{{_go_v(v)}}}"]]
        li = atom.list
        errors: list[list[str]] = []
        seen: set[PathElement] = set()
        for i, child in enumerate(v):
            if li.relationship != ASSOCIATIVE:
                pe: PathElement = (3, i)
            else:
                try:
                    pe = _element(schema, li, child)
                except TypedError as exc:
                    errors.append(["", f"element {i}: {exc}"])
                    return errors
                if pe in seen and not dups:
                    errors.append(["", f"duplicate entries for key {element_string(pe)}"])
                seen.add(pe)
            errors += _prefixed(_validate(schema, child, li.element, dups), element_string(pe))
        return errors
    if handler == "map":
        assert atom.map is not None
        if v is None:
            return []
        if not isinstance(v, dict):
            return [["", f"expected map, got &{{{_go_v(v)}}}"]]
        errors = []
        for k, child in v.items():
            fd = atom.map.fields.get(k)
            if fd is None and atom.map.element == _NO_TYPE:
                errors.append(["." + k, "field not declared in schema"])
                return errors
            sub = fd.type if fd is not None else atom.map.element
            errors += _prefixed(_validate(schema, child, sub, dups), "." + k)
        return errors
    return [
        ["", f"schema error: invalid atom: {'named type: ' + ref.name if ref.name else 'inlined'}"]
    ]


# --------------------------------------------------------------------------- field sets


def to_field_set(schema: Schema, v: Any, ref: Ref) -> FieldSet:
    """The fields ``v`` sets: leaves, list items, empty or null objects, map entries."""
    out = FieldSet()
    _to_field_set(schema, v, ref, (), out)
    return out


def _to_field_set(schema: Schema, v: Any, ref: Ref, path: Path, out: FieldSet) -> None:
    atom = schema.resolve(ref)
    if atom is None:
        return
    handler = _handler(atom, v)
    if handler == "scalar":
        out.insert(path)
    elif handler == "list":
        assert atom.list is not None
        li = atom.list
        if li.relationship == ATOMIC:
            out.insert(path)
            return
        if not isinstance(v, list):
            return
        pes = [_element_or_none(schema, li, child) for child in v]
        seen: set[PathElement | None] = set()
        duplicates: set[PathElement | None] = set()
        for pe in pes:
            if pe in seen:
                if pe not in duplicates and pe is not None:
                    out.insert((*path, pe))
                duplicates.add(pe)
            else:
                seen.add(pe)
        for pe, child in zip(pes, v, strict=True):
            if pe is None or pe in duplicates:
                continue
            child_path = (*path, pe)
            _to_field_set(schema, child, li.element, child_path, out)
            out.insert(child_path)
    elif handler == "map":
        assert atom.map is not None
        m = atom.map
        if m.relationship == ATOMIC:
            out.insert(path)
            return
        if not isinstance(v, dict):
            return
        for k, child in v.items():
            child_path = (*path, field_element(k))
            fd = m.fields.get(k)
            _to_field_set(schema, child, fd.type if fd is not None else m.element, child_path, out)
            if child is None or (isinstance(child, dict) and not child) or fd is None:
                out.insert(child_path)


def _element_or_none(schema: Schema, li: ListDef, child: Any) -> PathElement | None:
    try:
        return _element(schema, li, child)
    except TypedError:
        return None


# --------------------------------------------------------------------------- compare


@dataclass
class Comparison:
    removed: FieldSet = field(default_factory=FieldSet)
    modified: FieldSet = field(default_factory=FieldSet)
    added: FieldSet = field(default_factory=FieldSet)

    def filtered(self, reset: FieldSet | None) -> Comparison:
        if reset is None:
            return self
        return Comparison(
            self.removed.recursive_difference(reset),
            self.modified.recursive_difference(reset),
            self.added.recursive_difference(reset),
        )


def compare(schema: Schema, lhs: Any, rhs: Any, ref: Ref) -> Comparison:
    """What changed from ``lhs`` to ``rhs``."""
    out = Comparison()
    _compare(schema, lhs, rhs, ref, (), out)
    return out


def _leaf(lhs: Any, rhs: Any, path: Path, out: Comparison) -> None:
    if lhs is ABSENT:
        out.added.insert(path)
    elif rhs is ABSENT:
        out.removed.insert(path)
    elif not _equal(lhs, rhs):
        out.modified.insert(path)


def _compare(schema: Schema, lhs: Any, rhs: Any, ref: Ref, path: Path, out: Comparison) -> None:
    atom = schema.resolve(ref)
    if atom is None:
        raise TypedError(f"schema error: no type found matching: {_type_name(ref)}")
    left, right = _handler(atom, lhs), _handler(atom, rhs)
    if rhs is ABSENT:
        leaf = _compare_as(schema, atom, left, lhs, rhs, path, out)
    elif lhs is ABSENT or left == right:
        leaf = _compare_as(schema, atom, right, lhs, rhs, path, out)
    else:
        _compare_as(schema, atom, left, lhs, rhs, path, out)
        leaf = _compare_as(schema, atom, right, lhs, rhs, path, out)
    if not leaf:
        if lhs is ABSENT:
            out.added.insert(path)
        elif rhs is ABSENT:
            out.removed.insert(path)


def _compare_as(
    schema: Schema,
    atom: Atom,
    handler: str | None,
    lhs: Any,
    rhs: Any,
    path: Path,
    out: Comparison,
) -> bool:
    """Compare with one form of the atom; True when the node was compared as a leaf."""
    if handler == "scalar":
        _leaf(lhs, rhs, path, out)
        return True
    if handler == "list":
        assert atom.list is not None
        li = atom.list
        left = lhs if isinstance(lhs, list) else None
        right = rhs if isinstance(rhs, list) else None
        if li.relationship == ATOMIC or (not left and not right):
            _leaf(lhs, rhs, path, out)
            return True
        _compare_lists(schema, li, left or [], right or [], path, out)
        return False
    if handler == "map":
        assert atom.map is not None
        m = atom.map
        lm = lhs if isinstance(lhs, dict) else None
        rm = rhs if isinstance(rhs, dict) else None
        if m.relationship == ATOMIC or (not lm and not rm):
            _leaf(lhs, rhs, path, out)
            return True
        lm, rm = lm or {}, rm or {}
        for k in _zip_keys(lm, rm):
            _compare(
                schema,
                lm.get(k, ABSENT),
                rm.get(k, ABSENT),
                _field_type(m, k),
                (*path, field_element(k)),
                out,
            )
        return False
    raise TypedError("schema error: invalid atom")


def _zip_keys(lhs: Mapping[str, Any], rhs: Mapping[str, Any]) -> list[str]:
    return list(lhs) + [k for k in rhs if k not in lhs]


def _compare_lists(
    schema: Schema, li: ListDef, lhs: list[Any], rhs: list[Any], path: Path, out: Comparison
) -> None:
    order: list[PathElement] = []
    left: dict[PathElement, list[Any]] = {}
    right: dict[PathElement, list[Any]] = {}
    for items, into in ((lhs, left), (rhs, right)):
        for child in items:
            pe = _element(schema, li, child)
            if pe not in left and pe not in right:
                order.append(pe)
            into.setdefault(pe, []).append(child)
    for pe in order:
        ls, rs = left.get(pe, []), right.get(pe, [])
        item_path = (*path, pe)
        if len(ls) <= 1 and len(rs) <= 1:
            _compare(
                schema, ls[0] if ls else ABSENT, rs[0] if rs else ABSENT, li.element, item_path, out
            )
        elif len(ls) >= 2 and len(rs) >= 2:
            if not _equal(ls, rs):
                out.modified.insert(item_path)
        elif len(ls) >= 2:
            if rs:
                _compare(schema, ABSENT, rs[0], li.element, item_path, out)
            out.removed.insert(item_path)
        else:
            if ls:
                _compare(schema, ls[0], ABSENT, li.element, item_path, out)
            out.added.insert(item_path)


# --------------------------------------------------------------------------- merge


def merge(schema: Schema, lhs: Any, rhs: Any, ref: Ref) -> Any:
    """Merge ``rhs`` (an applied configuration) into ``lhs``: granular objects and
    associative lists merge element by element, everything else is taken from ``rhs``."""
    return _merge(schema, lhs, rhs, ref)


def _merge(schema: Schema, lhs: Any, rhs: Any, ref: Ref) -> Any:
    atom = schema.resolve(ref)
    if atom is None:
        raise TypedError(f"schema error: no type found matching: {_type_name(ref)}")
    handler = _handler(atom, lhs if rhs is ABSENT else rhs)
    if handler == "list":
        assert atom.list is not None
        li = atom.list
        left = lhs if isinstance(lhs, list) else None
        right = rhs if isinstance(rhs, list) else None
        if li.relationship == ATOMIC or (not left and not right):
            return rhs if rhs is not ABSENT else lhs
        return _merge_lists(schema, li, left or [], right or [])
    if handler == "map":
        assert atom.map is not None
        m = atom.map
        lm = lhs if isinstance(lhs, dict) else None
        rm = rhs if isinstance(rhs, dict) else None
        if m.relationship == ATOMIC or (not lm and not rm):
            return rhs if rhs is not ABSENT else lhs
        lm, rm = lm or {}, rm or {}
        out: dict[str, Any] = {}
        for k in _zip_keys(lm, rm):
            merged = _merge(schema, lm.get(k, ABSENT), rm.get(k, ABSENT), _field_type(m, k))
            if merged is not ABSENT:
                out[k] = merged
        return out if out else ABSENT
    if handler == "scalar":
        return rhs if rhs is not ABSENT else lhs
    raise TypedError("schema error: invalid atom")


def _index_list(
    schema: Schema, li: ListDef, items: list[Any], allow_duplicates: bool
) -> tuple[list[PathElement], dict[PathElement, Any]]:
    pes: list[PathElement] = []
    observed: dict[PathElement, Any] = {}
    for i, child in enumerate(items):
        try:
            pe = _element(schema, li, child)
        except TypedError as exc:
            raise TypedError(f"element {i}: {exc}") from None
        if pe in observed:
            if not allow_duplicates:
                raise TypedError(f"duplicate entries for key {element_string(pe)}")
            observed[pe] = None  # duplicated items are not merged with the new value
        else:
            observed[pe] = child
        pes.append(pe)
    return pes, observed


def _merge_lists(schema: Schema, li: ListDef, lhs: list[Any], rhs: list[Any]) -> Any:
    """structured-merge-diff's list merge: the live order, with the applied items placed in
    the order the configuration gives them."""
    rhs_pes, observed_rhs = _index_list(schema, li, rhs, False)
    lhs_pes, observed_lhs = _index_list(schema, li, lhs, True)
    shared = [pe for pe in rhs_pes if pe in observed_lhs]
    shared_at = 0

    def next_shared() -> PathElement | None:
        return shared[shared_at] if shared_at < len(shared) else None

    out: list[Any] = []
    merged_rhs: set[PathElement] = set()

    def take(pe: PathElement, left: Any, right: Any) -> None:
        result = _merge(schema, left, right, li.element)
        if result is not ABSENT:
            out.append(result)

    nxt = next_shared()
    shared_at += 1 if nxt is not None else 0
    li_, ri = 0, 0
    while li_ < len(lhs_pes) or ri < len(rhs_pes):
        if li_ < len(lhs_pes) and ri < len(rhs_pes):
            pe = lhs_pes[li_]
            if pe == rhs_pes[ri]:
                merged_rhs.add(pe)
                take(pe, observed_lhs[pe], observed_rhs[pe])
                li_ += 1
                ri += 1
                nxt = next_shared()
                shared_at += 1 if nxt is not None else 0
                continue
            if pe in observed_rhs and nxt is not None and nxt != pe:
                li_ += 1
                continue
        if li_ < len(lhs_pes):
            pe = lhs_pes[li_]
            if pe not in observed_rhs:
                take(pe, lhs[li_], ABSENT)
                li_ += 1
                continue
            if pe in merged_rhs:
                li_ += 1
        if ri < len(rhs_pes):
            pe = rhs_pes[ri]
            merged_rhs.add(pe)
            take(pe, observed_lhs.get(pe, ABSENT), observed_rhs[pe])
            ri += 1
            if nxt is not None and nxt == pe:
                nxt = next_shared()
                shared_at += 1 if nxt is not None else 0
    return out if out else ABSENT


# --------------------------------------------------------------------------- remove


def remove_items(schema: Schema, v: Any, items: FieldSet, ref: Ref) -> Any:
    """``v`` without the fields in ``items`` (structured-merge-diff's ``RemoveItems``)."""
    atom = schema.resolve(ref)
    if atom is None:
        return v
    handler = _handler(atom, v)
    if handler == "scalar":
        return v
    if handler == "list":
        assert atom.list is not None
        li = atom.list
        if not isinstance(v, list) or not v or li.relationship == ATOMIC:
            return None
        kept: list[Any] = []
        for child in v:
            pe = _element_or_none(schema, li, child)
            if pe is not None and items.has((pe,)):
                continue
            sub = items.with_prefix(pe) if pe is not None else FieldSet()
            kept.append(child if sub.empty() else remove_items(schema, child, sub, li.element))
        return kept if kept else None
    if handler == "map":
        assert atom.map is not None
        m = atom.map
        if not isinstance(v, dict) or not v or m.relationship == ATOMIC:
            return None
        out: dict[str, Any] = {}
        for k, child in v.items():
            pe = field_element(k)
            if items.has((pe,)):
                continue
            sub = items.with_prefix(pe)
            out[k] = child if sub.empty() else remove_items(schema, child, sub, _field_type(m, k))
        return out if out else None
    return v


def ensure_named_fields_are_members(schema: Schema, s: FieldSet, ref: Ref) -> FieldSet:
    """``s`` with every struct field that has children also a member."""
    atom = schema.resolve(ref)
    out = FieldSet()
    out.members = set(s.members)
    for pe, child in s.children.items():
        sub = Ref()
        if pe[0] == FIELD and atom is not None and atom.map is not None:
            if pe[1] in atom.map.fields:
                out.members.add(pe)
            sub = _field_type(atom.map, pe[1])
        elif pe[0] == KEY and atom is not None and atom.list is not None:
            sub = atom.list.element
        out.children[pe] = ensure_named_fields_are_members(schema, child, sub)
    return out


# --------------------------------------------------------------------------- updater


@dataclass(frozen=True)
class VersionedSet:
    fields: FieldSet
    api_version: str
    applied: bool


@dataclass(frozen=True)
class Conflict:
    manager: str
    path: Path


class Conflicts(Exception):
    """An apply that would change fields other managers own."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__(f"{len(conflicts)} conflicts")
        self.conflicts = conflicts


Managers = dict[str, VersionedSet]


def _update(
    schema: Schema,
    ref: Ref,
    live: Any,
    new: Any,
    managers: Managers,
    workflow: str,
    force: bool,
    reset: FieldSet | None,
) -> tuple[Managers, Comparison]:
    cmp = compare(schema, live, new, ref).filtered(reset)
    changed = cmp.modified.union(cmp.added)
    conflicts: dict[str, FieldSet] = {}
    for manager, owned in managers.items():
        if manager == workflow:
            continue
        clash = owned.fields.intersection(changed)
        if not clash.empty():
            conflicts[manager] = clash
    if conflicts and not force:
        raise Conflicts([Conflict(m, p) for m, s in conflicts.items() for p in s.paths()])
    out: Managers = {}
    for manager, owned in managers.items():
        kept = owned.fields
        if manager != workflow:
            if manager in conflicts:
                kept = kept.difference(conflicts[manager])
            if not cmp.removed.empty():
                kept = kept.difference(cmp.removed)
        if not kept.empty():
            out[manager] = VersionedSet(kept, owned.api_version, owned.applied)
    return out, cmp


_CURRENT = "current-operation"


def update(
    schema: Schema,
    ref: Ref,
    live: Any,
    new: Any,
    managers: Managers,
    manager: str,
    api_version: str,
    reset: FieldSet | None = None,
    strip: FieldSet | None = None,
) -> tuple[Managers, bool]:
    """Ownership after a write that is not an apply: ``manager`` takes every field it
    changed (from whoever owned it, itself included) and every manager loses the fields
    removed. The flag says whether this write changed a field ``manager`` can own (its
    entry then gets a new timestamp and API version)."""
    managers, cmp = _update(schema, ref, live, new, managers, _CURRENT, True, reset)
    changed = cmp.modified.union(cmp.added)
    if reset is not None:
        changed = changed.recursive_difference(reset)
    if strip is not None:
        changed = changed.difference(strip)
    if changed.empty():
        return managers, False
    previous = managers.get(manager)
    if previous is not None:
        changed = changed.union(previous.fields)
    managers[manager] = VersionedSet(changed, api_version, False)
    return managers, True


def apply(
    schema: Schema,
    ref: Ref,
    live: Any,
    config: Any,
    managers: Managers,
    manager: str,
    api_version: str,
    force: bool,
    reset: FieldSet | None = None,
) -> tuple[Any, Managers]:
    """Merge ``config`` into ``live`` for ``manager``; returns the new object (``ABSENT``
    when nothing changed) and the managers. Raises :class:`Conflicts`."""
    merged = merge(schema, live, config, ref)
    last = managers.get(manager)
    applied = to_field_set(schema, config, ref)
    if reset is not None:
        applied = applied.recursive_difference(reset)
    managers = dict(managers)
    managers[manager] = VersionedSet(applied, api_version, True)
    merged = _prune(schema, ref, merged, managers, last)
    managers, _ = _update(schema, ref, live, merged, managers, manager, force, reset)
    if _equal(_or_none(live), _or_none(merged)):
        return ABSENT, managers
    return merged, managers


def _or_none(v: Any) -> Any:
    return None if v is ABSENT else v


def _prune(
    schema: Schema, ref: Ref, merged: Any, managers: Managers, last: VersionedSet | None
) -> Any:
    """Remove what ``last`` (the manager's previous apply) had and no manager owns now."""
    if last is None or last.fields.empty():
        return merged
    named: Callable[[FieldSet], FieldSet] = lambda s: ensure_named_fields_are_members(  # noqa: E731
        schema, s, ref
    )
    pruned = remove_items(schema, merged, named(last.fields), ref)
    owned = FieldSet()
    for vs in managers.values():
        owned = owned.union(vs.fields)
    merged_set = named(to_field_set(schema, merged, ref))
    pruned_set = named(to_field_set(schema, pruned, ref))
    pruned = remove_items(
        schema, merged, merged_set.difference(pruned_set.union(named(owned))), ref
    )
    pruned_set = named(to_field_set(schema, pruned, ref))
    dangling = merged_set.difference(pruned_set).intersection(named(last.fields))
    return remove_items(schema, merged, dangling, ref)
