"""Where the real kube-apiserver, etcd and kubectl binaries come from.

The project builds them from pinned Go modules (``make kube`` → ``.tools/kube/<version>/``);
a user who already has envtest's binaries points ``KUBEBUILDER_ASSETS`` at them, as
controller-runtime's envtest does. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .._kube_version import KUBE_VERSION

__all__ = ["KUBE_VERSION", "KubeAssets", "KubeBinariesNotFound", "find_assets"]


_ENV_VARS = ("CIMP_KUBE_ASSETS", "KUBEBUILDER_ASSETS")


class KubeBinariesNotFound(RuntimeError):
    """The real kube-apiserver backend was asked for but its binaries are not on this machine."""


@dataclass(frozen=True)
class KubeAssets:
    """Paths of the three programs the real backend runs."""

    kube_apiserver: Path
    etcd: Path
    kubectl: Path | None

    @property
    def directory(self) -> Path:
        return self.kube_apiserver.parent


def _complete(directory: Path) -> KubeAssets | None:
    apiserver, etcd, kubectl = (directory / n for n in ("kube-apiserver", "etcd", "kubectl"))
    if not (os.access(apiserver, os.X_OK) and os.access(etcd, os.X_OK)):
        return None
    return KubeAssets(apiserver, etcd, kubectl if os.access(kubectl, os.X_OK) else None)


def _candidates(explicit: str | Path | None) -> list[tuple[str, Path]]:
    if explicit is not None:
        return [("assets=", Path(explicit))]
    found = [(f"${name}", Path(os.environ[name])) for name in _ENV_VARS if os.environ.get(name)]
    if found:
        return found
    # The project's own build output, looked up from the working directory upwards (a test
    # run, a demo or a bench started anywhere inside the checkout).
    here = Path.cwd().resolve()
    return [
        ("make kube", parent / ".tools" / "kube" / KUBE_VERSION)
        for parent in (here, *here.parents)
        if (parent / ".tools").is_dir()
    ][:1] or [("make kube", here / ".tools" / "kube" / KUBE_VERSION)]


def find_assets(explicit: str | Path | None = None) -> KubeAssets:
    """The binaries for the real backend, or ``KubeBinariesNotFound`` saying how to get them."""
    tried = _candidates(explicit)
    for _, directory in tried:
        assets = _complete(directory)
        if assets is not None:
            return assets
    where = ", ".join(f"{directory} ({origin})" for origin, directory in tried)
    raise KubeBinariesNotFound(
        f"kube-apiserver and etcd {KUBE_VERSION} not found in {where}: run `make kube` in the "
        "constrained-impersonation checkout (needs Go and the Go module proxy), or set "
        "KUBEBUILDER_ASSETS to a directory holding kube-apiserver and etcd"
    )
