"""RBAC tools for constrained impersonation: render, preflight, explain, scan, migrate.

>>> import constrained_impersonation as ci
>>> from constrained_impersonation import rbac
>>> manifests = rbac.render(ci.Scope(ci.Rule(["list", "watch"], "pods")),
...                         "associated-node", "node-agents/node-agent")
>>> [m["kind"] for m in manifests]
['ClusterRole', 'ClusterRoleBinding']

Names are loaded on first use, so ``render`` does not pay for the RBAC matcher, the embedded
server's modules or the Kubernetes client. The functions share their names with the modules
that define them (``rbac.render`` is the function, ``rbac.render`` the module too): importing a
submodule would normally replace the package attribute with the module, so the package
refuses that replacement and the public names always stay the functions.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .explain import Explanation, explain, explain_text
    from .migrate import MigrationPlan, migrate
    from .objects import RbacSet
    from .policy import Check, Grant, Subject
    from .preflight import MissingGrants, Report, preflight, required_checks
    from .render import render
    from .scan import Finding, scan

__all__ = [
    "Check",
    "Explanation",
    "Finding",
    "Grant",
    "MigrationPlan",
    "MissingGrants",
    "RbacSet",
    "Report",
    "Subject",
    "explain",
    "explain_text",
    "migrate",
    "preflight",
    "render",
    "required_checks",
    "scan",
]

_HOME = {
    "Check": "policy",
    "Grant": "policy",
    "Subject": "policy",
    "render": "render",
    "preflight": "preflight",
    "Report": "preflight",
    "MissingGrants": "preflight",
    "required_checks": "preflight",
    "explain": "explain",
    "explain_text": "explain",
    "Explanation": "explain",
    "scan": "scan",
    "Finding": "scan",
    "RbacSet": "objects",
    "migrate": "migrate",
    "MigrationPlan": "migrate",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """Keeps ``rbac.render`` (and the others) the function when ``rbac/render.py`` is
    imported: the import system's ``setattr(package, "render", module)`` is ignored for the
    public names, which :func:`__getattr__` then resolves to the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _HOME and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
