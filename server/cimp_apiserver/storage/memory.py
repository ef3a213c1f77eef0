"""The in-memory store: objects, a bounded event history and the watch fan-out.

It is also the engine of the durable store, which keeps the same in-memory state and only adds
a write-ahead commit (see ``sqlite.py``): reads never touch disk, and both stores behave the
same by construction.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import json
import logging
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ..status import StatusError, already_exists, conflict, internal_error, not_found
from .base import (
    ADDED,
    DELETED,
    MODIFIED,
    Event,
    Predicate,
    Record,
    now_rfc3339,
    too_large_resource_version,
    too_old_resource_version,
)
from .watcher import Watcher, WatchItem

__all__ = ["DEFAULT_HISTORY", "DEFAULT_WATCH_QUEUE", "MemoryStore"]

log = logging.getLogger("constrained_impersonation.apiserver.storage")

DEFAULT_HISTORY = 10_000
DEFAULT_WATCH_QUEUE = 1_024
# etcd refuses a write over its --max-request-bytes (1.5 MiB): without a bound, patch after
# patch could grow one object without end. Measured as Go would write the JSON (UTF-8, not the
# ASCII escapes stored here): a custom resource's limit as kube's; kube's protobuf encoding of
# a built-in kind is no larger.
MAX_OBJECT_BYTES = 1536 * 1024

Obj = dict[str, Any]
GR = tuple[str, str]
Key = tuple[str, str]
ObjectRef = tuple[str, str, str, str]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _meta(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _key(obj: Obj) -> Key:
    meta = _meta(obj)
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _owner_uids(record: Record | None) -> Iterable[str]:
    if record is None:
        return ()
    refs = _meta(record.obj).get("ownerReferences") or ()
    return [str(r["uid"]) for r in refs if isinstance(r, dict) and r.get("uid")]


def _bounded(record: Record) -> Record:
    if len(record.raw) > MAX_OBJECT_BYTES:  # cheap first: the escaped text is never shorter
        text = json.dumps(record.obj, ensure_ascii=False, separators=(",", ":"))
        if len(text.encode(errors="surrogatepass")) > MAX_OBJECT_BYTES:
            raise StatusError(500, "", "etcdserver: request is too large")  # etcd's words
    return record


def _with_meta(obj: Obj, meta: dict[str, Any]) -> Obj:
    out = dict(obj)
    out["metadata"] = meta
    return out


class MemoryStore:
    """A :class:`~.base.Store` held in memory; lost when the process ends."""

    def __init__(
        self, *, history: int = DEFAULT_HISTORY, watch_queue: int = DEFAULT_WATCH_QUEUE
    ) -> None:
        self._lock = threading.RLock()
        self._objects: dict[GR, dict[Key, Record]] = {}
        self._sorted: dict[GR, list[Key]] = {}
        self._rv = 0  # last assigned resourceVersion (may be uncommitted)
        self._committed = 0  # last resourceVersion readers and watchers may see
        self._res_rev: dict[GR, int] = {}
        self._history: list[Event] = []
        self._compacted = 0
        self._window = max(1, history)
        self._watch_queue = max(1, watch_queue)
        self._watchers: dict[GR, set[Watcher]] = {}
        self._owners: dict[str, set[ObjectRef]] = {}
        self._depth = 0
        self._pending: list[Event] = []

    # ------------------------------------------------------------------ persistence hooks

    def _begin(self) -> None:
        """A transaction starts (durable stores open one)."""

    def _persist(self, event: Event) -> None:
        """Write one change inside the open transaction."""

    def _commit(self) -> None:
        """Make the open transaction durable; raise if it cannot be."""

    def _rollback(self) -> None:
        """Abandon the open transaction."""

    def _prune(self, compacted: int) -> None:
        """Events up to ``compacted`` left the history."""

    # ------------------------------------------------------------------ reads

    def revision(self, group: str | None = None, resource: str | None = None) -> int:
        if group is None and resource is None:
            return self._committed
        return self._res_rev.get((group or "", resource or ""), 0)

    def compacted_revision(self) -> int:
        return self._compacted

    def get(self, group: str, resource: str, namespace: str, name: str) -> Record | None:
        table = self._objects.get((group, resource))
        return None if table is None else table.get((namespace, name))

    def list_objects(self, group: str, resource: str) -> list[Obj]:
        with self._lock:
            table = self._objects.get((group, resource))
            return [] if table is None else [rec.obj for rec in table.values()]

    def dependents(self, uid: str) -> list[ObjectRef]:
        """Objects naming ``uid`` in their ownerReferences (for cascading deletion)."""
        with self._lock:
            return sorted(self._owners.get(uid, ()))

    def resources(self) -> list[GR]:
        """Every (group, resource) that holds at least one object."""
        with self._lock:
            return [gr for gr, table in self._objects.items() if table]

    def _keys(self, gr: GR) -> list[Key]:
        keys = self._sorted.get(gr)
        if keys is None:
            keys = sorted(self._objects.get(gr, {}))
            self._sorted[gr] = keys
        return keys

    def list(
        self,
        group: str,
        resource: str,
        namespace: str | None = None,
        *,
        at: int | None = None,
    ) -> tuple[list[Record], int]:
        with self._lock:
            gr = (group, resource)
            current = self._committed
            if at is not None and at > current:
                raise too_large_resource_version(at, current)
            if at is None or at == current:
                table = self._objects.get(gr, {})
                keys = self._keys(gr)
                if namespace is not None:
                    lo = bisect.bisect_left(keys, (namespace,))
                    hi = bisect.bisect_left(keys, (namespace + "\x00",))
                    keys = keys[lo:hi]
                return [table[k] for k in keys], current
            if at < self._compacted:
                raise too_old_resource_version(at, self._compacted)
            snapshot = dict(self._objects.get(gr, {}))
            start = bisect.bisect_right(self._history, at, key=lambda e: e.rv)
            for event in reversed(self._history[start:]):
                if (event.group, event.resource) != gr:
                    continue
                key = (event.namespace, event.name)
                if event.prev is None:
                    snapshot.pop(key, None)
                else:
                    snapshot[key] = event.prev
            keys = sorted(k for k in snapshot if namespace is None or k[0] == namespace)
            return [snapshot[k] for k in keys], at

    # ------------------------------------------------------------------ writes

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._pending = []
                self._begin()
            self._depth += 1
            ok = False
            try:
                yield
                ok = True
            finally:
                self._depth -= 1
                if outer:
                    if ok:
                        self._finish()
                    else:
                        self._abort()

    def _finish(self) -> None:
        if not self._pending:
            self._rollback()
            return
        try:
            self._commit()
        except Exception as exc:
            self._abort()
            raise internal_error(f"storage commit failed: {exc}") from exc
        pending, self._pending = self._pending, []
        self._committed = self._rv
        self._history.extend(pending)
        self._compact()
        running = _running_loop()
        for event in pending:
            self._res_rev[(event.group, event.resource)] = event.rv
            for watcher in list(self._watchers.get((event.group, event.resource), ())):
                try:
                    watcher.offer(event, running)
                except Exception:  # a broken filter must not fail the write or other watchers
                    log.exception("closing a watch whose filter failed")
                    watcher.close()

    def _abort(self) -> None:
        try:
            self._rollback()
        finally:
            for event in reversed(self._pending):
                self._undo(event)
            self._pending = []
            self._rv = self._committed

    def compact(self) -> int:
        """Forget the whole event history now, as an etcd compaction does; returns the
        compacted resourceVersion. Watches and continue tokens from before it get 410 Gone."""
        with self._lock:
            if self._history:
                self._compacted = max(self._compacted, self._history[-1].rv)
                self._history.clear()
                self._prune(self._compacted)
            return self._compacted

    def _compact(self) -> None:
        slack = max(1, self._window // 8)
        if len(self._history) < self._window + slack:
            return
        cut = len(self._history) - self._window
        self._compacted = self._history[cut - 1].rv
        del self._history[:cut]
        self._prune(self._compacted)

    def _place(self, gr: GR, key: Key, record: Record | None, before: Record | None) -> None:
        """Set (or remove, for None) one object in memory, keeping the indexes right."""
        table = self._objects.setdefault(gr, {})
        ref = (gr[0], gr[1], key[0], key[1])
        for uid in _owner_uids(before):
            owned = self._owners.get(uid)
            if owned is not None:
                owned.discard(ref)
                if not owned:
                    del self._owners[uid]
        if record is None:
            table.pop(key, None)
            self._sorted.pop(gr, None)
        else:
            if key not in table:
                self._sorted.pop(gr, None)
            table[key] = record
            for uid in _owner_uids(record):
                self._owners.setdefault(uid, set()).add(ref)

    def _apply(self, event: Event) -> None:
        gr = (event.group, event.resource)
        key = (event.namespace, event.name)
        self._place(gr, key, None if event.type == DELETED else event.record, event.prev)
        self._persist(event)
        self._pending.append(event)

    def _undo(self, event: Event) -> None:
        gr = (event.group, event.resource)
        key = (event.namespace, event.name)
        current = None if event.type == DELETED else event.record
        self._place(gr, key, event.prev, current)

    def create(self, group: str, resource: str, obj: Obj) -> Record:
        with self.transaction():
            namespace, name = key = _key(obj)
            if not name:
                raise ValueError("stored objects need metadata.name")  # a caller's bug
            if key in self._objects.get((group, resource), {}):
                raise already_exists(resource, name, group)
            rv = self._rv + 1
            meta = dict(_meta(obj))
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_rfc3339())
            meta["resourceVersion"] = str(rv)
            record = _bounded(Record.of(_with_meta(obj, meta), rv))
            self._rv = rv
            self._apply(Event(ADDED, rv, group, resource, namespace, name, record, None))
            return record

    def update(
        self, group: str, resource: str, obj: Obj, *, expect_rv: int | None = None
    ) -> Record:
        with self.transaction():
            namespace, name = key = _key(obj)
            current = self._objects.get((group, resource), {}).get(key)
            if current is None:
                raise not_found(resource, name, group)
            if expect_rv is not None and expect_rv != current.rv:
                raise conflict(resource, name, group)
            old_meta = _meta(current.obj)
            meta = dict(_meta(obj))
            for immutable in ("uid", "creationTimestamp"):
                if immutable in old_meta:
                    meta[immutable] = old_meta[immutable]
            meta["resourceVersion"] = str(current.rv)
            unchanged = Record.of(_with_meta(obj, meta), current.rv)
            if unchanged.raw == current.raw:
                return current  # etcd skips writes that change nothing: no new version
            rv = self._rv + 1
            meta = dict(meta)
            meta["resourceVersion"] = str(rv)
            record = _bounded(Record.of(_with_meta(obj, meta), rv))
            self._rv = rv
            self._apply(Event(MODIFIED, rv, group, resource, namespace, name, record, current))
            return record

    def delete(
        self,
        group: str,
        resource: str,
        namespace: str,
        name: str,
        *,
        uid: str | None = None,
        rv: int | None = None,
    ) -> Record:
        with self.transaction():
            current = self._objects.get((group, resource), {}).get((namespace, name))
            if current is None:
                raise not_found(resource, name, group)
            have_uid = str(_meta(current.obj).get("uid") or "")
            if uid is not None and uid != have_uid:
                raise conflict(
                    resource,
                    name,
                    group,
                    f"Precondition failed: UID in precondition: {uid}, "
                    f"UID in object meta: {have_uid}",
                )
            if rv is not None and rv != current.rv:
                raise conflict(
                    resource,
                    name,
                    group,
                    f"Precondition failed: ResourceVersion in precondition: {rv}, "
                    f"ResourceVersion in object meta: {current.rv}",
                )
            new_rv = self._rv + 1
            obj = copy.copy(current.obj)
            meta = dict(_meta(obj))
            meta["resourceVersion"] = str(new_rv)
            record = Record.of(_with_meta(obj, meta), new_rv)
            self._rv = new_rv
            self._apply(Event(DELETED, new_rv, group, resource, namespace, name, record, current))
            return record

    # ------------------------------------------------------------------ watch

    def watch(
        self,
        group: str,
        resource: str,
        namespace: str | None = None,
        *,
        since: int | None = None,
        initial: bool = False,
        predicate: Predicate | None = None,
    ) -> Watcher:
        with self._lock:
            current = self._committed
            if since is not None and not initial:
                if since < self._compacted:
                    raise too_old_resource_version(since, self._compacted)
                if since > current:
                    raise too_large_resource_version(since, current)
            watcher = Watcher(
                group,
                resource,
                namespace,
                predicate,
                max_queue=self._watch_queue,
                loop=_running_loop(),
                on_close=self._unwatch,
            )
            if initial:
                records, _ = self.list(group, resource, namespace)
                watcher.preload(
                    (ADDED, rec) for rec in records if predicate is None or predicate(rec.obj)
                )
            elif since is not None:
                start = bisect.bisect_right(self._history, since, key=lambda e: e.rv)
                gr = (group, resource)
                replay: list[WatchItem] = []
                for event in self._history[start:]:
                    if (event.group, event.resource) == gr:
                        item = watcher.translate(event)
                        if item is not None:
                            replay.append(item)
                watcher.preload(replay)
            self._watchers.setdefault((group, resource), set()).add(watcher)
            return watcher

    def _unwatch(self, watcher: Watcher) -> None:
        with self._lock:
            watchers = self._watchers.get((watcher.group, watcher.resource))
            if watchers is not None:
                watchers.discard(watcher)

    def watcher_count(self) -> int:
        with self._lock:
            return sum(len(ws) for ws in self._watchers.values())

    def close_watchers(self, group: str | None = None, resource: str | None = None) -> None:
        with self._lock:
            watchers = [
                w
                for (g, r), ws in self._watchers.items()
                if group is None or (g, r) == (group, resource)
                for w in ws
            ]
        for watcher in watchers:
            watcher.close()

    def close(self) -> None:
        self.close_watchers()
