"""Temp files of atomic writes: recognisable by name (``.NAME.PID.XXXXXXXX.bunraku``), and the ones a
killed run left behind are removed by the next write of the same target, never the ones of a writer
that is still running or of another target."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.fsutil import atomic_write, temp_name

from .conftest import CatalogBuilder

REPO = Path(__file__).resolve().parents[2]
BIG = 128 * 1024 * 1024  # big enough that writing and syncing it takes a visible while


def _temps(directory: Path, name: str) -> list[Path]:
    """Temp files of target ``name``, whatever the rest of their name."""
    pattern = re.compile(rf"\.{re.escape(name)}\..+\.bunraku")
    return [p for p in directory.iterdir() if pattern.fullmatch(p.name)]


def _apply(manifest: Path, root: Path, state: Path) -> list[str]:
    return [sys.executable, str(REPO / "bunraku.py"), "apply", str(manifest), "--root", str(root),
            "--state-dir", str(state)]


def test_run_killed_mid_write_leaves_a_temp_file_the_next_run_removes(root: Path, state: Path,
                                                                      tmp_path: Path) -> None:
    source = root / "big.src"  # a local source under --root is the image's file
    with open(source, "wb") as fh:
        block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB
        for _ in range(BIG // len(block)):
            fh.write(block)
    manifest = tmp_path / "site.pp"
    manifest.write_text("file { '/srv': ensure => directory }\n"
                        "file { '/srv/data': ensure => directory }\n"
                        "file { '/srv/data/big': source => '/big.src' }\n")
    data = root / "srv/data"

    proc = subprocess.Popen(_apply(manifest, root, state), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=REPO)
    seen: list[Path] = []
    while proc.poll() is None:
        seen = _temps(data, "big") if data.is_dir() else []
        if seen:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.001)
    assert proc.wait(timeout=60) == -signal.SIGKILL, "the run finished before its temp file was seen"
    # Killed between creating the temp file and renaming it over the target: mid-write.
    assert seen and _temps(data, "big") == seen and not (data / "big").exists()

    second = subprocess.run(_apply(manifest, root, state), capture_output=True, text=True, cwd=REPO, timeout=120)
    assert second.returncode == 0, second.stderr
    assert _temps(data, "big") == []
    assert sorted(p.name for p in data.iterdir()) == ["big"]
    assert (data / "big").stat().st_size == BIG
    assert hashlib.sha256((data / "big").read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()
    assert re.fullmatch(rf"\.big\.{proc.pid}\.[0-9a-f]{{8}}\.bunraku", seen[0].name)  # names its writer


def test_only_stale_temp_files_of_the_same_target_are_removed(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    target = tmp_path / "conf"
    stale = tmp_path / f".conf.{gone.pid}.0123abcd.bunraku"
    live = Path(temp_name(str(target)))  # this process: a write in progress
    other = tmp_path / f".conf.d.{gone.pid}.0123abcd.bunraku"  # another target's ('conf.d')
    lookalike = tmp_path / ".conf.backup"
    for path in (stale, live, other, lookalike):
        path.write_text("partial")
    atomic_write(str(target), b"new\n")
    assert target.read_text() == "new\n"
    assert not stale.exists()
    assert live.exists() and other.exists() and lookalike.exists()


def test_recursive_directory_never_manages_a_write_in_progress(root: Path, state: Path) -> None:
    from engine.apply import apply_catalog

    managed = root / "etc/app"
    managed.mkdir()
    (managed / "keep").write_text("x")
    in_progress = Path(temp_name(str(managed / "conf")))  # this process is writing it
    in_progress.write_text("partial")
    cb = CatalogBuilder()
    cb.add("File", "/etc/app", ensure="directory", recurse=True, purge=True)
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    assert in_progress.exists()
    assert not (managed / "keep").exists()
    assert not any(in_progress.name in ref for ref in report.resource_statuses)


def test_writing_many_files_into_one_directory_lists_it_once(tmp_path: Path, monkeypatch: object) -> None:
    """Each write looks for its target's leftovers; listing the whole directory each time made writing N
    files into one directory cost N listings of up to N entries (a first apply of 20,000 files: 86 s)."""
    import engine.fsutil as fsutil

    listings: list[object] = []
    real = os.scandir

    def counting(path: object = ".") -> object:
        listings.append(path)
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(fsutil.os, "scandir", counting)  # type: ignore[attr-defined]
    for i in range(300):
        atomic_write(str(tmp_path / f"f{i}"), b"x")
    assert len(listings) <= 2, f"{len(listings)} listings for 300 writes"
    # a leftover that appears later (a writer killed in another process) is still found: the directory
    # changed under the listing, so the next write of that target lists it again and removes the leftover
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    leftover = tmp_path / f".f7.{int(dead.stdout)}.0123abcd.bunraku"
    leftover.write_bytes(b"half")
    atomic_write(str(tmp_path / "f7"), b"y")
    assert not leftover.exists() and (tmp_path / "f7").read_bytes() == b"y"
    # a write still in progress in another process is never taken for a leftover
    live = tmp_path / f".f8.{os.getppid()}.0123abcd.bunraku"
    live.write_bytes(b"writing")
    atomic_write(str(tmp_path / "f8"), b"z")
    assert live.exists()
