"""Embedded API server benchmarks, one run, one table each.

1. Impersonation decisions per second, cold (every cache empty) vs cached (outer cache hit),
   with the real RBAC authorizer over a store holding a realistic amount of RBAC.
   Target: a cached constrained decision at least 5x cheaper than a cold one.
2. (with ``--serve``) Listing 5,000 pods and 2,000 concurrent watches each receiving one
   event, over real HTTPS. Targets: under 300 MB RSS, every watcher notified within 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _watchers import fan_out
from cimp_apiserver.authz import bootstrap_objects, new_authorizer
from cimp_apiserver.impersonation import Impersonator
from cimp_apiserver.storage import MemoryStore
from constrained_impersonation.headers import parse
from constrained_impersonation.identity import Identity
from constrained_impersonation.resolver import Attributes, resolve

RBAC = "rbac.authorization.k8s.io"


def _store() -> MemoryStore:
    store = MemoryStore()
    for group, resource, obj in bootstrap_objects():
        store.create(group, resource, obj)
    # Background RBAC: 300 unrelated roles and bindings, as a mid-sized cluster has.
    for i in range(300):
        store.create(
            RBAC,
            "clusterroles",
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "ClusterRole",
                "metadata": {"name": f"r{i}"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
            },
        )
        store.create(
            RBAC,
            "clusterrolebindings",
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": f"b{i}"},
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": f"r{i}"},
                "subjects": [{"kind": "User", "name": f"user-{i}", "apiGroup": RBAC}],
            },
        )
    store.create(
        RBAC,
        "clusterroles",
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "deputy"},
            "rules": [
                {
                    "apiGroups": ["authentication.k8s.io"],
                    "resources": ["users", "groups", "userextras/example.com/scopes"],
                    "verbs": ["impersonate:user-info"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["pods"],
                    "verbs": ["impersonate-on:user-info:list"],
                },
            ],
        },
    )
    store.create(
        RBAC,
        "clusterrolebindings",
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "deputy"},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "deputy"},
            "subjects": [{"kind": "User", "name": "deputy", "apiGroup": RBAC}],
        },
    )
    return store


def _per_second(fn: Callable[[], object], seconds: float = 1.0) -> tuple[float, float]:
    """(operations per second, median microseconds per operation)."""
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return len(samples) / sum(samples), statistics.median(samples) * 1e6


def bench_impersonation() -> list[tuple[str, float, float]]:
    store = _store()
    authorizer = new_authorizer(store.list_objects, store.revision)
    imp = Impersonator(authorizer.authorize)
    requestor = Identity("deputy", groups=("system:authenticated",))
    parsed = parse(
        [
            ("Impersonate-User", "bob"),
            ("Impersonate-Group", "dev"),
            ("Impersonate-Group", "ops"),
            ("Impersonate-Extra-example.com%2Fscopes", "view"),
        ]
    )
    assert parsed is not None
    request = Attributes.from_request(
        requestor, resolve("GET", "/api/v1/namespaces/default/pods", "")
    )
    imp.impersonate(requestor, parsed, request)  # warm the RBAC index, not the caches

    def cold() -> None:
        imp.clear_caches()
        imp.impersonate(requestor, parsed, request)

    def cached() -> None:
        imp.impersonate(requestor, parsed, request)

    rows = []
    for name, fn in (("cold (caches cleared)", cold), ("cached (outer hit)", cached)):
        ops, median = _per_second(fn)
        rows.append((name, ops, median))
    return rows


def _pod(i: int, node: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{i:05d}", "namespace": "bench", "labels": {"app": f"a{i % 50}"}},
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "main",
                    "image": "registry.example/app:1.0",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                }
            ],
        },
        "status": {"phase": "Running", "podIP": f"10.0.{i // 250}.{i % 250}"},
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_serving(pods: int = 5000, watchers: int = 2000) -> list[tuple[str, str, str]]:
    """List and watch over HTTPS against ``cimp apiserver`` in its own process."""
    import asyncio
    import json
    import ssl
    import subprocess
    import tempfile

    import aiohttp
    import yaml

    from cimp_apiserver.storage import open_store

    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        store = open_store(data)
        store.create(
            "",
            "namespaces",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "bench"},
                "status": {"phase": "Active"},
            },
        )
        with store.transaction():
            for i in range(pods):
                store.create("", "pods", _pod(i, f"node-{i % 200}"))
        store.close()
        kubeconfig = Path(tmp) / "kc"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "constrained_impersonation.cli",
                "apiserver",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                str(data),
                "--kubeconfig-out",
                str(kubeconfig),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().split()[-1]
            config = yaml.safe_load(kubeconfig.read_text())
            token = config["users"][0]["user"]["token"]
            ca = Path(tmp) / "ca.pem"
            import base64

            ca.write_bytes(
                base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
            )
            ctx = ssl.create_default_context(cafile=str(ca))
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            idle_rss = _rss_mb(proc.pid)

            async def run() -> None:
                conn = aiohttp.TCPConnector(ssl=ctx, limit=0)
                async with aiohttp.ClientSession(connector=conn, headers=headers) as http:
                    start = time.perf_counter()
                    async with http.get(f"{url}/api/v1/pods") as resp:
                        body = await resp.read()
                    elapsed = time.perf_counter() - start
                    items = len(json.loads(body)["items"])
                    rows.append(
                        (
                            f"list {items} pods",
                            f"{elapsed * 1000:.0f} ms",
                            f"{len(body) / 1e6:.1f} MB body, server RSS {_rss_mb(proc.pid):.0f} MB",
                        )
                    )
                    rv = json.loads(body)["metadata"]["resourceVersion"]

                    latest, rss_watching = await fan_out(
                        http,
                        url,
                        rv,
                        watchers,
                        {
                            **_pod(99999, "node-0"),
                            "metadata": {"name": "trigger", "namespace": "bench"},
                        },
                        lambda: _rss_mb(proc.pid),
                    )
                    rows.append(
                        (
                            f"{watchers} watches, one event each",
                            f"all notified in {latest * 1000:.0f} ms",
                            f"server RSS {rss_watching:.0f} MB while watching",
                        )
                    )
                rows.append(("server RSS idle (after seeding)", f"{idle_rss:.0f} MB", ""))

            asyncio.run(run())
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="also run the list/watch benchmark")
    args = parser.parse_args()
    rows = bench_impersonation()
    print(
        "## Impersonation decisions "
        "(user-info, 2 groups, 1 extra; real RBAC, 600 background objects)"
    )
    print(f"| {'case':<24} | {'decisions/s':>12} | {'median µs':>10} |")
    print(f"|{'-' * 26}|{'-' * 14}|{'-' * 12}|")
    for name, ops, median in rows:
        print(f"| {name:<24} | {ops:>12,.0f} | {median:>10.1f} |")
    ratio = rows[0][2] / rows[1][2]
    verdict = "meets" if ratio >= 5 else "MISSES"
    print(f"\ncached decision is {ratio:.1f}x cheaper than cold ({verdict} the 5x target)")
    if args.serve:
        print("\n## Serving over HTTPS (cimp apiserver in its own process, SQLite data dir)")
        print("targets: list of 5,000 pods and 2,000 watches held in < 300 MB RSS; every")
        print("watcher notified within 2 s")
        print(f"| {'case':<36} | {'result':<26} | {'notes':<44} |")
        print(f"|{'-' * 38}|{'-' * 28}|{'-' * 46}|")
        for case, result, notes in bench_serving():
            print(f"| {case:<36} | {result:<26} | {notes:<44} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
