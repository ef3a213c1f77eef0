"""The slim Pod projection the agent keeps and publishes.

A full Pod is 3-5 KB of JSON; consumers on the node (a CNI plugin, a log shipper) need its
identity, addresses and containers. Keeping only those fields bounds the agent's memory by
the pod count rather than by object size, and keeps ``/pods`` and the file small.

Labels are the exception: Kubernetes bounds each label but not their number, so anyone who
may create a Pod on the node could hand the agent ~1 MiB of labels per Pod (kube's object size
limit is the only stop): 110 such Pods took the agent from 53 MB to 370-670 MB (see
``bench/agent_labels.py``). A :class:`LabelPolicy` bounds what is kept per Pod: optionally only
allow-listed keys, then at most ``max_bytes`` of labels (measured as their JSON encoding),
kept in key order; a Pod whose labels were cut says so with ``labelsOmitted`` (how many).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_MAX_LABEL_BYTES",
    "MAX_LABEL_BYTES_LIMIT",
    "LabelPolicy",
    "PodView",
    "pod_key",
    "project",
]

DEFAULT_MAX_LABEL_BYTES = 16 * 1024
"""Labels kept per Pod, in bytes of their JSON encoding: ordinary Pods carry well under 2 KiB
(a handful of ``app.kubernetes.io/*``, ``pod-template-hash``, mesh and policy labels)."""
MAX_LABEL_BYTES_LIMIT = 1536 * 1024
"""The largest bound accepted: kube's own object size limit (etcd's 1.5 MiB request limit)."""

# A label key (optional DNS prefix, then the name) with an optional trailing "*" for a prefix.
_KEY_PATTERN = re.compile(r"[A-Za-z0-9._/-]*\*?")


@dataclass(frozen=True)
class LabelPolicy:
    """Which labels of a Pod the agent keeps.

    ``keys``: keep only these label keys; a key ending in ``*`` matches every key with that
    prefix (``app.kubernetes.io/*``); empty keeps every key. Then ``max_bytes``: keep labels
    in key order while the JSON encoding of the kept ones (``"key":"value",`` each) stays
    within this many bytes; 0 keeps none. Labels cut by ``max_bytes`` are counted in the
    view's ``labelsOmitted``; labels left out by ``keys`` are configuration, not counted.
    """

    max_bytes: int = DEFAULT_MAX_LABEL_BYTES
    keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.max_bytes <= MAX_LABEL_BYTES_LIMIT:
            raise ValueError(
                f"max label bytes must be between 0 and {MAX_LABEL_BYTES_LIMIT}, "
                f"got {self.max_bytes}"
            )
        for key in self.keys:
            if not key or not _KEY_PATTERN.fullmatch(key):
                raise ValueError(
                    f"label key {key!r}: expected a label key such as app.kubernetes.io/name, "
                    "or a prefix ending in '*'"
                )

    @classmethod
    def of(cls, max_bytes: int, keys: Sequence[str] = ()) -> LabelPolicy:
        return cls(max_bytes, tuple(dict.fromkeys(keys)))

    def _wanted(self, key: str) -> bool:
        if not self.keys:
            return True
        return any(
            key.startswith(pattern[:-1]) if pattern.endswith("*") else key == pattern
            for pattern in self.keys
        )

    def keep(self, labels: Any) -> tuple[dict[str, str], int]:
        """(the labels kept, how many were cut by ``max_bytes``)."""
        if not isinstance(labels, dict) or not labels:
            return {}, 0
        wanted = sorted(str(k) for k in labels if self._wanted(str(k)))
        kept: dict[str, str] = {}
        used = 0
        for key in wanted:
            value = str(labels[key])
            used += len(json.dumps(key)) + len(json.dumps(value)) + 2  # ':' and ','
            if used > self.max_bytes:
                break
            kept[key] = value
        return kept, len(wanted) - len(kept)


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


_DEFAULT_POLICY = LabelPolicy()


def project(pod: dict[str, Any], labels: LabelPolicy = _DEFAULT_POLICY) -> PodView:
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
    kept, omitted = labels.keep(meta.get("labels"))
    view: PodView = {
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "phase": status.get("phase", ""),
        "podIPs": ips,
        "hostNetwork": bool(spec.get("hostNetwork", False)),
        "labels": kept,
        "containers": _names(spec.get("containers")),
        "initContainers": _names(spec.get("initContainers")),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    if omitted:
        view["labelsOmitted"] = omitted  # the labels are incomplete: do not match on them
    if meta.get("deletionTimestamp"):
        # Terminating pods keep their IPs until the kubelet is done; consumers want to know.
        view["deletionTimestamp"] = meta["deletionTimestamp"]
    return view
