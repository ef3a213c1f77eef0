"""The embedded API server next to the real kube-apiserver v1.37.2, in one run, one table.

Both run as their own processes on loopback: ``cimp apiserver`` (Python, SQLite data dir,
audit log file) and kube-apiserver with its etcd (``make kube``, started by
``KubeAPIServer``: audit log, ``--authorization-mode=Node,RBAC``). Measured for each:

* start-up to ``/readyz`` answering 200 (median of ``--starts`` fresh starts, taken in turn);
* server RSS (``VmRSS``; for kube, kube-apiserver + etcd) after start-up, while the watches are
  open, after the workloads, and the peak (``VmHWM``);
* impersonated ``GET configmap`` latency, p50 / p99, per mode: cold (a new identity per
  request, so no impersonation cache can answer; associated-node needs a new service account,
  pod and token per request, so token authentication is cold too) and cached (one identity
  repeated within the caches' 10 s), requests of the two servers interleaved one by one on a
  kept-alive HTTPS connection each;
* creating ``--pods`` pods (16 in flight), listing them (JSON, full list, median of 3);
* ``--watchers`` concurrent watches: all open, one change, time until every one is notified.

Requestors authenticate with static bearer tokens on both (``--token-auth-file``): the kube
harness's own webhook authenticator (cache TTL 0) would put a round trip into this Python
process into every kube request. Exit status 0 with a ``skipped`` line when the kube binaries
are not built.

    .venv/bin/python bench/backends.py [--quick] [--starts 3] [--pods 5000] [--watchers 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _watchers import fan_out
from constrained_impersonation.testing import KUBE_VERSION, KubeAPIServer, KubeBinariesNotFound
from constrained_impersonation.testing._client import ClientSide

RBAC = "rbac.authorization.k8s.io"
AUTHN = "authentication.k8s.io"
MODES = ("user-info", "serviceaccount", "arbitrary-node", "associated-node", "legacy")
PROBE = "/api/v1/namespaces/bench/configmaps/probe"
# One static token per requestor (same on both servers); associated-node's requestors are
# service accounts with pod-bound tokens issued at run time.
REQUESTORS = {
    "user-info": "dep-userinfo",
    "serviceaccount": "dep-sa",
    "arbitrary-node": "dep-node",
    "legacy": "dep-legacy",
}


# ---------------------------------------------------------------------- measurements


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _mb(pids: list[int], key: str = "VmRSS") -> float:
    return sum(_status_kb(pid, key) for pid in pids) / 1024


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class _Conn:
    """One kept-alive HTTPS connection; times a request up to its last body byte."""

    def __init__(self, url: str, ca_file: str) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port
        self._ctx = ssl.create_default_context(cafile=ca_file)
        self._conn: http.client.HTTPSConnection | None = None

    def get(self, path: str, headers: list[tuple[str, str]]) -> tuple[int, float, bytes]:
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, context=self._ctx, timeout=60
                )
                self._conn.connect()  # the handshake is not part of a sample
            start = time.perf_counter()
            try:
                self._conn.putrequest("GET", path)
                for name, value in [("Accept", "application/json"), *headers]:
                    self._conn.putheader(name, value)
                self._conn.endheaders()
                resp = self._conn.getresponse()
                body = resp.read()
            except (http.client.HTTPException, OSError):
                self.close()  # the server closed an idle connection: once more, fresh
                if attempt:
                    raise
                continue
            return resp.status, time.perf_counter() - start, body
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# ---------------------------------------------------------------------- the two servers


class Embedded(ClientSide):
    """``cimp apiserver`` in its own process, known to the bench by URL, CA and tokens."""

    label = "embedded (`cimp apiserver`)"

    def __init__(self, tokens_csv: str) -> None:
        self._clients = []
        self._tmp = Path(tempfile.mkdtemp(prefix="cimp-bench-embedded-"))
        (self._tmp / "tokens.csv").write_text(tokens_csv)
        self._proc: subprocess.Popen[str] | None = None
        self._url = self._ca = self._admin = ""

    def start(self) -> Embedded:
        kubeconfig = self._tmp / "admin.kubeconfig"
        with (self._tmp / "apiserver.log").open("w") as log:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "constrained_impersonation.cli",
                    "apiserver",
                    "--listen=127.0.0.1:0",
                    f"--data-dir={self._tmp / 'data'}",
                    f"--kubeconfig-out={kubeconfig}",
                    f"--token-auth-file={self._tmp / 'tokens.csv'}",
                    f"--audit-log-path={self._tmp / 'audit.log'}",
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        assert self._proc.stdout is not None
        first, second = self._proc.stdout.readline().split(), self._proc.stdout.readline().split()
        if not first or not first[-1].startswith("https://") or not second:
            self.close()
            raise SystemExit(f"cimp apiserver did not start:\n{self._log_tail()}")
        self._url, self._ca = first[-1], second[-1]
        import yaml

        config = yaml.safe_load(kubeconfig.read_text())
        self._admin = config["users"][0]["user"]["token"]
        _wait_ready(self)
        return self

    def _log_tail(self) -> str:
        return "\n".join((self._tmp / "apiserver.log").read_text().splitlines()[-15:])

    def close(self) -> None:
        self._close_clients()
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    @property
    def url(self) -> str:
        return self._url

    @property
    def ca_file(self) -> str:
        return self._ca

    @property
    def admin_token(self) -> str:
        return self._admin

    def _kubeconfig_dir(self) -> Path:
        return self._tmp

    def audit_events(self) -> list[dict[str, Any]]:
        time.sleep(0.2)  # the last event is written just after its response
        with (self._tmp / "audit.log").open() as f:
            return [json.loads(line) for line in f if line.strip()]

    def pids(self) -> list[int]:
        return [self._proc.pid] if self._proc is not None else []

    def rss_detail(self) -> str:
        return ""


class Kube:
    """kube-apiserver + etcd through ``KubeAPIServer``, requestors in a static token file."""

    label = f"kube-apiserver {KUBE_VERSION} + etcd"

    def __init__(self, tokens_csv: str) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="cimp-bench-kube-"))
        csv = self._tmp / "tokens.csv"
        # Constructed first (it makes its certificates), started by `start`: only the
        # processes' start-up is timed.
        self.server = KubeAPIServer(extra_args=[f"--token-auth-file={csv}"])
        admin = f'{self.server.admin_token},kubernetes-admin,admin,"system:masters"\n'
        csv.write_text(admin + tokens_csv)

    def start(self) -> Kube:
        self.server.start()
        return self

    def close(self) -> None:
        self.server.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def pids(self) -> list[int]:
        procs = (self.server._apiserver, self.server._etcd)  # the processes' own pids
        return [p.pid for p in procs if p is not None]

    def audit_events(self) -> list[dict[str, Any]]:
        return self.server.audit_events()

    def rss_detail(self) -> str:
        apiserver, etcd = (_mb([pid]) for pid in self.pids())
        return f" ({apiserver:.0f} + etcd {etcd:.0f})"


Backend = Embedded | Kube


def _api(backend: Backend) -> ClientSide:
    return backend if isinstance(backend, Embedded) else backend.server


def _wait_ready(api: ClientSide, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if api.request("GET", "/readyz")[0] == 200:
                return
        time.sleep(0.02)
    raise SystemExit(f"{api.url}: /readyz not 200 after {timeout:.0f} s")


def _tokens_csv() -> tuple[str, dict[str, str]]:
    tokens = {user: uuid.uuid4().hex for user in REQUESTORS.values()}
    lines = "".join(f"{token},{user},uid-{user},bench\n" for user, token in tokens.items())
    return lines, tokens


# ---------------------------------------------------------------------- workloads


def _role(name: str, rules: list[dict[str, Any]], subject: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": rules,
        },
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": RBAC, **subject}],
        },
    ]


def _grants(mode: str, targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    action = {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "verbs": [f"impersonate-on:{mode}:get"],
    }
    return [*targets, action]


def _manifests() -> list[dict[str, Any]]:
    """Namespaces, the probed ConfigMap, what every identity may read, one role per mode."""
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        for ns in ("bench", "assoc")
    ]
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "probe", "namespace": "bench"},
            "data": {"k": "v"},
        }
    )
    docs += _role(
        "bench-read",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        {"kind": "Group", "name": "system:authenticated"},
    )
    user = {"kind": "User"}
    docs += _role(
        "bench-user-info",
        _grants(
            "user-info",
            [
                {
                    "apiGroups": [AUTHN],
                    "resources": ["users", "groups", "userextras/example.com/scopes"],
                    "verbs": ["impersonate:user-info"],
                }
            ],
        ),
        {**user, "name": REQUESTORS["user-info"]},
    )
    docs += _role(
        "bench-serviceaccount",
        _grants(
            "serviceaccount",
            [
                {
                    "apiGroups": [AUTHN],
                    "resources": ["serviceaccounts"],
                    "verbs": ["impersonate:serviceaccount"],
                }
            ],
        ),
        {**user, "name": REQUESTORS["serviceaccount"]},
    )
    docs += _role(
        "bench-arbitrary-node",
        _grants(
            "arbitrary-node",
            [
                {
                    "apiGroups": [AUTHN],
                    "resources": ["nodes"],
                    "verbs": ["impersonate:arbitrary-node"],
                }
            ],
        ),
        {**user, "name": REQUESTORS["arbitrary-node"]},
    )
    docs += _role(
        "bench-associated-node",
        _grants(
            "associated-node",
            [
                {
                    "apiGroups": [AUTHN],
                    "resources": ["nodes"],
                    "verbs": ["impersonate:associated-node"],
                }
            ],
        ),
        {"kind": "Group", "name": "system:serviceaccounts:assoc"},
    )
    docs += _role(
        "bench-legacy",
        [{"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]}],
        {**user, "name": REQUESTORS["legacy"]},
    )
    return docs


def _pod(name: str, namespace: str, node: str, sa: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "nodeName": node,
        "containers": [
            {
                "name": "main",
                "image": "registry.example/app:1.0",
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
            }
        ],
    }
    if sa is not None:
        spec["serviceAccountName"] = sa
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name[-1]}},
        "spec": spec,
    }


def _associated_tokens(api: ClientSide, keys: list[str]) -> dict[str, str]:
    """Per key: a service account, a pod of it on node ``anode-<key>``, a pod-bound token."""
    tokens = {}
    for key in keys:
        sa = f"assoc-{key}"
        for path, body in (
            (
                "/api/v1/namespaces/assoc/serviceaccounts",
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}},
            ),
            ("/api/v1/namespaces/assoc/pods", _pod(f"p-{key}", "assoc", f"anode-{key}", sa)),
        ):
            status, answer = api.request("POST", path, body)
            if status != 201:
                raise SystemExit(f"{api.url}: POST {path}: {status} {answer}")
        tokens[key] = api.token_for("assoc", sa, pod=f"p-{key}")
    return tokens


def _impersonation(mode: str, key: str) -> list[tuple[str, str]]:
    if mode == "user-info":
        return [
            ("Impersonate-User", f"user-{key}"),
            ("Impersonate-Group", "dev"),
            ("Impersonate-Group", "ops"),
            ("Impersonate-Extra-example.com%2Fscopes", "view"),
        ]
    if mode == "serviceaccount":
        return [("Impersonate-User", f"system:serviceaccount:bench:sa-{key}")]
    if mode in ("arbitrary-node", "associated-node"):
        prefix = "anode" if mode == "associated-node" else "node"
        return [("Impersonate-User", f"system:node:{prefix}-{key}")]
    return [("Impersonate-User", f"legacy-{key}"), ("Impersonate-Group", "dev")]


@dataclass
class _Side:
    """What the latency phase needs of one server."""

    backend: Backend
    conn: _Conn
    static: dict[str, str]
    associated: dict[str, str] = field(default_factory=dict)

    def sample(self, mode: str, key: str) -> float:
        token = self.associated[key] if mode == "associated-node" else self.static[REQUESTORS[mode]]
        headers = [("Authorization", f"Bearer {token}"), *_impersonation(mode, key)]
        status, seconds, body = self.conn.get(PROBE, headers)
        if status != 200:
            raise SystemExit(
                f"{self.backend.label}: {mode} as {key}: {status} "
                f"{body[:300].decode(errors='replace')}"
            )
        return seconds


def _latencies(
    sides: list[_Side], cold: int, cached: int
) -> dict[tuple[str, str, str], list[float]]:
    """(server label, mode, cold|cached) -> seconds; the servers take turns request by request."""
    out: dict[tuple[str, str, str], list[float]] = {}
    for mode in MODES:
        for kind, count in (("cold", cold), ("cached", cached)):
            if kind == "cached":
                for side in sides:
                    side.sample(mode, "c")  # fills the caches
            for i in range(count):
                order = sides if i % 2 == 0 else sides[::-1]
                for side in order:
                    key = str(i) if kind == "cold" else "c"
                    out.setdefault((side.backend.label, mode, kind), []).append(
                        side.sample(mode, key)
                    )
    return out


def _check_modes(backend: Backend) -> None:
    """The audit log says each requestor's requests went through the mode measured for it."""
    expected = {user: f"impersonate:{mode}" for mode, user in REQUESTORS.items()}
    expected[REQUESTORS["legacy"]] = ""
    expected["system:serviceaccount:assoc:assoc-c"] = "impersonate:associated-node"
    seen: dict[str, set[str]] = {}
    for event in backend.audit_events():
        user = (event.get("user") or {}).get("username", "")
        if event.get("requestURI") == PROBE and user in expected:
            constraint = (event.get("authenticationMetadata") or {}).get(
                "impersonationConstraint", ""
            )
            seen.setdefault(user, set()).add(constraint)
    wanted = {user: {constraint} for user, constraint in expected.items()}
    if seen != wanted:
        raise SystemExit(f"{backend.label}: modes in the audit log {seen}, expected {wanted}")


