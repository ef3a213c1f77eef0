"""Kubernetes' CEL ``semver`` library: blang/semver v4's strict ``Parse`` (and Kubernetes'
normalizing variant), its error texts and its precedence rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .cel_values import EvalError, no_overload
from .goformat import quote

__all__ = ["FUNCTIONS", "Semver", "parse_semver"]

_NUMBERS = frozenset("0123456789")
_ALPHANUM = frozenset("-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_UINT64_MAX = (1 << 64) - 1


@dataclass(frozen=True)
class Semver:
    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()
    build: tuple[str, ...] = ()

    cel_type = "kubernetes.Semver"

    def compare(self, other: Semver) -> int:
        for a, b in ((self.major, other.major), (self.minor, other.minor)):
            if a != b:
                return 1 if a > b else -1
        if self.patch != other.patch:
            return 1 if self.patch > other.patch else -1
        if not self.pre and not other.pre:
            return 0
        if not self.pre:
            return 1
        if not other.pre:
            return -1
        for x, y in zip(self.pre, other.pre, strict=False):
            c = _pre_compare(x, y)
            if c:
                return c
        if len(self.pre) == len(other.pre):
            return 0
        return -1 if len(self.pre) < len(other.pre) else 1

    def cel_equals(self, other: Any) -> bool:
        return isinstance(other, Semver) and self.compare(other) == 0


def _pre_compare(x: int | str, y: int | str) -> int:
    if isinstance(x, int) and not isinstance(y, int):
        return -1
    if not isinstance(x, int) and isinstance(y, int):
        return 1
    return (x > y) - (x < y)  # type: ignore[operator]


def _only(text: str, chars: frozenset[str]) -> bool:
    return all(c in chars for c in text)


def _uint(text: str) -> int:
    if not text or not text.isascii() or not text.isdigit() or int(text) > _UINT64_MAX:
        why = "value out of range" if text.isdigit() else "invalid syntax"
        raise EvalError(f"strconv.ParseUint: parsing {quote(text)}: {why}")
    return int(text)


def _number(text: str, what: str) -> int:
    if not _only(text, _NUMBERS):
        raise EvalError(f"Invalid character(s) found in {what} number {quote(text)}")
    if len(text) > 1 and text[0] == "0":
        raise EvalError(f"{what.capitalize()} number must not contain leading zeroes {quote(text)}")
    return _uint(text)


def parse_semver(text: str) -> Semver:
    """blang/semver's ``Parse``."""
    if not text:
        raise EvalError("Version string empty")
    parts = text.split(".", 2)
    if len(parts) != 3:
        raise EvalError("No Major.Minor.Patch elements found")
    major = _number(parts[0], "major")
    minor = _number(parts[1], "minor")
    patch_text = parts[2]
    build: list[str] = []
    pre_texts: list[str] = []
    if "+" in patch_text:
        patch_text, build_text = patch_text.split("+", 1)
        build = build_text.split(".")
    if "-" in patch_text:
        patch_text, pre_text = patch_text.split("-", 1)
        pre_texts = pre_text.split(".")
    patch = _number(patch_text, "patch")
    pre: list[int | str] = []
    for p in pre_texts:
        if not p:
            raise EvalError("Prerelease is empty")
        if _only(p, _NUMBERS):
            if len(p) > 1 and p[0] == "0":
                raise EvalError(
                    f"Numeric PreRelease version must not contain leading zeroes {quote(p)}"
                )
            pre.append(_uint(p))
        elif _only(p, _ALPHANUM):
            pre.append(p)
        else:
            raise EvalError(f"Invalid character(s) found in prerelease {quote(p)}")
    for b in build:
        if not b:
            raise EvalError("Build meta data is empty")
        if not _only(b, _ALPHANUM):
            raise EvalError(f"Invalid character(s) found in build meta data {quote(b)}")
    return Semver(major, minor, patch, tuple(pre), tuple(build))


def _normalize(text: str) -> Semver:
    """Kubernetes' ``normalizeAndParse``: a leading ``v``, leading zeros and missing minor or
    patch numbers are accepted."""
    if text.startswith("v"):
        text = text[1:]
    parts = text.split(".", 2)
    for i, part in enumerate(parts):
        if len(part) > 1:
            trimmed = part.lstrip("0")
            if not trimmed or trimmed[0] not in "0123456789":
                trimmed = "0" + trimmed
            parts[i] = trimmed
    if len(parts) < 3:
        if any(c in parts[-1] for c in "+-"):
            raise EvalError("short version cannot contain PreRelease/Build meta data")
        parts += ["0"] * (3 - len(parts))
    return parse_semver(".".join(parts))


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise no_overload()
    return v


def _semver(text: Any, normalize: Any = False) -> Semver:
    if not isinstance(normalize, bool):
        raise no_overload()
    return _normalize(_text(text)) if normalize else parse_semver(_text(text))


def _is_semver(text: Any, normalize: Any = False) -> bool:
    try:
        _semver(text, normalize)
    except EvalError as err:
        if str(err) == "no such overload":
            raise
        return False
    return True


def _v(v: Any) -> Semver:
    if not isinstance(v, Semver):
        raise no_overload()
    return v


def _as_int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


FUNCTIONS: dict[str, Any] = {
    "semver": _semver,
    "isSemver": _is_semver,
    "major": lambda v: _as_int64(_v(v).major),
    "minor": lambda v: _as_int64(_v(v).minor),
    "patch": lambda v: _as_int64(_v(v).patch),
}
SEMVER_METHODS: dict[str, Any] = {
    "isGreaterThan": lambda a, b: _v(a).compare(_v(b)) == 1,
    "isLessThan": lambda a, b: _v(a).compare(_v(b)) == -1,
    "compareTo": lambda a, b: _v(a).compare(_v(b)),
}
