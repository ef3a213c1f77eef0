"""Constrained impersonation (KEP-5284) for the official Kubernetes Python client.

Sessions impersonate a node, a service account or a user, declare the requests they will
make, and refuse anything else before it is sent::

    import constrained_impersonation as ci
    from kubernetes import client

    scope = ci.Scope(ci.Rule(verbs=["list", "watch"], resources=["pods"]))
    with ci.NodeSession.from_downward_api(scope) as session:
        pods = client.CoreV1Api(session.api_client).list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={session.node}"
        )

Session classes, :func:`session_from_kubeconfig`, :class:`Settings` and
:func:`explain_forbidden` are imported on first use, so ``import constrained_impersonation``
does not pay for importing ``kubernetes`` (about 250 ms).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    ConfigurationError,
    ImpersonationDenied,
    ImpersonationError,
    InvalidIdentityError,
    OutOfScopeError,
)
from .identity import Identity
from .scope import NonResourceRule, Rule, Scope

if TYPE_CHECKING:
    from . import aio as aio
    from .denied import explain_forbidden
    from .kubeconfig import session_from_kubeconfig
    from .retry import RetryPolicy
    from .session import (
        ArbitraryNodeSession,
        NodeSession,
        ServiceAccountSession,
        Session,
        UserSession,
    )
    from .settings import Settings
    from .telemetry import Telemetry

__all__ = [
    "ArbitraryNodeSession",
    "ConfigurationError",
    "Identity",
    "ImpersonationDenied",
    "ImpersonationError",
    "InvalidIdentityError",
    "NodeSession",
    "NonResourceRule",
    "OutOfScopeError",
    "RetryPolicy",
    "Rule",
    "Scope",
    "ServiceAccountSession",
    "Session",
    "Settings",
    "Telemetry",
    "UserSession",
    "explain_forbidden",
    "session_from_kubeconfig",
]

from ._version import __version__ as __version__

_LAZY = {
    "ArbitraryNodeSession": "session",
    "NodeSession": "session",
    "ServiceAccountSession": "session",
    "Session": "session",
    "UserSession": "session",
    "session_from_kubeconfig": "kubeconfig",
    "explain_forbidden": "denied",
    "RetryPolicy": "retry",
    "Settings": "settings",
    "Telemetry": "telemetry",
}
_SUBMODULES = frozenset({"aio", "rbac", "testing", "cli"})


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)
