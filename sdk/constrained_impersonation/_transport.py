"""The sync transport: the request core (``_core``) on urllib3, through the official client.

``kubernetes.client.ApiClient.call_api`` hands every request (generated API classes,
``DynamicClient``, ``watch.Watch``) to ``rest_client.request(method, url, headers, body,
post_params, _request_timeout)``. A session's ``ApiClient`` carries an
:class:`ImpersonatingREST` there: it runs each request through :class:`~._core.Exchange`
(path guard and scope, header lines, rate limit, retries, telemetry, denial mapping) and does
only what needs urllib3:

- the impersonation lines go in a ``dict`` or, when a name repeats (groups, multi-valued
  extras), an ``HTTPHeaderDict`` built with ``.add()`` (urllib3 sends each value as its own
  line; a list of tuples is rejected by urllib3 2.x), values pre-encoded so that the UTF-8
  bytes arrive as they are (http.client encodes ``str`` values as latin-1);
- no redirect is followed (the 3xx comes back as the official client's ``ApiException``:
  following one would resend the credentials and impersonation headers unchecked), and the
  pool's own urllib3 retries and the client's ``client_go_retries`` are off, so attempts are
  not multiplied;
- a connect failure that outlives the retries is raised as ``MaxRetryError``, as the stock
  client (urllib3 with its default retries) raises it.

The body encoding (JSON, patches, forms, multipart) stays the official client's: for requests
with a body each attempt goes through the inherited ``request``, which talks to a pool wrapper
that fixes ``retries=False``. GET and HEAD carry no body, and the official client only forwards
them to the pool, so the layer does that itself with prebuilt timeouts. The connection pool and
the credentials belong to the base client and are shared by every session made from it.
"""

from __future__ import annotations

from collections.abc import Callable
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

from ._core import (
    SEND,
    ConfigView,
    Exchange,
    Headers,
    Op,
    Read,
    Release,
    Sleep,
    Target,
    Wire,
    forward,
)
from .errors import ImpersonationError
from .retry import ErrorKind

__all__ = ["ImpersonatingREST", "SessionApiClient", "Urllib3Target"]


class Urllib3Target(Target):
    """The session's target with its header lines and timeouts as urllib3 takes them."""

    __slots__ = ("lines_latin1", "single_latin1", "stream_timeout", "timeout")

    def __init__(self, **arguments: Any) -> None:
        super().__init__(**arguments)
        # http.client encodes str header values as latin-1; pre-encoding the UTF-8 bytes as
        # latin-1 text makes them arrive byte for byte.
        self.lines_latin1: tuple[tuple[str, str], ...] = tuple(
            (name, value.encode("utf-8").decode("latin-1")) for name, value in self.lines_text
        )
        names = [name.lower() for name, _ in self.lines_text]
        # Without repeated names a plain dict carries the lines, which is cheaper all the way
        # down urllib3; repeated names (groups, multi-valued extras) need HTTPHeaderDict.
        self.single_latin1: dict[str, str] | None = (
            dict(self.lines_latin1) if len(set(names)) == len(names) else None
        )
        self.timeout = urllib3.Timeout(connect=self.connect_timeout, read=self.read_timeout)
        self.stream_timeout = urllib3.Timeout(connect=self.connect_timeout, read=None)

    def sync_headers(self, given: Headers) -> dict[str, Any] | HTTPHeaderDict:
        """Caller headers minus ``Impersonate-*``, plus the session's lines (urllib3)."""
        kept = self.kept_headers(given)
        single = self.single_latin1
        if single is not None:
            kept.update(single)
            return kept
        multi = HTTPHeaderDict()
        for name, value in kept.items():
            multi[name] = value
        for name, value in self.lines_latin1:
            multi.add(name, value)
        return multi


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


_WIRE = Wire(classify=_classify_urllib3, forbidden=ForbiddenException)


def _perform(op: Op, send: Callable[[], RESTResponse]) -> tuple[Any, Exception | None]:
    """Do what the core asks, blocking; an error goes back to the core, not up."""
    try:
        if op is SEND:
            return send(), None
        if isinstance(op, Sleep):
            op.sync(op.seconds)
        elif isinstance(op, Read):
            return op.response.read(), None
        elif isinstance(op, Release):
            raw = op.response.response
            try:
                raw.drain_conn()
            finally:
                raw.release_conn()
    except Exception as exc:
        return None, exc
    return None, None


class ImpersonatingREST(RESTClientObject):  # type: ignore[misc]
    """``RESTClientObject`` whose requests go through the session's request core."""

    def __init__(self, base: Any, target: Urllib3Target) -> None:
        # RESTClientObject.__init__ is not called: it would build a second pool.
        self.configuration = ConfigView(
            base.configuration, client_go_retries=False, retries=False, client_go_retry_backoff=None
        )
        self.pool_manager = _SharedPool(base.pool_manager)
        self.target = target

    @property
    def closed(self) -> bool:
        return self.target.closed

    def close(self) -> None:
        self.target.closed = True

    def request(self, method: str, url: str, headers: Headers = None, **given: Any) -> RESTResponse:
        """The official ``request``: ``given`` (``body``, ``post_params``, ``_request_timeout``)
        goes on as the official client passed it; the headers are the core's."""
        exchange: Exchange[RESTResponse] = Exchange(self.target, _WIRE, method, url)
        with exchange:
            send = self._sender(exchange, headers, given)
            try:
                op = exchange.start()
                while op is not None:
                    op = exchange.resume(*_perform(op, send))
            except (ConnectTimeoutError, NewConnectionError) as exc:
                # What the stock client (urllib3 with its default retries) raises for this.
                raise MaxRetryError(None, url, exc) from exc
            return exchange.response

    def _sender(
        self, exchange: Exchange[RESTResponse], headers: Headers, given: dict[str, Any]
    ) -> Callable[[], RESTResponse]:
        """One attempt of this request, headers rebuilt each time (the client edits them)."""
        target, method, url = self.target, exchange.method, exchange.url
        streaming = exchange.plan.streaming
        request_timeout = given.get("_request_timeout")
        if method in _BODYLESS and given.get("body") is None and not given.get("post_params"):
            # GET/HEAD: the official client only forwards to the pool; do the same directly.
            timeout = _urllib3_timeout(request_timeout) or (
                target.stream_timeout if streaming else target.timeout
            )
            pool = self.pool_manager

            def send() -> RESTResponse:
                try:
                    raw = pool.urlopen_get(method, url, target.sync_headers(headers), timeout)
                except urllib3.exceptions.SSLError as exc:
                    raise ApiException(status=0, reason=f"{type(exc).__name__}\n{exc}") from exc
                return RESTResponse(raw)

            return send
        # Bodies: the official client's encoding (JSON, patches, forms, multipart).
        given = {
            **given,
            "_request_timeout": request_timeout
            or (target.connect_timeout, None if streaming else target.read_timeout),
        }
        parent: Callable[..., RESTResponse] = super().request
        return lambda: forward(parent, method, url, given, target.sync_headers(headers))


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
