"""Opening the master's store safely: checked, known, and held.

A master must never start on a damaged store, nor quietly create an empty one where its store used to
be (a deleted file, an emptied database): every report acknowledged into the lost one would be gone
without a word. So the master (``open_for_master``):

- checks an SQLite file before using it (``PRAGMA quick_check``) and refuses a damaged one;
- keeps a marker in its state directory (``store-marker.json``) recording, for each store location it
  has used, the id written inside that store when it was created; a marked location that is missing,
  empty, or holds another store is refused with one line saying how to restore it or start anew
  (``bunraku store restore BACKUP``, ``bunraku store init``, or ``bunraku master --create-store``).
  A location without a mark (a fresh machine, a store from before the marker) is created or adopted;
- holds a shared lock on ``<store file>.lock`` while it runs, so ``bunraku store restore`` and ``init``
  (which take it exclusively) can tell that a master is using the file.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import URL

from master.store import backend
from master.store.api import Store
from master.store.errors import StoreError, StoreMissing

log = logging.getLogger(__name__)

MARKER_NAME = "store-marker.json"
#: Characters of a check's first complaint kept in a one-line message.
_DETAIL_CHARS = 160


# -- where the store is ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """The store a configuration names: its URL (or SQLite path), and the file behind it for SQLite."""

    url: str | None
    path: Path | None
    resolved: URL
    where: str  # how messages name it (a path, or the URL with the password hidden)
    file: Path | None  # the SQLite file; None for PostgreSQL (and in-memory SQLite)

    @property
    def key(self) -> str:
        """The location as the marker records it."""
        return str(self.file.absolute()) if self.file is not None else backend.display(self.resolved)

    @property
    def postgres(self) -> bool:
        return self.resolved.get_backend_name() == "postgresql"


def locate(url: str | None, path: Path | None) -> StoreLocation:
    resolved = backend.resolve_url(url, path)
    file = backend.sqlite_path(resolved) if resolved.get_backend_name() == "sqlite" else None
    return StoreLocation(url, path, resolved, backend.describe(url, resolved), file)


# -- the marker -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KnownStore:
    """A store this master created (or adopted) at one location."""

    store_id: str | None
    created_at: datetime | None

    @property
    def created_text(self) -> str:
        return self.created_at.strftime("%Y-%m-%d %H:%M UTC") if self.created_at else "an earlier date"


class Marker:
    """``<state dir>/store-marker.json``: {"stores": {location: {"id", "created_at"}}}."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / MARKER_NAME

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"stores": {}}
        except OSError as exc:
            raise StoreError(f"cannot read the store marker {self.path}: {exc.strerror or exc}") from None
        except ValueError:
            raise StoreError(f"the store marker {self.path} is not valid JSON; restore it, or delete it to "
                             "let the master take the store it finds as its own") from None
        if not isinstance(data, dict) or not isinstance(data.get("stores"), dict):
            raise StoreError(f"the store marker {self.path} is not a marker; restore it, or delete it to let "
                             "the master take the store it finds as its own")
        return data

    def get(self, location: StoreLocation) -> KnownStore | None:
        entry = self._load()["stores"].get(location.key)
        if not isinstance(entry, dict):
            return None
        created = entry.get("created_at")
        try:
            when = datetime.fromisoformat(created) if isinstance(created, str) else None
        except ValueError:
            when = None
        store_id = entry.get("id")
        return KnownStore(store_id if isinstance(store_id, str) else None, when)

    def record(self, location: StoreLocation, known: KnownStore) -> None:
        data = self._load()
        data["stores"][location.key] = {
            "id": known.store_id,
            "created_at": known.created_at.isoformat() if known.created_at else None,
            "recorded_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write the store marker {self.path}: {exc.strerror or exc}") from None


# -- the lock a running master holds --------------------------------------------------------------------------


