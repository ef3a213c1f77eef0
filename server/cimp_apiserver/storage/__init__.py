"""Storage for the embedded API server: one interface, in memory or durable in SQLite."""

from __future__ import annotations

import os
from pathlib import Path

from .base import ADDED, DELETED, MODIFIED, Event, Predicate, Record, Store, encode, now_rfc3339
from .memory import DEFAULT_HISTORY, DEFAULT_WATCH_QUEUE, MemoryStore
from .sqlite import SQLiteStore
from .watcher import Watcher, WatchItem

__all__ = [
    "ADDED",
    "DEFAULT_HISTORY",
    "DEFAULT_WATCH_QUEUE",
    "DELETED",
    "MODIFIED",
    "Event",
    "MemoryStore",
    "Predicate",
    "Record",
    "SQLiteStore",
    "Store",
    "WatchItem",
    "Watcher",
    "encode",
    "now_rfc3339",
    "open_store",
]

DB_FILE = "store.sqlite3"


def open_store(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    history: int = DEFAULT_HISTORY,
    watch_queue: int = DEFAULT_WATCH_QUEUE,
) -> MemoryStore:
    """The store for ``--data-dir``: SQLite in ``<data_dir>/store.sqlite3``, else memory."""
    if data_dir is None:
        return MemoryStore(history=history, watch_queue=watch_queue)
    return SQLiteStore(Path(data_dir) / DB_FILE, history=history, watch_queue=watch_queue)
