"""The agent's self-upgrade on its own (agent.upgrade): staging builds (zipapps and wheels, damaged,
escaping, not an agent), what a run says of an offer, and the supervisor's trial with real processes —
versions here are small stand-in packages whose `cli.main` does what each test needs (confirm, hang,
exit), so every way a trial ends is reached in seconds."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from agent import upgrade
from engine import __version__
from engine.report import Report
from engine.sources import ArtifactRef


class FileSource:
    """The master's artifact download, from a local file (carrying on from a partial one, as the agent's)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.calls = 0

    def fetch_artifact(self, ref: ArtifactRef, dest: str) -> str:
        self.calls += 1
        have = os.path.getsize(dest) if os.path.exists(dest) else 0
        with open(dest, "ab") as out:
            out.write(self.path.read_bytes()[have:])
        return ref.filename


def make_build(path: Path, files: dict[str, str]) -> upgrade.Offer:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return upgrade.Offer("2.0.0", digest, path.stat().st_size, path.name, deadline=30)


AGENT_FILES = {"cli/__init__.py": "", "engine/__init__.py": '__version__ = "2.0.0"\n', "agent/__init__.py": ""}


def test_a_zipapp_is_staged_once_and_a_partial_download_carries_on(tmp_path: Path) -> None:
    offer = make_build(tmp_path / "bunraku-2.0.0.pyz", {**AGENT_FILES, "__main__.py": "from cli import main\n"})
    vardir = tmp_path / "var"
    part = vardir / "agent" / "versions" / ".incoming" / "2.0.0.part"
    part.parent.mkdir(parents=True)
    part.write_bytes((tmp_path / "bunraku-2.0.0.pyz").read_bytes()[:40])  # cut short by an earlier run
    source = FileSource(tmp_path / "bunraku-2.0.0.pyz")
    staged = upgrade.stage(vardir, offer, source)
    assert staged.where == str(vardir / "agent" / "versions" / "2.0.0") and not staged.base
    assert (Path(staged.where) / "engine" / "__init__.py").read_text() == '__version__ = "2.0.0"\n'
    assert not part.exists()
    assert upgrade.stage(vardir, offer, source) == staged and source.calls == 1  # on disk: no download
    # the installed version was recorded the first time: going back to it needs no artifact
    back = upgrade.stage(vardir, upgrade.Offer(__version__), source)
    assert back.base and back.where == upgrade.running_dir()


def test_a_wheel_is_staged(tmp_path: Path) -> None:
    files = {**AGENT_FILES, "bunraku-2.0.0.dist-info/METADATA": "Name: bunraku\nVersion: 2.0.0\n",
             "bunraku-2.0.0.dist-info/RECORD": ""}
    offer = make_build(tmp_path / "bunraku-2.0.0-py3-none-any.whl", files)
    staged = upgrade.stage(tmp_path / "var", offer, FileSource(tmp_path / "bunraku-2.0.0-py3-none-any.whl"))
    assert (Path(staged.where) / "cli" / "__init__.py").is_file()


@pytest.mark.parametrize(("files", "damage", "said"), [
    ({"engine/__init__.py": "", "agent/__init__.py": ""}, False, "not a build of the agent: it has no cli package"),
    ({**AGENT_FILES, "../../escape.py": "x"}, False, "leaves its directory"),
    (AGENT_FILES, True, "arrived damaged"),
])
def test_a_bad_build_is_refused_and_nothing_is_installed(tmp_path: Path, files: dict[str, str], damage: bool,
                                                         said: str) -> None:
    build = tmp_path / "build.pyz"
    offer = make_build(build, files)
    if damage:
        build.write_bytes(build.read_bytes()[:-1] + b"!")
    with pytest.raises(upgrade.UpgradeError, match=said):
        upgrade.stage(tmp_path / "var", offer, FileSource(build))
    assert not (tmp_path / "var" / "agent" / "versions" / "2.0.0").exists()
    assert not (tmp_path / "escape.py").exists() and not (tmp_path / "var" / "escape.py").exists()


def test_a_version_the_master_holds_no_build_of_says_how_to_push_it(tmp_path: Path) -> None:
    with pytest.raises(upgrade.UpgradeError, match="bunraku artifact push bunraku-agent 3.0.0 FILE"):
        upgrade.stage(tmp_path, upgrade.Offer("3.0.0"), None)


