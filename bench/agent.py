"""Benchmark of the node agent on the embedded API server (``make bench``; not run by tests).

1. Initial sync on a 200-node x 30-Pod cluster: bytes and time of the agent's list (its own
   node only) versus a cluster-wide Pod list, and versus what its 30 Pods weigh on their own.
2. Event-to-inventory latency under churn (default 50 events/s on the agent's node): from
   the moment the write is sent to the moment the agent has applied the watch event.
3. Resident memory of the real ``cimp-node-agent`` process mirroring 110 Pods.

The API server runs in its own process (``cimp apiserver``) so that its work does not share
a GIL with the agent being measured. Prints one table.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "agent"), str(REPO / "sdk")]

AGENT_NODE = "node-000"
RSS_NODE = "node-rss"


# --------------------------------------------------------------------------- the server process


@dataclass
class RemoteServer:
    """Just what ``Sandbox`` needs from an ``APIServer``, for a ``cimp apiserver`` process."""

    url: str
    ca_file: str
    admin_token: str
    work: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def api_client(self, token: str | None = None) -> Any:
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        configuration.ssl_ca_cert = self.ca_file
        configuration.verify_ssl = True
        configuration.api_key = {"authorization": token or self.admin_token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        configuration.connection_pool_maxsize = 16
        return client.ApiClient(configuration)

    def kubeconfig(self, token: str, *, path: Path) -> str:
        import yaml

        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "b",
                    "cluster": {"server": self.url, "certificate-authority": self.ca_file},
                }
            ],
            "users": [{"name": "b", "user": {"token": token}}],
            "contexts": [{"name": "b", "context": {"cluster": "b", "user": "b"}}],
            "current-context": "b",
        }
        from constrained_impersonation._private_files import write_private

        write_private(path, yaml.safe_dump(doc))  # holds a token: 0600 from the first byte
        return str(path)


@contextmanager
def server_process(work: Path) -> Iterator[RemoteServer]:
    import yaml

    kubeconfig = work / "admin.kubeconfig"
    cimp = Path(sys.executable).with_name("cimp")
    command = (
        [str(cimp)] if cimp.exists() else [sys.executable, "-m", "constrained_impersonation.cli"]
    )
    process = subprocess.Popen(
        [*command, "apiserver", "--listen", "127.0.0.1:0", "--kubeconfig-out", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = ""
        for line in process.stdout:
            match = re.match(r"serving on (\S+)", line)
            if match:
                url = match.group(1)
            if line.strip().startswith("kubeconfig:"):
                break
        if not url:
            raise RuntimeError("cimp apiserver did not start")
        threading.Thread(target=lambda: [None for _ in process.stdout or []], daemon=True).start()
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        token = config["users"][0]["user"]["token"]
        ca_file = cluster.get("certificate-authority")
        if ca_file is None:
            ca_path = work / "ca.pem"
            ca_path.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
            ca_file = str(ca_path)
        yield RemoteServer(url, ca_file, token, work)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


# --------------------------------------------------------------------------- cluster content


def realistic_pod(name: str, namespace: str, node: str, index: int) -> dict[str, Any]:
    """A Pod shaped like a Deployment's replica: labels, env, resources, probes, volumes."""
    app = f"svc-{index % 40}"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": app,
                "app.kubernetes.io/part-of": "shop",
                "pod-template-hash": f"{index * 7919 % 10**10:010d}",
            },
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"},
        },
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "app",
                    "image": f"registry.example.com/shop/{app}:1.{index % 9}.0",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "env": [
                        {"name": "LOG_LEVEL", "value": "info"},
                        {
                            "name": "POD_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                        },
                        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    ],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"memory": "256Mi"},
                    },
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}],
                },
                {"name": "proxy", "image": "registry.example.com/mesh/proxy:2.3.1"},
            ],
            "volumes": [{"name": "config", "configMap": {"name": f"{app}-config"}}],
        },
    }


def populate(sandbox: Any, nodes: int, per_node: int, workers: int) -> float:
    namespaces = [f"team-{i}" for i in range(10)]
    for namespace in namespaces:
        sandbox.create_namespace(namespace)
    node_names = [AGENT_NODE] + [f"node-{i:03d}" for i in range(1, nodes)]
    for node in node_names:
        sandbox.create_nodes(node)
    started = time.monotonic()
    jobs = [
        (f"{node}-p{k:02d}", namespaces[k % len(namespaces)], node, n * per_node + k)
        for n, node in enumerate(node_names)
        for k in range(per_node)
    ]
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(lambda j: sandbox.create(realistic_pod(*j)), jobs):
            pass
    return time.monotonic() - started


