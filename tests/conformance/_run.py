"""Send one scenario to both servers and say where their answers differ.

Each server is driven through its public harness API only (``apply``, ``add_user``,
``token_for``, ``url``/``ca_file``/``admin_token``, its audit log file and ``/metrics``), with
raw HTTP so that header lines go out exactly as generated (repeated ``Impersonate-Group``
lines stay separate). Steps are sent in lock step, kube first, so both servers see the same
history at about the same time (the 10 s impersonation caches behave alike).

Compared per step: status code, Content-Type and ``Warning`` headers; the Status body
(reason, message, details), reviews and TokenRequest (SelfSubjectReview's identity included)
and every object answered, in full; of a list, the items of the scenario in full. Per request, every audit event (``user``,
``impersonatedUser``, ``authenticationMetadata``, ``responseStatus``, ``objectRef``,
annotations ...). Per scenario, the ``apiserver_impersonation_*`` counter deltas.
Normalised away: only what must differ between two servers (uids, timestamps,
resourceVersions, token bytes and key ids, audit ids); see ``_normalize``.
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._model import ADMIN, Actor, Ref, Scenario, Step
from ._normalize import Normalizer

__all__ = ["Answer", "AuditTail", "Divergence", "Side", "impersonation_metrics", "run_pair"]

UA_PREFIX = "cimp-conformance"
_STAGES = {"RequestReceived": 0, "ResponseStarted": 1, "ResponseComplete": 2, "Panic": 3}
# Fields of an audit event that are per-request by nature.
_AUDIT_VOLATILE = {"auditID", "requestReceivedTimestamp", "stageTimestamp"}
# Annotations present only when a request took more than 500 ms: timing, not semantics.
_LATENCY_ANNOTATION = re.compile(r"^apiserver\.latency\.k8s\.io/")


@dataclass
class Answer:
    status: int
    body: Any
    content_type: str = ""
    warnings: tuple[str, ...] = ()  # the Warning header lines, in order


@dataclass(frozen=True)
class Divergence:
    """One difference: where (step, aspect) and both answers, normalised."""

    seed: int
    index: int
    family: str
    where: str
    aspect: str
    embedded: Any
    kube: Any

    def render(self) -> str:
        e = json.dumps(self.embedded, ensure_ascii=False, sort_keys=True)
        k = json.dumps(self.kube, ensure_ascii=False, sort_keys=True)
        return (
            f"[seed {self.seed} scenario {self.index} ({self.family})] {self.where} :: "
            f"{self.aspect}\n    embedded: {e}\n    kube:     {k}"
        )


class AuditTail:
    """Reads an audit log file incrementally; events are kept by User-Agent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self.by_agent: dict[str, list[dict[str, Any]]] = {}

    def poll(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if not line.strip():
                continue
            event = json.loads(line)
            agent = str(event.get("userAgent", ""))
            if agent.startswith(UA_PREFIX):
                self.by_agent.setdefault(agent, []).append(event)

    def take(self, agent: str) -> list[dict[str, Any]]:
        return self.by_agent.pop(agent, [])


class Side:
    """One server of the pair: raw HTTPS with a kept-alive connection, its audit tail."""

    def __init__(self, name: str, server: Any, audit_log: Path) -> None:
        self.name = name
        self.server = server
        self.audit = AuditTail(audit_log)
        self._conn: http.client.HTTPSConnection | None = None
        parts = urlsplit(server.url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port
        self.address = f"{self._host}:{self._port}"
        self._ssl = ssl.create_default_context(cafile=server.ca_file)

    def _connection(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self._host, self._port, context=self._ssl, timeout=30)

    def send(self, step: Step, token: str, body: Any, agent: str) -> Answer:
        watch = step.watch
        for attempt in (0, 1):
            conn = self._connection() if watch else (self._conn or self._connection())
            try:
                conn.putrequest(step.method, step.path, skip_accept_encoding=True)
                if token:
                    conn.putheader("Authorization", f"Bearer {token}")
                conn.putheader("User-Agent", agent)
                conn.putheader("Accept", "application/json")
                for name, value in step.headers:
                    conn.putheader(name, value.encode("utf-8"))
                payload = b""
                if body is not None:
                    payload = json.dumps(body).encode()
                    conn.putheader("Content-Type", step.content_type)
                conn.putheader("Content-Length", str(len(payload)))
                conn.endheaders(payload or None)
                resp = conn.getresponse()
                ctype = resp.getheader("Content-Type") or ""
                warnings = tuple(resp.headers.get_all("Warning") or ())
                if watch and resp.status < 300 and "timeoutSeconds=" not in step.path:
                    conn.close()  # a watch the client ends: only its start is compared
                    return Answer(resp.status, None, ctype.split(";")[0], warnings)
                raw = resp.read()  # a watch with a timeout: the server ends the stream
                if watch and resp.status < 300:
                    conn.close()
                    events = [json.loads(line) for line in raw.splitlines() if line.strip()]
                    return Answer(resp.status, {"$watch": events}, ctype.split(";")[0], warnings)
            except (http.client.HTTPException, OSError):
                conn.close()
                if not watch:
                    self._conn = None
                if attempt:
                    raise
                continue
            if watch:
                conn.close()
            else:
                self._conn = conn
            try:
                decoded: Any = json.loads(raw) if raw else None
            except ValueError:
                decoded = raw.decode("utf-8", "replace")
            return Answer(resp.status, decoded, ctype.split(";")[0], warnings)
        raise AssertionError("unreachable")

    def admin_get(self, path: str) -> Any:
        status, body = self.server.request("GET", path)
        return body if status == 200 else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# --------------------------------------------------------------------------- metrics

_SAMPLE = re.compile(r"^(apiserver_impersonation_[a-z_]+?)(_total|_count)?(\{[^}]*\})?\s+(\S+)$")
_LABEL = re.compile(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"')


def impersonation_metrics(text: str) -> dict[str, float]:
    """Counters and histogram counts of ``apiserver_impersonation_*``, labels sorted."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_impersonation_") or "_bucket" in line:
            continue
        m = _SAMPLE.match(line)
        if m is None or m.group(2) is None:
            continue  # _sum: a duration, not comparable
        labels = sorted(_LABEL.findall(m.group(3) or ""))
        key = m.group(1) + m.group(2) + "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"
        out[key] = float(m.group(4))
    return out


def _delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    delta = {k: after[k] - before.get(k, 0.0) for k in after}
    return {k: v for k, v in sorted(delta.items()) if v}


# --------------------------------------------------------------------------- running


@dataclass
class Observed:
    """What one server answered for a scenario (normalised when compared)."""

    setup_error: str = ""
    actor_errors: dict[str, str] = field(default_factory=dict)
    answers: list[Answer | None] = field(default_factory=list)
    events: list[list[dict[str, Any]]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    normalizer: Normalizer = field(default_factory=Normalizer)


def _agent(scenario: Scenario, i: int) -> str:
    return f"{UA_PREFIX}/{scenario.index}/{i}"


def _setup(side: Side, scenario: Scenario, obs: Observed) -> dict[str, str]:
    server = side.server
    obs.normalizer.address = side.address
    try:
        stored = server.apply(*scenario.objects) if scenario.objects else []
    except ValueError as exc:
        obs.setup_error = str(exc)
        stored = []
    for obj in stored:
        obs.normalizer.learn(obj)
    tokens: dict[str, str] = {ADMIN: server.admin_token}
    for key, actor in scenario.actors.items():
        try:
            tokens[key] = _token(server, actor)
        except ValueError as exc:
            obs.actor_errors[key] = str(exc)
            tokens[key] = ""
    return tokens


def _token(server: Any, actor: Actor) -> str:
    if actor.kind == "user":
        return str(
            server.add_user(
                actor.name,
                groups=actor.groups,
                uid=actor.uid,
                extra={k: list(v) for k, v in actor.extra} or None,
            )
        )
    if actor.kind == "token":
        return str(server.token_for(actor.namespace, actor.name, pod=actor.pod, node=actor.node))
    return ""  # "anonymous": no token; "step-token": resolved when the step runs


def _issued_token(obs: Observed, step: int) -> str:
    answer = obs.answers[step] if step < len(obs.answers) else None
    body = answer.body if answer is not None else None
    if isinstance(body, dict) and body.get("kind") == "TokenRequest":
        return str((body.get("status") or {}).get("token", ""))
    return ""  # the TokenRequest failed: the step sends no token (anonymous)


def _step_token(actor_key: str, tokens: dict[str, str], obs: Observed) -> str:
    if actor_key.startswith("step"):  # the token an earlier TokenRequest step returned
        return _issued_token(obs, int(actor_key[4:]))
    return tokens.get(actor_key, "")


def _resolve(value: Any, side: Side, obs: Observed) -> Any:
    if isinstance(value, Ref):
        if value.kind == "uid":
            obj = side.admin_get(value.path)
            return (obj or {}).get("metadata", {}).get("uid", "")
        return _issued_token(obs, value.step)
    if isinstance(value, dict):
        return {k: _resolve(v, side, obs) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, side, obs) for v in value]
    return value


def _client_ended(step: Step, answer: Answer) -> bool:
    """A watch that started and that the client closed (one with a timeout the server ends)."""
    return step.watch and answer.status < 300 and answer.body is None


def _wait_for_events(side: Side, scenario: Scenario, obs: Observed, timeout: float = 3.0) -> None:
    """Collect each step's audit events; wait until its final one was written."""
    deadline = time.monotonic() + timeout
    wanted: dict[str, str] = {}
    for i, step in enumerate(scenario.steps):
        answer = obs.answers[i]
        if answer is None:
            continue
        wanted[_agent(scenario, i)] = (
            "ResponseStarted" if _client_ended(step, answer) else ("ResponseComplete")
        )
    got: dict[str, list[dict[str, Any]]] = {agent: [] for agent in wanted}
    while True:
        side.audit.poll()
        for agent in wanted:
            got[agent].extend(side.audit.take(agent))
        missing = [a for a, stage in wanted.items() if all(e["stage"] != stage for e in got[a])]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    obs.events = []
    for i, step in enumerate(scenario.steps):
        events = sorted(got.get(_agent(scenario, i), []), key=lambda e: _STAGES.get(e["stage"], 9))
        answer = obs.answers[i]
        if answer is not None and _client_ended(step, answer):
            # The client closed the stream: when the server notices is timing, not semantics.
            events = [e for e in events if e["stage"] != "ResponseComplete"]
        obs.events.append(events)


def run_pair(scenario: Scenario, embedded: Side, kube: Side) -> list[Divergence]:
    """Run ``scenario`` on both servers, in lock step; the divergences, normalised."""
    sides = (kube, embedded)
    observed = {side.name: Observed() for side in sides}
    tokens = {side.name: _setup(side, scenario, observed[side.name]) for side in sides}
    before = {side.name: impersonation_metrics(side.server.metrics_text()) for side in sides}
    for i, step in enumerate(scenario.steps):
        for side in sides:
            obs = observed[side.name]
            if step.actor in obs.actor_errors:
                obs.answers.append(None)
                continue
            token = _step_token(step.actor, tokens[side.name], obs)
            body = _resolve(step.body, side, obs)
            answer = side.send(step, token, body, _agent(scenario, i))
            obs.answers.append(answer)
            obs.normalizer.learn_answer(answer.body)
        if step.method == "DELETE":
            time.sleep(0.3)  # kube's authenticators and authorizers read informer caches
    for side in sides:
        obs = observed[side.name]
        _wait_for_events(side, scenario, obs)
        obs.metrics = _delta(before[side.name], impersonation_metrics(side.server.metrics_text()))
    return compare(scenario, observed["embedded"], observed["kube"])


# --------------------------------------------------------------------------- comparing


def _item_name(item: Any) -> str:
    meta = (item.get("metadata") if isinstance(item, dict) else None) or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def summarize(answer: Answer | None, norm: Normalizer, prefix: str) -> Any:
    """What of an answer is compared: Status, reviews and objects in full (normalised); of a
    list its kind and the items of this scenario in full (the servers' own objects are not
    its business); of a document without a kind (``/version``, ``/``) its keys."""
    if answer is None:
        return None
    body = answer.body
    if isinstance(body, dict):
        if "$watch" in body:  # the events of a watch the server ended: this scenario's
            return [
                {"type": e.get("type"), "object": norm.apply(e.get("object"))}
                for e in body["$watch"]
                if any(p.startswith(prefix) for p in _item_name(e.get("object")).split("/"))
                or e.get("type") not in ("ADDED", "MODIFIED", "DELETED")
            ]
        kind = body.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and kind != "List":
            items = sorted(body.get("items") or [], key=_item_name)
            mine = [
                norm.apply(i)
                for i in items
                if any(p.startswith(prefix) for p in _item_name(i).split("/"))
            ]
            return {"kind": kind, "apiVersion": body.get("apiVersion"), "items": mine}
        if kind is None:
            return {"keys": sorted(body)}
        return norm.apply(body)
    if isinstance(body, str) and answer.status >= 400:
        return body
    return None if body is None else "<text>"


def _event_view(event: dict[str, Any], norm: Normalizer) -> dict[str, Any]:
    view = {k: v for k, v in event.items() if k not in _AUDIT_VOLATILE}
    annotations = {
        k: v
        for k, v in (view.pop("annotations", None) or {}).items()
        if not _LATENCY_ANNOTATION.match(k)
    }
    if annotations:
        view["annotations"] = annotations
    out: dict[str, Any] = norm.apply(view)
    return out


def compare(scenario: Scenario, emb: Observed, kube: Observed) -> list[Divergence]:
    out: list[Divergence] = []

    def diverge(where: str, aspect: str, e: Any, k: Any) -> None:
        if e != k:
            out.append(
                Divergence(scenario.seed, scenario.index, scenario.family, where, aspect, e, k)
            )

    diverge("setup", "apply", emb.setup_error, kube.setup_error)
    diverge("setup", "actors", emb.actor_errors, kube.actor_errors)
    for i, step in enumerate(scenario.steps):
        where = f"step {i} [{step.label}]"
        ea, ka = emb.answers[i], kube.answers[i]
        diverge(where, "code", ea.status if ea else None, ka.status if ka else None)
        diverge(
            where,
            "content-type",
            ea.content_type if ea else None,
            ka.content_type if ka else None,
        )
        diverge(
            where, "warnings", list(ea.warnings) if ea else None, list(ka.warnings) if ka else None
        )
        diverge(
            where,
            "body",
            summarize(ea, emb.normalizer, scenario.prefix),
            summarize(ka, kube.normalizer, scenario.prefix),
        )
        ee = [_event_view(e, emb.normalizer) for e in emb.events[i]]
        ke = [_event_view(e, kube.normalizer) for e in kube.events[i]]
        diverge(where, "audit.stages", [e["stage"] for e in ee], [e["stage"] for e in ke])
        e_by, k_by = {e["stage"]: e for e in ee}, {e["stage"]: e for e in ke}
        for stage in sorted(set(e_by) & set(k_by), key=lambda s: _STAGES.get(s, 9)):
            e_ev, k_ev = e_by[stage], k_by[stage]
            for key in sorted(set(e_ev) | set(k_ev)):
                diverge(where, f"audit.{stage}.{key}", e_ev.get(key), k_ev.get(key))
    diverge("scenario", "metrics", emb.metrics, kube.metrics)
    return out


def render(scenario: Scenario, divergences: Iterable[Divergence]) -> str:
    lines = [d.render() for d in divergences]
    replay = f"CIMP_SEED={scenario.seed} CIMP_ONLY={scenario.index}"
    return "\n".join(lines) + f"\n--- scenario (replay: {replay}) ---\n{scenario.describe()}"
