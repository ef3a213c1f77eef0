"""What an impersonating session costs per API call, next to the raw client.

One run, 200 ``list pods`` calls each through a ``UserSession`` and through the plain
``kubernetes.client.ApiClient`` it wraps, on the same embedded API server over HTTPS,
interleaved call by call (so drift in the machine affects both alike), after a warm-up.
Printed as a table of medians and the ratio; target: session / raw <= 1.05.

The session's requests are also impersonated by the server (two constrained checks, cached
for 10 s by the server), which is part of what a user pays. The last row isolates the SDK's
own per-call work (resolve the URL, check the scope, build the header lines) without I/O.

    .venv/bin/python bench/session_overhead.py [--calls 200] [--pods 20] [--local]

``--local`` uses a small keep-alive HTTP server that returns a fixed pod list instead of the
embedded API server (no server-side impersonation): the client-side overhead alone.
Exit status 1 if the target is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kubernetes import client

import constrained_impersonation as ci

TARGET = 1.05
NAMESPACE = "bench"
SCOPE = ci.Scope(ci.Rule(verbs=["list"], resources=["pods"], namespaces=[NAMESPACE]))


def _pod(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{i}", "namespace": NAMESPACE, "labels": {"app": "bench"}},
        "spec": {
            "nodeName": "worker-1",
            "containers": [{"name": "c", "image": "registry.example/app:1.0"}],
        },
    }


@contextmanager
def embedded(pods: int) -> Iterator[tuple[Any, Any]]:
    """(raw admin client, session) on the embedded API server with ``pods`` pods."""
    from constrained_impersonation.testing import APIServer

    with APIServer() as server:
        admin = server.api_client(server.admin_token)
        core = client.CoreV1Api(admin)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
        for i in range(pods):
            core.create_namespaced_pod(NAMESPACE, _pod(i))
        rbac = client.RbacAuthorizationV1Api(admin)
        rbac.create_namespaced_role_binding(
            NAMESPACE,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "bench-view"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "view",
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "bench"}
                ],
            },
        )
        # The admin (allowed "*") passes every constrained check: user-info mode.
        session = ci.UserSession(admin, user="bench-user", groups=["bench"], scope=SCOPE)
        try:
            yield admin, session
        finally:
            admin.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def local(pods: int) -> Iterator[tuple[Any, Any]]:
    body = {
        "apiVersion": "v1",
        "kind": "PodList",
        "metadata": {"resourceVersion": "1"},
        "items": [_pod(i) for i in range(pods)],
    }
    handler = type("Handler", (_Handler,), {"body": json.dumps(body).encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    cfg = client.Configuration()
    cfg.host = f"http://127.0.0.1:{server.server_address[1]}"
    cfg.api_key["BearerToken"] = "bench"
    cfg.api_key_prefix["BearerToken"] = "Bearer"
    raw = client.ApiClient(cfg)
    session = ci.UserSession(raw, user="bench-user", groups=["bench"], scope=SCOPE)
    try:
        yield raw, session
    finally:
        raw.close()
        server.shutdown()
        server.server_close()


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _layer_only(session: Any, calls: int) -> float:
    """Median of the SDK's own per-request work, without I/O."""
    rest = session.api_client.rest_client
    url = f"http://127.0.0.1/api/v1/namespaces/{NAMESPACE}/pods?limit=500"
    headers = {"Accept": "application/json", "User-Agent": "x", "authorization": "Bearer x"}
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        plan = rest.target.plan("GET", url)
        rest.target.sync_headers(headers)
        rest.target.begin(plan.info, "GET", url)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--local", action="store_true", help="local fixed-answer server")
    args = parser.parse_args(argv)

    factory = local if args.local else embedded
    with factory(args.pods) as (raw, session):
        raw_api = client.CoreV1Api(raw)
        session_api = client.CoreV1Api(session.api_client)
        calls = {
            "raw": lambda: raw_api.list_namespaced_pod(NAMESPACE),
            "session": lambda: session_api.list_namespaced_pod(NAMESPACE),
        }
        assert len(calls["session"]().items) == args.pods
        for _ in range(20):  # warm-up: connections, server caches, lazy imports
            calls["raw"]()
            calls["session"]()
        samples: dict[str, list[float]] = {"raw": [], "session": []}
        for i in range(args.calls):
            order = ("raw", "session") if i % 2 == 0 else ("session", "raw")
            for name in order:
                samples[name].append(_timed(calls[name]))
        layer = _layer_only(session, args.calls)

    raw_ms = statistics.median(samples["raw"]) * 1000
    session_ms = statistics.median(samples["session"]) * 1000
    ratio = session_ms / raw_ms
    server = "local fixed-answer server" if args.local else "embedded API server (HTTPS)"
    print(f"{args.calls} x list {args.pods} pods, interleaved, {server}")
    print()
    print("| client | median ms | vs raw |")
    print("|---|---:|---:|")
    print(f"| raw kubernetes.client.ApiClient | {raw_ms:.3f} | 1.00x |")
    print(f"| UserSession (impersonating) | {session_ms:.3f} | {ratio:.3f}x |")
    print(f"| SDK layer alone, repeated URL (no I/O) | {layer * 1000:.3f} | |")
    print()
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"target session/raw <= {TARGET:.2f}x: {verdict}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
