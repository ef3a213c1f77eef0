"""What an impersonating session costs per API call, next to the raw client.

One run, 200 ``list pods`` calls each through a ``UserSession`` and through a plain
``kubernetes.client.ApiClient``, on the same embedded API server over HTTPS, interleaved call
by call (so drift in the machine affects all alike), after a warm-up. Printed as a table of
medians and the ratio; target: session / raw <= 1.05.

The raw client authenticates as the very user the session impersonates, so the server
authorizes the same identity; the session's requests are also impersonated by the server
(constrained checks, cached for 10 s), which is part of what a user pays. A third client sends
the same impersonation headers by hand, which separates the server's share from the SDK's.
The last row isolates the SDK's own per-call work (cached URL plan, header lines) without I/O.

    .venv/bin/python bench/session_overhead.py [--calls 200] [--pods 20]
                                               [--in-process | --local]

By default the embedded API server runs in its own process (``cimp apiserver``), as a real
API server would; ``--in-process`` runs it in a thread here (client and server then share
the GIL); ``--local`` uses a small keep-alive HTTP server that returns a fixed pod list (no
server-side impersonation): the client-side overhead alone.
Exit status 1 if the target is missed.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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


_RBAC = "rbac.authorization.k8s.io"


def _binding(kind: str, name: str, role: str, subject: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": f"{_RBAC}/v1",
        "kind": kind,
        "metadata": {"name": name, **({"namespace": NAMESPACE} if kind == "RoleBinding" else {})},
        "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": _RBAC, **subject}],
    }


_DEPUTY_ROLE = {
    "apiVersion": f"{_RBAC}/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "bench-deputy"},
    "rules": [
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["users"],
            "verbs": ["impersonate:user-info"],
            "resourceNames": ["bench-user"],
        },
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["groups"],
            "verbs": ["impersonate:user-info"],
            "resourceNames": ["bench"],
        },
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["impersonate-on:user-info:list"]},
    ],
}


def _populate(admin: Any, pods: int) -> None:
    """Namespace, pods, and RBAC: bench-user may list pods; deputy may impersonate it."""
    core = client.CoreV1Api(admin)
    rbac = client.RbacAuthorizationV1Api(admin)
    core.create_namespace(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    )
    for i in range(pods):
        core.create_namespaced_pod(NAMESPACE, _pod(i))
    rbac.create_namespaced_role_binding(
        NAMESPACE, _binding("RoleBinding", "bench-view", "view", {"kind": "Group", "name": "bench"})
    )
    rbac.create_cluster_role(_DEPUTY_ROLE)
    rbac.create_cluster_role_binding(
        _binding(
            "ClusterRoleBinding", "bench-deputy", "bench-deputy", {"kind": "User", "name": "deputy"}
        )
    )


def _clients(make: Callable[[str], Any], bench_token: str, deputy_token: str) -> tuple[Any, ...]:
    """The raw client is bench-user itself; the session is the deputy impersonating it."""
    raw = make(bench_token)
    deputy = make(deputy_token)
    session = ci.UserSession(deputy, user="bench-user", groups=["bench"], scope=SCOPE)
    # The same impersonation by hand (one group, so the stock client can send it): the
    # server does the same work as for the session, the client none of the SDK's.
    by_hand = make(deputy_token)
    by_hand.set_default_header("Impersonate-User", "bench-user")
    by_hand.set_default_header("Impersonate-Group", "bench")
    return raw, session, by_hand, deputy


@contextmanager
def embedded(pods: int) -> Iterator[tuple[Any, Any, Any]]:
    """The embedded API server in a thread of this process (shares the GIL with the client)."""
    from constrained_impersonation.testing import APIServer

    with APIServer() as server:
        admin = server.api_client(server.admin_token)
        _populate(admin, pods)
        raw, session, by_hand, deputy = _clients(
            server.api_client,
            server.add_user("bench-user", groups=["bench"]),
            server.add_user("deputy"),
        )
        try:
            yield raw, session, by_hand
        finally:
            for api in (by_hand, deputy, raw, admin):
                api.close()


@contextmanager
def separate_process(pods: int) -> Iterator[tuple[Any, Any, Any]]:
    """``cimp apiserver`` in its own process, as a real API server would be."""
    from kubernetes.config import new_client_from_config

    with tempfile.TemporaryDirectory(prefix="cimp-bench-") as tmp:
        tokens = Path(tmp) / "tokens.csv"
        tokens.write_text('bench-token,bench-user,u-1,"bench"\ndeputy-token,deputy,u-2,\n')
        kubeconfig = Path(tmp) / "admin.kubeconfig"
        command = [
            sys.executable,
            "-c",
            "from constrained_impersonation.cli import main; raise SystemExit(main())",
            "apiserver",
            "--listen=127.0.0.1:0",
            f"--kubeconfig-out={kubeconfig}",
            f"--token-auth-file={tokens}",
        ]
        log = Path(tmp) / "apiserver.log"
        with log.open("w") as stderr:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline().split()
            second = proc.stdout.readline().split()
            if not first or not first[-1].startswith("https://") or not second:
                raise SystemExit(f"cimp apiserver did not start:\n{log.read_text()}")
            url, ca_file = first[-1], second[-1]
            admin = new_client_from_config(config_file=str(kubeconfig))
            _populate(admin, pods)

            def make(token: str) -> Any:
                cfg = client.Configuration()
                cfg.host = url
                cfg.ssl_ca_cert = ca_file
                cfg.api_key["BearerToken"] = token
                cfg.api_key_prefix["BearerToken"] = "Bearer"
                return client.ApiClient(cfg)

            raw, session, by_hand, deputy = _clients(make, "bench-token", "deputy-token")
            try:
                yield raw, session, by_hand
            finally:
                for api in (by_hand, deputy, raw, admin):
                    api.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)


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
def local(pods: int) -> Iterator[tuple[Any, Any, Any]]:
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
    by_hand = client.ApiClient(cfg)
    by_hand.set_default_header("Impersonate-User", "bench-user")
    by_hand.set_default_header("Impersonate-Group", "bench")
    try:
        yield raw, session, by_hand
    finally:
        by_hand.close()
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
    host = session.api_client.configuration.host  # a session sends only to its own server
    url = f"{host}/api/v1/namespaces/{NAMESPACE}/pods?limit=500"
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
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="local fixed-answer server")
    where.add_argument(
        "--in-process", action="store_true", help="embedded API server in a thread of this process"
    )
    args = parser.parse_args(argv)

    if args.local:
        factory, server = local, "local fixed-answer server (no server-side impersonation)"
    elif args.in_process:
        factory, server = embedded, "embedded API server in this process (HTTPS)"
    else:
        factory, server = separate_process, "cimp apiserver in its own process (HTTPS)"
    with factory(args.pods) as (raw, session, by_hand):
        apis = {
            "raw": client.CoreV1Api(raw),
            "session": client.CoreV1Api(session.api_client),
            "by hand": client.CoreV1Api(by_hand),
        }
        calls: dict[str, Callable[[], Any]] = {
            name: functools.partial(api.list_namespaced_pod, NAMESPACE)
            for name, api in apis.items()
        }
        assert len(calls["session"]().items) == args.pods
        for _ in range(20):  # warm-up: connections, server caches, lazy imports
            for call in calls.values():
                call()
        samples: dict[str, list[float]] = {name: [] for name in calls}
        names = list(calls)
        for i in range(args.calls):
            shift = i % len(names)  # rotate the order so no client always goes first
            for name in names[shift:] + names[:shift]:
                samples[name].append(_timed(calls[name]))
        layer = _layer_only(session, args.calls)

    median = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    fast = {name: sorted(values)[len(values) // 10] * 1000 for name, values in samples.items()}
    ratio = median["session"] / median["raw"]
    sdk_ratio = median["session"] / median["by hand"]
    labels = {
        "raw": "raw kubernetes.client.ApiClient",
        "by hand": "raw client, impersonation headers set by hand",
        "session": "UserSession",
    }
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{args.calls} x list {args.pods} pods, interleaved, {server}")
    print(f"{os.cpu_count()} CPUs, load average {load}")
    print()
    print("| client | median ms | vs raw | p10 ms | vs raw |")
    print("|---|---:|---:|---:|---:|")
    for name, label in labels.items():
        print(
            f"| {label} | {median[name]:.3f} | {median[name] / median['raw']:.3f}x "
            f"| {fast[name]:.3f} | {fast[name] / fast['raw']:.3f}x |"
        )
    print(f"| SDK layer alone, repeated URL (no I/O) | {layer * 1000:.3f} | | | |")
    print()
    print(f"session vs raw client: {ratio:.3f}x (includes the server impersonating)")
    print(f"session vs the same impersonation by hand: {sdk_ratio:.3f}x (the SDK's own cost)")
    print("(on a loaded machine the median jumps between a fast and a slow mode; p10 is stabler)")
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"target session/raw <= {TARGET:.2f}x (medians): {verdict}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
