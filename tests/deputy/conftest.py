"""A cluster as deploy/deputy/ expects it, a running deputy, and a console client.

Everything is real: the API server of the chosen backend (the embedded one, or kube-apiserver
with ``--apiserver=kube``) over HTTPS with the committed RBAC applied and KubeVirt installed as
a cluster has it (the VMI CRD, virt-api's APIService served by the stand-in: ``kubevirt.py``),
the deputy serving TLS on a free port in its own event loop, clients speaking websockets.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from multidict import CIMultiDict

from cimp_apiserver.certs import load_or_create
from deputy.config import DeputyConfig
from deputy.kube import HandshakeRefused, keep_refusal_body
from deputy.server import Deputy

from .kubevirt import kubevirt

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "deputy"
DEPUTY_USER = "system:serviceaccount:cimp-deputy:deputy"
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
VMS = "vms"
OTHER = "other"

CLUSTER = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {VMS}}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: {OTHER}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: ci-runner, namespace: {VMS}}}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {{name: vm1, namespace: {VMS}}}
spec: {{domain: {{devices: {{}}}}}}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {{name: vm2, namespace: {VMS}}}
spec: {{domain: {{devices: {{}}}}}}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {{name: vm1, namespace: {OTHER}}}
spec: {{domain: {{devices: {{}}}}}}
---
# Console rights come only through a group, so a console that opens proves the deputy
# forwarded the user's groups.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: vm-console, namespace: {VMS}}}
rules:
- apiGroups: [subresources.kubevirt.io]
  resources: [virtualmachineinstances/console]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: vm-operators-console, namespace: {VMS}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: vm-console}}
subjects: [{{kind: Group, name: vm-operators, apiGroup: rbac.authorization.k8s.io}}]
"""


def is_console_session(event: dict[str, Any]) -> bool:
    """The one audit event of a console that opened: kube-apiserver does not count the
    console as a long-running request, so it logs no ResponseStarted, only a ResponseComplete
    with code 101 once the proxied websocket has ended."""
    return (
        event["stage"] == "ResponseComplete"
        and (event.get("objectRef") or {}).get("subresource") == "console"
        and (event.get("responseStatus") or {}).get("code") == 101
    )


@dataclass
class Cluster:
    server: Any  # APIServer or KubeAPIServer
    deputy_token: str
    alice: str  # console rights through group vm-operators
    bob: str  # none
    tls: TLSFiles
    opened: int = 0  # consoles opened through the API server so far

    def deputy_client(self) -> Any:
        return self.server.api_client(self.deputy_token)

    def mark(self) -> int:
        """Position in the audit log after every console opened so far has ended, so that
        a late event of an earlier test's console never lands in a later test's window."""
        deadline = time.monotonic() + 20
        while True:
            events = self.server.audit_events()
            ended = sum(1 for e in events if is_console_session(e))
            if ended >= self.opened:
                return len(events)
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.opened - ended} console(s) never ended")
            time.sleep(0.01)

    def events_since(self, mark: int) -> list[dict[str, Any]]:
        return self.server.audit_events()[mark:]


@dataclass(frozen=True)
class TLSFiles:
    ca: Path
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


