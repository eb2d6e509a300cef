"""The store's guards, on real SQLite files: a file deleted or replaced under an open store, the master's
checks on opening (marker, quick_check, lock), and backup / verify / restore / init."""

from __future__ import annotations

import io
import json
import logging
import os
import random
import shutil
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from master.store import SCHEMA_VERSION, Store, StoreError, StoreUnavailable, maintenance, migrations
from master.store.guard import MARKER_NAME, locate, open_for_master
from master.store.health import IDENTITY_CHECK_SECONDS, WriteHealth
from tests.master.test_store import PgSchema, needs_pg

GONE_PROBLEM = "the master's store file was deleted or replaced"


def _report(node: str = "web01.example.com") -> dict[str, Any]:
    at = datetime.now(UTC).isoformat()
    return {"host": node, "time": at, "transaction_uuid": str(uuid.uuid4()), "status": "changed",
            "environment": "production", "configuration_version": "1", "noop": False,
            "resource_statuses": {"File[/etc/motd]": {
                "resource_type": "File", "title": "/etc/motd", "changed": True, "failed": False,
                "events": [{"property": "content", "previous_value": "a", "desired_value": "b",
                            "message": "content changed", "status": "success", "time": at}]}},
            "metrics": {"time": {"total": 0.5}}, "logs": []}


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "master.store.health" and r.levelno >= logging.ERROR]


def _marker(state: Path) -> dict[str, Any]:
    return dict(json.loads((state / MARKER_NAME).read_text())["stores"])


