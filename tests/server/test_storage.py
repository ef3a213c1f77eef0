"""The store contract, for both implementations: versions, conflicts, snapshots, watches."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cimp_apiserver.status import StatusError
from cimp_apiserver.storage import MemoryStore, SQLiteStore, open_store

REPO = Path(__file__).resolve().parents[2]


def pod(name: str, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
        "spec": {"nodeName": ""},
    }


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore]:
    s = (
        MemoryStore(history=50)
        if request.param == "memory"
        else SQLiteStore(tmp_path / "db.sqlite3", history=50, synchronous="NORMAL")
    )
    yield s
    s.close()


def test_create_assigns_identity_and_global_versions(store: MemoryStore) -> None:
    a = store.create("", "pods", pod("a"))
    b = store.create("", "configmaps", {"metadata": {"name": "b", "namespace": "default"}})
    assert a.rv == 1 and b.rv == 2
    meta = a.obj["metadata"]
    assert meta["resourceVersion"] == "1"
    assert len(meta["uid"]) == 36
    assert meta["creationTimestamp"].endswith("Z")
    assert store.revision() == 2
    assert store.revision("", "pods") == 1
    assert store.revision("", "configmaps") == 2
    with pytest.raises(StatusError) as err:
        store.create("", "pods", pod("a"))
    assert err.value.code == 409 and err.value.reason == "AlreadyExists"
    assert err.value.message == 'pods "a" already exists'


def test_list_sorted_and_namespaced(store: MemoryStore) -> None:
    for ns, name in [("b", "z"), ("a", "y"), ("b", "a"), ("ab", "q")]:
        store.create("", "pods", pod(name, ns))
    records, rv = store.list("", "pods")
    assert [(r.namespace, r.name) for r in records] == [
        ("a", "y"),
        ("ab", "q"),
        ("b", "a"),
        ("b", "z"),
    ]
    assert rv == 4
    assert [r.name for r in store.list("", "pods", "b")[0]] == ["a", "z"]
    assert [r.name for r in store.list("", "pods", "a")[0]] == ["y"]
    assert store.list("", "pods", "nope")[0] == []
    assert len(store.list_objects("", "pods")) == 4


def test_update_conflict_and_noop(store: MemoryStore) -> None:
    created = store.create("", "pods", pod("a"))
    changed = pod("a", app="x")
    updated = store.update("", "pods", changed, expect_rv=created.rv)
    assert updated.rv == 2
    assert updated.obj["metadata"]["uid"] == created.obj["metadata"]["uid"]
    with pytest.raises(StatusError) as err:
        store.update("", "pods", pod("a"), expect_rv=created.rv)
    assert err.value.code == 409 and err.value.reason == "Conflict"
    assert "the object has been modified" in err.value.message
    same = store.update("", "pods", dict(updated.obj))
    assert same.rv == 2 and store.revision() == 2
    with pytest.raises(StatusError) as err:
        store.update("", "pods", pod("missing"))
    assert err.value.code == 404


def test_delete_preconditions(store: MemoryStore) -> None:
    created = store.create("", "pods", pod("a"))
    with pytest.raises(StatusError) as err:
        store.delete("", "pods", "default", "a", uid="other")
    assert err.value.code == 409 and "Precondition failed: UID in precondition" in err.value.message
    with pytest.raises(StatusError) as err:
        store.delete("", "pods", "default", "a", rv=99)
    assert "ResourceVersion in precondition: 99" in err.value.message
    gone = store.delete("", "pods", "default", "a", uid=created.obj["metadata"]["uid"], rv=1)
    assert gone.rv == 2 and gone.obj["metadata"]["resourceVersion"] == "2"
    assert store.get("", "pods", "default", "a") is None
    with pytest.raises(StatusError) as err:
        store.delete("", "pods", "default", "a")
    assert err.value.code == 404


def test_snapshot_at_older_version_and_compaction(store: MemoryStore) -> None:
    store.create("", "pods", pod("a"))
    store.create("", "pods", pod("b"))
    store.create("", "nodes", {"metadata": {"name": "n"}})
    store.update("", "pods", pod("a", v="2"))
    store.delete("", "pods", "default", "b")
    store.create("", "pods", pod("c"))
    at2, rv = store.list("", "pods", at=2)
    assert rv == 2
    assert [(r.name, r.rv) for r in at2] == [("a", 1), ("b", 2)]
    at4 = store.list("", "pods", at=4)[0]
    assert [(r.name, r.rv) for r in at4] == [("a", 4), ("b", 2)]
    with pytest.raises(StatusError) as err:
        store.list("", "pods", at=100)
    assert err.value.code == 504
    for i in range(80):
        store.create("", "configmaps", {"metadata": {"name": f"c{i}", "namespace": "x"}})
    assert store.compacted_revision() > 2
    with pytest.raises(StatusError) as err:
        store.list("", "pods", at=2)
    assert err.value.code == 410
    assert err.value.message == f"too old resource version: 2 ({store.compacted_revision()})"
    with pytest.raises(StatusError):
        store.watch("", "pods", since=1)


def test_owner_index(store: MemoryStore) -> None:
    owner = store.create("apps", "daemonsets", {"metadata": {"name": "d", "namespace": "n"}})
    uid = owner.obj["metadata"]["uid"]
    child = pod("p", "n")
    child["metadata"]["ownerReferences"] = [{"uid": uid, "kind": "DaemonSet", "name": "d"}]
    store.create("", "pods", child)
    assert store.dependents(uid) == [("", "pods", "n", "p")]
    store.delete("", "pods", "n", "p")
    assert store.dependents(uid) == []


def drain(watcher: Any) -> list[tuple[str, str, int]]:
    out = []
    while (item := watcher.poll()) is not None:
        out.append((item[0], item[1].name, item[1].rv))
    return out


def test_watch_replay_initial_and_selector_transitions(store: MemoryStore) -> None:
    store.create("", "pods", pod("a", "n1", app="x"))
    store.create("", "pods", pod("b", "n2", app="x"))
    replay = store.watch("", "pods", since=1)
    assert drain(replay) == [("ADDED", "b", 2)]
    initial = store.watch("", "pods", "n1", initial=True)
    assert drain(initial) == [("ADDED", "a", 1)]
    selected = store.watch(
        "", "pods", predicate=lambda o: o["metadata"]["labels"].get("app") == "x"
    )
    store.update("", "pods", pod("a", "n1", app="y"))  # stops matching
    store.update("", "pods", pod("a", "n1", app="x"))  # matches again
    store.update("", "pods", pod("a", "n1", app="x", more="1"))
    store.delete("", "pods", "n2", "b")
    assert drain(selected) == [
        ("DELETED", "a", 3),
        ("ADDED", "a", 4),
        ("MODIFIED", "a", 5),
        ("DELETED", "b", 6),
    ]
    assert [t for t, _, _ in drain(initial)] == ["MODIFIED", "MODIFIED", "MODIFIED"]
    assert [t for t, _, _ in drain(replay)] == ["MODIFIED"] * 3 + ["DELETED"]
    for w in (replay, initial, selected):
        w.close()
    assert store.watcher_count() == 0


def test_slow_watcher_is_closed_not_blocking() -> None:
    store = MemoryStore(watch_queue=3)
    slow = store.watch("", "pods")
    fast = store.watch("", "pods")
    for i in range(5):
        store.create("", "pods", pod(f"p{i}"))
        fast.poll()
    assert slow.closed and slow.overflowed
    assert not fast.closed
    assert store.watcher_count() == 1


def test_watch_wakes_async_consumer() -> None:
    async def main() -> list[str]:
        store = MemoryStore()
        watcher = store.watch("", "pods")
        got: list[str] = []

        async def consume() -> None:
            while (item := await watcher.next()) is not None:
                got.append(item[1].name)

        task = asyncio.create_task(consume())
        await asyncio.sleep(0)
        store.create("", "pods", pod("a"))
        store.create("", "pods", pod("b"))
        await asyncio.sleep(0.01)
        store.close_watchers()
        await asyncio.wait_for(task, 1)
        return got

    assert asyncio.run(main()) == ["a", "b"]


def test_failed_commit_rolls_memory_back(store: MemoryStore, monkeypatch: Any) -> None:
    store.create("", "pods", pod("a"))
    watcher = store.watch("", "pods")

    def broken() -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store, "_commit", broken)
    with pytest.raises(StatusError) as err, store.transaction():
        store.create("", "pods", pod("b"))
        store.delete("", "pods", "default", "a")
    assert err.value.code == 500
    monkeypatch.undo()
    assert [r.name for r in store.list("", "pods")[0]] == ["a"]
    assert store.revision() == 1
    assert drain(watcher) == []
    assert store.create("", "pods", pod("c")).rv == 2


def test_sqlite_restart_keeps_objects_versions_and_history(tmp_path: Path) -> None:
    store = open_store(tmp_path, history=20)
    assert isinstance(store, SQLiteStore)
    store.create("", "namespaces", {"metadata": {"name": "n"}})
    store.create("", "pods", pod("a", "n"))
    store.update("", "pods", pod("a", "n", v="2"))
    store.close()

    again = open_store(tmp_path, history=20)
    assert again.revision() == 3
    assert again.revision("", "pods") == 3
    assert again.get("", "pods", "n", "a") is not None
    watcher = again.watch("", "pods", since=1)
    assert drain(watcher) == [("ADDED", "a", 2), ("MODIFIED", "a", 3)]
    assert again.create("", "pods", pod("b", "n")).rv == 4
    for i in range(40):
        again.create("", "configmaps", {"metadata": {"name": f"c{i}", "namespace": "n"}})
    compacted = again.compacted_revision()
    assert compacted > 0
    again.close()

    third = open_store(tmp_path, history=20)
    assert third.compacted_revision() == compacted
    assert third.revision() == 44
    with pytest.raises(StatusError):
        third.watch("", "pods", since=1)
    assert [r.name for r in third.list("", "pods", at=compacted)[0]] == ["a", "b"]
    third.close()


_WRITER = textwrap.dedent(
    """
    import sys
    from cimp_apiserver.storage import open_store
    store = open_store(sys.argv[1])
    i = 0
    while True:
        rec = store.create("", "configmaps", {"metadata": {"name": f"c{i}", "namespace": "n"}})
        print(rec.rv, flush=True)
        i += 1
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_loses_no_acknowledged_write(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "sdk")},
    )
    assert proc.stdout is not None
    acknowledged = [int(proc.stdout.readline()) for _ in range(200)]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = open_store(tmp_path)
    try:
        names = {r.name for r in store.list("", "configmaps")[0]}
        assert {f"c{i}" for i in range(len(acknowledged))} <= names
        assert store.revision() >= acknowledged[-1]
        watcher = store.watch("", "configmaps", since=acknowledged[99])
        rvs = [rv for _, _, rv in drain(watcher)]
        assert rvs == list(range(acknowledged[99] + 1, store.revision() + 1))
    finally:
        store.close()
