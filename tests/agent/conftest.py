"""Fixtures for the agent tests: a cluster as deploy/daemonset/ expects, agents, a TCP proxy.

The proxy (``testing.FaultProxy``) is a real TCP relay (no mocked network): cutting it drops the
agent's connections exactly as a network blip or a load-balancer reset would, while the API
server keeps running.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from constrained_impersonation.testing import FaultProxy
from node_agent.agent import Agent
from node_agent.sandbox import Sandbox
from tests._agents import (
    FAST,
    NODE_A,
    NODE_B,
    Pods,
    eventually,
    http_get,
    in_sync,
    populate,
    truth,
)
from tests._agents import served_pods as shared_served_pods

__all__ = [
    "FAST",
    "NODE_A",
    "NODE_B",
    "Live",
    "eventually",
    "http_get",
    "in_sync",
    "populate",
    "served_pods",
    "truth",
]


def served_pods(agent_url: str) -> Pods:
    """``/pods`` as {namespace/name: (uid, resourceVersion)} (empty while not synced)."""
    return shared_served_pods(agent_url) or {}


@dataclass
class Live:
    """A running embedded API server with deploy/daemonset/ applied and pods on two nodes."""

    server: Any
    cluster: Sandbox
    agent_pod: dict[str, Any]
    token: str
    tmp: Path
    agents: list[Agent] = field(default_factory=list)
    proxies: list[FaultProxy] = field(default_factory=list)

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

    def proxy(self) -> FaultProxy:
        proxy = FaultProxy("127.0.0.1", self.server.port).start()
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
            proxy.stop()


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
