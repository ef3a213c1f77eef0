"""The agent against the embedded API server, with deploy/daemonset/ applied as written."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from node_agent.manifests import raw_request
from node_agent.sandbox import pod_manifest

from .conftest import (
    NODE_A,
    NODE_B,
    Live,
    eventually,
    http_get,
    in_sync,
    make_live,
    served_pods,
    truth,
)


def test_inventory_is_exactly_the_nodes_pods_and_follows_changes(
    live: Live, tmp_path: Path
) -> None:
    output = tmp_path / "run" / "pods.json"
    agent = live.start_agent(output=output)
    expected = truth(live.cluster, NODE_A)
    assert set(expected) == {
        "shop/web-a0",
        "shop/web-a1",
        "kube-system/cni-a",
        f"node-agents/{live.agent_pod['metadata']['name']}",
    }
    assert served_pods(agent.url) == expected, "exactly node-a's pods, nothing from node-b"
    document = json.loads(http_get(agent.url + "/pods")[1])
    assert document["node"] == NODE_A and document["resourceVersion"]
    web = next(p for p in document["pods"] if p["name"] == "web-a0")
    assert web["phase"] == "Running" and web["podIPs"] == ["10.244.0.10"]
    assert web["containers"] == ["main"] and web["hostNetwork"] is False
    cni = next(p for p in document["pods"] if p["name"] == "cni-a")
    assert cni["hostNetwork"] is True

    live.cluster.create_pod(pod_manifest("new-a", "shop", NODE_A), ip="10.244.0.99")
    live.cluster.create_pod(pod_manifest("new-b", "shop", NODE_B))
    live.cluster.delete_pod("shop", "web-a1")
    eventually(lambda: in_sync(agent.url, live.cluster), what="create/delete reflected")
    assert "shop/new-b" not in served_pods(agent.url)
    new = next(p for p in agent.inventory.pods() if p["name"] == "new-a")
    assert new["podIPs"] == ["10.244.0.99"], "the status update (MODIFIED) was applied"

    # The file follows, atomically replaced, readable by the CNI plugin, not writable by others.
    def file_matches() -> bool:
        try:
            document = json.loads(output.read_text())
        except (OSError, ValueError):
            return False
        return {f"{p['namespace']}/{p['name']}" for p in document["pods"]} == set(expected) - {
            "shop/web-a1"
        } | {"shop/new-a"}

    eventually(file_matches, what="the file")
    assert stat.S_IMODE(output.stat().st_mode) == 0o644

    metrics = http_get(agent.url + "/metrics")[1].decode()
    assert 'cimp_agent_relists_total{reason="initial"} 1' in metrics
    assert 'cimp_agent_watch_events_total{type="ADDED"}' in metrics
    assert 'cimp_agent_watch_events_total{type="DELETED"}' in metrics
    assert 'cimp_agent_api_request_duration_seconds_count{verb="list",code="200"} 1' in metrics
    assert f"cimp_agent_pods {len(served_pods(agent.url))}" in metrics


def test_metrics_port_never_serves_the_inventory(live: Live) -> None:
    from node_agent.agent import Agent

    from .conftest import FAST

    agent = Agent(
        live.session().api_client,
        NODE_A,
        listen=("127.0.0.1", 0),
        metrics_listen=("127.0.0.1", 0),
        options=FAST,
    )
    live.agents.append(agent)
    agent.start()
    assert agent.wait_ready(20)
    assert agent.metrics_endpoints is not None
    scrape = agent.metrics_endpoints.url
    assert http_get(scrape + "/pods")[0] == 404
    assert http_get(scrape + "/readyz")[0] == 200
    eventually(lambda: b"cimp_agent_watch_connected 1" in http_get(scrape + "/metrics")[1])


def test_dropped_connections_lose_and_duplicate_nothing(live: Live) -> None:
    proxy = live.proxy()
    agent = live.start_agent(host=proxy.url)
    for round_ in range(3):
        # Drop the watch, keep refusing while the cluster changes, then let it back in.
        proxy.refuse_new()
        proxy.drop_connections()
        live.cluster.create_pod(pod_manifest(f"while-down-{round_}", "shop", NODE_A))
        live.cluster.delete_pod(
            *(("shop", f"web-a{round_}") if round_ < 2 else ("kube-system", "cni-a"))
        )
        live.cluster.create_pod(pod_manifest(f"elsewhere-{round_}", "shop", NODE_B))
        proxy.refuse_new(False)
        eventually(lambda: in_sync(agent.url, live.cluster), what=f"round {round_}")
    restarts = agent.metrics.watch_restarts
    assert restarts.value(reason="error") >= 3
    assert agent.metrics.relists.value(reason="initial") == 1


def test_server_restart_with_the_same_data_dir(tmp_path: Path) -> None:
    from constrained_impersonation.testing import APIServer

    server = APIServer(data_dir=tmp_path / "data")
    server.start()
    env = make_live(server, tmp_path)
    try:
        agent = env.start_agent()
        port = server.port
        server.stop()
        assert http_get(agent.url + "/readyz")[0] == 200, "stays ready with the last inventory"
        server.start()
        assert server.port == port
        env.cluster.admin = server.api_client()  # the old client was closed with the server
        env.cluster.create_pod(pod_manifest("after-restart", "shop", NODE_A))
        env.cluster.delete_pod("shop", "web-a0")
        eventually(lambda: in_sync(agent.url, env.cluster), what="recovered after restart")
        # Again, with changes the agent has to catch up on from its resume point.
        server.restart()
        env.cluster.admin = server.api_client()
        env.cluster.create_pod(pod_manifest("after-restart-2", "shop", NODE_A))
        eventually(lambda: in_sync(agent.url, env.cluster), what="recovered after 2nd restart")
        assert agent.metrics.watch_restarts.value(reason="error") >= 2
        assert agent.metrics.relists.value(reason="initial") == 1
    finally:
        env.close()
        server.close()


def test_gone_resource_version_relists(live: Live) -> None:
    proxy = live.proxy()
    agent = live.start_agent(host=proxy.url)
    proxy.refuse_new()
    proxy.drop_connections()
    live.cluster.delete_pod("shop", "web-a0")
    live.cluster.create_pod(pod_manifest("during-compaction", "shop", NODE_A))
    live.server.compact()  # what etcd compaction does: the agent's resume point is now too old
    proxy.refuse_new(False)
    eventually(lambda: in_sync(agent.url, live.cluster), what="relisted after 410")
    assert agent.metrics.relists.value(reason="gone") >= 1
    assert agent.metrics.watch_restarts.value(reason="gone") >= 1


def test_throttling_and_server_errors_are_survived(live: Live) -> None:
    proxy = live.proxy()
    agent = live.start_agent(host=proxy.url)
    faults = live.server.faults
    faults.fail_next(3, 429, retry_after=1, verbs={"watch"})  # priority and fairness
    faults.fail_next(2, 503, retry_after=None, verbs={"list"})  # a rollout
    proxy.drop_connections()  # the agent re-watches: three 429s, each followed by >= 1 s of waiting
    live.cluster.create_pod(pod_manifest("during-faults", "shop", NODE_A))
    live.cluster.delete_pod("shop", "web-a1")
    live.server.compact()  # so the fourth re-watch gets 410 and the agent must list again
    # Only the agent lists until it has relisted, so the injected 503s are all its own.
    eventually(lambda: agent.metrics.relists.value(reason="gone") == 1, what="the relist")
    assert faults.injected == 5
    eventually(lambda: in_sync(agent.url, live.cluster), what="recovered from 429/503/410")
    # >= 1, not == 3: a 429 sent on a pooled connection the cut was closing never arrives.
    assert agent.metrics.request_errors.value(verb="watch", error="429") >= 1
    assert agent.metrics.relists.value(reason="gone") == 1


def test_what_the_agent_cannot_do(live: Live) -> None:
    from kubernetes.client import CoreV1Api

    from constrained_impersonation import ImpersonationDenied, OutOfScopeError

    session = live.session()
    status, body = raw_request(session.api_client, "GET", "/api/v1/pods")
    assert status == 403
    assert 'User "system:node:node-a" cannot list resource "pods"' in body["message"]

    with pytest.raises(ImpersonationDenied) as denied:
        CoreV1Api(live.session(NODE_B).api_client).list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={NODE_B}", _preload_content=False
        )
    assert denied.value.verb.startswith("impersonate")

    with pytest.raises(OutOfScopeError):
        CoreV1Api(session.api_client).delete_namespaced_pod("web-a0", "shop")

    forced = live.base_client()
    forced.set_default_header("Impersonate-User", "system:node:node-a")
    status, body = raw_request(forced, "DELETE", "/api/v1/namespaces/shop/pods/web-a0")
    assert status == 403 and "impersonate-on:associated-node:delete" in body["message"]
    # Without impersonation the service account itself may read no pod at all.
    status, _ = raw_request(live.base_client(), "GET", "/api/v1/namespaces/shop/pods")
    assert status == 403

    constraints = {
        (event.get("authenticationMetadata") or {}).get("impersonationConstraint")
        for event in live.server.audit_events()
        if (event.get("impersonatedUser") or {}).get("username") == "system:node:node-a"
    }
    assert "impersonate:associated-node" in constraints


def test_manifests_pass_server_side_dry_run(live: Live) -> None:
    from node_agent import manifests

    # A fresh namespace name so the dry run is not a 409 against what the fixture applied.
    for obj in manifests.load():
        candidate = json.loads(json.dumps(obj))
        meta = candidate["metadata"]
        meta["name"] = "dry-" + meta["name"]
        if candidate["kind"] == "Namespace":
            continue  # namespaced objects below go into the applied namespace
        status, body = manifests.create(live.cluster.admin, candidate, dry_run=True)
        assert status == 201, body
        path = manifests.collection_path(candidate) + "/" + meta["name"]
        assert raw_request(live.cluster.admin, "GET", path)[0] == 404, "dry run stored nothing"
    namespace = manifests.find(manifests.load(), "Namespace")
    namespace["metadata"]["name"] = "dry-node-agents"
    assert manifests.create(live.cluster.admin, namespace, dry_run=True)[0] == 201


@pytest.mark.kubectl
def test_kubectl_server_dry_run_of_the_kustomization(live: Live, tmp_path: Path) -> None:
    import shutil

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH")
    from node_agent.manifests import DEFAULT_DIR

    result = subprocess.run(
        [
            kubectl,
            "--kubeconfig",
            live.server.kubeconfig(),
            "apply",
            "--dry-run=server",
            "-k",
            str(DEFAULT_DIR),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "daemonset.apps/node-agent" in result.stdout


def test_in_cluster_agent_serves_then_sigterm_flushes_and_exits_0(
    live: Live, tmp_path: Path
) -> None:
    """The DaemonSet's path: in-cluster credentials from the projected volume, no kubeconfig."""
    account = tmp_path / "serviceaccount"  # what the projected volume holds
    account.mkdir()
    (account / "token").write_text(live.token)
    (account / "ca.crt").write_text(Path(live.server.ca_file).read_text())
    (account / "namespace").write_text("node-agents")
    output = tmp_path / "out" / "pods.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIMP_", "KUBE"))}
    env.update(
        {
            "NODE_NAME": NODE_A,
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(live.server.port),
            "CIMP_SERVICEACCOUNT_DIR": str(account),
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "node_agent", "--listen=127.0.0.1:0", f"--output={output}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[dict[str, object]] = []
        assert process.stderr is not None
        for raw in process.stderr:
            lines.append(json.loads(raw))  # every log line is one JSON object
            if lines[-1].get("msg") == "listed pods":
                break
        started = next(line for line in lines if line.get("msg") == "agent started")
        assert started["node"] == NODE_A
        identity = next(line for line in lines if line.get("msg") == "impersonating this node")
        assert identity["user"] == "system:node:node-a" and identity["credentials"] == "in-cluster"
        url = str(started["listen"])
        eventually(lambda: in_sync(url, live.cluster), what="the in-cluster agent's /pods")
        eventually(output.exists, what="the file")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        rest = [json.loads(raw) for raw in process.stderr]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert any(line.get("msg") == "agent stopped" for line in rest)
    document = json.loads(output.read_text())
    assert {f"{p['namespace']}/{p['name']}" for p in document["pods"]} == set(
        truth(live.cluster, NODE_A)
    )
    text = output.read_text() + json.dumps(lines) + json.dumps(rest)
    assert live.token not in text, "the token never reaches the file or the logs"


def test_demo_runs_and_exits_0() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "node_agent.demo"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for fragment in (
        "HTTP 403 (Node authorizer)",
        "ImpersonationDenied",
        "refused locally, nothing sent",
        "HTTP 403 (impersonation refused)",
        "impersonate:associated-node",
        "exit status                    0",
    ):
        assert fragment in out, fragment
