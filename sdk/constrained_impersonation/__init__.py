"""Constrained impersonation (KEP-5284) for the official Kubernetes Python client.

Sessions impersonate a node, a service account or a user, declare the requests they will
make, and refuse anything else before it is sent.
"""

from __future__ import annotations

from .errors import (
    ConfigurationError,
    ImpersonationDenied,
    ImpersonationError,
    InvalidIdentityError,
    OutOfScopeError,
)
from .identity import Identity
from .scope import NonResourceRule, Rule, Scope

__all__ = [
    "ConfigurationError",
    "Identity",
    "ImpersonationDenied",
    "ImpersonationError",
    "InvalidIdentityError",
    "NonResourceRule",
    "OutOfScopeError",
    "Rule",
    "Scope",
]

__version__ = "0.1.0"
