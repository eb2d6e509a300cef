"""The master's store, on SQLite and on the real PostgreSQL at 127.0.0.1:5432 (each test in its own schema)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import multiprocessing
import os
import socket
import stat
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from master.store import REDACTED, SCHEMA_VERSION, NodeStatus, Store, StoreError, catalog_digest
from master.store import schema as store_schema

PG_HOST, PG_PORT, PG_DB = "127.0.0.1", 5432, "test"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# -- backends -------------------------------------------------------------------------------------------------


def _pg_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def _pg_user() -> str | None:
    for user in ("postgres", "root"):
        engine = sa.create_engine(f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{PG_DB}")
        try:
            with engine.connect():
                return user
        except sa.exc.OperationalError:
            continue
        finally:
            engine.dispose()
    return None


PG_USER = _pg_user() if _pg_reachable() else None
needs_pg = pytest.mark.skipif(PG_USER is None, reason=f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}")


class PgSchema:
    """A schema of its own in the ``test`` database, dropped afterwards; other tables are never touched."""

    def __init__(self) -> None:
        self.name = f"bunraku_test_{uuid.uuid4().hex[:12]}"
        self.admin = sa.create_engine(f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}")
        with self.admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{self.name}"')

    def url(self, **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in {"options": f"-csearch_path%3D{self.name}", **options}.items())
        return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}?{query}"

    def drop(self) -> None:
        with self.admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{self.name}" CASCADE')
        self.admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_pg)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    pg = PgSchema()
    try:
        yield pg.url()
    finally:
        pg.drop()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


def _report(node: str, *, at: datetime, status: str = "unchanged", noop: bool = False,
            noop_pending: bool = False, events: int = 0, txn: str | None = None, code_id: str | None = "c1",
            corrective: bool = False, environment: str = "production") -> dict[str, Any]:
    event_list = [
        {"property": f"p{i}", "previous_value": {"old": i}, "desired_value": [i, "x"], "message": f"changed p{i}",
         "status": "noop" if noop else "success", "time": (at + timedelta(seconds=i)).isoformat()}
        for i in range(events)
    ]
    return {
        "host": node, "time": at.isoformat().replace("+00:00", "Z"), "configuration_version": 1714564800,
        "code_id": code_id, "catalog_uuid": str(uuid.uuid4()), "transaction_uuid": txn or str(uuid.uuid4()),
        "environment": environment, "status": status, "noop": noop, "noop_pending": noop_pending,
        "cached_catalog_status": "not_used", "corrective_change": corrective, "report_format": 12,
        "resource_statuses": {
            "File[/etc/motd]": {"resource_type": "File", "title": "/etc/motd", "change_count": len(event_list),
                                "failed": status == "failed", "changed": status == "changed", "events": event_list},
        } if event_list else {},
        "metrics": {"events": {"name": "events", "values": [["total", "Total", events]]}},
        "logs": [{"level": "notice", "message": "Applied catalog", "source": "Bunraku", "time": ""}],
    }


CATALOG = {
    "name": "web1", "version": 1714564800, "code_id": "abc123", "catalog_uuid": "u-1", "catalog_format": 2,
    "environment": "production", "tags": ["class"], "classes": ["base"], "edges": [],
    "resources": [
        {"type": "User", "title": "deploy", "tags": [], "exported": False,
         "parameters": {"ensure": "present", "password": "$6$hash"}},
        {"type": "File", "title": "/etc/app.conf", "tags": [], "exported": False,
         "parameters": {"content": "secret=hunter2", "mode": "0600"}, "sensitive_parameters": ["content"]},
        {"type": "Package", "title": "nginx", "tags": [], "exported": False, "parameters": {"ensure": "latest"}},
    ],
}


# -- opening ------------------------------------------------------------------------------------------------


def test_open_creates_the_schema_at_the_current_version(store: Store) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    assert store.node_statuses() == []


def test_reopening_keeps_the_data(store_url: str) -> None:
    with Store.open(store_url) as first:
        first.save_facts("n1", {"a": 1})
    with Store.open(store_url) as second:
        assert second.get_facts("n1") == {"a": 1}
        assert second.schema_version() == SCHEMA_VERSION


def test_default_is_bunraku_db_in_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Store.open() as store:
        store.heartbeat("n1")
    assert (tmp_path / "bunraku.db").is_file()
    with Store.open(path=tmp_path / "other.db") as store:
        assert store.url.endswith("other.db")


def test_in_memory_sqlite() -> None:
    with Store.open("sqlite://") as store:
        store.save_facts("n1", {"x": 1})
        assert store.get_facts("n1") == {"x": 1}


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://u@h/db", "cannot open store at mysql://u@h/db: unsupported database 'mysql'; use sqlite:///PATH or "
                       "postgresql+psycopg://USER@HOST/DB"),
    ("not a url", "cannot open store at not a url: not a database URL"),
    ("postgresql+psycopg2://u:pw@h/db", "cannot open store at postgresql+psycopg2://u:***@h/db: driver 'psycopg2' "
                                        "is not supported; use postgresql+psycopg://"),
])
def test_unusable_urls_are_one_line_errors(url: str, message: str) -> None:
    with pytest.raises(StoreError) as info:
        Store.open(url)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_unusable_paths_are_one_line_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError) as info:
        Store.open(path=blocker / "store.db")
    assert str(info.value) == f"cannot open store at {blocker / 'store.db'}: Not a directory"
    directory = tmp_path / "dir.db"
    directory.mkdir()
    with pytest.raises(StoreError) as info:
        Store.open(f"sqlite:///{directory}")
    assert str(info.value) == f"cannot open store at sqlite:///{directory}: unable to open database file"


def test_unreachable_postgresql_is_a_one_line_error() -> None:
    with pytest.raises(StoreError) as info:
        Store.open("postgresql://nobody:pw@127.0.0.1:1/none?connect_timeout=2")
    message = str(info.value)
    assert message.startswith("cannot open store at postgresql://nobody:***@127.0.0.1:1/none?connect_timeout=2: ")
    assert "pw" not in message.replace("psycopg", "") and "\n" not in message


def test_a_newer_schema_is_refused(store_url: str) -> None:
    with Store.open(store_url) as store, store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO schema_version (version, applied_at) VALUES (99, :t)"),
                     {"t": "2030-01-01 00:00:00"})
    with pytest.raises(StoreError, match=rf"store schema version 99 is newer than this Bunraku knows \({SCHEMA_VERSION}\)"):
        Store.open(store_url)


def test_files_are_private(tmp_path: Path) -> None:
    db = tmp_path / "new" / "deeper" / "store.db"
    with Store.open(path=db) as store:
        store.save_facts("n1", {"a": 1})
        files = [db, db.with_name("store.db-wal"), db.with_name("store.db-shm")]
        for file in files:
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new" / "deeper").stat().st_mode) == 0o700


def test_an_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    Store.open(path=shared / "s.db").close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert stat.S_IMODE((shared / "s.db").stat().st_mode) == 0o600


# -- facts ----------------------------------------------------------------------------------------------------


def test_facts_keep_the_latest_delivery(store: Store) -> None:
    assert store.get_facts("n1") is None
    store.save_facts("n1", {"os": {"family": "Debian"}}, received_at=T0)
    store.save_facts("n1", {"os": {"family": "RedHat"}}, received_at=T0 + timedelta(minutes=5))
    store.save_facts("n1", {"os": {"family": "Stale"}}, received_at=T0 + timedelta(minutes=1))  # late delivery
    assert store.get_facts("n1") == {"os": {"family": "RedHat"}}
    [status] = store.node_statuses(now=T0)
    assert status.last_seen == T0 + timedelta(minutes=5) and status.status == "unreported"


def test_changed_facts_replace_a_nodes_own_whatever_the_other_nodes(store: Store) -> None:
    """Each node's facts are compared with its own last delivery, never another node's (on PostgreSQL a
    second node's changed facts failed to save; on SQLite a node whose neighbour reported later kept its
    old facts)."""
    store.save_facts("b", {"v": 1}, received_at=T0 + timedelta(minutes=10))
    store.save_facts("a", {"v": 1}, received_at=T0)
    store.save_facts("a", {"v": 2}, received_at=T0 + timedelta(minutes=1))
    store.save_facts("b", {"v": 2}, received_at=T0 + timedelta(minutes=11))
    assert (store.get_facts("a"), store.get_facts("b")) == ({"v": 2}, {"v": 2})


def test_nodes_with_fact(store: Store) -> None:
    store.save_facts("a", {"os": {"release": {"major": "12"}}, "processors": {"count": 4}, "is_virtual": True,
                           "networking": {"interfaces": [{"name": "eth0"}]}})
    store.save_facts("b", {"os": {"release": {"major": "11"}}, "processors": {"count": 4.5}, "is_virtual": False})
    store.save_facts("c", {"os": {"release": {"major": "12"}}, "processors": {"count": "4"}, "is_virtual": 1})
    store.save_facts("d", {"os": "weird"})
    assert store.nodes_with_fact("os.release.major", "12") == ["a", "c"]
    assert store.nodes_with_fact("processors.count", "4") == ["a", "c"]  # text from the CLI matches numbers
    assert store.nodes_with_fact("processors.count", 4) == ["a"]
    assert store.nodes_with_fact("processors.count", 4.5) == ["b"]
    assert store.nodes_with_fact("is_virtual", "true") == ["a"]
    assert store.nodes_with_fact("is_virtual", True) == ["a"]  # 1 is not true
    assert store.nodes_with_fact("networking.interfaces.0.name", "eth0") == ["a"]
    assert store.nodes_with_fact("os", {"release": {"major": "11"}}) == ["b"]
    assert store.nodes_with_fact("no.such.fact", "x") == []


# -- catalogs -------------------------------------------------------------------------------------------------


def test_catalogs_are_stored_redacted(store: Store) -> None:
    digest = store.save_catalog("web1", CATALOG, code_id="abc123", environment="production", compile_seconds=0.25)
    stored = store.get_catalog("web1")
    assert stored is not None
    params = {r["title"]: r["parameters"] for r in stored["resources"]}
    assert params["deploy"]["password"] == REDACTED
    assert params["/etc/app.conf"] == {"content": REDACTED, "mode": "0600"}
    assert params["nginx"] == {"ensure": "latest"}
    assert CATALOG["resources"][0]["parameters"]["password"] == "$6$hash"  # the caller's copy is untouched
    assert digest == catalog_digest(CATALOG) and len(digest) == 64
    assert store.get_catalog("nobody") is None


def test_the_digest_ignores_per_compilation_keys() -> None:
    again = {**CATALOG, "version": 1, "catalog_uuid": "u-2", "code_id": "def456"}
    assert catalog_digest(again) == catalog_digest(CATALOG)
    changed = {**CATALOG, "classes": ["base", "web"]}
    assert catalog_digest(changed) != catalog_digest(CATALOG)


def test_catalog_history_keeps_distinct_digests(store: Store) -> None:
    other = {**CATALOG, "classes": ["base", "web"]}
    a = store.save_catalog("web1", CATALOG, code_id="c1", environment="production", compiled_at=T0)
    store.save_catalog("web1", CATALOG, code_id="c2", environment="production", compiled_at=T0 + timedelta(hours=1))
    b = store.save_catalog("web1", other, code_id="c3", environment="production", compiled_at=T0 + timedelta(hours=2))
    store.save_catalog("web1", CATALOG, code_id="c4", environment="production", compiled_at=T0 + timedelta(hours=3))
    store.save_catalog("web2", other, code_id="c3", environment="production", compiled_at=T0)
    history = store.catalog_history("web1")
    assert [(h["digest"], h["code_id"], h["first_seen"], h["last_seen"]) for h in history] == [
        (a, "c4", T0, T0 + timedelta(hours=3)),
        (b, "c3", T0 + timedelta(hours=2), T0 + timedelta(hours=2)),
    ]
    assert store.catalog_history("web1", limit=1) == history[:1]
    assert store.get_catalog("web1")["classes"] == ["base"]  # type: ignore[index]
    # an older compilation finishing late replaces neither the latest catalog nor the history's last_seen
    store.save_catalog("web1", other, code_id="c0", environment="production", compiled_at=T0 - timedelta(hours=1))
    assert store.get_catalog("web1")["classes"] == ["base"]  # type: ignore[index]
    history = store.catalog_history("web1")
    assert history[1]["first_seen"] == T0 - timedelta(hours=1) and history[1]["last_seen"] == T0 + timedelta(hours=2)
    assert history[1]["code_id"] == "c3"


# -- reports --------------------------------------------------------------------------------------------------


def test_saving_a_report_twice_stores_it_once(store: Store) -> None:
    report = _report("n1", at=T0, status="changed", events=3, txn="txn-1")
    first = store.save_report(report)
    second = store.save_report(report)
    assert first == second
    assert store.reports("n1") == [report]
    assert len(store.report_events(first)) == 3
    [status] = store.node_statuses(now=T0)
    assert status.report_count == 1
    assert store.stats(since=T0 - timedelta(days=1))["runs"] == 1


def test_report_events(store: Store) -> None:
    report_id = store.save_report(_report("n1", at=T0, status="changed", events=2))
    assert store.report_events(report_id) == [
        {"resource": "File[/etc/motd]", "resource_type": "File", "property": "p0", "previous_value": {"old": 0},
         "desired_value": [0, "x"], "message": "changed p0", "status": "success", "corrective_change": False,
         "time": T0},
        {"resource": "File[/etc/motd]", "resource_type": "File", "property": "p1", "previous_value": {"old": 1},
         "desired_value": [1, "x"], "message": "changed p1", "status": "success", "corrective_change": False,
         "time": T0 + timedelta(seconds=1)},
    ]
    assert store.report_events(report_id + 1000) == []
    assert store.get_report(report_id)["host"] == "n1"  # type: ignore[index]


def test_reports_newest_first(store: Store) -> None:
    saved = [_report("n1", at=T0 + timedelta(minutes=m)) for m in (10, 0, 30, 20)]
    for report in saved:
        store.save_report(report)
    store.save_report(_report("n2", at=T0))
    times = [r["time"] for r in store.reports("n1")]
    assert times == sorted(times, reverse=True) and len(times) == 4
    assert [r["time"] for r in store.reports("n1", last=2)] == times[:2]
    assert store.reports("nobody") == []
    summaries = store.report_summaries("n1", last=2)
    assert [s["time"] for s in summaries] == [T0 + timedelta(minutes=30), T0 + timedelta(minutes=20)]
    assert len(store.report_summaries(last=100)) == 5


def test_a_report_without_transaction_uuid_is_still_idempotent(store: Store) -> None:
    report = _report("n1", at=T0)
    del report["transaction_uuid"]
    assert store.save_report(report) == store.save_report(dict(report))
    assert len(store.reports("n1")) == 1


def test_a_report_without_host_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="^cannot save report: report has no host$"):
        store.save_report({"status": "changed"})


# -- statuses and stats ---------------------------------------------------------------------------------------


def _fleet(store: Store) -> None:
    def save(report: dict[str, Any]) -> None:
        store.save_report(report, received_at=datetime.fromisoformat(report["time"]))

    save(_report("changed", at=T0, status="changed", events=2, code_id="c2"))
    save(_report("failed", at=T0, status="failed", events=1))
    save(_report("noop", at=T0, status="unchanged", noop=True, noop_pending=True, events=1))
    save(_report("unchanged", at=T0, environment="staging", corrective=True))
    save(_report("gone", at=T0 - timedelta(hours=3), status="changed"))
    store.heartbeat("new", at=T0, group="canary")
    store.save_catalog("new", CATALOG, code_id="c9", environment="production", compiled_at=T0)
    # a late, older report never replaces a newer one as the node's latest
    save(_report("changed", at=T0 - timedelta(hours=2), status="failed"))


def test_node_statuses(store: Store) -> None:
    _fleet(store)
    store.set_node_group("failed", "web")
    statuses = {s.name: s for s in store.node_statuses(now=T0 + timedelta(minutes=10))}
    assert {name: s.status for name, s in statuses.items()} == {
        "changed": "changed", "failed": "failed", "noop": "noop-pending", "unchanged": "unchanged",
        "gone": "unresponsive", "new": "unreported",
    }
    assert statuses["changed"] == NodeStatus(
        name="changed", status="changed", last_run=T0, last_seen=statuses["changed"].last_seen, code_id="c2",
        environment="production", group=None, report_count=2)
    assert statuses["changed"].last_seen == T0
    assert statuses["unchanged"].environment == "staging"
    assert statuses["new"].group == "canary" and statuses["new"].code_id == "c9"
    assert statuses["new"].last_run is None and statuses["new"].report_count == 0
    assert statuses["failed"].group == "web"
    assert statuses["gone"].last_run == T0 - timedelta(hours=3)
    # with a longer grace period, nothing is unresponsive; much later, everything is
    later = {s.name: s.status for s in store.node_statuses(unresponsive_after=timedelta(days=1), now=T0)}
    assert later["gone"] == "changed"
    assert {s.status for s in store.node_statuses(now=T0 + timedelta(days=2))} == {"unresponsive"}


def test_groups(store: Store) -> None:
    store.set_node_group("lonely", "g1")  # a node named before it ever called in
    store.heartbeat("n1", at=T0, group="g2")
    store.heartbeat("n1", at=T0 + timedelta(minutes=1))  # no group: keeps it
    statuses = {s.name: s for s in store.node_statuses(now=T0)}
    assert statuses["lonely"].group == "g1" and statuses["lonely"].last_seen is None
    assert statuses["lonely"].status == "unresponsive"
    assert statuses["n1"].group == "g2" and statuses["n1"].last_seen == T0 + timedelta(minutes=1)
    store.set_node_group("n1", None)
    assert {s.name: s.group for s in store.node_statuses()}["n1"] is None


def test_stats(store: Store) -> None:
    _fleet(store)
    stats = store.stats(since=T0 - timedelta(hours=1), now=T0 + timedelta(minutes=10))
    assert stats == {
        "since": T0 - timedelta(hours=1), "runs": 4, "changed": 1, "failed": 1, "unchanged": 2,
        "noop_pending": 1, "corrective_changes": 1, "events": 4, "nodes_reporting": 4,
        "nodes": {"unchanged": 1, "changed": 1, "failed": 1, "noop-pending": 1, "unresponsive": 1, "unreported": 1},
        "node_total": 6,
    }
    assert store.stats(since=T0 + timedelta(days=1))["runs"] == 0


def test_node_statuses_is_one_query(store: Store) -> None:
    for i in range(30):
        store.save_report(_report(f"n{i:02}", at=T0, events=1))
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        assert len(store.node_statuses(now=T0)) == 30
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    assert len(statements) == 1


def test_times_come_back_as_aware_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    store.heartbeat("n1", at=datetime(2024, 5, 1, 14, 0, tzinfo=paris))
    store.heartbeat("n2", at=datetime(2024, 5, 1, 12, 0))  # naive: taken as UTC
    statuses = {s.name: s for s in store.node_statuses(now=T0)}
    assert statuses["n1"].last_seen == T0 and statuses["n1"].last_seen.tzinfo == UTC  # type: ignore[union-attr]
    assert statuses["n2"].last_seen == T0 and statuses["n2"].status == "unreported"


# -- migrations -----------------------------------------------------------------------------------------------

V1_DDL = """
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at {ts} NOT NULL);
CREATE TABLE nodes (name VARCHAR(255) PRIMARY KEY, environment VARCHAR(255), first_seen {ts} NOT NULL,
    last_seen {ts}, facts_at {ts}, catalog_at {ts});
