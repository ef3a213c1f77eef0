"""Attacks through CustomResourceDefinitions, each answered as kube-apiserver v1.37.2 answers.

A CRD may name any group that passes validation, even a built-in one once it carries the
``api-approved.kubernetes.io`` annotation. kube never serves such a CRD (its own handlers own
every path of a built-in group) and keeps its objects apart (a custom resource's storage key
holds its group). An embedded server that let a CRD replace a built-in resource would let it
take over the CRD API (no more CRD validation), TokenReviews, or RBAC objects written without
escalation checks and read by the authorizer; deleting such a CRD would delete the built-in
objects. Custom resources also get no way around RBAC through their status and scale
subresources, and their names cannot reach other paths.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ._attack import (
    CRDS,
    MERGE,
    RBAC,
    Server,
    call,
    crd,
    create_crd,
    user_with,
    wait_for,
)

APPROVED = {"api-approved.kubernetes.io": "https://github.com/kubernetes/kubernetes/pull/1"}
NOT_FOUND = "the server could not find the requested resource"


@pytest.fixture
def server(apiserver: Server) -> Iterator[Server]:
    yield apiserver


def test_a_crd_cannot_take_over_the_crd_api(server: Server) -> None:
    create_crd(
        server,
        crd(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            scope="Cluster",
            annotations=APPROVED,
        ),
    )
    # CRDs are still validated by apiextensions: a protected group needs the annotation ...
    status, body = call(server, "POST", CRDS, crd("x.k8s.io", "things", "Thing"))
    assert status == 422, body
    assert body["message"] == (
        'CustomResourceDefinition.apiextensions.k8s.io "things.x.k8s.io" is invalid: '
        "metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups "
        'must have approval annotation "api-approved.kubernetes.io", see '
        "https://github.com/kubernetes/enhancements/pull/1111"
    )
    # ... and a group needs a dot.
    status, body = call(server, "POST", CRDS, crd("policy", "evictions", "Eviction"))
    assert status == 422, body
    assert (
        'spec.group: Invalid value: "policy": should be a domain with at least one dot'
        in (body["message"])
    )


def test_a_crd_cannot_replace_a_builtin_review(server: Server) -> None:
    create_crd(
        server,
        crd(
            "authentication.k8s.io",
            "tokenreviews",
            "TokenReview",
            scope="Cluster",
            annotations=APPROVED,
        ),
    )
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": "not-a-token"},
    }
    status, body = call(server, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
    assert status == 201, body
    assert body["kind"] == "TokenReview"
    assert not body["status"].get("authenticated")
    status, body = call(server, "GET", "/apis/authentication.k8s.io/v1/tokenreviews")
    assert status == 405, body  # the built-in (create only), not a custom resource's list


def test_a_crd_in_the_rbac_group_grants_nothing(server: Server) -> None:
    """Roles and bindings written through a CRD in rbac.authorization.k8s.io (another
    version) are never served, so they neither skip escalation checks nor reach RBAC."""
    for plural, kind in (("roles", "Role"), ("rolebindings", "RoleBinding")):
        create_crd(server, crd(RBAC, plural, kind, version="v9", annotations=APPROVED))
    token = user_with(
        server,
        "eve",
        [{"apiGroups": [RBAC], "resources": ["roles", "rolebindings"], "verbs": ["create"]}],
    )
    role = {
        "apiVersion": f"{RBAC}/v9",
        "kind": "Role",
        "metadata": {"name": "pwn"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    }
    binding = {
        "apiVersion": f"{RBAC}/v9",
        "kind": "RoleBinding",
        "metadata": {"name": "pwn"},
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "pwn"},
        "subjects": [{"apiGroup": RBAC, "kind": "User", "name": "eve"}],
    }
    for plural, obj in (("roles", role), ("rolebindings", binding)):
        status, body = call(
            server, "POST", f"/apis/{RBAC}/v9/namespaces/default/{plural}", obj, token=token
        )
        assert status == 404, body
        assert body["message"] == NOT_FOUND
        status, body = call(server, "GET", f"/apis/{RBAC}/v1/namespaces/default/{plural}/pwn")
        assert status == 404, body
    time.sleep(0.5)  # what RBAC would read had anything been written
    status, body = call(server, "GET", "/api/v1/namespaces/default/secrets", token=token)
    assert status == 403, body


def test_deleting_a_crd_in_a_builtin_group_keeps_the_builtin_objects(server: Server) -> None:
    server.apply(
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "Role",
            "metadata": {"name": "keep", "namespace": "default"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        }
    )
    name = f"roles.{RBAC}"
    create_crd(server, crd(RBAC, "roles", "Role", annotations=APPROVED))
    status, body = call(server, "DELETE", f"{CRDS}/{name}")
    assert status == 200, body
    wait_for(lambda: call(server, "GET", f"{CRDS}/{name}")[0] == 404, "the CRD to go")
    status, body = call(server, "GET", f"/apis/{RBAC}/v1/namespaces/default/roles/keep")
    assert status == 200, body
    assert body["rules"][0]["resources"] == ["configmaps"]


def _gadgets(server: Server) -> str:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"replicas": {"type": "integer"}, "v": {"type": "string"}},
            },
            "status": {
                "type": "object",
                "properties": {"replicas": {"type": "integer"}, "ok": {"type": "boolean"}},
            },
        },
    }
    create_crd(
        server,
        crd(
            "example.com",
            "gadgets",
            "Gadget",
            schema=schema,
            subresources={
                "status": {},
                "scale": {
                    "specReplicasPath": ".spec.replicas",
                    "statusReplicasPath": ".status.replicas",
                },
            },
        ),
    )
    path = "/apis/example.com/v1/namespaces/default/gadgets"
    gadget = {
        "apiVersion": "example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": "g"},
        "spec": {"replicas": 1, "v": "a"},
    }
    status, body = call(server, "POST", path, gadget)
    assert status == 201, body
    return path


def test_custom_resource_subresources_need_their_own_grant(server: Server) -> None:
    path = _gadgets(server)
    token = user_with(
        server,
        "writer",
        [{"apiGroups": ["example.com"], "resources": ["gadgets"], "verbs": ["get", "patch"]}],
    )
    for sub, patch in (("status", {"status": {"ok": True}}), ("scale", {"spec": {"replicas": 9}})):
        status, body = call(
            server, "PATCH", f"{path}/g/{sub}", patch, token=token, content_type=MERGE
        )
        assert status == 403, body
        assert body["message"] == (
            f'gadgets.example.com "g" is forbidden: User "writer" cannot patch resource '
            f'"gadgets/{sub}" in API group "example.com" in the namespace "default"'
        )
    # The main resource ignores status when the status subresource is enabled.
    status, body = call(
        server,
        "PATCH",
        f"{path}/g",
        {"status": {"ok": True}, "spec": {"v": "b"}},
        token=token,
        content_type=MERGE,
    )
    assert status == 200, body
    assert "status" not in body
    assert body["spec"] == {"replicas": 1, "v": "b"}


def test_status_and_scale_writers_change_nothing_else(server: Server) -> None:
    path = _gadgets(server)
    status_writer = user_with(
        server,
        "status-writer",
        [{"apiGroups": ["example.com"], "resources": ["gadgets/status"], "verbs": ["patch"]}],
    )
    status, body = call(
        server,
        "PATCH",
        f"{path}/g/status",
        {
            "metadata": {"labels": {"x": "y"}, "finalizers": ["example.com/hold"]},
            "spec": {"v": "evil"},
            "status": {"ok": True},
        },
        token=status_writer,
        content_type=MERGE,
    )
    assert status == 200, body
    assert body["status"] == {"ok": True}
    assert body["spec"] == {"replicas": 1, "v": "a"}
    assert "labels" not in body["metadata"]
    assert "finalizers" not in body["metadata"]
    scaler = user_with(
        server,
        "scaler",
        [{"apiGroups": ["example.com"], "resources": ["gadgets/scale"], "verbs": ["patch"]}],
    )
    status, body = call(
        server,
        "PATCH",
        f"{path}/g/scale",
        {"metadata": {"labels": {"x": "y"}}, "spec": {"replicas": 3}},
        token=scaler,
        content_type=MERGE,
    )
    assert status == 200, body
    status, body = call(server, "GET", f"{path}/g")
    assert body["spec"] == {"replicas": 3, "v": "a"}
    assert "labels" not in body["metadata"]


@pytest.mark.parametrize("name", ["a/b", "..", "a%2Fb", "A"])
def test_custom_resource_names_cannot_be_paths(server: Server, name: str) -> None:
    path = _gadgets(server)
    gadget = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": name}}
    status, body = call(server, "POST", path, gadget)
    assert status == 422, body
    assert body["message"].startswith(
        f'Gadget.example.com "{name}" is invalid: metadata.name: Invalid value: "{name}": '
        "a lowercase RFC 1123 subdomain must consist of"
    )


def test_deleting_a_crd_ends_its_watches(server: Server) -> None:
    """kube destroys a deleted CRD's storage, which ends its watches: a watcher authorized
    for the old resource hears nothing of a CRD created later under the same name."""
    path = _gadgets(server)
    ended: list[float] = []

    def watch() -> None:
        call(server, "GET", f"{path}?watch=1&timeoutSeconds=30", timeout=60)
        ended.append(time.monotonic())

    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(1.0)  # the watch is open
    started = time.monotonic()
    status, body = call(server, "DELETE", f"{CRDS}/gadgets.example.com")
    assert status == 200, body
    watcher.join(timeout=20)
    assert ended, "the watch outlived its CRD"
    assert ended[0] - started < 15


def test_validation_rules_of_a_crd_are_enforced(server: Server) -> None:
    """A CRD author's ``x-kubernetes-validations`` (CEL) are the custom resource's security
    invariants (an owner that never changes, a value never allowed): kube refuses writes
    that break them."""
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [
                    {"rule": "self.owner == oldSelf.owner", "message": "owner is immutable"},
                    {"rule": "self.owner != 'root'"},
                ],
                "properties": {"owner": {"type": "string"}},
            }
        },
    }
    create_crd(server, crd("example.com", "things", "Thing", schema=schema))
    path = "/apis/example.com/v1/namespaces/default/things"

    def thing(name: str, owner: str) -> dict[str, Any]:
        return {
            "apiVersion": "example.com/v1",
            "kind": "Thing",
            "metadata": {"name": name},
            "spec": {"owner": owner},
        }

    status, body = call(server, "POST", path, thing("a", "alice"))
    assert status == 201, body
    status, body = call(server, "POST", path, thing("r", "root"))
    assert status == 422, body
    assert body["message"] == (
        "Thing.example.com \"r\" is invalid: spec: Invalid value: failed rule: self.owner != 'root'"
    )
    status, body = call(
        server, "PATCH", f"{path}/a", {"spec": {"owner": "mallory"}}, content_type=MERGE
    )
    assert status == 422, body
    assert body["message"] == (
        'Thing.example.com "a" is invalid: spec: Invalid value: owner is immutable'
    )
