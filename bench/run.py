"""Run every benchmark on this machine, one after the other (`make bench`).

Each script prints its table; those that keep a section of bench/RESULTS.md are asked to write it, which they
do only when the machine was quiet (1-minute load average at most 1.0 before every run; see
bench/harness.py). Benchmarks need a quiet machine: run nothing else meanwhile.

    .venv/bin/python bench/run.py [--allow-busy] [--no-write]

``--allow-busy`` is handed to every script (print, do not write, on a busy machine); ``--no-write`` prints
only. Order and the longest parts at the default sizes: facts (about a minute), compile (a few minutes of
Puppet), corpus (Puppet compiles 233 cases: about 10 minutes), apply (Puppet's 1,000-file runs: several
minutes), master, puppetserver (its start takes about a minute), store writes behind the requests (about
15 minutes, most of it waiting for the machine to settle between runs), store, dashboard.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    ("bench_facts.py", ["--write"]),
    ("bench_compile.py", ["--write"]),
    ("bench_corpus.py", ["--write"]),
    ("bench_apply.py", ["--write"]),
    ("bench_master.py", ["--write"]),
    ("bench_puppetserver.py", ["--write"]),
    ("bench_writebehind.py", ["--write"]),
    ("bench_store.py", []),
    ("bench_dashboard.py", []),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--allow-busy", action="store_true", help="hand --allow-busy to every script")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    failed = []
    for script, extra in SCRIPTS:
        argv = [] if args.no_write else list(extra)
        if args.allow_busy:
            argv.append("--allow-busy")
        print(f"== {script} {' '.join(argv)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / script), *argv]).returncode != 0:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
