"""A small Prometheus registry: counters and histograms rendered in the text format.

Enough for ``/metrics`` of the embedded server; no dependency, thread-safe, label values
escaped as the exposition format requires. Rendered as kube-apiserver's registry (the
Prometheus Go client) renders: families sorted by name and left out while they have no
series, labels sorted by name, numbers in Go's shortest form; Kubernetes' stability level
prefixes the help text (``[ALPHA] ...``).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence

__all__ = ["Counter", "Histogram", "Registry", "exponential_buckets"]

_DEFAULT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def exponential_buckets(start: float, factor: float, count: int) -> tuple[float, ...]:
    """component-base's ``ExponentialBuckets``: ``start * factor**i`` for ``i < count``."""
    return tuple(start * factor**i for i in range(count))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'g', -1, 64)`` for the values a counter or a bucket
    holds: integers without a point, others in their shortest round-trip form."""
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = exponent[0] if exponent[0] in "+-" else "+"
        digits = exponent.lstrip("+-").rjust(2, "0")
        text = f"{mantissa}e{sign}{digits}"
    return text


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = sorted(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))
    if extra:
        parts.append(extra)  # "le" comes last, as the Go client writes it
    return "{" + ",".join(parts) + "}" if parts else ""


def _sorted_series(
    names: Sequence[str], series: Sequence[tuple[str, ...]]
) -> list[tuple[str, ...]]:
    """Series in the order the Go client writes them: by label values, labels sorted by name."""
    order = sorted(range(len(names)), key=lambda i: names[i])
    return sorted(series, key=lambda values: [values[i] for i in order])


class Counter:
    def __init__(self, name: str, help_text: str, labels: Sequence[str]) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(labels)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        with self._lock:
            values = dict(self._values)
        if not values:
            return []  # a vector with no series is not gathered
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for labels in _sorted_series(self.label_names, list(values)):
            value = _number(values[labels])
            lines.append(f"{self.name}{_labels(self.label_names, labels)} {value}")
        return lines


class Histogram:
    def __init__(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str],
        buckets: Sequence[float] = _DEFAULT_BUCKETS,
    ) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(labels)
        self.buckets = tuple(buckets)
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            counts, sums = self._series.setdefault(labels, ([0] * (len(self.buckets) + 1), [0.0]))
            counts[bisect.bisect_left(self.buckets, value)] += 1
            sums[0] += value

    def count(self, *labels: str) -> int:
        series = self._series.get(labels)
        return sum(series[0]) if series else 0

    def render(self) -> list[str]:
        with self._lock:
            series = {k: (list(c), s[0]) for k, (c, s) in self._series.items()}
        if not series:
            return []  # a vector with no series is not gathered
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for labels in _sorted_series(self.label_names, list(series)):
            counts, total = series[labels]
            cumulative = 0
            for bound, count in zip(self.buckets, counts, strict=False):
                cumulative += count
                le = _labels(self.label_names, labels, f'le="{_number(bound)}"')
                lines.append(f"{self.name}_bucket{le} {cumulative}")
            cumulative += counts[-1]
            inf = _labels(self.label_names, labels, 'le="+Inf"')
            lines.append(f"{self.name}_bucket{inf} {cumulative}")
            lines.append(f"{self.name}_sum{_labels(self.label_names, labels)} {_number(total)}")
            lines.append(f"{self.name}_count{_labels(self.label_names, labels)} {cumulative}")
        return lines


class Registry:
    def __init__(self) -> None:
        self._metrics: list[Counter | Histogram] = []

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        metric = Counter(name, help_text, labels)
        self._metrics.append(metric)
        return metric

    def histogram(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = _DEFAULT_BUCKETS,
    ) -> Histogram:
        metric = Histogram(name, help_text, labels, buckets)
        self._metrics.append(metric)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in sorted(self._metrics, key=lambda m: m.name):
            lines.extend(metric.render())
        return "\n".join(lines) + "\n" if lines else ""
