"""RBAC escalation prevention: nobody grants through RBAC what they do not hold themselves.

Roles and ClusterRoles need ``escalate`` or every rule they grant; bindings need ``bind`` on
the role or every rule of it; ``system:masters`` writes anything. Both backends, kube's words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._raw import request

APIServer = Any
RBAC = "rbac.authorization.k8s.io"
API = f"/apis/{RBAC}/v1"
EVERYTHING = [
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
    {"nonResourceURLs": ["*"], "verbs": ["*"]},
]
ALL_MISSING = (
    '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}'
)


def _role(kind: str, name: str, rules: list[dict[str, Any]], namespace: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": meta, "rules": rules}


def _binding(
    kind: str, name: str, role_kind: str, role: str, user: str, namespace: str = ""
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
        "subjects": [{"apiGroup": RBAC, "kind": "User", "name": user}],
    }


def _grant(server: APIServer, user: str, rules: list[dict[str, Any]]) -> str:
    """A ClusterRole ``<user>-rules`` bound to ``user``; the user's token."""
    server.apply(
        _role("ClusterRole", f"{user}-rules", rules),
        _binding("ClusterRoleBinding", f"{user}-rules", "ClusterRole", f"{user}-rules", user),
    )
    return str(server.add_user(user))


def _escalation(resource: str, name: str, user: str, missing: str) -> str:
    return (
        f'{resource}.{RBAC} "{name}" is forbidden: user "{user}" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
        f"currently held:\n{missing}"
    )


@pytest.fixture(scope="module")
def server(apiserver_class: Callable[..., Any]) -> Iterator[APIServer]:
    with apiserver_class() as s:
        s.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}")
        yield s


@pytest.fixture(scope="module")
def eve(server: APIServer) -> str:
    """May create ClusterRoles and ClusterRoleBindings, and read pods; nothing else."""
    return _grant(
        server,
        "eve",
        [
            {
                "apiGroups": [RBAC],
                "resources": ["clusterroles", "clusterrolebindings"],
                "verbs": ["create"],
            },
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        ],
    )


def _post(server: APIServer, token: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    status, data, _ = request(server, "POST", path, token=token, body=body)
    return status, data


def _refused(status: int, data: Any, message: str) -> None:
    assert status == 403, data
    assert data["reason"] == "Forbidden"
    assert data["message"] == message


def test_create_rights_do_not_make_cluster_admin(server: APIServer, eve: str) -> None:
    status, data = _post(
        server, eve, f"{API}/clusterroles", _role("ClusterRole", "pwn", EVERYTHING)
    )
    _refused(status, data, _escalation("clusterroles", "pwn", "eve", ALL_MISSING))
    status, data = _post(
        server,
        eve,
        f"{API}/clusterrolebindings",
        _binding("ClusterRoleBinding", "pwn", "ClusterRole", "cluster-admin", "eve"),
    )
    _refused(status, data, _escalation("clusterrolebindings", "pwn", "eve", ALL_MISSING))


def test_missing_rules_are_listed_compactly(server: APIServer, eve: str) -> None:
    rules = [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]},
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["a", "b"],
            "verbs": ["get"],
        },
        {"nonResourceURLs": ["/metrics", "/debug/pprof"], "verbs": ["get"]},
    ]
    status, data = _post(server, eve, f"{API}/clusterroles", _role("ClusterRole", "more", rules))
    missing = "\n".join(
        [
            '{APIGroups:[""], Resources:["pods"], Verbs:["watch" "delete"]}',
            '{APIGroups:[""], Resources:["secrets"], ResourceNames:["a"], Verbs:["get"]}',
            '{APIGroups:[""], Resources:["secrets"], ResourceNames:["b"], Verbs:["get"]}',
            '{NonResourceURLs:["/debug/pprof"], Verbs:["get"]}',
            '{NonResourceURLs:["/metrics"], Verbs:["get"]}',
        ]
    )
    _refused(status, data, _escalation("clusterroles", "more", "eve", missing))


