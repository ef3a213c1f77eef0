"""The README's Python examples run as written (each in a fresh interpreter, from the repo root).

With ``--apiserver=kube`` the examples that start ``APIServer`` run against a real
kube-apiserver instead: the same code with the class name swapped for ``KubeAPIServer``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("code", BLOCKS, ids=[f"example-{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code: str, apiserver_class: Callable[..., Any]) -> None:
    # Only the server class differs between backends; an example that names KubeAPIServer
    # already runs the real one, and needs its binaries whatever the backend.
    if "KubeAPIServer" in code:
        from constrained_impersonation.testing import KubeBinariesNotFound
        from constrained_impersonation.testing._assets import find_assets

        try:
            find_assets()
        except KubeBinariesNotFound as exc:
            pytest.skip(str(exc))
    code = re.sub(r"\bAPIServer\b", getattr(apiserver_class, "__name__", "APIServer"), code)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
