"""The store's tables as the queries see them: the schema at ``SCHEMA_VERSION``.

The migrations in ``migrations.py`` build this schema step by step (a test checks that a database they
built matches these tables); nothing here ever creates a table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from master.store.documents import utc


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite keeps naive text (``2024-05-01 10:00:00.000000``), which sorts correctly only when every value
    is in the same zone: hence UTC on the way in, and the zone put back on the way out."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # a value some other tool wrote into SQLite
            value = datetime.fromisoformat(value)
        return utc(value)


#: JSON text on SQLite, JSONB on PostgreSQL.
JSONDocument = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
#: Integer primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Name = sa.String(255)

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

# One row per node the store has heard of; the latest-report columns are kept here so that the fleet's
# status is one join, not one query per node.
nodes = sa.Table(
    "nodes",
    metadata,
    sa.Column("name", Name, primary_key=True),
    sa.Column("environment", Name),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime),
    sa.Column("facts_at", UTCDateTime),
    sa.Column("catalog_at", UTCDateTime),
    sa.Column("group_name", Name),
    sa.Column("last_run", UTCDateTime),
    sa.Column("latest_report_id", BigID),
    sa.Column("report_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("deactivated_at", UTCDateTime),
    # the agent said it is disabled (`bunraku agent disable MESSAGE`): its message; NULL while it runs
    sa.Column("agent_disabled", sa.Text),
    sa.Column("agent_disabled_at", UTCDateTime),
    # what wrote its latest report (Puppet's ``puppet_version``: "bunraku 1.2.0", or Puppet's "7.23.0")
    sa.Column("agent_version", Name),
)

facts = sa.Table(
    "facts",
    metadata,
    sa.Column("node", Name, primary_key=True),
    sa.Column("environment", Name),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("facts", JSONDocument, nullable=False),
    sa.Column("digest", sa.String(64)),
)

catalogs = sa.Table(
    "catalogs",
    metadata,
    sa.Column("node", Name, primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("code_id", Name),
    sa.Column("environment", Name),
    sa.Column("compiled_at", UTCDateTime, nullable=False),
    sa.Column("compile_seconds", sa.Float),
    sa.Column("header", JSONDocument),  # the catalog's per-compilation keys (version, catalog_uuid, code_id)
)

# Each distinct catalog once (version 7): nodes and their history name catalogs by digest, so an unchanged
# compile writes a few bytes, not the catalog again.
catalog_documents = sa.Table(
    "catalog_documents",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("stored_at", UTCDateTime, nullable=False),
    sa.Column("catalog", JSONDocument, nullable=False),
)

catalog_history = sa.Table(
    "catalog_history",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("node", Name, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("code_id", Name),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.UniqueConstraint("node", "digest", name="uq_catalog_history_node_digest"),
    sa.Index("ix_catalog_history_node_last_seen", "node", "last_seen"),
)

reports = sa.Table(
    "reports",
    metadata,
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
    sa.Column("noop_pending", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("corrective_change", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("cached_catalog_status", sa.String(32)),
    sa.Column("event_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("change_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("run_seconds", sa.Float),
    sa.UniqueConstraint("transaction_uuid", name="uq_reports_transaction_uuid"),
    sa.Index("ix_reports_node_time", "node", "time"),
    sa.Index("ix_reports_time_status", "time", "status"),
    # version 12: one environment's reports newest first, and their count, without reading the documents
    sa.Index("ix_reports_environment_time", "environment", "time"),
)

events = sa.Table(
    "events",
    metadata,
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

# -- release control (version 3) ---------------------------------------------------------------------------

# The release each node is assigned per environment; a new commit reaches a node only through this.
node_releases = sa.Table(
    "node_releases",
    metadata,
    sa.Column("node", Name, primary_key=True),
    sa.Column("environment", Name, primary_key=True),
    sa.Column("code_id", Name, nullable=False),
    sa.Column("previous_code_id", Name),
    sa.Column("rollout_id", BigID),
    sa.Column("assigned_at", UTCDateTime, nullable=False),
)

rollouts = sa.Table(
    "rollouts",
    metadata,
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

rollout_nodes = sa.Table(
    "rollout_nodes",
    metadata,
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

rollout_timeline = sa.Table(
    "rollout_timeline",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("rollout_id", BigID, sa.ForeignKey("rollouts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("node", Name),
    sa.Column("detail", sa.Text),
    sa.Index("ix_rollout_timeline_rollout", "rollout_id", "id"),
)

# -- exported resources (version 5): what nodes export (@@) for others to collect (<<| |>>) ------------------

exported_resources = sa.Table(
    "exported_resources",
    metadata,
    sa.Column("node", Name, primary_key=True),
    sa.Column("type", Name, primary_key=True),
    sa.Column("title", sa.Text, primary_key=True),
    sa.Column("environment", Name, nullable=False),
    sa.Column("resource", JSONDocument, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_exported_resources_env_type", "environment", "type"),
)

# -- the store's identity (version 6): an id and a creation time, written once when the store is created --------
# The master keeps the id in its state directory too, so that it can tell its own store from a missing,
# empty or different one at the same place.

store_info = sa.Table(
    "store_info",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# -- leases (version 7): which master runs a fleet-wide job (the store's maintenance) ---------------------------

store_leases = sa.Table(
    "store_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("owner", Name, nullable=False),
    sa.Column("until", UTCDateTime, nullable=False),
)

# -- tasks (version 8): ad-hoc commands and modules' tasks run on nodes as an account, and each node's run -------

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # command | module
    sa.Column("command", JSONDocument),  # a command's words
    sa.Column("task_name", Name),  # a module's task: module::name
    sa.Column("params", JSONDocument),
    sa.Column("environment", Name),
    sa.Column("account", Name, nullable=False),
    sa.Column("scope", JSONDocument, nullable=False),  # {"group": ..., "nodes": [...]} as asked
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

task_runs = sa.Table(
    "task_runs",
    metadata,
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

# -- application artifacts (version 10): content-addressed (sha256) packages pushed by CI, served to agents -----
# An artifact names its content by digest; the content is kept once per digest, in chunks of at most
# ``master.artifacts.CHUNK_BYTES``, so that neither a push nor a download ever holds it whole in memory and
# several masters on one PostgreSQL store serve the same bytes. Chunks without an artifact naming their
# digest are an upload in progress (or abandoned: ``bunraku artifact gc`` removes them).

artifacts = sa.Table(
    "artifacts",
    metadata,
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

artifact_chunks = sa.Table(
    "artifact_chunks",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("offset", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("stored_at", UTCDateTime, nullable=False),
)

# -- live channels (version 11): which master holds each node's live channel, refreshed while it is open, so
# that a rollout or task driven by one master reaches an agent connected to another (master.notify)

live_channels = sa.Table(
    "live_channels",
    metadata,
    sa.Column("node", Name, primary_key=True),
    sa.Column("master", Name, nullable=False),
    sa.Column("heard_at", UTCDateTime, nullable=False),
    sa.Index("ix_live_channels_master", "master"),
)
