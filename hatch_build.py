"""Build-time metadata: the ``testing`` extra pins the embedded server at the project's version.

The server is its own distribution (server/pyproject.toml) released with the SDK; deriving the
pin from the one version file means the two can never disagree.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

VERSION_FILE = Path("sdk/constrained_impersonation/_version.py")


def project_version(root: str) -> str:
    """``__version__`` from the SDK's version file under ``root``."""
    text = (Path(root) / VERSION_FILE).read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if found is None:
        raise ValueError(f"no __version__ line in {VERSION_FILE}")
    return found.group(1)


class CustomMetadataHook(MetadataHookInterface):
    """Declares ``optional-dependencies`` (listed as dynamic in pyproject.toml)."""

    def update(self, metadata: dict[str, Any]) -> None:
        version = project_version(self.root)
        metadata["optional-dependencies"] = {
            "testing": [f"constrained-impersonation-server=={version}"],
        }
