"""Files that hold secrets are private from their first byte, whatever the umask.

The embedded server keeps Secret objects (SQLite), private keys (PKI) and bearer tokens
(users.json, kubeconfigs) on disk. Each scenario runs in a child process under ``umask 0``
(the worst case: every mode asked for is the mode granted) with an audit hook
(:func:`sys.addaudithook`) that watches every Python-level file operation:

* every file created under the watched directories is created by
  ``constrained_impersonation._private_files`` (whose primitives ask for 0600/0700 and nothing
  wider); a ``write_text`` or plain ``open(..., "w")`` there is a violation;
* no ``mkdir`` or ``chmod`` there asks for group or other bits (nothing is widened later);
* SQLite opens a database file that already exists with mode 0600 (SQLite gives its ``-wal``
  and ``-shm`` files the database file's mode);
* at every such operation (and at the end) every file and directory under the watched
  directories is inspected: none is ever accessible by group or others.

Writes SQLite itself makes in C are not audited; they are covered by the mode it copies from the
database file and by the inspections around them.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from constrained_impersonation._private_files import create_private, private_dir, write_private

_HOOK = r"""
import json, os, stat, sys, threading, traceback

ROOTS = [os.path.abspath(p) for p in json.loads(os.environ["PRIVATE_ROOTS"])]
REPORT = os.environ["PRIVATE_REPORT"]
HELPER = "constrained_impersonation._private_files"
violations, created, samples = [], [], [0]
_busy = threading.local()


def _watched(path):
    if not isinstance(path, (str, bytes, os.PathLike)):
        return None
    path = os.path.abspath(os.fsdecode(path))
    return path if any(path == r or path.startswith(r + os.sep) for r in ROOTS) else None


def _via_helper():
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__") == HELPER:
            return True
        frame = frame.f_back
    return False


def _inspect(why):
    samples[0] += 1
    for root in ROOTS:
        for top, dirs, files in os.walk(root):
            for name in dirs + files:
                path = os.path.join(top, name)
                try:
                    mode = stat.S_IMODE(os.lstat(path).st_mode)
                except FileNotFoundError:
                    continue
                if mode & 0o077:
                    violations.append(f"{path} was {mode:04o} at {why}")


def hook(event, args):
    if getattr(_busy, "on", False):
        return
    _busy.on = True
    try:
        if event == "open":
            path, mode, flags = args
            where = _watched(path)
            if where is None:
                return
            creates = (flags & os.O_CREAT) if mode is None else any(c in mode for c in "wax+")
            if creates:
                created.append(where)
                if not _via_helper():
                    stack = "".join(traceback.format_stack(limit=6)[:-1])
                    violations.append(f"{where} opened for writing outside the helper:\n{stack}")
            _inspect(f"open {where}")
        elif event == "os.mkdir":
            path, mode, _ = args
            where = _watched(path)
            if where is not None and mode & 0o077:
                violations.append(f"mkdir {where} asked for mode {mode:04o}")
        elif event == "os.chmod":
            path, mode, _ = args
            where = _watched(path) if not isinstance(path, int) else "fd"
            if where is not None and mode & 0o077:
                violations.append(f"chmod {where} to {mode:04o}")
        elif event == "os.rename":
            src, dst = _watched(args[0]), _watched(args[1])
            if dst is not None:
                _inspect(f"replace {dst}")
        elif event == "sqlite3.connect":
            where = _watched(args[0])
            if where is not None:
                info = os.stat(where) if os.path.exists(where) else None
                if info is None or stat.S_IMODE(info.st_mode) != 0o600:
                    violations.append(f"SQLite opened {where} not first created 0600")
                _inspect(f"sqlite connect {where}")
    finally:
        _busy.on = False


def report():
    _busy.on = True
    _inspect("exit")
    with open(REPORT, "w") as f:
        json.dump({"violations": violations, "created": created, "samples": samples[0]}, f)


os.umask(0)
sys.addaudithook(hook)
"""

_EMBEDDED = r"""
from pathlib import Path
from constrained_impersonation.testing import APIServer

data, out = Path(sys.argv[1]), Path(sys.argv[2])
try:
    server = APIServer(data_dir=data)
    with server:
        token = server.add_user("alice", groups=["dev"])
        server.kubeconfig(token, path=out / "alice.kubeconfig")
        server.kubeconfig()
        server.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {pw: hunter2}")
        server.restart()  # reopens the store and reloads PKI and users
        server.add_user("bob")
        server.kubeconfig(token, path=out / "alice.kubeconfig")  # replaces, never widens
finally:
    report()
"""

_CLI = r"""
from constrained_impersonation._cli import main
try:
    code = main(sys.argv[1:])
finally:
    report()
