"""A session decides on exactly the request that goes on the wire (issue 11, item 1).

urllib3 (sync) and yarl (asyncio) remove dot segments and rewrite other parts of a URL after
the scope guard has read it, and the API server ignores segments after
``resource/name/subresource``; so ``get pods/log named web`` could read any Secret. Here:

- each reproduction from the issue, against the API server of the chosen backend
  (``--apiserver=embedded|kube``), sync, asyncio and ``prepare_request``: refused locally,
  nothing audited, nothing created;
- every class of refused URL, on all three paths, with a raw capture server that must see
  no connection; the URLs the official client builds still go out;
- a hypothesis property: for generated paths and queries (dot segments, ``%2e``, ``%2F``,
  ``//``, ``;``, ``?``, ``#``, unicode, trailing slashes), either the session refuses locally,
  or what the server received resolves to the same ``RequestInfo`` the guard approved (the
  raw request line at the capture server, for both transports; the audited ``verb`` and
  ``objectRef`` at the API server).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from kubernetes import client, dynamic
from kubernetes.aio import client as aclient
from kubernetes.aio.client.exceptions import ApiException as AsyncApiException
from kubernetes.aio.dynamic import DynamicClient as AsyncDynamicClient
from kubernetes.client.exceptions import ApiException

import constrained_impersonation as ci
from constrained_impersonation import aio
from constrained_impersonation.resolver import RequestInfo, resolve_url

from ._wire import WireServer, api_client

T = TypeVar("T")
RBAC = "rbac.authorization.k8s.io"
DISCOVERY = ci.NonResourceRule(["get"], ["/api", "/api/*", "/apis", "/apis/*", "/version"])
LOG_SCOPE = ci.Scope(
    ci.Rule(["get"], ["pods/log"], namespaces=["default"], names=["web"]), DISCOVERY
)
EVICTION_SCOPE = ci.Scope(
    ci.Rule(["create"], ["pods/eviction"], namespaces=["default"], names=["web"])
)
LOGS_SCOPE = ci.Scope(ci.NonResourceRule(["get"], ["/logs/*"]))

SECRET_ESCAPE = "web/log/../../../../kube-system/secrets/root-ca"
EVICTION_ESCAPE = "/api/v1/namespaces/default/pods/web/eviction/../../../../kube-system/configmaps"
LOGS_ESCAPE = "/logs/../api/v1/namespaces/default/secrets/db"
PLANTED = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "planted", "namespace": "kube-system"},
    "data": {"by": "alice"},
}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def marker() -> str:
    return f"path-guard/{uuid.uuid4()}"


def _arguments(method: str, body: Any) -> dict[str, Any]:
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = {}
    headers = {"Content-Type": "application/json"} if body is not None else {}
    return {"header_params": headers, "body": body, "auth_settings": ["BearerToken"]}


def sync_send(
    session: ci.Session, method: str, target: str, *, agent: str = "", body: Any = None
) -> Any:
    """What the generated API classes and DynamicClient do: ``param_serialize`` (host + path,
    credentials, default headers), then ``call_api``."""
    api = session.api_client
    request = api.param_serialize(method, target, **_arguments(method, body))
    if agent:
        request[2]["User-Agent"] = agent
    response = api.call_api(*request)
    response.read()
    return response


async def aio_send(
    session: aio.AsyncSession, method: str, target: str, *, agent: str = "", body: Any = None
) -> Any:
    api = session.api_client
    request = await api.param_serialize(method, target, **_arguments(method, body))
    if agent:
        request[2]["User-Agent"] = agent
    response = await api.call_api(*request)
    await response.read()
    return response


# --------------------------------------------------------------------------- the issue's
# reproductions, against the API server


@pytest.fixture(scope="module")
def cluster(apiserver_class: Callable[..., Any]) -> Iterator[Any]:
    """alice may do anything (cluster-admin): the session's scope is the only limit left."""
    with apiserver_class() as server:
        server.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "root-ca", "namespace": "kube-system"},
                "stringData": {"ca.key": "do not read"},
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "db", "namespace": "default"},
                "stringData": {"password": "do not read"},
            },
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "alice-cluster-admin"},
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"apiGroup": RBAC, "kind": "User", "name": "alice"}],
            },
        )
        yield server


