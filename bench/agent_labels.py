"""What Pods with huge label sets do to the node agent (``python bench/agent_labels.py``).

Kubernetes bounds each label (63-character name, 253-character prefix, 63-character value)
but not how many a Pod carries: only the object size limit (about 1.5 MiB in etcd) stops
them. Whoever may create Pods on a node can therefore hand its agent ~1 MiB of labels per Pod.

For each agent configuration, one node gets ``--pods`` Pods with ``--label-mib`` MiB of valid
labels each (plus the agent's own Pod), and the real ``cimp-node-agent`` process mirrors them:

* start -> ready: from process start to the first complete list applied (``/readyz``);
* RSS after sync (VmRSS) and peak (VmHWM), from ``/proc``;
* ``/pods``: bytes and the median time of one GET (what a CNI plugin pays per read);
* event -> inventory: one more huge Pod created, until the agent counted its ADDED event
  (read from the small ``/metrics``, so the size of ``/pods`` does not distort it).

A last row per configuration shows a node of ordinary Pods for comparison. The API server
runs in its own process (``cimp apiserver``). Prints one table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "agent"), str(REPO / "sdk")]


def _bench_agent() -> Any:
    """``bench/agent.py`` (its server process, rows and table), loaded by path: the name
    ``agent`` is also the repository's ``agent/`` directory."""
    spec = importlib.util.spec_from_file_location("bench_agent", REPO / "bench" / "agent.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_agent"] = module
    spec.loader.exec_module(module)
    return module


base = _bench_agent()
Row = base.Row

# (name, extra agent arguments). "unbounded" keeps every label, as the agent did before it
# bounded them (1.5 MiB is the largest bound it accepts: kube's own object size limit).
CONFIGS: list[tuple[str, list[str]]] = [
    ("unbounded", ["--max-label-bytes=1572864"]),
    ("default bound", []),
    ("allow-list", ["--label-key=app.kubernetes.io/*"]),
]


def huge_labels(total: int, seed: int) -> dict[str, str]:
    """Valid labels (prefixed 12-character names, 63-character values) of ``total`` bytes."""
    labels = {"app.kubernetes.io/name": f"huge-{seed}"}
    size = sum(len(k) + len(v) for k, v in labels.items())
    i = 0
    while size < total:
        key = f"bench.example.com/k{i:06d}-{seed:05d}"
        value = f"v{seed:05d}{i:06d}".ljust(63, "x")
        labels[key] = value
        size += len(key) + len(value)
        i += 1
    return labels


def huge_pod(name: str, node: str, label_bytes: int, seed: int) -> dict[str, Any]:
    from node_agent.sandbox import pod_manifest

    labels = huge_labels(label_bytes, seed) if label_bytes else None
    return pod_manifest(name, "bench", node, labels=labels)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, timeout: float = 30) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


def _events_added(url: str) -> float:
    text = _get(url + "/metrics").decode()
    match = re.search(r'^cimp_agent_watch_events_total\{type="ADDED"\} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def _proc_mb(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {
        line.split(":")[0]: int(line.split()[1]) / 1024
        for line in status.splitlines()
        if line.startswith(("VmRSS", "VmHWM"))
    }


def measure(
    remote: Any,
    sandbox: Any,
    name: str,
    args: list[str],
    node: str,
    pods: int,
    label_bytes: int,
    work: Path,
) -> list[Any]:
    """Fill ``node``, run the agent process with ``args`` on it, return its rows."""
    sandbox.create_nodes(node)
    _, token = sandbox.agent_credentials(node)
    with ThreadPoolExecutor(4) as pool:
        jobs = [(f"{node}-{k:03d}", k) for k in range(pods)]
        list(pool.map(lambda j: sandbox.create(huge_pod(j[0], node, label_bytes, j[1])), jobs))
    kubeconfig = remote.kubeconfig(token, path=work / f"{node}.kubeconfig")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIMP_", "KUBE"))}
    env.update({"NODE_NAME": node, "KUBECONFIG": kubeconfig})
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "node_agent", f"--listen=127.0.0.1:{port}", "--output=", *args],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                _get(url + "/readyz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{name}: the agent never became ready") from None
                time.sleep(0.02)
        ready = time.monotonic() - started
        after_sync = _proc_mb(process.pid)
        reads = []
        body = b""
        for _ in range(5):
            t0 = time.monotonic()
            body = _get(url + "/pods")
            reads.append(time.monotonic() - t0)
        document = json.loads(body)
        omitted = sum(1 for p in document["pods"] if p.get("labelsOmitted"))
        before = _events_added(url)
        t0 = time.monotonic()
        sandbox.create(huge_pod(f"{node}-late", node, label_bytes, pods + 1))
        while _events_added(url) <= before:
            if time.monotonic() - t0 > 60:
                raise RuntimeError(f"{name}: the new pod never reached the agent")
            time.sleep(0.002)
        event = time.monotonic() - t0
        memory = _proc_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    label = f"{name} ({' '.join(args) or 'no flags'})"
    per_pod = len(body) / max(1, len(document["pods"]))
    return [
        Row(label, ""),
        Row("  start -> ready (first list)", f"{ready:.2f} s"),
        Row(
            "  RSS after sync / at the end", f"{after_sync['VmRSS']:.0f} / {memory['VmRSS']:.0f} MB"
        ),
        Row("  peak RSS (VmHWM)", f"{memory['VmHWM']:.0f} MB"),
        Row(f"  /pods ({len(document['pods'])} pods)", f"{len(body):,} B ({per_pod:,.0f}/pod)"),
        Row("  GET /pods, median of 5", f"{statistics.median(reads) * 1000:.1f} ms"),
        Row("  pods marked labelsOmitted", f"{omitted}"),
        Row("  event -> inventory (one more pod)", f"{event * 1000:.0f} ms"),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=110, help="huge pods per node (default 110)")
    parser.add_argument("--label-mib", type=float, default=1.0, help="labels per pod, MiB")
    parser.add_argument(
        "--config",
        action="append",
        choices=[name for name, _ in CONFIGS],
        help="agent configurations to measure (repeatable; default: all)",
    )
    args = parser.parse_args(argv)
    label_bytes = int(args.label_mib * 1024 * 1024)
    chosen = [c for c in CONFIGS if not args.config or c[0] in args.config]

    from node_agent.sandbox import Sandbox

    rows: list[Any] = []
    with (
        tempfile.TemporaryDirectory(prefix="cimp-bench-labels-") as tmp,
        base.server_process(Path(tmp)) as remote,
    ):
        sandbox = Sandbox(remote)
        sandbox.create_namespace("bench")
        sandbox.apply_manifests()
        for i, (name, agent_args) in enumerate(chosen):
            rows += measure(
                remote, sandbox, name, agent_args, f"huge-{i}", args.pods, label_bytes, Path(tmp)
            )
        rows += measure(remote, sandbox, "small labels", [], "small", args.pods, 0, Path(tmp))
    print()
    print(
        f"node agent with {args.pods} pods of {args.label_mib:g} MiB labels each "
        "(embedded API server in its own process)"
    )
    base.print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
