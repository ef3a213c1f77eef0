"""Typed decoding of request objects, as Go's ``json.Unmarshal`` into kube's structs behaves.

kube-apiserver decodes bodies into typed structs: a field of the wrong JSON type is a 400
(``json: cannot unmarshal ...``), an unknown field is dropped (and reported under
``fieldValidation=Strict|Warn``), and ``null`` means "unset". Doing the same here keeps stored
objects within the schema every client deserialises into (the official Python client's models
reject unknown fields and wrong types outright).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["SchemaError", "check", "known_kind"]

_DATA = Path(__file__).with_name("schemas.json")
_CUSTOM_TOP = {
    "apiVersion": "string",
    "kind": "string",
    "metadata": "V1ObjectMeta",
    "spec": "any",
    "status": "any",
}
_JSON_TYPES = {str: "string", bool: "bool", int: "number", float: "number", list: "array"}
_GO_TYPES = {
    "string": "string",
    "integer": "int64",
    "boolean": "bool",
    "number": "float64",
    "time": "Time",
    "bytes": "[]uint8",
    "quantity": "Quantity",
}
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


class SchemaError(ValueError):
    """A value of the wrong type; the message is Go's ``json: cannot unmarshal ...``."""


@cache
def _schemas() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_DATA.read_text())
    return data


def known_kind(api_version: str, kind: str) -> bool:
    """Whether the server knows the full schema of this kind (built-ins)."""
    return f"{api_version}/{kind}" in _schemas()["kinds"]


def _go_name(model: str) -> str:
    return re.sub(r"^(Core|Authentication|Rbac)?V\d+((alpha|beta)\d+)?", "", model)


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    return _JSON_TYPES.get(type(value), "value")


def _go_type(typ: str) -> str:
    if typ.startswith("[]"):
        return "[]" + _go_type(typ[2:])
    if typ.startswith("{}"):
        return "map[string]" + _go_type(typ[2:])
    return _GO_TYPES.get(typ, _go_name(typ))


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


class _Walker:
    def __init__(self, types: dict[str, dict[str, str]]) -> None:
        self.types = types
        self.unknown: list[str] = []

    def fail(self, value: Any, struct: str, gopath: str, typ: str) -> SchemaError:
        return SchemaError(
            f"json: cannot unmarshal {_json_type(value)} into Go struct field "
            f"{struct}.{gopath} of type {_go_type(typ)}"
        )

    def walk(self, typ: str, value: Any, path: str, struct: str, gopath: str) -> Any:
        if value is None or typ == "any":
            return value
        if typ.startswith("[]"):
            if not isinstance(value, list):
                raise self.fail(value, struct, gopath, typ)
            inner = typ[2:]
            for i, item in enumerate(value):
                value[i] = self.walk(inner, item, f"{path}[{i}]", struct, gopath)
            return value
        if typ.startswith("{}"):
            if not isinstance(value, dict):
                raise self.fail(value, struct, gopath, typ)
            inner = typ[2:]
            for key in list(value):
                value[key] = self.walk(inner, value[key], f"{path}.{key}", struct, gopath)
            return value
        fields = self.types.get(typ)
        if fields is not None:
            if not isinstance(value, dict):
                raise self.fail(value, struct, gopath, typ)
            for key in list(value):
                sub = fields.get(key)
                where = f"{path}.{key}" if path else key
                if sub is None:
                    self.unknown.append(where)
                    del value[key]
                    continue
                dotted = f"{gopath}.{key}" if gopath else key
                out = self.walk(sub, value[key], where, _go_name(typ), dotted)
                if out is None:
                    del value[key]
                else:
                    value[key] = out
            return value
        return self._scalar(typ, value, struct, gopath)

    def _scalar(self, typ: str, value: Any, struct: str, gopath: str) -> Any:
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
        elif typ == "boolean":
            ok = isinstance(value, bool)
        elif typ == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif typ == "quantity":
            quantity = _quantity(value)
            if quantity is None:
                raise self.fail(value, struct, gopath, typ)
            return quantity
        else:
            ok = True
        if not ok:
            raise self.fail(value, struct, gopath, typ)
        return value


def _bad_base64_at(value: str) -> int:
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for i, ch in enumerate(value):
        if ch not in alphabet:
            return i
    return len(value)


def check(api_version: str, kind: str, obj: dict[str, Any]) -> list[str]:
    """Type-check ``obj`` in place, dropping unknown fields and nulls; return the paths of the
    unknown fields. Raises :class:`SchemaError` for a value of the wrong type.

    Kinds without a known schema (custom resources) get their top level and metadata checked.
    """
    data = _schemas()
    model = data["kinds"].get(f"{api_version}/{kind}")
    types: dict[str, dict[str, str]] = data["types"]
    walker = _Walker(types)
    if model is None:
        types = dict(types)
        types["__custom__"] = _CUSTOM_TOP
        walker = _Walker(types)
        model = "__custom__"
    walker.walk(model, obj, "", _go_name(model), "")
    return walker.unknown