CREATE TABLE facts (node VARCHAR(255) PRIMARY KEY, environment VARCHAR(255), received_at {ts} NOT NULL,
    facts {json} NOT NULL);
CREATE TABLE catalogs (node VARCHAR(255) PRIMARY KEY, digest VARCHAR(64) NOT NULL, code_id VARCHAR(255),
    environment VARCHAR(255), compiled_at {ts} NOT NULL, compile_seconds FLOAT, catalog {json} NOT NULL);
CREATE TABLE catalog_history (id {id}, node VARCHAR(255) NOT NULL, digest VARCHAR(64) NOT NULL,
    code_id VARCHAR(255), first_seen {ts} NOT NULL, last_seen {ts} NOT NULL,
    CONSTRAINT uq_catalog_history_node_digest UNIQUE (node, digest));
CREATE INDEX ix_catalog_history_node_last_seen ON catalog_history (node, last_seen);
CREATE TABLE reports (id {id}, transaction_uuid VARCHAR(64) NOT NULL, node VARCHAR(255) NOT NULL,
    time {ts} NOT NULL, received_at {ts} NOT NULL, environment VARCHAR(255), code_id VARCHAR(255),
    configuration_version VARCHAR(255), catalog_uuid VARCHAR(64), status VARCHAR(16) NOT NULL,
    noop BOOLEAN NOT NULL, document {json} NOT NULL,
    CONSTRAINT uq_reports_transaction_uuid UNIQUE (transaction_uuid));
