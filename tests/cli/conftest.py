"""Fixtures of the command-line tests: a target root with the account files the engine reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (r / "etc/group").write_text("root:x:0:\n")
    return r


def bunraku(*args: str, cwd: Path | None = None, check: int | None = None) -> subprocess.CompletedProcess[str]:
    """``python bunraku.py ARGS``: the real command line in its own process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, str(REPO / "bunraku.py"), *args], capture_output=True, text=True,
                          cwd=cwd or REPO, env=env, timeout=120)
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc
