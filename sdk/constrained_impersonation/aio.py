"""Impersonating sessions for ``kubernetes.aio`` (the asyncio client shipped in kubernetes 37).

Same classes and rules as :mod:`constrained_impersonation.session`, for
``kubernetes.aio.client.ApiClient``. The aio REST layer runs on aiohttp, whose
``CIMultiDict`` sends every value of a repeated header as its own line and encodes header
values as UTF-8, so the impersonation headers go out exactly as the server must read them::

    from kubernetes.aio import client
    from constrained_impersonation import aio, Rule, Scope

    async with aio.UserSession(base, user="alice", groups=["dev"], scope=scope) as session:
        pods = await client.CoreV1Api(session.api_client).list_namespaced_pod("default")

The shared aiohttp ``ClientSession`` of the base client is the connection pool of every
session made from it; closing a session never closes it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, ClassVar, Self

import aiohttp
from kubernetes.aio.client import ApiClient, Configuration
from kubernetes.aio.client.exceptions import ForbiddenException
from kubernetes.aio.client.rest import RESTClientObject, RESTResponse
from multidict import CIMultiDict

from ._transport import Target
from .denied import denial_for_session
from .errors import ConfigurationError, ImpersonationError
from .identity import Identity
from .kubeconfig import (
    default_kubeconfig_path,
    incluster_configuration,
    read_impersonation,
)
from .resolver import RequestInfo
from .retry import ErrorKind, RetryPolicy
from .scope import Scope
from .session import (
    _check_scope,
    _downward_node,
    _settings,
    _target,
    node_identity,
    service_account_identity,
    session_arguments,
    user_identity,
)
from .settings import Settings
from .telemetry import Call, Telemetry

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


def _status_of(resp: RESTResponse) -> int:
    status: int = resp.status
    return status


def _retry_after_of(resp: RESTResponse) -> str | None:
    value = resp.response.headers.get("Retry-After")
    return str(value) if value is not None else None


def _discard(resp: RESTResponse) -> None:
    resp.response.release()


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


class _RestConfigView:
    client_go_retries = False
    retries = None

    def __init__(self, configuration: Any) -> None:
        self._configuration = configuration

    def __getattr__(self, name: str) -> Any:
        return getattr(self._configuration, name)


class AsyncImpersonatingREST(RESTClientObject):  # type: ignore[misc]
    """The aio ``RESTClientObject`` with the session layer (see ``_transport``)."""

    def __init__(self, base: Any, target: Target) -> None:
        # The parent __init__ would build another SSL context and a second pool.
        self.configuration = _RestConfigView(base.configuration)
        self.maxsize = base.maxsize
        self.ssl_context = base.ssl_context
        self.proxy = base.proxy
        self.proxy_headers = base.proxy_headers
        self._effective_retry_options = None
        self.retry_client = None
        self.pool_manager = _SharedSession(base)
        self.target = target
        self.closed = False

    async def close(self) -> None:
        self.closed = True

    def _headers(self, given: Mapping[str, Any] | None) -> CIMultiDict[str]:
        target = self.target
        result: CIMultiDict[str] = CIMultiDict()
        if given:
            for name, value in given.items():
                if target.keep_header(name):
                    result[name] = value
        for name, value in target.lines_text:
            result.add(name, value)
        return result

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, Any] | None = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Any = None,
    ) -> RESTResponse:
        if self.closed:
            raise ImpersonationError(
                "this session was closed; create a new session to send more requests"
            )
        target = self.target
        method = method.upper()
        plan = target.plan(method, url)
        info = plan.info
        streaming = plan.streaming
        timeout = _request_timeout
        if not timeout:
            timeout = aiohttp.ClientTimeout(
                total=None if streaming else target.read_timeout,
                sock_connect=target.connect_timeout,
            )
        call = target.begin(info, method, url)
        status: int | None = None
        error: BaseException | None = None
        try:
            resp = await self._send(
                method, url, headers, body, post_params, timeout, streaming, call
            )
            status = resp.status
            if status == 403:
                await self._raise_if_denied(resp, info)
            return resp
        except BaseException as exc:
            error = exc
            raise
        finally:
            if call is not None:
                call.end(status, error)

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, Any] | None,
        body: Any,
        post_params: Any,
        timeout: Any,
        streaming: bool,
        call: Call | None,
    ) -> RESTResponse:
        limiter = self.target.limiter
        parent_request: Callable[..., Any] = super().request

        async def send() -> RESTResponse:
            if limiter is not None:
                await limiter.acquire_async()
            response: RESTResponse = await parent_request(
                method,
                url,
                headers=self._headers(headers),
                body=body,
                post_params=post_params,
                _request_timeout=timeout,
            )
            return response

        if streaming:
            return await send()
        return await self.target.policy.call_async(
            method,
            send,
            classify=_classify_aiohttp,
            status_of=_status_of,
            retry_after_of=_retry_after_of,
            discard=_discard,
            on_retry=call.retried if call is not None else None,
        )

    async def _raise_if_denied(self, resp: RESTResponse, info: RequestInfo) -> None:
        data: bytes = await resp.read()
        denial = denial_for_session(
            data, identity=self.target.identity, mode=self.target.mode, info=info
        )
        if denial is None:
            return
        resp.response.release()
        raise denial from ForbiddenException(http_resp=resp)


class _SessionApiClient(ApiClient):  # type: ignore[misc]
    """A real ``kubernetes.aio.client.ApiClient`` whose requests go through a session."""

    def __init__(self, base: Any, rest: AsyncImpersonatingREST) -> None:
        # Bypass ApiClient.__init__: it would build a REST object (and an SSL context).
        self.configuration = base.configuration
        self.rest_client = rest
        self.default_headers = dict(base.default_headers)
        self.cookie = base.cookie
        self.client_side_validation = base.client_side_validation


class AsyncSession:
    """Base of the asyncio sessions; use ``async with`` or ``await session.close()``."""

    mode: ClassVar[str] = ""

    _api_client: Any
    _base: Any
    _owns_base: bool
    _rest: AsyncImpersonatingREST
    identity: Identity
    scope: Scope
    settings: Settings

    def _setup(
        self,
        api_client: Any,
        identity: Identity,
        scope: Scope,
        settings: Settings | None,
        telemetry: Telemetry | None,
        retry: RetryPolicy | None,
    ) -> None:
        if isinstance(api_client, _SessionApiClient):
            raise ConfigurationError(
                "api_client is already a session's api_client; impersonation does not chain, "
                "pass the base kubernetes.aio.client.ApiClient instead"
            )
        if not isinstance(api_client, ApiClient):
            raise TypeError(
                f"api_client must be a kubernetes.aio.client.ApiClient, got {type(api_client)!r}"
                " (for the synchronous client use constrained_impersonation.NodeSession ...)"
            )
        self.settings = _settings(settings)
        target = _target(api_client, identity, self.mode, scope, self.settings, telemetry, retry)
        self.scope, self.identity = target.scope, identity
        self._base = api_client
        self._owns_base = getattr(self, "_owns_base", False)
        self._rest = AsyncImpersonatingREST(api_client.rest_client, target)
        self._api_client = _SessionApiClient(api_client, self._rest)

    @property
    def api_client(self) -> ApiClient:
        return self._api_client

    @property
    def closed(self) -> bool:
        return self._rest.closed

    async def close(self) -> None:
        """Stop sending; closes the base client only if this session created it."""
        await self._rest.close()
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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.identity!r}, mode={self.mode!r}, scope={self.scope})"


class _NodeTarget(AsyncSession):
    """What both node sessions share: the target is ``system:node:<node>``, nothing else."""

    node: str

    def __init__(
        self,
        api_client: ApiClient,
        *,
        node: str,
        scope: Scope,
        settings: Settings | None = None,
        telemetry: Telemetry | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.node = node
        self._setup(api_client, node_identity(node), scope, settings, telemetry, retry)


class NodeSession(_NodeTarget):
    """asyncio :class:`constrained_impersonation.NodeSession` (``associated-node``)."""

    mode: ClassVar[str] = "associated-node"

    @classmethod
    def from_downward_api(
        cls,
        scope: Scope,
        *,
        api_client: ApiClient | None = None,
        settings: Settings | None = None,
        telemetry: Telemetry | None = None,
        retry: RetryPolicy | None = None,
    ) -> NodeSession:
        """Node from env ``NODE_NAME``; in-cluster credentials (rotating token) unless given."""
        settings = _settings(settings)
        _check_scope(scope)
        node = _downward_node(settings)
        node_identity(node, field="NODE_NAME")
        owns = api_client is None
        if api_client is None:
            configuration = incluster_configuration(Configuration, settings, environ=os.environ)
            api_client = ApiClient(configuration)
        session = cls(
            api_client, node=node, scope=scope, settings=settings, telemetry=telemetry, retry=retry
        )
        session._owns_base = owns
        return session


class ArbitraryNodeSession(_NodeTarget):
    """asyncio :class:`constrained_impersonation.ArbitraryNodeSession`."""

    mode: ClassVar[str] = "arbitrary-node"


class ServiceAccountSession(AsyncSession):
    """asyncio :class:`constrained_impersonation.ServiceAccountSession`."""

    mode: ClassVar[str] = "serviceaccount"

    def __init__(
        self,
        api_client: ApiClient,
        *,
        namespace: str,
        name: str,
        scope: Scope,
        settings: Settings | None = None,
        telemetry: Telemetry | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.namespace = namespace
        self.name = name
        identity = service_account_identity(namespace, name)
        self._setup(api_client, identity, scope, settings, telemetry, retry)


class UserSession(AsyncSession):
    """asyncio :class:`constrained_impersonation.UserSession` (``user-info``)."""

    mode: ClassVar[str] = "user-info"

    def __init__(
        self,
        api_client: ApiClient,
        *,
        user: str,
        uid: str | None = None,
        groups: Iterable[str] = (),
        extra: Mapping[str, Iterable[str]] | None = None,
        scope: Scope,
        settings: Settings | None = None,
        telemetry: Telemetry | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        identity = user_identity(user, uid, groups, extra)
        self._setup(api_client, identity, scope, settings, telemetry, retry)


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
    from kubernetes.aio.config import new_client_from_config
    from kubernetes.aio.config.config_exception import ConfigException

    wanted = read_impersonation(path, context)
    if not wanted.user:
        raise ConfigurationError(
            f"kubeconfig user {wanted.user_entry!r} of context {wanted.context!r} has no 'as' "
            "field: there is nobody to impersonate"
        )
    kind, arguments = session_arguments(wanted.identity())
    try:
        base = await new_client_from_config(
            config_file=path or default_kubeconfig_path(), context=wanted.context
        )
    except ConfigException as exc:
        raise ConfigurationError(f"kubeconfig context {wanted.context!r}: {exc}") from None
    classes: dict[str, Any] = {
        "node": NodeSession,
        "serviceaccount": ServiceAccountSession,
        "user": UserSession,
    }
    try:
        session: AsyncSession = classes[kind](
            base, scope=scope, settings=settings, telemetry=telemetry, retry=retry, **arguments
        )
    except BaseException:
        await asyncio.shield(base.close())
        raise
    session._owns_base = True
    return session
