"""Kubernetes' CEL ``ip`` and ``cidr`` libraries with Go's ``net/netip`` semantics: its strict
parser and error texts (no leading zeros, no zones, no IPv4-mapped IPv6), RFC 5952 printing,
and the address classes (loopback, link-local, global unicast...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .cel_values import EvalError, no_overload
from .goformat import quote

__all__ = ["CIDR", "FUNCTIONS", "IP", "parse_addr"]


class _AddrError(ValueError):
    def __init__(self, text: str, msg: str, at: str = "") -> None:
        detail = f"ParseAddr({quote(text)}): {msg}"
        if at:
            detail += f" (at {quote(at)})"
        super().__init__(detail)


@dataclass(frozen=True)
class IP:
    value: int
    bits: int  # 32 or 128
    zone: str = ""

    cel_type = "net.IP"

    @property
    def is4(self) -> bool:
        return self.bits == 32

    @property
    def is4in6(self) -> bool:
        return self.bits == 128 and self.value >> 32 == 0xFFFF

    def cel_equals(self, other: Any) -> bool:
        return isinstance(other, IP) and self == other

    def cel_string(self) -> str:
        if self.is4:
            return ".".join(str((self.value >> s) & 0xFF) for s in (24, 16, 8, 0))
        groups = [(self.value >> (112 - 16 * i)) & 0xFFFF for i in range(8)]
        if self.is4in6:
            v4 = IP(self.value & 0xFFFFFFFF, 32).cel_string()
            return f"::ffff:{v4}" + (f"%{self.zone}" if self.zone else "")
        start, end = 255, 255
        i = 0
        while i < 8:
            j = i
            while j < 8 and groups[j] == 0:
                j += 1
            if j - i >= 2 and j - i > end - start:
                start, end = i, j
            i = j + 1 if j > i else i + 1
        out = ""
        i = 0
        while i < 8:
            if i == start:
                out += "::"
                i = end
                if i >= 8:
                    break
            elif i > 0:
                out += ":"
            out += f"{groups[i]:x}"
            i += 1
        return out + (f"%{self.zone}" if self.zone else "")

    def _unmapped(self) -> IP:
        return IP(self.value & 0xFFFFFFFF, 32) if self.is4in6 else self

    def is_loopback(self) -> bool:
        ip = self._unmapped()
        return (ip.value >> 24) == 127 if ip.is4 else ip.value == 1

    def is_multicast(self) -> bool:
        ip = self._unmapped()
        return (ip.value >> 28) == 0xE if ip.is4 else (ip.value >> 120) == 0xFF

    def is_link_local_unicast(self) -> bool:
        ip = self._unmapped()
        if ip.is4:
            return (ip.value >> 16) == 0xA9FE
        return ((ip.value >> 112) & 0xFFC0) == 0xFE80

    def is_link_local_multicast(self) -> bool:
        ip = self._unmapped()
        if ip.is4:
            return (ip.value >> 8) == 0xE00000
        return ((ip.value >> 112) & 0xFF0F) == 0xFF02

    def is_unspecified(self) -> bool:
        return self.value == 0 and not self.zone

    def is_global_unicast(self) -> bool:
        ip = self._unmapped()
        if ip.is4 and ip.value in (0, 0xFFFFFFFF):
            return False
        if not ip.is4 and ip.value == 0:
            return False
        return not (ip.is_loopback() or ip.is_multicast() or ip.is_link_local_unicast())


def _ipv4_fields(text: str, s: str) -> int:
    """``parseIPv4Fields`` over ``s`` (part of ``text``)."""
    fields: list[int] = []
    val, digits = 0, 0
    for i, c in enumerate(s):
        if "0" <= c <= "9":
            if digits == 1 and val == 0:
                raise _AddrError(text, "IPv4 field has octet with leading zero")
            val = val * 10 + ord(c) - 48
            digits += 1
            if val > 255:
                raise _AddrError(text, "IPv4 field has value >255")
        elif c == ".":
            if i == 0 or i == len(s) - 1 or s[i - 1] == ".":
                raise _AddrError(text, "IPv4 field must have at least one digit", s[i:])
            if len(fields) == 3:
                raise _AddrError(text, "IPv4 address too long")
            fields.append(val)
            val, digits = 0, 0
        else:
            raise _AddrError(text, "unexpected character", s[i:])
    if len(fields) < 3:
        raise _AddrError(text, "IPv4 address too short")
    fields.append(val)
    return (fields[0] << 24) | (fields[1] << 16) | (fields[2] << 8) | fields[3]


def _ipv6(text: str) -> IP:
    s = text
    zone = ""
    if "%" in s:
        s, zone = s.split("%", 1)
        if not zone:
            raise _AddrError(text, "zone must be a non-empty string")
    ip = [0] * 16
    ellipsis = -1
    if s.startswith("::"):
        ellipsis = 0
        s = s[2:]
        if not s:
            return IP(0, 128, zone)
    i = 0
    while i < 16:
        off, acc = 0, 0
        while off < len(s):
            c = s[off]
            if c in "0123456789abcdefABCDEF":
                acc = (acc << 4) + int(c, 16)
            else:
                break
            if off > 3:
                raise _AddrError(text, "each group must have 4 or less digits", s)
            if acc > 0xFFFF:
                raise _AddrError(text, "IPv6 field has value >=2^16", s)
            off += 1
        if off == 0:
            raise _AddrError(text, "each colon-separated field must have at least one digit", s)
        if off < len(s) and s[off] == ".":
            if ellipsis < 0 and i != 12:
                raise _AddrError(
                    text, "embedded IPv4 address must replace the final 2 fields of the address", s
                )
            if i + 4 > 16:
                raise _AddrError(
                    text,
                    "too many hex fields to fit an embedded IPv4 at the end of the address",
                    s,
                )
            v4 = _ipv4_fields(text, s)
            ip[i : i + 4] = [(v4 >> 24) & 0xFF, (v4 >> 16) & 0xFF, (v4 >> 8) & 0xFF, v4 & 0xFF]
            s = ""
            i += 4
            break
        ip[i] = acc >> 8
        ip[i + 1] = acc & 0xFF
        i += 2
        s = s[off:]
        if not s:
            break
        if s[0] != ":":
            raise _AddrError(text, "unexpected character, want colon", s)
        if len(s) == 1:
            raise _AddrError(text, "colon must be followed by more characters", s)
        s = s[1:]
        if s[0] == ":":
            if ellipsis >= 0:
                raise _AddrError(text, "multiple :: in address", s)
            ellipsis = i
            s = s[1:]
            if not s:
                break
    if s:
        raise _AddrError(text, "trailing garbage after address", s)
    if i < 16:
        if ellipsis < 0:
            raise _AddrError(text, "address string too short")
        n = 16 - i
        ip = ip[:ellipsis] + [0] * n + ip[ellipsis:i]
    elif ellipsis >= 0:
        raise _AddrError(text, "the :: must expand to at least one field of zeros")
    return IP(int.from_bytes(bytes(ip), "big"), 128, zone)


def _go_parse_addr(text: str) -> IP:
    for c in text:
        if c == ".":
            return IP(_ipv4_fields(text, text), 32)
        if c == ":":
            return _ipv6(text)
        if c == "%":
            raise _AddrError(text, "missing IPv6 address")
    raise _AddrError(text, "unable to parse IP")


def parse_addr(text: str) -> IP:
    """Kubernetes' ``parseIPAddr``."""
    try:
        addr = _go_parse_addr(text)
    except _AddrError as err:
        raise EvalError(
            f"IP Address {quote(text)} parse error during conversion from string: {err}"
        ) from None
    if addr.zone:
        raise EvalError(f"IP address {quote(text)} with zone value is not allowed")
    if addr.is4in6:
        raise EvalError(f"IPv4-mapped IPv6 address {quote(text)} is not allowed")
    return addr


