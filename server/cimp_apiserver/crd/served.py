"""Custom resources as a CRD serves them: the resource types and their strategy.

An established CRD becomes one :class:`CustomResourceType` per served version (what the REST
layer, discovery and authorization see) sharing one :class:`CustomResourceStrategy`: decoding
with pruning and defaults, the status/spec split of the ``status`` subresource, generation,
validation against the version's schema (with ratcheting on updates), conversion between
versions with the ``None`` strategy (``apiVersion`` rewritten, fields pruned to each
version's schema), printer columns and the ``scale`` subresource.

Objects are stored with the ``apiVersion`` they were written in and the fields of the storage
version's schema (kube stores them converted to the storage version); every read converts to
the version asked for, so no client can tell the difference.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .. import schema as builtin_schema
from ..context import RequestContext
from ..resources import ResourceType, Subresource
from ..status import (
    StatusError,
    bad_request,
    forbidden_object,
    invalid,
    not_found,
)
from ..storage import Record, now_rfc3339
from ..strategy import Cause
from .errors import FieldError, causes, duplicate, index, key, patch_invalid
from .errors import invalid as field_invalid
from .goformat import go_json, go_value, normalize_numbers, quote
from .meta import object_meta_errors, subdomain_name
from .model import Column, Definition, Version
from .openapi import kind_schema, list_schema
from .openapi import paths as openapi_paths
from .props import Props
from .structural import apply_defaults, coerce_embedded, prune, prune_nulls, validate_embedded
from .tables import custom_table
from .values import ratchet, validate_value

if TYPE_CHECKING:
    from ..handlers import Target
    from ..writes import Writes

__all__ = [
    "CUSTOM_VERBS",
    "CustomResourceStrategy",
    "CustomResourceType",
    "Served",
    "build",
    "method_not_supported",
]

Obj = dict[str, Any]

CUSTOM_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")
TERMINATING_VERBS = ("delete", "deletecollection", "get", "list", "watch")
_STATUS = Subresource("status", ("get", "patch", "update"))
_SCALE = Subresource("scale", ("get", "patch", "update"), ("autoscaling", "v1", "Scale"))
_SYSTEM_META = (
    "uid",
    "creationTimestamp",
    "resourceVersion",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
)
_RESOURCE_FIELDS = frozenset(f.name for f in fields(ResourceType))


@dataclass(frozen=True)
class CustomResourceType(ResourceType):
    """A served version of a custom resource: a resource type with its CRD's strategy."""

    custom_list_kind: str = ""
    strategy: CustomResourceStrategy | None = field(default=None, compare=False, repr=False)

    @property
    def list_kind(self) -> str:
        return self.custom_list_kind or f"{self.kind}List"


def storage_version_hash(group: str, version: str, kind: str) -> str:
    """kube's ``discovery.StorageVersionHash``."""
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


@dataclass
class Served:
    """What the REST layer needs of an established CRD."""

    crd: Definition
    rv: int  # the resourceVersion of the CRD these were built from
    kind: str
    list_kind: str
    plural: str
    group: str
    namespaced: bool
    storage_version: str
    versions: dict[str, Version]
    terminating: bool

    def schema(self, version: str) -> Props | None:
        v = self.versions.get(version)
        return v.schema if v is not None else None

    def columns(self, version: str) -> list[Column]:
        v = self.versions.get(version)
        return list(v.columns or ()) if v is not None else []


