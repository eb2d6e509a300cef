"""The agent logs as the master does: each line with its time and Puppet's level name (`Notice:`,
`Info:`, `Warning:`, `Error:`), never Python's `INFO:`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli.common import RunOutput
from tests.cli.conftest import REPO

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (Debug|Info|Notice|Warning|Error): ")


def test_a_daemons_run_lines_carry_the_time(capsys: pytest.CaptureFixture[str]) -> None:
    RunOutput(timestamps=True)("notice", "Notice: Applied catalog for web01 in 0.1 seconds")
    RunOutput()("notice", "Notice: Applied catalog for web01 in 0.1 seconds")  # --onetime, -t: as Puppet's
    daemon, once = capsys.readouterr().out.splitlines()
    assert LINE.match(daemon) and daemon.endswith(" Notice: Applied catalog for web01 in 0.1 seconds")
    assert once == "Notice: Applied catalog for web01 in 0.1 seconds"


def test_the_agent_daemon_logs_with_time_and_puppets_level_names(tmp_path: Path) -> None:
    (tmp_path / "root" / "etc").mkdir(parents=True)
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bunraku.py"), "agent", "--no-live", "-v", "--server", "127.0.0.1:9",
         "--ca-server", "127.0.0.1:9", "--certname", "n1.example.com", "--root", str(tmp_path / "root"),
         "--waitforcert", "0", "--facts", "/dev/null", "--runinterval", "3600"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the first run's outcome: no CA answers on port 9
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=60)
    assert LINE.match(first) and " Error: cannot reach the CA at 127.0.0.1:9" in first, first
    logged = [line for line in err.splitlines() if line.strip()]
    assert all(LINE.match(line) for line in logged), logged
    assert not any(re.match(r"^(INFO|WARNING|ERROR|DEBUG):", line) for line in logged)
