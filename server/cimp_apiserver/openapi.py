"""OpenAPI documents: the pinned kube-apiserver's own, plus generated ones for custom resources.

kubectl reads OpenAPI v3 for three things: whether a kind's PATCH endpoint takes the
``fieldValidation`` query parameter (else ``apply``/``create -f`` refuse to run without
``--validate=false``), the component schemas it computes ``apply``'s three-way strategic merge
patch with (``x-kubernetes-patch-merge-key``/``-strategy`` on list properties, found through
``x-kubernetes-group-version-kind``), and ``kubectl explain``. It falls back to ``/openapi/v2``
(asked for as gnostic protobuf only) when v3 cannot answer, notably to validate ``kind: List``
files client-side; v2 is served in that form, and as JSON to clients that accept it.

The built-in group versions are served as kube-apiserver v1.37.2 serves them, captured by
``hack/gen-resources.py`` into ``data/`` (without descriptions: ``kubectl explain`` shows
fields and types, not prose). Group versions of resources added at run time (custom
resources, the KubeVirt stand-in) get documents generated here in the same shape: paths for
their verbs and subresources, and the resource's schema (``ResourceType.schema``, or an open
object) with kube's own ``ObjectMeta`` and friends. They are spliced into v2 as well.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from aiohttp import web

from . import data, discovery, resources
from .resources import Registry, ResourceType, registry_of
from .status import not_acceptable, status_response
from .strategy import strategy_of

__all__ = [
    "V2_PROTOBUF",
    "V3_PROTOBUF",
    "add_routes",
    "routes",
    "swagger_protobuf",
    "v2_document",
    "v2_protobuf",
    "v3_document",
    "v3_index",
]

V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
V3_PROTOBUF = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
_REF = "#/components/schemas/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_STRING = {"type": "string"}
# Built-in documents the components of generated ones are copied from (small ones first).
# Documents kube's generated components are copied from (apps/v1 has autoscaling/v1 Scale, the
# body of a custom resource's scale subresource).
_COMPONENT_SOURCES = ("apis/coordination.k8s.io/v1", "apis/autoscaling/v1", "apis/apps/v1")
# kube-apiserver's documents say "1.37", not the full release.
_INFO_VERSION = f"{discovery.KUBE_MAJOR}.{discovery.KUBE_MINOR}"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF + name}


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _paths_of(
    rt: ResourceType,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, list[dict[str, str]]]] | None:
    """The v3 and v2 path items a resource's strategy documents, with their components."""
    strategy = strategy_of(rt)
    return strategy.openapi_paths(rt) if strategy is not None else None


def _documented(rt: ResourceType, v2: bool) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The kind and list schemas a resource's strategy documents (custom resources)."""
    strategy = strategy_of(rt)
    return strategy.openapi(rt, v2) if strategy is not None else None


def _custom_name(rt: ResourceType, kind: str) -> str:
    """Definition name as apiextensions writes it: the group reversed (kubevirt.io: io.kubevirt)."""
    return f"{'.'.join(reversed(rt.group.split('.')))}.{rt.version}.{kind}"


# --- the built-in documents -------------------------------------------------------------------


def _builtin_hashes() -> dict[str, str]:
    """Path of each captured v3 document (``api/v1``, ``apis/apps/v1``...) to its hash."""
    hashes: dict[str, str] = data.load("openapi/v3-index.json")
    return hashes


@lru_cache(maxsize=8)
def _builtin_v3(path: str) -> bytes:
    return data.read(f"openapi/v3/{path}.json")


@lru_cache(maxsize=len(_COMPONENT_SOURCES))
def _builtin_components(path: str) -> dict[str, Any]:
    document = json.loads(_builtin_v3(path))
    components: dict[str, Any] = document["components"]["schemas"]
    return components


def _builtin_component(name: str) -> dict[str, Any] | None:
    for path in _COMPONENT_SOURCES:
        found: dict[str, Any] | None = _builtin_components(path).get(name)
        if found is not None:
            return found
    return None


def _builtin_kind_component(group: str, version: str, kind: str) -> str | None:
    wanted = _gvk(group, version, kind)
    for path in _COMPONENT_SOURCES:
        for name, schema in _builtin_components(path).items():
            if wanted in schema.get("x-kubernetes-group-version-kind", ()):
                return name
    return None


# --- generated documents (custom resources) -------------------------------------------------


