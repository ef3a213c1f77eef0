"""403 parsing: impersonation refusals become ImpersonationDenied, downstream 403s do not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException, ForbiddenException

import constrained_impersonation as ci
from constrained_impersonation.denied import parse_forbidden

from ._wire import Response, WireServer, api_client, status_body

SA = "system:serviceaccount:deputies:deputy"
AGENT = "system:serviceaccount:node-agents:node-agent"


def forbidden(message: str) -> dict[str, Any]:
    return status_body(403, message)


# (message, mode, verb, resource, group, namespace, name, rule, role_kind)
CASES = [
    pytest.param(
        f'pods is forbidden: User "{SA}" cannot impersonate-on:user-info:list resource "pods" '
        'in API group "" in the namespace "default"',
        "user-info",
        "impersonate-on:user-info:list",
        "pods",
        "",
        "default",
        "",
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["impersonate-on:user-info:list"]},
        "Role",
        id="action-namespaced",
    ),
    pytest.param(
        f'pods "web" is forbidden: User "{SA}" cannot impersonate-on:user-info:get resource '
        '"pods/log" in API group "" in the namespace "default"',
        "user-info",
        "impersonate-on:user-info:get",
        "pods/log",
        "",
        "default",
        "web",
        {
            "apiGroups": [""],
            "resources": ["pods/log"],
            "verbs": ["impersonate-on:user-info:get"],
            "resourceNames": ["web"],
        },
        "Role",
        id="action-subresource-named",
    ),
    pytest.param(
        f'pods is forbidden: User "{AGENT}" cannot impersonate-on:associated-node:list '
        'resource "pods" in API group "" at the cluster scope',
        "associated-node",
        "impersonate-on:associated-node:list",
        "pods",
        "",
        "",
        "",
        {
            "apiGroups": [""],
            "resources": ["pods"],
            "verbs": ["impersonate-on:associated-node:list"],
        },
        "ClusterRole",
        id="action-cluster",
    ),
    pytest.param(
        f'nodes.authentication.k8s.io "*" is forbidden: User "{AGENT}" cannot '
        'impersonate:associated-node resource "nodes" in API group "authentication.k8s.io" '
        "at the cluster scope",
        "associated-node",
        "impersonate:associated-node",
        "nodes",
        "authentication.k8s.io",
        "",
        "*",
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["nodes"],
            "verbs": ["impersonate:associated-node"],
        },
        "ClusterRole",
        id="associated-node-target-no-resourceNames",
    ),
    pytest.param(
        f'nodes.authentication.k8s.io "worker-1" is forbidden: User "{SA}" cannot '
        'impersonate:arbitrary-node resource "nodes" in API group "authentication.k8s.io" '
        "at the cluster scope",
        "arbitrary-node",
        "impersonate:arbitrary-node",
        "nodes",
        "authentication.k8s.io",
        "",
        "worker-1",
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["nodes"],
            "verbs": ["impersonate:arbitrary-node"],
            "resourceNames": ["worker-1"],
        },
        "ClusterRole",
        id="arbitrary-node-target",
    ),
    pytest.param(
        f'serviceaccounts.authentication.k8s.io "builder" is forbidden: User "{SA}" cannot '
        'impersonate:serviceaccount resource "serviceaccounts" in API group '
        '"authentication.k8s.io" in the namespace "ci"',
        "serviceaccount",
        "impersonate:serviceaccount",
        "serviceaccounts",
        "authentication.k8s.io",
        "ci",
        "builder",
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["serviceaccounts"],
            "verbs": ["impersonate:serviceaccount"],
            "resourceNames": ["builder"],
        },
        "Role",
        id="serviceaccount-target",
    ),
    pytest.param(
        f'users.authentication.k8s.io "alice" is forbidden: User "{SA}" cannot '
        'impersonate:user-info resource "users" in API group "authentication.k8s.io" at the '
        "cluster scope",
        "user-info",
        "impersonate:user-info",
        "users",
        "authentication.k8s.io",
        "",
        "alice",
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["users"],
            "verbs": ["impersonate:user-info"],
            "resourceNames": ["alice"],
        },
        "ClusterRole",
        id="user-info-target",
    ),
    pytest.param(
        f'groups.authentication.k8s.io "ops,qa" is forbidden: User "{SA}" cannot '
        'impersonate:user-info resource "groups" in API group "authentication.k8s.io" at the '
        "cluster scope",
        "user-info",
        "impersonate:user-info",
        "groups",
        "authentication.k8s.io",
        "",
        "ops,qa",
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["groups"],
            "verbs": ["impersonate:user-info"],
            "resourceNames": ["ops,qa"],
        },
        "ClusterRole",
        id="user-info-group",
    ),
    pytest.param(
        f'uids.authentication.k8s.io "1234" is forbidden: User "{SA}" cannot '
        'impersonate:user-info resource "uids" in API group "authentication.k8s.io" at the '
        "cluster scope",
        "user-info",
        "impersonate:user-info",
        "uids",
        "authentication.k8s.io",
        "",
        "1234",
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["uids"],
            "verbs": ["impersonate:user-info"],
            "resourceNames": ["1234"],
        },
        "ClusterRole",
        id="user-info-uid",
    ),
    pytest.param(
        f'userextras.authentication.k8s.io "view" is forbidden: User "{SA}" cannot '
        'impersonate:user-info resource "userextras/example.com/scopes" in API group '
        '"authentication.k8s.io" at the cluster scope',
        "user-info",
        "impersonate:user-info",
        "userextras/example.com/scopes",
        "authentication.k8s.io",
        "",
        "view",
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["userextras/example.com/scopes"],
            "verbs": ["impersonate:user-info"],
            "resourceNames": ["view"],
        },
        "ClusterRole",
        id="user-info-extra",
    ),
    pytest.param(
        f'users "alice" is forbidden: User "{SA}" cannot impersonate resource "users" in API '
        'group "" at the cluster scope',
        "legacy",
        "impersonate",
        "users",
        "",
        "",
        "alice",
        {
            "apiGroups": [""],
            "resources": ["users"],
            "verbs": ["impersonate"],
            "resourceNames": ["alice"],
        },
        "ClusterRole",
        id="legacy-user",
    ),
    pytest.param(
        f'forbidden: User "{SA}" cannot impersonate-on:user-info:get path "/metrics"',
        "user-info",
        "impersonate-on:user-info:get",
        "/metrics",
        "",
        "",
        "",
        {"nonResourceURLs": ["/metrics"], "verbs": ["impersonate-on:user-info:get"]},
        "ClusterRole",
        id="action-non-resource",
    ),
]


@pytest.mark.parametrize(
    ("message", "mode", "verb", "resource", "group", "namespace", "name", "rule", "kind"), CASES
)
def test_every_mode_and_check_is_explained(
    message: str,
    mode: str,
    verb: str,
    resource: str,
    group: str,
    namespace: str,
    name: str,
    rule: dict[str, Any],
    kind: str,
) -> None:
    denied = ci.explain_forbidden(forbidden(message))
    assert isinstance(denied, ci.ImpersonationDenied)
    assert (denied.mode, denied.verb, denied.resource) == (mode, verb, resource)
    assert (denied.api_group, denied.namespace, denied.name) == (group, namespace, name)
    assert denied.requestor.startswith("system:serviceaccount:")
    assert denied.rule == rule
    assert denied.role_kind == kind
    assert denied.role_namespace == (namespace if kind == "Role" else "")
    text = str(denied)
    assert verb in text and json.dumps(rule) in text and denied.requestor in text
    assert denied.status["code"] == 403


def test_reasons_appended_by_authorizers_are_kept() -> None:
    message = (
        f'users.authentication.k8s.io "alice" is forbidden: User "{SA}" cannot '
        'impersonate:user-info resource "users" in API group "authentication.k8s.io" at the '
        'cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found'
    )
    denied = ci.explain_forbidden(json.dumps(forbidden(message)))
    assert denied is not None
    assert denied.rule is not None
    assert "missing" in str(denied)


@pytest.mark.parametrize(
    "reason",
    [
        "impersonating the system:masters group is not allowed",
        "impersonating the empty string group is not allowed",
        "impersonating an invalid key in extra is not allowed: bad",
    ],
)
def test_validation_refusals_have_no_rule_to_grant(reason: str) -> None:
    message = (
        f'groups.authentication.k8s.io "system:masters" is forbidden: User "{SA}" cannot '
        'impersonate:user-info resource "groups" in API group "authentication.k8s.io" at the '
        f"cluster scope: {reason}"
    )
    denied = ci.explain_forbidden(forbidden(message))
    assert denied is not None
    assert denied.rule is None
    assert "no RBAC grant can allow" in str(denied)


@pytest.mark.parametrize(
    "status",
    [
        # Downstream: the impersonated user lacks RBAC, with a plain verb.
        forbidden(
            'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in '
            'the namespace "default"'
        ),
        forbidden('forbidden: User "alice" cannot get path "/metrics"'),
        status_body(404, 'pods "x" not found', "NotFound"),
        {"kind": "Status", "code": 403, "message": "something else"},
        "not json",
        b"",
    ],
)
def test_other_errors_are_not_impersonation_denials(status: Any) -> None:
    assert ci.explain_forbidden(status) is None


def test_quoted_names_are_unescaped() -> None:
    message = (
        f'users.authentication.k8s.io "al\\"ice" is forbidden: User "{SA}" cannot '
        'impersonate:user-info resource "users" in API group "authentication.k8s.io" at the '
        "cluster scope"
    )
    parsed = parse_forbidden(forbidden(message))
    assert parsed is not None
    assert parsed.name == 'al"ice'


# --------------------------------------------------------------------------- through a session

PODS = ci.Scope(ci.Rule(verbs=["list", "watch", "get"], resources=["pods"]))


@pytest.fixture
def wire() -> Iterator[WireServer]:
    with WireServer() as server:
        yield server


@pytest.fixture
def base(wire: WireServer) -> Iterator[Any]:
    api = api_client(wire.url)
    yield api
    api.close()


def test_session_raises_impersonation_denied_with_the_response_as_cause(
    wire: WireServer, base: Any
) -> None:
    message = (
        f'pods is forbidden: User "{SA}" cannot impersonate-on:user-info:list resource "pods" '
        'in API group "" in the namespace "default"'
    )
    wire.handler = lambda req: Response.json(403, forbidden(message))
    session = ci.UserSession(base, user="alice", scope=PODS)
    with pytest.raises(ci.ImpersonationDenied) as caught:
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    denied = caught.value
    assert denied.mode == "user-info"
    assert denied.role_kind == "Role"
    assert isinstance(denied.__cause__, ForbiddenException)
    assert denied.__cause__.status == 403
    assert "impersonate-on:user-info:list" in denied.__cause__.body


def test_watch_surfaces_impersonation_denied(wire: WireServer, base: Any) -> None:
    message = (
        f'pods is forbidden: User "{AGENT}" cannot impersonate-on:associated-node:watch '
        'resource "pods" in API group "" at the cluster scope'
    )
    wire.handler = lambda req: Response.json(403, forbidden(message))
    session = ci.NodeSession(base, node="worker-1", scope=PODS)
    core = client.CoreV1Api(session.api_client)
    with pytest.raises(ci.ImpersonationDenied, match="impersonate-on:associated-node:watch"):
        next(iter(watch.Watch().stream(core.list_pod_for_all_namespaces, timeout_seconds=1)))


def test_downstream_403_stays_an_api_exception(wire: WireServer, base: Any) -> None:
    message = (
        'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the '
        'namespace "default"'
    )
    wire.handler = lambda req: Response.json(403, forbidden(message))
    session = ci.UserSession(base, user="alice", scope=PODS)
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    assert not isinstance(caught.value, ci.ImpersonationDenied)
    assert caught.value.status == 403


def test_a_denial_naming_the_impersonated_user_is_downstream(wire: WireServer, base: Any) -> None:
    # The impersonated user itself may lack an impersonate-on grant: still downstream.
    message = (
        'pods is forbidden: User "alice" cannot impersonate-on:user-info:list resource "pods" '
        'in API group "" in the namespace "default"'
    )
    wire.handler = lambda req: Response.json(403, forbidden(message))
    session = ci.UserSession(base, user="alice", scope=PODS)
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    assert not isinstance(caught.value, ci.ImpersonationDenied)


def test_legacy_error_for_a_constrained_session_names_the_constrained_grants(
    wire: WireServer, base: Any
) -> None:
    message = (
        f'users "alice" is forbidden: User "{SA}" cannot impersonate resource "users" in API '
        'group "" at the cluster scope'
    )
    wire.handler = lambda req: Response.json(403, forbidden(message))
    session = ci.UserSession(base, user="alice", scope=PODS)
    with pytest.raises(ci.ImpersonationDenied) as caught:
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    denied = caught.value
    assert denied.mode == "legacy"
    text = str(denied)
    assert "impersonate:user-info" in text and "impersonate-on:user-info:list" in text
    assert denied.rule == {
        "apiGroups": [""],
        "resources": ["pods"],
        "verbs": ["impersonate-on:user-info:list"],
    }
    assert (denied.role_kind, denied.role_namespace) == ("Role", "default")


def test_node_session_explains_a_fallback_to_arbitrary_node(wire: WireServer, base: Any) -> None:
    message = (
        f'nodes.authentication.k8s.io "worker-1" is forbidden: User "{SA}" cannot '
        'impersonate:arbitrary-node resource "nodes" in API group "authentication.k8s.io" '
        "at the cluster scope"
    )
    wire.handler = lambda req: Response.json(403, forbidden(message))
    session = ci.NodeSession(base, node="worker-1", scope=PODS)
    with pytest.raises(ci.ImpersonationDenied, match="not bound to node 'worker-1'"):
        client.CoreV1Api(session.api_client).list_pod_for_all_namespaces()


# --------------------------------------------------------------------------- the real messages

USER_INFO_ALICE = {
    "apiGroups": ["authentication.k8s.io"],
    "resources": ["users"],
    "verbs": ["impersonate:user-info"],
    "resourceNames": ["alice"],
}
AS_NODE = {"Impersonate-User": "system:node:worker-1"}


def _list_pods_as(mode: str) -> dict[str, Any]:
    """The action grant: checked before the target, so a target denial needs it."""
    return {"apiGroups": [""], "resources": ["pods"], "verbs": [f"impersonate-on:{mode}:list"]}


NODE_PODS = "/api/v1/pods?fieldSelector=spec.nodeName%3Dworker-1"
# id -> (requestor like, its rules, request to make first, method, path, impersonation headers)
PRODUCED: dict[str, tuple[str, list[dict[str, Any]], str, str, dict[str, str]]] = {
    "action-namespaced": (SA, [USER_INFO_ALICE], "", "/api/v1/namespaces/default/pods", {}),
    "action-subresource-named": (
        SA,
        [USER_INFO_ALICE],
        "",
        "/api/v1/namespaces/default/pods/web/log",
        {},
    ),
    "action-cluster": (
        AGENT,
        [{**USER_INFO_ALICE, "resources": ["nodes"], "verbs": ["impersonate:associated-node"]}],
        "",
        NODE_PODS,
        AS_NODE,
    ),
    "associated-node-target-no-resourceNames": (
        AGENT,
        [_list_pods_as("associated-node")],
        "",
        NODE_PODS,
        AS_NODE,
    ),
    "arbitrary-node-target": (SA, [_list_pods_as("arbitrary-node")], "", "/api/v1/pods", AS_NODE),
    "serviceaccount-target": (
        SA,
        [_list_pods_as("serviceaccount")],
        "",
        "/api/v1/namespaces/default/pods",
        {"Impersonate-User": "system:serviceaccount:ci:builder"},
    ),
    "user-info-target": (
        SA,
        [_list_pods_as("user-info")],
        "",
        "/api/v1/namespaces/default/pods",
        {},
    ),
    "user-info-group": (
        SA,
        [USER_INFO_ALICE, _list_pods_as("user-info")],
        "",
        "/api/v1/namespaces/default/pods",
        {"Impersonate-Group": "ops,qa"},
    ),
    "user-info-uid": (
        SA,
        [USER_INFO_ALICE, _list_pods_as("user-info")],
        "",
        "/api/v1/namespaces/default/pods",
        {"Impersonate-Uid": "1234"},
    ),
    "user-info-extra": (
        SA,
        [USER_INFO_ALICE, _list_pods_as("user-info")],
        "",
        "/api/v1/namespaces/default/pods",
        {"Impersonate-Extra-example.com%2Fscopes": "view"},
    ),
    # After a legacy success the server reports the legacy check's error.
    "legacy-user": (
        SA,
        [
            {
                **USER_INFO_ALICE,
                "apiGroups": [""],
                "verbs": ["impersonate"],
                "resourceNames": ["bob"],
            }
        ],
        "bob",
        "/api/v1/namespaces/default/pods",
        {},
    ),
    "action-non-resource": (SA, [USER_INFO_ALICE], "", "/metrics", {}),
}


@pytest.fixture(scope="module")
def denying(apiserver_class: Any) -> Iterator[tuple[Any, dict[str, str]]]:
    """A server where each case's requestor (named after the case, a service account or a
    node agent with a node-name extra) holds exactly that case's rules; with its tokens."""
    rbac = "rbac.authorization.k8s.io"
    with apiserver_class() as server:
        manifests: list[dict[str, Any]] = []
        tokens: dict[str, str] = {}
        for case, (like, rules, _, _, _) in PRODUCED.items():
            name = _requestor(case, like)
            extra = (
                {"authentication.kubernetes.io/node-name": ["worker-1"]} if like == AGENT else {}
            )
            tokens[case] = server.add_user(name, groups=["system:serviceaccounts"], extra=extra)
            if rules:
                manifests += [
                    {
                        "apiVersion": f"{rbac}/v1",
                        "kind": "ClusterRole",
                        "metadata": {"name": f"denied-{case}"},
                        "rules": rules,
                    },
                    {
                        "apiVersion": f"{rbac}/v1",
                        "kind": "ClusterRoleBinding",
                        "metadata": {"name": f"denied-{case}"},
                        "roleRef": {
                            "apiGroup": rbac,
                            "kind": "ClusterRole",
                            "name": f"denied-{case}",
                        },
                        "subjects": [{"apiGroup": rbac, "kind": "User", "name": name}],
                    },
                ]
        server.apply(*manifests)
        yield server, tokens


def _requestor(case: str, like: str) -> str:
    namespace = "node-agents" if like == AGENT else "deputies"
    # A valid service-account name (lower case), or the server would not treat it as one.
    return f"system:serviceaccount:{namespace}:{case.lower()}"


@pytest.mark.parametrize(
    ("case_id", "message"),
    [pytest.param(p.id, p.values[0], id=p.id) for p in CASES if p.id in PRODUCED],
)
def test_the_server_sends_exactly_these_messages(
    denying: tuple[Any, dict[str, str]], case_id: str, message: str
) -> None:
    """Each message above is what the API server (``--apiserver``) answers, word for word."""
    server, tokens = denying
    like, _, first, path, headers = PRODUCED[case_id]
    token = tokens[case_id]
    target = {"Impersonate-User": "alice", **headers}
    if first:
        status, _ = server.request("GET", path, token=token, headers={"Impersonate-User": first})
        assert status != 403 or first == "bob"
    status, body = server.request("GET", path, token=token, headers=target)
    assert status == 403, body
    assert body["message"] == message.replace(like, _requestor(case_id, like))
