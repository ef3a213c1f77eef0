"""Server-side printing: ``meta.k8s.io/v1`` Table and PartialObjectMetadata responses.

``kubectl get`` asks for ``application/json;as=Table;g=meta.k8s.io;v=v1`` and prints the
columns the server sends, so these mirror kube's printers for the kinds served here (the same
column names, most cells) and fall back to kube's default ``Name``/``Created At`` table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from .resources import ResourceType
from .storage import Record
from .strategy import strategy_of

__all__ = ["human_duration", "partial_list", "partial_object", "table"]

Obj = dict[str, Any]
Column = tuple[str, str, str, int, Callable[[Obj], Any]]  # name, type, format, priority, cell


def partial_object(obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def partial_list(records: Sequence[Record], meta: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "items": [partial_object(r.obj) for r in records],
    }


def human_duration(seconds: float) -> str:
    """kube's ``duration.HumanDuration`` (what kubectl shows as AGE)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _age(obj: Obj) -> str:
    created = _meta(obj).get("creationTimestamp")
    if not isinstance(created, str):
        return "<unknown>"
    try:
        when = datetime.strptime(created[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return "<unknown>"
    return human_duration((datetime.now(UTC) - when).total_seconds())


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name", ""))


def _dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _or_none(value: Any) -> str:
    return str(value) if value not in (None, "") else "<none>"


def _pod_status(obj: Obj) -> str:
    if _meta(obj).get("deletionTimestamp"):
        return "Terminating"
    status = obj.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("containerStatuses") or ():
        waiting = _dig(cs, "state", "waiting", "reason")
        terminated = _dig(cs, "state", "terminated", "reason")
        if waiting:
            reason = waiting
        elif terminated:
            reason = terminated
    return str(reason)


def _pod_ready(obj: Obj) -> str:
    containers = _dig(obj, "spec", "containers") or []
    statuses = _dig(obj, "status", "containerStatuses") or []
    ready = sum(1 for cs in statuses if isinstance(cs, dict) and cs.get("ready"))
    return f"{ready}/{len(containers)}"


def _pod_restarts(obj: Obj) -> int:
    statuses = _dig(obj, "status", "containerStatuses") or []
    return sum(int(cs.get("restartCount") or 0) for cs in statuses if isinstance(cs, dict))


def _node_status(obj: Obj) -> str:
    ready = "Unknown"
    for cond in _dig(obj, "status", "conditions") or ():
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            ready = "Ready" if cond.get("status") == "True" else "NotReady"
    if _dig(obj, "spec", "unschedulable"):
        ready += ",SchedulingDisabled"
    return ready


def _node_roles(obj: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix) :] for k in _meta(obj).get("labels") or {} if k.startswith(prefix))
    return ",".join(r for r in roles if r) or "<none>"


def _node_address(kind: str) -> Callable[[Obj], str]:
    def cell(obj: Obj) -> str:
        for addr in _dig(obj, "status", "addresses") or ():
            if isinstance(addr, dict) and addr.get("type") == kind:
                return str(addr.get("address", "<none>"))
        return "<none>"

    return cell


def _count(*fields: str) -> Callable[[Obj], int]:
    return lambda obj: sum(len(obj.get(f) or {}) for f in fields)


def _subjects(kind: str) -> Callable[[Obj], str]:
    def cell(obj: Obj) -> str:
        names = []
        for subject in obj.get("subjects") or ():
            if isinstance(subject, dict) and subject.get("kind") == kind:
                if kind == "ServiceAccount":
                    names.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
                else:
                    names.append(str(subject.get("name", "")))
        return ", ".join(names)

    return cell


def _event_last_seen(obj: Obj) -> str:
    when = obj.get("lastTimestamp") or obj.get("eventTime") or _meta(obj).get("creationTimestamp")
    return _age({"metadata": {"creationTimestamp": when}})


def _vmi_ip(obj: Obj) -> str:
    interfaces = _dig(obj, "status", "interfaces") or []
    first = interfaces[0] if interfaces and isinstance(interfaces[0], dict) else {}
    return str(first.get("ipAddress") or "")


def _selector(obj: Obj) -> str:
    selector = _dig(obj, "spec", "template", "spec", "nodeSelector") or {}
    return ",".join(f"{k}={v}" for k, v in selector.items()) or "<none>"


_NAME: Column = ("Name", "string", "name", 0, _name)
_AGE: Column = ("Age", "string", "", 0, _age)
_CREATED: Column = (
    "Created At",
    "date",
    "",
    0,
    lambda o: _meta(o).get("creationTimestamp", ""),
)