def aio_client_for(server: Any) -> Any:
    cfg = aclient.Configuration()
    cfg.host = server.url
    cfg.ssl_ca_cert = server.ca_file
    cfg.api_key["BearerToken"] = server.admin_token
    cfg.api_key_prefix["BearerToken"] = "Bearer"
    return aclient.ApiClient(cfg)


def audited(server: Any, agent: str) -> list[dict[str, Any]]:
    return [e for e in server.audit_events() if e.get("userAgent") == agent]


def assert_refused_for_dots(err: ci.OutOfScopeError, path: str) -> None:
    assert err.reason.startswith("has the dot segment '..'"), err.reason
    assert err.path.endswith(path)
    assert path in str(err) and "urllib3 and aiohttp remove it" in str(err)


def test_sync_reproductions_are_refused_before_sending(cluster: Any) -> None:
    base = cluster.api_client()
    agent = marker()

    # 1. DynamicClient with a name carrying dot segments, scope `get pods/log named web`.
    with ci.UserSession(base, user="alice", scope=LOG_SCOPE) as session:
        session.api_client.user_agent = agent
        dyn = dynamic.DynamicClient(session.api_client)
        pods = dyn.resources.get(api_version="v1", kind="Pod")
        with pytest.raises(ci.OutOfScopeError) as refused:
            dyn.get(pods, name=SECRET_ESCAPE, namespace="default")
        assert_refused_for_dots(refused.value, SECRET_ESCAPE)
        # The declared request itself still goes out (the server answers: there is no pod).
        with pytest.raises(ApiException) as answered:
            client.CoreV1Api(session.api_client).read_namespaced_pod_log("web", "default")
        assert answered.value.status in (400, 404)

    # 2. call_api POST through pods/eviction into kube-system's configmaps.
    with ci.UserSession(base, user="alice", scope=EVICTION_SCOPE) as session:
        with pytest.raises(ci.OutOfScopeError) as refused:
            sync_send(session, "POST", EVICTION_ESCAPE, agent=agent, body=PLANTED)
        assert_refused_for_dots(refused.value, EVICTION_ESCAPE)

    # 3. A non-resource prefix rule climbing into the resource API.
    with ci.UserSession(base, user="alice", scope=LOGS_SCOPE) as session:
        with pytest.raises(ci.OutOfScopeError) as refused:
            sync_send(session, "GET", LOGS_ESCAPE, agent=agent)
        assert_refused_for_dots(refused.value, LOGS_ESCAPE)

    sent = audited(cluster, agent)
    assert sent, "discovery and the pod log request were sent"
    assert not [e for e in sent if "secrets" in e["requestURI"] or "configmaps" in e["requestURI"]]
    assert cluster.request("GET", "/api/v1/namespaces/kube-system/configmaps/planted")[0] == 404


def test_aio_reproductions_are_refused_before_sending(cluster: Any) -> None:
    agent = marker()

    async def main() -> None:
        base = aio_client_for(cluster)
        try:
            async with aio.UserSession(base, user="alice", scope=LOG_SCOPE) as session:
                session.api_client.user_agent = agent
                dyn = await AsyncDynamicClient(session.api_client)
                pods = await dyn.resources.get(api_version="v1", kind="Pod")
                with pytest.raises(ci.OutOfScopeError) as refused:
                    await dyn.get(pods, name=SECRET_ESCAPE, namespace="default")
                assert_refused_for_dots(refused.value, SECRET_ESCAPE)
                core = aclient.CoreV1Api(session.api_client)
                with pytest.raises(AsyncApiException) as answered:
                    await core.read_namespaced_pod_log("web", "default")
                assert answered.value.status in (400, 404)

            async with aio.UserSession(base, user="alice", scope=EVICTION_SCOPE) as session:
                with pytest.raises(ci.OutOfScopeError) as refused:
                    await aio_send(session, "POST", EVICTION_ESCAPE, agent=agent, body=PLANTED)
                assert_refused_for_dots(refused.value, EVICTION_ESCAPE)

            async with aio.UserSession(base, user="alice", scope=LOGS_SCOPE) as session:
                with pytest.raises(ci.OutOfScopeError) as refused:
                    await aio_send(session, "GET", LOGS_ESCAPE, agent=agent)
                assert_refused_for_dots(refused.value, LOGS_ESCAPE)
        finally:
            await base.close()

    run(main())
    sent = audited(cluster, agent)
    assert sent, "the pod log request was sent"
    assert not [e for e in sent if "secrets" in e["requestURI"] or "configmaps" in e["requestURI"]]
    assert cluster.request("GET", "/api/v1/namespaces/kube-system/configmaps/planted")[0] == 404


def test_prepare_request_refuses_the_reproductions(cluster: Any) -> None:
    base = cluster.api_client()
    pod_path = "/api/v1/namespaces/default/pods/"
    cases = [
        (LOG_SCOPE, "GET", pod_path + SECRET_ESCAPE, pod_path + "web/log"),
        (EVICTION_SCOPE, "POST", EVICTION_ESCAPE, pod_path + "web/eviction"),
        (LOGS_SCOPE, "GET", LOGS_ESCAPE, "/logs/kube-apiserver.log"),
    ]
    for scope, method, escape, declared in cases:
        with ci.UserSession(base, user="alice", scope=scope) as session:
            with pytest.raises(ci.OutOfScopeError) as refused:
                session.prepare_request(method, cluster.url + escape)
            assert_refused_for_dots(refused.value, escape)
            assert session.prepare_request(method, cluster.url + declared) == [
                ("Impersonate-User", "alice")
            ]


# --------------------------------------------------------------------------- every class of
# refused URL, on the three paths, at a capture server


POD = "/api/v1/namespaces/default/pods/web"
REFUSED = [
    # (target, what the reason says)
    (POD + "/log/../../../../kube-system/secrets/root-ca", "dot segment '..'"),
    (POD + "/./log", "dot segment '.'"),
    (POD + "/log/%2e%2e/%2E%2e/x", "dot segment '%2e%2e' (decodes to '..')"),
    (POD + "/.%2E", "dot segment '.%2E' (decodes to '..')"),
    (POD + "/log/extra", "has 'extra' after 'pods/web/log'"),
    (POD + "/log/", "ends with '/' after 'pods/web/log'"),
    ("/api/v1/namespaces/default/pods/", "ends with '/' after 'pods'"),
    ("/api/v1/namespaces//pods/web/log", "empty path segment ('//')"),
    (POD + "//log", "empty path segment ('//')"),
    ("/api/v1/namespaces/default/pods/web%2Flog", "'%2F', an encoded '/'"),
    (POD + "%252e", "'%25', an encoded '%'"),
    (POD + "/log;x=1", "';' in the path"),
    (POD + "%3Bx", "which decodes to ';'"),
    (POD + "\\..\\log", "a backslash in the path"),
    (POD + "/log#/../../secrets", "'#' fragment"),
    (POD + "/l%C3%B6g", "decodes to a non-ASCII byte"),
    (POD + "/lög", "the non-ASCII character 'ö'"),
    ("/api/v1/namespaces/default/pods/\uff0e\uff0e", "the non-ASCII character '\uff0e'"),
    (POD + "/log x", "a space in the path"),
    (POD + "/log%zz", "'%zz' in the path: a '%' that starts no escape"),
    (POD + "/log?", "empty query ('?')"),
    (POD + "/log?follow=true;x", "';' in the query"),
    (
        "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb&fieldSelector=x",
        "repeats the query parameter 'fieldSelector'",
    ),
    ("/api/v1/pods?watch=0&watch=1", "repeats the query parameter 'watch'"),
    ("/api/v1/pods?labelSelector=a&label%53elector=b", "'labelSelector'"),
    ("/api/v1/pods?fieldSelector=metadata.name%3D%FF", "is not UTF-8 once decoded"),
    ("/api/v1/pods?x=[1]", "'[' in the query"),
    ("/logs/../api/v1/namespaces/default/secrets/db", "dot segment '..'"),
    ("/logs/%2e%2e/api/v1/namespaces/default/secrets/db", "dot segment '%2e%2e'"),
    # kube-apiserver answers these 500 before authorizing (its request info cannot read them)
    ("/apis/default/default/proxy", "'watch' or 'proxy' with nothing after it"),
    ("/api/v1/watch", "'watch' or 'proxy' with nothing after it"),
]
UNRESTRICTED = ci.Scope.unrestricted_unsafe()


