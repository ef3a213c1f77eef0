"""Kubernetes' CEL libraries for rules (quantity, URL, IP, CIDR, named formats, semver) on
top of the standard functions of :mod:`.cel_lib`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .cel_lib import FUNCTIONS as _STANDARD

__all__ = ["FUNCTIONS"]

FUNCTIONS: dict[str, Callable[..., Any]] = {**_STANDARD}
