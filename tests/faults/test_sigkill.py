"""``cimp apiserver --data-dir`` killed with SIGKILL while the agent watches and Pods are
being created, then started again on the same port and data dir.

No graceful shutdown: connections are reset by the kernel, in-flight requests are lost, and
the agent must resume (or relist) against the restarted process. Afterwards the agent's
inventory equals the server's truth, and no write the server acknowledged was lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node_agent.manifests import raw_request
from node_agent.sandbox import Sandbox, pod_manifest

from .conftest import NODE_A, NODE_B, Env, ServerProcess, eventually, populate, wait_in_sync


@pytest.fixture
def process_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    server = ServerProcess(tmp_path / "data").start()
    cluster = Sandbox(server)
    populate(cluster)
    environment = Env(server=server, cluster=cluster, tmp=tmp_path, monkeypatch=monkeypatch)
    try:
        yield environment
    finally:
        environment.close()
        server.stop()


class Churn:
    """Creates Pods on both nodes (and deletes some) until stopped; records what was acked."""

    def __init__(self, server: ServerProcess) -> None:
        self.admin = server.api_client()
        self.live: set[str] = set()  # created (201), no delete sent
        self.deleted: set[str] = set()  # deleted (200)
        self.acked = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Churn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _send(self, method: str, path: str, body: object) -> int:
        try:
            return raw_request(self.admin, method, path, body)[0]
        except Exception:  # connection refused or reset: the server is down
            return 0

    def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            node = NODE_B if number % 3 == 0 else NODE_A
            name = f"churn-{number:03d}"
            manifest = pod_manifest(name, "shop", node)
            number += 1
            if self._send("POST", "/api/v1/namespaces/shop/pods", manifest) == 201:
                self.live.add(name)
                self.acked += 1
            else:
                self.failed += 1
            if number % 4 == 0 and self.live:
                victim = min(self.live)
                body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
                status = self._send("DELETE", f"/api/v1/namespaces/shop/pods/{victim}", body)
                self.live.discard(victim)
                if status == 200:
                    self.deleted.add(victim)
                # Otherwise unknown: the server may have died after committing the delete.
            self._stop.wait(0.02)  # pacing, not synchronisation


def test_sigkill_and_restart_while_pods_are_created(process_env: Env) -> None:
    env = process_env
    server: ServerProcess = env.server
    token = env.cluster.agent_token(env.agent_pod(NODE_A))
    agent = env.start_agent(env.token_session(NODE_A, token))
    wait_in_sync(agent, env.cluster, what="initial sync")

    with Churn(server) as churn:
        eventually(lambda: churn.acked >= 10, what="pods created before the kill")
        server.kill()
        eventually(lambda: not agent.sync.watching, what="the agent noticing")
        failed = churn.failed
        eventually(lambda: churn.failed > failed, what="writes failing while it is down")
        time.sleep(0.3)  # an outage the agent's backoff has to ride out, not an assertion
        server.start()
        acked = churn.acked
        eventually(lambda: churn.acked >= acked + 10, what="pods created after the restart")

    wait_in_sync(agent, env.cluster, NODE_A, timeout=45, what="node-a after SIGKILL")
    on_server = set(env.cluster.pods_on(NODE_A)) | set(env.cluster.pods_on(NODE_B))
    assert {f"shop/{name}" for name in churn.live} <= on_server, "an acknowledged create lost"
    assert not {f"shop/{name}" for name in churn.deleted} & on_server, "a deleted pod is back"
    assert agent.metrics.watch_restarts.value(reason="error") >= 1
