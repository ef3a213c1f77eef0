"""Fleet benchmark: 500 node agents, one API server, a server restart (``make bench``).

Every agent has its own node, its own Pod (from the DaemonSet's template) and its own
pod-bound token from TokenRequest, and runs the agent's real sync loop (``PodSync``, the
production timeouts and jittered backoff) in one of a few worker processes, many agents per
process. The API server is ``cimp apiserver --data-dir`` in its own process.

1. Start everything and wait until every agent's inventory equals the server's Pods for its
   node (the truth, read by the admin).
2. Kill the server (SIGKILL by default), keep it down for ``--outage`` seconds, start it
   again on the same port and data dir, and at once create and delete Pods on many nodes
   while the agents are still reconnecting.
3. Wait until every agent has re-synced and its inventory equals the truth again.

Reports the time to full recovery, the reconnects per second the server saw (its audit log:
every request by the agents' service account after the restart, one per audit ID), with the
histogram, the server's peak RSS and CPU, and the number of agents whose final inventory
differs from the truth (missed events). Not run by the tests.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "agent"), str(REPO / "sdk")]

AGENT_USER = "system:serviceaccount:node-agents:node-agent"
Inventory = dict[str, list[list[str]]]  # node -> sorted [key, uid, resourceVersion]


# --------------------------------------------------------------------------- the server process


@dataclass
class Server:
    """``cimp apiserver`` with a data dir; what ``Sandbox`` needs, restartable on its port."""

    work: Path
    port: int = 0
    admin_token: str = ""
    process: subprocess.Popen[str] | None = None
    clients: list[Any] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.work / "data"

    @property
    def audit_log(self) -> Path:
        return self.work / "audit.log"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> str:
        return str(self.data_dir / "pki" / "ca.pem")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> float:
        """Start (on the same port after the first time); wall time when it serves."""
        import yaml

        cimp = Path(sys.executable).with_name("cimp")
        command = (
            [str(cimp)]
            if cimp.exists()
            else [sys.executable, "-m", "constrained_impersonation.cli"]
        )
        kubeconfig = self.work / "admin.kubeconfig"
        self.process = subprocess.Popen(
            [
                *command,
                "apiserver",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--data-dir",
                str(self.data_dir),
                "--audit-log-path",
                str(self.audit_log),
                "--kubeconfig-out",
                str(kubeconfig),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            match = re.match(r"serving on https://127\.0\.0\.1:(\d+)", line)
            if match:
                self.port = int(match.group(1))
                break
        else:
            raise RuntimeError("cimp apiserver did not start")
        up = time.time()
        stdout = self.process.stdout
        threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()
        self.admin_token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
        return up

    def kill(self, sig: signal.Signals) -> None:
        if self.process is not None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        for client in self.clients:
            with contextlib.suppress(Exception):
                client.close()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def api_client(self, token: str | None = None) -> Any:
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        configuration.ssl_ca_cert = self.ca_file
        configuration.verify_ssl = True
        configuration.api_key = {"authorization": token or self.admin_token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        configuration.connection_pool_maxsize = 32
        api = client.ApiClient(configuration)
        self.clients.append(api)
        return api


class Sampler:
    """Samples the server process's RSS and CPU every ``interval`` seconds (from /proc)."""

    def __init__(self, server: Server, interval: float = 0.5) -> None:
        self.server = server
        self.interval = interval
        self.samples: list[tuple[float, int, float]] = []  # (wall time, rss bytes, cpu %)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ticks = os.sysconf("SC_CLK_TCK")
        self._page = os.sysconf("SC_PAGE_SIZE")

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _read(self, pid: int) -> tuple[int, float] | None:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            statm = Path(f"/proc/{pid}/statm").read_text().split()
        except OSError:
            return None
        cpu_seconds = (int(stat[11]) + int(stat[12])) / self._ticks
        return int(statm[1]) * self._page, cpu_seconds

    def _run(self) -> None:
        last: tuple[int, float, float] | None = None  # (pid, cpu seconds, wall)
        while not self._stop.wait(self.interval):
            pid = self.server.pid
            if pid is None:
                continue
            reading = self._read(pid)
            now = time.time()
            if reading is None:
                last = None
                continue
            rss, cpu = reading
            percent = 0.0
            if last is not None and last[0] == pid and now > last[2]:
                percent = 100.0 * (cpu - last[1]) / (now - last[2])
            last = (pid, cpu, now)
            self.samples.append((now, rss, percent))

    def peak(self, start: float, end: float) -> tuple[int, float]:
        window = [s for s in self.samples if start <= s[0] <= end]
        if not window:
            return 0, 0.0
        return max(s[1] for s in window), max(s[2] for s in window)


