"""The strict CEL functions rules call, with cel-go's results and error texts: arithmetic with
64-bit overflow checks, comparisons, conversions, strings (standard and extension v2), regex
(RE2), time getters, lists (extension and Kubernetes' lists library), sets and optionals.
Each function takes evaluated arguments (a member call's receiver first) and dispatches on
their runtime types; a type it does not take is cel-go's ``no such overload``."""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Callable
from typing import Any

from .cel_ast import UInt
from .cel_regex import RegexError, compile_re2
from .cel_strformat import string_format
from .cel_time import (
    CelTimeError,
    Duration,
    Timestamp,
    check_duration,
    check_timestamp,
    parse_duration,
    parse_timestamp,
    zone_offset,
)
from .cel_values import (
    INT_MAX,
    INT_MIN,
    NONE,
    UINT_MAX,
    CelType,
    EvalError,
    KList,
    Optional,
    compare,
    equals,
    map_get,
    no_overload,
    type_name,
)

__all__ = ["FUNCTIONS", "go_format_g", "index", "to_string"]

_NS = 1_000_000_000


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, (bool, UInt))


def _int(v: int) -> int:
    if not INT_MIN <= v <= INT_MAX:
        raise EvalError("integer overflow")
    return v


def _uint(v: int) -> UInt:
    if not 0 <= v <= UINT_MAX:
        raise EvalError("unsigned integer overflow")
    return UInt(v)


# ------------------------------------------------------------------ arithmetic


def add(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b):
        return _int(a + b)
    if isinstance(a, UInt) and isinstance(b, UInt):
        return _uint(a + b)
    if isinstance(a, float) and isinstance(b, float):
        return a + b
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, bytes) and isinstance(b, bytes):
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        return _concat(a, b)
    if isinstance(a, Duration) and isinstance(b, Duration):
        return check_duration(a.ns + b.ns)
    if isinstance(a, Timestamp) and isinstance(b, Duration):
        return _ts(a.ns + b.ns, a.offset)
    if isinstance(a, Duration) and isinstance(b, Timestamp):
        return _ts(a.ns + b.ns, b.offset)
    raise no_overload()


def _ts(ns: int, offset: int) -> Timestamp:
    try:
        return check_timestamp(ns, offset)
    except CelTimeError as err:
        raise EvalError(str(err)) from None


def _concat(a: list[Any], b: list[Any]) -> list[Any]:
    """``+`` on lists; a set or map list merges as kube's list types do."""
    if isinstance(a, KList) and a.list_type == "set":
        out = list(a)
        seen = [x for x in a]
        for item in b:
            if not any(equals(item, s) for s in seen):
                seen.append(item)
                out.append(item)
        return KList.of(out, "set")
    if isinstance(a, KList) and a.list_type == "map":
        out = list(a)
        for item in b:
            key = tuple(item.get(k) for k in a.keys) if isinstance(item, dict) else None
            for i, old in enumerate(out):
                if isinstance(old, dict) and tuple(old.get(k) for k in a.keys) == key:
                    out[i] = item
                    break
            else:
                out.append(item)
        return KList.of(out, "map", a.keys)
    return [*a, *b]


def subtract(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b):
        return _int(a - b)
    if isinstance(a, UInt) and isinstance(b, UInt):
        return _uint(a - b)
    if isinstance(a, float) and isinstance(b, float):
        return a - b
    if isinstance(a, Duration) and isinstance(b, Duration):
        return check_duration(a.ns - b.ns)
    if isinstance(a, Timestamp) and isinstance(b, Duration):
        return _ts(a.ns - b.ns, a.offset)
    if isinstance(a, Timestamp) and isinstance(b, Timestamp):
        return check_duration(a.ns - b.ns)
    raise no_overload()


def multiply(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b):
        return _int(a * b)
    if isinstance(a, UInt) and isinstance(b, UInt):
        return _uint(a * b)
    if isinstance(a, float) and isinstance(b, float):
        return a * b
    raise no_overload()


def _go_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def divide(a: Any, b: Any) -> Any:
    if (_is_int(a) and _is_int(b)) or (isinstance(a, UInt) and isinstance(b, UInt)):
        if b == 0:
            raise EvalError("division by zero")
        if _is_int(a):
            return _int(_go_div(a, b))
        return UInt(a // b)
    if isinstance(a, float) and isinstance(b, float):
        if b == 0:
            if a == 0 or math.isnan(a):
                return math.nan
            return math.copysign(math.inf, a) * math.copysign(1.0, b)
        return a / b
    raise no_overload()


def modulo(a: Any, b: Any) -> Any:
    if (_is_int(a) and _is_int(b)) or (isinstance(a, UInt) and isinstance(b, UInt)):
        if b == 0:
            raise EvalError("modulus by zero")
        if _is_int(a):
            if a == INT_MIN and b == -1:
                raise EvalError("integer overflow")
            return a - _go_div(a, b) * b
        return UInt(a % b)
    raise no_overload()


def negate(a: Any) -> Any:
    if _is_int(a):
        return _int(-a)
    if isinstance(a, float):
        return -a
    raise no_overload()


def logical_not(a: Any) -> Any:
    if isinstance(a, bool):
        return not a
    raise no_overload()


def _cmp(test: Callable[[int], bool]) -> Callable[[Any, Any], bool]:
    def op(a: Any, b: Any) -> bool:
        return test(compare(a, b))

    return op


def contains_in(item: Any, container: Any) -> bool:
    if isinstance(container, list):
        return any(equals(x, item) for x in container)
    if isinstance(container, dict):
        return map_get(container, item)[0]
    raise no_overload()


def index(container: Any, key: Any) -> Any:
    """``container[key]``."""
    if isinstance(container, Optional):
        if not container.present:
            return NONE
        found, value = _lookup(container.value, key)
        return Optional(value, True) if found else NONE
    found, value = _lookup(container, key, strict=True)
    return value


def _lookup(container: Any, key: Any, strict: bool = False) -> tuple[bool, Any]:
    if isinstance(container, list):
        if isinstance(key, float):
            if not key.is_integer():
                raise EvalError(f"unsupported index value {_go_float(key)} in list")
            key = int(key)
        if isinstance(key, bool) or not isinstance(key, int):
            raise EvalError(f"unsupported index type '{type_name(key)}' in list")
        if 0 <= key < len(container):
            return True, container[key]
        if not strict:
            return False, None
        raise EvalError(f"index out of bounds: {key}")
    if isinstance(container, dict):
        found, value = map_get(container, key)
        if found or not strict:
            return found, value
        raise EvalError(f"no such key: {to_string_any(key)}")
    raise no_overload()


def opt_index(container: Any, key: Any) -> Any:
    if isinstance(container, Optional):
        if not container.present:
            return NONE
        container = container.value
    found, value = _lookup(container, key)
    return Optional(value, True) if found else NONE


def size(v: Any) -> int:
    if isinstance(v, str):
        return len(v)
    if isinstance(v, (bytes, list, dict)):
        return len(v)
    raise no_overload()


# ------------------------------------------------------------------ conversions


def go_format_g(f: float) -> str:
    """Go's ``%g`` (shortest digits; exponent form from 1e6 and below 1e-4)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    digits = repr(f)
    mantissa, _, exp_text = digits.partition("e")
    neg = mantissa.startswith("-")
    mantissa = mantissa.lstrip("-")
    whole, _, frac = mantissa.partition(".")
    exp = int(exp_text) if exp_text else 0
    if frac == "0":
        frac = ""
    all_digits = (whole + frac).lstrip("0")
    # decimal exponent of the first significant digit
    if whole.strip("0"):
        point = len(whole.lstrip("0")) + exp
    else:
        point = -(len(frac) - len(frac.lstrip("0"))) + exp
    all_digits = all_digits.rstrip("0") or "0"
    x = point - 1
    sign = "-" if neg else ""
    if x < -4 or x >= 6:
        m = all_digits[0] + ("." + all_digits[1:] if len(all_digits) > 1 else "")
        return f"{sign}{m}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{all_digits}"
    if point >= len(all_digits):
        return f"{sign}{all_digits}{'0' * (point - len(all_digits))}"
    return f"{sign}{all_digits[:point]}.{all_digits[point:]}"


def _go_float(f: float) -> str:
    return go_format_g(f)


def to_string(v: Any) -> str:
    """``string(v)``."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        return go_format_g(v)
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            raise EvalError("invalid UTF-8 in bytes, cannot convert to string") from None
    if isinstance(v, (Duration, Timestamp)):
        return str(v)
    conv = getattr(v, "cel_string", None)
    if conv is not None:
        return str(conv())
    raise EvalError(f"type conversion error from '{type_name(v)}' to 'string'")


def to_string_any(v: Any) -> str:
    """Go's ``%v`` of a CEL value (in error messages)."""
    try:
        return to_string(v)
    except EvalError:
        return repr(v)


def _conversion_error(v: Any, to: str) -> EvalError:
    return EvalError(f"type conversion error from '{type_name(v)}' to '{to}'")


def to_int(v: Any) -> int:
    if _is_int(v):
        return int(v)
    if isinstance(v, UInt):
        return _int(int(v))
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v) or not -9.223372036854776e18 < v < 9.223372036854776e18:
            raise EvalError("integer overflow")
        return int(v)
    if isinstance(v, str):
        if re.fullmatch(r"[+-]?\d+", v) and INT_MIN <= int(v) <= INT_MAX:
            return int(v)
        raise _conversion_error(v, "int")
    if isinstance(v, Duration):
        return v.ns
    if isinstance(v, Timestamp):
        return v.ns // _NS
    raise _conversion_error(v, "int")