@pytest.fixture
def wire() -> Iterator[WireServer]:
    with WireServer() as server:
        yield server


def aio_base(url: str) -> Any:
    cfg = aclient.Configuration()
    cfg.host = url
    cfg.api_key["BearerToken"] = "requestor-token"
    cfg.api_key_prefix["BearerToken"] = "Bearer"
    return aclient.ApiClient(cfg)


@pytest.mark.parametrize(("target", "reason"), REFUSED)
def test_every_path_refused_on_every_transport(target: str, reason: str, wire: WireServer) -> None:
    url = wire.url + target
    base = api_client(wire.url)
    with ci.UserSession(base, user="alice", scope=UNRESTRICTED) as session:
        with pytest.raises(ci.OutOfScopeError) as by_prepare:
            session.prepare_request("GET", url)
        with pytest.raises(ci.OutOfScopeError) as by_sync:
            sync_send(session, "GET", target)
    base.close()

    async def main() -> ci.OutOfScopeError:
        abase = aio_base(wire.url)
        try:
            async with aio.UserSession(abase, user="alice", scope=UNRESTRICTED) as session:
                with pytest.raises(ci.OutOfScopeError) as by_aio:
                    await aio_send(session, "GET", target)
                return by_aio.value
        finally:
            await abase.close()

    by_aio = run(main())
    for err in (by_prepare.value, by_sync.value, by_aio):
        assert reason in err.reason, (target, err.reason)
        assert err.path == target
        assert f"refused before sending: GET {target!r}: {err.reason}" in str(err)
    assert wire.connections == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:1/api/v1/pods",  # another server
        "{url}@evil.example/api/v1/pods",  # userinfo: the host would become evil.example
        "{url}0/api/v1/pods",  # another port
        "/api/v1/pods",  # no server at all
    ],
)
def test_urls_for_another_server_are_refused(url: str, wire: WireServer) -> None:
    url = url.format(url=wire.url)
    base = api_client(wire.url)
    with ci.UserSession(base, user="alice", scope=UNRESTRICTED) as session:
        with pytest.raises(ci.OutOfScopeError, match="the session's API server") as refused:
            session.api_client.call_api("GET", url)
        assert refused.value.path == url
        with pytest.raises(ci.OutOfScopeError, match="the session's API server"):
            session.prepare_request("GET", url)
    base.close()
    assert wire.connections == 0


ACCEPTED = [
    # What the official client builds: escaped names, urlencoded selectors, proxied paths.
    "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Anode-proxier",
    "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29",
    "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb&watch=True",
    "/api/v1/namespaces/default/pods/web/log?follow=false&tailLines=10",
    "/api/v1/namespaces/default/pods/web/proxy/metrics/a.b",
    "/api/v1/namespaces/default/services/https:web:443/proxy/healthz",
    "/api/v1/namespaces/kube-system/status",
    "/version/",
    "/",
]


@pytest.mark.parametrize("target", ACCEPTED)
def test_what_the_official_client_builds_goes_out(target: str, wire: WireServer) -> None:
    base = api_client(wire.url)
    with ci.UserSession(base, user="alice", scope=UNRESTRICTED) as session:
        approved = session.api_client.rest_client.target.plan("GET", wire.url + target).info
        sync_send(session, "GET", target)
    base.close()

    async def main() -> None:
        abase = aio_base(wire.url)
        try:
            async with aio.UserSession(abase, user="alice", scope=UNRESTRICTED) as session:
                await aio_send(session, "GET", target)
        finally:
            await abase.close()

    run(main())
    sync_request, aio_request = wire.requests
    assert sync_request.target == target  # urllib3 sends it byte for byte
    for request in (sync_request, aio_request):  # yarl may decode %3A to ':' (same meaning)
        assert resolve_url("GET", request.target) == approved


