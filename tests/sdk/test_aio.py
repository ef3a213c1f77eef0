"""The asyncio sessions (kubernetes.aio on aiohttp), against the raw socket server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from kubernetes.aio import client as aclient
from kubernetes.aio import watch as awatch
from kubernetes.aio.client.exceptions import ApiException

import constrained_impersonation as ci
from constrained_impersonation import aio
from constrained_impersonation import headers as h
from constrained_impersonation.identity import Identity
from constrained_impersonation.retry import RetryPolicy

from ._wire import Response, WireServer, status_body

T = TypeVar("T")
PODS = ci.Scope(ci.Rule(verbs=["list", "watch", "create"], resources=["pods"]))


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def wire() -> Iterator[WireServer]:
    with WireServer() as server:
        yield server


def base_for(url: str) -> Any:
    cfg = aclient.Configuration()
    cfg.host = url
    cfg.api_key["BearerToken"] = "requestor-token"
    cfg.api_key_prefix["BearerToken"] = "Bearer"
    return aclient.ApiClient(cfg)


def test_repeated_groups_and_utf8_values_on_the_wire(wire: WireServer) -> None:
    async def main() -> None:
        base = base_for(wire.url)
        async with aio.UserSession(
            base,
            user="jürgen",
            groups=["dev", "ops,qa"],
            extra={"example.com/scopes": ["view", "édit"]},
            scope=PODS,
        ) as session:
            pods = await aclient.CoreV1Api(session.api_client).list_namespaced_pod("default")
            assert pods.items == []
        await base.close()

    run(main())
    (request,) = wire.requests
    assert request.header_lines("Impersonate-Group") == [b"dev", b"ops,qa"]
    assert request.header_lines("Impersonate-Extra-example.com%2Fscopes") == [
        b"view",
        "édit".encode(),
    ]
    assert request.header("authorization") == "Bearer requestor-token"
    assert h.decode(request.text_lines()) == Identity(
        "jürgen", groups=("dev", "ops,qa"), extra={"example.com/scopes": ("view", "édit")}
    )


def test_out_of_scope_raises_before_connecting(wire: WireServer) -> None:
    async def main() -> None:
        base = base_for(wire.url)
        session = aio.NodeSession(base, node="worker-1", scope=PODS)
        with pytest.raises(ci.OutOfScopeError):
            await aclient.CoreV1Api(session.api_client).list_namespaced_secret("default")
        await session.close()
        await base.close()

    run(main())
    assert wire.connections == 0


def test_429_is_retried_and_post_is_not(wire: WireServer) -> None:
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    too_many = Response.json(429, status_body(429, "slow down", "TooManyRequests"), Retry_After="2")

    async def main() -> None:
        base = base_for(wire.url)
        policy = RetryPolicy(attempts=3, async_sleep=fake_sleep, jitter=lambda: 1.0)
        session = aio.UserSession(base, user="alice", scope=PODS, retry=policy)
        core = aclient.CoreV1Api(session.api_client)
        wire.script = [too_many]
        await core.list_namespaced_pod("default")
        wire.script = [too_many]
        with pytest.raises(ApiException) as caught:
            await core.create_namespaced_pod(
                "default", aclient.V1Pod(metadata=aclient.V1ObjectMeta(name="p"))
            )
        assert caught.value.status == 429
        await base.close()

    run(main())
    assert [r.method for r in wire.requests] == ["GET", "GET", "POST"]
    assert sleeps == [2.0]


def test_impersonation_denied(wire: WireServer) -> None:
    message = (
        'pods is forbidden: User "system:serviceaccount:d:deputy" cannot '
        'impersonate-on:user-info:list resource "pods" in API group "" in the namespace "default"'
    )
    wire.handler = lambda req: Response.json(403, status_body(403, message))

    async def main() -> None:
        base = base_for(wire.url)
        session = aio.UserSession(base, user="alice", scope=PODS)
        with pytest.raises(ci.ImpersonationDenied) as caught:
            await aclient.CoreV1Api(session.api_client).list_namespaced_pod("default")
        assert caught.value.rule is not None
        assert isinstance(caught.value.__cause__, ApiException)
        await base.close()

    run(main())


def test_watch_streams_through_an_async_session(wire: WireServer) -> None:
    events = [
        {"type": "ADDED", "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": n}}}
        for n in ("a", "b")
    ]
    wire.handler = lambda req: Response(
        200, [json.dumps(e).encode() + b"\n" for e in events], {"Content-Type": "application/json"}
    )

    async def main() -> list[str]:
        base = base_for(wire.url)
        session = aio.NodeSession(base, node="worker-1", scope=PODS)
        core = aclient.CoreV1Api(session.api_client)
        names = []
        async with awatch.Watch() as w:
            async for event in w.stream(core.list_namespaced_pod, "default", timeout_seconds=5):
                names.append(event["object"].metadata.name)
        await base.close()
        return names

    assert run(main()) == ["a", "b"]
    assert wire.requests[0].header("Impersonate-User") == "system:node:worker-1"


def test_sessions_share_the_base_aiohttp_session(wire: WireServer) -> None:
    async def main() -> None:
        base = base_for(wire.url)
        one = aio.UserSession(base, user="alice", scope=PODS)
        two = aio.ServiceAccountSession(base, namespace="ns", name="sa", scope=PODS)
        await aclient.CoreV1Api(one.api_client).list_namespaced_pod("default")
        shared = base.rest_client.pool_manager
        assert shared is not None
        await aclient.CoreV1Api(two.api_client).list_namespaced_pod("default")
        assert base.rest_client.pool_manager is shared
        await one.close()
        assert not shared.closed  # closing a session leaves the pool to the base client
        await aclient.CoreV1Api(two.api_client).list_namespaced_pod("default")
        await base.close()
        assert shared.closed

    run(main())
    assert [r.header("Impersonate-User") for r in wire.requests] == [
        "alice",
        "system:serviceaccount:ns:sa",
        "system:serviceaccount:ns:sa",
    ]


def test_sync_and_async_clients_are_not_mixed(wire: WireServer) -> None:
    from ._wire import api_client

    sync_base = api_client(wire.url)
    with pytest.raises(TypeError, match="aio"):
        aio.UserSession(sync_base, user="alice", scope=PODS)

    async def main() -> None:
        base = base_for(wire.url)
        with pytest.raises(TypeError, match="aio"):
            ci.UserSession(base, user="alice", scope=PODS)
        await base.close()

    run(main())
    sync_base.close()


def test_async_session_from_kubeconfig(wire: WireServer, tmp_path: Path) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": wire.url}}],
        "users": [
            {
                "name": "u",
                "user": {"token": "kube-token", "as": "alice", "as-groups": ["dev", "ops,qa"]},
            }
        ],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))

    async def main() -> None:
        session = await aio.session_from_kubeconfig(str(path), scope=PODS)
        assert isinstance(session, aio.UserSession)
        async with session:
            await aclient.CoreV1Api(session.api_client).list_namespaced_pod("default")

    run(main())
    (request,) = wire.requests
    assert request.header_lines("Impersonate-Group") == [b"dev", b"ops,qa"]
    assert request.header("authorization") == "Bearer kube-token"


def test_async_node_session_from_downward_api_rotates_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from ._wire import self_signed

    cert, key = self_signed(tmp_path)
    sa_dir = tmp_path / "sa"
    sa_dir.mkdir()
    (sa_dir / "ca.crt").write_bytes(cert.read_bytes())
    token = sa_dir / "token"
    token.write_text("token-1")
    with WireServer(tls=(cert, key)) as server:
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
        monkeypatch.setenv("CIMP_SERVICEACCOUNT_DIR", str(sa_dir))
        monkeypatch.setenv("NODE_NAME", "worker-1")

        async def main() -> None:
            session = aio.NodeSession.from_downward_api(PODS)
            async with session:
                core = aclient.CoreV1Api(session.api_client)
                await core.list_namespaced_pod("default")
                stat = token.stat()
                token.write_text("token-2")
                os.utime(token, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
                await core.list_namespaced_pod("default")
            assert session.closed

        run(main())
        assert [r.header("authorization") for r in server.requests] == [
            "Bearer token-1",
            "Bearer token-2",
        ]
        assert {r.header("Impersonate-User") for r in server.requests} == {"system:node:worker-1"}
