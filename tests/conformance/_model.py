"""What a differential scenario is: objects, actors and the requests they send.

A scenario is plain data, generated from ``(seed, index)`` alone, so printing it (or just its
seed and index) is enough to replay it against both servers. Every name in it starts with the
scenario's prefix (``s<index>``), which keeps scenarios apart on the two long-lived servers
and makes the names, and therefore the messages, identical on both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ADMIN", "Actor", "Ref", "Scenario", "Step"]

ADMIN = "admin"


@dataclass(frozen=True)
class Ref:
    """A value known only once the scenario runs on a server: the token an earlier TokenRequest
    step returned (``step``), or the ``metadata.uid`` of an object set up by ``path``."""

    kind: str  # "token" | "uid"
    step: int = -1
    path: str = ""

    def to_json(self) -> dict[str, Any]:
        return (
            {"$ref": self.kind, "step": self.step}
            if self.kind == "token"
            else {
                "$ref": self.kind,
                "path": self.path,
            }
        )


@dataclass(frozen=True)
class Actor:
    """Who sends requests: a user the harness registers, or a service account's token.

    ``kind``: ``"user"`` (``add_user(name, groups, uid, extra)``; nodes are users named
    ``system:node:<n>`` in ``system:nodes``), ``"token"`` (``token_for(namespace, name,
    pod=..., node=...)``, a TokenRequest made by the admin, as the kubelet's), ``"anonymous"``
    (no credentials) or ``"step-token"`` (what an earlier TokenRequest step returned).
    """

    kind: str
    name: str
    groups: tuple[str, ...] = ()
    uid: str | None = None
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
    namespace: str = ""
    pod: str | None = None
    node: str | None = None

    def describe(self) -> dict[str, Any]:
        if self.kind == "anonymous":
            return {"anonymous": True}
        if self.kind == "token":
            out: dict[str, Any] = {"serviceaccount": f"{self.namespace}/{self.name}"}
            if self.pod:
                out["pod"] = self.pod
            if self.node:
                out["node"] = self.node
            return out
        out = {"user": self.name}
        if self.groups:
            out["groups"] = list(self.groups)
        if self.uid is not None:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra}
        return out


@dataclass(frozen=True)
class Step:
    """One HTTP request. ``headers`` are sent as separate lines, in order (repeated names
    stay repeated); ``body`` may contain :class:`Ref` values, resolved per server."""

    label: str
    actor: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None
    content_type: str = "application/json"
    watch: bool = False

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "actor": self.actor}
        out["request"] = f"{self.method} {self.path}"
        if self.headers:
            out["headers"] = [f"{k}: {v}" for k, v in self.headers]
        if self.body is not None:
            out["body"] = _jsonable(self.body)
            if self.content_type != "application/json":
                out["contentType"] = self.content_type
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Ref):
        return value.to_json()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass
class Scenario:
    """Objects the admin applies, the actors, then the steps, all named under ``prefix``."""

    seed: int
    index: int
    family: str
    prefix: str
    gate_off: bool = False
    objects: list[dict[str, Any]] = field(default_factory=list)
    actors: dict[str, Actor] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    def describe(self) -> str:
        """The whole scenario as indented JSON (what a divergence report prints)."""
        doc = {
            "seed": self.seed,
            "index": self.index,
            "family": self.family,
            "gateOff": self.gate_off,
            "objects": self.objects,
            "actors": {k: a.describe() for k, a in self.actors.items()},
            "steps": [s.describe() for s in self.steps],
        }
        return json.dumps(doc, indent=1, ensure_ascii=False)
