"""The session transport: a layer on the official client's REST object, never a fork.

``kubernetes.client.ApiClient.call_api`` hands every request (generated API classes,
``DynamicClient``, ``watch.Watch``) to ``rest_client.request(method, url, headers, body,
post_params, _request_timeout)``. A session's ``ApiClient`` carries an
:class:`ImpersonatingREST` there, which for each request:

1. resolves the URL exactly as it will reach the server (``_wirepath``: dot segments,
   ``//``, segments the resolver does not read, characters the HTTP library would rewrite,
   another host are refused) and checks it against the scope, raising ``OutOfScopeError``
   before any byte is sent (not even a connection is opened);
2. removes caller-supplied ``Impersonate-*`` headers and adds the session's impersonation
   header lines, one line per group and per extra value (urllib3 sends every value of an
   ``HTTPHeaderDict`` built with ``.add()`` as its own line; a list of tuples is rejected by
   urllib3 2.x), values as UTF-8 bytes on the wire;
3. never follows a redirect (the 3xx comes back as the official client's ``ApiException``:
   following one would resend the credentials and impersonation headers unchecked);
4. opens a telemetry span, applies the client-side rate limit, retries what is safe to retry
   (the pool's own urllib3 retries and the client's ``client_go_retries`` are switched off so
   attempts are not multiplied), and converts an impersonation 403 into
   ``ImpersonationDenied``.

The body encoding (JSON, patches, forms, multipart) stays the official client's: for requests
with a body the layer calls the inherited ``request`` with its own headers, and that code
talks to a pool wrapper that fixes ``retries=False``. GET and HEAD carry no body, and the
official client only forwards them to the pool, so the layer does that itself with prebuilt
timeouts. Resolving and scope-checking a URL is cached per session (controllers repeat the
same URLs); a refused request is refused again every time. The connection pool and the
credentials belong to the base client and are shared by every session made from it.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException, ForbiddenException
from kubernetes.client.rest import RESTClientObject, RESTResponse
from urllib3._collections import HTTPHeaderDict
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
)

from . import headers as _headers
from ._wirepath import UnsafeURL, wire_request
from .denied import denial_for_session
from .errors import ImpersonationError, OutOfScopeError
from .identity import Identity
from .resolver import RequestInfo
from .retry import ErrorKind, RetryPolicy, TokenBucket
from .scope import Scope
from .settings import Settings
from .telemetry import Call, Telemetry

__all__ = ["ImpersonatingREST", "SessionApiClient", "Target", "shared_limiter"]

_log = logging.getLogger("constrained_impersonation")


def _is_streaming(info: RequestInfo, url: str) -> bool:
    """Watches and followed logs stream for as long as the server likes."""
    return info.verb == "watch" or (info.subresource == "log" and "follow=true" in url.lower())


_PLAN_CACHE_SIZE = 2048


class Plan:
    """A resolved request and the scope's verdict on it (``unsafe``: the URL was refused)."""

    __slots__ = ("allowed", "info", "streaming", "unsafe")

    def __init__(
        self, info: RequestInfo, allowed: bool, streaming: bool, unsafe: UnsafeURL | None = None
    ) -> None:
        self.info = info
        self.allowed = allowed
        self.streaming = streaming
        self.unsafe = unsafe


