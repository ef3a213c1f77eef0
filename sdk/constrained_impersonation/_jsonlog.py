"""One JSON object per log line, for the sample agent and deputy (and anyone's node pipeline).

Every record is ``json.dumps``-ed with ``ensure_ascii``: control characters, the Unicode line
separators (U+0085, U+2028, U+2029) and everything else outside printable ASCII come out as
``\\uXXXX`` escapes, so a record is always exactly one line and parses back to the values
that were logged, whatever a request or an API object put into them.

Fields: ``ts`` (RFC 3339, UTC), ``level``, ``logger``, ``msg``, then whatever the call passed
as ``extra={"fields": {...}}``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

__all__ = ["JsonFormatter"]


class JsonFormatter(logging.Formatter):
    """Render a record as one line of ASCII JSON."""

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
        return json.dumps(entry, default=str, ensure_ascii=True)
