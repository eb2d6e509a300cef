"""What ``bunraku store`` does: back up, verify, restore and create the master's store.

SQLite only: a backup is taken with SQLite's online backup API in one step, so it is a consistent
snapshot even while a master writes (in WAL mode readers never block the writer), and it is written to a
temporary file and renamed, so a backup file is whole or absent. A restore needs every master on the store
stopped: it takes the store's lock exclusively (see ``master.store.guard``), keeps whatever was in place
beside it (``*.replaced-TIMESTAMP``) and records the restored store as the master's. A PostgreSQL store
is backed up and restored with PostgreSQL's own tools; these functions say how.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from master.store.api import Store
from master.store.errors import StoreError, StoreMissing
from master.store.guard import (
    FileCheck,
    KnownStore,
    Marker,
    StoreLocation,
    StoreLock,
    check_sqlite_file,
    connect_file,
    damaged_message,
    is_empty_file,
)
from master.store.migrations import SCHEMA_VERSION

log = logging.getLogger(__name__)

#: The files SQLite keeps beside a database in WAL mode (a stale one must never meet another database).
_SIDE_FILES = ("-wal", "-shm", "-journal")


def postgres_guidance(location: StoreLocation, command: str) -> str:
    """What to do instead of ``bunraku store COMMAND`` for a PostgreSQL store: its own tools, on the URL
    libpq understands."""
    url = location.resolved.set(drivername="postgresql").render_as_string(hide_password=True)
    return (f"the store is PostgreSQL, which `bunraku store {command}` leaves to PostgreSQL's tools: back up with "
            "`pg_dump --format=custom "
            f"--file=BACKUP --dbname='{url}'`, check with `pg_restore --list BACKUP`, restore (every master "
            f"stopped) with `pg_restore --clean --if-exists --dbname='{url}' BACKUP`")


@dataclass(frozen=True, slots=True)
class StoreFileInfo:
    """A store file as the commands describe it."""

    path: Path
    check: FileCheck
    size: int

    def summary(self) -> str:
        c = self.check
        parts = [f"schema version {c.schema_version}"]
        if c.store_id:
            parts.append(f"store id {c.store_id}")
        if c.reports is not None:
            parts.append(f"{c.reports} report(s)")
        parts.append(f"{self.size / 1024 / 1024:.1f} MiB")
        return ", ".join(parts)


def _sqlite_file(location: StoreLocation, command: str) -> Path:
    if location.postgres or location.file is None:
        raise StoreError(postgres_guidance(location, command) if location.postgres else
                         f"the store at {location.where} is not a file; `bunraku store {command}` works on files")
    return location.file


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_database(source: sqlite3.Connection, dest: Path) -> None:
    """Copy ``source`` (one consistent snapshot) into a new file ``dest`` (0600), in rollback-journal
    mode so that the copy is one self-contained file."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)  # pages=-1: the whole database in one step, under one read transaction
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        target.close()
    fd = os.open(dest, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_copy(tmp: Path, what: str) -> FileCheck:
    check = check_sqlite_file(tmp)
    if not check.ok:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"the {what} failed its check ({check.detail}); nothing was changed")
    return check


# -- backup ---------------------------------------------------------------------------------------------------


def backup(location: StoreLocation, dest: Path) -> StoreFileInfo:
    """Write a consistent copy of the store to ``dest`` (replacing it), safe while masters run."""
    file = _sqlite_file(location, "backup")
    if is_empty_file(file):
        raise StoreError(f"there is no store DB at {file}; nothing to back up")
    dest = dest.expanduser()
    if dest.exists() and dest.resolve() == file.resolve():
        raise StoreError(f"{dest} is the store itself; back it up to another file")
    if not dest.parent.is_dir():
        raise StoreError(f"cannot write the backup {dest}: no such directory {dest.parent}")
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        source = connect_file(file, "ro")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the store DB {file}: {exc}") from None
    try:
        _copy_database(source, tmp)
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        message = str(exc)
        if "malformed" in message or "not a database" in message:
            raise StoreError(damaged_message(location, message)) from None
        raise StoreError(f"cannot back up the store DB {file}: {message}") from None
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"cannot write the backup {dest}: {exc.strerror or exc}") from None
    finally:
        source.close()
    check = _check_copy(tmp, "backup")
    os.replace(tmp, dest)
    _fsync_dir(dest.parent)
    log.info("store %s backed up to %s", file, dest)
    return StoreFileInfo(dest, check, dest.stat().st_size)


# -- verify ---------------------------------------------------------------------------------------------------


