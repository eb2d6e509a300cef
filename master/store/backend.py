"""Engines for the two backends: an embedded SQLite file, or PostgreSQL shared by several masters.

SQLite is tuned for several writers (threads of one master, or several processes on one host): WAL so that
readers never block the writer, a long busy timeout, and ``BEGIN IMMEDIATE`` for write transactions so
that two writers queue on the lock at the start instead of one failing half-way with "database is locked"
(a deferred transaction that read first cannot wait for the write lock: SQLite gives up at once).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from master.store.errors import StoreError

log = logging.getLogger(__name__)

DEFAULT_PATH = Path("bunraku.db")
#: How long an SQLite writer waits for the lock (milliseconds) before SQLite reports it busy.
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: How long a PostgreSQL session may sit idle inside a transaction before the server ends it (milliseconds),
#: unless the URL's ``options``, the role or the database set it: a master that hangs (stopped, swapped out,
#: cut off) between two statements of a write releases its row locks within this time, instead of
#: stalling every other master's writes to the same rows until it is killed.
PG_IDLE_IN_TRANSACTION_TIMEOUT_MS = 5_000
#: Execution option that marks a connection's transaction as a writer (``BEGIN IMMEDIATE`` on SQLite).
WRITE_OPTION = "bunraku_write"


def one_line(exc: BaseException) -> str:
    """The gist of a database error on one line, without SQLAlchemy's statement dump and links."""
    text = str(exc.orig) if isinstance(exc, DBAPIError) and exc.orig is not None else str(exc)
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


#: SQLite's primary result code for "database or disk is full" (SQLITE_FULL).
_SQLITE_FULL = 13
#: PostgreSQL's SQLSTATE for disk_full.
_PG_DISK_FULL = "53100"


def is_full(exc: BaseException) -> bool:
    """Whether a database error means the store's disk (or the database's size limit) is full."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF == _SQLITE_FULL:
        return True
    if getattr(orig, "sqlstate", None) == _PG_DISK_FULL:
        return True
    text = str(orig).lower()
    return "database or disk is full" in text or "no space left on device" in text


def is_locked(exc: BaseException) -> bool:
    """Whether an SQLite error is lock contention (worth retrying) rather than a real failure."""
    text = str(exc.orig if isinstance(exc, DBAPIError) else exc).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def resolve_url(url: str | None, path: Path | None) -> URL:
    """The SQLAlchemy URL for ``Store.open``'s arguments; raises StoreError for what we cannot use."""
    if url is None:
        target = (path or DEFAULT_PATH).expanduser()
        return URL.create("sqlite+pysqlite", database=str(target))
    try:
        parsed = sa.make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"cannot open store at {url}: not a database URL ({one_line(exc)})") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise StoreError(f"cannot open store at {display(parsed)}: driver {driver!r} is not supported; "
                             "use postgresql+psycopg://")
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    raise StoreError(f"cannot open store at {display(parsed)}: unsupported database {backend!r}; "
                     "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")


def display(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    """The file behind an SQLite URL; None for an in-memory database."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).expanduser()


def prepare_sqlite_file(path: Path) -> None:
    """Create the directories (0700) and the database file (0600) before SQLite does it with the umask."""
    missing: list[Path] = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue  # another process got there first
        os.chmod(directory, 0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, 0o600)
    log.info("store: created %s", path)


def sqlite_file_connector(path: Path) -> Callable[[], sqlite3.Connection]:
    """Connections to an existing SQLite file that never create it: once the store is open, a deleted
    file must show up as an error, not as a new empty database that a fresh pooled connection made."""
    uri = f"file:{quote(str(path))}?mode=rw"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False)

    return connect


def _sqlite_on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # the driver must not open transactions on its own: the "begin" hook below decides how
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, and much faster
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: sa.Connection) -> None:
    mode = "IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


def describe(url: str | None, resolved: URL) -> str:
    """How error messages name a store: the path given, or the URL given (password hidden)."""
    if url is None:
        return str(resolved.database)
    return display(sa.make_url(url))


def _postgres_on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    """Bound the time a session may hold its locks while idle in a transaction (see
    PG_IDLE_IN_TRANSACTION_TIMEOUT_MS), where nothing else has set a bound."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        row = cursor.fetchone()
        if row is not None and str(row[0]) == "0":
            cursor.execute(f"SET idle_in_transaction_session_timeout = {PG_IDLE_IN_TRANSACTION_TIMEOUT_MS}")
    dbapi_connection.commit()


def create_engine(url: URL, where: str) -> Engine:
    """An engine for ``url`` (already resolved), named ``where`` in errors: StoreError when the driver is
    missing or the file cannot be created."""
    try:
        if url.get_backend_name() == "sqlite":
            path = sqlite_path(url)
            if path is None:
                engine = sa.create_engine(url, poolclass=StaticPool,
                                          connect_args={"check_same_thread": False})
            else:
                prepare_sqlite_file(path)
                engine = sa.create_engine(url, pool_size=8, max_overflow=8, creator=sqlite_file_connector(path))
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
            return engine
        connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": 10}
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_recycle=1800,
                                  connect_args=connect_args)
        event.listen(engine, "connect", _postgres_on_connect)
        return engine
    except (NoSuchModuleError, ImportError, ArgumentError) as exc:
        raise StoreError(f"cannot open store at {where}: {one_line(exc)}") from None
    except OSError as exc:
        raise StoreError(f"cannot open store at {where}: {exc.strerror or exc}") from None
