"""Typed decoding of request objects, as Go's ``json.Unmarshal`` into kube's structs behaves.

kube-apiserver decodes bodies into typed structs: a field of the wrong JSON type is a 400
(``json: cannot unmarshal ...`` naming the Go struct, the field path and the Go type), an
unknown field is dropped (and reported under ``fieldValidation=Strict|Warn``), and ``null``
means "unset". Doing the same here keeps stored objects within the schema every client
deserialises into (the official Python client's models reject unknown fields and wrong types).

The types are those of every built-in kind of the pinned kube-apiserver: its OpenAPI v3
schemas (field names, JSON types, formats, ``x-kubernetes-*`` list and map markers) with the
Go type of each field from the k8s.io/api sources, captured by ``hack/gen-resources.py`` into
``data/.../types.json``. :func:`fields` and :func:`model` give other modules (patching,
field ownership) the same table.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from functools import cache
from typing import Any, NamedTuple

from . import data

__all__ = ["FieldType", "SchemaError", "check", "fields", "known_kind", "model"]

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_CUSTOM = "__custom__"
_JSON_TYPES = {str: "string", bool: "bool", int: "number", float: "number", list: "array"}
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "int": (-(2**63), 2**63 - 1),
}


class SchemaError(ValueError):
    """A value of the wrong type; the message is Go's ``json: cannot unmarshal ...``."""


class FieldType(NamedTuple):
    """One field of a struct: its JSON type (``string``, ``integer``, ``boolean``,
    ``number``, ``time``, ``bytes``, ``quantity``, ``intstr``, ``any``, ``[]T``, ``{}T`` or a
    struct's model name), its Go type, how Go's JSON encoder writes it (``flags``: ``p`` a
    pointer, ``o`` omitempty, ``z`` omitzero), and its ``x-kubernetes-*`` markers
    (``list-type``, ``list-map-keys``, ``map-type``, ``patch-strategy``, ``patch-merge-key``)."""

    type: str
    go: str
    flags: str
    markers: Mapping[str, Any]


class _Struct(NamedTuple):
    go: str
    fields: dict[str, FieldType]


@cache
def _types() -> dict[str, Any]:
    loaded: dict[str, Any] = data.load("types.json")
    return loaded


@cache
def _struct(name: str) -> _Struct | None:
    if name == _CUSTOM:
        return _Struct(
            "Unstructured",
            {
                "apiVersion": FieldType("string", "string", "o", {}),
                "kind": FieldType("string", "string", "o", {}),
                "metadata": FieldType(_META, "v1.ObjectMeta", "o", {}),
                "spec": FieldType("any", "interface {}", "o", {}),
                "status": FieldType("any", "interface {}", "o", {}),
            },
        )
    entry = _types()["structs"].get(name)
    if entry is None:
        return None
    out = {
        key: FieldType(spec[0], spec[1], spec[2], spec[3] if len(spec) > 3 else {})
        for key, spec in entry["fields"].items()
    }
    return _Struct(entry["go"], out)


def model(api_version: str, kind: str) -> str | None:
    """The model (OpenAPI component name) of a built-in kind, or None."""
    group, _, version = api_version.rpartition("/")
    found: str | None = _types()["kinds"].get(f"{group}/{version}/{kind}")
    return found


def fields(name: str) -> Mapping[str, FieldType] | None:
    """The fields of model ``name`` (``io.k8s.api.core.v1.PodSpec``), or None if unknown."""
    struct = _struct(name)
    return None if struct is None else struct.fields


def known_kind(api_version: str, kind: str) -> bool:
    """Whether the server knows the full schema of this kind (built-ins)."""
    return model(api_version, kind) is not None


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    return _JSON_TYPES.get(type(value), "value")


def _element(go: str) -> str:
    """The Go type of a slice's or map's elements."""
    if go.startswith("[]"):
        return go[2:]
    if go.startswith("map["):
        depth = 0
        for i, ch in enumerate(go):
            depth += {"[": 1, "]": -1}.get(ch, 0)
            if depth == 0 and ch == "]":
                return go[i + 1 :]
    return "interface {}"


