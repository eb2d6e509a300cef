"""Puppet agents as nodes of a rollout: a real master (git environment, follow_branch false, Puppet's HTTP
API on loopback), two unmodified `puppet agent` processes and one Bunraku agent with its live channel.
The rollout assigns the Puppet agents their release, waits for their next run (the test drives them
with `puppet agent --onetime --no-daemonize`; nothing can trigger them) and judges them by the report
they send; a release that fails on a Puppet agent halts the rollout naming that agent and why."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    LiveFleet,
    client_for,
    git,
    issue_identity,
    live_agent,
    start_master,
    wait_for,
)

pytestmark = pytest.mark.skipif(shutil.which("puppet") is None,
                                reason="Puppet's agent is not installed (Debian: apt-get install puppet-agent)")
PUPPETS = ["pa01.example.com", "pa02.example.com"]  # sort first: pa01 is the canary
BUNRAKU = "zb01.example.com"
LIVE = {"live_heartbeat_seconds": 0.5, "live_timeout": 3, "rollout_tick_seconds": 0.3}
WAITING = "waiting for its next run (Puppet agent"


def site_pp(out: Path, release: str, extra: str = "") -> str:
    return (f"node default {{\n  file {{ \"{out}/${{trusted['certname']}}\": ensure => file, "
            f"content => \"{release}\\n\" }}\n{extra}}}\n")


FAILING = "  exec { 'boom': command => '/bin/false' }\n"


def commit(work: Path, text: str, message: str) -> str:
    (work / "manifests" / "site.pp").write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)
    return git(work, "rev-parse", "HEAD")


def puppet_run(site: dict[str, Any], certname: str) -> subprocess.CompletedProcess[str]:
    """One run of an unmodified Puppet agent, as its daemon's timer would start it."""
    base = site["tmp"] / "puppet-agents" / certname
    dirs = [arg for name in ("confdir", "vardir", "ssldir", "codedir", "logdir", "rundir", "publicdir")
            for arg in (f"--{name}", str(base / name))]
    command = ["puppet", "agent", "--onetime", "--no-daemonize", "--verbose", *dirs, "--server", "127.0.0.1",
               "--masterport", str(site["master"].puppet_api.port), "--certname", certname, "--waitforcert", "0",
               "--keylength", "2048", "--color", "false", "--no-splay"]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