def verify(file: Path, *, thorough: bool = True) -> StoreFileInfo:
    """Check a store file (the store, or a backup) without changing it: integrity (or the quicker
    check), then that it is a store this Bunraku can open. Raises StoreError saying what is wrong."""
    if not file.exists():
        raise StoreError(f"{file}: no such file")
    if is_empty_file(file):
        raise StoreError(f"{file} is empty: not a store")
    check = check_sqlite_file(file, thorough=thorough, mode="ro")
    if not check.ok:
        raise StoreError(f"{file} is damaged: {check.detail}")
    if check.schema_version == 0:
        raise StoreError(f"{file} is an SQLite database but not a Bunraku store (no schema version)")
    if check.schema_version > SCHEMA_VERSION:
        raise StoreError(f"{file} has schema version {check.schema_version}, newer than this Bunraku knows "
                         f"({SCHEMA_VERSION}); upgrade Bunraku")
    return StoreFileInfo(file, check, file.stat().st_size)


# -- restore --------------------------------------------------------------------------------------------------


def _exclusive(file: Path, what: str) -> StoreLock:
    try:
        return StoreLock(file, exclusive=True)
    except BlockingIOError:
        raise StoreError(f"a master is running on the store DB {file}; stop it (and every master using that "
                         f"file) before you {what}") from None


def _move_aside(file: Path) -> Path | None:
    """Rename the store file and its side files to ``*.replaced-TIMESTAMP``; returns the new name of the
    main file (None when there was none)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    moved = None
    for suffix in ("", *_SIDE_FILES):
        path = file.with_name(file.name + suffix)
        if not path.exists():
            continue
        target = path.with_name(f"{file.name}.replaced-{stamp}{suffix}")
        os.replace(path, target)
        if suffix == "":
            moved = target
    return moved


def restore(location: StoreLocation, backup_file: Path, state_dir: Path) -> tuple[StoreFileInfo, Path | None]:
    """Put the store in ``backup_file`` in place of the store (every master on it must be stopped) and
    record it as the master's. Returns what was restored and where the file it replaced went."""
    file = _sqlite_file(location, "restore")
    backup_file = backup_file.expanduser()
    info = verify(backup_file)
    lock = _exclusive(file, "restore it")
    try:
        if backup_file.resolve() == file.resolve():
            raise StoreError(f"{backup_file} is the store itself; restore from a backup file")
        file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = file.with_name(f".{file.name}.restore-{os.getpid()}")
        tmp.unlink(missing_ok=True)
        try:
            source = connect_file(backup_file, "ro")
            try:
                _copy_database(source, tmp)
            finally:
                source.close()
        except (sqlite3.Error, OSError) as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot restore {backup_file} to {file}: {exc}") from None
        _check_copy(tmp, "restored copy")
        moved = _move_aside(file)
        os.replace(tmp, file)
        _fsync_dir(file.parent)
        Marker(state_dir).record(location, KnownStore(info.check.store_id, info.check.created_at))
    finally:
        lock.close()
    log.info("store %s restored from %s", file, backup_file)
    return StoreFileInfo(file, info.check, file.stat().st_size), moved


# -- init -----------------------------------------------------------------------------------------------------


def init(location: StoreLocation, state_dir: Path) -> KnownStore:
    """Create a new, empty store where there is none, and record it as the master's."""
    lock = _exclusive(location.file, "create a store") if location.file is not None else None
    try:
        if location.file is not None and not is_empty_file(location.file):
            found = check_sqlite_file(location.file)
            if not found.ok:
                raise StoreError(f"the store DB {location.where} is damaged ({found.detail}); move it aside "
                                 "first, or restore a backup with `bunraku store restore BACKUP`")
            if found.schema_version == 0:
                raise StoreError(f"{location.where} is an SQLite database but not a Bunraku store; move it "
                                 "aside first")
        try:
            existing = Store.open(location.url, path=location.path, create=False)
        except StoreMissing:
            existing = None
        if existing is not None:
            store_id, created_at = existing.identity()
            existing.close()
            raise StoreError(f"a store already exists at {location.where} (id {store_id}, created "
                             f"{KnownStore(store_id, created_at).created_text}); move it aside first to "
                             "start anew")
        with Store.open(location.url, path=location.path, create=True) as store:
            store_id, created_at = store.identity()
        known = KnownStore(store_id, created_at)
        Marker(state_dir).record(location, known)
    finally:
        if lock is not None:
            lock.close()
    log.info("store %s created (id %s)", location.where, store_id)
    return known
