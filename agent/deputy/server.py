"""The deputy's HTTPS/websocket service: authenticate, impersonate for one console, relay.

Order of a connection, each step for a reason:

1. TokenReview of the bearer token (401 before anything else, as kube-apiserver does, so an
   unauthenticated caller learns nothing about the deputy's configuration and nothing is
   impersonated);
2. the target is checked (valid names, served namespace) and the request must be an upgrade;
3. a ``UserSession`` scoped to exactly this console prepares the request: the SDK's scope check
   and the impersonation header lines (the official client cannot send them over websockets);
4. the API server authorizes the console for the user; its refusal (403, 404) is relayed
   unchanged as Status JSON before any upgrade, so the user sees the real reason;
5. frames are relayed both ways until either side closes; the close code is passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
import weakref
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web
from kubernetes.client import ApiClient

from constrained_impersonation import OutOfScopeError, explain_forbidden
from constrained_impersonation.settings import Settings

from .config import DeputyConfig
from .console import (
    KUBEVIRT_SUBPROTOCOL,
    RefusedIdentity,
    console_path,
    forwarded_identity,
    open_session,
    valid_target,
)
from .kube import HandshakeRefused, KubeAPI, ReviewUnavailable, TokenRejected
from .logs import log

__all__ = ["Deputy", "status_response"]

INFO, ERROR = logging.INFO, logging.ERROR

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
}


def status_response(code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """A ``metav1.Status`` failure, the shape kube clients already parse."""
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": _REASONS.get(code, "Unknown"),
        "code": code,
    }
    return web.json_response(body, status=code, headers=headers)


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


class Deputy:
    """The service. ``await start()`` serves on ``config.listen``; ``await stop()``."""

    def __init__(
        self, config: DeputyConfig, base: ApiClient, *, settings: Settings | None = None
    ) -> None:
        self.config = config
        self.base = base
        # One Settings for every session: reading the environment per connection is waste.
        self.settings = settings if settings is not None else Settings()
        self.api = KubeAPI(
            base.configuration,
            audiences=config.audiences,
            review_timeout=config.review_timeout,
            connect_timeout=config.connect_timeout,
        )
        self._open: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(
            str(self.config.tls_cert_file), str(self.config.tls_private_key_file)
        )
        return context

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/console/{namespace}/{name}", self.console)
        app.router.add_get("/healthz", self.healthz)
        app.on_shutdown.append(self._close_consoles)
        return app

    async def start(self) -> None:
        """Load TLS (fails fast on bad files), then serve."""
        context = self.ssl_context()
        await self.api.start()
        runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        host, port = self.config.listen
        site = web.TCPSite(runner, host, port, ssl_context=context)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1]) if runner.addresses else port
        log(INFO, "listening", url=f"https://{host}:{self.port}")

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        await self.api.close()

    async def _close_consoles(self, app: web.Application) -> None:
        for ws in list(self._open):
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"deputy shutting down")

    # ------------------------------------------------------------------ handlers

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def console(self, request: web.Request) -> web.StreamResponse:
        # The namespace and name come from the URL: they are logged only once the caller is
        # authenticated and they are valid names (an unauthenticated caller writes nothing of
        # its choosing into the log; the log is JSON lines, so nothing forges a line anyway).
        token = _bearer(request)
        if token is None:
            log(INFO, "unauthorized", status=401, reason="no bearer token", peer=request.remote)
            return _unauthorized()
        try:
            user = await self.api.review(token)
        except TokenRejected as exc:
            log(INFO, "unauthorized", status=401, reason=str(exc), peer=request.remote)
            return _unauthorized()
        except ReviewUnavailable as exc:
            log(ERROR, "cannot authenticate users", status=503, error=str(exc))
            return status_response(503, "cimp-deputy cannot authenticate users right now")
        del token  # never kept, never logged

        namespace = request.match_info["namespace"]
        name = request.match_info["name"]
        if not valid_target(namespace, name):
            log(INFO, "refused", status=400, user=user.username, reason="invalid target name")
            return status_response(400, "invalid namespace or virtual machine instance name")
        if self.config.namespaces is not None and namespace not in self.config.namespaces:
            log(
                INFO,
                "refused",
                status=403,
                user=user.username,
                namespace=namespace,
                reason="namespace not served",
            )
            return status_response(
                403, f"cimp-deputy does not serve consoles in namespace {namespace!r}"
            )
        user_ws = web.WebSocketResponse(protocols=(KUBEVIRT_SUBPROTOCOL,), heartbeat=30.0)
        if not user_ws.can_prepare(request).ok:
            return status_response(400, "the console is served over a websocket (GET + Upgrade)")

        try:
            forwarded = forwarded_identity(user, self.config.forward_extra)
            session = open_session(self.base, forwarded, namespace, name, settings=self.settings)
        except RefusedIdentity as exc:
            log(INFO, "refused", status=403, user=user.username, reason=str(exc))
            return status_response(403, str(exc))
        if forwarded.dropped_extra:
            log(
                logging.DEBUG,
                "extras not forwarded (not on the allow-list)",
                user=user.username,
                keys=list(forwarded.dropped_extra),
            )
        path = console_path(namespace, name)
        with session:  # needed only to prepare this one request
            try:
                lines = session.prepare_request("GET", self.api.host + path)
            except OutOfScopeError as exc:  # a bug: the scope names exactly this request
                log(ERROR, "refused locally", status=500, error=str(exc))
                return status_response(500, "cimp-deputy refused its own request")
        try:
            upstream = await self.api.open_console(path, lines, (KUBEVIRT_SUBPROTOCOL,))
        except HandshakeRefused as refused:
            return _relay_refusal(refused, user.username, namespace, name)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log(
                ERROR,
                "cannot reach the API server",
                status=502,
                namespace=namespace,
                name=name,
                error=str(exc),
            )
            return status_response(502, "cimp-deputy cannot reach the API server")
        async with upstream:
            await user_ws.prepare(request)
            self._open.add(user_ws)
            started = time.monotonic()
            log(
                INFO,
                "console opened",
                namespace=namespace,
                name=name,
                user=user.username,
                groups=list(forwarded.groups),
            )
            closed_by = await _relay(user_ws, upstream)
            log(
                INFO,
                "console closed",
                namespace=namespace,
                name=name,
                user=user.username,
                closed_by=closed_by,
                seconds=round(time.monotonic() - started, 1),
            )
        return user_ws


def _relay_refusal(
    refused: HandshakeRefused, username: str, namespace: str, name: str
) -> web.Response:
    """The API server's client-error Status, unchanged (the user sees the real reason: which
    permission they lack, which VMI is missing); logged by its meaning."""
    status: Any = None
    if refused.content_type == "application/json":
        with contextlib.suppress(ValueError):
            status = json.loads(refused.body)
    message = status.get("message") if isinstance(status, dict) else None
    target = {"namespace": namespace, "name": name, "user": username}
    if refused.status == 401:  # the deputy's own credentials, not the user's
        log(ERROR, "the API server rejected the deputy's credentials", message=message)
        return status_response(503, "cimp-deputy cannot authenticate to the API server")
    if not 400 <= refused.status < 500 or not isinstance(status, dict):
        log(
            ERROR,
            "unexpected answer of the API server",
            status=refused.status,
            message=message,
            **target,
        )
        return status_response(502, f"the API server answered HTTP {refused.status}")
    denial = explain_forbidden(status) if refused.status == 403 else None
    if denial is not None:  # names the deputy: its RBAC lacks a grant, an operator problem
        log(ERROR, "deputy RBAC is missing a grant", missing=str(denial), **target)
    else:
        log(INFO, "refused by the API server", status=refused.status, message=message, **target)
    return web.json_response(status, status=refused.status)


def _unauthorized() -> web.Response:
    # Deliberately no detail: why a token failed (expired, audience, unknown) is logged only.
    return status_response(401, "Unauthorized", headers={"WWW-Authenticate": "Bearer"})


async def _pump(
    source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
) -> None:
    async for message in source:
        if message.type == WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        else:  # ERROR; CLOSE ends the iteration itself
            break


async def _relay(user: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> str:
    """Relay until one side closes, close the other with its code; returns who closed."""
    to_upstream = asyncio.create_task(_pump(user, upstream))
    to_user = asyncio.create_task(_pump(upstream, user))
    try:
        done, _ = await asyncio.wait((to_upstream, to_user), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (to_upstream, to_user):
            task.cancel()
        for task in (to_upstream, to_user):
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError, ConnectionError):
                await task
    if to_user in done:
        await user.close(code=_sendable(upstream.close_code))
        await upstream.close()
        return "the API server"
    await upstream.close(code=_sendable(user.close_code))
    await user.close()
    return "the user"


def _sendable(code: int | None) -> int:
    """A close code that may appear in a close frame: 1005/1006/1015 only describe what
    happened locally (no code sent, connection lost, TLS failure) and must not be sent."""
    if code is None or code == 1005:
        return int(aiohttp.WSCloseCode.OK)
    if (1000 <= code <= 1014 and code not in (1004, 1006)) or 3000 <= code <= 4999:
        return code
    return int(aiohttp.WSCloseCode.INTERNAL_ERROR)
