"""The patch flavours: pure functions first, then through the server with the official client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import kubernetes.client as k
import pytest

from cimp_apiserver.app import build_app
from cimp_apiserver.crd.install import install as install_crds
from cimp_apiserver.patch import (
    PatchError,
    apply_json_patch,
    merge_patch,
    strategic_merge_patch,
)
from cimp_apiserver.storage import MemoryStore

from .._backends import KUBEVIRT_CRD
from ._harness import admin_filter, api_client, serve

POD: dict[str, Any] = {
    "metadata": {"name": "p", "labels": {"a": "1", "b": "2"}, "finalizers": ["x"]},
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "app:1",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 80}],
            },
            {"name": "side", "image": "side:1"},
        ],
        "tolerations": [{"key": "t1"}],
    },
}


# --------------------------------------------------------------------------- functions


def test_merge_patch_rfc7386() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {
        "a": {"c": 2, "d": 3}
    }
    assert merge_patch({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}
    assert merge_patch({"a": 1}, ["x"]) == ["x"]


def test_json_patch_operations() -> None:
    doc = {"a": {"b": [1, 2]}, "c~d": 1}
    ops = [
        {"op": "add", "path": "/a/b/-", "value": 3},
        {"op": "replace", "path": "/a/b/0", "value": 0},
        {"op": "remove", "path": "/c~0d"},
        {"op": "copy", "from": "/a/b", "path": "/copy"},
        {"op": "move", "from": "/copy", "path": "/moved"},
        {"op": "test", "path": "/moved/2", "value": 3},
    ]
    assert apply_json_patch(doc, ops) == {"a": {"b": [0, 2, 3]}, "moved": [0, 2, 3]}
    assert doc == {"a": {"b": [1, 2]}, "c~d": 1}
    with pytest.raises(PatchError) as err:
        apply_json_patch(doc, [{"op": "test", "path": "/a/b/0", "value": 9}])
    assert err.value.code == 422 and "rejected our request" in err.value.message
    with pytest.raises(PatchError) as err:
        apply_json_patch(doc, [{"op": "replace", "path": "/missing", "value": 1}])
    assert err.value.code == 422
    with pytest.raises(PatchError) as err:
        apply_json_patch(doc, {"op": "add"})
    assert err.value.code == 400
    with pytest.raises(PatchError) as err:
        apply_json_patch(doc, [{"op": "jump", "path": "/a"}])
    assert err.value.code == 422  # kube: an unknown op fails in Apply, the generic 422


def test_strategic_merge_by_keys_and_directives() -> None:
    patch = {
        "metadata": {"labels": {"a": None, "c": "3"}, "finalizers": ["y"]},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "app:2",
                    "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}],
                },
                {"name": "side", "$patch": "delete"},
                {"name": "new", "image": "new:1"},
            ],
            "tolerations": [{"key": "t2"}],
        },
    }
    out = strategic_merge_patch(POD, patch)
    assert out["metadata"]["labels"] == {"b": "2", "c": "3"}
    # kube's mergeSortedSlice: an element the server lacked goes before the server's own
    assert out["metadata"]["finalizers"] == ["y", "x"]
    containers = out["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app", "new"]
    assert containers[0]["image"] == "app:2"
    assert containers[0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "two"},
        {"name": "C", "value": "3"},
    ]
    assert containers[0]["ports"] == [{"containerPort": 80}]
    assert out["spec"]["tolerations"] == [{"key": "t2"}]  # no merge key: replaced
    assert POD["spec"]["containers"][1]["name"] == "side"  # the original is untouched


def test_strategic_replace_delete_and_primitive_directives() -> None:
    out = strategic_merge_patch(
        POD,
        {
            "metadata": {
                "labels": {"$patch": "replace", "only": "me"},
                "$deleteFromPrimitiveList/finalizers": ["x"],
            },
            "spec": {"containers": [{"$patch": "replace"}, {"name": "solo", "image": "s"}]},
        },
    )
    assert out["metadata"]["labels"] == {"only": "me"}
    assert out["metadata"]["finalizers"] == []
    assert out["spec"]["containers"] == [{"name": "solo", "image": "s"}]
    out = strategic_merge_patch(POD, {"spec": {"$patch": "delete"}})
    assert "spec" not in out
    ordered = strategic_merge_patch(
        POD, {"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "app"}]}}
    )
    assert [c["name"] for c in ordered["spec"]["containers"]] == ["side", "app"]
    retained = strategic_merge_patch(POD, {"metadata": {"$retainKeys": ["name"], "name": "p"}})
    assert retained["metadata"] == {"name": "p"}
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(POD, {"spec": {"containers": [{"image": "no-name"}]}})
    assert err.value.code == 400
    with pytest.raises(PatchError):
        strategic_merge_patch(POD, ["not", "a", "map"])


# --------------------------------------------------------------------------- through HTTP


@pytest.fixture
def api() -> Iterator[tuple[k.ApiClient, MemoryStore]]:
    store = MemoryStore()
    store.create(
        "", "namespaces", {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "ns1"}}
    )
    with serve(build_app(store, filters=[admin_filter])) as srv:
        yield api_client(srv.url), store


def test_client_patch_types(api: tuple[k.ApiClient, MemoryStore]) -> None:
    client, _ = api
    core = k.CoreV1Api(client)
    apps = k.AppsV1Api(client)
    template = {
        "metadata": {"labels": {"app": "d"}},
        "spec": {
            "containers": [{"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]}]
        },
    }
    apps.create_namespaced_daemon_set(
        "ns1",
        {
            "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": template},
        },
    )
    # dict body: the client sends a strategic merge patch
    smp = apps.patch_namespaced_daemon_set(
        "d",
        "ns1",
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}
                }
            }
        },
    )
    container = smp.spec.template.spec.containers[0]
    # a new element goes before the server's remaining ones, as kube-apiserver merges
    assert [e.name for e in container.env] == ["B", "A"] and container.image == "app:1"
    created = core.create_namespaced_pod(
        "ns1",
        {
            "metadata": {"name": "p", "labels": {"a": "1"}},
            "spec": {"containers": [{"name": "app", "image": "app:1"}]},
        },
    )
    # list body: a JSON patch
    jp = core.patch_namespaced_pod(
        "p", "ns1", [{"op": "add", "path": "/metadata/labels/b", "value": "2"}]
    )
    assert jp.metadata.labels == {"a": "1", "b": "2"}
    with pytest.raises(k.ApiException) as err:
        core.patch_namespaced_pod(
            "p", "ns1", [{"op": "test", "path": "/metadata/labels/a", "value": "9"}]
        )
    assert err.value.status == 422
    mp = core.patch_namespaced_pod(
        "p",
        "ns1",
        {"metadata": {"labels": {"a": None}}},
        _content_type="application/merge-patch+json",
    )
    assert mp.metadata.labels == {"b": "2"}
    with pytest.raises(k.ApiException) as err:
        core.patch_namespaced_pod(
            "p",
            "ns1",
            {
                "metadata": {
                    "resourceVersion": created.metadata.resource_version,
                    "labels": {"z": "1"},
                }
            },
        )
    assert err.value.status == 409
    with pytest.raises(k.ApiException) as err:
        core.patch_namespaced_pod("missing", "ns1", {"metadata": {"labels": {"z": "1"}}})
    assert err.value.status == 404


def test_patch_errors_are_kube_statuses(api: tuple[k.ApiClient, MemoryStore]) -> None:
    client, _ = api
    core = k.CoreV1Api(client)
    core.create_namespaced_config_map("ns1", {"metadata": {"name": "c"}})

    def raw(
        body: bytes, content_type: str, path: str = "/api/v1/namespaces/ns1/configmaps/c"
    ) -> tuple[int, Any]:
        resp = client.rest_client.pool_manager.request(
            "PATCH",
            client.configuration.host + path,
            body=body,
            headers={"Content-Type": content_type},
        )
        return resp.status, json.loads(resp.data)

    code, body = raw(b"{", "application/merge-patch+json")
    assert code == 400 and body["kind"] == "Status"
    code, body = raw(b"{}", "application/json")
    assert code == 415 and body["reason"] == "UnsupportedMediaType"
    code, body = raw(b'{"op": "add"}', "application/json-patch+json")
    assert code == 400
    code, body = raw(b'{"metadata": {"name": "other"}}', "application/merge-patch+json")
    assert code == 400 and "does not match the name on the URL" in body["message"]
    code, body = raw(b'{"kind": "Secret"}', "application/merge-patch+json")
    assert code == 400
    code, body = raw(b'{"data": {"k": 1}}', "application/strategic-merge-patch+json")
    assert code == 400 and "cannot unmarshal number" in body["message"]
    code, body = raw(b'{"spec": {"foo": 1}}', "application/merge-patch+json")
    assert code == 200


def test_custom_resources_take_merge_not_strategic() -> None:
    store = MemoryStore()
    store.create(
        "", "namespaces", {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "ns1"}}
    )
    app = build_app(store, filters=[admin_filter])
    install_crds(app, store)  # VMIs come from KubeVirt's CRD
    with serve(app) as srv:
        client = api_client(srv.url)
        k.ApiextensionsV1Api(client).create_custom_resource_definition(KUBEVIRT_CRD)
        _custom_resources_take_merge_not_strategic(client)


def _custom_resources_take_merge_not_strategic(client: k.ApiClient) -> None:
    custom = k.CustomObjectsApi(client)
    custom.create_namespaced_custom_object(
        "kubevirt.io",
        "v1",
        "ns1",
        "virtualmachineinstances",
        {
            "apiVersion": "kubevirt.io/v1",
            "kind": "VirtualMachineInstance",
            "metadata": {"name": "vm"},
            "spec": {"a": [1], "b": 1},
        },
    )
    patched = custom.patch_namespaced_custom_object(
        "kubevirt.io", "v1", "ns1", "virtualmachineinstances", "vm", {"spec": {"a": [2]}}
    )
    assert patched["spec"] == {"a": [2], "b": 1}
    assert patched["metadata"]["generation"] == 2
    resp = client.rest_client.pool_manager.request(
        "PATCH",
        client.configuration.host
        + "/apis/kubevirt.io/v1/namespaces/ns1/virtualmachineinstances/vm",
        body=b"{}",
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert resp.status == 415


def test_server_side_apply_creates_then_merges(api: tuple[k.ApiClient, MemoryStore]) -> None:
    client, store = api
    core = k.CoreV1Api(client)
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "applied", "namespace": "ns1"},
        "data": {"a": "1"},
    }
    with pytest.raises(k.ApiException) as err:
        core.patch_namespaced_config_map(
            "applied", "ns1", manifest, _content_type="application/apply-patch+yaml"
        )
    assert (
        err.value.status == 422
        and "fieldManager: Required value" in json.loads(err.value.body)["message"]
    )
    first = core.patch_namespaced_config_map(
        "applied",
        "ns1",
        manifest,
        field_manager="test",
        _content_type="application/apply-patch+yaml",
    )
    assert first.data == {"a": "1"}
    manifest["data"] = {"b": "2"}
    second = core.patch_namespaced_config_map(
        "applied",
        "ns1",
        manifest,
        field_manager="test",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    # The same manager stopped applying "a": kube removes it (nobody else owns it).
    assert second.data == {"b": "2"}
    assert store.get("", "configmaps", "ns1", "applied") is not None


def test_hostile_patches_stay_cheap() -> None:
    import time

    bomb = [{"op": "copy", "from": "", "path": "/x"}] + [
        {"op": "copy", "from": "/x", "path": f"/x{i}"} for i in range(60)
    ]
    with pytest.raises(PatchError) as err:
        apply_json_patch({"a": "y" * 100_000}, bomb)
    assert err.value.code == 422 and not err.value.causes  # kube keeps no text of Apply's
    many = [{"name": f"c{i}", "image": "i"} for i in range(50_000)]
    start = time.monotonic()
    out = strategic_merge_patch(
        {"spec": {"containers": many}},
        {
            "spec": {
                "containers": [{"name": f"c{i}", "image": "j"} for i in range(0, 50_000, 2)],
                "$setElementOrder/containers": [{"name": f"c{i}"} for i in reversed(range(50_000))],
            },
            "metadata": {"$deleteFromPrimitiveList/finalizers": [str(i) for i in range(50_000)]},
        },
    )
    assert time.monotonic() - start < 5
    assert out["spec"]["containers"][0] == {"name": "c49999", "image": "i"}
    assert out["spec"]["containers"][1] == {"name": "c49998", "image": "j"}
