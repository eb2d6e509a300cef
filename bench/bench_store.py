"""Benchmark: the master's store on a fleet-sized data set, SQLite and (when reachable) PostgreSQL.

Saves NODES x REPORTS reports of about EVENTS events each through ``Store.save_report`` (one transaction
per report, as the master does), plus one facts document and one heartbeat per node, then times the
dashboard's reads: ``node_statuses()`` (the whole fleet), ``reports(node)``, ``report_summaries()`` and
``stats()``. Prints a Markdown table: wall time and, beside it, the CPU time of this process (every thread;
for PostgreSQL the server's own CPU is not in it); ``--write`` replaces the "## Store" section of
bench/RESULTS.md (only on a quiet machine; see bench/harness.py).

PostgreSQL runs in a schema of its own (``bunraku_bench_<random>``) of the given database, dropped at the
end.

    .venv/bin/python bench/bench_store.py [--nodes 10000] [--reports 3] [--events 5] [--writers 1]
                                          [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test | --no-pg]
                                          [--write] [--allow-busy]
"""

from __future__ import annotations

import argparse
import random
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

ROOT = harness.ROOT
sys.path.insert(0, str(ROOT))

from master.store import Store  # noqa: E402

START = datetime(2024, 5, 1, tzinfo=UTC)


def make_report(node: str, run: int, events: int, rng: random.Random) -> dict[str, Any]:
    at = START + timedelta(minutes=30 * run, seconds=rng.randrange(1800))
    count = max(0, events + rng.randint(-2, 2))
    status = rng.choices(["unchanged", "changed", "failed"], [6, 3, 1])[0] if count else "unchanged"
    statuses: dict[str, Any] = {}
    for i in range(count):
        ref = f"File[/etc/app/{i}.conf]"
        statuses[ref] = {
            "resource_type": "File", "title": f"/etc/app/{i}.conf", "change_count": 1, "changed": True,
            "failed": status == "failed" and i == 0,
            "events": [{"property": "content", "previous_value": "{md5}" + "a" * 32,
                        "desired_value": "{md5}" + "b" * 32, "message": "content changed",
                        "status": "failure" if status == "failed" and i == 0 else "success",
                        "time": at.isoformat()}],
        }
    return {
        "host": node, "time": at.isoformat(), "configuration_version": 1714564800 + run, "code_id": f"c{run}",
        "transaction_uuid": str(uuid.uuid4()), "environment": "production", "status": status, "noop": False,
        "noop_pending": False, "corrective_change": False, "cached_catalog_status": "not_used",
        "resource_statuses": statuses, "metrics": {"events": {"values": [["total", "Total", count]]}},
        "logs": [{"level": "notice", "message": f"Applied catalog in {rng.random():.2f} seconds"}],
    }


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float]:
    """Median and max wall time and median CPU time (this process) of ``repeat`` calls, in milliseconds."""
    wall, worst, cpu, _ = harness.timed(fn, repeat)
    return wall * 1000, worst * 1000, cpu * 1000


