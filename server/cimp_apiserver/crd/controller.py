"""apiextensions' controllers, run synchronously: naming, establishing, serving, finalizing.

kube-apiserver reacts to a new CRD with controllers that accept its names (NamesAccepted),
establish it (Established), start serving its resource and list it in discovery a few
milliseconds later; on deletion a finalizer controller removes its custom resources and then
the CRD. :meth:`CRDController.sync` does all of this in one pass whenever the stored CRDs
changed. It runs before every request (so a client that creates a CRD and then lists the
resource is served, as it is by kube within the same request cycle) and after every CRD
change a watch reports (so watchers see the status updates without another request).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Handler

from ..lifecycle import BACKGROUND, Lifecycle
from ..resources import DEFAULT, Registry
from ..status import StatusError
from ..storage import Store, now_rfc3339
from .definitions import CLEANUP_FINALIZER, CRD_GROUP, CRD_RESOURCE, set_condition

if TYPE_CHECKING:
    from .model import Definition, Names
    from .served import CustomResourceType

__all__ = ["CRDController"]

log = logging.getLogger("constrained_impersonation.apiserver.crd")
Obj = dict[str, Any]


@dataclass
class _Serving:
    rv: int
    types: list[CustomResourceType]
    # What kube's handler compares to keep a CRD's storage: its spec and accepted names.
    shape: Any = None


_APISERVICE_GROUP = "apiregistration.k8s.io"
_APISERVICES = "apiservices"
_AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"
# kube's own handlers answer every path of a built-in group (an unknown version is their 404),
# so a CRD in one of these groups is established but never served, and owns no objects: it
# must not shadow a built-in resource (a Role written without escalation checks) or share
# its storage (its finalizer would delete the built-in objects).
_BUILTIN_GROUPS = frozenset(group for group, _ in DEFAULT.groups())


def _crd_service(obj: Obj) -> bool:
    """An APIService this controller manages (automanaged, with CRD priorities)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    spec = obj.get("spec") or {}
    return (
        labels.get(_AUTOMANAGED) == "true"
        and spec.get("groupPriorityMinimum") == 1000
        and spec.get("versionPriority") == 100
        and not spec.get("service")
    )


def _api_service(name: str, group: str, version: str) -> Obj:
    return {
        "kind": "APIService",
        "apiVersion": f"{_APISERVICE_GROUP}/v1",
        "metadata": {"name": name, "labels": {_AUTOMANAGED: "true"}},
        "spec": {
            "group": group,
            "version": version,
            "groupPriorityMinimum": 1000,
            "versionPriority": 100,
        },
        "status": {
            "conditions": [
                {
                    "type": "Available",
                    "status": "True",
                    "lastTransitionTime": now_rfc3339(),
                    "reason": "Local",
                    "message": "Local APIServices are always available",
                }
            ]
        },
    }


# The CRD model and the served types load with the first CRD: a server without one does not
# pay for them at start-up.
def _parse(obj: Obj) -> Definition:
    from .model import Definition

    return Definition.parse(obj)


def _build(crd: Definition, rv: int) -> list[CustomResourceType]:
    from .served import build

    return build(crd, rv)[1]


def _names_equal(a: Names, b: Names) -> bool:
    return a.to_json() == b.to_json()


