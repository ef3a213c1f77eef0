"""Deletion as a cluster carries it out: finalizers, garbage collection, namespace termination.

kube-apiserver marks an object with finalizers (``deletionTimestamp``) instead of removing it;
the garbage collector removes dependents (``ownerReferences``) or orphans them; the namespace
controller empties a ``Terminating`` namespace and then removes it. No controllers run here,
so these happen synchronously, inside the request that triggers them (or the one that removes
the last finalizer), and each cascade commits as one transaction.
"""

from __future__ import annotations

import copy
from typing import Any

from . import resources
from .resources import Registry, ResourceType
from .status import StatusError, conflict, not_found
from .storage import Record, Store, now_rfc3339

__all__ = ["BACKGROUND", "FOREGROUND", "ORPHAN", "Lifecycle"]

BACKGROUND = "Background"
FOREGROUND = "Foreground"
ORPHAN = "Orphan"
_NAMESPACE_FINALIZER = "kubernetes"


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _terminating_namespace(store: Store, namespace: str) -> bool:
    rec = store.get("", "namespaces", "", namespace)
    return rec is not None and bool(_meta(rec.obj).get("deletionTimestamp"))


class Lifecycle:
    """Deletes objects with kube's semantics on top of a :class:`~.storage.Store`."""

    def __init__(self, store: Store, registry: Registry | None = None) -> None:
        self.store = store
        self.registry = registry if registry is not None else resources.DEFAULT
        self._sweeping: set[str] = set()

    def check_preconditions(
        self, rt: ResourceType, record: Record, uid: str | None, rv: str | None
    ) -> None:
        meta = _meta(record.obj)
        if uid is not None and uid != meta.get("uid"):
            raise conflict(
                rt.resource,
                record.name,
                rt.group,
                f"Precondition failed: UID in precondition: {uid}, "
                f"UID in object meta: {meta.get('uid', '')}",
            )
        if rv is not None and rv != meta.get("resourceVersion"):
            raise conflict(
                rt.resource,
                record.name,
                rt.group,
                f"Precondition failed: ResourceVersion in precondition: {rv}, "
                f"ResourceVersion in object meta: {meta.get('resourceVersion', '')}",
            )

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        uid: str | None = None,
        rv: str | None = None,
        propagation: str = BACKGROUND,
        dry_run: bool = False,
    ) -> tuple[Record, bool]:
        """Delete one object; ``(record, removed)``: ``removed`` is False when it only got a
        deletionTimestamp (finalizers pending, or a namespace still emptying)."""
        record = self.store.get(rt.group, rt.resource, namespace, name)
        if record is None:
            raise not_found(rt.resource, name, rt.group)
        self.check_preconditions(rt, record, uid, rv)
        if (rt.group, rt.resource) == ("", "namespaces"):
            return self._terminate_namespace(record, dry_run)
        meta = _meta(record.obj)
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp") or dry_run:
                return record, False
            marked = copy.deepcopy(record.obj)
            marked_meta = _meta(marked)
            marked_meta["deletionTimestamp"] = now_rfc3339()
            marked_meta["deletionGracePeriodSeconds"] = 0
            generation = marked_meta.get("generation")
            if isinstance(generation, int) and generation > 0:
                marked_meta["generation"] = generation + 1  # kube's BeforeDelete
            return self.store.update(rt.group, rt.resource, marked), False
        if dry_run:
            return record, True
        uid_of = str(meta.get("uid") or "")
        with self.store.transaction():
            if propagation == ORPHAN:
                self._orphan(uid_of)
            elif propagation == FOREGROUND:
                self._collect(uid_of)  # dependents go first, as with foregroundDeletion
            gone = self.store.delete(rt.group, rt.resource, namespace, name)
            if propagation == BACKGROUND:
                self._collect(uid_of)
            if namespace:
                self.sweep_namespace(namespace)
        return gone, True

    def finalize_if_done(self, rt: ResourceType, record: Record) -> Record | None:
        """Remove an object whose last finalizer just went (after an update); a terminating
        pod's grace period keeps it (kube's ``ShouldDeleteDuringUpdate``)."""
        meta = _meta(record.obj)
        if not meta.get("deletionTimestamp") or meta.get("finalizers"):
            return None
        if meta.get("deletionGracePeriodSeconds"):
            return None
        if (rt.group, rt.resource) == ("", "namespaces"):
            self.sweep_namespace(record.name)
            return None
        with self.store.transaction():
            gone = self.store.delete(rt.group, rt.resource, record.namespace, record.name)
            self._collect(str(meta.get("uid") or ""))
            if record.namespace:
                self.sweep_namespace(record.namespace)
        return gone

    # ------------------------------------------------------------------ garbage collection

    def _collect(self, uid: str) -> None:
        """Delete the dependents of a removed owner (background propagation)."""
        if not uid:
            return
        for group, resource, namespace, name in self.store.dependents(uid):
            rt = self.registry.stored(group, resource)
            if rt is None:
                continue
            record = self.store.get(group, resource, namespace, name)
            if record is None:
                continue
            refs = _meta(record.obj).get("ownerReferences") or []
            others = [r for r in refs if isinstance(r, dict) and r.get("uid") != uid]
            if others and any(self._owner_exists(r) for r in others):
                self._drop_owner(rt, record, uid)  # still owned by someone alive
                continue
            try:
                self.delete(rt, namespace, name)
            except StatusError:
                continue

    def _owner_exists(self, ref: dict[str, Any]) -> bool:
        uid = ref.get("uid")
        for rt in self.registry:
            if rt.stored and rt.kind == ref.get("kind"):
                for obj in self.store.list_objects(rt.group, rt.resource):
                    if _meta(obj).get("uid") == uid:
                        return True
        return False

    def _orphan(self, uid: str) -> None:
        if not uid:
            return
        for group, resource, namespace, name in self.store.dependents(uid):
            rt = self.registry.stored(group, resource)
            record = self.store.get(group, resource, namespace, name)
            if rt is not None and record is not None:
                self._drop_owner(rt, record, uid)

    def _drop_owner(self, rt: ResourceType, record: Record, uid: str) -> None:
        obj = copy.deepcopy(record.obj)
        meta = _meta(obj)
        refs = [r for r in meta.get("ownerReferences") or [] if r.get("uid") != uid]
        if refs:
            meta["ownerReferences"] = refs
        else:
            meta.pop("ownerReferences", None)
        self.store.update(rt.group, rt.resource, obj)

    # ------------------------------------------------------------------ namespaces

    def _terminate_namespace(self, record: Record, dry_run: bool) -> tuple[Record, bool]:
        meta = _meta(record.obj)
        if meta.get("deletionTimestamp"):
            return record, False
        obj = copy.deepcopy(record.obj)
        _meta(obj)["deletionTimestamp"] = now_rfc3339()
        _meta(obj)["deletionGracePeriodSeconds"] = 0
        status = obj.setdefault("status", {})
        status["phase"] = "Terminating"
        if dry_run:
            return Record.of(obj, record.rv), False
        with self.store.transaction():
            marked = self.store.update("", "namespaces", obj)
            self.sweep_namespace(record.name)
        return marked, False

    def sweep_namespace(self, namespace: str) -> None:
        """Empty a Terminating namespace, then remove it once nothing holds it."""
        if namespace in self._sweeping or not _terminating_namespace(self.store, namespace):
            return
        self._sweeping.add(namespace)
        try:
            with self.store.transaction():
                remaining = False
                for rt in self.registry:
                    if not rt.stored or not rt.namespaced:
                        continue
                    for rec in self.store.list(rt.group, rt.resource, namespace)[0]:
                        try:
                            _, removed = self.delete(rt, namespace, rec.name)
                        except StatusError:
                            continue  # removed meanwhile by garbage collection
                        remaining = remaining or not removed
                if not remaining:
                    self._finish_namespace(namespace)
        finally:
            self._sweeping.discard(namespace)

    def _finish_namespace(self, namespace: str) -> None:
        record = self.store.get("", "namespaces", "", namespace)
        if record is None:
            return
        spec_finalizers = (record.obj.get("spec") or {}).get("finalizers") or []
        if _NAMESPACE_FINALIZER in spec_finalizers:
            obj = copy.deepcopy(record.obj)
            obj["spec"]["finalizers"] = [f for f in spec_finalizers if f != _NAMESPACE_FINALIZER]
            record = self.store.update("", "namespaces", obj)
            spec_finalizers = obj["spec"]["finalizers"]
        if spec_finalizers or _meta(record.obj).get("finalizers"):
            return
        self.store.delete("", "namespaces", "", namespace)