def test_rules_held_may_be_granted(server: APIServer, eve: str) -> None:
    reader = _role(
        "ClusterRole", "pod-reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    )
    status, data = _post(server, eve, f"{API}/clusterroles", reader)
    assert status == 201, data
    server.apply(reader)  # settled: the authorizer sees it
    status, data = _post(
        server,
        eve,
        f"{API}/clusterrolebindings",
        _binding("ClusterRoleBinding", "readers", "ClusterRole", "pod-reader", "someone"),
    )
    assert status == 201, data


def test_bind_and_escalate_verbs_allow_what_is_not_held(server: APIServer) -> None:
    token = _grant(
        server,
        "delegate",
        [
            {
                "apiGroups": [RBAC],
                "resources": ["clusterroles", "clusterrolebindings"],
                "verbs": ["create"],
            },
            {
                "apiGroups": [RBAC],
                "resources": ["clusterroles"],
                "resourceNames": ["cluster-admin"],
                "verbs": ["bind"],
            },
        ],
    )
    status, data = _post(
        server,
        token,
        f"{API}/clusterrolebindings",
        _binding("ClusterRoleBinding", "ops-admins", "ClusterRole", "cluster-admin", "ops"),
    )
    assert status == 201, data
    status, data = _post(
        server, token, f"{API}/clusterroles", _role("ClusterRole", "wide", EVERYTHING)
    )
    _refused(status, data, _escalation("clusterroles", "wide", "delegate", ALL_MISSING))
    escalator = _grant(
        server,
        "escalator",
        [{"apiGroups": [RBAC], "resources": ["clusterroles"], "verbs": ["create", "escalate"]}],
    )
    status, data = _post(
        server, escalator, f"{API}/clusterroles", _role("ClusterRole", "wide", EVERYTHING)
    )
    assert status == 201, data


def test_namespace_admin_cannot_bind_cluster_admin(server: APIServer) -> None:
    # Like kube's ``admin``: everything in the namespace, RBAC objects included, but neither
    # ``bind`` nor ``escalate``.
    ns_admin = [
        {"apiGroups": [""], "resources": ["*"], "verbs": ["*"]},
        {
            "apiGroups": [RBAC],
            "resources": ["roles", "rolebindings"],
            "verbs": ["create", "get", "list", "update", "patch", "delete"],
        },
    ]
    server.apply(
        _role("Role", "ns-admin", ns_admin, "team-a"),
        _binding("RoleBinding", "alice-admin", "Role", "ns-admin", "alice", "team-a"),
        _role(
            "ClusterRole",
            "cm-reader",
            [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        ),
    )
    alice = str(server.add_user("alice"))
    path = f"{API}/namespaces/team-a/rolebindings"
    status, data = _post(
        server,
        alice,
        path,
        _binding("RoleBinding", "take-over", "ClusterRole", "cluster-admin", "alice", "team-a"),
    )
    _refused(status, data, _escalation("rolebindings", "take-over", "alice", ALL_MISSING))
    status, data = _post(
        server,
        alice,
        path,
        _binding("RoleBinding", "readers", "ClusterRole", "cm-reader", "bob", "team-a"),
    )
    assert status == 201, data
    status, data = _post(
        server,
        alice,
        f"{API}/namespaces/team-a/roles",
        _role("Role", "core-of-team-a", [{"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}]),
    )
    assert status == 201, data
    status, data = _post(
        server,
        alice,
        f"{API}/namespaces/team-a/roles",
        _role(
            "Role", "apps-of-team-a", [{"apiGroups": ["apps"], "resources": ["*"], "verbs": ["*"]}]
        ),
    )
    _refused(
        status,
        data,
        _escalation(
            "roles", "apps-of-team-a", "alice", '{APIGroups:["apps"], Resources:["*"], Verbs:["*"]}'
        ),
    )


def test_binding_a_missing_role_without_bind_is_not_found(server: APIServer, eve: str) -> None:
    status, data = _post(
        server,
        eve,
        f"{API}/clusterrolebindings",
        _binding("ClusterRoleBinding", "ghostly", "ClusterRole", "no-such-role", "eve"),
    )
    assert status == 404, data
    assert data["reason"] == "NotFound"
    # kube's storage names the missing role after the resource of the request.
    assert data["message"] == f'clusterrolebindings.{RBAC} "no-such-role" not found'


def test_aggregation_rule_needs_full_authority(server: APIServer, eve: str) -> None:
    aggregated = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "gatherer"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]},
        "rules": [],
    }
    status, data = _post(server, eve, f"{API}/clusterroles", aggregated)
    _refused(
        status,
        data,
        f'clusterroles.{RBAC} "gatherer" is forbidden: must have cluster-admin privileges to use '
        "the aggregationRule",
    )


def test_updates_are_checked_but_garbage_collector_fields_are_not(server: APIServer) -> None:
    server.apply(_role("ClusterRole", "big", EVERYTHING))
    token = _grant(
        server,
        "editor",
        [{"apiGroups": [RBAC], "resources": ["clusterroles"], "verbs": ["get", "patch"]}],
    )
    merge = "application/merge-patch+json"
    status, data, _ = request(
        server,
        "PATCH",
        f"{API}/clusterroles/big",
        token=token,
        body={"metadata": {"finalizers": ["example.com/keep"]}},
        content_type=merge,
    )
    assert status == 200, data
    status, data, _ = request(
        server,
        "PATCH",
        f"{API}/clusterroles/big",
        token=token,
        body={"metadata": {"labels": {"touched": "yes"}}},
        content_type=merge,
    )
    _refused(status, data, _escalation("clusterroles", "big", "editor", ALL_MISSING))
    status, data, _ = request(
        server,
        "PATCH",
        f"{API}/clusterroles/big",
        token=server.admin_token,
        body={"metadata": {"finalizers": None}},
        content_type=merge,
    )
    assert status == 200, data


def test_rule_resolution_errors_are_reported(server: APIServer) -> None:
    server.apply(
        _role(
            "ClusterRole",
            "lost-rules",
            [{"apiGroups": [RBAC], "resources": ["clusterroles"], "verbs": ["create"]}],
        ),
        _binding("ClusterRoleBinding", "lost", "ClusterRole", "lost-rules", "lost"),
    )
    # A second binding of the same user to a role nobody created.
    status, data = _post(
        server,
        server.admin_token,
        f"{API}/clusterrolebindings",
        _binding("ClusterRoleBinding", "lost-ghost", "ClusterRole", "ghost", "lost"),
    )
    assert status == 201, data
    token = str(server.add_user("lost"))
    status, data = _post(
        server,
        token,
        f"{API}/clusterroles",
        _role("ClusterRole", "x", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
    )
    _refused(
        status,
        data,
        _escalation(
            "clusterroles", "x", "lost", '{APIGroups:[""], Resources:["pods"], Verbs:["get"]}'
        )
        + f'; resolution errors: [clusterroles.{RBAC} "ghost" not found]',
    )
