"""The impersonation header codec, shared by the SDK (encode) and the embedded server (decode).

Encoding follows client-go byte for byte (``tests/wire`` compares it with client-go and kubectl
1.37): one header line per group and per extra value; extra keys are percent-escaped (every byte
that is not an RFC 7230 token character, and ``%`` itself, becomes ``%XX`` with upper-case hex)
and the header name is then spelled as Go's ``net/http`` spells it (``Impersonate-Extra-`` +
``Example.com%2fscopes``); values are sent as raw UTF-8 and never escaped. Only the order
across header names differs (Go sorts them), which no server reads.

Decoding follows kube-apiserver: only the first ``Impersonate-User`` / ``Impersonate-Uid``
counts, each group line is one group, extra keys are lower-cased and then percent-decoded (kept
as is when an escape is malformed), values verbatim.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import InvalidIdentityError
from .identity import (
    SYSTEM_MASTERS,
    Identity,
    is_dns1123_subdomain,
    node_name_of,
    service_account_of,
)

__all__ = [
    "DOMAIN_PATH_CHARS",
    "EXTRA_PREFIX",
    "GROUP",
    "UID",
    "USER",
    "BadImpersonationRequest",
    "ParsedHeaders",
    "canonical_header_name",
    "check_constrained",
    "check_sendable",
    "encode",
    "escape_extra_key",
    "is_impersonation_header",
    "parse",
    "unescape_extra_key",
]

USER = "Impersonate-User"
UID = "Impersonate-Uid"
GROUP = "Impersonate-Group"
EXTRA_PREFIX = "Impersonate-Extra-"
_EXTRA_PREFIX_LOWER = EXTRA_PREFIX.lower()

_TOKEN_CHARS = frozenset(
    b"!#$&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
# What Go accepts in a header name it canonicalizes: the token characters, '%' included.
_NAME_CHARS = _TOKEN_CHARS | {ord("%")}
_HEX = "0123456789ABCDEF"
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


def escape_extra_key(key: str) -> str:
    """Percent-escape an extra key for use in a header name, as client-go does."""
    out: list[str] = []
    for byte in key.encode("utf-8"):
        if byte in _TOKEN_CHARS:
            out.append(chr(byte))
        else:
            out.append("%" + _HEX[byte >> 4] + _HEX[byte & 0xF])
    return "".join(out)


def canonical_header_name(name: str) -> str:
    """``name`` as Go's ``net/http`` writes it (``CanonicalMIMEHeaderKey``).

    client-go adds its lines with ``http.Header.Add``, which upper-cases the first letter and
    every letter after ``-`` and lower-cases the rest; a name with a byte that is not a token
    character is left as is. Header names are case-insensitive, so this changes no meaning,
    only bytes: the SDK's lines are then identical to client-go's.
    """
    if not name or any(ord(ch) not in _NAME_CHARS for ch in name):
        return name
    out: list[str] = []
    upper = True
    for ch in name:
        out.append(ch.upper() if upper else ch.lower())
        upper = ch == "-"
    return "".join(out)


def unescape_extra_key(key: str) -> str:
    """Path-segment unescape; a malformed escape anywhere keeps the whole key undecoded.

    ``+`` stays ``+``. Decoded bytes that are not valid UTF-8 are kept with surrogate escapes
    so that no information is lost.
    """
    if "%" not in key:
        return key
    raw = key.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    while i < len(raw):
        byte = raw[i]
        if byte == 0x25:  # '%'
            hexpair = raw[i + 1 : i + 3].decode("latin-1")
            if len(hexpair) != 2 or not set(hexpair) <= _HEXDIGITS:
                return key
            out.append(int(hexpair, 16))
            i += 3
        else:
            out.append(byte)
            i += 1
    return out.decode("utf-8", "surrogateescape")


def is_impersonation_header(name: str) -> bool:
    lower = name.lower()
    return lower in ("impersonate-user", "impersonate-uid", "impersonate-group") or (
        lower.startswith(_EXTRA_PREFIX_LOWER)
    )


# --------------------------------------------------------------------------- client side


def _check_value(field: str, value: str, *, allow_empty: bool) -> None:
    if not isinstance(value, str):
        raise InvalidIdentityError(field, value, "must be a string")
    if not value and not allow_empty:
        raise InvalidIdentityError(field, value, "must not be empty")
    for ch in value:
        code = ord(ch)
        if code in (0x0A, 0x0D, 0x00):
            raise InvalidIdentityError(
                field, value, "contains CR, LF or NUL, which would inject header lines"
            )
        if (code < 0x20 and ch != "\t") or code == 0x7F:
            raise InvalidIdentityError(
                field, value, f"contains control character U+{code:04X}; HTTP forbids it"
            )
        if 0xD800 <= code <= 0xDFFF:
            raise InvalidIdentityError(field, value, "is not valid Unicode (lone surrogate)")
    if value != value.strip(" \t"):
        raise InvalidIdentityError(
            field,
            value,
            "has leading or trailing whitespace, which HTTP/1.1 strips: the server would "
            "see a different value",
        )


def check_sendable(identity: Identity) -> None:
    """Refuse what cannot be sent faithfully as headers at all (legacy or constrained)."""
    _check_value("user", identity.user, allow_empty=False)
    if identity.uid is not None:
        _check_value("uid", identity.uid, allow_empty=False)
    for group in identity.groups:
        _check_value("groups", group, allow_empty=True)
    for key, values in identity.extra.items():
        # A key travels percent-escaped in the header name, so spaces and control characters
        # arrive as sent; a lone surrogate (not UTF-8) and ASCII upper case cannot.
        if not isinstance(key, str):
            raise InvalidIdentityError("extra key", key, "must be a string")
        if any(0xD800 <= ord(c) <= 0xDFFF for c in key):
            raise InvalidIdentityError("extra key", key, "is not valid Unicode (lone surrogate)")
        if any("A" <= c <= "Z" for c in key):
            raise InvalidIdentityError(
                "extra key",
                key,
                "the server lower-cases extra keys before decoding them, so upper-case "
                "characters cannot arrive as sent; use a lower-case key",
            )
        if not values:
            raise InvalidIdentityError(
                "extra", key, "has no values; an extra key is sent only with its values"
            )
        for value in values:
            _check_value(f"extra[{key!r}]", value, allow_empty=True)


def check_constrained(identity: Identity) -> None:
    """Refuse what only legacy impersonation would accept (docs/semantics.md#validations).

    A constrained session must never depend on the requestor also holding a legacy grant,
    which would make the server accept these silently.
    """
    check_sendable(identity)
    target_kind = None
    if node_name_of(identity.user) is not None:
        target_kind = "node"
    elif service_account_of(identity.user) is not None:
        target_kind = "service account"
    if target_kind is not None:
        for field, present in (
            ("uid", identity.uid is not None),
            ("groups", bool(identity.groups)),
            ("extra", bool(identity.extra)),
        ):
            if present:
                raise InvalidIdentityError(
                    field,
                    getattr(identity, field) if field != "extra" else sorted(identity.extra),
                    f"a {target_kind} target with a {field} header can only be impersonated "
                    "through legacy impersonation; the server fixes the groups of "
                    f"{target_kind}s itself, so drop the {field}",
                )
    for group in identity.groups:
        if group == "":
            raise InvalidIdentityError(
                "groups", group, "the empty group is refused by constrained impersonation"
            )
        if group == SYSTEM_MASTERS:
            raise InvalidIdentityError(
                "groups",
                group,
                "system:masters can never be impersonated through constrained impersonation",
            )
    for key, values in identity.extra.items():
        reason = extra_key_problem(key)
        if reason is not None:
            raise InvalidIdentityError("extra key", key, reason)
        for value in values:
            if value == "":
                raise InvalidIdentityError(
                    f"extra[{key!r}]",
                    value,
                    "empty extra values are refused by constrained impersonation",
                )


# Characters kube accepts in the path of a domain-prefixed extra key (IsDomainPrefixedPath).
DOMAIN_PATH_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/-._~%!$&'()*+,;=:"
)


def extra_key_problem(key: str) -> str | None:
    """Why constrained impersonation refuses this extra key, or None
    (docs/semantics.md#validations)."""
    if key == "":
        return "impersonating the empty string key in extra is not allowed"
    host, sep, path = key.partition("/")
    if not sep or not is_dns1123_subdomain(host) or not path or not set(path) <= DOMAIN_PATH_CHARS:
        return (
            "extra keys must be domain-prefixed paths such as 'example.com/scopes' "
            "(a DNS subdomain, '/', then a path of URL-safe characters)"
        )
    if key != key.lower():
        return "extra keys must be lower case"
    return None


def encode(identity: Identity) -> list[tuple[str, str]]:
    """Header lines for ``identity``, in a stable order: user, uid, groups, extras.

    client-go writes the same lines sorted by name; the order of the values within one name,
    the only order a server reads, is the same.

    Values are returned as text; the transport decides the byte encoding (UTF-8 on the wire).
    Call :func:`check_sendable` (or :func:`check_constrained`) first.
    """
    lines = [(USER, identity.user)]
    if identity.uid is not None:
        lines.append((UID, identity.uid))
    lines.extend((GROUP, group) for group in identity.groups)
    for key, values in identity.extra.items():
        name = canonical_header_name(EXTRA_PREFIX + escape_extra_key(key))
        lines.extend((name, value) for value in values)
    return lines


# --------------------------------------------------------------------------- server side


class BadImpersonationRequest(ValueError):
    """UID, groups or extras were sent without a user name (the API server answers 400)."""

    def __init__(self, parsed: ParsedHeaders) -> None:
        self.parsed = parsed
        super().__init__(f"requested {parsed.describe()} without impersonating a user name")


@dataclass(frozen=True)
class ParsedHeaders:
    """The raw identity asked for by the headers, before any defaulting."""

    user: str
    uid: str
    groups: tuple[str, ...]
    extra: Mapping[str, tuple[str, ...]]
    has_groups: bool
    has_extra: bool

    def identity(self) -> Identity:
        return Identity(self.user, self.uid or None, self.groups, self.extra)

    @property
    def only_user(self) -> bool:
        """Only ``Impersonate-User`` was sent (what node and service-account modes need)."""
        return not self.uid and not self.has_groups and not self.has_extra

    def describe(self) -> str:
        extra = {k: list(v) for k, v in self.extra.items()}
        return (
            f"&user.DefaultInfo{{Name:{self.user!r}, UID:{self.uid!r}, "
            f"Groups:{list(self.groups)!r}, Extra:{extra!r}}}"
        )


def parse(lines: Iterable[tuple[str, str]]) -> ParsedHeaders | None:
    """Read impersonation headers from ``(name, value)`` lines in arrival order.

    Returns None when the request does not impersonate; raises :class:`BadImpersonationRequest`
    when it sends a UID, a group or an extra without a user name.
    """
    user: str | None = None
    uid: str | None = None
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    has_groups = has_extra = False
    for name, value in lines:
        lower = name.lower()
        if lower == "impersonate-user":
            if user is None:
                user = value
        elif lower == "impersonate-uid":
            if uid is None:
                uid = value
        elif lower == "impersonate-group":
            has_groups = True
            groups.append(value)
        elif lower.startswith(_EXTRA_PREFIX_LOWER):
            has_extra = True
            key = unescape_extra_key(lower[len(_EXTRA_PREFIX_LOWER) :])
            extra.setdefault(key, []).append(value)
    parsed = ParsedHeaders(
        user=user or "",
        uid=uid or "",
        groups=tuple(groups),
        extra={k: tuple(v) for k, v in extra.items()},
        has_groups=has_groups,
        has_extra=has_extra,
    )
    if not parsed.user:
        if parsed.uid or has_groups or has_extra:
            raise BadImpersonationRequest(parsed)
        return None
    return parsed


def decode(lines: Iterable[tuple[str, str]]) -> Identity | None:
    """The identity the server would read from these header lines (None: no impersonation)."""
    parsed = parse(lines)
    return parsed.identity() if parsed is not None else None
