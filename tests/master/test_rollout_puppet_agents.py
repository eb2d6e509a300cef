"""Puppet agents in rollouts, against a real store: they are never triggered (no live channel), the
rollout waits for their next run and judges them by the report Puppet sends (the end-to-end path with
real `puppet agent` processes is tests/e2e/test_puppet_agent_rollout.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from master.rollout import RolloutOptions, Rollouts
from master.store import Store

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BUNRAKU = ["web01.example.com", "web02.example.com"]
PUPPET = "pa01.example.com"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Dispatcher:
    """Bunraku agents with a live channel: triggered ones report the release assigned to them."""

    def __init__(self) -> None:
        self.triggered: list[str] = []

    def trigger(self, node: str) -> bool:
        if node == PUPPET:  # a Puppet agent has no live channel: the controller must not even ask
            raise AssertionError(f"{node} was triggered")
        self.triggered.append(node)
        return True


def puppet_report(store: Store, node: str, at: datetime, code_id: str | None, status: str = "changed",
                  **extra: Any) -> None:
    """A report as `puppet agent` 7 sends it (the fields the controller reads)."""
    logs: list[dict[str, Any]] = []
    statuses: dict[str, Any] = {}
    if status == "failed":  # Facter's own error comes first: the reason is the failed resource's
        logs = [{"level": "err", "source": "Facter", "message": "Permission denied @ rb_sysopen - /proc/1/environ"},
                {"level": "err", "source": "/Stage[main]/Main/Node[default]/Exec[boom]/returns",
                 "message": "change from 'notrun' to ['0'] failed: '/bin/false' returned 1 instead of one of [0]"}]
        statuses = {"Exec[boom]": {"failed": True, "changed": False, "events": []}}
    store.save_report({
        "host": node, "time": at.isoformat(), "code_id": code_id, "transaction_uuid": str(uuid.uuid4()),
        "environment": "production", "status": status, "noop": False, "noop_pending": False,
        "corrective_change": False, "resource_statuses": statuses, "metrics": {}, "logs": logs,
        "configuration_version": "1700000000", "puppet_version": "7.23.0", "report_format": 12,
        "transaction_completed": True, "cached_catalog_status": "not_used", **extra})


def bunraku_report(store: Store, node: str, at: datetime, code_id: str | None) -> None:
    store.save_report({
        "host": node, "time": at.isoformat(), "code_id": code_id, "transaction_uuid": str(uuid.uuid4()),
        "environment": "production", "status": "changed", "noop": False, "noop_pending": False,
        "corrective_change": False, "resource_statuses": {}, "metrics": {}, "logs": [],
        "puppet_version": "bunraku 0.1.0", "health": {"status": "healthy", "checks": {}},
        "configuration_version": code_id})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(path=tmp_path / "store.db")
    for name in [*BUNRAKU, PUPPET]:
        s.heartbeat(name, at=T0 - timedelta(hours=2), group="web")
    # the Puppet agent ran twice, 30 minutes apart, before the rollout; the others once
    puppet_report(s, PUPPET, T0 - timedelta(minutes=61), "v1", "unchanged")
    puppet_report(s, PUPPET, T0 - timedelta(minutes=31), "v1", "unchanged")
    for name in BUNRAKU:
        bunraku_report(s, name, T0 - timedelta(minutes=30), "v1")
    return s


def tick(rollouts: Rollouts, dispatcher: Dispatcher, clock: Clock, store: Store) -> dict[str, Any]:
    rollouts.tick()
    clock.advance(5)
    for node in dispatcher.triggered:
        bunraku_report(store, node, clock(), rollouts.assigned_release(node, "production"))
    dispatcher.triggered = []
    clock.advance(5)
    return rollouts.get(1)


def node(info: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in info["nodes"] if n["name"] == name)


def test_puppet_agent_is_assigned_the_release_and_judged_by_its_next_report(store: Store) -> None:
    clock, dispatcher = Clock(), Dispatcher()
    rollouts = Rollouts(store, dispatcher=dispatcher, clock=clock)
    rid = rollouts.start("v2", "production", options=RolloutOptions.parse(canary=1, batch=2, health_timeout=3600))
    info = tick(rollouts, dispatcher, clock, store)
    canary = node(info, PUPPET)  # "pa01" sorts first: the canary
    assert canary["wave"] == 0 and canary["state"] == "triggered"
    assert canary["detail"] == "waiting for its next run (Puppet agent, runs every ~30m)"
    assert rollouts.assigned_release(PUPPET, "production") == "v2"
    for _ in range(5):  # no report yet: the wave waits (it is neither deferred nor failed)
        info = tick(rollouts, dispatcher, clock, store)
    assert node(info, PUPPET)["state"] == "triggered" and info["current_wave"] == 0
    assert not [e for e in rollouts.timeline(rid) if e["kind"] == "deferred"]
    puppet_report(store, PUPPET, clock(), "v1")  # a run that began before the assignment took effect
    info = tick(rollouts, dispatcher, clock, store)
    assert node(info, PUPPET)["state"] == "triggered"
    puppet_report(store, PUPPET, clock(), "v2")
    for _ in range(6):
        info = tick(rollouts, dispatcher, clock, store)
    assert info["state"] == "completed", info
    assert node(info, PUPPET)["state"] == "succeeded"
    assert node(info, PUPPET)["detail"] == "applied (changed; Puppet agent)"
    assert all(node(info, n)["state"] == "succeeded" for n in BUNRAKU)


def test_failed_puppet_report_halts_the_rollout_naming_the_agent_and_why(store: Store) -> None:
    clock, dispatcher = Clock(), Dispatcher()
    rollouts = Rollouts(store, dispatcher=dispatcher, clock=clock)
    rid = rollouts.start("v2", "production", options=RolloutOptions.parse(canary=1, batch=2, health_timeout=3600))
    tick(rollouts, dispatcher, clock, store)
    puppet_report(store, PUPPET, clock(), "v2", "failed")
    for _ in range(3):
        info = tick(rollouts, dispatcher, clock, store)
    assert info["state"] == "halted" and dispatcher.triggered == []
    failed = node(info, PUPPET)
    assert failed["state"] == "failed"
    assert failed["detail"] == ("the run failed: /Stage[main]/Main/Node[default]/Exec[boom]/returns: change from "
                                "'notrun' to ['0'] failed: '/bin/false' returned 1 instead of one of [0]")
    assert [e["node"] for e in rollouts.timeline(rid) if e["kind"] == "failed"] == [PUPPET]
    assert all(node(info, n)["state"] == "pending" for n in BUNRAKU)


@pytest.mark.parametrize(("extra", "why"), [
    ({"cached_catalog_status": "on_failure"}, "it could not retrieve its catalog and applied its cached one"),
    ({"transaction_completed": False}, "the run did not complete"),
])
def test_a_puppet_run_that_did_not_apply_the_release_is_unhealthy(store: Store, extra: dict[str, Any],
                                                                  why: str) -> None:
    clock, dispatcher = Clock(), Dispatcher()
    rollouts = Rollouts(store, dispatcher=dispatcher, clock=clock)
    rollouts.start("v2", "production", options=RolloutOptions.parse(canary=1, batch=2, health_timeout=3600))
    tick(rollouts, dispatcher, clock, store)
    puppet_report(store, PUPPET, clock(), "v2", "unchanged", **extra)
    info = tick(rollouts, dispatcher, clock, store)
    assert node(info, PUPPET)["state"] == "failed"
    assert node(info, PUPPET)["detail"].startswith(why)


def test_health_timeout_applies_and_says_the_agent_runs_on_its_own_schedule(store: Store) -> None:
    clock, dispatcher = Clock(), Dispatcher()
    rollouts = Rollouts(store, dispatcher=dispatcher, clock=clock)
    rollouts.start("v2", "production", options=RolloutOptions.parse(canary=1, batch=2, health_timeout=600))
    info = tick(rollouts, dispatcher, clock, store)
    assert node(info, PUPPET)["detail"] == ("waiting for its next run (Puppet agent, runs every ~30m); "
                                            "longer than the health timeout of 600s")
    clock.advance(601)
    info = tick(rollouts, dispatcher, clock, store)
    assert info["state"] == "halted"
    assert node(info, PUPPET)["detail"].startswith("no report within 600s (Puppet agent: it runs only on its own "
                                                   "schedule")


def test_a_puppet_agent_known_only_by_its_facts_waits_for_its_next_run(tmp_path: Path) -> None:
    store = Store.open(path=tmp_path / "store.db")
    store.heartbeat(PUPPET, at=T0, group="web")
    store.save_facts(PUPPET, {"clientversion": "7.23.0", "clientcert": PUPPET, "os": {"family": "Debian"}})
    store.heartbeat(BUNRAKU[0], at=T0, group="web")
    store.save_facts(BUNRAKU[0], {"bunraku_version": "0.1.0", "os": {"family": "Debian"}})
    clock, dispatcher = Clock(), Dispatcher()
    rollouts = Rollouts(store, dispatcher=dispatcher, clock=clock)
    assert rollouts.puppet_runs(BUNRAKU[0]) is None
    rollouts.start("v2", "production", options=RolloutOptions.parse(canary=2))
    rollouts.tick()
    info = rollouts.get(1)
    assert node(info, PUPPET)["detail"] == "waiting for its next run (Puppet agent, at its next run)"
    assert dispatcher.triggered == [BUNRAKU[0]]


def test_a_puppet_agent_is_rolled_back_at_its_next_run(store: Store) -> None:
    clock, dispatcher = Clock(), Dispatcher()
    rollouts = Rollouts(store, dispatcher=dispatcher, clock=clock)
    rollouts.pin_release(PUPPET, "production", "v1")
    rollouts.start("v2", "production", options=RolloutOptions.parse(canary=1, batch=2, health_timeout=3600,
                                                                    auto_rollback=True))
    tick(rollouts, dispatcher, clock, store)
    puppet_report(store, PUPPET, clock(), "v2", "failed")
    info = tick(rollouts, dispatcher, clock, store)
    info = tick(rollouts, dispatcher, clock, store)
    assert info["state"] == "rolling_back", info
    back = node(info, PUPPET)
    assert back["state"] == "rolling_back" and back["detail"].startswith("waiting for its next run (Puppet agent")
    assert rollouts.assigned_release(PUPPET, "production") == "v1"
    puppet_report(store, PUPPET, clock(), "v1", "changed")
    for _ in range(3):
        info = tick(rollouts, dispatcher, clock, store)
    assert info["state"] == "rolled_back" and node(info, PUPPET)["state"] == "rolled_back", info


def test_a_puppet_run_under_way_at_the_assignment_counts_when_it_fetched_the_release(store: Store) -> None:
    """Puppet's report time is when its run began; the catalog it fetched a moment later was the release's."""
    clock, dispatcher = Clock(), Dispatcher()
    rollouts = Rollouts(store, dispatcher=dispatcher, clock=clock)
    rollouts.start("v2", "production", options=RolloutOptions.parse(canary=1, batch=2, health_timeout=3600))
    info = tick(rollouts, dispatcher, clock, store)
    triggered = datetime.fromisoformat(node(info, PUPPET)["triggered_at"])
    puppet_report(store, PUPPET, triggered - timedelta(seconds=20), "v2")
    info = tick(rollouts, dispatcher, clock, store)
    assert node(info, PUPPET)["state"] == "succeeded", node(info, PUPPET)
