"""pytest plugin (registered through the ``pytest11`` entry point): the ``apiserver`` fixture.

Imports nothing heavy at collection time, so installing the package costs pytest runs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def apiserver() -> Iterator[object]:
    """A fresh embedded API server (constrained impersonation on), stopped after the test."""
    from . import APIServer  # type: ignore[attr-defined,unused-ignore]

    with APIServer() as server:
        yield server
