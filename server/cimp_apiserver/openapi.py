"""OpenAPI documents generated from the resource table and the protobuf field tables.

kubectl 1.33 reads OpenAPI v3 for three things: whether a kind's PATCH endpoint takes the
``fieldValidation`` query parameter (else ``apply``/``create -f`` refuse to run without
``--validate=false``), the component schemas it computes ``apply``'s three-way strategic merge
patch with (``x-kubernetes-patch-merge-key``/``-strategy`` on list properties, found through
``x-kubernetes-group-version-kind``), and ``kubectl explain``. It falls back to ``/openapi/v2``
(asked for as gnostic protobuf only) when v3 cannot answer, notably to validate ``kind: List``
files client-side; v2 is served in that form, and as JSON to clients that accept it.

Schemas are built from :mod:`.proto_schemas` (every field of every served built-in kind, so
a manifest's field is never "not found" while kubectl diffs it); paths from
:data:`.resources.TABLE` and the subresource table of :mod:`.discovery`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import cache
from typing import Any

from aiohttp import web

from . import discovery, proto_schemas, resources
from .proto_schemas import Field
from .resources import ResourceType
from .status import not_acceptable, page_not_found, status_response

__all__ = [
    "V2_PROTOBUF",
    "V3_PROTOBUF",
    "add_routes",
    "routes",
    "schema_name",
    "v2_document",
    "v2_protobuf",
    "v3_document",
    "v3_index",
]

V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
V3_PROTOBUF = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
_REF = "#/components/schemas/"
_PACKAGES = {
    "core.v1": "io.k8s.api.core.v1",
    "apps.v1": "io.k8s.api.apps.v1",
    "rbac.v1": "io.k8s.api.rbac.v1",
    "authentication.v1": "io.k8s.api.authentication.v1",
    "authorization.v1": "io.k8s.api.authorization.v1",
    "policy.v1": "io.k8s.api.policy.v1",
    "meta.v1": "io.k8s.apimachinery.pkg.apis.meta.v1",
    "resource": "io.k8s.apimachinery.pkg.api.resource",
    "intstr": "io.k8s.apimachinery.pkg.util.intstr",
}
_META = _PACKAGES["meta.v1"]
_SCALARS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "int32": {"type": "integer", "format": "int32"},
    "int64": {"type": "integer", "format": "int64"},
    "bool": {"type": "boolean"},
    "bytes": {"type": "string", "format": "byte"},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "meta.v1.Time": {"type": "string", "format": "date-time"},
    "meta.v1.MicroTime": {"type": "string", "format": "date-time"},
    "meta.v1.FieldsV1": {"type": "object"},
    "resource.Quantity": {"oneOf": [{"type": "string"}, {"type": "number"}]},
    "intstr.IntOrString": {
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    },
}
_STRING = {"type": "string"}
# Kinds outside the protobuf table (custom resources): open schemas with typed metadata.
_CUSTOM_PACKAGES = {"kubevirt.io": "io.kubevirt"}


def schema_name(message: str) -> str:
    """The component name kube-apiserver uses (``core.v1.Pod`` -> ``io.k8s.api.core.v1.Pod``)."""
    package, _, name = message.rpartition(".")
    return f"{_PACKAGES[package]}.{name}"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF + name}


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def _custom_name(rt: ResourceType, kind: str) -> str:
    prefix = _CUSTOM_PACKAGES.get(rt.group, ".".join(reversed(rt.group.split("."))))
    return f"{prefix}.{rt.version}.{kind}"


class _Schemas:
    """Collects the component schemas one document references, following references."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}
        self.gvks: dict[str, list[dict[str, str]]] = {}

    def message(self, message: str) -> str:
        """Add ``message`` (and what it references); return its component name."""
        name = schema_name(message)
        if name in self.schemas:
            return name
        if message in _WELL_KNOWN:
            self.schemas[name] = dict(_WELL_KNOWN[message])
            return name
        self.schemas[name] = {}  # placeholder against cycles
        properties: dict[str, Any] = {}
        self._properties(message, properties)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if message in proto_schemas.TOP_LEVEL:
            properties["apiVersion"] = dict(_STRING)
            properties["kind"] = dict(_STRING)
        self.schemas[name] = schema
        return name

    def _properties(self, message: str, into: dict[str, Any]) -> None:
        for field in proto_schemas.message(message).fields:
            if field.inline:
                self._properties(field.type, into)
            else:
                into[field.name] = self._field(field)

    def _item(self, typ: str) -> dict[str, Any]:
        if typ in _SCALARS:
            return dict(_SCALARS[typ])
        if typ not in _WELL_KNOWN and proto_schemas.message(typ).is_list:
            return {"type": "array", "items": dict(_STRING)}
        return {"allOf": [_ref(self.message(typ))]}

    def _field(self, field: Field) -> dict[str, Any]:
        item = self._item(field.type)
        if field.map:
            schema: dict[str, Any] = {"type": "object", "additionalProperties": item}
            if field.map_type:
                schema["x-kubernetes-map-type"] = field.map_type
            return schema
        if not field.repeated:
            return item
        if "allOf" in item:
            item["default"] = {}
        schema = {"type": "array", "items": item}
        if field.list_type:
            schema["x-kubernetes-list-type"] = field.list_type
        if field.list_keys:
            schema["x-kubernetes-list-map-keys"] = list(field.list_keys)
        if field.merge_key:
            schema["x-kubernetes-patch-merge-key"] = field.merge_key
        if field.strategy:
            schema["x-kubernetes-patch-strategy"] = field.strategy
        return schema

    def kind(self, group: str, version: str, kind: str) -> str:
        """The component of a top-level kind, tagged with its GVK (what kubectl looks up)."""
        api_version = f"{group}/{version}" if group else version
        message = proto_schemas.top_level_message(api_version, kind)
        if message is None:
            raise KeyError(f"{api_version} {kind}")
        name = self.message(message)
        self.tag(name, _gvk(group, version, kind))
        return name

    def tag(self, name: str, gvk: dict[str, str]) -> None:
        tags = self.gvks.setdefault(name, [])
        if gvk not in tags:
            tags.append(gvk)

    def custom(self, rt: ResourceType) -> str:
        """An open schema for a custom resource (its spec and status are not modelled)."""
        name = _custom_name(rt, rt.kind)
        if name not in self.schemas:
            open_object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            self.schemas[name] = {
                "type": "object",
                "properties": {
                    "apiVersion": dict(_STRING),
                    "kind": dict(_STRING),
                    "metadata": {"allOf": [_ref(self.message("meta.v1.ObjectMeta"))]},
                    "spec": dict(open_object),
                    "status": dict(open_object),
                },
                "x-kubernetes-preserve-unknown-fields": True,
            }
            self.tag(name, _gvk(rt.group, rt.version, rt.kind))
        return name

    def list_of(self, rt: ResourceType, item: str) -> str:
        name = item + "List"
        if not name.startswith("io.k8s."):
            name = _custom_name(rt, rt.list_kind)
        self.schemas[name] = {
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": dict(_STRING),
                "kind": dict(_STRING),
                "items": {"type": "array", "items": {"allOf": [_ref(item)], "default": {}}},
                "metadata": {"allOf": [_ref(self.meta("ListMeta"))], "default": {}},
            },
        }
        self.tag(name, _gvk(rt.group, rt.version, rt.list_kind))
        return name

    def meta(self, kind: str) -> str:
        """Components of meta/v1 that are not request bodies (lists, Status, Patch)."""
        name = f"{_META}.{kind}"
        if name in self.schemas:
            return name
        if kind == "ListMeta":
            schema: dict[str, Any] = {
                "type": "object",
                "properties": {
                    "continue": dict(_STRING),
                    "remainingItemCount": {"type": "integer", "format": "int64"},
                    "resourceVersion": dict(_STRING),
                    "selfLink": dict(_STRING),
                },
            }
        elif kind == "Patch":
            schema = {"type": "object"}
        elif kind == "Status":
            cause = {
                "type": "object",
                "properties": {"field": _STRING, "message": _STRING, "reason": _STRING},
            }
            details = {
                "type": "object",
                "properties": {
                    "causes": {"type": "array", "items": cause},
                    "group": dict(_STRING),
                    "kind": dict(_STRING),
                    "name": dict(_STRING),
                    "retryAfterSeconds": {"type": "integer", "format": "int32"},
                    "uid": dict(_STRING),
                },
            }
            schema = {
                "type": "object",
                "properties": {
                    "apiVersion": dict(_STRING),
                    "kind": dict(_STRING),
                    "code": {"type": "integer", "format": "int32"},
                    "details": details,
                    "message": dict(_STRING),
                    "metadata": {"allOf": [_ref(self.meta("ListMeta"))], "default": {}},
                    "reason": dict(_STRING),
                    "status": dict(_STRING),
                },
            }
            self.tag(name, _gvk("", "v1", "Status"))
        else:
            return self.message(f"meta.v1.{kind}")
        self.schemas[name] = schema
        return name

    def finish(self) -> dict[str, dict[str, Any]]:
        for name, gvks in self.gvks.items():
            self.schemas[name]["x-kubernetes-group-version-kind"] = gvks
        return dict(sorted(self.schemas.items()))


