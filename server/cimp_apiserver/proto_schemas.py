"""Protobuf field tables of every built-in kind, for the request decoder (``protobuf.py``).

OpenAPI carries no protobuf field numbers, so ``hack/gen-resources.py`` reads them from the
``generated.proto`` files of k8s.io/api, apimachinery, apiextensions-apiserver and
kube-aggregator at the pinned version (Go module cache), with each field's JSON name,
pointer-ness and ``omitempty`` from the Go struct tags, into ``data/.../proto.json``. Message
names are the OpenAPI component names (``io.k8s.api.core.v1.Pod``), so one name means one type
across the OpenAPI documents, the typed decoder and this table. Protobuf field numbers never
change, so older clients decode the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from . import data

__all__ = [
    "DOUBLE",
    "LIST",
    "SCALARS",
    "WELL_KNOWN",
    "Field",
    "Message",
    "group_version_of",
    "message",
    "message_names",
    "top_level_message",
]

LIST = "list"
DOUBLE = "double"
SCALARS = frozenset({"string", "int32", "int64", "bool", "bytes", DOUBLE})
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_EXTENSIONS = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
TIME = _META + "Time"
MICRO_TIME = _META + "MicroTime"
FIELDS_V1 = _META + "FieldsV1"
DURATION = _META + "Duration"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
JSON = _EXTENSIONS + "JSON"
PROPS_OR_ARRAY = _EXTENSIONS + "JSONSchemaPropsOrArray"
PROPS_OR_BOOL = _EXTENSIONS + "JSONSchemaPropsOrBool"
PROPS_OR_STRINGS = _EXTENSIONS + "JSONSchemaPropsOrStringArray"
DELETE_OPTIONS = _META + "DeleteOptions"
# Types with a JSON form of their own, not an object of their proto fields.
WELL_KNOWN = frozenset(
    {
        TIME,
        MICRO_TIME,
        FIELDS_V1,
        DURATION,
        QUANTITY,
        INT_OR_STRING,
        RAW_EXTENSION,
        JSON,
        PROPS_OR_ARRAY,
        PROPS_OR_BOOL,
        PROPS_OR_STRINGS,
    }
)


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a message."""

    number: int
    name: str
    type: str
    repeated: bool = False
    map: bool = False
    inline: bool = False
    # A Go pointer: a zero value on the wire was set on purpose and is kept.
    pointer: bool = False
    # ``omitempty``: Go's JSON drops the field's zero value (else it is written, e.g. 0).
    omitempty: bool = False

    @property
    def is_message(self) -> bool:
        return self.type not in SCALARS


@dataclass(frozen=True, slots=True)
class Message:
    """A message: its fields in number order and by number; ``is_list`` for wrappers of a
    named Go slice (``ExtraValue``), which JSON writes as the bare list."""

    name: str
    fields: tuple[Field, ...]
    by_number: dict[int, Field]
    is_list: bool = False


@cache
def _data() -> dict[str, Any]:
    loaded: dict[str, Any] = data.load("proto.json")
    return loaded


@cache
def message(name: str) -> Message:
    """The message ``name`` (e.g. ``io.k8s.api.core.v1.Pod``); ``KeyError`` if unknown."""
    spec = _data()["messages"][name]
    if spec == LIST:
        item = Field(1, "items", "string", repeated=True)
        return Message(name, (item,), {1: item}, is_list=True)
    fields = tuple(
        Field(
            number=number,
            name=json_name,
            type=typ,
            repeated="r" in flags,
            map="m" in flags,
            inline="i" in flags,
            pointer="p" in flags,
            omitempty="o" in flags,
        )
        for number, json_name, typ, flags in spec
    )
    return Message(name, fields, {f.number: f for f in fields})


def message_names() -> tuple[str, ...]:
    return tuple(_data()["messages"])


@cache
def _kinds() -> dict[tuple[str, str], str]:
    """``(apiVersion, kind)`` → message, for every built-in kind a body may carry."""
    index: dict[tuple[str, str], str] = {}
    for gvk, name in _data()["kinds"].items():
        group, version, kind = gvk.split("/")
        index[(f"{group}/{version}" if group else version, kind)] = name
    return index


@cache
def _group_versions() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for gvk, name in _data()["kinds"].items():
        group, version, _ = gvk.split("/")
        out.setdefault(name, (group, version))
    return out


def group_version_of(name: str) -> tuple[str, str]:
    """``(group, version)`` of a top-level message (``KeyError`` for other messages)."""
    return _group_versions()[name]


TOP_LEVEL: tuple[str, ...]  # (module attribute computed by __getattr__)


def __getattr__(name: str) -> Any:
    # TOP_LEVEL: the messages a client may send as a request body (built-in kinds); computed
    # on first use, so importing the decoder does not read the table.
    if name == "TOP_LEVEL":
        return tuple(sorted(_group_versions()))
    raise AttributeError(name)


def top_level_message(api_version: str, kind: str) -> str | None:
    """The message of a request body's ``apiVersion``/``kind``, or ``None`` if not served.

    ``DeleteOptions`` is accepted under any API version, as kube-apiserver registers it in every
    group version a client may encode it with.
    """
    if kind == "DeleteOptions":
        return DELETE_OPTIONS
    return _kinds().get((api_version, kind))