class StoreLock:
    """``flock`` on ``<store file>.lock``: shared by running masters, exclusive for restore and init.
    Released when closed, or when the process ends however it ends."""

    def __init__(self, file: Path, *, exclusive: bool) -> None:
        self.path = file.with_name(file.name + ".lock")
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot open the store lock {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(self._fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise
        except OSError as exc:
            os.close(self._fd)
            self._fd = None
            raise StoreError(f"cannot lock {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# -- looking inside an SQLite file ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileCheck:
    """What a check of an SQLite file found."""

    ok: bool
    detail: str  # "ok", or the first complaint (one line)
    schema_version: int = 0
    store_id: str | None = None
    created_at: datetime | None = None
    reports: int | None = None


def connect_file(file: Path, mode: str) -> sqlite3.Connection:
    """A plain sqlite3 connection to an existing file (``mode``: ro or rw; never creates it)."""
    conn = sqlite3.connect(f"file:{quote(str(file))}?mode={mode}", uri=True,
                           timeout=backend.SQLITE_BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {backend.SQLITE_BUSY_TIMEOUT_MS}")
    return conn


def check_sqlite_file(file: Path, *, thorough: bool = False, mode: str = "rw") -> FileCheck:
    """``quick_check`` (or ``integrity_check`` when ``thorough``) of an existing SQLite file, plus what it
    holds: schema version, store id and creation time, number of reports."""
    try:
        conn = connect_file(file, mode)
    except sqlite3.Error as exc:
        return FileCheck(False, _one_line(str(exc)))
    try:
        rows = conn.execute("PRAGMA integrity_check" if thorough else "PRAGMA quick_check").fetchall()
        complaints = [str(row[0]) for row in rows if row and row[0] != "ok"]
        if complaints:
            return FileCheck(False, _one_line(complaints[0]))
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = 0
        if "schema_version" in tables:
            version = int(conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)
        info: dict[str, str] = {}
        if "store_info" in tables:
            info = dict(conn.execute("SELECT name, value FROM store_info").fetchall())
        reports = int(conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0]) if "reports" in tables else None
        created = info.get("created_at")
        return FileCheck(True, "ok", version, info.get("store_id"),
                         datetime.fromisoformat(created) if created else None, reports)
    except (sqlite3.Error, ValueError) as exc:  # "file is not a database", "database disk image is malformed"
        return FileCheck(False, _one_line(str(exc)))
    finally:
        conn.close()


def _one_line(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "unknown error")
    return first if len(first) <= _DETAIL_CHARS else first[:_DETAIL_CHARS - 3] + "..."


def is_empty_file(file: Path) -> bool:
    """No store file, or one with nothing in it (SQLite makes such files when told to open a path)."""
    try:
        return file.stat().st_size == 0
    except FileNotFoundError:
        return True


# -- the master's way in --------------------------------------------------------------------------------------


def missing_message(location: StoreLocation, known: KnownStore) -> str:
    return (f"the store DB {location.where} is missing but this master created one there on "
            f"{known.created_text}; restore it with `bunraku store restore BACKUP` or create a new one with "
            "`bunraku store init`")


def damaged_message(location: StoreLocation, detail: str) -> str:
    return (f"the store DB {location.where} is damaged ({detail}); restore it with `bunraku store restore "
            "BACKUP`, or move it aside and create a new one with `bunraku store init`")


def open_for_master(url: str | None, path: Path | None, state_dir: Path, *, create: bool = False) -> Store:
    """Open the master's store: checked, compared with the marker, and locked for as long as it is open.
    ``create``: make a new store where this master's is missing, and take whatever store is there as its
    own. Raises StoreError with one line (paths included: it is for the master's console)."""
    location = locate(url, path)
    lock = None
    if location.file is not None:
        try:
            lock = StoreLock(location.file, exclusive=False)
        except BlockingIOError:
            raise StoreError(f"the store DB {location.where} is being restored or created by `bunraku store`; "
                             "start the master when that is done") from None
    try:
        store = _open_checked(location, Marker(state_dir), create=create)
    except BaseException:
        if lock is not None:
            lock.close()
        raise
    if lock is not None:
        store.hold(lock)
    return store


def _open_checked(location: StoreLocation, marker: Marker, *, create: bool) -> Store:
    known = marker.get(location)
    if location.file is not None:
        if is_empty_file(location.file):
            if known is not None and not create:
                raise StoreError(missing_message(location, known))
        else:
            found = check_sqlite_file(location.file)
            if not found.ok:
                raise StoreError(damaged_message(location, found.detail))
    try:
        store = Store.open(location.url, path=location.path, create=create or known is None)
    except StoreMissing:
        assert known is not None
        raise StoreError(missing_message(location, known)) from None
    try:
        store_id, created_at = store.identity()
        if known is not None and known.store_id and store_id != known.store_id and not create:
            raise StoreError(f"the store DB {location.where} is not the one this master created there on "
                             f"{known.created_text} (its id is {store_id}, not {known.store_id}); restore "
                             "this master's store with `bunraku store restore BACKUP`, or start the master "
                             "once with --create-store to take this one as its own")
        if known is None or known.store_id != store_id:
            marker.record(location, KnownStore(store_id, created_at))
            if known is None:
                log.info("store %s: recorded as this master's store (id %s)", location.where, store_id)
            else:
                log.warning("store %s: now this master's store (id %s, was %s)", location.where, store_id,
                            known.store_id)
    except BaseException:
        store.close()
        raise
    return store
