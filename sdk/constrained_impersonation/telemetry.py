"""OpenTelemetry spans and metrics for session requests, one span per Kubernetes operation.

``opentelemetry-instrumentation-urllib3`` names spans just ``GET``; operators want
``list pods`` or ``create selfsubjectreviews``, and the impersonation mode and target.

Span (kind CLIENT, named ``<verb> <resource>[/<subresource>]`` or ``<verb> <path>``):

=================================  ====================================================
attribute                          value
=================================  ====================================================
``k8s.request.verb``               ``list``, ``watch``, ``create`` ...
``k8s.request.resource``           ``pods`` (``k8s.request.subresource``: ``log``)
``k8s.request.group``              API group, ``""`` for core
``k8s.namespace.name``             namespace, when namespaced
``k8s.request.name``               object name, when named
``k8s.request.path``               non-resource requests only (``/version``)
``http.request.method``            ``GET`` ...
``http.response.status_code``      final status
``http.request.resend_count``      retries made, when any
``server.address``/``server.port`` API server
``k8s.impersonation.mode``         ``associated-node``, ``user-info`` ...
``k8s.impersonation.user``         impersonated user name
=================================  ====================================================

Never recorded: tokens, groups, UIDs, extra values, header values other than the user name.

Metrics: ``cimp.client.requests`` (counter; verb, resource, group, code, mode),
``cimp.client.request.duration`` (histogram, seconds; verb, resource, group, code),
``cimp.client.requests.refused`` (counter; requests refused locally as out of scope),
``cimp.client.retries`` (counter; verb, resource, reason).

Cost when no SDK provider is installed: the global providers are the API's proxies; this
module notices that and then does nothing per call beyond one clock read (no span objects,
no attribute dicts), looking again once a second. A provider installed later is picked up
within that second and used from then on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import Counter, Histogram, Meter, MeterProvider, NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, SpanKind, Status
from opentelemetry.trace import StatusCode as SpanStatus

from .resolver import RequestInfo

__all__ = ["INSTRUMENTATION_NAME", "Telemetry", "operation_name"]

INSTRUMENTATION_NAME = "constrained_impersonation"

try:  # The API's proxy meter provider is private; treat it as "no provider" when present.
    from opentelemetry.metrics._internal import _ProxyMeterProvider

    _INERT_METER_PROVIDERS: tuple[type, ...] = (NoOpMeterProvider, _ProxyMeterProvider)
except ImportError:  # pragma: no cover - depends on the API version
    _INERT_METER_PROVIDERS = (NoOpMeterProvider,)
_INERT_TRACER_PROVIDERS: tuple[type, ...] = (NoOpTracerProvider, ProxyTracerProvider)

_RECHECK_SECONDS = 1.0
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def operation_name(info: RequestInfo) -> str:
    """``list pods``, ``get pods/log``, ``get /version``: what the span is named."""
    if not info.is_resource_request:
        return f"{info.verb} {info.path}"
    resource = info.resource + (f"/{info.subresource}" if info.subresource else "")
    return f"{info.verb} {resource}" if resource else info.verb


def _resource_label(info: RequestInfo) -> str:
    if not info.is_resource_request:
        return info.path
    return info.resource + (f"/{info.subresource}" if info.subresource else "")


class _Instruments:
    def __init__(self, meter: Meter) -> None:
        self.requests: Counter = meter.create_counter(
            "cimp.client.requests",
            unit="{request}",
            description="API requests sent through impersonating sessions, by final status",
        )
        self.refused: Counter = meter.create_counter(
            "cimp.client.requests.refused",
            unit="{request}",
            description="Requests refused locally because they are outside the session scope",
        )
        self.retries: Counter = meter.create_counter(
            "cimp.client.retries",
            unit="{retry}",
            description="Request attempts repeated after a retryable failure",
        )
        self.duration: Histogram = meter.create_histogram(
            "cimp.client.request.duration",
            unit="s",
            description="Time from the first attempt to the final answer, retries included",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )


class Call:
    """One API call in flight; :meth:`end` must be called exactly once."""

    __slots__ = ("_attrs", "_instruments", "_retries", "_span", "_start", "_token")

    def __init__(
        self,
        span: trace.Span | None,
        instruments: _Instruments | None,
        attrs: dict[str, str],
    ) -> None:
        self._span = span
        self._instruments = instruments
        self._attrs = attrs
        self._retries = 0
        self._start = time.perf_counter()
        self._token: object | None = None
        if span is not None:
            self._token = otel_context.attach(trace.set_span_in_context(span))

    def retried(self, attempt: int, reason: str) -> None:
        self._retries += 1
        if self._span is not None:
            self._span.add_event("retry", {"attempt": attempt, "reason": reason})
        if self._instruments is not None:
            self._instruments.retries.add(1, {**self._attrs, "reason": reason})

    def end(self, status: int | None, error: BaseException | None = None) -> None:
        elapsed = time.perf_counter() - self._start
        code = str(status) if status is not None else type(error).__name__ if error else "none"
        if self._instruments is not None:
            labels = {**self._attrs, "code": code}
            self._instruments.requests.add(1, labels)
            self._instruments.duration.record(elapsed, labels)
        span = self._span
        if span is None:
            return
        try:
            if status is not None:
                span.set_attribute("http.response.status_code", status)
            if self._retries:
                span.set_attribute("http.request.resend_count", self._retries)
            if error is not None:
                span.set_attribute("error.type", type(error).__qualname__)
                span.set_status(Status(SpanStatus.ERROR, type(error).__name__))
            elif status is not None and status >= 400:
                span.set_attribute("error.type", str(status))
                span.set_status(Status(SpanStatus.ERROR))
        finally:
            span.end()
            if self._token is not None:
                otel_context.detach(self._token)  # type: ignore[arg-type]


class Telemetry:
    """Where sessions report spans and metrics.

    Without arguments the global providers are used (installed with
    ``trace.set_tracer_provider`` / ``metrics.set_meter_provider``, possibly after the session
    was created). Pass providers explicitly to keep a library's telemetry separate, or
    ``enabled=False`` to switch everything off.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._tracer: trace.Tracer | None = None
        self._instruments: _Instruments | None = None
        self._idle_until = float("-inf")

    def _get_tracer(self) -> trace.Tracer | None:
        if self._tracer is not None:
            return self._tracer
        provider = self._tracer_provider or trace.get_tracer_provider()
        if isinstance(provider, _INERT_TRACER_PROVIDERS):
            return None
        from . import __version__

        self._tracer = provider.get_tracer(INSTRUMENTATION_NAME, __version__)
        return self._tracer

    def _get_instruments(self) -> _Instruments | None:
        if self._instruments is not None:
            return self._instruments
        provider = self._meter_provider or metrics.get_meter_provider()
        if isinstance(provider, _INERT_METER_PROVIDERS):
            return None
        from . import __version__

        self._instruments = _Instruments(provider.get_meter(INSTRUMENTATION_NAME, __version__))
        return self._instruments

    def _active(self) -> tuple[trace.Tracer | None, _Instruments | None] | None:
        """Tracer and instruments, or None while nothing would record.

        Looking up the global providers costs an environment lookup; while none is
        installed the answer is cached for :data:`_RECHECK_SECONDS`.
        """
        if not self.enabled:
            return None
        tracer, instruments = self._tracer, self._instruments
        if tracer is not None and instruments is not None:
            return tracer, instruments
        now = time.monotonic()
        if now < self._idle_until:
            return None
        tracer = self._get_tracer()
        instruments = self._get_instruments()
        if tracer is None and instruments is None:
            self._idle_until = now + _RECHECK_SECONDS
            return None
        return tracer, instruments

    def begin(
        self,
        info: RequestInfo,
        *,
        method: str,
        url: str,
        mode: str,
        user: str,
    ) -> Call | None:
        """Start a call; None (and no allocation) when nothing would record it."""
        active = self._active()
        if active is None:
            return None
        tracer, instruments = active
        labels = {
            "k8s.request.verb": info.verb,
            "k8s.request.resource": _resource_label(info),
            "k8s.request.group": info.api_group,
            "k8s.impersonation.mode": mode,
        }
        span = None
        if tracer is not None:
            span = tracer.start_span(
                operation_name(info),
                kind=SpanKind.CLIENT,
                attributes=_span_attributes(info, method, url, mode, user),
            )
        return Call(span, instruments, labels)

    def refused(self, info: RequestInfo, *, mode: str) -> None:
        """Count a request refused locally (nothing was sent, so no span)."""
        active = self._active()
        if active is None or active[1] is None:
            return
        instruments = active[1]
        instruments.refused.add(
            1,
            {
                "k8s.request.verb": info.verb,
                "k8s.request.resource": _resource_label(info),
                "k8s.request.group": info.api_group,
                "k8s.impersonation.mode": mode,
            },
        )


def _span_attributes(
    info: RequestInfo, method: str, url: str, mode: str, user: str
) -> Mapping[str, Any]:
    attrs: dict[str, Any] = {
        "k8s.request.verb": info.verb,
        "http.request.method": method,
        "k8s.impersonation.mode": mode,
        "k8s.impersonation.user": user,
    }
    if info.is_resource_request:
        attrs["k8s.request.resource"] = info.resource
        attrs["k8s.request.group"] = info.api_group
        if info.subresource:
            attrs["k8s.request.subresource"] = info.subresource
        if info.namespace:
            attrs["k8s.namespace.name"] = info.namespace
        if info.name:
            attrs["k8s.request.name"] = info.name
    else:
        attrs["k8s.request.path"] = info.path
    split = urlsplit(url)
    if split.hostname:
        attrs["server.address"] = split.hostname
        port = split.port or (443 if split.scheme == "https" else 80)
        attrs["server.port"] = port
    return attrs


DISABLED = Telemetry(enabled=False)
"""Telemetry that records nothing (``CIMP_OTEL_ENABLED=false``)."""

GLOBAL = Telemetry()
"""Telemetry through the global OpenTelemetry providers (the default)."""