# --------------------------------------------------------------------------- worker processes


def worker_main(shard_path: str) -> int:
    """Run many agents' sync loops; answer ``status`` and ``stop`` on stdin, JSON on stdout."""
    import logging

    from kubernetes import client

    from constrained_impersonation import NodeSession
    from constrained_impersonation.settings import Settings
    from node_agent.__main__ import agent_scope
    from node_agent.config import DEFAULT_WATCH_IDLE_TIMEOUT
    from node_agent.inventory import Inventory as AgentInventory
    from node_agent.metrics import Metrics
    from node_agent.sync import PodSync, SyncOptions

    logging.getLogger("node_agent").setLevel(logging.CRITICAL)  # 500 agents x every retry
    shard = json.loads(Path(shard_path).read_text())
    settings = Settings()
    options = SyncOptions(  # exactly what cimp-node-agent runs with by default
        watch_timeout=300,
        watch_idle_timeout=DEFAULT_WATCH_IDLE_TIMEOUT,
        backoff_base=settings.retry_backoff_base,
        backoff_max=settings.retry_backoff_max,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.request_timeout,
    )
    syncs: list[PodSync] = []
    for agent in shard["agents"]:
        configuration = client.Configuration()
        configuration.host = shard["url"]
        configuration.ssl_ca_cert = shard["ca_file"]
        configuration.verify_ssl = True
        configuration.api_key = {"BearerToken": agent["token"]}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
        session = NodeSession(
            client.ApiClient(configuration),
            node=agent["node"],
            scope=agent_scope(),
            settings=settings,
        )
        inventory = AgentInventory(agent["node"])
        metrics = Metrics(pods_known=lambda: 0.0, ready=lambda: 0.0)
        syncs.append(PodSync(session.api_client, agent["node"], inventory, metrics, options))
    for sync in syncs:
        sync.start()
    print(json.dumps({"started": len(syncs)}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command in ("status", "digest"):
            inventories: Inventory = {
                sync.node: sorted(
                    [f"{p['namespace']}/{p['name']}", p["uid"], p["resourceVersion"]]
                    for p in sync.inventory.pods()
                )
                for sync in syncs
                if sync.inventory.synced
            }
            relists = sum(s.metrics.relists.value(reason="gone") for s in syncs)
            answer: dict[str, Any] = {
                "synced": sum(1 for s in syncs if s.inventory.synced),
                "watching": sum(1 for s in syncs if s.watching),
                "relists": relists,
                "rss": _own_rss(),
            }
            if command == "status":
                answer["inventories"] = inventories
            else:  # cheap to send and compare while polling
                answer["digests"] = {node: digest(pods) for node, pods in inventories.items()}
            print(json.dumps(answer), flush=True)
        elif command == "stop":
            for sync in syncs:
                sync._stop.set()
            for sync in syncs:
                sync.stop(timeout=2)
            print(json.dumps({"stopped": len(syncs)}), flush=True)
            return 0
    return 0


def digest(pods: list[list[str]]) -> str:
    """A short fingerprint of one node's inventory (sorted [key, uid, resourceVersion])."""
    return hashlib.blake2b(json.dumps(pods).encode(), digest_size=12).hexdigest()


def _own_rss() -> int:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


class Worker:
    def __init__(self, shard: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(shard)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.started = self._read()["started"]

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a worker process died")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def answer(self) -> dict[str, Any]:
        return self._read()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ask("stop")
            self._read()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=15)
        if self.process.poll() is None:
            self.process.kill()


# --------------------------------------------------------------------------- the fleet


def truth(admin: Any) -> Inventory:
    """Every Pod by node, as the admin reads it: the oracle for every agent."""
    from node_agent.manifests import raw_request

    status, body = raw_request(admin, "GET", "/api/v1/pods")
    if status != 200:
        raise RuntimeError(f"listing pods: HTTP {status}")
    by_node: dict[str, list[list[str]]] = collections.defaultdict(list)
    for item in body["items"]:
        meta = item["metadata"]
        node = (item.get("spec") or {}).get("nodeName") or ""
        key = f"{meta['namespace']}/{meta['name']}"
        by_node[node].append([key, meta["uid"], meta["resourceVersion"]])
    return {node: sorted(pods) for node, pods in by_node.items()}


@dataclass
class Status:
    synced: int
    watching: int
    relists: float
    mismatched: list[str]
    worker_rss: int


def fleet_status(
    workers: list[Worker], nodes: list[str], expected: Inventory, *, full: bool = False
) -> Status:
    """Every agent's inventory compared with ``expected`` (digests unless ``full``)."""
    command = "status" if full else "digest"
    for worker in workers:
        worker.ask(command)
    answers = [worker.answer() for worker in workers]
    if full:
        inventories: dict[str, Any] = {}
        for answer in answers:
            inventories.update(answer["inventories"])
        mismatched = [n for n in nodes if inventories.get(n) != expected.get(n, [])]
    else:
        digests: dict[str, str] = {}
        for answer in answers:
            digests.update(answer["digests"])
        mismatched = [n for n in nodes if digests.get(n) != digest(expected.get(n, []))]
    return Status(
        synced=sum(a["synced"] for a in answers),
        watching=sum(a["watching"] for a in answers),
        relists=sum(a["relists"] for a in answers),
        mismatched=mismatched,
        worker_rss=sum(a["rss"] for a in answers),
    )


def wait_converged(
    workers: list[Worker], nodes: list[str], admin: Any, timeout: float
) -> tuple[float, Status]:
    """Poll until every agent's inventory equals the truth; (wall time, final status).

    The benchmark is the only writer, so the truth is read once per phase and the agents
    are polled for digests (cheap enough not to load the server being measured). Once they
    all match, a fresh truth is read and every inventory is compared in full.
    """
    expected = truth(admin)
    deadline = time.monotonic() + timeout
    while True:
        status = fleet_status(workers, nodes, expected)
        if not status.mismatched:
            converged = time.time()
            return converged, fleet_status(workers, nodes, truth(admin), full=True)
        if time.monotonic() > deadline:
            return 0.0, fleet_status(workers, nodes, truth(admin), full=True)
        time.sleep(0.2)


def populate(server: Server, agents: int, pods_per_node: int, threads: int) -> list[dict[str, str]]:
    """Nodes, each with the agent's Pod, its token, and ``pods_per_node`` workload Pods."""
    from node_agent.sandbox import Sandbox, pod_manifest

    sandbox = Sandbox(server)
    sandbox.apply_manifests()
    sandbox.create_namespace("shop")
    nodes = [f"node-{i:04d}" for i in range(agents)]

    def one(node: str) -> dict[str, str]:
        sandbox.create_nodes(node)
        for k in range(pods_per_node):
            sandbox.create(pod_manifest(f"{node}-w{k}", "shop", node))
        pod = sandbox.agent_pod(node)
        return {"node": node, "token": sandbox.agent_token(pod)}

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, nodes))


