"""Build-time metadata of the server distribution: the SDK's version, and an exact pin on it.

The server depends on the SDK (identity, resolver, RBAC evaluation) and is released with it.
Built from the repository, the version is read from the SDK's version file beside this
folder; built from this distribution's sdist, from the sdist's own PKG-INFO.
"""

from __future__ import annotations

import re
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

SDK_VERSION_FILE = Path("..", "sdk", "constrained_impersonation", "_version.py")

DEPENDENCIES = [
    "aiohttp>=3.12,<4",
    "cryptography>=42",
    "PyYAML>=6",
    "cel-python>=0.5,<0.6",
]


def project_version(root: str) -> str:
    """The project's version: the SDK's version file, else this sdist's PKG-INFO."""
    source = Path(root) / SDK_VERSION_FILE
    if source.is_file():
        found = re.search(
            r'^__version__ = "([^"]+)"$', source.read_text(encoding="utf-8"), re.MULTILINE
        )
        if found is None:
            raise ValueError(f"no __version__ line in {source}")
        return found.group(1)
    pkg_info = Path(root) / "PKG-INFO"
    if pkg_info.is_file():
        version = HeaderParser().parsestr(pkg_info.read_text(encoding="utf-8"))["Version"]
        if version:
            return str(version)
    raise FileNotFoundError(f"neither {source} nor {pkg_info} gives the project's version")


class CustomMetadataHook(MetadataHookInterface):
    """Sets ``version`` and ``dependencies`` (both dynamic in server/pyproject.toml)."""

    def update(self, metadata: dict[str, Any]) -> None:
        version = project_version(self.root)
        metadata["version"] = version
        metadata["dependencies"] = [f"constrained-impersonation=={version}", *DEPENDENCIES]
