"""Impersonation end to end: real HTTPS, real tokens, real RBAC objects applied through the API.

Every scenario is asserted through what a client sees (status codes, Status messages,
SelfSubjectReview) and what an operator sees (the audit log, /metrics).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from .._backends import eventually
from ._raw import request, whoami

# The server of the backend ``--apiserver`` picks: the embedded one or a real kube-apiserver.
APIServer = Any

AUTHN = "authentication.k8s.io"


def post(server: APIServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, data, _ = request(server, "POST", path, token=server.admin_token, body=body)
    assert status in (200, 201), (status, data)
    return data  # type: ignore[no-any-return]


def cluster_role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    }


def bind_user(name: str, role: str, user: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}],
    }


def grant(server: APIServer, user: str, name: str, rules: list[dict[str, Any]]) -> None:
    """A ClusterRole bound to ``user``, returned once the authorizer enforces it."""
    server.apply(cluster_role(name, rules), bind_user(name, name, user))


def last_event(server: APIServer, user: str) -> dict[str, Any]:
    """The newest audit event of ``user`` (a real server audits its own requests too)."""
    mine = [e for e in server.audit_events() if e["user"].get("username") == user]
    assert mine, f"no audit event by {user}"
    return mine[-1]


def delete(server: APIServer, path: str) -> None:
    status, data, _ = request(server, "DELETE", path, token=server.admin_token)
    assert status in (200, 202), (status, data)


@pytest.fixture(scope="module")
def server(apiserver_class: Callable[..., Any]) -> Iterator[APIServer]:
    with apiserver_class() as s:
        yield s


@pytest.fixture(scope="module")
def server_gate_off(apiserver_class: Callable[..., Any]) -> Iterator[APIServer]:
    with apiserver_class(feature_gates="ConstrainedImpersonation=false") as s:
        yield s


DEPUTY_RULES = [
    {
        "apiGroups": [AUTHN],
        "resources": ["users", "groups", "userextras/example.com/scopes"],
        "verbs": ["impersonate:user-info"],
    },
    {
        "apiGroups": [AUTHN],
        "resources": ["selfsubjectreviews"],
        "verbs": ["impersonate-on:user-info:create"],
    },
]


def test_authenticated_request_without_impersonation_is_the_requestor(server: APIServer) -> None:
    token = server.add_user("plain", groups=["team"], uid="u-1")
    status, info = whoami(server, token)
    assert status == 201
    assert info == {"username": "plain", "uid": "u-1", "groups": ["team", "system:authenticated"]}


def test_bad_token_is_401_with_a_status(server: APIServer) -> None:
    status, data, _ = request(server, "GET", "/api/v1/namespaces", token="not-a-token")
    assert status == 401
    assert data["kind"] == "Status" and data["reason"] == "Unauthorized"


def test_groups_and_extras_arrive_exactly_one_per_line(server: APIServer) -> None:
    deputy = server.add_user("deputy-1")
    grant(server, "deputy-1", "deputy-1", DEPUTY_RULES)
    status, info = whoami(
        server,
        deputy,
        [
            ("Impersonate-User", "bob"),
            ("Impersonate-Group", "dev"),
            ("Impersonate-Group", "ops,qa"),
            ("Impersonate-Extra-example.com%2Fscopes", "view"),
            ("impersonate-extra-EXAMPLE.com%2fscopes", "edit"),
        ],
    )
    assert status == 201, info
    assert info == {
        "username": "bob",
        "groups": ["dev", "ops,qa", "system:authenticated"],
        "extra": {"example.com/scopes": ["view", "edit"]},
    }
    event = [
        e
        for e in server.audit_events()
        if e["user"].get("username") == "deputy-1" and e["verb"] == "create"
    ][-1]
    assert event["impersonatedUser"]["groups"] == ["dev", "ops,qa", "system:authenticated"]
    assert event["authenticationMetadata"] == {"impersonationConstraint": "impersonate:user-info"}
    assert event["annotations"]["authorization.k8s.io/decision"] == "allow"


def test_header_without_user_is_400(server: APIServer) -> None:
    token = server.add_user("no-user")
    status, data = whoami(server, token, [("Impersonate-Group", "")])
    assert status == 400
    assert "without impersonating a user" in data["message"]
    status, info = whoami(server, token, [("Impersonate-User", "")])
    assert status == 201 and info["username"] == "no-user"


def test_missing_action_grant_names_the_requestor_and_the_constrained_verb(
    server: APIServer,
) -> None:
    token = server.add_user("deputy-2")
    grant(server, "deputy-2", "deputy-2", DEPUTY_RULES[:1])
    status, data = whoami(server, token, [("Impersonate-User", "bob")])
    assert status == 403
    assert data["message"].startswith(
        'selfsubjectreviews.authentication.k8s.io is forbidden: User "deputy-2" cannot '
        'impersonate-on:user-info:create resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope'
    )
    assert all(
        "impersonatedUser" not in e
        for e in server.audit_events()
        if e["user"].get("username") == "deputy-2"
    )


def test_system_masters_is_refused_by_constrained_and_granted_by_legacy(server: APIServer) -> None:
    token = server.add_user("gateway")
    grant(server, "gateway", "gateway", DEPUTY_RULES)
    status, data = whoami(
        server, token, [("Impersonate-User", "bob"), ("Impersonate-Group", "system:masters")]
    )
    assert status == 403
    assert data["message"].endswith("impersonating the system:masters group is not allowed")
    grant(
        server,
        "gateway",
        "gateway-legacy",
        [{"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]}],
    )
    status, info = whoami(
        server, token, [("Impersonate-User", "bob"), ("Impersonate-Group", "system:masters")]
    )
    assert status == 201 and info["groups"] == ["system:masters", "system:authenticated"]
    event = last_event(server, "gateway")
    assert event["impersonatedUser"]["username"] == "bob"
    assert "authenticationMetadata" not in event  # legacy success carries no constraint


def _node_agent_world(server: APIServer) -> str:
    """Nodes, pods, the agent's SA and RBAC (docs/semantics.md#stories), and a pod-bound token for node-a."""
    for node in ("node-a", "node-b"):
        post(
            server,
            "/api/v1/nodes",
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}},
        )
    post(
        server,
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "node-agents"}},
    )
    post(
        server,
        "/api/v1/namespaces/node-agents/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "node-agent"}},
    )
    # apply: returns once the Node authorizer's graph and RBAC enforce what it wrote.
    *_, agent_pod = server.apply(
        *(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]},
            }
            for name, node in (("web-a", "node-a"), ("web-b", "node-b"))
        ),
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "agent-a", "namespace": "node-agents"},
            "spec": {
                "nodeName": "node-a",
                "serviceAccountName": "node-agent",
                "containers": [{"name": "agent", "image": "agent"}],
            },
        },
    )
    server.apply(
        cluster_role(
            "node-agent",
            [
                {
                    "apiGroups": [AUTHN],
                    "resources": ["nodes"],
                    "verbs": ["impersonate:associated-node"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["pods"],
                    "verbs": [
                        "impersonate-on:associated-node:list",
                        "impersonate-on:associated-node:watch",
                    ],
                },
            ],
        ),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "node-agent"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "node-agent",
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": "node-agent", "namespace": "node-agents"}
            ],
        },
    )
    review = post(
        server,
        "/api/v1/namespaces/node-agents/serviceaccounts/node-agent/token",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "boundObjectRef": {
                    "kind": "Pod",
                    "apiVersion": "v1",
                    "name": "agent-a",
                    "uid": agent_pod["metadata"]["uid"],
                }
            },
        },
    )
    return str(review["status"]["token"])


