"""Stream kube-apiserver audit logs and count who impersonated whom, and how.

Audit logs are JSON lines (the log backend's format), possibly gzip-compressed, of any size.
Reading is constant-memory and fast because almost no line concerns impersonation: the file is
read in large binary blocks, the blocks are searched for ``impersonat`` at C speed, and only the
lines around a hit are decoded with ``json.loads``. Memory grows with the number of distinct
(requestor, target, mode, request) combinations, never with the size of the log.

An event counts as an impersonation when it carries ``impersonatedUser`` (written only on
success, docs/semantics.md#audit); its mode is ``authenticationMetadata.impersonationConstraint``
without the ``impersonate:`` prefix, or ``legacy`` when that is absent. A 403 whose message names
the requestor and an ``impersonate...`` verb is a denied attempt.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

from .denied import parse_forbidden
from .identity import NODE_USER_PREFIX, node_name_of, service_account_of

__all__ = [
    "AuditSummary",
    "Denial",
    "Impersonation",
    "Stats",
    "iter_candidate_lines",
    "request_text",
    "summarize",
]

NEEDLE = b"impersonat"
CHUNK = 4 << 20
NODE_NAME_EXTRA = "authentication.kubernetes.io/node-name"
_COUNTED_STAGES = frozenset({"ResponseComplete", "Panic", ""})
_SA_GROUPS = ("system:serviceaccounts", "system:authenticated")
_EMPTY: dict[str, Any] = {}


@dataclass(frozen=True, slots=True, order=True)
class Impersonation:
    """One distinct impersonated request shape (the aggregation key).

    ``groups`` are the impersonated identity's final groups as audited; ``node_bound`` says
    the requestor's token is bound to the impersonated node (associated-node is possible).
    """

    requestor: str
    mode: str
    target: str
    uid: str
    groups: tuple[str, ...]
    extra_keys: tuple[str, ...]
    verb: str
    api_group: str
    resource: str
    namespace: str
    path: str
    node_bound: bool

    @property
    def legacy(self) -> bool:
        return self.mode == "legacy"

    def requested_groups(self) -> tuple[str, ...]:
        """The groups the requestor sent: the audited groups minus what the server added."""
        groups = self.groups
        sa = service_account_of(self.target)
        if sa is not None and groups == (_SA_GROUPS[0], f"{_SA_GROUPS[0]}:{sa[0]}", _SA_GROUPS[1]):
            return ()
        if self.mode in ("associated-node", "arbitrary-node", "serviceaccount"):
            return ()
        if groups and groups[-1] in ("system:authenticated", "system:unauthenticated"):
            return groups[:-1]
        return groups

    def request_text(self) -> str:
        if self.path:
            return f"{self.verb} {self.path}"
        res = f"{self.resource}.{self.api_group}" if self.api_group else self.resource
        return f"{self.verb} {res}" + (f" in {self.namespace}" if self.namespace else "")

    def to_dict(self) -> dict[str, Any]:
        target: dict[str, Any] = {"user": self.target}
        if self.uid:
            target["uid"] = self.uid
        if self.groups:
            target["groups"] = list(self.groups)
        if self.extra_keys:
            target["extraKeys"] = list(self.extra_keys)
        out: dict[str, Any] = {
            "requestor": self.requestor,
            "mode": self.mode,
            "target": target,
            "verb": self.verb,
        }
        if self.path:
            out["path"] = self.path
        else:
            out.update(apiGroup=self.api_group, resource=self.resource)
            if self.namespace:
                out["namespace"] = self.namespace
        if self.node_bound:
            out["requestorBoundToNode"] = True
        return out


@dataclass(frozen=True, slots=True, order=True)
class Denial:
    """A refused impersonation: which check the requestor lacked, for which request."""

    requestor: str
    missing: str
    request: str


@dataclass(slots=True)
class Stats:
    """Counts of one key; ``sample`` keeps the first event's identities and URI for replay."""

    count: int = 0
    first_seen: str = ""
    last_seen: str = ""
    sample: dict[str, Any] = field(default_factory=dict)

    def add(self, timestamp: str, sample: dict[str, Any] | None = None) -> None:
        self.merge(Stats(1, timestamp, timestamp, sample or {}))

    def merge(self, other: Stats) -> None:
        self.count += other.count
        if other.first_seen and (not self.first_seen or other.first_seen < self.first_seen):
            self.first_seen = other.first_seen
        self.last_seen = max(self.last_seen, other.last_seen)
        if not self.sample:
            self.sample = other.sample


