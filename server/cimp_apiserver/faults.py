"""Server-side fault injection for tests: answer the next requests with 429 or 5xx.

kube-apiserver sheds load with 429 + ``Retry-After`` (priority and fairness) and fails with
5xx during rollouts; clients must survive both. The injector sits first in the chain, so an
injected failure costs the server nothing and never reaches authentication or storage.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from aiohttp import web

from .context import get_context
from .filters import Handler, Middleware
from .status import StatusError

__all__ = ["FaultInjector"]

_REASONS = {
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected fault"),
    502: ("BadGateway", "injected bad gateway"),
    503: ("ServiceUnavailable", "The server is currently unable to handle the request"),
    504: ("Timeout", "Timeout: injected gateway timeout"),
}


@dataclass
class _Plan:
    remaining: int
    status: int
    retry_after: int | None
    verbs: frozenset[str] | None
    path_prefix: str


class FaultInjector:
    """Fail the next ``count`` matching requests with ``status`` (thread-safe, test-driven)."""

    def __init__(self) -> None:
        self._plans: list[_Plan] = []
        self._lock = threading.Lock()
        self.injected = 0

    def fail_next(
        self,
        count: int,
        status: int = 429,
        *,
        retry_after: int | None = 1,
        verbs: set[str] | None = None,
        path_prefix: str = "/",
    ) -> None:
        """Answer the next ``count`` requests (optionally only these verbs / under this path)
        with ``status``; 429 and 503 carry ``Retry-After`` unless ``retry_after`` is None."""
        if status not in _REASONS:
            raise ValueError(f"status {status} is not one of {sorted(_REASONS)}")
        with self._lock:
            self._plans.append(
                _Plan(count, status, retry_after, frozenset(verbs) if verbs else None, path_prefix)
            )

    def clear(self) -> None:
        with self._lock:
            self._plans.clear()

    def _take(self, verb: str, path: str) -> _Plan | None:
        with self._lock:
            for plan in self._plans:
                if plan.remaining <= 0:
                    continue
                if plan.verbs is not None and verb not in plan.verbs:
                    continue
                if not path.startswith(plan.path_prefix):
                    continue
                plan.remaining -= 1
                self.injected += 1
                self._plans = [p for p in self._plans if p.remaining > 0]
                return plan
        return None

    def middleware(self) -> Middleware:
        @web.middleware
        async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not self._plans:
                return await handler(request)
            info = get_context(request).info
            plan = self._take(info.verb, request.path)
            if plan is None:
                return await handler(request)
            reason, message = _REASONS[plan.status]
            headers = {}
            details = None
            if plan.retry_after is not None and plan.status in (429, 503):
                headers["Retry-After"] = str(plan.retry_after)
                details = {"retryAfterSeconds": plan.retry_after}
            raise StatusError(plan.status, reason, message, details, headers=headers)

        return faults
