"""The request the scope guard reads is the request that goes on the wire.

A session checks a URL before sending it, but both HTTP libraries rewrite URLs on the way
out, and the API server ignores part of what arrives:

- urllib3 2.x (the sync client) and yarl (aiohttp, the asyncio client) remove ``.`` and
  ``..`` segments; yarl first decodes escapes of characters allowed raw, so ``%2e%2e`` is
  removed too (``%3A`` becomes ``:``, harmlessly);
- both percent-encode characters outside RFC 3986 (space, ``\\``, ``"``, ``[``, non-ASCII),
  rewrite a ``%`` that starts no escape as ``%25``, and drop a ``#fragment``; yarl drops an
  empty ``?``;
- kube-apiserver reads at most ``resource/name/subresource`` of a path, splits the query on
  ``&`` only and drops every parameter containing ``;`` (Go's ``net/url``), decodes
  ``%2F`` into a segment boundary, and takes the first of repeated parameters.

So ``pods/web/log/../../../../kube-system/secrets/x`` would pass a ``get pods/log`` scope and
read a Secret. :func:`wire_request` accepts only URLs that the guard, both libraries and the
server read alike, resolves them, and raises :class:`UnsafeURL` naming the offending part for
everything else:

- the URL is on the session's API server (its configured host, base path included);
- every path segment is non-empty RFC 3986 ``pchar`` without ``;``, with escapes ``%HH``
  only of such characters (``%3A`` yes; ``%2F``, ``%25``, ``%5C``, ``%C3%A9`` no), and is not
  ``.`` or ``..`` once decoded;
- a trailing ``/`` only on non-resource paths (``/version/``), and no segment after what
  the resolver reads, except the proxied path of a ``proxy`` subresource or path verb;
- the query has only RFC 3986 query characters without ``;``, escapes that decode to
  UTF-8, and each parameter the resolver reads (``fieldSelector``, ``labelSelector``,
  ``watch``) at most once.

Pure functions, no I/O: the sync and asyncio transports and ``prepare_request`` all reach
this through ``Target.plan``.
"""

from __future__ import annotations

import string

from .resolver import RequestInfo, resolve, resolves, unread_parts

__all__ = ["RESOLVER_PARAMETERS", "UnsafeURL", "wire_request"]

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# RFC 3986 pchar without ';' (some servers and proxies read it as a parameter separator).
_PCHAR = _UNRESERVED | frozenset("!$&'()*+,=:@")
_QUERY_CHARS = _PCHAR | frozenset("/?")
_HEX = frozenset(string.hexdigits)

RESOLVER_PARAMETERS = frozenset({"fieldSelector", "labelSelector", "watch"})

_REWRITTEN = "which urllib3 and aiohttp percent-encode before sending"


class UnsafeURL(ValueError):
    """A URL that would not reach the server as the guard read it; ``reason`` says why."""

    def __init__(self, target: str, reason: str) -> None:
        self.target = target
        self.reason = reason
        super().__init__(f"{target!r}: {reason}")


def _describe(char: str) -> str:
    if char == "\\":
        return "a backslash"
    if char == " ":
        return "a space"
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return f"the control character {char!r}"
    if not char.isascii():
        return f"the non-ASCII character {char!r} (U+{ord(char):04X})"
    return repr(char)


def _raw_char_reason(char: str, where: str) -> str:
    if char == "#":
        return "has a '#' fragment, which HTTP libraries never send"
    if char == ";":
        if where == "query":
            return (
                "has ';' in the query: kube-apiserver (Go) drops every parameter containing "
                "it, while the guard would read it"
            )
        return "has ';' in the path, which some servers and proxies read as path parameters"
    if char == "\\":
        return (
            f"has a backslash in the {where}, which urllib3 and aiohttp send as '%5C' (some "
            "servers and proxies read it as '/')"
        )
    if not char.isascii():
        return f"has {_describe(char)} in the {where}, {_REWRITTEN} (and may normalise)"
    return f"has {_describe(char)} in the {where}, {_REWRITTEN}"


def _check_raw(text: str, allowed: frozenset[str], where: str, target: str) -> None:
    for index, char in enumerate(text):
        if char == "%":
            if not (text[index + 1 : index + 2] in _HEX and text[index + 2 : index + 3] in _HEX):
                escape = text[index : index + 3]
                raise UnsafeURL(
                    target,
                    f"has {escape!r} in the {where}: a '%' that starts no escape, which "
                    "urllib3 and aiohttp send as '%25'",
                )
        elif char not in allowed:
            raise UnsafeURL(target, _raw_char_reason(char, where))


