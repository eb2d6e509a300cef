"""The run lock: never two runs at once.

The lock is an ``flock(2)`` on the lock file, held for the whole run. The kernel drops it when the
holder's process ends in any way (``kill -9`` included), so no lock is ever left behind and nobody has
to judge whether a recorded holder still lives. The file is never removed: a process waiting on a
removed file would lock a file the next process no longer sees, and both would run.

The file also holds the holder's pid, for messages only. It is rewritten in place (a fixed-size record),
so taking the lock needs no free space in the vardir once the file exists, and none at all for the
lock itself: a full disk must not stop the runs that could free it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: Bytes of the pid record: the pid, padded with spaces, and a newline.
RECORD_SIZE = 32
#: How long a refused process waits for the new holder's pid to appear (it writes it just after locking).
PID_WAIT_SECONDS = 0.5


class LockHeld(Exception):
    """Another run is in progress."""

    def __init__(self, pid: int | None) -> None:
        holder = f"pid {pid}" if pid else "pid unknown"
        super().__init__(f"a run is already in progress ({holder}); not starting another")
        self.pid = pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> int | None:
        """The pid recorded in the lock file (only meaningful while someone holds the lock), or None."""
        try:
            text = self.path.read_bytes()[:RECORD_SIZE * 4].decode("ascii", "replace")
        except OSError:
            return None
        first = text.split()[:1]
        try:
            pid = int(first[0]) if first else 0
        except ValueError:
            return None
        return pid if pid > 0 else None

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockHeld` at once (never waits for the holder to finish)."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_CLOEXEC: a service started by this run must not inherit the lock and keep it after we exit
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeld(self._live_holder()) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._record_pid(fd)

    def _record_pid(self, fd: int) -> None:
        record = str(os.getpid()).encode().ljust(RECORD_SIZE - 1) + b"\n"
        try:
            os.pwrite(fd, record, 0)
            if os.fstat(fd).st_size > RECORD_SIZE:  # an older, longer record: shrinking needs no space
                os.ftruncate(fd, RECORD_SIZE)
        except OSError as exc:  # the lock is held all the same; only messages lose the pid
            log.info("could not record this run's pid in %s: %s", self.path, exc.strerror)

    def _live_holder(self) -> int | None:
        """The holder's pid for the message; a new holder writes it just after locking, so wait briefly
        for a pid that is alive rather than naming the previous, finished holder."""
        deadline = time.monotonic() + PID_WAIT_SECONDS
        while True:
            pid = self.holder()
            if pid is not None and pid != os.getpid() and _alive(pid):
                return pid
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
