"""An embedded, faithful Kubernetes API server for tests: TLS, tokens, RBAC, impersonation.

>>> from constrained_impersonation.testing import APIServer
>>> with APIServer() as server:                       # doctest: +SKIP
...     token = server.add_user("alice", groups=["dev"])
...     client = server.api_client(token)               # a kubernetes.client.ApiClient

The server runs on its own event loop in a background thread, serves HTTPS on 127.0.0.1 with
a CA it generates (``.ca_file``), and behaves like kube-apiserver v1.37.2 for authentication,
legacy and constrained impersonation, RBAC and the Node authorizer, audit, and list/watch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._embedded import (
        KUBE_VERSION,
        APIServer,
        FaultProxy,
        KubeAPIServer,
        KubeAPIServerError,
        KubeBinariesNotFound,
    )

__all__ = [
    "KUBE_VERSION",
    "APIServer",
    "FaultProxy",
    "KubeAPIServer",
    "KubeAPIServerError",
    "KubeBinariesNotFound",
]


def __getattr__(name: str) -> Any:
    """The names load on first use: the package itself (and the pytest plugin registered for
    everyone who installs the SDK) imports without the ``testing`` extra; using a server
    without it raises ``TestingExtraMissing`` naming the install command."""
    if name in __all__:
        from . import _embedded

        return getattr(_embedded, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
