"""``string.format(list)`` of cel-go's strings extension (version 2, as kube-apiserver v1.37
declares it): the ``%s %d %f %e %b %x %X %o %%`` clauses with its output (``%f``/``%e`` through
Go's en_US number printer with digit grouping and superscript exponents), its runtime errors,
and the compile-time check of a literal format string against a literal argument list."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import cel_types as t
from .cel_ast import Call, Expr, ListExpr, Literal, MapExpr, UInt, children
from .cel_check import Checked
from .cel_source import Issues
from .cel_time import Duration, Timestamp
from .cel_values import CelType, EvalError, type_name
from .goformat import quote

__all__ = ["check_format_calls", "string_format"]

_DEFAULT_PRECISION = 6
_TIMES = "\u00d7"  # the multiplication sign Go's en_US printer writes
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


class _FormatError(Exception):
    """A clause's type error (``expr_id``: the argument it is about, at compile time)."""

    def __init__(self, message: str, expr_id: int = -1) -> None:
        super().__init__(message)
        self.expr_id = expr_id


def _wrapped(prefix: str, err: Exception) -> _FormatError:
    expr_id = err.expr_id if isinstance(err, _FormatError) else -1
    return _FormatError(f"{prefix}: {err}", expr_id)


# ------------------------------------------------------------------ runtime values


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _to_text(v: Any) -> str:
    from .cel_lib import to_string

    if isinstance(v, CelType):
        return v.name
    try:
        return to_string(v)
    except EvalError as err:
        raise _FormatError(f"could not convert argument {quote(str(err))} to string") from None