class Target:
    """Everything a session's transport needs, computed once at session construction."""

    __slots__ = (
        "_plans",
        "connect_timeout",
        "identity",
        "limiter",
        "lines_latin1",
        "lines_text",
        "mode",
        "policy",
        "prefix",
        "read_timeout",
        "scope",
        "single_latin1",
        "stream_timeout",
        "telemetry",
        "timeout",
        "warned",
    )

    def __init__(
        self,
        *,
        identity: Identity,
        mode: str,
        scope: Scope,
        settings: Settings,
        telemetry: Telemetry,
        policy: RetryPolicy,
        limiter: TokenBucket | None,
        host: str = "",
    ) -> None:
        self.identity = identity
        self.mode = mode
        self.scope = scope
        self.telemetry = telemetry
        self.policy = policy
        self.limiter = limiter
        self.connect_timeout = settings.connect_timeout
        self.read_timeout = settings.request_timeout
        lines = _headers.encode(identity)
        # http.client encodes str header values as latin-1; pre-encoding the UTF-8 bytes as
        # latin-1 text makes them arrive byte for byte. aiohttp encodes UTF-8 itself.
        self.lines_text: tuple[tuple[str, str], ...] = tuple(lines)
        self.lines_latin1: tuple[tuple[str, str], ...] = tuple(
            (name, value.encode("utf-8").decode("latin-1")) for name, value in lines
        )
        names = [name.lower() for name, _ in lines]
        # Without repeated names a plain dict carries the lines, which is cheaper all the way
        # down urllib3; repeated names (groups, multi-valued extras) need HTTPHeaderDict.
        self.single_latin1: dict[str, str] | None = (
            dict(self.lines_latin1) if len(set(names)) == len(names) else None
        )
        self.timeout = urllib3.Timeout(connect=self.connect_timeout, read=self.read_timeout)
        self.stream_timeout = urllib3.Timeout(connect=self.connect_timeout, read=None)
        self.warned = False
        self._plans: dict[tuple[str, str], Plan] = {}
        # Requests must go to this server; what follows (after any base path such as
        # https://proxy/k8s/clusters/c1) is the path the scope reads.
        self.prefix = host.rstrip("/")

    def plan(self, method: str, url: str) -> Plan:
        """Resolve and scope-check a request; raises ``OutOfScopeError`` when not allowed.

        Controllers repeat the same URLs, so plans are cached per session (bounded).
        """
        key = (method, url)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._new_plan(method, url)
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans.clear()
            self._plans[key] = plan
        if not plan.allowed:
            self.telemetry.refused(plan.info, mode=self.mode)
            unsafe = plan.unsafe
            if unsafe is not None:
                raise OutOfScopeError(
                    verb=plan.info.verb,
                    resource="",
                    path=unsafe.target,
                    scope=self.scope,
                    reason=unsafe.reason,
                )
            self.scope.check(plan.info)  # raises OutOfScopeError naming request and scope
        return plan

    def _new_plan(self, method: str, url: str) -> Plan:
        try:
            info = wire_request(method, url, self.prefix)
        except UnsafeURL as unsafe:
            info = RequestInfo(is_resource_request=False, path=unsafe.target, verb=method.lower())
            return Plan(info, False, False, unsafe)
        return Plan(info, self.scope.allows_request(info), _is_streaming(info, url))

    def sync_headers(self, given: Mapping[str, Any] | None) -> dict[str, Any] | HTTPHeaderDict:
        """Caller headers minus ``Impersonate-*``, plus the session's lines (urllib3)."""
        single = self.single_latin1
        if single is not None:
            result: dict[str, Any] = {}
            if given:
                for name, value in given.items():
                    if name[:1] not in "Ii" or self.keep_header(name):
                        result[name] = value
            result.update(single)
            return result
        multi = HTTPHeaderDict()
        if given:
            for name, value in given.items():
                if name[:1] not in "Ii" or self.keep_header(name):
                    multi[name] = value
        for name, value in self.lines_latin1:
            multi.add(name, value)
        return multi

    def keep_header(self, name: str) -> bool:
        """False for caller-supplied ``Impersonate-*`` headers, which must not be smuggled."""
        if name[:12].lower() != "impersonate-":
            return True
        if not self.warned:
            self.warned = True
            _log.warning(
                "dropped caller-supplied header %r: a session sends only its own "
                "impersonation headers",
                name,
            )
        return False

    def begin(self, info: RequestInfo, method: str, url: str) -> Call | None:
        return self.telemetry.begin(
            info, method=method, url=url, mode=self.mode, user=self.identity.user
        )