def to_uint(v: Any) -> UInt:
    if isinstance(v, UInt):
        return v
    if _is_int(v):
        if v < 0:
            raise EvalError("unsigned integer overflow")
        return UInt(v)
    if isinstance(v, float):
        if math.isnan(v) or not -1 < v < 1.8446744073709552e19:
            raise EvalError("unsigned integer overflow")
        return UInt(int(v))
    if isinstance(v, str):
        if re.fullmatch(r"\+?\d+", v) and int(v) <= UINT_MAX:
            return UInt(int(v))
        raise _conversion_error(v, "uint")
    raise _conversion_error(v, "uint")


_FLOAT = re.compile(
    r"[+-]?(?:(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?|inf(?:inity)?|nan|0x[0-9a-fA-F.]+p[+-]?\d+)",
    re.IGNORECASE,
)


def to_double(v: Any) -> float:
    if isinstance(v, float):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        text = v.replace("_", "") if "_" in v and re.search(r"\d_\d", v) else v
        if _FLOAT.fullmatch(text) and not text.endswith("."):
            try:
                return float(text)
            except ValueError:
                pass
        if re.fullmatch(r"[+-]?\d+\.", v):
            return float(v[:-1])
        raise _conversion_error(v, "double")
    raise _conversion_error(v, "double")


def to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        if v in ("1", "t", "T", "TRUE", "true", "True"):
            return True
        if v in ("0", "f", "F", "FALSE", "false", "False"):
            return False
    raise _conversion_error(v, "bool")


def to_bytes(v: Any) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode()
    raise _conversion_error(v, "bytes")


def to_duration(v: Any) -> Duration:
    if isinstance(v, Duration):
        return v
    if isinstance(v, str):
        try:
            return parse_duration(v)
        except CelTimeError:
            raise _conversion_error(v, "google.protobuf.Duration") from None
    raise _conversion_error(v, "google.protobuf.Duration")