def _quantity(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    if not math.isfinite(value):
        return None
    return f"{round(value * 1000)}m"


def _bad_base64_at(value: str) -> int:
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for i, ch in enumerate(value):
        if ch not in alphabet:
            return i
    return len(value)


class _Walker:
    def __init__(self) -> None:
        self.unknown: list[str] = []

    @staticmethod
    def fail(value: Any, struct: str, gopath: str, go: str, literal: bool = False) -> SchemaError:
        """Go's ``UnmarshalTypeError``; ``literal``: a number that does not fit an integer
        field, which Go names with its text (``number 1.5``)."""
        kind = _json_type(value)
        if literal and kind == "number":
            kind = f"number {value}"
        return SchemaError(
            f"json: cannot unmarshal {kind} into Go struct field {struct}.{gopath} of type {go}"
        )

    def walk(self, typ: str, go: str, value: Any, path: str, struct: str, gopath: str) -> Any:
        if value is None or typ == "any":
            return value
        if typ.startswith("[]"):
            if not isinstance(value, list):
                raise self.fail(value, struct, gopath, go)
            inner, inner_go = typ[2:], _element(go)
            for i, item in enumerate(value):
                value[i] = self.walk(inner, inner_go, item, f"{path}[{i}]", struct, gopath)
            return value
        if typ.startswith("{}"):
            if not isinstance(value, dict):
                raise self.fail(value, struct, gopath, go)
            inner, inner_go = typ[2:], _element(go)
            for key in list(value):
                value[key] = self.walk(inner, inner_go, value[key], f"{path}.{key}", struct, gopath)
            return value
        found = _struct(typ)
        if found is not None:
            if not isinstance(value, dict):
                raise self.fail(value, struct, gopath, go)
            for key in list(value):
                sub = found.fields.get(key)
                where = f"{path}.{key}" if path else key
                if sub is None:
                    self.unknown.append(where)
                    del value[key]
                    continue
                dotted = f"{gopath}.{key}" if gopath else key
                out = self.walk(sub.type, sub.go, value[key], where, found.go, dotted)
                if out is None:
                    del value[key]
                else:
                    value[key] = out
            return value
        return self._scalar(typ, go, value, struct, gopath)

    def _scalar(self, typ: str, go: str, value: Any, struct: str, gopath: str) -> Any:
        ok: bool
        if typ in ("string", "time", "bytes"):
            ok = isinstance(value, str)
            if ok and typ == "time" and not _RFC3339.fullmatch(value):
                raise SchemaError(
                    f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse '
                    f'"{value}" as "2006"'
                )
            if ok and typ == "bytes":
                try:
                    base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    raise SchemaError(
                        f"illegal base64 data at input byte {_bad_base64_at(value)}"
                    ) from None
        elif typ == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
            low, high = _INT_RANGES.get(go, (-(2**63), 2**63 - 1))
            if ok and not low <= value <= high:
                ok = False
        elif typ == "boolean":
            ok = isinstance(value, bool)
        elif typ == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif typ == "intstr":
            # IntOrString unmarshals a JSON string as a string, anything else into its int32.
            if isinstance(value, str):
                return value
            ok = isinstance(value, int) and not isinstance(value, bool)
            if not ok or not -(2**31) <= value < 2**31:
                raise self.fail(value, struct, gopath, "int32", literal=True)
        elif typ == "quantity":
            quantity = _quantity(value)
            if quantity is None:
                raise self.fail(value, struct, gopath, go)
            return quantity
        else:
            ok = True
        if not ok:
            raise self.fail(value, struct, gopath, go, literal=typ == "integer")
        return value


def check(api_version: str, kind: str, obj: dict[str, Any]) -> list[str]:
    """Type-check ``obj`` in place, dropping unknown fields and nulls; return the paths of the
    unknown fields. Raises :class:`SchemaError` for a value of the wrong type.

    Kinds without a known schema (custom resources) get their top level and metadata checked;
    their spec and status are not modelled here.
    """
    name = model(api_version, kind) or _CUSTOM
    walker = _Walker()
    struct = _struct(name)
    assert struct is not None
    walker.walk(name, struct.go, obj, "", struct.go, "")
    return walker.unknown
