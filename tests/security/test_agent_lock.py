"""The agent's run lock under contention: real processes racing for it never run together, and a holder
killed with SIGKILL frees it at once."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from agent.lock import LockHeld, RunLock
from tests.agent.test_agent_lock_spool import hold_lock

CONTENDERS = 8
TRIALS = 200


def _contend(lock_path: str, log_path: str, barrier: Any, trials: int) -> None:
    """One contender: at each trial, all start together; whoever gets the lock records enter and exit."""
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND)
    me = os.getpid()
    for trial in range(trials):
        barrier.wait()
        lock = RunLock(Path(lock_path))
        try:
            lock.acquire()
        except LockHeld:
            pass
        else:
            os.write(log, f"{trial} {me} enter\n".encode())
            time.sleep(0.002)  # inside long enough for a second holder to show
            os.write(log, f"{trial} {me} exit\n".encode())
            lock.release()
        barrier.wait()  # the trial ends when every contender has tried
    os.close(log)


def test_racing_processes_never_hold_the_run_lock_together(tmp_path: Path) -> None:
    lock_path, log_path = tmp_path / "state" / "agent_catalog_run.lock", tmp_path / "events"
    log_path.write_bytes(b"")
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: nothing inherited from the test
    barrier = ctx.Barrier(CONTENDERS)
    procs = [ctx.Process(target=_contend, args=(str(lock_path), str(log_path), barrier, TRIALS))
             for _ in range(CONTENDERS)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0] * CONTENDERS

    inside: set[str] = set()
    overlaps: set[str] = set()
    entered: set[str] = set()
    for line in log_path.read_text().splitlines():
        trial, pid, event = line.split()
        if event == "enter":
            if inside:
                overlaps.add(trial)
            inside.add(pid)
            entered.add(trial)
        else:
            inside.discard(pid)
    assert not overlaps, f"two runs at once in {len(overlaps)} of {TRIALS} trials"
    assert len(entered) == TRIALS  # and in every trial someone ran


def test_a_holder_killed_with_sigkill_frees_the_lock_at_once(tmp_path: Path) -> None:
    path = tmp_path / "agent_catalog_run.lock"
    holder = hold_lock(path)
    with pytest.raises(LockHeld, match=f"a run is already in progress \\(pid {holder.pid}\\)"):
        RunLock(path).acquire()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with RunLock(path) as lock:  # no stale lock to judge or wait out
        assert lock.held and lock.holder() == os.getpid()
