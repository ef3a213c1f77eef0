"""A write that creates needs ``create``, whatever its verb: server-side apply of a missing
object, and a PUT of a missing object where kube creates on update (RBAC objects, events).

The effective user is checked (an impersonated one included). Both backends, kube's words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._raw import request

APIServer = Any
RBAC = "rbac.authorization.k8s.io"
APPLY = "application/apply-patch+yaml"


def _grant(server: APIServer, user: str, rules: list[dict[str, Any]]) -> str:
    server.apply(
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"{user}-rules"},
            "rules": rules,
        },
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{user}-rules"},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": f"{user}-rules"},
            "subjects": [{"apiGroup": RBAC, "kind": "User", "name": user}],
        },
    )
    return str(server.add_user(user))


@pytest.fixture(scope="module")
def server(apiserver_class: Callable[..., Any]) -> Iterator[APIServer]:
    with apiserver_class() as s:
        s.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: existing, namespace: default}")
        yield s


def _configmap(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"k": "v"},
    }


def _apply(
    server: APIServer, token: str, name: str, headers: list[tuple[str, str]] | None = None
) -> tuple[int, Any]:
    status, data, _ = request(
        server,
        "PATCH",
        f"/api/v1/namespaces/default/configmaps/{name}?fieldManager=test",
        token=token,
        headers=headers or [],
        body=_configmap(name),
        content_type=APPLY,
    )
    return status, data


def _cannot_create(data: Any, user: str, name: str) -> None:
    assert data["reason"] == "Forbidden", data
    assert data["message"] == (
        f'configmaps "{name}" is forbidden: User "{user}" cannot create resource "configmaps" '
        'in API group "" in the namespace "default"'
    )


def test_apply_that_creates_needs_create(server: APIServer) -> None:
    token = _grant(
        server, "patcher", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch"]}]
    )
    status, data = _apply(server, token, "new")
    assert status == 403, data
    _cannot_create(data, "patcher", "new")
    status, data, _ = request(
        server, "GET", "/api/v1/namespaces/default/configmaps/new", token=server.admin_token
    )
    assert status == 404, data
    status, data = _apply(server, token, "existing")
    assert status == 200, data
    assert data["data"] == {"k": "v"}
    # Other patch types never create.
    status, data, _ = request(
        server,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/other",
        token=token,
        body={"data": {"k": "v"}},
        content_type="application/merge-patch+json",
    )
    assert status == 404, data
    assert data["message"] == 'configmaps "other" not found'


def test_apply_creates_with_create(server: APIServer) -> None:
    token = _grant(
        server,
        "creator",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch", "create"]}],
    )
    status, data = _apply(server, token, "made")
    assert status == 201, data


def test_create_is_checked_for_the_impersonated_user(server: APIServer) -> None:
    _grant(
        server,
        "deputy-target",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch"]}],
    )
    deputy = _grant(
        server,
        "deputy",
        [
            {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch", "create"]},
        ],
    )
    status, data = _apply(
        server, deputy, "by-deputy", headers=[("Impersonate-User", "deputy-target")]
    )
    assert status == 403, data
    _cannot_create(data, "deputy-target", "by-deputy")


def test_put_that_creates_needs_create(server: APIServer) -> None:
    token = _grant(
        server,
        "updater",
        [
            {
                "apiGroups": [RBAC, ""],
                "resources": ["clusterroles", "configmaps"],
                "verbs": ["update"],
            }
        ],
    )
    role = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "put-made"},
        "rules": [],
    }
    status, data, _ = request(
        server, "PUT", f"/apis/{RBAC}/v1/clusterroles/put-made", token=token, body=role
    )
    assert status == 403, data
    assert data["reason"] == "Forbidden"
    assert data["message"] == (
        f'clusterroles.{RBAC} "put-made" is forbidden: User "updater" cannot create resource '
        f'"clusterroles" in API group "{RBAC}" at the cluster scope'
    )
    # ConfigMaps are never created by PUT.
    status, data, _ = request(
        server,
        "PUT",
        "/api/v1/namespaces/default/configmaps/put-made",
        token=token,
        body=_configmap("put-made"),
    )
    assert status == 404, data
    assert data["message"] == 'configmaps "put-made" not found'
    # With create, a PUT of a missing ClusterRole creates it (201).
    status, data, _ = request(
        server, "PUT", f"/apis/{RBAC}/v1/clusterroles/put-made", token=server.admin_token, body=role
    )
    assert status == 201, data
