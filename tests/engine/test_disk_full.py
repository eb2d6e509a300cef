"""Disk full while writing a managed file: the old file stays intact, nothing half-written is left,
the failure is reported, and the next run converges once there is room."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.apply import apply_catalog

from .conftest import CatalogBuilder, failures


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "small"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_leaves_the_old_file_intact(small_fs: Path, tmp_path: Path) -> None:
    root = small_fs
    (root / "etc").mkdir()
    target = root / "etc" / "app.conf"
    target.write_text("old content\n")
    state = tmp_path / "state"
    cb = CatalogBuilder()
    ref = cb.add("File", "/etc/app.conf", ensure="file", content="x" * 200_000)
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    assert ref in failures(report)
    assert "No space left on device" in failures(report)[ref][0]
    assert report.status == "failed"
    assert target.read_text() == "old content\n"
    assert sorted(os.listdir(root / "etc")) == ["app.conf"]  # no temporary file left behind
    cb2 = CatalogBuilder()
    cb2.add("File", "/etc/app.conf", ensure="file", content="new content\n")
    report2 = apply_catalog(cb2.catalog, root=root, state_dir=state)
    assert not failures(report2)
    assert target.read_text() == "new content\n"