def test_what_a_run_says_of_an_offer(tmp_path: Path) -> None:
    build = tmp_path / "b.pyz"
    offer = make_build(build, AGENT_FILES)
    vardir = tmp_path / "var"
    report = Report(host="n1")
    assert upgrade.consider(vardir, offer, FileSource(build), report, noop=True) is None
    assert report.agent_upgrade is None and "Would upgrade the agent" in report.logs[-1].message
    report = Report(host="n1")
    staged = upgrade.consider(vardir, offer, FileSource(build), report, noop=False)
    assert staged is not None and report.agent_upgrade == {"from": __version__, "to": "2.0.0", "state": "staged",
                                                           "reason": None}
    assert report.to_store_dict()["agent_upgrade"]["state"] == "staged"
    assert "agent_upgrade" not in report.to_dict()  # never in what Puppet's tools read
    assert upgrade.consider(vardir, upgrade.Offer(__version__), None, Report(host="n1"), noop=False) is None
    # a version that failed its trial here is not tried again; each run says so, the first one why
    (vardir / "agent" / "outcome.json").write_text(json.dumps(
        {"from": {"version": __version__}, "to": {"version": "2.0.0"}, "state": "failed",
         "reason": "it did not report within 30s", "reported": False}))
    report = Report(host="n1")
    assert upgrade.consider(vardir, offer, FileSource(build), report, noop=False) is None
    messages = [entry.message for entry in report.logs]
    assert any("upgrade of the agent from" in m and "failed: it did not report within 30s" in m for m in messages)
    assert report.agent_upgrade == {"from": __version__, "to": "2.0.0", "state": "failed",
                                    "reason": "it did not report within 30s"}
    again = Report(host="n1")
    upgrade.consider(vardir, offer, FileSource(build), again, noop=False)
    assert len(again.logs) == 1 and again.agent_upgrade is not None and again.agent_upgrade["state"] == "failed"


# -- the supervisor, with stand-in versions ------------------------------------------------------------------
STAND_IN = '''
import os, signal, sys, time
VERSION = {version!r}
BEHAVIOUR = {behaviour!r}
def main():
    home = os.environ["TEST_HOME"]
    with open(os.path.join(home, "starts.log"), "a") as fh:
        fh.write(f"{{VERSION}} {{os.getpid()}} {{' '.join(sys.argv[1:])}}\\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if BEHAVIOUR == "exit3":
        sys.exit(3)
    if BEHAVIOUR == "confirm" and os.environ.get("BUNRAKU_AGENT_TRIAL") == VERSION:
        with open(os.path.join(home, "trial.confirmed"), "w") as fh:
            fh.write(VERSION)
    if BEHAVIOUR == "upgrade" and not os.environ.get("BUNRAKU_AGENT_TRIAL"):
        sys.exit(75)
    while True:
        time.sleep(0.1)
'''


def stand_in(where: Path, version: str, behaviour: str) -> Path:
    (where / "cli").mkdir(parents=True)
    (where / "cli" / "__init__.py").write_text(textwrap.dedent(STAND_IN.format(version=version, behaviour=behaviour)))
    return where


class Supervised:
    def __init__(self, tmp: Path, *, base: str = "confirm") -> None:
        self.home = tmp / "agent"
        (self.home / "versions").mkdir(parents=True)
        self.base = stand_in(tmp / "installed", "1.0.0", base)
        config = {"home": str(self.home), "argv": ["agent", "--flag"], "python": sys.executable,
                  "launch": upgrade.LAUNCHER, "base": {"version": "1.0.0", "dir": str(self.base)}}
        self.config = json.dumps(config)
        self.process: subprocess.Popen[bytes] | None = None

    def version(self, version: str, behaviour: str) -> Path:
        return stand_in(self.home / "versions" / version, version, behaviour)

    def plan(self, version: str, deadline: float, **extra: Any) -> None:
        plan = {"from": {"version": "1.0.0", "dir": str(self.base), "base": True},
                "to": {"version": version, "dir": str(self.home / "versions" / version), "base": False},
                "deadline": deadline, **extra}
        (self.home / "trial.json").write_text(json.dumps(plan))

    def start(self) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BUNRAKU_AGENT_")}
        self.process = subprocess.Popen([sys.executable, "-c", upgrade.SUPERVISOR, self.config],
                                        env={**env, "TEST_HOME": str(self.home)}, stderr=subprocess.PIPE)
        return self.process

    def starts(self) -> list[str]:
        log = self.home / "starts.log"
        return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []

    def wait_starts(self, n: int, timeout: float = 20) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.starts()) < n:
            assert time.monotonic() < deadline, f"only {self.starts()} started"
            time.sleep(0.05)
        return self.starts()

    def outcome(self) -> dict[str, Any]:
        return dict(json.loads((self.home / "outcome.json").read_text()))

    def stop(self) -> tuple[int, str]:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _out, err = self.process.communicate(timeout=30)
        return self.process.returncode, err.decode()


