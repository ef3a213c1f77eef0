"""Benchmark ``cimp audit``: generate a large audit log, then time the command over it.

The log mixes what a busy cluster writes (kubelets, controllers, users) with constrained
impersonation (node agents through associated-node, a deputy through user-info), legacy
impersonation (a gateway forwarding groups) and denied attempts, in the exact event format of
the embedded API server's audit filter. ``cimp audit`` runs in a child process so that its peak
RSS is measured alone (``os.wait4``).

    .venv/bin/python bench/audit.py                    # 1 GB, plain JSON lines
    .venv/bin/python bench/audit.py --size-mb 200 --gzip
    .venv/bin/python bench/audit.py --impersonated 1.0  # worst case: every line impersonates

Targets (issue 7): at least 100 MB/s and under 100 MB RSS. Exit 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_MB_S = 100.0
TARGET_RSS_MB = 100.0


def _event(
    rng: random.Random,
    *,
    user: dict[str, Any],
    verb: str,
    uri: str,
    ref: dict[str, str] | None,
    code: int = 200,
    impersonated: dict[str, Any] | None = None,
    constraint: str = "",
    message: str = "",
) -> dict[str, Any]:
    hms = f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
    ts = f"2025-06-01T{hms}.{rng.randrange(10**6):06d}Z"
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "stage": "ResponseComplete",
        "requestURI": uri,
        "verb": verb,
        "user": user,
        "sourceIPs": [f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"],
        "userAgent": "kubelet/v1.36.0 (linux/amd64) kubernetes/abcdef",
        "requestReceivedTimestamp": ts,
    }
    if ref is not None:
        event["objectRef"] = ref
    status: dict[str, Any] = {"metadata": {}, "code": code}
    if message:
        status.update(status="Failure", message=message, reason="Forbidden")
    event["responseStatus"] = status
    if impersonated is not None:
        event["impersonatedUser"] = impersonated
    if constraint:
        event["authenticationMetadata"] = {"impersonationConstraint": constraint}
    event["annotations"] = {
        "authorization.k8s.io/decision": "allow" if code < 400 else "forbid",
        "authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding "system:node" of '
        'ClusterRole "system:node" to Group "system:nodes"',
    }
    event["stageTimestamp"] = ts
    return event


def _plain(rng: random.Random) -> dict[str, Any]:
    node = f"node-{rng.randrange(500)}"
    ns = f"team-{rng.randrange(40)}"
    choice = rng.randrange(4)
    if choice == 0:
        user = {
            "username": f"system:node:{node}",
            "groups": ["system:nodes", "system:authenticated"],
        }
        name = f"pod-{rng.randrange(10**5)}"
        return _event(
            rng,
            user=user,
            verb="get",
            uri=f"/api/v1/namespaces/{ns}/pods/{name}",
            ref={
                "resource": "pods",
                "namespace": ns,
                "name": name,
                "apiGroup": "",
                "apiVersion": "v1",
            },
        )
    if choice == 1:
        user = {
            "username": "system:serviceaccount:kube-system:replicaset-controller",
            "uid": str(uuid.UUID(int=rng.getrandbits(128))),
            "groups": [
                "system:serviceaccounts",
                "system:serviceaccounts:kube-system",
                "system:authenticated",
            ],
        }
        return _event(
            rng,
            user=user,
            verb="update",
            uri=f"/apis/apps/v1/namespaces/{ns}/replicasets/web-{rng.randrange(999)}/status",
            ref={
                "resource": "replicasets",
                "namespace": ns,
                "name": "web",
                "apiGroup": "apps",
                "apiVersion": "v1",
                "subresource": "status",
            },
        )
    if choice == 2:
        user = {
            "username": f"dev-{rng.randrange(300)}@example.com",
            "groups": ["developers", "system:authenticated"],
        }
        return _event(
            rng,
            user=user,
            verb="list",
            uri=f"/api/v1/namespaces/{ns}/configmaps?limit=500",
            ref={"resource": "configmaps", "namespace": ns, "apiGroup": "", "apiVersion": "v1"},
        )
    user = {"username": "system:kube-scheduler", "groups": ["system:authenticated"]}
    return _event(
        rng,
        user=user,
        verb="watch",
        uri="/api/v1/pods?fieldSelector=status.phase%21%3DSucceeded&watch=true",
        ref={"resource": "pods", "apiGroup": "", "apiVersion": "v1"},
    )


def _impersonating(rng: random.Random) -> dict[str, Any]:
    choice = rng.randrange(10)
    node = f"node-{rng.randrange(500)}"
    if choice < 5:  # node agent, associated-node
        user = {
            "username": "system:serviceaccount:node-agents:node-agent",
            "uid": str(uuid.UUID(int=rng.getrandbits(128))),
            "groups": [
                "system:serviceaccounts",
                "system:serviceaccounts:node-agents",
                "system:authenticated",
            ],
            "extra": {
                "authentication.kubernetes.io/node-name": [node],
                "authentication.kubernetes.io/pod-name": [f"node-agent-{rng.randrange(10**5):05x}"],
            },
        }
        return _event(
            rng,
            user=user,
            verb="list",
            uri=f"/api/v1/pods?fieldSelector=spec.nodeName%3D{node}",
            ref={"resource": "pods", "apiGroup": "", "apiVersion": "v1"},
            impersonated={
                "username": f"system:node:{node}",
                "groups": ["system:nodes", "system:authenticated"],
            },
            constraint="impersonate:associated-node",
        )
    user_index = rng.randrange(2000)
    end_user = f"user-{user_index}@example.com"
    if choice < 8:  # deputy, user-info
        user = {
            "username": "system:serviceaccount:deputy-ns:deputy",
            "groups": [
                "system:serviceaccounts",
                "system:serviceaccounts:deputy-ns",
                "system:authenticated",
            ],
        }
        vm = f"vm-{rng.randrange(100)}"
        return _event(
            rng,
            user=user,
            verb="get",
            uri=f"/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances/{vm}/console",
            ref={
                "resource": "virtualmachineinstances",
                "namespace": "default",
                "name": vm,
                "apiGroup": "subresources.kubevirt.io",
                "apiVersion": "v1",
                "subresource": "console",
            },
            impersonated={
                "username": end_user,
                "uid": f"uid-{end_user}",
                "groups": ["developers", "system:authenticated"],
            },
            constraint="impersonate:user-info",
        )
    gateway = {"username": "gateway", "groups": ["gateways", "system:authenticated"]}
    if choice < 9:  # gateway, legacy, forwarding groups
        ns = f"team-{rng.randrange(40)}"
        return _event(
            rng,
            user=gateway,
            verb="list",
            uri=f"/apis/apps/v1/namespaces/{ns}/deployments",
            ref={
                "resource": "deployments",
                "namespace": ns,
                "apiGroup": "apps",
                "apiVersion": "v1",
            },
            impersonated={
                "username": end_user,
                "groups": ["developers", f"team-{user_index % 40}", "system:authenticated"],
            },
        )
    return _event(  # denied attempt
        rng,
        user=gateway,
        verb="delete",
        uri="/api/v1/namespaces/default/secrets/db",
        ref={
            "resource": "secrets",
            "namespace": "default",
            "name": "db",
            "apiGroup": "",
            "apiVersion": "v1",
        },
        code=403,
        message='secrets "db" is forbidden: User "gateway" cannot impersonate-on:user-info:delete '
        'resource "secrets" in API group "" in the namespace "default"',
    )


def generate(
    path: Path, size_mb: float, impersonated: float, compress: bool, seed: int = 7
) -> None:
    rng = random.Random(seed)
    target = int(size_mb * 1e6)
    written = 0
    opener = gzip.open if compress else open
    with opener(path, "wt", encoding="utf-8") as out:  # type: ignore[operator]
        while written < target:
            lines = []
            for _ in range(2000):
                make = _impersonating if rng.random() < impersonated else _plain
                lines.append(json.dumps(make(rng), separators=(",", ":")))
            block = "\n".join(lines) + "\n"
            out.write(block)
            written += len(block)


def measure(path: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of ``cimp audit PATH -o json`` in a child."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "sdk"))
    cmd = [
        sys.executable,
        "-m",
        "constrained_impersonation.cli",
        "audit",
        str(path),
        "-o",
        "json",
        "--no-progress",
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=float, default=1024.0, help="log size (default 1024)")
    parser.add_argument(
        "--impersonated",
        type=float,
        default=0.2,
        help="fraction of impersonating events (default 0.2)",
    )
    parser.add_argument("--gzip", action="store_true", help="compress the generated log")
    parser.add_argument(
        "--path", type=Path, default=None, help="where to write the log (default a temp file)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated log")
    parser.add_argument(
        "--reuse", action="store_true", help="measure an existing --path without regenerating"
    )
    args = parser.parse_args()
    path = args.path or Path(os.environ.get("TMPDIR", "/tmp")) / (
        f"cimp-audit-bench-{int(args.size_mb)}mb-{args.impersonated}"
        + (".log.gz" if args.gzip else ".log")
    )
    try:
        t0 = time.perf_counter()
        if not (args.reuse and path.exists()):
            generate(path, args.size_mb, args.impersonated, args.gzip)
        gen = time.perf_counter() - t0
        size = path.stat().st_size
        seconds, rss, code = measure(path)
        # Throughput is over the uncompressed JSON, which is what the reader parses.
        raw_mb = args.size_mb if args.gzip else size / 1e6
        rate = raw_mb / seconds
        print(
            f"log: {path} ({size / 1e6:.0f} MB on disk, {raw_mb:.0f} MB JSON, "
            f"generated in {gen:.1f}s)"
        )
        print(f"impersonating fraction: {args.impersonated}")
        print(
            f"cimp audit: {seconds:.2f}s, {rate:.0f} MB/s (target >= {TARGET_MB_S:.0f}), "
            f"peak RSS {rss:.0f} MB (target < {TARGET_RSS_MB:.0f})"
        )
        if code != 0:
            print(f"cimp audit exited {code}")
            return 1
        return 0 if rate >= TARGET_MB_S and rss < TARGET_RSS_MB else 1
    finally:
        if not args.keep and not args.reuse and path.exists():
            path.unlink()


if __name__ == "__main__":
    raise SystemExit(main())
