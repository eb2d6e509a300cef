"""Why a rollout stopped, and carrying on once that is fixed, with a real master and real agents (the daemon
loop with the live channel) on loopback: a failing health check halts a rollout with the check's own
words, `rollout resume` says what to do, the check is fixed and `rollout retry` completes it; an agent
disabled with `bunraku agent --disable` shows in `bunraku nodes` and fails its node at once, saying so."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    LiveFleet,
    client_for,
    commit_change,
    git,
    issue_identity,
    live_agent,
    make_git_site,
    start_master,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
NODES = ["app01.example.com", "app02.example.com"]
LIVE = {"live_heartbeat_seconds": 0.5, "live_timeout": 3, "rollout_tick_seconds": 0.3}


def site_pp(motd: str, port: int | None = None) -> str:
    check = (f"  healthcheck {{ 'web': check => tcp, host => '127.0.0.1', port => {port}, retries => 1, "
             "interval => 0.1, timeout => 1 }\n") if port else ""
    return f"node default {{\n  class {{ 'demo': motd => '{motd}' }}\n{check}}}\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bunraku(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bunraku.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("retry")
    work = make_git_site(tmp)
    master = start_master(tmp, None, git_repo=str(work), git_poll_seconds=0, workers=1,
                          environments={"production": {"follow_branch": False}}, **LIVE)
    agents = LiveFleet()
    for name in NODES:
        paths = issue_identity(master, tmp, name)
        agents.add(live_agent(master.address, master.ca_address, tmp, name, paths.ssldir))
    ops_paths = issue_identity(master, tmp, "ops", operator=True)
    admin = client_for(master, ops_paths)
    v1 = git(work, "rev-parse", "HEAD")
    store = master.ctx.store
    wait_for(lambda: len([n for n in store.node_statuses() if n.last_run and n.code_id == v1]) == 2, 40,
             "every agent's first run")
    wait_for(lambda: len(master.ctx.live.connected_nodes()) == 2, 10, "every live channel")
    cli = ["--server", master.address, "--ssldir", str(ops_paths.ssldir), "--certname", "ops"]
    yield {"tmp": tmp, "work": work, "master": master, "agents": agents, "admin": admin, "cli": cli}
    agents.close()
    admin.close()
    master.stop()


def _settle(admin: Any, rid: int, timeout: float = 40) -> dict[str, Any]:
    from master import fleet as ops

    def done() -> dict[str, Any] | None:
        info = ops.rollout_status(admin, rid)
        return info if info["state"] not in ("running", "rolling_back") else None

    return wait_for(done, timeout, f"rollout {rid} to stop")


def test_a_failing_health_check_halts_then_retry_completes_once_fixed(site: dict[str, Any]) -> None:
    from master import fleet as ops

    admin, cli = site["admin"], site["cli"]
    port = free_port()
    v2 = commit_change(site["work"], "manifests/site.pp", site_pp("v2", port), "v2 with a health check")
    started = ops.start_rollout(admin, v2, "production", canary="1", batch="1", health_timeout=30)
    rid = started["id"]
    info = _settle(admin, rid)
    assert info["state"] == "halted", ops.rollout_lines(info)
    canary = info["waves"][0]["nodes"][0]
    why = f"health check web unhealthy after 2 attempts: connect to 127.0.0.1:{port}: connection refused"
    assert canary["state"] == "failed" and canary["detail"] == why, canary
    assert canary["report_id"] and info["failures"][0]["report_id"] == canary["report_id"]
    status = bunraku("rollout", "status", str(rid), *cli)
    assert status.returncode == 0 and why in status.stdout, status.stdout + status.stderr
    assert "nodes: 2 node(s) in 2 wave(s): 1 pending, 1 failed" in status.stdout

    resumed = bunraku("rollout", "resume", str(rid), *cli)
    assert resumed.returncode == 1 and resumed.stderr.count("\n") == 1 and "Traceback" not in resumed.stderr
    assert f"then `bunraku rollout retry {rid}`, or start a new rollout" in resumed.stderr, resumed.stderr

    with socket.socket() as service:  # the fix: the service the check probes is up
        service.bind(("127.0.0.1", port))
        service.listen(16)
        retried = bunraku("rollout", "retry", str(rid), *cli)
        assert retried.returncode == 0, retried.stderr
        assert retried.stdout.startswith(f"rollout {rid}: ") and f"(retrying 1 node(s): {canary['name']})" \
            in retried.stdout, retried.stdout
        info = _settle(admin, rid)
    assert info["state"] == "completed", ops.rollout_lines(info)
    assert all(n["state"] == "succeeded" and n["health"] == "healthy" for n in info["nodes"]), \
        ops.rollout_lines(info)
    kinds = [e["kind"] for e in info["timeline"]]
    assert kinds.index("halted") < kinds.index("retried") < kinds.index("completed")
    again = bunraku("rollout", "retry", str(rid), *cli)
    assert again.returncode == 1 and again.stderr.count("\n") == 1
    assert f"rollout {rid} is completed; only a halted rollout can be retried" in again.stderr


def test_a_disabled_agent_shows_in_nodes_and_fails_its_node_at_once(site: dict[str, Any]) -> None:
    from agent.run import enable
    from master import fleet as ops

    admin, cli, agents = site["admin"], site["cli"], site["agents"]
    node = NODES[0]
    settings = agents.settings[node]
    disabled = bunraku("agent", "--disable", "kernel upgrade, ask bob", "--vardir", str(settings.vardir))
    assert disabled.returncode == 0, disabled.stderr
    try:
        shown = wait_for(lambda: next((n for n in ops.list_nodes(admin) if n["name"] == node and n["disabled"]),
                                      None), 10, "the master to hear that the agent is disabled")
        assert shown["disabled"] == "kernel upgrade, ask bob"
        table = bunraku("nodes", *cli)
        assert table.returncode == 0
        line = next(row for row in table.stdout.splitlines() if row.startswith(node))
        assert "(agent disabled: kernel upgrade, ask bob)" in line, table.stdout
        v3 = commit_change(site["work"], "manifests/site.pp", site_pp("v3"), "v3")
        began = time.monotonic()
        started = ops.start_rollout(admin, v3, "production", canary="1", batch="1", health_timeout=120)
        info = _settle(admin, started["id"])
        assert time.monotonic() - began < 30  # at once, not after the health timeout
        assert info["state"] == "halted", ops.rollout_lines(info)
        canary = info["waves"][0]["nodes"][0]
        assert canary["name"] == node and canary["state"] == "failed"
        assert canary["detail"] == "agent disabled: kernel upgrade, ask bob"
    finally:
        enable(settings)
    # enabled again: the next heartbeat says so, and the rollout can be retried
    wait_for(lambda: not next(n for n in ops.list_nodes(admin) if n["name"] == node)["disabled"], 10,
             "the master to hear that the agent is enabled")
    ops.rollout_command(admin, started["id"], "retry")
    info = _settle(admin, started["id"])
    assert info["state"] == "completed", ops.rollout_lines(info)
