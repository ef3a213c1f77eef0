"""Watch streams through real HTTP: the official client's Watch, raw streams, misbehaving clients."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import kubernetes.client as k
import pytest
from kubernetes import watch

from cimp_apiserver.app import build_app
from cimp_apiserver.handlers import RestSettings
from cimp_apiserver.storage import MemoryStore

from ._harness import ServerThread, admin_filter, api_client, serve


class Env:
    def __init__(self, srv: ServerThread, store: MemoryStore) -> None:
        self.srv = srv
        self.store = store
        self.core = k.CoreV1Api(api_client(srv.url))
        self.netloc = urlsplit(srv.url).netloc

    def stream(self, path: str, headers: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Events of a raw watch request, until the server ends the stream."""
        conn = http.client.HTTPConnection(self.netloc, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            assert resp.status == 200, resp.read()
            assert resp.headers["Content-Type"] == "application/json"
            assert resp.headers["Transfer-Encoding"] == "chunked"
            while line := resp.readline():
                yield json.loads(line)
        finally:
            conn.close()

    def watchers(self) -> int:
        return int(self.srv.call(self.store.watcher_count))


def make_env(store: MemoryStore, **settings: Any) -> Any:
    store.create(
        "", "namespaces", {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "ns1"}}
    )
    return build_app(store, filters=[admin_filter], settings=RestSettings(**settings))


@pytest.fixture
def env() -> Iterator[Env]:
    store = MemoryStore(history=100, watch_queue=64)
    with serve(make_env(store, bookmark_interval=0.2, write_timeout=2.0)) as srv:
        yield Env(srv, store)


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
    }


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_official_watch_sees_added_modified_deleted(env: Env) -> None:
    api = env.core
    api.create_namespaced_pod("ns1", pod("before"))
    listed = api.list_namespaced_pod("ns1")
    rv = listed.metadata.resource_version
    api.create_namespaced_pod("ns1", pod("p"))
    api.patch_namespaced_pod("p", "ns1", {"metadata": {"labels": {"x": "1"}}})
    api.delete_namespaced_pod("p", "ns1")
    w = watch.Watch()
    seen = [
        (e["type"], e["object"].metadata.name)
        for e in w.stream(api.list_namespaced_pod, "ns1", resource_version=rv, timeout_seconds=1)
    ]
    # The DELETE first marks the pod (deletionTimestamp, grace 0: it is on no node), as kube.
    assert seen == [("ADDED", "p"), ("MODIFIED", "p"), ("MODIFIED", "p"), ("DELETED", "p")]


def test_watch_without_version_starts_with_current_state(env: Env) -> None:
    env.core.create_namespaced_pod("ns1", pod("a"))
    env.core.create_namespaced_pod("ns1", pod("b"))
    events = list(env.stream("/api/v1/namespaces/ns1/pods?watch=1&timeoutSeconds=1"))
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]
    assert events[0]["object"]["kind"] == "Pod"


def test_watch_path_form_and_single_object(env: Env) -> None:
    env.core.create_namespaced_pod("ns1", pod("a"))
    env.core.create_namespaced_pod("ns1", pod("b"))
    events = list(env.stream("/api/v1/watch/namespaces/ns1/pods/b?timeoutSeconds=1"))
    assert [e["object"]["metadata"]["name"] for e in events] == ["b"]
    events = list(env.stream("/api/v1/watch/pods?timeoutSeconds=1&labelSelector=none%3D1"))
    assert events == []


def test_too_old_version_is_an_error_event() -> None:
    store = MemoryStore(history=5)
    with serve(make_env(store)) as srv:
        e = Env(srv, store)
        for i in range(20):
            e.core.create_namespaced_config_map("ns1", {"metadata": {"name": f"c{i}"}})
        events = list(e.stream("/api/v1/namespaces/ns1/configmaps?watch=true&resourceVersion=2"))
        assert len(events) == 1 and events[0]["type"] == "ERROR"
        status = events[0]["object"]
        assert status["code"] == 410 and status["reason"] == "Expired"
        assert status["message"] == f"too old resource version: 2 ({store.compacted_revision()})"
        w = watch.Watch()
        with pytest.raises(k.ApiException) as err:
            list(
                w.stream(
                    e.core.list_namespaced_config_map,
                    "ns1",
                    resource_version="2",
                    timeout_seconds=1,
                )
            )
        assert err.value.status == 410


