"""Throughput over time: N uncached catalogs back to back from one master, and whether the rate holds.

The master (`bunraku master`, 2 compile workers, catalog cache off, its SQLite store in a temporary
directory) serves 8 clients (mutual TLS, one certificate each, the master benchmark's 1,000-file manifest)
that ask for catalogs one after another with facts that differ on every request, so each one is compiled
and stored. The rate of the first tenth of the catalogs is compared with that of the last tenth (the goal:
within 10%); the store's size and the master's memory (the whole process tree) are read at both ends.

    .venv/bin/python bench/bench_flat.py [--catalogs 20000] [--clients 8] [--write] [--allow-busy]

``--write`` replaces the "## Throughput over time" section of bench/RESULTS.md (only on a quiet machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_master  # noqa: E402
import harness  # noqa: E402

SECTION = "Throughput over time"


async def run(address: str, ids: list[tuple[str, bytes, bytes, bytes]], total: int,
              done: list[float], progress: int) -> None:
    import grpc

    from wire.proto import bunraku_pb2 as pb
    from wire.proto import bunraku_pb2_grpc as pb_grpc

    opts = [("grpc.max_receive_message_length", 256 * 1024 * 1024)]
    channels = [grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(ca, key, cert), options=opts)
                for _name, key, cert, ca in ids]
    stubs = [pb_grpc.MasterStub(c) for c in channels]
    issued = [0]

    async def client(i: int) -> None:
        name = ids[i][0]
        while issued[0] < total:
            issued[0] += 1
            facts = {**bench_master.facts_for(name), "bench_seq": issued[0]}
            reply = await stubs[i].GetCatalog(pb.CatalogRequest(facts_json=json.dumps(facts).encode()), timeout=600)
            if reply.cache_hit:
                raise harness.BenchError("a catalog came from the cache: the facts did not differ")
            done.append(time.perf_counter())
            if len(done) % progress == 0:
                print(f"  {len(done):,} catalogs", flush=True)

    await asyncio.gather(*(client(i) for i in range(len(ids))))
    for c in channels:
        await c.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalogs", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8)
    harness.add_arguments(parser)
    args = parser.parse_args()
    bench = harness.Bench(args)
    with tempfile.TemporaryDirectory(prefix="bunraku-flat-") as tmp:
        base = Path(tmp)
        bench_master.make_env(base)
        proc, address = bench_master.start_master(base, cache_size=0)
        try:
            ids = bench_master.identities(base, args.clients)
            tree = harness.ProcessTree(proc.pid)
            bench.before(f"{args.catalogs:,} uncached catalogs, {args.clients} clients")
            done: list[float] = []
            started = time.perf_counter()
            with harness.TreeSampler(tree) as sampler:
                asyncio.run(run(address, ids, args.catalogs, done, max(1000, args.catalogs // 20)))
            wall = time.perf_counter() - started
            store = base / "var-0" / "store.sqlite"
            size = store.stat().st_size / 2**20 if store.exists() else float("nan")
            peak = sampler.peak / 2**20
        finally:
            bench_master.stop(proc)
    tenth = max(1, len(done) // 10)
    first = tenth / (done[tenth - 1] - started)
    last = tenth / (done[-1] - done[-tenth - 1])
    change = (last - first) / first * 100
    marks = [started] + [done[k * tenth - 1] for k in range(1, 11)]
    tenths = [tenth / (b - a) for a, b in zip(marks, marks[1:], strict=False)]
    body = "\n".join([
        f"{len(done):,} catalogs of the master benchmark's 1,000-file manifest, each with facts of its own "
        f"(uncached, each compiled and stored), from {args.clients} clients over mutual TLS; master with 2 "
        "compile workers, catalog cache off, SQLite store.", "",
        "| catalogs | wall s | rate, first tenth /s | rate, last tenth /s | change | store MiB at the end "
        "| master peak RSS MiB (tree) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {len(done):,} | {wall:.0f} | {first:.1f} | {last:.1f} | {change:+.1f}% | {size:.0f} | {peak:.0f} |", "",
        f"Rate of each tenth in turn (/s): {', '.join(f'{r:.1f}' for r in tenths)}.", "",
        f"Goal: the last tenth's rate within 10% of the first's: {'met' if abs(change) <= 10 else 'missed'}"
        + (" (the rate rose: no drift down)" if change > 10 else "") + ".",
    ])
    return bench.finish(SECTION, body)


if __name__ == "__main__":
    sys.exit(main())
