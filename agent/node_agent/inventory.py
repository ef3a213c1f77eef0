"""The live inventory of the node's Pods: one lock, atomic relists, a cached JSON rendering.

Readers (``/pods``, the file writer) never see a half-applied relist: a relist builds the new
map aside and swaps it in under the lock. The rendering is cached per version, so a busy
``/pods`` endpoint costs one ``json.dumps`` per change, not per request.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from .projection import LabelPolicy, PodView, pod_key, project

__all__ = ["Change", "Inventory", "Rendering"]

Change = Callable[[str, str], None]
"""Listener called after each change with (``ADDED``/``MODIFIED``/``DELETED``/``RELIST``, key)."""


class Rendering(NamedTuple):
    """The ``/pods`` document at one inventory version, with a content ETag."""

    version: int
    data: bytes
    etag: str


class Inventory:
    """Projected Pods of one node keyed by ``namespace/name``, plus the resourceVersion.

    ``labels`` bounds the labels kept per Pod (see :class:`~.projection.LabelPolicy`).
    """

    def __init__(self, node: str, labels: LabelPolicy | None = None) -> None:
        self.node = node
        self.labels = labels if labels is not None else LabelPolicy()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pods: dict[str, PodView] = {}
        self._resource_version = ""
        self._version = 0
        self._rendered = Rendering(-1, b"", "")
        self._synced_at: float | None = None
        self._listeners: list[Change] = []

    # ------------------------------------------------------------------ writers

    def replace(self, pods: Iterable[dict[str, Any]], resource_version: str) -> tuple[int, int]:
        """Swap in the result of a complete list; returns (pods added, pods removed).

        Pods present before and after keep a single entry; pods gone from the list (deleted
        while the watch was broken) disappear. This is how a relist after 410 Gone neither
        loses nor duplicates a Pod.
        """
        return self.replace_views((self.project(pod) for pod in pods), resource_version)

    def project(self, pod: dict[str, Any]) -> PodView:
        """``pod`` as this inventory keeps it (labels bounded by its policy)."""
        return project(pod, self.labels)

    def replace_views(self, views: Iterable[PodView], resource_version: str) -> tuple[int, int]:
        """:meth:`replace` with Pods already projected by :meth:`project` (a relist projects
        page by page, so a page's full Pods are freed before the next page arrives)."""
        fresh = {f"{view['namespace']}/{view['name']}": view for view in views}
        with self._changed:
            added = len(fresh.keys() - self._pods.keys())
            removed = len(self._pods.keys() - fresh.keys())
            self._pods = fresh
            self._resource_version = resource_version
            self._synced_at = time.time()
            self._bump()
        self._notify("RELIST", "")
        return added, removed

    def apply(self, event_type: str, pod: dict[str, Any]) -> None:
        """Apply one watch event (``ADDED``, ``MODIFIED`` or ``DELETED``) in stream order."""
        key = pod_key(pod)
        rv = str((pod.get("metadata") or {}).get("resourceVersion", ""))
        view = None if event_type == "DELETED" else self.project(pod)  # outside the lock
        with self._changed:
            if view is None:
                self._pods.pop(key, None)
            else:
                self._pods[key] = view
            if rv:
                self._resource_version = rv
            self._bump()
        self._notify(event_type, key)

    def bookmark(self, resource_version: str) -> None:
        """Advance the resourceVersion without content changes (resume point for watches)."""
        with self._changed:
            if resource_version and resource_version != self._resource_version:
                self._resource_version = resource_version
                self._bump()

    def _bump(self) -> None:
        self._version += 1
        self._changed.notify_all()

    def _notify(self, kind: str, key: str) -> None:
        for listener in self._listeners:
            listener(kind, key)

    def add_listener(self, listener: Change) -> None:
        """Call ``listener`` after every change (it must be quick; it runs on the watch thread)."""
        self._listeners.append(listener)

    # ------------------------------------------------------------------ readers

    @property
    def synced(self) -> bool:
        """True once a complete list has been applied (readiness)."""
        return self._synced_at is not None

    @property
    def resource_version(self) -> str:
        return self._resource_version

    @property
    def version(self) -> int:
        """Increments on every change; the file writer compares it with what it wrote."""
        return self._version

    def __len__(self) -> int:
        return len(self._pods)

    def pods(self) -> list[PodView]:
        """A copy of the projected Pods, sorted by namespace and name."""
        with self._lock:
            return [self._pods[key] for key in sorted(self._pods)]

    def labels_omitted(self) -> int:
        """How many Pods lost labels to the byte bound (``labelsOmitted`` in their view)."""
        with self._lock:
            return sum(1 for view in self._pods.values() if view.get("labelsOmitted"))

    def keys(self) -> set[str]:
        with self._lock:
            return set(self._pods)

    def render(self) -> Rendering:
        """The JSON document ``{"node", "resourceVersion", "pods"}``, cached per version."""
        with self._lock:
            if self._rendered.version == self._version:
                return self._rendered
            document = {
                "node": self.node,
                "resourceVersion": self._resource_version,
                "pods": [self._pods[key] for key in sorted(self._pods)],
            }
            data = json.dumps(document, separators=(",", ":")).encode()
            etag = '"' + hashlib.blake2b(data, digest_size=8).hexdigest() + '"'
            self._rendered = Rendering(self._version, data, etag)
            return self._rendered

    def wake(self) -> None:
        """Wake every :meth:`wait_changed` caller (used when stopping)."""
        with self._changed:
            self._changed.notify_all()

    def wait_changed(self, since: int, timeout: float) -> int:
        """Block until the version differs from ``since`` or ``timeout`` passes; return it."""
        with self._changed:
            if self._version == since:
                self._changed.wait(timeout)
            return self._version