CREATE INDEX ix_reports_node_time ON reports (node, time);
INSERT INTO schema_version VALUES (1, '2024-01-01 00:00:00');
INSERT INTO nodes (name, environment, first_seen, last_seen) VALUES ('old1', 'production', '2024-05-01 11:00:00',
    '2024-05-01 12:00:00');
INSERT INTO facts VALUES ('old1', 'production', '2024-05-01 11:00:00', '{{"os": {{"family": "Debian"}}}}');
"""


def _create_v1_store(url: str) -> None:
    """A store as Bunraku's first schema left it, written by hand (not by the migration code)."""
    engine = sa.create_engine(url)
    postgres = engine.dialect.name == "postgresql"
    types = ({"ts": "TIMESTAMP WITH TIME ZONE", "json": "JSONB", "id": "BIGSERIAL PRIMARY KEY"} if postgres else
             {"ts": "DATETIME", "json": "JSON", "id": "INTEGER PRIMARY KEY AUTOINCREMENT"})
    insert_report = sa.text(
        "INSERT INTO reports (transaction_uuid, node, time, received_at, environment, code_id, status, noop, "
        "document) VALUES (:txn, 'old1', :time, :time, 'production', 'c1', :status, :noop, :doc)")
    with engine.begin() as conn:
        for statement in V1_DDL.format(**types).split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)
        for txn, minute, status, events in (("t-a", 0, "changed", 2), ("t-b", 30, "unchanged", 1)):
            at = T0 - timedelta(hours=1) + timedelta(minutes=minute)
            doc = _report("old1", at=at, status=status, noop=status == "unchanged", noop_pending=True,
                          events=events, txn=txn)
            conn.execute(insert_report.bindparams(sa.bindparam("doc", type_=store_schema.JSONDocument)),
                         {"txn": txn, "time": at.strftime("%Y-%m-%d %H:%M:%S"), "status": status,
                          "noop": status == "unchanged", "doc": doc})
    engine.dispose()


