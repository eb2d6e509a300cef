"""A bounded store (schema version 7): each distinct catalog stored once, unchanged facts not rewritten,
reports expired after a TTL, silent nodes deactivated and deactivated ones purged, one master at a time
running the job (a lease). Every test runs on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from master.store import SCHEMA_VERSION, Store, migrations
from master.store.schema import catalog_documents, catalog_history, events, facts, nodes, reports
from tests.master.test_store import T0, _report, store_url  # noqa: F401 - store_url is a fixture


def _catalog(node: str, *, version: int = 1, content: str = "same") -> dict[str, Any]:
    return {"name": node, "version": version, "catalog_uuid": f"uuid-{node}-{version}", "code_id": f"c{version}",
            "environment": "production",
            "resources": [{"type": "File", "title": f"/etc/f{i}", "parameters": {"content": f"{content}{i}"}}
                          for i in range(20)]}


def _count(store: Store, table: sa.Table, *where: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())


def test_unchanged_catalogs_are_stored_once_per_node(store_url: str) -> None:  # noqa: F811
    with Store.open(store_url) as store:
        for compile_no in range(20):
            for n in range(5):
                store.save_catalog(f"n{n}", _catalog(f"n{n}", version=compile_no), code_id=f"c{compile_no}",
                                   environment="production", compiled_at=T0 + timedelta(minutes=compile_no))
        assert _count(store, catalog_documents) == 5
        latest = store.get_catalog("n3")
        assert latest is not None
        # the document is shared, the per-compilation keys are the latest compile's
        assert (latest["version"], latest["catalog_uuid"], latest["code_id"]) == (19, "uuid-n3-19", "c19")
        assert latest["resources"][0]["parameters"]["content"] == "same0"
        [entry] = store.catalog_history("n3")
        assert entry["first_seen"] == T0 and entry["last_seen"] == T0 + timedelta(minutes=19)


def test_changed_catalogs_keep_a_bounded_history(store_url: str) -> None:  # noqa: F811
    with Store.open(store_url) as store:
        for i in range(12):
            store.save_catalog("web", _catalog("web", version=i, content=f"v{i}-"), code_id=f"c{i}",
                               environment="production", compiled_at=T0 + timedelta(minutes=i))
        assert _count(store, catalog_documents) == 12
        gone = store.maintain(now=T0 + timedelta(hours=1), history_per_node=3)
        assert (gone["history"], gone["documents"]) == (9, 9)
        assert [h["code_id"] for h in store.catalog_history("web")] == ["c11", "c10", "c9"]
        assert _count(store, catalog_documents) == 3
        assert store.get_catalog("web")["resources"][0]["parameters"]["content"] == "v11-0"  # type: ignore[index]


def test_unchanged_facts_are_not_rewritten_and_a_late_delivery_never_wins(store_url: str) -> None:  # noqa: F811
    def facts_row(store: Store) -> Any:
        with store.engine.connect() as conn:
            return conn.execute(sa.select(facts.c.received_at, facts.c.facts).where(facts.c.node == "n1")).one()

    def facts_at(store: Store) -> Any:
        with store.engine.connect() as conn:
            return conn.execute(sa.select(nodes.c.facts_at).where(nodes.c.name == "n1")).scalar_one()

    with Store.open(store_url) as store:
        store.save_facts("n1", {"a": 1}, received_at=T0)
        store.save_facts("n1", {"a": 1}, received_at=T0 + timedelta(minutes=30))
        assert facts_row(store).received_at == T0  # the document was not written again
        assert facts_at(store) == T0 + timedelta(minutes=30)  # but the node's contact moved on
        store.save_facts("n1", {"a": 2}, received_at=T0 + timedelta(minutes=10))  # older than the newest
        assert store.get_facts("n1") == {"a": 1}
        store.save_facts("n1", {"a": 3}, received_at=T0 + timedelta(minutes=40))
        assert store.get_facts("n1") == {"a": 3} and facts_row(store).received_at == T0 + timedelta(minutes=40)


def test_reports_expire_after_their_ttl_but_each_nodes_latest_stays(store_url: str) -> None:  # noqa: F811
    with Store.open(store_url) as store:
        for day in range(20):
            store.save_report(_report("old", at=T0 - timedelta(days=40 - day), events=2))
        for day in range(20):
            store.save_report(_report("busy", at=T0 - timedelta(days=day), events=2))
        gone = store.maintain(now=T0, report_ttl=timedelta(days=14), batch=7)
        # "busy": the runs of the last 14 days stay (day 14 is exactly at the cutoff: it stays); "old": its latest
        assert gone["reports"] == 19 + 5
        assert len(store.reports("busy", last=100)) == 15
        [latest] = store.reports("old", last=100)
        assert latest["time"] == (T0 - timedelta(days=21)).isoformat().replace("+00:00", "Z")
        assert _count(store, events) == 2 * 16  # their events went with them
        statuses = {s.name: s for s in store.node_statuses(now=T0)}
        assert statuses["old"].last_run == T0 - timedelta(days=21)


def test_silent_nodes_are_deactivated_then_purged_and_contact_reactivates(store_url: str) -> None:  # noqa: F811
    with Store.open(store_url) as store:
        for name, seen in (("gone", T0 - timedelta(days=10)), ("back", T0 - timedelta(days=10)), ("live", T0)):
            store.save_facts(name, {"n": name}, received_at=seen)
            store.save_catalog(name, _catalog(name, content=name), code_id="c1", environment="production",
                               compiled_at=seen)
            store.save_report(_report(name, at=seen, events=1), received_at=seen)
            store.save_exported(name, "production", [{"type": "Sshkey", "title": name, "exported": True,
                                                      "parameters": {"key": name}}], at=seen)
        version_before = store.exported_version("production")
        assert store.maintain(now=T0, node_ttl=timedelta(days=7))["deactivated"] == 2
        assert [s.name for s in store.node_statuses(now=T0)] == ["live"]
        assert {s.name for s in store.node_statuses(now=T0, include_deactivated=True)} == {"gone", "back", "live"}
        assert [r["node"] for r in store.exported_resources("Sshkey", "production")] == ["live"]
        assert store.exported_version("production") != version_before  # cached catalogs that collected are stale

        store.heartbeat("back", at=T0 + timedelta(minutes=1))  # a deactivated node that talks again is back
        assert {s.name for s in store.node_statuses(now=T0 + timedelta(minutes=1))} == {"back", "live"}

        # not yet: deactivated for a day only
        assert store.maintain(now=T0 + timedelta(days=1), node_purge_ttl=timedelta(days=14))["purged"] == 0
        gone = store.maintain(now=T0 + timedelta(days=15), node_purge_ttl=timedelta(days=14))
        assert gone["purged"] == 1 and gone["documents"] == 1
        assert store.get_facts("gone") is None and store.get_catalog("gone") is None
        assert store.reports("gone") == [] and store.catalog_history("gone") == []
        assert _count(store, nodes, nodes.c.name == "gone") == 0
        assert _count(store, events, events.c.node == "gone") == 0
        assert store.get_catalog("back") is not None and store.get_facts("back") == {"n": "back"}


def test_deactivating_a_node_by_name(store_url: str) -> None:  # noqa: F811
    with Store.open(store_url) as store:
        store.heartbeat("web01", at=T0)
        assert store.deactivate_node("web01", at=T0 + timedelta(minutes=1))
        assert store.deactivate_node("web01")  # already: still known
        assert not store.deactivate_node("nobody")
        assert store.node_statuses(now=T0) == []
        store.save_report(_report("web01", at=T0 + timedelta(minutes=5)))  # a run brings it back
        assert [s.name for s in store.node_statuses(now=T0 + timedelta(minutes=5))] == ["web01"]


def test_one_master_holds_the_maintenance_lease(store_url: str) -> None:  # noqa: F811
    with Store.open(store_url) as a, Store.open(store_url) as b:
        assert a.take_lease("maintenance", "master-a", 60, now=T0)
        assert not b.take_lease("maintenance", "master-b", 60, now=T0 + timedelta(seconds=30))
        assert a.take_lease("maintenance", "master-a", 60, now=T0 + timedelta(seconds=30))  # renewed
        assert not b.take_lease("maintenance", "master-b", 60, now=T0 + timedelta(seconds=80))
        assert b.take_lease("maintenance", "master-b", 60, now=T0 + timedelta(seconds=91))  # a's has run out
        assert not a.take_lease("maintenance", "master-a", 60, now=T0 + timedelta(seconds=100))


def test_a_version_6_store_keeps_its_catalogs(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    doc = _catalog("web", version=7)
    with engine.begin() as conn:  # a version 6 store holding two nodes' catalogs
        migrations.upgrade(conn, to=6)
        for node in ("web", "db"):
            conn.execute(sa.text("INSERT INTO catalogs (node, digest, code_id, environment, compiled_at, catalog) "
                                 "VALUES (:node, 'd1', 'c7', 'production', '2024-05-01 12:00:00', :doc)"),
                         {"node": node, "doc": json.dumps(doc)})
    engine.dispose()
    with Store.open(path=path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.get_catalog("web") == doc and store.get_catalog("db") == doc
        assert _count(store, catalog_documents) == 1  # one digest: one document


def test_twenty_thousand_unchanged_compiles_cost_one_catalog_per_node(tmp_path: Path) -> None:
    """The figure the retention design promises: 1,000 nodes compiled 20 times with nothing changed keep
    1,000 catalog documents and 1,000 history rows, and the file is about what one round made."""
    path = tmp_path / "s.db"
    with Store.open(path=path) as store:
        sizes = []
        for compile_no in range(20):
            for n in range(1000):
                store.save_catalog(f"n{n:04}", _catalog(f"n{n:04}", version=compile_no), code_id="c1",
                                   environment="production", compiled_at=T0 + timedelta(minutes=compile_no))
            if compile_no in (0, 19):
                with store.engine.begin() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                sizes.append(path.stat().st_size)
        assert _count(store, catalog_documents) == 1000
        assert _count(store, catalog_history) == 1000
        assert _count(store, reports) == 0
        assert sizes[1] < sizes[0] * 1.25, sizes
