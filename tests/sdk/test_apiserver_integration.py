"""Sessions against an API server over real HTTPS: what the server sees and audits.

The server is the one ``--apiserver`` picks (embedded or a real kube-apiserver), one per module.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

import constrained_impersonation as ci
from constrained_impersonation.retry import RetryPolicy

AUTHN = "authentication.k8s.io"
RBAC = "rbac.authorization.k8s.io"
SCOPES_KEY = "example.com/scopes"
SCOPE = ci.Scope(
    ci.Rule(verbs=["create"], resources=["selfsubjectreviews"], group=AUTHN),
    ci.Rule(verbs=["list"], resources=["pods"], namespaces=["default"]),
    # The Python client asks for "/version/" (trailing slash), as kube's RBAC anticipates.
    ci.NonResourceRule(verbs=["get"], paths=["/version", "/version/"]),
)


def _cluster_role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    }


def _cluster_binding(name: str, user: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": RBAC, "kind": "User", "name": user}],
    }


@pytest.fixture(scope="module")
def server(apiserver_class: Callable[..., Any]) -> Iterator[Any]:
    with apiserver_class() as running:
        # The deputy may impersonate alice with exactly these groups and extras (user-info),
        # and act as her only to create SelfSubjectReviews and list pods in "default".
        running.apply(
            _cluster_role(
                "deputy",
                [
                    {
                        "apiGroups": [AUTHN],
                        "resources": ["users"],
                        "verbs": ["impersonate:user-info"],
                        "resourceNames": ["alice"],
                    },
                    {
                        "apiGroups": [AUTHN],
                        "resources": ["groups"],
                        "verbs": ["impersonate:user-info"],
                        "resourceNames": ["dev", "ops,qa"],
                    },
                    {
                        "apiGroups": [AUTHN],
                        "resources": [f"userextras/{SCOPES_KEY}"],
                        "verbs": ["impersonate:user-info"],
                        "resourceNames": ["view", "edit"],
                    },
                    {
                        "apiGroups": [AUTHN],
                        "resources": ["selfsubjectreviews"],
                        "verbs": ["impersonate-on:user-info:create"],
                    },
                    {
                        "apiGroups": [""],
                        "resources": ["pods"],
                        "verbs": ["impersonate-on:user-info:list"],
                    },
                    {
                        "nonResourceURLs": ["/version", "/version/"],
                        "verbs": ["impersonate-on:user-info:get"],
                    },
                ],
            ),
            _cluster_binding("deputy", "deputy"),
        )
        running.deputy_token = running.add_user("deputy")
        yield running


@pytest.fixture
def deputy(server: Any) -> Iterator[Any]:
    api = server.api_client(server.deputy_token)
    yield api
    api.close()


def _alice(deputy: Any, **kwargs: Any) -> ci.UserSession:
    return ci.UserSession(
        deputy,
        user="alice",
        groups=["dev", "ops,qa"],
        extra={SCOPES_KEY: ["view", "edit"]},
        scope=SCOPE,
        **kwargs,
    )


def _events_by(server: Any, user: str) -> list[dict[str, Any]]:
    return [e for e in server.audit_events() if e.get("user", {}).get("username") == user]


def test_user_session_reaches_the_server_as_exactly_the_requested_identity(
    server: Any, deputy: Any
) -> None:
    with _alice(deputy) as session:
        review = client.AuthenticationV1Api(session.api_client).create_self_subject_review(
            client.V1SelfSubjectReview()
        )
    info = review.status.user_info
    assert info.username == "alice"
    assert info.groups == ["dev", "ops,qa", "system:authenticated"]
    assert info.extra == {SCOPES_KEY: ["view", "edit"]}

    (event,) = [
        e
        for e in _events_by(server, "deputy")
        if e.get("objectRef", {}).get("resource") == "selfsubjectreviews"
    ]
    assert event["impersonatedUser"]["username"] == "alice"
    assert event["impersonatedUser"]["groups"] == ["dev", "ops,qa", "system:authenticated"]
    assert event["impersonatedUser"]["extra"] == {SCOPES_KEY: ["view", "edit"]}
    assert event["authenticationMetadata"]["impersonationConstraint"] == "impersonate:user-info"
    assert event["responseStatus"]["code"] == 201


def test_out_of_scope_request_never_reaches_the_server(server: Any, deputy: Any) -> None:
    with _alice(deputy) as session:
        core = client.CoreV1Api(session.api_client)
        with pytest.raises(ci.OutOfScopeError):
            core.list_namespaced_secret("default")
        with pytest.raises(ci.OutOfScopeError):
            core.list_namespaced_pod("kube-system")
    events = _events_by(server, "deputy")
    assert [e for e in events if e.get("objectRef", {}).get("resource") == "secrets"] == []
    assert [e for e in events if e.get("objectRef", {}).get("namespace") == "kube-system"] == []


def test_downstream_403_names_the_impersonated_user(server: Any, deputy: Any) -> None:
    # The deputy may impersonate alice for listing pods, but alice cannot list pods.
    with _alice(deputy) as session, pytest.raises(ApiException) as caught:
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    assert caught.value.status == 403
    assert not isinstance(caught.value, ci.ImpersonationDenied)
    assert ci.explain_forbidden(caught.value.body) is None
    assert 'User "alice" cannot list' in json.loads(caught.value.body)["message"]


def test_missing_target_grant_is_an_actionable_impersonation_denied(
    server: Any, deputy: Any
) -> None:
    session = ci.UserSession(deputy, user="bob", scope=SCOPE)
    with pytest.raises(ci.ImpersonationDenied) as caught:
        client.AuthenticationV1Api(session.api_client).create_self_subject_review(
            client.V1SelfSubjectReview()
        )
    denied = caught.value
    assert denied.requestor == "deputy"
    assert denied.mode == "user-info"
    assert denied.verb == "impersonate:user-info"
    assert denied.rule == {
        "apiGroups": [AUTHN],
        "resources": ["users"],
        "verbs": ["impersonate:user-info"],
        "resourceNames": ["bob"],
    }
    assert "ClusterRole" in str(denied)


def test_missing_action_grant_is_reported_with_a_role(server: Any, deputy: Any) -> None:
    scope = ci.Scope(ci.Rule(verbs=["list"], resources=["configmaps"], namespaces=["default"]))
    session = ci.UserSession(deputy, user="alice", scope=scope)
    with pytest.raises(ci.ImpersonationDenied) as caught:
        client.CoreV1Api(session.api_client).list_namespaced_config_map("default")
    denied = caught.value
    assert denied.verb == "impersonate-on:user-info:list"
    assert (denied.role_kind, denied.role_namespace) == ("Role", "default")


@pytest.mark.embedded_only("faults")
def test_retries_a_429_from_the_server_for_reads_only(server: Any, deputy: Any) -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=4, sleep=sleeps.append)
    with _alice(deputy, retry=policy) as session:
        server.faults.fail_next(2, 429, retry_after=1, path_prefix="/version")
        version = client.VersionApi(session.api_client).get_code()
        assert version.git_version
        assert sleeps == [1.0, 1.0]
        server.faults.fail_next(1, 429, retry_after=1, path_prefix="/apis/authentication.k8s.io")
        with pytest.raises(ApiException) as caught:
            client.AuthenticationV1Api(session.api_client).create_self_subject_review(
                client.V1SelfSubjectReview()
            )
    assert caught.value.status == 429  # a create is not replayed once the server answered
    assert sleeps == [1.0, 1.0]


def test_async_session_against_the_server(server: Any) -> None:
    from kubernetes.aio import client as aclient

    from constrained_impersonation import aio

    async def main() -> Any:
        cfg = aclient.Configuration()
        cfg.host = server.url
        cfg.ssl_ca_cert = server.ca_file
        cfg.api_key["BearerToken"] = server.deputy_token
        cfg.api_key_prefix["BearerToken"] = "Bearer"
        async with aclient.ApiClient(cfg) as base:
            session = aio.UserSession(
                base,
                user="alice",
                groups=["dev", "ops,qa"],
                extra={SCOPES_KEY: ["view", "edit"]},
                scope=SCOPE,
            )
            return await aclient.AuthenticationV1Api(session.api_client).create_self_subject_review(
                aclient.V1SelfSubjectReview()
            )

    review = asyncio.run(main())
    assert review.status.user_info.groups == ["dev", "ops,qa", "system:authenticated"]
    assert review.status.user_info.extra == {SCOPES_KEY: ["view", "edit"]}


# --------------------------------------------------------------------------- story 1


def _pod(name: str, namespace: str, node: str, sa: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "nodeName": node,
            "serviceAccountName": sa,
            "containers": [{"name": "c", "image": "registry.example/app:1.0"}],
        },
    }


@pytest.fixture(scope="module")
def node_agent(server: Any) -> str:
    """Story 1: a DaemonSet pod on worker-1 with the associated-node grants; its token."""
    server.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "node-agents"}},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "node-agent", "namespace": "node-agents"},
        },
        _cluster_role(
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
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "node-agent"},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "node-agent"},
            "subjects": [
                {"kind": "ServiceAccount", "name": "node-agent", "namespace": "node-agents"}
            ],
        },
        _pod("agent-1", "node-agents", "worker-1", sa="node-agent"),
        _pod("web-1", "default", "worker-1"),
        _pod("web-2", "default", "worker-2"),
    )
    token: str = server.token_for("node-agents", "node-agent", pod="agent-1")
    return token


@pytest.fixture
def in_pod(server: Any, node_agent: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment the kubelet gives the agent's container."""
    sa_dir = tmp_path / "serviceaccount"
    sa_dir.mkdir()
    (sa_dir / "token").write_text(node_agent)
    (sa_dir / "ca.crt").write_bytes(Path(server.ca_file).read_bytes())
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
    monkeypatch.setenv("CIMP_SERVICEACCOUNT_DIR", str(sa_dir))
    monkeypatch.setenv("NODE_NAME", "worker-1")


