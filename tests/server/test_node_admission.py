"""Node admission as kube-apiserver 1.37.2 runs it: TaintNodesByCondition taints every new
Node not-ready, NodeRestriction keeps a node from changing its taints, and NodeRestriction
judges a node's mirror pod (node name, then owner reference) before anything it references.

Run against both backends (the differential found each of these).
"""

from __future__ import annotations

from typing import Any

import pytest

NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
MERGE = {"Content-Type": "application/merge-patch+json"}
TOKEN_VOLUME = {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}


@pytest.fixture
def nodes(apiserver: Any) -> tuple[Any, str]:
    apiserver.apply(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}},
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n2"},
            "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]},
        },
    )
    return apiserver, apiserver.add_user("system:node:n1", groups=["system:nodes"])


def _forbidden(answer: tuple[int, Any], message: str) -> None:
    status, body = answer
    assert status == 403, body
    assert body["reason"] == "Forbidden", body
    assert body["message"] == message


def test_a_new_node_is_tainted_not_ready(nodes: tuple[Any, str]) -> None:
    server, _ = nodes
    status, n1 = server.request("GET", "/api/v1/nodes/n1")
    assert status == 200, n1
    assert n1["spec"]["taints"] == [NOT_READY]
    _, n2 = server.request("GET", "/api/v1/nodes/n2")
    assert n2["spec"]["taints"] == [
        {"key": "dedicated", "value": "db", "effect": "NoSchedule"},
        NOT_READY,
    ]


def test_a_node_created_not_ready_keeps_its_own_taint(apiserver: Any) -> None:
    taint = {**NOT_READY, "value": "x"}  # same key and effect: no second taint
    apiserver.apply(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n3"},
            "spec": {"taints": [taint]},
        }
    )
    _, node = apiserver.request("GET", "/api/v1/nodes/n3")
    assert node["spec"]["taints"] == [taint]


@pytest.mark.parametrize("taints", [[], [NOT_READY, {"key": "k", "effect": "NoExecute"}]])
def test_a_node_may_not_remove_or_add_taints(
    nodes: tuple[Any, str], taints: list[dict[str, str]]
) -> None:
    server, token = nodes
    answer = server.request(
        "PATCH", "/api/v1/nodes/n1", {"spec": {"taints": taints}}, token=token, headers=MERGE
    )
    _forbidden(answer, 'nodes "n1" is forbidden: node "n1" is not allowed to modify taints')


def test_taints_compare_as_go_values(nodes: tuple[Any, str]) -> None:
    """An empty value is no value: writing the taints back unchanged is no modification."""
    server, token = nodes
    same = [{**NOT_READY, "value": ""}]
    status, body = server.request(
        "PATCH", "/api/v1/nodes/n1", {"spec": {"taints": same}}, token=token, headers=MERGE
    )
    assert status == 200, body


def _mirror(name: str, node: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "annotations": {"kubernetes.io/config.mirror": "x"},
        },
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}], **spec},
    }


@pytest.mark.parametrize(
    "spec",
    [
        {"volumes": [TOKEN_VOLUME]},
        {"serviceAccountName": "default"},
        {"imagePullSecrets": [{"name": "registry"}]},
    ],
)
def test_a_mirror_pod_is_judged_by_node_restriction_first(
    nodes: tuple[Any, str], spec: dict[str, Any]
) -> None:
    server, token = nodes
    path = "/api/v1/namespaces/default/pods"
    _forbidden(
        server.request("POST", path, _mirror("m1", "n1", **spec), token=token),
        'pods "m1" is forbidden: node "n1" can only create pods with an owner reference set to '
        "itself",
    )
    _forbidden(
        server.request("POST", path, _mirror("m2", "n2", **spec), token=token),
        'pods "m2" is forbidden: node "n1" can only create pods with spec.nodeName set to itself',
    )


def test_nodes_reach_pod_certificate_requests_through_the_graph(nodes: tuple[Any, str]) -> None:
    """The Node authorizer subdivides PodCertificateRequests (it does not just apply the
    system:node rules): list/watch only with this node's field selector, get only related."""
    server, token = nodes
    path = "/apis/certificates.k8s.io/v1/namespaces/default/podcertificaterequests"
    status, body = server.request("GET", path, token=token)
    assert status == 403, body
    assert body["message"].endswith(
        "can only list/watch podcertificaterequests with nodeName field selector"
    )
    status, body = server.request("GET", path + "?fieldSelector=spec.nodeName%3Dn1", token=token)
    assert status == 200, body
    status, body = server.request("GET", path + "/someone-elses", token=token)
    assert status == 403, body
    assert body["message"].endswith("no relationship found between node 'n1' and this object")


def test_pods_on_a_node_get_its_topology_labels(apiserver: Any) -> None:
    """PodTopologyLabels (beta, on in 1.37): zone and region of the node, on create and on
    binding, overwriting the pod's own; other node labels stay on the node."""
    labels = {
        "topology.kubernetes.io/zone": "z1",
        "topology.kubernetes.io/region": "r1",
        "example.com/rack": "7",
    }
    apiserver.apply(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "zoned", "labels": labels}}
    )
    pods = "/api/v1/namespaces/default/pods"
    pod = _mirror("placed", "zoned")
    del pod["metadata"]["annotations"]
    pod["metadata"]["labels"] = {"topology.kubernetes.io/zone": "mine", "app": "a"}
    status, created = apiserver.request("POST", pods, pod)
    assert status == 201, created
    assert created["metadata"]["labels"] == {
        "app": "a",
        "topology.kubernetes.io/zone": "z1",
        "topology.kubernetes.io/region": "r1",
    }
    later = _mirror("later", "")
    del later["metadata"]["annotations"], later["spec"]["nodeName"]
    assert apiserver.request("POST", pods, later)[0] == 201
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "later", "annotations": {"example.com/by": "test"}},
        "target": {"kind": "Node", "name": "zoned"},
    }
    status, body = apiserver.request("POST", f"{pods}/later/binding", binding)
    assert status == 201, body
    _, bound = apiserver.request("GET", f"{pods}/later")
    assert bound["metadata"]["labels"] == {
        "topology.kubernetes.io/zone": "z1",
        "topology.kubernetes.io/region": "r1",
    }
    assert bound["metadata"]["annotations"] == {"example.com/by": "test"}
