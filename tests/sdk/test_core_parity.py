"""One request core for both transports (``_core.Exchange``): it decides, the transports do I/O.

- Without any I/O: the core asks for exactly the operations a request needs (send, release,
  sleep, read) and decides retries and denials itself, whatever performs them.
- Against the API server of the chosen backend (``--apiserver=embedded|kube``): the same
  declared session, once on ``kubernetes.client`` (urllib3) and once on ``kubernetes.aio``
  (aiohttp), refuses, sends, maps denials and reports telemetry identically for a table of
  requests, and ``prepare_request`` agrees with both.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes.aio import client as aclient
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import constrained_impersonation as ci
from constrained_impersonation import aio, rbac
from constrained_impersonation._core import SEND, Exchange, Read, Release, Sleep, Target, Wire
from constrained_impersonation.identity import Identity
from constrained_impersonation.retry import ErrorKind, RetryPolicy
from constrained_impersonation.telemetry import DISABLED, Telemetry

HOST = "https://api.example:6443"
PODS = "/api/v1/namespaces/default/pods"
DENIAL = (
    'pods is forbidden: User "deputy" cannot impersonate-on:user-info:list resource "pods" '
    'in API group "" in the namespace "default"'
)


# --------------------------------------------------------------------------- the core alone


@dataclass
class FakeResponse:
    """What the core reads of either official ``RESTResponse``: status and headers."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def response(self) -> FakeResponse:
        return self


class Refused(Exception):
    def __init__(self, http_resp: Any) -> None:
        super().__init__(http_resp.status)


def _classify(error: BaseException) -> ErrorKind:
    return ErrorKind.CONNECT if isinstance(error, ConnectionRefusedError) else ErrorKind.FATAL


WIRE = Wire(classify=_classify, forbidden=Refused)


def _target(scope: ci.Scope, *, attempts: int = 3) -> Target:
    policy = RetryPolicy(attempts=attempts, jitter=lambda: 1.0, backoff_base=0.5)
    return Target(
        identity=Identity("alice"),
        mode="user-info",
        scope=scope,
        settings=ci.Settings(),
        telemetry=DISABLED,
        policy=policy,
        limiter=None,
        host=HOST,
    )


def drive(exchange: Exchange[Any], answers: list[Any], asked: list[str]) -> None:
    """Perform what the exchange asks with scripted answers, noting what it asked for."""
    op = exchange.start()
    while op is not None:
        result: Any = None
        error: Exception | None = None
        if op is SEND:
            asked.append("send")
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                error = answer
            else:
                result = answer
        elif isinstance(op, Sleep):
            asked.append(f"sleep {op.seconds}")
        elif isinstance(op, Read):
            asked.append("read")
            result = op.response.body
        elif isinstance(op, Release):
            asked.append("release")
        op = exchange.resume(result, error)


SCOPE = ci.Scope(ci.Rule(verbs=["list", "create", "watch"], resources=["pods"]))


@pytest.mark.parametrize(
    ("method", "url", "answers", "asked", "status"),
    [
        pytest.param("GET", PODS, [FakeResponse(200)], ["send"], 200, id="ok"),
        pytest.param(
            "GET",
            PODS,
            [FakeResponse(429, headers={"Retry-After": "2"}), FakeResponse(200)],
            ["send", "release", "sleep 2.0", "send"],
            200,
            id="429-retry-after",
        ),
        pytest.param(
            "GET",
            PODS,
            [FakeResponse(503)] * 3,
            ["send", "release", "sleep 0.5", "send", "release", "sleep 1.0", "send"],
            503,
            id="503-until-attempts-run-out",
        ),
        pytest.param("POST", PODS, [FakeResponse(503)], ["send"], 503, id="post-never-replayed"),
        pytest.param(
            "POST",
            PODS,
            [ConnectionRefusedError(), FakeResponse(201)],
            ["send", "sleep 0.5", "send"],
            201,
            id="post-retried-when-nothing-was-sent",
        ),
        pytest.param(
            "GET", PODS + "?watch=true", [FakeResponse(503)], ["send"], 503, id="watch-sent-once"
        ),
        pytest.param(
            "GET",
            PODS,
            [FakeResponse(403, json.dumps({"code": 403, "message": "no"}).encode())],
            ["send", "read"],
            403,
            id="downstream-403-stays-an-answer",
        ),
    ],
)
def test_the_core_decides_and_asks_for_the_io(
    method: str, url: str, answers: list[Any], asked: list[str], status: int
) -> None:
    done: list[str] = []
    with Exchange[FakeResponse](_target(SCOPE), WIRE, method, HOST + url) as exchange:
        drive(exchange, answers, done)
        assert exchange.response.status == status
    assert done == asked
    assert answers == []


