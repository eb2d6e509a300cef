"""Ordered schema migrations: opening a store brings it to ``SCHEMA_VERSION``.

Each migration is a function of a connection inside the upgrade's one transaction (SQLite and PostgreSQL
both have transactional DDL, so a failed upgrade leaves the old schema whole). Migrations describe the
tables as they were at their version, in their own ``MetaData`` snapshots, and never use ``schema.py``:
the current tables will move on, old migrations must not. Adding one: write ``_vN(conn)``, append it to
``MIGRATIONS``, change ``schema.py`` to match (``test_migrated_schema_matches_the_tables`` checks).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateColumn

from master.store.documents import report_events, summarize_report
from master.store.errors import StoreError, StoreMissing
from master.store.schema import BigID, JSONDocument, Name, UTCDateTime

log = logging.getLogger(__name__)

#: Key of the PostgreSQL advisory lock that serializes masters upgrading one shared store.
_UPGRADE_LOCK_KEY = 0x42554E52  # "BUNR"


# -- version 1: facts, catalogs and their history, reports as documents ---------------------------------------

_v1 = sa.MetaData()
sa.Table(
    "schema_version", _v1,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)
sa.Table(
    "nodes", _v1,
    sa.Column("name", Name, primary_key=True),
    sa.Column("environment", Name),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime),
    sa.Column("facts_at", UTCDateTime),
    sa.Column("catalog_at", UTCDateTime),
)
sa.Table(
    "facts", _v1,
    sa.Column("node", Name, primary_key=True),
    sa.Column("environment", Name),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("facts", JSONDocument, nullable=False),
)
sa.Table(
    "catalogs", _v1,
    sa.Column("node", Name, primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("code_id", Name),
    sa.Column("environment", Name),
    sa.Column("compiled_at", UTCDateTime, nullable=False),
    sa.Column("compile_seconds", sa.Float),
    sa.Column("catalog", JSONDocument, nullable=False),
)
sa.Table(
    "catalog_history", _v1,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("node", Name, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("code_id", Name),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.UniqueConstraint("node", "digest", name="uq_catalog_history_node_digest"),
    sa.Index("ix_catalog_history_node_last_seen", "node", "last_seen"),
)
sa.Table(
    "reports", _v1,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("transaction_uuid", sa.String(64), nullable=False),
    sa.Column("node", Name, nullable=False),
    sa.Column("time", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("environment", Name),
    sa.Column("code_id", Name),
    sa.Column("configuration_version", Name),
    sa.Column("catalog_uuid", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("noop", sa.Boolean, nullable=False),
    sa.Column("document", JSONDocument, nullable=False),
    sa.UniqueConstraint("transaction_uuid", name="uq_reports_transaction_uuid"),
    sa.Index("ix_reports_node_time", "node", "time"),
)


def _v1_base(conn: Connection) -> None:
    _v1.create_all(conn)


# -- version 2: events in their own table, report summaries, node groups and latest-run columns ------------

_v2 = sa.MetaData()
_v2_node_columns = sa.Table(
    "nodes", _v2,
    sa.Column("name", Name, primary_key=True),
    sa.Column("group_name", Name),
    sa.Column("last_run", UTCDateTime),
    sa.Column("latest_report_id", BigID),
    sa.Column("report_count", sa.Integer, nullable=False, server_default="0"),
)
_v2_report_columns = sa.Table(
    "reports", _v2,
    sa.Column("id", BigID, primary_key=True),
    sa.Column("node", Name, nullable=False),
    sa.Column("time", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("document", JSONDocument, nullable=False),
    sa.Column("noop_pending", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("corrective_change", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("cached_catalog_status", sa.String(32)),
    sa.Column("event_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("change_count", sa.Integer, nullable=False, server_default="0"),
)
_v2_events = sa.Table(
    "events", _v2,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("report_id", BigID, sa.ForeignKey("reports.id", ondelete="CASCADE"), nullable=False),
    sa.Column("node", Name, nullable=False),
    sa.Column("time", UTCDateTime, nullable=False),
    sa.Column("resource", sa.Text, nullable=False),
    sa.Column("resource_type", Name),
    sa.Column("property", Name),
    sa.Column("previous_value", JSONDocument),
    sa.Column("desired_value", JSONDocument),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("corrective_change", sa.Boolean, nullable=False),
    sa.Index("ix_events_report_id", "report_id"),
    sa.Index("ix_events_node_time", "node", "time"),
    sa.Index("ix_events_time_status", "time", "status"),
)


def _add_columns(conn: Connection, table: sa.Table, names: list[str]) -> None:
    quoted = conn.dialect.identifier_preparer.quote(table.name)
    for name in names:
        spec = CreateColumn(table.c[name]).compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE {quoted} ADD COLUMN {spec}")


def _v2_events_and_summaries(conn: Connection) -> None:
    _add_columns(conn, _v2_node_columns, ["group_name", "last_run", "latest_report_id", "report_count"])
    _add_columns(conn, _v2_report_columns,
                 ["noop_pending", "corrective_change", "cached_catalog_status", "event_count", "change_count"])
    _v2_events.create(conn)
    conn.exec_driver_sql("CREATE INDEX ix_reports_time_status ON reports (time, status)")

    # Backfill from the documents version 1 kept whole.
    r, n = _v2_report_columns, _v2_node_columns
    latest: dict[str, tuple[datetime, int]] = {}
    counts: dict[str, int] = {}
    rows = conn.execute(sa.select(r.c.id, r.c.node, r.c.time, r.c.received_at, r.c.document).order_by(r.c.id))
    for row in rows.all():
        document = row.document or {}
        try:
            summary = summarize_report({"host": row.node, **document}, received_at=row.received_at)
        except ValueError:
            continue
        conn.execute(sa.update(r).where(r.c.id == row.id).values(
            noop_pending=summary.noop_pending, corrective_change=summary.corrective_change,
            cached_catalog_status=summary.cached_catalog_status, event_count=summary.event_count,
            change_count=summary.change_count))
        found = [dict(e, report_id=row.id, node=row.node) for e in report_events(document, default_time=row.time)]
        if found:
            conn.execute(sa.insert(_v2_events), found)
        counts[row.node] = counts.get(row.node, 0) + 1
        if row.node not in latest or (row.time, row.id) >= latest[row.node]:
            latest[row.node] = (row.time, row.id)
    for node, (time, report_id) in latest.items():
        conn.execute(sa.update(n).where(n.c.name == node).values(
            last_run=time, latest_report_id=report_id, report_count=counts[node]))


# -- version 3: release control (assigned releases, rollouts, their nodes and timelines) ----------------------

_v3 = sa.MetaData()
sa.Table(
    "node_releases", _v3,
    sa.Column("node", Name, primary_key=True),
    sa.Column("environment", Name, primary_key=True),
    sa.Column("code_id", Name, nullable=False),
    sa.Column("previous_code_id", Name),
    sa.Column("rollout_id", BigID),
    sa.Column("assigned_at", UTCDateTime, nullable=False),
)
sa.Table(
    "rollouts", _v3,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("code_id", Name, nullable=False),
    sa.Column("environment", Name, nullable=False),
    sa.Column("group_name", Name),
    sa.Column("options", JSONDocument, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("current_wave", sa.Integer, nullable=False, server_default="0"),
    sa.Column("wave_done_at", UTCDateTime),
    sa.Column("reason", sa.Text),
    sa.Column("created_by", Name),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("lease_owner", Name),
    sa.Column("lease_until", UTCDateTime),
    sa.Index("ix_rollouts_state", "state"),
)
sa.Table(
    "rollout_nodes", _v3,
    sa.Column("rollout_id", BigID, sa.ForeignKey("rollouts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("node", Name, primary_key=True),
    sa.Column("wave", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("previous_code_id", Name),
    sa.Column("triggered_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("health", sa.String(16)),
    sa.Column("detail", sa.Text),
    sa.Index("ix_rollout_nodes_state", "state"),
)
sa.Table(
    "rollout_timeline", _v3,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("rollout_id", BigID, sa.ForeignKey("rollouts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("node", Name),
    sa.Column("detail", sa.Text),
    sa.Index("ix_rollout_timeline_rollout", "rollout_id", "id"),
)


def _v3_release_control(conn: Connection) -> None:
    _v3.create_all(conn)


# -- version 4: each report's run time as a column, so fleet statistics don't parse documents -----------------

_v4 = sa.MetaData()
_v4_reports = sa.Table("reports", _v4, sa.Column("id", BigID, primary_key=True),
                       sa.Column("document", JSONDocument), sa.Column("run_seconds", sa.Float))


def _v4_run_seconds(conn: Connection) -> None:
    from master.store.documents import run_seconds

    _add_columns(conn, _v4_reports, ["run_seconds"])
    r = _v4_reports
    rows = conn.execute(sa.select(r.c.id, r.c.document)).all()
    values = [{"b_id": row.id, "b_seconds": run_seconds(row.document)} for row in rows]
    values = [v for v in values if v["b_seconds"] is not None]
    if values:
        conn.execute(sa.update(r).where(r.c.id == sa.bindparam("b_id")).values(
            run_seconds=sa.bindparam("b_seconds")), values)


# -- version 5: exported resources, for collection by other nodes ------------------------------------------

_v5 = sa.MetaData()
sa.Table(
    "exported_resources", _v5,
    sa.Column("node", Name, primary_key=True),
    sa.Column("type", Name, primary_key=True),
    sa.Column("title", sa.Text, primary_key=True),
    sa.Column("environment", Name, nullable=False),
    sa.Column("resource", JSONDocument, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_exported_resources_env_type", "environment", "type"),
)


def _v5_exported_resources(conn: Connection) -> None:
    _v5.create_all(conn)


# -- version 6: the store's identity (an id and a creation time, written once) ----------------------------------

_v6 = sa.MetaData()
_v6_store_info = sa.Table(
    "store_info", _v6,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


def _v6_store_identity(conn: Connection) -> None:
    _v6.create_all(conn)
    t = _v6_store_info
    have = set(conn.execute(sa.select(t.c.name)).scalars())
    values = {"store_id": uuid.uuid4().hex, "created_at": datetime.now(UTC).isoformat()}
    missing = [{"name": name, "value": value} for name, value in values.items() if name not in have]
    if missing:
        conn.execute(sa.insert(t), missing)


# -- version 7: a bounded store - each distinct catalog once, facts digests, deactivated nodes, leases ----------

_v7 = sa.MetaData()
_v7_documents = sa.Table(
    "catalog_documents", _v7,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("stored_at", UTCDateTime, nullable=False),
    sa.Column("catalog", JSONDocument, nullable=False),
)
sa.Table(
    "store_leases", _v7,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("owner", Name, nullable=False),
    sa.Column("until", UTCDateTime, nullable=False),
)
_v7_catalogs = sa.Table("catalogs", _v7, sa.Column("node", Name, primary_key=True),
                        sa.Column("digest", sa.String(64)), sa.Column("compiled_at", UTCDateTime),
                        sa.Column("catalog", JSONDocument), sa.Column("header", JSONDocument))
_v7_facts = sa.Table("facts", _v7, sa.Column("node", Name, primary_key=True), sa.Column("digest", sa.String(64)))
_v7_nodes = sa.Table("nodes", _v7, sa.Column("name", Name, primary_key=True),
                     sa.Column("deactivated_at", UTCDateTime))


_V7_HEADER_KEYS = ("version", "catalog_uuid", "code_id")


def _v7_bounded_store(conn: Connection) -> None:
    _v7_documents.create(conn)
    _v7.tables["store_leases"].create(conn)
    c, d = _v7_catalogs, _v7_documents
    seen: set[str] = set()
    headers = []
    for row in conn.execute(sa.select(c.c.node, c.c.digest, c.c.compiled_at, c.c.catalog)).all():
        doc = row.catalog if isinstance(row.catalog, dict) else {}
        headers.append({"b_node": row.node, "b_header": {k: doc[k] for k in _V7_HEADER_KEYS if k in doc}})
        if row.digest not in seen:
            seen.add(row.digest)
            conn.execute(sa.insert(d).values(digest=row.digest, stored_at=row.compiled_at, catalog=row.catalog))
    conn.execute(sa.text("ALTER TABLE catalogs DROP COLUMN catalog"))
    _add_columns(conn, c, ["header"])
    if headers:
        conn.execute(sa.update(c).where(c.c.node == sa.bindparam("b_node")).values(header=sa.bindparam("b_header")),
                     headers)
    _add_columns(conn, _v7_facts, ["digest"])
    _add_columns(conn, _v7_nodes, ["deactivated_at"])


# -- version 8: tasks - ad-hoc commands and modules' tasks, and each node's run of them ----------------------------

_v8 = sa.MetaData()
sa.Table(
    "tasks", _v8,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("command", JSONDocument),
    sa.Column("task_name", Name),
    sa.Column("params", JSONDocument),
    sa.Column("environment", Name),
    sa.Column("account", Name, nullable=False),
    sa.Column("scope", JSONDocument, nullable=False),
    sa.Column("group_name", Name),
    sa.Column("max_concurrent", sa.Integer, nullable=False),
    sa.Column("timeout", sa.Float, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("idempotency_key", sa.String(255)),
    sa.Column("operator", Name, nullable=False),
    sa.Column("operator_role", sa.String(255)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("cancelled_at", UTCDateTime),
    sa.Column("cancelled_by", Name),
    sa.UniqueConstraint("idempotency_key", name="uq_tasks_idempotency_key"),
)
sa.Table(
    "task_runs", _v8,
    sa.Column("task_id", BigID, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("node", Name, primary_key=True),
    sa.Column("group_name", Name),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("claimed_by", Name),
    sa.Column("queued_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("ended_at", UTCDateTime),
    sa.Column("exit_code", sa.Integer),
    sa.Column("stdout", sa.Text),
    sa.Column("stderr", sa.Text),
    sa.Column("stdout_truncated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("stderr_truncated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("duration", sa.Float),
    sa.Index("ix_task_runs_state_node", "state", "node"),
)


def _v8_tasks(conn: Connection) -> None:
    _v8.create_all(conn)



# -- version 9: an agent's disabled state (`bunraku agent disable MESSAGE`), as it says it ----------------------

_v9 = sa.MetaData()
_v9_nodes = sa.Table("nodes", _v9, sa.Column("name", Name, primary_key=True),
                     sa.Column("agent_disabled", sa.Text), sa.Column("agent_disabled_at", UTCDateTime))


def _v9_agent_disabled(conn: Connection) -> None:
    _add_columns(conn, _v9_nodes, ["agent_disabled", "agent_disabled_at"])


# -- version 10: application artifacts (content-addressed) and their content in chunks ---------------------------

_v10 = sa.MetaData()
sa.Table(
    "artifacts", _v10,
    sa.Column("app", Name, primary_key=True),
    sa.Column("version", Name, primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("filename", Name, nullable=False),
    sa.Column("meta", JSONDocument, nullable=False),
    sa.Column("pushed_by", Name, nullable=False),
    sa.Column("pushed_at", UTCDateTime, nullable=False),
    sa.Column("yanked_at", UTCDateTime),
    sa.Column("yanked_by", Name),
    sa.Index("ix_artifacts_digest", "digest"),
)
sa.Table(
    "artifact_chunks", _v10,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("offset", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("stored_at", UTCDateTime, nullable=False),
)


def _v10_artifacts(conn: Connection) -> None:
    _v10.create_all(conn)


# -- version 11: which master holds each node's live channel (run-now reaches a node on any master) ------------

_v11 = sa.MetaData()
sa.Table(
    "live_channels", _v11,
    sa.Column("node", Name, primary_key=True),
    sa.Column("master", Name, nullable=False),
    sa.Column("heard_at", UTCDateTime, nullable=False),
    sa.Index("ix_live_channels_master", "master"),
)


def _v11_live_channels(conn: Connection) -> None:
    _v11.create_all(conn)


# -- version 12: reports by environment and time (PuppetDB's reports page: one environment, newest first, counted) --

_v12 = sa.MetaData()
_v12_reports = sa.Table(
    "reports", _v12,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("environment", Name),
    sa.Column("time", UTCDateTime, nullable=False),
)


def _v12_reports_by_environment(conn: Connection) -> None:
    sa.Index("ix_reports_environment_time", _v12_reports.c.environment, _v12_reports.c.time).create(conn)


# -- version 13: which agent (and version) wrote each node's latest report ---------------------------------

_v13 = sa.MetaData()
_v13_nodes = sa.Table("nodes", _v13, sa.Column("name", Name, primary_key=True), sa.Column("agent_version", Name))


def _v13_agent_version(conn: Connection) -> None:
    _add_columns(conn, _v13_nodes, ["agent_version"])


Migration = Callable[[Connection], None]

#: (version, migration) in order; a store at version N has run the first N.
MIGRATIONS: list[tuple[int, Migration]] = [
    (1, _v1_base),
    (2, _v2_events_and_summaries),
    (3, _v3_release_control),
    (4, _v4_run_seconds),
    (5, _v5_exported_resources),
    (6, _v6_store_identity),
    (7, _v7_bounded_store),
    (8, _v8_tasks),
    (9, _v9_agent_disabled),
    (10, _v10_artifacts),
    (11, _v11_live_channels),
    (12, _v12_reports_by_environment),
    (13, _v13_agent_version),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]
assert [v for v, _ in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1)), "migrations must be numbered 1..N"


def current_version(conn: Connection) -> int:
    """The schema version of the store behind ``conn``; 0 for an empty database."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    found = conn.execute(sa.text("SELECT MAX(version) FROM schema_version")).scalar()
    return int(found or 0)


def upgrade(conn: Connection, *, create: bool = True, to: int = SCHEMA_VERSION) -> tuple[int, int]:
    """Run the missing migrations (up to version ``to``: older stores for tests) inside the caller's
    transaction; returns (version before, after). Without ``create``, a database that holds no store yet
    raises StoreMissing instead."""
    if conn.dialect.name == "postgresql":
        # several masters may start at once on one shared store; the first upgrades, the others wait
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK_KEY})
    before = current_version(conn)
    if before == 0 and not create:
        raise StoreMissing("the database holds no store")
    if before > SCHEMA_VERSION:
        raise StoreError(f"store schema version {before} is newer than this Bunraku knows ({SCHEMA_VERSION}); "
                         "upgrade Bunraku")
    version_table = sa.table("schema_version", sa.column("version"), sa.column("applied_at", UTCDateTime))
    for version, migrate in MIGRATIONS[before:to]:
        log.info("store: migrating schema to version %d (%s)", version, migrate.__name__)
        migrate(conn)
        conn.execute(sa.insert(version_table).values(version=version, applied_at=datetime.now(UTC)))
    return before, max(before, to)
