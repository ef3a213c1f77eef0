"""Errors a user can act on. Every one names the offending value and what to do about it.

Hierarchy::

    ImpersonationError
    ├── InvalidIdentityError   the identity cannot be sent as asked (nothing was sent)
    ├── OutOfScopeError        outside the session's declared scope (nothing was sent)
    ├── ImpersonationDenied    the API server refused the impersonation itself (403)
    └── ConfigurationError     settings, kubeconfig or environment are unusable
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ConfigurationError",
    "ImpersonationDenied",
    "ImpersonationError",
    "InvalidIdentityError",
    "OutOfScopeError",
]


class ImpersonationError(Exception):
    """Base of every error raised by this package."""


class InvalidIdentityError(ImpersonationError, ValueError):
    """An identity value that would be rejected, mangled or silently widened by the server.

    ``field`` is one of ``user``, ``uid``, ``groups``, ``extra``, ``node``, ``namespace`` ...;
    ``value`` the offending value; ``reason`` what is wrong and what to do.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {field} {value!r}: {reason}")


class OutOfScopeError(ImpersonationError, PermissionError):
    """A request the session did not declare; refused locally before anything was sent.

    ``reason`` is set when the URL itself was refused (a dot segment, ``//``, a character the
    HTTP library would rewrite ...): ``path`` is then the offending request target and no
    Rule can allow it.
    """

    def __init__(
        self,
        *,
        verb: str,
        resource: str,
        namespace: str = "",
        name: str = "",
        group: str = "",
        path: str = "",
        scope: object = None,
        reason: str = "",
    ) -> None:
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.group = group
        self.path = path
        self.scope = scope
        self.reason = reason
        if reason:
            super().__init__(
                f"refused before sending: {verb.upper()} {path!r}: {reason}; a session sends "
                "only URLs that reach the server exactly as its scope read them"
            )
            return
        if resource:
            what = resource if not group else f"{resource}.{group}"
            where = f" in namespace {namespace!r}" if namespace else " at cluster scope"
            named = f" named {name!r}" if name else ""
            target = f"{verb} {what}{named}{where}"
        else:
            target = f"{verb} path {path!r}"
        super().__init__(
            f"refused before sending: {target} is outside the session scope {scope}; "
            "declare it with a Rule in the session's Scope if the session really needs it"
        )


class ImpersonationDenied(ImpersonationError, PermissionError):
    """The API server refused to let the requestor impersonate (not a downstream 403).

    ``mode`` is the impersonation mode of the failed check (``associated-node``,
    ``arbitrary-node``, ``serviceaccount``, ``user-info`` or ``legacy``), ``verb`` the verb the
    requestor lacked (``impersonate-on:user-info:list``, ``impersonate:user-info`` ...),
    ``requestor`` the user the server named, ``rule`` a dict RBAC rule that would grant it (None
    when no grant can: the server refuses that identity in constrained modes), ``role_kind``
    ``"Role"`` when a Role in ``role_namespace`` is enough, else ``"ClusterRole"``, and
    ``status`` the server's Status object.
    """

    def __init__(
        self,
        message: str,
        *,
        mode: str,
        verb: str,
        requestor: str,
        resource: str,
        api_group: str,
        namespace: str,
        name: str,
        rule: Mapping[str, Any] | None,
        status: Mapping[str, Any],
        role_kind: str = "ClusterRole",
        role_namespace: str = "",
    ) -> None:
        self.mode = mode
        self.verb = verb
        self.requestor = requestor
        self.resource = resource
        self.api_group = api_group
        self.namespace = namespace
        self.name = name
        self.rule = dict(rule) if rule is not None else None
        self.status = dict(status)
        self.role_kind = role_kind
        self.role_namespace = role_namespace
        super().__init__(message)


class ConfigurationError(ImpersonationError, ValueError):
    """Settings, kubeconfig or environment that cannot work; the message is one line."""
