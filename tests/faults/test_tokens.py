"""Token rotation and clock skew: the agent as it runs in a pod, reading its projected token.

The kubelet replaces the service-account token file before the token expires; the SDK reads
the file again when it changes. A watch is authenticated once, when it starts, so an open
watch outlives its token, and the next request must carry the new one. The server accepts a
token up to 60 s past ``exp`` (and 60 s before ``nbf``), as kube does, to absorb clock skew
between the API servers and the token issuer; beyond that it answers 401.
"""

from __future__ import annotations

import pytest
from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException

from node_agent.sandbox import AGENT_NAMESPACE, pod_manifest

from .conftest import (
    NODE_A,
    Env,
    agent_events,
    credential_id,
    eventually,
    http_get,
    token_expiry,
    unauthorized_pod_requests,
    wait_in_sync,
    write_token,
)

CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


def credentials_used(env: Env, since: int) -> set[str]:
    """Credential ids of the agent's requests that started after audit event ``since``.

    A watch's ResponseComplete is logged when it ends, long after it authenticated, so only
    the events written when a request started count (ResponseStarted of watches, lists).
    """
    return {
        event["user"]["extra"][CREDENTIAL_ID][0]
        for event in agent_events(env.server, since=since)
        if not (event["verb"] == "watch" and event["stage"] == "ResponseComplete")
    }


def test_rotated_token_takes_over_when_the_old_one_expires_under_an_open_watch(env: Env) -> None:
    pod = env.agent_pod(NODE_A)
    old = env.cluster.agent_token(pod, expiration=600)
    proxy = env.proxy()
    directory = env.serviceaccount_dir(old)
    agent = env.start_agent(env.incluster_session(NODE_A, directory, proxy.port))
    wait_in_sync(agent, env.cluster, what="initial sync")
    eventually(lambda: agent.sync.watching, what="the watch")

    # The kubelet rotates the token while the watch is open, then the old one expires: the
    # server's clock moves past exp + 60 s leeway.
    new = env.cluster.agent_token(pod, expiration=3600)
    write_token(directory, new)
    env.clock.set(token_expiry(old) + 61 + 5)
    mark = len(env.server.audit_events())
    refused = env.token_session(NODE_A, old).api_client
    with pytest.raises(ApiException) as exc:
        CoreV1Api(refused).list_namespaced_pod("shop")
    assert exc.value.status == 401, "the SDK reports the server's 401 as is, without retrying"

    # The open watch was authenticated when it started: it keeps delivering.
    restarts = sum(agent.metrics.watch_restarts.value(reason=r) for r in ("error", "expired"))
    env.cluster.create_pod(pod_manifest("during-rotation", "shop", NODE_A))
    wait_in_sync(agent, env.cluster, what="event on the open watch")
    assert restarts == sum(
        agent.metrics.watch_restarts.value(reason=r) for r in ("error", "expired")
    )

    # The connection breaks; the agent reconnects with the token now in the file.
    proxy.drop_connections()
    env.cluster.delete_pod("shop", "web-a0")
    env.cluster.create_pod(pod_manifest("after-rotation", "shop", NODE_A))
    wait_in_sync(agent, env.cluster, what="after reconnecting with the rotated token")
    assert credentials_used(env, mark) == {credential_id(new)}
    assert unauthorized_pod_requests(env.server, since=mark) == [], "old token never re-sent"
    assert agent.metrics.relists.value(reason="initial") == 1


