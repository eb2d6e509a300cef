"""Master throughput: 200 concurrent agents on loopback requesting the catalog of a 1,000-resource
manifest over mutual TLS, without and with the catalog cache; Puppet's compile of the same manifest
(`puppet catalog find --terminus compiler`) measured in the same run as the baseline.

The master runs as its own process (`bunraku master`, 2 compile workers); the agents are light clients
in this process (grpc.aio, one channel and one certificate each). Throughput = catalogs served / wall
time of the burst; latency per request, p50/p99.

The master's CPU time (user + system of its whole process tree, workers included, from /proc) is taken over
each burst, and the summed RSS of the tree is sampled every 0.2 s for its peak; `puppet catalog find` is
measured as a whole process (wall, CPU of it and the children it reaped, peak RSS; see bench/harness.py).

Usage: python bench/bench_master.py [--agents 200] [--requests 5] [--no-puppet] [--write] [--allow-busy]
``--write`` replaces the "## Master" section of bench/RESULTS.md (only on a quiet machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

ROOT = harness.ROOT
sys.path.insert(0, str(ROOT))

MANIFEST = """\
class app(Integer $count = 1000) {
  Integer[1, $count].each |$i| {
    file { "/etc/app/conf${i}.conf":
      ensure  => file,
      owner   => 'root',
      mode    => '0644',
      content => "# ${i}\\nhost=${facts['networking']['fqdn']}\\nos=${facts['os']['family']}\\n",
    }
  }
}
node default { include app }
"""


def make_env(base: Path) -> Path:
    env = base / "environments" / "production"
    (env / "manifests").mkdir(parents=True)
    (env / "modules").mkdir()
    (env / "manifests" / "site.pp").write_text(MANIFEST)
    return env


def facts_for(node: str) -> dict:
    return {"networking": {"fqdn": node, "hostname": node.split(".")[0]},
            "os": {"family": "Debian", "name": "Debian", "release": {"major": "12"}}, "role": "bench"}


def start_master(base: Path, cache_size: int) -> tuple[subprocess.Popen[bytes], str]:
    return launch(base, str(cache_size), f"catalog_cache_size: {cache_size}\nlog_format: kv\nmax_threads: 32\n")


def launch(base: Path, name: str, settings: str, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """`bunraku master` (2 compile workers, CA in base/ssl, vardir base/var-NAME) with ``settings`` (YAML
    lines) besides, started and listening: (the process, its address)."""
    port_file = base / f"ports-{name}"
    port_file.unlink(missing_ok=True)
    config = base / f"master-{name}.yaml"
    config.write_text(f"listen: 127.0.0.1:0\nca_listen: 127.0.0.1:0\ncertname: master.bench\n"
                      f"ssldir: {base / 'ssl'}\nvardir: {base / f'var-{name}'}\n"
                      f"environmentpath: {base / 'environments'}\nworkers: 2\n{settings}")
    log = open(base / f"master-{name}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, str(ROOT / "bunraku.py"), "master", "--config", str(config),
                             "--port-file", str(port_file), *extra], stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONWARNINGS="ignore"))
    deadline = time.monotonic() + 60
    while not (port_file.exists() and port_file.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("master did not start: " + (base / f"master-{name}.log").read_text()[-2000:])
        time.sleep(0.1)
    return proc, f"127.0.0.1:{port_file.read_text().split()[0]}"


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def identities(base: Path, n: int) -> list[tuple[str, bytes, bytes, bytes]]:
    from master.ca import CertificateAuthority

    ca = CertificateAuthority(base / "ssl")
    out = []
    for i in range(n):
        name = f"agent{i:03d}.bench.example.com"
        key, cert = ca.generate(name)
        out.append((name, key, cert, ca.ca_pem()))
    return out


async def burst(address: str, ids: list[tuple[str, bytes, bytes, bytes]], warmup: int,
                requests: int, mark: Callable[[], None] | None = None) -> tuple[float, list[float], int, int]:
    import grpc

    from wire.proto import bunraku_pb2 as pb
    from wire.proto import bunraku_pb2_grpc as pb_grpc

    opts = [("grpc.max_receive_message_length", 256 * 1024 * 1024)]
    channels = [grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(ca, key, cert), options=opts)
                for _name, key, cert, ca in ids]
    stubs = [pb_grpc.MasterStub(c) for c in channels]
    payloads = [json.dumps(facts_for(name)).encode() for name, *_ in ids]
    latencies: list[float] = []
    sizes = [0]
    hits = [0]

    async def agent(i: int, count: int, record: bool) -> None:
        for _ in range(count):
            t0 = time.perf_counter()
            reply = await stubs[i].GetCatalog(pb.CatalogRequest(facts_json=payloads[i]), timeout=600)
            if record:
                latencies.append(time.perf_counter() - t0)
                sizes[0] = len(reply.catalog_json)
                hits[0] += reply.cache_hit

    if warmup:
        await asyncio.gather(*(agent(i, warmup, False) for i in range(len(ids))))
    if mark is not None:
        mark()
    t0 = time.perf_counter()
    await asyncio.gather(*(agent(i, requests, True) for i in range(len(ids))))
    wall = time.perf_counter() - t0
    for c in channels:
        await c.close()
    return wall, latencies, sizes[0], hits[0]


def measured_burst(bench: harness.Bench, label: str, proc: subprocess.Popen[bytes], address: str,
                   ids: list[tuple[str, bytes, bytes, bytes]], warmup: int, requests: int) -> tuple:
    """A burst with the master's CPU time (whole tree, over the measured part) and peak RSS (whole tree)."""
    tree = harness.ProcessTree(proc.pid)
    cpu0 = [0.0]

    def mark() -> None:   # after the warm-up, on the same channels
        bench.before(label)
        cpu0[0] = tree.cpu_seconds()

    with harness.TreeSampler(tree) as sampler:
        wall, lat, size, hits = asyncio.run(burst(address, ids, warmup=warmup, requests=requests, mark=mark))
        cpu = tree.cpu_seconds() - cpu0[0]
    return (label, len(lat), wall, lat, size, hits, cpu, sampler.peak / 2**20)