def _ssl(api: ClientSide) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=api.ca_file)


async def _create_pods(api: ClientSide, count: int, in_flight: int = 16) -> float:
    import aiohttp

    headers = {"Authorization": f"Bearer {api.admin_token}", "Accept": "application/json"}
    conn = aiohttp.TCPConnector(ssl=_ssl(api), limit=in_flight)
    gate = asyncio.Semaphore(in_flight)
    async with aiohttp.ClientSession(connector=conn, headers=headers) as http:

        async def one(i: int) -> None:
            async with (
                gate,
                http.post(
                    f"{api.url}/api/v1/namespaces/bench/pods",
                    json=_pod(f"pod-{i:05d}", "bench", f"node-{i % 200}"),
                ) as resp,
            ):
                if resp.status != 201:
                    raise SystemExit(f"{api.url}: create pod {i}: {resp.status}")
                await resp.read()

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return time.perf_counter() - start


def _list(api: ClientSide, expected: int, times: int) -> tuple[float, int, str]:
    """(median seconds, body bytes, resourceVersion) of full JSON lists of the bench pods."""
    conn = _Conn(api.url, api.ca_file)
    samples, size, rv = [], 0, ""
    try:
        for _ in range(times):
            status, seconds, body = conn.get(
                "/api/v1/namespaces/bench/pods", [("Authorization", f"Bearer {api.admin_token}")]
            )
            listing = json.loads(body)
            if status != 200 or len(listing["items"]) != expected:
                raise SystemExit(f"{api.url}: list answered {status}, {len(body)} bytes")
            samples.append(seconds)
            size, rv = len(body), listing["metadata"]["resourceVersion"]
    finally:
        conn.close()
    return statistics.median(samples), size, rv


