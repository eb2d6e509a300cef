"""The dashboard's read-only queries that the store's API does not have yet: report listings with a time
range and keyset pagination, and statistics over time (runs, changes, failures, corrective changes, run
and compile time) by fleet, group or node.

They read the store's tables (``master.store.schema``) through its engine, always bounded by an indexed
column (``reports.time``, ``reports.node``) and a limit, aggregated in SQL: a page never loads all the
reports. Plain functions of (store, arguments); no caching here (the app caches).

``groups`` (where taken) keeps to the nodes of those groups: what a viewer limited to them may see. None
means every node; an empty set, none.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from master.store import Store, StoreError
from master.store.schema import catalogs, nodes, reports

log = logging.getLogger(__name__)

RUN_STATUSES = ("changed", "unchanged", "failed")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The report listing's status filter: a run status, or a kind of run.
REPORT_FILTERS = (*RUN_STATUSES, "noop", "corrective")


def _run(store: Store, what: str, work: Any) -> Any:
    try:
        with store.engine.connect() as conn:
            return work(conn)
    except sa.exc.SQLAlchemyError as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"{what} failed: {message}") from exc


def _seconds_column(dialect: str) -> sa.ColumnElement[Any]:
    """The run time of the report row (the store keeps it as a column since schema version 4)."""
    return sa.literal_column("reports.run_seconds", sa.Float())


def bucket_keys(since: datetime, until: datetime, bucket: str) -> list[datetime]:
    """The start of every hour (or day) from ``since``'s to ``until``'s, in UTC."""
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    start = since.replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        start = start.replace(hour=0)
    out = []
    while start <= until:
        out.append(start)
        start += step
    return out


def bucket_key(moment: datetime, bucket: str) -> str:
    return moment.strftime("%Y-%m-%d %H" if bucket == "hour" else "%Y-%m-%d")


def _in_groups(column: sa.ColumnElement[Any], groups: frozenset[str]) -> sa.ColumnElement[bool]:
    """``column`` (a node name) names a node of one of ``groups``."""
    return column.in_(sa.select(nodes.c.name).where(nodes.c.group_name.in_(sorted(groups))))


def _scope(query: sa.Select[Any], *, node: str | None, group: str | None,
           groups: frozenset[str] | None = None) -> sa.Select[Any]:
    if node is not None:
        query = query.where(reports.c.node == node)
    if group is not None:
        query = query.where(reports.c.node.in_(sa.select(nodes.c.name).where(nodes.c.group_name == group)))
    if groups is not None:
        query = query.where(_in_groups(reports.c.node, groups))
    return query


# -- report listings -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page of a newest-first listing starts: strictly older than (time, id)."""

    time: datetime
    id: int

    def encode(self) -> str:
        """``<microseconds since the epoch>.<id>``: nothing a URL needs to escape."""
        return f"{(self.time - _EPOCH) // timedelta(microseconds=1)}.{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor ``encode`` wrote; ValueError for anything else."""
        micros, dot, ident = text.partition(".")
        if not dot:
            raise ValueError(f"bad cursor {text!r}")
        return cls(_EPOCH + timedelta(microseconds=int(micros)), int(ident))


def report_page(store: Store, *, node: str | None = None, group: str | None = None, status: str | None = None,
                since: datetime | None = None, until: datetime | None = None, before: Cursor | None = None,
                limit: int = 50, groups: frozenset[str] | None = None) -> tuple[list[dict[str, Any]], Cursor | None]:
    """One page of report summaries, newest first, and the cursor of the next page (None: last page)."""
    r = reports
    dialect = store.engine.dialect.name
    query: sa.Select[Any] = sa.select(r.c.id, r.c.node, r.c.time, r.c.status, r.c.noop, r.c.noop_pending, r.c.corrective_change,
                      r.c.environment, r.c.code_id, r.c.configuration_version, r.c.event_count, r.c.change_count,
                      r.c.cached_catalog_status, _seconds_column(dialect).label("seconds"))
    query = _scope(query, node=node, group=group, groups=groups)
    if status in RUN_STATUSES:
        query = query.where(r.c.status == status)
    elif status == "noop":
        query = query.where(r.c.noop.is_(True))
    elif status == "corrective":
        query = query.where(r.c.corrective_change.is_(True))
    if since is not None:
        query = query.where(r.c.time >= since)
    if until is not None:
        query = query.where(r.c.time < until)
    if before is not None:
        query = query.where(sa.or_(r.c.time < before.time, sa.and_(r.c.time == before.time, r.c.id < before.id)))
    query = query.order_by(r.c.time.desc(), r.c.id.desc()).limit(limit + 1)

    def work(conn: Connection) -> list[dict[str, Any]]:
        return [dict(row._mapping) for row in conn.execute(query)]

    rows = _run(store, "report listing", work)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (Cursor(rows[-1]["time"], rows[-1]["id"]) if more and rows else None)


