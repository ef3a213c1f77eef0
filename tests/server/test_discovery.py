"""Discovery documents and /version, as kubectl and client-go read them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict

from cimp_apiserver import discovery, resources

V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
KUBECTL_ACCEPT = f"{V2},{V2BETA1},application/json"


class Reply:
    def __init__(self, status: int, headers: CIMultiDict[str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def get(path: str, **headers: str) -> Reply:
    async def run() -> Reply:
        app = web.Application()
        discovery.add_routes(app.router)
        async with TestClient(TestServer(app)) as client:
            resp = await client.get(path, headers=headers)
            return Reply(resp.status, CIMultiDict(resp.headers), await resp.read())

    return asyncio.run(run())


# --- legacy -----------------------------------------------------------------------------------


def test_api_versions() -> None:
    reply = get("/api", Accept="application/json, */*")
    assert reply.status == 200
    doc = reply.json()
    assert doc["kind"] == "APIVersions"
    assert doc["versions"] == ["v1"]
    assert doc["serverAddressByClientCIDRs"][0]["clientCIDR"] == "0.0.0.0/0"
    assert reply.headers["Content-Type"] == "application/json"


def test_api_group_list_has_every_named_group_with_a_preferred_version() -> None:
    doc = get("/apis").json()
    assert doc["kind"] == "APIGroupList"
    names = [g["name"] for g in doc["groups"]]
    assert names == [g for g, _ in resources.groups() if g]
    rbac = next(g for g in doc["groups"] if g["name"] == "rbac.authorization.k8s.io")
    assert rbac["preferredVersion"] == {
        "groupVersion": "rbac.authorization.k8s.io/v1",
        "version": "v1",
    }


def test_api_group() -> None:
    doc = get("/apis/apps").json()
    assert doc == {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    }


def _by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in doc["resources"]}


def test_core_resource_list() -> None:
    doc = get("/api/v1").json()
    assert doc["kind"] == "APIResourceList"
    assert doc["groupVersion"] == "v1"
    listed = _by_name(doc)
    pods = listed["pods"]
    assert pods["namespaced"] is True
    assert pods["kind"] == "Pod"
    assert pods["singularName"] == "pod"
    assert pods["shortNames"] == ["po"]
    assert pods["categories"] == ["all"]
    assert set(pods["verbs"]) == set(resources.STORED_VERBS)
    assert pods["storageVersionHash"]
    assert listed["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert listed["pods/status"]["kind"] == "Pod"
    assert listed["pods/binding"] == {
        "name": "pods/binding",
        "singularName": "",
        "namespaced": True,
        "kind": "Binding",
        "verbs": ["create"],
    }
    assert listed["pods/eviction"]["group"] == "policy"
    assert listed["pods/eviction"]["kind"] == "Eviction"
    token = listed["serviceaccounts/token"]
    assert (token["group"], token["version"], token["kind"]) == (
        "authentication.k8s.io",
        "v1",
        "TokenRequest",
    )
    assert listed["namespaces"]["namespaced"] is False
    assert "deletecollection" not in listed["namespaces"]["verbs"]
    assert listed["namespaces/finalize"]["verbs"] == ["update"]


def test_review_resources_are_create_only() -> None:
    doc = get("/apis/authorization.k8s.io/v1").json()
    listed = _by_name(doc)
    for name in (
        "subjectaccessreviews",
        "selfsubjectaccessreviews",
        "localsubjectaccessreviews",
        "selfsubjectrulesreviews",
    ):
        assert listed[name]["verbs"] == ["create"]
        assert "storageVersionHash" not in listed[name]
    assert listed["localsubjectaccessreviews"]["namespaced"] is True


@pytest.mark.parametrize(
    "path", ["/apis/nope", "/apis/nope/v1", "/apis/apps/v2", "/apis/apps/v1beta1"]
)
def test_unknown_groups_and_versions_are_404(path: str) -> None:
    reply = get(path)
    assert reply.status == 404
    assert reply.json()["reason"] == "NotFound"


def test_every_table_resource_is_discoverable() -> None:
    for rt in resources.TABLE:
        doc = get(f"/apis/{rt.group}/{rt.version}" if rt.group else "/api/v1")
        listed = _by_name(doc.json())
        if rt.verbs:
            assert listed[rt.resource]["kind"] == rt.kind
        for sub in rt.subresources:
            assert f"{rt.resource}/{sub}" in listed


# --- aggregated ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("accept", "version"), [(KUBECTL_ACCEPT, "v2"), (V2BETA1, "v2beta1")])
def test_aggregated_discovery_is_chosen_by_accept(accept: str, version: str) -> None:
    for path, core in (("/api", True), ("/apis", False)):
        reply = get(path, Accept=accept)
        assert reply.status == 200
        assert reply.headers["Content-Type"] == (
            f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
        )
        doc = reply.json()
        assert doc["kind"] == "APIGroupDiscoveryList"
        assert doc["apiVersion"] == f"apidiscovery.k8s.io/{version}"
        names = [item["metadata"].get("name", "") for item in doc["items"]]
        assert names == ([""] if core else [g for g, _ in resources.groups() if g])


def test_q_values_are_honoured() -> None:
    reply = get("/apis", Accept=f"{V2};q=0.5,application/json;q=0.9")
    assert reply.json()["kind"] == "APIGroupList"
    reply = get("/apis", Accept=f"application/json;q=0.5,{V2}")
    assert reply.json()["kind"] == "APIGroupDiscoveryList"


def _kind(ref: dict[str, str], group: str, version: str) -> dict[str, str]:
    """A responseKind with kube's empty group/version filled in with the resource's."""
    if not ref["group"] and not ref["version"]:
        return {**ref, "group": group, "version": version}
    return ref


def _split(aggregated: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """client-go's SplitGroupsAndResources: aggregated entries as legacy resource lists."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for group in aggregated["items"]:
        name = group["metadata"].get("name", "")  # kube names no core group
        for version in group["versions"]:
            gv = f"{name}/{version['version']}" if name else version["version"]
            listed = out.setdefault(gv, {})
            for res in version["resources"]:
                kind = res.get("responseKind")
                parent = {
                    "name": res["resource"],
                    "namespaced": res["scope"] == "Namespaced",
                    "verbs": res["verbs"],
                    "shortNames": res.get("shortNames"),
                    "categories": res.get("categories"),
                }
                if kind:
                    listed[res["resource"]] = {**parent, **_kind(kind, name, version["version"])}
                for sub in res.get("subresources", []):
                    full = f"{res['resource']}/{sub['subresource']}"
                    listed[full] = {
                        "name": full,
                        "namespaced": parent["namespaced"],
                        "verbs": sub["verbs"],
                        "shortNames": None,
                        "categories": None,
                        **_kind(sub["responseKind"], name, version["version"]),
                    }
    return out