def _write_tls(directory: Path) -> TLSFiles:
    """A CA and a serving certificate for 127.0.0.1/localhost, made as the API server makes
    its own (EC P-256: instant)."""
    load_or_create(directory, hosts=("127.0.0.1", "localhost"))
    return TLSFiles(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")


def apply_deputy_rbac(server: Any) -> None:
    """What ``kubectl apply -k deploy/deputy`` creates that the embedded server stores (it
    runs no Deployments or Services)."""
    server.apply(DEPLOY / "namespace.yaml", DEPLOY / "serviceaccount.yaml", DEPLOY / "rbac.yaml")


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """The deputy's serving certificate and the CA users trust it with."""
    return _write_tls(tmp_path_factory.mktemp("deputy-tls"))


@pytest.fixture(scope="module")
def cluster(
    tls: TLSFiles,
    apiserver_class: Any,
    apiserver_backend: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("kubevirt")
    with apiserver_class() as server, kubevirt(server, apiserver_backend, work):
        apply_deputy_rbac(server)
        server.apply(CLUSTER)
        alice = server.add_user(
            "alice",
            groups=["vm-operators"],
            uid="alice-uid",
            extra={
                CREDENTIAL_ID: ["X509SHA256=ab12"],
                "example.com/tenant": ["blue"],  # valid, but not on the allow-list
                "scopes": ["console"],  # constrained impersonation would refuse this key
            },
        )
        bob = server.add_user("bob", groups=["developers"])
        yield Cluster(server, server.token_for("cimp-deputy", "deputy"), alice, bob, tls)


class RunningDeputy:
    """A :class:`Deputy` serving on its own event loop in a background thread."""

    def __init__(self, config: DeputyConfig, base: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.deputy = Deputy(config, base)
        self._run(self.deputy.start())
        self.url = f"https://127.0.0.1:{self.deputy.port}"

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        try:
            self._run(self.deputy.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


def deputy_config(tls: TLSFiles, **changes: Any) -> DeputyConfig:
    config = DeputyConfig(
        tls_cert_file=tls.cert,
        tls_private_key_file=tls.key,
        listen=("127.0.0.1", 0),
        review_timeout=10,
        connect_timeout=10,
    )
    return replace(config, **changes)


@pytest.fixture(scope="module")
def deputy(cluster: Cluster) -> Iterator[RunningDeputy]:
    """The deputy with default flags and the service account's token as its credentials."""
    running = RunningDeputy(deputy_config(cluster.tls), cluster.deputy_client())
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def start_deputy(cluster: Cluster) -> Iterator[Any]:
    """Start a deputy with other flags or credentials: ``start_deputy(audiences=("x",))``."""
    started: list[RunningDeputy] = []

    def start(base: Any = None, **changes: Any) -> RunningDeputy:
        client = base if base is not None else cluster.deputy_client()
        running = RunningDeputy(deputy_config(cluster.tls, **changes), client)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@dataclass
class Opened:
    """A console that opened: its first line, the echoes of what was sent, the subprotocol."""

    greeting: str
    echoes: list[str | bytes] = field(default_factory=list)
    protocol: str | None = None
    close_code: int | None = None


@dataclass
class Refused:
    """An HTTP answer instead of an upgrade."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def open_console(
    url: str,
    token: str | None,
    namespace: str = VMS,
    name: str = "vm1",
    *,
    cluster: Cluster | None = None,
    tls: TLSFiles | None = None,
    send: Sequence[str | bytes] = ("hello",),
    authorization: str | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> Opened | Refused:
    """Connect to the deputy as a user would (kubevirt's plain subprotocol, bearer token);
    a console that opens is counted on ``cluster`` (see :meth:`Cluster.mark`)."""
    if tls is None:
        assert cluster is not None, "open_console needs the cluster or the deputy's CA"
        tls = cluster.tls
    context = tls.client_context()

    async def run() -> Opened | Refused:
        headers = CIMultiDict(extra_headers)
        if authorization is not None:
            headers["Authorization"] = authorization
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with aiohttp.ClientSession(middlewares=(keep_refusal_body,)) as session:
            try:
                ws = await session.ws_connect(
                    f"{url}/console/{namespace}/{name}",
                    headers=headers,
                    protocols=("plain.kubevirt.io",),
                    ssl=context,
                )
            except HandshakeRefused as refused:
                return Refused(refused.status, json.loads(refused.body), {})
            if cluster is not None:
                cluster.opened += 1
            async with ws:
                opened = Opened(await ws.receive_str(), protocol=ws.protocol)
                for message in send:
                    if isinstance(message, bytes):
                        await ws.send_bytes(message)
                        opened.echoes.append(await ws.receive_bytes())
                    else:
                        await ws.send_str(message)
                        opened.echoes.append(await ws.receive_str())
            opened.close_code = ws.close_code
            return opened

    return asyncio.run(run())


def expired_token(server: Any, namespace: str, service_account: str) -> str:
    """A service-account token signed by the server's own key that expired an hour ago.

    TokenRequest refuses lifetimes under ten minutes, so this signs one with the issuer's key
    (kept next to the CA by both backends) and a clock two hours behind; only the expiry
    makes it invalid.
    """
    from cimp_apiserver.authn import ServiceAccountTokens

    key = serialization.load_pem_private_key(
        (Path(server.ca_file).parent / "sa.pem").read_bytes(), password=None
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    from kubernetes import client

    sa = client.CoreV1Api(server.api_client()).read_namespaced_service_account(
        service_account, namespace
    )
    issuer = ServiceAccountTokens(key, lambda *a: None, clock=lambda: time.time() - 7200)
    token, _ = issuer.issue(
        namespace,
        {"metadata": {"name": sa.metadata.name, "uid": sa.metadata.uid}},
        expiration_seconds=3600,
    )
    return token


class DeputyProcess:
    """``python -m deputy`` in its own process (the real ``main``: its logging set-up, its
    signal handling), with its stderr kept: :meth:`stop` returns every line it wrote."""

    def __init__(self, cluster: Cluster, *args: str) -> None:
        kubeconfig = cluster.server.kubeconfig(cluster.deputy_token)
        command = [sys.executable, "-m", "deputy", "--kubeconfig", kubeconfig]
        command += ["--listen", "127.0.0.1:0", "--tls-cert-file", str(cluster.tls.cert)]
        command += ["--tls-private-key-file", str(cluster.tls.key), *args]
        self.process = subprocess.Popen(
            command,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stderr is not None
        self.lines: list[str] = []
        port = None
        while port is None:
            line = self.process.stderr.readline()
            if not line:
                self.process.kill()
                raise AssertionError(f"cimp-deputy exited early: {''.join(self.lines)}")
            self.lines.append(line)
            match = re.search(r'"url": "https://127\.0\.0\.1:(\d+)"', line)
            port = int(match.group(1)) if match else None
        self.url = f"https://127.0.0.1:{port}"

    def stop(self) -> list[str]:
        """SIGTERM, wait for exit status 0, return all of stderr as lines."""
        assert self.process.stderr is not None
        try:
            self.process.send_signal(signal.SIGTERM)
            assert self.process.wait(timeout=30) == 0
            self.lines.extend(self.process.stderr.read().splitlines(keepends=True))
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.process.stderr.close()
        return self.lines
