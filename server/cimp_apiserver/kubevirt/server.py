"""The stand-in as its own HTTPS server: an extension API server beside a real kube-apiserver.

Register it with a ``Service`` and an ``APIService`` for ``v1.subresources.kubevirt.io``
(``caBundle``: the CA of its serving certificate, which must name
``virt-api.kubevirt.svc``, the server name kube-apiserver checks). It accepts only TLS
connections whose client certificate the requestheader CA signed (kube-apiserver's proxy
client certificate, with a common name on the allowed list) and takes the user from the front
proxy's headers; it looks VMIs up through the API with its own credentials, as virt-api does
with its service account.

:class:`StandInThread` runs it on its own event loop in a background thread (tests).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from .frontproxy import RequestHeaderAuth, RequestHeaderRefused
from .standin import VMI_GROUP, KubeVirtStandIn, VMILookup

__all__ = ["SERVING_HOSTS", "APILookup", "StandInServer", "StandInThread"]

# The name kube-apiserver verifies (<service>.<namespace>.svc) and the loopback names.
SERVING_HOSTS = ("virt-api.kubevirt.svc", "localhost", "127.0.0.1")


class APILookup:
    """Reads VMIs from the API server with a bearer token (virt-api's own client)."""

    def __init__(self, url: str, token: str, ca_file: str | Path) -> None:
        self._url = url.rstrip("/")
        self._token = token
        self._ssl = ssl.create_default_context(cafile=str(ca_file))
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, namespace: str, name: str) -> dict[str, Any] | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        path = (
            f"/apis/{VMI_GROUP}/v1/namespaces/{quote(namespace, safe='')}"
            f"/virtualmachineinstances/{quote(name, safe='')}"
        )
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        async with self._session.get(self._url + path, headers=headers, ssl=self._ssl) as resp:
            if resp.status == 404:
                return None
            if resp.status != 200:
                raise RuntimeError(f"the server answered HTTP {resp.status}: {await resp.text()}")
            found: dict[str, Any] = await resp.json()
            return found

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class StandInServer:
    """The stand-in served over HTTPS to the front proxy only."""

    def __init__(
        self,
        lookup: VMILookup,
        auth: RequestHeaderAuth,
        cert_file: str | Path,
        key_file: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.standin = KubeVirtStandIn(lookup)
        self.auth = auth
        self._ssl = auth.server_context(cert_file, key_file)
        self._host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        peercert = transport.get_extra_info("peercert") if transport is not None else None
        try:
            self.auth.check_peer(peercert)
        except RequestHeaderRefused as refused:
            return web.Response(status=401, text=f"{refused}\n", content_type="text/plain")
        return await self.standin.handle(request, self.auth.identity(request.headers))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self.port, ssl_context=self._ssl)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class StandInThread:
    """A :class:`StandInServer` on its own event loop in a daemon thread."""

    def __init__(
        self,
        auth: RequestHeaderAuth,
        cert_file: str | Path,
        key_file: str | Path,
        *,
        api_url: str,
        token: str,
        ca_file: str | Path,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="cimp-kubevirt-standin", daemon=True
        )
        self._lookup = APILookup(api_url, token, ca_file)
        self.server = StandInServer(self._lookup, auth, cert_file, key_file)
        self._thread.start()
        try:
            self._run(self.server.start())
        except BaseException:
            self.stop()
            raise

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self) -> None:
        if self._loop.is_closed():
            return
        try:
            if self._thread.is_alive():
                self._run(self.server.stop())
                self._run(self._lookup.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def __enter__(self) -> StandInThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