def test_associated_node_agent_sees_only_its_node(server: APIServer) -> None:
    token = _node_agent_world(server)
    status, info = whoami(server, token)
    assert info["extra"]["authentication.kubernetes.io/node-name"] == ["node-a"]
    as_node = [("Impersonate-User", "system:node:node-a")]
    status, data, _ = request(
        server,
        "GET",
        "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a",
        token=token,
        headers=as_node,
    )
    assert status == 200, data
    assert {p["metadata"]["name"] for p in data["items"]} == {"web-a", "agent-a"}
    event = last_event(server, "system:serviceaccount:node-agents:node-agent")
    assert event["authenticationMetadata"] == {
        "impersonationConstraint": "impersonate:associated-node"
    }
    assert event["impersonatedUser"] == {
        "username": "system:node:node-a",
        "groups": ["system:nodes", "system:authenticated"],
    }
    # Without the selector the Node authorizer refuses the impersonated node.
    status, data, _ = request(server, "GET", "/api/v1/pods", token=token, headers=as_node)
    assert status == 403
    assert 'User "system:node:node-a" cannot list resource "pods"' in data["message"]
    # Another node is not associated: arbitrary-node is tried and denied.
    status, data, _ = request(
        server,
        "GET",
        "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-b",
        token=token,
        headers=[("Impersonate-User", "system:node:node-b")],
    )
    assert status == 403
    assert "impersonate-on:arbitrary-node:list" in data["message"]
    # Deleting a pod is not granted as an action.
    status, data, _ = request(
        server, "DELETE", "/api/v1/namespaces/default/pods/web-a", token=token, headers=as_node
    )
    assert status == 403 and "impersonate-on:associated-node:delete" in data["message"]


