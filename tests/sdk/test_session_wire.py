"""What a session puts on the wire, checked with a raw socket server (no mocked network)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, dynamic, stream, watch

import constrained_impersonation as ci
from constrained_impersonation import headers as h
from constrained_impersonation.identity import Identity

from ._wire import Request, Response, WireServer, api_client, empty_list

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


def impersonation_lines(request: Request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.text_lines() if h.is_impersonation_header(k)]


def test_groups_go_out_as_repeated_lines_and_commas_stay_inside_one_group(
    wire: WireServer, base: Any
) -> None:
    session = ci.UserSession(base, user="alice", groups=["dev", "ops,qa"], scope=PODS)
    client.CoreV1Api(session.api_client).list_namespaced_pod("default")

    (request,) = wire.requests
    assert request.header_lines("Impersonate-Group") == [b"dev", b"ops,qa"]
    # Parsed exactly as kube-apiserver does: two groups, the second one containing a comma.
    assert h.decode(request.text_lines()) == Identity("alice", groups=("dev", "ops,qa"))


def test_extra_keys_are_escaped_and_values_arrive_as_utf8_bytes(
    wire: WireServer, base: Any
) -> None:
    extra = {"example.com/scopes": ["view", "edit"], "example.com/team:role=x": ["zürich", "東京"]}
    session = ci.UserSession(base, user="jürgen", uid="u-1", extra=extra, scope=PODS)
    client.CoreV1Api(session.api_client).list_namespaced_pod("default")

    (request,) = wire.requests
    raw = dict.fromkeys(k for k, _ in request.lines)
    # Spelled as client-go's net/http spells them (tests/wire compares every byte).
    assert b"Impersonate-Extra-Example.com%2fscopes" in raw
    assert b"Impersonate-Extra-Example.com%2fteam%3arole%3dx" in raw
    assert request.header_lines("Impersonate-User") == ["jürgen".encode()]
    assert request.header_lines("Impersonate-Extra-example.com%2Fteam%3Arole%3Dx") == [
        "zürich".encode(),
        "東京".encode(),
    ]
    assert h.decode(request.text_lines()) == Identity(
        "jürgen", uid="u-1", extra={k: tuple(v) for k, v in extra.items()}
    )


def test_identity_lines_are_exactly_the_codec_output_in_order(wire: WireServer, base: Any) -> None:
    session = ci.UserSession(
        base,
        user="alice",
        uid="1234",
        groups=["dev", "ops,qa"],
        extra={"example.com/scopes": ["view", "edit"]},
        scope=PODS,
    )
    client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    assert impersonation_lines(wire.requests[0]) == h.encode(session.identity)


def test_caller_supplied_impersonation_headers_cannot_be_smuggled(
    wire: WireServer, base: Any, caplog: pytest.LogCaptureFixture
) -> None:
    base.set_default_header("Impersonate-Group", "system:masters")
    session = ci.UserSession(base, user="alice", scope=PODS)
    with caplog.at_level(logging.WARNING, logger="constrained_impersonation"):
        client.CoreV1Api(session.api_client).list_namespaced_pod(
            "default", _headers={"Impersonate-User": "root", "impersonate-extra-x": "y"}
        )
    (request,) = wire.requests
    assert impersonation_lines(request) == [("Impersonate-User", "alice")]
    assert "dropped caller-supplied header" in caplog.text


def test_credentials_and_ordinary_headers_of_the_base_client_are_kept(
    wire: WireServer, base: Any
) -> None:
    session = ci.NodeSession(base, node="worker-1", scope=PODS)
    client.CoreV1Api(session.api_client).list_pod_for_all_namespaces(
        field_selector="spec.nodeName=worker-1"
    )
    (request,) = wire.requests
    assert request.header("authorization") == "Bearer requestor-token"
    assert request.header("Accept") == "application/json"
    assert impersonation_lines(request) == [("Impersonate-User", "system:node:worker-1")]
    assert request.query["fieldSelector"] == ["spec.nodeName=worker-1"]


def test_out_of_scope_raises_before_anything_is_sent(wire: WireServer, base: Any) -> None:
    session = ci.UserSession(base, user="alice", scope=PODS)
    core = client.CoreV1Api(session.api_client)
    with pytest.raises(ci.OutOfScopeError) as caught:
        core.delete_namespaced_pod("web", "default")
    with pytest.raises(ci.OutOfScopeError):
        core.list_namespaced_secret("default")
    with pytest.raises(ci.OutOfScopeError):
        core.read_namespaced_pod_log("web", "default")  # pods does not cover pods/log
    assert caught.value.verb == "delete"
    assert caught.value.namespace == "default"
    assert "pods" in str(caught.value)
    assert wire.requests == []
    assert wire.connections == 0  # not even a connection was opened


def test_namespace_and_name_limits_of_the_scope_apply(wire: WireServer, base: Any) -> None:
    scope = ci.Scope(ci.Rule(verbs=["get"], resources=["configmaps"], namespaces=["apps"]))
    session = ci.ServiceAccountSession(base, namespace="apps", name="deployer", scope=scope)
    core = client.CoreV1Api(session.api_client)
    wire.handler = lambda req: Response.json(
        200, {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "cfg"}}
    )
    assert core.read_namespaced_config_map("cfg", "apps").metadata.name == "cfg"
    with pytest.raises(ci.OutOfScopeError):
        core.read_namespaced_config_map("cfg", "kube-system")
    assert len(wire.requests) == 1
    assert impersonation_lines(wire.requests[0]) == [
        ("Impersonate-User", "system:serviceaccount:apps:deployer")
    ]


def test_create_sends_body_and_headers_once(wire: WireServer, base: Any) -> None:
    scope = ci.Scope(ci.Rule(verbs=["create"], resources=["configmaps"]))
    session = ci.UserSession(base, user="alice", groups=["a", "b"], scope=scope)
    wire.handler = lambda req: Response.json(201, json.loads(req.body))
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cfg"), data={"k": "ü"})
    created = client.CoreV1Api(session.api_client).create_namespaced_config_map("default", body)
    assert created.data == {"k": "ü"}
    (request,) = wire.requests
    assert request.method == "POST"
    assert request.header_lines("Impersonate-Group") == [b"a", b"b"]
    assert json.loads(request.body)["metadata"]["name"] == "cfg"


def test_watch_streams_through_a_session(wire: WireServer, base: Any) -> None:
    events = [
        {"type": "ADDED", "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": n}}}
        for n in ("a", "b")
    ]
    wire.handler = lambda req: Response(
        200,
        [json.dumps(e).encode() + b"\n" for e in events],
        {"Content-Type": "application/json"},
    )
    session = ci.NodeSession(base, node="worker-1", scope=PODS)
    core = client.CoreV1Api(session.api_client)
    seen = [
        event["object"].metadata.name
        for event in watch.Watch().stream(
            core.list_pod_for_all_namespaces,
            field_selector="spec.nodeName=worker-1",
            timeout_seconds=5,
        )
    ]
    assert seen == ["a", "b"]
    (request,) = wire.requests
    assert request.query["watch"] == ["True"] or request.query["watch"] == ["true"]
    assert request.header_lines("Impersonate-User") == [b"system:node:worker-1"]


def test_watch_needs_the_watch_verb_in_scope(wire: WireServer, base: Any) -> None:
    session = ci.UserSession(base, user="alice", scope=ci.Scope(ci.Rule(["list"], ["pods"])))
    core = client.CoreV1Api(session.api_client)
    with pytest.raises(ci.OutOfScopeError, match="watch"):
        next(iter(watch.Watch().stream(core.list_namespaced_pod, "default", timeout_seconds=1)))
    assert wire.requests == []


def _discovery(request: Request) -> Response:
    if request.path == "/version":
        return Response.json(200, {"major": "1", "minor": "36", "gitVersion": "v1.36.0"})
    if request.path == "/api":
        return Response.json(200, {"kind": "APIVersions", "versions": ["v1"]})
    if request.path == "/apis":
        return Response.json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
    if request.path == "/api/v1":
        return Response.json(
            200,
            {
                "kind": "APIResourceList",
                "groupVersion": "v1",
                "resources": [
                    {
                        "name": "pods",
                        "singularName": "pod",
                        "namespaced": True,
                        "kind": "Pod",
                        "verbs": ["get", "list", "watch"],
                    }
                ],
            },
        )
    if request.path == "/api/v1/namespaces/default/pods":
        return Response.json(200, empty_list())
    return Response.json(404, {"kind": "Status", "code": 404})


def test_dynamic_client_works_through_a_session_with_declared_discovery(
    wire: WireServer, base: Any, tmp_path: Any
) -> None:
    wire.handler = _discovery
    scope = ci.Scope(
        ci.Rule(verbs=["list"], resources=["pods"]),
        ci.NonResourceRule(verbs=["get"], paths=["/version", "/api", "/api/*", "/apis", "/apis/*"]),
    )
    session = ci.UserSession(base, user="alice", groups=["dev"], scope=scope)
    dyn = dynamic.DynamicClient(session.api_client, cache_file=str(tmp_path / "discovery.json"))
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    result = dyn.get(pods, namespace="default")
    assert result.items == []
    assert {r.path for r in wire.requests} >= {
        "/version",
        "/api/v1",
        "/api/v1/namespaces/default/pods",
    }
    assert all(r.header_lines("Impersonate-Group") == [b"dev"] for r in wire.requests)


def test_dynamic_client_discovery_is_refused_when_not_declared(
    wire: WireServer, base: Any, tmp_path: Any
) -> None:
    wire.handler = _discovery
    session = ci.UserSession(base, user="alice", scope=PODS)
    with pytest.raises(ci.OutOfScopeError, match="path '/version'"):
        dynamic.DynamicClient(session.api_client, cache_file=str(tmp_path / "d.json"))
    assert wire.requests == []


def test_websocket_stream_is_refused_rather_than_sent_without_impersonation(
    wire: WireServer, base: Any
) -> None:
    scope = ci.Scope(ci.Rule(verbs=["create", "get"], resources=["pods/exec"]))
    session = ci.UserSession(base, user="alice", scope=scope)
    core = client.CoreV1Api(session.api_client)
    with pytest.raises(ci.ImpersonationError, match=r"kubernetes\.stream"):
        stream.stream(core.connect_get_namespaced_pod_exec, "web", "default", command=["ls"])
    assert wire.connections == 0
    # The session's api_client still works afterwards.
    assert session.api_client.call_api is session.api_client.call_api


def test_sessions_share_the_base_pool_and_credentials(wire: WireServer, base: Any) -> None:
    one = ci.UserSession(base, user="alice", scope=PODS)
    two = ci.NodeSession(base, node="worker-2", scope=PODS)
    assert one.api_client.rest_client.pool_manager._pool is base.rest_client.pool_manager
    assert two.api_client.rest_client.pool_manager._pool is base.rest_client.pool_manager
    assert one.api_client.configuration is base.configuration
    base.configuration.api_key["BearerToken"] = "rotated"
    client.CoreV1Api(one.api_client).list_namespaced_pod("default")
    client.CoreV1Api(two.api_client).list_namespaced_pod("default")
    assert [r.header("authorization") for r in wire.requests] == ["Bearer rotated"] * 2
    assert [r.header("Impersonate-User") for r in wire.requests] == [
        "alice",
        "system:node:worker-2",
    ]


def test_closing_a_session_keeps_the_base_client_usable(wire: WireServer, base: Any) -> None:
    with ci.UserSession(base, user="alice", scope=PODS) as session:
        api = client.CoreV1Api(session.api_client)
    assert session.closed
    with pytest.raises(ci.ImpersonationError, match="closed"):
        api.list_namespaced_pod("default")
    client.CoreV1Api(base).list_namespaced_pod("default")
    assert len(wire.requests) == 1
    assert wire.requests[0].header("Impersonate-User") is None


def test_a_session_cannot_wrap_another_session(base: Any) -> None:
    session = ci.UserSession(base, user="alice", scope=PODS)
    with pytest.raises(ci.ConfigurationError, match="does not chain"):
        ci.UserSession(session.api_client, user="bob", scope=PODS)


@pytest.mark.parametrize(
    ("factory", "field"),
    [
        (lambda b: ci.UserSession(b, user="system:node:n1", scope=PODS), "user"),
        (lambda b: ci.UserSession(b, user="system:serviceaccount:a:b", scope=PODS), "user"),
        (
            lambda b: ci.UserSession(b, user="alice", groups=["system:masters"], scope=PODS),
            "groups",
        ),
        (lambda b: ci.UserSession(b, user="alice", groups=[""], scope=PODS), "groups"),
        (lambda b: ci.UserSession(b, user="alice", groups="dev", scope=PODS), "groups"),
        (
            lambda b: ci.UserSession(b, user="alice", extra={"scopes": ["x"]}, scope=PODS),
            "extra key",
        ),
        (lambda b: ci.UserSession(b, user="a\r\nX-Evil: 1", scope=PODS), "user"),
        (lambda b: ci.NodeSession(b, node="Node_1", scope=PODS), "node"),
        (lambda b: ci.ArbitraryNodeSession(b, node="", scope=PODS), "node"),
        (
            lambda b: ci.ServiceAccountSession(b, namespace="Team-A", name="x", scope=PODS),
            "namespace",
        ),
    ],
)
def test_identities_that_would_leave_the_constrained_mode_are_refused(
    base: Any, factory: Any, field: str
) -> None:
    with pytest.raises(ci.InvalidIdentityError) as caught:
        factory(base)
    assert caught.value.field == field


def test_modes_and_identities_of_each_session_class(base: Any) -> None:
    assert ci.NodeSession(base, node="n1", scope=PODS).mode == "associated-node"
    assert ci.ArbitraryNodeSession(base, node="n1", scope=PODS).mode == "arbitrary-node"
    sa = ci.ServiceAccountSession(base, namespace="ns", name="sa", scope=PODS)
    assert (sa.mode, sa.identity.user) == ("serviceaccount", "system:serviceaccount:ns:sa")
    user = ci.UserSession(base, user="alice", scope=PODS)
    assert (user.mode, user.identity) == ("user-info", Identity("alice"))
    assert "user-info" in repr(user)


def test_scope_is_required_and_typed(base: Any) -> None:
    with pytest.raises(TypeError, match="Scope"):
        ci.UserSession(base, user="alice", scope=[ci.Rule(["get"], ["pods"])])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"kubernetes\.client\.ApiClient"):
        ci.UserSession(object(), user="alice", scope=PODS)


def test_a_refused_request_is_refused_every_time(wire: WireServer, base: Any) -> None:
    session = ci.UserSession(base, user="alice", scope=PODS)
    core = client.CoreV1Api(session.api_client)
    for _ in range(3):
        with pytest.raises(ci.OutOfScopeError):
            core.list_namespaced_secret("default")
    core.list_namespaced_pod("default")
    core.list_namespaced_pod("default")
    assert [r.path for r in wire.requests] == ["/api/v1/namespaces/default/pods"] * 2


def test_concurrent_requests_from_threads_keep_their_identity(wire: WireServer, base: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    alice = ci.UserSession(base, user="alice", groups=["a1", "a2"], scope=PODS)
    node = ci.NodeSession(base, node="worker-1", scope=PODS)

    def work(i: int) -> None:
        session = alice if i % 2 else node
        client.CoreV1Api(session.api_client).list_namespaced_pod(f"ns-{i}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(40)))
    assert len(wire.requests) == 40
    for request in wire.requests:
        i = int(request.path.split("/")[4].removeprefix("ns-"))
        expected = (
            Identity("alice", groups=("a1", "a2")) if i % 2 else Identity("system:node:worker-1")
        )
        assert h.decode(request.text_lines()) == expected


def test_tls_failures_surface_as_api_exceptions_without_retrying(tmp_path: Any) -> None:
    from ._wire import self_signed

    cert, key = self_signed(tmp_path)
    with WireServer(tls=(cert, key)) as server:
        base = api_client(server.url)  # does not trust the server's certificate
        session = ci.UserSession(base, user="alice", scope=PODS)
        with pytest.raises(client.ApiException) as caught:
            client.CoreV1Api(session.api_client).list_namespaced_pod("default")
        assert caught.value.status == 0
        assert "SSL" in str(caught.value.reason)
        assert server.requests == []
        base.close()


def test_read_timeout_from_settings_applies_and_is_not_retried(wire: WireServer, base: Any) -> None:
    import time

    import urllib3

    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return Response.json(200, empty_list())

    wire.handler = slow
    session = ci.UserSession(
        base, user="alice", scope=PODS, settings=ci.Settings(request_timeout=0.2)
    )
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    assert len(wire.requests) == 1


def test_streaming_requests_get_no_read_timeout(base: Any) -> None:
    session = ci.UserSession(
        base,
        user="alice",
        scope=ci.Scope(ci.Rule(["get", "list", "watch"], ["pods", "pods/log"])),
    )
    target = session.api_client.rest_client.target
    host = base.configuration.host
    follow = target.plan("GET", f"{host}/api/v1/namespaces/d/pods/web/log?follow=True")
    watching = target.plan("GET", f"{host}/api/v1/namespaces/d/pods?watch=true")
    listing = target.plan("GET", f"{host}/api/v1/namespaces/d/pods")
    assert (follow.streaming, watching.streaming, listing.streaming) == (True, True, False)
    assert target.stream_timeout.read_timeout is None


def test_an_api_server_behind_a_path_prefix_is_scoped_by_its_own_paths(wire: WireServer) -> None:
    base = api_client(wire.url + "/k8s/clusters/c1")
    session = ci.UserSession(base, user="alice", scope=PODS)
    core = client.CoreV1Api(session.api_client)
    core.list_namespaced_pod("default")
    with pytest.raises(ci.OutOfScopeError):
        core.list_namespaced_secret("default")
    assert [r.path for r in wire.requests] == ["/k8s/clusters/c1/api/v1/namespaces/default/pods"]
    base.close()
