"""JSON logs, one object per line on stderr, so node log pipelines can parse them as is.

Fields: ``ts`` (RFC 3339, UTC), ``level``, ``logger``, ``msg``, then whatever the call passed
as ``extra={"fields": {...}}``. Tokens are never passed here; exception text is included
because nothing the agent raises carries credentials (the SDK's errors name users, not tokens).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

__all__ = ["JsonFormatter", "configure", "log"]

_log = logging.getLogger("node_agent")


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                entry.setdefault(key, value)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            entry["error"] = f"{type(exc).__name__}: {exc}"
        return json.dumps(entry, default=str, ensure_ascii=False)


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
