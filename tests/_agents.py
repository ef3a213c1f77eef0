"""Helpers shared by the agent and fault tests: a populated cluster, the agent's /pods, the truth.

Everything compares what the agent serves with what the server holds, by namespace/name,
uid and resourceVersion, so a lost, duplicated or stale Pod is always caught.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TypeVar

from node_agent.manifests import raw_request
from node_agent.sandbox import Sandbox, pod_manifest
from node_agent.sync import SyncOptions

NODE_A = "node-a"
NODE_B = "node-b"
T = TypeVar("T")

Pods = dict[str, tuple[str, str]]
"""``namespace/name`` -> (uid, resourceVersion)."""

# Quick recovery for tests; the idle timeout stays at its production default unless a test
# is about stalls (the embedded server sends a bookmark every 5 s).
FAST = SyncOptions(
    watch_timeout=30, backoff_base=0.05, backoff_max=0.5, connect_timeout=2, read_timeout=10
)


def eventually(check: Callable[[], T], timeout: float = 30.0, what: str = "") -> T:
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


def served_pods(agent_url: str) -> Pods | None:
    """The agent's ``/pods`` (what a CNI plugin reads); None while it is not synced.
    Asserts that no Pod is listed twice."""
    status, body = http_get(agent_url + "/pods")
    if status != 200:
        return None
    pods = json.loads(body)["pods"]
    keys = [f"{p['namespace']}/{p['name']}" for p in pods]
    assert len(keys) == len(set(keys)), f"duplicated pods in /pods: {keys}"
    return {f"{p['namespace']}/{p['name']}": (p["uid"], p["resourceVersion"]) for p in pods}


def truth(cluster: Sandbox, node: str) -> Pods:
    """The server's Pods on ``node``, read as the cluster admin."""
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
    """True when ``/pods`` equals the server's truth exactly (uids and resourceVersions)."""
    expected = truth(cluster, node)
    return bool(expected) and served_pods(agent_url) == expected


def populate(cluster: Sandbox) -> None:
    """Nodes a and b, three Pods on each (one with hostNetwork), in two namespaces."""
    cluster.create_nodes(NODE_A, NODE_B)
    cluster.create_namespace("shop")
    for index, node in enumerate((NODE_A, NODE_B)):
        for number in range(2):
            cluster.create_pod(
                pod_manifest(f"web-{node[-1]}{number}", "shop", node),
                ip=f"10.244.{index}.{10 + number}",
            )
        cluster.create_pod(pod_manifest(f"cni-{node[-1]}", "kube-system", node, host_network=True))