def _go_fixed6(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return f"{v:.6f}"


def _clause_for(v: Any) -> Callable[[Any], str]:
    if _is_int(v):
        return _decimal
    if v is None or isinstance(v, (str, bytes, bool, CelType)):
        return format_string
    if isinstance(v, (Timestamp, Duration)):
        kind = "timestamp" if isinstance(v, Timestamp) else "duration"
        return lambda x: f"{kind}({quote(str(x))})"
    if isinstance(v, list):
        return _format_list
    if isinstance(v, dict):
        return _format_map
    if isinstance(v, float):
        return _go_fixed6
    raise _FormatError(f"no formatting function for {type_name(v)}")


def _quote_for_cel(v: Any, text: str) -> str:
    if isinstance(v, str):
        return quote(text)
    if isinstance(v, bytes):
        return "b" + quote(text)
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return quote(text)
    return text


def _format_list(v: Any) -> str:
    return "[" + ", ".join(_quote_for_cel(x, _clause_for(x)(x)) for x in v) + "]"


def _format_map(v: Any) -> str:
    pairs = []
    for k, x in v.items():
        if isinstance(k, (str, bool)):
            key = format_string(k)
        elif _is_int(k):
            key = _decimal(k)
        else:
            raise _FormatError(f"no formatting function for map key of type {type_name(k)}")
        pairs.append((_quote_for_cel(k, key), _quote_for_cel(x, _clause_for(x)(x))))
    pairs.sort(key=lambda p: p[0].encode())
    return "{" + ", ".join(f"{k}:{x}" for k, x in pairs) + "}"


def format_string(v: Any) -> str:
    if isinstance(v, list):
        return _format_list(v)
    if isinstance(v, dict):
        return _format_map(v)
    if v is None:
        return "null"
    if isinstance(v, (int, float, bool, str, bytes, Timestamp, Duration, CelType)):
        return _to_text(v)
    raise _FormatError(_STRING_ERROR + type_name(v))


_STRING_ERROR = (
    "string clause can only be used on strings, bools, bytes, ints, doubles, maps, lists, "
    "types, durations, and timestamps, was given "
)


def _decimal(v: Any) -> str:
    if not _is_int(v):
        raise _FormatError(f"decimal clause can only be used on integers, was given {type_name(v)}")
    return str(int(v))


def _float_arg(v: Any, what: str) -> float:
    if isinstance(v, str) and v in ("NaN", "Infinity", "-Infinity"):
        return float(v.replace("Infinity", "inf"))
    if not isinstance(v, float):
        raise _FormatError(f"{what} clause can only be used on doubles, was given {type_name(v)}")
    return v


def _grouped(digits: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return ",".join(parts)


def _fixed(precision: int | None) -> Callable[[Any], str]:
    p = _DEFAULT_PRECISION if precision is None else precision

    def fmt(v: Any) -> str:
        f = _float_arg(v, "fixed-point")
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "∞" if f > 0 else "-∞"
        text = f"{abs(f):.{p}f}"
        whole, _, frac = text.partition(".")
        out = _grouped(whole) + (f".{frac}" if frac else "")
        return ("-" if math.copysign(1, f) < 0 else "") + out

    return fmt


def _scientific(precision: int | None) -> Callable[[Any], str]:
    """cel-go builds ``%<precision>e``: the precision is a width and 6 digits are printed."""
    p = _DEFAULT_PRECISION
    width = _DEFAULT_PRECISION if precision is None else precision

    def fmt(v: Any) -> str:
        return _pad(_sci(v), width)

    def _sci(v: Any) -> str:
        f = _float_arg(v, "scientific")
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "∞" if f > 0 else "-∞"
        mantissa, _, exponent = f"{abs(f):.{p}e}".partition("e")
        sign = exponent[0]
        digits = exponent[1:].rjust(2, "0")
        power = ("-" if sign == "-" else "") + digits
        out = f"{mantissa}{_TIMES}10{power.translate(_SUPERSCRIPT)}"
        return ("-" if math.copysign(1, f) < 0 else "") + out

    return fmt


def _pad(text: str, width: int) -> str:
    return text.rjust(width)


def _binary(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if _is_int(v):
        return format(int(v), "b")
    raise _FormatError(
        f"only integers and bools can be formatted as binary, was given {type_name(v)}"
    )


def _hex(upper: bool) -> Callable[[Any], str]:
    def fmt(v: Any) -> str:
        if isinstance(v, (str, bytes)):
            raw = v.encode() if isinstance(v, str) else v
            out = raw.hex()
        elif _is_int(v):
            out = format(int(v), "x")
        else:
            raise _FormatError(
                "only integers, byte buffers, and strings can be formatted as hex, was given "
                + type_name(v)
            )
        return out.upper() if upper else out

    return fmt


def _octal(v: Any) -> str:
    if not _is_int(v):
        raise _FormatError(f"octal clause can only be used on integers, was given {type_name(v)}")
    return format(int(v), "o")


# ------------------------------------------------------------------ the format string


def _precision(text: str) -> tuple[int, int | None]:
    if not text.startswith("."):
        return 0, None
    i = 1
    while True:
        if i >= len(text):
            raise _FormatError("could not find end of precision specifier")
        if not ("0" <= text[i] <= "9"):
            break
        i += 1
    digits = text[1:i]
    if not digits:
        raise _FormatError(
            'error while converting precision to integer: strconv.Atoi: parsing "": invalid syntax'
        )
    return i, int(digits)


Clauses = dict[str, Callable[..., Callable[[Any], str]] | Callable[[Any], str]]


def _clause(text: str, clauses: Any) -> tuple[int, Callable[[Any], str]]:
    try:
        read, precision = _precision(text)
    except _FormatError as err:
        raise _wrapped("error while parsing precision", err) from None
    verb = text[read]
    read += 1
    if verb == "s":
        return read, clauses.string
    if verb == "d":
        return read, clauses.decimal
    if verb == "f":
        return read, clauses.fixed(precision)
    if verb == "e":
        return read, clauses.scientific(precision)
    if verb == "b":
        return read, clauses.binary
    if verb in "xX":
        return read, clauses.hex(verb == "X")
    if verb == "o":
        return read, clauses.octal
    raise _FormatError(f'unrecognized formatting clause "{verb}"')


class _Runtime:
    string = staticmethod(format_string)
    decimal = staticmethod(_decimal)
    fixed = staticmethod(_fixed)
    scientific = staticmethod(_scientific)
    binary = staticmethod(_binary)
    hex = staticmethod(_hex)
    octal = staticmethod(_octal)


def _interpolate(
    text: str, clauses: Any, arg: Callable[[int], Any], size: int, runtime: bool
) -> str:
    out: list[str] = []
    i, index = 0, 0
    while i < len(text):
        if text[i] != "%":
            out.append(text[i])
            i += 1
            continue
        if i + 1 < len(text) and text[i + 1] == "%":
            out.append("%")
            i += 2
            continue
        if runtime and index >= size:
            raise _FormatError(f"index {index} out of range")
        value = arg(index)
        if i + 1 >= len(text):
            raise _FormatError("unexpected end of string")
        if index >= size:
            raise _FormatError(f"index {index} out of range")
        try:
            read, fmt = _clause(text[i + 1 :], clauses)
        except (_FormatError, IndexError) as err:
            raise _wrapped("could not parse formatting clause", err) from None
        try:
            out.append(fmt(value))
        except _FormatError as err:
            raise _wrapped("error during formatting", err) from None
        i += 1 + read
        index += 1
    return "".join(out)


def string_format(text: Any, args: Any) -> str:
    """``text.format(args)``."""
    if not isinstance(text, str) or not isinstance(args, list):
        raise EvalError("no such overload")
    try:
        return _interpolate(text, _Runtime, lambda i: args[i], len(args), True)
    except _FormatError as err:
        raise EvalError(str(err)) from None


# ------------------------------------------------------------------ compile-time check


class _Checker:
    """The clauses as cel-go's ``stringFormatChecker``: argument types, not values."""

    def __init__(self, args: list[Expr], checked: Checked) -> None:
        self.args = args
        self.checked = checked
        self.current = 0
        self.requested = 0

    def arg(self, index: int) -> None:
        self.requested += 1
        self.current = index

    def _type(self, expr_id: int) -> t.Type:
        return self.checked.types.get(expr_id, t.DYN)

    def _one_of(self, expr_id: int, *kinds: str) -> bool:
        ty = self._type(expr_id)
        return ty.kind == "dyn" or ty.kind in kinds

    def _verify(self, kinds: tuple[str, ...], message: str) -> Callable[[Any], str]:
        def check(_v: Any) -> str:
            expr_id = self.args[self.current].id
            if not self._one_of(expr_id, *kinds):
                raise _FormatError(f"{message}{self._type(expr_id).name}", expr_id)
            return ""

        return check

    def _verify_string(self, e: Expr) -> int | None:
        kinds: tuple[str, ...] = ("list", "map", "int", "uint", "double", "bool", "string")
        kinds = (*kinds, "timestamp", "bytes", "duration", "type", "null")
        if not self._one_of(e.id, *kinds):
            return e.id
        if isinstance(e, (ListExpr, MapExpr)):
            for c in children(e):
                bad = self._verify_string(c)
                if bad is not None:
                    return bad
        return None

    def string(self, _v: Any) -> str:
        bad = self._verify_string(self.args[self.current])
        if bad is not None:
            raise _FormatError(_STRING_ERROR + self._type(bad).name, bad)
        return ""

    @property
    def decimal(self) -> Callable[[Any], str]:
        return self._verify(
            ("int", "uint"), "decimal clause can only be used on integers, was given "
        )

    def fixed(self, _p: int | None) -> Callable[[Any], str]:
        return self._verify(
            ("double", "string"), "fixed-point clause can only be used on doubles, was given "
        )

    def scientific(self, _p: int | None) -> Callable[[Any], str]:
        return self._verify(
            ("double", "string"), "scientific clause can only be used on doubles, was given "
        )

    @property
    def binary(self) -> Callable[[Any], str]:
        return self._verify(
            ("int", "uint", "bool"),
            "only integers and bools can be formatted as binary, was given ",
        )

    def hex(self, _upper: bool) -> Callable[[Any], str]:
        return self._verify(
            ("int", "uint", "string", "bytes"),
            "only integers, byte buffers, and strings can be formatted as hex, was given ",
        )

    @property
    def octal(self) -> Callable[[Any], str]:
        return self._verify(
            ("int", "uint"), "octal clause can only be used on integers, was given "
        )


def _walk(e: Expr) -> list[Expr]:
    out = [e]
    for c in children(e):
        out.extend(_walk(c))
    return out


def check_format_calls(
    expr: Expr, checked: Checked, issues: Issues, offsets: dict[int, int]
) -> None:
    """cel-go's ``stringFormatValidator``: a literal format string applied to a list literal."""
    for e in _walk(expr):
        if not (
            isinstance(e, Call)
            and e.function == "format"
            and isinstance(e.target, Literal)
            and isinstance(e.target.value, str)
            and len(e.args) == 1
            and isinstance(e.args[0], ListExpr)
        ):
            continue
        overloads = checked.overloads.get(e.id, [])
        if overloads and "string_format" not in overloads:
            continue
        items = e.args[0].elements
        checker = _Checker(items, checked)

        def arg(i: int, _c: _Checker = checker) -> Any:
            _c.arg(i)
            return UInt(0)

        try:
            _interpolate(e.target.value, checker, arg, len(items), False)
        except _FormatError as err:
            at = err.expr_id if err.expr_id >= 0 else e.id
            issues.report(offsets.get(at), str(err))
            continue
        if len(items) > checker.requested:
            issues.report(
                offsets.get(e.id),
                "too many arguments supplied to string.format (expected "
                f"{checker.requested}, got {len(items)})",
            )
