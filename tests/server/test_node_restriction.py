"""NodeRestriction: a node (or a requestor impersonating one) writes only what its kubelet may.

Run against both backends: the messages are kube-apiserver 1.37's.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._raw import request

APIServer = Any
AS_NODE_A = [("Impersonate-User", "system:node:node-a")]
VERBS = ["create", "delete", "update", "patch", "get", "list"]
MERGE = "application/merge-patch+json"
TOKEN_VOLUME = {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}


def _pod(name: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {
            "nodeName": node,
            "serviceAccountName": "agent",
            "containers": [{"name": "c", "image": "x"}],
            # What the kubelet mounts: a token for the API server's audience.
            "volumes": [TOKEN_VOLUME],
        },
    }


@pytest.fixture(scope="module")
def world(apiserver_class: Callable[..., Any]) -> Iterator[tuple[APIServer, str]]:
    with apiserver_class() as server:
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
kind: ServiceAccount
metadata: {name: agent, namespace: default}
""",
            _pod("on-a", "node-a"),
            _pod("on-b", "node-b"),
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
                        "resources": [
                            "pods",
                            "pods/status",
                            "pods/eviction",
                            "nodes",
                            "serviceaccounts/token",
                        ],
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


@pytest.fixture(scope="module")
def node_a(world: tuple[APIServer, str]) -> str:
    """A kubelet's own credentials for node-a."""
    return str(world[0].add_user("system:node:node-a", groups=["system:nodes"]))


def _uid(server: APIServer, path: str) -> str:
    status, data, _ = request(server, "GET", path, token=server.admin_token)
    assert status == 200, data
    return str(data["metadata"]["uid"])


def _forbidden(data: Any, message: str) -> None:
    assert data["reason"] == "Forbidden", data
    assert data["message"] == message


# --------------------------------------------------------------------------- pods


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
    _forbidden(
        data,
        'pods "sneaky" is forbidden: pod does not have "kubernetes.io/config.mirror" '
        'annotation, node "node-a" can only create mirror pods',
    )


def _mirror(name: str, owner: dict[str, Any] | None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "annotations": {"kubernetes.io/config.mirror": "h"}}
    if owner is not None:
        meta["ownerReferences"] = [owner]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "x"}], **spec},
    }


def _node_owner(uid: str, name: str = "node-a", **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid, **fields}


def test_node_creates_mirror_pods_owned_by_itself_only(
    world: tuple[APIServer, str], node_a: str
) -> None:
    server, _ = world
    uid = _uid(server, "/api/v1/nodes/node-a")
    path = "/api/v1/namespaces/default/pods"
    cases = [
        (None, "an owner reference set to itself"),
        (
            _node_owner(_uid(server, "/api/v1/nodes/node-b"), "node-b"),
            "an owner reference set to itself",
        ),
        (_node_owner(uid), "a controller owner reference set to itself"),
    ]
    for owner, why in cases:
        status, data, _ = request(
            server, "POST", path, token=node_a, body=_mirror("static-web", owner)
        )
        assert status == 403, data
        _forbidden(
            data, f'pods "static-web" is forbidden: node "node-a" can only create pods with {why}'
        )
    wrong = "00000000-0000-0000-0000-000000000000"
    status, data, _ = request(
        server,
        "POST",
        path,
        token=node_a,
        body=_mirror("static-web", _node_owner(wrong, controller=True)),
    )
    assert status == 403, data
    _forbidden(
        data,
        f'pods "static-web" is forbidden: node node-a UID mismatch: expected {wrong} got {uid}',
    )
    status, data, _ = request(
        server,
        "POST",
        path,
        token=node_a,
        body=_mirror("static-web", _node_owner(uid, controller=True, blockOwnerDeletion=True)),
    )
    assert status == 403, data
    _forbidden(
        data,
        'pods "static-web" is forbidden: node "node-a" must not set blockOwnerDeletion on an '
        "owner reference",
    )
    status, data, _ = request(
        server,
        "POST",
        path,
        token=node_a,
        body=_mirror("static-web", _node_owner(uid, controller=True)),
    )
    assert status == 201, data


@pytest.mark.parametrize(
    ("spec", "referenced"),
    [
        ({"volumes": [{"name": "v", "configMap": {"name": "settings"}}]}, "configmaps"),
        (
            {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]},
            "persistentvolumeclaims",
        ),
        (
            {
                "containers": [
                    {"name": "c", "image": "x", "envFrom": [{"configMapRef": {"name": "env"}}]}
                ]
            },
            "configmaps",
        ),
    ],
)
def test_node_mirror_pods_reference_no_api_objects(
    world: tuple[APIServer, str], node_a: str, spec: dict[str, Any], referenced: str
) -> None:
    server, _ = world
    owner = _node_owner(_uid(server, "/api/v1/nodes/node-a"), controller=True)
    status, data, _ = request(
        server,
        "POST",
        "/api/v1/namespaces/default/pods",
        token=node_a,
        body=_mirror("refs", owner, **spec),
    )
    assert status == 403, data
    _forbidden(
        data,
        f'pods "refs" is forbidden: node "node-a" can not create pods that reference {referenced}',
    )