# --- paths ------------------------------------------------------------------------------------


def _query(name: str, typ: str = "string") -> dict[str, Any]:
    return {"in": "query", "name": name, "schema": {"type": typ, "uniqueItems": True}}


def _path_param(name: str) -> dict[str, Any]:
    return {"in": "path", "name": name, "required": True, "schema": dict(_STRING)}


_WRITE = [_query("dryRun"), _query("fieldManager"), _query("fieldValidation")]
_PATCH = [*_WRITE, _query("force", "boolean")]
_DELETE = [
    _query("dryRun"),
    _query("gracePeriodSeconds", "integer"),
    _query("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean"),
    _query("orphanDependents", "boolean"),
    _query("propagationPolicy"),
]
_LIST = [
    _query("allowWatchBookmarks", "boolean"),
    _query("continue"),
    _query("fieldSelector"),
    _query("labelSelector"),
    _query("limit", "integer"),
    _query("resourceVersion"),
    _query("resourceVersionMatch"),
    _query("sendInitialEvents", "boolean"),
    _query("timeoutSeconds", "integer"),
    _query("watch", "boolean"),
]
_PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
_RESPONSE_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
_OPERATION_VERBS = {
    "list": "list",
    "post": "create",
    "deletecollection": "deleteCollection",
    "get": "read",
    "put": "replace",
    "patch": "patch",
    "delete": "delete",
    "connect": "connectGet",
}