# --------------------------------------------------------------------------- measurements


@dataclass
class Row:
    metric: str
    value: str
    target: str = ""
    ok: bool | None = None


def timed_get(
    client: Any, path: str, query: list[tuple[str, str]]
) -> tuple[int, float, dict[str, Any]]:
    """(bytes, seconds including json.loads, document) of one GET."""
    request = client.param_serialize(
        "GET",
        path,
        query_params=query,
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    started = time.monotonic()
    response = client.call_api(*request)
    data = response.read()
    document = json.loads(data)
    return len(data), time.monotonic() - started, document


def initial_sync(remote: RemoteServer, sandbox: Any, token: str, per_node: int) -> list[Row]:
    from constrained_impersonation import NodeSession
    from node_agent.__main__ import agent_scope
    from node_agent.agent import Agent

    session = NodeSession(remote.api_client(token), node=AGENT_NODE, scope=agent_scope())
    selector = [("fieldSelector", f"spec.nodeName={AGENT_NODE}"), ("limit", "500")]
    agent_bytes, agent_seconds, document = timed_get(session.api_client, "/api/v1/pods", selector)
    # What the same Pods weigh fetched one by one (the node's 30 plus the agent's own Pod).
    own = document["items"]
    weight = 0
    for item in own:
        meta = item["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
        weight += timed_get(sandbox.admin, path, [])[0]
    cluster_bytes, cluster_seconds, cluster_doc = timed_get(sandbox.admin, "/api/v1/pods", [])

    agent = Agent(session.api_client, AGENT_NODE, listen=("127.0.0.1", 0))
    started = time.monotonic()
    agent.start()
    ready = agent.wait_ready(60)
    sync_seconds = time.monotonic() - started
    agent.stop()
    assert ready, agent.sync.last_error
    ratio_own = agent_bytes / weight
    ratio_cluster = cluster_bytes / agent_bytes
    return [
        Row(
            "cluster",
            f"{len(cluster_doc['items'])} pods on {len(cluster_doc['items']) // per_node} nodes",
        ),
        Row(f"agent list bytes ({len(document['items'])} pods)", f"{agent_bytes:,} B"),
        Row(f"  the same {len(own)} pods fetched one by one", f"{weight:,} B"),
        Row("  list / own pods' weight", f"{ratio_own:.3f}x", "<= 1.2x", ratio_own <= 1.2),
        Row("cluster-wide list bytes", f"{cluster_bytes:,} B"),
        Row(
            "  cluster-wide / agent list", f"{ratio_cluster:,.0f}x", ">= 100x", ratio_cluster >= 100
        ),
        Row("agent list time (+ json.loads)", f"{agent_seconds * 1000:.1f} ms"),
        Row("cluster-wide list time (+ json.loads)", f"{cluster_seconds * 1000:.1f} ms"),
        Row("agent start -> ready (first list)", f"{sync_seconds * 1000:.1f} ms"),
    ]


def churn(remote: RemoteServer, sandbox: Any, token: str, rate: float, seconds: float) -> list[Row]:
    """Create/delete Pods on the agent's node at ``rate`` events/s; time each to the inventory."""
    from constrained_impersonation import NodeSession
    from node_agent.__main__ import agent_scope
    from node_agent.agent import Agent
    from node_agent.sandbox import pod_manifest

    session = NodeSession(remote.api_client(token), node=AGENT_NODE, scope=agent_scope())
    agent = Agent(session.api_client, AGENT_NODE, listen=("127.0.0.1", 0))
    sent: dict[tuple[str, str], float] = {}
    latencies: list[float] = []
    lock = threading.Lock()

    def on_change(kind: str, key: str) -> None:
        now = time.monotonic()
        with lock:
            t0 = sent.pop((kind, key), None)
        if t0 is not None:
            latencies.append(now - t0)

    agent.inventory.add_listener(on_change)
    agent.start()
    assert agent.wait_ready(60), agent.sync.last_error
    client = remote.api_client()
    jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()

    def worker() -> None:
        while (job := jobs.get()) is not None:
            job()

    from node_agent.manifests import create, raw_request

    def create_job(name: str) -> Callable[[], None]:
        def run() -> None:
            with lock:
                sent[("ADDED", f"team-0/{name}")] = time.monotonic()
            create(client, pod_manifest(name, "team-0", AGENT_NODE))

        return run

    def delete_job(name: str) -> Callable[[], None]:
        def run() -> None:
            with lock:
                sent[("DELETED", f"team-0/{name}")] = time.monotonic()
            body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
            raw_request(client, "DELETE", f"/api/v1/namespaces/team-0/pods/{name}", body)

        return run

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    total = int(rate * seconds)
    interval = 1.0 / rate
    events = total
    started = time.monotonic()
    live: list[str] = []
    for i in range(total):
        target = started + i * interval
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if len(live) >= 10 or (live and i % 2):
            jobs.put(delete_job(live.pop(0)))
        else:
            name = f"churn-{i:05d}"
            live.append(name)
            jobs.put(create_job(name))
    for name in live:
        jobs.put(delete_job(name))
    events += len(live)
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 10
    while sent and time.monotonic() < deadline:
        time.sleep(0.01)
    achieved = total / (time.monotonic() - started)
    agent.stop()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return [
        Row(
            "churn events (create+delete)",
            f"{len(latencies)} of {events} seen, ~{achieved:.0f}/s",
        ),
        Row("event -> inventory p50", f"{p50:.1f} ms"),
        Row("event -> inventory p99", f"{p99:.1f} ms", "<= 50 ms", p99 <= 50 and not sent),
        Row("event -> inventory max", f"{latencies[-1] * 1000:.1f} ms"),
    ]


def rss(remote: RemoteServer, sandbox: Any, pods: int, work: Path) -> list[Row]:
    """The real agent process mirroring ``pods`` Pods; VmRSS and VmHWM from /proc."""
    sandbox.create_nodes(RSS_NODE)
    _, token = sandbox.agent_credentials(RSS_NODE)
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda k: sandbox.create(realistic_pod(f"rss-{k:03d}", "team-1", RSS_NODE, k)),
                range(pods - 1),  # plus the agent's own pod
            )
        )
    kubeconfig = remote.kubeconfig(token, path=work / "rss.kubeconfig")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIMP_", "KUBE"))}
    env.update({"NODE_NAME": RSS_NODE, "KUBECONFIG": kubeconfig})
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "node_agent",
            f"--listen=127.0.0.1:{port}",
            f"--output={work / 'rss.json'}",
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        count = 0
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/pods", timeout=2) as r:
                    count = len(json.loads(r.read())["pods"])
                    break
            except OSError:
                time.sleep(0.05)
        # Exercise the steady state a little: scrape metrics, read /pods a few times.
        for _ in range(20):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
            urllib.request.urlopen(f"http://127.0.0.1:{port}/pods", timeout=2).read()
        status = Path(f"/proc/{process.pid}/status").read_text()
        fields = {
            line.split(":")[0]: int(line.split()[1]) / 1024
            for line in status.splitlines()
            if line.startswith(("VmRSS", "VmHWM"))
        }
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    return [
        Row(
            f"agent RSS with {count} pods (VmRSS)",
            f"{fields['VmRSS']:.1f} MB",
            "<= 60 MB",
            fields["VmRSS"] <= 60,
        ),
        Row("agent peak RSS (VmHWM)", f"{fields['VmHWM']:.1f} MB"),
    ]


