"""Durable storage behind the HTTP server: restart on the same port, SIGKILL mid-stream."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import kubernetes.client as k
import pytest
from kubernetes import watch

from cimp_apiserver.app import build_app
from cimp_apiserver.storage import open_store

from ._harness import admin_filter, api_client, free_port, serve

REPO = Path(__file__).resolve().parents[2]


def seed(store: Any) -> None:
    if store.get("", "namespaces", "", "ns1") is None:
        store.create(
            "", "namespaces", {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "ns1"}}
        )


def test_restart_on_same_port_keeps_objects_and_resumes_watch(tmp_path: Path) -> None:
    port = free_port()
    store = open_store(tmp_path)
    seed(store)
    with serve(build_app(store, filters=[admin_filter]), port=port) as srv:
        core = k.CoreV1Api(api_client(srv.url))
        core.create_namespaced_config_map("ns1", {"metadata": {"name": "a"}})
        last = core.create_namespaced_config_map("ns1", {"metadata": {"name": "b"}})
        rv = last.metadata.resource_version
    store.close()

    again = open_store(tmp_path)
    # Writes while "offline" (e.g. a controller) must reach a watch resumed from rv.
    again.create("", "configmaps", {"metadata": {"name": "c", "namespace": "ns1"}})
    with serve(build_app(again, filters=[admin_filter]), port=port) as srv:
        assert srv.port == port
        core = k.CoreV1Api(api_client(srv.url))
        names = [c.metadata.name for c in core.list_namespaced_config_map("ns1").items]
        assert names == ["a", "b", "c"]
        created = core.create_namespaced_config_map("ns1", {"metadata": {"name": "d"}})
        assert int(created.metadata.resource_version) == int(rv) + 2
        events = [
            (e["type"], e["object"].metadata.name)
            for e in watch.Watch().stream(
                core.list_namespaced_config_map, "ns1", resource_version=rv, timeout_seconds=1
            )
        ]
        assert events == [("ADDED", "c"), ("ADDED", "d")]
    again.close()


_SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from aiohttp import web
    from cimp_apiserver.app import build_app
    from cimp_apiserver.storage import open_store
    from tests.server._harness import admin_filter

    store = open_store(sys.argv[1])
    if store.get("", "namespaces", "", "ns1") is None:
        store.create("", "namespaces", {"metadata": {"name": "ns1"}})
    web.run_app(build_app(store, filters=[admin_filter]), host="127.0.0.1",
                port=int(sys.argv[2]), print=lambda *a: print("ready", flush=True))
    """
)


def _start(data: Path, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(data), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": f"{REPO / 'sdk'}{os.pathsep}{REPO}"},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("ready")
    return proc


def _post(url: str, name: str) -> int:
    body = json.dumps({"metadata": {"name": name}}).encode()
    request = urllib.request.Request(
        url + "/api/v1/namespaces/ns1/configmaps",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        return int(json.loads(resp.read())["metadata"]["resourceVersion"])


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_during_writes_loses_nothing_acknowledged(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(tmp_path, port)
    acknowledged: dict[str, int] = {}

    def writer() -> None:
        try:
            for i in range(100_000):
                acknowledged[f"c{i}"] = _post(url, f"c{i}")
        except OSError:
            pass  # the server died under us

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(acknowledged) < 80:
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)  # while the writer is mid-request
        thread.join(10)
    finally:
        proc.kill()
        proc.wait()
    assert not thread.is_alive()
    proc = _start(tmp_path, port)
    try:
        with urllib.request.urlopen(url + "/api/v1/namespaces/ns1/configmaps", timeout=5) as resp:
            listed = json.loads(resp.read())
        stored = {
            i["metadata"]["name"]: int(i["metadata"]["resourceVersion"]) for i in listed["items"]
        }
        assert acknowledged.items() <= stored.items()
        resume = acknowledged["c29"]
        with urllib.request.urlopen(
            f"{url}/api/v1/namespaces/ns1/configmaps?watch=1&timeoutSeconds=1&resourceVersion={resume}",
            timeout=5,
        ) as resp:
            events = [json.loads(line) for line in resp.read().splitlines()]
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        assert rvs == sorted(v for v in stored.values() if v > resume)
        assert rvs == list(range(resume + 1, rvs[-1] + 1))  # no gaps
        assert _post(url, "after") > max(stored.values())
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
