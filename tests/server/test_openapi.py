"""OpenAPI v2/v3 documents: what kubectl 1.33 checks in them, and that they are whole.

Built-in group versions are kube-apiserver v1.37.2's own documents (``data/``, captured by
``hack/gen-resources.py``, descriptions left out); custom resources get generated ones in the
same shape (tests/server/test_crd_*.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict

from cimp_apiserver import data, openapi, protobuf, resources

from .test_protobuf import OTHERS, POD

REF = "#/components/schemas/"


class Reply:
    def __init__(self, status: int, headers: CIMultiDict[str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def get(path: str, **headers: str) -> Reply:
    async def run() -> Reply:
        app = web.Application()
        openapi.add_routes(app.router)
        async with TestClient(TestServer(app)) as client:
            resp = await client.get(path, headers=headers, allow_redirects=False)
            return Reply(resp.status, CIMultiDict(resp.headers), await resp.read())

    return asyncio.run(run())


def _served_gvks() -> list[tuple[str, str, str]]:
    return [(rt.group, rt.version, rt.kind) for rt in resources.TABLE if "patch" in rt.verbs]


def _doc(group: str, version: str) -> dict[str, Any]:
    doc = openapi.v3_document(group, version)
    assert doc is not None
    return doc


def _doc_at(path: str) -> dict[str, Any]:
    reply = get(f"/openapi/v3/{path}")
    assert reply.status == 200, path
    return reply.json()  # type: ignore[no-any-return]


# --- the index and documents over HTTP -------------------------------------------------------


def test_index_lists_every_group_version_with_a_hash() -> None:
    index = get("/openapi/v3", Accept="application/json, */*").json()
    kubes = set(data.load("openapi/v3-index.json"))
    assert {"api/v1", "apis/apps/v1", "apis/batch/v1", "apis"} <= kubes
    assert set(index["paths"]) == kubes
    for path, entry in index["paths"].items():
        url = entry["serverRelativeURL"]
        assert url.startswith(f"/openapi/v3/{path}?hash=")
        reply = get(url, Accept="application/json")
        assert reply.status == 200
        assert reply.headers["Cache-Control"] == "public, immutable"
        assert reply.json()["openapi"] == "3.0.0"


def test_stale_hash_redirects_to_the_current_one() -> None:
    index = get("/openapi/v3").json()
    current = index["paths"]["api/v1"]["serverRelativeURL"]
    reply = get("/openapi/v3/api/v1?hash=0000")
    assert reply.status == 301
    assert reply.headers["Location"] == current


def test_unknown_documents_are_404() -> None:
    for path in (
        "/openapi/v3/api/v2",
        "/openapi/v3/apis/nope/v1",
        "/openapi/v3/apis/subresources.kubevirt.io/v1",
        "/openapi/v3/apis/kubevirt.io",
        "/openapi/v3/whatever",
    ):
        assert get(path).status == 404, path


def test_v3_protobuf_only_is_406() -> None:
    assert get("/openapi/v3/api/v1", Accept=openapi.V3_PROTOBUF).status == 406


def _pb_fields(buf: bytes) -> dict[int, list[bytes]]:
    """Length-delimited fields of a protobuf message, by number."""
    out: dict[int, list[bytes]] = {}
    for number, wire, start, stop in protobuf._fields(buf, 0, len(buf)):
        assert wire == 2
        out.setdefault(number, []).append(buf[start:stop])
    return out


def test_v2_protobuf_is_what_kubectl_asks_for() -> None:
    # kubectl asks for it, protobuf only, to validate `kind: List` files client-side.
    reply = get("/openapi/v2", Accept=openapi.V2_PROTOBUF)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == (
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    )
    document = _pb_fields(reply.body)
    assert document[1] == [b"2.0"]
    assert len(document[9]) == 1  # one definitions field: kube's and the generated ones
    named = [_pb_fields(entry) for entry in _pb_fields(document[9][0])[1]]
    definitions = {entry[1][0].decode(): _pb_fields(entry[2][0]) for entry in named}
    assert set(definitions) == set(openapi.v2_document()["definitions"])
    configmap = definitions["io.k8s.api.core.v1.ConfigMap"]
    extensions = {
        _pb_fields(e)[1][0].decode(): _pb_fields(_pb_fields(e)[2][0])[2][0] for e in configmap[31]
    }
    assert json.loads(extensions["x-kubernetes-group-version-kind"]) == [
        {"group": "", "kind": "ConfigMap", "version": "v1"}
    ]
    properties = [_pb_fields(p)[1][0] for p in _pb_fields(configmap[25][0])[1]]
    assert b"data" in properties
    assert b"binaryData" in properties
    assert get("/openapi/v2", Accept="application/yaml").status == 406


def test_v2_is_json_when_acceptable() -> None:
    reply = get("/openapi/v2", Accept="application/json")
    assert reply.status == 200
    swagger = reply.json()
    assert swagger["swagger"] == "2.0"
    assert "io.k8s.api.core.v1.Pod" in swagger["definitions"]
    for ref in _refs(swagger):
        section, _, name = ref.removeprefix("#/").partition("/")
        assert name in swagger[section], ref  # definitions, and kube's shared parameters
    containers = swagger["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["items"] == {"$ref": "#/definitions/io.k8s.api.core.v1.Container"}
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    quantity = swagger["definitions"]["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert quantity == {"type": "string"}


def test_etag_round_trip() -> None:
    first = get("/openapi/v3/apis/apps/v1")
    assert get("/openapi/v3/apis/apps/v1", **{"If-None-Match": first.headers["ETag"]}).status == (
        304
    )


# --- what kubectl checks ----------------------------------------------------------------------


def _supports_query_param(doc: dict[str, Any], gvk: tuple[str, str, str], param: str) -> bool:
    """cli-runtime's supportsQueryParamV3: a PATCH operation of the GVK takes ``param``."""
    group, version, kind = gvk
    for item in doc["paths"].values():
        op = item.get("patch")
        if not op:
            continue
        tag = op.get("x-kubernetes-group-version-kind", {})
        if tag != {"group": group, "version": version, "kind": kind}:
            continue
        return any(p["name"] == param and p["in"] == "query" for p in op.get("parameters", []))
    raise AssertionError(f"no PATCH path for {gvk}")


def _supports_strategic_merge(doc: dict[str, Any], gvk: tuple[str, str, str]) -> bool:
    """kubectl's gvkSupportsPatchOpenAPIV3."""
    group, version, kind = gvk
    for item in doc["paths"].values():
        op = item.get("patch")
        if op and op["x-kubernetes-group-version-kind"] == {
            "group": group,
            "version": version,
            "kind": kind,
        }:
            return "application/strategic-merge-patch+json" in op["requestBody"]["content"]
    return False


@pytest.mark.parametrize("gvk", _served_gvks(), ids=lambda g: f"{g[0] or 'core'}/{g[2]}")
def test_every_patchable_kind_takes_field_validation(gvk: tuple[str, str, str]) -> None:
    doc = _doc(gvk[0], gvk[1])
    assert _supports_query_param(doc, gvk, "fieldValidation")
    assert _supports_query_param(doc, gvk, "dryRun")
    builtin = not gvk[0].endswith("kubevirt.io")
    assert _supports_strategic_merge(doc, gvk) is builtin


def _tagged(doc: dict[str, Any], gvk: tuple[str, str, str]) -> list[str]:
    group, version, kind = gvk
    want = {"group": group, "version": version, "kind": kind}
    return [
        name
        for name, schema in doc["components"]["schemas"].items()
        if want in schema.get("x-kubernetes-group-version-kind", [])
    ]


def test_every_served_kind_has_exactly_one_tagged_schema() -> None:
    for rt in resources.TABLE:
        if not rt.verbs:
            continue
        doc = _doc(rt.group, rt.version)
        assert len(_tagged(doc, (rt.group, rt.version, rt.kind))) == 1, rt.kind
        if "list" in rt.verbs:
            assert len(_tagged(doc, (rt.group, rt.version, rt.list_kind))) == 1, rt.list_kind


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):  # not a schema property named $ref
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@pytest.mark.parametrize("path", sorted(openapi.v3_index()["paths"]))
def test_every_reference_resolves(path: str) -> None:
    doc = _doc_at(path)
    schemas = (doc.get("components") or {}).get("schemas") or {}
    for ref in _refs(doc):
        assert ref.startswith(REF)
        assert ref.removeprefix(REF) in schemas, ref
    ids = [
        op["operationId"]
        for item in doc["paths"].values()
        for method, op in item.items()
        if method != "parameters"
    ]
    assert len(ids) == len(set(ids))


