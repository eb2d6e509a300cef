"""Faults: the master killed (-9) while agents run, an agent killed (-9) in the middle of an apply,
damaged state on the agent's disk, PostgreSQL restarted under load. Nothing acknowledged is lost, no
agent hangs, and the next run converges."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.harness import make_site, start_master
from tests.reliability.fleet import (
    ROOT,
    FleetResult,
    MasterProcess,
    free_port,
    issue,
    light_agent,
    pg_store_or_skip,
    record_figures,
    run_fleet,
)

pytest.importorskip("master.store")


def _all_stored(store: object, records: list) -> tuple[set[str], set[str]]:
    produced = {r.transaction_uuid for r in records if r.transaction_uuid}
    stored: set[str] = set()
    for node in {r.node for r in records}:
        stored |= {r["transaction_uuid"] for r in store.reports(node, last=1000)}  # type: ignore[attr-defined]
    return produced, stored


# -- the master killed at random moments -------------------------------------------------------------
def _kill_master_while_agents_run(tmp_path: Path, agents: int, rounds: int, kills: int, seed: int) -> None:
    from master.store import Store

    rng = random.Random(seed)
    make_site(tmp_path / "envs")
    master = MasterProcess(tmp_path / "m", tmp_path / "envs")
    master.start()
    ca = master.ca()
    fleet = [light_agent([master.address], tmp_path, issue(ca, tmp_path / "ids", f"k{i:03d}.example.com"),
                         timeout=5.0) for i in range(agents)]
    restarts: list[float] = []
    stop = threading.Event()

    def chaos() -> None:
        for _ in range(kills):
            if stop.wait(rng.uniform(0.1, 0.5)):
                return
            master.kill()
            down = rng.uniform(0.2, 1.0)
            time.sleep(down)
            restarts.append(master.start())

    killer = threading.Thread(target=chaos, name="chaos")
    killer.start()
    try:
        result = FleetResult()
        done_rounds = 0
        give_up = time.monotonic() + 60
        while (done_rounds < rounds or killer.is_alive()) and time.monotonic() < give_up:  # kills land mid-run
            result.records += run_fleet(fleet, 1, threads=min(16, agents)).records
            done_rounds += 1
        stop.set()
        killer.join(timeout=120)
        if master.proc is None:
            master.start()
        final = run_fleet(fleet, 1, threads=min(16, agents))  # delivers whatever was spooled
    finally:
        stop.set()
        master.stop()
    records = result.records + final.records
    assert all(r.error is None or "Error" in r.error for r in records), [r.error for r in records][:3]
    assert all(r.exit_code != -1 for r in records), "a run raised"
    assert max(r.seconds for r in records) < 60, "an agent run hung"
    assert all(r.report_sent for r in final.records), "the final run could not deliver"
    assert all(not any((s.spool_dir).glob("*.json")) for s in fleet), "reports left in a spool"
    with Store.open(path=master.vardir / "store.sqlite") as store:
        produced, stored = _all_stored(store, records)
    assert produced <= stored, f"{len(produced - stored)} report(s) lost"
    used_cache = sum(r.cached == "on_failure" for r in records)
    spooled = sum(not r.report_sent for r in result.records)
    record_figures(f"kill_master_{agents}_agents_kills{kills}", {
        "rounds": done_rounds, "runs": len(records), "kills": len(restarts), "reports_produced": len(produced),
        "reports_lost": len(produced - stored), "runs_on_cached_catalog": used_cache,
        "reports_spooled_then_delivered": spooled,
        "master_restart_s_max": round(max(restarts), 2) if restarts else None,
        "slowest_run_s": round(max(r.seconds for r in records), 2)})


def test_master_killed_at_random_moments_while_agents_run(tmp_path: Path) -> None:
    _kill_master_while_agents_run(tmp_path, agents=20, rounds=3, kills=2, seed=6)


@pytest.mark.soak
def test_master_killed_often_while_many_agents_run(tmp_path: Path) -> None:
    _kill_master_while_agents_run(tmp_path, agents=200, rounds=8, kills=10, seed=66)


# -- an agent killed in the middle of an apply -------------------------------------------------------
FILES = 150
BODY = "0123456789abcdef" * 4096  # 64 KiB a file


def _big_site(base: Path) -> Path:
    env = base / "production"
    (env / "manifests").mkdir(parents=True)
    (env / "manifests" / "site.pp").write_text(
        f"$body = '{BODY}'\n"
        f"node default {{\n  file {{ '/srv': ensure => directory }}\n"
        f"  range(1, {FILES}).each |$i| {{ file {{ \"/srv/f${{i}}\": ensure => file, content => \"${{i}}:${{body}}\" }} }}\n"
        f"}}\n")
    (env / "modules").mkdir()
    return base


def _agent_cmd(master: MasterProcess, base: Path) -> list[str]:
    return [sys.executable, str(ROOT / "bunraku.py"), "agent", "--onetime", "--detailed-exitcodes",
            "--server", master.address, "--certname", "apply.example.com", "--root", str(base / "root"),
            "--vardir", str(base / "var"), "--ssldir", str(base / "ssl"), "--facts", str(base / "facts.json"),
            "--waitforcert", "0", "--no-pluginsync"]


def _check_no_torn_file(root: Path) -> int:
    """Every managed file is absent or whole; returns how many exist."""
    present = 0
    for i in range(1, FILES + 1):
        path = root / "srv" / f"f{i}"
        if path.exists():
            assert path.read_text() == f"{i}:{BODY}", f"{path} is half-written"
            present += 1
    return present


def _kill_agent_mid_apply(tmp_path: Path, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    master = MasterProcess(tmp_path / "m", _big_site(tmp_path / "envs"))
    master.start()
    base = tmp_path / "agent"
    (base / "root").mkdir(parents=True)
    (base / "facts.json").write_text(json.dumps({"role": "web"}))
    from master.rpc import pki

    paths = issue(master.ca(), tmp_path / "ids", "apply.example.com")
    shutil.copytree(paths.ssldir, base / "ssl")
    assert pki.SSLPaths(base / "ssl", "apply.example.com").has_identity()
    seen: list[int] = []
    try:
        for _ in range(kills):
            proc = subprocess.Popen(_agent_cmd(master, base), cwd=ROOT, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            # wait until the apply has begun (the directory exists), then kill at a random point in it
            deadline = time.monotonic() + 30
            while not (base / "root/srv").exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            seen.append(_check_no_torn_file(base / "root"))
            shutil.rmtree(base / "root/srv", ignore_errors=True) if rng.random() < 0.3 else None
        done = subprocess.run(_agent_cmd(master, base), cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode in (0, 2), done.stdout + done.stderr
        assert _check_no_torn_file(base / "root") == FILES
        again = subprocess.run(_agent_cmd(master, base), cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr  # converged
    finally:
        master.stop()
    leftovers = [p.name for p in (base / "root/srv").iterdir() if p.name.startswith(".")]
    record_figures(f"kill_agent_mid_apply_{kills}", {"kills": kills, "files_present_at_kill": seen,
                                                     "torn_files": 0, "temp_files_left": len(leftovers)})


def test_agent_killed_mid_apply_leaves_no_torn_file_and_the_next_run_converges(tmp_path: Path) -> None:
    _kill_agent_mid_apply(tmp_path, kills=3, seed=1)


@pytest.mark.soak
def test_agent_killed_mid_apply_many_times(tmp_path: Path) -> None:
    _kill_agent_mid_apply(tmp_path, kills=25, seed=2)


# -- damaged files on the agent's disk --------------------------------------------------------------
@pytest.fixture
def master(tmp_path: Path):  # noqa: ANN201 - a MasterServer
    make_site(tmp_path / "envs")
    server = start_master(tmp_path, tmp_path / "envs")
    yield server
    server.stop()


def _agent(master, tmp_path: Path, name: str):  # noqa: ANN001, ANN202
    paths = issue(master.ctx.ca, tmp_path / "ids", name)
    return light_agent([master.address], tmp_path, paths, timeout=3.0)


def test_a_corrupt_catalog_cache_is_set_aside_and_replaced(master, tmp_path: Path) -> None:
    from agent.run import run_once

    s = _agent(master, tmp_path, "cache.example.com")
    assert run_once(s).exit_code == 2
    s.catalog_cache.write_bytes(b'{"name": "cache.example.com", "resources": [{"type": 5')  # torn
    live = s.servers
    s.servers = [f"127.0.0.1:{free_port()}"]  # no master: the cache is all there is
    down = run_once(s)
    assert down.exit_code == 1 and any("set aside" in t for _, t in down.lines)
    assert not s.catalog_cache.exists()
    assert len(list(s.catalog_cache.parent.glob("*.corrupt"))) == 1
    s.servers = live
    up = run_once(s)
    assert up.exit_code == 0 and up.report_sent and s.catalog_cache.exists()
    stored = {r["transaction_uuid"] for r in master.store.reports("cache.example.com", last=10)}
    assert down.report.transaction_uuid in stored  # the failed run's report was spooled, then delivered


def test_a_malformed_catalog_from_the_master_is_refused_and_the_cached_one_used(
        master, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.run import run_once
    from master.proto import bunraku_pb2 as pb
    from master.rpc.client import MasterClient

    s = _agent(master, tmp_path, "malformed.example.com")
    assert run_once(s).exit_code == 2
    good = s.catalog_cache.read_bytes()
    real_call = MasterClient.call
    bad_catalogs = [b"\xff\xfe not json", b"[]", b'{"name": "other.example.com", "resources": []}',
                    b'{"name": "malformed.example.com", "resources": [{"type": "File"}]}',
                    b'{"name": "malformed.example.com", "tags": 5, "resources": {}}', b"[" * 100000]
    for bad in bad_catalogs:
        def fake(self, method, request, bad=bad, **kw):  # noqa: ANN001, ANN202
            if method == "GetCatalog":
                return pb.CatalogReply(catalog_json=bad, environment="production")
            return real_call(self, method, request, **kw)

        monkeypatch.setattr(MasterClient, "call", fake)
        result = run_once(s)
        assert result.cached_catalog_status == "on_failure", (bad[:40], result.lines)
        assert result.exit_code == 0 and result.report_sent
        assert s.catalog_cache.read_bytes() == good  # the bad one was never cached


def test_a_corrupt_spool_entry_is_set_aside_and_the_others_delivered(master, tmp_path: Path) -> None:
    from agent.run import run_once
    from agent.spool import ReportSpool

    s = _agent(master, tmp_path, "spool.example.com")
    spool = ReportSpool(s.spool_dir)
    good = {"host": "spool.example.com", "transaction_uuid": str(uuid.uuid4()), "status": "unchanged",
            "time": "2024-01-01T00:00:00Z", "environment": "production", "noop": False,
            "resource_statuses": {}, "metrics": {}, "logs": []}
    spool.add(b'{"host": "spool.example.com", "transac', "torn")  # half-written
    spool.add(json.dumps(dict(good, host="someone.else")).encode(), "foreign")  # the master refuses it
    spool.add(json.dumps(good).encode(), good["transaction_uuid"])
    result = run_once(s)
    assert result.exit_code == 2 and result.report_sent
    names = sorted(p.name.rsplit(".", 1)[-1] for p in s.spool_dir.iterdir())
    assert names == ["corrupt", "refused"]
    stored = {r["transaction_uuid"] for r in master.store.reports("spool.example.com", last=10)}
    assert good["transaction_uuid"] in stored


def test_damaged_state_files_do_not_stop_runs(master, tmp_path: Path) -> None:
    from agent.run import run_once

    s = _agent(master, tmp_path, "state.example.com")
    assert run_once(s).exit_code == 2
    s.lock_file.write_bytes(b"\x00\xff garbage")  # a lock torn by a crash
    cached = next(s.file_cache.rglob("*"), None)
    for path in s.file_cache.rglob("*"):
        if path.is_file():
            path.write_bytes(b"bit rot")  # a damaged file-content cache entry
    (s.root / "etc/demo.conf").unlink()
    result = run_once(s)
    assert result.exit_code == 2, result.lines
    assert (s.root / "etc/demo.conf").read_text() == "setting = 1\n" * 1000  # fetched again, not the rot
    assert cached is not None and list(s.file_cache.rglob("*.corrupt"))


# -- PostgreSQL restarted under load ----------------------------------------------------------------
def _pg_cluster() -> tuple[str, str] | None:
    if os.geteuid() != 0 or not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        return None
    versions = sorted(os.listdir("/etc/postgresql"))
    return (versions[-1], "main") if versions else None


def _pg_ctl(action: str, cluster: tuple[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action],
                          capture_output=True, text=True, timeout=60)


def _pg_online(cluster: tuple[str, str]) -> bool:
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, timeout=30).stdout
    return any(line.split()[:2] == list(cluster) and "online" in line for line in out.splitlines())


def test_postgresql_restarted_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    cluster = _pg_cluster()
    if cluster is None:
        pytest.skip("cannot control the PostgreSQL cluster here (needs root and pg_ctlcluster)")
    store = pg_store_or_skip()
    make_site(tmp_path / "envs")
    server = start_master(tmp_path, tmp_path / "envs", store=store)
    restart_seconds: list[float] = []
    try:
        fleet = [_agent(server, tmp_path, f"pg{i:02d}-{uuid.uuid4().hex[:6]}.example.com") for i in range(12)]
        for s in fleet:
            s.timeout = 5.0

        restarter: list[threading.Thread] = []

        def do_restart() -> None:
            time.sleep(0.2)
            t0 = time.monotonic()
            done = _pg_ctl("restart", cluster)
            restart_seconds.append(time.monotonic() - t0 if done.returncode == 0 else -1.0)

        def restart(round_done: int) -> None:
            if round_done == 0:  # restart while rounds 2 and 3 run
                restarter.append(threading.Thread(target=do_restart, name="pg-restart"))
                restarter[0].start()

        result = run_fleet(fleet, 4, threads=6, between=restart)
        for t in restarter:
            t.join(timeout=60)
        final = run_fleet(fleet, 1, threads=6)  # delivers whatever was spooled
    finally:
        server.stop()
        if not _pg_online(cluster):
            _pg_ctl("start", cluster)
    assert _pg_online(cluster), "PostgreSQL is not running again"
    assert restart_seconds and restart_seconds[0] > 0, "the restart failed"
    records = result.records + final.records
    acknowledged = {r.transaction_uuid for r in records if r.report_sent}
    produced, stored = _all_stored(store, records)
    store.close()
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged report(s) lost"
    assert produced <= stored, f"{len(produced - stored)} report(s) never arrived"
    assert all(r.exit_code != -1 for r in records)
    record_figures("postgresql_restart_under_load", {
        "runs": len(records), "acknowledged": len(acknowledged), "lost": 0,
        "spooled_then_delivered": sum(not r.report_sent for r in result.records),
        "pg_restart_s": round(restart_seconds[0], 2) if restart_seconds else None})