def print_table(rows: Sequence[Row]) -> None:
    widths = (max(len(r.metric) for r in rows), max(len(r.value) for r in rows), 9)
    header = f"{'metric':<{widths[0]}}  {'value':>{widths[1]}}  {'target':<{widths[2]}}  ok"
    print(header)
    print("-" * len(header))
    for r in rows:
        ok = "" if r.ok is None else ("yes" if r.ok else "NO")
        print(f"{r.metric:<{widths[0]}}  {r.value:>{widths[1]}}  {r.target:<{widths[2]}}  {ok}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--pods-per-node", type=int, default=30)
    parser.add_argument("--churn-rate", type=float, default=50.0, help="events per second")
    parser.add_argument("--churn-seconds", type=float, default=10.0)
    parser.add_argument("--rss-pods", type=int, default=110)
    parser.add_argument("--workers", type=int, default=8, help="parallel creates while filling")
    args = parser.parse_args(argv)

    from node_agent.sandbox import Sandbox

    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="cimp-bench-") as tmp,
        server_process(Path(tmp)) as remote,
    ):
        sandbox = Sandbox(remote)
        fill = populate(sandbox, args.nodes, args.pods_per_node, args.workers)
        rows.append(Row("fill time (create every pod)", f"{fill:.1f} s"))
        sandbox.apply_manifests()
        _, token = sandbox.agent_credentials(AGENT_NODE)
        rows += initial_sync(remote, sandbox, token, args.pods_per_node)
        rows += churn(remote, sandbox, token, args.churn_rate, args.churn_seconds)
        rows += rss(remote, sandbox, args.rss_pods, Path(tmp))
    print()
    print("node agent benchmark (embedded API server in its own process)")
    print_table(rows)
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
