"""Go's ``%q`` for messages that must read byte for byte as kube-apiserver writes them.

Shared by the RBAC evaluator (SDK) and the embedded API server, whose Status messages quote
names and values exactly as Go's ``strconv.Quote`` does.
"""

from __future__ import annotations

import unicodedata

__all__ = ["quote"]

_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _go_printable(char: str) -> bool:
    """Go's ``unicode.IsPrint``: letters, marks, numbers, punctuation, symbols, ASCII space."""
    return char == " " or unicodedata.category(char)[0] in "LMNPS"


def quote(value: str) -> str:
    """Go's ``%q`` (``strconv.Quote``): printable runes as they are, the rest escaped.

    A lone surrogate (an undecodable byte kept by ``surrogateescape``) is written as the
    ``\\xNN`` Go writes for an invalid UTF-8 byte.
    """
    out = ['"']
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif "\udc80" <= char <= "\udcff":
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        elif _go_printable(char):
            out.append(char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)
