"""The deputy's log: one JSON object per line on stderr, values in fields, never in the text.

Requests carry attacker-chosen text (the namespace and VMI name come from the URL, where
``%0a`` decodes to a newline). Printed into a plain-text log line, such a value forges log
lines. Here every record is ``json.dumps``-ed with ``ensure_ascii``: control characters, the
Unicode line separators (U+0085, U+2028, U+2029) and everything else outside printable ASCII
come out as ``\\uXXXX`` escapes, so a record is always exactly one line and parses back to
the values that were logged.

Fields: ``ts`` (RFC 3339, UTC), ``level``, ``logger``, ``msg`` (a fixed phrase), then the
call's ``fields``. Callers log request values only after they were authenticated and
validated; tokens are never passed here.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from constrained_impersonation._jsonlog import JsonFormatter

__all__ = ["JsonFormatter", "configure", "log"]

_log = logging.getLogger("deputy")


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so that configuring again replaces it and leaves other handlers alone."""


def configure(level: str = "info", stream: TextIO | None = None) -> None:
    """Route every logger (the deputy's, aiohttp's, the SDK's) to ``stream`` as JSON lines."""
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, _Handler):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())


def log(level: int, msg: str, **fields: Any) -> None:
    """Log the fixed phrase ``msg`` with ``fields`` (the values) on the deputy's logger."""
    _log.log(level, msg, extra={"fields": fields})
