"""NodeRestriction: a requestor impersonating a node writes only what that node's kubelet may."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from constrained_impersonation.testing import APIServer

from ._raw import request

AS_NODE_A = [("Impersonate-User", "system:node:node-a")]
VERBS = ["create", "delete", "update", "patch", "get", "list"]


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[APIServer, str]]:
    with APIServer() as server:
        server.apply(
            """
apiVersion: v1
kind: Node
metadata: {name: node-a}
---
apiVersion: v1
kind: Node
metadata: {name: node-b}
---
apiVersion: v1
kind: Pod
metadata: {name: on-a, namespace: default}
spec: {nodeName: node-a, containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: on-b, namespace: default}
spec: {nodeName: node-b, containers: [{name: c, image: x}]}
""",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "node-writer"},
                "rules": [
                    {
                        "apiGroups": ["authentication.k8s.io"],
                        "resources": ["nodes"],
                        "verbs": ["impersonate:arbitrary-node"],
                    },
                    {
                        "apiGroups": [""],
                        "resources": ["pods", "pods/status", "pods/eviction", "nodes"],
                        "verbs": [f"impersonate-on:arbitrary-node:{v}" for v in VERBS],
                    },
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "node-writer"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "node-writer",
                },
                "subjects": [
                    {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "writer"}
                ],
            },
        )
        yield server, server.add_user("writer")


def test_node_cannot_create_ordinary_pods(world: tuple[APIServer, str]) -> None:
    server, token = world
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "sneaky"},
        "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "x"}]},
    }
    status, data, _ = request(
        server, "POST", "/api/v1/namespaces/default/pods", token=token, headers=AS_NODE_A, body=pod
    )
    assert status == 403
    assert "can only create mirror pods" in data["message"]
    pod["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "hash"}
    status, data, _ = request(
        server, "POST", "/api/v1/namespaces/default/pods", token=token, headers=AS_NODE_A, body=pod
    )
    assert status == 201, data


def test_node_deletes_only_its_own_pods(world: tuple[APIServer, str]) -> None:
    server, token = world
    status, data, _ = request(
        server, "DELETE", "/api/v1/namespaces/default/pods/on-b", token=token, headers=AS_NODE_A
    )
    assert status == 403
    assert (
        data["message"]
        == 'pods "on-b" is forbidden: node "node-a" can only delete pods with spec.nodeName set to itself'
    )


def test_node_modifies_only_its_own_node_object(world: tuple[APIServer, str]) -> None:
    server, token = world
    patch = {"metadata": {"labels": {"x": "y"}}}
    status, data, _ = request(
        server,
        "PATCH",
        "/api/v1/nodes/node-b",
        token=token,
        headers=AS_NODE_A,
        body=patch,
        content_type="application/merge-patch+json",
    )
    assert status == 403, data
    status, data, _ = request(
        server,
        "PATCH",
        "/api/v1/nodes/node-a",
        token=token,
        headers=AS_NODE_A,
        body=patch,
        content_type="application/merge-patch+json",
    )
    assert status == 200, data


def test_legacy_node_impersonation_is_not_a_node(world: tuple[APIServer, str]) -> None:
    # Through legacy impersonation a node gets no system:nodes group: not a node for
    # NodeRestriction either, so RBAC alone decides (and grants nothing here).
    server, _ = world
    legacy = server.add_user("legacy-writer")
    server.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "legacy-writer"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "legacy-imp",
            },
            "subjects": [
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "legacy-writer"}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "legacy-imp"},
            "rules": [
                {"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]}
            ],
        },
    )
    status, data, _ = request(
        server,
        "DELETE",
        "/api/v1/namespaces/default/pods/on-b",
        token=legacy,
        headers=[*AS_NODE_A, ("Impersonate-Group", "ops")],
    )
    assert status == 403
    assert 'User "system:node:node-a" cannot delete resource "pods"' in data["message"]