class _Schemas:
    """Collects the component schemas of one generated document, following references."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}
        self.gvks: dict[str, list[dict[str, str]]] = {}

    def builtin(self, name: str) -> str:
        """Copy kube's component ``name`` and everything it references; return ``name``."""
        if name in self.schemas:
            return name
        schema = _builtin_component(name)
        if schema is None:
            raise KeyError(name)
        schema = copy.deepcopy(schema)
        self.gvks.pop(name, None)
        schema.pop("x-kubernetes-group-version-kind", None)
        self.schemas[name] = schema
        for ref in _refs(schema):
            self.builtin(ref.removeprefix(_REF))
        return name

    def builtin_kind(self, group: str, version: str, kind: str) -> str:
        """kube's component of a built-in kind (a subresource's body), or "" if unknown."""
        name = _builtin_kind_component(group, version, kind)
        if name is None:
            return ""
        self.builtin(name)
        self.tag(name, _gvk(group, version, kind))
        return name

    def tag(self, name: str, gvk: dict[str, str]) -> None:
        tags = self.gvks.setdefault(name, [])
        if gvk not in tags:
            tags.append(gvk)

    def custom(self, rt: ResourceType) -> str:
        """The kind's schema: ``rt.schema`` if it has one, else an open object."""
        name = _custom_name(rt, rt.kind)
        if name not in self.schemas and (documented := _documented(rt, v2=False)):
            self.meta("ObjectMeta")  # custom resources: apiextensions' builder (crd/openapi.py)
            self.schemas[name] = documented[0]
        if name not in self.schemas:
            open_object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            given = copy.deepcopy(dict(rt.schema)) if rt.schema is not None else None
            if given is None:
                schema: dict[str, Any] = {
                    "type": "object",
                    "properties": {
                        "apiVersion": dict(_STRING),
                        "kind": dict(_STRING),
                        "metadata": {"allOf": [_ref(self.meta("ObjectMeta"))]},
                        "spec": dict(open_object),
                        "status": dict(open_object),
                    },
                    "x-kubernetes-preserve-unknown-fields": True,
                }
            else:
                schema = given
                properties = schema.setdefault("properties", {})
                properties.setdefault("apiVersion", dict(_STRING))
                properties.setdefault("kind", dict(_STRING))
                properties["metadata"] = {"allOf": [_ref(self.meta("ObjectMeta"))]}
            self.schemas[name] = schema
            self.tag(name, _gvk(rt.group, rt.version, rt.kind))
        return name

    def list_of(self, rt: ResourceType, item: str) -> str:
        name = _custom_name(rt, rt.list_kind)
        if documented := _documented(rt, v2=False):
            self.meta("ListMeta")
            self.schemas[name] = documented[1]
            return name
        self.schemas[name] = {
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": dict(_STRING),
                "items": {"type": "array", "items": {"allOf": [_ref(item)], "default": {}}},
                "kind": dict(_STRING),
                "metadata": {"allOf": [_ref(self.meta("ListMeta"))], "default": {}},
            },
        }
        self.tag(name, _gvk(rt.group, rt.version, rt.list_kind))
        return name

    def meta(self, kind: str) -> str:
        """A component of meta/v1 (ObjectMeta, ListMeta, Status, DeleteOptions, Patch...)."""
        name = self.builtin(f"{_META}.{kind}")
        if kind == "Status":
            self.tag(name, _gvk("", "v1", "Status"))
        return name

    def finish(self) -> dict[str, dict[str, Any]]:
        for name, gvks in self.gvks.items():
            self.schemas[name]["x-kubernetes-group-version-kind"] = gvks
        return dict(sorted(self.schemas.items()))


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


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
    """Path items of one custom resource: collection, object and subresources."""
    if documented := _paths_of(rt):
        schemas.list_of(rt, schemas.custom(rt))  # a CRD's: apiextensions' builder (crd/)
        schemas.meta("Status")
        for name, tags in documented[2].items():
            schemas.builtin(name)
            for tagged in tags:
                schemas.tag(name, tagged)
        return documented[0]
    gvk = (rt.group, rt.version, rt.kind)
    base = "/api/v1" if not rt.group else f"/apis/{rt.group}/{rt.version}"
    scope = f"{base}/namespaces/{{namespace}}" if rt.namespaced else base
    common = [_path_param("namespace")] if rt.namespaced else []
    pretty = [_query("pretty")]
    paths: dict[str, dict[str, Any]] = {}
    verbs = set(rt.verbs)
    kind = schemas.custom(rt) if verbs else ""
    status = schemas.meta("Status")
    delete_options = schemas.meta("DeleteOptions") if verbs & {"delete"} else ""
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
            body_types=[t for t in _PATCH_TYPES if "strategic" not in t],
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
        if not rt.verbs:
            continue  # subresources of other servers (KubeVirt's console) are not documented
        body = kind if sub_gvk == gvk else schemas.builtin_kind(*sub_gvk)
        if not body:
            continue
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