def test_the_core_maps_an_impersonation_403_with_the_clients_own_exception_as_cause() -> None:
    body = json.dumps({"kind": "Status", "code": 403, "reason": "Forbidden", "message": DENIAL})
    exchange = Exchange[FakeResponse](_target(SCOPE), WIRE, "GET", HOST + PODS)
    asked: list[str] = []
    with pytest.raises(ci.ImpersonationDenied) as denied, exchange:
        drive(exchange, [FakeResponse(403, body.encode())], asked)
    assert asked == ["send", "read", "release"]
    assert denied.value.verb == "impersonate-on:user-info:list"
    assert isinstance(denied.value.__cause__, Refused)


def test_the_core_refuses_before_asking_for_anything() -> None:
    target = _target(SCOPE)
    with pytest.raises(ci.OutOfScopeError):
        Exchange[FakeResponse](target, WIRE, "DELETE", HOST + PODS + "/web")
    with pytest.raises(ci.OutOfScopeError, match="dot segment"):
        Exchange[FakeResponse](target, WIRE, "GET", HOST + PODS + "/web/log/../../secrets")
    target.closed = True
    with pytest.raises(ci.ImpersonationError, match="closed"):
        Exchange[FakeResponse](target, WIRE, "GET", HOST + PODS)


def test_the_final_connect_error_comes_back_as_it_was_raised() -> None:
    refused = ConnectionRefusedError()
    exchange = Exchange[FakeResponse](_target(SCOPE, attempts=2), WIRE, "GET", HOST + PODS)
    asked: list[str] = []
    with pytest.raises(ConnectionRefusedError) as caught, exchange:
        drive(exchange, [ConnectionRefusedError(), refused], asked)
    assert caught.value is refused
    assert asked == ["send", "sleep 0.5", "send"]


# --------------------------------------------------------------------------- both transports

RBAC = "rbac.authorization.k8s.io"
DISCOVERY = ci.NonResourceRule(["get"], ["/version"])
# What the deputy may do as alice (its grants) ...
GRANTED = ci.Scope(
    ci.Rule(["get", "list", "create", "watch"], ["configmaps"], namespaces=["default"]),
    ci.Rule(["list"], ["secrets"], namespaces=["default"]),
    DISCOVERY,
)
# ... and what the session declares: one verb more than granted (delete), so the server
# refuses that impersonation and nothing else.
DECLARED = ci.Scope(
    ci.Rule(["get", "list", "create", "watch", "delete"], ["configmaps"], namespaces=["default"]),
    ci.Rule(["list"], ["secrets"], namespaces=["default"]),
    DISCOVERY,
)
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
NEW_CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "p-"}}

# (method, path, body, expected outcome); the same for either transport.
TABLE: list[tuple[str, str, Any, tuple[Any, ...]]] = [
    ("GET", CONFIGMAPS, None, ("answered", 200)),
    ("GET", CONFIGMAPS + "/cm1", None, ("answered", 200)),
    ("GET", CONFIGMAPS + "/missing", None, ("answered", 404)),
    ("POST", CONFIGMAPS, NEW_CONFIGMAP, ("answered", 201)),
    ("GET", CONFIGMAPS + "?watch=true&timeoutSeconds=1", None, ("answered", 200)),
    ("GET", "/version", None, ("answered", 200)),
    # Granted to the deputy, not to alice: her own 403, an ordinary answer.
    ("GET", "/api/v1/namespaces/default/secrets", None, ("answered", 403)),
    # Declared, not granted: the server refuses the impersonation.
    (
        "DELETE",
        CONFIGMAPS + "/cm1",
        None,
        (
            "denied",
            "user-info",
            "impersonate-on:user-info:delete",
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "verbs": ["impersonate-on:user-info:delete"],
                "resourceNames": ["cm1"],
            },
        ),
    ),
    # Not declared: refused locally.
    ("GET", "/api/v1/namespaces/kube-system/configmaps", None, ("refused", "list", "")),
    ("GET", "/api/v1/namespaces/default/secrets/db", None, ("refused", "get", "")),
    (
        "GET",
        CONFIGMAPS + "/cm1/../../../kube-system/configmaps",
        None,
        ("refused", "get", "has the dot segment '..'"),
    ),
    (
        "GET",
        CONFIGMAPS + "?labelSelector=a&labelSelector=b",
        None,
        ("refused", "get", "repeats the query parameter 'labelSelector'"),
    ),
    ("GET", "/version/../api", None, ("refused", "get", "has the dot segment '..'")),
]