def to_timestamp(v: Any) -> Timestamp:
    if isinstance(v, Timestamp):
        return v
    if isinstance(v, str):
        try:
            return parse_timestamp(v)
        except CelTimeError as err:
            if "overflow" in str(err):
                raise EvalError("timestamp overflow") from None
            raise _conversion_error(v, "google.protobuf.Timestamp") from None
    if _is_int(v):
        return _ts(v * _NS, 0)
    raise _conversion_error(v, "google.protobuf.Timestamp")


def to_type(v: Any) -> CelType:
    return CelType(type_name(v))


def to_dyn(v: Any) -> Any:
    return v


# ------------------------------------------------------------------ strings


def _str_args(*values: Any) -> None:
    for v in values:
        if not isinstance(v, str):
            raise no_overload()


def contains(s: Any, sub: Any) -> bool:
    _str_args(s, sub)
    return bool(sub in s)


def starts_with(s: Any, prefix: Any) -> bool:
    _str_args(s, prefix)
    return bool(s.startswith(prefix))


def ends_with(s: Any, suffix: Any) -> bool:
    _str_args(s, suffix)
    return bool(s.endswith(suffix))


def _regex(pattern: str) -> Any:
    try:
        return compile_re2(pattern)
    except RegexError as err:
        raise EvalError(f"error parsing regexp: {err}") from None


def matches(s: Any, pattern: Any) -> bool:
    _str_args(s, pattern)
    return _regex(pattern).search(s) is not None


def find(s: Any, pattern: Any) -> str:
    _str_args(s, pattern)
    m = _regex(pattern).search(s)
    return "" if m is None else str(m.group(0))


def find_all(s: Any, pattern: Any, limit: Any = -1) -> list[str]:
    _str_args(s, pattern)
    if not _is_int(limit):
        raise no_overload()
    if limit == 0:
        return []
    out: list[str] = []
    regex = _regex(pattern)
    pos = 0
    prev_end = -1
    while pos <= len(s):
        m = regex.search(s, pos)
        if m is None:
            break
        start, end = m.span()
        if end == start and start == prev_end:
            pos = start + 1
            continue
        out.append(str(m.group(0)))
        prev_end = end
        pos = end if end > start else end + 1
        if 0 < limit <= len(out):
            break
    return out


def char_at(s: Any, i: Any) -> str:
    if not isinstance(s, str) or not _is_int(i):
        raise no_overload()
    if i < 0 or i > len(s):
        raise EvalError(f"index out of range: {i}")
    return s[i] if i < len(s) else ""


def index_of(target: Any, item: Any, offset: Any = None) -> int:
    if isinstance(target, list):
        for i, v in enumerate(target):
            if equals(v, item):
                return i
        return -1
    if not isinstance(target, str) or not isinstance(item, str):
        raise no_overload()
    off = 0 if offset is None else offset
    if not _is_int(off):
        raise no_overload()
    if off < 0:
        raise EvalError(f"index out of range: {off}")
    if item == "":
        return min(off, len(target))
    if off >= len(target):
        return -1
    return target.find(item, off)


def last_index_of(target: Any, item: Any, offset: Any = None) -> int:
    if isinstance(target, list):
        for i in range(len(target) - 1, -1, -1):
            if equals(target[i], item):
                return i
        return -1
    if not isinstance(target, str) or not isinstance(item, str):
        raise no_overload()
    if offset is None:
        return target.rfind(item) if item else len(target)
    if not _is_int(offset):
        raise no_overload()
    if offset < 0:
        raise EvalError(f"index out of range: {offset}")
    if item == "":
        return int(min(offset, len(target)))
    if offset >= len(target):
        return -1
    off = min(offset, len(target) - len(item))
    return target.rfind(item, 0, off + len(item))


def lower_ascii(s: Any) -> str:
    _str_args(s)
    return "".join(c.lower() if c.isascii() else c for c in s)


def upper_ascii(s: Any) -> str:
    _str_args(s)
    return "".join(c.upper() if c.isascii() else c for c in s)


