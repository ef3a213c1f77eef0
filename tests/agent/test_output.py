"""The inventory file: complete on every read, 0644 whatever the umask, never world-writable."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from node_agent.inventory import Inventory
from node_agent.metrics import Metrics
from node_agent.output import FileWriter, check_writable, write_atomic


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_atomic_write_sets_0644_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "pods.json"
    old = os.umask(umask)
    try:
        write_atomic(target, b'{"pods":[]}')
        write_atomic(target, b'{"pods":[1]}')
    finally:
        os.umask(old)
    assert target.read_bytes() == b'{"pods":[1]}'
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["pods.json"], "no temporary file left"


def test_a_failed_replace_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "pods.json"
    target.mkdir()  # rename over a directory fails after the data was written
    with pytest.raises(OSError):
        write_atomic(target, b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["pods.json"]


def test_check_writable_creates_the_directory_and_closes_group_world_write(
    tmp_path: Path,
) -> None:
    target = tmp_path / "run" / "cimp" / "pods.json"
    assert check_writable(target) is None
    assert stat.S_IMODE(target.parent.stat().st_mode) & 0o022 == 0
    target.parent.chmod(0o777)
    assert check_writable(target) is None
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o755
    (tmp_path / "dir.json").mkdir()
    assert "is a directory" in (check_writable(tmp_path / "dir.json") or "")


def test_writer_publishes_only_after_the_first_list_and_flushes_on_stop(tmp_path: Path) -> None:
    inventory = Inventory("node-a")
    metrics = Metrics(pods_known=lambda: 0.0, ready=lambda: 0.0)
    target = tmp_path / "pods.json"
    writer = FileWriter(inventory, target, metrics)
    assert writer.flush() is False and not target.exists(), "never an unlisted empty file"
    inventory.replace([{"metadata": {"name": "a", "namespace": "ns"}}], "3")
    inventory.apply("ADDED", {"metadata": {"name": "b", "namespace": "ns", "resourceVersion": "4"}})
    writer.stop()  # never started: stop still writes the final state
    document = json.loads(target.read_text())
    assert document["resourceVersion"] == "4"
    assert [p["name"] for p in document["pods"]] == ["a", "b"]
    assert metrics.file_writes.value() == 1
