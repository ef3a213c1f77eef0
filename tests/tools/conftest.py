"""Fixtures: the three-impersonator scenario, run once per worker on the embedded server."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._scenario import build


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    """(audit log written by the server, RBAC YAML file, traffic with statuses)."""
    return build(tmp_path_factory.mktemp("scenario"))
