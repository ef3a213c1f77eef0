"""The inventory file a CNI plugin reads: always complete, never world-writable.

A reader opening the path sees either the previous document or the new one, never a torn
write: the data goes to a temporary file in the same directory, is fsynced, made 0644 and
renamed over the target (rename is atomic within a file system), then the directory is
fsynced so the rename survives a node crash. A background thread writes the newest rendering
whenever the inventory changes; bursts of events coalesce into one write.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from .inventory import Inventory
from .logs import log
from .metrics import Metrics

__all__ = ["FileWriter", "check_writable", "write_atomic"]

FILE_MODE = 0o644
DIR_MODE = 0o755


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temp + fsync + rename + dir fsync)."""
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            # mkstemp creates 0600; readers on the node need 0644, and the umask must not
            # decide (never group- or world-writable).
            os.fchmod(tmp.fileno(), FILE_MODE)
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def check_writable(path: Path) -> str | None:
    """None if ``path`` can be written atomically, else a one-line reason.

    Called at start-up so a wrong ``--output`` fails the pod at once (CrashLoopBackOff with
    a clear log line) instead of serving an inventory nobody can read.
    """
    directory = path.parent
    try:
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create directory {str(directory)!r}: {exc.strerror or exc}"
    if path.exists() and path.is_dir():
        return f"{str(path)!r} is a directory"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"directory {str(directory)!r} is not writable by uid {os.getuid()}"
    info = directory.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o022:
        # In a group- or world-writable directory anyone could rename their own file over
        # the inventory; the directory is ours, so close that.
        try:
            directory.chmod(info.st_mode & 0o7755)
        except OSError as exc:
            return f"cannot restrict directory {str(directory)!r} to 0755: {exc.strerror}"
    return None


class FileWriter:
    """Writes the inventory to ``path`` after the first sync and after every change."""

    def __init__(self, inventory: Inventory, path: Path, metrics: Metrics) -> None:
        self.inventory = inventory
        self.path = path
        self.metrics = metrics
        self._written = -1
        self._last_error: tuple[str, float] = ("", 0.0)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="cimp-output", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def flush(self) -> bool:
        """Write now if the file is behind the inventory; True if the file is current."""
        with self._lock:
            if not self.inventory.synced:
                return False  # never publish an empty inventory that was never listed
            version, data, _ = self.inventory.render()
            if version == self._written:
                return True
            try:
                write_atomic(self.path, data)
            except OSError as exc:
                self.metrics.file_errors.inc()
                error, now = str(exc), time.monotonic()
                previous, logged_at = self._last_error
                if error != previous or now - logged_at > 60:
                    # Retried every second; logged when the error changes or once a minute.
                    self._last_error = (error, now)
                    log(
                        logging.ERROR,
                        "writing the inventory file failed; retrying",
                        path=str(self.path),
                        error=error,
                    )
                return False
            if self._last_error[0]:
                self._last_error = ("", 0.0)
                log(logging.INFO, "inventory file written again", path=str(self.path))
            self._written = version
            self.metrics.file_writes.inc()
            return True

    def _run(self) -> None:
        seen = self.inventory.version
        while not self._stop.is_set():
            self.flush()  # a failed write is retried on the next wake-up (at least every 1 s)
            seen = self.inventory.wait_changed(seen, timeout=1.0)

    def stop(self) -> None:
        """Stop the thread and write the final state (SIGTERM path)."""
        self._stop.set()
        self.inventory.wake()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self.flush()
