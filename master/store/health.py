"""Whether the store can take writes, watched cheaply while the master runs.

Two things make a store stop taking writes without its process noticing:

- its disk fills up: SQLite (or PostgreSQL) refuses every write until space returns; the store keeps
  trying, so writes resume by themselves, and the state says "full" in between;
- its SQLite file is deleted or replaced underneath it: the open connections keep writing into the old,
  unlinked file, and everything acknowledged from then on is lost at the next restart. The file's
  identity (device and inode) is compared with the one opened at most once a second before a write, and
  always before a report is acknowledged; once it differs the store refuses writes until the master is
  restarted on a restored store.

Each change of state is logged once, at error level when writes stop; ``problem`` is the one line the
dashboard and clients are shown (it names no server-side path).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from master.store.errors import StoreUnavailable

log = logging.getLogger(__name__)

#: How often (seconds) a write looks at the file's identity; a report's acknowledgement always does.
IDENTITY_CHECK_SECONDS = 1.0
#: Free bytes an SQLite store's disk needs before a full store counts as taking writes again: a write
#: that squeezes into the last free pages does not end the alarm (it would flap with every write)
RECOVERED_FREE_BYTES = 1024 * 1024

WRITABLE, FULL, GONE = "writable", "full", "gone"

_PROBLEMS = {
    FULL: "the master's store is full",
    GONE: "the master's store file was deleted or replaced",
}


class WriteHealth:
    """The store's write state: writable, full (until a write succeeds again) or gone (for good)."""

    def __init__(self, where: str, path: Path | None, *, clock: Callable[[], float] = time.monotonic,
                 recovered_free: int = RECOVERED_FREE_BYTES) -> None:
        self._where = where
        self._path = path
        self._recovered_free = recovered_free
        self._clock = clock
        self._lock = threading.Lock()
        self._state = WRITABLE
        self._identity = _identity(path) if path is not None else None  # the file as opened
        self._checked_at = clock()

    @property
    def state(self) -> str:
        return self._state

    @property
    def writable(self) -> bool:
        return self._state == WRITABLE

    @property
    def problem(self) -> str | None:
        """One line for people who cannot see the master's disk (dashboard viewers, agents); None when
        the store takes writes. Looking also checks the file (at most once a second), so that a scrape
        or a dashboard view notices a deleted store even while nothing writes."""
        try:
            self.check_file()
        except StoreUnavailable:
            pass
        state = self._state
        if state == FULL:
            return f"{_PROBLEMS[FULL]}: reports are refused (agents keep them) until space is freed"
        if state == GONE:
            return f"{_PROBLEMS[GONE]}: reports are refused (agents keep them) until it is restored " \
                   "and the master restarted"
        return None

    def unavailable(self, state: str | None = None) -> StoreUnavailable:
        """The error a refused write raises (client-safe text)."""
        state = state or self._state
        return StoreUnavailable(state, _PROBLEMS[state])

    # -- the file's identity ------------------------------------------------------------------------------

    def check_file(self, *, force: bool = False) -> None:
        """Raise StoreUnavailable when the store's file is no longer the one opened (checked at most once
        per IDENTITY_CHECK_SECONDS unless ``force``)."""
        if self._state == GONE:
            raise self.unavailable(GONE)
        if self._path is None:
            return
        now = self._clock()
        if not force and now - self._checked_at < IDENTITY_CHECK_SECONDS:
            return
        self._checked_at = now
        try:
            found = _identity(self._path)
        except OSError as exc:  # unreadable for a moment (a stale handle...): not evidence of a new file
            log.warning("store %s: cannot check its file: %s", self._where, exc.strerror or exc)
            return
        if found == self._identity:
            return
        how = "deleted" if found is None else "replaced by another file"
        with self._lock:
            if self._state == GONE:
                raise self.unavailable(GONE)
            self._state = GONE
        log.error("store %s was %s while the master was using it; refusing writes (reports are refused as "
                  "unavailable, agents keep them): stop the master, put the store back (`bunraku store restore "
                  "BACKUP`) and start it again", self._where, how)
        raise self.unavailable(GONE)

    # -- outcomes of writes -------------------------------------------------------------------------------

    def write_failed_full(self) -> StoreUnavailable:
        """A write failed because the disk is full: note it (logged once) and return the error to raise."""
        with self._lock:
            changed = self._state == WRITABLE
            if changed:
                self._state = FULL
        if changed:
            log.error("store %s is full: writes fail (catalogs are still served; reports are refused as "
                      "unavailable and agents keep them); free space on its disk and writes resume by "
                      "themselves", self._where)
        return self.unavailable(FULL) if self._state == FULL else self.unavailable()

    def write_succeeded(self) -> None:
        if self._state != FULL or not self._room_again():
            return
        with self._lock:
            changed = self._state == FULL
            if changed:
                self._state = WRITABLE
        if changed:
            log.warning("store %s takes writes again", self._where)


    def _room_again(self) -> bool:
        """Whether the full store's disk has room again (PostgreSQL's disk is not ours to look at)."""
        if self._path is None:
            return True
        try:
            return shutil.disk_usage(self._path.parent).free >= self._recovered_free
        except OSError:
            return True


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino
