"""Regular expressions with RE2 semantics, as Go's ``regexp`` (which kube's CEL uses) reads
them: ``google-re2``, compiled once per pattern, without RE2's stderr logging."""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["RegexError", "compile_re2"]


class RegexError(ValueError):
    """A pattern RE2 does not accept."""


@functools.lru_cache(maxsize=256)
def compile_re2(pattern: str) -> Any:
    import re2  # type: ignore[import-untyped]

    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as err:
        detail = err.args[0] if err.args else err
        text = detail.decode() if isinstance(detail, bytes) else str(detail)
        raise RegexError(text) from None