def churn_during_outage(
    server: Server, nodes: list[str], count: int, pods_per_node: int, rng: random.Random
) -> tuple[int, int]:
    """Create a Pod on ``count`` nodes and delete one on ``count // 2`` others; (ok, failed)."""
    from node_agent.manifests import raw_request
    from node_agent.sandbox import pod_manifest

    admin = server.api_client()
    created = rng.sample(nodes, min(count, len(nodes)))
    deleted = rng.sample(nodes, min(count // 2, len(nodes)))
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}

    def create(node: str) -> bool:
        manifest = pod_manifest(f"{node}-outage", "shop", node)
        return raw_request(admin, "POST", "/api/v1/namespaces/shop/pods", manifest)[0] == 201

    def delete(node: str) -> bool:
        name = f"{node}-w{rng.randrange(pods_per_node)}"
        return raw_request(admin, "DELETE", f"/api/v1/namespaces/shop/pods/{name}", body)[0] == 200

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(create, created)) + list(pool.map(delete, deleted))
    return sum(results), len(results) - sum(results)


def agent_requests(audit_log: Path, offset: int, since: float) -> list[float]:
    """When each request by the agents' service account arrived, in seconds after ``since``."""
    seen: set[str] = set()
    arrivals: list[float] = []
    with audit_log.open("rb") as handle:
        handle.seek(offset)
        for raw in handle:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if (event.get("user") or {}).get("username") != AGENT_USER:
                continue
            if event["auditID"] in seen:
                continue
            seen.add(event["auditID"])
            received = dt.datetime.strptime(
                event["requestReceivedTimestamp"], "%Y-%m-%dT%H:%M:%S.%fZ"
            ).replace(tzinfo=dt.UTC)
            arrivals.append(received.timestamp() - since)
    return sorted(arrivals)