@dataclass
class AuditSummary:
    """What :func:`summarize` found in one or more logs."""

    impersonations: dict[Impersonation, Stats] = field(default_factory=dict)
    denials: dict[Denial, Stats] = field(default_factory=dict)
    bytes_read: int = 0
    lines_parsed: int = 0
    malformed: int = 0
    files: list[str] = field(default_factory=list)

    @property
    def legacy(self) -> dict[Impersonation, Stats]:
        return {k: v for k, v in self.impersonations.items() if k.legacy}

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        """One JSON row per distinct impersonation, sorted."""
        for key in sorted(self.impersonations):
            stats = self.impersonations[key]
            row = key.to_dict()
            row.update(count=stats.count, firstSeen=stats.first_seen, lastSeen=stats.last_seen)
            yield row

    def iter_denials(self) -> Iterator[dict[str, Any]]:
        for denial in sorted(self.denials):
            stats = self.denials[denial]
            yield {
                "requestor": denial.requestor,
                "missing": denial.missing,
                "request": denial.request,
                "count": stats.count,
                "firstSeen": stats.first_seen,
                "lastSeen": stats.last_seen,
            }

    def to_dict_head(self) -> dict[str, Any]:
        """The ``summary`` part of :meth:`to_dict`: totals only."""
        return {
            "files": list(self.files),
            "bytesRead": self.bytes_read,
            "impersonatedRequests": sum(s.count for s in self.impersonations.values()),
            "legacyRequests": sum(s.count for s in self.legacy.values()),
            "deniedAttempts": sum(s.count for s in self.denials.values()),
            "malformedLines": self.malformed,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.to_dict_head(),
            "impersonations": list(self.iter_rows()),
            "denied": list(self.iter_denials()),
        }


# --------------------------------------------------------------------------- reading


class _Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int, enabled: bool | None = None) -> None:
        self.total = total
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self.last = 0.0

    def update(self, done: int, label: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-6) / 1e6
        pct = f"{100 * done / self.total:5.1f}%" if self.total else "     "
        sys.stderr.write(f"\r{label}: {pct} {done / 1e6:9.1f} MB  {rate:6.1f} MB/s")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _open(source: str | Path) -> tuple[IO[bytes] | gzip.GzipFile, IO[bytes], int]:
    """(stream of decompressed bytes, raw file for progress, raw size)."""
    if str(source) == "-":
        raw: IO[bytes] = sys.stdin.buffer
        size = 0
    else:
        path = Path(source)
        if not path.exists():
            raise OSError(f"{source}: no such file")
        if path.is_dir():
            raise OSError(f"{source}: is a directory, expected an audit log")
        raw = path.open("rb")
        size = path.stat().st_size
    head = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw, size
    return raw, raw, size


def iter_candidate_lines(
    stream: IO[bytes] | gzip.GzipFile,
    needle: bytes = NEEDLE,
    chunk: int = CHUNK,
    on_block: Callable[[], None] | None = None,
) -> Iterator[bytes]:
    """Lines of ``stream`` containing ``needle``, found block by block without a Python loop
    over the lines that do not. ``on_block`` runs after each block is read (progress)."""
    tail = b""
    while True:
        block = stream.read(chunk)
        if not block:
            break
        if on_block is not None:
            on_block()
        data = tail + block if tail else block
        cut = data.rfind(b"\n")
        if cut < 0:
            tail = data
            continue
        tail = data[cut + 1 :]
        pos = data.find(needle, 0, cut)
        while pos >= 0:
            start = data.rfind(b"\n", 0, pos) + 1
            end = data.find(b"\n", pos)
            yield data[start:end]
            pos = data.find(needle, end, cut)
    if needle in tail:
        yield tail


