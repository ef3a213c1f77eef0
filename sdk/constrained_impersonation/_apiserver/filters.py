"""The security filters of the handler chain, in kube-apiserver's order.

authentication → audit → impersonation → authorization → handler. Each is an aiohttp
middleware built by a factory taking only what it needs, so each can be tested alone.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from .. import headers as header_codec
from ..identity import Identity
from ..resolver import Attributes
from .authn import Authenticator
from .context import CONTEXT, RequestContext, get_context
from .impersonation import AuthorizeFn, Impersonator
from .status import StatusError, bad_request, forbidden, quote, unauthorized

__all__ = [
    "AuditSink",
    "Handler",
    "Middleware",
    "audit_filter",
    "authentication_filter",
    "authorization_filter",
    "impersonation_filter",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

IMPERSONATION_LATENCY_ANNOTATION = "apiserver.latency.k8s.io/impersonation"
DECISION_ANNOTATION = "authorization.k8s.io/decision"
REASON_ANNOTATION = "authorization.k8s.io/reason"
_SLOW_REQUEST_SECONDS = 0.5


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _user_info(identity: Identity) -> dict[str, Any]:
    return identity.to_user_info()


# --------------------------------------------------------------------------- audit sink


class AuditSink:
    """Keeps the latest audit events in memory and appends all of them to a file if given."""

    def __init__(self, path: Path | None = None, *, keep: int = 100_000) -> None:
        self.path = path
        self._events: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()
        self._file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def write(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._events.append(event)
            if self._file is not None:
                line = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
                self._file.write(line + "\n")
                self._file.flush()

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._events)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _new_event(request: web.Request, ctx: RequestContext, stage: str) -> dict[str, Any]:
    info = ctx.info
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": str(uuid.uuid4()),
        "stage": stage,
        "requestURI": request.path_qs,
        "verb": info.verb,
        "user": _user_info(ctx.requestor) if ctx.requestor is not None else {},
        "sourceIPs": [request.remote or "127.0.0.1"],
        "requestReceivedTimestamp": _now(),
    }
    user_agent = request.headers.get("User-Agent")
    if user_agent:
        event["userAgent"] = user_agent
    if info.is_resource_request:
        ref: dict[str, str] = {"resource": info.resource}
        if info.namespace:
            ref["namespace"] = info.namespace
        if info.name:
            ref["name"] = info.name
        ref["apiGroup"] = info.api_group
        ref["apiVersion"] = info.api_version
        if info.subresource:
            ref["subresource"] = info.subresource
        event["objectRef"] = ref
    return event


def _finish_event(
    ctx: RequestContext, event: dict[str, Any], code: int, error: StatusError | None
) -> dict[str, Any]:
    done = dict(event)
    done["responseStatus"] = {"metadata": {}, "code": code}
    if error is not None:
        done["responseStatus"].update(
            {"status": "Failure", "message": error.message, "reason": error.reason}
        )
    if ctx.impersonated and ctx.user is not None:
        done["impersonatedUser"] = _user_info(ctx.user)
    if ctx.impersonation_constraint:
        done["authenticationMetadata"] = {"impersonationConstraint": ctx.impersonation_constraint}
    annotations = dict(ctx.annotations)
    if ctx.decision:
        annotations[DECISION_ANNOTATION] = ctx.decision
        annotations[REASON_ANNOTATION] = ctx.decision_reason
    if annotations:
        done["annotations"] = annotations
    done["stageTimestamp"] = _now()
    return done


def audit_filter(sink: AuditSink) -> Middleware:
    """Record one ResponseComplete event per request (plus ResponseStarted for watches)."""

    @web.middleware
    async def audit(request: web.Request, handler: Handler) -> web.StreamResponse:
        ctx = get_context(request)
        started = time.perf_counter()
        event = _new_event(request, ctx, "ResponseComplete")
        ctx.audit = event
        try:
            response = await handler(request)
        except StatusError as err:
            _slow_annotation(ctx, started)
            sink.write(_finish_event(ctx, event, err.code, err))
            raise
        except web.HTTPException as exc:
            _slow_annotation(ctx, started)
            sink.write(_finish_event(ctx, event, exc.status, None))
            raise
        _slow_annotation(ctx, started)
        sink.write(_finish_event(ctx, event, response.status, None))
        return response

    return audit


def audit_response_started(
    sink: AuditSink,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """``on_response_prepare`` hook: long-running requests log ResponseStarted when they start."""

    async def started(request: web.Request, response: web.StreamResponse) -> None:
        ctx = request.get(CONTEXT)
        if ctx is None or ctx.audit is None:
            return
        if ctx.info.verb not in ("watch",) and ctx.info.subresource not in ("console",):
            return
        if response.status >= 300 and response.status != 101:
            return  # a refusal: its ResponseComplete event is the only one
        event = dict(ctx.audit)
        event["stage"] = "ResponseStarted"
        sink.write(_finish_event(ctx, event, response.status, None))

    return started


def _slow_annotation(ctx: RequestContext, started: float) -> None:
    elapsed = time.perf_counter() - started
    spent = ctx.impersonation_seconds
    if spent is not None and elapsed > _SLOW_REQUEST_SECONDS:
        ctx.annotations[IMPERSONATION_LATENCY_ANNOTATION] = f"{spent * 1000:.6g}ms"


# --------------------------------------------------------------------------- authentication


def authentication_filter(
    authenticator: Authenticator, sink: AuditSink | None = None
) -> Middleware:
    """Authenticate the bearer token (or fall back to anonymous); 401 for a bad token."""

    @web.middleware
    async def authentication(request: web.Request, handler: Handler) -> web.StreamResponse:
        ctx = get_context(request)
        identity, _why = authenticator.authenticate_header(request.headers.get("Authorization"))
        if identity is None:
            err = unauthorized()
            if sink is not None:
                event = _new_event(request, ctx, "ResponseStarted")
                sink.write(_finish_event(ctx, event, 401, err))
            raise err
        ctx.requestor = ctx.user = identity
        return await handler(request)

    return authentication


# --------------------------------------------------------------------------- impersonation


def _go_default_info(parsed: header_codec.ParsedHeaders) -> str:
    groups = (
        "[]string{" + ", ".join(quote(g) for g in parsed.groups) + "}"
        if parsed.has_groups
        else "[]string(nil)"
    )
    if parsed.has_extra:
        items = ", ".join(
            f"{quote(k)}:[]string{{{', '.join(quote(v) for v in vs)}}}"
            for k, vs in sorted(parsed.extra.items())
        )
        extra = "map[string][]string{" + items + "}"
    else:
        extra = "map[string][]string(nil)"
    return (
        f"&user.DefaultInfo{{Name:{quote(parsed.user)}, UID:{quote(parsed.uid)}, "
        f"Groups:{groups}, Extra:{extra}}}"
    )


def _legacy_requests(parsed: header_codec.ParsedHeaders) -> str:
    refs = [f"{{Kind:Group Name:{g}}}" for g in parsed.groups]
    refs += [f"{{Kind:UserExtra Name:{k}={v}}}" for k, vs in parsed.extra.items() for v in vs]
    if parsed.uid:
        refs.append(f"{{Kind:UID Name:{parsed.uid}}}")
    return "[" + " ".join(refs) + "]"


def impersonation_filter(impersonator: Impersonator) -> Middleware:
    """Replace the request's user with the impersonated one, or answer 400/403."""

    @web.middleware
    async def impersonation(request: web.Request, handler: Handler) -> web.StreamResponse:
        ctx = get_context(request)
        lines = list(request.headers.items())
        try:
            parsed = header_codec.parse(lines)
        except header_codec.BadImpersonationRequest as exc:
            if impersonator.constrained_filter:
                message = (
                    f"requested {_go_default_info(exc.parsed)} without impersonating a user name"
                )
            else:
                message = f"requested {_legacy_requests(exc.parsed)} without impersonating a user"
            raise bad_request(message) from None
        if parsed is None:
            return await handler(request)
        assert ctx.requestor is not None
        started = time.perf_counter()
        result = impersonator.impersonate(
            ctx.requestor, parsed, Attributes.from_request(ctx.requestor, ctx.info)
        )
        ctx.impersonation_seconds = time.perf_counter() - started
        ctx.user = result.identity
        ctx.impersonated = True
        ctx.impersonation_constraint = result.constraint
        # kube-apiserver deletes the consumed headers so that nothing downstream (proxies,
        # aggregated servers) sees them. Nothing downstream of this filter here reads or
        # forwards request headers, so copying the request (23 µs) would buy nothing.
        return await handler(request)

    return impersonation


# --------------------------------------------------------------------------- authorization


def authorization_filter(authorize: AuthorizeFn) -> Middleware:
    """Authorize the request as the (possibly impersonated) user; 403 in kube's words."""

    @web.middleware
    async def authorization(request: web.Request, handler: Handler) -> web.StreamResponse:
        ctx = get_context(request)
        attrs = ctx.attributes()
        decision, reason = authorize(attrs)
        value = decision if isinstance(decision, str) else decision.value
        if value == "allow":
            ctx.decision, ctx.decision_reason = "allow", reason
            return await handler(request)
        ctx.decision, ctx.decision_reason = "forbid", reason
        raise forbidden(attrs, reason)

    return authorization
