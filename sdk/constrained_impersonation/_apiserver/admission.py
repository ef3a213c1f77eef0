"""NodeRestriction admission: what a node may write, even where RBAC or the Node authorizer
would let it.

Admission runs after impersonation, so a requestor impersonating ``system:node:<n>`` (through
arbitrary-node or associated-node) is restricted exactly like that node's kubelet: it may
create only mirror pods bound to itself, delete and update the status of only its own pods,
evict only its own pods, and modify only its own Node object.
"""

from __future__ import annotations

from typing import Any

from ..identity import NODES_GROUP, node_name_of
from .hooks import Admission
from .status import StatusError, quote

__all__ = ["MIRROR_POD_ANNOTATION", "node_restriction"]

MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"


def _forbid(adm: Admission, message: str) -> StatusError:
    rt = adm.resource
    qualified = f"{rt.resource}.{rt.group}" if rt.group else rt.resource
    name = adm.name
    prefix = f"{qualified} {quote(name)}" if name else qualified
    details: dict[str, Any] = {"kind": rt.resource}
    if name:
        details["name"] = name
    if rt.group:
        details["group"] = rt.group
    return StatusError(403, "Forbidden", f"{prefix} is forbidden: {message}", details)


def _node_of(obj: dict[str, Any] | None) -> str:
    if not obj:
        return ""
    return str((obj.get("spec") or {}).get("nodeName") or "")


def _references_secrets_or_config(pod: dict[str, Any]) -> str:
    spec = pod.get("spec") or {}
    if spec.get("serviceAccountName") not in (None, "", "default") or spec.get(
        "serviceAccount"
    ) not in (None, "", "default"):
        return "service accounts"
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        if "secret" in volume:
            return "secrets"
        if "configMap" in volume:
            return "configmaps"
        if "persistentVolumeClaim" in volume:
            return "persistentvolumeclaims"
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(container, dict):
            continue
        for env in container.get("env") or []:
            source = (env or {}).get("valueFrom") or {}
            if "secretKeyRef" in source:
                return "secrets"
            if "configMapKeyRef" in source:
                return "configmaps"
        for env_from in container.get("envFrom") or []:
            if "secretRef" in (env_from or {}):
                return "secrets"
            if "configMapRef" in (env_from or {}):
                return "configmaps"
    return ""


async def node_restriction(adm: Admission) -> None:
    """Refuse node writes beyond the node's own objects (kube's NodeRestriction plugin)."""
    user = adm.ctx.user
    if user is None or NODES_GROUP not in user.groups:
        return
    node = node_name_of(user.user)
    if node is None:
        return
    rt = adm.resource
    if rt.group != "":
        return
    if rt.resource == "pods":
        _pods(adm, node)
    elif rt.resource == "nodes":
        _nodes(adm, node)


def _pods(adm: Admission, node: str) -> None:
    op, sub = adm.operation, adm.subresource
    if sub == "" and op == "CREATE":
        pod = adm.obj or {}
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        if MIRROR_POD_ANNOTATION not in annotations:
            raise _forbid(
                adm,
                f'pod does not have "{MIRROR_POD_ANNOTATION}" annotation, node '
                f'"{node}" can only create mirror pods',
            )
        if _node_of(pod) != node:
            raise _forbid(
                adm, f'node "{node}" can only create pods with spec.nodeName set to itself'
            )
        referenced = _references_secrets_or_config(pod)
        if referenced:
            raise _forbid(adm, f'node "{node}" can not create pods that reference {referenced}')
    elif sub == "" and op == "DELETE":
        if _node_of(adm.old) != node:
            raise _forbid(
                adm, f'node "{node}" can only delete pods with spec.nodeName set to itself'
            )
    elif sub == "" and op == "UPDATE":
        raise _forbid(adm, f'node "{node}" can only update pod status')
    elif sub == "status":
        if _node_of(adm.old) != node:
            raise _forbid(
                adm,
                f'node "{node}" can only update pod status for pods with '  # noqa: S608
                "spec.nodeName set to itself",
            )
    elif sub == "eviction":
        if _node_of(adm.old or adm.obj) != node:
            raise _forbid(
                adm, f'node "{node}" can only evict pods with spec.nodeName set to itself'
            )
    elif sub == "binding":
        raise _forbid(adm, f'node "{node}" can not bind pods')


def _nodes(adm: Admission, node: str) -> None:
    target = adm.name or str(((adm.obj or {}).get("metadata") or {}).get("name") or "")
    if adm.operation in ("CREATE", "UPDATE") and target != node:
        raise _forbid(adm, f'node "{node}" is not allowed to modify node "{target}"')
    if adm.operation == "DELETE" and target != node:
        raise _forbid(adm, f'node "{node}" is not allowed to delete node "{target}"')
