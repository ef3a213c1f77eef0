"""What the packages give away: the SDK without its ``testing`` extra pulls in no server code
and breaks nobody's pytest; the servers' files stay private whatever the umask.

``pip install constrained-impersonation`` installs the SDK (and its pytest11 entry point)
without the embedded server; a hidden import of the server would put an HTTP server's code
and its dependencies into every controller's image, and a plugin that cannot load without it
fails every pytest run in that environment. The harnesses write Secrets, keys and tokens.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run in a fresh interpreter where the server distribution (and what only it needs) is absent.
_HIDE_SERVER = (
    "import sys\n"
    "for name in ('cimp_apiserver', 'cryptography'):\n"
    "    sys.modules[name] = None  # import fails, find_spec answers None: not installed\n"
)


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _HIDE_SERVER + code],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_no_sdk_module_needs_the_server(tmp_path: Path) -> None:
    code = (
        "import importlib, pkgutil\n"
        "for top in ('constrained_impersonation', 'node_agent', 'deputy'):\n"
        "    package = importlib.import_module(top)\n"
        "    for info in pkgutil.walk_packages(package.__path__, top + '.'):\n"
        "        if info.name.startswith('constrained_impersonation.testing'):\n"
        "            continue  # the extra itself\n"
        "        importlib.import_module(info.name)\n"
        "leaked = sorted(m for m in sys.modules if m.startswith(('cimp_apiserver', 'cryptog')))\n"
        "assert not [m for m in leaked if sys.modules[m] is not None], leaked\n"
    )
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stderr


def test_pytest_runs_without_the_testing_extra(tmp_path: Path) -> None:
    """The SDK registers the pytest plugin for everyone who installs it; with the server
    absent the plugin must still load (its fixture then names the missing extra)."""
    (tmp_path / "test_theirs.py").write_text("def test_theirs():\n    assert True\n")
    code = (
        "import pytest\n"
        "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-p', 'no:xdist', "
        "'test_theirs.py']))\n"
    )
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout


def test_every_file_a_server_writes_is_private(
    apiserver_class: Callable[..., Any], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    old = os.umask(0)
    try:
        with apiserver_class(data_dir=data) as server:
            server.add_user("someone")
            server.kubeconfig(server.admin_token)
    finally:
        os.umask(old)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    wide = []
    for root, dirs, files in os.walk(data):
        for name in dirs + files:
            path = Path(root) / name
            mode = stat.S_IMODE(path.lstat().st_mode)
            if mode & 0o077:
                wide.append(f"{path.relative_to(data)} {oct(mode)}")
    assert not wide
