"""``kubectl get`` tables of custom resources (``additionalPrinterColumns``) and of CRDs.

A custom resource's Table has the Name column, then the CRD's printer columns of the
requested version (an ``Age`` column when it has none), each cell read with its JSONPath and
typed by the column's type, as apiextensions' table convertor builds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..storage import Record
from ..tables import human_duration, partial_object
from .jsonpath import JSONPathError, find, text
from .model import Column

__all__ = ["AGE", "crd_table", "custom_table"]

Obj = dict[str, Any]

NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
CREATION_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
# The column a version without printer columns gets.
AGE = Column("Age", "date", "", CREATION_DOC, 0, ".metadata.creationTimestamp")


def _definition(name: str, typ: str, fmt: str, description: str, priority: int) -> Obj:
    return {
        "name": name,
        "type": typ,
        "format": fmt,
        "description": description,
        "priority": priority,
    }


def _age(value: str) -> str:
    try:
        when = datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return "<invalid>"
    return human_duration((datetime.now(UTC) - when).total_seconds())


def _cell(column: Column, obj: Obj) -> Any:
    try:
        found = find(column.json_path, obj)
    except JSONPathError:
        return None
    if not found:
        return None
    value = found[0]
    if column.type == "string":
        return text(value)
    if value is None:
        return None
    if column.type == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if column.type == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if column.type == "boolean" and isinstance(value, bool):
        return value
    if column.type == "date" and isinstance(value, str):
        return _age(value)
    return None


def _rows(records: Sequence[Record], cells: Any, include: str) -> list[Obj]:
    rows = []
    for record in records:
        row: Obj = {"cells": cells(record.obj)}
        if include == "Object":
            row["object"] = record.obj
        elif include != "None":
            row["object"] = partial_object(record.obj)
        rows.append(row)
    return rows


def _table(definitions: list[Obj], rows: list[Obj], rv: str) -> Obj:
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv} if rv else {},
        "columnDefinitions": definitions,
        "rows": rows,
    }


def custom_table(
    columns: Sequence[Column], records: Sequence[Record], rv: str, include: str
) -> Obj:
    """The Table of custom resources with these printer columns (empty: the Age column)."""
    columns = list(columns) or [AGE]
    definitions = [_definition("Name", "string", "name", NAME_DOC, 0)]
    for column in columns:
        description = column.description or (
            f"Custom resource definition column (in JSONPath format): {column.json_path}"
        )
        definitions.append(
            _definition(column.name, column.type, column.format, description, column.priority)
        )

    def cells(obj: Obj) -> list[Any]:
        name = (obj.get("metadata") or {}).get("name", "")
        return [name, *(_cell(column, obj) for column in columns)]

    return _table(definitions, _rows(records, cells, include), rv)


def crd_table(records: Sequence[Record], rv: str, include: str) -> Obj:
    """The Table of CustomResourceDefinitions (apiextensions' own convertor)."""
    definitions = [
        _definition("Name", "string", "name", NAME_DOC, 0),
        _definition("Scope", "string", "", "Cluster/Namespaced", 0),
        _definition("Versions", "string", "", "Served versions", 0),
        _definition("Created At", "date", "", CREATION_DOC, 0),
        _definition("Group", "string", "", "API group", 1),
        _definition("Kind", "string", "", "CustomResource kind", 1),
        _definition("ShortNames", "string", "", "Short names", 1),
        _definition("Established", "boolean", "", "Established status", 1),
    ]

    def cells(obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        versions = sorted(
            v.get("name", "") + ("(storage)" if v.get("storage") else "")
            for v in spec.get("versions") or ()
            if isinstance(v, dict) and v.get("served")
        )
        conditions = (obj.get("status") or {}).get("conditions") or ()
        established = any(
            isinstance(c, dict) and c.get("type") == "Established" and c.get("status") == "True"
            for c in conditions
        )
        meta = obj.get("metadata") or {}
        return [
            meta.get("name", ""),
            spec.get("scope", ""),
            ",".join(versions),
            meta.get("creationTimestamp") or "0001-01-01T00:00:00Z",
            spec.get("group", ""),
            names.get("kind", ""),
            ",".join(names.get("shortNames") or ()),
            established,
        ]

    return _table(definitions, _rows(records, cells, include), rv)
