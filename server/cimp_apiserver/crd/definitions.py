"""The strategy of the ``customresourcedefinitions`` resource itself.

What apiextensions' CRD registry does around a write: v1 defaults, a fresh status on create
(no conditions, empty accepted names, the storage version stored), status kept on update and
spec kept on a status update, generation counting spec changes, validation
(:mod:`.validation`), and a DELETE that only marks the CRD (deletionTimestamp, the
``customresourcecleanup.apiextensions.k8s.io`` finalizer, a Terminating condition) so that
its custom resources are removed first (:mod:`.controller`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..context import RequestContext
from ..resources import ResourceType
from ..status import not_found
from ..storage import Record, now_rfc3339
from ..strategy import Cause

# The CRD model, its validation and table load with the first CRD written or listed, not at
# start-up (see ``controller``): each method below imports what it uses.

if TYPE_CHECKING:
    from ..handlers import Target
    from ..writes import Writes

__all__ = [
    "CLEANUP_FINALIZER",
    "CRD_GROUP",
    "CRD_RESOURCE",
    "DefinitionStrategy",
    "DefinitionType",
    "definition_type",
    "set_condition",
]

Obj = dict[str, Any]
CRD_GROUP = "apiextensions.k8s.io"
CRD_RESOURCE = "customresourcedefinitions"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_SYSTEM_META = (
    "uid",
    "creationTimestamp",
    "resourceVersion",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
)


def set_condition(obj: Obj, condition: Obj) -> None:
    """``SetCRDCondition``: add or replace a condition by type; its transition time moves
    only when its status does."""
    status = obj.setdefault("status", {})
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        conditions = status["conditions"] = []
    now = now_rfc3339()
    for i, old in enumerate(conditions):
        if isinstance(old, dict) and old.get("type") == condition["type"]:
            moved = old.get("status") != condition["status"] or not old.get("lastTransitionTime")
            transition = now if moved else old["lastTransitionTime"]
            conditions[i] = {
                "type": condition["type"],
                "status": condition["status"],
                "lastTransitionTime": transition,
                "reason": condition.get("reason", ""),
                "message": condition.get("message", ""),
            }
            return
    conditions.append(
        {
            "type": condition["type"],
            "status": condition["status"],
            "lastTransitionTime": now,
            "reason": condition.get("reason", ""),
            "message": condition.get("message", ""),
        }
    )


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    return meta


def _storage_version(obj: Obj) -> str:
    for version in (obj.get("spec") or {}).get("versions") or ():
        if isinstance(version, dict) and version.get("storage") is True:
            return str(version.get("name") or "")
    return ""


class DefinitionStrategy:
    """apiextensions' CRD strategy (see the module docstring)."""

    def decode(self, rt: ResourceType, body: Obj, mode: str, patch: bool = False) -> list[str]:
        from ..writes import Writes
        from .model import apply_v1_defaults

        Writes.check_type_meta(rt.kind, (rt.api_version,), body)
        warnings = Writes.decode_typed(rt.kind, rt.api_version, body, mode)
        if not isinstance(body.get("metadata"), dict):
            body["metadata"] = {}
        apply_v1_defaults(body)
        return warnings

    def prepare_create(self, rt: ResourceType, obj: Obj) -> None:
        meta = _meta(obj)
        for name in _SYSTEM_META:
            meta.pop(name, None)
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        stored = _storage_version(obj)
        obj["status"] = {
            "conditions": None,
            "acceptedNames": {"plural": "", "kind": ""},
            "storedVersions": [stored] if stored else None,
        }

    def prepare_update(self, rt: ResourceType, obj: Obj, old: Obj) -> None:
        from .served import require_resource_version

        meta, old_meta = _meta(obj), old.get("metadata") or {}
        require_resource_version(rt, meta)
        for name in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if name in old_meta:
                meta[name] = old_meta[name]
            else:
                meta.pop(name, None)
        meta.pop("selfLink", None)
        meta.pop("managedFields", None)
        obj["status"] = copy.deepcopy(old.get("status") or {})
        generation = int(old_meta.get("generation") or 1)
        if obj.get("spec") != old.get("spec"):
            generation += 1
        meta["generation"] = generation
        stored = _storage_version(obj)
        stored_versions = obj["status"].setdefault("storedVersions", [])
        if stored and isinstance(stored_versions, list) and stored not in stored_versions:
            stored_versions.append(stored)

    def prepare_status_update(self, rt: ResourceType, obj: Obj, old: Obj) -> Obj:
        from .served import require_resource_version

        require_resource_version(rt, _meta(obj))
        out = copy.deepcopy(obj)
        out["spec"] = copy.deepcopy(old.get("spec"))
        meta, old_meta = _meta(out), old.get("metadata") or {}
        for name in ("uid", "creationTimestamp", "deletionTimestamp", "generation"):
            if name in old_meta:
                meta[name] = old_meta[name]
        return out

    def validate(
        self, rt: ResourceType, obj: Obj, old: Obj | None = None, subresource: str = ""
    ) -> list[Cause]:
        from .errors import causes
        from .model import Definition
        from .validation import validate_create, validate_update

        crd = Definition.parse(obj)
        if old is None:
            return causes(validate_create(crd))
        return causes(validate_update(crd, Definition.parse(old)))

    def present(self, rt: ResourceType, record: Record) -> Record:
        return record

    def delete(self, rt: ResourceType, obj: Obj) -> Obj | None:
        meta = obj.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return None
        marked = copy.deepcopy(obj)
        meta = _meta(marked)
        meta["deletionTimestamp"] = now_rfc3339()
        finalizers = list(meta.get("finalizers") or [])
        if CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CLEANUP_FINALIZER)
        meta["finalizers"] = finalizers
        set_condition(
            marked,
            {
                "type": "Terminating",
                "status": "True",
                "reason": "InstanceDeletionPending",
                "message": "CustomResourceDefinition marked for deletion; CustomResource "
                "deletion will begin soon",
            },
        )
        return marked

    def table(
        self, rt: ResourceType, records: Sequence[Record], rv: str, include: str
    ) -> Obj | None:
        from .tables import crd_table

        return crd_table(records, rv, include)

    def openapi(self, rt: ResourceType, v2: bool) -> tuple[Obj, Obj] | None:
        return None  # kube's own document

    def openapi_paths(self, rt: ResourceType) -> tuple[Obj, Obj, dict[str, list[Obj]]] | None:
        return None

    async def scale(
        self, request: web.Request, ctx: RequestContext, target: Target, writes: Writes
    ) -> web.StreamResponse:
        raise not_found(target.rt.resource, target.name, target.rt.group)


@dataclass(frozen=True)
class DefinitionType(ResourceType):
    """The CRD resource type, with its strategy."""

    strategy: DefinitionStrategy | None = field(default=None, compare=False, repr=False)


_FALLBACK = ResourceType(
    CRD_GROUP,
    "v1",
    CRD_RESOURCE,
    "CustomResourceDefinition",
    False,
    short_names=("crd", "crds"),
    categories=("api-extensions",),
    subresources=("status",),
    storage_version_hash="jfWCUB31mvA=",
)


def definition_type(base: ResourceType | None) -> DefinitionType:
    """The served CRD resource type: the built-in entry (or kube's own values) plus its
    strategy."""
    from dataclasses import fields

    source = base if base is not None else _FALLBACK
    values = {f.name: getattr(source, f.name) for f in fields(ResourceType) if f.name != "strategy"}
    return DefinitionType(**values, strategy=DefinitionStrategy())