def _generated_group_versions(registry: Registry) -> list[tuple[str, str]]:
    """Group versions of added resources (not built in) with a kind of their own."""
    builtin = _builtin_hashes()
    return [
        (g, v)
        for g, versions in registry.groups()
        for v in versions
        if _gv_path(g, v) not in builtin and any(rt.verbs for rt in registry.in_group(g, v))
    ]


def _generate_v3(registry: Registry, group: str, version: str) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, Any] = {}
    rts = registry.in_group(group, version)
    for rt in rts:
        paths.update(_resource_paths(rt, schemas))
    document: dict[str, Any] = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": _INFO_VERSION},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas.finish(),
            "securitySchemes": {
                "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}
            },
        },
        "security": [{"BearerToken": []}],
    }
    if any(_documented(rt, False) for rt in rts):  # a CRD's: apiextensions' title, no security
        document["info"] = {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"}
        del document["security"], document["components"]["securitySchemes"]
    return document


@lru_cache(maxsize=64)
def _generated_v3(
    registry: Registry, revision: int, group: str, version: str
) -> tuple[bytes, str] | None:
    if (group, version) not in _generated_group_versions(registry):
        return None
    body = json.dumps(_generate_v3(registry, group, version), separators=(",", ":")).encode()
    return body, hashlib.sha512(body).hexdigest().upper()


def _v3_encoded(path: str, registry: Registry) -> tuple[bytes, str] | None:
    """The bytes and hash of the v3 document at ``path`` (``api/v1``, ``apis/<g>/<v>``...)."""
    digest = _builtin_hashes().get(path)
    if digest is not None:
        return _builtin_v3(path), digest
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "apis" and parts[1]:
        return _generated_v3(registry, registry.revision, parts[1], parts[2])
    return None


def v3_document(
    group: str, version: str, registry: Registry = resources.DEFAULT
) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group version, or None when it has none."""
    encoded = _v3_encoded(_gv_path(group, version), registry)
    return None if encoded is None else json.loads(encoded[0])  # type: ignore[no-any-return]


def v3_index(registry: Registry = resources.DEFAULT) -> dict[str, Any]:
    """``GET /openapi/v3``: each document's URL, with a content hash."""
    entries = dict(_builtin_hashes())
    for group, version in _generated_group_versions(registry):
        encoded = _generated_v3(registry, registry.revision, group, version)
        if encoded is not None:
            entries[_gv_path(group, version)] = encoded[1]
    return {
        "paths": {
            path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
            for path, digest in sorted(entries.items())
        }
    }


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
            if r.get("content")
            else {"description": "Unauthorized"}
        )
        for code, r in op["responses"].items()
    }
    out["schemes"] = ["https"]
    return out


def _generated_v2(registry: Registry) -> tuple[dict[str, Any], dict[str, Any]]:
    """Swagger paths and definitions of the generated group versions."""
    paths: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    builtin_names = set(_builtin_v2_definition_names())
    for group, version in _generated_group_versions(registry):
        document = _generate_v3(registry, group, version)
        for name, schema in document["components"]["schemas"].items():
            if name not in builtin_names:
                definitions[name] = _to_v2(schema)
        for path, item in document["paths"].items():
            paths[path] = {
                method: (
                    [
                        {"in": p["in"], "name": p["name"], "type": "string", "uniqueItems": True}
                        | ({"required": True} if p.get("required") else {})
                        for p in value
                    ]
                    if method == "parameters"
                    else _to_v2(_v2_operation(value))
                )
                for method, value in item.items()
            }
        for rt in registry.in_group(group, version):
            if rt.verbs and (documented := _documented(rt, v2=True)):
                definitions[_custom_name(rt, rt.kind)] = documented[0]
                definitions[_custom_name(rt, rt.list_kind)] = documented[1]
                paths.update(documented_paths[1] if (documented_paths := _paths_of(rt)) else {})
    return paths, definitions