def test_a_version_1_store_is_upgraded(store_url: str) -> None:
    _create_v1_store(store_url)
    with Store.open(store_url) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.get_facts("old1") == {"os": {"family": "Debian"}}
        [status] = store.node_statuses(now=T0)
        assert (status.status, status.report_count, status.last_run) == ("noop-pending", 2,
                                                                         T0 - timedelta(minutes=30))
        [newest, oldest] = store.report_summaries("old1")
        assert (newest["event_count"], oldest["event_count"]) == (1, 2)
        assert [e["property"] for e in store.report_events(oldest["id"])] == ["p0", "p1"]
        assert store.stats(since=T0 - timedelta(days=1))["events"] == 3
        # and it works as a new store does from here on
        store.save_report(_report("old1", at=T0, status="changed"))
        assert store.node_statuses(now=T0)[0].status == "changed"
    _assert_schema_matches_the_tables(store_url)


def _assert_schema_matches_the_tables(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        assert set(inspector.get_table_names()) == set(store_schema.metadata.tables)
        for name, table in store_schema.metadata.tables.items():
            assert {c["name"] for c in inspector.get_columns(name)} == {c.name for c in table.columns}, name
            indexes = {i["name"] for i in inspector.get_indexes(name)} - {None}
            wanted = {i.name for i in table.indexes}
            assert wanted <= indexes, name
            unique = {u["name"] for u in inspector.get_unique_constraints(name)}
            assert {c.name for c in table.constraints if isinstance(c, sa.UniqueConstraint)} <= unique | indexes
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_tables(store_url: str) -> None:
    Store.open(store_url).close()
    _assert_schema_matches_the_tables(store_url)


def test_an_agents_disabled_state_is_kept_until_it_is_enabled_or_runs(store_url: str) -> None:
    from master.store import migrations

    kept_since = next(v for v, migrate in migrations.MIGRATIONS if migrate is migrations._v9_agent_disabled)
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:  # a store from before the disabled state was kept
        migrations.upgrade(conn, to=kept_since - 1)
    engine.dispose()
    with Store.open(store_url) as store:
        store.save_report(_report("web1", at=T0 - timedelta(minutes=10)))
        assert store.note_agent_disabled("web1", "kernel upgrade", at=T0 - timedelta(minutes=5))
        assert not store.note_agent_disabled("web1", "kernel upgrade", at=T0)  # the same: nothing changes
        assert store.note_agent_disabled("new1", "", at=T0)  # not seen before: recorded, no contact
        statuses = {s.name: s for s in store.node_statuses(now=T0)}
        assert (statuses["web1"].disabled, statuses["web1"].disabled_since) == ("kernel upgrade",
                                                                                 T0 - timedelta(minutes=5))
        assert (statuses["new1"].disabled, statuses["new1"].status) == ("", "unresponsive")
        store.save_report(_report("web1", at=T0 - timedelta(minutes=7)))  # a spooled run from before
        assert {s.name: s.disabled for s in store.node_statuses(now=T0)}["web1"] == "kernel upgrade"
        store.save_report(_report("new1", at=T0 + timedelta(minutes=1)))  # it ran: enabled since
        assert store.note_agent_disabled("web1", None)
        assert [(s.name, s.disabled, s.disabled_since) for s in store.node_statuses(now=T0)] == [
            ("new1", None, None), ("web1", None, None)]


# -- PostgreSQL connection loss -------------------------------------------------------------------------------


@needs_pg
@pytest.mark.parametrize("pre_ping", [True, False], ids=["pre-ping", "retry"])
def test_a_lost_postgresql_connection_is_replaced(pre_ping: bool) -> None:
    pg = PgSchema()
    app = pg.name
    try:
        with Store.open(pg.url(application_name=app)) as store:
            store.heartbeat("n1")
            store.engine.pool._pre_ping = pre_ping  # without it, the store's own retry has to cope
            with pg.admin.begin() as conn:
                killed = conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                              "WHERE application_name = :app"), {"app": app}).scalars().all()
            assert killed and all(killed)
            store.save_facts("n1", {"after": "loss"})
            assert store.get_facts("n1") == {"after": "loss"}
    finally:
        pg.drop()


