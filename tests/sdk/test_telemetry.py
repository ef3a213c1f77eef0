"""Spans and metrics per Kubernetes operation, with the SDK's in-memory exporters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import constrained_impersonation as ci
from constrained_impersonation.resolver import resolve_url
from constrained_impersonation.retry import RetryPolicy
from constrained_impersonation.telemetry import GLOBAL, Telemetry, operation_name

from ._wire import Response, WireServer, api_client, status_body

SCOPE = ci.Scope(
    ci.Rule(verbs=["list", "get"], resources=["pods", "pods/log"]),
    ci.Rule(verbs=["create"], resources=["selfsubjectreviews"], group="authentication.k8s.io"),
)


class Recorder:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.telemetry = Telemetry(
            tracer_provider=tracer_provider,
            meter_provider=MeterProvider(metric_readers=[self.reader]),
        )

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


@pytest.fixture
def wire() -> Iterator[WireServer]:
    with WireServer() as server:
        yield server


@pytest.fixture
def base(wire: WireServer) -> Iterator[Any]:
    api = api_client(wire.url)
    yield api
    api.close()


@pytest.mark.parametrize(
    ("method", "url", "name"),
    [
        ("GET", "/api/v1/namespaces/default/pods", "list pods"),
        ("GET", "/api/v1/namespaces/default/pods/web/log", "get pods/log"),
        ("GET", "/api/v1/pods?watch=true", "watch pods"),
        ("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "create selfsubjectreviews"),
        ("GET", "/version", "get /version"),
    ],
)
def test_operation_names(method: str, url: str, name: str) -> None:
    assert operation_name(resolve_url(method, url)) == name


def test_a_client_span_per_call_with_kubernetes_attributes(wire: WireServer, base: Any) -> None:
    recorder = Recorder()
    session = ci.UserSession(
        base,
        user="alice",
        groups=["secret-group"],
        extra={"example.com/scopes": ["secret-value"]},
        scope=SCOPE,
        telemetry=recorder.telemetry,
    )
    wire.handler = lambda req: Response(200, b"log line\n", {"Content-Type": "text/plain"})
    client.CoreV1Api(session.api_client).read_namespaced_pod_log("web", "default")

    (span,) = recorder.spans.get_finished_spans()
    assert span.name == "get pods/log"
    assert span.kind is SpanKind.CLIENT
    attrs = dict(span.attributes or {})
    assert attrs["k8s.request.verb"] == "get"
    assert attrs["k8s.request.resource"] == "pods"
    assert attrs["k8s.request.subresource"] == "log"
    assert attrs["k8s.request.group"] == ""
    assert attrs["k8s.namespace.name"] == "default"
    assert attrs["k8s.request.name"] == "web"
    assert attrs["http.response.status_code"] == 200
    assert attrs["k8s.impersonation.mode"] == "user-info"
    assert attrs["k8s.impersonation.user"] == "alice"
    assert attrs["server.port"] == wire.port
    flat = repr(attrs) + repr([e.attributes for e in span.events])
    for secret in ("secret-group", "secret-value", "requestor-token", "Bearer"):
        assert secret not in flat


def test_errors_and_retries_are_recorded(wire: WireServer, base: Any) -> None:
    recorder = Recorder()
    policy = RetryPolicy(attempts=2, sleep=lambda s: None, jitter=lambda: 0.0)
    session = ci.UserSession(
        base, user="alice", scope=SCOPE, telemetry=recorder.telemetry, retry=policy
    )
    wire.handler = lambda req: Response.json(503, status_body(503, "down", "ServiceUnavailable"))
    with pytest.raises(client.ApiException):
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    (span,) = recorder.spans.get_finished_spans()
    assert span.name == "list pods"
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 503
    assert span.attributes["http.request.resend_count"] == 1
    assert [e.name for e in span.events] == ["retry"]
    (retries,) = recorder.points("cimp.client.retries")
    assert retries.value == 1
    assert retries.attributes["reason"] == "503"


def test_request_counter_and_duration_histogram(wire: WireServer, base: Any) -> None:
    recorder = Recorder()
    session = ci.UserSession(base, user="alice", scope=SCOPE, telemetry=recorder.telemetry)
    core = client.CoreV1Api(session.api_client)
    core.list_namespaced_pod("default")
    core.list_namespaced_pod("kube-system")
    (requests,) = recorder.points("cimp.client.requests")
    assert requests.value == 2
    assert requests.attributes == {
        "k8s.request.verb": "list",
        "k8s.request.resource": "pods",
        "k8s.request.group": "",
        "k8s.impersonation.mode": "user-info",
        "code": "200",
    }
    (duration,) = recorder.points("cimp.client.request.duration")
    assert duration.count == 2


def test_self_subject_review_span_name(wire: WireServer, base: Any) -> None:
    recorder = Recorder()
    session = ci.UserSession(base, user="alice", scope=SCOPE, telemetry=recorder.telemetry)
    wire.handler = lambda req: Response.json(
        201,
        {
            "kind": "SelfSubjectReview",
            "apiVersion": "authentication.k8s.io/v1",
            "status": {"userInfo": {"username": "alice"}},
        },
    )
    client.AuthenticationV1Api(session.api_client).create_self_subject_review(
        client.V1SelfSubjectReview()
    )
    (span,) = recorder.spans.get_finished_spans()
    assert span.name == "create selfsubjectreviews"
    assert span.attributes is not None
    assert span.attributes["k8s.request.group"] == "authentication.k8s.io"


def test_refused_requests_are_counted_without_a_span(wire: WireServer, base: Any) -> None:
    recorder = Recorder()
    session = ci.UserSession(base, user="alice", scope=SCOPE, telemetry=recorder.telemetry)
    with pytest.raises(ci.OutOfScopeError):
        client.CoreV1Api(session.api_client).delete_namespaced_pod("web", "default")
    assert recorder.spans.get_finished_spans() == ()
    (refused,) = recorder.points("cimp.client.requests.refused")
    assert refused.value == 1
    assert refused.attributes["k8s.request.verb"] == "delete"
    assert wire.requests == []


def test_impersonation_denied_is_visible_on_the_span(wire: WireServer, base: Any) -> None:
    recorder = Recorder()
    session = ci.UserSession(base, user="alice", scope=SCOPE, telemetry=recorder.telemetry)
    message = (
        'pods is forbidden: User "system:serviceaccount:d:deputy" cannot '
        'impersonate-on:user-info:list resource "pods" in API group "" in the namespace "default"'
    )
    wire.handler = lambda req: Response.json(403, status_body(403, message))
    with pytest.raises(ci.ImpersonationDenied):
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    (span,) = recorder.spans.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 403
    assert span.attributes["error.type"] == "ImpersonationDenied"


def test_disabled_by_setting(wire: WireServer, base: Any) -> None:
    recorder = Recorder()
    session = ci.UserSession(
        base,
        user="alice",
        scope=SCOPE,
        telemetry=recorder.telemetry,
        settings=ci.Settings(otel_enabled=False),
    )
    client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    assert recorder.spans.get_finished_spans() == ()
    assert recorder.points("cimp.client.requests") == []


def test_without_a_provider_nothing_is_allocated_per_call() -> None:
    # No SDK provider is installed globally in the test process: the API's proxies are inert.
    info = resolve_url("GET", "/api/v1/pods")
    assert GLOBAL.begin(info, method="GET", url="http://x/api/v1/pods", mode="m", user="u") is None
    GLOBAL.refused(info, mode="m")
