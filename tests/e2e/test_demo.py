"""`make demo` (examples/demo.py) keeps what it made and says where, so the user can look at it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_keeps_its_directory_and_says_where() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py")], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    kept = re.search(r"kept in (\S+) \(the sandbox roots under agents/\*/root\); remove it with: rm -r (\S+)$",
                     proc.stdout.strip())
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert kept and kept.group(1) == kept.group(2), proc.stdout
        where = Path(kept.group(1))
        roots = sorted(p.name for p in (where / "agents").iterdir())
        assert roots and all((where / "agents" / name / "root" / "etc" / "motd").is_file() for name in roots)
    finally:
        if kept:
            shutil.rmtree(kept.group(1), ignore_errors=True)
