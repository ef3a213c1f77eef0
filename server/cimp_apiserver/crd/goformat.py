"""Values printed as Go prints them, so messages read byte for byte as kube-apiserver's.

Field errors print a bad value with ``%v`` (numbers, booleans), ``%q`` (strings) or
``encoding/json`` (anything else); JSON numbers decoded by kube are ``int64`` when integral
and ``float64`` otherwise, and the two print differently from Python's ``repr``.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from constrained_impersonation._goquote import quote

__all__ = ["go_float", "go_json", "go_value", "normalize_numbers", "quote"]


def _digits(value: float) -> tuple[str, int]:
    """The shortest round-trip digits of ``value`` and the position of the decimal point
    (``0.DIGITS x 10**point``), as Go's ``strconv`` computes them."""
    _, digits, exponent = Decimal(repr(abs(value))).as_tuple()
    text = "".join(str(d) for d in digits).rstrip("0") or "0"
    point = len(digits) + int(exponent)
    if text == "0":
        point = 1
    return text, point


def _exp_form(text: str, point: int, min_exp_digits: int) -> str:
    exp = point - 1
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    sign = "-" if exp < 0 else "+"
    return f"{mantissa}e{sign}{abs(exp):0{min_exp_digits}d}"


def _plain_form(text: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * (-point) + text
    if point >= len(text):
        return text + "0" * (point - len(text))
    return text[:point] + "." + text[point:]


def go_float(value: float) -> str:
    """``fmt.Sprint(float64)`` (``strconv.FormatFloat(f, 'g', -1, 64)``): ``0.7``,
    ``100000``, ``1e+06``, ``1.5e-07``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text, point = _digits(value)
    neg = "-" if value < 0 or (value == 0 and math.copysign(1, value) < 0) else ""
    exp = point - 1
    if exp < -4 or exp >= 6:  # shortest precision: Go decides with precision 6
        return neg + _exp_form(text, point, 2)
    return neg + _plain_form(text, point)


def go_json_float(value: float) -> str:
    """``encoding/json`` of a float64: plain below 1e21, exponent form (``1e-7``) outside
    [1e-6, 1e21)."""
    if value == 0:
        return "0"
    text, point = _digits(value)
    neg = "-" if value < 0 else ""
    magnitude = abs(value)
    if magnitude < 1e-6 or magnitude >= 1e21:
        return neg + _exp_form(text, point, 1)
    return neg + _plain_form(text, point)


def _json_string(value: str) -> str:
    out = ['"']
    for char in value:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif code < 0x20 or char in "<>&" or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def go_json(value: Any, sort_keys: bool = True) -> str:
    """``json.Marshal`` of a decoded JSON value: maps sorted by key (``sort_keys``; else in
    their order, as structs print), HTML characters escaped, floats in Go's form."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_json_float(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, dict):
        pairs = sorted(value.items()) if sort_keys else value.items()
        items = (f"{_json_string(str(k))}:{go_json(v, sort_keys)}" for k, v in pairs)
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v, sort_keys) for v in value) + "]"
    if isinstance(value, GoJSON):
        return value.go_json()
    raise TypeError(f"cannot print {type(value).__name__} as Go JSON")


class GoJSON:
    """A value that prints itself as Go's ``json.Marshal`` would (internal structs)."""

    def go_json(self) -> str:
        raise NotImplementedError


def go_value(value: Any) -> str:
    """A field error's bad value as ``field.Error.ErrorBody`` prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return quote(value)
    return go_json(value)


def normalize_numbers(value: Any) -> Any:
    """A decoded JSON value as Go holds it after a round trip through ``encoding/json``:
    integral floats below 1e21 become integers (Go writes them without a fraction)."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return int(value)
        return value
    if isinstance(value, dict):
        return {k: normalize_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_numbers(v) for v in value]
    return value
