"""A disabled agent, as the master keeps it: `bunraku agent disable MESSAGE` on a node reaches the master
over the live channel, stays in the store (a restarted master still knows it), shows in `bunraku nodes`,
and goes when the agent is enabled again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.e2e.harness import LiveFleet, issue_identity, live_agent, make_site, start_master, wait_for

ROOT = Path(__file__).resolve().parents[2]
NODE = "web01.example.com"


def bunraku(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bunraku.py"), *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _nodes(master: Any, operator: Any) -> dict[str, Any]:
    shown = bunraku("nodes", "--json", "--server", master.address, "--ssldir", str(operator.ssldir),
                    "--certname", operator.certname)
    assert shown.returncode == 0, shown.stderr
    return {n["name"]: n for n in json.loads(shown.stdout)}


def test_disabled_state_is_kept_shown_and_cleared(tmp_path: Path) -> None:
    make_site(tmp_path / "envs")
    master = start_master(tmp_path, tmp_path / "envs", live_heartbeat_seconds=0.5, puppet_listen="off")
    fleet = LiveFleet()
    try:
        operator = issue_identity(master, tmp_path, "admin", operator=True)
        agent = issue_identity(master, tmp_path, NODE)
        settings = live_agent(master.address, master.ca_address, tmp_path, NODE, agent.ssldir)
        fleet.add(settings)
        wait_for(lambda: fleet.results[NODE], 60, "the first run")
        agent_cli = ("agent", "--certname", NODE, "--root", str(settings.root), "--vardir", str(settings.vardir))

        said = bunraku(*agent_cli, "disable", "kernel upgrade, ask bob")
        assert said.returncode == 0 and said.stdout.strip() == "agent disabled: kernel upgrade, ask bob"
        status = bunraku(*agent_cli, "status")
        assert status.stdout.startswith("disabled:  kernel upgrade, ask bob (runs are skipped"), status.stdout
        wait_for(lambda: _nodes(master, operator)[NODE]["disabled"] == "kernel upgrade, ask bob", 30,
                 "the master to learn that the agent is disabled")
        table = bunraku("nodes", "--server", master.address, "--ssldir", str(operator.ssldir), "--certname", "admin")
        line = next(x for x in table.stdout.splitlines() if x.startswith(NODE))
        assert "(agent disabled: kernel upgrade, ask bob)" in line

        assert bunraku(*agent_cli, "enable").returncode == 0
        wait_for(lambda: _nodes(master, operator)[NODE]["disabled"] is None, 30, "the mark to go")

        assert bunraku(*agent_cli, "--disable").returncode == 0  # Puppet's spelling, no message
        wait_for(lambda: _nodes(master, operator)[NODE]["disabled"] == "reason not specified", 30,
                 "the master to learn it again")
    finally:
        fleet.close()
        master.stop()
    # the agent is gone and the master restarted: the store still says what the agent said last
    master = start_master(tmp_path, tmp_path / "envs", puppet_listen="off")
    try:
        assert _nodes(master, operator)[NODE]["disabled"] == "reason not specified"
    finally:
        master.stop()
