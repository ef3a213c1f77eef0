"""The testing extra: the embedded API server is its own distribution, installed on request.

``pip install constrained-impersonation`` brings the SDK only (what controllers and the node
agent's image need); ``constrained_impersonation.testing`` runs servers and needs
``pip install 'constrained-impersonation[testing]'``. Without it, importing the package fails
with that command in the message instead of a bare ``No module named ...``.
"""

from __future__ import annotations

import importlib.util

__all__ = ["INSTALL_HINT", "SERVER_MODULES", "TestingExtraMissing", "require_server"]

# What only the testing extra installs (the server distribution and its own dependencies).
SERVER_MODULES = ("cimp_apiserver", "cryptography")
INSTALL_HINT = "pip install 'constrained-impersonation[testing]'"


class TestingExtraMissing(ModuleNotFoundError):
    """``constrained_impersonation.testing`` was imported without the ``testing`` extra."""

    __test__ = False  # a name pytest would otherwise collect


def require_server() -> None:
    """Raise :class:`TestingExtraMissing` naming the missing module and the install command."""
    for module in SERVER_MODULES:
        if importlib.util.find_spec(module) is None:
            raise TestingExtraMissing(
                f"constrained_impersonation.testing needs the embedded API server, which is "
                f"not installed (no module {module!r}): {INSTALL_HINT}",
                name=module,
            )