@needs_pg
def test_a_store_bounds_how_long_an_idle_transaction_holds_its_locks() -> None:
    pg = PgSchema()
    bounded = (f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}?options=-csearch_path%3D{pg.name}"
               "%20-cidle_in_transaction_session_timeout%3D1000")
    try:
        with Store.open(bounded) as configured, configured.engine.connect() as conn:  # a bound set is kept
            assert conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar() == "1s"
        with Store.open(pg.url()) as hung, Store.open(pg.url()) as other:
            other.heartbeat("n1")
            # a master stopped between a write and its commit (SIGSTOP, swapped out) holds its row lock
            conn = hung.engine.connect()
            try:
                assert conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar() == "5s"
                conn.exec_driver_sql("SELECT 1 FROM nodes WHERE name = 'n1' FOR UPDATE")
                done = threading.Event()
                writer = threading.Thread(target=lambda: (other.heartbeat("n1"), done.set()), daemon=True)
                writer.start()
                # the other master's write to that row goes through once the server ends the idle session
                assert done.wait(30), "a write waited on the lock of a session idle in its transaction"
            finally:
                with contextlib.suppress(sa.exc.DBAPIError):
                    conn.close()
            hung.heartbeat("n2")  # its ended session is replaced
            assert {s.name for s in other.node_statuses(now=T0)} >= {"n1", "n2"}
    finally:
        pg.drop()


