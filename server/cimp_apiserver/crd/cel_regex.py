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
        raise RegexError(_go_message(text)) from None


# RE2's error codes as Go's regexp/syntax words them.
_GO_CODES = {
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid named capture group": "invalid named capture",
    "pattern too large - compile failed": "expression too large",
    "pattern too large - reverse compile failed": "expression too large",
}


def _go_message(text: str) -> str:
    """``<code>: `<expr>``` as Go's ``syntax.Error`` prints it."""
    for code, go_code in _GO_CODES.items():
        if text == code or text.startswith(code + ": "):
            arg = "" if go_code.startswith("trailing") else text[len(code) + 2 :]
            return f"{go_code}: `{arg}`"
    code, sep, arg = text.partition(": ")
    return f"{code}: `{arg}`" if sep else text