async def _watch(backend: Backend, rv: str, watchers: int) -> tuple[float, float]:
    """(seconds from the change to the last watcher notified, server RSS MB while watching)."""
    import aiohttp

    api = _api(backend)
    headers = {"Authorization": f"Bearer {api.admin_token}", "Accept": "application/json"}
    conn = aiohttp.TCPConnector(ssl=_ssl(api), limit=0)
    async with aiohttp.ClientSession(connector=conn, headers=headers) as http:
        return await fan_out(
            http,
            api.url,
            rv,
            watchers,
            _pod("trigger", "bench", "node-0"),
            lambda: _mb(backend.pids()),
        )


# ---------------------------------------------------------------------- the run


@contextlib.contextmanager
def _started(
    starts: int, csv: str
) -> Iterator[tuple[list[Backend], dict[str, list[float]], dict[str, float]]]:
    """Start each server ``starts`` times in turn, timing each; the last ones keep running."""
    times: dict[str, list[float]] = {}
    running: list[Backend] = []
    try:
        for i in range(starts):
            running = []
            for make in (Embedded, Kube) if i % 2 == 0 else (Kube, Embedded):
                backend: Backend = make(csv)
                running.append(backend)
                start = time.perf_counter()
                backend.start()
                times.setdefault(backend.label, []).append(time.perf_counter() - start)
            if i < starts - 1:
                for backend in running:
                    backend.close()
        running.sort(key=lambda b: isinstance(b, Kube))
        time.sleep(2)  # let both finish what they do just after becoming ready
        idle = {b.label: _mb(b.pids()) for b in running}
        yield running, times, idle
    finally:
        for backend in running:
            backend.close()


