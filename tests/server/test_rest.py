"""The REST layer through real HTTP: the official client and raw requests with exact bodies."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import kubernetes.client as k
import pytest
from aiohttp import web

from cimp_apiserver.app import build_app
from cimp_apiserver.handlers import RestSettings
from cimp_apiserver.hooks import Admission
from cimp_apiserver.status import StatusError
from cimp_apiserver.storage import MemoryStore

from ._harness import ADMIN, ServerThread, admin_filter, api_client, serve


class Server:
    def __init__(self, srv: ServerThread, store: MemoryStore) -> None:
        self.srv = srv
        self.store = store
        self.url = srv.url
        self.client = api_client(srv.url)
        self.core = k.CoreV1Api(self.client)

    def http(
        self,
        method: str,
        path: str,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, http.client.HTTPMessage, Any]:
        if isinstance(body, dict | list):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection(urlsplit(self.url).netloc, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        try:
            parsed: Any = json.loads(data)
        except ValueError:
            parsed = data
        return resp.status, resp.headers, parsed


def seed(store: MemoryStore, *names: str) -> None:
    for name in names:
        store.create(
            "",
            "namespaces",
            {
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": {"name": name},
                "status": {"phase": "Active"},
            },
        )


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
    }


async def sar(request: web.Request, ctx: Any, body: dict[str, Any]) -> dict[str, Any]:
    body["status"] = {"allowed": True, "reason": f"as {ctx.user.user}"}
    return body


async def broken(request: web.Request, ctx: Any, body: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("secret internal detail")


async def token(
    request: web.Request, ctx: Any, namespace: str, name: str, body: dict[str, Any]
) -> dict[str, Any]:
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "status": {"token": f"{namespace}/{name}", "expirationTimestamp": "2030-01-01T00:00:00Z"},
    }


async def no_forbidden_labels(review: Admission) -> None:
    if review.obj and (review.obj.get("metadata") or {}).get("labels", {}).get("deny"):
        raise StatusError(403, "Forbidden", "denied by admission")


@pytest.fixture
def server() -> Iterator[Server]:
    store = MemoryStore(history=200)
    seed(store, "default", "ns1")
    app = build_app(
        store,
        filters=[admin_filter],
        reviews={
            ("authorization.k8s.io", "selfsubjectaccessreviews"): sar,
            ("authentication.k8s.io", "tokenreviews"): broken,
        },
        subresources={("", "serviceaccounts", "token"): token},
        admission=[no_forbidden_labels],
        settings=RestSettings(bookmark_interval=0.2),
    )
    with serve(app) as srv:
        yield Server(srv, store)


def status_of(err: k.ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(err.body)
    return body


# --------------------------------------------------------------------------- CRUD


def test_crud_through_the_official_client(server: Server) -> None:
    api = server.core
    created = api.create_namespaced_pod("ns1", pod("p1", app="web"))
    assert created.kind == "Pod" and created.api_version == "v1"
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.namespace == "ns1"
    assert created.status.phase == "Pending"
    assert created.spec.restart_policy == "Always"
    got = api.read_namespaced_pod("p1", "ns1")
    assert got.metadata.uid == created.metadata.uid
    got.metadata.labels["tier"] = "1"
    updated = api.replace_namespaced_pod("p1", "ns1", got)
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)
    assert updated.metadata.labels == {"app": "web", "tier": "1"}
    listed = api.list_namespaced_pod("ns1")
    assert [p.metadata.name for p in listed.items] == ["p1"]
    assert listed.metadata.resource_version == updated.metadata.resource_version
    deleted = api.delete_namespaced_pod("p1", "ns1")
    assert deleted.metadata.name == "p1"
    with pytest.raises(k.ApiException) as err:
        api.read_namespaced_pod("p1", "ns1")
    assert err.value.status == 404
    assert status_of(err.value)["message"] == 'pods "p1" not found'


def test_list_items_carry_no_kind_and_cluster_wide_list(server: Server) -> None:
    server.core.create_namespaced_pod("ns1", pod("a"))
    server.core.create_namespaced_pod("default", pod("b"))
    code, _, body = server.http("GET", "/api/v1/pods")
    assert code == 200 and body["kind"] == "PodList" and body["apiVersion"] == "v1"
    # As kube encodes a built-in list: the list says the kind, its items do not.
    assert [("kind" in i, "apiVersion" in i, i["metadata"]["name"]) for i in body["items"]] == [
        (False, False, "b"),
        (False, False, "a"),
    ]


def test_conflict_on_stale_resource_version(server: Server) -> None:
    api = server.core
    first = api.create_namespaced_config_map("ns1", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    first.data = {"a": "2"}
    api.replace_namespaced_config_map("c", "ns1", first)
    first.data = {"a": "3"}
    with pytest.raises(k.ApiException) as err:
        api.replace_namespaced_config_map("c", "ns1", first)
    assert err.value.status == 409
    body = status_of(err.value)
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "c": the object has been modified; please '
        "apply your changes to the latest version and try again"
    )


def test_already_exists_and_generate_name(server: Server) -> None:
    api = server.core
    api.create_namespaced_config_map("ns1", {"metadata": {"name": "c"}})
    with pytest.raises(k.ApiException) as err:
        api.create_namespaced_config_map("ns1", {"metadata": {"name": "c"}})
    assert err.value.status == 409 and status_of(err.value)["reason"] == "AlreadyExists"
    generated = api.create_namespaced_config_map("ns1", {"metadata": {"generateName": "gen-"}})
    assert generated.metadata.name.startswith("gen-") and len(generated.metadata.name) == 9


def test_namespace_rules(server: Server) -> None:
    code, _, body = server.http("POST", "/api/v1/namespaces/missing/pods", pod("p"))
    assert code == 404 and body["message"] == 'namespaces "missing" not found'
    other = pod("p")
    other["metadata"]["namespace"] = "default"
    code, _, body = server.http("POST", "/api/v1/namespaces/ns1/pods", other)
    assert code == 400
    assert body["message"] == (
        "the namespace of the provided object does not match the namespace sent on the request"
    )
    ns = server.core.create_namespace({"metadata": {"name": "fresh"}})
    assert ns.status.phase == "Active"
    assert ns.metadata.labels == {"kubernetes.io/metadata.name": "fresh"}
    assert ns.spec.finalizers == ["kubernetes"]
    code, _, body = server.http("POST", "/api/v1/namespaces", {"metadata": {"name": "a.b"}})
    assert code == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert "RFC 1123 label" in body["message"]


def test_put_name_must_match(server: Server) -> None:
    server.core.create_namespaced_config_map("ns1", {"metadata": {"name": "c"}})
    code, _, body = server.http(
        "PUT", "/api/v1/namespaces/ns1/configmaps/c", {"metadata": {"name": "d"}}
    )
    assert code == 400
    assert body["message"] == "the name of the object (d) does not match the name on the URL (c)"


def test_validation_errors_are_422_with_causes(server: Server) -> None:
    bad = {
        "metadata": {"name": "Bad_Name", "labels": {"ok": "bad value!"}},
        "spec": {"containers": [{"name": "c"}]},
    }
    code, _, body = server.http("POST", "/api/v1/namespaces/ns1/pods", bad)
    assert code == 422 and body["reason"] == "Invalid" and body["details"]["kind"] == "Pod"
    fields = [c["field"] for c in body["details"]["causes"]]
    assert fields == ["metadata.name", "metadata.labels", "spec.containers[0].image"]
    assert body["message"].startswith('Pod "Bad_Name" is invalid: [metadata.name: Invalid value:')
    code, _, body = server.http(
        "POST", "/api/v1/namespaces/ns1/configmaps", {"metadata": {}, "data": {}}
    )
    assert code == 422
    assert "metadata.name: Required value: name or generateName is required" in body["message"]


def test_rbac_names_allow_colons(server: Server) -> None:
    rbac = k.RbacAuthorizationV1Api(server.client)
    role = rbac.create_cluster_role(
        {
            "metadata": {"name": "system:demo"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        }
    )
    assert role.metadata.name == "system:demo"
    code, _, body = server.http(
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {
            "metadata": {"name": "b"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "x"},
        },
    )
    assert code == 422 and "roleRef.kind: Unsupported value" in body["message"]


def test_type_meta_mismatch_is_400(server: Server) -> None:
    wrong_version = {"apiVersion": "apps/v1", "kind": "Pod", "metadata": {"name": "x"}}
    code, _, body = server.http("POST", "/api/v1/namespaces/ns1/pods", wrong_version)
    assert code == 400
    assert body["message"] == (
        "the API version in the data (apps/v1) does not match the expected API version (v1)"
    )
    wrong_kind = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    code, _, body = server.http("POST", "/api/v1/namespaces/ns1/pods", wrong_kind)
    assert code == 400 and "ConfigMap" in body["message"]
    wrong_type = {"metadata": {"name": 5}}
    code, _, body = server.http("POST", "/api/v1/namespaces/ns1/configmaps", wrong_type)
    assert code == 400
    assert body["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal '
        "number into Go struct field ObjectMeta.metadata.name of type string"
    )


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"{", "unexpected end of JSON input"),
        (b"[1, 2]", "cannot unmarshal array"),
        (b'"text"', "cannot unmarshal string"),
        (b"null", "Object 'Kind' is missing"),
        (b'{"metadata": {"name": NaN}}', "invalid character 'N'"),
        (b"[" * 50_000 + b"]" * 50_000, "max depth"),
        (b'{"a": ' + b"9" * 10_000 + b"}", "json parse error"),
        (b'{"a": 1e99999}', "out of range"),
        (b'{"metadata": {"name": "\xff\xfe"}}', "Invalid value"),
        (b"", "Object 'Kind' is missing"),
    ],
)
def test_hostile_json_is_a_client_error(server: Server, payload: bytes, fragment: str) -> None:
    code, headers, body = server.http(
        "POST",
        "/api/v1/namespaces/ns1/configmaps",
        payload,
        {"Content-Type": "application/json"},
    )
    assert code in (400, 422), body
    assert headers["Content-Type"] == "application/json"
    assert body["kind"] == "Status" and fragment in body["message"]
    assert "Traceback" not in json.dumps(body)


def test_body_limit_is_413(server: Server) -> None:
    big = {"metadata": {"name": "big"}, "data": {"a": "x" * (3 * 1024 * 1024)}}
    code, _, body = server.http("POST", "/api/v1/namespaces/ns1/configmaps", big)
    assert code == 413 and body["reason"] == "RequestEntityTooLarge"
    # Still serving.
    assert server.http("GET", "/api/v1/namespaces/ns1/configmaps")[0] == 200


def test_missing_content_type_is_json_and_yaml_accepted(server: Server) -> None:
    code, _, body = server.http(
        "POST", "/api/v1/namespaces/ns1/configmaps", b'{"metadata": {"name": "plain"}}'
    )
    assert code == 201 and body["metadata"]["name"] == "plain"
    yaml_body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  when: 2024-01-01\n"
    code, _, body = server.http(
        "POST",
        "/api/v1/namespaces/ns1/configmaps",
        yaml_body,
        {"Content-Type": "application/yaml"},
    )
    assert code == 201 and body["data"] == {"when": "2024-01-01"}
    code, _, body = server.http(
        "POST",
        "/api/v1/namespaces/ns1/configmaps",
        b"metadata: {name: aliased}\ndata: {a: &x v, b: *x}\n",
        {"Content-Type": "application/yaml"},
    )
    assert code == 201 and body["data"] == {"a": "v", "b": "v"}
    code, _, body = server.http(
        "POST", "/api/v1/namespaces/ns1/configmaps", b"x", {"Content-Type": "text/plain"}
    )
    assert code == 415 and body["reason"] == "UnsupportedMediaType"


def test_protobuf_bodies_and_accept(server: Server) -> None:
    from cimp_apiserver import protobuf

    data = protobuf.encode({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pb"}})
    code, _, body = server.http(
        "POST",
        "/api/v1/namespaces",
        data,
        {
            "Content-Type": "application/vnd.kubernetes.protobuf",
            "Accept": "application/vnd.kubernetes.protobuf,application/json",
        },
    )
    assert code == 201 and body["metadata"]["name"] == "pb"
    code, _, body = server.http(
        "GET", "/api/v1/namespaces/pb", headers={"Accept": "application/vnd.kubernetes.protobuf"}
    )
    assert code == 406 and body["reason"] == "NotAcceptable"


def test_field_validation(server: Server) -> None:
    body = {
        "metadata": {"name": "f", "bogus": 1},
        "spec": {"containers": [{"name": "c", "image": "i", "extra": 1}], "foo": 2},
    }
    path = "/api/v1/namespaces/ns1/pods"
    code, _, status = server.http("POST", path + "?fieldValidation=Strict", body)
    assert code == 400
    assert status["message"] == (
        'strict decoding error: unknown field "metadata.bogus", unknown field '
        '"spec.containers[0].extra", unknown field "spec.foo"'
    )
    code, headers, created = server.http("POST", path, body)
    assert code == 201
    assert headers.get_all("Warning") == [
        '299 - "unknown field \\"metadata.bogus\\""',
        '299 - "unknown field \\"spec.containers[0].extra\\""',
        '299 - "unknown field \\"spec.foo\\""',
    ]
    assert "foo" not in created["spec"] and "bogus" not in created["metadata"]
    code, headers, _ = server.http("PUT", path + "/f?fieldValidation=Ignore", {**created, "zzz": 1})
    assert code == 200 and headers.get_all("Warning") is None
    code, _, _ = server.http("POST", path + "?fieldValidation=Loose", body)
    assert code == 422  # kube: CreateOptions.meta.k8s.io "" is invalid: fieldValidation: ...


def test_dry_run_stores_nothing(server: Server) -> None:
    api = server.core
    rv = server.store.revision()
    made = api.create_namespaced_config_map("ns1", {"metadata": {"name": "d"}}, dry_run="All")
    assert made.metadata.uid and server.store.get("", "configmaps", "ns1", "d") is None
    api.create_namespaced_config_map("ns1", {"metadata": {"name": "d"}, "data": {"a": "1"}})
    rv = server.store.revision()
    api.patch_namespaced_config_map("d", "ns1", {"data": {"a": "2"}}, dry_run="All")
    api.delete_namespaced_config_map("d", "ns1", dry_run="All")
    assert server.store.revision() == rv
    assert server.store.get("", "configmaps", "ns1", "d").obj["data"] == {"a": "1"}
    code, _, _ = server.http("DELETE", "/api/v1/namespaces/ns1/configmaps/d?dryRun=Yes")
    assert code == 400


def test_delete_preconditions_and_status_body(server: Server) -> None:
    api = server.core
    cm = api.create_namespaced_config_map("ns1", {"metadata": {"name": "d"}})
    with pytest.raises(k.ApiException) as err:
        api.delete_namespaced_config_map("d", "ns1", body={"preconditions": {"uid": "not-it"}})
    assert err.value.status == 409
    assert status_of(err.value)["message"].startswith(
        'Operation cannot be fulfilled on ConfigMap "d": the UID in the precondition (not-it) '
        "does not match the UID in record"
    )
    code, _, body = server.http(
        "DELETE",
        "/api/v1/namespaces/ns1/configmaps/d",
        {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": cm.metadata.uid}},
    )
    assert code == 200
    assert body["kind"] == "Status" and body["status"] == "Success"
    assert body["details"] == {"name": "d", "kind": "configmaps", "uid": cm.metadata.uid}
    code, _, body = server.http(
        "DELETE", "/api/v1/namespaces/ns1/configmaps/x?propagationPolicy=Sometimes"
    )
    assert code == 422 and "propagationPolicy: Unsupported value" in body["message"]


def test_deletecollection_with_selector(server: Server) -> None:
    api = server.core
    for name, tier in [("a", "x"), ("b", "y"), ("c", "x")]:
        api.create_namespaced_config_map(
            "ns1", {"metadata": {"name": name, "labels": {"tier": tier}}}
        )
    code, _, body = server.http(
        "DELETE", "/api/v1/namespaces/ns1/configmaps?labelSelector=tier%3Dx"
    )
    assert code == 200 and body["kind"] == "ConfigMapList"
    assert sorted(i["metadata"]["name"] for i in body["items"]) == ["a", "c"]
    assert [c.metadata.name for c in api.list_namespaced_config_map("ns1").items] == ["b"]


def test_namespace_deletion_cascades(server: Server) -> None:
    api = server.core
    api.create_namespace({"metadata": {"name": "gone"}})
    api.create_namespaced_pod("gone", pod("p"))
    api.create_namespaced_config_map("gone", {"metadata": {"name": "c"}})
    code, _, body = server.http("DELETE", "/api/v1/namespaces/gone")
    assert code == 200 and body["kind"] == "Namespace"
    assert body["status"]["phase"] == "Terminating" and body["metadata"]["deletionTimestamp"]
    assert server.store.list("", "pods", "gone")[0] == []
    assert server.store.get("", "namespaces", "", "gone") is None


def test_finalizers_hold_objects_and_terminating_namespace(server: Server) -> None:
    api = server.core
    api.create_namespace({"metadata": {"name": "held"}})
    api.create_namespaced_config_map(
        "held", {"metadata": {"name": "c", "finalizers": ["example.com/hold"]}}
    )
    marked = api.delete_namespaced_config_map("c", "held")
    assert marked is not None
    still = api.read_namespaced_config_map("c", "held")
    assert still.metadata.deletion_timestamp is not None
    server.http("DELETE", "/api/v1/namespaces/held")
    assert api.read_namespace("held").status.phase == "Terminating"
    code, _, body = server.http(
        "POST", "/api/v1/namespaces/held/configmaps", {"metadata": {"name": "n"}}
    )
    assert code == 403
    assert body["message"] == (
        'configmaps "n" is forbidden: unable to create new content in namespace held because '
        "it is being terminated"
    )
    api.patch_namespaced_config_map("c", "held", {"metadata": {"finalizers": None}})
    with pytest.raises(k.ApiException):
        api.read_namespaced_config_map("c", "held")
    with pytest.raises(k.ApiException) as err:
        api.read_namespace("held")
    assert err.value.status == 404


def test_owner_references_cascade(server: Server) -> None:
    apps = k.AppsV1Api(server.client)
    ds = apps.create_namespaced_daemon_set(
        "ns1",
        {
            "metadata": {"name": "ds"},
            "spec": {
                "selector": {"matchLabels": {"app": "ds"}},
                "template": {
                    "metadata": {"labels": {"app": "ds"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                },
            },
        },
    )
    assert ds.metadata.generation == 1
    assert ds.spec.update_strategy.type == "RollingUpdate"
    child = pod("child")
    child["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "uid": ds.metadata.uid}
    ]
    server.core.create_namespaced_pod("ns1", child)
    orphan = pod("orphan")
    orphan["metadata"]["ownerReferences"] = child["metadata"]["ownerReferences"]
    server.core.create_namespaced_pod("ns1", orphan)
    apps.delete_namespaced_daemon_set("ds", "ns1")
    assert server.store.get("", "pods", "ns1", "child") is None
    assert server.store.get("", "pods", "ns1", "orphan") is None


def test_daemonset_validation_and_generation(server: Server) -> None:
    apps = k.AppsV1Api(server.client)
    code, _, body = server.http(
        "POST",
        "/apis/apps/v1/namespaces/ns1/daemonsets",
        {
            "metadata": {"name": "ds"},
            "spec": {
                "selector": {"matchLabels": {"app": "a"}},
                "template": {
                    "metadata": {"labels": {"app": "b"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                },
            },
        },
    )
    assert code == 422 and "`selector` does not match template `labels`" in body["message"]
    good = {
        "metadata": {"name": "ds"},
        "spec": {
            "selector": {"matchLabels": {"app": "a"}},
            "template": {
                "metadata": {"labels": {"app": "a"}},
                "spec": {"containers": [{"name": "c", "image": "i:1"}]},
            },
        },
    }
    apps.create_namespaced_daemon_set("ns1", good)
    patched = apps.patch_namespaced_daemon_set(
        "ds",
        "ns1",
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i:2"}]}}}},
    )
    assert patched.metadata.generation == 2
    relabelled = apps.patch_namespaced_daemon_set("ds", "ns1", {"metadata": {"labels": {"x": "y"}}})
    assert relabelled.metadata.generation == 2
    status = apps.patch_namespaced_daemon_set_status("ds", "ns1", {"status": {"numberReady": 3}})
    assert status.status.number_ready == 3 and status.metadata.generation == 2


def test_pod_status_subresource_and_spec_immutability(server: Server) -> None:
    api = server.core
    api.create_namespaced_pod("ns1", pod("p"))
    changed = api.patch_namespaced_pod_status(
        "p", "ns1", {"status": {"phase": "Running", "podIP": "10.0.0.1"}, "spec": {"nodeName": "x"}}
    )
    assert changed.status.phase == "Running" and changed.spec.node_name is None
    ignored = api.patch_namespaced_pod("p", "ns1", {"status": {"phase": "Failed"}})
    assert ignored.status.phase == "Running"
    image = api.patch_namespaced_pod(
        "p", "ns1", {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}
    )
    assert image.spec.containers[0].image == "busybox:2"
    with pytest.raises(k.ApiException) as err:
        api.patch_namespaced_pod("p", "ns1", {"spec": {"restartPolicy": "Never"}})
    assert err.value.status == 422
    assert "pod updates may not change fields other than" in status_of(err.value)["message"]
    read = api.read_namespaced_pod_status("p", "ns1")
    assert read.status.pod_ip == "10.0.0.1"


def test_binding_and_eviction(server: Server) -> None:
    api = server.core
    api.create_namespaced_pod("ns1", pod("p"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"kind": "Node", "name": "n1"},
    }
    code, _, body = server.http("POST", "/api/v1/namespaces/ns1/pods/p/binding", binding)
    assert code == 201 and body["status"] == "Success"
    assert api.read_namespaced_pod("p", "ns1").spec.node_name == "n1"
    code, _, body = server.http("POST", "/api/v1/namespaces/ns1/pods/p/binding", binding)
    assert code == 409
    assert body["message"] == (
        'Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node "n1"'
    )
    listed = api.list_pod_for_all_namespaces(field_selector="spec.nodeName=n1")
    assert [p.metadata.name for p in listed.items] == ["p"]
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "p", "namespace": "ns1"},
    }
    code, _, body = server.http("POST", "/api/v1/namespaces/ns1/pods/p/eviction", eviction)
    assert code == 201 and body["status"] == "Success"
    # Bound to a node: deleted gracefully, it stays terminating until its kubelet confirms.
    evicted = server.store.get("", "pods", "ns1", "p")
    assert evicted is not None and evicted.obj["metadata"]["deletionGracePeriodSeconds"] == 30
    assert [c["type"] for c in evicted.obj["status"]["conditions"]][-1] == "DisruptionTarget"


def test_selectors(server: Server) -> None:
    api = server.core
    api.create_namespaced_pod("ns1", pod("a", app="x", env="prod"))
    api.create_namespaced_pod("ns1", pod("b", app="y"))
    api.create_namespaced_pod("default", pod("c", app="x"))
    names = lambda items: sorted(i.metadata.name for i in items)  # noqa: E731
    assert names(api.list_pod_for_all_namespaces(label_selector="app in (x),env").items) == ["a"]
    assert names(api.list_pod_for_all_namespaces(label_selector="app!=x").items) == ["b"]
    assert names(
        api.list_pod_for_all_namespaces(field_selector="metadata.namespace=ns1").items
    ) == ["a", "b"]
    assert names(api.list_namespaced_pod("ns1", field_selector="metadata.name=b").items) == ["b"]
    assert names(
        api.list_pod_for_all_namespaces(
            field_selector="status.phase=Pending,metadata.name!=a"
        ).items
    ) == ["b", "c"]
    code, _, body = server.http("GET", "/api/v1/pods?fieldSelector=spec.bogus%3D1")
    assert code == 400 and body["message"] == "field label not supported: spec.bogus"
    code, _, body = server.http("GET", "/api/v1/pods?labelSelector=a%3D%3D%3D")
    assert code == 400 and body["reason"] == "BadRequest"


def test_pagination_is_a_consistent_snapshot(server: Server) -> None:
    api = server.core
    for i in range(7):
        api.create_namespaced_config_map("ns1", {"metadata": {"name": f"c{i}"}})
    first = api.list_namespaced_config_map("ns1", limit=3)
    assert [c.metadata.name for c in first.items] == ["c0", "c1", "c2"]
    assert first.metadata.remaining_item_count == 4
    token = first.metadata._continue
    api.create_namespaced_config_map("ns1", {"metadata": {"name": "c9"}})
    api.delete_namespaced_config_map("c4", "ns1")
    second = api.list_namespaced_config_map("ns1", limit=3, _continue=token)
    assert [c.metadata.name for c in second.items] == ["c3", "c4", "c5"]
    assert second.metadata.resource_version == first.metadata.resource_version
    third = api.list_namespaced_config_map("ns1", limit=3, _continue=second.metadata._continue)
    assert [c.metadata.name for c in third.items] == ["c6"]
    assert third.metadata._continue is None
    code, _, _ = server.http("GET", "/api/v1/namespaces/ns1/configmaps?continue=garbage")
    assert code == 400
    code, _, _ = server.http(
        "GET", f"/api/v1/namespaces/ns1/configmaps?continue={token}&resourceVersion=1"
    )
    assert code == 422


def test_expired_continue_and_exact_list_are_410() -> None:
    store = MemoryStore(history=8)
    seed(store, "ns1")
    with serve(build_app(store, filters=[admin_filter])) as srv:
        s = Server(srv, store)
        for i in range(4):
            s.core.create_namespaced_config_map("ns1", {"metadata": {"name": f"c{i}"}})
        first = s.core.list_namespaced_config_map("ns1", limit=2)
        exact = s.http(
            "GET",
            f"/api/v1/namespaces/ns1/configmaps?resourceVersion={first.metadata.resource_version}"
            "&resourceVersionMatch=Exact",
        )
        assert exact[0] == 200 and len(exact[2]["items"]) == 4
        for i in range(20):
            s.core.create_namespaced_config_map("ns1", {"metadata": {"name": f"d{i}"}})
        with pytest.raises(k.ApiException) as err:
            s.core.list_namespaced_config_map("ns1", limit=2, _continue=first.metadata._continue)
        assert err.value.status == 410 and status_of(err.value)["reason"] == "Expired"
        code, _, body = s.http(
            "GET",
            f"/api/v1/namespaces/ns1/configmaps?resourceVersion={first.metadata.resource_version}"
            "&resourceVersionMatch=Exact",
        )
        assert code == 410 and body["message"].startswith("too old resource version: ")
        code, _, body = s.http("GET", "/api/v1/namespaces/ns1/configmaps?resourceVersion=99999")
        assert code == 504 and body["reason"] == "Timeout"
        code, _, body = s.http(
            "GET", "/api/v1/namespaces/ns1/configmaps?resourceVersionMatch=Exact"
        )
        assert code == 422


def test_unknown_paths_and_methods(server: Server) -> None:
    for path in ("/api/v1/foos", "/apis/apps/v2/daemonsets", "/api/v1/pods/x"):
        code, _, body = server.http("GET", path)
        assert code == 404, path
        assert body["message"] == "the server could not find the requested resource"
    # Outside the APIs: Go's plain-text NotFound, as kube-apiserver answers.
    for path in ("/nope", "/apis/nope/v1/pods"):
        code, _, body = server.http("GET", path)
        assert (code, body) == (404, b"404 page not found\n"), path
    code, _, body = server.http("PUT", "/api/v1/namespaces/ns1/pods")
    assert code == 405 and body["reason"] == "MethodNotAllowed"
    code, _, _ = server.http("POST", "/api/v1/pods", pod("x"))
    assert code == 405
    code, _, _ = server.http("DELETE", "/api/v1/namespaces")
    assert code == 405


def test_table_and_partial_metadata(server: Server) -> None:
    server.core.create_namespaced_pod("ns1", pod("p"))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    code, _, body = server.http("GET", "/api/v1/namespaces/ns1/pods", headers={"Accept": accept})
    assert code == 200 and body["kind"] == "Table"
    assert [c["name"] for c in body["columnDefinitions"]][:5] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert body["rows"][0]["cells"][:4] == ["p", "0/1", "Pending", "0"]
    assert body["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    code, _, body = server.http(
        "GET",
        "/api/v1/namespaces/ns1/pods/p",
        headers={"Accept": "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"},
    )
    assert body["kind"] == "PartialObjectMetadata" and body["metadata"]["name"] == "p"


def test_review_subresource_and_admission_hooks(server: Server) -> None:
    authz = k.AuthorizationV1Api(server.client)
    review = authz.create_self_subject_access_review(
        {"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}}
    )
    assert review.status.allowed and review.status.reason == f"as {ADMIN.user}"
    code, _, body = server.http(
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        {"apiVersion": "v1", "kind": "SelfSubjectAccessReview"},
    )
    assert code == 400
    server.core.create_namespaced_service_account("ns1", {"metadata": {"name": "sa"}})
    code, _, body = server.http(
        "POST", "/api/v1/namespaces/ns1/serviceaccounts/sa/token", {"spec": {}}
    )
    assert code == 201 and body["status"]["token"] == "ns1/sa"
    code, _, body = server.http(
        "POST",
        "/api/v1/namespaces/ns1/configmaps",
        {"metadata": {"name": "x", "labels": {"deny": "1"}}},
    )
    assert code == 403 and body["message"] == "denied by admission"


def test_unexpected_errors_are_a_500_status_without_details(server: Server) -> None:
    code, _, body = server.http(
        "POST", "/apis/authentication.k8s.io/v1/tokenreviews", {"spec": {"token": "t"}}
    )
    assert code == 500 and body["kind"] == "Status" and body["reason"] == "InternalError"
    assert "secret internal detail" not in json.dumps(body)
    assert server.http("GET", "/api/v1/namespaces")[0] == 200


def test_chunked_body_over_the_limit_is_413(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"metadata": {"name": "big"}, "data": {"a": "'
        for _ in range(4):
            yield b"x" * (1024 * 1024)
        yield b'"}}'

    conn = http.client.HTTPConnection(urlsplit(server.url).netloc, timeout=10)
    conn.request(
        "POST",
        "/api/v1/namespaces/ns1/configmaps",
        body=chunks(),
        headers={"Content-Type": "application/json"},
        encode_chunked=True,
    )
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    assert resp.status == 413 and body["reason"] == "RequestEntityTooLarge"


def test_namespaced_review_needs_a_namespace(server: Server) -> None:
    code, _, _ = server.http(
        "POST", "/apis/authorization.k8s.io/v1/localsubjectaccessreviews", {"spec": {}}
    )
    assert code == 405


def test_orphan_and_foreground_propagation(server: Server) -> None:
    api = server.core
    for policy, child_survives in (("Orphan", True), ("Foreground", False)):
        owner = api.create_namespaced_config_map("ns1", {"metadata": {"name": "owner"}})
        ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
        api.create_namespaced_config_map(
            "ns1", {"metadata": {"name": "child", "ownerReferences": [ref]}}
        )
        code, _, _ = server.http(
            "DELETE",
            "/api/v1/namespaces/ns1/configmaps/owner",
            {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy},
        )
        assert code == 200
        child = server.store.get("", "configmaps", "ns1", "child")
        assert (child is not None) == child_survives, policy
        if child is not None:
            assert "ownerReferences" not in child.obj["metadata"]
            api.delete_namespaced_config_map("child", "ns1")


def test_protobuf_only_accept_on_writes_is_406(server: Server) -> None:
    code, _, body = server.http(
        "POST",
        "/api/v1/namespaces/ns1/configmaps",
        {"metadata": {"name": "pb-only"}},
        {"Accept": "application/vnd.kubernetes.protobuf"},
    )
    assert code == 406 and body["reason"] == "NotAcceptable"
    assert server.store.get("", "configmaps", "ns1", "pb-only") is None


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 200_000,  # libyaml's composer would overflow the C stack
        b"- " * 500_000,
        b'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
        + b"".join(
            b"%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n" % ((98 + i,) * 2 + (97 + i,) * 9)
            for i in range(9)
        ),
        b"metadata: !!python/object/apply:os.system ['true']",
    ],
)
def test_hostile_yaml_is_a_400_and_the_server_lives(server: Server, payload: bytes) -> None:
    code, _, body = server.http(
        "POST",
        "/api/v1/namespaces/ns1/configmaps",
        payload,
        {"Content-Type": "application/yaml"},
    )
    assert code == 400 and body["message"].startswith("error converting YAML to JSON")
    assert server.http("GET", "/api/v1/namespaces/ns1/configmaps")[0] == 200


def test_large_yaml_body_is_decoded_off_the_event_loop(server: Server) -> None:
    import yaml

    doc = {"metadata": {"name": "big-yaml"}, "data": {f"k{i}": "v" * 20 for i in range(15_000)}}
    code, _, body = server.http(
        "POST",
        "/api/v1/namespaces/ns1/configmaps",
        yaml.safe_dump(doc),
        {"Content-Type": "application/yaml"},
    )
    assert code == 201 and len(body["data"]) == 15_000
