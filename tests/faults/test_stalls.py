"""Stalled responses: the connection stays open but no byte moves (FaultProxy.stall()).

A hung load balancer or server does not reset connections, so nothing fails on its own: the
agent must notice. A list is bounded by the read timeout; a watch by the idle timeout, since
the server sends a BOOKMARK to an idle watch every few seconds (the embedded server every 5 s,
kube about once a minute): silence beyond that means the stream is dead.
"""

from __future__ import annotations

from dataclasses import replace

from node_agent.sandbox import pod_manifest

from .conftest import (
    FAST,
    NODE_A,
    Env,
    agent_events,
    eventually,
    http_get,
    served_pods,
    wait_in_sync,
)


def test_a_list_stalled_mid_way_is_abandoned_and_never_half_applied(env: Env) -> None:
    for number in range(30):
        env.cluster.create_pod(pod_manifest(f"batch-{number:02d}", "shop", NODE_A))
    token = env.cluster.agent_token(env.agent_pod(NODE_A))
    proxy = env.proxy()
    # Pages of 4 Pods (9 pages), spaced ~250 ms apart by the SDK's client-side rate limit so
    # that the stall lands between the first and the last page.
    session = env.token_session(NODE_A, token, host=proxy.url, qps=4, burst=1)
    options = replace(FAST, page_size=4, read_timeout=2)
    mark = len(env.server.audit_events())
    agent = env.start_agent(session, options=options, wait=False)

    def pages_served() -> int:
        return sum(1 for e in agent_events(env.server, since=mark) if e["verb"] == "list")

    eventually(lambda: pages_served() >= 2, what="the first pages")
    proxy.stall()
    error = eventually(lambda: agent.sync.last_error, what="the stalled list given up")
    assert "timed out" in error.lower(), error
    assert not agent.inventory.synced, "the stall landed after the last page"
    status, body = http_get(agent.url + "/pods")
    assert status == 503 and b"not synced yet" in body, "a partial list is never served"
    assert http_get(agent.url + "/readyz")[0] == 503

    proxy.resume()
    wait_in_sync(agent, env.cluster, what="the list after the stall")
    assert len(served_pods(agent) or {}) == 34
    assert agent.metrics.relists.value(reason="initial") == 1, "one complete list, applied once"


def test_a_stalled_watch_is_abandoned_after_the_idle_timeout(env: Env) -> None:
    # Production timeouts for the watch itself: without the idle deadline this stall would
    # go unnoticed for 5-10 minutes (timeoutSeconds 300-600 s plus the 60 s read timeout).
    options = replace(FAST, watch_timeout=300, read_timeout=60, watch_idle_timeout=7)
    token = env.cluster.agent_token(env.agent_pod(NODE_A))
    proxy = env.proxy()
    agent = env.start_agent(env.token_session(NODE_A, token, host=proxy.url), options=options)
    wait_in_sync(agent, env.cluster, what="initial sync")
    eventually(lambda: agent.sync.watching, what="the watch")
    idle = agent.metrics.watch_restarts.value(reason="idle")

    proxy.stall()
    env.cluster.create_pod(pod_manifest("during-stall", "shop", NODE_A))
    env.cluster.delete_pod("shop", "web-a0")
    eventually(
        lambda: agent.metrics.watch_restarts.value(reason="idle") > idle,
        timeout=45,
        what="the silent watch abandoned",
    )
    assert agent.metrics.request_errors.value(verb="watch", error="WatchIdle") >= 1
    eventually(lambda: b"cimp_agent_watch_connected 0" in http_get(agent.url + "/metrics")[1])
    assert "shop/during-stall" not in (served_pods(agent) or {}), "nothing got through"

    proxy.resume()
    wait_in_sync(agent, env.cluster, what="re-watched from the last resourceVersion")
    assert agent.metrics.relists.value(reason="initial") == 1


def test_idle_timeout_is_a_documented_option() -> None:
    from node_agent.config import build_parser, parse_args

    text = build_parser().format_help()
    assert "--watch-idle-timeout" in text and "CIMP_AGENT_WATCH_IDLE_TIMEOUT" in text
    assert parse_args([], environ={}).watch_idle_timeout == 150
    assert parse_args([], environ={"CIMP_AGENT_WATCH_IDLE_TIMEOUT": "0"}).watch_idle_timeout == 0
    assert parse_args(["--watch-idle-timeout", "90"], environ={}).watch_idle_timeout == 90
