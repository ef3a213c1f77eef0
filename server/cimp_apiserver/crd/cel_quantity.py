"""Kubernetes' CEL ``quantity`` library with apimachinery's ``resource.Quantity`` semantics:
its parser (suffixes, exponents, nano rounding, the binary cap), its two representations (a
scaled int64, or an arbitrary decimal once a value does not fit) which decide
``isInteger``/``asInteger``, and ``asApproximateFloat`` computed as Go computes it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .cel_values import EvalError, no_overload

__all__ = ["FUNCTIONS", "Quantity", "parse_quantity"]

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_FORMAT_WRONG = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
_NUMERIC = "unable to parse numeric part of quantity"
_SUFFIX = "unable to parse quantity's suffix"
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_POW10 = [float(f"1e{i}") for i in range(32)]
_POS32 = [float(f"1e{i * 32}") for i in range(10)]
_NEG32 = [float(f"1e-{i * 32}") for i in range(11)]


def _go_pow10(n: int) -> float:
    if 0 <= n <= 308:
        return _POS32[n // 32] * _POW10[n % 32]
    if -323 <= n <= 0:
        return _NEG32[-n // 32] / _POW10[-n % 32]
    return float("inf") if n > 0 else 0.0


def _fits(v: int) -> bool:
    return _INT64_MIN <= v <= _INT64_MAX


@dataclass(frozen=True)
class Quantity:
    """``unscaled * 10**exp``; ``small``: held as apimachinery's scaled int64 (else an
    ``inf.Dec``)."""

    unscaled: int
    exp: int
    small: bool

    cel_type = "kubernetes.Quantity"

    def cmp(self, other: Quantity) -> int:
        a, b = self.unscaled, other.unscaled
        if self.exp > other.exp:
            a *= 10 ** (self.exp - other.exp)
        else:
            b *= 10 ** (other.exp - self.exp)
        return (a > b) - (a < b)

    def cel_equals(self, other: Any) -> bool:
        return isinstance(other, Quantity) and self.cmp(other) == 0

    def sign(self) -> int:
        return (self.unscaled > 0) - (self.unscaled < 0)

    def as_int64(self) -> int | None:
        if not self.small or self.exp < 0:
            return None
        value = self.unscaled * 10**self.exp
        return value if _fits(value) else None

    def approximate_float(self) -> float:
        base = float(self.unscaled)
        return base if self.exp == 0 else base * _go_pow10(self.exp)

    def add(self, other: Quantity) -> Quantity:
        if self.small and other.small:
            done = _small_add(self, other)
            if done is not None:
                return done
        exp = min(self.exp, other.exp)
        value = self.unscaled * 10 ** (self.exp - exp) + other.unscaled * 10 ** (other.exp - exp)
        return Quantity(value, exp, False)

    def negate(self) -> Quantity:
        return Quantity(-self.unscaled, self.exp, self.small)


def _small_add(a: Quantity, b: Quantity) -> Quantity | None:
    """``int64Amount.Add``: exact in int64 or ``None`` (then the sum is taken as a decimal)."""
    if b.unscaled == 0:
        return a
    if a.unscaled == 0:
        return b
    if a.exp == b.exp:
        value, exp = a.unscaled + b.unscaled, a.exp
    elif a.exp > b.exp:
        scaled = a.unscaled * 10 ** (a.exp - b.exp)
        if not _fits(scaled):
            return None
        value, exp = scaled + b.unscaled, b.exp
    else:
        scaled = b.unscaled * 10 ** (b.exp - a.exp)
        if not _fits(scaled):
            return None
        value, exp = a.unscaled + scaled, a.exp
    return Quantity(value, exp, True) if _fits(value) else None


def _split(text: str) -> tuple[bool, str, str, str, str]:
    """apimachinery's ``parseQuantityString``: sign, numeric text, digits before and after the
    point, suffix."""
    positive = True
    pos, end = 0, len(text)
    if text[:1] in "-+":
        positive = text[0] != "-"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    num = text[start:pos] or "0"
    if pos >= end:
        return positive, text, num, "", ""
    denom = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in "0123456789":
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return positive, text, num, denom, ""
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in "eEinumkKMGTP":
        pos += 1
    if pos < end and text[pos] in "-+":
        pos += 1
    while pos < end and text[pos] in "0123456789":
        pos += 1
    if pos < end:
        raise EvalError(_FORMAT_WRONG)
    return positive, value, num, denom, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    if suffix in _DECIMAL:
        return 10, _DECIMAL[suffix], "DecimalSI"
    if suffix in _BINARY:
        return 2, _BINARY[suffix], "BinarySI"
    if len(suffix) > 1 and suffix[0] in "eE" and re.fullmatch(r"[+-]?\d+", suffix[1:]):
        exponent = int(suffix[1:])
        if _fits(exponent):
            exponent = ((exponent + (1 << 31)) % (1 << 32)) - (1 << 31)  # Go's int32()
            return 10, exponent, "DecimalExponent"
    raise EvalError(_SUFFIX)


def _float32_exponent_digits(exponent: int) -> int:
    import struct

    as32 = struct.unpack("f", struct.pack("f", float(exponent)))[0]
    product = struct.unpack("f", struct.pack("f", as32 * 3))[0]
    return int(struct.unpack("f", struct.pack("f", product / 10))[0])


def parse_quantity(text: str) -> Quantity:
    """``resource.ParseQuantity``."""
    if not text:
        raise EvalError(_FORMAT_WRONG)
    if text == "0":
        return Quantity(0, 0, True)
    positive, value, num, denom, suffix = _split(text)
    base, exponent, fmt = _interpret(suffix)
    if abs(exponent) > 100_000:
        raise EvalError(_NUMERIC)  # kube would build a huge decimal; refuse instead
    precision, scale, mantissa = 0, 0, 1
    if fmt in ("DecimalExponent", "DecimalSI"):
        scale = exponent
        precision = 18 - (len(num) + len(denom))
    elif exponent >= 0 and not denom:
        mantissa = 1 << exponent
        precision = 15 - len(num) - _float32_exponent_digits(exponent) - 1
    else:
        precision = -1
    if precision >= 0:
        scale -= len(denom)
        if scale >= -9:
            shifted = num + denom
            if not _fits(int(shifted)):
                raise EvalError(_NUMERIC)
            result = int(shifted) * mantissa
            if _fits(result):
                return Quantity(result if positive else -result, scale, True)
    m = re.fullmatch(r"([+-]?)(\d*)(?:\.(\d*))?", value)
    if m is None or not (m.group(2) or m.group(3)):
        raise EvalError(_NUMERIC)
    digits = (m.group(2) or "") + (m.group(3) or "")
    unscaled = int(digits or "0") * (-1 if m.group(1) == "-" else 1)
    dec_scale = len(m.group(3) or "")  # value = unscaled * 10**-dec_scale
    if base == 10:
        dec_scale -= exponent
    else:
        unscaled <<= exponent
    negative = unscaled < 0
    unscaled = abs(unscaled)
    if unscaled != 0:
        # round up (away from zero) to nanos: the scale becomes exactly 9
        if dec_scale <= 9:
            unscaled *= 10 ** (9 - dec_scale)
        else:
            q, r = divmod(unscaled, 10 ** (dec_scale - 9))
            unscaled = q + (1 if r else 0)
        dec_scale = 9
    if fmt == "BinarySI" and unscaled * 10 ** max(0, -dec_scale) > _INT64_MAX * 10 ** max(
        0, dec_scale
    ):
        unscaled, dec_scale = _INT64_MAX, 0
    return Quantity(-unscaled if negative else unscaled, -dec_scale, False)


# ------------------------------------------------------------------ CEL functions


def _q(v: Any) -> Quantity:
    if not isinstance(v, Quantity):
        raise no_overload()
    return v


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise no_overload()
    return v


def _is_quantity(v: Any) -> bool:
    try:
        parse_quantity(_str(v))
    except EvalError as err:
        if str(err) == "no such overload":
            raise
        return False
    return True


def _as_integer(v: Any) -> int:
    value = _q(v).as_int64()
    if value is None:
        raise EvalError("cannot convert value to integer")
    return value


def _plus(a: Any, b: Any) -> Quantity:
    if isinstance(b, int) and not isinstance(b, bool):
        return _q(a).add(Quantity(int(b), 0, True))
    return _q(a).add(_q(b))


def _minus(a: Any, b: Any) -> Quantity:
    if isinstance(b, int) and not isinstance(b, bool):
        return _q(a).add(Quantity(-int(b), 0, True))
    return _q(a).add(_q(b).negate())


FUNCTIONS: dict[str, Any] = {
    "quantity": lambda s: parse_quantity(_str(s)),
    "isQuantity": _is_quantity,
    "sign": lambda q: _q(q).sign(),
    "asApproximateFloat": lambda q: _q(q).approximate_float(),
    "asInteger": _as_integer,
    "isInteger": lambda q: _q(q).as_int64() is not None,
}
# isGreaterThan, isLessThan, compareTo, add and sub are shared with semver: see cel_k8s.
QUANTITY_METHODS: dict[str, Any] = {
    "isGreaterThan": lambda a, b: _q(a).cmp(_q(b)) == 1,
    "isLessThan": lambda a, b: _q(a).cmp(_q(b)) == -1,
    "compareTo": lambda a, b: _q(a).cmp(_q(b)),
    "add": _plus,
    "sub": _minus,
}
