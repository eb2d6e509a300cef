"""Schema version 4: a report's run time is a column, filled on save and by the migration."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import sqlalchemy as sa

from master.store import Store, migrations
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
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # a version 3 store holding one report
        migrations.upgrade(conn, to=3)
        conn.execute(sa.text("INSERT INTO reports (transaction_uuid, node, time, received_at, status, noop, document) "
                             "VALUES ('t1', 'web01', '2026-11-25 12:00:00', '2026-11-25 12:00:00', 'changed', 0, "
                             ":doc)"), {"doc": json.dumps(_report("web01", 4.5))})
    engine.dispose()
    reopened = Store.open(path=path)
    with reopened.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT run_seconds FROM reports")).scalar_one() == 4.5
