"""The durable store: the in-memory engine plus a SQLite write-ahead commit per write.

SQLite runs in WAL mode; a write returns (and watchers hear of it) only after its transaction
committed, so an acknowledged object survives SIGKILL (``synchronous=NORMAL``) or power loss
too (``FULL``, the default). Objects and the bounded event history are both persisted: a
restarted server continues the resourceVersion sequence and watches resume from any version
still in the history.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path

from constrained_impersonation._private_files import create_private, private_dir

from .base import DELETED, Event, Record
from .memory import DEFAULT_HISTORY, DEFAULT_WATCH_QUEUE, MemoryStore

__all__ = ["SQLiteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    grp TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,
    rv INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (grp, res, ns, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    rv INTEGER PRIMARY KEY, type TEXT NOT NULL,
    grp TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,
    body BLOB NOT NULL, prev_rv INTEGER, prev BLOB
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

_SYNC_MODES = ("FULL", "NORMAL", "EXTRA")


class SQLiteStore(MemoryStore):
    """A :class:`~.base.Store` persisted in ``path`` (a file; its directory is created 0700)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        history: int = DEFAULT_HISTORY,
        watch_queue: int = DEFAULT_WATCH_QUEUE,
        synchronous: str = "FULL",
    ) -> None:
        super().__init__(history=history, watch_queue=watch_queue)
        if synchronous.upper() not in _SYNC_MODES:
            raise ValueError(f"synchronous must be one of {_SYNC_MODES}")
        self.path = Path(path)
        # The store holds Secret objects: its directory 0700, the database 0600 before SQLite
        # opens it (SQLite creates the -wal and -shm files with the database file's mode).
        private_dir(self.path.parent)
        create_private(self.path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._load()

    # ------------------------------------------------------------------ start-up

    def _meta_value(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _load(self) -> None:
        with self._lock:
            last = self._meta_value("rv")
            self._compacted = self._meta_value("compacted")
            for grp, res, ns, name, rv, body in self._db.execute(
                "SELECT grp, res, ns, name, rv, body FROM objects"
            ):
                record = Record(json.loads(body), bytes(body), int(rv))
                self._place((grp, res), (ns, name), record, None)
                gr = (grp, res)
                self._res_rev[gr] = max(self._res_rev.get(gr, 0), int(rv))
                last = max(last, int(rv))
            rows = self._db.execute(
                "SELECT rv, type, grp, res, ns, name, body, prev_rv, prev FROM events "
                "WHERE rv > ? ORDER BY rv",
                (self._compacted,),
            )
            for rv, kind, grp, res, ns, name, body, prev_rv, prev in rows:
                record = Record(json.loads(body), bytes(body), int(rv))
                before = None if prev is None else Record(json.loads(prev), bytes(prev), prev_rv)
                self._history.append(Event(kind, int(rv), grp, res, ns, name, record, before))
                gr = (grp, res)
                self._res_rev[gr] = max(self._res_rev.get(gr, 0), int(rv))
                last = max(last, int(rv))
            self._rv = self._committed = last

    # ------------------------------------------------------------------ persistence hooks

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def _persist(self, event: Event) -> None:
        key = (event.group, event.resource, event.namespace, event.name)
        if event.type == DELETED:
            self._db.execute(
                "DELETE FROM objects WHERE grp = ? AND res = ? AND ns = ? AND name = ?", key
            )
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO objects (grp, res, ns, name, rv, body) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (*key, event.rv, event.record.raw),
            )
        prev = event.prev
        self._db.execute(
            "INSERT INTO events (rv, type, grp, res, ns, name, body, prev_rv, prev) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.rv,
                event.type,
                *key,
                event.record.raw,
                None if prev is None else prev.rv,
                None if prev is None else prev.raw,
            ),
        )

    def _commit(self) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('rv', ?)", (self._rv,))
        self._db.execute("COMMIT")

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _prune(self, compacted: int) -> None:
        # Outside the write's transaction: losing it to a crash only keeps extra history.
        try:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM events WHERE rv <= ?", (compacted,))
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('compacted', ?)", (compacted,)
            )
            self._db.execute("COMMIT")
        except sqlite3.Error:
            self._rollback()

    def close(self) -> None:
        super().close()
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.close()
