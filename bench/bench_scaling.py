"""Scaling: how Bunraku's costs grow with the size of the work, at 1k, 10k and 50k (the sizes are options).

- compile: a manifest of N resources (N/2 instances of a defined type each holding one `file`), compiled by
  `bunraku compile` as a whole process: wall, CPU (the process tree), peak RSS;
- converged apply: a catalog of N files already in place, applied by `bunraku apply --catalog`; and the
  same files from their manifest (`bunraku apply MANIFEST`, which reuses its last catalog when nothing
  changed, see dsl/compilecache.py);
- store and dashboard: a store of N nodes (facts, a catalog and a report each, the dashboard benchmark's
  data with no history), its size on disk, and the time of the dashboard's main pages and of its JSON API.

Growth is linear when time per unit stays flat: each table gives the time per 1,000 resources, files or
nodes beside the totals, and the factor from the second-largest to the largest size (1.0 = linear; at the
smallest size a process's start-up dominates).

    .venv/bin/python bench/bench_scaling.py [--sizes 1000,10000,50000] [--node-sizes 1000,10000,50000]
                                            [--repeat 3] [--write] [--allow-busy]

``--write`` replaces the "## Scaling" section of bench/RESULTS.md (only on a quiet machine; see harness.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_apply  # noqa: E402
import harness  # noqa: E402

SECTION = "Scaling"
DEFINE = """define bench::f(String $content) {{
  file {{ $title: ensure => file, content => $content, mode => '0644' }}
}}
file {{ ['{base}', '{base}/files']: ensure => directory }}
Integer[1, {n}].each |$i| {{
  bench::f {{ "{base}/files/f${{i}}": content => "file ${{i}}\\n" }}
}}
"""


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _median(samples: list[harness.Sample], attr: str) -> float:
    return statistics.median(getattr(s, attr) for s in samples)


def _growth(per_unit: list[float]) -> str:
    """Per-unit cost at the largest size over that at the one before (a process's start-up, which
    dominates the smallest size, is noise there)."""
    return f"{per_unit[-1] / per_unit[-2]:.2f}" if len(per_unit) > 1 and per_unit[-2] > 0 else "-"


def compile_rows(bench: harness.Bench, work: Path, sizes: list[int], repeat: int) -> list[str]:
    bunraku = harness.bunraku_command()
    facts = work / "facts.json"
    facts.write_text(json.dumps({"networking": {"fqdn": "bench.node"}}))
    rows, per_unit = [], []
    for n in sizes:
        manifest = work / f"compile-{n}.pp"
        manifest.write_text(DEFINE.format(base="/srv/bench", n=n // 2))
        cmd = harness.Command("bunraku", [*bunraku, "compile", str(manifest), "--node", "bench.node", "--facts",
                                          str(facts), "--compact"], label=f"compile, {n} resources")
        samples = bench.alternate([cmd], repeat)["bunraku"]
        wall, cpu, rss = _median(samples, "wall"), _median(samples, "cpu"), _median(samples, "max_rss_kb")
        per_unit.append(wall / n * 1000)
        rows.append(f"| {n:,} | {wall:.2f} | {cpu:.2f} | {rss / 1024:.0f} | {wall / n * 1000 * 1000:.1f} |")
    return ["### Compile", "", "| resources | wall s | CPU s | peak RSS MiB | ms per 1,000 resources |",
            "|---:|---:|---:|---:|---:|", *rows, "",
            f"Time per resource from {sizes[-2]:,} to {sizes[-1]:,}: x{_growth(per_unit)} (1.00 = linear).", ""]


def apply_rows(bench: harness.Bench, work: Path, sizes: list[int], repeat: int) -> list[str]:
    bunraku = harness.bunraku_command()
    facts = work / "facts.json"
    rows, per_unit = [], []
    for n in sizes:
        base = work / f"apply-{n}"
        catalog = work / f"apply-{n}.json"
        bench_apply.synthetic_catalog(str(base), n, catalog)
        state = work / f"state-{n}"
        by_catalog = harness.Command("bunraku", [*bunraku, "apply", "--catalog", str(catalog), "--state-dir",
                                                 str(state)], ok=(0, 2), check=bench_apply.expect_files(base, n),
                                     label=f"converged apply --catalog, {n} files")
        manifest = work / f"apply-{n}.pp"
        mbase = work / f"mapply-{n}"
        manifest.write_text(bench_apply.MANIFEST.format(base=mbase, n=n))
        by_manifest = harness.Command("manifest", [*bunraku, "apply", str(manifest), "--state-dir",
                                                   str(work / f"mstate-{n}"), "--facts", str(facts)], ok=(0, 2),
                                      check=bench_apply.expect_files(mbase, n),
                                      label=f"converged apply MANIFEST, {n} files")
        samples = bench.alternate([by_catalog, by_manifest], repeat)
        wall, cpu = _median(samples["bunraku"], "wall"), _median(samples["bunraku"], "cpu")
        mwall = _median(samples["manifest"], "wall")
        rss = _median(samples["bunraku"], "max_rss_kb")
        per_unit.append(wall / n)
        rows.append(f"| {n:,} | {wall:.2f} | {cpu:.2f} | {rss / 1024:.0f} | {wall / n * 1000 * 1000:.1f} | "
                    f"{mwall:.2f} |")
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(mbase, ignore_errors=True)
    return ["### Converged apply", "",
            "| files | `--catalog` wall s | CPU s | peak RSS MiB | ms per 1,000 files | `MANIFEST` wall s |",
            "|---:|---:|---:|---:|---:|---:|", *rows, "",
            f"Time per file from {sizes[-2]:,} to {sizes[-1]:,}: x{_growth(per_unit)} (1.00 = linear).", ""]


def store_rows(bench: harness.Bench, work: Path, sizes: list[int], repeat: int) -> list[str]:
    import bench_dashboard as dash

    rows, per_unit = [], []
    pages = [("overview", "/"), ("nodes, page 1", "/nodes"), ("nodes, status=failed", "/nodes?status=failed"),
             ("reports, newest", "/reports"), ("stats, fleet 24h", "/stats?range=24h"), ("/api/nodes", "/api/nodes")]
    for n in sizes:
        db = work / f"store-{n}.sqlite"
        with dash.Store.open(f"sqlite:///{db}") as store:
            bench.before(f"seeding {n:,} nodes")
            seeded = dash.seed(store, SimpleNamespace(nodes=n, history_nodes=0, days=1, runs_per_day=1))
            tokens = dash.TokenStore(work / f"tokens-{n}.json")
            caller = dash.Caller(dash.create_app(store, tokens=tokens, now=lambda: dash.NOW, cache_seconds=0),
                                 tokens.issue("bench"))
            times: list[str] = []
            for _label, url in pages:
                bench.before(f"{url}, {n:,} nodes")
                median, _worst, _cpu, (status, _length) = dash.timed(lambda u=url, c=caller: c.get(u), repeat)
                if status != 200:
                    raise harness.BenchError(f"{url} answered {status} on a store of {n:,} nodes")
                times.append(f"{median:.0f}")
        size = db.stat().st_size / 2**20
        per_unit.append(size / n)
        rows.append(f"| {n:,} | {seeded['reports']:,} | {size:.0f} | {size / n * 1000:.1f} | " + " | ".join(times) + " |")
        db.unlink()
    head = " | ".join(label for label, _ in pages)
    return ["### Store and dashboard", "",
            f"| nodes | reports | SQLite MiB | MiB per 1,000 nodes | {head} (median ms, uncached) |",
            "|---:|---:|---:|---:|" + "---:|" * len(pages), *rows, "",
            f"Store size per node from {sizes[-2]:,} to {sizes[-1]:,}: x{_growth(per_unit)} (1.00 = linear).", ""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000", help="resources / files (comma-separated)")
    parser.add_argument("--node-sizes", default="1000,10000,50000", help="nodes in the store (comma-separated)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: compile,apply,store")
    harness.add_arguments(parser)
    args = parser.parse_args()
    bench = harness.Bench(args)
    skip = set(args.skip.split(","))
    sizes, node_sizes = _ints(args.sizes), _ints(args.node_sizes)
    body: list[Any] = [f"Bunraku as installed by pip from this tree; {args.repeat} runs per size after a warm-up, "
                       "medians; CPU is user + system of the process tree.", ""]
    with tempfile.TemporaryDirectory(prefix="bunraku-scaling-") as tmp:
        work = Path(tmp)
        if "compile" not in skip:
            body += compile_rows(bench, work, sizes, args.repeat)
        if "apply" not in skip:
            body += apply_rows(bench, work, sizes, args.repeat)
        if "store" not in skip:
            body += store_rows(bench, work, node_sizes, args.repeat)
    return bench.finish(SECTION, "\n".join(body))


if __name__ == "__main__":
    sys.exit(main())
