"""Shared set-up of the fault tests: a cluster as deploy/daemonset/ expects, agents, checks.

Everything is real: the embedded API server over HTTPS (or ``cimp apiserver`` in its own
process, for SIGKILL), the node agent as it runs in a pod (in-cluster credentials read from
a token file the test rotates like the kubelet does), and ``FaultProxy`` between the two to
drop or stall connections. The oracle of every test is the same: the agent's ``/pods`` equals
the server's Pods on that node, key for key, uid for uid and resourceVersion for
resourceVersion (no Pod lost, none duplicated, none stale).
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from constrained_impersonation.testing import APIServer, FaultProxy
from node_agent.agent import Agent
from node_agent.sandbox import AGENT_NAMESPACE, AGENT_SERVICE_ACCOUNT, Sandbox
from node_agent.sync import SyncOptions
from tests._agents import FAST, NODE_A, NODE_B, Pods, eventually, http_get, populate, truth
from tests._agents import in_sync as shared_in_sync
from tests._agents import served_pods as shared_served_pods

__all__ = ["FAST", "NODE_A", "NODE_B", "eventually", "http_get", "populate", "truth"]

AGENT_USER = f"system:serviceaccount:{AGENT_NAMESPACE}:{AGENT_SERVICE_ACCOUNT}"


def served_pods(agent: Agent) -> Pods | None:
    """The agent's ``/pods`` (what a CNI plugin reads); None while it is not synced."""
    return shared_served_pods(agent.url)


def in_sync(agent: Agent, cluster: Sandbox, node: str = NODE_A) -> bool:
    """True when ``/pods`` equals the server's truth exactly (uids and resourceVersions)."""
    return shared_in_sync(agent.url, cluster, node)


def wait_in_sync(
    agent: Agent, cluster: Sandbox, node: str = NODE_A, timeout: float = 30.0, what: str = ""
) -> None:
    """Poll until in sync; on failure, say what differs and what the agent last saw."""
    try:
        eventually(lambda: in_sync(agent, cluster, node), timeout, what)
    except AssertionError:
        expected, served = truth(cluster, node), served_pods(agent) or {}
        raise AssertionError(
            f"{what or 'inventory'} never equalled the server's truth: missing "
            f"{sorted(set(expected) - set(served))}, extra {sorted(set(served) - set(expected))}, "
            f"stale {sorted(k for k in expected if k in served and served[k] != expected[k])}; "
            f"agent's last error: {agent.sync.last_error!r}"
        ) from None


def claims(token: str) -> dict[str, Any]:
    """The (unverified) claims of a service-account JWT."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def credential_id(token: str) -> str:
    """The ``credential-id`` extra the server derives from a service-account JWT (its jti)."""
    return f"JTI={claims(token)['jti']}"


def token_expiry(token: str) -> float:
    """The ``exp`` claim of a service-account JWT."""
    return float(claims(token)["exp"])


def agent_events(server: Any, *, since: int = 0) -> list[dict[str, Any]]:
    """Audit events of requests sent with the agent's service-account credentials."""
    return [
        event
        for event in server.audit_events()[since:]
        if (event.get("user") or {}).get("username") == AGENT_USER
    ]


def unauthorized_pod_requests(server: Any, *, since: int = 0) -> list[dict[str, Any]]:
    """401s on ``/api/v1/pods`` (the agent's list and watch URL; nobody else sends it here)."""
    return [
        event
        for event in server.audit_events()[since:]
        if (event.get("responseStatus") or {}).get("code") == 401
        and str(event.get("requestURI", "")).startswith("/api/v1/pods?")
    ]


class SkewedClock:
    """The API server's wall clock: real time plus ``offset`` seconds (``APIServer(clock=)``)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def set(self, when: float) -> None:
        """Make the server's clock read ``when`` now (it keeps ticking from there)."""
        self.offset = when - time.time()


def write_token(directory: Path, token: str) -> None:
    """Replace the token file atomically, as the kubelet does when it rotates the token."""
    directory.mkdir(parents=True, exist_ok=True)
    staged = directory / f".token-{time.monotonic_ns()}"
    staged.write_text(token)
    os.replace(staged, directory / "token")