# -- concurrency (SQLite) ---------------------------------------------------------------------------------


def test_concurrent_writers_in_threads(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    with Store.open(path=tmp_path / "s.db") as store:
        def writer(worker: int) -> None:
            try:
                for i in range(50):
                    node = f"w{worker}"
                    if i % 3 == 0:
                        store.save_facts(node, {"i": i})
                    elif i % 3 == 1:
                        store.heartbeat(node)
                    else:
                        store.save_report(_report(node, at=T0 + timedelta(seconds=i), events=2))
            except BaseException as exc:  # collected for the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        statuses = store.node_statuses(now=T0)
        assert len(statuses) == 8 and {s.report_count for s in statuses} == {16}


def _process_writer(path: str, worker: int, count: int) -> int:
    with Store.open(path=Path(path)) as store:
        for i in range(count):
            store.save_report(_report(f"p{worker}", at=T0 + timedelta(seconds=i), events=1))
    return count


def test_concurrent_writers_in_processes(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path=path) as store:
        store.heartbeat("parent")
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=4, mp_context=context) as pool:
            futures = [pool.submit(_process_writer, str(path), w, 50) for w in range(4)]
            # meanwhile the parent writes too
            for i in range(50):
                store.heartbeat("parent", at=T0 + timedelta(seconds=i))
            assert [f.result(timeout=60) for f in futures] == [50] * 4
        statuses = {s.name: s.report_count for s in store.node_statuses()}
        assert statuses == {"parent": 0, "p0": 50, "p1": 50, "p2": 50, "p3": 50}
        assert store.stats(since=T0)["events"] == 200


