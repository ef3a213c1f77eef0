"""The kube `apiserver` fixture shares one kube-apiserver per worker: a reset must read as fresh.

Each test drives the worker's shared server the way two consecutive tests would (acquire,
write, acquire again) and checks that nothing of the first reaches the second: objects,
users, RBAC grants, Node authorizer edges, audit events, edits to bootstrap objects, CRDs and
their objects. What a reset cannot undo reliably (an admission webhook) must get the next test
a fresh server instead.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .._backends import KUBEVIRT_CRD


@pytest.fixture
def shared(apiserver_class: Any, apiserver_backend: str, request: pytest.FixtureRequest) -> Any:
    if apiserver_backend != "kube":
        pytest.skip("the embedded server is started afresh for every test; nothing is shared")
    return request.getfixturevalue("_cimp_shared_kube")


def _allowed(server: Any, user: str, groups: list[str], attrs: dict[str, str]) -> bool:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": groups, "resourceAttributes": attrs},
    }
    status, body = server.request(
        "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review
    )
    assert status == 201, body
    return bool(body["status"].get("allowed"))


_NODE_GETS_SECRET = {"verb": "get", "resource": "secrets", "namespace": "leak", "name": "s"}


def test_nothing_a_test_wrote_reaches_the_next_one(shared: Any) -> None:
    first = shared.acquire()
    alice = first.add_user("alice")
    first.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "leak"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "leak"}},
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "leak"},
            "spec": {
                "nodeName": "n1",
                "containers": [{"name": "c", "image": "busybox"}],
                "volumes": [{"name": "v", "secret": {"secretName": "s"}}],
            },
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "alice-admin"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}
            ],
        },
    )
    rbac = client.RbacAuthorizationV1Api(first.api_client())
    view = rbac.read_cluster_role("view")
    view.metadata.labels = {**(view.metadata.labels or {}), "edited-by-test": "yes"}
    rbac.replace_cluster_role("view", view)
    rbac.delete_cluster_role_binding("system:discovery")
    node = ["system:nodes", "system:authenticated"]
    assert _allowed(first, "system:node:n1", node, _NODE_GETS_SECRET)
    assert client.CoreV1Api(first.api_client(alice)).list_namespace().items

    second = shared.acquire()
    leaked = [
        e
        for e in second.audit_events()
        if "leak" in str(e.get("objectRef", {}).get("namespace", ""))
        or e.get("user", {}).get("username") == "alice"
    ]
    assert leaked == []
    core = client.CoreV1Api(second.api_client())
    assert sorted(n.metadata.name for n in core.list_namespace().items) == [
        "default",
        "kube-node-lease",
        "kube-public",
        "kube-system",
    ]
    assert core.list_pod_for_all_namespaces().items == []
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(second.api_client(alice)).list_namespace()
    # Her binding is gone. (Her token itself may still authenticate for up to 10 s: kube-apiserver
    # caches a successful token authentication that long, as in any cluster; no later test
    # can know a token an earlier one was given.)
    assert err.value.status == 403
    assert not _allowed(second, "alice", [], {"verb": "list", "resource": "namespaces"})
    assert not _allowed(second, "system:node:n1", node, _NODE_GETS_SECRET)
    rbac = client.RbacAuthorizationV1Api(second.api_client())
    assert "edited-by-test" not in (rbac.read_cluster_role("view").metadata.labels or {})
    assert rbac.read_cluster_role_binding("system:discovery").subjects


def test_a_crd_and_its_objects_are_forgotten_without_a_new_server(shared: Any) -> None:
    first = shared.acquire()
    first.apply(KUBEVIRT_CRD)
    vmis = "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances"
    vmi = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance"}
    status, body = first.request("POST", vmis, {**vmi, "metadata": {"name": "old"}})
    assert status == 201, body
    url = first.url

    second = shared.acquire()
    assert second.url == url, shared.last_replaced  # the same kube-apiserver, reset
    name = KUBEVIRT_CRD["metadata"]["name"]
    crd_path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
    assert second.request("GET", crd_path)[0] == 404
    assert second.request("GET", "/apis/kubevirt.io/v1")[0] == 404
    assert (
        second.request("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1.kubevirt.io")[0]
        == 404
    )
    # The same CRD again, with a short name the first one did not have: names accepted,
    # served at once, and none of the first test's objects come back.
    again = copy.deepcopy(KUBEVIRT_CRD)
    again["spec"]["names"]["shortNames"] = ["vmi", "vmis", "cimpvmi"]
    second.apply(again)
    for _ in range(100):
        status, body = second.request("GET", crd_path)
        conditions = {c["type"]: c["status"] for c in body["status"].get("conditions") or ()}
        if conditions.get("Established") == "True":
            break
        time.sleep(0.05)
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert "cimpvmi" in body["status"]["acceptedNames"]["shortNames"]
    status, body = second.request("GET", vmis)
    assert status == 200, body
    assert body["items"] == []


def test_an_admission_webhook_gets_the_next_test_a_fresh_server(shared: Any) -> None:
    first = shared.acquire()
    first.apply(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "cimp-reuse"},
            "webhooks": [
                {
                    "name": "deny.cimp.example.com",
                    "clientConfig": {"url": "https://127.0.0.1:9/validate"},
                    "rules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["configmaps"],
                        }
                    ],
                    "namespaceSelector": {"matchLabels": {"never": "matches"}},
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                }
            ],
        }
    )
    url = first.url
    second = shared.acquire()
    assert second is not first and second.url != url
    path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/cimp-reuse"
    assert second.request("GET", path)[0] == 404


def test_a_server_a_test_stopped_is_replaced(shared: Any) -> None:
    first = shared.acquire()
    first.stop()
    second = shared.acquire()
    assert client.CoreV1Api(second.api_client()).read_namespace("default").metadata.name
