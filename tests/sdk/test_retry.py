"""Retries through a session, against real sockets; waits are recorded, never slept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

import constrained_impersonation as ci
from constrained_impersonation.retry import RetryPolicy, TokenBucket, parse_retry_after

from ._wire import Response, WireServer, api_client, empty_list, status_body

SCOPE = ci.Scope(
    ci.Rule(
        verbs=["list", "watch", "get", "create", "patch", "update", "delete"], resources=["pods"]
    )
)


class FakeTime:
    """A clock that only moves when the policy sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def policy(fake: FakeTime, **kwargs: Any) -> RetryPolicy:
    options: dict[str, Any] = {
        "attempts": 5,
        "deadline": 30.0,
        "backoff_base": 0.5,
        "backoff_max": 4.0,
        "sleep": fake.sleep,
        "clock": fake.clock,
        "jitter": lambda: 1.0,  # the ceiling itself, so waits are predictable
    }
    options.update(kwargs)
    return RetryPolicy(**options)


@pytest.fixture
def wire() -> Iterator[WireServer]:
    with WireServer() as server:
        yield server


@pytest.fixture
def base(wire: WireServer) -> Iterator[Any]:
    api = api_client(wire.url)
    yield api
    api.close()


def too_many(retry_after: str) -> Response:
    return Response.json(
        429, status_body(429, "too many requests", "TooManyRequests"), Retry_After=retry_after
    )


def unavailable() -> Response:
    return Response.json(503, status_body(503, "unavailable", "ServiceUnavailable"))


def test_429_is_retried_after_the_time_the_server_asks_for(
    wire: WireServer, base: Any, fake: FakeTime
) -> None:
    wire.script = [too_many("3"), too_many("1")]
    session = ci.UserSession(base, user="alice", scope=SCOPE, retry=policy(fake))
    pods = client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    assert pods.items == []
    assert len(wire.requests) == 3
    assert fake.sleeps == [3.0, 1.0]
    # Every attempt carries the impersonation headers.
    assert all(r.header("Impersonate-User") == "alice" for r in wire.requests)


def test_5xx_without_retry_after_backs_off_exponentially_with_full_jitter(
    wire: WireServer, base: Any, fake: FakeTime
) -> None:
    wire.script = [unavailable(), unavailable(), unavailable()]
    session = ci.UserSession(base, user="alice", scope=SCOPE, retry=policy(fake))
    client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    assert len(wire.requests) == 4
    assert fake.sleeps == [0.5, 1.0, 2.0]


def test_jitter_draws_between_zero_and_the_ceiling(fake: FakeTime) -> None:
    draws = iter([0.0, 0.25, 0.5])
    p = policy(fake, jitter=lambda: next(draws))
    assert [p.backoff(1), p.backoff(2), p.backoff(10)] == [0.0, 0.25, 2.0]


def test_attempts_are_bounded_and_the_last_answer_is_returned(
    wire: WireServer, base: Any, fake: FakeTime
) -> None:
    wire.handler = lambda req: unavailable()
    session = ci.UserSession(base, user="alice", scope=SCOPE, retry=policy(fake, attempts=3))
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    assert caught.value.status == 503
    assert len(wire.requests) == 3
    assert len(fake.sleeps) == 2


def test_no_wait_runs_past_the_deadline(wire: WireServer, base: Any, fake: FakeTime) -> None:
    wire.handler = lambda req: too_many("10")
    session = ci.UserSession(
        base, user="alice", scope=SCOPE, retry=policy(fake, attempts=10, deadline=25.0)
    )
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    assert caught.value.status == 429
    assert fake.sleeps == [10.0, 10.0]  # a third wait would end at 30 s > 25 s
    assert len(wire.requests) == 3


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 410, 422])
def test_client_errors_are_never_retried(
    wire: WireServer, base: Any, fake: FakeTime, code: int
) -> None:
    wire.handler = lambda req: Response.json(code, status_body(code, "no", "Whatever"))
    session = ci.UserSession(base, user="alice", scope=SCOPE, retry=policy(fake))
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(session.api_client).read_namespaced_pod("web", "default")
    assert caught.value.status == code
    assert len(wire.requests) == 1
    assert fake.sleeps == []


def _pod() -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name="web"))


@pytest.mark.parametrize("answer", [too_many("1"), unavailable()])
def test_post_and_patch_are_not_replayed_once_the_server_answered(
    wire: WireServer, base: Any, fake: FakeTime, answer: Response
) -> None:
    wire.handler = lambda req: answer
    session = ci.UserSession(base, user="alice", scope=SCOPE, retry=policy(fake))
    core = client.CoreV1Api(session.api_client)
    with pytest.raises(ApiException):
        core.create_namespaced_pod("default", _pod())
    with pytest.raises(ApiException):
        core.patch_namespaced_pod("web", "default", {"metadata": {"labels": {"a": "b"}}})
    assert [r.method for r in wire.requests] == ["POST", "PATCH"]
    assert fake.sleeps == []


def test_put_and_delete_are_retried_as_idempotent(
    wire: WireServer, base: Any, fake: FakeTime
) -> None:
    pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "web"}}
    wire.script = [unavailable(), Response.json(200, pod), unavailable(), Response.json(200, pod)]
    session = ci.UserSession(base, user="alice", scope=SCOPE, retry=policy(fake))
    core = client.CoreV1Api(session.api_client)
    core.replace_namespaced_pod("web", "default", _pod())
    core.delete_namespaced_pod("web", "default")
    assert [r.method for r in wire.requests] == ["PUT", "PUT", "DELETE", "DELETE"]


