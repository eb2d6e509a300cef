"""Tasks end to end: a real master on loopback, ten agents running the real daemon loop with the live
channel, tasks run on them as a non-root account within max-concurrent (checked from the stored
timeline), idempotency keys, refused accounts (by the master's policy and by the agent's own),
a module's typed task, timeouts and cancellation, and the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    LiveFleet,
    client_for,
    issue_identity,
    issue_identity_from_ca,
    live_agent,
    make_site,
    start_master,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
WEB = [f"web{i:02d}.example.com" for i in range(10)]
#: the master lets tasks run as nobody and bin in group web; the agents themselves only as nobody
GROUPS = "groups:\n  web:\n    nodes: ['web*']\n    task_accounts: [nobody, bin]\n"
LIVE = {"live_heartbeat_seconds": 0.5, "live_timeout": 3, "task_poll_seconds": 0.5}
GREET = """#!/bin/sh
read -r input
echo "hello $PT_name x$PT_count"
echo "stdin: $input"
"""
GREET_META = '{"description": "greets", "parameters": {"name": {"type": "String[1]"}, ' \
             '"count": {"type": "Optional[Integer[1]]"}}}'

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="running tasks as another account needs root")


def overlap_peak(runs: list[dict[str, Any]]) -> int:
    """The most runs holding a slot at once, from their stored started/ended times (an end at the same
    instant as a start frees its slot first)."""
    events = []
    for run in runs:
        events.append((run["started_at"], 1))
        events.append((run["ended_at"], -1))
    level = peak = 0
    for _at, step in sorted(events, key=lambda e: (e[0], e[1])):
        level += step
        peak = max(peak, level)
    return peak


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("tasks")
    envs = tmp / "envs"
    env = make_site(envs)
    tasks_dir = env / "modules" / "demo" / "tasks"
    tasks_dir.mkdir()
    (tasks_dir / "greet.sh").write_text(GREET)
    (tasks_dir / "greet.json").write_text(GREET_META)
    groups = tmp / "groups.yaml"
    groups.write_text(GROUPS)
    master = start_master(tmp, envs, groups=groups, workers=2, **LIVE)
    agents = LiveFleet()
    for name in WEB:
        paths = issue_identity(master, tmp, name)
        agents.add(live_agent(master.address, master.ca_address, tmp, name, paths.ssldir,
                              task_accounts=("nobody",)))
    admin_paths = issue_identity(master, tmp, "ops", operator=True)
    operator_paths = issue_identity_from_ca(Path(master.config.ssldir), tmp, "alice", role="role=operator")
    admin, operator = client_for(master, admin_paths), client_for(master, operator_paths)
    store = master.ctx.store
    wait_for(lambda: len([n for n in store.node_statuses() if n.group == "web" and n.last_run]) == 10, 40,
             "every agent's first run")
    wait_for(lambda: len(master.ctx.live.connected_nodes()) == 10, 10, "every live channel")
    shared = Path(tempfile.mkdtemp(prefix="bunraku-tasks-"))  # where tasks run as nobody may write
    shared.chmod(0o777)
    yield {"tmp": tmp, "master": master, "admin": admin, "operator": operator, "operator_paths": operator_paths,
           "shared": shared, "agents": agents}
    shutil.rmtree(shared, ignore_errors=True)
    agents.close()
    admin.close()
    operator.close()
    master.stop()


def _done(client: Any, task_id: int, timeout: float = 30) -> dict[str, Any]:
    from master.tasks import ops

    def over() -> dict[str, Any] | None:
        info = ops.task_status(client, task_id)
        return info if ops.finished(info) else None

    return dict(wait_for(over, timeout, f"task {task_id} to finish"))


def bunraku(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bunraku.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def test_a_task_runs_as_a_non_root_account_on_ten_agents_never_more_than_three_at_once(
        fleet: dict[str, Any]) -> None:
    from master.tasks import ops

    operator = fleet["operator"]
    info, created = ops.run_task(operator, group="web", account="nobody", max_concurrent=3,
                                 command=["id -un; sleep 0.6"])
    assert created and info["operator"] == "alice" and info["operator_role"] == "operator"
    info = _done(operator, info["id"])
    runs = info["runs"]
    assert [r["node"] for r in runs] == WEB
    assert all(r["state"] == "succeeded" and r["exit_code"] == 0 for r in runs), ops.task_lines(info)
    assert all(r["stdout"] == "nobody\n" for r in runs)
    assert all(r["duration"] >= 0.6 for r in runs)
    assert overlap_peak(runs) == 3  # the limit, reached and never exceeded
    # the CLI shows the same task: one line per node, and the outputs
    master = fleet["master"]
    paths = fleet["operator_paths"]
    shown = bunraku("task", "show", str(info["id"]), "--server", master.address, "--ssldir", str(paths.ssldir),
                    "--certname", "alice")
    assert shown.returncode == 0, shown.stderr
    assert f"task {info['id']}  id -un; sleep 0.6" in shown.stdout
    assert "nodes: 10 succeeded" in shown.stdout
    assert "web07.example.com  succeeded  0" in shown.stdout
    listed = bunraku("task", "list", "--server", master.address, "--ssldir", str(paths.ssldir), "--certname", "alice")
    assert listed.returncode == 0 and "alice" in listed.stdout and "nobody" in listed.stdout


def test_a_task_sent_again_with_its_idempotency_key_runs_once_per_node(fleet: dict[str, Any]) -> None:
    from master.tasks import ops

    operator, log = fleet["operator"], fleet["shared"] / "ran.log"
    command = [f"echo ran >> {log}"]
    first, created = ops.run_task(operator, group="web", account="nobody", max_concurrent=5, command=command,
                                  idempotency_key="release-42")
    assert created
    _done(operator, first["id"])
    assert log.read_text().count("ran") == 10
    master, paths = fleet["master"], fleet["operator_paths"]
    again = bunraku("task", "run", "--group", "web", "--as", "nobody", "--max-concurrent", "5",
                    "--idempotency-key", "release-42", "--server", master.address, "--ssldir", str(paths.ssldir),
                    "--certname", "alice", "--", command[0])
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"task {first['id']} already sent with this idempotency key: 10 succeeded")
    time.sleep(2 * LIVE["task_poll_seconds"] + 1)
    assert log.read_text().count("ran") == 10  # nobody ran it twice
    assert len([t for t in ops.list_tasks(operator) if t.get("idempotency_key") == "release-42"]) == 1


def test_accounts_the_policy_does_not_allow_are_refused(fleet: dict[str, Any]) -> None:
    from master.tasks import ops
    from wire.client import ClientError

    operator, admin = fleet["operator"], fleet["admin"]
    # not in the group's task_accounts: refused by the master, stored with the reason, never sent
    info, _ = ops.run_task(operator, group="web", account="daemon", command=["id"])
    info = _done(operator, info["id"], 5)
    assert {r["state"] for r in info["runs"]} == {"refused"}
    assert info["runs"][0]["reason"] == (
        "account daemon may not run tasks on web00.example.com (group web; task_accounts: nobody, bin); "
        "add it to the group's task_accounts in the groups file")
    assert all(r["started_at"] is None for r in info["runs"])
    # allowed by the master, not by the agents' own --task-accounts: refused by each agent
    info, _ = ops.run_task(operator, nodes=WEB[:2], account="bin", command=["id"])
    info = _done(operator, info["id"])
    assert [r["state"] for r in info["runs"]] == ["refused", "refused"]
    assert info["runs"][0]["reason"].startswith("this agent does not run tasks as bin (its --task-accounts: nobody)")
    # root takes the admin role
    with pytest.raises(ClientError, match="alice is a operator; it takes the admin role to run tasks as root"):
        ops.run_task(operator, group="web", command=["id"])
    # ... and the agents' consent too
    info, _ = ops.run_task(admin, nodes=WEB[:1], command=["id"])
    info = _done(admin, info["id"])
    assert info["runs"][0]["state"] == "refused" and "does not run tasks as root" in info["runs"][0]["reason"]
    # every request is on record with its operator
    mine = {t["id"]: (t["operator"], t["account"]) for t in ops.list_tasks(admin)}
    assert ("alice", "daemon") in mine.values() and ("ops", "root") in mine.values()


def test_a_modules_task_gets_its_typed_parameters_and_bad_ones_are_refused(fleet: dict[str, Any]) -> None:
    from master.tasks import ops
    from wire.client import ClientError

    operator = fleet["operator"]
    info, _ = ops.run_task(operator, nodes=WEB[:2], account="nobody", task="demo::greet",
                           params={"name": "World", "count": "2"})
    assert info["params"] == {"name": "World", "count": 2}
    info = _done(operator, info["id"])
    assert [r["state"] for r in info["runs"]] == ["succeeded", "succeeded"], ops.task_lines(info)
    assert info["runs"][0]["stdout"] == 'hello World x2\nstdin: {"name": "World", "count": 2}\n'
    with pytest.raises(ClientError, match="task demo::greet: parameter 'count' expects a value of type Undef or Integer, got String"):
        ops.run_task(operator, nodes=WEB[:1], account="nobody", task="demo::greet",
                     params={"name": "x", "count": "many"})
    with pytest.raises(ClientError, match="parameter 'name' .* is required; give it with --param name=VALUE"):
        ops.run_task(operator, nodes=WEB[:1], account="nobody", task="demo::greet")


def test_timeouts_and_cancel_kill_the_process_group(fleet: dict[str, Any]) -> None:
    from master.tasks import ops

    operator, marker = fleet["operator"], fleet["shared"] / "survived"
    info, _ = ops.run_task(operator, nodes=WEB[:1], account="nobody", timeout=1,
                           command=[f"(sleep 3; touch {marker}) & sleep 30"])
    info = _done(operator, info["id"])
    run = info["runs"][0]
    assert run["state"] == "failed" and run["reason"] == "timed out after 1s; its process group was killed"
    assert run["duration"] < 10
    info, _ = ops.run_task(operator, nodes=WEB[1:3], account="nobody", command=["echo started; sleep 30"])
    wait_for(lambda: all(r["stdout"] or r["state"] == "running"
                         for r in ops.task_status(operator, info["id"])["runs"]), 10, "the task to start")
    started = time.monotonic()
    ops.cancel_task(operator, info["id"])
    info = _done(operator, info["id"], 15)
    assert time.monotonic() - started < 10
    assert [r["state"] for r in info["runs"]] == ["cancelled", "cancelled"], ops.task_lines(info)
    assert info["cancelled_by"] == "alice"
    time.sleep(3)
    assert not marker.exists()  # the background child went with its group


def test_the_cli_says_what_is_wrong_in_one_line(fleet: dict[str, Any]) -> None:
    master, paths = fleet["master"], fleet["operator_paths"]
    who = ("--server", master.address, "--ssldir", str(paths.ssldir), "--certname", "alice")
    words = bunraku("task", "run", "--group", "web", "--as", "nobody", *who, "echo", "hi")
    assert words.returncode == 1
    assert words.stderr == "error: 'echo hi': a command goes after --: bunraku task run --group G -- echo hi\n"
    param = bunraku("task", "run", "demo::greet", "--group", "web", "--as", "nobody", "--param", "name", *who)
    assert param.returncode == 1
    assert param.stderr == "error: --param 'name': expected NAME=VALUE (e.g. --param count=3)\n"
    root = bunraku("task", "run", "--group", "web", *who, "--", "id")
    assert root.returncode == 1 and len(root.stderr.splitlines()) == 1
    assert root.stderr.endswith("alice is a operator; it takes the admin role to run tasks as root\n")
    nowhere = bunraku("task", "run", "--as", "nobody", *who, "--", "id")
    assert nowhere.returncode == 1 and nowhere.stderr.endswith("a task needs --group GROUP or --nodes NODE,...\n")
    waited = bunraku("task", "run", "demo::greet", "--nodes", WEB[0], "--as", "nobody", "--param", "name=cli",
                     "--wait", *who)
    assert waited.returncode == 0, waited.stderr
    assert "nodes: 1 succeeded" in waited.stdout and "  hello cli x" in waited.stdout


def test_an_offline_node_gets_its_run_when_it_connects_unless_the_task_expired(fleet: dict[str, Any]) -> None:
    from master.tasks import ops

    operator, master, tmp = fleet["operator"], fleet["master"], fleet["tmp"]
    late, gone = "web10.example.com", "web11.example.com"
    waiting, _ = ops.run_task(operator, nodes=[late], account="nobody", command=["echo back"])
    expiring, _ = ops.run_task(operator, nodes=[gone], account="nobody", command=["echo never"], expires_in=1)
    time.sleep(1)
    assert ops.task_status(operator, waiting["id"])["runs"][0]["state"] == "queued"
    paths = issue_identity(master, tmp, late)
    fleet["agents"].add(live_agent(master.address, master.ca_address, tmp, late, paths.ssldir,
                                   task_accounts=("nobody",)))
    info = _done(operator, waiting["id"], 40)
    assert info["runs"][0]["state"] == "succeeded" and info["runs"][0]["stdout"] == "back\n"
    info = _done(operator, expiring["id"], 15)
    assert info["runs"][0]["state"] == "expired"
    assert info["runs"][0]["reason"] == "the node did not connect before the task expired"