@dataclass
class Env:
    """A running server with deploy/daemonset/ applied, Pods on two nodes, and helpers."""

    server: Any
    cluster: Sandbox
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    clock: SkewedClock = field(default_factory=SkewedClock)
    agents: list[Agent] = field(default_factory=list)
    proxies: list[FaultProxy] = field(default_factory=list)
    sessions: list[Any] = field(default_factory=list)

    def agent_pod(self, node: str = NODE_A) -> dict[str, Any]:
        """The agent's Pod on ``node``, created from the DaemonSet's template."""
        if "DaemonSet" not in self.cluster.applied:
            self.cluster.apply_manifests()
        return self.cluster.agent_pod(node)

    def proxy(self) -> FaultProxy:
        proxy = FaultProxy("127.0.0.1", self.server.port).start()
        self.proxies.append(proxy)
        return proxy

    def serviceaccount_dir(self, token: str, name: str = "serviceaccount") -> Path:
        """The projected service-account volume: ``token``, ``ca.crt``, ``namespace``."""
        directory = self.tmp / name
        write_token(directory, token)
        (directory / "ca.crt").write_text(Path(self.server.ca_file).read_text())
        (directory / "namespace").write_text(AGENT_NAMESPACE)
        return directory

    def settings(self, **overrides: Any) -> Any:
        from constrained_impersonation.settings import Settings

        values: dict[str, Any] = {
            "retry_backoff_base": 0.05,
            "retry_backoff_max": 0.5,
            "retry_deadline": 5,
            "connect_timeout": 2,
            "request_timeout": 10,
        }
        values.update(overrides)
        return Settings(**values)

    def incluster_session(self, node: str, directory: Path, port: int, **settings: Any) -> Any:
        """``NodeSession.from_downward_api``: exactly what the DaemonSet's agent builds."""
        from constrained_impersonation import NodeSession
        from node_agent.__main__ import agent_scope

        self.monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        self.monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(port))
        session = NodeSession.from_downward_api(
            agent_scope(),
            settings=self.settings(node_name=node, serviceaccount_dir=str(directory), **settings),
        )
        self.sessions.append(session)
        return session

    def token_session(self, node: str, token: str, host: str | None = None, **settings: Any) -> Any:
        """A node session whose requestor authenticates with a fixed ``token``."""
        from kubernetes import client

        from constrained_impersonation import NodeSession
        from node_agent.__main__ import agent_scope

        configuration = client.Configuration()
        configuration.host = host or self.server.url
        configuration.ssl_ca_cert = self.server.ca_file
        configuration.verify_ssl = True
        configuration.api_key = {"BearerToken": token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
        session = NodeSession(
            client.ApiClient(configuration),
            node=node,
            scope=agent_scope(),
            settings=self.settings(**settings),
        )
        self.sessions.append(session)
        return session

    def start_agent(
        self,
        session: Any,
        node: str = NODE_A,
        options: SyncOptions = FAST,
        *,
        wait: bool = True,
    ) -> Agent:
        agent = Agent(session.api_client, node, listen=("127.0.0.1", 0), options=options)
        self.agents.append(agent)
        agent.start()
        if wait:
            assert agent.wait_ready(30), agent.sync.last_error
        return agent

    def close(self) -> None:
        for agent in self.agents:
            agent.stop()
        for proxy in self.proxies:
            proxy.stop()
        for session in self.sessions:
            session.close()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    clock = SkewedClock()
    with APIServer(clock=clock) as server:
        cluster = Sandbox(server)
        populate(cluster)
        environment = Env(
            server=server, cluster=cluster, tmp=tmp_path, monkeypatch=monkeypatch, clock=clock
        )
        try:
            yield environment
        finally:
            environment.close()


# --------------------------------------------------------------------------- a server process


@dataclass
class ServerProcess:
    """``cimp apiserver --data-dir`` in its own process: what ``Sandbox`` needs, plus kill -9."""

    data_dir: Path
    port: int = 0
    process: subprocess.Popen[str] | None = None
    admin_token: str = ""
    clients: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> str:
        return str(self.data_dir / "pki" / "ca.pem")

    def start(self) -> ServerProcess:
        """Start (again, on the same port once it has one) and wait until it serves."""
        import yaml

        kubeconfig = self.data_dir.parent / "admin.kubeconfig"
        command = [
            sys.executable,
            "-m",
            "constrained_impersonation.cli",
            "apiserver",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--data-dir",
            str(self.data_dir),
            "--kubeconfig-out",
            str(kubeconfig),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 60
        for line in self.process.stdout:
            match = re.match(r"serving on https://127\.0\.0\.1:(\d+)", line)
            if match:
                self.port = int(match.group(1))
                break
            if time.monotonic() > deadline:
                break
        if not self.port or self.process.poll() is not None:
            raise RuntimeError("cimp apiserver did not start")
        self.admin_token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, sockets reset by the kernel."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        for api in self.clients:
            api.close()

    def api_client(self, token: str | None = None) -> Any:
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        configuration.ssl_ca_cert = self.ca_file
        configuration.verify_ssl = True
        configuration.api_key = {"authorization": token or self.admin_token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        api = client.ApiClient(configuration)
        self.clients.append(api)
        return api
