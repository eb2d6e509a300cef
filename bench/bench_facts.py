"""Benchmark: ``bunraku facts --json`` against Facter 4's ``facter --json``, whole processes, side by side.

Each command runs N times, alternating, after a warm-up run of each (which also lets Python write its
bytecode caches, as an installed package has them). Reported: median and spread of the wall time, CPU time
(user + system of the process and the children it reaped, from wait4), peak RSS, and the ratios. With
``--write`` the result replaces the "## Facts" section of bench/RESULTS.md (only on a quiet machine; see
bench/harness.py).

    .venv/bin/python bench/bench_facts.py [-n 20] [--write] [--allow-busy]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

ROOT = harness.ROOT


def facter_version(facter: str) -> str:
    try:
        return subprocess.run([facter, "--version"], capture_output=True, text=True, timeout=30,
                              check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--runs", type=int, default=20, help="runs of each command (default 20)")
    parser.add_argument("--no-write", action="store_true", help="print only (the default without --write)")
    harness.add_arguments(parser)
    args = parser.parse_args()
    if args.no_write:
        args.write = False
    bench = harness.Bench(args)

    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure what an installed package does: cached bytecode
    bunraku = [*harness.bunraku_command(), "facts", "--json"]
    facter = shutil.which("facter") or "/usr/bin/facter"
    # Facter exits 1 on a host where it cannot read /proc/1/environ (a sandbox); its output is complete
    commands = [harness.Command("bunraku", bunraku, env=env, cwd=ROOT, label="bunraku facts --json")]
    if Path(facter).exists():
        commands.append(harness.Command("facter", [facter, "--json"], env=env, cwd=ROOT, ok=(0, 1),
                                        label="facter --json"))
    else:
        print("facter not found; measuring bunraku alone", file=sys.stderr)

    samples = bench.alternate(commands, args.runs)
    stats = {name: harness.summarize(s) for name, s in samples.items()}
    rows = []
    for command in commands:
        st = stats[command.name]
        rows.append([f"`{command.label}`", harness.seconds(st.wall),
                     f"{harness.seconds(st.wall_min)} – {harness.seconds(st.wall_max)}", harness.seconds(st.cpu),
                     f"{st.rss_mib:.1f} MiB", f"{sum(1 for s in samples[command.name] if s.status)}/{args.runs}"])
    lines = [f"{args.runs} runs of each, alternating, after one warm-up run each; whole processes; wall time from "
             "spawn to exit; CPU (user + system, children reaped included) and peak RSS from wait4; "
             "PYTHONDONTWRITEBYTECODE dropped so Python uses bytecode caches, as an installed package does."]
    if "facter" in stats:
        lines.append(f"Baseline: Facter {facter_version(facter)} (`{facter} --json`, Debian's package).")
    lines += ["", harness.table(["command", "median wall", "min – max wall", "median CPU", "peak RSS (median)",
                                 "exit ≠ 0"], rows), ""]
    if "facter" in stats:
        bun, fac = stats["bunraku"], stats["facter"]
        lines.append(f"Ratio: bunraku is **{harness.ratio(fac.wall, bun.wall)} faster** than Facter in median wall "
                     f"time ({harness.ratio(fac.wall_min, bun.wall_min)} comparing the fastest runs), "
                     f"**{harness.ratio(fac.cpu, bun.cpu)}** in CPU time, and uses "
                     f"{harness.ratio(fac.rss_mib, bun.rss_mib)} less peak memory. Target: at least 6x faster.")
        lines.append("")
        lines.append("Notes: most of bunraku's time is the interpreter, site (the editable install's import hook) "
                     "and click starting up; collecting the facts is a few ms (the collectors run on a small "
                     "thread pool, read /proc and /sys directly, ask the kernel for addresses over rtnetlink and "
                     "spawn nothing). Facter exits 1 on a host where it cannot read /proc/1/environ (a sandbox); "
                     "its output is complete all the same.")
    return bench.finish("Facts", "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
