"""Agents upgrade themselves, end to end: a real master on loopback and two real agent daemons (processes
started as `bunraku agent`). A build of the agent pushed as an artifact and rolled out with `bunraku
agent-upgrade start` is installed beside the old version and kept once it reports, in the same process
(no run lost or duplicated across the switch); a deliberately broken build is given up by the agent
itself, which comes back on its old version, says why, and is rolled back by the rollout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import issue_identity, make_site, start_master, wait_for

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cli", "engine", "dsl", "master", "agent", "facts", "wire")
GROUPS = "groups:\n  good:\n    nodes: ['good*']\n  bad:\n    nodes: ['bad*']\n"
GOOD, BAD, TIMER = "good01.example.com", "bad01.example.com", "good02.example.com"


def build(dest: Path, version: str, *, broken: bool = False) -> Path:
    """A zipapp of this tree's packages whose version is ``version`` (``broken``: its CLI cannot import)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for package in PACKAGES:
            for path in sorted((ROOT / package).rglob("*")):
                if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                    continue
                name = path.relative_to(ROOT).as_posix()
                data = path.read_bytes()
                if name == "engine/__init__.py":
                    data = data.replace(b'__version__ = "', f'__version__ = "{version}"  # was "'.encode(), 1)
                if broken and name == "cli/__init__.py":
                    data = b'raise ImportError("this build is broken on purpose")\n'
                zf.writestr(name, data)
        zf.writestr("__main__.py", "from cli import main\nmain()\n")
    return dest


def bunraku(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, str(ROOT / "bunraku.py"), *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    if check:
        assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done


class Agent:
    """`bunraku agent` as a daemon process (or, ``onetime``, as a timer's runs), with its own facts file,
    vardir and root."""

    def __init__(self, master: Any, tmp: Path, certname: str, *, onetime: bool = False) -> None:
        self.certname = certname
        base = tmp / "agents" / certname
        self.ssldir = issue_identity(master, tmp, certname).ssldir
        self.vardir, self.root = base / "var", base / "root"
        (self.root / "etc").mkdir(parents=True)
        facts = base / "facts.json"
        facts.write_text(json.dumps({"role": "web", "networking": {"fqdn": certname}}))
        self.log, self.base = base / "agent.log", base
        self.argv = [sys.executable, str(ROOT / "bunraku.py"), "agent", "--server", master.address, "--ca-server",
                     master.ca_address, "--certname", certname, "--ssldir", str(self.ssldir), "--vardir",
                     str(self.vardir), "--root", str(self.root), "--facts", str(facts), "--runinterval", "3600",
                     "--waitforcert", "0", "--verbose"]
        if onetime:
            self.argv.append("--onetime")
        else:
            self.start()

    def once(self) -> subprocess.CompletedProcess[str]:
        """One run, as a systemd timer starts it."""
        return subprocess.run(self.argv, capture_output=True, text=True, timeout=120, cwd=self.base)

    def start(self) -> None:
        """Start the daemon as its unit would: `bunraku agent` of the installed version."""
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, cwd=self.base,
                                            start_new_session=True)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []


def reports(master: Any, node: str) -> list[dict[str, Any]]:
    """The node's reports, oldest first."""
    return list(reversed(master.ctx.store.reports(node, last=50)))


def rollout(master: Any, operator: Any, rid: int) -> dict[str, Any]:
    shown = bunraku("rollout", "status", str(rid), "--json", "--server", master.address, "--ssldir",
                    str(operator.ssldir), "--certname", operator.certname)
    return dict(json.loads(shown.stdout))


@pytest.fixture()
def site(tmp_path: Path) -> Any:
    make_site(tmp_path / "envs")
    groups = tmp_path / "groups.yaml"
    groups.write_text(GROUPS)
    master = start_master(tmp_path, tmp_path / "envs", groups=groups, live_heartbeat_seconds=0.5, live_timeout=3,
                          puppet_listen="off", workers=2)
    agents: list[Agent] = []
    try:
        yield master, agents
    finally:
        codes = [a.stop() for a in agents]
        master.stop()
        for agent in agents:
            sys.stderr.write(f"--- {agent.certname}\n{agent.log.read_text(errors='replace')[-4000:]}\n")
        assert all(code == 0 for code in codes), f"agents exited with {codes}"


