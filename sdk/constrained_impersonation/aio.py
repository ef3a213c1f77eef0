"""Impersonating sessions for ``kubernetes.aio`` (the asyncio client shipped in kubernetes 37).

Same classes and rules as :mod:`constrained_impersonation.session`, for
``kubernetes.aio.client.ApiClient``. The aio REST layer runs on aiohttp, whose
``CIMultiDict`` sends every value of a repeated header as its own line and encodes header
values as UTF-8, so the impersonation headers go out exactly as the server must read them::

    from kubernetes.aio import client
    from constrained_impersonation import aio, Rule, Scope

    async with aio.UserSession(base, user="alice", groups=["dev"], scope=scope) as session:
        pods = await client.CoreV1Api(session.api_client).list_namespaced_pod("default")

Requests go through the same request core as the sync sessions (``_core``: path guard and
scope, header lines, rate limit, retries, telemetry, denial mapping); this module only does
the aiohttp I/O it asks for. ``prepare_request`` gives the same check and the header lines for
a WebSocket opened with aiohttp itself. The shared aiohttp ``ClientSession`` of the base client
is the connection pool of every session made from it; closing a session never closes it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, ClassVar, Self

import aiohttp
from kubernetes.aio.client import ApiClient, Configuration
from kubernetes.aio.client.exceptions import ForbiddenException
from kubernetes.aio.client.rest import RESTClientObject, RESTResponse
from multidict import CIMultiDict

from . import _core as core
from . import _sessions as kinds
from .errors import ConfigurationError
from .kubeconfig import KubeconfigImpersonation, default_kubeconfig_path, incluster_configuration
from .retry import ErrorKind, RetryPolicy
from .scope import Scope
from .settings import Settings
from .telemetry import Telemetry

__all__ = [
    "ArbitraryNodeSession",
    "AsyncSession",
    "NodeSession",
    "ServiceAccountSession",
    "UserSession",
    "session_from_kubeconfig",
]


def _classify_aiohttp(exc: BaseException) -> ErrorKind:
    if isinstance(exc, aiohttp.ClientSSLError):
        return ErrorKind.FATAL
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return ErrorKind.CONNECT  # no connection, so nothing was sent
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return ErrorKind.RESET
    return ErrorKind.FATAL


_WIRE = core.Wire(classify=_classify_aiohttp, forbidden=ForbiddenException)


async def _perform(
    op: core.Op, send: Callable[[], Awaitable[RESTResponse]]
) -> tuple[Any, Exception | None]:
    """Do what the core asks, awaiting; an error goes back to the core, not up."""
    try:
        if op is core.SEND:
            return await send(), None
        if isinstance(op, core.Sleep):
            await op.aio(op.seconds)
        elif isinstance(op, core.Read):
            return await op.response.read(), None
        elif isinstance(op, core.Release):
            op.response.response.release()
    except Exception as exc:
        return None, exc
    return None, None


class _SharedSession:
    """The base client's aiohttp ``ClientSession``, created on first use and never closed here.

    Redirects are never followed (aiohttp's default is to follow them): the next hop would
    receive the credentials and impersonation headers without the scope having seen it. The
    3xx goes back to the caller, as ``ApiException`` from the official client.
    """

    def __init__(self, base: Any) -> None:
        self._base = base

    async def request(self, **kwargs: Any) -> aiohttp.ClientResponse:
        kwargs["allow_redirects"] = False
        session = self._base.pool_manager
        if session is None or session.closed:
            session = self._base.pool_manager = self._base._create_pool_manager()
        response: aiohttp.ClientResponse = await session.request(**kwargs)
        return response


class AsyncImpersonatingREST(RESTClientObject):  # type: ignore[misc]
    """The aio ``RESTClientObject`` whose requests go through the session's request core.

    aiohttp's ``CIMultiDict`` sends every value of a repeated header as its own line and
    encodes values as UTF-8, so the core's header lines go out as they are.
    """

    def __init__(self, base: Any, target: core.Target) -> None:
        # The parent __init__ would build another SSL context and a second pool.
        view = core.ConfigView(base.configuration, client_go_retries=False, retries=None)
        self.configuration = view
        self.maxsize = base.maxsize
        self.ssl_context = base.ssl_context
        self.proxy = base.proxy
        self.proxy_headers = base.proxy_headers
        self._effective_retry_options = None
        self.retry_client = None
        self.pool_manager = _SharedSession(base)
        self.target = target

    @property
    def closed(self) -> bool:
        return self.target.closed

    async def close(self) -> None:
        self.target.closed = True

    def _headers(self, given: core.Headers) -> CIMultiDict[str]:
        result: CIMultiDict[str] = CIMultiDict()
        for name, value in self.target.kept_headers(given).items():
            result[name] = value
        for name, value in self.target.lines_text:
            result.add(name, value)
        return result

    async def request(
        self, method: str, url: str, headers: core.Headers = None, **given: Any
    ) -> RESTResponse:
        """The official ``request``: ``given`` goes on as the official client passed it (a
        default timeout added); the headers are the core's."""
        exchange: core.Exchange[RESTResponse] = core.Exchange(self.target, _WIRE, method, url)
        with exchange:
            if not given.get("_request_timeout"):
                given["_request_timeout"] = aiohttp.ClientTimeout(
                    total=None if exchange.plan.streaming else self.target.read_timeout,
                    sock_connect=self.target.connect_timeout,
                )
            parent: Callable[..., Awaitable[RESTResponse]] = super().request

            def send() -> Awaitable[RESTResponse]:
                return core.forward(parent, exchange.method, url, given, self._headers(headers))

            op = exchange.start()
            while op is not None:
                op = exchange.resume(*await _perform(op, send))
            return exchange.response


class _SessionApiClient(ApiClient):  # type: ignore[misc]
    """A real ``kubernetes.aio.client.ApiClient`` whose requests go through a session."""

    def __init__(self, base: Any, rest: AsyncImpersonatingREST) -> None:
        # Bypass ApiClient.__init__: it would build a REST object (and an SSL context).
        self.configuration = base.configuration
        self.rest_client = rest
        self.default_headers = dict(base.default_headers)
        self.cookie = base.cookie
        self.client_side_validation = base.client_side_validation


class AsyncSession(kinds.SessionBase[ApiClient]):
    """Base of the asyncio sessions; use ``async with`` or ``await session.close()``."""

    _client_type: ClassVar[type[Any]] = ApiClient
    _client_name: ClassVar[str] = "kubernetes.aio.client.ApiClient"
    _other_flavour: ClassVar[str] = (
        "for the synchronous client use constrained_impersonation.NodeSession ..."
    )
    _session_client_type: ClassVar[type[Any]] = _SessionApiClient

    def _wrap(self, api_client: ApiClient, target: core.Target) -> ApiClient:
        return _SessionApiClient(api_client, AsyncImpersonatingREST(api_client.rest_client, target))

    async def close(self) -> None:
        """Stop sending; closes the base client only if this session created it."""
        self._target.closed = True
        if self._owns_base:
            self._owns_base = False
            await self._base.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class NodeSession(kinds.AssociatedNodeBase[ApiClient], AsyncSession):
    """asyncio :class:`constrained_impersonation.NodeSession` (``associated-node``)."""

    @classmethod
    def _incluster_client(cls, settings: Settings) -> ApiClient:
        return ApiClient(incluster_configuration(Configuration, settings, environ=os.environ))

    @classmethod
    def _abandon(cls, base: ApiClient) -> None:
        """Nothing to free: an aio client opens its aiohttp session on its first request."""


class ArbitraryNodeSession(kinds.ArbitraryNodeBase[ApiClient], AsyncSession):
    """asyncio :class:`constrained_impersonation.ArbitraryNodeSession`."""


class ServiceAccountSession(kinds.ServiceAccountBase[ApiClient], AsyncSession):
    """asyncio :class:`constrained_impersonation.ServiceAccountSession`."""


class UserSession(kinds.UserBase[ApiClient], AsyncSession):
    """asyncio :class:`constrained_impersonation.UserSession` (``user-info``)."""


_CLASSES: dict[str, type[AsyncSession]] = {
    "node": NodeSession,
    "serviceaccount": ServiceAccountSession,
    "user": UserSession,
}


async def session_from_kubeconfig(
    path: str | None = None,
    context: str | None = None,
    *,
    scope: Scope,
    settings: Settings | None = None,
    telemetry: Telemetry | None = None,
    retry: RetryPolicy | None = None,
) -> AsyncSession:
    """asyncio :func:`constrained_impersonation.session_from_kubeconfig`."""
    wanted = kinds.kubeconfig_identity(path, context)
    base = await _kubeconfig_client(path, wanted)
    try:
        return kinds.kubeconfig_session(_CLASSES, base, wanted, scope, settings, telemetry, retry)
    except BaseException:
        await asyncio.shield(base.close())
        raise


async def _kubeconfig_client(path: str | None, wanted: KubeconfigImpersonation) -> ApiClient:
    """The kubeconfig context's credentials (``new_client_from_config``)."""
    from kubernetes.aio.config import new_client_from_config
    from kubernetes.aio.config.config_exception import ConfigException

    try:
        base: ApiClient = await new_client_from_config(
            config_file=path or default_kubeconfig_path(), context=wanted.context
        )
    except ConfigException as exc:
        raise ConfigurationError(f"kubeconfig context {wanted.context!r}: {exc}") from None
    return base
