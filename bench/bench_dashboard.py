"""Benchmark: the dashboard's pages on a fleet-sized store, rendered server-side (the WSGI app called in
process, no network), with and without the app's short cache.

Data set (default; see --help): 10,000 nodes with Facter-style facts, a catalog (with compile time) and
one recent report each, plus a month of history for 200 of them (30 days x 24 runs a day = 144,000
reports), i.e. ~154,000 reports with their events. A real 10,000-node fleet running every 30 minutes makes
~14 million reports a month; this keeps the seeding to well under a minute on 2 cores while giving the
time-range queries a month of rows to aggregate. Seeding writes the store's tables in bulk (the same row
shapes Store.save_report writes, built with the store's own summarize_report/report_events), because a
transaction per report would take most of an hour here.

Prints a Markdown table, wall time with this process's CPU time beside it; ``--write`` replaces the
"## Dashboard" section of bench/RESULTS.md (only on a quiet machine; see bench/harness.py).

    .venv/bin/python bench/bench_dashboard.py [--nodes 10000] [--history-nodes 200] [--days 30]
                                              [--runs-per-day 24] [--repeat 5] [--url STORE_URL]
                                              [--write] [--allow-busy]
"""

from __future__ import annotations

import argparse
import io
import logging
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

ROOT = harness.ROOT
sys.path.insert(0, str(ROOT))

from master.dashboard import TokenStore, create_app  # noqa: E402
from master.dashboard.sample import GROUPS, make_report, pick_kind, sample_catalog, sample_facts  # noqa: E402
from master.store import Store  # noqa: E402
from master.store.documents import catalog_digest, report_events, summarize_report  # noqa: E402
from master.store.schema import (  # noqa: E402
    catalog_documents,
    catalog_history,
    catalogs,
    events,
    facts,
    nodes,
    reports,
)

log = logging.getLogger("bench_dashboard")
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
CHUNK = 5000


def node_name(i: int) -> str:
    return f"{GROUPS[i % len(GROUPS)]}{i:05d}.example.com"


