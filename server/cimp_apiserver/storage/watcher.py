"""One watch subscription: a bounded per-watcher queue fed synchronously by the store.

Writers never wait for watchers: an event is filtered and appended in O(1); a watcher whose
queue overflows is closed (its client re-watches from its last resourceVersion), which is what
kube-apiserver's watch cache does with unresponsive watchers.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections import deque
from collections.abc import Callable, Iterable

from .base import ADDED, DELETED, MODIFIED, Event, Predicate, Record

__all__ = ["WatchItem", "Watcher"]

WatchItem = tuple[str, Record]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _restamp(record: Record, rv: int) -> Record:
    """``record``'s object with resourceVersion ``rv`` (a selector-induced DELETED event)."""
    obj = copy.copy(record.obj)
    meta = dict(obj.get("metadata") or {})
    meta["resourceVersion"] = str(rv)
    obj["metadata"] = meta
    return Record.of(obj, rv)


class Watcher:
    """Events for one client, in resourceVersion order, filtered by namespace and predicate."""

    def __init__(
        self,
        group: str,
        resource: str,
        namespace: str | None,
        predicate: Predicate | None,
        *,
        max_queue: int,
        loop: asyncio.AbstractEventLoop | None,
        on_close: Callable[[Watcher], None] | None = None,
    ) -> None:
        self.group = group
        self.resource = resource
        self.namespace = namespace
        self.predicate = predicate
        self.max_queue = max_queue
        self.loop = loop
        self.closed = False
        self.overflowed = False
        self._backlog: deque[WatchItem] = deque()
        self._queue: deque[WatchItem] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._on_close = on_close

    # ------------------------------------------------------------------ producer side

    def preload(self, items: Iterable[WatchItem]) -> None:
        """Initial or replayed events, delivered before live ones and never counted as overflow."""
        self._backlog.extend(items)

    def translate(self, event: Event) -> WatchItem | None:
        """What this watcher sees of ``event``: kube turns an object that starts or stops
        matching the selectors into ADDED or DELETED."""
        if self.namespace is not None and event.namespace != self.namespace:
            return None
        pred = self.predicate
        if pred is None:
            return (event.type, event.record)
        if event.type == MODIFIED and event.prev is not None:
            now = pred(event.record.obj)
            before = pred(event.prev.obj)
            if now and before:
                return (MODIFIED, event.record)
            if now:
                return (ADDED, event.record)
            if before:
                return (DELETED, _restamp(event.prev, event.rv))
            return None
        if pred(event.record.obj):
            return (event.type if event.type in (ADDED, DELETED) else MODIFIED, event.record)
        return None

    def offer(self, event: Event, running: asyncio.AbstractEventLoop | None) -> None:
        """Queue ``event`` if it concerns this watcher. ``running`` is the caller's loop: from
        another thread the append is handed to the watcher's loop."""
        if self.closed:
            return
        item = self.translate(event)
        if item is None:
            return
        if self.loop is None or running is self.loop:
            self._push(item)
        else:
            try:
                self.loop.call_soon_threadsafe(self._push, item)
            except RuntimeError:  # loop closed: nobody is listening any more
                self.close()

    def _push(self, item: WatchItem) -> None:
        if self.closed:
            return
        if len(self._queue) >= self.max_queue:
            self.overflowed = True
            self.close()
            return
        self._queue.append(item)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ------------------------------------------------------------------ consumer side

    def pending(self) -> int:
        return len(self._backlog) + len(self._queue)

    def poll(self) -> WatchItem | None:
        """The next event without waiting, or None."""
        if self.closed:
            return None
        if self._backlog:
            return self._backlog.popleft()
        if self._queue:
            return self._queue.popleft()
        return None

    def backlog_size(self) -> int:
        """Initial or replayed events not yet taken (0 once the live part begins)."""
        return len(self._backlog)

    async def wait(self) -> None:
        """Return once an event is available or the watch is closed."""
        if self.closed or self._backlog or self._queue:
            return
        loop = asyncio.get_running_loop()
        self.loop = self.loop or loop
        self._waiter = loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def next(self) -> WatchItem | None:
        """The next event; None once the watch is closed (shutdown or overflow)."""
        while True:
            item = self.poll()
            if item is not None or self.closed:
                return item
            await self.wait()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._queue.clear()
        self._backlog.clear()
        if self.loop is not None and self._waiter is not None:
            if _running_loop() is self.loop:
                self._wake()
            else:  # closed from another thread (server shutdown)
                with contextlib.suppress(RuntimeError):
                    self.loop.call_soon_threadsafe(self._wake)
        callback, self._on_close = self._on_close, None
        if callback is not None:
            callback(self)