def _decode_segment(segment: str, target: str) -> str:
    """Percent-decode one path segment; escapes must stand for characters allowed raw."""
    if "%" not in segment:
        return segment
    out: list[str] = []
    index = 0
    while index < len(segment):
        char = segment[index]
        if char != "%":
            out.append(char)
            index += 1
            continue
        escape = segment[index : index + 3]
        decoded = chr(int(escape[1:], 16))
        if decoded == "/":
            raise UnsafeURL(
                target,
                f"segment {segment!r} has {escape!r}, an encoded '/': where the path splits "
                "would depend on who decodes it first",
            )
        if decoded == "%":
            raise UnsafeURL(
                target,
                f"segment {segment!r} has {escape!r}, an encoded '%' (double encoding): a "
                "second decoder would read another path",
            )
        if decoded not in _PCHAR:
            what = _describe(decoded) if decoded.isascii() else "a non-ASCII byte"
            raise UnsafeURL(
                target,
                f"segment {segment!r} has {escape!r}, which decodes to {what}: no name or "
                "path the API server serves contains it",
            )
        out.append(decoded)
        index += 3
    return "".join(out)


def _decode_query_part(part: str, target: str) -> str:
    """Decode a query key or value as Go and Python do ('+' is a space), strictly as UTF-8."""
    raw = part.replace("+", " ")
    if "%" not in raw:
        return raw
    data = bytearray()
    index = 0
    while index < len(raw):
        if raw[index] == "%":
            data.append(int(raw[index + 1 : index + 3], 16))
            index += 3
        else:
            data += raw[index].encode("ascii")
            index += 1
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafeURL(
            target,
            f"query part {part!r} is not UTF-8 once decoded: the guard and the server would "
            "read different values",
        ) from None


def _check_query(query: str, target: str) -> None:
    if not query:
        raise UnsafeURL(target, "ends with an empty query ('?'), which aiohttp drops")
    _check_raw(query, _QUERY_CHARS, "query", target)
    seen: set[str] = set()
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        name = _decode_query_part(key, target)
        _decode_query_part(value, target)
        if name in RESOLVER_PARAMETERS:
            if name in seen:
                raise UnsafeURL(
                    target,
                    f"repeats the query parameter {name!r}, which decides what the request "
                    "is: servers and proxies disagree on which one counts",
                )
            seen.add(name)


def _request_target(url: str, prefix: str) -> str:
    """``url`` minus the API server's origin and base path; refuses any other server."""
    target = url
    if prefix:
        if not url.startswith(prefix):
            raise UnsafeURL(url, f"is not on the session's API server {prefix!r}")
        target = url[len(prefix) :]
    if not target.startswith("/"):
        where = f"the session's API server {prefix!r}" if prefix else "a server"
        raise UnsafeURL(url, f"is not a path on {where} (it must continue with '/')")
    return target


def wire_request(method: str, url: str, prefix: str = "") -> RequestInfo:
    """Resolve ``url`` as the server will, or raise :class:`UnsafeURL`.

    ``prefix`` is the configured host without a trailing ``/`` (``https://host:6443`` or
    ``https://proxy/k8s/clusters/c1``); an empty prefix accepts server-relative targets.
    """
    target = _request_target(url, prefix)
    if "#" in target:
        raise UnsafeURL(target, _raw_char_reason("#", "URL"))
    path, has_query, query = target.partition("?")
    _check_raw(path, _PCHAR | {"/"}, "path", target)
    segments = path[1:].split("/")
    decoded: list[str] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if not segment:
            if index == last:
                break  # the root "/" or a trailing "/"
            hint = " (does the configured host end with '/'?)" if index == 0 else ""
            raise UnsafeURL(
                target,
                f"has an empty path segment ('//'){hint}: the server would split the path "
                "differently",
            )
        text = _decode_segment(segment, target)
        if text in (".", ".."):
            shown = repr(segment) if segment == text else f"{segment!r} (decodes to {text!r})"
            raise UnsafeURL(
                target,
                f"has the dot segment {shown}: urllib3 and aiohttp remove it before sending, "
                "so the server would see another path",
            )
        decoded.append(text)
    trailing = len(segments) > 1 and not segments[-1]
    decoded_path = "/" + "/".join(decoded) + ("/" if trailing else "")
    if has_query:
        _check_query(query, target)
    if not resolves(decoded_path):
        raise UnsafeURL(
            target,
            "ends in a 'watch' or 'proxy' with nothing after it: kube-apiserver cannot read "
            "such a path and answers 500 before authorizing anything",
        )
    info = resolve(method, decoded_path, query)
    if info.is_resource_request:
        read = f"{info.resource}/{info.name}".rstrip("/")
        if info.subresource:
            read += f"/{info.subresource}"
        if trailing:
            raise UnsafeURL(
                target,
                f"ends with '/' after {read!r}: an empty segment the scope cannot see",
            )
        extra = unread_parts(info)
        if extra and "proxy" not in (info.verb, info.subresource):
            raise UnsafeURL(
                target,
                f"has {'/'.join(extra)!r} after {read!r}: kube-apiserver ignores those "
                "segments when authorizing, so the scope cannot see them",
            )
    return info