def test_token_stops_working_when_its_pod_is_deleted(server: APIServer) -> None:
    post(
        server,
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bound"}},
    )
    post(
        server,
        "/api/v1/namespaces/bound/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}},
    )
    post(
        server,
        "/api/v1/namespaces/bound/pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"serviceAccountName": "sa", "containers": [{"name": "c", "image": "x"}]},
        },
    )
    request_body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p"}},
    }
    path = "/api/v1/namespaces/bound/serviceaccounts/sa/token"
    used, unused = (post(server, path, request_body)["status"]["token"] for _ in range(2))
    assert whoami(server, used)[0] == 201
    delete(server, "/api/v1/namespaces/bound/pods/p")

    def refused() -> None:
        assert whoami(server, unused)[0] == 401

    # kube-apiserver remembers a successful token authentication for 10 s, so the token used
    # above may work a little longer there; one bound to the same pod and never used shows
    # the deletion as soon as the server's pod cache has it.
    eventually(refused, timeout=5)


def test_gate_off_makes_constrained_grants_inert(server_gate_off: APIServer) -> None:
    server = server_gate_off
    token = server.add_user("deputy-off")
    grant(server, "deputy-off", "deputy-off", DEPUTY_RULES)
    status, data = whoami(server, token, [("Impersonate-User", "bob")])
    assert status == 403
    assert (
        'users "bob" is forbidden: User "deputy-off" cannot impersonate resource "users" in API group ""'
        in data["message"]
    )
    grant(
        server,
        "deputy-off",
        "deputy-off-legacy",
        [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}],
    )
    status, info = whoami(server, token, [("Impersonate-User", "bob")])
    assert status == 201 and info["username"] == "bob"
    assert "authenticationMetadata" not in last_event(server, "deputy-off")


def test_metrics_count_impersonation_attempts(server: APIServer) -> None:
    token = server.add_user("counted")
    grant(server, "counted", "counted", DEPUTY_RULES)
    assert whoami(server, token, [("Impersonate-User", "bob")])[0] == 201
    status, text, _ = request(server, "GET", "/metrics", token=server.admin_token)
    assert status == 200
    counted = {
        frozenset(re.findall(r'(\w+)="([^"]*)"', labels)): float(value)
        for labels, value in re.findall(
            r"^apiserver_impersonation_attempts_total\{(.*)\} (\S+)$", text, flags=re.M
        )
    }
    assert counted[frozenset({("mode", "user-info"), ("decision", "allowed")})] >= 1


def test_kubernetes_client_self_subject_access_review_as_impersonated_user(
    server: APIServer,
) -> None:
    token = server.add_user("deputy-3")
    grant(
        server,
        "deputy-3",
        "deputy-3",
        [
            {"apiGroups": [AUTHN], "resources": ["users"], "verbs": ["impersonate:user-info"]},
            {
                "apiGroups": ["authorization.k8s.io"],
                "resources": ["selfsubjectaccessreviews"],
                "verbs": ["impersonate-on:user-info:create"],
            },
        ],
    )
    api = server.api_client(token)
    api.set_default_header("Impersonate-User", "carol")
    review = client.AuthorizationV1Api(api).create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    verb="list", resource="pods", namespace="default"
                )
            )
        )
    )
    assert review.status.allowed is False
    event = last_event(server, "deputy-3")
    assert event["impersonatedUser"]["username"] == "carol"


