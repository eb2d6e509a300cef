"""Rollout planning and the rollout state machine against a real store, with agents simulated by
writing the reports they would send (the end-to-end path with real agents is in tests/e2e)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from master.rollout import Count, PlanError, RolloutError, RolloutOptions, Rollouts, plan_waves
from master.store import Store

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Fleet:
    """Agents that run when triggered: each reports the release assigned to it."""

    def __init__(self, store: Store, clock: Clock, *, bad: set[str] | None = None,
                 unhealthy_release: str | None = None, offline: set[str] | None = None,
                 silent: set[str] | None = None) -> None:
        self.store, self.clock = store, clock
        self.bad = bad or set()
        self.unhealthy_release = unhealthy_release
        self.offline = offline or set()
        self.silent = silent or set()
        self.triggered: list[str] = []
        self.rollouts: Rollouts | None = None

    def trigger(self, node: str) -> bool:
        if node in self.offline:
            return False
        self.triggered.append(node)
        return True

    def run_triggered(self) -> None:
        assert self.rollouts is not None
        for node in self.triggered:
            if node in self.silent:
                continue
            release = self.rollouts.assigned_release(node, "production")
            failed = node in self.bad
            unhealthy = release == self.unhealthy_release
            report(self.store, node, self.clock(), release, "failed" if failed else "changed",
                   "unhealthy" if unhealthy else "healthy")
        self.triggered = []


def report(store: Store, node: str, at: datetime, code_id: str | None, status: str, health: str) -> None:
    store.save_report({
        "host": node, "time": at.isoformat(), "code_id": code_id, "transaction_uuid": str(uuid.uuid4()),
        "environment": "production", "status": status, "noop": False, "noop_pending": False,
        "corrective_change": False, "resource_statuses": {}, "metrics": {}, "logs": [],
        "health": {"status": health, "checks": {}}, "configuration_version": code_id,
    })


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(path=tmp_path / "store.db")
    for i in range(10):
        s.heartbeat(f"web{i:02d}.example.com", at=T0 - timedelta(minutes=1), group="web")
    return s


def drive(rollouts: Rollouts, fleet: Fleet, clock: Clock, rid: int, rounds: int = 50) -> dict[str, Any]:
    for _ in range(rounds):
        rollouts.tick()
        clock.advance(5)
        fleet.run_triggered()
        clock.advance(5)
        info = rollouts.get(rid)
        if info["state"] not in ("running", "rolling_back"):
            return info
    return rollouts.get(rid)


def max_in_flight(timeline: list[dict[str, Any]]) -> int:
    level = peak = 0
    for event in timeline:
        if event["kind"] in ("triggered", "rollback_triggered"):
            level += 1
        elif event["kind"] in ("succeeded", "failed", "deferred", "rolled_back", "rollback_failed") and event["node"]:
            level -= 1
        peak = max(peak, level)
    return peak


def test_counts_and_waves() -> None:
    assert Count.parse("10%", "--batch", "1").of(25) == 3
    assert Count.parse(4, "--canary", "1").of(25) == 4
    with pytest.raises(PlanError, match="--batch must be a number of nodes or a percentage"):
        Count.parse("ten", "--batch", "1")
    opts = RolloutOptions.parse(canary=1, batch=3)
    assert plan_waves([f"n{i}" for i in range(10)], opts) == [
        ["n0"], ["n1", "n2", "n3"], ["n4", "n5", "n6"], ["n7", "n8", "n9"]]
    assert plan_waves([], opts) == []


def test_good_release_rolls_out_wave_by_wave_within_the_concurrency_limit(store: Store) -> None:
    clock = Clock()
    fleet = Fleet(store, clock)
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    rid = rollouts.start("abc123", "production", options=RolloutOptions.parse(canary=1, batch=3, max_concurrent=2),
                         created_by="alice")
    info = drive(rollouts, fleet, clock, rid)
    assert info["state"] == "completed"
    assert [len(w["nodes"]) for w in info["waves"]] == [1, 3, 3, 3]
    assert all(n["state"] == "succeeded" and n["health"] == "healthy" for n in info["nodes"])
    timeline = rollouts.timeline(rid)
    assert max_in_flight(timeline) <= 2
    kinds = [e["kind"] for e in timeline]
    assert kinds[0] == "started" and kinds[-1] == "completed" and kinds.count("wave_started") == 3
    # the canary finished before anything of the first batch started
    canary_done = next(i for i, e in enumerate(timeline) if e["kind"] == "succeeded")
    first_batch = next(i for i, e in enumerate(timeline) if e["kind"] == "triggered" and e["detail"]["wave"] == 1)
    assert canary_done < first_batch
    assert all(rollouts.assigned_release(n["name"], "production") == "abc123" for n in info["nodes"])


def test_unhealthy_release_halts_after_the_canary_and_rolls_back(store: Store) -> None:
    clock = Clock()
    fleet = Fleet(store, clock)
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    first = rollouts.start("good1", "production", options=RolloutOptions.parse(canary=2, batch="50%",
                                                                                 max_concurrent=10))
    assert drive(rollouts, fleet, clock, first)["state"] == "completed"
    fleet.unhealthy_release = "bad2"
    rid = rollouts.start("bad2", "production",
                         options=RolloutOptions.parse(canary=1, batch=3, max_failures=0, auto_rollback=True))
    info = drive(rollouts, fleet, clock, rid)
    assert info["state"] == "rolled_back"
    touched = [n for n in info["nodes"] if n["state"] != "pending"]
    assert [n["name"] for n in touched] == ["web00.example.com"]
    assert touched[0]["state"] == "rolled_back"
    assert rollouts.assigned_release("web00.example.com", "production") == "good1"
    assert rollouts.assigned_release("web05.example.com", "production") == "good1"
    kinds = [e["kind"] for e in rollouts.timeline(rid)]
    assert kinds.index("halted") < kinds.index("rollback_started") < kinds.index("rolled_back")


def test_a_node_that_never_reports_fails_after_the_health_timeout(store: Store) -> None:
    clock = Clock()
    fleet = Fleet(store, clock, silent={"web00.example.com"})
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    rid = rollouts.start("r1", "production", options=RolloutOptions.parse(canary=1, health_timeout=60))
    info = drive(rollouts, fleet, clock, rid)
    assert info["state"] == "halted"
    canary = info["nodes"][0]
    assert canary["state"] == "failed" and canary["detail"] == "no report within 60s"


def test_offline_nodes_are_deferred_not_failed(store: Store) -> None:
    clock = Clock()
    fleet = Fleet(store, clock, offline={"web03.example.com"})
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    rid = rollouts.start("r1", "production", options=RolloutOptions.parse(canary=1, batch=5, max_concurrent=5))
    info = drive(rollouts, fleet, clock, rid)
    assert info["state"] == "completed"
    states = {n["name"]: n["state"] for n in info["nodes"]}
    assert states.pop("web03.example.com") == "deferred"
    assert set(states.values()) == {"succeeded"}
    # it still gets the release at its next run, and the rollout says how that went
    assert rollouts.assigned_release("web03.example.com", "production") == "r1"
    clock.advance(600)
    report(store, "web03.example.com", clock(), "r1", "changed", "healthy")
    rollouts.tick()
    late = next(n for n in rollouts.get(rid)["nodes"] if n["name"] == "web03.example.com")
    assert late["state"] == "succeeded" and late["detail"] == "at its next run: applied (changed)"
    assert rollouts.get(rid)["state"] == "completed"


def test_a_restarted_master_resumes_and_only_the_lease_holder_drives(store: Store) -> None:
    clock = Clock()
    fleet = Fleet(store, clock)
    first = Rollouts(store, dispatcher=fleet, clock=clock, owner="master-a", lease_seconds=30)
    fleet.rollouts = first
    rid = first.start("r1", "production", options=RolloutOptions.parse(canary=1, batch=3, max_concurrent=3))
    first.tick()
    clock.advance(5)
    fleet.run_triggered()
    first.tick()  # canary judged, first batch triggered
    assert first.get(rid)["current_wave"] == 1
    other = Rollouts(store, dispatcher=fleet, clock=clock, owner="master-b", lease_seconds=30)
    assert not other.acquire_lease(rid)
    clock.advance(60)  # master-a died: its lease runs out
    second = Rollouts(store, dispatcher=fleet, clock=clock, owner="master-b", lease_seconds=30)
    fleet.rollouts = second
    assert second.acquire_lease(rid)
    assert not first.acquire_lease(rid)
    info = drive(second, fleet, clock, rid)
    assert info["state"] == "completed"
    assert all(n["state"] == "succeeded" for n in info["nodes"])


def test_operator_commands_and_their_errors(store: Store) -> None:
    clock = Clock()
    fleet = Fleet(store, clock)
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    rid = rollouts.start("r1", "production", options=RolloutOptions.parse(canary=1), group="web")
    with pytest.raises(RolloutError, match=f"rollout {rid} is still active in environment production"):
        rollouts.start("r2", "production", options=RolloutOptions.parse(), group="web")
    rollouts.pause(rid, by="alice")
    rollouts.tick()
    assert fleet.triggered == []
    with pytest.raises(RolloutError, match=f"rollout {rid} is paused; it cannot be paused"):
        rollouts.pause(rid)
    rollouts.resume(rid)
    rollouts.abort(rid, by="bob")
    assert rollouts.get(rid)["state"] == "aborted"
    with pytest.raises(RolloutError, match="no nodes in group db of environment production"):
        rollouts.start("r3", "production", options=RolloutOptions.parse(), group="db")
    with pytest.raises(RolloutError, match="no rollout 999"):
        rollouts.get(999)
    assert [r["id"] for r in rollouts.list_all()] == [rid]


def test_the_dashboard_shows_controller_rollouts(store: Store) -> None:
    from master.dashboard.rollouts import ControllerRolloutSource

    clock = Clock()
    fleet = Fleet(store, clock)
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    rid = rollouts.start("abc123", "production", options=RolloutOptions.parse(canary=1, batch=5))
    drive(rollouts, fleet, clock, rid)
    source = ControllerRolloutSource(rollouts)
    (listed,) = source.list()
    assert listed["id"] == rid and listed["code_id"] == "abc123" and listed["state"] == "completed"
    shown = source.get(str(rid))
    assert shown is not None
    assert [(w["index"], w["name"]) for w in shown["waves"]] == [(0, "canary"), (1, "batch 1"), (2, "batch 2")]
    assert {n["state"] for w in shown["waves"] for n in w["nodes"]} == {"succeeded"}
    assert source.get("999") is None and source.get("nope") is None


def test_two_masters_on_one_postgresql_store_one_drives_a_rollout() -> None:
    from tests.master.test_store import PgSchema, needs_pg  # the PostgreSQL at 127.0.0.1:5432

    if needs_pg.args and needs_pg.args[0]:
        pytest.skip(needs_pg.kwargs.get("reason", "PostgreSQL is not reachable"))
    schema = PgSchema()
    try:
        a_store, b_store = Store.open(schema.url()), Store.open(schema.url())
        for i in range(4):
            a_store.heartbeat(f"db{i}.example.com", at=T0, group="db")
        clock = Clock()
        fleet = Fleet(a_store, clock)
        a = Rollouts(a_store, dispatcher=fleet, clock=clock, owner="master-a", lease_seconds=30)
        b = Rollouts(b_store, dispatcher=fleet, clock=clock, owner="master-b", lease_seconds=30)
        fleet.rollouts = a
        rid = a.start("r1", "production", options=RolloutOptions.parse(canary=1, batch=3))
        assert a.acquire_lease(rid)
        assert not b.acquire_lease(rid)
        b.tick()  # not the lease holder: does nothing
        assert fleet.triggered == []
        a.tick()
        assert fleet.triggered == ["db0.example.com"]
        clock.advance(45)  # master-a stops renewing: master-b takes over and finishes
        fleet.run_triggered()
        fleet.rollouts = b
        info = drive(b, fleet, clock, rid)
        assert info["state"] == "completed"
        assert {e["kind"] for e in b.timeline(rid)} >= {"started", "triggered", "succeeded", "completed"}
        a_store.close()
        b_store.close()
    finally:
        schema.drop()


def test_an_application_rollout_counts_only_runs_that_left_the_assigned_version_current(store: Store) -> None:
    """A run that says which version of the app it left current must name the rollout's (a run whose catalog
    did not pin it yet is not a pass); a report that says nothing of versions (an older agent) is any run."""
    clock = Clock()
    node = "web00.example.com"
    rollouts = Rollouts(store, dispatcher=Fleet(store, clock), clock=clock)  # triggered; the test runs it
    rid = rollouts.start("1.4.2", "artifact:shop", options=RolloutOptions.parse(canary=1, health_timeout=600),
                         nodes=[node, "web01.example.com"])

    def run(version: str | None, status: str = "changed") -> None:
        clock.advance(5)
        store.save_report({
            "host": node, "time": clock().isoformat(), "code_id": "c0ffee", "transaction_uuid": str(uuid.uuid4()),
            "environment": "production", "status": status, "noop": False, "noop_pending": False,
            "corrective_change": False, "resource_statuses": {}, "metrics": {}, "logs": [],
            "health": {"status": "healthy", "checks": {}}, "configuration_version": "1",
            **({"releases": {"shop": version}} if version else {})})

    rollouts.tick()
    run("1.4.1")  # still the old version: not this rollout's run
    clock.advance(5)
    rollouts.tick()
    assert rollouts.get(rid)["nodes"][0]["state"] == "triggered"
    run("1.4.2")
    clock.advance(5)
    rollouts.tick()
    assert rollouts.get(rid)["nodes"][0]["state"] == "succeeded"