def _content(schema: str, types: Iterable[str] = _RESPONSE_TYPES) -> dict[str, Any]:
    return {"content": {t: {"schema": _ref(schema)} for t in types}}


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in text.replace("-", ".").split("."))


def _operation_id(action: str, rt: ResourceType, kind: str, suffix: str) -> str:
    group = rt.group.removesuffix(".k8s.io") if rt.group else "core"
    scope = "Namespaced" if rt.namespaced and suffix != "ForAllNamespaces" else ""
    return f"{_OPERATION_VERBS[action]}{_camel(group)}{_camel(rt.version)}{scope}{kind}{suffix}"


def _operation(
    action: str,
    rt: ResourceType,
    gvk: tuple[str, str, str],
    *,
    response: str,
    codes: Iterable[str] = ("200",),
    params: list[dict[str, Any]] | None = None,
    body: str | None = None,
    body_types: Iterable[str] = ("*/*",),
    suffix: str = "",
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": _operation_id(action, rt, gvk[2], suffix),
        "tags": [f"{_camel(rt.group.removesuffix('.k8s.io')) or 'core'}_{rt.version}"],
    }
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {**_content(body, body_types), "required": action != "delete"}
    op["responses"] = {code: _content(response) for code in codes} | {"401": {}}
    op["x-kubernetes-action"] = action
    op["x-kubernetes-group-version-kind"] = _gvk(*gvk)
    return op


