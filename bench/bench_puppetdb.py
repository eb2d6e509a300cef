"""Benchmark: PuppetDB's query API (master/puppetdb) answering the queries Puppetboard's overview, reports and
node pages send, on a fleet-sized store, on SQLite and on PostgreSQL in one run.

Data set: the dashboard benchmark's (bench_dashboard.seed): N nodes with Facter-style facts, a catalog and
one recent report each, plus a month of history for some of them (default 10,000 nodes; 200 x 30 days x 24
runs). Each query goes through the dashboard's WSGI application in process (authentication, routing, JSON),
exactly as Puppetboard 7 spells it; the target is under 200 ms for the overview's queries.

Prints a Markdown table; ``--write`` replaces the "## PuppetDB API" section of bench/RESULTS.md (only on a
quiet machine; see bench/harness.py).

    .venv/bin/python bench/bench_puppetdb.py [--nodes 10000] [--history-nodes 200] [--days 30]
                                             [--runs-per-day 24] [--repeat 5]
                                             [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test | --no-pg]
                                             [--write] [--allow-busy]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_dashboard  # noqa: E402
import harness  # noqa: E402

sys.path.insert(0, str(harness.ROOT))

from master.dashboard import TokenStore, create_app  # noqa: E402
from master.store import Store  # noqa: E402

NOW = bench_dashboard.NOW
DAY = "%Y-%m-%dT%H:%M:%S.000000Z"


class Caller:
    """Requests to the dashboard's WSGI application, authenticated as pypuppetdb does (X-Authentication)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token

    def get(self, path: str, **params: Any) -> tuple[int, int]:
        query = urlencode({k: json.dumps(v) if isinstance(v, list) else v for k, v in params.items()})
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "wsgi.input": io.BytesIO(),
                   "wsgi.url_scheme": "https", "HTTP_X_AUTHENTICATION": self.token}
        status: list[int] = []
        body = b"".join(self.app(environ, lambda s, h: status.append(int(s.split()[0]))))
        if status[0] != 200:
            raise SystemExit(f"{path}?{query}: {status[0]} {body[:300]!r}")
        return status[0], len(body)


def queries(args: argparse.Namespace) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, path, parameters) of what Puppetboard asks, in its own spelling."""
    env = ["=", "catalog_environment", "production"]
    start = (NOW - timedelta(days=1)).replace(hour=0, minute=0, second=0).strftime(DAY)
    end = NOW.replace(hour=0, minute=0, second=0).strftime(DAY)
    busy = bench_dashboard.node_name(0)
    return [
        ("overview: environments", "/pdb/query/v4/environments", {}),
        ("overview: count nodes", "/pdb/query/v4/nodes", {"query": ["extract", [["function", "count"]], ["and", env]]}),
        ("overview: count resources", "/pdb/query/v4/resources",
         {"query": ["extract", [["function", "count"]], ["=", "environment", "production"]]}),
        ("overview: nodes with status", "/pdb/query/v4/nodes", {"query": ["and", env]}),
        ("overview: latest event counts", "/pdb/query/v4/event-counts",
         {"query": ["=", "latest_report?", True], "summarize_by": "certname"}),
        ("overview: daily chart (one day)", "/pdb/query/v4/reports",
         {"query": ["extract", [["function", "count"], "status"],
                    ["and", [">=", "producer_timestamp", start], ["<", "producer_timestamp", end],
                     ["=", "environment", "production"]], ["group_by", "status"]]}),
        ("reports page (100, total)", "/pdb/query/v4/reports",
         {"query": ["and", ["=", "environment", "production"]], "order_by": '[{"field": "end_time", "order": "desc"}]',
          "limit": 100, "offset": 0, "include_total": "true"}),
        (f"node page ({args.days * args.runs_per_day} reports)", f"/pdb/query/v4/nodes/{busy}", {}),
        ("node's reports (10, total)", "/pdb/query/v4/reports",
         {"query": ["and", ["=", "certname", busy]], "order_by": '[{"field": "end_time", "order": "desc"}]',
          "limit": 10, "offset": 0, "include_total": "true"}),
        ("node's facts", "/pdb/query/v4/facts", {"query": ["=", "certname", busy]}),
        ("PQL: nodes by fact", "/pdb/query/v4",
         {"query": 'nodes[certname] { facts { name = "role" and value = "db" } limit 100 }'}),
    ]


def run_backend(bench: harness.Bench, label: str, url: str, args: argparse.Namespace, tmp: Path,
                out: list[str]) -> None:
    with Store.open(url) as store:
        bench.before(f"{label}: seeding {args.nodes:,} nodes")
        seeded = bench_dashboard.seed(store, args)
        if store.engine.dialect.name == "postgresql":
            # as autovacuum would have by now: plans need statistics, and an index-only scan (counting one
            # environment's reports) needs the visibility map a vacuum of the freshly inserted rows sets
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in sa.inspect(conn).get_table_names():
                    conn.exec_driver_sql(f'VACUUM ANALYZE "{table}"')
        tokens = TokenStore(tmp / f"tokens-{label}.json")
        caller = Caller(create_app(store, tokens=tokens, cache_seconds=0), tokens.issue("bench"))
        out.append(f"**{label}**: {args.nodes:,} nodes, {seeded['reports']:,} reports, {seeded['events']:,} events "
                   f"(seeded in {seeded['seconds']:.1f} s)")
        out.append("")
        out.append("| query | KiB | median ms | CPU ms | max ms |")
        out.append("|---|---:|---:|---:|---:|")
        bench.before(f"{label}: queries")
        for name, path, params in queries(args):
            caller.get(path, **params)  # once untimed: the database's caches warm
            median, worst, cpu, (_, length) = bench_dashboard.timed(
                lambda p=path, q=params: caller.get(p, **q), args.repeat)  # type: ignore[misc]
            out.append(f"| {name} | {length / 1024:.0f} | {median:.1f} | {cpu:.1f} | {worst:.1f} |")
        out.append("")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--history-nodes", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs-per-day", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        help="a PostgreSQL database to use a fresh schema of (dropped afterwards)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    harness.add_arguments(parser)
    args = parser.parse_args()
    args.history_nodes = min(args.history_nodes, args.nodes)
    bench = harness.Bench(args)
    logging.basicConfig(level=logging.WARNING)
    out = ["Puppetboard 7's queries through the dashboard's WSGI application in process (routing, "
           "authentication, JSON); CPU is this process's (not the PostgreSQL server's).", ""]
    with tempfile.TemporaryDirectory() as tmp:
        run_backend(bench, "SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", args, Path(tmp), out)
        if not args.no_pg:
            schema = f"bunraku_bench_{uuid.uuid4().hex[:10]}"
            admin = sa.create_engine(args.pg_url)
            with admin.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            try:
                separator = "&" if "?" in args.pg_url else "?"
                url = f"{args.pg_url}{separator}options=-csearch_path%3D{schema}"
                run_backend(bench, "PostgreSQL", url, args, Path(tmp), out)
            finally:
                with admin.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                admin.dispose()
    return bench.finish("PuppetDB API", "\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