def replace(s: Any, old: Any, new: Any, n: Any = -1) -> str:
    _str_args(s, old, new)
    if not _is_int(n):
        raise no_overload()
    return str(s.replace(old, new, n if n >= 0 else -1))


def split(s: Any, sep: Any, n: Any = -1) -> list[str]:
    _str_args(s, sep)
    if not _is_int(n):
        raise no_overload()
    if n == 0:
        return []
    if sep == "":
        parts = list(s)
        if n > 0 and len(parts) > n:
            parts = [*parts[: n - 1], "".join(parts[n - 1 :])]
        return parts
    return list(s.split(sep, n - 1 if n > 0 else -1))


def substring(s: Any, start: Any, end: Any = None) -> str:
    if not isinstance(s, str) or not _is_int(start):
        raise no_overload()
    if end is None:
        if start < 0 or start > len(s):
            raise EvalError(f"index out of range: {start}")
        return s[start:]
    if not _is_int(end):
        raise no_overload()
    if start > end:
        raise EvalError(f"invalid substring range. start: {start}, end: {end}")
    if start < 0 or start > len(s):
        raise EvalError(f"index out of range: {start}")
    if end < 0 or end > len(s):
        raise EvalError(f"index out of range: {end}")
    return s[start:end]


_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    chr(c) for c in range(0x2000, 0x200B)
)


def trim(s: Any) -> str:
    _str_args(s)
    return str(s.strip(_GO_SPACE))


def join(items: Any, sep: Any = "") -> str:
    if not isinstance(items, list) or not isinstance(sep, str):
        raise no_overload()
    for item in items:
        if not isinstance(item, str):
            raise EvalError(f"join: invalid input: {to_string_any(item)}")
    return sep.join(items)


def quote(s: Any) -> str:
    _str_args(s)
    table = {
        "\a": "\\a",
        "\b": "\\b",
        "\f": "\\f",
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        "\v": "\\v",
        "\\": "\\\\",
        '"': '\\"',
    }
    return '"' + "".join(table.get(c, c) for c in s) + '"'


# ------------------------------------------------------------------ time


def _time_getter(name: str) -> Callable[..., int]:
    def getter(v: Any, tz: Any = None) -> int:
        if isinstance(v, Duration):
            if tz is not None:
                raise no_overload()
            unit = {
                "getHours": 3600 * _NS,
                "getMinutes": 60 * _NS,
                "getSeconds": _NS,
                "getMilliseconds": 1_000_000,
            }
            if name not in unit:
                raise no_overload()
            return int(v.ns / unit[name]) if abs(v.ns) < 1 << 52 else _trunc_div(v.ns, unit[name])
        if not isinstance(v, Timestamp):
            raise no_overload()
        if tz is None:
            when = v.in_zone(0)
        else:
            if not isinstance(tz, str):
                raise no_overload()
            try:
                offset, zone = zone_offset(tz)
                when = v.in_zone(offset, zone)
            except (CelTimeError, ValueError, KeyError) as err:
                raise EvalError(f"unknown time zone {tz}" if zone_err(err) else str(err)) from None
        if name == "getFullYear":
            return when.year
        if name == "getMonth":
            return when.month - 1
        if name == "getDayOfYear":
            return when.timetuple().tm_yday - 1
        if name == "getDayOfMonth":
            return when.day - 1
        if name == "getDate":
            return when.day
        if name == "getDayOfWeek":
            return (when.weekday() + 1) % 7
        if name == "getHours":
            return when.hour
        if name == "getMinutes":
            return when.minute
        if name == "getSeconds":
            return when.second
        return v.nanos // 1_000_000

    return getter


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // b
    return q if a >= 0 else -q


def zone_err(err: Exception) -> bool:
    return not isinstance(err, CelTimeError)


# ------------------------------------------------------------------ lists and sets


