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

from constrained_impersonation import headers as header_codec
from constrained_impersonation.identity import Identity
from constrained_impersonation.resolver import Attributes

from .authn import Authenticator
from .bodies import REQUEST_BODY
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

LATENCY_ANNOTATION_PREFIX = "apiserver.latency.k8s.io/"
IMPERSONATION_LATENCY_ANNOTATION = LATENCY_ANNOTATION_PREFIX + "impersonation"
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
        if info.api_group:  # omitempty: core resources carry no apiGroup
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
        # The Status the client got, as kube's audit.LogResponseObject records it.
        body = error.body()
        done["responseStatus"].update(
            {k: v for k, v in body.items() if k not in ("kind", "apiVersion", "code")}
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


_STARTED_WRITTEN: web.RequestKey[bool] = web.RequestKey("cimp.audit.response_started", bool)


def _response_started(
    sink: AuditSink,
    request: web.Request,
    ctx: RequestContext,
    code: int,
    error: StatusError | None,
) -> None:
    """The ResponseStarted event of a long-running request, once (kube writes it when the
    status line goes out, for a refusal too)."""
    if ctx.audit is None or request.get(_STARTED_WRITTEN) or not long_running(ctx):
        return
    request[_STARTED_WRITTEN] = True
    event = dict(ctx.audit)
    event["stage"] = "ResponseStarted"
    sink.write(_finish_event(ctx, event, code, error))


_OBJECT_REF_FROM_BODY = ("namespace", "name", "uid", "resourceVersion")
_MAX_STATUS_BYTES = 64 * 1024


def _log_request_object(request: web.Request, ctx: RequestContext, event: dict[str, Any]) -> None:
    """kube's ``audit.LogRequestObject``: a create or update that reached its handler fills the
    objectRef's empty namespace, name, uid and resourceVersion from the object it sent."""
    info = ctx.info
    if ctx.decision != "allow" or not info.is_resource_request:
        return
    raw = request.get(REQUEST_BODY)
    if info.verb not in ("create", "update") or raw is None:
        return
    try:
        body = json.loads(raw)  # YAML and protobuf bodies are not looked into
    except (ValueError, RecursionError):
        return  # the handler refused it too
    meta = body.get("metadata") if isinstance(body, dict) else None
    ref = event.get("objectRef")
    if not isinstance(meta, dict) or not isinstance(ref, dict):
        return
    for key in _OBJECT_REF_FROM_BODY:
        value = meta.get(key)
        if not ref.get(key) and isinstance(value, str) and value:
            ref[key] = value


def _response_status(response: web.StreamResponse) -> StatusError | None:
    """A success answered with a ``Status`` body (an eviction): kube audits that Status."""
    if not isinstance(response, web.Response) or response.content_type != "application/json":
        return None
    body = response.body
    if not isinstance(body, bytes) or len(body) > _MAX_STATUS_BYTES or b'"Status"' not in body:
        return None
    try:
        status = json.loads(body)
    except ValueError:
        return None
    if not isinstance(status, dict) or status.get("kind") != "Status":
        return None
    return _AuditedStatus(status)


class _AuditedStatus(StatusError):
    """A success Status as the audit event records it (not raised)."""

    def __init__(self, status: dict[str, Any]) -> None:
        super().__init__(int(status.get("code") or 0), str(status.get("reason", "")), "")
        self._status = status

    def body(self) -> dict[str, Any]:
        return self._status


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
            _slow_annotation(request, ctx, started)
            _log_request_object(request, ctx, event)
            _response_started(sink, request, ctx, err.code, err)
            sink.write(_finish_event(ctx, event, err.code, err))
            raise
        except web.HTTPException as exc:
            _slow_annotation(request, ctx, started)
            _response_started(sink, request, ctx, exc.status, None)
            sink.write(_finish_event(ctx, event, exc.status, None))
            raise
        _slow_annotation(request, ctx, started)
        _log_request_object(request, ctx, event)
        status = _response_status(response)
        _response_started(sink, request, ctx, response.status, status)
        sink.write(_finish_event(ctx, event, response.status, status))
        return response

    return audit


def audit_response_started(
    sink: AuditSink,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """``on_response_prepare`` hook: long-running requests log ResponseStarted when they start."""

    async def started(request: web.Request, response: web.StreamResponse) -> None:
        ctx = request.get(CONTEXT)
        if ctx is not None:
            _response_started(sink, request, ctx, response.status, None)

    return started


_LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
# kube-apiserver's list; an aggregated API's subresource (KubeVirt's console) is not on it.
_LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})


