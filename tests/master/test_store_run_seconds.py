"""Schema version 4: a report's run time is a column, filled on save and by the migration."""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa

from master.store import Store
from master.store.documents import run_seconds


def _report(node: str, total: float | None) -> dict:
    metrics = {"time": {"values": [["file", "File", 0.2], ["total", "Total", total]]}} if total is not None else {}
    return {"host": node, "time": "2026-11-25T12:00:00+00:00", "transaction_uuid": str(uuid.uuid4()),
            "status": "changed", "noop": False, "resource_statuses": {}, "metrics": metrics}


def test_run_seconds_is_read_from_puppet_and_plain_metrics() -> None:
    assert run_seconds(_report("a", 1.5)) == 1.5
    assert run_seconds({"metrics": {"time": {"total": 2}}}) == 2.0
    assert run_seconds({"metrics": {}}) is None and run_seconds(None) is None


def test_saved_reports_carry_their_run_time(tmp_path: Path) -> None:
    store = Store.open(path=tmp_path / "s.db")
    store.save_report(_report("web01", 3.25))
    store.save_report(_report("web02", None))
    with store.engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT node, run_seconds FROM reports")).all())
    assert rows == {"web01": 3.25, "web02": None}


def test_the_migration_fills_the_column_from_stored_documents(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store.open(path=path)
    store.save_report(_report("web01", 4.5))
    with store.engine.begin() as conn:  # make it look like a version 3 store
        conn.execute(sa.text("UPDATE reports SET run_seconds = NULL"))
        conn.execute(sa.text("ALTER TABLE reports DROP COLUMN run_seconds"))
        conn.execute(sa.text("DROP TABLE exported_resources"))  # version 5
        conn.execute(sa.text("DELETE FROM schema_version WHERE version >= 4"))
    store.close()
    reopened = Store.open(path=path)
    with reopened.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT run_seconds FROM reports")).scalar_one() == 4.5