class Recorder:
    """In-memory spans and metrics of one session."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.telemetry = Telemetry(
            tracer_provider=tracer_provider,
            meter_provider=MeterProvider(metric_readers=[self.reader]),
        )

    def report(self) -> tuple[list[Any], dict[str, list[Any]]]:
        """Span names, statuses and attributes (no port), metric points by name."""
        spans = []
        for span in self.spans.get_finished_spans():
            attrs = {k: v for k, v in (span.attributes or {}).items() if k != "server.port"}
            spans.append((span.name, span.status.status_code.name, sorted(attrs.items())))
        points: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == "cimp.client.request.duration":
                        continue  # durations differ by nature
                    points[metric.name] = sorted(
                        (sorted(p.attributes.items()), p.value) for p in metric.data.data_points
                    )
        return sorted(spans, key=repr), points


def outcome(result: Any) -> tuple[Any, ...]:
    """What a caller sees, in terms both clients share."""
    if isinstance(result, ci.OutOfScopeError):
        return ("refused", result.verb, result.reason)
    if isinstance(result, ci.ImpersonationDenied):
        assert type(result.__cause__).__name__ == "ForbiddenException"
        return ("denied", result.mode, result.verb, result.rule)
    if isinstance(result, BaseException):
        return ("raised", type(result).__name__, str(result))
    return ("answered", result.status)


def _arguments(method: str, body: Any) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    return {"header_params": headers, "body": body, "auth_settings": ["BearerToken"]}


def sync_outcomes(session: ci.Session) -> list[tuple[Any, ...]]:
    found = []
    for method, path, body, _ in TABLE:
        api = session.api_client
        try:
            response = api.call_api(*api.param_serialize(method, path, **_arguments(method, body)))
            response.read()
            found.append(outcome(response))
        except Exception as exc:
            found.append(outcome(exc))
    return found


async def aio_outcomes(session: aio.AsyncSession) -> list[tuple[Any, ...]]:
    found = []
    for method, path, body, _ in TABLE:
        api = session.api_client
        try:
            request = await api.param_serialize(method, path, **_arguments(method, body))
            response = await api.call_api(*request)
            await response.read()
            found.append(outcome(response))
        except Exception as exc:
            found.append(outcome(exc))
    return found


@pytest.fixture(scope="module")
def cluster(apiserver_class: Callable[..., Any]) -> Iterator[tuple[Any, str]]:
    """The server, and the token of a deputy granted GRANTED as alice."""
    with apiserver_class() as server:
        token = server.add_user("deputy")
        server.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cm1", "namespace": "default"},
            },
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "Role",
                "metadata": {"name": "alice", "namespace": "default"},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["configmaps"],
                        "verbs": ["get", "list", "watch", "create", "delete"],
                    }
                ],
            },
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "alice", "namespace": "default"},
                "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "alice"},
                "subjects": [{"apiGroup": RBAC, "kind": "User", "name": "alice"}],
            },
            *rbac.render(GRANTED, "user-info", "user:deputy", targets=["alice"]),
        )
        yield server, token


def aio_base(server: Any, token: str) -> Any:
    configuration = aclient.Configuration()
    configuration.host = server.url
    configuration.ssl_ca_cert = server.ca_file
    configuration.api_key["BearerToken"] = token
    configuration.api_key_prefix["BearerToken"] = "Bearer"
    return aclient.ApiClient(configuration)


def test_sync_and_aio_sessions_behave_alike_through_the_shared_core(
    cluster: tuple[Any, str],
) -> None:
    server, token = cluster
    policy = RetryPolicy(attempts=1)
    sync_telemetry, aio_telemetry = Recorder(), Recorder()

    base = server.api_client(token)
    with ci.UserSession(
        base, user="alice", scope=DECLARED, telemetry=sync_telemetry.telemetry, retry=policy
    ) as session:
        sync_found = sync_outcomes(session)
        sync_lines = [_prepared(session.prepare_request, m, server.url + p) for m, p, *_ in TABLE]
    base.close()

    async def main() -> tuple[list[tuple[Any, ...]], list[Any]]:
        abase = aio_base(server, token)
        try:
            async with aio.UserSession(
                abase, user="alice", scope=DECLARED, telemetry=aio_telemetry.telemetry, retry=policy
            ) as asession:
                found = await aio_outcomes(asession)
                lines = [
                    _prepared(asession.prepare_request, m, server.url + p) for m, p, *_ in TABLE
                ]
                return found, lines
        finally:
            await abase.close()

    aio_found, aio_lines = asyncio.run(main())

    expected = [row[3] for row in TABLE]
    for row, got_sync, got_aio in zip(TABLE, sync_found, aio_found, strict=True):
        assert got_sync == got_aio, row[:2]
        assert matches(row[3], got_sync), (row[:2], got_sync)
    assert sync_lines == aio_lines
    assert [lines is not None for lines in sync_lines] == [e[0] != "refused" for e in expected]
    assert sync_telemetry.report() == aio_telemetry.report()
    spans, points = sync_telemetry.report()
    assert len(spans) == sum(e[0] != "refused" for e in expected)
    (refused,) = [sum(v for _, v in points["cimp.client.requests.refused"])]
    assert refused == 2 * sum(e[0] == "refused" for e in expected)  # requests + prepare_request


def matches(expected: tuple[Any, ...], got: tuple[Any, ...]) -> bool:
    """Equal, except that a refusal's reason need only start as expected."""
    if expected[0] == "refused" and got[0] == "refused":
        return got[1] == expected[1] and got[2].startswith(expected[2])
    return got == expected


def _prepared(prepare: Callable[[str, str], Any], method: str, url: str) -> Any:
    try:
        return prepare(method, url)
    except ci.OutOfScopeError:
        return None
