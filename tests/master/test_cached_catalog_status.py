"""A run on a cached catalog after the new one could not be had is shown as such, never as plain success."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from master.fleet import nodes_table
from master.store import Store
from tests.master.test_store import T0, _report


def test_nodes_say_when_the_latest_run_used_a_cached_catalog(tmp_path: Path) -> None:
    with Store.open(path=tmp_path / "s.db") as store:
        fell_back = _report("web01", at=T0)
        fell_back["cached_catalog_status"] = "on_failure"
        store.save_report(fell_back, received_at=T0)
        store.save_report(_report("web02", at=T0), received_at=T0)
        statuses = {s.name: s for s in store.node_statuses(now=T0 + timedelta(minutes=1))}
    assert statuses["web01"].status == "unchanged" and statuses["web01"].cached_catalog == "on_failure"
    assert statuses["web02"].cached_catalog is None
    rows = nodes_table([{"name": s.name, "status": s.status, "last_run": None, "code_id": s.code_id,
                         "environment": s.environment, "group": s.group, "report_count": s.report_count,
                         "cached_catalog": s.cached_catalog} for s in statuses.values()])
    [web01] = [r for r in rows if r.startswith("web01")]
    [web02] = [r for r in rows if r.startswith("web02")]
    assert "unchanged (on cached catalog: catalog retrieval failed)" in web01
    assert "cached" not in web02


def test_what_nodes_say_of_themselves_reaches_the_terminal_escaped() -> None:
    rows = nodes_table([{"name": "web01", "status": "unchanged", "last_run": None, "code_id": None,
                         "environment": "production", "group": "web", "report_count": 1,
                         "disabled": "maintenance\x1b]0;owned\x07", "agent_version": "0.1.0\x1b[2J\r"}])
    assert not any(ch in row for row in rows for ch in "\x1b\x07\r")
    assert "maintenance\\x1b]0;owned\\x07" in rows[1] and "0.1.0\\x1b[2J\\r" in rows[1]