def wait(predicate: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_version_that_reports_in_time_becomes_current_and_runs_after_a_restart(tmp_path: Path) -> None:
    sup = Supervised(tmp_path)
    sup.version("2.0.0", "confirm")
    sup.plan("2.0.0", deadline=20)
    sup.start()
    wait(lambda: (sup.home / "outcome.json").exists())
    assert sup.outcome()["state"] == "done"
    assert os.readlink(sup.home / "current") == "versions/2.0.0" and not (sup.home / "trial.json").exists()
    assert sup.starts() == ["2.0.0"]  # the version on trial goes on as the agent: no second start
    code, err = sup.stop()
    assert code == 0 and "agent 2.0.0 reported: it is the current version" in err
    sup.start()  # as after a reboot: the current version, not the installed one
    assert sup.wait_starts(2) == ["2.0.0", "2.0.0"]
    assert sup.stop()[0] == 0
    assert open(sup.home / "starts.log").read().split("\n")[0].endswith("agent --flag")  # its command line


@pytest.mark.parametrize(("behaviour", "reason"), [
    ("hang", "it did not report within 1.5s"),
    ("exit3", "it exited with status 3 before it reported"),
    ("broken", "it exited with status 1 before it reported: SyntaxError"),
])
def test_a_version_that_fails_its_trial_gives_way_to_the_old_one(tmp_path: Path, behaviour: str,
                                                                 reason: str) -> None:
    sup = Supervised(tmp_path)
    where = sup.version("2.0.0", behaviour)
    if behaviour == "broken":
        (where / "cli" / "__init__.py").write_text("def main(:\n")
    sup.plan("2.0.0", deadline=1.5)
    sup.start()
    starts = sup.wait_starts(2 if behaviour != "broken" else 1)
    wait(lambda: "1.0.0" in sup.starts())
    outcome = sup.outcome()
    assert outcome["state"] == "failed" and outcome["reason"].startswith(reason), outcome
    assert outcome["to"] == {"version": "2.0.0"} and outcome["from"] == {"version": "1.0.0"}
    assert not (sup.home / "current").exists() and not (sup.home / "trial.json").exists()
    assert sup.starts()[-1] == "1.0.0" and starts[0] in ("2.0.0", "1.0.0")
    code, err = sup.stop()
    assert code == 0 and "agent 2.0.0 failed its trial" in err and "back on 1.0.0" in err


def test_a_trial_cut_short_by_a_crash_counts_as_failed_at_the_next_start(tmp_path: Path) -> None:
    sup = Supervised(tmp_path)
    sup.version("2.0.0", "confirm")
    sup.plan("2.0.0", deadline=20, started_at=time.time() - 5)  # a supervisor killed mid-trial left this
    sup.start()
    assert sup.wait_starts(1) == ["1.0.0"]
    assert sup.outcome()["reason"] == "the agent stopped during its trial"
    assert sup.stop()[0] == 0


def test_an_agent_under_the_supervisor_hands_over_by_exiting_75(tmp_path: Path) -> None:
    sup = Supervised(tmp_path, base="upgrade")  # the installed version stages 2.0.0 and exits 75
    sup.version("2.0.0", "confirm")
    sup.start()
    wait(lambda: sup.starts() == ["1.0.0"])
    assert sup.process is not None
    wait(lambda: sup.process is not None and sup.process.poll() is not None)  # 75 without a plan: passed on
    assert sup.process.returncode == 75
    sup.plan("2.0.0", deadline=20)
    sup.start()
    wait(lambda: (sup.home / "outcome.json").exists())
    assert sup.starts() == ["1.0.0", "2.0.0"] and sup.outcome()["state"] == "done"
    assert sup.stop()[0] == 0


def test_prune_keeps_the_current_the_trial_and_the_newest(tmp_path: Path) -> None:
    vardir = tmp_path / "var"
    versions = vardir / "agent" / "versions"
    for i, name in enumerate(["1.1", "1.2", "1.3", "1.4", "1.5"]):
        (versions / name).mkdir(parents=True)
        os.utime(versions / name, (1000 + i, 1000 + i))
    os.symlink("versions/1.1", vardir / "agent" / "current")
    upgrade.prune(vardir, keep=3)
    assert sorted(p.name for p in versions.iterdir()) == ["1.1", "1.4", "1.5"]


def test_agent_status_says_which_version_runs_and_how_the_last_upgrade_ended(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli import main

    vardir = tmp_path / "var"
    args = ["agent", "--root", str(tmp_path), "--vardir", str(vardir), "--certname", "n1", "status"]
    shown = CliRunner().invoke(main, args)
    assert shown.exit_code == 0 and shown.output.splitlines()[-1] == f"version:   {__version__}"
    home = vardir / "agent"
    (home / "versions" / "2.0.0").mkdir(parents=True)
    (home / "base.json").write_text(json.dumps({"version": __version__, "dir": "/usr/lib/python3/dist-packages"}))
    os.symlink("versions/2.0.0", home / "current")
    (home / "trial.json").write_text(json.dumps({"to": {"version": "2.1.0"}, "from": {"version": "2.0.0"}}))
    (home / "outcome.json").write_text(json.dumps({"from": {"version": __version__}, "to": {"version": "2.0.0"},
                                                   "state": "done", "at": 1_700_000_000}))
    lines = CliRunner().invoke(main, args).output.splitlines()
    assert lines[-2] == (f"version:   2.0.0 (upgraded; the installed version is {__version__}); 2.1.0 waits for its "
                         "trial at the agent's next start")
    assert lines[-1].startswith(f"upgrade:   {__version__} -> 2.0.0 at 2023-11-1") and lines[-1].endswith(": done")
    data = json.loads(CliRunner().invoke(main, [*args, "--json"]).output)
    assert data["agent"]["version"] == "2.0.0" and data["agent"]["pending"] == "2.1.0"
