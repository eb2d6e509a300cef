"""Faults: the master killed (-9) while agents run and in the middle of a report submission, an agent
killed (-9) in the middle of writing a managed file, damaged state on the agent's disk, PostgreSQL
restarted while a store call is in flight. Each test checks that its fault landed where it matters.
Nothing acknowledged is lost, no report is stored twice, no agent hangs, and the next run converges."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
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
    record_figures,
    run_fleet,
    traced_calls,
)
from tests.reliability.proxy import CuttingProxy


def _all_stored(store: object, records: list) -> tuple[set[str], set[str], Counter[str]]:
    """(reports the runs produced, reports stored for their nodes, how many times each is stored)."""
    produced = {r.transaction_uuid for r in records if r.transaction_uuid}
    copies: Counter[str] = Counter()
    for node in {r.node for r in records}:
        copies.update(r["transaction_uuid"] for r in store.reports(node, last=10000))  # type: ignore[attr-defined]
    return produced, set(copies), copies


# -- the master killed at random moments -------------------------------------------------------------
# What a run may report while its only master is down, and nothing else: that no master answered, with
# gRPC's words for a master that is gone (refused, reset, closed mid-call), and what follows from that
# (the puppet:/// source of a cached catalog cannot be read; the summary of a run with a failed resource).
_GONE = re.compile(r"failed to connect to all addresses|Connection refused|Socket closed|Connection reset by peer"
                   r"|Broken pipe|Stream removed|GOAWAY received|Deadline Exceeded")
_MASTER_DOWN = {
    "catalog, no master": re.compile(r"Error: could not retrieve catalog: no master answered"),
    "catalog": re.compile(r"Error: could not retrieve catalog from the master: no master answered \((?P<why>.+)\)"),
    "file source": re.compile(
        r"Error: /Stage\[main\]/Demo/File\[/etc/demo\.conf\]: Could not evaluate: could not "
        r"(?:get metadata of|fetch) puppet:///modules/demo/demo\.conf: (?P<why>.+) \(file: \S+, line: 6\)"),
    "summary": re.compile(r"Notice: Applied catalog for \S+ in [0-9.]+ seconds: \d+ changes?, [1-9]\d* failed"),
}


def _master_down_kind(line: str) -> str | None:
    """Which master-unavailable kind ``line`` is (what failed, and gRPC's words), or None."""
    for kind, pattern in _MASTER_DOWN.items():
        found = pattern.fullmatch(line)
        if found is None:
            continue
        why = found.groupdict().get("why")
        if why is None:
            return kind
        gone = _GONE.search(why)
        return f"{kind}: {gone.group(0)}" if gone else None
    return None


def _kill_master_while_agents_run(tmp_path: Path, agents: int, rounds: int, kills: int, seed: int) -> None:
    """Agents run in paced rounds against one master; each kill -9 comes after a whole round with the
    master up, at a random moment of the next round, once calls have just started on the master. Each
    kill cut calls in flight; runs fail only for the master being down (named kinds); every run that
    no kill touched is clean; every report arrives, once."""
    from master.store import Store

    rng = random.Random(seed)
    make_site(tmp_path / "envs")
    master = MasterProcess(tmp_path / "m", tmp_path / "envs")
    master.start()
    ca = master.ca()
    fleet = [light_agent([master.address], tmp_path, issue(ca, tmp_path / "ids", f"k{i:03d}.example.com"),
                         timeout=5.0) for i in range(agents)]
    restarts: list[float] = []
    down: list[tuple[float, float]] = []  # (killed, listening again)
    stop = threading.Event()
    result = FleetResult()
    rounds_done = [0]

    with traced_calls() as trace:
        def wait_for(condition: Callable[[], bool], limit: float) -> bool:
            give_up = time.monotonic() + limit
            while not condition():
                if stop.is_set() or time.monotonic() > give_up:
                    return False
                time.sleep(0.0005)
            return True

        def chaos() -> None:
            # until `kills` kills have cut calls in flight (a kill can still come a moment after the
            # calls it aimed at were answered: that one does not count, and there is a bounded retry)
            while sum(bool(trace.cut_at(k, master.address)) for k, _ in down) < kills and len(down) < 2 * kills:
                # one whole round with the master up, then a kill at a random moment of the next one,
                # once calls have just started on the master
                target = rounds_done[0] + 2
                if not wait_for(lambda target=target: rounds_done[0] >= target, 60) or stop.wait(rng.uniform(0.0, 0.3)):
                    return
                wait_for(lambda: len(trace.in_flight(master.address, started_within=0.002)) >= 2, 10)
                killed = time.monotonic()
                master.kill()
                time.sleep(rng.uniform(0.2, 1.0))
                restarts.append(master.start())
                down.append((killed, time.monotonic()))

        killer = threading.Thread(target=chaos, name="chaos")
        killer.start()
        try:
            give_up = time.monotonic() + 60 + 30 * kills
            while (rounds_done[0] < rounds or killer.is_alive()) and time.monotonic() < give_up:
                # paced: with no master up, runs fail at once and would otherwise spin
                run_fleet(fleet, 1, threads=min(16, agents), result=result, round_seconds=0.4)
                rounds_done[0] += 1
            stop.set()
            killer.join(timeout=120)
            if master.proc is None:
                master.start()
            final = run_fleet(fleet, 1, threads=min(16, agents))  # delivers whatever was spooled
        finally:
            stop.set()
            master.stop()
    records = result.records + final.records
    cut = [trace.cut_at(killed, master.address) for killed, _ in down]
    undisturbed = [r for r in result.records if not any(r.started < up and r.ended > killed for killed, up in down)]
    kinds = Counter(_master_down_kind(line) for r in records for line in r.problems)
    with Store.open(path=master.vardir / "store.sqlite") as store:
        produced, stored, copies = _all_stored(store, records)
    used_cache = sum(r.cached == "on_failure" for r in records)
    spooled = sum(not r.report_sent for r in result.records)
    record_figures(f"kill_master_{agents}_agents_kills{kills}", {
        "rounds": rounds_done[0], "runs": len(records), "kills": len(down),
        "kills_mid_call": sum(bool(c) for c in cut), "calls_cut_by_each_kill": [len(c) for c in cut],
        "calls_cut_by_method": dict(Counter(a.method for c in cut for a in c)),
        "clean_runs": sum(r.clean for r in records), "undisturbed_runs": len(undisturbed),
        "undisturbed_runs_clean": sum(r.clean for r in undisturbed),
        "problem_kinds": {str(k): n for k, n in kinds.items()},
        "reports_produced": len(produced), "reports_lost": len(produced - stored),
        "reports_stored_twice": sum(n > 1 for n in copies.values()), "runs_on_cached_catalog": used_cache,
        "reports_spooled_then_delivered": spooled,
        "master_restart_s_max": round(max(restarts), 2) if restarts else None,
        "slowest_run_s": round(max(r.seconds for r in records), 2)})
    assert sum(bool(c) for c in cut) == kills, f"not {kills} kills landed mid-call: {[len(c) for c in cut]}"
    assert all(r.exit_code != -1 for r in records), "a run raised: " + str([r.error for r in records if r.exit_code == -1][:3])
    assert None not in kinds, "runs failed for other reasons than the master being down: " + str(
        [line for r in records for line in r.problems if _master_down_kind(line) is None][:3])
    # a run that no kill touched is a clean one: the master is really back after each restart
    assert all(r.clean for r in undisturbed), [(r.node, r.exit_code, r.cached, r.problems[:2])
                                               for r in undisturbed if not r.clean][:3]
    assert len(undisturbed) >= kills * agents, f"only {len(undisturbed)} runs ran with the master up"
    assert max(r.seconds for r in records) < 60, "an agent run hung"
    assert all(r.clean for r in final.records), "the final run could not deliver"
    assert all(not any((s.spool_dir).glob("*.json")) for s in fleet), "reports left in a spool"
    assert produced <= stored, f"{len(produced - stored)} report(s) lost"
    assert all(n == 1 for n in copies.values()), "a report was stored twice"


def test_master_killed_at_random_moments_while_agents_run(tmp_path: Path) -> None:
    _kill_master_while_agents_run(tmp_path, agents=20, rounds=3, kills=2, seed=6)


@pytest.mark.soak
def test_master_killed_often_while_many_agents_run(tmp_path: Path) -> None:
    _kill_master_while_agents_run(tmp_path, agents=200, rounds=8, kills=10, seed=66)


# -- a master that hung (SIGSTOP) and came back (SIGCONT) ------------------------------------------
def test_a_master_that_hung_and_came_back_stops_on_sigterm(tmp_path: Path) -> None:
    """A master stopped (SIGSTOP) and continued (SIGCONT) is then asked to stop (SIGTERM, as systemd
    does after a hang): it must exit, not wait for a kill -9. Three times, as the signal may land on any
    of its threads."""
    make_site(tmp_path / "envs")
    master = MasterProcess(tmp_path / "m", tmp_path / "envs")
    master.start()
    exited_after: list[float | None] = []
    try:
        for _ in range(3):
            master.pause()
            time.sleep(0.2)
            master.resume()
            assert master.proc is not None
            asked = time.monotonic()
            master.proc.send_signal(signal.SIGTERM)
            try:
                master.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                exited_after.append(None)
                break
            exited_after.append(round(time.monotonic() - asked, 2))
            master.start()
    finally:
        master.kill()
    record_figures("master_sigterm_after_sigstop_sigcont", {"exited_after_s": exited_after})
    assert None not in exited_after, f"the master ignored SIGTERM after SIGCONT (exits: {exited_after})"


# -- the master killed in the middle of a report submission ------------------------------------------
INVENTORY = "0123456789abcdef" * 8192  # 128 KiB: the report carries it several times (message, events)


def _spooled(spool_dir: Path) -> list[str]:
    """The transaction_uuid of each report waiting in a spool directory."""
    found = []
    for path in sorted(spool_dir.glob("*.json")) if spool_dir.is_dir() else []:
        if not path.name.startswith("."):
            found.append(json.loads(path.read_bytes())["transaction_uuid"])
    return found


def test_master_killed_mid_report_submission_the_report_is_spooled_and_stored_once(tmp_path: Path) -> None:
    """A forwarder between the agent and the master passes on only part of the report (the only call
    that large), kills -9 the master while the rest is held back, and cuts the connection. The report
    is not in the store, the agent keeps it in its spool, and the run after the restart delivers it:
    stored once. Cut early and late in the report."""
    from agent.run import run_once
    from master.store import Store

    env = make_site(tmp_path / "envs")
    (env / "manifests/site.pp").write_text(
        f"node default {{\n  include demo\n  notify {{ 'inventory': message => '{INVENTORY}' }}\n}}\n")
    master = MasterProcess(tmp_path / "m", tmp_path / "envs")
    master.start()
    proxy = CuttingProxy(master.address)
    s = light_agent([proxy.address], tmp_path, issue(master.ca(), tmp_path / "ids", "cut.example.com"),
                    timeout=10.0)
    figures: dict[str, object] = {}
    try:
        with traced_calls() as trace:
            # what travels before the report on a run's connection: the cut point must lie beyond it
            control = run_once(s)
            assert control.report_sent and control.exit_code == 2, control.lines
            report_bytes = len(control.report.to_json().encode())
            before_report = sum(c.upstream for c in proxy.connections) - report_bytes
            figures.update(report_bytes=report_bytes, bytes_before_the_report=before_report)
            for share in (0.25, 0.9):
                cut_at = before_report + int(share * report_bytes)
                # inside the report, with room either way for the few bytes that differ from run to run
                assert before_report + 16384 < cut_at < before_report + report_bytes - 16384
                assert _spooled(s.spool_dir) == [], "a spooled report would be sent first"
                proxy.arm(cut_at, master.kill)
                cut_run = run_once(s)
                assert len(proxy.cuts) == 1, "the connection was never cut"
                cut = proxy.cuts.pop()
                submit = [a for a in trace.snapshot() if a.method == "SubmitReport" and a.spans(cut.at)]
                # the kill landed while SubmitReport was in flight, and cut it
                assert len(submit) == 1 and submit[0].code == "UNAVAILABLE", submit
                assert master.proc is None
                assert not cut_run.report_sent
                uuid_cut = cut_run.report.transaction_uuid
                assert _spooled(s.spool_dir) == [uuid_cut], "the agent did not keep the report"
                with Store.open(path=master.vardir / "store.sqlite") as store:
                    assert uuid_cut not in {r["transaction_uuid"] for r in store.reports(s.certname, last=100)}
                master.start()
                after = run_once(s)  # delivers the spooled report, then its own
                assert after.report_sent and after.exit_code == 2, after.lines
                assert _spooled(s.spool_dir) == [], "the spooled report was not delivered"
                with Store.open(path=master.vardir / "store.sqlite") as store:
                    copies = Counter(r["transaction_uuid"] for r in store.reports(s.certname, last=100))
                assert copies[uuid_cut] == 1 and copies[after.report.transaction_uuid] == 1, copies
                figures[f"cut_at_{int(share * 100)}pct"] = {
                    "report_bytes_the_master_got": cut.upstream_forwarded - before_report,
                    "read_but_not_forwarded": cut.upstream_held, "submit_error": submit[0].details,
                    "stored_copies": copies[uuid_cut]}
    finally:
        proxy.close()
        master.stop()
    record_figures("kill_master_mid_report_submission", figures)


# -- an agent killed in the middle of an apply -------------------------------------------------------
FILES = 150
BODY = "0123456789abcdef" * 1024  # 16 KiB a file


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


def _torn_files(root: Path) -> tuple[int, list[str]]:
    """(how many managed files exist, those that exist but are not whole)."""
    present, torn = 0, []
    for i in range(1, FILES + 1):
        path = root / "srv" / f"f{i}"
        if path.exists():
            present += 1
            if path.read_text() != f"{i}:{BODY}":
                torn.append(path.name)
    return present, torn


# a temporary file of a managed file: a leading dot, then somewhere the file's name as a whole word
_TEMP_OF_MANAGED = re.compile(r"\..*?\b(f\d+)\b.*")


def _temp_files(directory: Path) -> set[str]:
    """Temporary files of managed files in ``directory`` (one listing, as fast as it gets)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return set()
    return {n for n in names if _TEMP_OF_MANAGED.fullmatch(n)}


def _leftovers(directory: Path) -> list[str]:
    """Anything in the managed directory that the catalog does not manage (hidden files included)."""
    managed = {f"f{i}" for i in range(1, FILES + 1)}
    return sorted(n for n in os.listdir(directory) if n not in managed) if directory.is_dir() else []


def _kill_agent_mid_apply(tmp_path: Path, kills: int, seed: int) -> None:
    """Each time: the managed files are removed (so the run has all of them to write), the agent starts,
    and once a random number of them is in place it is killed -9 the moment the temporary file of the
    next one appears. The kill landed mid-write when that temporary file is still there once the agent
    is dead (the write never reached its rename)."""
    rng = random.Random(seed)
    master = MasterProcess(tmp_path / "m", _big_site(tmp_path / "envs"))
    master.start()
    base = tmp_path / "agent"
    srv = base / "root/srv"
    (base / "root").mkdir(parents=True)
    (base / "facts.json").write_text(json.dumps({"role": "web"}))
    from wire import pki

    paths = issue(master.ca(), tmp_path / "ids", "apply.example.com")
    shutil.copytree(paths.ssldir, base / "ssl")
    assert pki.SSLPaths(base / "ssl", "apply.example.com").has_identity()
    present_at_kill: list[int] = []
    mid_write: list[bool] = []
    torn: list[str] = []
    try:
        for _ in range(kills):
            for i in range(1, FILES + 1):
                (srv / f"f{i}").unlink(missing_ok=True)
            old_temps = _temp_files(srv)  # left by earlier kills: not this run's
            after = rng.randrange(0, FILES - 10)
            proc = subprocess.Popen(_agent_cmd(master, base), cwd=ROOT, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    names = os.listdir(srv)
                except FileNotFoundError:
                    continue
                # one listing a turn, kept cheap: the kill must follow the temporary file's appearance
                if (any(n[0] == "." and n not in old_temps for n in names)
                        and sum(n[0] == "f" for n in names) >= after):
                    break
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            mid_write.append(bool(_temp_files(srv) - old_temps))
            present, torn_now = _torn_files(base / "root")
            present_at_kill.append(present)
            torn += torn_now
        done = subprocess.run(_agent_cmd(master, base), cwd=ROOT, capture_output=True, text=True, timeout=120)
        present_after, torn_after = _torn_files(base / "root")
        leftovers = _leftovers(srv)
        again = subprocess.run(_agent_cmd(master, base), cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        master.stop()
    record_figures(f"kill_agent_mid_apply_{kills}", {
        "kills": kills, "kills_mid_write": sum(mid_write), "files_present_at_kill": present_at_kill,
        "torn_files": len(torn) + len(torn_after), "temp_files_left_after_the_next_run": len(leftovers),
        "left_after_the_next_run": leftovers[:5]})
    # most kills cut a managed file's write between its temporary file and its rename
    assert 2 * sum(mid_write) > kills, f"only {sum(mid_write)} of {kills} kills landed mid-write"
    assert not torn, f"half-written managed files after a kill: {torn[:5]}"
    assert done.returncode in (0, 2), done.stdout + done.stderr
    assert present_after == FILES and not torn_after, torn_after[:5]
    assert again.returncode == 0, again.stdout + again.stderr  # converged
    # the run after the kills leaves nothing behind in the managed directory (no temporary files)
    assert leftovers == [], f"{len(leftovers)} temporary file(s) left after the next run: {leftovers[:5]}"


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
    from wire.client import MasterClient
    from wire.proto import bunraku_pb2 as pb

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
class _StatementLog:
    """Every SQL statement a store's engine runs: [started, ended, error] (time.monotonic(); ended is
    None while it runs; error is the first line of what ended it, or None)."""

    def __init__(self, engine: object) -> None:
        import sqlalchemy as sa

        self.entries: list[list] = []
        self._running: dict[int, list] = {}
        self._lock = threading.Lock()
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)
        sa.event.listen(engine, "handle_error", self._error)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        entry = [time.monotonic(), None, None]
        with self._lock:
            self._running[id(context)] = entry
            self.entries.append(entry)

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        with self._lock:
            entry = self._running.pop(id(context), None)
        if entry is not None:
            entry[1] = time.monotonic()

    def _error(self, error_context) -> None:  # noqa: ANN001
        with self._lock:
            entry = self._running.pop(id(error_context.execution_context), None)
        if entry is not None:
            entry[1] = time.monotonic()
            entry[2] = (str(error_context.original_exception).strip().splitlines() or ["?"])[0]

    def in_flight_at(self, moment: float) -> list[list]:
        with self._lock:
            return [e for e in self.entries if e[0] < moment and (e[1] is None or e[1] > moment)]


def test_postgresql_restarted_under_load_loses_nothing_acknowledged(tmp_path: Path, private_pg) -> None:  # noqa: ANN001
    """The session's own PostgreSQL cluster is restarted (pg_ctl restart -m fast) while 12 agents run
    against a master on it. Another client holds the row of one node (a long transaction, as another
    master's could be), so that node's next store write waits on it: the restart starts only once that
    write is waiting, so a store call is in flight across the restart. Nothing acknowledged is lost and
    every report produced arrives (spooled ones with a later run), each stored once."""
    import psycopg

    from master.store import Store

    url = private_pg.create_database(f"restart_{uuid.uuid4().hex[:8]}")
    store = Store.open(url=url)
    statements = _StatementLog(store.engine)
    make_site(tmp_path / "envs")
    server = start_master(tmp_path, tmp_path / "envs", store=store)
    window: list[float] = []
    waiting: list[tuple] = []
    restarted: list[subprocess.CompletedProcess[str]] = []
    blocker = None
    try:
        fleet = [_agent(server, tmp_path, f"pg{i:02d}.example.com") for i in range(12)]
        for s in fleet:
            s.timeout = 5.0
        with traced_calls() as trace:
            warm = run_fleet(fleet, 1, threads=6)  # every node has its row
            blocker = psycopg.connect(host="127.0.0.1", port=private_pg.port, user="postgres",
                                      dbname=url.rsplit("/", 1)[1])
            blocker.execute("SELECT name FROM nodes WHERE name = %s FOR UPDATE", (fleet[0].certname,))
            blocker_pid = blocker.info.backend_pid

            def restart() -> None:
                with psycopg.connect(host="127.0.0.1", port=private_pg.port, user="postgres",
                                     dbname="postgres", autocommit=True) as watch:
                    give_up = time.monotonic() + 20
                    while not waiting and time.monotonic() < give_up:
                        waiting.extend(watch.execute(
                            "SELECT pid, left(query, 80) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND pid <> %s", (blocker_pid,)).fetchall())
                        time.sleep(0.005)
                window.append(time.monotonic())
                restarted.append(private_pg.restart("fast"))
                window.append(time.monotonic())

            restarter = threading.Thread(target=restart, name="pg-restart")
            restarter.start()
            result = run_fleet(fleet, 3, threads=6)
            restarter.join(timeout=120)
            final = run_fleet(fleet, 1, threads=6)  # delivers whatever was spooled
    finally:
        if blocker is not None:
            try:
                blocker.close()
            except psycopg.Error:
                pass
        server.stop()
        if not private_pg.running():
            private_pg.start()
    assert restarted and restarted[0].returncode == 0, restarted[0].stderr if restarted else "never restarted"
    assert private_pg.running(), "PostgreSQL is not running again"
    began, ended = window
    across = statements.in_flight_at(began)
    cut = [e for e in across if e[2] is not None]
    calls_across = [a for a in trace.snapshot() if a.spans(began)]
    records = warm.records + result.records + final.records
    acknowledged = {r.transaction_uuid for r in records if r.report_sent}
    produced, stored, copies = _all_stored(store, records)
    store.close()
    record_figures("postgresql_restart_under_load", {
        "runs": len(records), "acknowledged": len(acknowledged), "lost": len(produced - stored),
        "stored_twice": sum(n > 1 for n in copies.values()),
        "spooled_then_delivered": sum(not r.report_sent for r in result.records),
        "lock_waiters_seen_before_the_restart": len(waiting),
        "statements_in_flight_when_the_restart_began": len(across),
        "statements_the_restart_cut": len(cut), "cut_by": sorted({e[2] for e in cut})[:3],
        "agent_calls_in_flight_when_the_restart_began": len(calls_across),
        "problems": dict(Counter(re.sub(r"\d+", "N", line)[:160] for r in records for line in r.problems)),
        "pg_restart_s": round(ended - began, 2)})
    assert waiting, "no store call was waiting when the restart began"
    # a statement started before the restart and still running when it began: the restart overlapped a
    # store call (whether the restart or the blocker's death ends it first is a race: both are recorded)
    assert across, "no store statement was in flight when the restart began"
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged report(s) lost"
    assert produced <= stored, f"{len(produced - stored)} report(s) never arrived"
    assert all(n == 1 for n in copies.values()), "a report was stored twice"
    assert all(r.exit_code != -1 for r in records)
    unexpected = [line for r in records for line in r.problems if not _store_down(line)]
    assert not unexpected, f"runs failed for other reasons than the store being down: {unexpected[:3]}"
    assert all(r.clean for r in final.records), [r.problems for r in final.records if not r.clean][:3]


def _store_down(line: str) -> bool:
    """Whether a run's error line says its master could not be used because the store was down."""
    return _master_down_kind(line) is not None or (
        "no master answered (" in line and "the master's store failed" in line)


# -- the master killed with store writes still behind its requests --------------------------------------------
def test_master_killed_with_writes_behind_its_requests_commits_them_when_it_starts_again(tmp_path: Path) -> None:
    """Facts and contacts a master acknowledged (the catalog reply sent) but had not committed when it was
    killed -9 are in the store once it runs again. The store's write lock is held by the test while the
    second round of requests is answered, so the kill lands before any of its writes could be committed."""
    import sqlite3

    import grpc

    from master.store import Store
    from master.store.writebehind import read_segment
    from wire.proto import bunraku_pb2 as pb
    from wire.proto import bunraku_pb2_grpc as pb_grpc

    make_site(tmp_path / "envs")
    master = MasterProcess(tmp_path / "m", tmp_path / "envs")
    master.start()
    db = master.vardir / "store.sqlite"
    ca = master.ca()
    names = [f"wb{i:02d}.example.com" for i in range(12)]
    ids = [issue(ca, tmp_path / "ids", name) for name in names]

    def catalog_round(k: int) -> None:
        for paths in ids:
            creds = grpc.ssl_channel_credentials(paths.ca.read_bytes(), paths.key.read_bytes(),
                                                 paths.cert.read_bytes())
            with grpc.secure_channel(master.address, creds) as channel:
                facts = {"networking": {"fqdn": paths.certname}, "round": k}
                pb_grpc.MasterStub(channel).GetCatalog(pb.CatalogRequest(facts_json=json.dumps(facts).encode()),
                                                       timeout=30)

    def rounds_stored() -> list[int | None]:
        with Store.open(path=db, create=False) as store:
            return [(store.get_facts(n) or {}).get("round") for n in names]

    try:
        catalog_round(1)  # every node known, its exports and group written: what follows only defers
        deadline = time.monotonic() + 10
        while rounds_stored() != [1] * len(names):
            assert time.monotonic() < deadline, rounds_stored()
            time.sleep(0.05)
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # no write commits until this ends
        try:
            catalog_round(2)  # all acknowledged
            journal = master.vardir / "store-journal"
            queued = Counter(r.kind for path in journal.glob("*.journal") for r in read_segment(path))
            assert queued["facts"] == len(names) and queued["contact"] == len(names), queued
            master.kill()
        finally:
            blocker.rollback()
            blocker.close()
        assert rounds_stored() == [1] * len(names)  # the kill landed before any of round 2 was committed
        master.start()
        deadline = time.monotonic() + 20
        while rounds_stored() != [2] * len(names):
            assert time.monotonic() < deadline, rounds_stored()
            time.sleep(0.05)
        assert not list((master.vardir / "store-journal").glob("*.journal"))
        assert "committing them now" in master.log_text()
    finally:
        master.stop()