def _list_arg(v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise no_overload()
    return v


def is_sorted(items: Any) -> bool:
    seq = _list_arg(items)
    return all(compare(a, b) <= 0 for a, b in itertools.pairwise(seq))


def list_sum(items: Any, zero: Any = 0) -> Any:
    seq = _list_arg(items)
    if not seq:
        return zero
    total = seq[0]
    for v in seq[1:]:
        total = add(total, v)
    return total


def _extreme(name: str, prefer: int) -> Callable[[Any], Any]:
    def fn(items: Any) -> Any:
        seq = _list_arg(items)
        if not seq:
            raise EvalError(f"{name} called on empty list")
        result = seq[0]
        for v in seq[1:]:
            if compare(result, v) == prefer:
                result = v
        return result

    return fn


def slice_list(items: Any, start: Any, end: Any) -> list[Any]:
    seq = _list_arg(items)
    if start < 0 or end < 0:
        raise EvalError(f"cannot slice({start}, {end}), negative indexes not supported")
    if start > end:
        raise EvalError(
            f"cannot slice({start}, {end}), start index must be less than or equal to end index"
        )
    if len(seq) < end:
        raise EvalError(f"cannot slice({start}, {end}), list is length {len(seq)}")
    return list(seq[start:end])


def flatten(items: Any, depth: Any = 1) -> list[Any]:
    seq = _list_arg(items)
    if depth < 0:
        raise EvalError("level must be non-negative")
    out: list[Any] = []
    for v in seq:
        if isinstance(v, list) and depth > 0:
            out.extend(flatten(v, depth - 1))
        else:
            out.append(v)
    return out


def sort_by_keys(items: Any, keys: Any) -> list[Any]:
    seq, ks = _list_arg(items), _list_arg(keys)
    if len(seq) != len(ks):
        raise EvalError(
            "@sortByAssociatedKeys() expected a list of the same size as the associated keys "
            f"list, but got {len(seq)} and {len(ks)} elements respectively"
        )
    if not seq:
        return list(seq)
    first = type_name(ks[0])
    if any(type_name(k) != first for k in ks):
        raise EvalError("list elements must have the same type")
    order = sorted(range(len(seq)), key=functools.cmp_to_key(_key_cmp(ks)))
    return [seq[i] for i in order]


def _key_cmp(keys: list[Any]) -> Callable[[int, int], int]:
    def cmp(i: int, j: int) -> int:
        return compare(keys[i], keys[j])

    return cmp


def sort_list(items: Any) -> list[Any]:
    return sort_by_keys(items, items)


def lists_range(n: Any) -> list[int]:
    if not _is_int(n):
        raise no_overload()
    if n < 0:
        raise EvalError(f"lists.range: size must be non-negative, got {n}")
    return list(range(n))


def reverse(items: Any) -> list[Any]:
    return list(reversed(_list_arg(items)))


def distinct(items: Any) -> list[Any]:
    out: list[Any] = []
    for v in _list_arg(items):
        if not any(equals(v, u) for u in out):
            out.append(v)
    return out


def first(items: Any) -> Optional:
    seq = _list_arg(items)
    return Optional(seq[0], True) if seq else NONE


def last(items: Any) -> Optional:
    seq = _list_arg(items)
    return Optional(seq[-1], True) if seq else NONE


def sets_contains(a: Any, b: Any) -> bool:
    return all(contains_in(x, _list_arg(a)) for x in _list_arg(b))


def sets_equivalent(a: Any, b: Any) -> bool:
    return sets_contains(a, b) and sets_contains(b, a)


def sets_intersects(a: Any, b: Any) -> bool:
    return any(contains_in(x, _list_arg(a)) for x in _list_arg(b))


def map_insert(m: Any, k: Any, v: Any = None, *rest: Any) -> dict[Any, Any]:
    if not isinstance(m, dict):
        raise no_overload()
    out = dict(m)
    updates = k.items() if isinstance(k, dict) and v is None else [(k, v)]
    for key, value in updates:
        if map_get(out, key)[0]:
            raise EvalError(f"insert failed: key {to_string_any(key)} already exists")
        out[key] = value
    return out


# ------------------------------------------------------------------ optionals


def opt_of(v: Any) -> Optional:
    return Optional(v, True)


def _zero(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, bool):
        return v is False
    if isinstance(v, (int, float, str, bytes, list, dict)):
        return not v
    if isinstance(v, (Duration, Timestamp)):
        return v.ns == 0
    return False


def opt_of_non_zero(v: Any) -> Optional:
    return NONE if _zero(v) else Optional(v, True)


def opt_none() -> Optional:
    return NONE


def _opt(v: Any) -> Optional:
    if not isinstance(v, Optional):
        raise no_overload()
    return v


def opt_value(v: Any) -> Any:
    o = _opt(v)
    if not o.present:
        raise EvalError("optional.none() dereference")
    return o.value


def opt_has_value(v: Any) -> bool:
    return _opt(v).present


def opt_or(a: Any, b: Any) -> Optional:
    return _opt(a) if _opt(a).present else _opt(b)


def opt_or_value(a: Any, b: Any) -> Any:
    o = _opt(a)
    return o.value if o.present else b


def opt_unwrap(items: Any) -> list[Any]:
    out = []
    for v in _list_arg(items):
        if not isinstance(v, Optional):
            raise EvalError(f"value {to_string_any(v)} is not optional")
        if v.present:
            out.append(v.value)
    return out


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "_+_": add,
    "_-_": subtract,
    "_*_": multiply,
    "_/_": divide,
    "_%_": modulo,
    "-_": negate,
    "!_": logical_not,
    "_==_": equals,
    "_!=_": lambda a, b: not equals(a, b),
    "_<_": _cmp(lambda c: c < 0),
    "_<=_": _cmp(lambda c: c <= 0),
    "_>_": _cmp(lambda c: c > 0),
    "_>=_": _cmp(lambda c: c >= 0),
    "@in": contains_in,
    "_[_]": index,
    "_[?_]": opt_index,
    "size": size,
    "type": to_type,
    "bool": to_bool,
    "bytes": to_bytes,
    "double": to_double,
    "duration": to_duration,
    "dyn": to_dyn,
    "int": to_int,
    "string": to_string,
    "timestamp": to_timestamp,
    "uint": to_uint,
    "contains": contains,
    "endsWith": ends_with,
    "startsWith": starts_with,
    "matches": matches,
    "find": find,
    "findAll": find_all,
    "charAt": char_at,
    "indexOf": index_of,
    "lastIndexOf": last_index_of,
    "lowerAscii": lower_ascii,
    "upperAscii": upper_ascii,
    "replace": replace,
    "split": split,
    "substring": substring,
    "trim": trim,
    "join": join,
    "strings.quote": quote,
    "format": string_format,
    "isSorted": is_sorted,
    "sum": list_sum,
    "max": _extreme("max", -1),
    "min": _extreme("min", 1),
    "slice": slice_list,
    "flatten": flatten,
    "sort": sort_list,
    "@sortByAssociatedKeys": sort_by_keys,
    "lists.range": lists_range,
    "reverse": reverse,
    "distinct": distinct,
    "first": first,
    "last": last,
    "sets.contains": sets_contains,
    "sets.equivalent": sets_equivalent,
    "sets.intersects": sets_intersects,
    "cel.@mapInsert": map_insert,
    "optional.of": opt_of,
    "optional.ofNonZeroValue": opt_of_non_zero,
    "optional.none": opt_none,
    "value": opt_value,
    "hasValue": opt_has_value,
    "or": opt_or,
    "orValue": opt_or_value,
    "optional.unwrap": opt_unwrap,
    "unwrapOpt": opt_unwrap,
}
for _getter in (
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
):
    FUNCTIONS[_getter] = _time_getter(_getter)