class CRDController:
    """Keeps CRD status, the served custom resources and CRD deletions in step with the
    stored CRDs (see the module docstring)."""

    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self.lifecycle = Lifecycle(store, registry)
        self._seen = -1
        self._serving: dict[str, _Serving] = {}
        self._finalizing: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ entry points

    def sync(self) -> None:
        """Bring everything up to date with the stored CRDs (cheap when nothing changed)."""
        revision = self.store.revision(CRD_GROUP, CRD_RESOURCE)
        if revision == self._seen and not self._finalizing:
            return
        for _ in range(8):  # our own status writes move the revision: settle
            self._pass()
            latest = self.store.revision(CRD_GROUP, CRD_RESOURCE)
            if latest == revision:
                break
            revision = latest
        self._seen = self.store.revision(CRD_GROUP, CRD_RESOURCE)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Sync before serving a request."""
        try:
            self.sync()
        except Exception:
            log.exception("CRD controllers failed")
        return await handler(request)

    async def start(self, _app: web.Application) -> None:
        self.sync()
        self._task = asyncio.create_task(self._watch())

    async def stop(self, _app: web.Application) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        while True:
            watcher = self.store.watch(CRD_GROUP, CRD_RESOURCE, since=self.store.revision())
            try:
                while await watcher.next() is not None:
                    try:
                        self.sync()
                    except Exception:
                        log.exception("CRD controllers failed")
            finally:
                watcher.close()
            await asyncio.sleep(0.1)  # the watch ended (history overflow, shutdown): re-watch

    # ------------------------------------------------------------------ one pass

    def _pass(self) -> None:
        records = {r.name: r for r in self.store.list(CRD_GROUP, CRD_RESOURCE)[0]}
        for name in sorted(records):
            record = records[name]
            crd = _parse(record.obj)
            if crd.deleting and CLEANUP_FINALIZER in (
                record.obj.get("metadata", {}).get("finalizers") or ()
            ):
                self._finalize(crd, record.rv)
                continue
            self._finalizing.discard(name)
            if not _names_equal(crd.names, crd.accepted) or not crd.condition("NamesAccepted"):
                self._accept(crd, record.rv, records)
        records = {r.name: r for r in self.store.list(CRD_GROUP, CRD_RESOURCE)[0]}
        self._serve(records)
        self._register(records)

    def _write_status(self, obj: Obj, rv: int) -> bool:
        try:
            self.store.update(CRD_GROUP, CRD_RESOURCE, obj, expect_rv=rv)
        except StatusError:
            return False  # changed or removed meanwhile: the next pass sees it
        return True

    # ------------------------------------------------------------------ naming and establishing

    def _accept(self, crd: Definition, rv: int, records: dict[str, Any]) -> None:
        """The naming controller (names and NamesAccepted) and the establishing controller
        (Established), as one status write."""
        resources: set[str] = set()
        kinds: set[str] = set()
        for other in records.values():
            other_crd = _parse(other.obj)
            if other_crd.group != crd.group:
                continue
            accepted = other_crd.accepted
            resources.update([accepted.plural, accepted.singular, *accepted.short_names])
            kinds.update([accepted.kind, accepted.list_kind])
        requested, accepted = crd.names, crd.accepted
        result = copy.deepcopy(accepted)
        condition = {"type": "NamesAccepted", "status": "Unknown"}

        def conflict(reason: str, name: str) -> None:
            condition.update(status="False", reason=reason, message=f'"{name}" is already in use')

        def fresh(name: str, current: str, used: set[str]) -> bool:
            return name == current or name not in used

        if fresh(requested.plural, accepted.plural, resources):
            result.plural = requested.plural
        else:
            conflict("PluralConflict", requested.plural)
        if fresh(requested.singular, accepted.singular, resources):
            result.singular = requested.singular
        else:
            conflict("SingularConflict", requested.singular)
        if requested.short_names != accepted.short_names:
            bad = [
                n for n in requested.short_names if n not in accepted.short_names and n in resources
            ]
            if bad:
                messages = [f'"{n}" is already in use' for n in bad]
                condition.update(
                    status="False",
                    reason="ShortNamesConflict",
                    message=messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]",
                )
            else:
                result.short_names = list(requested.short_names)
        if fresh(requested.kind, accepted.kind, kinds):
            result.kind = requested.kind
        else:
            conflict("KindConflict", requested.kind)
        if fresh(requested.list_kind, accepted.list_kind, kinds):
            result.list_kind = requested.list_kind
        else:
            conflict("ListKindConflict", requested.list_kind)
        result.categories = list(requested.categories)
        if condition["status"] == "Unknown":
            condition.update(status="True", reason="NoConflicts", message="no conflicts found")
        obj = copy.deepcopy(crd.raw)
        status = obj.setdefault("status", {})
        status["acceptedNames"] = result.to_json()
        set_condition(obj, condition)
        established = crd.condition("Established")
        if established is None or established.get("status") != "True":
            if condition["status"] == "True":
                established = {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                }
            else:
                established = {
                    "type": "Established",
                    "status": "False",
                    "reason": "NotAccepted",
                    "message": "not all names are accepted",
                }
            set_condition(obj, established)
        if obj.get("status") != crd.raw.get("status"):
            self._write_status(obj, rv)

    # ------------------------------------------------------------------ serving

    def _serve(self, records: dict[str, Any]) -> None:
        wanted: dict[str, _Serving] = {}
        for name, record in records.items():
            crd = _parse(record.obj)
            if not crd.condition_true("Established") or not crd.accepted.plural:
                continue
            if crd.group in _BUILTIN_GROUPS:
                continue
            current = self._serving.get(name)
            if current is not None and current.rv == record.rv:
                wanted[name] = current
                continue
            types = _build(crd, record.rv)
            status = record.obj.get("status") or {}
            shape = (record.obj.get("spec"), status.get("acceptedNames"))
            wanted[name] = _Serving(record.rv, types, shape)
        if wanted.keys() == self._serving.keys() and all(
            wanted[n] is self._serving[n] for n in wanted
        ):
            return
        for serving in self._serving.values():
            for rt in serving.types:  # only ours: an aggregated API may have taken the key
                if self.registry.lookup(rt.group, rt.version, rt.resource) is rt:
                    self.registry.remove(rt.group, rt.version, rt.resource)
        # kube destroys a CRD's storage when the CRD goes or its spec or accepted names change
        # (a label does not): the open watches end, clients re-list (and re-authorize).
        rebuilt = [
            name
            for name, old in self._serving.items()
            if name not in wanted or wanted[name].shape != old.shape
        ]
        for name in rebuilt:
            for rt in self._serving[name].types:
                self.store.close_watchers(rt.group, rt.resource)
        every = [rt for serving in wanted.values() for rt in serving.types]
        for rt in sorted(every, key=lambda t: (t.group, t.version, t.resource)):
            if self.registry.lookup(rt.group, rt.version, rt.resource) is None:
                self.registry.add(rt)  # else an aggregated API's (its APIService wins, as in kube)
        self._serving = wanted

    # ------------------------------------------------------------------ APIServices

    def _register(self, records: dict[str, Any]) -> None:
        """kube's CRD registration and autoregister controllers: a local APIService
        ``<version>.<group>`` for every served version of a CRD (priority 1000/100), removed
        when no CRD serves it any more."""
        if self.registry.stored(_APISERVICE_GROUP, _APISERVICES) is None:
            return
        wanted: dict[str, tuple[str, str]] = {}
        for record in records.values():
            crd = _parse(record.obj)
            if not crd.group:
                continue
            for served in crd.versions:
                if served.served and served.name:
                    wanted[f"{served.name}.{crd.group}"] = (crd.group, served.name)
        current = {
            r.name: r
            for r in self.store.list(_APISERVICE_GROUP, _APISERVICES)[0]
            if _crd_service(r.obj)
        }
        for name in sorted(current.keys() - wanted.keys()):
            with contextlib.suppress(StatusError):
                self.store.delete(_APISERVICE_GROUP, _APISERVICES, "", name)
        for name in sorted(wanted.keys() - current.keys()):
            if self.store.get(_APISERVICE_GROUP, _APISERVICES, "", name) is not None:
                continue  # someone else's (an aggregated API): leave it
            service = _api_service(name, *wanted[name])
            with contextlib.suppress(StatusError):
                self.store.create(_APISERVICE_GROUP, _APISERVICES, service)

    # ------------------------------------------------------------------ finalizing

    def _finalize(self, crd: Definition, rv: int) -> None:
        """The CRD finalizer: delete every custom resource, then let the CRD go."""
        name = crd.name
        obj = copy.deepcopy(crd.raw)
        terminating = crd.condition("Terminating") or {}
        if terminating.get("reason") != "InstanceDeletionInProgress":
            set_condition(
                obj,
                {
                    "type": "Terminating",
                    "status": "True",
                    "reason": "InstanceDeletionInProgress",
                    "message": "CustomResource deletion is in progress",
                },
            )
            if not self._write_status(obj, rv):
                return
            record = self.store.get(CRD_GROUP, CRD_RESOURCE, "", name)
            if record is None:
                return
            obj, rv = copy.deepcopy(record.obj), record.rv
        if crd.condition_true("Established"):
            if self._instances_remain(crd):
                self._finalizing.add(name)
                return
            final = {
                "type": "Terminating",
                "status": "False",
                "reason": "InstanceDeletionCompleted",
                "message": "removed all instances",
            }
        else:
            final = {
                "type": "Terminating",
                "status": "False",
                "reason": "NeverEstablished",
                "message": "resource was never established",
            }
        self._finalizing.discard(name)
        set_condition(obj, final)
        meta = obj.setdefault("metadata", {})
        meta["finalizers"] = [f for f in meta.get("finalizers") or () if f != CLEANUP_FINALIZER]
        if not meta["finalizers"]:
            meta.pop("finalizers")
        if not self._write_status(obj, rv):
            return
        if not meta.get("finalizers"):
            with contextlib.suppress(StatusError):
                self.store.delete(CRD_GROUP, CRD_RESOURCE, "", name)

    def _instances_remain(self, crd: Definition) -> bool:
        if crd.group in _BUILTIN_GROUPS:
            return False  # never served: the objects there are the built-in resource's
        serving = self._serving.get(crd.name)
        group, plural = crd.group, crd.accepted.plural or crd.names.plural
        rt = serving.types[0] if serving and serving.types else None
        if rt is None:
            types = _build(crd, 0)
            rt = types[0] if types else None
        records, _ = self.store.list(group, plural)
        if rt is None:
            return bool(records)
        for record in records:
            with contextlib.suppress(StatusError):
                self.lifecycle.delete(rt, record.namespace, record.name, propagation=BACKGROUND)
        return bool(self.store.list(group, plural)[0])
