"""Load: many agents (the real run function, in threads) against one `bunraku master` process, and
against two masters sharing PostgreSQL with the first killed halfway, killed while calls are in flight,
or hung (SIGSTOP: its port accepts, nothing answers). Zero errors, every report stored once.

CI runs the short forms; `make soak` the long ones (500 agents x 3 runs)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.harness import make_site
from tests.reliability.fleet import (
    FleetResult,
    MasterProcess,
    issue,
    light_agent,
    record_figures,
    run_fleet,
    traced_calls,
)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    make_site(tmp_path / "envs")
    return tmp_path / "envs"


def _stored(store: object, records: list) -> set[str]:
    nodes = {r.node for r in records}
    got: set[str] = set()
    for node in nodes:
        got |= {r["transaction_uuid"] for r in store.reports(node, last=100)}  # type: ignore[attr-defined]
    return got


def _one_master(tmp_path: Path, site: Path, agents: int, runs: int, threads: int) -> None:
    from master.store import Store

    master = MasterProcess(tmp_path / "m", site, workers=2)
    startup = master.start()
    try:
        ca = master.ca()
        fleet = [light_agent([master.address], tmp_path, issue(ca, tmp_path / "ids", f"load{i:04d}.example.com"))
                 for i in range(agents)]
        result = run_fleet(fleet, runs, threads=threads)
    finally:
        master.stop()
    assert result.errors() == [], result.errors()[:3]
    assert all(r.report_sent for r in result.records)
    assert [r.exit_code for r in result.records].count(2) == agents  # the first run converges, then unchanged
    with Store.open(path=master.vardir / "store.sqlite") as store:
        stored = _stored(store, result.records)
    assert {r.transaction_uuid for r in result.records} <= stored
    assert len(stored) == agents * runs
    record_figures(f"load_one_master_{agents}x{runs}", {"master_startup_s": round(startup, 2),
                                                         **result.latencies(), "errors": 0,
                                                         "reports_stored": len(stored)})


def test_50_agents_2_runs_against_one_master(tmp_path: Path, site: Path) -> None:
    _one_master(tmp_path, site, agents=50, runs=2, threads=12)


@pytest.mark.soak
def test_500_agents_3_runs_against_one_master(tmp_path: Path, site: Path) -> None:
    _one_master(tmp_path, site, agents=500, runs=3, threads=32)


@pytest.fixture
def pg_url(private_pg) -> str:  # noqa: ANN001 - a PrivateCluster (tests/conftest.py)
    """A fresh database in the session's own PostgreSQL cluster."""
    return private_pg.create_database(f"load_{uuid.uuid4().hex[:10]}")


def _failover(tmp_path: Path, site: Path, url: str, agents: int, runs: int, threads: int) -> None:
    from master.store import Store

    first = MasterProcess(tmp_path / "m1", site, name="m1", store_url=url)
    first.start()
    # the second master shares the first one's CA (as masters behind one CA do) and the store
    second = MasterProcess(tmp_path / "m2", site, name="m2", store_url=url, ssldir=first.ssldir)
    second.start()
    killed_at: list[float] = []
    try:
        ca = first.ca()
        fleet = [light_agent([first.address, second.address], tmp_path,
                             issue(ca, tmp_path / "ids", f"fo{i:04d}.example.com")) for i in range(agents)]

        def kill_first(round_done: int) -> None:
            if round_done == runs // 2 - 1 or (runs == 1 and round_done == 0):
                first.kill()
                killed_at.append(round_done)

        result = run_fleet(fleet, runs, threads=threads, between=kill_first)
    finally:
        first.kill()
        second.stop()
    assert killed_at, "the first master was never killed"
    assert result.errors() == [], result.errors()[:3]
    assert all(r.report_sent for r in result.records), "a report had to be spooled: no failover"
    with Store.open(url=url) as store:
        stored = _stored(store, result.records)
    assert {r.transaction_uuid for r in result.records} <= stored
    assert len(stored) == agents * runs
    record_figures(f"load_failover_{agents}x{runs}", {**result.latencies(), "errors": 0,
                                                      "reports_stored": len(stored),
                                                      "killed_after_round": killed_at[0] + 1})


def test_two_masters_sharing_postgresql_one_killed_halfway(tmp_path: Path, site: Path, pg_url: str) -> None:
    _failover(tmp_path, site, pg_url, agents=20, runs=2, threads=8)


@pytest.mark.soak
def test_500_agents_fail_over_between_two_masters(tmp_path: Path, site: Path, pg_url: str) -> None:
    _failover(tmp_path, site, pg_url, agents=500, runs=4, threads=32)


