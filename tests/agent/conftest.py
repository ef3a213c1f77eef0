"""Fixtures for the agent tests: a cluster as deploy/daemonset/ expects, agents, a TCP proxy.

The proxy is a real TCP relay (no mocked network): cutting it drops the agent's connections
exactly as a network blip or a load-balancer reset would, while the API server keeps running.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from node_agent.agent import Agent
from node_agent.sandbox import Sandbox
from node_agent.sync import SyncOptions

NODE_A = "node-a"
NODE_B = "node-b"
T = TypeVar("T")

FAST = SyncOptions(
    watch_timeout=30, backoff_base=0.05, backoff_max=0.5, connect_timeout=2, read_timeout=10
)


def eventually(check: Callable[[], T], timeout: float = 20.0, what: str = "") -> T:
    """Poll ``check`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}: last {last!r}")
        time.sleep(0.02)
        last = check()
    return last


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def served_pods(agent_url: str) -> dict[str, tuple[str, str]]:
    """``/pods`` as {namespace/name: (uid, resourceVersion)}; asserts no duplicates."""
    status, body = http_get(agent_url + "/pods")
    if status != 200:
        return {}
    pods = json.loads(body)["pods"]
    keys = [f"{p['namespace']}/{p['name']}" for p in pods]
    assert len(keys) == len(set(keys)), f"duplicated pods in /pods: {keys}"
    return {f"{p['namespace']}/{p['name']}": (p["uid"], p["resourceVersion"]) for p in pods}


def truth(cluster: Sandbox, node: str) -> dict[str, tuple[str, str]]:
    """The server's Pods on ``node`` in the same shape as :func:`served_pods`."""
    from node_agent.manifests import raw_request

    query = [("fieldSelector", f"spec.nodeName={node}")]
    status, body = raw_request(cluster.admin, "GET", "/api/v1/pods", query=query)
    assert status == 200, body
    return {
        f"{i['metadata']['namespace']}/{i['metadata']['name']}": (
            i["metadata"]["uid"],
            i["metadata"]["resourceVersion"],
        )
        for i in body["items"]
    }


def in_sync(agent_url: str, cluster: Sandbox, node: str = NODE_A) -> bool:
    expected = truth(cluster, node)
    return bool(expected) and served_pods(agent_url) == expected


class TCPProxy:
    """Relay 127.0.0.1:<port> to ``upstream``; :meth:`cut` drops every open connection."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._refusing = False
        self._closed = False
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refusing = self._refusing
            if refusing:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self.accepted += 1
                self._sockets.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)

    def cut(self, *, refuse: bool = False) -> None:
        """Reset every relayed connection; with ``refuse``, also refuse new ones."""
        with self._lock:
            self._refusing = refuse
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        with self._lock:
            self._refusing = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


@dataclass
class Live:
    """A running embedded API server with deploy/daemonset/ applied and pods on two nodes."""

    server: Any
    cluster: Sandbox
    agent_pod: dict[str, Any]
    token: str
    tmp: Path
    agents: list[Agent] = field(default_factory=list)
    proxies: list[TCPProxy] = field(default_factory=list)

    def base_client(self, host: str | None = None) -> Any:
        """A plain client authenticating with the agent's pod-bound token."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = host or self.server.url
        configuration.ssl_ca_cert = self.server.ca_file
        configuration.verify_ssl = True
        configuration.api_key = {"authorization": self.token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        return client.ApiClient(configuration)

    def session(self, node: str = NODE_A, host: str | None = None) -> Any:
        from constrained_impersonation import NodeSession
        from constrained_impersonation.settings import Settings
        from node_agent.__main__ import agent_scope

        settings = Settings(
            retry_backoff_base=0.05,
            retry_backoff_max=0.5,
            retry_deadline=5,
            connect_timeout=2,
            request_timeout=10,
        )
        return NodeSession(
            self.base_client(host), node=node, scope=agent_scope(), settings=settings
        )

    def proxy(self) -> TCPProxy:
        proxy = TCPProxy(("127.0.0.1", self.server.port))
        self.proxies.append(proxy)
        return proxy

    def start_agent(
        self, *, host: str | None = None, output: Path | None = None, node: str = NODE_A
    ) -> Agent:
        session = self.session(node, host)
        agent = Agent(
            session.api_client, node, listen=("127.0.0.1", 0), output=output, options=FAST
        )
        self.agents.append(agent)
        agent.start()
        assert agent.wait_ready(20), agent.sync.last_error
        return agent

    def close(self) -> None:
        for agent in self.agents:
            agent.stop()
        for proxy in self.proxies:
            proxy.close()


def populate(cluster: Sandbox) -> None:
    """Nodes a and b, three Pods on each (one with hostNetwork), in two namespaces."""
    cluster.create_nodes(NODE_A, NODE_B)
    cluster.create_namespace("shop")
    for index, node in enumerate((NODE_A, NODE_B)):
        for number in range(2):
            cluster.create_pod(
                _pod(f"web-{node[-1]}{number}", "shop", node),
                ip=f"10.244.{index}.{10 + number}",
            )
        cluster.create_pod(_pod(f"cni-{node[-1]}", "kube-system", node, host_network=True))


def _pod(name: str, namespace: str, node: str, **kwargs: Any) -> dict[str, Any]:
    from node_agent.sandbox import pod_manifest

    return pod_manifest(name, namespace, node, **kwargs)


def make_live(server: Any, tmp: Path) -> Live:
    cluster = Sandbox(server)
    populate(cluster)
    pod, token = cluster.agent_credentials(NODE_A)
    return Live(server=server, cluster=cluster, agent_pod=pod, token=token, tmp=tmp)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    from constrained_impersonation.testing import APIServer

    with APIServer() as server:
        env = make_live(server, tmp_path)
        try:
            yield env
        finally:
            env.close()
