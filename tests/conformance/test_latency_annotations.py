"""The slow-request latency annotations, as kube-apiserver writes them (``filters.go``
``writeLatencyToAnnotation``): the differential cannot compare them (timing), so the rules are
pinned here against the embedded server's audit filter directly.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from cimp_apiserver import filters
from cimp_apiserver.context import RequestContext
from constrained_impersonation.resolver import resolve

PREFIX = "apiserver.latency.k8s.io/"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (850e-9, "850ns"),
        (1.5e-6, "1.5µs"),
        (0.000123456, "123.456µs"),
        (0.012345678, "12.345678ms"),
        (0.5, "500ms"),
        (1.5, "1.5s"),
        (61, "1m1s"),
        (3723.5, "1h2m3.5s"),
    ],
)
def test_durations_read_as_go_prints_them(seconds: float, text: str) -> None:
    assert filters.go_duration(seconds) == text


def _annotate(path: str, *, took: float, impersonation: float | None) -> dict[str, str]:
    request: dict[Any, Any] = {
        filters._AUTHENTICATION_SECONDS: 0.002,
        filters._AUTHORIZATION_SECONDS: 0.001,
    }
    ctx = RequestContext(info=resolve("GET", path, {}))
    ctx.impersonation_seconds = impersonation
    filters._slow_annotation(request, ctx, time.perf_counter() - took)  # type: ignore[arg-type]
    return ctx.annotations


def test_a_slow_request_gets_one_annotation_per_layer_and_the_total() -> None:
    annotations = _annotate("/api/v1/pods", took=0.7, impersonation=0.0005)
    assert set(annotations) == {
        PREFIX + "authentication",
        PREFIX + "authorization",
        PREFIX + "impersonation",
        PREFIX + "total",
    }
    assert annotations[PREFIX + "impersonation"] == "500µs"
    assert annotations[PREFIX + "total"].endswith("ms")


def test_no_annotation_for_fast_requests_or_watches() -> None:
    assert _annotate("/api/v1/pods", took=0.1, impersonation=0.0005) == {}
    # kube attaches no latency trackers to watches, however long they last.
    assert _annotate("/api/v1/watch/pods", took=5.0, impersonation=0.0005) == {}
    # Without impersonation there is no impersonation layer.
    assert PREFIX + "impersonation" not in _annotate("/api/v1/pods", took=0.7, impersonation=None)