# --------------------------------------------------------------------------- the property


# Path segments the official client builds (escaped names included) ...
GOOD = [
    *["default", "kube-system", "web", "web-0", "system%3Anode", "a.b", "%41pp", "~x", "a+b"],
    *["pods", "secrets", "log", "eviction", "status", "proxy", "watch", "namespaces", "v1"],
]
# ... and what it does not: dot segments (also escaped), escaped '/', empty segments, ';',
# characters the HTTP libraries encode or normalise, broken escapes, '?' and '#'.
ODD = [
    *[".", "..", "%2e", "%2E", "%2e%2e", ".%2E", "%2F", "web%2Flog", "", "a;b", ";", "%3B"],
    *["\u00e9", "%C3%A9", "\uff0e\uff0e", "\uff57\uff45\uff42", "a b", "\\", "%5C"],
    *["x%zz", "%", "%25", "%252e", "?", "#", "%3F", "%23", "web%20", "%00", "a\tb"],
]
ODD_ONE_IN_EIGHT = st.sampled_from([False] * 7 + [True])
SEGMENT = ODD_ONE_IN_EIGHT.flatmap(lambda odd: st.sampled_from(ODD if odd else GOOD))
SHAPES = [
    "/api/v1/namespaces/{}/pods/{}/{}",
    "/api/v1/namespaces/{}/pods/{}",
    "/api/v1/namespaces/{}/{}",
    "/api/v1/{}/{}",
    "/apis/apps/v1/namespaces/{}/deployments/{}",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles/{}",
    "/api/v1/watch/namespaces/{}/pods/{}",
    "/api/v1/namespaces/{}/pods/{}/proxy/{}",
    "/api/v1/namespaces/{}/status",
    "/logs/{}",
    "/version",
    "/apis",
]
QUERY_GOOD = [
    *["fieldSelector=metadata.name%3Dweb", "labelSelector=app%3Dweb%2Ctier%21%3Dx", "watch=1"],
    *["watch=false", "limit=1", "fieldSelector=spec.nodeName%3Dn1", "timeoutSeconds=1"],
    *["follow=false", "field%53elector=metadata.name%3Dweb-0", "fieldSelector=metadata.name=web"],
]
QUERY_ODD = [
    *["fieldSelector=x", "watch", "+", "a=b;c", ";", "x=%FF", "x=\u00e9", "q=%2e", "q=%3F"],
    *["fieldSelector=metadata.name%3D..", "", "x=%zz", "x=%2B", "?", "q=a b", "x=[1]"],
]
QUERY_PIECE = ODD_ONE_IN_EIGHT.flatmap(
    lambda odd: st.sampled_from(QUERY_ODD if odd else QUERY_GOOD)
)


@st.composite
def targets(draw: st.DrawFn) -> str:
    """A request target: a real shape, mostly usual parts, sometimes odd ones, sometimes
    extra segments, a trailing '/', a query, a fragment."""
    shape = draw(st.sampled_from(SHAPES))
    target = shape.format(*(draw(SEGMENT) for _ in range(shape.count("{}"))))
    if draw(st.sampled_from([False] * 3 + [True])):
        target += "".join("/" + s for s in draw(st.lists(SEGMENT, min_size=1, max_size=3)))
    if draw(ODD_ONE_IN_EIGHT):
        target += "/"
    if draw(st.booleans()):
        target += "?" + "&".join(draw(st.lists(QUERY_PIECE, min_size=1, max_size=3)))
    if draw(ODD_ONE_IN_EIGHT) and draw(ODD_ONE_IN_EIGHT):
        target += "#" + draw(st.sampled_from(["", "x", "/../../secrets"]))
    return target


