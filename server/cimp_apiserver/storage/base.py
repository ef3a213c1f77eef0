"""The storage interface the REST layer programs against (etcd's role in kube-apiserver).

One global, monotonically increasing resourceVersion orders every write across all resources,
as etcd's revision does, so that list/watch semantics (resume, 410 Gone, consistent paginated
snapshots) mean the same thing for every resource and survive restarts of a durable store.

Objects are plain JSON-shaped dicts. A stored object is shared between readers and never
mutated once stored: writers hand a fresh dict to the store (which takes ownership) and readers
copy before changing anything. Each stored object also keeps its JSON encoding, so lists and
watch events are written without re-encoding.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..status import StatusError, gone

if TYPE_CHECKING:
    from .watcher import Watcher

__all__ = [
    "ADDED",
    "DELETED",
    "MODIFIED",
    "Event",
    "Predicate",
    "Record",
    "Store",
    "encode",
    "now_rfc3339",
    "too_large_resource_version",
    "too_old_resource_version",
]

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]


def encode(obj: object) -> bytes:
    """Compact JSON, ASCII-only so that lone surrogates from hostile input cannot break it."""
    return json.dumps(obj, separators=(",", ":")).encode()


def now_rfc3339() -> str:
    """Kubernetes' ``metav1.Time`` wire form: second precision, UTC, ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Record:
    """A stored object with its resourceVersion and JSON encoding (both derived from ``obj``)."""

    obj: Obj
    raw: bytes
    rv: int

    @classmethod
    def of(cls, obj: Obj, rv: int) -> Record:
        return cls(obj, encode(obj), rv)

    @property
    def namespace(self) -> str:
        return str(self.obj.get("metadata", {}).get("namespace") or "")

    @property
    def name(self) -> str:
        return str(self.obj.get("metadata", {}).get("name") or "")


@dataclass(frozen=True, slots=True)
class Event:
    """One committed change. ``record`` is the object after it (for DELETED: its last state,
    stamped with the deletion's resourceVersion, as etcd watches report it); ``prev`` the
    object before it (None for ADDED)."""

    type: str
    rv: int
    group: str
    resource: str
    namespace: str
    name: str
    record: Record
    prev: Record | None


def too_old_resource_version(rv: int, compacted: int) -> StatusError:
    """410 Gone as etcd's compaction error reaches clients."""
    return gone(f"too old resource version: {rv} ({compacted})")


def too_large_resource_version(rv: int, current: int) -> StatusError:
    """504 for a resourceVersion the store has not reached (kube waits, then says this)."""
    return StatusError(
        504,
        "Timeout",
        f"Timeout: Too large resource version: {rv}, current: {current}",
        {
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": 1,
        },
    )


class Store(Protocol):
    """What the REST layer, the authorizers and the token authenticator use.

    Errors are :class:`~..status.StatusError` in kube's wording: AlreadyExists and Conflict
    (409), NotFound (404) where the caller named one object, Expired (410) for versions that
    fell out of the event history, Timeout (504) for versions from the future.
    All methods are synchronous and cheap; call them from the event loop thread.
    """

    def revision(self, group: str | None = None, resource: str | None = None) -> int:
        """The latest resourceVersion (of the whole store, or of the last change to one
        resource: authorizers rebuild their indexes only when it moves)."""
        ...

    def compacted_revision(self) -> int:
        """Watches and exact lists must start at or after this resourceVersion."""
        ...

    def get(self, group: str, resource: str, namespace: str, name: str) -> Record | None: ...

    def list_objects(self, group: str, resource: str) -> list[Obj]:
        """Current objects of one resource (shared: do not mutate); for authorizer indexes."""
        ...

    def list(
        self,
        group: str,
        resource: str,
        namespace: str | None = None,
        *,
        at: int | None = None,
    ) -> tuple[list[Record], int]:
        """Objects sorted by (namespace, name) and the resourceVersion of that snapshot.

        ``at`` asks for the state as of an older resourceVersion (410 if compacted)."""
        ...

    def create(self, group: str, resource: str, obj: Obj) -> Record:
        """Store a new object; sets resourceVersion, and uid/creationTimestamp if absent."""
        ...

    def update(
        self, group: str, resource: str, obj: Obj, *, expect_rv: int | None = None
    ) -> Record:
        """Replace an object; 409 if ``expect_rv`` is given and is not the current one."""
        ...

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
        """Remove an object (preconditions ``uid``/``rv``: 409 on mismatch)."""
        ...

    def dependents(self, uid: str) -> builtins.list[tuple[str, str, str, str]]:
        """``(group, resource, namespace, name)`` of objects owned by ``uid``."""
        ...

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
        """Subscribe to changes after ``since`` (replayed from the history) or from now on;
        ``initial`` first reports every current object as ADDED."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes into one commit; watchers hear of them only once it is durable."""
        ...

    def close_watchers(self, group: str | None = None, resource: str | None = None) -> None:
        """End every watch (server shutdown), or those of one resource (its CRD is gone)."""
        ...

    def close(self) -> None: ...