def seed(store: Store, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(42)
    engine = store.engine
    started = time.perf_counter()
    names = [node_name(i) for i in range(args.nodes)]
    with engine.begin() as conn:
        rows, fact_rows, catalog_rows, history_rows, document_rows = [], [], [], [], []
        for i, name in enumerate(names):
            group = GROUPS[i % len(GROUPS)]
            # a few nodes have gone quiet (unresponsive); the rest were seen a few minutes ago
            seen = NOW - (timedelta(hours=5) if i % 97 == 0 else timedelta(minutes=rng.randrange(1, 30)))
            rows.append({"name": name, "environment": "production", "first_seen": NOW - timedelta(days=60),
                         "last_seen": seen, "facts_at": seen, "catalog_at": seen, "group_name": group,
                         "report_count": 0})
            fact_rows.append({"node": name, "environment": "production", "received_at": seen,
                              "facts": sample_facts(name, group, i)})
            catalog = sample_catalog(name, group, "c0ffee1")
            digest = catalog_digest(catalog)
            catalog_rows.append({"node": name, "digest": digest, "code_id": "c0ffee1", "environment": "production",
                                 "compiled_at": seen, "compile_seconds": round(rng.uniform(0.2, 2.5), 3)})
            document_rows.append({"digest": digest, "stored_at": seen, "catalog": catalog})
            history_rows.append({"node": name, "digest": digest, "code_id": "c0ffee1", "first_seen": seen,
                                 "last_seen": seen})
        for table, batch in ((nodes, rows), (facts, fact_rows), (catalogs, catalog_rows),
                             (catalog_history, history_rows), (catalog_documents, document_rows)):
            for start in range(0, len(batch), CHUNK):
                conn.execute(sa.insert(table), batch[start:start + CHUNK])
    next_id = 1
    report_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    total_reports = total_events = 0

    def flush() -> None:
        nonlocal report_rows, event_rows
        with engine.begin() as conn:
            if report_rows:
                conn.execute(sa.insert(reports), report_rows)
            if event_rows:
                conn.execute(sa.insert(events), event_rows)
        report_rows, event_rows = [], []

    def add(name: str, at: datetime, kind: str) -> None:
        nonlocal next_id, total_reports, total_events
        document = make_report(name, at, kind, rng)
        summary = summarize_report(document, received_at=at)
        report_rows.append({
            "id": next_id, "transaction_uuid": summary.transaction_uuid, "node": name, "time": summary.time,
            "received_at": at, "environment": summary.environment, "code_id": summary.code_id,
            "configuration_version": summary.configuration_version, "catalog_uuid": summary.catalog_uuid,
            "status": summary.status, "noop": summary.noop, "noop_pending": summary.noop_pending,
            "corrective_change": summary.corrective_change, "cached_catalog_status": summary.cached_catalog_status,
            "event_count": summary.event_count, "change_count": summary.change_count, "document": document})
        found = [dict(e, report_id=next_id, node=name) for e in report_events(document, default_time=summary.time)]
        event_rows.extend(found)
        total_reports += 1
        total_events += len(found)
        next_id += 1
        if len(report_rows) >= CHUNK:
            flush()

    step = timedelta(days=1) / args.runs_per_day
    for i in range(args.history_nodes):
        runs = args.days * args.runs_per_day
        for run in range(runs):
            add(names[i], NOW - step * (runs - run) + timedelta(seconds=rng.randrange(60)), pick_kind(rng))
    for i in range(args.history_nodes, args.nodes):
        add(names[i], NOW - timedelta(minutes=rng.randrange(5, 60)), pick_kind(rng))
    flush()
    with engine.begin() as conn:
        # the node columns Store.save_report keeps up to date: latest run, its report, the count
        r = reports
        latest = (sa.select(r.c.id).where(r.c.node == nodes.c.name).order_by(r.c.time.desc(), r.c.id.desc())
                  .limit(1).scalar_subquery())
        conn.execute(sa.update(nodes).values(
            latest_report_id=latest,
            last_run=sa.select(sa.func.max(r.c.time)).where(r.c.node == nodes.c.name).scalar_subquery(),
            report_count=sa.select(sa.func.count()).where(r.c.node == nodes.c.name).scalar_subquery()))
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
    return {"reports": total_reports, "events": total_events, "seconds": time.perf_counter() - started}


class Caller:
    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token

    def get(self, url: str) -> tuple[int, int]:
        path, _, query = url.partition("?")
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "wsgi.input": io.BytesIO(),
                   "wsgi.url_scheme": "https", "HTTP_AUTHORIZATION": f"Bearer {self.token}"}
        status: list[int] = []
        body = b"".join(self.app(environ, lambda s, h: status.append(int(s.split()[0]))))
        return status[0], len(body)


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float, float, Any]:
    """Median and max wall, median CPU (this process), in ms, and the last result."""
    wall, worst, cpu, result = harness.timed(call, repeat)
    return wall * 1000, worst * 1000, cpu * 1000, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--history-nodes", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs-per-day", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file in a temporary directory)")
    harness.add_arguments(parser)
    args = parser.parse_args()
    bench = harness.Bench(args)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        with Store.open(url) as store:
            bench.before(f"seeding {args.nodes:,} nodes")
            seeded = seed(store, args)
            size = (Path(tmp) / "bench.db").stat().st_size / 2**20 if not args.url else float("nan")
            tokens = TokenStore(Path(tmp) / "tokens.json")
            token = tokens.issue("bench")
            cold = Caller(create_app(store, tokens=tokens, now=lambda: NOW, cache_seconds=0), token)
            warm = Caller(create_app(store, tokens=tokens, now=lambda: NOW, cache_seconds=3600), token)
            busy, quiet = node_name(0), node_name(args.nodes - 1)
            report_id = store.report_summaries(busy, last=1, status="changed")[0]["id"]
            deep = "/reports"
            for _ in range(20):  # 20 pages back (1,000 reports), following the "older" cursor
                body = cold.app(  # one call to read the cursor out of the API
                    {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/reports", "QUERY_STRING": deep.partition("?")[2],
                     "wsgi.input": io.BytesIO(), "wsgi.url_scheme": "https",
                     "HTTP_AUTHORIZATION": f"Bearer {token}"}, lambda s, h: None)
                cursor = __import__("json").loads(b"".join(body)).get("next")
                if not cursor:  # a small data set has fewer pages
                    break
                deep = f"/reports?before={cursor}"
            pages = [
                ("overview", "/"), ("nodes, page 1", "/nodes"), ("nodes, page 150", "/nodes?page=150"),
                ("nodes, status=failed", "/nodes?status=failed"), ("nodes, group + name filter", "/nodes?group=db&q=db001"),
                (f"node with {args.days * args.runs_per_day} reports", f"/node/{busy}"), ("node with 1 report", f"/node/{quiet}"),
                ("report (events, diff)", f"/report/{report_id}"),
                ("reports, newest", "/reports"), ("reports, 21st page (cursor)", deep),
                ("reports, node + status", f"/reports?node={busy}&status=unchanged"),
                ("reports, failed in 24h", "/reports?status=failed&range=24h"),
                ("reports, time range + group", "/reports?since=2024-05-10&until=2024-05-12&group=web"),
                ("search os.release.major=12", "/search?fact=os.release.major&value=12"),
                ("stats, fleet 24h", "/stats?range=24h"), ("stats, fleet 7d", "/stats?range=7d"),
                ("stats, fleet 30d", "/stats?range=30d"), ("stats, group db 30d", "/stats?range=30d&group=db"),
                ("stats, one node 30d", f"/stats?range=30d&node={busy}"),
                ("rollouts", "/rollouts"), ("/metrics", "/metrics"), ("/api/nodes", "/api/nodes"),
                ("/api/stats 24h", "/api/stats"),
            ]
            out = [f"Seeded {args.nodes:,} nodes (facts, catalog), {seeded['reports']:,} reports "
                   f"({args.history_nodes} nodes x {args.days} days x {args.runs_per_day}/day + 1 each for the rest), "
                   f"{seeded['events']:,} events in {seeded['seconds']:.1f} s; store {store.url.split(':')[0]}"
                   + (f", {size:.0f} MiB" if size == size else ""), "",
                   "Rendered in process (the WSGI app called directly); CPU is this process's.", "",
                   "| page | status | KiB | uncached median ms | uncached CPU ms | uncached max ms | cached median ms "
                   "| cached CPU ms |",
                   "|---|---:|---:|---:|---:|---:|---:|---:|"]
            bench.before("pages")
            for label, url in pages:
                median, worst, cpu, (status, length) = timed(lambda u=url: cold.get(u), args.repeat)  # type: ignore[misc]
                warm.get(url)
                cached, _, cached_cpu, _ = timed(lambda u=url: warm.get(u), args.repeat)  # type: ignore[misc]
                out.append(f"| {label} | {status} | {length / 1024:.0f} | {median:.1f} | {cpu:.1f} | {worst:.1f} "
                           f"| {cached:.1f} | {cached_cpu:.1f} |")
    return bench.finish("Dashboard", "\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
