"""Run an aiohttp app of the embedded server on a background thread, for tests.

    with serve(build_app(store, filters=[admin_filter])) as url:
        api = kubernetes.client.CoreV1Api(api_client(url))

The app runs on its own event loop on 127.0.0.1 and a free port, plain HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from cimp_apiserver.context import get_context
from constrained_impersonation.identity import Identity

ADMIN = Identity("admin", groups=("system:masters", "system:authenticated"))


@web.middleware
async def admin_filter(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Stands in for authentication and friends: every request acts as ``admin``."""
    ctx = get_context(request)
    ctx.requestor = ctx.user = ADMIN
    return await handler(request)


def identity_filter(identity: Identity) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        ctx = get_context(request)
        ctx.requestor = ctx.user = identity
        return await handler(request)

    return middleware


class ServerThread:
    """An app served on its own loop and thread; ``url`` once started."""

    def __init__(self, app: web.Application | Callable[[], web.Application], port: int = 0):
        self._app = app
        self.port = port
        self.url = ""
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="test-apiserver", daemon=True)
        self._runner: web.AppRunner | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def _start(self) -> None:
        app = self._app if isinstance(self._app, web.Application) else self._app()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server's loop thread (e.g. to touch the store)."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def start(self) -> str:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self.url

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@contextlib.contextmanager
def serve(
    app: web.Application | Callable[[], web.Application], port: int = 0
) -> Iterator[ServerThread]:
    server = ServerThread(app, port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def api_client(url: str) -> Any:
    """A ``kubernetes.client.ApiClient`` for a plain-HTTP test server."""
    import kubernetes.client

    config = kubernetes.client.Configuration(host=url)
    return kubernetes.client.ApiClient(config)