def test_post_is_retried_when_the_connection_was_never_established(fake: FakeTime) -> None:
    # A bound socket that does not listen refuses connections: the POST provably did not
    # reach the server. The server starts listening during the first backoff.
    server = WireServer(
        lambda req: Response.json(201, json.loads(req.body)),
        listen=False,
    )
    base = api_client(server.url)

    def sleep_then_listen(seconds: float) -> None:
        fake.sleep(seconds)
        server.listen()

    try:
        session = ci.UserSession(
            base, user="alice", scope=SCOPE, retry=policy(fake, sleep=sleep_then_listen)
        )
        created = client.CoreV1Api(session.api_client).create_namespaced_pod("default", _pod())
        assert created.metadata.name == "web"
        assert len(server.requests) == 1
        assert len(fake.sleeps) == 1
    finally:
        base.close()
        server.close()


def test_persistent_connect_errors_end_as_max_retry_error(fake: FakeTime) -> None:
    server = WireServer(listen=False)
    base = api_client(server.url)
    try:
        session = ci.UserSession(base, user="alice", scope=SCOPE, retry=policy(fake, attempts=3))
        with pytest.raises(urllib3.exceptions.MaxRetryError) as caught:
            client.CoreV1Api(session.api_client).list_namespaced_pod("default")
        assert isinstance(caught.value.reason, urllib3.exceptions.NewConnectionError)
        assert len(fake.sleeps) == 2  # three attempts, ours only: urllib3's are off
    finally:
        base.close()
        server.close()


def test_the_clients_own_urllib3_retries_do_not_multiply_attempts(
    wire: WireServer, fake: FakeTime
) -> None:
    # A base client configured with urllib3 retries and client-go style read retries.
    base = api_client(wire.url)
    base.configuration.retries = urllib3.Retry(total=5, status_forcelist=[503])
    base.configuration.client_go_retries = True
    base.rest_client.pool_manager.connection_pool_kw["retries"] = base.configuration.retries
    wire.handler = lambda req: unavailable()
    try:
        session = ci.UserSession(base, user="alice", scope=SCOPE, retry=policy(fake, attempts=2))
        with pytest.raises(ApiException):
            client.CoreV1Api(session.api_client).list_namespaced_pod("default")
        assert len(wire.requests) == 2
    finally:
        base.close()


def test_watches_are_not_retried_by_the_transport(
    wire: WireServer, base: Any, fake: FakeTime
) -> None:
    wire.handler = lambda req: unavailable()
    session = ci.UserSession(base, user="alice", scope=SCOPE, retry=policy(fake))
    core = client.CoreV1Api(session.api_client)
    with pytest.raises(ApiException):
        next(iter(watch.Watch().stream(core.list_namespaced_pod, "default", timeout_seconds=1)))
    assert len(wire.requests) == 1
    assert fake.sleeps == []


def test_one_attempt_disables_retries(wire: WireServer, base: Any, fake: FakeTime) -> None:
    wire.script = [unavailable()]
    session = ci.UserSession(base, user="alice", scope=SCOPE, retry=policy(fake, attempts=1))
    with pytest.raises(ApiException):
        client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    assert len(wire.requests) == 1


def test_retry_policy_comes_from_settings(wire: WireServer, base: Any) -> None:
    settings = ci.Settings(retry_attempts=2, retry_deadline=1.5, retry_backoff_base=0.001)
    wire.script = [unavailable()]
    session = ci.UserSession(base, user="alice", scope=SCOPE, settings=settings)
    client.CoreV1Api(session.api_client).list_namespaced_pod("default")
    assert len(wire.requests) == 2
    target_policy = session.api_client.rest_client.target.policy
    assert (target_policy.attempts, target_policy.deadline) == (2, 1.5)


def test_parse_retry_after() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:07 GMT", now=lambda: now) == 7.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("nan") is None


def test_token_bucket_allows_a_burst_then_paces(fake: FakeTime) -> None:
    bucket = TokenBucket(2.0, 3, clock=fake.clock, sleep=fake.sleep)
    for _ in range(5):
        bucket.acquire()
    assert fake.sleeps == [0.5, 0.5]  # 3 from the burst, then one token every 0.5 s


def test_rate_limit_is_shared_by_sessions_of_one_base_client(base: Any) -> None:
    settings = ci.Settings(qps=5, burst=2)
    one = ci.UserSession(base, user="alice", scope=SCOPE, settings=settings)
    two = ci.UserSession(base, user="bob", scope=SCOPE, settings=settings)
    limiter = one.api_client.rest_client.target.limiter
    assert limiter is not None
    assert limiter is two.api_client.rest_client.target.limiter
    unlimited = ci.UserSession(base, user="carol", scope=SCOPE, settings=ci.Settings(qps=0))
    assert unlimited.api_client.rest_client.target.limiter is None


def test_rate_limited_requests_go_through(wire: WireServer, base: Any) -> None:
    wire.handler = lambda req: Response.json(200, empty_list())
    session = ci.UserSession(
        base, user="alice", scope=SCOPE, settings=ci.Settings(qps=1000, burst=5)
    )
    core = client.CoreV1Api(session.api_client)
    for _ in range(3):
        core.list_namespaced_pod("default")
    assert len(wire.requests) == 3