def test_agent_locked_out_by_an_invalidated_token_recovers_when_the_kubelet_rotates_it(
    env: Env,
) -> None:
    pod = env.agent_pod(NODE_A)
    old = env.cluster.agent_token(pod)
    proxy = env.proxy()
    directory = env.serviceaccount_dir(old)
    agent = env.start_agent(env.incluster_session(NODE_A, directory, proxy.port))
    wait_in_sync(agent, env.cluster, what="initial sync")

    # The object the token is bound to is deleted and recreated (same name, new uid): the
    # token in the file is now refused, and the file has not been rotated yet.
    env.cluster.delete_pod(AGENT_NAMESPACE, pod["metadata"]["name"])
    recreated = env.cluster.agent_pod(NODE_A)
    mark = len(env.server.audit_events())
    proxy.drop_connections()
    eventually(lambda: unauthorized_pod_requests(env.server, since=mark), what="401 for old token")
    eventually(lambda: "HTTP 401" in agent.sync.last_error, what="the agent reporting the 401")
    assert agent.metrics.request_errors.value(verb="watch", error="401") >= 1
    assert not agent.sync.watching, "watch_connected drops to 0: the inventory may be stale"
    assert http_get(agent.url + "/readyz")[0] == 200, "stays ready, serving the last inventory"

    env.cluster.create_pod(pod_manifest("while-locked-out", "shop", NODE_A))
    env.cluster.delete_pod("shop", "web-a1")
    new = env.cluster.agent_token(recreated)
    write_token(directory, new)  # the kubelet's next rotation, for the new pod
    wait_in_sync(agent, env.cluster, what="recovered with the new token")
    events = agent_events(env.server, since=mark)
    assert events and credential_id(new) in {e["user"]["extra"][CREDENTIAL_ID][0] for e in events}


def test_expired_token_works_within_the_leeway_then_401_until_rotated(env: Env) -> None:
    pod = env.agent_pod(NODE_A)
    old = env.cluster.agent_token(pod, expiration=600)
    proxy = env.proxy()
    directory = env.serviceaccount_dir(old)
    agent = env.start_agent(env.incluster_session(NODE_A, directory, proxy.port))
    wait_in_sync(agent, env.cluster, what="initial sync")

    # 30 s past exp: the server's clock runs ahead of the issuer's, within kube's 60 s leeway.
    env.clock.set(token_expiry(old) + 30)
    mark = len(env.server.audit_events())
    proxy.drop_connections()
    env.cluster.create_pod(pod_manifest("within-leeway", "shop", NODE_A))
    wait_in_sync(agent, env.cluster, what="reconnected with a token 30 s past exp")
    eventually(lambda: agent.sync.watching, what="the re-opened watch")
    assert credentials_used(env, mark) == {credential_id(old)}, "the only token it has"
    assert unauthorized_pod_requests(env.server, since=mark) == []

    # 90 s past exp: beyond the leeway, refused.
    env.clock.set(token_expiry(old) + 90)
    mark = len(env.server.audit_events())
    proxy.drop_connections()
    eventually(lambda: unauthorized_pod_requests(env.server, since=mark), what="401 past leeway")
    eventually(lambda: "HTTP 401" in agent.sync.last_error, what="the agent reporting the 401")
    env.cluster.create_pod(pod_manifest("while-expired", "shop", NODE_A))
    env.cluster.delete_pod("shop", "web-a1")

    # The kubelet writes a fresh token (issued by the server, on the server's clock).
    new = env.cluster.agent_token(pod)
    write_token(directory, new)
    wait_in_sync(agent, env.cluster, what="recovered after rotation")
    assert credential_id(new) in credentials_used(env, mark)


def test_token_from_an_issuer_whose_clock_runs_ahead(env: Env) -> None:
    """``nbf`` in the future: accepted within 60 s (clock skew), 401 beyond, never retried."""
    pod = env.agent_pod(NODE_A)
    token = env.cluster.agent_token(pod)
    api = CoreV1Api(env.token_session(NODE_A, token).api_client)

    env.clock.offset = -30  # this API server is 30 s behind the one that issued the token
    pods = api.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={NODE_A}")
    assert {p.metadata.name for p in pods.items} >= {"web-a0", "web-a1", "cni-a"}

    env.clock.offset = -90
    mark = len(env.server.audit_events())
    with pytest.raises(ApiException) as exc:
        api.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={NODE_A}")
    assert exc.value.status == 401
    assert len(unauthorized_pod_requests(env.server, since=mark)) == 1, "a 401 is not retried"
