"""The master's store writes behind its requests, or in them.

Part 1, the request path: what a catalog request waits for its three bookkeeping writes (the node's
facts, about 16 KiB that change on every request as an agent's do; the catalog served, unchanged; its
contact), in the request or deferred, and the CPU both cost in all (the writer thread's included),
in this process, request after request.

Part 2, whole: the master benchmark's 1,000-file manifest, catalog cache off, 2 compile workers; one
client over mutual TLS asks for its catalog again and again with such facts.
Each case runs a master of its own with ``store_write_behind`` true or false, on the SQLite store, on
the PostgreSQL at 127.0.0.1:5432 (a database of its own, dropped afterwards), and on that PostgreSQL
through a proxy in this process that delays every packet by ``--link-ms`` each way (a database on
another host: 1 ms each way by default, a round trip of 2 ms); the cases alternate, round after round,
and each figure is the median over the rounds.

Usage: python bench/bench_writebehind.py [--writes 600] [--requests 100] [--rounds 3] [--link-ms 1] [--write] [--allow-busy]
``--write`` replaces the "## Store writes behind the requests" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
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
    settings = ("catalog_cache_size: 0\nlog_format: kv\nmax_threads: 32\npuppet_listen: off\nrate_limit: false\n"
                f"store_write_behind: {'true' if behind else 'false'}\n"
                + (f"store_url: {store_url}\n" if store_url else ""))
    return bench_master.launch(base, name, settings, "--create-store")


class DelayingProxy:
    """A TCP proxy on 127.0.0.1 that hands on every piece of data ``delay`` seconds after it arrived, in
    order, both ways: a network link's latency without limiting its bandwidth."""

    def __init__(self, target: tuple[str, int], delay: float) -> None:
        import threading

        self.target, self.delay = target, delay
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(10)

    def _run(self, ready: object) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            server = await asyncio.start_server(self._client, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]

        self.loop.run_until_complete(start())
        ready.set()  # type: ignore[attr-defined]
        self.loop.run_forever()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def later() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.ensure_future(later())
        try:
            while True:
                data = await reader.read(65536)
                queue.put_nowait((time.monotonic() + self.delay, data))
                if not data:
                    break
        except ConnectionError:
            queue.put_nowait((0.0, b""))
        await sender

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer),
                             return_exceptions=True)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


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


