"""The request core: what a session request goes through, once, for both transports; no I/O.

A request through a session passes the same layers whichever client sends it, as a request
through client-go passes its round-trippers (impersonation is one layer among others):

1. the session is open, and the URL resolves to one request the scope allows, read as the
   server will read it (:meth:`Target.plan`: ``_wirepath.wire_request``, then
   ``Scope.allows_request``; refusals raise ``OutOfScopeError`` and are counted);
2. a telemetry span and metrics for the operation (``telemetry``);
3. per attempt: the client-side rate limit, the caller's headers minus ``Impersonate-*`` plus
   the session's header lines (``headers``), the send;
4. after each attempt, the retry decision (``retry``: what may be replayed, how long to wait);
5. on a final 403, the denial mapping (``denied``): an impersonation refusal becomes
   ``ImpersonationDenied``, caused by the client's own ``ForbiddenException``.

:class:`Exchange` runs those steps as a generator that yields the I/O it needs (:data:`SEND`,
:class:`Sleep`, :class:`Read`, :class:`Release`) and receives the result. The sync transport
(``_transport``: urllib3) and the asyncio transport (``aio``: aiohttp) perform these
operations and nothing else, as httpx's sans-I/O core serves its sync and async clients. Only
an HTTP library's own facts stay with its transport: which failures left nothing sent
(:class:`Wire`), how headers and timeouts are spelled, how a connection is given back.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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

__all__ = [
    "SEND",
    "ConfigView",
    "Exchange",
    "Headers",
    "Op",
    "Plan",
    "Read",
    "Release",
    "Sleep",
    "Target",
    "Wire",
    "forward",
    "shared_limiter",
]

_log = logging.getLogger("constrained_impersonation")

R = TypeVar("R")

Headers = Mapping[str, Any] | None
"""The caller's headers, as the official clients pass them to ``rest_client.request``."""

_PLAN_CACHE_SIZE = 2048
_CLOSED = "this session was closed; create a new session to send more requests"