@pytest.mark.parametrize(
    ("spec", "node_restriction"),
    [
        (
            {"serviceAccountName": "agent"},
            'node "node-a" can not create pods that reference serviceaccounts',
        ),
        (
            {"volumes": [{"name": "v", "secret": {"secretName": "db"}}]},
            'node "node-a" can not create pods that reference secrets',
        ),
        (
            {"imagePullSecrets": [{"name": "registry"}]},
            'node "node-a" can not create pods that reference secrets',
        ),
        (
            {"volumes": [TOKEN_VOLUME]},
            'node "node-a" can not create pods that reference serviceaccounts (via projected '
            "volumes)",
        ),
    ],
)
def test_node_mirror_pods_carry_no_credentials(
    world: tuple[APIServer, str], node_a: str, spec: dict[str, Any], node_restriction: str
) -> None:
    # ServiceAccount admission is off on both backends (as in envtest): NodeRestriction refuses.
    server, _ = world
    owner = _node_owner(_uid(server, "/api/v1/nodes/node-a"), controller=True)
    status, data, _ = request(
        server,
        "POST",
        "/api/v1/namespaces/default/pods",
        token=node_a,
        body=_mirror("creds", owner, **spec),
    )
    assert status == 403, data
    _forbidden(data, f'pods "creds" is forbidden: {node_restriction}')


def test_node_deletes_only_its_own_pods(world: tuple[APIServer, str]) -> None:
    server, token = world
    status, data, _ = request(
        server, "DELETE", "/api/v1/namespaces/default/pods/on-b", token=token, headers=AS_NODE_A
    )
    assert status == 403
    _forbidden(
        data,
        'pods "on-b" is forbidden: node "node-a" can only delete pods with spec.nodeName set to '
        "itself",
    )


def test_node_evicts_only_its_own_pods(world: tuple[APIServer, str], node_a: str) -> None:
    server, _ = world
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "on-b", "namespace": "default"},
    }
    status, data, _ = request(
        server,
        "POST",
        "/api/v1/namespaces/default/pods/on-b/eviction",
        token=node_a,
        body=eviction,
    )
    assert status == 403, data
    _forbidden(
        data,
        'pods "on-b" is forbidden: node node-a can only evict pods with spec.nodeName set to '
        "itself",
    )


def test_node_pod_status_updates_keep_labels(world: tuple[APIServer, str], node_a: str) -> None:
    server, token = world
    relabel = {"metadata": {"labels": {"app": "other"}}}
    for who, headers in ((node_a, []), (token, AS_NODE_A)):
        status, data, _ = request(
            server,
            "PATCH",
            "/api/v1/namespaces/default/pods/on-a/status",
            token=who,
            headers=headers,
            body=relabel,
            content_type=MERGE,
        )
        assert status == 403, data
        _forbidden(
            data,
            'pods "on-a" is forbidden: node "node-a" cannot update labels through pod status',
        )
    status, data, _ = request(
        server,
        "PATCH",
        "/api/v1/namespaces/default/pods/on-b/status",
        token=node_a,
        body={"status": {"message": "hi"}},
        content_type=MERGE,
    )
    assert status == 403, data
    _forbidden(
        data,
        'pods "on-b" is forbidden: node "node-a" can only update pod status for pods with '
        "spec.nodeName set to itself",
    )
    status, data, _ = request(
        server,
        "PATCH",
        "/api/v1/namespaces/default/pods/on-a/status",
        token=node_a,
        body={"status": {"message": "hi"}},
        content_type=MERGE,
    )
    assert status == 200, data
    assert data["metadata"]["labels"] == {"app": "on-a"}


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


# --------------------------------------------------------------------------- nodes


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
        content_type=MERGE,
    )
    assert status == 403, data
    _forbidden(
        data, 'nodes "node-b" is forbidden: node "node-a" is not allowed to modify node "node-b"'
    )
    status, data, _ = request(
        server,
        "PATCH",
        "/api/v1/nodes/node-a",
        token=token,
        headers=AS_NODE_A,
        body=patch,
        content_type=MERGE,
    )
    assert status == 200, data