_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "pods"): [
        _NAME,
        ("Ready", "string", "", 0, _pod_ready),
        ("Status", "string", "", 0, _pod_status),
        ("Restarts", "string", "", 0, lambda o: str(_pod_restarts(o))),
        _AGE,
        ("IP", "string", "", 1, lambda o: _or_none(_dig(o, "status", "podIP"))),
        ("Node", "string", "", 1, lambda o: _or_none(_dig(o, "spec", "nodeName"))),
        (
            "Nominated Node",
            "string",
            "",
            1,
            lambda o: _or_none(_dig(o, "status", "nominatedNodeName")),
        ),
        ("Readiness Gates", "string", "", 1, lambda o: "<none>"),
    ],
    ("", "namespaces"): [
        _NAME,
        ("Status", "string", "", 0, lambda o: _dig(o, "status", "phase") or ""),
        _AGE,
    ],
    ("", "nodes"): [
        _NAME,
        ("Status", "string", "", 0, _node_status),
        ("Roles", "string", "", 0, _node_roles),
        _AGE,
        (
            "Version",
            "string",
            "",
            0,
            lambda o: _dig(o, "status", "nodeInfo", "kubeletVersion") or "",
        ),
        ("Internal-IP", "string", "", 1, _node_address("InternalIP")),
        ("External-IP", "string", "", 1, _node_address("ExternalIP")),
    ],
    ("", "serviceaccounts"): [
        _NAME,
        ("Secrets", "integer", "", 0, lambda o: len(o.get("secrets") or ())),
        _AGE,
    ],
    ("", "configmaps"): [_NAME, ("Data", "integer", "", 0, _count("data", "binaryData")), _AGE],
    ("", "secrets"): [
        _NAME,
        ("Type", "string", "", 0, lambda o: o.get("type", "")),
        ("Data", "integer", "", 0, _count("data")),
        _AGE,
    ],
    ("", "events"): [
        ("Last Seen", "string", "", 0, _event_last_seen),
        ("Type", "string", "", 0, lambda o: o.get("type", "")),
        ("Reason", "string", "", 0, lambda o: o.get("reason", "")),
        (
            "Object",
            "string",
            "",
            0,
            lambda o: (
                f"{str(_dig(o, 'involvedObject', 'kind') or '').lower()}/"
                f"{_dig(o, 'involvedObject', 'name') or ''}"
            ),
        ),
        ("Message", "string", "", 0, lambda o: o.get("message", "")),
    ],
    ("apps", "daemonsets"): [
        _NAME,
        (
            "Desired",
            "integer",
            "",
            0,
            lambda o: _dig(o, "status", "desiredNumberScheduled") or 0,
        ),
        ("Current", "integer", "", 0, lambda o: _dig(o, "status", "currentNumberScheduled") or 0),
        ("Ready", "integer", "", 0, lambda o: _dig(o, "status", "numberReady") or 0),
        (
            "Up-to-date",
            "integer",
            "",
            0,
            lambda o: _dig(o, "status", "updatedNumberScheduled") or 0,
        ),
        ("Available", "integer", "", 0, lambda o: _dig(o, "status", "numberAvailable") or 0),
        ("Node Selector", "string", "", 0, _selector),
        _AGE,
    ],
    ("rbac.authorization.k8s.io", "rolebindings"): [
        _NAME,
        (
            "Role",
            "string",
            "",
            0,
            lambda o: f"{_dig(o, 'roleRef', 'kind') or ''}/{_dig(o, 'roleRef', 'name') or ''}",
        ),
        _AGE,
        ("Users", "string", "", 1, _subjects("User")),
        ("Groups", "string", "", 1, _subjects("Group")),
        ("ServiceAccounts", "string", "", 1, _subjects("ServiceAccount")),
    ],
    ("kubevirt.io", "virtualmachineinstances"): [
        _NAME,
        _AGE,
        ("Phase", "string", "", 0, lambda o: _dig(o, "status", "phase") or ""),
        ("IP", "string", "", 0, _vmi_ip),
        ("NodeName", "string", "", 0, lambda o: _dig(o, "status", "nodeName") or ""),
    ],
}
_COLUMNS[("rbac.authorization.k8s.io", "clusterrolebindings")] = _COLUMNS[
    ("rbac.authorization.k8s.io", "rolebindings")
]
_DEFAULT: list[Column] = [_NAME, _CREATED]


def table(rt: ResourceType, records: Sequence[Record], rv: str, include: str = "Metadata") -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``records`` (``include``: None, Metadata or Object)."""
    strategy = strategy_of(rt)
    custom = strategy.table(rt, records, rv, include) if strategy is not None else None
    if custom is not None:
        return custom
    columns = _COLUMNS.get((rt.group, rt.resource), _DEFAULT)
    rows = []
    for record in records:
        row: Obj = {"cells": [cell(record.obj) for _, _, _, _, cell in columns]}
        if include == "Object":
            row["object"] = record.obj
        elif include != "None":
            row["object"] = partial_object(record.obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv} if rv else {},
        "columnDefinitions": [
            {"name": name, "type": typ, "format": fmt, "description": "", "priority": priority}
            for name, typ, fmt, priority, _ in columns
        ],
        "rows": rows,
    }