def _corrupt(db: Path) -> None:
    """Garbage over the pages of report data in the middle of the file (past the small tables)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    pages = db.stat().st_size // 4096
    with open(db, "r+b") as fh:
        fh.seek(pages // 2 * 4096)
        fh.write(random.Random(5).randbytes(pages // 4 * 4096))


def _filled_store(db: Path, reports: int = 60) -> set[str]:
    with Store.open(path=db) as store:
        saved = set()
        for _ in range(reports):
            report = _report()
            store.save_report(report)
            saved.add(report["transaction_uuid"])
    return saved


# -- a file deleted or replaced under an open store -----------------------------------------------------------


def test_a_report_written_into_a_deleted_file_is_not_acknowledged(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "store.sqlite"
    store = Store.open(path=db)
    store.health = WriteHealth(str(db), db, clock=lambda: 0.0)  # the periodic check never comes round
    try:
        store.save_report(_report())
        db.unlink()
        for _ in range(3):  # at once, and every time after
            with pytest.raises(StoreUnavailable, match="deleted or replaced") as refused:
                store.save_report(_report())
            assert refused.value.reason == "gone" and refused.value.problem == GONE_PROBLEM
        with pytest.raises(StoreUnavailable):
            store.heartbeat("web01.example.com")
        assert store.write_problem is not None and "deleted or replaced" in store.write_problem
        errors = _errors(caplog)
        assert len(errors) == 1 and f"store {db} was deleted" in errors[0]
    finally:
        store.close()


def test_a_replaced_file_is_noticed_before_a_report_is_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    store = Store.open(path=db)
    try:
        store.save_report(_report())
        shutil.copyfile(db, tmp_path / "copy")
        os.replace(tmp_path / "copy", db)  # same name, another file
        with pytest.raises(StoreUnavailable, match="deleted or replaced"):
            store.save_report(_report())
    finally:
        store.close()


def test_an_open_store_never_makes_its_deleted_file_again(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    store = Store.open(path=db)
    try:
        store.heartbeat("web01.example.com")
        db.unlink()
        store.engine.dispose()  # every pooled connection gone: the next read needs a new one
        with pytest.raises(StoreError, match="unable to open database file"):
            store.node_statuses()
        assert not db.exists()
    finally:
        store.close()


def test_a_store_that_cannot_take_writes_shows_on_the_metrics_and_the_dashboard(tmp_path: Path) -> None:
    from master.dashboard import Metrics, TokenStore, create_app

    db = tmp_path / "store.sqlite"
    store = Store.open(path=db)
    try:
        metrics = Metrics(store)
        tokens = TokenStore(tmp_path / "tokens.json")
        token = tokens.issue("ops", "viewer")
        app = create_app(store, metrics=metrics, tokens=tokens)
        assert "bunraku_store_writable 1.0" in metrics.render().decode()
        assert "Store:" not in _page(app, token)
        db.unlink()
        with pytest.raises(StoreUnavailable):
            store.save_report(_report())
        assert "bunraku_store_writable 0.0" in metrics.render().decode()
        page = _page(app, token)
        assert "Store:</strong> the master&#39;s store file was deleted or replaced" in page
        assert str(tmp_path) not in page
    finally:
        store.close()


def test_a_full_store_counts_as_writable_again_only_once_its_disk_has_room(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    """A write that squeezes into the last free pages of a full disk does not end the alarm: it would
    flap (an error and a recovery for every other write) until space is really freed."""
    from master.store.health import FULL, WRITABLE, WriteHealth

    db = tmp_path / "store.sqlite"
    db.touch()
    free = shutil.disk_usage(tmp_path).free
    health = WriteHealth(str(db), db, recovered_free=free * 2)  # more than this disk has free
    with caplog.at_level(logging.WARNING):
        health.write_failed_full()
        health.write_succeeded()
        assert health.state == FULL and "takes writes again" not in caplog.text
        health.write_failed_full()
        assert caplog.text.count("is full") == 1
        health._recovered_free = free // 2  # space came back
        health.write_succeeded()
        assert health.state == WRITABLE and "takes writes again" in caplog.text


def test_a_deleted_store_shows_on_the_metrics_while_nothing_writes(tmp_path: Path) -> None:
    from master.dashboard import Metrics

    db = tmp_path / "store.sqlite"
    now = [0.0]
    store = Store.open(path=db)
    store.health = WriteHealth(str(db), db, clock=lambda: now[0])
    try:
        metrics = Metrics(store)
        db.unlink()
        assert "bunraku_store_writable 1.0" in metrics.render().decode()  # looked at most once a second
        now[0] += IDENTITY_CHECK_SECONDS
        assert "bunraku_store_writable 0.0" in metrics.render().decode()
    finally:
        store.close()


def _page(app: Any, token: str) -> str:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/nodes", "QUERY_STRING": "", "wsgi.input": io.BytesIO(),
               "CONTENT_LENGTH": "0", "wsgi.url_scheme": "https", "SERVER_NAME": "localhost", "SERVER_PORT": "443",
               "HTTP_HOST": "localhost", "HTTP_AUTHORIZATION": f"Bearer {token}", "REMOTE_ADDR": "127.0.0.1"}
    status: list[str] = []
    body = b"".join(app(environ, lambda s, _h, *_: status.append(s)))
    assert status[0].startswith("200"), (status, body[:300])
    return body.decode()


# -- the master opening its store -----------------------------------------------------------------------------


def test_a_fresh_master_creates_its_store_and_remembers_it(tmp_path: Path) -> None:
    db, state = tmp_path / "var" / "store.sqlite", tmp_path / "var"
    with open_for_master(None, db, state) as store:
        store_id, created = store.identity()
    assert store_id and created is not None
    assert _marker(state)[str(db)]["id"] == store_id
    with open_for_master(None, db, state) as again:  # and opens it again as usual
        assert again.identity()[0] == store_id


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_a_master_refuses_a_missing_store_it_created(tmp_path: Path, how: str) -> None:
    db, state = tmp_path / "store.sqlite", tmp_path / "state"
    open_for_master(None, db, state).close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    if how == "emptied":
        db.touch()
    with pytest.raises(StoreError) as refused:
        open_for_master(None, db, state)
    message = str(refused.value)
    assert message.startswith(f"the store DB {db} is missing but this master created one there on ")
    assert message.endswith("; restore it with `bunraku store restore BACKUP` or create a new one with "
                            "`bunraku store init`")
    assert "\n" not in message
    assert db.stat().st_size == 0 if how == "emptied" else not db.exists()
    with open_for_master(None, db, state, create=True) as created:  # bunraku master --create-store
        assert _marker(state)[str(db)]["id"] == created.identity()[0]


def test_a_master_refuses_another_store_in_the_place_of_its_own(tmp_path: Path) -> None:
    db, state = tmp_path / "store.sqlite", tmp_path / "state"
    open_for_master(None, db, state).close()
    other = tmp_path / "other.sqlite"
    Store.open(path=other).close()
    os.replace(other, db)
    with pytest.raises(StoreError, match=r"is not the one this master created there on .*\(its id is \w+, not "):
        open_for_master(None, db, state)


def test_a_master_refuses_a_damaged_store(tmp_path: Path) -> None:
    db, state = tmp_path / "store.sqlite", tmp_path / "state"
    open_for_master(None, db, state).close()
    _filled_store(db)
    _corrupt(db)
    with pytest.raises(StoreError) as refused:
        open_for_master(None, db, state)
    assert str(refused.value).startswith(f"the store DB {db} is damaged (")
    assert "\n" not in str(refused.value)


def test_a_store_from_before_the_marker_is_taken_as_the_masters(tmp_path: Path) -> None:
    db, state = tmp_path / "store.sqlite", tmp_path / "state"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:  # a version 5 store, with a report: no identity inside
        migrations.upgrade(conn, to=5)
        conn.execute(sa.text("INSERT INTO reports (transaction_uuid, node, time, received_at, status, noop, document) "
                             "VALUES ('t1', 'web01.example.com', '2026-11-25 12:00:00', '2026-11-25 12:00:00', "
                             "'changed', 0, '{}')"))
    engine.dispose()
    with open_for_master(None, db, state) as store:
        store_id = store.identity()[0]
        assert store_id and store.schema_version() == SCHEMA_VERSION
        assert len(store.reports("web01.example.com")) == 1
    assert _marker(state)[str(db)]["id"] == store_id


def test_a_damaged_marker_is_one_clear_line(tmp_path: Path) -> None:
    db, state = tmp_path / "store.sqlite", tmp_path / "state"
    open_for_master(None, db, state).close()
    (state / MARKER_NAME).write_text("{not json")
    with pytest.raises(StoreError, match=r"^the store marker .* is not valid JSON; restore it, or delete it"):
        open_for_master(None, db, state)


@needs_pg
def test_a_master_refuses_an_emptied_postgresql_store_it_created(tmp_path: Path) -> None:
    pg = PgSchema()
    try:
        open_for_master(pg.url(), None, tmp_path).close()
        with pg.admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{pg.name}" CASCADE')
            conn.exec_driver_sql(f'CREATE SCHEMA "{pg.name}"')
        with pytest.raises(StoreError, match="is missing but this master created one there on"):
            open_for_master(pg.url(), None, tmp_path)
        with pg.admin.connect() as conn:  # nothing was created behind the refusal
            tables = conn.execute(sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"),
                                  {"s": pg.name}).scalar_one()
        assert tables == 0
    finally:
        pg.drop()


# -- backup, verify, restore, init ----------------------------------------------------------------------------


def test_a_backup_taken_while_reports_pour_in_is_consistent(tmp_path: Path) -> None:
    db, state = tmp_path / "store.sqlite", tmp_path / "state"
    store = open_for_master(None, db, state)
    stop = threading.Event()
    written: list[str] = []

    def writer() -> None:
        while not stop.is_set():
            report = _report()
            store.save_report(report)
            written.append(report["transaction_uuid"])

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            stop.wait(0.01)
        info = maintenance.backup(locate(None, db), tmp_path / "backup.db")
    finally:
        stop.set()
        thread.join()
        store.close()
    checked = maintenance.verify(tmp_path / "backup.db")
    assert checked.check.ok and checked.check.schema_version == SCHEMA_VERSION
    assert info.check.reports == checked.check.reports and 20 <= (checked.check.reports or 0) <= len(written)
    with Store.open(path=tmp_path / "backup.db") as copy:
        kept = copy.reports("web01.example.com", last=10_000)
        assert {r["transaction_uuid"] for r in kept} <= set(written)
        for summary in copy.report_summaries("web01.example.com", last=10_000):
            assert len(copy.report_events(summary["id"])) == 1  # each report whole, with its event
    assert oct((tmp_path / "backup.db").stat().st_mode & 0o777) == oct(0o600)


def test_restore_refuses_while_a_master_holds_the_store_and_keeps_what_it_replaces(tmp_path: Path) -> None:
    db, state = tmp_path / "store.sqlite", tmp_path / "state"
    store = open_for_master(None, db, state)
    before = {store.save_report(_report()) for _ in range(3)}
    maintenance.backup(locate(None, db), tmp_path / "backup.db")
    store.save_report(_report())  # after the backup
    with pytest.raises(StoreError) as refused:
        maintenance.restore(locate(None, db), tmp_path / "backup.db", state)
    assert str(refused.value) == (f"a master is running on the store DB {db}; stop it (and every master using "
                                  "that file) before you restore it")
    store.close()

    info, moved = maintenance.restore(locate(None, db), tmp_path / "backup.db", state)
    assert info.check.reports == len(before) and moved is not None and moved.exists()
    assert not Path(f"{db}-wal").exists()  # a stale WAL must never meet the restored file
    with open_for_master(None, db, state) as restored:
        assert len(restored.reports("web01.example.com")) == 3
    with Store.open(path=moved) as old:
        assert len(old.reports("web01.example.com")) == 4


def test_verify_names_what_is_wrong(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    _filled_store(db)
    good = maintenance.verify(db)
    assert good.check.ok and good.check.reports == 60
    damaged = tmp_path / "damaged.sqlite"
    shutil.copyfile(db, damaged)
    _corrupt(damaged)
    with pytest.raises(StoreError, match=rf"^{damaged} is damaged: "):
        maintenance.verify(damaged)
    with pytest.raises(StoreError, match=rf"^{damaged} is damaged: "):
        maintenance.verify(damaged, thorough=False)
    plain = tmp_path / "plain.sqlite"
    with sqlite3.connect(plain) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="is an SQLite database but not a Bunraku store"):
        maintenance.verify(plain)
    (tmp_path / "text").write_text("hello, not a database " * 300)
    with pytest.raises(StoreError, match="is damaged: file is not a database"):
        maintenance.verify(tmp_path / "text")
    with pytest.raises(StoreError, match="no such file"):
        maintenance.verify(tmp_path / "absent")


def test_init_makes_a_store_only_where_there_is_none(tmp_path: Path) -> None:
    db, state = tmp_path / "store.sqlite", tmp_path / "state"
    created = maintenance.init(locate(None, db), state)
    assert _marker(state)[str(db)]["id"] == created.store_id
    with pytest.raises(StoreError, match=rf"^a store already exists at {db} \(id {created.store_id}, created "):
        maintenance.init(locate(None, db), state)
    with open_for_master(None, db, state), pytest.raises(StoreError, match="a master is running on the store DB"):
        maintenance.init(locate(None, db), state)


def test_init_after_a_loss_gives_the_master_a_new_store_to_start_on(tmp_path: Path) -> None:
    db, state = tmp_path / "store.sqlite", tmp_path / "state"
    with open_for_master(None, db, state) as lost:
        lost_id = lost.identity()[0]
    db.unlink()
    with pytest.raises(StoreError, match="is missing but this master created one"):
        open_for_master(None, db, state)
    created = maintenance.init(locate(None, db), state)
    assert created.store_id != lost_id
    with open_for_master(None, db, state) as store:
        assert store.identity()[0] == created.store_id


def test_postgresql_stores_are_left_to_postgresql_tools(tmp_path: Path) -> None:
    where = locate("postgresql+psycopg://bunraku:secret@db.example.com/bunraku", None)
    for call in (lambda: maintenance.backup(where, tmp_path / "b"),
                 lambda: maintenance.restore(where, tmp_path / "b", tmp_path)):
        with pytest.raises(StoreError) as refused:
            call()
        message = str(refused.value)
        assert "pg_dump --format=custom --file=BACKUP --dbname='postgresql://bunraku:***@db.example.com/bunraku'" \
            in message and "pg_restore --clean" in message and "secret" not in message


def test_a_reader_that_expects_the_store_never_creates_it(tmp_path: Path) -> None:
    """Compile workers open the master's store only to read exports: a deleted file stays deleted."""
    from master.store import Store
    from master.store.errors import StoreMissing

    missing = tmp_path / "gone" / "store.sqlite"
    with pytest.raises(StoreMissing, match="the database file does not exist"):
        Store.open(f"sqlite:///{missing}", create=False)
    assert not missing.exists() and not missing.parent.exists()
