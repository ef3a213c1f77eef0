"""Deletion as kube's generic registry starts it: preconditions, then graceful deletion.

kube-apiserver checks a DELETE's preconditions before anything else (``rest.BeforeDelete``,
worded after the object's Kind), and deletes a Pod *gracefully* (the only built-in resource
whose strategy does): a pod bound to a node gets ``deletionTimestamp`` = now + its grace
period and ``deletionGracePeriodSeconds``, and stays, terminating, until its kubelet confirms
with a DELETE of grace 0. A pod not yet scheduled, one already Succeeded or Failed, or a
DELETE with ``gracePeriodSeconds=0`` (``kubectl delete --force --grace-period=0``) is marked
with grace 0 and removed at once. A later DELETE of a terminating pod may only shorten the
grace period; otherwise it answers the pod as it is.

Nothing here runs a kubelet: a terminating pod stays until someone deletes it with grace 0,
exactly as on a kube-apiserver without nodes. Until then it is a pod like any other for the
Node authorizer, TokenRequest and the tokens bound to it (kube refuses a bound pod's token
only once the pod's deletionTimestamp is more than 60 s past).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from .lifecycle import Lifecycle
from .resources import ResourceType
from .status import conflict
from .storage import Record, Store

__all__ = ["check_preconditions", "delete", "grace_period"]

Obj = dict[str, Any]
_TIME = "%Y-%m-%dT%H:%M:%SZ"
# Resources deleted gracefully (a strategy with ``CheckGracefulDelete``).
_GRACEFUL = frozenset({("", "pods")})


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _time(value: Any) -> datetime | None:
    try:
        return datetime.strptime(str(value), _TIME).replace(tzinfo=UTC)
    except ValueError:
        return None


def check_preconditions(rt: ResourceType, obj: Obj, uid: str | None, rv: str | None) -> None:
    """``rest.BeforeDelete``'s precondition check: a 409 naming the object's Kind."""
    meta = _meta(obj)
    name = str(meta.get("name") or "")
    if uid is not None and uid != meta.get("uid", ""):
        raise conflict(
            rt.kind,
            name,
            rt.group,
            f"the UID in the precondition ({uid}) does not match the UID in record "
            f"({meta.get('uid', '')}). The object might have been deleted and then recreated",
        )
    if rv is not None and rv != meta.get("resourceVersion", ""):
        raise conflict(
            rt.kind,
            name,
            rt.group,
            f"the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion "
            f"in record ({meta.get('resourceVersion', '')}). The object might have been modified",
        )


def grace_period(pod: Obj, requested: int | None) -> int:
    """The pod strategy's ``CheckGracefulDelete``: the requested period, else the pod's
    ``terminationGracePeriodSeconds``; 0 for a pod on no node or already terminated; a
    negative period counts as 1 s."""
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    if requested is not None:
        period = requested
    else:
        default = spec.get("terminationGracePeriodSeconds")
        period = default if isinstance(default, int) else 0
    if not spec.get("nodeName"):
        period = 0
    status = pod.get("status") if isinstance(pod.get("status"), dict) else {}
    assert isinstance(status, dict)
    if status.get("phase") in ("Succeeded", "Failed"):
        period = 0
    return 1 if period < 0 else period


def delete(
    store: Store,
    lifecycle: Lifecycle,
    rt: ResourceType,
    record: Record,
    *,
    grace: int | None = None,
    uid: str | None = None,
    rv: str | None = None,
    propagation: str,
    dry_run: bool = False,
    now: datetime | None = None,
) -> tuple[Record, bool]:
    """Delete ``record`` as kube's ``Store.Delete``: ``(record, removed)``; ``removed`` is
    False when the object stays (terminating pod, finalizers, namespace emptying)."""
    check_preconditions(rt, record.obj, uid, rv)
    if (rt.group, rt.resource) not in _GRACEFUL:
        return lifecycle.delete(
            rt,
            record.namespace,
            record.name,
            propagation=propagation,
            dry_run=dry_run,
        )
    now = now or datetime.now(UTC).replace(microsecond=0)
    obj = copy.deepcopy(record.obj)
    meta = _meta(obj)
    obj["metadata"] = meta
    current = meta.get("deletionGracePeriodSeconds")
    if meta.get("deletionTimestamp"):
        if not isinstance(current, int) or current == 0:
            pass  # marked with grace 0 (or none): remove it now
        elif grace is None or grace >= current:
            return record, False  # pending: only a shorter grace period changes anything
        else:
            marked = _time(meta["deletionTimestamp"]) or now
            when = marked - timedelta(seconds=current) + timedelta(seconds=grace)
            period = grace
            if when < now:
                when = now
                period = 1 if grace else 0
            meta["deletionTimestamp"] = when.strftime(_TIME)
            meta["deletionGracePeriodSeconds"] = period
            record = _write(store, rt, obj, record, dry_run)
            if period or meta.get("finalizers"):
                return record, False
    else:
        period = grace_period(obj, grace)
        meta["deletionTimestamp"] = (now + timedelta(seconds=period)).strftime(_TIME)
        meta["deletionGracePeriodSeconds"] = period
        if isinstance(meta.get("generation"), int) and meta["generation"] > 0:
            meta["generation"] += 1
        record = _write(store, rt, obj, record, dry_run)
        if period or meta.get("finalizers"):
            return record, False
    if dry_run:
        return record, True
    return lifecycle.delete(
        rt, record.namespace, record.name, propagation=propagation, dry_run=False
    )


def _write(store: Store, rt: ResourceType, obj: Obj, record: Record, dry_run: bool) -> Record:
    if dry_run:
        return Record.of(obj, record.rv)
    return store.update(rt.group, rt.resource, obj, expect_rv=record.rv)