def test_node_cannot_change_its_taints(world: tuple[APIServer, str], node_a: str) -> None:
    server, token = world
    taint = {"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}}
    for who, headers in ((node_a, []), (token, AS_NODE_A)):
        status, data, _ = request(
            server,
            "PATCH",
            "/api/v1/nodes/node-a",
            token=who,
            headers=headers,
            body=taint,
            content_type=MERGE,
        )
        assert status == 403, data
        _forbidden(
            data, 'nodes "node-a" is forbidden: node "node-a" is not allowed to modify taints'
        )


@pytest.mark.parametrize(
    "label",
    [
        "node-restriction.kubernetes.io/db",
        "team.node-restriction.kubernetes.io/db",
        "kubernetes.io/role",
        "example.k8s.io/x",
    ],
)
def test_node_cannot_set_restricted_labels(
    world: tuple[APIServer, str], node_a: str, label: str
) -> None:
    server, _ = world
    status, data, _ = request(
        server,
        "PATCH",
        "/api/v1/nodes/node-a",
        token=node_a,
        body={"metadata": {"labels": {label: "true", "topology.kubernetes.io/zone": "z1"}}},
        content_type=MERGE,
    )
    assert status == 403, data
    _forbidden(data, f'nodes "node-a" is forbidden: is not allowed to modify labels: {label}')


def test_node_sets_kubelet_labels(world: tuple[APIServer, str], node_a: str) -> None:
    server, _ = world
    labels = {
        "node.kubernetes.io/instance-type": "m5",
        "kubelet.kubernetes.io/x": "1",
        "topology.kubernetes.io/zone": "z1",
        "example.com/anything": "ok",
    }
    status, data, _ = request(
        server,
        "PATCH",
        "/api/v1/nodes/node-a",
        token=node_a,
        body={"metadata": {"labels": labels}},
        content_type=MERGE,
    )
    assert status == 200, data


# --------------------------------------------------------------------------- tokens


def _token_request(
    server: APIServer,
    token: str,
    headers: list[tuple[str, str]],
    ref: dict[str, Any] | None,
    audiences: list[str] | None = None,
) -> tuple[int, Any]:
    spec: dict[str, Any] = {"expirationSeconds": 3600}
    if ref is not None:
        spec["boundObjectRef"] = ref
    if audiences is not None:
        spec["audiences"] = audiences
    status, data, _ = request(
        server,
        "POST",
        "/api/v1/namespaces/default/serviceaccounts/agent/token",
        token=token,
        headers=headers,
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
    )
    return status, data


def _pod_ref(server: APIServer, name: str, uid: str | None = None) -> dict[str, Any]:
    if uid is None:
        uid = _uid(server, f"/api/v1/namespaces/default/pods/{name}")
    return {"apiVersion": "v1", "kind": "Pod", "name": name, "uid": uid}


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def test_node_tokens_are_bound_to_its_own_pods(world: tuple[APIServer, str], node_a: str) -> None:
    server, writer = world
    refused = 'serviceaccounts "agent" is forbidden: node requested token not bound to a pod'
    for token, headers in ((node_a, []), (writer, AS_NODE_A)):
        for ref in (
            None,
            {"apiVersion": "v1", "kind": "Node", "name": "node-b"},
            {"apiVersion": "v1", "kind": "Node", "name": "node-a"},
            {"kind": "Pod", "name": "on-a"},
        ):
            status, data = _token_request(server, token, headers, ref)
            assert status == 403, (ref, data)
            _forbidden(data, refused)
        status, data = _token_request(server, token, headers, _pod_ref(server, "on-b"))
        assert status == 403, data
        _forbidden(
            data,
            'serviceaccounts "agent" is forbidden: node requested token bound to a pod '
            "scheduled on a different node",
        )
        status, data = _token_request(server, token, headers, _pod_ref(server, "on-a", uid=""))
        assert status == 403, data
        _forbidden(
            data,
            'serviceaccounts "agent" is forbidden: node requested token with a pod binding '
            "without a uid",
        )
        stale = "00000000-0000-0000-0000-000000000000"
        status, data = _token_request(server, token, headers, _pod_ref(server, "on-a", stale))
        assert status == 403, data
        _forbidden(
            data,
            f'serviceaccounts "agent" is forbidden: the UID in the bound object reference '
            f"({stale}) does not match the UID in record. The object might have been deleted "
            "and then recreated",
        )
        status, data = _token_request(server, token, headers, _pod_ref(server, "on-a"))
        assert status == 201, data
        claims = _claims(data["status"]["token"])
        assert claims["kubernetes.io"]["node"]["name"] == "node-a"
        assert claims["kubernetes.io"]["pod"]["name"] == "on-a"


def test_node_tokens_only_for_audiences_its_pod_mounts(
    world: tuple[APIServer, str], node_a: str
) -> None:
    server, _ = world
    ref = _pod_ref(server, "on-a")
    status, data = _token_request(server, node_a, [], ref, audiences=["a", "b"])
    assert status == 403, data
    _forbidden(data, 'serviceaccounts "agent" is forbidden: node may only request 0 or 1 audiences')
    status, data = _token_request(server, node_a, [], ref, audiences=["vault"])
    assert status == 403, data
    _forbidden(
        data,
        'serviceaccounts "agent" is forbidden: system:node:node-a is not authorized to request '
        'tokens for audience "vault"',
    )
