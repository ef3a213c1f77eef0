"""The string formats a CRD schema may check (kube-openapi's ``strfmt`` registry).

Formats apiextensions does not support are dropped from the schema before validation
(``StripUnsupportedFormatsPostProcessor``); the rest validate a string value here.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from datetime import date
from urllib.parse import urlsplit

from .regex import compile_go

__all__ = ["effective_format", "is_known", "validates"]

# What apiextensions keeps for string schemas (names without dashes, as the registry reads them).
_SUPPORTED = frozenset(
    {
        "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid",
        "uuid3", "uuid4", "uuid5", "isbn", "isbn10", "isbn13", "creditcard", "ssn", "hexcolor",
        "rgbcolor", "byte", "password", "date", "duration", "datetime", "k8sshortname",
        "k8slongname",
    }
)  # fmt: skip


def effective_format(schema_type: str, fmt: str) -> str:
    """The format left on a schema after apiextensions strips unsupported ones."""
    if not fmt:
        return ""
    if schema_type in ("", "string"):
        return fmt if fmt.replace("-", "") in _SUPPORTED else ""
    if schema_type == "integer":
        return fmt if fmt in ("int32", "int64") else ""
    if schema_type == "number":
        return fmt if fmt in ("float", "double") else ""
    return ""


def unrecognized(schema_type: str, fmt: str) -> bool:
    """Whether a CRD create/update warns ``unrecognized format``."""
    return bool(fmt) and not effective_format(schema_type, fmt)


def _date(value: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


_DATE_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))")


def _date_time(value: str) -> bool:
    if len(value) < 4:
        return False
    parts = value.lower().split("t")
    if len(parts) < 2 or not _date(parts[0]):
        return False
    match = _DATE_TIME.fullmatch(parts[1])
    if match is None:
        return False
    return match[1] <= "23" and match[2] <= "59" and match[3] <= "59"


_GO_DURATION = re.compile(r"[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+|[-+]?0")
_DURATION_PART = re.compile(r"((\d+)\s*([A-Za-zµ]+))")
_UNITS = (
    ("ns", "nano"),
    ("us", "µs", "micro"),
    ("ms", "milli"),
    ("s", "sec"),
    ("m", "min"),
    ("h", "hr", "hour"),
    ("d", "day"),
    ("w", "wk", "week"),
)


def _duration(value: str) -> bool:
    if _GO_DURATION.fullmatch(value):
        return True
    for match in _DURATION_PART.finditer(value):
        unit = match[3].strip().lower()
        for variants in _UNITS:
            last = len(variants) - 1
            for i, variant in enumerate(variants):
                if (i == last and unit.startswith(variant)) or variant.lower() == unit:
                    return True
    return False


def _uuid(version: str) -> Callable[[str], bool]:
    middle = {"": "[0-9a-f]{4}-?[0-9a-f]{4}", "3": "3[0-9a-f]{3}-?[0-9a-f]{4}"}.get(
        version, f"{version}[0-9a-f]{{3}}-?[89ab][0-9a-f]{{3}}"
    )
    pattern = re.compile(
        f"(?i)^[0-9a-f]{{8}}-?[0-9a-f]{{4}}-?{middle}-?[0-9a-f]{{12}}$"
        if version
        else "(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$"
    )
    return lambda v: pattern.search(v) is not None


def _ipv4(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def _ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


def _mac(value: str) -> bool:
    return bool(
        re.fullmatch(r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}", value)
        or re.fullmatch(r"([0-9A-Fa-f]{2}[:-]){19}[0-9A-Fa-f]{2}", value)
        or re.fullmatch(r"([0-9A-Fa-f]{2}[:-]){7}[0-9A-Fa-f]{2}", value)
        or re.fullmatch(r"([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}", value)
        or re.fullmatch(r"([0-9A-Fa-f]{4}\.){3}[0-9A-Fa-f]{4}", value)
        or re.fullmatch(r"([0-9A-Fa-f]{4}\.){4}[0-9A-Fa-f]{4}", value)
    )


def _base64(value: str) -> bool:
    if not re.fullmatch(
        r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})", value
    ):
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _uri(value: str) -> bool:
    """``url.ParseRequestURI``: an absolute URI or an absolute path."""
    if not value or " " in value:
        return False
    if value.startswith("/"):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme) is not None


_HOSTNAME = (
    r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}]"
    r"(([a-zA-Z0-9-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$"
)


def _hostname(value: str) -> bool:
    if compile_go(_HOSTNAME).search(value) is None or len(value) > 255:
        return False
    return all(len(p) <= 63 for p in value.split("."))


def _email(value: str) -> bool:
    return re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", value.strip()) is not None


def _isbn10(value: str) -> bool:
    digits = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"\d{9}[\dX]", digits):
        return False
    total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits))
    return total % 11 == 0


def _isbn13(value: str) -> bool:
    digits = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"\d{13}", digits):
        return False
    total = sum((1 if i % 2 == 0 else 3) * int(c) for i, c in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == int(digits[12])


def _creditcard(value: str) -> bool:
    digits = re.sub(r"[^0-9]", "", value)
    if not re.fullmatch(
        r"(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|(222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01]"
        r"[0-9]|2720)[0-9]{12}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])"
        r"[0-9]{11}|(?:2131|1800|35\d{3})\d{11}|6[27][0-9]{14})",
        digits,
    ):
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        n = int(c)
        if i % 2 == 1:
            n = n * 2 - 9 if n * 2 > 9 else n * 2
        total += n
    return total % 10 == 0


_VALIDATORS: dict[str, Callable[[str], bool]] = {
    "date": _date,
    "datetime": _date_time,
    "duration": _duration,
    "uuid": _uuid(""),
    "uuid3": _uuid("3"),
    "uuid4": _uuid("4"),
    "uuid5": _uuid("5"),
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "cidr": _cidr,
    "mac": _mac,
    "byte": _base64,
    "uri": _uri,
    "hostname": _hostname,
    "email": _email,
    "password": lambda _v: True,
    "bsonobjectid": lambda v: re.fullmatch(r"[0-9a-fA-F]{24}", v) is not None,
    "isbn": lambda v: _isbn10(v) or _isbn13(v),
    "isbn10": _isbn10,
    "isbn13": _isbn13,
    "creditcard": _creditcard,
    "ssn": lambda v: re.fullmatch(r"\d{3}[- ]?\d{2}[- ]?\d{4}", v) is not None,
    "hexcolor": lambda v: re.fullmatch(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})", v) is not None,
    "rgbcolor": lambda v: (
        re.fullmatch(
            r"rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|"
            r"25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)",
            v,
        )
        is not None
    ),
    "k8sshortname": lambda v: (
        len(v) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", v) is not None
    ),
    "k8slongname": lambda v: (
        len(v) <= 253
        and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", v)
        is not None
    ),
}


def is_known(fmt: str) -> bool:
    """Whether the registry has this format (it then checks string values)."""
    return fmt.replace("-", "") in _VALIDATORS


def validates(fmt: str, value: str) -> bool:
    check = _VALIDATORS.get(fmt.replace("-", ""))
    return True if check is None else check(value)
