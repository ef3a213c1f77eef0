"""Pod Security levels, policy versions and the namespace labels that choose them.

A namespace picks a level (``privileged``, ``baseline``, ``restricted``) and a policy version
(``latest`` or ``v1.<minor>``) for each of three modes through
``pod-security.kubernetes.io/<mode>`` and ``pod-security.kubernetes.io/<mode>-version``
labels. As in kube-apiserver v1.37.2 (``k8s.io/pod-security-admission/api``): a label that does
not parse makes enforce ``restricted`` (fail closed) and audit or warn ``privileged`` (fail
open), an explicit enforce level stricter than warn also sets warn, and every error is a field
error on ``metadata.labels[<key>]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..objects import Cause
from ..status import quote

__all__ = [
    "AUDIT_LABEL",
    "AUDIT_VERSION_LABEL",
    "ENFORCE_LABEL",
    "ENFORCE_VERSION_LABEL",
    "LABEL_PREFIX",
    "LATEST",
    "LEVELS",
    "WARN_LABEL",
    "WARN_VERSION_LABEL",
    "LevelVersion",
    "Policy",
    "Version",
    "compare_levels",
    "parse_version",
    "policy_to_evaluate",
]

LABEL_PREFIX = "pod-security.kubernetes.io/"
ENFORCE_LABEL = LABEL_PREFIX + "enforce"
ENFORCE_VERSION_LABEL = LABEL_PREFIX + "enforce-version"
AUDIT_LABEL = LABEL_PREFIX + "audit"
AUDIT_VERSION_LABEL = LABEL_PREFIX + "audit-version"
WARN_LABEL = LABEL_PREFIX + "warn"
WARN_VERSION_LABEL = LABEL_PREFIX + "warn-version"

PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)
_VERSION = re.compile(r"v1\.(0|[1-9][0-9]*)")


@dataclass(frozen=True, order=False)
class Version:
    """``latest`` or ``v<major>.<minor>``; ``latest`` is newer than any numbered version."""

    major: int = 0
    minor: int = 0
    latest: bool = False

    def __str__(self) -> str:
        return "latest" if self.latest else f"v{self.major}.{self.minor}"

    def older(self, other: Version) -> bool:
        if self.latest:
            return False
        if other.latest:
            return True
        return (self.major, self.minor) < (other.major, other.minor)


LATEST = Version(latest=True)


def parse_version(text: str) -> Version:
    """``latest`` or ``v1.<minor>`` (no leading zeros); ValueError with kube's detail."""
    if text == "latest":
        return LATEST
    match = _VERSION.fullmatch(text)
    if match is None:
        raise ValueError('must be "latest" or "v1.x"')
    return Version(1, int(match[1]))


def _parse_level(text: str) -> str:
    if text in LEVELS:
        return text
    raise ValueError("must be one of " + ", ".join(LEVELS))


def compare_levels(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is less, as or more restrictive than ``b``."""
    return (LEVELS.index(a) > LEVELS.index(b)) - (LEVELS.index(a) < LEVELS.index(b))


@dataclass(frozen=True)
class LevelVersion:
    level: str = PRIVILEGED
    version: Version = LATEST

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"

    def equivalent(self, other: LevelVersion) -> bool:
        both_privileged = self.level == PRIVILEGED and other.level == PRIVILEGED
        return both_privileged or self == other


@dataclass(frozen=True)
class Policy:
    enforce: LevelVersion = field(default_factory=LevelVersion)
    audit: LevelVersion = field(default_factory=LevelVersion)
    warn: LevelVersion = field(default_factory=LevelVersion)

    def fully_privileged(self) -> bool:
        return all(lv.level == PRIVILEGED for lv in (self.enforce, self.audit, self.warn))

    def equivalent(self, other: Policy) -> bool:
        return (
            self.enforce.equivalent(other.enforce)
            and self.audit.equivalent(other.audit)
            and self.warn.equivalent(other.warn)
        )


def _label_error(key: str, value: str, detail: str) -> Cause:
    return (
        f"metadata.labels[{key}]",
        "FieldValueInvalid",
        f"Invalid value: {quote(value)}: {detail}",
    )


def policy_to_evaluate(
    labels: Mapping[str, str], defaults: Policy | None = None
) -> tuple[Policy, list[Cause]]:
    """The policy a namespace's labels select over ``defaults``, and the label errors."""
    policy = defaults or Policy()
    errors: list[Cause] = []
    if not labels:
        return policy, errors
    enforce, audit, warn = policy.enforce, policy.audit, policy.warn

    def level(key: str, current: str, fallback: str) -> tuple[str, bool]:
        if key not in labels:
            return current, False
        try:
            return _parse_level(labels[key]), True
        except ValueError as err:
            errors.append(_label_error(key, labels[key], str(err)))
            return fallback, False

    def version(key: str, current: Version) -> Version:
        if key not in labels:
            return current
        try:
            return parse_version(labels[key])
        except ValueError as err:
            errors.append(_label_error(key, labels[key], str(err)))
            return LATEST

    enforce_level, has_enforce = level(ENFORCE_LABEL, enforce.level, RESTRICTED)
    enforce = LevelVersion(enforce_level, version(ENFORCE_VERSION_LABEL, enforce.version))
    audit_level, _ = level(AUDIT_LABEL, audit.level, PRIVILEGED)
    audit = LevelVersion(audit_level, version(AUDIT_VERSION_LABEL, audit.version))
    has_warn = WARN_LABEL in labels
    warn_level, _ = level(WARN_LABEL, warn.level, PRIVILEGED)
    warn = LevelVersion(warn_level, version(WARN_VERSION_LABEL, warn.version))
    if not has_warn and has_enforce and compare_levels(enforce.level, warn.level) > 0:
        warn_version = warn.version if WARN_VERSION_LABEL in labels else enforce.version
        warn = LevelVersion(enforce.level, warn_version)
    return Policy(enforce, audit, warn), errors
