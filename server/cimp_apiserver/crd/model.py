"""A CustomResourceDefinition read from its ``apiextensions.k8s.io/v1`` JSON.

:class:`Definition` is the v1 object with its defaults applied; :meth:`Definition.internal`
gives apiextensions' internal form, in which per-version schemas, subresources, columns and
selectable fields that are the same in every version move to the top level. Validation speaks
of the internal form (``spec.validation.openAPIV3Schema...`` for a one-version CRD), as kube's
does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .goformat import GoJSON, go_json
from .props import Props, go_struct, parse_props

__all__ = ["Column", "Definition", "Internal", "Names", "Version", "apply_v1_defaults"]

Obj = dict[str, Any]


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def apply_v1_defaults(crd: Obj) -> None:
    """``SetDefaults_CustomResourceDefinition`` (in place): singular and listKind from the
    kind, conversion strategy None, the storage version in status.storedVersions."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict):
        kind = _str(names.get("kind"))
        if not names.get("singular"):
            names["singular"] = kind.lower()
        if not names.get("listKind") and kind:
            names["listKind"] = kind + "List"
    if not isinstance(spec.get("conversion"), dict):
        spec["conversion"] = {"strategy": "None"}
    conversion = spec["conversion"]
    webhook = conversion.get("webhook")
    if isinstance(webhook, dict):
        service = _dict(webhook.get("clientConfig")).get("service")
        if isinstance(service, dict) and service.get("port") is None:
            service["port"] = 443
    status = crd.get("status")
    if not isinstance(status, dict):
        status = crd["status"] = {}
    if not status.get("storedVersions"):
        for version in spec.get("versions") or ():
            if isinstance(version, dict) and version.get("storage") is True:
                status["storedVersions"] = [_str(version.get("name"))]
                break


@dataclass
class Names:
    plural: str = ""
    singular: str = ""
    short_names: list[str] = field(default_factory=list)
    kind: str = ""
    list_kind: str = ""
    categories: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: Any) -> Names:
        raw = _dict(raw)
        return cls(
            plural=_str(raw.get("plural")),
            singular=_str(raw.get("singular")),
            short_names=_strings(raw.get("shortNames")),
            kind=_str(raw.get("kind")),
            list_kind=_str(raw.get("listKind")),
            categories=_strings(raw.get("categories")),
        )

    def to_json(self) -> Obj:
        """The v1 JSON (empty fields omitted, plural and kind always written)."""
        out: Obj = {"plural": self.plural}
        if self.singular:
            out["singular"] = self.singular
        if self.short_names:
            out["shortNames"] = list(self.short_names)
        out["kind"] = self.kind
        if self.list_kind:
            out["listKind"] = self.list_kind
        if self.categories:
            out["categories"] = list(self.categories)
        return out


@dataclass
class Column:
    """One ``additionalPrinterColumns`` entry."""

    name: str
    type: str
    format: str
    description: str
    priority: int
    json_path: str

    @classmethod
    def parse(cls, raw: Any) -> Column:
        raw = _dict(raw)
        priority = raw.get("priority")
        if not isinstance(priority, int) or isinstance(priority, bool):
            priority = 0
        return cls(
            name=_str(raw.get("name")),
            type=_str(raw.get("type")),
            format=_str(raw.get("format")),
            description=_str(raw.get("description")),
            priority=priority,
            json_path=_str(raw.get("jsonPath")),
        )

    def go_fields(self) -> Obj:
        return {
            "Name": self.name,
            "Type": self.type,
            "Format": self.format,
            "Description": self.description,
            "Priority": self.priority,
            "JSONPath": self.json_path,
        }


@dataclass
class Version:
    """One ``spec.versions`` entry."""

    name: str
    served: bool
    storage: bool
    deprecated: bool
    deprecation_warning: str | None
    schema: Props | None  # spec.versions[].schema.openAPIV3Schema
    has_schema: bool  # ``schema`` itself was given (maybe without openAPIV3Schema)
    subresources: Obj | None
    columns: list[Column] | None
    selectable_fields: list[str] | None
    raw: Obj

    @classmethod
    def parse(cls, raw: Any) -> Version:
        raw = _dict(raw)
        schema_raw = raw.get("schema")
        schema = None
        if isinstance(schema_raw, dict) and isinstance(schema_raw.get("openAPIV3Schema"), dict):
            schema = parse_props(schema_raw["openAPIV3Schema"])
        subresources = raw.get("subresources")
        columns = raw.get("additionalPrinterColumns")
        selectable = raw.get("selectableFields")
        warning = raw.get("deprecationWarning")
        return cls(
            name=_str(raw.get("name")),
            served=raw.get("served") is True,
            storage=raw.get("storage") is True,
            deprecated=raw.get("deprecated") is True,
            deprecation_warning=warning if isinstance(warning, str) else None,
            schema=schema,
            has_schema=isinstance(schema_raw, dict),
            subresources=subresources if isinstance(subresources, dict) else None,
            columns=[Column.parse(c) for c in columns] if isinstance(columns, list) else None,
            selectable_fields=(
                [_str(_dict(f).get("jsonPath")) for f in selectable]
                if isinstance(selectable, list)
                else None
            ),
            raw=raw,
        )

    @property
    def schema_raw(self) -> Obj | None:
        value = self.raw.get("schema")
        return value if isinstance(value, dict) else None

    @property
    def status_enabled(self) -> bool:
        return self.subresources is not None and isinstance(self.subresources.get("status"), dict)

    @property
    def scale(self) -> Obj | None:
        if self.subresources is None:
            return None
        scale = self.subresources.get("scale")
        return scale if isinstance(scale, dict) else None