def test_bookmarks_and_initial_events(env: Env) -> None:
    env.core.create_namespaced_pod("ns1", pod("a"))
    rv = env.store.revision()
    events = list(
        env.stream(
            "/api/v1/namespaces/ns1/pods?watch=1&allowWatchBookmarks=true&sendInitialEvents=true"
            "&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"
        )
    )
    assert events[0]["type"] == "ADDED"
    end = events[1]
    assert end["type"] == "BOOKMARK"
    assert end["object"]["metadata"] == {
        "resourceVersion": str(rv),
        "annotations": {"k8s.io/initial-events-end": "true"},
    }
    assert end["object"]["kind"] == "Pod"
    periodic = [e for e in events[2:] if e["type"] == "BOOKMARK"]
    assert periodic and periodic[0]["object"]["metadata"] == {"resourceVersion": str(rv)}
    code = http.client.HTTPConnection(env.netloc)
    code.request("GET", "/api/v1/pods?watch=1&sendInitialEvents=true")
    resp = code.getresponse()
    assert resp.status == 422
    code.close()


def test_selector_transitions_are_added_and_deleted(env: Env) -> None:
    api = env.core
    api.create_namespaced_pod("ns1", pod("p"))
    rv = env.store.revision()
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"name": "n1"},
    }
    conn = http.client.HTTPConnection(env.netloc)
    conn.request("POST", "/api/v1/namespaces/ns1/pods/p/binding", json.dumps(binding))
    assert conn.getresponse().status == 201
    conn.close()
    api.patch_namespaced_pod_status("p", "ns1", {"status": {"phase": "Running"}})
    api.patch_namespaced_pod_status("p", "ns1", {"status": {"phase": "Succeeded"}})
    path = (
        f"/api/v1/pods?watch=1&resourceVersion={rv}&timeoutSeconds=1"
        "&fieldSelector=spec.nodeName%3Dn1,status.phase!%3DSucceeded"
    )
    events = [(e["type"], e["object"]["status"]["phase"]) for e in env.stream(path)]
    assert events == [("ADDED", "Pending"), ("MODIFIED", "Running"), ("DELETED", "Running")]


def test_timeout_ends_the_stream_cleanly(env: Env) -> None:
    start = time.monotonic()
    assert (
        list(env.stream("/api/v1/namespaces/ns1/pods?watch=1&resourceVersion=1&timeoutSeconds=1"))
        == []
    )
    assert 0.9 < time.monotonic() - start < 3
    wait_for(lambda: env.watchers() == 0)


def test_table_watch_for_kubectl_get_w(env: Env) -> None:
    env.core.create_namespaced_pod("ns1", pod("a"))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    events = list(
        env.stream("/api/v1/namespaces/ns1/pods?watch=1&timeoutSeconds=1", {"Accept": accept})
    )
    assert events[0]["type"] == "ADDED"
    assert events[0]["object"]["kind"] == "Table"
    assert events[0]["object"]["rows"][0]["cells"][0] == "a"


def test_dropped_connection_frees_the_watcher(env: Env) -> None:
    sock = socket.create_connection(
        env.netloc.split(":") and (env.netloc.split(":")[0], int(env.netloc.split(":")[1]))
    )
    sock.sendall(b"GET /api/v1/namespaces/ns1/pods?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in sock.recv(4096)
    wait_for(lambda: env.watchers() == 1)
    sock.close()
    env.core.create_namespaced_pod("ns1", pod("after-close"))
    wait_for(lambda: env.watchers() == 0)


def test_slow_reader_does_not_stall_writers_or_other_watchers(env: Env) -> None:
    host, port = env.netloc.split(":")
    slow = socket.create_connection((host, int(port)))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(b"GET /api/v1/namespaces/ns1/configmaps?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    received: list[str] = []
    fast = http.client.HTTPConnection(env.netloc, timeout=10)
    fast.request("GET", "/api/v1/namespaces/ns1/configmaps?watch=1&timeoutSeconds=20")
    resp = fast.getresponse()
    wait_for(lambda: env.watchers() == 2)
    payload = "x" * 200_000  # enough to fill the kernel's socket buffers on loopback
    start = time.monotonic()
    for i in range(100):
        env.core.create_namespaced_config_map(
            "ns1", {"metadata": {"name": f"c{i}"}, "data": {"p": payload}}
        )
        line = resp.readline()
        received.append(json.loads(line)["object"]["metadata"]["name"])
    assert received == [f"c{i}" for i in range(100)]
    assert time.monotonic() - start < 15
    # The slow watcher overflowed or timed out its writes and was dropped; the fast one remains.
    wait_for(lambda: env.watchers() == 1, timeout=10)
    slow.close()
    fast.close()
