"""What the pinned kube-apiserver publishes, captured by ``hack/gen-resources.py``.

``kube-<version>.zip`` holds one JSON document per member (``resources.json``, ``types.json``,
``proto.json``, ``openapi/...``), each read only when first needed: serving every built-in
resource should not cost the memory of every OpenAPI document at start-up.
"""

from __future__ import annotations

import json
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

from constrained_impersonation._kube_version import KUBE_VERSION

__all__ = ["ARCHIVE", "KUBE_VERSION", "load", "names", "read"]

ARCHIVE = Path(__file__).with_name(f"kube-{KUBE_VERSION}.zip")


@cache
def names() -> frozenset[str]:
    """The members of the archive."""
    with zipfile.ZipFile(ARCHIVE) as archive:
        return frozenset(archive.namelist())


def read(name: str) -> bytes:
    """One member's bytes (``KeyError`` when there is no such member)."""
    with zipfile.ZipFile(ARCHIVE) as archive:
        return archive.read(name)


@cache
def load(name: str) -> Any:
    """One member decoded as JSON, kept for the life of the process."""
    return json.loads(read(name))