def test_service_account_target_granted_by_a_rolebinding_in_its_namespace(
    server: APIServer,
) -> None:
    post(
        server,
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
    )
    server.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "as-builder", "namespace": "team-a"},
            "rules": [
                {
                    "apiGroups": [AUTHN],
                    "resources": ["serviceaccounts"],
                    "resourceNames": ["builder"],
                    "verbs": ["impersonate:serviceaccount"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "verbs": ["impersonate-on:serviceaccount:list"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "as-builder", "namespace": "team-a"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "as-builder",
            },
            "subjects": [
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "ci-bot"}
            ],
        },
    )
    token = server.add_user("ci-bot")
    as_sa = [("Impersonate-User", "system:serviceaccount:team-a:builder")]
    status, data, _ = request(
        server, "GET", "/api/v1/namespaces/team-a/configmaps", token=token, headers=as_sa
    )
    # Impersonation succeeded; the service account itself may not list configmaps.
    assert (
        status == 403
        and 'User "system:serviceaccount:team-a:builder" cannot list' in data["message"]
    )
    event = last_event(server, "ci-bot")
    assert event["authenticationMetadata"] == {
        "impersonationConstraint": "impersonate:serviceaccount"
    }
    assert event["impersonatedUser"]["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:team-a",
        "system:authenticated",
    ]
    # The action grant is namespaced: the same request elsewhere is refused at impersonation.
    status, data, _ = request(
        server, "GET", "/api/v1/namespaces/default/configmaps", token=token, headers=as_sa
    )
    assert (
        status == 403
        and 'User "ci-bot" cannot impersonate-on:serviceaccount:list' in data["message"]
    )


def test_revoking_constrained_grants_lags_up_to_ten_seconds(
    server: APIServer, apiserver_backend: str
) -> None:
    token = server.add_user("revokee")
    grant(server, "revokee", "revokee", DEPUTY_RULES)
    assert whoami(server, token, [("Impersonate-User", "bob")])[0] == 201
    delete(server, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/revokee")
    # Cached success: still allowed within the 10 s window.
    assert whoami(server, token, [("Impersonate-User", "bob")])[0] == 201
    if apiserver_backend == "embedded":
        server.clear_impersonation_caches()  # what 10 s of waiting does

    def refused() -> None:
        assert whoami(server, token, [("Impersonate-User", "bob")])[0] == 403

    eventually(refused, timeout=20)


def test_revoking_legacy_grants_bites_at_once(server: APIServer) -> None:
    legacy = server.add_user("legacy-revokee")
    grant(
        server,
        "legacy-revokee",
        "legacy-revokee",
        [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}],
    )
    assert whoami(server, legacy, [("Impersonate-User", "bob")])[0] == 201
    delete(server, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/legacy-revokee")

    def refused() -> None:
        assert whoami(server, legacy, [("Impersonate-User", "bob")])[0] == 403

    # "At once": as soon as the authorizer's RBAC cache has the delete (milliseconds).
    eventually(refused, timeout=5)


def test_after_a_legacy_success_failures_report_the_legacy_error(server: APIServer) -> None:
    token = server.add_user("old-style")
    grant(
        server,
        "old-style",
        "old-style",
        [
            {
                "apiGroups": [""],
                "resources": ["users"],
                "resourceNames": ["bob"],
                "verbs": ["impersonate"],
            }
        ],
    )
    status, data = whoami(server, token, [("Impersonate-User", "carol")])
    assert status == 403 and "impersonate-on:user-info:create" in data["message"]
    assert whoami(server, token, [("Impersonate-User", "bob")])[0] == 201
    status, data = whoami(server, token, [("Impersonate-User", "carol")])
    assert status == 403
    assert data["message"].startswith(
        'users "carol" is forbidden: User "old-style" cannot impersonate resource "users" in API group ""'
    )


def test_node_target_with_an_extra_header_can_only_go_through_legacy(server: APIServer) -> None:
    token = server.add_user("extra-node")
    grant(
        server,
        "extra-node",
        "extra-node",
        [
            {"apiGroups": [AUTHN], "resources": ["nodes"], "verbs": ["impersonate:arbitrary-node"]},
            {
                "apiGroups": [AUTHN],
                "resources": ["selfsubjectreviews"],
                "verbs": ["impersonate-on:arbitrary-node:create"],
            },
        ],
    )
    status, info = whoami(server, token, [("Impersonate-User", "system:node:n1")])
    assert status == 201 and info["groups"] == ["system:nodes", "system:authenticated"]
    status, data = whoami(
        server,
        token,
        [("Impersonate-User", "system:node:n1"), ("Impersonate-Extra-example.com%2Fa", "b")],
    )
    assert status == 403
    assert (
        'users "system:node:n1" is forbidden: User "extra-node" cannot impersonate resource "users"'
        in data["message"]
    )