def long_running(ctx: RequestContext) -> bool:
    """kube-apiserver's long-running check: such requests are audited when the response
    starts (whatever its status, a refusal included) and again when it completes."""
    info = ctx.info
    if info.verb in _LONG_RUNNING_VERBS:
        return True
    return info.is_resource_request and info.subresource in _LONG_RUNNING_SUBRESOURCES


_AUTHENTICATION_SECONDS: web.RequestKey[float] = web.RequestKey(
    "cimp.latency.authentication", float
)
_AUTHORIZATION_SECONDS: web.RequestKey[float] = web.RequestKey("cimp.latency.authorization", float)


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String``: ``850ns``, ``1.5µs``, ``12.345678ms``, ``1.5s``, ``2m3s``."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)

    def fraction(value: int, digits: int) -> str:
        whole, rest = divmod(value, 10**digits)
        text = str(whole)
        if rest:
            text += "." + str(rest).rjust(digits, "0").rstrip("0")
        return text

    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{fraction(ns, 3)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{fraction(ns, 6)}ms"
    hours, ns = divmod(ns, 3_600 * 10**9)
    minutes, ns = divmod(ns, 60 * 10**9)
    text = fraction(ns, 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _slow_annotation(request: web.Request, ctx: RequestContext, started: float) -> None:
    """kube's latency annotations: only for a request that took more than 500 ms, never for a
    watch (kube attaches no latency trackers to watches), one per layer that took time
    (authentication, authorization, constrained impersonation) plus the total. kube's storage
    layers (etcd, serialization, response write) have no counterpart here."""
    if ctx.info.verb == "watch":
        return
    authentication = request.get(_AUTHENTICATION_SECONDS) or 0.0
    elapsed = time.perf_counter() - started + authentication
    if elapsed <= _SLOW_REQUEST_SECONDS:
        return
    layers = {
        LATENCY_ANNOTATION_PREFIX + "authentication": authentication,
        LATENCY_ANNOTATION_PREFIX + "authorization": request.get(_AUTHORIZATION_SECONDS) or 0.0,
        IMPERSONATION_LATENCY_ANNOTATION: ctx.impersonation_seconds or 0.0,
    }
    annotations = {k: go_duration(v) for k, v in layers.items() if v > 0}
    if annotations:
        annotations[LATENCY_ANNOTATION_PREFIX + "total"] = go_duration(elapsed)
        ctx.annotations.update(annotations)


# --------------------------------------------------------------------------- authentication


def authentication_filter(
    authenticator: Authenticator, sink: AuditSink | None = None
) -> Middleware:
    """Authenticate the bearer token (or fall back to anonymous); 401 for a bad token."""

    @web.middleware
    async def authentication(request: web.Request, handler: Handler) -> web.StreamResponse:
        ctx = get_context(request)
        started = time.perf_counter()
        identity, _why = authenticator.authenticate_header(request.headers.get("Authorization"))
        request[_AUTHENTICATION_SECONDS] = time.perf_counter() - started
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


def _object_reference(kind: str, name: str, api_version: str = "", field_path: str = "") -> str:
    """Go's ``%v`` of a ``v1.ObjectReference``: its seven fields, space separated."""
    return "{" + " ".join((kind, "", name, "", api_version, "", field_path)) + "}"


def _legacy_requests(parsed: header_codec.ParsedHeaders) -> str:
    """The legacy filter's impersonation requests (groups, extras, uid) as Go prints them."""
    refs = [_object_reference("Group", g) for g in parsed.groups]
    refs += [
        _object_reference("UserExtra", v, "authentication.k8s.io/v1", k)
        for k, vs in parsed.extra.items()
        for v in vs
    ]
    if parsed.uid:
        refs.append(_object_reference("UID", parsed.uid, "authentication.k8s.io/v1"))
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
        if impersonator.constrained_filter:  # the legacy filter tracks no latency
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
        started = time.perf_counter()
        decision, reason = authorize(attrs)
        request[_AUTHORIZATION_SECONDS] = time.perf_counter() - started
        value = decision if isinstance(decision, str) else decision.value
        if value == "allow":
            ctx.decision, ctx.decision_reason = "allow", reason
            return await handler(request)
        ctx.decision, ctx.decision_reason = "forbid", reason
        raise forbidden(attrs, reason)

    return authorization
