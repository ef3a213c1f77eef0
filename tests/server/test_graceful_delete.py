"""Pod deletion and eviction as kube-apiserver 1.37.2 carries them out.

A pod bound to a node is deleted gracefully: DELETE (or an eviction) marks it with
``deletionTimestamp`` and ``deletionGracePeriodSeconds`` and it stays, terminating, until its
kubelet confirms with grace 0 (no kubelet runs here, on either backend). Until then the Node
authorizer still relates it to its node, TokenRequests bind to it and its tokens work. A pod
on no node, or a DELETE with ``gracePeriodSeconds=0`` (``kubectl delete --force
--grace-period=0``), goes at once. Preconditions and eviction errors are worded as kube's.

Run against both backends.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

NS = "default"
PODS = f"/api/v1/namespaces/{NS}/pods"
OTHER_UID = "00000000-0000-0000-0000-00000000000a"
TOKEN_VOLUME = {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}


def _pod(name: str, node: str | None = None, **spec: Any) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"serviceAccountName": "sa", "containers": [{"name": "c", "image": "x"}], **spec},
    }
    if node:
        pod["spec"]["nodeName"] = node
    return pod


def _eviction(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": NS},
        **extra,
    }


def _options(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "DeleteOptions", **fields}


@pytest.fixture
def server(apiserver: Any) -> Any:
    apiserver.apply(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa", "namespace": NS}},
        # What the kubelet mounts (a node asks only for audiences its pods mount).
        _pod("on-node", "n1", volumes=[TOKEN_VOLUME]),
        _pod("unscheduled"),
    )
    return apiserver


def _terminating(server: Any, name: str) -> dict[str, Any]:
    status, pod = server.request("GET", f"{PODS}/{name}")
    assert status == 200, pod
    assert pod["metadata"].get("deletionTimestamp"), pod["metadata"]
    return dict(pod["metadata"])


def _gone(server: Any, name: str) -> None:
    status, body = server.request("GET", f"{PODS}/{name}")
    assert status == 404, body
    assert body["message"] == f'pods "{name}" not found'


def test_a_pod_on_a_node_stays_terminating(server: Any) -> None:
    status, pod = server.request("DELETE", f"{PODS}/on-node")
    assert status == 200, pod
    assert pod["kind"] == "Pod"
    meta = pod["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 30  # the pod's terminationGracePeriodSeconds
    assert meta["generation"] == 2
    assert _terminating(server, "on-node")["deletionTimestamp"] == meta["deletionTimestamp"]
    status, listed = server.request("GET", PODS)
    assert "on-node" in [p["metadata"]["name"] for p in listed["items"]]


def test_a_second_delete_may_only_shorten_the_grace_period(server: Any) -> None:
    path = f"{PODS}/on-node"
    server.request("DELETE", path)
    status, pod = server.request("DELETE", path)  # pending: answered as it is
    assert (status, pod["metadata"]["deletionGracePeriodSeconds"]) == (200, 30)
    status, pod = server.request("DELETE", path, _options(gracePeriodSeconds=10))
    assert (status, pod["metadata"]["deletionGracePeriodSeconds"]) == (200, 10)
    status, pod = server.request("DELETE", path, _options(gracePeriodSeconds=40))
    assert (status, pod["metadata"]["deletionGracePeriodSeconds"]) == (200, 10)
    assert _terminating(server, "on-node")["deletionGracePeriodSeconds"] == 10
    status, pod = server.request("DELETE", path, _options(gracePeriodSeconds=0))
    assert (status, pod["metadata"]["deletionGracePeriodSeconds"]) == (200, 0)
    _gone(server, "on-node")


@pytest.mark.parametrize(
    ("name", "spec", "query"),
    [
        ("unscheduled", None, ""),  # on no node: nothing to wait for
        ("on-node", None, "?gracePeriodSeconds=0"),  # kubectl delete --force --grace-period=0
        ("quick", {"terminationGracePeriodSeconds": 0}, ""),
    ],
)
def test_grace_zero_removes_at_once(
    server: Any, name: str, spec: dict[str, Any] | None, query: str
) -> None:
    if spec is not None:
        server.apply(_pod(name, "n1", **spec))
    status, pod = server.request("DELETE", f"{PODS}/{name}{query}")
    assert status == 200, pod
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 0  # marked, then removed
    _gone(server, name)


def test_a_negative_grace_period_counts_as_one_second(server: Any) -> None:
    status, pod = server.request("DELETE", f"{PODS}/on-node?gracePeriodSeconds=-5")
    assert (status, pod["metadata"]["deletionGracePeriodSeconds"]) == (200, 1)


def test_a_dry_run_delete_answers_the_marked_pod_and_keeps_it(server: Any) -> None:
    status, pod = server.request("DELETE", f"{PODS}/on-node?dryRun=All")
    assert (status, pod["metadata"]["deletionGracePeriodSeconds"]) == (200, 30)
    status, kept = server.request("GET", f"{PODS}/on-node")
    assert "deletionTimestamp" not in kept["metadata"]


def test_a_bad_grace_period_is_a_bad_request(server: Any) -> None:
    status, body = server.request("DELETE", f"{PODS}/on-node?gracePeriodSeconds=abc")
    assert status == 400, body
    assert body["message"] == 'strconv.ParseInt: parsing "abc": invalid syntax'


def test_status_writes_keep_a_terminating_pod(server: Any) -> None:
    server.request("DELETE", f"{PODS}/on-node")
    status, pod = server.request(
        "PATCH",
        f"{PODS}/on-node/status",
        {"status": {"phase": "Succeeded"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert status == 200, pod
    assert _terminating(server, "on-node")["deletionGracePeriodSeconds"] == 30


def test_a_terminating_pod_cannot_be_bound(server: Any) -> None:
    server.apply(_pod("late"))
    # Unscheduled pods go at once, so mark this one through a finalizer.
    server.request(
        "PATCH",
        f"{PODS}/late",
        {"metadata": {"finalizers": ["example.com/hold"]}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    server.request("DELETE", f"{PODS}/late")
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "late"},
        "target": {"kind": "Node", "name": "n1"},
    }
    status, body = server.request("POST", f"{PODS}/late/binding", binding)
    assert status == 409, body
    assert body["message"] == (
        'Operation cannot be fulfilled on pods/binding "late": pod late is being deleted, '
        "cannot be assigned to a host"
    )
    server.request(
        "PATCH",
        f"{PODS}/late",
        {"metadata": {"finalizers": None}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    _gone(server, "late")


# --------------------------------------------------------------------------- eviction


def test_eviction_marks_a_pod_on_a_node(server: Any) -> None:
    for _ in range(2):  # evicting a terminating pod succeeds again
        status, body = server.request("POST", f"{PODS}/on-node/eviction", _eviction("on-node"))
        assert status == 201, body
        assert body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }
    assert _terminating(server, "on-node")["deletionGracePeriodSeconds"] == 30
    _, pod = server.request("GET", f"{PODS}/on-node")
    (condition,) = [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert condition["status"] == "True"
    assert condition["reason"] == "EvictionByEvictionAPI"
    assert condition["message"] == "Eviction API: evicting"


def test_eviction_removes_an_unscheduled_pod(server: Any) -> None:
    status, _ = server.request("POST", f"{PODS}/unscheduled/eviction", _eviction("unscheduled"))
    assert status == 201
    _gone(server, "unscheduled")


def test_eviction_errors(server: Any) -> None:
    node = server.add_user("system:node:n1", groups=["system:nodes"])
    status, body = server.request("POST", f"{PODS}/zz/eviction", _eviction("zz"))
    assert (status, body["message"], body["details"]) == (
        404,
        'pods "zz" not found',
        {"name": "zz", "kind": "pods"},
    )
    # NodeRestriction reads the pod from its informer: kube's lister says "pod".
    status, body = server.request("POST", f"{PODS}/zz/eviction", _eviction("zz"), token=node)
    assert (status, body["message"], body["details"]) == (
        404,
        'pod "zz" not found',
        {"name": "zz", "kind": "pod"},
    )
    # NamespaceLifecycle answers a create (an eviction, a TokenRequest) in a missing namespace.
    missing = {**_eviction("zz"), "metadata": {"name": "zz", "namespace": "nowhere"}}
    status, body = server.request("POST", "/api/v1/namespaces/nowhere/pods/zz/eviction", missing)
    assert (status, body["message"]) == (404, 'namespaces "nowhere" not found')
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    status, body = server.request(
        "POST", "/api/v1/namespaces/nowhere/serviceaccounts/sa/token", request
    )
    assert (status, body["message"]) == (404, 'namespaces "nowhere" not found')
    nameless = {"apiVersion": "policy/v1", "kind": "Eviction"}
    status, body = server.request("POST", f"{PODS}/on-node/eviction", nameless)
    assert (status, body["message"]) == (400, "name in URL does not match name in Eviction object")


# --------------------------------------------------------------------------- preconditions


def test_preconditions_name_the_kind(server: Any) -> None:
    server.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": NS}}
    )
    _, pod = server.request("GET", f"{PODS}/on-node")
    uid = pod["metadata"]["uid"]
    for path, body, kind in (
        (f"{PODS}/on-node", _options(preconditions={"uid": OTHER_UID}), "Pod"),
        (
            f"/api/v1/namespaces/{NS}/configmaps/cm",
            _options(preconditions={"uid": OTHER_UID}),
            "ConfigMap",
        ),
        (
            f"{PODS}/on-node/eviction",
            _eviction("on-node", deleteOptions={"preconditions": {"uid": OTHER_UID}}),
            "Pod",
        ),
    ):
        method = "POST" if path.endswith("eviction") else "DELETE"
        status, answer = server.request(method, path, body)
        assert status == 409, answer
        name = path.rsplit("/", 2)[-2] if method == "POST" else path.rsplit("/", 1)[-1]
        assert answer["message"].startswith(
            f'Operation cannot be fulfilled on {kind} "{name}": the UID in the precondition '
            f"({OTHER_UID}) does not match the UID in record ("
        ), answer
        assert answer["message"].endswith(
            "). The object might have been deleted and then recreated"
        )
        assert answer["details"] == {"name": name, "kind": kind}
    status, answer = server.request(
        "DELETE", f"{PODS}/on-node", _options(preconditions={"resourceVersion": "1"})
    )
    assert status == 409
    assert answer["message"].startswith(
        'Operation cannot be fulfilled on Pod "on-node": the ResourceVersion in the '
        "precondition (1) does not match the ResourceVersion in record ("
    )
    assert answer["message"].endswith("). The object might have been modified")
    status, _ = server.request("DELETE", f"{PODS}/on-node", _options(preconditions={"uid": uid}))
    assert status == 200


# --------------------------------------------------------------------------- consequences


def test_a_terminating_pod_is_still_its_nodes_pod(server: Any) -> None:
    node = server.add_user("system:node:n1", groups=["system:nodes"])
    spare = server.token_for(NS, "sa", pod="on-node")  # never used before the force delete
    used = server.token_for(NS, "sa", pod="on-node")
    server.request("DELETE", f"{PODS}/on-node")
    time.sleep(0.3)  # kube's authorizer graph and authenticator read informer caches
    # The Node authorizer relates it: the node reads it and its service account ...
    status, body = server.request("GET", f"{PODS}/on-node", token=node)
    assert status == 200, body
    status, body = server.request("GET", f"/api/v1/namespaces/{NS}/serviceaccounts/sa", token=node)
    assert status == 200, body
    # ... and gets tokens bound to it.
    _, pod = server.request("GET", f"{PODS}/on-node")
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {
            "boundObjectRef": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": "on-node",
                "uid": pod["metadata"]["uid"],
            }
        },
    }
    status, body = server.request(
        "POST", f"/api/v1/namespaces/{NS}/serviceaccounts/sa/token", request, token=node
    )
    assert status == 201, body
    # Its tokens work until a minute after its deletionTimestamp.
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    status, body = server.request(
        "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", review, token=used
    )
    assert status == 201, body
    # Once removed (grace 0), the pod's tokens stop working.
    server.request("DELETE", f"{PODS}/on-node?gracePeriodSeconds=0")
    deadline = time.monotonic() + 5
    while True:
        status, body = server.request(
            "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", review, token=spare
        )
        if status == 401 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 401, body


def test_preconditions_come_before_admission(server: Any) -> None:
    """kube checks a DELETE's preconditions (rest.BeforeDelete) before NodeRestriction."""
    server.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}})
    node = server.add_user("system:node:n2", groups=["system:nodes"])
    path = f"{PODS}/on-node"  # on n1: node n2 may not delete it
    status, body = server.request(
        "DELETE", path, _options(preconditions={"uid": OTHER_UID}), token=node
    )
    assert (status, body["reason"]) == (409, "Conflict"), body
    status, body = server.request("DELETE", path, token=node)
    assert status == 403, body
    assert body["message"] == (
        'pods "on-node" is forbidden: node "n2" can only delete pods with spec.nodeName set to '
        "itself"
    )
