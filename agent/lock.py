"""The run lock: never two runs at once; a lock left by a dead process is taken over.

The lock is a pid file created with O_EXCL. A holder that no longer exists (or is a different program
reusing the pid — we compare the process start time recorded next to the pid) loses it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class LockHeld(Exception):
    """Another run is in progress."""

    def __init__(self, pid: int) -> None:
        super().__init__(f"a run is already in progress (pid {pid}); not starting another")
        self.pid = pid


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = _start_time(pid)
    return started is None or now is None or now == started


class RunLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.held = False

    def holder(self) -> tuple[int, str | None] | None:
        try:
            parts = self.path.read_text(encoding="utf-8").split()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        try:
            return int(parts[0]), (parts[1] if len(parts) > 1 else None)
        except (ValueError, IndexError):
            return (0, None)

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = f"{os.getpid()} {_start_time(os.getpid()) or ''}\n".encode()
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self.holder()
                if holder is not None and _alive(*holder) and holder[0] != os.getpid():
                    raise LockHeld(holder[0]) from None
                log.warning("taking over the run lock %s left by dead process %s", self.path,
                            holder[0] if holder else "?")
                try:
                    self.path.unlink()
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "wb") as fh:
                fh.write(me)
            self.held = True
            return
        holder = self.holder()
        raise LockHeld(holder[0] if holder else 0)

    def release(self) -> None:
        if self.held:
            holder = self.holder()
            if holder is not None and holder[0] == os.getpid():
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
