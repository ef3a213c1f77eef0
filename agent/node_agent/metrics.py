"""Prometheus text metrics without a client library.

``prometheus_client`` is not a dependency and the agent needs a handful of series; a small
registry (counters, gauges read at scrape time, one histogram family) keeps RSS and import
time down. Output follows the text exposition format 0.0.4.
"""

from __future__ import annotations

import bisect
import math
import os
import threading
from collections.abc import Callable, Sequence

__all__ = ["CONTENT_TYPE", "Counter", "Histogram", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{name}="{_escape(value)}"' for name, value in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


class Counter:
    """A monotonically increasing count per label set."""

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(label_names)
        self._values: dict[Labels, float] = {}
        self._lock = threading.Lock()
        if not self.label_names:
            self._values[()] = 0.0

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple((name, labels[name]) for name in self.label_names)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        key = tuple((name, labels[name]) for name in self.label_names)
        return self._values.get(key, 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            items = sorted(self._values.items())
        lines.extend(f"{self.name}{_labels(key)} {_number(value)}" for key, value in items)
        return lines


class Gauge:
    """A value read from a callback at scrape time (pods known, readiness, RSS)."""

    def __init__(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.name = name
        self.help = help_text
        self._read = read

    def render(self) -> list[str]:
        return [
            f"# HELP {self.name} {self.help}",
            f"# TYPE {self.name} gauge",
            f"{self.name} {_number(float(self._read()))}",
        ]


class Histogram:
    """Cumulative buckets, sum and count per label set."""

    def __init__(
        self,
        name: str,
        help_text: str,
        label_names: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(label_names)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[Labels, tuple[list[int], list[float]]] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, **labels: str) -> None:
        key = tuple((name, labels[name]) for name in self.label_names)
        index = bisect.bisect_left(self.buckets, value)
        with self._lock:
            counts, totals = self._series.setdefault(key, ([0] * (len(self.buckets) + 1), [0.0]))
            counts[index] += 1
            totals[0] += value

    def count(self, **labels: str) -> int:
        key = tuple((name, labels[name]) for name in self.label_names)
        series = self._series.get(key)
        return sum(series[0]) if series else 0

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        with self._lock:
            items = sorted((key, (list(c), t[0])) for key, (c, t) in self._series.items())
        for key, (counts, total) in items:
            running = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                running += count
                le = 'le="' + _number(bound) + '"'
                lines.append(f"{self.name}_bucket{_labels(key, le)} {running}")
            lines.append(f"{self.name}_sum{_labels(key)} {_number(total)}")
            lines.append(f"{self.name}_count{_labels(key)} {running}")
        return lines


def _rss_bytes() -> float:
    """Resident set size from /proc (Linux); 0 elsewhere."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return float(int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, IndexError):
        return 0.0


class Metrics:
    """Every series the agent exports; the agent's parts increment them directly."""

    def __init__(
        self,
        pods_known: Callable[[], float],
        ready: Callable[[], float],
        watching: Callable[[], float] = lambda: 0.0,
        labels_omitted: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.events = Counter(
            "cimp_agent_watch_events_total",
            "Watch events received, by type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR).",
            ("type",),
        )
        self.relists = Counter(
            "cimp_agent_relists_total",
            "Complete lists that replaced the inventory (first sync, 410 Gone, errors).",
            ("reason",),
        )
        self.watch_restarts = Counter(
            "cimp_agent_watch_restarts_total",
            "Watches re-opened, by why the previous one ended (expired, error, gone, idle).",
            ("reason",),
        )
        self.request_errors = Counter(
            "cimp_agent_api_errors_total",
            "Failed API requests, by verb and error (HTTP status or exception class).",
            ("verb", "error"),
        )
        self.request_latency = Histogram(
            "cimp_agent_api_request_duration_seconds",
            "API request latency: a list until its body is read, a watch until its headers.",
            ("verb", "code"),
        )
        self.file_writes = Counter(
            "cimp_agent_output_writes_total", "Inventory files written (atomic replace)."
        )
        self.file_errors = Counter(
            "cimp_agent_output_write_errors_total", "Inventory file writes that failed."
        )
        self.http_requests = Counter(
            "cimp_agent_http_requests_total",
            "Requests served on the agent's own endpoints, by path and code.",
            ("path", "code"),
        )
        self._families: list[Counter | Gauge | Histogram] = [
            Gauge("cimp_agent_pods", "Pods currently known on this node.", pods_known),
            Gauge("cimp_agent_ready", "1 after the first complete list, else 0.", ready),
            Gauge(
                "cimp_agent_watch_connected",
                "1 while a watch stream is open; 0 means /pods may be stale (alert on it).",
                watching,
            ),
            Gauge(
                "cimp_agent_pods_labels_omitted",
                "Pods whose labels exceed --max-label-bytes: published with labelsOmitted.",
                labels_omitted,
            ),
            self.events,
            self.relists,
            self.watch_restarts,
            self.request_errors,
            self.request_latency,
            self.file_writes,
            self.file_errors,
            self.http_requests,
            Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", _rss_bytes),
        ]

    def render(self) -> bytes:
        lines: list[str] = []
        for family in self._families:
            lines.extend(family.render())
        return ("\n".join(lines) + "\n").encode()
