"""Security properties users rely on (docs/security.md), each asserted against the real thing."""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client

import constrained_impersonation as ci


def _scenario(server: Any) -> list[str]:
    """Exercise tokens of every kind (static, service-account, bound) and return them."""
    server.apply(
        """
apiVersion: v1
kind: ServiceAccount
metadata: {name: bot, namespace: default}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
spec: {serviceAccountName: bot, nodeName: n1, containers: [{name: c, image: x}]}
"""
    )
    user_token = server.add_user("alice", groups=["dev"])
    sa_token = server.token_for("default", "bot", pod="p")
    tokens = [server.admin_token, user_token, sa_token]
    for token in tokens:
        api = server.api_client(token)
        with contextlib.suppress(client.ApiException):
            client.CoreV1Api(api).list_namespaced_pod("default")
        # A TokenReview carries the token in its body; the audit log must still not.
        review = client.AuthenticationV1Api(server.api_client()).create_token_review(
            client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token))
        )
        assert review.status.authenticated
    client.CoreV1Api(server.api_client("not-a-real-token-123456")).api_client.close()
    return tokens


def test_tokens_never_reach_audit_metrics_or_logs(
    apiserver_class: Callable[..., Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    audit_log = tmp_path / "audit.log"
    with apiserver_class(audit_log_path=audit_log) as server:
        tokens = _scenario(server)
        bad = "definitely-wrong-token-abcdef"
        with pytest.raises(client.ApiException) as err:
            client.CoreV1Api(server.api_client(bad)).list_namespace()
        assert err.value.status == 401
        assert bad not in str(err.value)
        metrics = server.metrics_text()
        events = str(server.audit_events())
    text = audit_log.read_text() + metrics + events + caplog.text
    for token in [*tokens, bad]:
        assert token not in text
        # JWTs: not even the signature part.
        assert token.rsplit(".", 1)[-1] not in text


def test_tls_verification_is_on_by_default_everywhere(
    apiserver: Any, apiserver_class: Callable[..., Any]
) -> None:
    server = apiserver
    # Another server's CA: every server makes its own when constructed (no need to start it).
    other = apiserver_class()
    try:
        # The official client, configured by the harness, verifies against the server's CA.
        api = server.api_client()
        assert api.configuration.verify_ssl is True
        # A client trusting another server's CA refuses this one: no silent fallback.
        wrong = server.api_client()
        wrong.configuration.ssl_ca_cert = other.ca_file
        strict = client.ApiClient(wrong.configuration)
        with pytest.raises(
            (
                urllib3.exceptions.MaxRetryError,
                urllib3.exceptions.SSLError,
                ssl.SSLError,
                client.ApiException,
            )
        ):
            client.CoreV1Api(strict).list_namespace(_request_timeout=5)
        # Kubeconfigs carry the CA, never insecure-skip-tls-verify.
        assert "insecure-skip-tls-verify" not in Path(server.kubeconfig()).read_text()
    finally:
        other.close()


def test_a_refused_constrained_session_never_falls_back_to_the_requestor(apiserver: Any) -> None:
    server = apiserver
    # The requestor itself may list pods, but may not impersonate anyone.
    server.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "c-view"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "controller"}
            ],
        }
    )
    api = server.api_client(server.add_user("controller"))
    scope = ci.Scope(ci.Rule(verbs=["list"], resources=["pods"], namespaces=["default"]))
    with (
        ci.UserSession(api, user="alice", scope=scope) as session,
        pytest.raises(ci.ImpersonationDenied),
    ):
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    mine = [e for e in server.audit_events() if e["user"].get("username") == "controller"]
    assert mine, "the refused request is audited"
    assert all(e["responseStatus"]["code"] == 403 for e in mine)
    assert all("impersonate" in e["responseStatus"]["message"] for e in mine)