def _first_line_ok(stream: IO[bytes] | gzip.GzipFile, source: str) -> bytes:
    """Read the first line and fail fast if the file is not JSON lines at all."""
    first = stream.readline()
    text = first.strip()
    if not text:
        return first
    try:
        obj = json.loads(text)
    except ValueError:
        raise ValueError(
            f"{source}: not a JSON-lines audit log (first line is not JSON); kube-apiserver "
            "writes one audit.k8s.io/v1 Event per line with --audit-log-format=json"
        ) from None
    if not isinstance(obj, dict):
        raise ValueError(f"{source}: not a JSON-lines audit log (first line is not an object)")
    return first


# The hot loop keys events by a plain tuple (hashing a dataclass runs Python code per lookup);
# distinct raw keys become Impersonation objects once, at the end.
_RawKey = tuple[Any, ...]


def _raw_key(event: dict[str, Any], impersonated: dict[str, Any]) -> _RawKey:
    user = event.get("user") or _EMPTY
    meta = event.get("authenticationMetadata")
    ref = event.get("objectRef")
    extra = impersonated.get("extra")
    target = impersonated.get("username") or ""
    node_extra = None
    if target.startswith(NODE_USER_PREFIX):
        user_extra = user.get("extra")
        node_extra = tuple(user_extra.get(NODE_NAME_EXTRA) or ()) if user_extra else ()
    return (
        user.get("username") or "",
        meta.get("impersonationConstraint") if meta else None,
        target,
        impersonated.get("uid") or "",
        tuple(impersonated.get("groups") or ()),
        tuple(sorted(extra)) if extra else (),
        event.get("verb") or "",
        (ref.get("apiGroup"), ref.get("resource"), ref.get("subresource"), ref.get("namespace"))
        if ref
        else (event.get("requestURI") or "").split("?", 1)[0],
        node_extra,
    )


def _shared(value: Any) -> Any:
    """``value`` with its strings interned: thousands of keys share "team-a", "get", user
    names... instead of each holding the copies ``json`` made (halves the memory per key)."""
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, tuple):
        return tuple(_shared(item) for item in value)
    return value


def _key(raw: _RawKey) -> Impersonation:
    requestor, constraint, target, uid, groups, extra_keys, verb, where, node_extra = raw
    constraint = str(constraint or "")
    mode = constraint.split(":", 1)[1] if constraint.startswith("impersonate:") else "legacy"
    node_bound = False
    if node_extra is not None:
        node = node_name_of(target)
        node_bound = (
            node is not None and service_account_of(requestor) is not None and node_extra == (node,)
        )
    if isinstance(where, tuple):
        api_group, resource, sub, namespace = where
        resource = str(resource or "") + (f"/{sub}" if sub else "")
        path = ""
    else:
        api_group = namespace = None
        resource, path = "", where
    return Impersonation(
        requestor=str(requestor),
        mode=mode,
        target=str(target),
        uid=str(uid),
        groups=tuple(str(g) for g in groups),
        extra_keys=tuple(str(k) for k in extra_keys),
        verb=str(verb),
        api_group=str(api_group or ""),
        resource=resource,
        namespace=str(namespace or ""),
        path=str(path),
        node_bound=node_bound,
    )


def _denial(event: Mapping[str, Any]) -> Denial | None:
    """A 403 refusing the requestor's impersonation (parsed by shape, as the SDK does)."""
    status = event.get("responseStatus") or {}
    if status.get("code") != 403:
        return None
    parsed = parse_forbidden(status)
    requestor = str((event.get("user") or {}).get("username") or "")
    if parsed is None or parsed.mode is None or parsed.requestor != requestor:
        return None
    return Denial(requestor, parsed.verb, request_text(event))


