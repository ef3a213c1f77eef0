"""5xx bursts and 429 storms, injected by the embedded server (``server.faults``).

The SDK retries what is safe (429 honouring ``Retry-After``, 500/502/503/504 on reads) within
its budget and then hands back the server's own answer; the agent retries forever with
jittered backoff, honouring ``Retry-After`` too. Whatever the storm, once it passes every
agent's inventory equals the server's truth.
"""

from __future__ import annotations

import pytest
from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException

from node_agent.sandbox import pod_manifest

from .conftest import NODE_A, NODE_B, Env, eventually, wait_in_sync

NODE_C = "node-c"


def test_5xx_bursts_on_watch_and_list_are_survived(env: Env) -> None:
    token = env.cluster.agent_token(env.agent_pod(NODE_A))
    proxy = env.proxy()
    agent = env.start_agent(env.token_session(NODE_A, token, host=proxy.url))
    wait_in_sync(agent, env.cluster, what="initial sync")

    # Cut the agent off while the cluster changes and its history is compacted, so that its
    # re-watch meets the burst, then 410, and its relist meets the burst again.
    proxy.refuse_new()
    proxy.drop_connections()
    env.cluster.create_pod(pod_manifest("during-burst", "shop", NODE_A))
    env.cluster.delete_pod("shop", "web-a0")
    env.cluster.create_pod(pod_manifest("elsewhere", "shop", NODE_B))
    env.server.compact()
    faults = env.server.faults
    faults.fail_next(2, 502, verbs={"watch"})
    faults.fail_next(1, 504, verbs={"watch"})
    faults.fail_next(2, 500, verbs={"list"})
    faults.fail_next(2, 504, verbs={"list"})
    proxy.refuse_new(False)
    eventually(lambda: faults.injected == 7, what="every injected 5xx consumed")
    wait_in_sync(agent, env.cluster, what="after the 5xx burst")
    assert agent.metrics.request_errors.value(verb="watch", error="502") >= 1
    assert agent.metrics.relists.value(reason="gone") == 1
    # The SDK absorbed the list's 500/504s within one list call: no failed list reached the
    # agent, which listed exactly once after the 410.
    assert agent.metrics.request_errors.value(verb="list", error="500") == 0


def test_sdk_retries_a_short_5xx_burst_and_reports_a_long_one(env: Env) -> None:
    token = env.cluster.agent_token(env.agent_pod(NODE_A))
    api = CoreV1Api(env.token_session(NODE_A, token, retry_attempts=3).api_client)
    faults = env.server.faults

    faults.fail_next(2, 503, retry_after=None, verbs={"list"})
    pods = api.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={NODE_A}")
    assert "web-a0" in {p.metadata.name for p in pods.items}
    assert faults.injected == 2

    faults.fail_next(3, 502, verbs={"list"})
    with pytest.raises(ApiException) as exc:
        api.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={NODE_A}")
    assert exc.value.status == 502, "the server's last answer, as is"
    assert "injected bad gateway" in str(exc.value.body)
    assert faults.injected == 5, "exactly retry_attempts=3 attempts, then it gave up"


def test_429_storm_with_retry_after_across_agents(env: Env) -> None:
    env.cluster.create_nodes(NODE_C)
    env.cluster.create_pod(pod_manifest("web-c0", "shop", NODE_C))
    proxy = env.proxy()
    agents, tokens = {}, {}
    for node in (NODE_A, NODE_B, NODE_C):
        tokens[node] = env.cluster.agent_token(env.agent_pod(node))
        session = env.token_session(node, tokens[node], host=proxy.url)
        agents[node] = env.start_agent(session, node)
    for node, agent in agents.items():
        wait_in_sync(agent, env.cluster, node, what=f"initial sync of {node}")

    # Priority and fairness sheds the agents' requests: 15 x 429 with Retry-After: 1 on the
    # list/watch URL, while every agent must re-watch and then relist (compacted history).
    proxy.refuse_new()
    proxy.drop_connections()
    for node in (NODE_A, NODE_B, NODE_C):
        env.cluster.create_pod(pod_manifest(f"storm-{node}", "shop", node))
    env.cluster.delete_pod("shop", "web-a1")
    env.cluster.delete_pod("shop", "web-b1")
    env.server.compact()
    faults = env.server.faults
    faults.fail_next(15, 429, retry_after=1, path_prefix="/api/v1/pods")
    proxy.refuse_new(False)
    eventually(lambda: faults.injected == 15, timeout=45, what="the storm to pass")
    for node, agent in agents.items():
        wait_in_sync(agent, env.cluster, node, what=f"{node} after the storm")
    throttled = sum(
        agent.metrics.request_errors.value(verb="watch", error="429") for agent in agents.values()
    )
    assert throttled >= 1
    for agent in agents.values():
        assert agent.metrics.relists.value(reason="gone") >= 1

    # A caller whose retry budget is smaller than the storm gets the 429, Retry-After included.
    api = CoreV1Api(env.token_session(NODE_A, tokens[NODE_A], retry_attempts=2).api_client)
    faults.fail_next(2, 429, retry_after=1, path_prefix="/api/v1/namespaces/shop/")
    with pytest.raises(ApiException) as exc:
        api.list_namespaced_pod("shop")
    assert exc.value.status == 429
    assert exc.value.headers["Retry-After"] == "1", "the server's advice reaches the caller"
    assert faults.injected == 17