def test_a_writer_waits_for_a_lock_held_elsewhere(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "s.db"
    with Store.open(path=path) as store:
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO nodes (name, first_seen) VALUES ('other', '2024-05-01 00:00:00')")
        timer = threading.Timer(0.3, other.execute, args=("COMMIT",))
        timer.start()
        store.heartbeat("n1", at=T0)  # blocks until the other writer commits, then succeeds
        timer.join()
        other.close()
        assert {s.name for s in store.node_statuses()} == {"n1", "other"}


def test_a_catalog_given_as_its_json_text_is_stored_as_it_is(store: Store) -> None:
    """A compile worker's catalog that needed no redaction reaches the store as the very JSON it sent the
    agent: stored without being parsed or encoded again, and read back as the same document."""
    catalog = {"name": "web01", "version": "1", "code_id": "c1", "resources": [
        {"type": "File", "title": "/etc/motd", "parameters": {"content": "é ünicode \u2713", "mode": "0644"}}],
        "edges": [], "tags": ["a"]}
    text = json.dumps(catalog, separators=(",", ":"), ensure_ascii=False).encode()
    asked: list[bool] = []

    def document() -> bytes:
        asked.append(True)
        return text

    for node in ("web01", "web02"):  # the second finds the digest stored: the text is not asked for again
        store.save_catalog_digest(node, "d" * 64, {"version": "1", "code_id": "c1"}, document,
                                  code_id="c1", environment="production")
    assert asked == [True]
    assert store.get_catalog("web01") == store.get_catalog("web02")
    assert store.get_catalog("web01")["resources"] == catalog["resources"]  # type: ignore[index]
