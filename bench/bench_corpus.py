"""Compile time per case of the module corpus: Bunraku vs Puppet 7.23, whole process, same run.

The cases are those of tests/dsl/test_modules_corpus.py: each Debian-packaged module's examples,
`include <module>` for every module with a main class, and our role manifests, compiled for the
corpus node with the corpus facts against /usr/share/puppet/modules. After one untimed warm-up of each tool
(the first case), each case runs once with each tool, the two alternating (Puppet first on even cases,
Bunraku first on odd ones); the figure is the CPU time (user + system) of the whole process and the children
it reaped (wait4), beside its wall time. A case that one tool refuses is still timed (an error is a compile
too).

Usage: python bench/bench_corpus.py [--limit N] [--write] [--allow-busy]
``--write`` replaces the "## Module corpus" section of bench/RESULTS.md (only on a quiet machine; see
bench/harness.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

ROOT = harness.ROOT
sys.path.insert(0, str(ROOT / "tests" / "dsl"))

from module_corpus import FACTS_FILE, MODULES_DIR, NODE, ModuleCase, discover_cases  # noqa: E402

SECTION = "Module corpus"


def _golden_regen() -> Any:
    spec = importlib.util.spec_from_file_location("golden_regen", ROOT / "tests/dsl/golden/regen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _puppet(bench: harness.Bench, regen: Any, facts: dict[str, Any], manifest: Path, label: str
            ) -> tuple[float, float, bool]:
    """`puppet catalog find` in a private Puppet tree (the golden files' own setup), as one whole process."""
    run = regen.PuppetRun(NODE, facts)
    try:
        args = [regen.PUPPET, "catalog", "find", run.node, "--terminus", "compiler", "--render-as", "json",
                "--facts_terminus", "yaml", "--confdir", str(run.root / "confdir"),
                "--vardir", str(run.root / "vardir"), "--codedir", str(run.root / "codedir"),
                "--environmentpath", str(run.root / "envs"), "--environment", "production",
                "--basemodulepath", str(MODULES_DIR), "--vendormoduledir", str(run.root / "vendor"),
                "--color", "false", "--manifest", str(manifest)]
        sample = harness.measure(args, cwd=run.root, capture=True, load=bench.before(f"puppet   {label}"))
        ok = any(line.startswith(b"{") for line in sample.stdout.splitlines())
        return sample.cpu, sample.wall, ok
    finally:
        run.cleanup()


def _bunraku(bench: harness.Bench, manifest: Path, label: str) -> tuple[float, float, bool]:
    args = [sys.executable, str(ROOT / "bunraku.py"), "compile", str(manifest), "--node", NODE,
            "--facts", str(FACTS_FILE), "--modulepath", str(MODULES_DIR)]
    sample = harness.measure(args, cwd=ROOT, load=bench.before(f"bunraku  {label}"))
    return sample.cpu, sample.wall, sample.status == 0


def measure(bench: harness.Bench, cases: list[ModuleCase]) -> list[dict[str, Any]]:
    regen = _golden_regen()
    from catalog_compare import load_facts

    facts = load_facts(FACTS_FILE)
    rows = []
    for i, case in enumerate([cases[0], *cases]):
        scratch = Path(tempfile.mkdtemp(prefix="bunraku-bench-corpus-"))
        label = case.name if i else f"{case.name} (warm-up)"
        try:
            manifest = case.write_manifest(scratch)
            if i % 2 == 1:
                puppet = _puppet(bench, regen, facts, manifest, label)
                ours = _bunraku(bench, manifest, label)
            else:
                ours = _bunraku(bench, manifest, label)
                puppet = _puppet(bench, regen, facts, manifest, label)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if i == 0:
            continue
        rows.append({"case": case.name, "puppet_cpu": puppet[0], "puppet_wall": puppet[1], "puppet_ok": puppet[2],
                     "cpu": ours[0], "wall": ours[1], "ok": ours[2]})
        print(f"{case.name:60} puppet {puppet[0]:6.2f} s  bunraku {ours[0]:5.2f} s  "
              f"{puppet[0] / max(ours[0], 1e-6):5.1f}x", flush=True)
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    ratios = [r["puppet_cpu"] / max(r["cpu"], 1e-6) for r in rows]
    wall_ratios = [r["puppet_wall"] / max(r["wall"], 1e-6) for r in rows]
    total_puppet, total_ours = sum(r["puppet_cpu"] for r in rows), sum(r["cpu"] for r in rows)
    wall_puppet, wall_ours = sum(r["puppet_wall"] for r in rows), sum(r["wall"] for r in rows)
    lines = [
        "Every case of the module corpus (tests/dsl/test_modules_corpus.py), whole process, compiled once by each "
        "tool in turn after one warm-up of each; CPU seconds (user + system of the process and the children it "
        "reaped), wall beside it.",
        "",
        "| cases | Puppet CPU, total | Bunraku CPU, total | ratio of CPU totals | median CPU ratio per case | "
        "slowest | fastest | Puppet wall, total | Bunraku wall, total | ratio of wall totals | median wall ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {len(rows)} | {total_puppet:.1f} s | {total_ours:.1f} s | {harness.ratio(total_puppet, total_ours)} | "
        f"{statistics.median(ratios):.1f}x | {min(ratios):.1f}x | {max(ratios):.1f}x | {wall_puppet:.1f} s | "
        f"{wall_ours:.1f} s | {harness.ratio(wall_puppet, wall_ours)} | {statistics.median(wall_ratios):.1f}x |",
        "",
        "| case | Puppet CPU | Puppet wall | Bunraku CPU | Bunraku wall | ratio (CPU) | ratio (wall) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r, ratio, wall_ratio in zip(rows, ratios, wall_ratios, strict=True):
        mark = "" if r["ok"] == r["puppet_ok"] else " (one tool refused)"
        lines.append(f"| {r['case']}{mark} | {r['puppet_cpu']:.2f} s | {r['puppet_wall']:.2f} s | {r['cpu']:.2f} s | "
                     f"{r['wall']:.2f} s | {ratio:.1f}x | {wall_ratio:.1f}x |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="only this many cases, spread over the corpus")
    harness.add_arguments(parser)
    opts = parser.parse_args()
    if shutil.which("puppet") is None or not MODULES_DIR.is_dir():
        print("needs Puppet 7.23 and Debian's puppet-module-* packages (apt-get install puppet-agent ...)")
        return 1
    cases = discover_cases()
    if opts.limit:
        step = max(1, len(cases) // opts.limit)
        cases = cases[::step][: opts.limit]
    bench = harness.Bench(opts)
    rows = measure(bench, cases)
    return bench.finish(SECTION, render(rows))


if __name__ == "__main__":
    sys.exit(main())