@dataclass(frozen=True)
class CIDR:
    ip: IP
    prefix: int

    cel_type = "net.CIDR"

    def cel_equals(self, other: Any) -> bool:
        return isinstance(other, CIDR) and self == other

    def cel_string(self) -> str:
        return f"{self.ip.cel_string()}/{self.prefix}"

    def _masked_value(self, value: int, bits: int) -> int:
        return value >> (self.ip.bits - bits) if bits else 0

    def contains(self, ip: IP) -> bool:
        if ip.zone or ip.bits != self.ip.bits:
            return False
        return self._masked_value(ip.value, self.prefix) == self._masked_value(
            self.ip.value, self.prefix
        )

    def masked(self) -> CIDR:
        shift = self.ip.bits - self.prefix
        return CIDR(IP((self.ip.value >> shift) << shift, self.ip.bits), self.prefix)

    def overlaps(self, other: CIDR) -> bool:
        if self == other:
            return True
        if self.ip.is4 != other.ip.is4:
            return False
        bits = min(self.prefix, other.prefix)
        if bits == 0:
            return True
        return self._masked_value(self.ip.value, bits) == other._masked_value(other.ip.value, bits)


def parse_cidr(text: str) -> CIDR:
    """Kubernetes' ``parseCIDR`` and the CEL conversion's wrapping of its error."""
    lead = "network address parse error during conversion from string: "

    def fail(msg: str) -> EvalError:
        return EvalError(f"{lead}{lead}netip.ParsePrefix({quote(text)}): {msg}")

    slash = text.rfind("/")
    if slash < 0:
        raise fail("no '/'")
    try:
        ip = _go_parse_addr(text[:slash])
    except _AddrError as err:
        raise fail(str(err)) from None
    if not ip.is4 and ip.zone:
        raise fail("IPv6 zones cannot be present in a prefix")
    bits_text = text[slash + 1 :]
    if (len(bits_text) > 1 and not "1" <= bits_text[0] <= "9") or not (
        bits_text.isascii() and bits_text.lstrip("+-").isdigit()
    ):
        raise fail(f"bad bits after slash: {quote(bits_text)}")
    bits = int(bits_text)
    if not 0 <= bits <= ip.bits:
        raise fail("prefix length out of range")
    if ip.is4in6:
        raise EvalError(f"{lead}IPv4-mapped IPv6 address {quote(text)} is not allowed")
    return CIDR(ip, bits)