@lru_cache(maxsize=1)
def _builtin_v2_definition_names() -> frozenset[str]:
    return frozenset(data.load("openapi/v2-definitions.json"))


def _splice(body: bytes, key: bytes, entries: dict[str, Any]) -> bytes:
    """Insert ``entries`` at the start of the top-level object ``key`` of a compact JSON."""
    if not entries:
        return body
    marker = b'"' + key + b'":{'
    at = body.index(marker) + len(marker)
    inserted = json.dumps(entries, separators=(",", ":"), ensure_ascii=False).encode()[1:-1]
    return body[:at] + inserted + b"," + body[at:]


@lru_cache(maxsize=4)
def _v2_encoded(registry: Registry, revision: int) -> tuple[bytes, str, bytes]:
    """``/openapi/v2`` as JSON, its ETag, and as protobuf (built-ins plus generated)."""
    body = data.read("openapi/v2.json")
    paths, definitions = _generated_v2(registry)
    body = _splice(_splice(body, b"paths", paths), b"definitions", definitions)
    protobuf = data.read("openapi/v2.pb")
    if definitions:
        named = bytearray()
        for name, schema in definitions.items():
            _pb_bytes(named, 1, _pb_named(name, _pb_schema(schema)))
        protobuf = _pb_with_definitions(protobuf, bytes(named))
    return body, '"' + hashlib.sha512(body).hexdigest().upper() + '"', protobuf


def v2_document(registry: Registry = resources.DEFAULT) -> dict[str, Any]:
    """``GET /openapi/v2`` as swagger 2.0: every group version's paths and definitions."""
    return json.loads(_v2_encoded(registry, registry.revision)[0])  # type: ignore[no-any-return]


def v2_protobuf(registry: Registry = resources.DEFAULT) -> bytes:
    """``GET /openapi/v2`` in the protobuf form kubectl asks for (definitions only)."""
    return _v2_encoded(registry, registry.revision)[2]


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


def _pb_read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _pb_with_definitions(document: bytes, extra: bytes) -> bytes:
    """``document`` (all fields length-delimited) with NamedSchema entries ``extra`` added to
    its one ``definitions`` field (9)."""
    out, definitions, pos = bytearray(), bytearray(), 0
    while pos < len(document):
        tag, start = _pb_read_varint(document, pos)
        size, start = _pb_read_varint(document, start)
        stop = start + size
        if tag >> 3 == 9:
            definitions += document[start:stop]
        else:
            out += document[pos:stop]
        pos = stop
    _pb_bytes(out, 9, bytes(definitions) + extra)
    return bytes(out)


def swagger_protobuf(swagger: dict[str, Any]) -> bytes:
    """A swagger 2.0 document in gnostic's protobuf form (definitions only, as kubectl reads)."""
    out = bytearray()
    _pb_bytes(out, 1, b"2.0")
    info = bytearray()
    _pb_bytes(info, 1, str(swagger["info"]["title"]).encode())
    _pb_bytes(info, 2, str(swagger["info"]["version"]).encode())
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
    """kube-openapi's 404 for a document it does not serve: no body, not a Status."""
    return web.Response(status=404, headers={"Cache-Control": "no-cache, private"})


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
    registry = registry_of(request.app)
    body, etag, protobuf = _v2_encoded(registry, registry.revision)
    if choice == "json":
        return _json(body, etag, request, "no-cache, private")
    # Go's mime parser refuses the "@" of the requested name; kube answers with this one.
    content_type = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    headers = {"Content-Type": content_type, "ETag": etag, "Vary": "Accept"}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=protobuf, headers=headers)


async def handle_v3_index(request: web.Request) -> web.StreamResponse:
    """``GET /openapi/v3`` (``/openapi/v3/`` names no document: 404)."""
    if request.path.endswith("/"):
        return _not_found()
    if not _json_acceptable(request.headers.get("Accept")):
        return status_response(not_acceptable(["application/json"]))
    body = json.dumps(v3_index(registry_of(request.app)), separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(body).hexdigest() + '"'
    response = _json(body, etag, request, "no-cache, private")
    # kube-openapi sets no type for the index: Go's net/http sniffs the JSON as text.
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    return response


async def handle_v3_document(request: web.Request) -> web.StreamResponse:
    """``GET /openapi/v3/api/v1``, ``/openapi/v3/apis/<group>/<version>``."""
    path = request.match_info["path"].strip("/")
    encoded = _v3_encoded(path, registry_of(request.app))
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