def puppet_compile(bench: harness.Bench, base: Path, runs: int) -> tuple[float, float, float, float] | None:
    """(median wall s, median CPU s, median compile s Puppet reports, max peak RSS MiB) of
    `puppet catalog find` for the same manifest, one whole process per catalog."""
    if not shutil.which("puppet"):
        return None
    env_dir = base / "environments" / "production"
    pdir = base / "puppet"
    (pdir / "facts.d").mkdir(parents=True, exist_ok=True)
    cmd = ["puppet", "catalog", "find", "agent000.bench.example.com", "--terminus", "compiler",
           "--render-as", "json", "--manifest", str(env_dir / "manifests" / "site.pp"),
           "--confdir", str(pdir / "conf"), "--vardir", str(pdir / "var"), "--codedir", str(pdir / "code"),
           "--logdir", str(pdir / "log"), "--rundir", str(pdir / "run"), "--modulepath", str(env_dir / "modules"),
           "--log_level", "info", "--logdest", "console"]
    command = harness.Command("puppet", cmd, capture=True, label="puppet catalog find")
    try:
        samples = [bench.run(command) for _ in range(runs)]
    except harness.BenchError as exc:
        print("puppet failed:", str(exc)[-500:], file=sys.stderr)
        return None
    compiles = []
    for sample in samples:
        said = (sample.stdout + sample.stderr).decode(errors="replace")
        m = re.search(r"Compiled catalog for \S+ in environment \S+ in ([0-9.]+) seconds", said)
        if m:
            compiles.append(float(m.group(1)))
    return (statistics.median(s.wall for s in samples), statistics.median(s.cpu for s in samples),
            statistics.median(compiles) if compiles else float("nan"), max(s.rss_mib for s in samples))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--requests", type=int, default=5, help="Measured requests per agent with the cache.")
    parser.add_argument("--puppet-runs", type=int, default=3)
    parser.add_argument("--no-puppet", action="store_true")
    harness.add_arguments(parser)
    args = parser.parse_args()
    bench = harness.Bench(args)
    base = Path(tempfile.mkdtemp(prefix="bench-master-"))
    rows = []
    try:
        make_env(base)
        # Puppet's compile first: the master's bursts load the machine more than one process does
        puppet = None if args.no_puppet else puppet_compile(bench, base, args.puppet_runs)
        proc, address = start_master(base, 0)  # creates the CA too
        try:
            ids = identities(base, args.agents)
            # without the cache: every request compiles (one request per agent, all at once)
            rows.append(measured_burst(bench, "no catalog cache", proc, address, ids, warmup=0, requests=1))
        finally:
            stop(proc)
        proc, address = start_master(base, 5000)
        try:
            rows.append(measured_burst(bench, "catalog cache (warm)", proc, address, ids, warmup=1,
                                       requests=args.requests))
        finally:
            stop(proc)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    lines = [f"The master is its own process (`bunraku master`, 2 compile worker processes, SQLite store); "
             f"{args.agents} agents are grpc.aio clients in the bench process, one mTLS channel and certificate "
             "each, all requesting at once. Manifest: one class declaring 1,000 `file` resources with "
             "fact-interpolated content. Master CPU: user + system of its whole process tree over the burst "
             "(from /proc); peak RSS: the tree's summed RSS, sampled every 0.2 s.", ""]
    table_rows = []
    for name, n, wall, lat, size, hits, cpu, rss in rows:
        table_rows.append([name, n, f"{wall:.2f}", f"{n / wall:.1f}", f"{harness.percentile(lat, 50) * 1000:.0f}",
                           f"{harness.percentile(lat, 99) * 1000:.0f}", f"{cpu:.2f}", f"{cpu / n * 1000:.0f}",
                           f"{rss:.0f}", f"{size / 1024:.0f}", hits])
    if puppet is not None:
        p_wall, p_cpu, p_compile, p_rss = puppet
        table_rows.append(["puppet catalog find (one process per catalog)", 1, f"{p_wall:.2f}", f"{1 / p_wall:.2f}",
                           f"{p_wall * 1000:.0f}", "-", f"{p_cpu:.2f}", f"{p_cpu * 1000:.0f}", f"{p_rss:.0f}", "-",
                           "-"])
    lines.append(harness.table(["case", "catalogs", "wall s", "catalogs/s", "p50 ms", "p99 ms", "CPU s",
                                "CPU ms/catalog", "peak RSS MiB", "catalog KiB", "cache hits"], table_rows))
    lines.append("")
    nocache = rows[0]
    nocache_tput = nocache[1] / nocache[2]
    nocache_cpu = nocache[6] / nocache[1]
    if puppet is not None:
        lines.append(f"- Puppet 7.23 `puppet catalog find --terminus compiler`: {p_wall:.2f} s wall, {p_cpu:.2f} s CPU "
                     f"per catalog (median of {args.puppet_runs}), of which Puppet reports {p_compile:.2f} s "
                     "compiling.")
        lines.append(f"- Without the cache the master serves **{nocache_tput:.1f} catalogs/s** = "
                     f"**{nocache_tput * p_wall:.0f}x** Puppet's compile throughput by wall time per catalog "
                     f"(1/{p_wall:.2f} s), {nocache_tput * p_compile:.0f}x by Puppet's own compile time alone "
                     f"(target ≥10x); CPU per catalog: {nocache_cpu * 1000:.0f} ms against Puppet's "
                     f"{p_cpu * 1000:.0f} ms ({harness.ratio(p_cpu, nocache_cpu)} less). The compile-time figure "
                     "is the fairer one against a long-running Puppet server (no process start per catalog); "
                     "bench_puppetserver.py measures the real one.")
    lines.append(f"- With the cache: **{rows[1][1] / rows[1][2]:.0f} catalogs/s** (target ≥50/s).")
    return bench.finish("Master", "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
