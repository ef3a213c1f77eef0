"""Server-side apply and the other write paths against what the caller may change.

Guards (both backends answer alike, and must keep doing so): status never changes through the
main resource, a status/ephemeralcontainers/resize writer changes nothing else of the pod,
managedFields cannot be forged through apply, field managers are validated, an apply cannot
land in another namespace, name or kind, and every patch type (apply with force and dry run
included) meets RBAC's escalation checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ._attack import APPLY, JSON_PATCH, MERGE, RBAC, STRATEGIC, Server, call, user_with

POD = "/api/v1/namespaces/default/pods/web"


@pytest.fixture
def server(apiserver: Server) -> Iterator[Server]:
    apiserver.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default, labels: {app: web}}"
        "\nspec: {containers: [{name: c, image: nginx}]}"
    )
    yield apiserver


def _pod(server: Server) -> dict[str, Any]:
    status, body = call(server, "GET", POD)
    assert status == 200, body
    return dict(body)


def test_status_does_not_change_through_the_main_resource(server: Server) -> None:
    token = user_with(
        server, "writer", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]}]
    )
    forged = {"phase": "Running", "podIP": "10.9.9.9"}
    apply = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "status": forged}
    for body, content_type in ((apply, APPLY), ({"status": forged}, MERGE)):
        status, answer = call(
            server, "PATCH", f"{POD}?fieldManager=w", body, token=token, content_type=content_type
        )
        assert status == 200, answer
        assert answer["status"].get("phase") == "Pending"
        assert "podIP" not in answer["status"]


@pytest.mark.parametrize("sub", ["status", "ephemeralcontainers", "resize"])
def test_a_pod_subresource_writes_only_its_part(server: Server, sub: str) -> None:
    token = user_with(
        server,
        f"{sub}-writer",
        [{"apiGroups": [""], "resources": [f"pods/{sub}"], "verbs": ["patch"]}],
    )
    before = _pod(server)
    patch = {
        "spec": {
            "containers": [{"name": "c", "image": "evil", "securityContext": {"privileged": True}}],
            "hostPID": True,
            "activeDeadlineSeconds": 5,
        }
    }
    status, body = call(server, "PATCH", f"{POD}/{sub}", patch, token=token, content_type=STRATEGIC)
    assert status == 200, body
    after = _pod(server)
    assert after["spec"]["containers"][0]["image"] == "nginx"
    assert "securityContext" not in after["spec"]["containers"][0]
    assert "hostPID" not in after["spec"]
    assert "activeDeadlineSeconds" not in after["spec"]
    assert after["metadata"]["labels"] == before["metadata"]["labels"]


def test_managed_fields_cannot_be_forged_through_apply(server: Server) -> None:
    token = user_with(
        server,
        "applier",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch", "create"]}],
    )
    forged = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "cm",
            "managedFields": [
                {
                    "manager": "kube-controller-manager",
                    "operation": "Apply",
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:x": {}}},
                }
            ],
        },
        "data": {"x": "1"},
    }
    status, body = call(
        server,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cm?fieldManager=me",
        forged,
        token=token,
        content_type=APPLY,
    )
    assert status == 400, body
    assert body["message"] == "metadata.managedFields must be nil"


@pytest.mark.parametrize(
    ("manager", "shown"),
    [
        ("a%0Ab", '"a\\nb": invalid character U+000A'),
        ("a%00b", '"a\\x00b": invalid character U+0000'),
        ("a%E2%80%AEb", '"a\\u202eb": invalid character U+202E'),
    ],
)
def test_field_managers_cannot_carry_control_characters(
    server: Server, manager: str, shown: str
) -> None:
    status, body = call(
        server,
        "PATCH",
        f"{POD}?fieldManager={manager}",
        {"metadata": {"labels": {"x": "y"}}},
        content_type=MERGE,
    )
    assert status == 422, body
    assert body["message"].startswith(
        f'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: {shown}'
    )
    status, body = call(
        server, "PATCH", f"{POD}?fieldManager={'a' * 129}", {"metadata": {}}, content_type=MERGE
    )
    assert status == 422, body
    assert body["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than '
        "128 bytes"
    )


@pytest.mark.parametrize(
    ("path", "metadata", "message"),
    [
        (
            "configmaps/a",
            {"name": "a", "namespace": "kube-system"},
            "the namespace of the provided object does not match the namespace sent on the request",
        ),
        (
            "configmaps/a",
            {"name": "b"},
            "the name of the object (b) does not match the name on the URL (a)",
        ),
    ],
)
def test_an_apply_lands_where_its_url_says(
    server: Server, path: str, metadata: dict[str, str], message: str
) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
    status, answer = call(
        server,
        "PATCH",
        f"/api/v1/namespaces/default/{path}?fieldManager=me",
        body,
        content_type=APPLY,
    )
    assert status == 400, answer
    assert answer["message"] == message
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}}
    status, answer = call(
        server,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/a?fieldManager=me",
        secret,
        content_type=APPLY,
    )
    assert status == 400, answer
    assert answer["message"] == "invalid object type: /v1, Kind=Secret"


EVERYTHING = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]


def test_every_patch_type_meets_escalation_checks(server: Server) -> None:
    token = user_with(
        server,
        "rbac-writer",
        [
            {
                "apiGroups": [RBAC],
                "resources": ["clusterroles", "clusterrolebindings"],
                "verbs": ["create", "get", "update", "patch"],
            },
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
        ],
    )
    small = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "small"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
    }
    assert call(server, "POST", f"/apis/{RBAC}/v1/clusterroles", small, token=token)[0] == 201
    role = f"/apis/{RBAC}/v1/clusterroles/small"
    grown = {**small, "rules": EVERYTHING}
    attempts: list[tuple[str, Any, str]] = [
        ("", {"rules": EVERYTHING}, MERGE),
        ("", {"rules": EVERYTHING}, STRATEGIC),
        ("", [{"op": "replace", "path": "/rules", "value": EVERYTHING}], JSON_PATCH),
        ("?fieldManager=me&force=true", grown, APPLY),
        ("?fieldManager=me&force=true&dryRun=All", grown, APPLY),
    ]
    for query, body, content_type in attempts:
        status, answer = call(
            server, "PATCH", role + query, body, token=token, content_type=content_type
        )
        assert status == 403, (content_type, answer)
        assert "is attempting to grant RBAC permissions not currently held" in answer["message"]
    status, answer = call(
        server,
        "PATCH",
        role,
        {"aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {}}]}},
        token=token,
        content_type=MERGE,
    )
    assert status == 403, answer
    assert answer["message"] == (
        'clusterroles.rbac.authorization.k8s.io "small" is forbidden: must have cluster-admin '
        "privileges to use the aggregationRule"
    )
    binding = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "mine"},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": RBAC, "kind": "User", "name": "rbac-writer"}],
    }
    for method, path, content_type in (
        ("PATCH", f"/apis/{RBAC}/v1/clusterrolebindings/mine?fieldManager=me", APPLY),
        ("PUT", f"/apis/{RBAC}/v1/clusterrolebindings/mine", "application/json"),
        ("POST", f"/apis/{RBAC}/v1/clusterrolebindings?dryRun=All", "application/json"),
    ):
        status, answer = call(server, method, path, binding, token=token, content_type=content_type)
        assert status == 403, (method, answer)
    status, answer = call(server, "GET", "/api/v1/secrets", token=token)
    assert status == 403, answer
