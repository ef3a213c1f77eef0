"""The slim Pod projection the agent keeps and publishes.

A full Pod is 3-5 KB of JSON; consumers on the node (a CNI plugin, a log shipper) need its
identity, addresses and containers. Keeping only those fields bounds the agent's memory by
the pod count rather than by object size, and keeps ``/pods`` and the file small.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PodView", "pod_key", "project"]

PodView = dict[str, Any]
"""One projected Pod: plain JSON-ready dict (``namespace``, ``name``, ``uid`` ...)."""


def pod_key(pod: dict[str, Any]) -> str:
    """``namespace/name``: the key kube itself uses, unique among live Pods."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _names(containers: Any) -> list[str]:
    if not isinstance(containers, list):
        return []
    return [str(c.get("name", "")) for c in containers if isinstance(c, dict)]


def project(pod: dict[str, Any]) -> PodView:
    """Reduce a Pod (a ``json.loads`` dict, never a generated model) to what consumers use."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    pod_ips = status.get("podIPs")
    if isinstance(pod_ips, list):
        ips = [str(entry.get("ip", "")) for entry in pod_ips if isinstance(entry, dict)]
    elif status.get("podIP"):
        ips = [str(status["podIP"])]
    else:
        ips = []
    view: PodView = {
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "phase": status.get("phase", ""),
        "podIPs": ips,
        "hostNetwork": bool(spec.get("hostNetwork", False)),
        "labels": dict(meta.get("labels") or {}),
        "containers": _names(spec.get("containers")),
        "initContainers": _names(spec.get("initContainers")),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    if meta.get("deletionTimestamp"):
        # Terminating pods keep their IPs until the kubelet is done; consumers want to know.
        view["deletionTimestamp"] = meta["deletionTimestamp"]
    return view