def test_agents_upgrade_in_waves_and_a_broken_build_comes_back(site: Any, tmp_path: Path) -> None:
    master, agents = site
    operator = issue_identity(master, tmp_path, "ops", operator=True)
    op = ("--server", master.address, "--ssldir", str(operator.ssldir), "--certname", "ops")
    good, bad = Agent(master, tmp_path, GOOD), Agent(master, tmp_path, BAD)
    agents += [good, bad]
    timer = Agent(master, tmp_path, TIMER, onetime=True)  # runs from a timer: no live channel
    assert timer.once().returncode == 0
    for agent in agents:
        wait_for(lambda a=agent: reports(master, a.certname), 60, f"{agent.certname}'s first run")
    from engine import __version__ as old

    assert master.ctx.store.get_facts(GOOD)["bunraku_version"] == old

    # a build nobody pushed is refused with what to do
    refused = bunraku("agent-upgrade", "start", "9.9.9", "--group", "good", *op, check=False)
    assert refused.returncode != 0 and "bunraku artifact push bunraku-agent 9.9.9" in refused.stderr

    bunraku("artifact", "push", "bunraku-agent", "9.9.9", str(build(tmp_path / "bunraku-9.9.9.pyz", "9.9.9")), *op)
    before = len(reports(master, GOOD))
    pid = good.process.pid
    started = bunraku("agent-upgrade", "start", "9.9.9", "--group", "good", "--canary", "1", "--batch", "1",
                      "--health-timeout", "90", *op)
    assert "agent 9.9.9 to 2 agent(s)" in started.stdout
    rid = int(started.stdout.split()[1])
    wait_for(lambda: rollout(master, operator, rid)["state"] in ("completed", "halted"), 120, "the upgrade")
    info = rollout(master, operator, rid)
    assert info["state"] == "completed", json.dumps(info, indent=1)
    nodes = {n["name"]: n for w in info["waves"] for n in w["nodes"]}
    assert nodes[GOOD]["detail"].startswith("runs agent 9.9.9"), nodes
    # the timer's agent was offline: its next run stages the build, the one after runs it on trial
    assert nodes[TIMER]["state"] == "deferred", nodes
    staged = timer.once()
    assert staged.returncode == 0 and "Agent 9.9.9 staged" in staged.stdout + staged.stderr
    assert (timer.vardir / "agent" / "trial.json").is_file() and reports(master, TIMER)[-1]["puppet_version"] \
        == f"bunraku {old}"
    tried = timer.once()
    assert tried.returncode == 0, tried.stdout + tried.stderr
    assert reports(master, TIMER)[-1]["puppet_version"] == "bunraku 9.9.9"
    assert os.readlink(timer.vardir / "agent" / "current") == "versions/9.9.9"
    wait_for(lambda: {n["name"]: n for w in rollout(master, operator, rid)["waves"] for n in w["nodes"]}[TIMER][
        "state"] == "succeeded", 30, "the timer's agent to count as upgraded")

    # one run staged the build and reported (old version); the new version ran once and reported: no run
    # lost, none twice
    after = reports(master, GOOD)[before:]
    assert [r["puppet_version"] for r in after] == [f"bunraku {old}", "bunraku 9.9.9"], after
    assert after[0]["agent_upgrade"] == {"from": old, "to": "9.9.9", "state": "staged", "reason": None}
    assert len({r["transaction_uuid"] for r in reports(master, GOOD)}) == len(reports(master, GOOD))
    # the same daemon (process id: systemd sees no restart) now supervises the new version
    assert good.process.poll() is None and good.process.pid == pid
    wait_for(lambda: good.children(), 10, "the supervised agent")
    home = good.vardir / "agent"
    assert os.readlink(home / "current") == "versions/9.9.9"
    assert json.loads((home / "outcome.json").read_text())["state"] == "done"
    assert not (home / "trial.json").exists()
    wait_for(lambda: master.ctx.store.get_facts(GOOD)["bunraku_version"] == "9.9.9", 30,
             "the new version's facts")
    # the dashboard's nodes listing says which version each agent runs
    shown = bunraku("nodes", "--json", *op)
    versions = {n["name"]: n.get("agent_version") for n in json.loads(shown.stdout)}
    assert versions == {GOOD: "9.9.9", BAD: old, TIMER: "9.9.9"}
    # restarted (a reboot, `systemctl restart`): `bunraku agent` of the installed version runs the current one
    assert good.stop() == 0
    count = len(reports(master, GOOD))
    good.start()
    wait_for(lambda: len(reports(master, GOOD)) > count, 60, "the restarted agent's run")
    assert reports(master, GOOD)[-1]["puppet_version"] == "bunraku 9.9.9"

    # a broken build: the agent gives it up by itself and comes back on the old version; the rollout fails the
    # node and rolls back
    bunraku("artifact", "push", "bunraku-agent", "9.9.10",
            str(build(tmp_path / "bunraku-9.9.10.pyz", "9.9.10", broken=True)), *op)
    bad_pid = bad.process.pid
    started = bunraku("agent-upgrade", "start", "9.9.10", "--group", "bad", "--health-timeout", "60",
                      "--auto-rollback", *op)
    rid = int(started.stdout.split()[1])
    wait_for(lambda: rollout(master, operator, rid)["state"] in ("rolled_back", "completed", "aborted"), 120,
             "the broken upgrade to be rolled back")
    info = rollout(master, operator, rid)
    assert info["state"] == "rolled_back", json.dumps(info, indent=1)
    failed = [e for e in info["timeline"] if e["kind"] == "failed"]
    assert failed and "broken on purpose" in failed[0]["detail"]["detail"], info["timeline"]
    home = bad.vardir / "agent"
    outcome = json.loads((home / "outcome.json").read_text())
    assert outcome["state"] == "failed" and outcome["to"]["version"] == "9.9.10"
    assert "ImportError: this build is broken on purpose" in outcome["reason"]
    assert not (home / "current").exists()  # still the installed version
    assert bad.process.poll() is None and bad.process.pid == bad_pid
    latest = reports(master, BAD)[-1]
    assert latest["puppet_version"] == f"bunraku {old}"
    # and the good one was never touched by the second rollout
    assert reports(master, GOOD)[-1]["puppet_version"] == "bunraku 9.9.9"