def _sub_struct(value: Obj | None) -> Any:
    if value is None:
        return None
    scale = value.get("scale")
    scale_struct = None
    if isinstance(scale, dict):
        selector = scale.get("labelSelectorPath")
        scale_struct = go_struct(
            {
                "SpecReplicasPath": _str(scale.get("specReplicasPath")),
                "StatusReplicasPath": _str(scale.get("statusReplicasPath")),
                "LabelSelectorPath": selector if isinstance(selector, str) else None,
            }
        )
    status = go_struct({}) if isinstance(value.get("status"), dict) else None
    return go_struct({"Status": status, "Scale": scale_struct})


@dataclass
class InternalVersion(GoJSON):
    """A version in the internal form (per-version fields moved up when identical)."""

    version: Version
    schema: Props | None
    has_schema: bool
    subresources: Obj | None
    columns: list[Column] | None
    selectable_fields: list[str] | None

    def go_json(self) -> str:
        v = self.version
        schema = go_struct({"OpenAPIV3Schema": self.schema}) if self.has_schema else None
        columns = None
        if self.columns:
            columns = [go_struct(c.go_fields()) for c in self.columns]
        fields = None
        if self.selectable_fields:
            fields = [go_struct({"JSONPath": p}) for p in self.selectable_fields]
        return go_struct(
            {
                "Name": v.name,
                "Served": v.served,
                "Storage": v.storage,
                "Deprecated": v.deprecated,
                "DeprecationWarning": v.deprecation_warning,
                "Schema": schema,
                "Subresources": _sub_struct(self.subresources),
                "AdditionalPrinterColumns": columns,
                "SelectableFields": fields,
            }
        ).go_json()


@dataclass
class Internal:
    """apiextensions' internal ``CustomResourceDefinitionSpec``."""

    version: str
    versions: list[InternalVersion]
    validation: Props | None
    has_validation: bool
    subresources: Obj | None
    columns: list[Column] | None
    selectable_fields: list[str] | None


@dataclass
class Definition:
    """A CRD object: its spec (v1 defaults applied) and status."""

    name: str
    uid: str
    group: str
    scope: str
    names: Names
    versions: list[Version]
    conversion: Obj
    preserve_unknown_fields: bool | None
    accepted: Names
    conditions: list[Obj]
    stored_versions: list[str] | None
    annotations: dict[str, str]
    deleting: bool
    raw: Obj

    @classmethod
    def parse(cls, raw: Obj) -> Definition:
        meta = _dict(raw.get("metadata"))
        spec = _dict(raw.get("spec"))
        status = _dict(raw.get("status"))
        preserve = spec.get("preserveUnknownFields")
        versions = spec.get("versions")
        stored = status.get("storedVersions")
        annotations = meta.get("annotations")
        return cls(
            name=_str(meta.get("name")),
            uid=_str(meta.get("uid")),
            group=_str(spec.get("group")),
            scope=_str(spec.get("scope")),
            names=Names.parse(spec.get("names")),
            versions=[Version.parse(v) for v in versions] if isinstance(versions, list) else [],
            conversion=_dict(spec.get("conversion")),
            preserve_unknown_fields=preserve if isinstance(preserve, bool) else None,
            accepted=Names.parse(status.get("acceptedNames")),
            conditions=[c for c in status.get("conditions") or () if isinstance(c, dict)],
            stored_versions=_strings(stored) if isinstance(stored, list) else None,
            annotations={k: v for k, v in _dict(annotations).items() if isinstance(v, str)},
            deleting=bool(meta.get("deletionTimestamp")),
            raw=raw,
        )

    @property
    def namespaced(self) -> bool:
        return self.scope == "Namespaced"

    @property
    def storage_version(self) -> str:
        return next((v.name for v in self.versions if v.storage), "")

    def version(self, name: str) -> Version | None:
        return next((v for v in self.versions if v.name == name), None)

    def condition(self, kind: str) -> Obj | None:
        return next((c for c in self.conditions if c.get("type") == kind), None)

    def condition_true(self, kind: str) -> bool:
        cond = self.condition(kind)
        return cond is not None and cond.get("status") == "True"

    def internal(self) -> Internal:
        """The internal form: identical per-version fields moved to the top level."""

        def key_of(value: Any) -> str:
            if value in (None, [], {}):
                return "null"
            return go_json(value)

        versions = self.versions
        same_schema = len({key_of(v.schema_raw) for v in versions}) <= 1
        same_sub = len({key_of(v.subresources) for v in versions}) <= 1
        same_cols = len({key_of(v.raw.get("additionalPrinterColumns")) for v in versions}) <= 1
        same_fields = len({key_of(v.raw.get("selectableFields")) for v in versions}) <= 1
        first = versions[0] if versions else None
        internal_versions = [
            InternalVersion(
                version=v,
                schema=None if same_schema else v.schema,
                has_schema=False if same_schema else v.has_schema,
                subresources=None if same_sub else v.subresources,
                columns=None if same_cols else v.columns,
                selectable_fields=None if same_fields else v.selectable_fields,
            )
            for v in versions
        ]
        return Internal(
            version=first.name if first else "",
            versions=internal_versions,
            validation=first.schema if first and same_schema else None,
            has_validation=bool(first and same_schema and first.has_schema),
            subresources=first.subresources if first and same_sub else None,
            columns=first.columns if first and same_cols else None,
            selectable_fields=first.selectable_fields if first and same_fields else None,
        )

    def copy_raw(self) -> Obj:
        return copy.deepcopy(self.raw)
