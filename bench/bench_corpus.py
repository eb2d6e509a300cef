"""Compile time per case of the module corpus: Bunraku vs Puppet 7.23, whole process, same run.

The cases are those of tests/dsl/test_modules_corpus.py: each Debian-packaged module's examples,
`include <module>` for every module with a main class, and our role manifests, compiled for the
corpus node with the corpus facts against /usr/share/puppet/modules. Each case runs once with each
tool, the two alternating (Puppet first on even cases, Bunraku first on odd ones); the figure is the
CPU time (user + system) of the whole process, beside its wall time. A case that one tool refuses is
still timed (an error is a compile too).

Usage: python bench/bench_corpus.py [--limit N] [--write]
``--write`` replaces the "## Module corpus" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "dsl"))

from module_corpus import FACTS_FILE, MODULES_DIR, NODE, ModuleCase, discover_cases  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Module corpus"


def _golden_regen() -> Any:
    spec = importlib.util.spec_from_file_location("golden_regen", ROOT / "tests/dsl/golden/regen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _timed(run: Any) -> tuple[float, float, bool]:
    """(CPU seconds of the children run started, wall seconds, whether it compiled)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    ok = run()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, ok


def _puppet(regen: Any, facts: dict[str, Any], manifest: Path) -> tuple[float, float, bool]:
    run = regen.PuppetRun(NODE, facts)
    try:
        return _timed(lambda: run.compile(manifest, [MODULES_DIR], None)[0] is not None)
    finally:
        run.cleanup()


def _bunraku(manifest: Path) -> tuple[float, float, bool]:
    args = [sys.executable, str(ROOT / "bunraku.py"), "compile", str(manifest), "--node", NODE,
            "--facts", str(FACTS_FILE), "--modulepath", str(MODULES_DIR)]
    return _timed(lambda: subprocess.run(args, capture_output=True, cwd=ROOT, check=False).returncode == 0)


def measure(cases: list[ModuleCase]) -> list[dict[str, Any]]:
    regen = _golden_regen()
    from catalog_compare import load_facts

    facts = load_facts(FACTS_FILE)
    rows = []
    for i, case in enumerate(cases):
        scratch = Path(tempfile.mkdtemp(prefix="bunraku-bench-corpus-"))
        try:
            manifest = case.write_manifest(scratch)
            if i % 2 == 0:
                puppet = _puppet(regen, facts, manifest)
                ours = _bunraku(manifest)
            else:
                ours = _bunraku(manifest)
                puppet = _puppet(regen, facts, manifest)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        rows.append({"case": case.name, "puppet_cpu": puppet[0], "puppet_wall": puppet[1], "puppet_ok": puppet[2],
                     "cpu": ours[0], "wall": ours[1], "ok": ours[2]})
        print(f"{case.name:60} puppet {puppet[0]:6.2f} s  bunraku {ours[0]:5.2f} s  "
              f"{puppet[0] / max(ours[0], 1e-6):5.1f}x", flush=True)
    return rows


def render(rows: list[dict[str, Any]], load: tuple[float, float]) -> str:
    ratios = [r["puppet_cpu"] / max(r["cpu"], 1e-6) for r in rows]
    total_puppet, total_ours = sum(r["puppet_cpu"] for r in rows), sum(r["cpu"] for r in rows)
    lines = [
        SECTION, "",
        f"`python bench/bench_corpus.py --write`: every case of the module corpus "
        f"(tests/dsl/test_modules_corpus.py), whole process, compiled once by each tool in turn on "
        f"{os.cpu_count()} cores; CPU seconds (user + system) of the process, wall beside it. Load average "
        f"(1 min) {load[0]:.2f} before the run, {load[1]:.2f} after.",
        "",
        "| cases | Puppet CPU, total | Bunraku CPU, total | ratio of totals | median ratio per case | "
        "slowest ratio | fastest ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {len(rows)} | {total_puppet:.1f} s | {total_ours:.1f} s | {total_puppet / max(total_ours, 1e-6):.1f}x | "
        f"{statistics.median(ratios):.1f}x | {min(ratios):.1f}x | {max(ratios):.1f}x |",
        "",
        "| case | Puppet CPU | Puppet wall | Bunraku CPU | Bunraku wall | ratio (CPU) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r, ratio in zip(rows, ratios, strict=True):
        mark = "" if r["ok"] == r["puppet_ok"] else " (one tool refused)"
        lines.append(f"| {r['case']}{mark} | {r['puppet_cpu']:.2f} s | {r['puppet_wall']:.2f} s | {r['cpu']:.2f} s | "
                     f"{r['wall']:.2f} s | {ratio:.1f}x |")
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    current = RESULTS.read_text(encoding="utf-8")
    start = current.find(SECTION)
    if start < 0:
        RESULTS.write_text(current.rstrip("\n") + "\n\n" + text, encoding="utf-8")
        return
    end = current.find("\n## ", start + len(SECTION))
    rest = current[end + 1:] if end >= 0 else ""
    RESULTS.write_text(current[:start] + text + ("\n" + rest if rest else ""), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="only this many cases, spread over the corpus")
    parser.add_argument("--write", action="store_true", help="replace the section in bench/RESULTS.md")
    opts = parser.parse_args()
    if shutil.which("puppet") is None or not MODULES_DIR.is_dir():
        print("needs Puppet 7.23 and Debian's puppet-module-* packages (apt-get install puppet-agent ...)")
        return 1
    cases = discover_cases()
    if opts.limit:
        step = max(1, len(cases) // opts.limit)
        cases = cases[::step][: opts.limit]
    before = os.getloadavg()[0]
    print(f"load average before: {before:.2f} (run nothing else meanwhile)", flush=True)
    rows = measure(cases)
    text = render(rows, (before, os.getloadavg()[0]))
    print(text)
    if opts.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