def _resource_paths(rt: ResourceType, schemas: _Schemas) -> dict[str, dict[str, Any]]:
    """Path items of one resource: collection, object and subresources."""
    gvk = (rt.group, rt.version, rt.kind)
    base = "/api/v1" if not rt.group else f"/apis/{rt.group}/{rt.version}"
    scope = f"{base}/namespaces/{{namespace}}" if rt.namespaced else base
    common = [_path_param("namespace")] if rt.namespaced else []
    pretty = [_query("pretty")]
    paths: dict[str, dict[str, Any]] = {}
    custom = proto_schemas.top_level_message(rt.api_version, rt.kind) is None
    verbs = set(rt.verbs)
    kind = ""
    if verbs:
        kind = schemas.custom(rt) if custom else schemas.kind(*gvk)
    status = schemas.meta("Status")
    delete_options = schemas.message("meta.v1.DeleteOptions") if verbs & {"delete"} else ""
    if delete_options:
        schemas.tag(delete_options, _gvk(rt.group, rt.version, "DeleteOptions"))

    collection: dict[str, Any] = {}
    if "list" in verbs:
        list_kind = schemas.list_of(rt, kind)
        collection["get"] = _operation("list", rt, gvk, response=list_kind, params=_LIST)
        if rt.namespaced:
            paths[f"{base}/{rt.resource}"] = {
                "get": _operation(
                    "list", rt, gvk, response=list_kind, params=_LIST, suffix="ForAllNamespaces"
                ),
                "parameters": pretty,
            }
    if "create" in verbs:
        collection["post"] = _operation(
            "post", rt, gvk, response=kind, codes=("200", "201", "202"), params=_WRITE, body=kind
        )
    if "deletecollection" in verbs:
        collection["delete"] = _operation(
            "deletecollection",
            rt,
            gvk,
            response=status,
            params=[*_DELETE, *_LIST],
            body=delete_options,
        )
    if collection:
        paths[f"{scope}/{rt.resource}"] = {**collection, "parameters": [*common, *pretty]}

    item: dict[str, Any] = {}
    if "get" in verbs:
        item["get"] = _operation("get", rt, gvk, response=kind)
    if "update" in verbs:
        item["put"] = _operation(
            "put", rt, gvk, response=kind, codes=("200", "201"), params=_WRITE, body=kind
        )
    if "patch" in verbs:
        item["patch"] = _operation(
            "patch",
            rt,
            gvk,
            response=kind,
            codes=("200", "201"),
            params=_PATCH,
            body=schemas.meta("Patch"),
            body_types=[t for t in _PATCH_TYPES if not (custom and "strategic" in t)],
        )
    if "delete" in verbs:
        item["delete"] = _operation(
            "delete",
            rt,
            gvk,
            response=status,
            codes=("200", "202"),
            params=_DELETE,
            body=delete_options,
        )
    named = [_path_param("name"), *common, *pretty]
    if item:
        paths[f"{scope}/{rt.resource}/{{name}}"] = {**item, "parameters": named}

    for sub in rt.subresources:
        sub_gvk, sub_verbs = discovery.subresource_info(rt, sub)
        if custom:
            continue  # subresources of other servers (KubeVirt's console) are not documented
        body = schemas.kind(*sub_gvk)
        suffix = _camel(sub)
        ops: dict[str, Any] = {}
        if "get" in sub_verbs:
            ops["get"] = _operation("get", rt, sub_gvk, response=body, suffix=suffix)
        if "update" in sub_verbs:
            ops["put"] = _operation(
                "put",
                rt,
                sub_gvk,
                response=body,
                codes=("200", "201"),
                params=_WRITE,
                body=body,
                suffix=suffix,
            )
        if "patch" in sub_verbs:
            ops["patch"] = _operation(
                "patch",
                rt,
                sub_gvk,
                response=body,
                codes=("200", "201"),
                params=_PATCH,
                body=schemas.meta("Patch"),
                body_types=_PATCH_TYPES,
                suffix=suffix,
            )
        if "create" in sub_verbs:
            ops["post"] = _operation(
                "post",
                rt,
                sub_gvk,
                response=body,
                codes=("200", "201", "202"),
                params=_WRITE,
                body=body,
                suffix=suffix,
            )
        paths[f"{scope}/{rt.resource}/{{name}}/{sub}"] = {**ops, "parameters": named}
    return paths


