"""What the deputy may do for a user: one console, as that user, with only allowed extras.

The session for a connection is built per request with a scope naming exactly the console of
one VMI in one namespace, so even a bug in the deputy cannot turn a user's connection into any
other request: the SDK refuses it before sending (``OutOfScopeError``), and the deputy's RBAC
would refuse it at the server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kubernetes.client import ApiClient

import constrained_impersonation as ci
from constrained_impersonation.identity import (
    SYSTEM_MASTERS,
    is_dns1123_label,
    is_dns1123_subdomain,
    node_name_of,
    service_account_of,
)
from constrained_impersonation.settings import Settings

from .kube import ReviewedUser

__all__ = [
    "CONSOLE_GROUP",
    "CONSOLE_RESOURCE",
    "KUBEVIRT_SUBPROTOCOL",
    "Forwarded",
    "RefusedIdentity",
    "console_path",
    "console_rule",
    "console_scope",
    "forwarded_identity",
    "open_session",
    "valid_target",
]

CONSOLE_GROUP = "subresources.kubevirt.io"
CONSOLE_RESOURCE = "virtualmachineinstances/console"
KUBEVIRT_SUBPROTOCOL = "plain.kubevirt.io"


class RefusedIdentity(Exception):
    """The deputy will not carry this identity (the user gets 403 with this message)."""


@dataclass(frozen=True)
class Forwarded:
    """The identity the deputy impersonates, and the extra keys it dropped (names only)."""

    user: str
    uid: str | None
    groups: tuple[str, ...]
    extra: dict[str, tuple[str, ...]]
    dropped_extra: tuple[str, ...]


def valid_target(namespace: str, name: str) -> bool:
    """Namespace and VMI name as kube accepts them, so nothing else can enter the path."""
    return is_dns1123_label(namespace) and is_dns1123_subdomain(name)


def console_path(namespace: str, name: str) -> str:
    return f"/apis/{CONSOLE_GROUP}/v1/namespaces/{namespace}/virtualmachineinstances/{name}/console"


def console_rule(
    namespaces: Iterable[str] | None = None, names: Iterable[str] | None = None
) -> ci.Rule:
    """``get`` on the console subresource (optionally in some namespaces / of some VMIs)."""
    return ci.Rule(
        verbs=["get"],
        resources=[CONSOLE_RESOURCE],
        group=CONSOLE_GROUP,
        namespaces=list(namespaces) if namespaces is not None else None,
        names=list(names) if names is not None else None,
    )


def console_scope(namespace: str, name: str) -> ci.Scope:
    """Exactly one request: ``get`` on this VMI's console."""
    return ci.Scope(console_rule([namespace], [name]))


def forwarded_identity(user: ReviewedUser, forward_extra: Iterable[str]) -> Forwarded:
    """The reviewed user minus extras off the allow-list; refuses identities that constrained
    user-info impersonation cannot carry, rather than silently changing who acts."""
    name = user.username
    if service_account_of(name) is not None:
        raise RefusedIdentity(
            f"cimp-deputy acts only for users, not for service account {name!r}: "
            "impersonating a service account with its groups would need legacy impersonation"
        )
    if node_name_of(name) is not None:
        raise RefusedIdentity(f"cimp-deputy acts only for users, not for node {name!r}")
    if SYSTEM_MASTERS in user.groups:
        raise RefusedIdentity(
            f"cimp-deputy cannot act for {name!r}: members of {SYSTEM_MASTERS} cannot be "
            "impersonated through constrained impersonation; use your own credentials"
        )
    allowed = set(forward_extra)
    extra = {key: values for key, values in user.extra.items() if key in allowed and values}
    dropped = tuple(sorted(key for key in user.extra if key not in extra))
    return Forwarded(name, user.uid, user.groups, extra, dropped)


def open_session(
    base: ApiClient,
    forwarded: Forwarded,
    namespace: str,
    name: str,
    *,
    settings: Settings | None = None,
) -> ci.UserSession:
    """A ``UserSession`` (mode user-info) for ``forwarded``, scoped to one console."""
    try:
        return ci.UserSession(
            base,
            user=forwarded.user,
            uid=forwarded.uid,
            groups=forwarded.groups,
            extra=forwarded.extra,
            scope=console_scope(namespace, name),
            settings=settings,
        )
    except ci.InvalidIdentityError as exc:
        raise RefusedIdentity(f"cimp-deputy cannot act for {forwarded.user!r}: {exc}") from None
