"""Who a request acts as: the impersonation target on the client, the user info on the server.

One immutable type serves both sides so that what the SDK encodes and what the embedded API
server decodes can be compared with ``==``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "ALL_AUTHENTICATED",
    "ALL_UNAUTHENTICATED",
    "ANONYMOUS",
    "DNS1123_SUBDOMAIN",
    "NODES_GROUP",
    "NODE_USER_PREFIX",
    "SERVICE_ACCOUNTS_GROUP",
    "SERVICE_ACCOUNT_USER_PREFIX",
    "SYSTEM_MASTERS",
    "Identity",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "node_name_of",
    "node_user",
    "service_account_of",
    "service_account_user",
]

NODE_USER_PREFIX = "system:node:"
SERVICE_ACCOUNT_USER_PREFIX = "system:serviceaccount:"
NODES_GROUP = "system:nodes"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
SYSTEM_MASTERS = "system:masters"

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# The pattern alone (no length limit), for callers that report the two problems apart.
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def is_dns1123_label(value: str) -> bool:
    """RFC 1123 label as Kubernetes validates it (namespaces, service-account namespaces)."""
    return len(value) <= 63 and _DNS1123_LABEL.fullmatch(value) is not None


def is_dns1123_subdomain(value: str) -> bool:
    """RFC 1123 subdomain as Kubernetes validates it (node names, most object names)."""
    return len(value) <= 253 and DNS1123_SUBDOMAIN.fullmatch(value) is not None


def node_name_of(user: str) -> str | None:
    """The node name if ``user`` is a well-formed node user (``system:node:<dns-subdomain>``)."""
    if not user.startswith(NODE_USER_PREFIX):
        return None
    name = user[len(NODE_USER_PREFIX) :]
    return name if is_dns1123_subdomain(name) else None


def service_account_of(user: str) -> tuple[str, str] | None:
    """``(namespace, name)`` if ``user`` is a well-formed service-account user name."""
    if not user.startswith(SERVICE_ACCOUNT_USER_PREFIX):
        return None
    parts = user[len(SERVICE_ACCOUNT_USER_PREFIX) :].split(":")
    if len(parts) != 2:
        return None
    namespace, name = parts
    if not is_dns1123_label(namespace) or not is_dns1123_subdomain(name):
        return None
    return namespace, name


def node_user(node: str) -> str:
    return NODE_USER_PREFIX + node


def service_account_user(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_USER_PREFIX}{namespace}:{name}"


def _freeze_extra(extra: Mapping[str, Iterable[str]] | None) -> Mapping[str, tuple[str, ...]]:
    if not extra:
        return MappingProxyType({})
    frozen: dict[str, tuple[str, ...]] = {}
    for key, values in extra.items():
        if isinstance(values, str):
            # A bare string is one value, not a sequence of characters.
            frozen[key] = (values,)
        else:
            frozen[key] = tuple(values)
    return MappingProxyType(frozen)


@dataclass(frozen=True)
class Identity:
    """A user as Kubernetes sees it: name, optional UID, groups in order, and extras.

    ``uid`` is ``None`` when absent (an empty UID header means "not sent"). Groups keep their
    order and duplicates, as the API server does. Extra values keep their order per key.
    """

    user: str
    uid: str | None = None
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if isinstance(self.groups, str):
            object.__setattr__(self, "groups", (self.groups,))
        else:
            object.__setattr__(self, "groups", tuple(self.groups))
        object.__setattr__(self, "extra", _freeze_extra(self.extra))
        if self.uid == "":
            object.__setattr__(self, "uid", None)

    def __hash__(self) -> int:
        return hash((self.user, self.uid, self.groups, tuple(sorted(self.extra.items()))))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        return (
            self.user == other.user
            and self.uid == other.uid
            and self.groups == other.groups
            and dict(self.extra) == dict(other.extra)
        )

    def __repr__(self) -> str:
        parts = [f"user={self.user!r}"]
        if self.uid is not None:
            parts.append(f"uid={self.uid!r}")
        if self.groups:
            parts.append(f"groups={list(self.groups)!r}")
        if self.extra:
            # Extra values may carry scopes or session data: show only the keys.
            parts.append(f"extra_keys={sorted(self.extra)!r}")
        return f"Identity({', '.join(parts)})"

    @property
    def node(self) -> str | None:
        """Node name when this is a well-formed node user."""
        return node_name_of(self.user)

    @property
    def service_account(self) -> tuple[str, str] | None:
        """``(namespace, name)`` when this is a well-formed service-account user."""
        return service_account_of(self.user)

    def to_user_info(self) -> dict[str, Any]:
        """The ``authentication.k8s.io/v1`` UserInfo shape (TokenReview, SelfSubjectReview)."""
        info: dict[str, Any] = {"username": self.user}
        if self.uid is not None:
            info["uid"] = self.uid
        if self.groups:
            info["groups"] = list(self.groups)
        if self.extra:
            info["extra"] = {k: list(v) for k, v in self.extra.items()}
        return info

    @classmethod
    def from_user_info(cls, info: Mapping[str, Any]) -> Identity:
        return cls(
            user=str(info.get("username") or ""),
            uid=info.get("uid") or None,
            groups=tuple(info.get("groups") or ()),
            extra={k: tuple(v or ()) for k, v in (info.get("extra") or {}).items()},
        )