# --- documents --------------------------------------------------------------------------------


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _documented() -> list[tuple[str, str]]:
    """Group versions with a v3 document: those serving at least one kind of their own."""
    return [
        (g, v)
        for g, versions in resources.groups()
        for v in versions
        if any(rt.verbs for rt in resources.in_group(g, v))
    ]


@cache
def v3_document(group: str, version: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group version, or None when it has none."""
    if (group, version) not in _documented():
        return None
    schemas = _Schemas()
    paths: dict[str, Any] = {}
    for rt in resources.in_group(group, version):
        paths.update(_resource_paths(rt, schemas))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": discovery.GIT_VERSION},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas.finish(),
            "securitySchemes": {
                "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}
            },
        },
        "security": [{"BearerToken": []}],
    }


@cache
def _v3_encoded(group: str, version: str) -> tuple[bytes, str] | None:
    document = v3_document(group, version)
    if document is None:
        return None
    body = json.dumps(document, separators=(",", ":")).encode()
    return body, hashlib.sha512(body).hexdigest().upper()


def v3_index() -> dict[str, Any]:
    """``GET /openapi/v3``: each group version's document URL, with a content hash."""
    paths: dict[str, Any] = {}
    for group, version in _documented():
        encoded = _v3_encoded(group, version)
        assert encoded is not None
        relative = _gv_path(group, version)
        paths[relative] = {"serverRelativeURL": f"/openapi/v3/{relative}?hash={encoded[1]}"}
    return {"paths": paths}


def _to_v2(node: Any) -> Any:
    """Rewrite v3 schema references (``allOf`` wrappers, component paths) to swagger 2.0."""
    if isinstance(node, dict):
        if set(node) <= {"allOf", "default"} and len(node.get("allOf", ())) == 1:
            return _to_v2(node["allOf"][0])
        if "oneOf" in node:  # Quantity, IntOrString: swagger 2.0 calls them strings
            node = {k: v for k, v in node.items() if k != "oneOf"} | {"type": "string"}
        return {
            k: (v.replace(_REF, "#/definitions/") if k == "$ref" else _to_v2(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_to_v2(v) for v in node]
    return node


def _v2_operation(op: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in op.items() if k not in ("requestBody", "responses", "parameters")}
    params = [
        {"in": p["in"], "name": p["name"], "type": p["schema"]["type"], "uniqueItems": True}
        | ({"required": True} if p.get("required") else {})
        for p in op.get("parameters", ())
    ]
    if "requestBody" in op:
        content = op["requestBody"]["content"]
        out["consumes"] = sorted(content)
        schema = next(iter(content.values()))["schema"]
        params.insert(0, {"in": "body", "name": "body", "required": True, "schema": schema})
    if params:
        out["parameters"] = params
    out["produces"] = list(_RESPONSE_TYPES)
    out["responses"] = {
        code: (
            {"description": "OK", "schema": next(iter(r["content"].values()))["schema"]}
            if r
            else {"description": "Unauthorized"}
        )
        for code, r in op["responses"].items()
    }
    out["schemes"] = ["https"]
    return out


@cache
def v2_document() -> dict[str, Any]:
    """``GET /openapi/v2`` as swagger 2.0 JSON: every group version's paths and definitions."""
    paths: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    for group, version in _documented():
        document = v3_document(group, version)
        assert document is not None
        definitions.update(document["components"]["schemas"])
        for path, item in document["paths"].items():
            paths[path] = {
                method: (
                    [
                        {"in": p["in"], "name": p["name"], "type": "string", "uniqueItems": True}
                        | ({"required": True} if p.get("required") else {})
                        for p in value
                    ]
                    if method == "parameters"
                    else _v2_operation(value)
                )
                for method, value in item.items()
            }
    swagger: dict[str, Any] = _to_v2(
        {
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": discovery.GIT_VERSION},
            "paths": dict(sorted(paths.items())),
            "definitions": dict(sorted(definitions.items())),
            "securityDefinitions": {
                "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}
            },
            "security": [{"BearerToken": []}],
        }
    )
    return swagger


@cache
def _v2_encoded() -> tuple[bytes, str]:
    body = json.dumps(v2_document(), separators=(",", ":")).encode()
    return body, '"' + hashlib.sha512(body).hexdigest().upper() + '"'


# --- swagger 2.0 as protobuf ------------------------------------------------------------------
# kubectl asks for /openapi/v2 only as gnostic's ``openapi_v2.Document`` protobuf, and does so
# whenever v3 cannot answer: client-side validation of ``kind: List`` files (v3 has no List
# kind) and patch computation fallbacks. Only ``definitions`` matter there (kubectl indexes them
# by ``x-kubernetes-group-version-kind``); paths stay empty.


def _pb_varint(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _pb_bytes(out: bytearray, number: int, payload: bytes) -> None:
    _pb_varint(out, number << 3 | 2)
    _pb_varint(out, len(payload))
    out += payload


def _pb_bool(out: bytearray, number: int, value: bool) -> None:
    if value:
        _pb_varint(out, number << 3)
        _pb_varint(out, 1)


def _pb_any(value: Any) -> bytes:
    """gnostic ``Any``: the value as YAML text (JSON is YAML)."""
    out = bytearray()
    _pb_bytes(out, 2, json.dumps(value).encode())
    return bytes(out)


def _pb_named(name: str, value: bytes) -> bytes:
    out = bytearray()
    _pb_bytes(out, 1, name.encode())
    _pb_bytes(out, 2, value)
    return bytes(out)


def _pb_schema(schema: dict[str, Any]) -> bytes:
    """gnostic ``Schema`` of a swagger 2.0 schema object."""
    out = bytearray()
    if "$ref" in schema:
        _pb_bytes(out, 1, schema["$ref"].encode())
    for number, key in ((2, "format"), (3, "title"), (4, "description")):
        if key in schema:
            _pb_bytes(out, number, str(schema[key]).encode())
    if "default" in schema:
        _pb_bytes(out, 5, _pb_any(schema["default"]))
    _pb_bool(out, 16, bool(schema.get("uniqueItems")))
    for required in schema.get("required", ()):
        _pb_bytes(out, 19, required.encode())
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        item = bytearray()
        _pb_bytes(item, 1, _pb_schema(additional))
        _pb_bytes(out, 21, bytes(item))
    elif isinstance(additional, bool):
        item = bytearray()
        _pb_varint(item, 2 << 3)
        _pb_varint(item, int(additional))
        _pb_bytes(out, 21, bytes(item))
    if "type" in schema:
        typ = bytearray()
        _pb_bytes(typ, 1, str(schema["type"]).encode())
        _pb_bytes(out, 22, bytes(typ))
    if "items" in schema:
        items = bytearray()
        _pb_bytes(items, 1, _pb_schema(schema["items"]))
        _pb_bytes(out, 23, bytes(items))
    for member in schema.get("allOf", ()):
        _pb_bytes(out, 24, _pb_schema(member))
    if "properties" in schema:
        props = bytearray()
        for name, sub in schema["properties"].items():
            _pb_bytes(props, 1, _pb_named(name, _pb_schema(sub)))
        _pb_bytes(out, 25, bytes(props))
    for key, value in schema.items():
        if key.startswith("x-"):
            _pb_bytes(out, 31, _pb_named(key, _pb_any(value)))
    return bytes(out)


@cache
def v2_protobuf() -> bytes:
    """``GET /openapi/v2`` in the protobuf form kubectl asks for (definitions only)."""
    swagger = v2_document()
    out = bytearray()
    _pb_bytes(out, 1, b"2.0")
    info = bytearray()
    _pb_bytes(info, 1, b"Kubernetes")
    _pb_bytes(info, 2, discovery.GIT_VERSION.encode())
    _pb_bytes(out, 2, bytes(info))
    _pb_bytes(out, 8, b"")
    definitions = bytearray()
    for name, schema in swagger["definitions"].items():
        _pb_bytes(definitions, 1, _pb_named(name, _pb_schema(schema)))
    _pb_bytes(out, 9, bytes(definitions))
    return bytes(out)


# --- handlers ---------------------------------------------------------------------------------


def _preferred(accept: str | None, protobuf: str | None = None) -> str | None:
    """``"json"``, ``"protobuf"`` (when ``protobuf`` is the type offered) or None (406)."""
    if not accept:
        return "json"
    for clause in accept.split(","):
        media = clause.split(";", 1)[0].strip().lower()
        if media in ("application/json", "*/*", "application/*"):
            return "json"
        if protobuf is not None and media == protobuf.lower():
            return "protobuf"
    return None


def _json_acceptable(accept: str | None) -> bool:
    return _preferred(accept) == "json"


def _not_found() -> web.Response:
    return status_response(page_not_found())


def _json(body: bytes, etag: str, request: web.Request, cache_control: str) -> web.Response:
    headers = {
        "Content-Type": "application/json",
        "ETag": etag,
        "Cache-Control": cache_control,
        "Vary": "Accept",
    }
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers=headers)


async def handle_v2(request: web.Request) -> web.StreamResponse:
    """``GET /openapi/v2``: swagger JSON, or the protobuf form kubectl asks for."""
    choice = _preferred(request.headers.get("Accept"), V2_PROTOBUF)
    if choice is None:
        return status_response(not_acceptable(["application/json", V2_PROTOBUF]))
    body, etag = _v2_encoded()
    if choice == "json":
        return _json(body, etag, request, "no-cache, private")
    # Go's mime parser refuses the "@" of the requested name; kube answers with this one.
    content_type = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    headers = {"Content-Type": content_type, "ETag": etag, "Vary": "Accept"}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=v2_protobuf(), headers=headers)


async def handle_v3_index(request: web.Request) -> web.StreamResponse:
    """``GET /openapi/v3``."""
    if not _json_acceptable(request.headers.get("Accept")):
        return status_response(not_acceptable(["application/json"]))
    body = json.dumps(v3_index(), separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(body).hexdigest() + '"'
    return _json(body, etag, request, "no-cache, private")


async def handle_v3_document(request: web.Request) -> web.StreamResponse:
    """``GET /openapi/v3/api/v1``, ``/openapi/v3/apis/<group>/<version>``."""
    parts = request.match_info["path"].strip("/").split("/")
    if parts[:1] == ["api"] and len(parts) == 2:
        encoded = _v3_encoded("", parts[1])
    elif parts[:1] == ["apis"] and len(parts) == 3 and parts[1]:
        encoded = _v3_encoded(parts[1], parts[2])
    else:
        encoded = None
    if encoded is None:
        return _not_found()
    if not _json_acceptable(request.headers.get("Accept")):
        return status_response(not_acceptable(["application/json"]))
    body, digest = encoded
    asked = request.query.get("hash")
    if asked is not None and asked != digest:
        # kube-openapi sends a stale hash to the current one, so caches keyed by URL recover.
        location = f"{request.path}?hash={digest}"
        return web.Response(
            status=301, headers={"Location": location, "Cache-Control": "no-cache, private"}
        )
    cache_control = "public, immutable" if asked else "no-cache, private"
    return _json(body, f'"{digest}"', request, cache_control)


def routes() -> list[web.RouteDef]:
    """The OpenAPI routes, for the app builder's non-resource GET hook."""
    return [
        web.get("/openapi/v2", handle_v2),
        web.get("/openapi/v3", handle_v3_index),
        web.get("/openapi/v3/", handle_v3_index),
        web.get("/openapi/v3/{path:.+}", handle_v3_document),
    ]


def add_routes(router: web.UrlDispatcher) -> None:
    """Register :func:`routes` on ``router``."""
    router.add_routes(routes())
