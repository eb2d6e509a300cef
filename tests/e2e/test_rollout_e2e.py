"""Release control end to end: a real master (in this process, and `bunraku master` in its own for the
restart), a dozen agents running the real daemon loop with the live channel, git releases rolled out
wave by wave, health checks, auto-rollback, roles, incremental applies."""

from __future__ import annotations

import json
import os
import signal
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
    issue_identity_from_ca,
    live_agent,
    make_git_site,
    max_in_flight,
    start_master,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
WEB = [f"web{i:02d}.example.com" for i in range(10)]
DB = ["db01.example.com", "db02.example.com"]
GROUPS = "groups:\n  web:\n    nodes: ['web*']\n  db:\n    nodes: ['db*']\n"
LIVE = {"live_heartbeat_seconds": 0.5, "live_timeout": 3, "rollout_tick_seconds": 0.3}


def bunraku(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bunraku.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def site_pp(motd: str, extra: str = "") -> str:
    return f"node default {{\n  class {{ 'demo': motd => '{motd}' }}\n{extra}}}\n"


UNHEALTHY = "  healthcheck { 'app': check => command, command => '/bin/false', retries => 0 }\n"


@pytest.fixture
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A master and 12 live agents of its own for each test: no test depends on what another did."""
    tmp = tmp_path_factory.mktemp("rollout")
    work = make_git_site(tmp)
    groups = tmp / "groups.yaml"
    groups.write_text(GROUPS)
    master = start_master(tmp, None, git_repo=str(work), git_poll_seconds=0, groups=groups, workers=2,
                          environments={"production": {"follow_branch": False}}, **LIVE)
    agents = LiveFleet()
    for name in WEB + DB:
        paths = issue_identity(master, tmp, name)
        agents.add(live_agent(master.address, master.ca_address, tmp, name, paths.ssldir))
    admin = client_for(master, issue_identity(master, tmp, "ops", operator=True))
    v1 = git(work, "rev-parse", "HEAD")
    store = master.ctx.store
    wait_for(lambda: len([n for n in store.node_statuses() if n.last_run and n.code_id == v1]) == 12, 40,
             "every agent's first run")
    wait_for(lambda: len(master.ctx.live.connected_nodes()) == 12, 10, "every live channel")
    yield {"tmp": tmp, "work": work, "master": master, "agents": agents, "admin": admin, "v1": v1}
    agents.close()
    admin.close()
    master.stop()


def _drive(admin: Any, rid: int, timeout: float = 30) -> dict[str, Any]:
    from master import fleet as ops

    def done() -> dict[str, Any] | None:
        info = ops.rollout_status(admin, rid)
        return info if info["state"] not in ("running", "rolling_back") else None

    return wait_for(done, timeout, f"rollout {rid} to finish")


def test_release_pinned_until_rolled_out_then_wave_by_wave_within_max_concurrent(fleet: dict[str, Any]) -> None:
    from master import fleet as ops

    master, admin = fleet["master"], fleet["admin"]
    rollouts = master.ctx.rollouts
    v2 = commit_change(fleet["work"], "manifests/site.pp", site_pp("v2"), "v2")
    # follow_branch false: the new head reaches nobody by itself
    assert all(rollouts.assigned_release(n, "production") == fleet["v1"] for n in WEB + DB)
    started = ops.start_rollout(admin, "production", "production", group="web", canary="1", batch="3",
                                max_concurrent=2, health_timeout=20)
    assert started["code_id"] == v2 and [len(w["nodes"]) for w in started["waves"]] == [1, 3, 3, 3]
    info = _drive(admin, started["id"])
    assert info["state"] == "completed", ops.rollout_lines(info)
    assert all(n["state"] == "succeeded" and n["health"] != "unhealthy" for n in info["nodes"]), \
        ops.rollout_lines(info)
    timeline = info["timeline"]
    assert max_in_flight(timeline) <= 2
    assert not [e for e in timeline if e["kind"] == "deferred"]
    waves = [e["detail"]["wave"] for e in timeline if e["kind"] == "triggered"]
    assert waves == sorted(waves)  # a wave starts only when the one before it is done
    for name in WEB:
        assert (fleet["tmp"] / "agents" / name / "root/etc/motd").read_text().startswith("v2 from")
    for name in DB:  # another group: untouched
        assert (fleet["tmp"] / "agents" / name / "root/etc/motd").read_text().startswith("hello from")
        assert rollouts.assigned_release(name, "production") == fleet["v1"]
    fleet["v2"] = v2


def test_unhealthy_release_stops_after_the_canary_and_rolls_it_back(fleet: dict[str, Any]) -> None:
    from master import fleet as ops

    master, admin = fleet["master"], fleet["admin"]
    v2 = fleet.get("v2") or pytest.skip("needs the good release first")
    v3 = commit_change(fleet["work"], "manifests/site.pp", site_pp("v3", UNHEALTHY), "v3 unhealthy")
    started = ops.start_rollout(admin, v3[:10], "production", group="web", canary="1", batch="3",
                                max_concurrent=2, health_timeout=20, auto_rollback=True)
    assert started["code_id"] == v3
    info = _drive(admin, started["id"])
    assert info["state"] == "rolled_back", ops.rollout_lines(info)
    canary = info["waves"][0]["nodes"][0]
    assert canary["state"] == "rolled_back"
    kinds = [(e["kind"], e["node"]) for e in info["timeline"]]
    assert ("failed", canary["name"]) in kinds and ("halted", None) in kinds
    assert ("rollback_triggered", canary["name"]) in kinds
    assert sum(1 for k, _ in kinds if k == "triggered") == 1  # nobody after the canary
    failed = next(e for e in info["timeline"] if e["kind"] == "failed")
    assert failed["detail"]["health"] == "unhealthy"
    # the reason itself, not "the run failed": which check, how often it was tried, what it said
    assert failed["detail"]["detail"].startswith("health check app unhealthy after 1 attempt: "), failed
    assert all(master.ctx.rollouts.assigned_release(n, "production") == v2 for n in WEB)
    last = ops.reports(admin, canary["name"], 2)
    assert last[0]["code_id"] == v2 and last[0]["status"] != "failed"
    assert last[1]["code_id"] == v3 and last[1]["health"]["status"] == "unhealthy"


def test_incremental_rollout_applies_only_what_changed(fleet: dict[str, Any]) -> None:
    from master import fleet as ops

    admin = fleet["admin"]
    fleet.get("v2") or pytest.skip("needs the good release first")
    v4 = commit_change(fleet["work"], "manifests/site.pp", site_pp("v4"), "v4")
    started = ops.start_rollout(admin, v4, "production", group="web", canary="2", batch="50%",
                                max_concurrent=4, health_timeout=20, incremental=True)
    info = _drive(admin, started["id"])
    assert info["state"] == "completed", ops.rollout_lines(info)
    for name in WEB:
        report = ops.reports(admin, name, 1)[0]
        assert report["code_id"] == v4 and report["apply_mode"] == "incremental", (name, report.get("apply_mode"))
        assert (fleet["tmp"] / "agents" / name / "root/etc/motd").read_text().startswith("v4 from")
    # timer runs stay full: a run without a mode is a full one
    assert ops.reports(admin, DB[0], 1)[0]["apply_mode"] == "full"


def test_roles_and_groups_are_enforced(fleet: dict[str, Any]) -> None:
    from master import fleet as ops
    from wire.client import ClientError

    master, tmp = fleet["master"], fleet["tmp"]
    commit_change(fleet["work"], "manifests/site.pp", site_pp("v2"), "v2")
    first = ops.start_rollout(fleet["admin"], "production", "production", group="web", health_timeout=20)
    assert _drive(fleet["admin"], first["id"])["state"] == "completed"  # the web group's: rollout 1
    viewer = issue_identity_from_ca(Path(master.config.ssldir), tmp, "viewer1", role="role=viewer")
    db_op = issue_identity_from_ca(Path(master.config.ssldir), tmp, "dbop", role="role=operator;groups=db")
    server = ["--server", master.address]
    refused = bunraku("rollout", "start", "production", "--env", "production", "--group", "web", *server,
                      "--ssldir", str(viewer.ssldir), "--certname", "viewer1")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "permission denied: viewer1 is a viewer; it takes the operator role to start a rollout" in refused.stderr
    listed = bunraku("rollout", "list", *server, "--ssldir", str(viewer.ssldir), "--certname", "viewer1")
    assert listed.returncode == 0 and "completed" in listed.stdout
    with client_for(master, db_op) as client:
        with pytest.raises(ClientError) as err:
            ops.start_rollout(client, "production", "production", group="web")
        assert err.value.code.name == "PERMISSION_DENIED"
        assert "only in group(s) db, not in group web" in str(err.value)
        with pytest.raises(ClientError, match="not in every group"):
            ops.start_rollout(client, "production", "production")
        with pytest.raises(ClientError, match="no rollout 1") as hidden:
            ops.rollout_command(client, 1, "rollback")  # rollout 1 is the web group's: not shown to db's operator
        assert hidden.value.code.name == "NOT_FOUND"
        assert {n["group"] for n in ops.list_nodes(client)} == {"db"}
    node = bunraku("rollout", "list", *server, "--ssldir", str(tmp / "ids" / WEB[0]), "--certname", WEB[0])
    assert node.returncode == 1 and "not an operator certificate" in node.stderr
    status = bunraku("rollout", "status", "1", "--json", *server, "--ssldir", str(tmp / "ids" / "ops"),
                     "--certname", "ops")
    assert status.returncode == 0 and json.loads(status.stdout)["state"] == "completed"
    unknown = bunraku("rollout", "start", "no-such-branch", "--env", "production", *server,
                      "--ssldir", str(tmp / "ids" / "ops"), "--certname", "ops")
    assert unknown.returncode == 1 and "unknown revision 'no-such-branch'" in unknown.stderr
    assert unknown.stderr.count("\n") == 1


# -- a real `bunraku master` killed mid-rollout ---------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_master_process(config: Path, log: Path) -> subprocess.Popen[bytes]:
    port_file = config.with_suffix(".ports")
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, str(ROOT / "bunraku.py"), "master", "--config", str(config),
                             "--port-file", str(port_file)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=open(log, "a"))
    wait_for(lambda: (port_file.exists() and port_file.read_text().strip()) or proc.poll() is not None, 30,
             "the master to listen")
    assert proc.poll() is None, log.read_text()
    return proc


def test_master_killed_mid_rollout_resumes_after_restart(tmp_path: Path) -> None:
    from master import fleet as ops
    from wire.client import ClientError, MasterClient

    work = make_git_site(tmp_path)
    port, ca_port = _free_port(), _free_port()
    config = tmp_path / "master.yaml"
    config.write_text(f"listen: 127.0.0.1:{port}\nca_listen: 127.0.0.1:{ca_port}\npuppet_listen: off\ncertname: master.test\n"
                      f"ssldir: {tmp_path / 'ssl'}\nvardir: {tmp_path / 'var'}\nenvironmentpath: null\n"
                      f"git: {{repo: {work}, poll_seconds: 0}}\nworkers: 1\nlog_format: kv\n"
                      f"environments: {{production: {{follow_branch: false}}}}\n"
                      "live_heartbeat_seconds: 0.5\nlive_timeout: 3\nrollout_tick_seconds: 0.3\n")
    log = tmp_path / "master.log"
    proc = _start_master_process(config, log)
    server, ca_server = f"127.0.0.1:{port}", f"127.0.0.1:{ca_port}"
    agents = LiveFleet()
    names = [f"app{i}.example.com" for i in range(5)]
    admin_paths = issue_identity_from_ca(tmp_path / "ssl", tmp_path, "ops", operator=True)
    admin = MasterClient([server], admin_paths, timeout=20)
    try:
        for name in names:
            paths = issue_identity_from_ca(tmp_path / "ssl", tmp_path, name)
            agents.add(live_agent(server, ca_server, tmp_path, name, paths.ssldir))
        v1 = git(work, "rev-parse", "HEAD")
        wait_for(lambda: len([n for n in ops.list_nodes(admin) if n["code_id"] == v1]) == 5, 30, "first runs")
        v2 = commit_change(work, "manifests/site.pp", site_pp("v2"), "v2")
        started = bunraku("rollout", "start", "production", "--env", "production", "--canary", "1", "--batch", "1",
                          "--max-concurrent", "1", "--pause-between", "1", "--health-timeout", "30",
                          "--server", server, "--ssldir", str(admin_paths.ssldir), "--certname", "ops")
        assert started.returncode == 0, started.stderr
        rid = int(started.stdout.split()[1])

        def succeeded() -> int:
            return sum(1 for n in ops.rollout_status(admin, rid)["nodes"] if n["state"] == "succeeded")

        wait_for(lambda: succeeded() >= 2, 30, "two nodes to take the release")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        time.sleep(1)  # the master is gone: nothing drives the rollout now
        proc = _start_master_process(config, log)
        def completed() -> dict[str, Any] | None:
            try:
                info = ops.rollout_status(admin, rid)
            except ClientError:  # the client's channel may still be reconnecting
                return None
            return info if info["state"] == "completed" else None

        info = wait_for(completed, 40, "the rollout to complete after the restart")
        assert all(n["state"] == "succeeded" for n in info["nodes"]), "\n".join(ops.rollout_lines(info))
        assert max_in_flight(info["timeline"]) <= 1
        for name in names:
            assert (tmp_path / "agents" / name / "root/etc/motd").read_text().startswith("v2 from")
        assert all(n["code_id"] == v2 for n in ops.list_nodes(admin))
    finally:
        agents.close()
        admin.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