# --------------------------------------------------------------------------- sync transport


_NO_RETRIES = urllib3.Retry(total=False, redirect=False)


class _SharedPool:
    """The base client's urllib3 pool, with urllib3's retries off and redirects returned.

    ``clear`` is a no-op: closing one session must not drop connections other sessions (and
    the base client) are using.
    """

    def __init__(self, pool: urllib3.PoolManager) -> None:
        self._pool = pool

    def request(self, method: str, url: str, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        kwargs["retries"] = _NO_RETRIES
        kwargs["redirect"] = False
        return self._pool.request(method, url, **kwargs)

    def urlopen_get(
        self, method: str, url: str, headers: Any, timeout: Any
    ) -> urllib3.BaseHTTPResponse:
        """What the official client does for GET/HEAD, without the layers in between."""
        return self._pool.urlopen(
            method,
            url,
            headers=headers,
            timeout=timeout,
            preload_content=False,
            retries=_NO_RETRIES,
            redirect=False,
        )

    def clear(self) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


class _RestConfigView:
    """The client's configuration, minus the retry switches the layer replaces."""

    client_go_retries = False
    retries = False
    client_go_retry_backoff = None

    def __init__(self, configuration: Any) -> None:
        self._configuration = configuration

    def __getattr__(self, name: str) -> Any:
        return getattr(self._configuration, name)


_BODYLESS = frozenset({"GET", "HEAD"})


def _urllib3_timeout(value: Any) -> urllib3.Timeout | None:
    """``_request_timeout`` as the official client interprets it (number or pair)."""
    if not value:
        return None
    if isinstance(value, int | float):
        return urllib3.Timeout(total=value)
    if isinstance(value, tuple) and len(value) == 2:
        return urllib3.Timeout(connect=value[0], read=value[1])
    return None


def _classify_urllib3(exc: BaseException) -> ErrorKind:
    # NewConnectionError (and NameResolutionError) subclass ConnectTimeoutError: the
    # connection was never established, so nothing was sent.
    if isinstance(exc, ConnectTimeoutError):
        return ErrorKind.CONNECT
    if isinstance(exc, ProtocolError):
        return ErrorKind.RESET
    return ErrorKind.FATAL


def _status_of(resp: RESTResponse) -> int:
    status: int = resp.status
    return status


def _retry_after_of(resp: RESTResponse) -> str | None:
    value = resp.response.headers.get("Retry-After")
    return str(value) if value is not None else None


def _discard(resp: RESTResponse) -> None:
    try:
        resp.response.drain_conn()
    finally:
        resp.response.release_conn()


class ImpersonatingREST(RESTClientObject):  # type: ignore[misc]
    """``RESTClientObject`` that impersonates, guards the scope, retries and reports."""

    def __init__(self, base: Any, target: Target) -> None:
        # RESTClientObject.__init__ is not called: it would build a second pool.
        self.configuration = _RestConfigView(base.configuration)
        self.pool_manager = _SharedPool(base.pool_manager)
        self.target = target
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def _headers(self, given: Mapping[str, Any] | None) -> dict[str, Any] | HTTPHeaderDict:
        return self.target.sync_headers(given)

    def request(
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
        call = target.begin(info, method, url)
        status: int | None = None
        error: BaseException | None = None
        try:
            resp = self._send(method, url, headers, body, post_params, _request_timeout, plan, call)
            status = resp.status
            if status == 403:
                self._raise_if_denied(resp, info)
            return resp
        except BaseException as exc:
            error = exc
            raise
        finally:
            if call is not None:
                call.end(status, error)

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, Any] | None,
        body: Any,
        post_params: Any,
        request_timeout: Any,
        plan: Plan,
        call: Call | None,
    ) -> RESTResponse:
        target = self.target
        limiter = target.limiter
        if method in _BODYLESS and body is None and not post_params:
            # GET/HEAD: the official client only forwards to the pool; do the same directly.
            timeout = _urllib3_timeout(request_timeout) or (
                target.stream_timeout if plan.streaming else target.timeout
            )
            pool = self.pool_manager

            def send() -> RESTResponse:
                if limiter is not None:
                    limiter.acquire()
                try:
                    raw = pool.urlopen_get(method, url, target.sync_headers(headers), timeout)
                except urllib3.exceptions.SSLError as exc:
                    raise ApiException(status=0, reason=f"{type(exc).__name__}\n{exc}") from exc
                return RESTResponse(raw)

        else:
            # Bodies: the official client's encoding (JSON, patches, forms, multipart).
            timeout = request_timeout or (
                target.connect_timeout,
                None if plan.streaming else target.read_timeout,
            )
            parent_request: Callable[..., RESTResponse] = super().request

            def send() -> RESTResponse:
                if limiter is not None:
                    limiter.acquire()
                return parent_request(
                    method,
                    url,
                    headers=target.sync_headers(headers),
                    body=body,
                    post_params=post_params,
                    _request_timeout=timeout,
                )

        try:
            if plan.streaming:
                return send()
            return target.policy.call(
                method,
                send,
                classify=_classify_urllib3,
                status_of=_status_of,
                retry_after_of=_retry_after_of,
                discard=_discard,
                on_retry=call.retried if call is not None else None,
            )
        except (ConnectTimeoutError, NewConnectionError) as exc:
            # What the stock client (urllib3 with its default retries) raises for this.
            raise MaxRetryError(None, url, exc) from exc

    def _raise_if_denied(self, resp: RESTResponse, info: RequestInfo) -> None:
        data: bytes = resp.read()
        denial = denial_for_session(
            data, identity=self.target.identity, mode=self.target.mode, info=info
        )
        if denial is None:
            return
        resp.response.release_conn()
        raise denial from ForbiddenException(http_resp=resp)