# -- the first master killed, or hung, while calls are in flight on it --------------------------------
def _failover_mid_calls(tmp_path: Path, site: Path, url: str, fault: str, agents: int, threads: int,
                        timeout: float) -> None:
    """Agents run round after round with ``--server m1,m2``. In the first round (every agent's first
    catalog is compiled then, so calls queue on the first master), once several calls are in flight on
    the first master, it is killed -9 (``fault="kill"``) or stopped with SIGSTOP (``fault="hang"``);
    then one more whole round runs. Every run succeeds, every report is stored once, and each call the
    fault caught was answered by the second master."""
    import random

    from master.store import Store

    first = MasterProcess(tmp_path / "m1", site, name="m1", store_url=url)
    first.start()
    second = MasterProcess(tmp_path / "m2", site, name="m2", store_url=url, ssldir=first.ssldir)
    second.start()
    result = FleetResult()
    rounds_done = [0]
    faulted: list[tuple[float, int]] = []  # (when, the round in progress)
    try:
        ca = first.ca()
        fleet = [light_agent([first.address, second.address], tmp_path,
                             issue(ca, tmp_path / "ids", f"{fault}{i:04d}.example.com"), timeout=timeout)
                 for i in range(agents)]
        with traced_calls() as trace:
            def strike() -> None:
                give_up = time.monotonic() + 60
                time.sleep(random.uniform(0.05, 0.25))
                while len(trace.in_flight(first.address)) < min(4, threads) and time.monotonic() < give_up:
                    time.sleep(0.0005)
                moment = time.monotonic()
                first.kill() if fault == "kill" else first.pause()
                faulted.append((moment, rounds_done[0]))

            striker = threading.Thread(target=strike, name=f"{fault}-first-master")
            striker.start()
            give_up = time.monotonic() + 120
            while (not faulted or rounds_done[0] <= faulted[0][1] + 1) and time.monotonic() < give_up:
                run_fleet(fleet, 1, threads=threads, result=result)
                rounds_done[0] += 1
            striker.join(timeout=60)
    finally:
        first.resume()  # SIGCONT a hung master (whether it then stops on SIGTERM is a test of its own)
        first.kill()
        second.stop()
    assert faulted, "the first master was never struck"
    moment, _ = faulted[0]
    expected = "UNAVAILABLE" if fault == "kill" else "DEADLINE_EXCEEDED"
    caught = trace.cut_at(moment, first.address)
    retries = [trace.retry_of(a) for a in caught]
    later_on_first = [a for a in trace.snapshot() if a.server == first.address and a.started > moment]
    with Store.open(url=url) as store:
        copies = Counter()
        for node in {r.node for r in result.records}:
            copies.update(r["transaction_uuid"] for r in store.reports(node, last=100))
    record_figures(f"load_failover_{fault}_mid_calls_{agents}", {
        **result.latencies(), "calls_caught_by_the_fault": len(caught),
        "caught_by_method": dict(Counter(a.method for a in caught)),
        "answered_by_the_second": sum(1 for r in retries if r and r.server == second.address and r.code == "OK"),
        "later_attempts_on_the_first": len(later_on_first),
        "later_attempts_on_the_first_by_code": dict(Counter(a.code for a in later_on_first)),
        "slowest_attempt_on_the_first_after_the_fault_s": round(max(((a.ended or moment) - a.started)
                                                          for a in later_on_first + caught), 2),
        "errors": len([r for r in result.records if not r.clean]), "reports_stored": len(copies),
        "reports_stored_twice": sum(n > 1 for n in copies.values())})
    assert caught, "no call was in flight on the first master when it was struck"
    assert all(a.code == expected for a in caught), [(a.method, a.code, a.details) for a in caught][:3]
    # each call the fault caught was answered by the second master, in the same run
    assert all(r is not None and r.server == second.address and r.code == "OK" for r in retries), [
        (a, r, [b for b in trace.snapshot() if b.client == a.client]) for a, r in zip(caught, retries)
        if not (r is not None and r.server == second.address and r.code == "OK")][:2]
    assert all(r.clean for r in result.records), [(r.node, r.exit_code, r.cached, r.problems[:2])
                                                  for r in result.records if not r.clean][:3]
    assert {r.transaction_uuid for r in result.records} <= set(copies)
    assert len(copies) == len(result.records) and all(n == 1 for n in copies.values())
    if fault == "hang":
        # the hung master is given up at the agent's timeout (with slack for a loaded machine), never hangs it
        assert later_on_first and all(a.code == "DEADLINE_EXCEEDED" for a in later_on_first)
        assert all(a.ended is not None and a.ended - a.started < 2 * timeout for a in later_on_first + caught)
    assert max(r.seconds for r in result.records) < 4 * timeout + 10, "an agent run hung"


def test_first_master_killed_while_calls_are_in_flight_agents_fail_over(tmp_path: Path, site: Path,
                                                                         pg_url: str) -> None:
    _failover_mid_calls(tmp_path, site, pg_url, "kill", agents=20, threads=8, timeout=5.0)


def test_first_master_hung_agents_fail_over_within_their_timeout(tmp_path: Path, site: Path, pg_url: str) -> None:
    _failover_mid_calls(tmp_path, site, pg_url, "hang", agents=8, threads=8, timeout=6.0)


@pytest.mark.soak
def test_many_agents_fail_over_from_a_master_killed_mid_calls(tmp_path: Path, site: Path, pg_url: str) -> None:
    _failover_mid_calls(tmp_path, site, pg_url, "kill", agents=300, threads=32, timeout=5.0)


@pytest.mark.soak
def test_many_agents_fail_over_from_a_hung_master(tmp_path: Path, site: Path, pg_url: str) -> None:
    _failover_mid_calls(tmp_path, site, pg_url, "hang", agents=100, threads=32, timeout=5.0)