def test_patch_metadata_kubectl_reads() -> None:
    schemas = _doc("", "v1")["components"]["schemas"]
    spec = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]
    assert spec["containers"]["x-kubernetes-patch-merge-key"] == "name"
    assert spec["containers"]["x-kubernetes-patch-strategy"] == "merge"
    assert spec["containers"]["items"] == {"$ref": REF + "io.k8s.api.core.v1.Container"}
    assert spec["volumes"]["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    assert spec["nodeSelector"]["x-kubernetes-map-type"] == "atomic"
    meta = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]
    assert meta["ownerReferences"]["x-kubernetes-patch-merge-key"] == "uid"
    assert meta["ownerReferences"]["x-kubernetes-list-map-keys"] == ["uid"]
    assert meta["finalizers"]["x-kubernetes-list-type"] == "set"
    container = schemas["io.k8s.api.core.v1.Container"]["properties"]
    assert container["ports"]["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    # Inline members are the parent's own properties.
    volume = schemas["io.k8s.api.core.v1.Volume"]["properties"]
    assert "configMap" in volume
    assert "volumeSource" not in volume
    assert schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"] == {
        "type": "string",
        "format": "date-time",
    }
    secret = schemas["io.k8s.api.core.v1.Secret"]["properties"]
    assert secret["data"]["additionalProperties"] == {"type": "string", "format": "byte"}


class _Lookup:
    """strategicpatch.PatchMetaFromOpenAPIV3, enough to walk a manifest."""

    def __init__(self, schemas: dict[str, Any], schema: dict[str, Any]) -> None:
        self.schemas, self.schema = schemas, schema

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("allOf"):
            schema = schema["allOf"][0]
        if "$ref" in schema:
            return self.schemas[schema["$ref"].removeprefix(REF)]  # type: ignore[no-any-return]
        return schema

    def field(self, key: str) -> tuple[_Lookup, dict[str, Any]]:
        properties = self.schema.get("properties")
        if not properties or key not in properties:
            raise AssertionError(f'unable to find api field "{key}"')
        sub = properties[key]
        return _Lookup(self.schemas, self._resolve(sub)), sub

    def items(self, key: str) -> tuple[_Lookup, dict[str, Any]]:
        _, sub = self.field(key)
        items = sub.get("items", {})
        return _Lookup(self.schemas, self._resolve(items)), sub


def _walk(lookup: _Lookup, obj: dict[str, Any], path: str = "") -> None:
    if lookup.schema.get("additionalProperties") is not None:
        return  # a map: keys are data
    for key, value in obj.items():
        where = f"{path}.{key}"
        if isinstance(value, list) and value and isinstance(value[0], dict):
            sub, schema = lookup.items(key)
            assert schema["type"] == "array", where
            for item in value:
                _walk(sub, item, where)
        elif isinstance(value, dict):
            sub, schema = lookup.field(key)
            if sub.schema.get("x-kubernetes-preserve-unknown-fields"):
                continue
            _walk(sub, value, where)
        else:
            lookup.field(key)


@pytest.mark.parametrize("obj", [POD, *OTHERS], ids=lambda o: o["kind"])
def test_kubectl_can_walk_every_field_of_real_objects(obj: dict[str, Any]) -> None:
    """Every key of an object resolves, so apply's three-way diff never falls back."""
    group, _, version = obj["apiVersion"].rpartition("/")
    if (group, version) in (("policy", "v1"),):
        doc = _doc("", "v1")  # Eviction is documented with the pods/eviction path
    else:
        doc = _doc(group, version)
    schemas = doc["components"]["schemas"]
    (name,) = _tagged(doc, (group, version, obj["kind"]))
    _walk(_Lookup(schemas, schemas[name]), obj)


def test_every_served_builtin_group_version_has_kubes_document() -> None:
    for group, versions in resources.groups():
        for version in versions:
            if group.endswith("kubevirt.io"):
                continue
            doc = _doc(group, version)
            assert doc["info"] == {"title": "Kubernetes", "version": "1.37"}
            for rt in resources.DEFAULT.in_group(group, version):
                if rt.verbs:
                    assert _tagged(doc, (group, version, rt.kind)), rt


def test_review_kinds_are_create_only_paths() -> None:
    doc = _doc("authorization.k8s.io", "v1")
    assert set(doc["paths"]) == {
        "/apis/authorization.k8s.io/v1/",  # the APIResourceList
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        "/apis/authorization.k8s.io/v1/namespaces/{namespace}/localsubjectaccessreviews",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
    }
    for path, item in doc["paths"].items():
        if not path.endswith("/"):
            assert set(item) == {"post", "parameters"}


def test_subresource_paths() -> None:
    paths = _doc("", "v1")["paths"]
    token = paths["/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"]["post"]
    assert token["x-kubernetes-group-version-kind"] == {
        "group": "authentication.k8s.io",
        "version": "v1",
        "kind": "TokenRequest",
    }
    status = paths["/api/v1/namespaces/{namespace}/pods/{name}/status"]
    assert set(status) == {"get", "put", "patch", "parameters"}
    assert "/api/v1/pods" in paths  # list across namespaces
    assert "post" in paths["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]
