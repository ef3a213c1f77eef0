"""Every failure of `cimp apiserver` and `APIServer` leaves the temporary directory as it found it.

Each case runs with its own empty TMPDIR, so whatever a failure leaves behind is counted,
whatever else runs on the machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from constrained_impersonation.testing import APIServer


@pytest.fixture
def tmpdir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    yield scratch


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _cimp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "constrained_impersonation.cli", "apiserver", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--feature-gates", "Bogus=true"],
        ["--feature-gates", "ConstrainedImpersonation=maybe"],
        ["--token-auth-file", "/nonexistent/tokens.csv"],
        ["--listen", "not-a-port"],
    ],
    ids=["unknown-gate", "bad-gate-value", "missing-token-file", "bad-listen"],
)
def test_cimp_apiserver_bad_arguments_leave_nothing(tmpdir_env: Path, args: list[str]) -> None:
    result = _cimp("--listen", "127.0.0.1:0", *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert list(tmpdir_env.iterdir()) == []


def test_cimp_apiserver_on_a_busy_port_leaves_nothing(tmpdir_env: Path, busy_port: int) -> None:
    result = _cimp("--listen", f"127.0.0.1:{busy_port}")
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{busy_port}" in result.stderr
    assert list(tmpdir_env.iterdir()) == []


def test_apiserver_bad_gate_leaves_nothing(tmpdir_env: Path) -> None:
    with pytest.raises(ValueError, match="unrecognized feature gate: Bogus"):
        APIServer(feature_gates="Bogus=true")
    assert list(tmpdir_env.iterdir()) == []


def test_apiserver_busy_port_leaves_nothing(tmpdir_env: Path, busy_port: int) -> None:
    with pytest.raises(OSError), APIServer(port=busy_port):
        pytest.fail("started on a busy port")
    assert list(tmpdir_env.iterdir()) == []


def test_apiserver_closed_after_use_leaves_nothing(tmpdir_env: Path) -> None:
    with APIServer() as server:
        server.kubeconfig(server.add_user("alice"))
    assert list(tmpdir_env.iterdir()) == []
