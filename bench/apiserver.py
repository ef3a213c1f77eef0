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

from constrained_impersonation._apiserver.authz import bootstrap_objects, new_authorizer
from constrained_impersonation._apiserver.impersonation import Impersonator
from constrained_impersonation._apiserver.storage import MemoryStore
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
