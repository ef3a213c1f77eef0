"""Kubernetes' CEL ``url`` library with Go's ``net/url`` semantics (Go 1.26, which builds
kube-apiserver v1.37.2): ``ParseRequestURI`` decides what is a URL, ``Parse`` builds it, and
the getters return Go's ``Scheme``, ``Host``, ``Hostname()``, ``Port()``, ``EscapedPath()`` and
``Query()``; error texts are Go's (``parse "x": invalid URI for request``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .cel_values import EvalError, no_overload
from .goformat import quote

__all__ = ["FUNCTIONS", "URL", "parse_request_uri"]

_PATH, _SEGMENT, _HOST, _ZONE, _USER, _QUERY, _FRAGMENT = range(7)
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")


class _URLError(ValueError):
    pass


def _should_escape(c: int, mode: int) -> bool:
    if c in _ALNUM:
        return False
    ch = chr(c)
    if mode in (_HOST, _ZONE) and ch in "!$&'()*+,;=:[]<>\"":
        return False
    if ch in "-_.~":
        return False
    if ch in "$&+,/:;=?@":
        if mode == _PATH:
            return ch == "?"
        if mode == _SEGMENT:
            return ch in "/;,?"
        if mode == _USER:
            return ch in "@/?:"
        if mode == _QUERY:
            return True
        if mode == _FRAGMENT:
            return False
    return not (mode == _FRAGMENT and ch in "!()*")


def _unescape(s: bytes, mode: int) -> bytes:
    i, n = 0, 0
    plus = False
    while i < len(s):
        c = s[i]
        if c == 0x25:  # %
            n += 1
            if i + 2 >= len(s) or s[i + 1] not in _HEX or s[i + 2] not in _HEX:
                bad = s[i : i + 3]
                raise _URLError(f"invalid URL escape {quote(bad.decode('utf-8', 'replace'))}")
            value = int(s[i + 1 : i + 3], 16)
            if mode == _HOST and value < 0x80 and s[i : i + 3] != b"%25":
                raise _URLError(f"invalid URL escape {quote(s[i : i + 3].decode())}")
            if (
                mode == _ZONE
                and s[i : i + 3] != b"%25"
                and value != 0x20
                and _should_escape(value, _HOST)
            ):
                raise _URLError(f"invalid URL escape {quote(s[i : i + 3].decode())}")
            i += 3
        elif c == 0x2B:  # +
            plus = mode == _QUERY
            i += 1
        else:
            if mode in (_HOST, _ZONE) and c < 0x80 and _should_escape(c, mode):
                raise _URLError(f"invalid character {quote(chr(c))} in host name")
            i += 1
    if n == 0 and not plus:
        return s
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == 0x25:
            out.append(int(s[i + 1 : i + 3], 16))
            i += 3
            continue
        out.append(0x20 if c == 0x2B and mode == _QUERY else c)
        i += 1
    return bytes(out)


def _escape(s: bytes, mode: int) -> bytes:
    out = bytearray()
    for c in s:
        if c == 0x20 and mode == _QUERY:
            out.append(0x2B)
        elif _should_escape(c, mode):
            out += b"%" + f"{c:02X}".encode()
        else:
            out.append(c)
    return bytes(out)


def _valid_port(port: bytes) -> bool:
    return not port or (port[:1] == b":" and all(0x30 <= b <= 0x39 for b in port[1:]))


def _valid_encoded(s: bytes, mode: int) -> bool:
    return all(chr(c) in "!$&'()*+,;=:@[]%" or not _should_escape(c, mode) for c in s)


def _valid_userinfo(s: bytes) -> bool:
    return all(c in _ALNUM or chr(c) in "-._:~!$&'()*+,;=%@" for c in s)


@dataclass
class URL:
    scheme: str = ""
    opaque: bytes = b""
    host: bytes = b""
    path: bytes = b""
    raw_path: bytes = b""
    raw_query: bytes = b""
    fields: dict[str, Any] = field(default_factory=dict)

    cel_type = "kubernetes.URL"

    def escaped_path(self) -> bytes:
        if self.raw_path and _valid_encoded(self.raw_path, _PATH):
            try:
                if _unescape(self.raw_path, _PATH) == self.path:
                    return self.raw_path
            except _URLError:
                pass
        if self.path == b"*":
            return b"*"
        return _escape(self.path, _PATH)

    def split_host_port(self) -> tuple[bytes, bytes]:
        host, port = self.host, b""
        colon = host.rfind(b":")
        if colon != -1 and _valid_port(host[colon:]):
            host, port = host[:colon], host[colon + 1 :]
        if host.startswith(b"[") and host.endswith(b"]"):
            host = host[1:-1]
        return host, port

    def query(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        rest = self.raw_query
        while rest:
            key, _, rest = rest.partition(b"&")
            if b";" in key or not key:
                continue
            k, _, v = key.partition(b"=")
            try:
                name = _unescape(k, _QUERY).decode("utf-8", "replace")
                value = _unescape(v, _QUERY).decode("utf-8", "replace")
            except _URLError:
                continue
            out.setdefault(name, []).append(value)
        return out

    def cel_equals(self, other: Any) -> bool:
        return isinstance(other, URL) and self == other


def _scheme(raw: bytes) -> tuple[bytes, bytes]:
    for i, c in enumerate(raw):
        if c in _ALNUM and not 0x30 <= c <= 0x39:
            continue
        if 0x30 <= c <= 0x39 or chr(c) in "+-.":
            if i == 0:
                return b"", raw
            continue
        if c == 0x3A:  # :
            if i == 0:
                raise _URLError("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        return b"", raw
    return b"", raw


def _parse_host(scheme: str, host: bytes) -> bytes:
    from .cel_net import _AddrError, _go_parse_addr

    open_ = host.rfind(b"[")
    if open_ > 0:
        raise _URLError("invalid IP-literal")
    if open_ == 0:
        close = host.rfind(b"]")
        if close < 0:
            raise _URLError("missing ']' in host")
        colon_port = host[close + 1 :]
        if not _valid_port(colon_port):
            raise _URLError(
                f"invalid port {quote(colon_port.decode('utf-8', 'replace'))} after host"
            )
        colon_port = _unescape(colon_port, _HOST)
        name = host[1:close]
        zone = name.find(b"%25")
        if zone >= 0:
            plain = _unescape(name[:zone], _HOST) + _unescape(name[zone:], _ZONE)
        else:
            plain = _unescape(name, _HOST)
        try:
            addr = _go_parse_addr(plain.decode("utf-8", "replace"))
        except _AddrError as err:
            raise _URLError(f"invalid host: {err}") from None
        if addr.is4:
            raise _URLError("invalid IP-literal")
        return b"[" + plain + b"]" + colon_port
    i = host.find(b":")
    if i != -1:
        last = host.rfind(b":")
        if last != i and scheme not in ("http", "https"):
            i = last
        colon_port = host[i:]
        if not _valid_port(colon_port):
            raise _URLError(
                f"invalid port {quote(colon_port.decode('utf-8', 'replace'))} after host"
            )
    return _unescape(host, _HOST)


def _parse(raw: bytes, via_request: bool) -> URL:
    if any(b < 0x20 or b == 0x7F for b in raw):
        raise _URLError("net/url: invalid control character in URL")
    if not raw and via_request:
        raise _URLError("empty url")
    url = URL()
    if raw == b"*":
        url.path = b"*"
        return url
    scheme, rest = _scheme(raw)
    url.scheme = scheme.decode().lower()
    if rest.endswith(b"?") and rest.count(b"?") == 1:
        rest = rest[:-1]
    else:
        rest, _, url.raw_query = rest.partition(b"?")
    if not rest.startswith(b"/"):
        if url.scheme:
            url.opaque = rest
            return url
        if via_request:
            raise _URLError("invalid URI for request")
        segment = rest.partition(b"/")[0]
        if b":" in segment:
            raise _URLError("first path segment in URL cannot contain colon")
    if (url.scheme or (not via_request and not rest.startswith(b"///"))) and rest.startswith(b"//"):
        authority, rest = rest[2:], b""
        slash = authority.find(b"/")
        if slash >= 0:
            authority, rest = authority[:slash], authority[slash:]
        at = authority.rfind(b"@")
        url.host = _parse_host(url.scheme, authority[at + 1 :] if at >= 0 else authority)
        if at >= 0:
            userinfo = authority[:at]
            if not _valid_userinfo(userinfo):
                raise _URLError("net/url: invalid userinfo")
            for part in userinfo.split(b":", 1):
                _unescape(part, _USER)
    url.path = _unescape(rest, _PATH)
    url.raw_path = b"" if _escape(url.path, _PATH) == rest else rest
    return url


def _go_error(raw: bytes, err: _URLError) -> str:
    return f"parse {quote(raw.decode('utf-8', 'replace'))}: {err}"


def parse_request_uri(text: str) -> str | None:
    """Why ``url.ParseRequestURI`` refuses ``text`` (``None``: it accepts it)."""
    raw = text.encode()
    try:
        _parse(raw, True)
    except _URLError as err:
        return _go_error(raw, err)
    return None


def _to_url(text: Any) -> URL:
    if not isinstance(text, str):
        raise no_overload()
    why = parse_request_uri(text)
    if why is not None:
        raise EvalError(f"URL parse error during conversion from string: {why}")
    raw = text.encode()
    body, _, fragment = raw.partition(b"#")
    try:
        url = _parse(body, False)
        if fragment:
            _unescape(fragment, _FRAGMENT)
    except _URLError as err:
        raise EvalError(
            f"URL parse error during conversion from string: {_go_error(body, err)}"
        ) from None
    return url


def _u(v: Any) -> URL:
    if not isinstance(v, URL):
        raise no_overload()
    return v


def _text(b: bytes) -> str:
    return b.decode("utf-8", "replace")


FUNCTIONS: dict[str, Any] = {
    "url": _to_url,
    "isURL": lambda s: parse_request_uri(s) is None if isinstance(s, str) else _to_url(s),
    "getScheme": lambda u: _u(u).scheme,
    "getHost": lambda u: _text(_u(u).host),
    "getHostname": lambda u: _text(_u(u).split_host_port()[0]),
    "getPort": lambda u: _text(_u(u).split_host_port()[1]),
    "getEscapedPath": lambda u: _text(_u(u).escaped_path()),
    "getQuery": lambda u: _u(u).query(),
}