# -- statistics over time ------------------------------------------------------------------------------------


def _count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _runs(dialect: str, *, since: datetime, until: datetime | None = None, node: str | None = None,
          group: str | None = None, groups: frozenset[str] | None = None, with_group: bool = False) -> sa.Subquery:
    """The period's report rows with their run time read once (the JSON is the costly part)."""
    r = reports
    columns: list[sa.ColumnElement[Any]] = [
        r.c.node, r.c.time, r.c.status, r.c.noop, r.c.corrective_change, r.c.change_count, r.c.event_count,
        _seconds_column(dialect).label("seconds")]
    source: Any = r
    if with_group:
        columns.append(nodes.c.group_name.label("group"))
        source = r.join(nodes, nodes.c.name == r.c.node)
    query = _scope(sa.select(*columns).select_from(source).where(r.c.time >= since), node=node, group=group,
                   groups=groups)
    if until is not None:
        query = query.where(r.c.time < until)
    return query.subquery("runs")


def _aggregates(runs: sa.Subquery) -> list[sa.ColumnElement[Any]]:
    c = runs.c
    return [
        sa.func.count().label("runs"),
        _count_if(c.status == "changed").label("changed"),
        _count_if(c.status == "failed").label("failed"),
        _count_if(c.status == "unchanged").label("unchanged"),
        _count_if(c.noop.is_(True)).label("noop"),
        # drift fixed (the agent put back what someone changed by hand) against changes the code asked for
        _count_if(sa.and_(c.status != "unchanged", c.corrective_change.is_(True))).label("corrective"),
        _count_if(sa.and_(c.status != "unchanged", c.corrective_change.is_(False),
                          c.change_count > 0)).label("intentional"),
        sa.func.coalesce(sa.func.sum(c.change_count), 0).label("changes"),
        sa.func.coalesce(sa.func.sum(c.event_count), 0).label("events"),
        sa.func.count(c.seconds).label("timed"),
        sa.func.avg(c.seconds).label("avg_seconds"),
        sa.func.max(c.seconds).label("max_seconds"),
    ]


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in ("avg_seconds", "max_seconds"):
            out[key] = None if value is None else round(float(value), 3)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = int(value)
        else:
            out[key] = value
    return out


EMPTY_BUCKET = {"runs": 0, "changed": 0, "failed": 0, "unchanged": 0, "noop": 0, "corrective": 0,
                "intentional": 0, "changes": 0, "events": 0, "timed": 0, "avg_seconds": None, "max_seconds": None}


def _bucket_of(runs: sa.Subquery, dialect: str, bucket: str) -> sa.ColumnElement[str]:
    if dialect == "postgresql":
        fmt = "YYYY-MM-DD HH24" if bucket == "hour" else "YYYY-MM-DD"
        return sa.func.to_char(sa.func.date_trunc(bucket, sa.func.timezone("UTC", runs.c.time)), fmt)
    # SQLite keeps UTC times as 'YYYY-MM-DD HH:MM:SS.ffffff' text (see UTCDateTime)
    return sa.func.substr(runs.c.time, 1, 13 if bucket == "hour" else 10)