# ------------------------------------------------------------------ CEL functions


def _ip(v: Any) -> IP:
    if not isinstance(v, IP):
        raise no_overload()
    return v


def _cidr(v: Any) -> CIDR:
    if not isinstance(v, CIDR):
        raise no_overload()
    return v


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise no_overload()
    return v


def _valid(parse: Any, v: Any) -> bool:
    try:
        parse(_text(v))
    except EvalError as err:
        if str(err) == "no such overload":
            raise
        return False
    return True


def _ip_call(v: Any) -> IP:
    """``ip(string)``, and ``cidr.ip()``."""
    if isinstance(v, CIDR):
        return v.ip
    return parse_addr(_text(v))


def _contains_ip(c: Any, other: Any) -> bool:
    return _cidr(c).contains(parse_addr(other) if isinstance(other, str) else _ip(other))


def _contains_cidr(c: Any, other: Any) -> bool:
    outer = _cidr(c)
    inner = parse_cidr(other) if isinstance(other, str) else _cidr(other)
    return outer.overlaps(inner) and outer.prefix <= inner.prefix


def _is_canonical(v: Any) -> bool:
    return parse_addr(_text(v)).cel_string() == str(v)


FUNCTIONS: dict[str, Any] = {
    "ip": _ip_call,
    "isIP": lambda v: _valid(parse_addr, v),
    "ip.isCanonical": _is_canonical,
    "family": lambda v: 4 if _ip(v).is4 else 6,
    "isUnspecified": lambda v: _ip(v).is_unspecified(),
    "isLoopback": lambda v: _ip(v).is_loopback(),
    "isLinkLocalMulticast": lambda v: _ip(v).is_link_local_multicast(),
    "isLinkLocalUnicast": lambda v: _ip(v).is_link_local_unicast(),
    "isGlobalUnicast": lambda v: _ip(v).is_global_unicast(),
    "cidr": lambda v: parse_cidr(_text(v)),
    "isCIDR": lambda v: _valid(parse_cidr, v),
    "containsIP": _contains_ip,
    "containsCIDR": _contains_cidr,
    "prefixLength": lambda v: _cidr(v).prefix,
    "masked": lambda v: _cidr(v).masked(),
}