NODE_SCOPE = ci.Scope(ci.Rule(verbs=["list", "watch"], resources=["pods"]))


def test_node_agent_lists_pods_of_its_own_node_through_associated_node(
    server: Any, in_pod: None
) -> None:
    from kubernetes import watch

    with ci.NodeSession.from_downward_api(NODE_SCOPE) as session:
        core = client.CoreV1Api(session.api_client)
        pods = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=worker-1")
        assert sorted(p.metadata.name for p in pods.items) == ["agent-1", "web-1"]
        seen = {
            event["object"].metadata.name
            for event in watch.Watch().stream(
                core.list_pod_for_all_namespaces,
                field_selector="spec.nodeName=worker-1",
                timeout_seconds=1,
            )
        }
        assert seen == {"agent-1", "web-1"}
        # The Node authorizer (not the impersonation) refuses an unfiltered list.
        with pytest.raises(ApiException) as caught:
            core.list_pod_for_all_namespaces()
        assert caught.value.status == 403
        assert not isinstance(caught.value, ci.ImpersonationDenied)

    events = [
        e
        for e in _events_by(server, "system:serviceaccount:node-agents:node-agent")
        if e.get("stage") == "ResponseComplete" and e["responseStatus"]["code"] == 200
    ]
    assert events
    for event in events:
        assert event["impersonatedUser"]["username"] == "system:node:worker-1"
        assert event["impersonatedUser"]["groups"] == ["system:nodes", "system:authenticated"]
        constraint = event["authenticationMetadata"]["impersonationConstraint"]
        assert constraint == "impersonate:associated-node"


def test_a_token_not_bound_to_the_node_gets_an_explained_denial(
    server: Any, node_agent: str
) -> None:
    unbound = server.token_for("node-agents", "node-agent")
    api = server.api_client(unbound)
    session = ci.NodeSession(api, node="worker-1", scope=NODE_SCOPE)
    with pytest.raises(ci.ImpersonationDenied) as caught:
        client.CoreV1Api(session.api_client).list_pod_for_all_namespaces(
            field_selector="spec.nodeName=worker-1"
        )
    assert caught.value.mode == "arbitrary-node"
    assert "not bound to node 'worker-1'" in str(caught.value)
    api.close()