class SessionApiClient(ApiClient):  # type: ignore[misc]
    """A real ``kubernetes.client.ApiClient`` whose requests go through a session.

    It shares the base client's configuration (host, credentials, token refresh hooks) and
    connection pool. ``call_api`` cannot be replaced: ``kubernetes.stream`` swaps it for a
    WebSocket call that would drop the impersonation headers and run as the requestor.
    """

    rest_client: Any

    def __init__(self, base: Any, rest: ImpersonatingREST) -> None:
        super().__init__(configuration=base.configuration)
        self.rest_client.close()
        self.rest_client = rest
        self.default_headers = dict(base.default_headers)
        self.cookie = base.cookie
        self._session_call_api = ApiClient.call_api.__get__(self)

    def _get_call_api(self) -> Callable[..., Any]:
        return self._session_call_api  # type: ignore[no-any-return]

    def _set_call_api(self, value: Callable[..., Any]) -> None:
        if value is self._session_call_api:
            return
        raise ImpersonationError(
            "kubernetes.stream (exec, attach, port-forward over WebSocket) cannot send "
            "impersonation headers and would run as the requestor itself; it is refused on a "
            "session's api_client"
        )

    call_api = property(_get_call_api, _set_call_api)


# --------------------------------------------------------------------------- sharing

_limiters: weakref.WeakKeyDictionary[Any, dict[tuple[float, int], TokenBucket]] = (
    weakref.WeakKeyDictionary()
)
_limiters_lock = threading.Lock()


def shared_limiter(base: Any, settings: Settings) -> TokenBucket | None:
    """One token bucket per base client and (qps, burst), shared by its sessions."""
    if settings.qps <= 0:
        return None
    key = (settings.qps, settings.burst)
    with _limiters_lock:
        per_client = _limiters.setdefault(base, {})
        bucket = per_client.get(key)
        if bucket is None:
            bucket = per_client[key] = TokenBucket(settings.qps, settings.burst)
        return bucket