def test_aggregated_and_legacy_documents_agree() -> None:
    split = _split(get("/api", Accept=V2).json()) | _split(get("/apis", Accept=V2).json())
    for group, versions in resources.groups():
        for version in versions:
            gv = f"{group}/{version}" if group else version
            legacy = get(f"/apis/{gv}" if group else "/api/v1").json()
            expected = {}
            for r in legacy["resources"]:
                expected[r["name"]] = {
                    "name": r["name"],
                    "namespaced": r["namespaced"],
                    "verbs": r["verbs"],
                    "shortNames": r.get("shortNames"),
                    "categories": r.get("categories"),
                    "group": r.get("group", group),
                    "version": r.get("version", version),
                    "kind": r["kind"],
                }
            assert split[gv] == expected, gv


def test_aggregated_resource_shape() -> None:
    (core,) = get("/api", Accept=V2).json()["items"]
    (v1,) = core["versions"]
    assert v1["freshness"] == "Current"
    pods = next(r for r in v1["resources"] if r["resource"] == "pods")
    # kube leaves a responseKind's group and version empty when they are the resource's own
    assert pods["responseKind"] == {"group": "", "version": "", "kind": "Pod"}
    assert pods["scope"] == "Namespaced"
    assert pods["singularResource"] == "pod"
    subs = {s["subresource"]: s for s in pods["subresources"]}
    assert subs["eviction"]["responseKind"] == {
        "group": "policy",
        "version": "v1",
        "kind": "Eviction",
    }
    # KubeVirt's groups (a CRD, an aggregated API) on both backends: tests/deputy/test_kubevirt.py


# --- negotiation and caching ------------------------------------------------------------------


def test_unacceptable_media_types_are_406() -> None:
    for path in ("/api", "/apis", "/api/v1", "/apis/apps/v1"):
        reply = get(path, Accept="application/vnd.kubernetes.protobuf")
        assert reply.status == 406, path
        assert reply.json()["reason"] == "NotAcceptable"


def test_plain_json_and_wildcards_get_the_legacy_document() -> None:
    for accept in ("application/json", "*/*", "application/*", "text/html, */*;q=0.1"):
        assert get("/apis", Accept=accept).json()["kind"] == "APIGroupList"


def test_etag_and_if_none_match() -> None:
    first = get("/apis", Accept=V2)
    etag = first.headers["ETag"]
    again = get("/apis", Accept=V2, **{"If-None-Match": etag})
    assert again.status == 304
    assert get("/apis", **{"If-None-Match": etag}).status == 200  # other representation


def test_version() -> None:
    info = get("/version").json()
    assert info["major"] == "1"
    assert info["minor"] == "37"
    assert info["gitVersion"] == "v1.37.2"  # the pinned reference release, not a made-up one
    for key in (
        "gitCommit",
        "gitTreeState",
        "buildDate",
        "goVersion",
        "compiler",
        "platform",
    ):
        assert info[key]


def test_negotiate() -> None:
    assert discovery.negotiate(None, aggregated=True) == "legacy"
    assert discovery.negotiate(KUBECTL_ACCEPT, aggregated=True) == "v2"
    assert discovery.negotiate(KUBECTL_ACCEPT, aggregated=False) == "legacy"
    assert discovery.negotiate("application/json;as=Table;g=meta.k8s.io;v=v1, */*", True) == (
        "legacy"
    )
