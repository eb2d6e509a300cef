"""The run lock (free once its holder is gone, refused while it is held) and the report spool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.lock import LockHeld, RunLock
from agent.spool import ReportSpool

ROOT = Path(__file__).resolve().parents[2]
HOLD = ("import sys; from pathlib import Path; from agent.lock import RunLock; "
        "lock = RunLock(Path(sys.argv[1])); lock.acquire(); print('locked', flush=True); sys.stdin.read()")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def hold_lock(path: Path) -> subprocess.Popen[str]:
    """Another process holding the run lock at ``path`` until its stdin closes (or it is killed)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    return holder


def test_a_lock_file_left_by_a_dead_process_is_taken(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    path.write_text(f"{_dead_pid()} 12345\n")
    with RunLock(path) as lock:
        assert lock.holder() == os.getpid()
    assert path.exists()  # never removed: a process waiting on it would lock a file others no longer see


def test_a_live_holder_keeps_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    holder = hold_lock(path)
    try:
        with pytest.raises(LockHeld, match=f"pid {holder.pid}"):
            RunLock(path).acquire()
    finally:
        holder.kill()
        holder.wait()
    with RunLock(path):
        pass


def test_a_recorded_live_pid_without_the_lock_does_not_keep_it(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    path.write_text(f"{os.getppid()}\n")  # a live pid, but that process holds no lock
    with RunLock(path) as lock:
        assert lock.holder() == os.getpid()


def test_spooled_reports_go_out_in_order_and_stop_at_a_failure(tmp_path: Path) -> None:
    spool = ReportSpool(tmp_path / "spool")
    for i in range(3):
        spool.add(f'{{"n": {i}}}'.encode(), f"uuid-{i}")
    sent: list[bytes] = []

    def flaky(data: bytes) -> None:
        if len(sent) == 2:
            raise ConnectionError("down")
        sent.append(data)

    with pytest.raises(ConnectionError):
        spool.deliver(flaky)
    assert sent == [b'{"n": 0}', b'{"n": 1}'] and len(spool.pending()) == 1
    assert spool.deliver(sent.append) == 1 and sent[-1] == b'{"n": 2}' and spool.pending() == []