def peak_in_window(arrivals: list[float], window: float) -> int:
    """The most arrivals within any ``window`` seconds (sliding)."""
    best, start = 0, 0
    for end, when in enumerate(arrivals):
        while when - arrivals[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def print_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    value_width = max(len(value) for _, value in rows)
    print(f"| {'metric':<{width}} | {'value':>{value_width}} |")
    print(f"|{'-' * (width + 2)}|{'-' * (value_width + 1)}:|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value:>{value_width}} |")


def run_fleet(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    sig = signal.Signals[f"SIG{args.signal}"]
    with tempfile.TemporaryDirectory(prefix="cimp-fleet-") as tmp:
        work = Path(tmp)
        server = Server(work)
        server.start()
        sampler = Sampler(server).start()
        workers: list[Worker] = []
        try:
            started = time.monotonic()
            agents = populate(server, args.agents, args.pods_per_node, args.threads)
            fill = time.monotonic() - started
            nodes = [a["node"] for a in agents]
            admin = server.api_client()
            shards = [agents[i :: args.workers] for i in range(args.workers)]
            t_start = time.time()
            for index, shard in enumerate(shards):
                path = work / f"shard-{index}.json"
                document = {"url": server.url, "ca_file": server.ca_file, "agents": shard}
                path.write_text(json.dumps(document))
                workers.append(Worker(path))
            t_synced, status = wait_converged(workers, nodes, admin, args.timeout)
            if not t_synced or status.mismatched:
                print(f"initial sync incomplete: {len(status.mismatched)} agents differ")
                return 1
            initial_rss, initial_cpu = sampler.peak(t_start, t_synced)
            worker_rss = status.worker_rss
            time.sleep(2)  # steady state: every agent watching, bookmarks flowing

            audit_offset = server.audit_log.stat().st_size
            t_kill = time.time()
            server.kill(sig)
            time.sleep(args.outage)
            t_restart = time.time()
            t_up = server.start()
            admin = server.api_client()
            ok, failed = churn_during_outage(server, nodes, args.changes, args.pods_per_node, rng)
            t_recovered, status = wait_converged(workers, nodes, admin, args.timeout)
            t_end = time.time()
            time.sleep(1)  # let the last audit lines reach the file
            arrivals = agent_requests(server.audit_log, audit_offset, t_up)
            recovery_rss, recovery_cpu = sampler.peak(t_up, t_end)
        finally:
            for worker in workers:
                worker.close()
            sampler.stop()
            server.stop()

    recovered = bool(t_recovered) and not status.mismatched
    per_second = collections.Counter(math.floor(when) for when in arrivals)
    total_requests = len(arrivals)
    peak = peak_in_window(arrivals, 1.0)
    peak_100ms = peak_in_window(arrivals, 0.1)
    herd_limit = args.agents / 2
    rows = [
        ("agents (worker processes)", f"{args.agents} ({args.workers})"),
        ("pods (per node + agent's own)", f"{args.agents * (args.pods_per_node + 1)}"),
        ("cluster fill time", f"{fill:.1f} s"),
        ("initial sync, all agents == truth", f"{t_synced - t_start:.1f} s"),
        (
            "server peak RSS / CPU (0.5 s samples), sync",
            f"{initial_rss / 2**20:.0f} MB / {initial_cpu:.0f} %",
        ),
        ("agents' RSS (all workers)", f"{worker_rss / 2**20:.0f} MB"),
        (
            "restart (same port and data dir)",
            f"SIG{args.signal}, down {t_up - t_kill:.1f} s (start {t_up - t_restart:.1f} s)",
        ),
        ("pod changes right after restart", f"{ok} ok, {failed} failed"),
        (
            "time to full recovery (from server up)",
            f"{t_recovered - t_up:.1f} s" if recovered else "NOT RECOVERED",
        ),
        ("  (from kill)", f"{t_recovered - t_kill:.1f} s" if recovered else "-"),
        (
            "agent requests after restart (relists on 410)",
            f"{total_requests} ({status.relists:.0f})",
        ),
        ("peak reconnects in any 1 s / any 100 ms", f"{peak} / {peak_100ms}"),
        (
            "server peak RSS / CPU, recovery",
            f"{recovery_rss / 2**20:.0f} MB / {recovery_cpu:.0f} %",
        ),
        ("agents with inventory != truth (missed events)", f"{len(status.mismatched)}"),
    ]
    print()
    print(f"fleet benchmark: {args.agents} node agents, one cimp apiserver, server restart")
    print_table(rows)
    print()
    print("agent requests seen by the server per second after it came back (reconnects):")
    scale = max(1, peak // 50)
    for second in range(min(per_second, default=0), max(per_second, default=0) + 1):
        count = per_second.get(second, 0)
        label = f"t{second:+d} s"
        print(f"  {label:>7} {count:>5} {'#' * (count // scale)}")
    missed = len(status.mismatched)
    herd = peak > herd_limit
    ok_all = recovered and missed == 0 and not herd
    verdict = "PASS" if ok_all else "FAIL"
    print()
    print(
        f"verdict: {verdict}: {args.agents} agents "
        + (
            f"recovered {t_recovered - t_up:.1f} s after the restart"
            if recovered
            else "did not recover"
        )
        + f", {missed} missed events, peak {peak} reconnects/s "
        + f"({100 * peak / args.agents:.0f}% of the fleet in one second; "
        + ("a thundering herd" if herd else "no thundering herd")
        + f": the limit is half the fleet, {herd_limit:.0f})"
    )
    if status.mismatched:
        print(f"  differing: {', '.join(status.mismatched[:10])}")
    return 0 if ok_all else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2, help="agent processes")
    parser.add_argument("--pods-per-node", type=int, default=3)
    parser.add_argument("--signal", choices=["KILL", "TERM"], default="KILL")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds the server stays down")
    parser.add_argument("--changes", type=int, default=100, help="pods created after restart")
    parser.add_argument("--threads", type=int, default=16, help="parallel requests while filling")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up converging after")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--worker", metavar="SHARD", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    return run_fleet(args)


if __name__ == "__main__":
    sys.exit(main())
