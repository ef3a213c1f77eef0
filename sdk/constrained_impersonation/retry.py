"""Retries and client-side flow control for session requests: decisions only, no I/O.

What is retried, by method (``idempotent`` = GET, HEAD, OPTIONS, PUT, DELETE):

=====================================  ============  ================
outcome                                idempotent    POST, PATCH
=====================================  ============  ================
connect error (nothing was sent)       retried       retried
connection reset / closed mid-request  retried       never
429 Too Many Requests                  retried       never
500, 502, 503, 504                     retried       never
read timeout                           never         never
any other status (403, 404, 409, 422)  never         never
=====================================  ============  ================

POST and PATCH are retried only when the request provably never reached the server: a
connection that could not be established. A 429 or 5xx answer, or a connection lost after
the request was written, may hide a request that was executed, and replaying a create or a
JSON patch can double its effect.

PUT and DELETE count as idempotent, as in HTTP and client-go: replaying them converges on
the same state. The price is visible only when the first attempt succeeded but its answer was
lost: the replay then reports 409 Conflict (a PUT carrying ``metadata.resourceVersion``, the
normal optimistic-concurrency update) or 404 Not Found (a DELETE). Neither is retried; callers
that care should treat those as "maybe already done", as they must with any HTTP client.

Waits use exponential backoff with full jitter (a random time between 0 and
``base * 2**(attempt-1)``, capped at ``backoff_max``); a ``Retry-After`` header (seconds or an
HTTP date) replaces the backoff, as kube-apiserver expects from priority-and-fairness 429s.
Retries stop after ``attempts`` attempts, or when the next wait would end past ``deadline``
seconds after the first attempt: then the last answer (or error) is returned as is.
Watches are not retried here: their callers (``watch.Watch``, informers) own the resume logic.

The backoff and the stop rule are tenacity's strategies (``wait_exponential``,
``stop_after_attempt | stop_before_delay``) evaluated on a ``RetryCallState``: tenacity
decides, without driving the calls. The decisions are pure (:meth:`RetryPolicy.retry_wait`,
:meth:`TokenBucket.reserve`): the request core (``_core``) asks them once per attempt, and the
sync and asyncio transports do the waiting with the ``sleep`` or ``async_sleep`` given here. So
both transports retry by the same rules, and a request that succeeds at its first attempt costs
one clock read.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from tenacity import RetryCallState, stop_after_attempt, stop_before_delay, wait_exponential

from .settings import Settings

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "ErrorKind",
    "RetryPolicy",
    "TokenBucket",
    "parse_retry_after",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class ErrorKind(Enum):
    """How far a failed request got, which decides whether it may be replayed."""

    CONNECT = "connect"  # never left the client: safe to replay for every method
    RESET = "reset"  # written (maybe), then the connection broke: idempotent methods only
    FATAL = "fatal"  # timeouts, TLS, programming errors: never replayed


def parse_retry_after(
    value: str | None, *, now: Callable[[], datetime] | None = None
) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        current = now() if now is not None else datetime.now(UTC)
        return max(0.0, (when - current).total_seconds())
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries; ``sleep``, ``clock`` and ``jitter`` are injectable for tests."""

    attempts: int = 5
    deadline: float = 30.0
    backoff_base: float = 0.2
    backoff_max: float = 5.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, repr=False, compare=False
    )
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> RetryPolicy:
        return cls(
            attempts=settings.retry_attempts,
            deadline=settings.retry_deadline,
            backoff_base=settings.retry_backoff_base,
            backoff_max=settings.retry_backoff_max,
            **overrides,
        )

    # ------------------------------------------------------------------ classification

    @staticmethod
    def status_retryable(method: str, status: int) -> bool:
        return status in RETRYABLE_STATUSES and method in IDEMPOTENT_METHODS

    @staticmethod
    def error_retryable(method: str, kind: ErrorKind) -> bool:
        if kind is ErrorKind.CONNECT:
            return True
        return kind is ErrorKind.RESET and method in IDEMPOTENT_METHODS

    def _state(self, attempt: int, started: float, wait: float) -> RetryCallState:
        """tenacity's view of a request after attempt ``attempt`` (counted from 1)."""
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempt
        state.start_time = started
        state.outcome_timestamp = self.clock()
        state.upcoming_sleep = wait
        return state

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(attempt-1)))."""
        ceiling = wait_exponential(multiplier=self.backoff_base, max=self.backoff_max)
        return self.jitter() * ceiling(self._state(attempt, 0.0, 0.0))

    # ------------------------------------------------------------------ deciding

    def retry_wait(
        self,
        method: str,
        attempt: int,
        started: float,
        *,
        status: int | None = None,
        retry_after: str | None = None,
        error: ErrorKind | None = None,
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None: this outcome is final.

        The outcome of attempt ``attempt`` (counted from 1) is an answer's ``status`` (with its
        ``Retry-After`` value) or, for a failure, how far it got (``error``). ``started`` is
        :attr:`clock` when the first attempt began. Pure decision: the transports do the
        waiting, the core calls this (``_core.Exchange``) for both of them.
        """
        if error is not None:
            if not self.error_retryable(method, error):
                return None
            wait = self.backoff(attempt)
        else:
            if status is None or not self.status_retryable(method, status):
                return None
            after = parse_retry_after(retry_after)
            wait = after if after is not None else self.backoff(attempt)
        stop = stop_after_attempt(self.attempts) | stop_before_delay(self.deadline)
        return None if stop(self._state(attempt, started, wait)) else wait


class TokenBucket:
    """Client-side rate limit like client-go's: ``qps`` tokens per second, ``burst`` at most.

    Reservations may drive the bucket negative; each caller then waits for its own token, so
    concurrent callers are served in arrival order without a busy loop.
    """

    def __init__(
        self,
        qps: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if qps <= 0:
            raise ValueError(f"qps must be > 0, got {qps!r}; use no limiter for unlimited")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self.qps = float(qps)
        self.burst = burst
        self._clock = clock
        self.sleep = sleep
        self.async_sleep = async_sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token; return how long the caller must wait before using it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            self.sleep(delay)

    async def acquire_async(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await self.async_sleep(delay)
