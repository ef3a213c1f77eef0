"""Ways around Pod Security admission in an ``enforce: restricted`` namespace.

Both servers refuse a privileged container however it arrives: create, generateName, apply,
the ``ephemeralcontainers`` subresource; an update cannot make a running pod privileged
(pod updates change little, and never security contexts); label values are checked as
written (no case or whitespace games). One thing is kube's own design, shown here so nobody
relies on the opposite: whoever may write ``namespaces/status`` may change the namespace's
labels, the Pod Security level included.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from ._attack import APPLY, MERGE, STRATEGIC, Server, call, user_with

NS = "locked"
PODS = f"/api/v1/namespaces/{NS}/pods"
RESTRICTED_OK = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "c",
            "image": "i",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        }
    ],
}
PRIVILEGED = {"containers": [{"name": "c", "image": "i", "securityContext": {"privileged": True}}]}
VIOLATES = 'violates PodSecurity "restricted:latest": privileged (container "c" must not set '


@pytest.fixture
def server(apiserver: Server) -> Iterator[Server]:
    apiserver.apply(
        f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}, labels: "
        "{pod-security.kubernetes.io/enforce: restricted}}"
    )
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ok"}, "spec": RESTRICTED_OK}
    status, body = call(apiserver, "POST", PODS, pod)
    assert status == 201, body
    yield apiserver


def _refused(body: Any, name: str) -> None:
    assert body["reason"] == "Forbidden", body
    assert body["message"].startswith(f'pods "{name}" is forbidden: {VIOLATES}'), body


def test_a_privileged_pod_is_refused_however_it_is_created(server: Server) -> None:
    generated = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "g-"}}
    status, body = call(server, "POST", PODS, {**generated, "spec": PRIVILEGED})
    assert status == 403, body
    assert body["reason"] == "Forbidden"
    assert VIOLATES in body["message"]
    applied = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ap"}, "spec": PRIVILEGED}
    status, body = call(server, "PATCH", f"{PODS}/ap?fieldManager=me", applied, content_type=APPLY)
    assert status == 403, body
    _refused(body, "ap")


def test_an_ephemeral_container_is_checked(server: Server) -> None:
    debug = {"name": "debug", "image": "busybox", "securityContext": {"privileged": True}}
    status, body = call(
        server,
        "PATCH",
        f"{PODS}/ok/ephemeralcontainers",
        {"spec": {"ephemeralContainers": [debug]}},
        content_type=STRATEGIC,
    )
    assert status == 403, body
    assert body["message"].startswith(
        'pods "ok" is forbidden: violates PodSecurity "restricted:latest": privileged '
        '(container "debug" must not set securityContext.privileged=true)'
    )


def test_an_update_cannot_make_a_running_pod_privileged(server: Server) -> None:
    status, pod = call(server, "GET", f"{PODS}/ok")
    assert status == 200, pod
    privileged = copy.deepcopy(pod)
    privileged["spec"]["containers"][0]["securityContext"]["privileged"] = True
    host = copy.deepcopy(pod)
    host["spec"]["hostNetwork"] = True
    attempts: list[tuple[str, Any, str]] = [
        ("PUT", privileged, "application/json"),
        ("PUT", host, "application/json"),
        ("PATCH", {"spec": {"ephemeralContainers": [PRIVILEGED["containers"][0]]}}, STRATEGIC),
        ("PATCH", {"spec": {"containers": [{"name": "x", "image": "i"}]}}, STRATEGIC),
    ]
    for method, body, content_type in attempts:
        status, answer = call(server, method, f"{PODS}/ok", body, content_type=content_type)
        assert (status, answer["reason"]) == (422, "Invalid"), answer
    status, after = call(server, "GET", f"{PODS}/ok")
    assert after["spec"] == pod["spec"]


@pytest.mark.parametrize("value", ["Privileged", "privileged ", " privileged"])
def test_level_labels_are_read_as_written(server: Server, value: str) -> None:
    status, body = call(
        server,
        "PATCH",
        f"/api/v1/namespaces/{NS}",
        {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": value}}},
        content_type=MERGE,
    )
    assert (status, body["reason"]) == (422, "Invalid"), body
    status, body = call(server, "GET", f"/api/v1/namespaces/{NS}")
    assert body["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_namespace_status_writers_can_relax_pod_security_as_in_kube(server: Server) -> None:
    token = user_with(
        server,
        "ns-status",
        [
            {"apiGroups": [""], "resources": ["namespaces/status"], "verbs": ["patch"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]},
        ],
    )
    relax = {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}
    status, body = call(
        server,
        "PATCH",
        f"/api/v1/namespaces/{NS}/status",
        relax,
        token=token,
        content_type=MERGE,
    )
    assert status == 200, body
    assert body["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": PRIVILEGED}
    status, body = call(server, "POST", PODS, pod, token=token)
    assert status == 201, body
