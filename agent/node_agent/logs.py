"""JSON logs, one object per line on stderr, so node log pipelines can parse them as is.

Fields: ``ts`` (RFC 3339, UTC), ``level``, ``logger``, ``msg``, then whatever the call passed
as ``extra={"fields": {...}}``. Tokens are never passed here; exception text is included
because nothing the agent raises carries credentials (the SDK's errors name users, not tokens).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from constrained_impersonation._jsonlog import JsonFormatter

__all__ = ["JsonFormatter", "configure", "log"]

_log = logging.getLogger("node_agent")


def configure(level: str = "info", stream: TextIO | None = None) -> None:
    """Route the agent's and the SDK's loggers to ``stream`` (stderr) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # urllib3 logs retries and dropped connections at WARNING with URLs; ours are enough.
    logging.getLogger("urllib3").setLevel(logging.ERROR)


def log(level: int, msg: str, **fields: Any) -> None:
    """Log ``msg`` with structured ``fields`` on the agent's logger."""
    _log.log(level, msg, extra={"fields": fields})