def run(bench: harness.Bench, label: str, url: str, args: argparse.Namespace) -> list[tuple[str, ...]]:
    rng = random.Random(42)
    nodes = [f"node{i:05}.example.com" for i in range(args.nodes)]
    rows: list[tuple[str, ...]] = []
    bench.before(f"{label}: {args.nodes:,} nodes")
    with Store.open(url) as store:
        cpu0 = time.process_time()
        started = time.perf_counter()
        for node in nodes:
            store.save_facts(node, {"os": {"family": "Debian", "release": {"major": "12"}},
                                    "networking": {"fqdn": node}}, received_at=START)
            store.heartbeat(node, at=START, group=f"g{rng.randrange(10)}")
        facts_seconds = time.perf_counter() - started
        rows.append(("facts + heartbeat", f"{2 * len(nodes) / facts_seconds:,.0f} writes/s",
                     f"{time.process_time() - cpu0:.1f} s", f"{facts_seconds:.1f} s for {2 * len(nodes):,}"))

        batches = [[make_report(node, run, args.events, rng) for node in nodes] for run in range(args.reports)]
        flat = [report for batch in batches for report in batch]
        total_events = sum(len(r["resource_statuses"]) for r in flat)
        cpu0 = time.process_time()
        started = time.perf_counter()
        chunks = [flat[i::args.writers] for i in range(args.writers)]
        threads = [threading.Thread(target=lambda c=chunk: [store.save_report(r) for r in c]) for chunk in chunks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        rows.append((f"save_report ({args.writers} writer{'s' if args.writers > 1 else ''})",
                     f"{len(flat) / seconds:,.0f} reports/s", f"{time.process_time() - cpu0:.1f} s",
                     f"{seconds:.1f} s for {len(flat):,} reports, {total_events:,} events"))

        now = START + timedelta(hours=args.reports)
        statuses = store.node_statuses(now=now)
        assert len(statuses) == len(nodes), len(statuses)
        med, worst, cpu = timed(lambda: store.node_statuses(now=now), 5)
        rows.append((f"node_statuses() ({len(nodes):,} nodes)", f"{med:.0f} ms", f"{cpu:.0f} ms", f"max {worst:.0f} ms"))
        med, worst, cpu = timed(lambda: store.reports(rng.choice(nodes)), 200)
        rows.append(("reports(node) (last 10)", f"{med:.2f} ms", f"{cpu:.2f} ms", f"max {worst:.1f} ms"))
        med, worst, cpu = timed(lambda: store.report_summaries(last=50, status="failed"), 20)
        rows.append(("report_summaries(last=50, status=failed)", f"{med:.2f} ms", f"{cpu:.2f} ms", f"max {worst:.1f} ms"))
        med, worst, cpu = timed(lambda: store.report_events(rng.randint(1, len(flat))), 200)
        rows.append(("report_events(id)", f"{med:.2f} ms", f"{cpu:.2f} ms", f"max {worst:.1f} ms"))
        med, worst, cpu = timed(lambda: store.stats(since=now - timedelta(hours=1), now=now), 5)
        rows.append(("stats(since=1 h)", f"{med:.0f} ms", f"{cpu:.0f} ms", f"max {worst:.0f} ms"))
        med, worst, cpu = timed(lambda: store.nodes_with_fact("os.release.major", "12"), 3)
        rows.append(("nodes_with_fact(os.release.major=12)", f"{med:.0f} ms", f"{cpu:.0f} ms", f"max {worst:.0f} ms"))
    return [(label, *row) for row in rows]


def pg_schema(url: str) -> tuple[str, Callable[[], None]] | None:
    parsed = sa.make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=1):
            pass
    except OSError:
        return None
    name = f"bunraku_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(parsed)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')

    def drop() -> None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()

    separator = "&" if parsed.query else "?"
    return f"{url}{separator}options=-csearch_path%3D{name}", drop


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--reports", type=int, default=3, help="reports per node")
    ap.add_argument("--events", type=int, default=5, help="events per report, on average")
    ap.add_argument("--writers", type=int, default=1, help="threads calling save_report")
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--no-pg", action="store_true")
    harness.add_arguments(ap)
    args = ap.parse_args()
    bench = harness.Bench(args)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += run(bench, "SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", args)
    if not args.no_pg:
        found = pg_schema(args.pg_url)
        if found is None:
            rows.append(("PostgreSQL", "skipped", "not reachable", "", ""))
        else:
            url, drop = found
            try:
                rows += run(bench, "PostgreSQL", url, args)
            finally:
                drop()

    lines = [f"{args.nodes:,} nodes x {args.reports} reports x ~{args.events} events, {args.writers} writer thread(s); "
             "in process; CPU = this process's (every thread), a PostgreSQL server's own CPU not included.",
             "", harness.table(["backend", "operation", "rate / latency (median)", "CPU (median)", "detail"], rows,
                               align="llrrl")]
    return bench.finish("Store", "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