def _row(name: str, values: list[str], ratio: float | None) -> str:
    ratio_text = f"{ratio:.2f}x" if ratio is not None else ""
    return f"| {name} | {' | '.join(values)} | {ratio_text} |"


def run(args: argparse.Namespace) -> list[str]:
    csv, static = _tokens_csv()
    rows: list[str] = []
    with _started(args.starts, csv) as (backends, starts, idle):
        labels = [b.label for b in backends]
        rows.append(
            _row(
                f"start-up to /readyz (median of {args.starts})",
                [f"{statistics.median(starts[label]):.2f} s" for label in labels],
                statistics.median(starts[labels[0]]) / statistics.median(starts[labels[1]]),
            )
        )
        rows.append(
            _row(
                "RSS after start-up",
                [f"{idle[b.label]:.0f} MB{b.rss_detail()}" for b in backends],
                idle[labels[0]] / idle[labels[1]],
            )
        )

        sides = []
        for backend in backends:
            api = _api(backend)
            api.apply(*_manifests())
            keys = [str(i) for i in range(args.cold)] + ["c"]
            sides.append(
                _Side(backend, _Conn(api.url, api.ca_file), static, _associated_tokens(api, keys))
            )
        time.sleep(1)  # tokens and pods a second old, as a running pod's are
        latency = _latencies(sides, args.cold, args.cached)
        for side in sides:
            side.conn.close()
            _check_modes(side.backend)
        for mode in MODES:
            for kind in ("cold", "cached"):
                cells, p50s = [], []
                for label in labels:
                    values = [v * 1000 for v in latency[(label, mode, kind)]]
                    p50s.append(_pct(values, 0.5))
                    cells.append(f"{p50s[-1]:.2f} / {_pct(values, 0.99):.2f} ms")
                count = args.cold if kind == "cold" else args.cached
                rows.append(_row(f"{mode}, {kind}: p50 / p99 of {count}", cells, p50s[0] / p50s[1]))

        created = [asyncio.run(_create_pods(_api(b), args.pods)) for b in backends]
        rows.append(
            _row(
                f"create {args.pods:,} pods (16 in flight)",
                [f"{t:.1f} s ({args.pods / t:.0f}/s)" for t in created],
                created[0] / created[1],
            )
        )
        listed = [_list(_api(b), args.pods, args.lists) for b in backends]
        rows.append(
            _row(
                f"list {args.pods:,} pods, JSON (median of {args.lists})",
                [f"{t * 1000:.0f} ms, {size / 1e6:.1f} MB" for t, size, _ in listed],
                listed[0][0] / listed[1][0],
            )
        )
        watched = [
            asyncio.run(_watch(b, rv, args.watchers))
            for b, (_, _, rv) in zip(backends, listed, strict=True)
        ]
        rows.append(
            _row(
                f"{args.watchers:,} watches, one change: all notified in",
                [f"{t * 1000:.0f} ms" for t, _ in watched],
                watched[0][0] / watched[1][0],
            )
        )
        rows.append(
            _row(
                f"RSS while {args.watchers:,} watches are open",
                [f"{rss:.0f} MB" for _, rss in watched],
                watched[0][1] / watched[1][1],
            )
        )
        time.sleep(1)
        after = [_mb(b.pids()) for b in backends]
        rows.append(
            _row(
                "RSS after the workloads",
                [f"{rss:.0f} MB{b.rss_detail()}" for rss, b in zip(after, backends, strict=True)],
                after[0] / after[1],
            )
        )
        peak = [_mb(b.pids(), "VmHWM") for b in backends]
        rows.append(_row("peak RSS (VmHWM)", [f"{p:.0f} MB" for p in peak], peak[0] / peak[1]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run (< 60 s)")
    parser.add_argument("--starts", type=int, help="fresh starts per server (default 3)")
    parser.add_argument("--pods", type=int, help="pods to create and list (default 5000)")
    parser.add_argument("--watchers", type=int, help="concurrent watches (default 1000)")
    parser.add_argument("--cold", type=int, help="cold requests per mode (default 100)")
    parser.add_argument("--cached", type=int, help="cached requests per mode (default 300)")
    parser.add_argument("--lists", type=int, help="full lists timed (default 3)")
    args = parser.parse_args(argv)
    defaults = (
        {"starts": 1, "pods": 300, "watchers": 100, "cold": 10, "cached": 20, "lists": 1}
        if args.quick
        else {"starts": 3, "pods": 5000, "watchers": 1000, "cold": 100, "cached": 300, "lists": 3}
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
        if getattr(args, name) < 1:
            parser.error(f"--{name} {getattr(args, name)}: must be at least 1")
    try:
        from constrained_impersonation.testing._assets import find_assets

        find_assets(None)
    except KubeBinariesNotFound as exc:
        print(f"skipped: {exc}")
        return 0

    before = _load()
    started = time.monotonic()
    rows = run(args)
    after = _load()
    print(f"## Embedded API server vs kube-apiserver {KUBE_VERSION}, one run")
    print(
        f"{os.cpu_count()} CPUs; load average (1, 5, 15 min) {before} before, {after} after; "
        f"{time.monotonic() - started:.0f} s"
    )
    print()
    print(f"| metric | {Embedded.label} | {Kube.label} | embedded / kube |")
    print("|---|---:|---:|---:|")
    for row in rows:
        print(row)
    print()
    print(
        "latency: GET one ConfigMap, impersonated; cold = a new identity per request, cached = "
        "one identity repeated; user-info sends 2 groups and 1 extra, legacy 1 group; each "
        "requestor's mode confirmed in both servers' audit logs"
    )
    print("RSS: kube = kube-apiserver + etcd; embedded = the `cimp apiserver` process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