def build(crd: Definition, rv: int) -> tuple[Served, list[CustomResourceType]]:
    """The served form of an established CRD and its resource types (one per served
    version, versions in kube's discovery order)."""
    names = crd.accepted
    served = Served(
        crd=crd,
        rv=rv,
        kind=names.kind,
        list_kind=names.list_kind,
        plural=names.plural,
        group=crd.group,
        namespaced=crd.namespaced,
        storage_version=crd.storage_version,
        versions={v.name: v for v in crd.versions},
        terminating=crd.deleting or crd.condition_true("Terminating"),
    )
    strategy = CustomResourceStrategy(served)
    version_hash = storage_version_hash(crd.group, crd.storage_version, crd.names.kind)
    types = []
    for version in crd.versions:
        if not version.served:
            continue
        subresources: list[str] = []
        specs: list[Subresource] = []
        if version.status_enabled:
            subresources.append("status")
            specs.append(_STATUS)
        if version.scale is not None:
            subresources.append("scale")
            specs.append(_SCALE)
        selectable = tuple(p.removeprefix(".") for p in version.selectable_fields or ())
        options: dict[str, Any] = {
            "singular": names.singular,
            "short_names": tuple(names.short_names),
            "verbs": TERMINATING_VERBS if served.terminating else CUSTOM_VERBS,
            "subresources": tuple(subresources),
            "categories": tuple(names.categories),
            "extra_field_selectors": selectable,
            "subresource_specs": tuple(specs),
            "storage_version_hash": version_hash,
            "custom_list_kind": names.list_kind,
            "strategy": strategy,
        }
        if "field_labels" in _RESOURCE_FIELDS and not crd.namespaced:
            options["field_labels"] = ("metadata.name", *selectable)
        if "schema" in _RESOURCE_FIELDS and version.schema is not None:
            options["schema"] = version.schema.raw
        allowed = _RESOURCE_FIELDS | {"custom_list_kind", "strategy"}
        options = {k: v for k, v in options.items() if k in allowed}
        types.append(
            CustomResourceType(
                crd.group, version.name, names.plural, names.kind, crd.namespaced, **options
            )
        )
    return served, types


_UNSUPPORTED_VERBS = {"POST": "create", "DELETE": "delete"}


def method_not_supported(rt: ResourceType, method: str) -> StatusError | None:
    """The 405 apiextensions' handler answers for a method a custom resource's subresource
    does not serve (``NewMethodNotSupported``), or None for other resources."""
    verb = _UNSUPPORTED_VERBS.get(method)
    if not isinstance(rt, CustomResourceType) or verb is None:
        return None
    return StatusError(
        405,
        "MethodNotAllowed",
        f"{verb} is not supported on resources of kind {quote(f'{rt.resource}.{rt.group}')}",
        {"group": rt.group, "kind": rt.resource},
    )


def require_resource_version(rt: ResourceType, meta: Obj) -> None:
    """Custom resources and CRDs refuse unconditional updates (kube's
    ``AllowUnconditionalUpdate`` is false for them)."""
    if not meta.get("resourceVersion"):
        raise invalid(
            rt.resource,
            str(meta.get("name") or ""),
            rt.group,
            [
                (
                    "metadata.resourceVersion",
                    "FieldValueInvalid",
                    "Invalid value: 0: must be specified for an update",
                )
            ],
        )


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    return meta


def _non_meta(obj: Obj) -> str:
    return go_json({k: v for k, v in obj.items() if k != "metadata"})


