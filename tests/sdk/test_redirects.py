"""Sessions never follow redirects (issue 11, item 2).

Following a 3xx would send the request, with the base client's credentials and the session's
``Impersonate-*`` lines, to a location the scope never checked. aiohttp follows redirects by
default, so an asyncio session did exactly that. Both transports must return the 3xx as the
official client does for any non-2xx answer: ``ApiException`` with that status. The
"elsewhere" listener proves nothing was sent to the new location.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.aio import client as aclient
from kubernetes.aio.client.exceptions import ApiException as AsyncApiException
from kubernetes.client.exceptions import ApiException

import constrained_impersonation as ci
from constrained_impersonation import aio

from ._wire import Response, WireServer, api_client

SCOPE = ci.Scope(ci.Rule(["list", "create"], ["pods"], namespaces=["default"]))
REDIRECTS = [301, 302, 303, 307, 308]
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}}


@pytest.fixture
def elsewhere() -> Iterator[WireServer]:
    """The listener a redirect points to: it must receive nothing."""
    with WireServer() as server:
        yield server


def redirecting(status: int, elsewhere: WireServer) -> WireServer:
    location = elsewhere.url + "/api/v1/namespaces/default/pods"
    return WireServer(lambda req: Response(status, b"", {"Location": location}))


def aio_base(url: str) -> Any:
    cfg = aclient.Configuration()
    cfg.host = url
    cfg.api_key["BearerToken"] = "requestor-token"
    cfg.api_key_prefix["BearerToken"] = "Bearer"
    return aclient.ApiClient(cfg)


@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("call", ["list", "create"])
def test_sync_sessions_return_the_redirect(status: int, call: str, elsewhere: WireServer) -> None:
    with redirecting(status, elsewhere) as first:
        base = api_client(first.url)
        with ci.UserSession(base, user="alice", groups=["dev"], scope=SCOPE) as session:
            core = client.CoreV1Api(session.api_client)
            with pytest.raises(ApiException) as answered:
                if call == "list":
                    core.list_namespaced_pod("default")
                else:
                    core.create_namespaced_pod("default", POD)
        base.close()
        assert answered.value.status == status
        assert len(first.requests) == 1
        assert first.requests[0].header("Impersonate-User") == "alice"
    assert elsewhere.connections == 0
    assert elsewhere.requests == []


@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("call", ["list", "create"])
def test_aio_sessions_return_the_redirect(status: int, call: str, elsewhere: WireServer) -> None:
    async def main() -> int:
        base = aio_base(first.url)
        try:
            async with aio.UserSession(base, user="alice", groups=["dev"], scope=SCOPE) as session:
                core = aclient.CoreV1Api(session.api_client)
                with pytest.raises(AsyncApiException) as answered:
                    if call == "list":
                        await core.list_namespaced_pod("default")
                    else:
                        await core.create_namespaced_pod("default", POD)
                return int(answered.value.status)
        finally:
            await base.close()

    with redirecting(status, elsewhere) as first:
        assert asyncio.run(main()) == status
        assert len(first.requests) == 1
        assert first.requests[0].header("Impersonate-User") == "alice"
    assert elsewhere.connections == 0
    assert elsewhere.requests == []


def test_the_listener_would_see_a_followed_redirect(elsewhere: WireServer) -> None:
    """The control: the plain aiohttp client follows the same 302 to the other listener, so
    an empty listener above means the session did not follow."""

    async def main() -> None:
        base = aio_base(first.url)
        try:
            await aclient.CoreV1Api(base).list_namespaced_pod("default")
        finally:
            await base.close()

    with redirecting(302, elsewhere) as first:
        asyncio.run(main())
    assert [r.path for r in elsewhere.requests] == ["/api/v1/namespaces/default/pods"]


def test_a_redirect_within_the_server_is_not_followed_either() -> None:
    """Same origin: aiohttp would keep the Authorization header too, for a path (here a
    Secret) the scope never saw."""
    secret = "/api/v1/namespaces/kube-system/secrets/root-ca"

    def handler(req: Any) -> Response:
        if req.path == secret:
            return Response.json(200, {"kind": "Secret"})
        return Response(302, b"", {"Location": server.url + secret})

    async def main() -> int:
        base = aio_base(server.url)
        try:
            async with aio.UserSession(base, user="alice", scope=SCOPE) as session:
                with pytest.raises(AsyncApiException) as answered:
                    await aclient.CoreV1Api(session.api_client).list_namespaced_pod("default")
                return int(answered.value.status)
        finally:
            await base.close()

    with WireServer(handler) as server:
        assert asyncio.run(main()) == 302
    assert [r.path for r in server.requests] == ["/api/v1/namespaces/default/pods"]
