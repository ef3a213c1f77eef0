"""CEL's ``timestamp`` and ``duration`` values as cel-go gives them: Go's RFC 3339 and
``time.ParseDuration`` syntaxes, nanosecond precision, the year 1..9999 range, string forms
(``RFC3339Nano`` keeping the parsed offset, ``1.5s``), and the calendar getters in UTC or in a
named/offset time zone."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

__all__ = ["Duration", "Timestamp", "parse_duration", "parse_timestamp"]

_NS = 1_000_000_000
_MIN_UNIX = -62135596800
_MAX_UNIX = 253402300799
_MAX_DURATION_NS = (1 << 63) - 1


class CelTimeError(ValueError):
    """A malformed or out-of-range timestamp or duration."""


@dataclass(frozen=True)
class Duration:
    ns: int

    def __str__(self) -> str:
        seconds = self.ns / _NS
        text = repr(seconds)
        if "e" in text or "E" in text:
            text = f"{seconds:f}".rstrip("0").rstrip(".")
        elif text.endswith(".0"):
            text = text[:-2]
        return text + "s"

    def __lt__(self, other: Duration) -> bool:
        return self.ns < other.ns

    def __le__(self, other: Duration) -> bool:
        return self.ns <= other.ns


@dataclass(frozen=True)
class Timestamp:
    """Nanoseconds since the Unix epoch, and the UTC offset it was written with."""

    ns: int
    offset: int = 0  # seconds east of UTC (only for printing)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timestamp) and self.ns == other.ns

    def __hash__(self) -> int:
        return hash(self.ns)

    def __lt__(self, other: Timestamp) -> bool:
        return self.ns < other.ns

    def __le__(self, other: Timestamp) -> bool:
        return self.ns <= other.ns

    def in_zone(self, offset: int | None = None, zone: str | None = None) -> _dt.datetime:
        """The calendar time (nanoseconds dropped) in UTC, a fixed offset or a named zone."""
        seconds, _ = divmod(self.ns, _NS)
        utc = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(seconds=seconds)
        if zone is not None:
            from zoneinfo import ZoneInfo

            return utc.astimezone(ZoneInfo(zone))
        if offset is not None:
            return utc.astimezone(_dt.timezone(_dt.timedelta(seconds=offset)))
        return utc

    @property
    def nanos(self) -> int:
        return self.ns % _NS

    def __str__(self) -> str:
        when = self.in_zone(self.offset)
        text = when.strftime("%Y-%m-%dT%H:%M:%S")
        if self.nanos:
            text += "." + f"{self.nanos:09d}".rstrip("0")
        if self.offset == 0:
            return text + "Z"
        sign = "+" if self.offset > 0 else "-"
        hours, minutes = divmod(abs(self.offset) // 60, 60)
        return f"{text}{sign}{hours:02d}:{minutes:02d}"


def check_timestamp(ns: int, offset: int = 0) -> Timestamp:
    if not _MIN_UNIX <= ns // _NS <= _MAX_UNIX:
        raise CelTimeError("timestamp overflow")
    return Timestamp(ns, offset)


def check_duration(ns: int) -> Duration:
    if not -_MAX_DURATION_NS <= ns <= _MAX_DURATION_NS:
        raise CelTimeError("duration overflow")
    return Duration(ns)


_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def parse_timestamp(text: str) -> Timestamp:
    """Go's ``time.Parse(time.RFC3339, text)`` as a CEL timestamp."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise CelTimeError(f'parsing time "{text}" as "2006-01-02T15:04:05Z07:00": cannot parse')
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac = m.group(7)
    zone = m.group(8)
    try:
        base = _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.UTC)
    except ValueError as err:
        raise CelTimeError(f'parsing time "{text}": {err}') from err
    offset = 0
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        hh, mm = int(zone[1:3]), int(zone[4:6])
        if hh > 24 or mm > 59:
            raise CelTimeError(f'parsing time "{text}": time zone offset out of range')
        offset = sign * (hh * 3600 + mm * 60)
    epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    seconds = (base - epoch) // _dt.timedelta(seconds=1) - offset
    nanos = int((frac[1:] + "000000000")[:9]) if frac else 0
    return check_timestamp(seconds * _NS + nanos, offset)


_UNITS = {
    "ns": 1,
    "us": 1000,
    "\u00b5s": 1000,
    "\u03bcs": 1000,
    "ms": 1_000_000,
    "s": _NS,
    "m": 60 * _NS,
    "h": 3600 * _NS,
}
_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]+)")


def parse_duration(text: str) -> Duration:
    """Go's ``time.ParseDuration``."""
    orig = text
    neg = False
    if text[:1] in "+-":
        neg = text[0] == "-"
        text = text[1:]
    if text == "0":
        return Duration(0)
    if not text:
        raise CelTimeError(f'time: invalid duration "{orig}"')
    total = 0
    pos = 0
    while pos < len(text):
        m = _PART.match(text, pos)
        if m is None or (not m.group(1) and not m.group(2)):
            raise CelTimeError(f'time: invalid duration "{orig}"')
        whole, frac, unit = m.groups()
        if unit not in _UNITS:
            if not unit:
                raise CelTimeError(f'time: missing unit in duration "{orig}"')
            raise CelTimeError(f'time: unknown unit "{unit}" in duration "{orig}"')
        scale = _UNITS[unit]
        value = int(whole or "0") * scale
        if frac:
            value += int(frac) * scale // (10 ** len(frac))
        total += value
        if total > 1 << 63:
            raise CelTimeError(f'time: invalid duration "{orig}"')
        pos = m.end()
    total = -total if neg else total
    if total > (1 << 63) - 1 or total < -(1 << 63):
        raise CelTimeError(f'time: invalid duration "{orig}"')
    return Duration(total)


def zone_offset(tz: str) -> tuple[int | None, str | None]:
    """(fixed offset seconds, None) or (None, zone name) for a CEL time zone argument."""
    if ":" not in tz:
        return None, tz
    hours_text, minutes_text = tz.split(":", 1)
    hours, minutes = int(hours_text), int(minutes_text)
    if not 0 <= minutes <= 59:
        raise CelTimeError(f"timezone offset minutes out of range [0, 59]: {tz}")
    total = hours * 60 - minutes if tz.startswith("-") else hours * 60 + minutes
    return total * 60, None