class CustomResourceStrategy:
    """The registry strategy of one CRD's custom resources (see the module docstring)."""

    def __init__(self, served: Served) -> None:
        self.served = served

    # ------------------------------------------------------------------ helpers

    def _version(self, rt: ResourceType) -> Version:
        version = self.served.versions.get(rt.version)
        if version is None:  # a version dropped from the CRD while a request ran
            raise not_found(rt.resource, "", rt.group)
        return version

    def _bad_request(self, rt: ResourceType, message: str) -> StatusError:
        return bad_request(
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {message}'
        )

    def _coerce(self, obj: Obj, schema: Props | None, track: list[str] | None) -> None:
        """``unstructuredSchemaCoercer``: prune, drop disallowed nulls, coerce embedded
        resources' metadata."""
        if self.served.crd.preserve_unknown_fields:
            return
        found = prune(obj, schema, root=True, track=track is not None)
        if track is not None:
            track.extend(found)
        prune_nulls(obj, schema)
        coerce_embedded(obj, schema, "", root=False, unknown=track)

    # ------------------------------------------------------------------ decoding

    def decode(self, rt: ResourceType, body: Obj, mode: str, patch: bool = False) -> list[str]:
        original = go_json(body) if patch else ""

        def fail(message: str) -> StatusError:
            # A patched object that does not decode is a 422 naming it (kube's patcher).
            return patch_invalid(original, message) if patch else self._bad_request(rt, message)

        kind = body.get("kind")
        if not isinstance(kind, str) or not kind:
            text = json.dumps(body)
            raise bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind}): Object "
                f"'Kind' is missing in '{text}' ({text[:30]} ...)"
            )
        api_version = body.get("apiVersion")
        if api_version != rt.api_version:
            shown = api_version if isinstance(api_version, str) else ""
            raise bad_request(
                f"the API version in the data ({shown}) does not match the expected API "
                f"version ({rt.api_version})"
            )
        unknown: list[str] = []
        meta = body.get("metadata")
        if meta is not None:
            if not isinstance(meta, dict):
                raise fail(
                    f"json: cannot unmarshal {_json_kind(meta)} into Go value of type v1.ObjectMeta"
                )
            try:
                found = builtin_schema.check("v1", "", {"metadata": meta})
            except builtin_schema.SchemaError as err:
                message = str(err).replace("ObjectMeta.metadata.", "ObjectMeta.")
                raise fail(message) from None
            unknown.extend(found)
        body.update(normalize_numbers({k: v for k, v in body.items() if k != "metadata"}))
        if kind == rt.kind:
            schema = self._version(rt).schema
            self._coerce(body, schema, unknown)
            apply_defaults(body, schema)
        if not isinstance(body.get("metadata"), dict):
            body["metadata"] = {}
        if not unknown or mode == "Ignore":
            return []
        messages = [f"unknown field {quote(path)}" for path in unknown]
        if mode == "Strict":
            raise fail("strict decoding error: " + ", ".join(messages))
        return messages

    # ------------------------------------------------------------------ prepare

    def prepare_create(self, rt: ResourceType, obj: Obj) -> None:
        meta = _meta(obj)
        if self.served.terminating:
            raise forbidden_object(
                rt.resource,
                rt.group,
                str(meta.get("name") or ""),
                "create not allowed while custom resource definition is terminating",
            )
        for name in _SYSTEM_META:
            meta.pop(name, None)
        meta["creationTimestamp"] = now_rfc3339()
        if self._version(rt).status_enabled:
            obj.pop("status", None)
        meta["generation"] = 1

    def prepare_update(self, rt: ResourceType, obj: Obj, old: Obj) -> None:
        meta, old_meta = _meta(obj), old.get("metadata") or {}
        require_resource_version(rt, meta)
        for name in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if name in old_meta:
                meta[name] = old_meta[name]
            else:
                meta.pop(name, None)
        meta.pop("selfLink", None)
        meta.pop("managedFields", None)
        if self._version(rt).status_enabled:
            if "status" in old:
                obj["status"] = copy.deepcopy(old["status"])
            else:
                obj.pop("status", None)
        generation = int(old_meta.get("generation") or 0)
        if _non_meta(obj) != _non_meta(old):
            generation += 1
        meta["generation"] = generation

    def prepare_status_update(self, rt: ResourceType, obj: Obj, old: Obj) -> Obj:
        require_resource_version(rt, _meta(obj))
        out = copy.deepcopy(old)
        if "status" in obj:
            out["status"] = obj["status"]
        else:
            out.pop("status", None)
        return out

    # ------------------------------------------------------------------ validation

    def validate(
        self, rt: ResourceType, obj: Obj, old: Obj | None = None, subresource: str = ""
    ) -> list[Cause]:
        errors = self.field_errors(rt, obj, old, subresource == "status")
        kind = obj.get("kind")
        if errors and isinstance(kind, str) and kind and kind != rt.kind:
            # kube names the kind the object claims (Gadget.example.com "x" is invalid).
            name = str(_meta(obj).get("name") or "")
            raise invalid(kind, name, rt.group, causes(errors))
        if errors:
            return causes(errors)
        self._to_storage(rt, obj)
        return []

    def field_errors(
        self, rt: ResourceType, obj: Obj, old: Obj | None, status: bool = False
    ) -> list[FieldError]:
        """``ValidateCreate``/``ValidateUpdate`` (``status``: ``ValidateStatusUpdate``, which
        validates only ``status``, against the status schema, and the status replicas and
        selector of the scale subresource)."""
        version = self._version(rt)
        errors: list[FieldError] = []
        kind = obj.get("kind")
        if kind != rt.kind:
            errors.append(field_invalid("kind", kind, f"must be {rt.kind}"))
        if obj.get("apiVersion") != rt.api_version:
            errors.append(
                field_invalid("apiVersion", obj.get("apiVersion"), f"must be {rt.api_version}")
            )
        if errors:
            return errors
        meta = _meta(obj)
        if old is None:
            errors.extend(object_meta_errors(meta, "metadata", subdomain_name, rt.namespaced))
        else:
            errors.extend(
                e
                for e in object_meta_errors(meta, "metadata", lambda _n, _p: [], rt.namespaced)
                if not e.field.startswith("metadata.name")
            )
        schema = version.schema
        if status and old is not None:
            status_schema = (schema.properties or {}).get("status") if schema else None
            if status_schema is not None and "status" in obj:
                found = validate_value(status_schema, obj["status"], "status")
                errors.extend(ratchet(found, obj["status"], old.get("status"), "status"))
                errors.extend(_rule_errors(schema, obj, old, errors))
        elif schema is not None:
            found = validate_value(schema, obj)
            if old is not None:
                found = ratchet(found, obj, old)
            errors.extend(found)
            errors.extend(_rule_errors(schema, obj, old, errors))
        scale = version.scale
        if scale is not None:
            if not status:
                errors.extend(_replicas_errors(obj, scale.get("specReplicasPath")))
            errors.extend(_replicas_errors(obj, scale.get("statusReplicasPath")))
            selector = scale.get("labelSelectorPath")
            if isinstance(selector, str) and selector:
                value, error = _nested(obj, selector)
                if error is None and value is not None and not isinstance(value, str):
                    error = (
                        f"{selector} accessor error: {_go_print(value)} is of the type "
                        f"{_go_type(value)}, expected string"
                    )
                if error is not None:
                    errors.append(field_invalid(selector, "", error))
        errors.extend(validate_embedded(obj, schema, "", root=False))
        errors.extend(_list_type_errors(schema, obj, ""))
        return errors

    def _to_storage(self, rt: ResourceType, obj: Obj) -> None:
        """Keep only what the storage version's schema keeps (kube stores that version)."""
        storage = self.served.storage_version
        if storage and storage != rt.version:
            self._coerce(obj, self.served.schema(storage), None)

    # ------------------------------------------------------------------ reads

    def present(self, rt: ResourceType, record: Record) -> Record:
        stale = record.rv <= self.served.rv
        if record.obj.get("apiVersion") == rt.api_version and not stale:
            return record
        obj = copy.deepcopy(record.obj)
        if stale:
            apply_defaults(obj, self.served.schema(self.served.storage_version))
        if obj.get("apiVersion") != rt.api_version:
            obj["apiVersion"] = rt.api_version
            self._coerce(obj, self.served.schema(rt.version), None)
        if obj == record.obj:
            return record
        return Record.of(obj, record.rv)

    def delete(self, rt: ResourceType, obj: Obj) -> Obj | None:
        return None

    def table(
        self, rt: ResourceType, records: Sequence[Record], rv: str, include: str
    ) -> Obj | None:
        return custom_table(self.served.columns(rt.version), records, rv, include)

    def openapi(self, rt: ResourceType, v2: bool) -> tuple[Obj, Obj] | None:
        crd = self.served.crd
        return kind_schema(crd, rt.version, v2), list_schema(crd, rt.version, v2)

    def openapi_paths(self, rt: ResourceType) -> tuple[Obj, Obj, dict[str, list[Obj]]] | None:
        return openapi_paths(self.served.crd, rt.version)

    # ------------------------------------------------------------------ scale

    async def scale(
        self, request: web.Request, ctx: RequestContext, target: Target, writes: Writes
    ) -> web.StreamResponse:
        from .scale import serve

        return await serve(self, request, ctx, target, writes)


