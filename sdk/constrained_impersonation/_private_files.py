"""Files and directories that hold secrets, created private from their first byte.

Tokens, kubeconfigs, private keys and the SQLite store (which holds Secret objects) must never
be readable by other local users, not even for the moment between ``open`` and ``chmod``, and
whatever the process umask is. Every writer of such a file goes through this module:

* :func:`write_private` writes to a temporary file that ``mkstemp`` creates ``0600`` in the
  target's directory, then ``os.replace``-s it over the target: readers see the old file or the
  whole new one, and the target is never, even briefly, readable by others (an existing wider
  file is replaced, not truncated in place with its old mode).
* :func:`create_private` makes sure an (empty) file exists ``0600`` before a library such as
  SQLite opens it (SQLite gives its ``-wal``/``-shm`` files the database file's mode).
* :func:`private_dir` creates a directory ``0700``, and refuses an existing one that others can
  read, as PostgreSQL does with its data directory: chmod-ing a directory the user named (it
  could be ``/tmp``) is not ours to do.

Modes are only ever narrowed, never widened.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "create_private", "private_dir", "write_private"]

FILE_MODE = 0o600
DIR_MODE = 0o700
_OTHERS = 0o077


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and missing parents) with the leaf ``0700``; return it.

    An existing directory is accepted only if group and others have no access to it; otherwise
    ``PermissionError`` names it and its mode, so that secrets are never put where others read.
    """
    directory = Path(path)
    try:
        if not directory.parent.is_dir():  # parents hold no secrets: the default mode
            directory.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(directory, DIR_MODE)  # umask can only narrow 0700
    except FileExistsError:
        info = os.stat(directory)
        if not stat.S_ISDIR(info.st_mode):
            raise NotADirectoryError(f"{str(directory)!r} exists and is not a directory") from None
        if info.st_mode & _OTHERS:
            raise PermissionError(
                f"directory {str(directory)!r} has mode {stat.S_IMODE(info.st_mode):04o}: other "
                f"users could read the secrets kept there; `chmod 700` it or name a new directory"
            ) from None
    else:
        # A umask such as 0o277 would leave even the owner without write access.
        os.chmod(directory, DIR_MODE)
    return directory


def write_private(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Atomically replace ``path`` with ``data`` in a file that is ``0600`` from its creation."""
    target = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    # mkstemp: O_CREAT | O_EXCL, mode 0600 (umask can only narrow it), never follows a link.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), FILE_MODE)  # exactly 0600 whatever the umask narrowed
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def create_private(path: str | os.PathLike[str]) -> Path:
    """Make sure ``path`` exists as a regular file with no access for group and others.

    A missing file is created empty and ``0600``; an existing one is narrowed to ``0600`` if it
    was wider (from an older version), never widened.
    """
    target = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, FILE_MODE)
    except FileExistsError:
        info = os.lstat(target)
        if not stat.S_ISREG(info.st_mode):
            raise PermissionError(f"{str(target)!r} exists and is not a regular file") from None
        if info.st_mode & _OTHERS:
            os.chmod(target, FILE_MODE)
        return target
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return target
