"""``Store``: the master's record of facts, catalogs, reports and liveness (see the package docstring)."""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from master.store import backend, documents, migrations
from master.store.documents import now_utc, utc
from master.store.errors import StoreError, StoreMissing
from master.store.health import WriteHealth
from master.store.schema import (
    UTCDateTime,
    catalog_documents,
    catalog_history,
    catalogs,
    events,
    exported_resources,
    facts,
    nodes,
    reports,
    store_info,
    store_leases,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

NODE_STATUSES = ("unchanged", "changed", "failed", "noop-pending", "unresponsive", "unreported")

#: How long a writer keeps retrying SQLite lock contention before giving up (seconds).
_LOCK_RETRY_BUDGET = 60.0


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """One node as the fleet view shows it."""

    name: str
    status: str  # one of NODE_STATUSES
    last_run: datetime | None  # the time of its latest report
    last_seen: datetime | None  # its latest contact of any kind: heartbeat, facts, catalog, report
    code_id: str | None
    environment: str | None
    group: str | None
    report_count: int
    #: the latest run applied a cached catalog: "on_failure" (getting a new one failed) or "explicitly_requested"
    cached_catalog: str | None = None
    #: its agent said it is disabled, with this message (None: it runs), and since when
    disabled: str | None = None
    disabled_since: datetime | None = None
    #: what wrote its latest report: "bunraku 1.2.0", or a Puppet agent's version ("7.23.0")
    agent_version: str | None = None


def _status_of(*, last_seen: datetime | None, last_run: datetime | None, report_status: str | None,
               noop_pending: bool, stale_before: datetime) -> str:
    if last_seen is None or last_seen < stale_before:
        return "unresponsive"
    if last_run is None or report_status is None:
        return "unreported"
    if report_status == "failed":
        return "failed"
    if report_status == "changed":
        return "changed"
    # an unchanged run that would have changed something (noop run, or resources marked noop)
    return "noop-pending" if noop_pending else "unchanged"


def _ts(value: datetime) -> sa.BindParameter[datetime]:
    """A datetime bound with the store's UTC type (a bare value would bypass it inside CASE and such)."""
    return sa.bindparam(None, value, type_=UTCDateTime())


def _later(column: sa.ColumnElement[datetime], value: sa.ColumnElement[datetime]) -> sa.ColumnElement[datetime]:
    """The later of a (nullable) column and a time: SQL's GREATEST, spelt the same on both backends."""
    return sa.case((column.is_(None), value), (column < value, value), else_=column)


class _Statements:
    """The write path's statements, built once per store: building SQLAlchemy statements per call costs
    more than running them on SQLite. Parameters go in at execution (``b_*`` names for the bound ones)."""

    def __init__(self, postgres: bool) -> None:
        insert = pg_dialect.insert if postgres else sqlite_dialect.insert
        at = sa.bindparam("b_at", type_=UTCDateTime())
        environment = sa.bindparam("b_environment", type_=sa.String())
        by_name = nodes.c.name == sa.bindparam("b_node", type_=sa.String())

        self.node_insert = insert(nodes).on_conflict_do_nothing(index_elements=[nodes.c.name])

        # contact after a node was deactivated makes it active again (as a returning node is)
        reactivate = sa.case((nodes.c.deactivated_at < at, None), else_=nodes.c.deactivated_at)

        def touch(*columns: str) -> sa.Update:
            values: dict[str, Any] = {"last_seen": _later(nodes.c.last_seen, at),
                                      "environment": sa.func.coalesce(environment, nodes.c.environment),
                                      "deactivated_at": reactivate}
            values.update({column: _later(nodes.c[column], at) for column in columns})
            return sa.update(nodes).where(by_name).values(values)

        self.touch = touch()
        self.touch_facts = touch("facts_at")
        self.touch_catalog = touch("catalog_at")

        # Facts are written when they changed and are the newest delivery (the node's facts_at, moved
        # forward just before in the same transaction, equals theirs); unchanged facts only move facts_at.
        stmt = insert(facts)
        # (the node by a parameter of its own: a subquery naming ``excluded`` gets a FROM of its own in
        # SQLAlchemy - every node's facts_at, which PostgreSQL refuses and SQLite takes the first of)
        newest_facts = sa.select(nodes.c.facts_at).where(
            nodes.c.name == sa.bindparam("b_node", type_=sa.String())).scalar_subquery()
        self.facts_upsert = stmt.on_conflict_do_update(
            index_elements=[facts.c.node],
            set_={name: stmt.excluded[name] for name in ("environment", "received_at", "facts", "digest")},
            where=sa.and_(facts.c.received_at <= stmt.excluded.received_at,
                          newest_facts <= stmt.excluded.received_at,
                          sa.or_(facts.c.digest.is_(None), facts.c.digest != stmt.excluded.digest,
                                 facts.c.environment.is_distinct_from(stmt.excluded.environment))))
        self.facts_digest = sa.select(facts.c.digest).where(facts.c.node == sa.bindparam("b_node"))

        stmt = insert(catalogs)
        self.catalog_upsert = stmt.on_conflict_do_update(
            index_elements=[catalogs.c.node],
            set_={name: stmt.excluded[name] for name in
                  ("digest", "code_id", "environment", "compiled_at", "compile_seconds", "header")},
            where=catalogs.c.compiled_at <= stmt.excluded.compiled_at)
        self.document_insert = insert(catalog_documents).on_conflict_do_nothing(
            index_elements=[catalog_documents.c.digest])
        # the same with the document given as its JSON text, stored as it is (neither parsed nor encoded again)
        text = sa.bindparam("b_text", type_=sa.Text())
        self.document_insert_text = insert(catalog_documents).values(
            digest=sa.bindparam("b_digest", type_=sa.String()), stored_at=sa.bindparam("b_stored", type_=UTCDateTime()),
            catalog=sa.cast(text, pg_dialect.JSONB) if postgres else sa.type_coerce(text, sa.Text()),
        ).on_conflict_do_nothing(index_elements=[catalog_documents.c.digest])
        self.document_exists = sa.select(catalog_documents.c.digest).where(
            catalog_documents.c.digest == sa.bindparam("b_digest"))

        h = catalog_history
        stmt = insert(h)
        newer = h.c.last_seen <= stmt.excluded.last_seen
        self.history_upsert = stmt.on_conflict_do_update(
            index_elements=[h.c.node, h.c.digest],
            set_={"last_seen": sa.case((newer, stmt.excluded.last_seen), else_=h.c.last_seen),
                  "code_id": sa.case((newer, stmt.excluded.code_id), else_=h.c.code_id),
                  "first_seen": sa.case((h.c.first_seen > stmt.excluded.first_seen, stmt.excluded.first_seen),
                                        else_=h.c.first_seen)})

        self.report_insert = (insert(reports).on_conflict_do_nothing(index_elements=[reports.c.transaction_uuid])
                              .returning(reports.c.id))
        self.report_id = sa.select(reports.c.id).where(
            reports.c.transaction_uuid == sa.bindparam("b_txn", type_=sa.String()))
        self.event_insert = sa.insert(events)

        # One update per saved report. SET expressions all see the row as it was, so the latest run moves
        # only forward: a spooled old report arriving late neither replaces it nor its environment.
        run_time = sa.bindparam("b_time", type_=UTCDateTime())
        newest = sa.or_(nodes.c.last_run.is_(None), nodes.c.last_run <= run_time)
        self.node_after_report = sa.update(nodes).where(by_name).values(
            last_seen=_later(nodes.c.last_seen, at),
            deactivated_at=reactivate,
            report_count=nodes.c.report_count + 1,
            last_run=sa.case((newest, run_time), else_=nodes.c.last_run),
            latest_report_id=sa.case((newest, sa.bindparam("b_report_id", type_=sa.BigInteger())),
                                     else_=nodes.c.latest_report_id),
            environment=sa.case((newest, sa.func.coalesce(environment, nodes.c.environment)),
                                else_=nodes.c.environment),
            agent_version=sa.case((newest, sa.func.coalesce(sa.bindparam("b_agent", type_=sa.String()),
                                                            nodes.c.agent_version)), else_=nodes.c.agent_version),
            # a run after the agent said it was disabled: it has been enabled since
            agent_disabled=sa.case((nodes.c.agent_disabled_at < run_time, None), else_=nodes.c.agent_disabled),
            agent_disabled_at=sa.case((nodes.c.agent_disabled_at < run_time, None),
                                      else_=nodes.c.agent_disabled_at),
        )
        self.set_group = sa.update(nodes).where(by_name).values(
            group_name=sa.bindparam("b_group", type_=sa.String()))


#: key of a connection's ``info``: callables ``work`` leaves to run once its transaction committed
AFTER_COMMIT = "bunraku_after_commit"


def _pop_after_commit(conn: Connection) -> list[Callable[[], None]]:
    try:
        return list(conn.info.pop(AFTER_COMMIT, ()))
    except SQLAlchemyError:  # an invalidated connection: nothing was committed either
        return []


class Store:
    """Facts, catalogs, reports and liveness of the fleet, in SQLite or PostgreSQL."""

    def __init__(self, engine: Engine, url: URL) -> None:
        self._engine = engine
        self._url = url
        self._postgres = engine.dialect.name == "postgresql"
        self._sql = _Statements(self._postgres)
        file = backend.sqlite_path(url) if url.get_backend_name() == "sqlite" else None
        #: whether writes are possible now (disk full, file deleted or replaced): see master.store.health
        self.health = WriteHealth(str(file) if file is not None else backend.display(url), file)
        self._held: list[Any] = []  # things that live as long as the store is open (the master's lock)
        self._behind: Any = None  # master.store.writebehind.WriteBehind while writes are deferred

    # -- opening ----------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, *, path: Path | None = None, create: bool = True) -> Self:
        """Open (creating and upgrading as needed) the store at ``url``, or the SQLite file at ``path``
        (default ``./bunraku.db``) when no URL is given. Raises StoreError with a one-line message;
        StoreMissing when ``create`` is false and the database holds no store yet.

        ``sqlite://`` (in memory) is for tests: one connection, shared, for a single thread."""
        resolved = backend.resolve_url(url, path)
        where = backend.describe(url, resolved)
        if not create and resolved.get_backend_name() == "sqlite":
            file = backend.sqlite_path(resolved)
            if file is not None and not file.exists():  # never make the file a reader expects to exist
                raise StoreMissing(f"cannot open store at {where}: the database file does not exist")
        engine = backend.create_engine(resolved, where)
        store = cls(engine, resolved)
        try:
            before, after = store._run("upgrade", lambda conn: migrations.upgrade(conn, create=create),
                                       write=True, where=where)
        except StoreMissing:
            engine.dispose()
            raise
        except StoreError as exc:
            engine.dispose()
            message = str(exc)
            if not message.startswith("cannot open store"):
                message = f"cannot open store at {where}: {message.removeprefix('upgrade failed: ')}"
            raise StoreError(message) from None
        if before != after:
            log.info("store %s: schema version %d -> %d", where, before, after)
        return store

    def close(self) -> None:
        self.stop_write_behind()
        self._engine.dispose()
        for thing in self._held:
            thing.close()
        self._held.clear()

    def hold(self, thing: Any) -> None:
        """Keep ``thing`` (with a ``close()``) open as long as the store is: the master's store lock."""
        self._held.append(thing)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The store's URL, password hidden."""
        return backend.display(self._url)

    def connect_url(self) -> str | None:
        """The URL another process opens this store with (None for an in-memory store)."""
        if self._url.get_backend_name() == "sqlite" and not self._url.database:
            return None
        return self._url.render_as_string(hide_password=False)

    @property
    def engine(self) -> Engine:
        return self._engine

    def schema_version(self) -> int:
        return self._run("schema_version", migrations.current_version)

    def identity(self) -> tuple[str | None, datetime | None]:
        """The store's id and creation time, as recorded inside it when it was created (both None for a
        store older than the record)."""
        def work(conn: Connection) -> tuple[str | None, datetime | None]:
            rows = dict(conn.execute(sa.select(store_info.c.name, store_info.c.value)).all())
            created = rows.get("created_at")
            return rows.get("store_id"), datetime.fromisoformat(created) if created else None

        return self._run("identity", work)

    @property
    def write_problem(self) -> str | None:
        """Why the store takes no writes now, in one line fit for any viewer; None when it does."""
        return self.health.problem

    # -- transactions ------------------------------------------------------------------------------------------

    def _run(self, what: str, work: Callable[[Connection], T], *, write: bool = False,
             where: str | None = None) -> T:
        """Run ``work`` in one transaction. SQLite lock contention is retried until a time budget runs out;
        a lost PostgreSQL connection is retried once on a fresh one. Other failures become StoreError."""
        deadline = time.monotonic() + _LOCK_RETRY_BUDGET
        reconnected = False
        delay = 0.01
        if write:
            self.health.check_file()
        while True:
            try:
                with self._engine.connect() as conn:
                    if write:
                        conn.execution_options(**{backend.WRITE_OPTION: True})
                    try:
                        with conn.begin():
                            result = work(conn)
                    finally:  # what ``work`` asked to run once committed (master.notify on SQLite)
                        after = _pop_after_commit(conn)
                    for callback in after:
                        callback()
                if write:
                    self.health.write_succeeded()
                return result
            except DBAPIError as exc:
                if write and backend.is_full(exc):
                    raise self.health.write_failed_full() from None
                if write and where is None:
                    self.health.check_file(force=True)  # "unable to open" after a deletion says it better
                if not self._postgres and backend.is_locked(exc) and time.monotonic() < deadline:
                    log.debug("store: %s: %s; retrying", what, backend.one_line(exc))
                    time.sleep(delay * (1 + random.random()))
                    delay = min(delay * 2, 0.5)
                    continue
                if exc.connection_invalidated and not reconnected:
                    log.warning("store: %s: connection lost (%s); retrying on a new one", what,
                                backend.one_line(exc))
                    reconnected = True
                    continue
                if where is not None:
                    raise StoreError(f"cannot open store at {where}: {backend.one_line(exc)}") from None
                raise StoreError(f"{what} failed: {backend.one_line(exc)}") from exc
            except SQLAlchemyError as exc:
                raise StoreError(f"{what} failed: {backend.one_line(exc)}") from exc

    def _touch_node(self, conn: Connection, node: str, at: datetime, *, environment: str | None = None,
                    touch: sa.Update | None = None) -> None:
        """Make sure ``node`` has a row; move its last contact (and ``touch``'s column) forward to ``at``."""
        conn.execute(self._sql.node_insert, {"name": node, "first_seen": at})
        conn.execute(touch if touch is not None else self._sql.touch,
                     {"b_node": node, "b_at": at, "b_environment": environment})

    # -- facts -------------------------------------------------------------------------------------------------

    def save_facts(self, node: str, facts_doc: Mapping[str, Any], *, environment: str = "production",
                   received_at: datetime | None = None) -> None:
        """Keep ``facts_doc`` as the node's latest facts (an older delivery never replaces a newer one)."""
        at = utc(received_at) if received_at else now_utc()
        self._run("save_facts", self.facts_work(node, facts_doc, environment=environment, at=at), write=True)

    def facts_work(self, node: str, facts_doc: Mapping[str, Any], *, environment: str,
                   at: datetime) -> Callable[[Connection], None]:
        """:meth:`save_facts` as a step of a transaction (:meth:`write_batch`)."""
        document = dict(facts_doc)
        digest = documents.digest_of(document)
        at = utc(at)

        def work(conn: Connection) -> None:
            self._touch_node(conn, node, at, environment=environment, touch=self._sql.touch_facts)
            if conn.execute(self._sql.facts_digest, {"b_node": node}).scalar_one_or_none() == digest:
                return  # unchanged: the node's facts_at says when they were last received
            conn.execute(self._sql.facts_upsert, {"node": node, "b_node": node, "environment": environment,
                                                  "received_at": at, "facts": document, "digest": digest})

        return work

    def get_facts(self, node: str) -> dict[str, Any] | None:
        def work(conn: Connection) -> dict[str, Any] | None:
            return conn.execute(sa.select(facts.c.facts).where(facts.c.node == node)).scalar_one_or_none()

        return self._run("get_facts", work)

    def nodes_with_fact(self, path: str, value: Any) -> list[str]:
        """Names of the nodes whose latest facts have ``value`` at dotted ``path``, sorted.

        A string also matches a number or boolean that reads the same (``"4"`` finds 4); Python decides,
        PostgreSQL only narrows the rows down first."""
        def work(conn: Connection) -> list[str]:
            query = sa.select(facts.c.node, facts.c.facts).order_by(facts.c.node)
            if self._postgres and isinstance(value, str) and path:
                query = query.where(facts.c.facts[tuple(path.split("."))].as_string() == value)
            result = conn.execution_options(yield_per=500).execute(query)
            return [row.node for row in result if documents.fact_matches(row.facts, path, value)]

        return self._run("nodes_with_fact", work)

    # -- catalogs ----------------------------------------------------------------------------------------------

    def save_catalog(self, node: str, catalog: Mapping[str, Any], *, code_id: str | None, environment: str,
                     compiled_at: datetime | None = None, compile_seconds: float | None = None) -> str:
        """Keep the node's latest catalog (sensitive values redacted) and its digest history; returns the
        digest (sha256 of the canonical redacted catalog without version, catalog_uuid and code_id)."""
        redacted = documents.redact_catalog(catalog)
        digest = documents.catalog_digest(catalog, redacted=redacted)
        header = {k: catalog[k] for k in documents.DIGEST_EXCLUDED_KEYS if k in catalog}
        self.save_catalog_digest(node, digest, header, lambda: redacted, code_id=code_id, environment=environment,
                                 compiled_at=compiled_at, compile_seconds=compile_seconds)
        return digest

    def save_catalog_digest(self, node: str, digest: str, header: Mapping[str, Any],
                            redacted: Callable[[], Mapping[str, Any] | bytes | str], *, code_id: str | None,
                            environment: str, compiled_at: datetime | None = None,
                            compile_seconds: float | None = None) -> None:
        """:meth:`save_catalog` for a caller that has the digest already (the compile workers take it):
        ``redacted()`` is asked for the redacted catalog only when the store does not hold that digest yet,
        so an unchanged catalog costs a few small writes and no JSON at all. It may give the catalog as its
        JSON text (a compile worker's, when nothing in it needed redacting), stored as it is."""
        at = utc(compiled_at) if compiled_at else now_utc()
        self._run("save_catalog", self.catalog_work(node, digest, header, redacted, code_id=code_id,
                                                    environment=environment, at=at, compile_seconds=compile_seconds),
                  write=True)

    def catalog_work(self, node: str, digest: str, header: Mapping[str, Any],
                     redacted: Callable[[], Mapping[str, Any] | bytes | str], *, code_id: str | None,
                     environment: str, at: datetime, compile_seconds: float | None) -> Callable[[Connection], None]:
        """:meth:`save_catalog_digest` as a step of a transaction (:meth:`write_batch`)."""
        at = utc(at)
        code = code_id if code_id is not None else header.get("code_id")
        head = dict(header)

        def work(conn: Connection) -> None:
            self._touch_node(conn, node, at, environment=environment, touch=self._sql.touch_catalog)
            if conn.execute(self._sql.document_exists, {"b_digest": digest}).first() is None:
                document = redacted()
                if isinstance(document, (bytes, str)):
                    text = document.decode("utf-8") if isinstance(document, bytes) else document
                    conn.execute(self._sql.document_insert_text, {"b_digest": digest, "b_stored": at, "b_text": text})
                else:
                    conn.execute(self._sql.document_insert, {"digest": digest, "stored_at": at, "catalog": document})
            conn.execute(self._sql.catalog_upsert,
                         {"node": node, "digest": digest, "code_id": code, "environment": environment,
                          "compiled_at": at, "compile_seconds": compile_seconds, "header": head})
            conn.execute(self._sql.history_upsert,
                         {"node": node, "digest": digest, "code_id": code, "first_seen": at, "last_seen": at})

        return work

    def save_exported(self, node: str, environment: str, resources: list[Mapping[str, Any]], *,
                      at: datetime | None = None) -> bool:
        """Replace what ``node`` exports (its catalog's resources marked ``exported``), as stored
        documents with sensitive values redacted; returns whether anything was written."""
        when = utc(at) if at else now_utc()
        rows = []
        for res in resources:
            doc = documents.redact_catalog({"resources": [dict(res)]})["resources"][0]
            rows.append({"node": node, "type": str(res["type"]), "title": str(res["title"]),
                         "environment": environment, "resource": doc, "updated_at": when})

        def work(conn: Connection) -> None:
            conn.execute(sa.delete(exported_resources).where(exported_resources.c.node == node))
            if rows:
                conn.execute(sa.insert(exported_resources), rows)

        if not rows:
            def has_any(conn: Connection) -> bool:
                found = conn.execute(sa.select(exported_resources.c.node).where(
                    exported_resources.c.node == node).limit(1)).first()
                return found is not None

            if not self._run("save_exported", has_any):
                return False  # nothing exported before or now: no write (most nodes, most of the time)
        self._run("save_exported", work, write=True)
        return True

    def exported_resources(self, type_name: str, environment: str) -> list[dict[str, Any]]:
        """Every resource of ``type_name`` exported in ``environment``, each with the exporting ``node``."""
        def work(conn: Connection) -> list[dict[str, Any]]:
            t = exported_resources
            inactive = sa.select(nodes.c.name).where(nodes.c.deactivated_at.is_not(None))
            rows = conn.execute(sa.select(t.c.node, t.c.resource).where(
                t.c.environment == environment, t.c.type == type_name, t.c.node.not_in(inactive))
                .order_by(t.c.node, t.c.title)).all()
            return [dict(row.resource, node=row.node) for row in rows]

        return self._run("exported_resources", work)

    def exported_version(self, environment: str) -> str:
        """Changes whenever what is exported in ``environment`` changes (for catalog caches)."""
        def work(conn: Connection) -> str:
            t = exported_resources
            inactive = sa.select(nodes.c.name).where(nodes.c.deactivated_at.is_not(None))
            row = conn.execute(sa.select(sa.func.count(), sa.func.max(t.c.updated_at)).where(
                t.c.environment == environment, t.c.node.not_in(inactive))).one()
            return f"{row[0]}:{row[1].isoformat() if row[1] else ''}"

        return self._run("exported_version", work)

    def get_catalog(self, node: str) -> dict[str, Any] | None:
        """The node's latest catalog as stored: sensitive values read "[redacted]"."""
        d = catalog_documents

        def work(conn: Connection) -> dict[str, Any] | None:
            row = conn.execute(sa.select(d.c.catalog, catalogs.c.header)
                               .select_from(catalogs.join(d, d.c.digest == catalogs.c.digest))
                               .where(catalogs.c.node == node)).first()
            if row is None:
                return None
            doc = {k: v for k, v in row.catalog.items() if k not in documents.DIGEST_EXCLUDED_KEYS}
            doc.update(row.header or {})
            return doc

        return self._run("get_catalog", work)

    def catalog_history(self, node: str, limit: int = 20) -> list[dict[str, Any]]:
        """The node's distinct catalogs, newest first: digest, code_id, first_seen, last_seen."""
        h = catalog_history

        def work(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(sa.select(h.c.digest, h.c.code_id, h.c.first_seen, h.c.last_seen)
                                .where(h.c.node == node).order_by(h.c.last_seen.desc(), h.c.id.desc())
                                .limit(limit))
            return [dict(row._mapping) for row in rows]

        return self._run("catalog_history", work)

    # -- reports -----------------------------------------------------------------------------------------------

    def save_report(self, report: Mapping[str, Any], *, received_at: datetime | None = None,
                    keep: int | None = None) -> int:
        """Store a report (as given: the engine has redacted it) and its events; returns its id.

        Idempotent on ``transaction_uuid``: a report sent twice (an agent's spool replaying after a lost
        reply) is stored once, and both calls return the same id. ``keep``: the node keeps at most this
        many reports, its newest (by run time); older ones go, with their events, in the same transaction
        (the node's report_count still counts every report received)."""
        received = utc(received_at) if received_at else now_utc()
        try:
            summary = documents.summarize_report(report, received_at=received)
        except ValueError as exc:
            raise StoreError(f"cannot save report: {exc}") from None
        document = dict(report)
        seen = max(received, summary.time)
        row = {
            "transaction_uuid": summary.transaction_uuid, "node": summary.node, "time": summary.time,
            "received_at": received, "environment": summary.environment, "code_id": summary.code_id,
            "configuration_version": summary.configuration_version, "catalog_uuid": summary.catalog_uuid,
            "status": summary.status, "noop": summary.noop, "noop_pending": summary.noop_pending,
            "corrective_change": summary.corrective_change, "cached_catalog_status": summary.cached_catalog_status,
            "event_count": summary.event_count, "change_count": summary.change_count, "document": document,
            "run_seconds": summary.run_seconds,
        }
        found = list(documents.report_events(document, default_time=summary.time))
        agent_version = str(document["puppet_version"])[:255] if document.get("puppet_version") else None

        def work(conn: Connection) -> int:
            conn.execute(self._sql.node_insert, {"name": summary.node, "first_seen": seen})
            inserted = conn.execute(self._sql.report_insert, row).scalar_one_or_none()
            if inserted is None:  # seen before: only the contact counts
                conn.execute(self._sql.touch, {"b_node": summary.node, "b_at": seen, "b_environment": None})
                return int(conn.execute(self._sql.report_id, {"b_txn": summary.transaction_uuid}).scalar_one())
            if found:
                conn.execute(self._sql.event_insert,
                             [dict(e, report_id=inserted, node=summary.node) for e in found])
            conn.execute(self._sql.node_after_report,
                         {"b_node": summary.node, "b_at": seen, "b_time": summary.time, "b_report_id": inserted,
                          "b_environment": summary.environment, "b_agent": agent_version})
            if keep:
                self._prune_reports(conn, summary.node, keep)
            return int(inserted)

        report_id = self._run("save_report", work, write=True)
        # Acknowledged means kept: a report written into a file deleted a moment ago is not.
        self.health.check_file(force=True)
        return report_id

    @staticmethod
    def _prune_reports(conn: Connection, node: str, keep: int) -> None:
        """Delete the reports of ``node`` older than its newest ``keep`` (and their events)."""
        stale = list(conn.execute(sa.select(reports.c.id).where(reports.c.node == node)
                                  .order_by(reports.c.time.desc(), reports.c.id.desc()).offset(keep)).scalars())
        if stale:
            conn.execute(sa.delete(events).where(events.c.report_id.in_(stale)))
            conn.execute(sa.delete(reports).where(reports.c.id.in_(stale)))

    def reports(self, node: str, *, last: int = 10) -> list[dict[str, Any]]:
        """The node's latest ``last`` reports, newest first, as the documents that were saved."""
        def work(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(sa.select(reports.c.document).where(reports.c.node == node)
                                .order_by(reports.c.time.desc(), reports.c.id.desc()).limit(last))
            return list(rows.scalars())

        return self._run("reports", work)

    def get_report(self, report_id: int) -> dict[str, Any] | None:
        def work(conn: Connection) -> dict[str, Any] | None:
            return conn.execute(sa.select(reports.c.document)
                                .where(reports.c.id == report_id)).scalar_one_or_none()

        return self._run("get_report", work)

    def report_summaries(self, node: str | None = None, *, last: int = 10, status: str | None = None,
                         since: datetime | None = None) -> list[dict[str, Any]]:
        """Report rows without their documents, newest first (for listings): id, node, time, status, ..."""
        r = reports
        columns = [r.c.id, r.c.node, r.c.time, r.c.status, r.c.noop, r.c.noop_pending, r.c.corrective_change,
                   r.c.environment, r.c.code_id, r.c.configuration_version, r.c.transaction_uuid,
                   r.c.event_count, r.c.change_count, r.c.received_at]
        query = sa.select(*columns).order_by(r.c.time.desc(), r.c.id.desc()).limit(last)
        if node is not None:
            query = query.where(r.c.node == node)
        if status is not None:
            query = query.where(r.c.status == status)
        if since is not None:
            query = query.where(r.c.time >= _ts(since))

        def work(conn: Connection) -> list[dict[str, Any]]:
            return [dict(row._mapping) for row in conn.execute(query)]

        return self._run("report_summaries", work)

    def report_events(self, report_id: int) -> list[dict[str, Any]]:
        """The events of one report, in the report's order."""
        e = events
        query = (sa.select(e.c.resource, e.c.resource_type, e.c.property, e.c.previous_value, e.c.desired_value,
                           e.c.message, e.c.status, e.c.corrective_change, e.c.time)
                 .where(e.c.report_id == report_id).order_by(e.c.id))

        def work(conn: Connection) -> list[dict[str, Any]]:
            return [dict(row._mapping) for row in conn.execute(query)]

        return self._run("report_events", work)

    # -- retention: what a bounded store lets go ------------------------------------------------------------

    def deactivate_node(self, node: str, *, at: datetime | None = None) -> bool:
        """Mark ``node`` deactivated (decommissioned): it leaves the fleet's listings and statistics, its
        exported resources are no longer collected, and ``maintain`` purges it after ``node_purge_ttl``.
        Any later contact from it makes it active again. Returns whether the store knew the node."""
        when = utc(at) if at else now_utc()

        def work(conn: Connection) -> bool:
            done = conn.execute(sa.update(nodes).where(nodes.c.name == node, nodes.c.deactivated_at.is_(None))
                                .values(deactivated_at=when))
            if done.rowcount:  # what it exported stops being collected: catalogs cached with it are stale
                conn.execute(sa.update(exported_resources).where(exported_resources.c.node == node)
                             .values(updated_at=when))
                return True
            return conn.execute(sa.select(nodes.c.name).where(nodes.c.name == node)).first() is not None

        return self._run("deactivate_node", work, write=True)

    def take_lease(self, name: str, owner: str, seconds: float, *, now: datetime | None = None) -> bool:
        """Hold the lease ``name`` for ``seconds`` when it is free, expired or already ``owner``'s; returns
        whether ``owner`` holds it now. Masters sharing a store run a fleet-wide job only while holding it."""
        at = utc(now) if now else now_utc()
        until = at + timedelta(seconds=seconds)
        insert = pg_dialect.insert if self._postgres else sqlite_dialect.insert
        stmt = insert(store_leases).values(name=name, owner=owner, until=until)
        stmt = stmt.on_conflict_do_update(
            index_elements=[store_leases.c.name], set_={"owner": owner, "until": until},
            where=sa.or_(store_leases.c.owner == owner, store_leases.c.until < _ts(at)))

        def work(conn: Connection) -> bool:
            conn.execute(stmt)
            holder = conn.execute(sa.select(store_leases.c.owner).where(store_leases.c.name == name)).scalar_one()
            return bool(holder == owner)

        return self._run("take_lease", work, write=True)

    def maintain(self, *, now: datetime | None = None, report_ttl: timedelta | None = None,
                 node_ttl: timedelta | None = None, node_purge_ttl: timedelta | None = None,
                 history_per_node: int = 20, batch: int = 2000) -> dict[str, int]:
        """One pass of the store's retention, in short transactions (writers are never held up long):

        - reports (and their events) older than ``report_ttl``, except each node's latest;
        - nodes silent for ``node_ttl`` are deactivated; nodes deactivated for ``node_purge_ttl`` are purged
          with their facts, catalog, history, reports and exports;
        - each node's catalog history beyond its newest ``history_per_node`` digests;
        - catalog documents no node's catalog or history names any more.

        None (or zero) for a TTL keeps those forever. Returns how many of each went."""
        at = utc(now) if now else now_utc()
        counts = {"reports": 0, "deactivated": 0, "purged": 0, "history": 0, "documents": 0}
        if report_ttl:
            cutoff = at - report_ttl
            latest = sa.select(nodes.c.latest_report_id).where(nodes.c.latest_report_id.is_not(None))
            pick = (sa.select(reports.c.id).where(reports.c.time < _ts(cutoff), reports.c.id.not_in(latest))
                    .limit(batch))
            counts["reports"] = self._delete_reports_in_batches(pick)
        if node_ttl:
            def deactivate(conn: Connection) -> int:
                names = list(conn.execute(sa.select(nodes.c.name).where(
                    nodes.c.deactivated_at.is_(None), sa.func.coalesce(nodes.c.last_seen, nodes.c.first_seen)
                    < _ts(at - node_ttl))).scalars())
                for start in range(0, len(names), batch):
                    part = names[start:start + batch]
                    conn.execute(sa.update(nodes).where(nodes.c.name.in_(part)).values(deactivated_at=at))
                    conn.execute(sa.update(exported_resources).where(exported_resources.c.node.in_(part))
                                 .values(updated_at=at))
                return len(names)

            counts["deactivated"] = self._run("maintain", deactivate, write=True)
        if node_purge_ttl:
            def doomed(conn: Connection) -> list[str]:
                return list(conn.execute(sa.select(nodes.c.name).where(
                    nodes.c.deactivated_at < _ts(at - node_purge_ttl)).limit(batch)).scalars())

            while names := self._run("maintain", doomed):
                self._delete_reports_in_batches(sa.select(reports.c.id).where(reports.c.node.in_(names)).limit(batch))

                def purge(conn: Connection, names: list[str] = names) -> None:
                    for table, column in ((facts, facts.c.node), (catalogs, catalogs.c.node),
                                          (catalog_history, catalog_history.c.node),
                                          (exported_resources, exported_resources.c.node),
                                          (nodes, nodes.c.name)):
                        conn.execute(sa.delete(table).where(column.in_(names)))

                self._run("maintain", purge, write=True)
                counts["purged"] += len(names)
        if history_per_node > 0:
            h = catalog_history
            ranked = sa.select(h.c.id, sa.func.row_number().over(
                partition_by=h.c.node, order_by=(h.c.last_seen.desc(), h.c.id.desc())).label("rank")).subquery()
            old = sa.select(ranked.c.id).where(ranked.c.rank > history_per_node)

            def prune_history(conn: Connection) -> int:
                return int(conn.execute(sa.delete(h).where(h.c.id.in_(old))).rowcount)

            counts["history"] = self._run("maintain", prune_history, write=True)
        d = catalog_documents
        unused = sa.select(d.c.digest).where(
            d.c.digest.not_in(sa.select(catalogs.c.digest)),
            d.c.digest.not_in(sa.select(catalog_history.c.digest))).limit(batch)

        def collect(conn: Connection) -> int:
            digests = list(conn.execute(unused).scalars())
            if digests:
                conn.execute(sa.delete(d).where(d.c.digest.in_(digests)))
            return len(digests)

        while gone := self._run("maintain", collect, write=True):
            counts["documents"] += gone
        return counts

    def _delete_reports_in_batches(self, pick: sa.Select[Any]) -> int:
        """Delete the reports ``pick`` selects (a limited query) and their events, a batch per transaction."""
        def one_batch(conn: Connection) -> int:
            ids = list(conn.execute(pick).scalars())
            if ids:
                conn.execute(sa.delete(events).where(events.c.report_id.in_(ids)))
                conn.execute(sa.delete(reports).where(reports.c.id.in_(ids)))
            return len(ids)

        total = 0
        while gone := self._run("maintain", one_batch, write=True):
            total += gone
        return total

    # -- liveness and the fleet --------------------------------------------------------------------------------

    def heartbeat(self, node: str, *, at: datetime | None = None, group: str | None = None) -> None:
        """Record that ``node`` is alive (and, when given, which group it belongs to)."""
        self._run("heartbeat", self.contact_work(node, at=utc(at) if at else now_utc(), group=group), write=True)

    def contact_work(self, node: str, *, at: datetime, group: str | None = None) -> Callable[[Connection], None]:
        """:meth:`heartbeat` as a step of a transaction (:meth:`write_batch`)."""
        when = utc(at)

        def work(conn: Connection) -> None:
            self._touch_node(conn, node, when)
            if group is not None:
                conn.execute(self._sql.set_group, {"b_node": node, "b_group": group})

        return work

    # -- bookkeeping writes off the request path (master.store.writebehind) ------------------------------------

    def write_batch(self, steps: list[Callable[[Connection], None]]) -> None:
        """Run ``steps`` (:meth:`facts_work` and the like) in one transaction: all of them or none."""
        def work(conn: Connection) -> None:
            for step in steps:
                step(conn)

        self._run("bookkeeping", work, write=True)

    def start_write_behind(self, directory: Path, **limits: int) -> int:
        """From now on :meth:`defer_facts`, :meth:`defer_catalog` and :meth:`defer_contact` journal their
        write in ``directory`` and return; a writer thread commits them. Returns how many writes a master
        that died left in the journal (committed first)."""
        from master.store.writebehind import WriteBehind

        self._behind = WriteBehind(self, directory, **limits)
        return self._behind.start()

    def stop_write_behind(self, timeout: float = 30.0) -> bool:
        """Commit what waits and stop writing behind; False when some of it stays in the journal."""
        behind, self._behind = self._behind, None
        return behind.close(timeout) if behind is not None else True

    def settle(self, timeout: float = 5.0) -> bool:
        """Wait until the writes deferred before this call are committed (at once without write-behind)."""
        behind = self._behind
        return behind.settle(timeout) if behind is not None else True

    @property
    def write_behind(self) -> Any:
        """The running :class:`~master.store.writebehind.WriteBehind`, or None."""
        return self._behind

    def _defer(self, kind: str, meta: dict[str, Any], payload: bytes, write_now: Callable[[], None]) -> None:
        from master.store.writebehind import Record

        behind = self._behind
        if behind is None or not behind.submit(Record(kind, meta, payload)):
            write_now()

    def defer_facts(self, node: str, facts_json: bytes, *, environment: str, drop: tuple[str, ...] = ()) -> None:
        """:meth:`save_facts` of the facts as their JSON text, less the top-level keys ``drop``, written
        behind when write-behind runs."""
        at = now_utc()

        def now() -> None:
            from master.store.writebehind import facts_document

            self.save_facts(node, facts_document(facts_json, list(drop)), environment=environment, received_at=at)

        self._defer("facts", {"node": node, "at": at.isoformat(), "environment": environment, "drop": list(drop)},
                    facts_json, now)

    def defer_catalog(self, node: str, digest: str, header: Mapping[str, Any], redacted_json: Callable[[], bytes],
                      *, code_id: str | None, environment: str, compile_seconds: float | None = None) -> None:
        """:meth:`save_catalog_digest` of a redacted catalog's JSON text, written behind when write-behind
        runs. ``redacted_json()`` is asked for it only when the journal or the store needs it (not for a
        catalog committed lately, nor for one the store holds)."""
        at = now_utc()
        behind = self._behind
        self._defer("catalog", {"node": node, "at": at.isoformat(), "digest": digest, "header": dict(header),
                                "code_id": code_id, "environment": environment, "seconds": compile_seconds},
                    b"" if behind is None or behind.stored_lately(digest) else redacted_json(),
                    lambda: self.save_catalog_digest(node, digest, header, redacted_json, code_id=code_id,
                                                     environment=environment, compiled_at=at,
                                                     compile_seconds=compile_seconds))

    def defer_contact(self, node: str, *, group: str | None = None) -> None:
        """:meth:`heartbeat`, written behind when write-behind runs."""
        at = now_utc()
        self._defer("contact", {"node": node, "at": at.isoformat(), "group": group}, b"",
                    lambda: self.heartbeat(node, at=at, group=group))

    def note_agent_disabled(self, node: str, message: str | None, *, at: datetime | None = None) -> bool:
        """Keep what ``node``'s agent says of itself: disabled with ``message``, or (None) running. Returns
        whether that changed; a node the store has not seen yet is recorded, without counting as contact."""
        when = utc(at) if at else now_utc()
        n = nodes

        def work(conn: Connection) -> bool:
            conn.execute(self._sql.node_insert, {"name": node, "first_seen": when})
            changed = conn.execute(
                sa.update(n).where(n.c.name == node, n.c.agent_disabled.is_distinct_from(message))
                .values(agent_disabled=message, agent_disabled_at=when if message is not None else None))
            return bool(changed.rowcount)

        return bool(self._run("note_agent_disabled", work, write=True))

    def set_node_group(self, node: str, group: str | None) -> None:
        """Put ``node`` in ``group`` (None: in none). Naming a node the store has not seen yet records it,
        without counting as contact."""
        def work(conn: Connection) -> None:
            conn.execute(self._sql.node_insert, {"name": node, "first_seen": now_utc()})
            conn.execute(self._sql.set_group, {"b_node": node, "b_group": group})

        self._run("set_node_group", work, write=True)

    def node_statuses(self, *, unresponsive_after: timedelta = timedelta(hours=1),
                      now: datetime | None = None, include_deactivated: bool = False) -> list[NodeStatus]:
        """Every node's status, sorted by name: one query, whatever the size of the fleet. Deactivated
        nodes are left out unless ``include_deactivated``."""
        stale_before = (utc(now) if now else now_utc()) - unresponsive_after
        n, r, c = nodes, reports, catalogs
        query = (sa.select(n.c.name, n.c.group_name, n.c.environment, n.c.last_seen, n.c.last_run,
                           n.c.report_count, n.c.agent_disabled, n.c.agent_disabled_at, n.c.agent_version,
                           r.c.status, r.c.noop_pending, r.c.code_id, r.c.cached_catalog_status,
                           r.c.environment.label("report_environment"), c.c.code_id.label("catalog_code_id"))
                 .select_from(n.outerjoin(r, r.c.id == n.c.latest_report_id).outerjoin(c, c.c.node == n.c.name))
                 .order_by(n.c.name))
        if not include_deactivated:
            query = query.where(n.c.deactivated_at.is_(None))

        def work(conn: Connection) -> list[NodeStatus]:
            out = []
            for row in conn.execute(query):
                out.append(NodeStatus(
                    name=row.name,
                    status=_status_of(last_seen=row.last_seen, last_run=row.last_run, report_status=row.status,
                                      noop_pending=bool(row.noop_pending), stale_before=stale_before),
                    last_run=row.last_run,
                    last_seen=row.last_seen,
                    code_id=row.code_id if row.status is not None else row.catalog_code_id,
                    environment=row.report_environment or row.environment,
                    group=row.group_name,
                    report_count=int(row.report_count or 0),
                    cached_catalog=(row.cached_catalog_status
                                    if row.cached_catalog_status in ("on_failure", "explicitly_requested") else None),
                    disabled=row.agent_disabled,
                    disabled_since=row.agent_disabled_at,
                    agent_version=row.agent_version,
                ))
            return out

        return self._run("node_statuses", work)

    def stats(self, *, since: datetime, unresponsive_after: timedelta = timedelta(hours=1),
              now: datetime | None = None) -> dict[str, Any]:
        """Fleet counts: the runs since ``since`` (runs, changed, failed, unchanged, noop_pending, events,
        corrective_changes, nodes_reporting) and, under ``nodes``, how many nodes are in each status now."""
        r = reports

        def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
            return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

        query = sa.select(
            sa.func.count().label("runs"),
            count_if(r.c.status == "changed").label("changed"),
            count_if(r.c.status == "failed").label("failed"),
            count_if(r.c.status == "unchanged").label("unchanged"),
            count_if(r.c.noop_pending.is_(True)).label("noop_pending"),
            count_if(r.c.corrective_change.is_(True)).label("corrective_changes"),
            sa.func.coalesce(sa.func.sum(r.c.event_count), 0).label("events"),
            sa.func.count(sa.distinct(r.c.node)).label("nodes_reporting"),
        ).where(r.c.time >= _ts(since))

        def work(conn: Connection) -> dict[str, Any]:
            return {key: int(value) for key, value in conn.execute(query).one()._mapping.items()}

        out: dict[str, Any] = {"since": utc(since), **self._run("stats", work)}
        per_status = Counter(s.status for s in self.node_statuses(unresponsive_after=unresponsive_after, now=now))
        out["nodes"] = {status: per_status.get(status, 0) for status in NODE_STATUSES}
        out["node_total"] = sum(per_status.values())
        return out