def request_path(bench: harness.Bench, store_name: str, url: str, base: Path, mode: str, n: int) -> tuple:
    """(median and p99 ms a request waits for its writes, total CPU ms per request) over ``n`` requests."""
    from master.store import Store

    catalog = json.dumps({"resources": [{"type": "File", "title": f"/etc/app/conf{i}.conf",
                                         "parameters": {"content": "x" * 200}} for i in range(1000)]}).encode()
    nodes = [f"node{i:03d}.bench.example.com" for i in range(50)]
    with Store.open(url) as store:
        if mode == "behind":
            store.start_write_behind(base / f"journal-{uuid.uuid4().hex[:6]}")
        for node in nodes:  # known nodes with a stored catalog, as in a running fleet
            store.save_catalog_digest(node, "d-" + node, {}, lambda: catalog, code_id="c1", environment="production")
        if mode == "behind":
            for node in nodes:
                store.defer_catalog(node, "d-" + node, {}, lambda: catalog, code_id="c1", environment="production")
            store.settle(30)
        bench.before(f"request path: {store_name}, writes {mode}")
        waits = []
        cpu0, t0 = time.process_time(), time.perf_counter()
        for k in range(n):
            node = nodes[k % len(nodes)]
            facts = facts_for(node, k)
            started = time.perf_counter()
            if mode == "behind":
                store.defer_facts(node, facts, environment="production")
                store.defer_catalog(node, "d-" + node, {"version": k}, lambda: catalog, code_id="c1",
                                    environment="production")
                store.defer_contact(node, group="web")
            else:
                store.save_facts(node, json.loads(facts), environment="production")
                store.save_catalog_digest(node, "d-" + node, {"version": k}, lambda: catalog, code_id="c1",
                                          environment="production")
                store.heartbeat(node, group="web")
            waits.append(time.perf_counter() - started)
            time.sleep(0.002)  # requests come apart, as compiles separate them
        store.settle(60)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        behind = store.write_behind
        commits = behind.status()["commits"] if behind is not None else n * 3
    return (statistics.median(waits), harness.percentile(waits, 99), cpu / n, wall, commits)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100, help="catalog requests per case and round (part 2)")
    parser.add_argument("--writes", type=int, default=600, help="requests' writes per case (part 1)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--link-ms", type=float, default=1.0, help="the remote PostgreSQL's latency, each way")
    harness.add_arguments(parser)
    args = parser.parse_args()
    bench = harness.Bench(args)
    base = Path(tempfile.mkdtemp(prefix="bench-writebehind-"))
    pg = pg_database()
    proxy = DelayingProxy(("127.0.0.1", 5432), args.link_ms / 1000) if pg is not None else None
    remote = f"PostgreSQL, {args.link_ms:g} ms away"
    stores: list[tuple[str, Callable[[str], str]]] = [("SQLite", lambda case: f"sqlite:///{base / f'{case}.db'}")]
    if pg is not None and proxy is not None:
        stores.append(("PostgreSQL", lambda _case: pg[1]))
        stores.append((remote, lambda _case: pg[1].replace(":5432/", f":{proxy.port}/")))
    part1: dict[tuple[str, str], tuple] = {}
    results: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
    modes = (("in the request", False), ("behind", True))
    try:
        for store, url in stores:
            for mode, behind in modes:
                key = "behind" if behind else "inline"
                part1[(store, mode)] = request_path(bench, store, url(f"part1-{key}"), base, key, args.writes)
        bench_master.make_env(base)
        proc, _address = start(base, "ca", None, True)  # makes the CA the client's certificate comes from
        bench_master.stop(proc)
        ids = bench_master.identities(base, 1)
        for round_ in range(args.rounds + 1):  # round 0 warms up (the parse cache, the store's first rows)
            for store, url in stores:
                for mode, behind in modes:
                    case = f"{store}-{'behind' if behind else 'inline'}".replace(" ", "_").replace(",", "")
                    proc, address = start(base, case, url(case), behind)
                    try:
                        tree = harness.ProcessTree(proc.pid)
                        bench.before(f"one client: {store}, writes {mode}, round {round_}")
                        cpu0 = tree.cpu_seconds()
                        wall, lat = asyncio.run(run_clients(address, ids, args.requests))
                        cpu = tree.cpu_seconds() - cpu0
                    finally:
                        bench_master.stop(proc)
                    n = len(lat)
                    print(f"    {n / wall:.1f} catalogs/s, p50 {harness.percentile(lat, 50) * 1000:.1f} ms, "
                          f"CPU {cpu / n * 1000:.0f} ms/catalog", flush=True)
                    if round_:
                        results.setdefault((store, mode), []).append(
                            (n / wall, harness.percentile(lat, 50), harness.percentile(lat, 99), cpu / n))
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if proxy is not None:
            proxy.close()
        if pg is not None:
            drop_pg(pg[0])

    rows1 = []
    for (store, mode), (median, p99, cpu, _wall, commits) in part1.items():
        rows1.append([store, mode, f"{median * 1000:.2f}", f"{p99 * 1000:.2f}", f"{cpu * 1000:.2f}", commits])
    rows2 = []
    medians: dict[tuple[str, str], tuple[float, ...]] = {}
    for (store, mode), samples in results.items():
        m = tuple(statistics.median(s[i] for s in samples) for i in range(4))
        medians[(store, mode)] = m
        rows2.append([store, mode, args.requests, f"{m[0]:.1f}", f"{m[1] * 1000:.1f}", f"{m[2] * 1000:.1f}",
                      f"{m[3] * 1000:.1f}"])
    lines = [f"Part 1, the request path: {args.writes} catalog requests' bookkeeping writes (the node's facts, "
             "about 16 KiB, changed each time; its catalog, unchanged; its contact) for 50 nodes, made one "
             "request after another in this process, in the request or deferred; the wait is what the request "
             "thread spends on them, the CPU is the whole process's (the writer thread's included) per request. "
             "SQLite, the PostgreSQL at 127.0.0.1:5432, and that PostgreSQL through a proxy that delays every "
             f"packet {args.link_ms:g} ms each way (a database on another host).", "",
             harness.table(["store", "writes", "wait p50 ms", "wait p99 ms", "CPU ms per request", "commits"], rows1),
             "",
             "Part 2, whole: a master process per case (`store_write_behind` false or true; the master "
             "benchmark's 1,000-file manifest, catalog cache off, 2 compile workers), one client over mutual TLS "
             f"asking {args.requests} times with such facts; cases alternate; medians of {args.rounds} rounds "
             "after one of warm-up. Master CPU: user + system of its process tree.", "",
             harness.table(["store", "writes", "catalogs", "catalogs/s", "p50 ms", "p99 ms", "master CPU ms/catalog"],
                           rows2), ""]
    for store, _url in stores:
        a, b = part1.get((store, "in the request")), part1.get((store, "behind"))
        inline, behind = medians.get((store, "in the request")), medians.get((store, "behind"))
        if a and b and inline and behind:
            lines.append(f"- {store}: a request waits {a[0] * 1000:.2f} -> {b[0] * 1000:.2f} ms for its writes "
                         f"(p99 {a[1] * 1000:.2f} -> {b[1] * 1000:.2f}); CPU per request {a[2] * 1000:.2f} -> "
                         f"{b[2] * 1000:.2f} ms; one client's p50 {inline[1] * 1000:.1f} -> {behind[1] * 1000:.1f} ms, "
                         f"{behind[0] / inline[0]:.2f}x the catalogs/s")
    return bench.finish(SECTION, "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
