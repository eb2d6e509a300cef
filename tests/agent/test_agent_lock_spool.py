"""The run lock (taken over from a dead pid, refused while alive) and the report spool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.lock import LockHeld, RunLock
from agent.spool import ReportSpool


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    path.write_text(f"{_dead_pid()} 12345\n")
    with RunLock(path) as lock:
        assert lock.holder()[0] == os.getpid()
    assert not path.exists()


def test_a_live_holder_keeps_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = open(f"/proc/{holder.pid}/stat").read().rsplit(")", 1)[1].split()[19]
        path.write_text(f"{holder.pid} {start}\n")
        with pytest.raises(LockHeld, match=f"pid {holder.pid}"):
            RunLock(path).acquire()
    finally:
        holder.kill()
        holder.wait()


def test_a_reused_pid_does_not_keep_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    path.write_text(f"{os.getppid()} not-its-start-time\n")  # a live pid, but another process's lock
    with RunLock(path):
        pass


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
