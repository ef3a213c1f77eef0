"""The deputy can open a console as a user, and nothing else: locally, and at the server."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Sequence
from typing import Any

import pytest
from kubernetes import client

import constrained_impersonation as ci
from constrained_impersonation import headers
from constrained_impersonation.session import user_identity
from deputy.console import console_path, forwarded_identity, open_session
from deputy.kube import ReviewedUser

from .conftest import CREDENTIAL_ID, DEPUTY_USER, OTHER, VMS, Cluster

ALICE = ReviewedUser(
    "alice",
    "alice-uid",
    ("vm-operators", "system:authenticated"),
    {CREDENTIAL_ID: ("X509SHA256=ab12",), "example.com/tenant": ("blue",)},
)


def _raw(
    cluster: Cluster,
    method: str,
    path: str,
    lines: Sequence[tuple[str, str]] = (),
    body: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """One request with the deputy's token and exactly these header lines (repeats kept)."""
    server = cluster.server
    context = ssl.create_default_context(cafile=server.ca_file)
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
    try:
        conn.putrequest(method, path)
        conn.putheader("Authorization", f"Bearer {cluster.deputy_token}")
        conn.putheader("Accept", "application/json")
        for name, value in lines:
            conn.putheader(name, value.encode())
        payload = json.dumps(body).encode() if body is not None else None
        if payload is not None:
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(payload)))
        conn.endheaders(payload)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def test_the_session_for_one_console_refuses_everything_else_before_sending(
    cluster: Cluster,
) -> None:
    base = cluster.deputy_client()
    host = base.configuration.host
    forwarded = forwarded_identity(ALICE, [CREDENTIAL_ID])
    mark = cluster.mark()
    with open_session(base, forwarded, VMS, "vm1") as session:
        assert session.mode == "user-info"
        assert session.identity.extra == {CREDENTIAL_ID: ("X509SHA256=ab12",)}
        lines = session.prepare_request("GET", host + console_path(VMS, "vm1"))
        assert lines == headers.encode(session.identity)

        for method, path in (
            ("GET", console_path(VMS, "vm2")),  # another VMI
            ("GET", console_path(OTHER, "vm1")),  # another namespace
            ("POST", console_path(VMS, "vm1")),  # another verb
            ("GET", f"/apis/kubevirt.io/v1/namespaces/{VMS}/virtualmachineinstances/vm1"),
            ("GET", f"/api/v1/namespaces/{VMS}/pods"),
            ("GET", f"/api/v1/namespaces/{VMS}/secrets"),
        ):
            with pytest.raises(ci.OutOfScopeError):
                session.prepare_request(method, host + path)

        # The same scope guards the session's REST client.
        with pytest.raises(ci.OutOfScopeError) as refused:
            client.CoreV1Api(session.api_client).list_namespaced_pod(VMS)
        assert (refused.value.verb, refused.value.resource) == ("list", "pods")
        with pytest.raises(ci.OutOfScopeError):
            client.CustomObjectsApi(session.api_client).get_namespaced_custom_object(
                "kubevirt.io", "v1", VMS, "virtualmachineinstances", "vm1"
            )
        with pytest.raises(ci.OutOfScopeError):
            client.CustomObjectsApi(session.api_client).delete_namespaced_custom_object(
                "kubevirt.io", "v1", VMS, "virtualmachineinstances", "vm1"
            )
    assert cluster.events_since(mark) == []  # nothing was sent


def test_forced_requests_with_raw_impersonation_headers_are_refused_by_the_server(
    cluster: Cluster,
) -> None:
    alice = headers.encode(user_identity("alice", groups=["vm-operators"]))
    cases: list[tuple[str, str, list[tuple[str, str]], str]] = [
        # As alice, anything but the console: the action grant is missing.
        ("GET", f"/api/v1/namespaces/{VMS}/pods", alice, "impersonate-on:user-info:list"),
        (
            "GET",
            f"/apis/kubevirt.io/v1/namespaces/{VMS}/virtualmachineinstances/vm1",
            alice,
            "impersonate-on:user-info:get",
        ),
        (
            "DELETE",
            f"/apis/kubevirt.io/v1/namespaces/{VMS}/virtualmachineinstances/vm1",
            alice,
            "impersonate-on:user-info:delete",
        ),
        (
            "GET",
            f"/api/v1/namespaces/{VMS}/secrets",
            alice,
            "impersonate-on:user-info:list",
        ),
        # The console as system:masters: constrained modes refuse it, no legacy grant exists.
        (
            "GET",
            console_path(VMS, "vm1"),
            [("Impersonate-User", "alice"), ("Impersonate-Group", "system:masters")],
            "impersonating the system:masters group is not allowed",
        ),
        # A service account or a node: other modes, none granted.
        (
            "GET",
            console_path(VMS, "vm1"),
            [("Impersonate-User", f"system:serviceaccount:{VMS}:ci-runner")],
            "impersonate-on:serviceaccount:get",
        ),
        (
            "GET",
            console_path(VMS, "vm1"),
            [("Impersonate-User", "system:node:worker-1")],
            "impersonate-on:arbitrary-node:get",
        ),
        # And on its own, the deputy may not even open a console.
        ("GET", console_path(VMS, "vm1"), [], f'User "{DEPUTY_USER}" cannot get resource'),
        ("GET", f"/api/v1/namespaces/{VMS}/pods", [], f'User "{DEPUTY_USER}" cannot list'),
        (
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            [],
            f'User "{DEPUTY_USER}" cannot create',
        ),
    ]
    for method, path, lines, expected in cases:
        status, body = _raw(cluster, method, path, lines)
        assert status == 403, (method, path, lines, body)
        assert expected in body["message"], (method, path, body["message"])
        assert f'User "{DEPUTY_USER}"' in body["message"]


def test_what_the_deputy_needs_is_allowed_at_the_server(cluster: Cluster) -> None:
    """The other side of the same RBAC: the one request the deputy makes gets through
    impersonation (here as alice, who may open the console)."""
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview"}
    status, body = _raw(
        cluster,
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        body={**review, "spec": {"token": cluster.alice}},
    )
    assert status == 201 and body["status"]["user"]["username"] == "alice"
    alice = headers.encode(user_identity("alice", groups=["vm-operators"]))
    status, body = _raw(cluster, "GET", console_path(VMS, "vm1"), alice)
    # Authorized for alice; only the missing websocket upgrade stops it.
    assert status == 400 and "websocket" in body["message"]