sys.exit(code)
"""


def _child(script: str, args: list[str], roots: list[Path], report: Path) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PRIVATE_ROOTS"] = json.dumps([str(r) for r in roots])
    env["PRIVATE_REPORT"] = str(report)
    return subprocess.Popen(
        [sys.executable, "-c", _HOOK + script, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _modes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in sorted(root.rglob("*"))
    }


def _assert_clean(report: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(report.read_text())
    assert result["violations"] == [], "\n".join(result["violations"])
    return result


def test_embedded_server_creates_every_secret_file_private_under_umask_0(tmp_path: Path) -> None:
    data, out, report = tmp_path / "data", tmp_path / "out", tmp_path / "report.json"
    out.mkdir()
    child = _child(_EMBEDDED, [str(data), str(out)], [data, out], report)
    _, stderr = child.communicate(timeout=90)
    assert child.returncode == 0, stderr
    result = _assert_clean(report)

    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    modes = _modes(data)
    for name in (
        "users.json",
        "store.sqlite3",
        "pki/ca.pem",
        "pki/key.pem",
        "pki/sa.pem",
        "pki/serving.key",
        "cimp-admin.kubeconfig",
    ):
        assert name in modes, sorted(modes)
    assert {name: mode for name, mode in modes.items() if mode not in (0o600, 0o700)} == {}
    assert modes["pki"] == 0o700
    assert _modes(out) == {"alice.kubeconfig": 0o600}
    # The hook did see the writes happen (and inspected the tree around each of them).
    assert str(data / "users.json") not in result["created"]  # temp file, then replaced
    assert any(".users.json." in p for p in result["created"])
    assert result["samples"] > 10


def test_cimp_apiserver_data_dir_and_kubeconfig_out_are_private_under_umask_0(
    tmp_path: Path,
) -> None:
    data, out, report = tmp_path / "data", tmp_path / "out", tmp_path / "report.json"
    out.mkdir()
    kubeconfig = out / "admin.kubeconfig"
    args = ["apiserver", "--listen", "127.0.0.1:0", "--data-dir", str(data)]
    args += ["--kubeconfig-out", str(kubeconfig)]
    child = _child(_CLI, args, [data, out], report)
    try:
        assert child.stdout is not None
        ready = child.stdout.readline()
        assert ready.startswith("serving on https://"), ready
        # A Secret written through the API lands in SQLite (and its WAL).
        import yaml
        from kubernetes import client, config

        api = config.new_client_from_config(str(kubeconfig))
        with api:
            client.CoreV1Api(api).create_namespaced_secret(
                "default",
                client.V1Secret(metadata=client.V1ObjectMeta(name="db"), string_data={"pw": "x"}),
            )
        assert yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
        running = _modes(data)  # SQLite removes its -wal and -shm files on a clean close
    finally:
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    _assert_clean(report)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    wal = {"store.sqlite3", "store.sqlite3-wal", "store.sqlite3-shm", "users.json", "pki/sa.pem"}
    assert wal <= set(running)
    for modes in (running, _modes(data)):
        assert {name: mode for name, mode in modes.items() if mode not in (0o600, 0o700)} == {}
    assert _modes(out) == {"admin.kubeconfig": 0o600}


def test_cimp_apiserver_refuses_a_data_dir_others_can_read(tmp_path: Path) -> None:
    data = tmp_path / "shared"
    data.mkdir()
    data.chmod(0o755)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "constrained_impersonation.cli",
            "apiserver",
            "--data-dir",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert f"--data-dir: directory {str(data)!r} has mode 0755" in proc.stderr
    assert list(data.iterdir()) == []  # nothing was written there
    assert stat.S_IMODE(data.stat().st_mode) == 0o755  # and its mode is not ours to change


def test_write_private_replaces_a_wider_file_instead_of_truncating_it(tmp_path: Path) -> None:
    target = tmp_path / "token"
    target.write_text("old")
    target.chmod(0o644)
    before = target.stat().st_ino
    old = os.umask(0)
    try:
        write_private(target, "secret")
    finally:
        os.umask(old)
    assert target.read_text() == "secret"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.stat().st_ino != before  # a new inode: the wide one never held the secret
    assert [p.name for p in tmp_path.iterdir()] == ["token"]  # no temp file left behind


def test_write_private_leaves_no_temp_file_when_it_fails(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError):
        write_private(tmp_path / "dir", b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["dir"]


def test_private_dir_creates_0700_and_refuses_a_readable_one(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        made = private_dir(tmp_path / "a" / "b")
    finally:
        os.umask(old)
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert private_dir(made) == made  # an existing private directory is fine
    made.chmod(0o750)
    with pytest.raises(PermissionError, match=r"has mode 0750"):
        private_dir(made)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        private_dir(tmp_path / "file")


def test_create_private_makes_0600_and_narrows_never_widens(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        fresh = create_private(tmp_path / "db")
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    wide = tmp_path / "old.db"
    wide.write_text("data")
    wide.chmod(0o644)
    create_private(wide)
    assert (stat.S_IMODE(wide.stat().st_mode), wide.read_text()) == (0o600, "data")
    narrow = tmp_path / "narrow.db"
    narrow.write_text("")
    narrow.chmod(0o400)
    create_private(narrow)
    assert stat.S_IMODE(narrow.stat().st_mode) == 0o400
    (tmp_path / "link").symlink_to(wide)
    with pytest.raises(PermissionError, match="not a regular file"):
        create_private(tmp_path / "link")
