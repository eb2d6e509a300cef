"""Load: many agents (the real run function, in threads) against one `bunraku master` process, and
against two masters sharing PostgreSQL with one killed halfway. Zero errors, every report stored.

CI runs the short forms; `make soak` the long ones (500 agents x 3 runs)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import make_site
from tests.reliability.fleet import (
    PG_URL,
    MasterProcess,
    issue,
    light_agent,
    pg_store_or_skip,
    record_figures,
    run_fleet,
)

pytest.importorskip("master.store")


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
def pg_schema() -> Iterator[str]:
    """A private PostgreSQL schema (the server is shared with other tests)."""
    import sqlalchemy as sa

    store = pg_store_or_skip()
    store.close()
    schema = f"rel_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


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


def test_two_masters_sharing_postgresql_one_killed_halfway(tmp_path: Path, site: Path, pg_schema: str) -> None:
    _failover(tmp_path, site, pg_schema, agents=20, runs=2, threads=8)


@pytest.mark.soak
def test_500_agents_fail_over_between_two_masters(tmp_path: Path, site: Path, pg_schema: str) -> None:
    _failover(tmp_path, site, pg_schema, agents=500, runs=4, threads=32)