def _is_streaming(info: RequestInfo, url: str) -> bool:
    """Watches and followed logs stream for as long as the server likes."""
    return info.verb == "watch" or (info.subresource == "log" and "follow=true" in url.lower())


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
    """One session's identity, scope and policies, computed once at session construction.

    Transports subclass it to precompute what their HTTP library wants per session (header
    values in its encoding, timeout objects); everything here is library-free.
    """

    __slots__ = (
        "_plans",
        "closed",
        "connect_timeout",
        "identity",
        "limiter",
        "lines_text",
        "mode",
        "policy",
        "prefix",
        "read_timeout",
        "scope",
        "telemetry",
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
        # One line per group and per extra value, values as text (sent as UTF-8).
        self.lines_text: tuple[tuple[str, str], ...] = tuple(_headers.encode(identity))
        self.closed = False
        self.warned = False
        self._plans: dict[tuple[str, str], Plan] = {}
        # Requests must go to this server; what follows (after any base path such as
        # https://proxy/k8s/clusters/c1) is the path the scope reads.
        self.prefix = host.rstrip("/")

    def admit(self, method: str, url: str) -> Plan:
        """The plan of a request about to be sent; raises while closed or out of scope."""
        if self.closed:
            raise ImpersonationError(_CLOSED)
        return self.plan(method, url)

    def plan(self, method: str, url: str) -> Plan:
        """Resolve and scope-check a request; raises ``OutOfScopeError`` when not allowed.

        Controllers repeat the same URLs, so plans are cached per session (bounded); a
        refused request is refused (and counted) again every time.
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

    def kept_headers(self, given: Headers) -> dict[str, Any]:
        """The caller's headers minus ``Impersonate-*``: a session sends only its own lines."""
        kept: dict[str, Any] = {}
        if given:
            for name, value in given.items():
                if name[:1] not in "Ii" or self._keep_header(name):
                    kept[name] = value
        return kept

    def _keep_header(self, name: str) -> bool:
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


# --------------------------------------------------------------------------- the I/O asked for


class _Send:
    def __repr__(self) -> str:
        return "SEND"


SEND = _Send()
"""Send the request once more; the transport answers the client's response or raises."""


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds`` with the waiter's own sleep (injectable in tests), then answer None."""

    seconds: float
    sync: Callable[[float], None]
    aio: Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Read:
    """Read the whole body of ``response``; answer the bytes."""

    response: Any


@dataclass(frozen=True, slots=True)
class Release:
    """``response`` goes no further: drain what is left and give its connection back."""

    response: Any


Op = _Send | Sleep | Read | Release


@dataclass(frozen=True, slots=True)
class Wire:
    """What only an HTTP library knows: how far a failure got, and its client's 403 type.

    ``forbidden(http_resp=response)`` is the official client's ``ForbiddenException`` (one
    class per client), the cause of an ``ImpersonationDenied``.
    """

    classify: Callable[[BaseException], ErrorKind]
    forbidden: Callable[..., BaseException]


def forward(
    parent: Callable[..., R], method: str, url: str, given: Mapping[str, Any], headers: Any
) -> R:
    """One attempt through the official client's own ``request`` (its body encoding).

    ``given`` holds the other arguments of the official call (``body``, ``post_params``,
    ``_request_timeout``); a coroutine comes back unawaited from the asyncio client.
    """
    return parent(method, url, headers=headers, **given)


class Exchange(Generic[R]):
    """One request through a session, from the scope check to the final answer.

    Creating it admits the request (closed session, path guard, scope) and opens the
    telemetry call; leaving the ``with`` block ends that call with the final status or the
    error. Between the two the transport performs the operations :meth:`start` and
    :meth:`resume` ask for, answering each with ``(result, None)`` or ``(None, error)``, until
    they return None; then :attr:`response` is the answer for the caller.
    """

    __slots__ = ("_result", "_steps", "_wire", "call", "method", "plan", "status", "target", "url")

    def __init__(self, target: Target, wire: Wire, method: str, url: str) -> None:
        method = method.upper()
        self.plan = target.admit(method, url)
        self.target = target
        self.method = method
        self.url = url
        self.status: int | None = None
        self.call = target.begin(self.plan.info, method, url)
        self._wire = wire
        self._steps = self._run()
        self._result: R | None = None

    def __enter__(self) -> Exchange[R]:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._steps.close()
        if self.call is not None:
            self.call.end(self.status, exc)

    def start(self) -> Op | None:
        return self.resume(None, None)

    def resume(self, result: Any, error: Exception | None) -> Op | None:
        """The next operation, given the last one's outcome; None once the answer is final."""
        try:
            if error is not None:
                return self._steps.throw(error)
            return self._steps.send(result)
        except StopIteration as done:
            self._result = done.value
            return None

    @property
    def response(self) -> R:
        if self._result is None:
            raise RuntimeError("the exchange has not finished")
        return self._result

    def _run(self) -> Generator[Op, Any, R]:
        """The request's steps. Of a response it reads what both official ``RESTResponse``
        classes expose alike: ``status`` and the library response's ``headers``."""
        target, plan, method = self.target, self.plan, self.method
        policy, limiter, call = target.policy, target.limiter, self.call
        # Watches and followed logs are sent once: their callers own resuming them.
        retrying = not plan.streaming
        started = policy.clock() if retrying else 0.0
        attempt = 0
        while True:
            attempt += 1
            if limiter is not None and (delay := limiter.reserve()) > 0:
                yield Sleep(delay, limiter.sleep, limiter.async_sleep)
            try:
                response = yield SEND
            except Exception as exc:
                if not retrying:
                    raise
                kind = self._wire.classify(exc)
                wait = policy.retry_wait(method, attempt, started, error=kind)
                if wait is None:
                    raise
                reason = type(exc).__name__
            else:
                status: int = response.status
                if not retrying or not policy.status_retryable(method, status):
                    break
                retry_after = response.response.headers.get("Retry-After")
                wait = policy.retry_wait(
                    method,
                    attempt,
                    started,
                    status=status,
                    retry_after=None if retry_after is None else str(retry_after),
                )
                if wait is None:
                    break
                reason = str(status)
                yield Release(response)
            if call is not None:
                call.retried(attempt, reason)
            yield Sleep(wait, policy.sleep, policy.async_sleep)
        self.status = status
        if status == 403:
            body = yield Read(response)
            denial = denial_for_session(
                body, identity=target.identity, mode=target.mode, info=plan.info
            )
            if denial is not None:
                yield Release(response)
                raise denial from self._wire.forbidden(http_resp=response)
        result: R = response
        return result


# --------------------------------------------------------------------------- shared pieces


class ConfigView:
    """The base client's configuration, with the attributes the session layer replaces.

    The official REST code reads its retry switches from the configuration; the core owns
    retries, so the transports hand it a view with those switched off.
    """

    def __init__(self, configuration: Any, **replaced: Any) -> None:
        self._configuration = configuration
        self.__dict__.update(replaced)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._configuration, name)


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
