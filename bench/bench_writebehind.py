"""The master's store writes behind its requests, or in them: catalogs/s, latency and master CPU.

The master benchmark's 1,000-file manifest, catalog cache off, 2 compile workers; clients over mutual TLS
each send facts of their own that change on every request (uptime, free memory: as an agent's do), about
16 KiB of them, so every request leaves its three bookkeeping writes (facts, catalog served, contact).
Each case runs a master of its own with ``store_write_behind`` true or false, on the SQLite store and on
the PostgreSQL at 127.0.0.1:5432 (a database of its own, dropped afterwards); the cases alternate, round
after round, and each figure is the median over the rounds.

Usage: python bench/bench_writebehind.py [--clients 8] [--requests 40] [--rounds 3] [--write] [--allow-busy]
``--write`` replaces the "## Store writes behind the requests" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_master  # noqa: E402
import harness  # noqa: E402

ROOT = harness.ROOT
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SECTION = "Store writes behind the requests"


def facts_for(node: str, k: int) -> bytes:
    facts = bench_master.facts_for(node)
    facts.update({"uptime_seconds": 1000 + k, "memory": {"system": {"available_bytes": 8_000_000_000 - k}},
                  "bench_padding": {f"fact_{i:03d}": f"value {i} of {node}" for i in range(400)}})
    return json.dumps(facts).encode()


async def run_clients(address: str, ids: list, requests: int) -> tuple[float, list[float]]:
    import grpc

    from wire.proto import bunraku_pb2 as pb
    from wire.proto import bunraku_pb2_grpc as pb_grpc

    opts = [("grpc.max_receive_message_length", 256 * 1024 * 1024)]
    channels = [grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(ca, key, cert), options=opts)
                for _name, key, cert, ca in ids]
    stubs = [pb_grpc.MasterStub(c) for c in channels]
    latencies: list[float] = []

    async def client(i: int) -> None:
        name = ids[i][0]
        for k in range(requests):
            t0 = time.perf_counter()
            await stubs[i].GetCatalog(pb.CatalogRequest(facts_json=facts_for(name, k)), timeout=600)
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(len(ids))))
    wall = time.perf_counter() - t0
    for c in channels:
        await c.close()
    return wall, latencies


def start(base: Path, name: str, store_url: str | None, behind: bool) -> tuple:
    port_file = base / f"ports-{name}"
    port_file.unlink(missing_ok=True)
    config = base / f"master-{name}.yaml"
    lines = ["listen: 127.0.0.1:0", "ca_listen: 127.0.0.1:0", "certname: master.bench",
             f"ssldir: {base / 'ssl'}", f"vardir: {base / f'var-{name}'}", f"environmentpath: {base / 'environments'}",
             "workers: 2", "catalog_cache_size: 0", "log_format: kv", "max_threads: 32", "puppet_listen: off",
             f"store_write_behind: {'true' if behind else 'false'}", "rate_limit: false"]
    if store_url:
        lines.append(f"store_url: {store_url}")
    config.write_text("\n".join(lines) + "\n")
    log = open(base / f"master-{name}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, str(ROOT / "bunraku.py"), "master", "--config", str(config),
                             "--port-file", str(port_file), "--create-store"], stdout=log,
                            stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    deadline = time.monotonic() + 60
    while not (port_file.exists() and port_file.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("master did not start: " + (base / f"master-{name}.log").read_text()[-2000:])
        time.sleep(0.1)
    return proc, f"127.0.0.1:{port_file.read_text().split()[0]}"


def pg_database() -> tuple[str, str] | None:
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"bench_wb_{uuid.uuid4().hex[:8]}"
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - no PostgreSQL here: the SQLite cases only
        print(f"PostgreSQL at 127.0.0.1:5432 not usable ({exc}); SQLite only", file=sys.stderr)
        return None
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg(name: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=40, help="requests per client per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    harness.add_arguments(parser)
    args = parser.parse_args()
    bench = harness.Bench(args)
    base = Path(tempfile.mkdtemp(prefix="bench-writebehind-"))
    pg = pg_database()
    results: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
    try:
        bench_master.make_env(base)
        proc, _address = start(base, "ca", None, True)  # makes the CA the clients' certificates come from
        bench_master.stop(proc)
        ids = bench_master.identities(base, args.clients)
        stores = [("SQLite", lambda case: f"sqlite:///{base / f'{case}.db'}")]
        if pg is not None:
            stores.append(("PostgreSQL", lambda _case: pg[1]))
        for round_ in range(args.rounds + 1):  # round 0 warms up (the parse cache, the store's first rows)
            for store, url in stores:
                for mode, behind in (("in the request", False), ("behind", True)):
                    case = f"{store}-{'behind' if behind else 'inline'}"
                    proc, address = start(base, case, url(case), behind)
                    try:
                        tree = harness.ProcessTree(proc.pid)
                        label = f"{store}, writes {mode}, round {round_}"
                        bench.before(label)
                        cpu0 = tree.cpu_seconds()
                        wall, lat = asyncio.run(run_clients(address, ids, args.requests))
                        cpu = tree.cpu_seconds() - cpu0
                    finally:
                        bench_master.stop(proc)
                    n = len(lat)
                    print(f"    {n / wall:.1f} catalogs/s, p50 {harness.percentile(lat, 50) * 1000:.0f} ms, "
                          f"CPU {cpu / n * 1000:.0f} ms/catalog", flush=True)
                    if round_:
                        results.setdefault((store, mode), []).append(
                            (n / wall, harness.percentile(lat, 50), harness.percentile(lat, 99), cpu / n))
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if pg is not None:
            drop_pg(pg[0])

    n = args.clients * args.requests
    rows = []
    medians: dict[tuple[str, str], tuple[float, ...]] = {}
    for (store, mode), samples in results.items():
        m = tuple(statistics.median(s[i] for s in samples) for i in range(4))
        medians[(store, mode)] = m
        rows.append([store, mode, n, f"{m[0]:.1f}", f"{m[1] * 1000:.0f}", f"{m[2] * 1000:.0f}", f"{m[3] * 1000:.1f}"])
    lines = [f"The master benchmark's 1,000-file manifest, catalog cache off, 2 compile workers; {args.clients} clients "
             "over mutual TLS, each sending facts of its own (about 16 KiB) that change on every request, so each "
             "request leaves three bookkeeping writes (facts, catalog served, contact). A master of its own per "
             "case with `store_write_behind` false (each write in its request) or true (journaled, committed by "
             f"one thread in batches); cases alternate; medians of {args.rounds} rounds (after one round of "
             "warm-up). Master CPU: user + system of its process tree.", "",
             harness.table(["store", "writes", "catalogs", "catalogs/s", "p50 ms", "p99 ms", "master CPU ms/catalog"],
                           rows), ""]
    for store, _url in stores:
        inline, behind = medians.get((store, "in the request")), medians.get((store, "behind"))
        if inline and behind:
            lines.append(f"- {store}: {behind[0] / inline[0]:.2f}x the catalogs/s with writes behind the requests, "
                         f"p50 {inline[1] * 1000:.0f} -> {behind[1] * 1000:.0f} ms, master CPU per catalog "
                         f"{inline[3] * 1000:.1f} -> {behind[3] * 1000:.1f} ms")
    return bench.finish(SECTION, "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