def said(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("puppet-rollout")
    out = tmp / "out"
    out.mkdir()
    work = tmp / "site-git"
    (work / "manifests").mkdir(parents=True)
    git(work, "init", "-q", "-b", "production")
    v1 = commit(work, site_pp(out, "v1"), "v1")
    master = start_master(tmp, None, git_repo=str(work), git_poll_seconds=0, workers=1, autosign=True,
                          puppet_listen="127.0.0.1:0", environments={"production": {"follow_branch": False}},
                          **LIVE)
    agents = LiveFleet()
    settings = live_agent(master.address, master.ca_address, tmp, BUNRAKU, issue_identity(master, tmp, BUNRAKU).ssldir)
    (settings.root / str(out).lstrip("/")).mkdir(parents=True)
    agents.add(settings)
    admin = client_for(master, issue_identity(master, tmp, "ops", operator=True))
    info = {"tmp": tmp, "out": out, "work": work, "master": master, "admin": admin, "v1": v1,
            "bunraku_out": settings.root / str(out).lstrip("/")}
    try:
        for name in (*PUPPETS, PUPPETS[1]):  # pa02 runs twice: its run interval is known
            run = puppet_run(info, name)
            assert run.returncode == 0 and (out / name).read_text() == "v1\n", said(run)
        store = master.ctx.store
        wait_for(lambda: any(s.name == BUNRAKU and s.last_run for s in store.node_statuses()), 120,
                 "the Bunraku agent's first run")
        wait_for(lambda: BUNRAKU in master.ctx.live.connected_nodes(), 30, "its live channel")
        yield info
    finally:
        agents.close()
        admin.close()
        master.stop()


def _status(site: dict[str, Any], rid: int) -> dict[str, Any]:
    from master import fleet as ops

    return ops.rollout_status(site["admin"], rid)


def _node(info: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in info["nodes"] if n["name"] == name)


def _waiting(site: dict[str, Any], rid: int, name: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        info = _status(site, rid)
        node = _node(info, name)
        return info if node["state"] == "triggered" and (node["detail"] or "").startswith(WAITING) else None

    return wait_for(check, 60, f"the rollout to wait for {name}")


def test_a_rollout_with_puppet_agents_completes_judged_by_their_reports(site: dict[str, Any]) -> None:
    from master import fleet as ops

    master, out = site["master"], site["out"]
    rollouts = master.ctx.rollouts
    v2 = commit(site["work"], site_pp(out, "v2"), "v2")
    started = ops.start_rollout(site["admin"], "production", "production", canary="1", batch="2",
                                health_timeout=600)
    rid = started["id"]
    assert started["code_id"] == v2 and [[n["name"] for n in w["nodes"]] for w in started["waves"]] == [
        [PUPPETS[0]], [PUPPETS[1], BUNRAKU]]
    info = _waiting(site, rid, PUPPETS[0])
    assert _node(info, PUPPETS[0])["detail"] == "waiting for its next run (Puppet agent, at its next run)"
    assert rollouts.assigned_release(PUPPETS[0], "production") == v2
    assert rollouts.assigned_release(PUPPETS[1], "production") == site["v1"]  # not its wave yet
    assert info["current_wave"] == 0 and _node(info, BUNRAKU)["state"] == "pending"

    run = puppet_run(site, PUPPETS[0])  # its next run: the assigned release, from Puppet's catalog endpoint
    assert run.returncode == 0 and (out / PUPPETS[0]).read_text() == "v2\n", said(run)
    info = _waiting(site, rid, PUPPETS[1])
    assert _node(info, PUPPETS[0])["state"] == "succeeded"
    assert _node(info, PUPPETS[0])["detail"] == "applied (changed; Puppet agent)"
    lines = "\n".join(ops.rollout_lines(info))
    detail = _node(info, PUPPETS[1])["detail"]
    assert detail.startswith("waiting for its next run (Puppet agent, runs every ~") and detail.endswith("s)"), detail
    assert f"{PUPPETS[1]:32} triggered        -          {detail}" in lines, lines
    # the Bunraku agent of the same wave is triggered over its live channel and is judged meanwhile
    wait_for(lambda: _node(_status(site, rid), BUNRAKU)["state"] == "succeeded", 120, "the Bunraku agent")
    assert (site["bunraku_out"] / BUNRAKU).read_text() == "v2\n"
    assert _status(site, rid)["state"] == "running"  # still waiting for pa02

    run = puppet_run(site, PUPPETS[1])
    assert run.returncode == 0 and (out / PUPPETS[1]).read_text() == "v2\n", said(run)
    info = wait_for(lambda: (i := _status(site, rid))["state"] != "running" and i, 60, "the rollout to finish")
    assert info["state"] == "completed", ops.rollout_lines(info)
    assert all(n["state"] == "succeeded" for n in info["nodes"]), ops.rollout_lines(info)
    assert not [e for e in info["timeline"] if e["kind"] == "deferred"]
    report = ops.reports(site["admin"], PUPPETS[1], 1)[0]
    assert report["code_id"] == v2 and report["puppet_version"].startswith("7.")
    site["v2"] = v2


def test_a_release_failing_on_a_puppet_agent_halts_naming_it_and_why(site: dict[str, Any]) -> None:
    from master import fleet as ops

    site.get("v2") or pytest.skip("needs the good release first")
    master, out = site["master"], site["out"]
    v3 = commit(site["work"], site_pp(out, "v3", FAILING), "v3 fails")
    rid = ops.start_rollout(site["admin"], "production", "production", canary="1", batch="2",
                            health_timeout=600)["id"]
    _waiting(site, rid, PUPPETS[0])
    run = puppet_run(site, PUPPETS[0])
    assert "/bin/false" in run.stdout + run.stderr, said(run)
    info = wait_for(lambda: (i := _status(site, rid))["state"] != "running" and i, 60, "the rollout to halt")
    assert info["state"] == "halted", ops.rollout_lines(info)
    assert info["reason"] == "1 node(s) failed; the budget is 0"
    failed = _node(info, PUPPETS[0])
    assert failed["state"] == "failed"
    assert failed["detail"].startswith("the run failed: ") and "Exec[boom]" in failed["detail"], failed
    assert "'/bin/false' returned 1 instead of one of [0]" in failed["detail"], failed
    assert [e["node"] for e in info["timeline"] if e["kind"] == "failed"] == [PUPPETS[0]]
    assert _node(info, PUPPETS[1])["state"] == "pending" and _node(info, BUNRAKU)["state"] == "pending"
    assert master.ctx.rollouts.assigned_release(BUNRAKU, "production") == site["v2"]
    assert (site["bunraku_out"] / BUNRAKU).read_text() == "v2\n"
    assert v3 != site["v2"]