# --------------------------------------------------------------------------- helpers


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}"


def _go_print(value: Any) -> str:
    """``fmt.Sprint`` of a decoded JSON value (``%v``)."""
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{_go_print(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(_go_print(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, str):
        return value
    return go_value(value)


def _nested(obj: Obj, path: str) -> tuple[Any, str | None]:
    """``unstructured.NestedFieldNoCopy`` along a ``.a.b`` path: (value or None, error)."""
    fields_ = path.removeprefix(".").split(".")
    value: Any = obj
    for i, name in enumerate(fields_):
        if value is None:
            return None, None
        if not isinstance(value, dict):
            where = "." + ".".join(fields_[: i + 1])
            return None, (
                f"{where} accessor error: {_go_print(value)} is of the type {_go_type(value)}, "
                "expected map[string]interface{}"
            )
        if name not in value:
            return None, None
        value = value[name]
    return value, None


def _replicas_errors(obj: Obj, path: Any) -> list[FieldError]:
    if not isinstance(path, str) or not path:
        return []
    value, error = _nested(obj, path)
    if (
        error is None
        and value is not None
        and (not isinstance(value, int) or isinstance(value, bool))
    ):
        error = (
            f"{path} accessor error: {_go_print(value)} is of the type {_go_type(value)}, "
            "expected int64"
        )
    if error is not None:
        return [field_invalid(path, 0, error)]
    if value is None:
        return []
    if value < 0:
        return [field_invalid(path, value, "should be a non-negative integer")]
    if value > 2**31 - 1:
        return [field_invalid(path, value, "should be less than or equal to 2147483647")]
    return []


def _list_type_errors(schema: Props | None, value: Any, path: str) -> list[FieldError]:
    """``ValidateListSetsAndMaps``: duplicates in ``set`` and ``map`` lists."""
    if schema is None:
        return []
    errors: list[FieldError] = []
    if isinstance(value, dict):
        properties = schema.properties or {}
        for name, item in value.items():
            if name in properties:
                where = f"{path}.{name}" if path else name
                errors.extend(_list_type_errors(properties[name], item, where))
            elif schema.additional_properties is not None:
                errors.extend(
                    _list_type_errors(schema.additional_properties[1], item, key(path, name))
                )
    elif isinstance(value, list):
        if schema.x_list_type == "set":
            seen: set[str] = set()
            reported: set[str] = set()
            for i, item in enumerate(value):
                encoded = go_json(item)
                if encoded in seen and encoded not in reported:
                    errors.append(duplicate(index(path, i), item))
                    reported.add(encoded)
                seen.add(encoded)
        elif schema.x_list_type == "map":
            keys = schema.x_list_map_keys or []
            seen = set()
            reported = set()
            for i, item in enumerate(value):
                if item is not None and not isinstance(item, dict):
                    return [
                        field_invalid(
                            index(path, i), item, "must be an object for an array of list-type map"
                        )
                    ]
                entry = {k: (item or {}).get(k) for k in keys if k in (item or {})}
                encoded = go_json(entry)
                if encoded in seen and encoded not in reported:
                    errors.append(duplicate(index(path, i), entry))
                    reported.add(encoded)
                seen.add(encoded)
        for i, item in enumerate(value):
            errors.extend(_list_type_errors(schema.items, item, index(path, i)))
    return errors


def _rule_errors(
    schema: Props | None, obj: Obj, old: Obj | None, errors: list[FieldError]
) -> list[FieldError]:
    """The ``x-kubernetes-validations`` failures (none run past a blocking schema error, as
    kube's strategy); the CEL engine is loaded only once a schema has rules."""
    if schema is None or not any(p.x_validations for p in schema.walk()):
        return []
    from .cel import blocking_error, validate_rules

    blocked = blocking_error(errors)
    return [blocked] if blocked is not None else validate_rules(schema, obj, old)
