"""Run every benchmark against Puppet on this machine, one after the other (`make bench`).

Each script prints its table; the ones that can write their section of bench/RESULTS.md are asked to.
Benchmarks need a quiet machine: run nothing else meanwhile.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    ("bench_facts.py", []),
    ("bench_compile.py", ["--write"]),
    ("bench_corpus.py", ["--write"]),
    ("bench_apply.py", []),
    ("bench_master.py", ["--write"]),
    ("bench_store.py", []),
    ("bench_dashboard.py", []),
]


def main() -> int:
    failed = []
    for script, args in SCRIPTS:
        print(f"== {script} {' '.join(args)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / script), *args]).returncode != 0:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