def request_text(event: Mapping[str, Any], *, named: bool = False) -> str:
    """``verb resource[/sub][.group] ['name'] [in ns]`` (or ``verb /path``) of an audit event."""
    ref = event.get("objectRef")
    verb = str(event.get("verb") or "")
    if not isinstance(ref, Mapping):
        return f"{verb} {str(event.get('requestURI') or '').split('?', 1)[0]}"
    res = str(ref.get("resource") or "")
    if ref.get("subresource"):
        res += f"/{ref['subresource']}"
    if ref.get("apiGroup"):
        res += f".{ref['apiGroup']}"
    if named and ref.get("name"):
        res += f" {ref['name']!r}"
    return f"{verb} {res}" + (f" in {ref['namespace']}" if ref.get("namespace") else "")


def summarize(
    sources: Iterable[str | Path],
    *,
    progress: bool | None = None,
    samples: bool = False,
    summary: AuditSummary | None = None,
) -> AuditSummary:
    """Read every log in ``sources`` (``-`` is stdin; gzip detected by its magic bytes).

    ``samples=True`` keeps, per distinct impersonation, the first event's user, impersonated
    user and request URI (what ``cimp migrate --verify`` replays).
    """
    summary = summary or AuditSummary()
    raw_counts: dict[_RawKey, list[Any]] = {}
    denials = summary.denials
    # ``scan_once`` on text skips ``json.loads``' per-call encoding detection and argument
    # handling: a quarter of the cost of an event line.
    scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
    counted = _COUNTED_STAGES
    for source in sources:
        stream, raw, size = _open(source)
        bar = _Progress(size, progress)
        label = os.path.basename(str(source))
        parsed = malformed = 0
        try:
            first = _first_line_ok(stream, str(source))
            lines = iter_candidate_lines(stream, on_block=partial(_tick, bar, raw, label))
            # The format check consumed the first line: look at it too.
            for line in _chain([first] if NEEDLE in first else [], lines):
                try:
                    event = scan(line.decode("utf-8"), 0)[0]
                except (ValueError, StopIteration):
                    malformed += 1
                    continue
                if type(event) is not dict:
                    malformed += 1
                    continue
                parsed += 1
                if event.get("stage", "") not in counted:
                    continue
                timestamp = event.get("requestReceivedTimestamp") or ""
                impersonated = event.get("impersonatedUser")
                if type(impersonated) is dict:
                    key = _raw_key(event, impersonated)
                    entry = raw_counts.get(key)
                    if entry is None:
                        sample = (
                            {
                                "requestURI": event.get("requestURI") or "",
                                "user": event.get("user") or {},
                                "impersonatedUser": impersonated,
                            }
                            if samples
                            else {}
                        )
                        raw_counts[_shared(key)] = [1, timestamp, timestamp, sample]
                    else:
                        entry[0] += 1
                        if timestamp < entry[1]:
                            entry[1] = timestamp
                        elif timestamp > entry[2]:
                            entry[2] = timestamp
                else:
                    denial = _denial(event)
                    if denial is not None:
                        dstats = denials.get(denial)
                        if dstats is None:
                            dstats = denials[denial] = Stats()
                        dstats.add(str(timestamp), None)
            summary.bytes_read += size or _position(raw)
        except (EOFError, gzip.BadGzipFile) as exc:
            raise OSError(f"{source}: cannot read: {exc}") from None
        finally:
            bar.finish()
            if raw is not sys.stdin.buffer:
                raw.close()
        summary.lines_parsed += parsed
        summary.malformed += malformed
        summary.files.append(str(source))
    impersonations = summary.impersonations
    while raw_counts:  # popping frees each raw key as its Impersonation is made
        raw_key, (count, first_seen, last_seen, sample) = raw_counts.popitem()
        found = Stats(count, str(first_seen), str(last_seen), sample)
        impersonation = _key(raw_key)
        stats = impersonations.get(impersonation)
        if stats is None:
            impersonations[impersonation] = found
        else:
            stats.merge(found)
    return summary


def _tick(bar: _Progress, raw: IO[bytes], label: str) -> None:
    bar.update(_position(raw), label)


def _chain(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest


def _position(raw: IO[bytes]) -> int:
    try:
        return raw.tell()
    except (OSError, ValueError):
        return 0