METHODS = st.sampled_from(["GET", "GET", "POST", "PUT", "PATCH", "DELETE"])
PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_the_wire_carries_what_the_guard_approved(wire: WireServer) -> None:
    """Capture server: the request line that arrived resolves to the approved RequestInfo,
    for urllib3 and for aiohttp; a refusal opens no connection."""
    base = api_client(wire.url)
    session = ci.UserSession(base, user="alice", scope=UNRESTRICTED)
    loop = asyncio.new_event_loop()
    abase = aio_base(wire.url)
    asession = aio.UserSession(abase, user="alice", scope=UNRESTRICTED)
    guard = session.api_client.rest_client.target

    @PROPERTY
    @given(method=METHODS, target=targets(), use_aio=st.booleans())
    @example(method="GET", target=POD + "/log/../../../../kube-system/secrets/x", use_aio=False)
    @example(method="GET", target=POD + "/log/%2e%2e/%2e%2e/secrets/x", use_aio=True)
    @example(method="POST", target=EVICTION_ESCAPE, use_aio=True)
    @example(method="GET", target=LOGS_ESCAPE, use_aio=False)
    def check(method: str, target: str, use_aio: bool) -> None:
        url = wire.url + target
        seen = (wire.connections, len(wire.requests))
        try:
            approved = guard.plan(method, url).info
        except ci.OutOfScopeError as refused:
            assert refused.reason, target
            event(f"refused: {refused.reason.split(':')[0][:40]}")
            with pytest.raises(ci.OutOfScopeError):
                if use_aio:
                    loop.run_until_complete(aio_send(asession, method, target))
                else:
                    sync_send(session, method, target)
            assert (wire.connections, len(wire.requests)) == seen
            return
        if use_aio:
            loop.run_until_complete(aio_send(asession, method, target))
        else:
            sync_send(session, method, target)
        event("sent, resource request" if approved.is_resource_request else "sent, non-resource")
        received = wire.requests[-1]
        assert received.method == method
        assert resolve_url(method, received.target) == approved, (target, received.target)

    try:
        check()
    finally:
        session.close()
        base.close()
        loop.run_until_complete(abase.close())
        loop.close()


def expected_object_ref(info: RequestInfo) -> dict[str, str] | None:
    """The audit ``objectRef`` for a request resolved as ``info``, empty fields left out."""
    if not info.is_resource_request:
        return None
    ref = {
        "resource": info.resource,
        "apiGroup": info.api_group,
        "apiVersion": info.api_version,
        "namespace": info.namespace,
        "name": info.name,
        "subresource": info.subresource,
    }
    return {key: value for key, value in ref.items() if value}


def object_ref(audit: dict[str, Any]) -> dict[str, str] | None:
    """The audited ``objectRef`` without empty fields (kube-apiserver omits them)."""
    ref = audit.get("objectRef")
    if ref is None:
        return None
    return {key: value for key, value in ref.items() if value}


def test_the_server_authorizes_what_the_guard_approved(apiserver: Any) -> None:
    """API server: the audited verb and objectRef of every request the guard let through are
    the approved ones. bob holds no grant, so nothing changes whatever the method."""
    base = apiserver.api_client()
    session = ci.UserSession(base, user="bob", scope=UNRESTRICTED)
    guard = session.api_client.rest_client.target

    @settings(PROPERTY, max_examples=120)
    @given(method=METHODS, target=targets())
    @example(method="GET", target=POD + "/log/../../../../kube-system/secrets/x")
    @example(method="POST", target=EVICTION_ESCAPE)
    @example(method="GET", target=LOGS_ESCAPE)
    def check(method: str, target: str) -> None:
        url = apiserver.url + target
        try:
            approved = guard.plan(method, url).info
        except ci.OutOfScopeError:
            event("refused")
            return
        event(f"sent: {approved.verb} {approved.group_resource or approved.path}")
        agent = marker()
        response = sync_send(session, method, target, agent=agent)
        assert response.status < 500, (method, target, response.status)
        (audit,) = [e for e in audited(apiserver, agent) if e["stage"] == "ResponseComplete"]
        assert audit["verb"] == approved.verb, (method, target)
        assert object_ref(audit) == expected_object_ref(approved), (method, target)
        assert resolve_url(method, audit["requestURI"]) == approved, (target, audit)

    try:
        check()
    finally:
        session.close()