def run_series(store: Store, *, since: datetime, until: datetime, bucket: str = "hour", node: str | None = None,
               group: str | None = None, groups: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Per hour (or day) from ``since`` to ``until``: runs, changed, failed, unchanged, noop, corrective,
    intentional, changes, events, timed (runs with a run time), avg_seconds, max_seconds; buckets without
    runs are zeros."""
    if bucket not in ("hour", "day"):
        raise ValueError(f"bad bucket {bucket!r}")
    dialect = store.engine.dialect.name
    runs = _runs(dialect, since=since, until=until, node=node, group=group, groups=groups)
    key = _bucket_of(runs, dialect, bucket).label("bucket")
    query = sa.select(key, *_aggregates(runs)).group_by(key)

    def work(conn: Connection) -> dict[str, dict[str, Any]]:
        return {row.bucket: _clean(dict(row._mapping)) for row in conn.execute(query)}

    found = _run(store, "run statistics", work)
    out = []
    for start in bucket_keys(since, until, bucket):
        entry = dict(found.get(bucket_key(start, bucket)) or EMPTY_BUCKET)
        entry.pop("bucket", None)
        entry["start"] = start
        out.append(entry)
    return out


def totals_of(series: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of a whole period from its buckets."""
    out: dict[str, Any] = {key: sum(b[key] for b in series) for key in EMPTY_BUCKET
                           if key not in ("avg_seconds", "max_seconds")}
    timed = [b for b in series if b["timed"] and b["avg_seconds"] is not None]
    weight = sum(b["timed"] for b in timed)
    out["avg_seconds"] = round(sum(b["avg_seconds"] * b["timed"] for b in timed) / weight, 3) if weight else None
    out["max_seconds"] = max((b["max_seconds"] for b in timed), default=None)
    return out


TOP_ORDER = ("failed", "changes", "corrective", "max_seconds")


def per_node(store: Store, *, since: datetime, until: datetime | None = None,
             group: str | None = None, groups: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """The period's run figures of every node that reported in it (one scan of the period's runs)."""
    runs = _runs(store.engine.dialect.name, since=since, until=until, group=group, groups=groups)
    query = sa.select(runs.c.node, *_aggregates(runs)).group_by(runs.c.node)

    def work(conn: Connection) -> list[dict[str, Any]]:
        return [_clean(dict(row._mapping)) for row in conn.execute(query)]

    return list(_run(store, "node statistics", work))


def rank(rows: list[dict[str, Any]], *, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """For each order of ``TOP_ORDER``, the ``limit`` nodes with the most of it (those with none left out)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for order in TOP_ORDER:
        ranked = [row for row in rows if row[order]]
        ranked.sort(key=lambda row: (-row[order], row["node"]))
        out[order] = ranked[:limit]
    return out


def roll_up(rows: list[dict[str, Any]], group_of: Mapping[str, str | None]) -> dict[str | None, dict[str, Any]]:
    """Per-node figures summed by group (``group_of``: node -> group), with ``nodes_reporting``."""
    by: dict[str | None, list[dict[str, Any]]] = {}
    for row in rows:
        by.setdefault(group_of.get(row["node"]), []).append(row)
    return {group: {**totals_of(members), "nodes_reporting": len(members)} for group, members in by.items()}


def compile_by_group(store: Store) -> dict[str | None, dict[str, Any]]:
    """Average and longest compile time of the latest catalogs, and node count, by group."""
    group = nodes.c.group_name.label("group")
    members = sa.select(group, sa.func.count().label("nodes")).group_by(nodes.c.group_name)
    compile_q = (sa.select(group, sa.func.avg(catalogs.c.compile_seconds).label("avg_compile_seconds"),
                           sa.func.max(catalogs.c.compile_seconds).label("max_compile_seconds"))
                 .select_from(catalogs.join(nodes, nodes.c.name == catalogs.c.node)).group_by(nodes.c.group_name))

    def work(conn: Connection) -> dict[str | None, dict[str, Any]]:
        table: dict[str | None, dict[str, Any]] = {}
        for row in conn.execute(members):
            table[row.group] = {"nodes": int(row.nodes), "avg_compile_seconds": None, "max_compile_seconds": None}
        for row in conn.execute(compile_q):
            entry = table.setdefault(row.group, {"nodes": 0})
            for key in ("avg_compile_seconds", "max_compile_seconds"):
                value = getattr(row, key)
                entry[key] = None if value is None else round(float(value), 3)
        return table

    return dict(_run(store, "compile by group", work))


def group_table(rows: list[dict[str, Any]], group_of: Mapping[str, str | None],
                compiles: Mapping[str | None, dict[str, Any]]) -> list[dict[str, Any]]:
    """The statistics page's table by group: run figures (from per-node rows), node count, compile times."""
    runs = roll_up(rows, group_of)
    out = []
    for group in set(runs) | set(compiles):
        entry: dict[str, Any] = {"group": group, "nodes": 0, **EMPTY_BUCKET, "nodes_reporting": 0,
                                 "avg_compile_seconds": None, "max_compile_seconds": None}
        entry.update(compiles.get(group, {}))
        entry.update(runs.get(group, {}))
        out.append(entry)
    return sorted(out, key=lambda e: (e["group"] is None, e["group"] or ""))


def node_runs(store: Store, node: str, *, last: int = 60) -> list[dict[str, Any]]:
    """The node's latest runs, oldest first (for plots): id, time, status, noop, corrective_change,
    change_count, event_count, seconds."""
    r = reports
    query = (sa.select(r.c.id, r.c.time, r.c.status, r.c.noop, r.c.corrective_change, r.c.change_count,
                       r.c.event_count, _seconds_column(store.engine.dialect.name).label("seconds"))
             .where(r.c.node == node).order_by(r.c.time.desc(), r.c.id.desc()).limit(last))

    def work(conn: Connection) -> list[dict[str, Any]]:
        return [dict(row._mapping) for row in conn.execute(query)]

    return list(reversed(_run(store, "node runs", work)))


def catalog_info(store: Store, node: str) -> dict[str, Any] | None:
    """The node's latest catalog's digest, code_id, environment, compiled_at and compile_seconds."""
    c = catalogs
    query = sa.select(c.c.digest, c.c.code_id, c.c.environment, c.c.compiled_at, c.c.compile_seconds).where(
        c.c.node == node)

    def work(conn: Connection) -> dict[str, Any] | None:
        row = conn.execute(query).one_or_none()
        return None if row is None else dict(row._mapping)

    found: dict[str, Any] | None = _run(store, "catalog info", work)
    return found


def compile_summary(store: Store, *, group: str | None = None,
                    groups: frozenset[str] | None = None) -> dict[str, Any]:
    """Compile time of the nodes' latest catalogs: count, avg, max, p50 and p95 (seconds)."""
    c = catalogs
    base = sa.select(c.c.compile_seconds).where(c.c.compile_seconds.is_not(None))
    if group is not None:
        base = base.where(c.c.node.in_(sa.select(nodes.c.name).where(nodes.c.group_name == group)))
    if groups is not None:
        base = base.where(_in_groups(c.c.node, groups))
    sub = base.subquery()
    totals = sa.select(sa.func.count(), sa.func.avg(sub.c.compile_seconds), sa.func.max(sub.c.compile_seconds))

    def work(conn: Connection) -> dict[str, Any]:
        count, avg, high = conn.execute(totals).one()
        out: dict[str, Any] = {"catalogs": int(count or 0), "avg": None if avg is None else round(float(avg), 3),
                               "max": None if high is None else round(float(high), 3)}
        for name, fraction in (("p50", 0.5), ("p95", 0.95)):
            out[name] = None
            if count:
                offset = min(int(count) - 1, int(fraction * int(count)))
                value = conn.execute(sa.select(sub.c.compile_seconds).order_by(sub.c.compile_seconds)
                                     .offset(offset).limit(1)).scalar()
                out[name] = None if value is None else round(float(value), 3)
        return out

    return dict(_run(store, "compile statistics", work))


def compile_series(store: Store, *, since: datetime, until: datetime, bucket: str = "day",
                   group: str | None = None, groups: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Average and maximum compile time of the latest catalogs, by the hour (day) they were compiled."""
    dialect = store.engine.dialect.name
    c = catalogs
    if dialect == "postgresql":
        fmt = "YYYY-MM-DD HH24" if bucket == "hour" else "YYYY-MM-DD"
        key = sa.func.to_char(sa.func.date_trunc(bucket, sa.text("catalogs.compiled_at AT TIME ZONE 'UTC'")), fmt)
    else:
        key = sa.func.substr(c.c.compiled_at, 1, 13 if bucket == "hour" else 10)
    label = key.label("bucket")
    query = (sa.select(label, sa.func.count().label("catalogs"), sa.func.avg(c.c.compile_seconds).label("avg"),
                       sa.func.max(c.c.compile_seconds).label("max"))
             .where(c.c.compiled_at >= since, c.c.compiled_at < until, c.c.compile_seconds.is_not(None))
             .group_by(label))
    if group is not None:
        query = query.where(c.c.node.in_(sa.select(nodes.c.name).where(nodes.c.group_name == group)))
    if groups is not None:
        query = query.where(_in_groups(c.c.node, groups))

    def work(conn: Connection) -> dict[str, Any]:
        return {row.bucket: row for row in conn.execute(query)}

    found = _run(store, "compile series", work)
    out = []
    for start in bucket_keys(since, until, bucket):
        row = found.get(bucket_key(start, bucket))
        out.append({"start": start, "catalogs": int(row.catalogs) if row else 0,
                    "avg": round(float(row.avg), 3) if row and row.avg is not None else None,
                    "max": round(float(row.max), 3) if row and row.max is not None else None})
    return out
