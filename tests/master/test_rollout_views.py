"""What operators read about a rollout, from a real controller on a real store: the dashboard shows what
``bunraku rollout status`` shows (one vocabulary, waves from 0, reason, timeline, the failing report),
a node's reason is the real one, a disabled agent fails at once, and a halted rollout can be retried."""

from __future__ import annotations

import re
import socket
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from master import fleet as ops
from master.dashboard import TokenStore, create_app
from master.dashboard.rollouts import ControllerRolloutSource
from master.rollout import RolloutError, RolloutOptions, Rollouts
from master.rollout.view import rollout_status
from master.store import Store
from tests.master.test_dashboard import Client
from tests.master.test_rollout import T0, Clock, Fleet, drive, report

CANARY = "web00.example.com"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(path=tmp_path / "store.db")
    for i in range(10):
        s.heartbeat(f"web{i:02d}.example.com", at=T0 - timedelta(minutes=1), group="web")
    return s


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def engine_report(node: str, at: datetime, code_id: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    """The report Bunraku's engine makes applying ``resources`` for real, as its agent would send it."""
    from engine.apply import apply_catalog
    from engine.catalog import Catalog

    catalog = {"name": node, "version": code_id, "code_id": code_id, "catalog_format": 2,
               "environment": "production", "tags": [], "classes": [], "edges": [],
               "resources": [{"tags": [], "exported": False, **r} for r in resources]}
    root = tempfile.mkdtemp(prefix="bunraku-report-")
    result = apply_catalog(Catalog.from_dict(catalog), root=root, state_dir=Path(root) / "state")
    doc = result.to_store_dict()
    doc.update(host=node, time=at.isoformat(), code_id=code_id, configuration_version=code_id)
    return doc


def health_check(port: int) -> dict[str, Any]:
    return {"type": "Healthcheck", "title": "web",
            "parameters": {"check": "tcp", "host": "127.0.0.1", "port": port, "retries": 2, "interval": 0.05,
                           "timeout": 1}}


class EngineFleet(Fleet):
    """Agents that apply, for real, the release's resources (``releases``: code_id -> resources)."""

    def __init__(self, store: Store, clock: Clock, releases: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__(store, clock)
        self.releases = releases

    def run_triggered(self) -> None:
        assert self.rollouts is not None
        for node in self.triggered:
            release = self.rollouts.assigned_release(node, "production") or ""
            if release in self.releases:
                self.store.save_report(engine_report(node, self.clock(), release, self.releases[release]))
            else:
                report(self.store, node, self.clock(), release, "changed", "healthy")
        self.triggered = []


def dashboard(store: Store, rollouts: Rollouts, tmp: Path) -> Client:
    tokens = TokenStore(tmp / "tokens.json")
    app = create_app(store, tokens=tokens, rollouts=ControllerRolloutSource(rollouts), cache_seconds=0)
    return Client(app, token=tokens.issue("viewer"))


def test_the_rollouts_list_and_api_count_waves_and_nodes(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    fleet = Fleet(store, clock)
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    rid = rollouts.start("abc123", "production", options=RolloutOptions.parse(canary=1, batch=3))
    assert drive(rollouts, fleet, clock, rid)["state"] == "completed"
    client = dashboard(store, rollouts, tmp_path)
    listing = client.get("/rollouts").text
    row = re.search(rf'<a href="/rollout/{rid}">{rid}</a>.*?</tr>', listing, re.S)
    assert row is not None
    assert '<td class="num">4</td>' in row.group(0)  # waves
    assert "10 node(s) in 4 wave(s): 10 succeeded" in row.group(0)
    assert '<span class="badge completed">completed</span>' in row.group(0)
    (listed,) = client.get("/api/rollouts").json()["rollouts"]
    assert listed["progress"] == {"total": 10, "waves": 4, "states": {"succeeded": 10},
                                  "health": {"healthy": 10}}
    assert listed["state"] == "completed" and listed["code_id"] == "abc123"
    # `bunraku rollout list` counts the same
    assert "10 node(s) in 4 wave(s): 10 succeeded" in ops.rollouts_table(rollouts.list_all())[1]


def test_a_rolled_back_rollout_shows_what_rollout_status_shows(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    port = closed_port()
    fleet = EngineFleet(store, clock, {"bad2": [health_check(port)]})
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    first = rollouts.start("good1", "production", options=RolloutOptions.parse(canary=2, batch="50%",
                                                                                 max_concurrent=10))
    assert drive(rollouts, fleet, clock, first)["state"] == "completed"
    rid = rollouts.start("bad2", "production", options=RolloutOptions.parse(canary=1, batch=3, auto_rollback=True))
    assert drive(rollouts, fleet, clock, rid)["state"] == "rolled_back"

    info = rollout_status(rollouts, rid)  # what `bunraku rollout status` prints (service.rollout_status)
    why = f"health check web unhealthy after 3 attempts: connect to 127.0.0.1:{port}: connection refused"
    (failure,) = info["failures"]
    assert failure["node"] == CANARY and failure["state"] == "failed" and failure["detail"] == why
    bad_report = store.report_summaries(CANARY, last=10, status="failed")[0]
    assert failure["report_id"] == bad_report["id"]
    assert info["reason"] == "auto-rollback: 1 node(s) failed; the budget is 0"
    lines = ops.rollout_lines(info)
    assert "nodes: 10 node(s) in 4 wave(s): 9 pending, 1 rolled_back" in lines
    assert "wave 0 (canary)" in lines and f"failed before: {why}" in "\n".join(lines)

    client = dashboard(store, rollouts, tmp_path)
    assert ControllerRolloutSource(rollouts).get(str(rid)) == info  # the same function makes both
    page = client.get(f"/rollout/{rid}").text
    assert f'<h1>Rollout {rid} <span class="badge rolled_back">rolled_back</span></h1>' in page
    assert '<dd id="rollout-reason">auto-rollback: 1 node(s) failed; the budget is 0</dd>' in page
    assert '<dd id="rollout-progress">10 node(s) in 4 wave(s): 9 pending, 1 rolled_back</dd>' in page
    assert "Wave 0 (canary)" in page and "Wave 3" in page and "Wave 4" not in page
    assert why in page
    assert f'<a class="report-link" href="/report/{bad_report["id"]}">' in page
    assert f'<a class="diff-link" href="/report/{bad_report["id"]}#changes">' in page
    timeline = page[page.index('<table id="timeline">'):]
    for kind in ("started", "triggered", "failed", "halted", "rollback_started", "rollback_triggered",
                 "rolled_back"):
        assert f"<td>{kind}</td>" in timeline
    assert '<h2 id="changes">' in client.get(f"/report/{bad_report['id']}").text
    listing = client.get("/rollouts").text
    assert '<span class="badge rolled_back">rolled_back</span>' in listing and "badge failed" not in listing
    api = client.get(f"/api/rollout/{rid}").json()
    assert api["state"] == "rolled_back" and api["failures"][0]["report_id"] == bad_report["id"]
    assert [w["index"] for w in api["waves"]] == [0, 1, 2, 3]


def test_a_bunraku_agents_failed_resource_and_health_check_read_as_their_errors(
        store: Store) -> None:
    clock = Clock()
    port = closed_port()
    resources = [{"type": "File", "title": "/nonexistent-dir/app.conf",
                  "parameters": {"ensure": "file", "content": "x"}}]
    fleet = EngineFleet(store, clock, {"r1": resources, "r2": [health_check(port)]})
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    rid = rollouts.start("r1", "production", options=RolloutOptions.parse(canary=1))
    info = drive(rollouts, fleet, clock, rid)
    canary = info["nodes"][0]
    assert info["state"] == "halted" and canary["state"] == "failed"
    assert canary["detail"].startswith("the run failed: /File[/nonexistent-dir/app.conf]: Cannot apply: cannot "
                                       "create /nonexistent-dir/app.conf"), canary
    assert canary["detail"] != "the run failed"
    rollouts.abort(rid)
    rid = rollouts.start("r2", "production", options=RolloutOptions.parse(canary=1))
    canary = drive(rollouts, fleet, clock, rid)["nodes"][0]
    assert canary["detail"] == (f"health check web unhealthy after 3 attempts: connect to 127.0.0.1:{port}: "
                                "connection refused")


def test_retry_starts_the_failed_nodes_of_a_halted_rollout_again(store: Store) -> None:
    clock = Clock()
    fleet = Fleet(store, clock)
    fleet.bad = {"web02.example.com"}
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    rid = rollouts.start("r1", "production", options=RolloutOptions.parse(canary=1, batch=3, max_concurrent=3))
    info = drive(rollouts, fleet, clock, rid)
    assert info["state"] == "halted" and info["current_wave"] == 1
    with pytest.raises(RolloutError) as resumed:
        rollouts.resume(rid)
    assert str(resumed.value) == (f"rollout {rid} is halted; it cannot be resumed; fix what failed "
                                  f"(`bunraku rollout status {rid}` says why), then `bunraku rollout retry {rid}`, "
                                  "or start a new rollout")
    fleet.bad = set()  # fixed
    assert rollouts.retry(rid, by="alice") == ["web02.example.com"]
    again = rollouts.get(rid)
    assert again["state"] == "running" and again["reason"] is None and again["current_wave"] == 1
    assert next(n for n in again["nodes"] if n["name"] == "web02.example.com")["state"] == "pending"
    info = drive(rollouts, fleet, clock, rid)
    assert info["state"] == "completed"
    assert all(n["state"] == "succeeded" for n in info["nodes"])
    kinds = [e["kind"] for e in rollouts.timeline(rid)]
    assert kinds.index("halted") < kinds.index("retried") < kinds.index("completed")
    with pytest.raises(RolloutError, match=f"rollout {rid} is completed; only a halted rollout can be retried$"):
        rollouts.retry(rid)
    other = rollouts.start("r2", "production", options=RolloutOptions.parse(canary=1))
    with pytest.raises(RolloutError, match=f"rollout {other} is running; only a halted rollout can be retried "
                                           r"\(`bunraku rollout status"):
        rollouts.retry(other)


def test_a_disabled_agent_fails_at_once_and_retry_takes_it_once_enabled(store: Store) -> None:
    clock = Clock()
    fleet = Fleet(store, clock)
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    rollouts.agents.note(CANARY, "kernel upgrade, ask bob")
    rid = rollouts.start("r1", "production", options=RolloutOptions.parse(canary=1, health_timeout=600))
    rollouts.tick()
    assert fleet.triggered == []  # not asked to run: it would skip the run
    rollouts.tick()
    info = rollouts.get(rid)
    assert info["state"] == "halted"
    assert info["nodes"][0]["state"] == "failed"
    assert info["nodes"][0]["detail"] == "agent disabled: kernel upgrade, ask bob"
    rollouts.agents.note(CANARY, None)  # `bunraku agent --enable`
    rollouts.retry(rid)
    assert drive(rollouts, fleet, clock, rid)["state"] == "completed"


def test_an_agent_disabled_while_its_run_is_awaited_fails_at_the_next_tick(store: Store) -> None:
    clock = Clock()
    fleet = Fleet(store, clock, silent={CANARY})
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    rid = rollouts.start("r1", "production", options=RolloutOptions.parse(canary=1, health_timeout=600))
    rollouts.tick()
    assert fleet.triggered == [CANARY]
    rollouts.agents.note(CANARY, "reason not specified")
    rollouts.tick()
    node = rollouts.get(rid)["nodes"][0]
    assert node["state"] == "failed" and node["detail"] == "agent disabled: reason not specified"


def test_an_agents_word_lapses_when_it_goes_silent() -> None:
    from master.rollout.controller import AgentStates

    now = [100.0]
    agents = AgentStates(fresh_seconds=30, clock=lambda: now[0])
    agents.note("a", "maintenance")
    assert agents.disabled("a") == "maintenance" and agents.all_disabled() == {"a": "maintenance"}
    now[0] += 31
    assert agents.disabled("a") is None
    agents.note("a", "x")
    agents.note("a", None)
    assert agents.disabled("a") is None


def test_a_viewer_limited_to_a_group_sees_its_rollouts_nodes_failures_and_counts(store: Store,
                                                                                 tmp_path: Path) -> None:
    store.heartbeat("db01.example.com", at=T0 - timedelta(minutes=1), group="db")
    clock = Clock()
    fleet = Fleet(store, clock, bad={CANARY})
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    rid = rollouts.start("r1", "production", group="web", options=RolloutOptions.parse(canary=1))
    assert drive(rollouts, fleet, clock, rid)["state"] == "halted"
    tokens = TokenStore(tmp_path / "tokens.json")
    app = create_app(store, tokens=tokens, rollouts=ControllerRolloutSource(rollouts), cache_seconds=0)
    web = Client(app, token=tokens.issue("web-viewer", groups=["web"])).get(f"/api/rollout/{rid}").json()
    assert web["progress"]["total"] == 10 and web["progress"]["states"] == {"failed": 1, "pending": 9}
    assert [f["node"] for f in web["failures"]] == [CANARY]
    assert web["failures"][0]["detail"] == "the run failed (no error in its report)"
    db = Client(app, token=tokens.issue("db-viewer", groups=["db"]))
    assert db.get(f"/api/rollout/{rid}").status == 404 and db.get("/api/rollouts").json() == {"rollouts": []}


def test_a_puppet_agents_failing_report_is_linked_though_its_run_began_before_the_trigger(
        store: Store) -> None:
    import uuid

    clock = Clock()
    fleet = Fleet(store, clock, silent={CANARY})
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    rid = rollouts.start("r1", "production", options=RolloutOptions.parse(canary=1))
    rollouts.tick()
    began = clock() - timedelta(seconds=60)  # Puppet dates its report from the start of its run
    store.save_report({
        "host": CANARY, "time": began.isoformat(), "code_id": "r1", "transaction_uuid": str(uuid.uuid4()),
        "environment": "production", "status": "failed", "noop": False, "noop_pending": False,
        "corrective_change": False, "puppet_version": "8.10.0", "transaction_completed": True,
        "resource_statuses": {"Exec[boom]": {"failed": True, "events": []}}, "metrics": {},
        "logs": [{"level": "err", "source": "/Stage[main]/Main/Exec[boom]/returns", "message": "it broke"}],
        "configuration_version": "r1"})
    rollouts.tick()
    info = rollout_status(rollouts, rid)
    (failure,) = info["failures"]
    assert failure["detail"] == "the run failed: /Stage[main]/Main/Exec[boom]/returns: it broke"
    assert failure["report_id"] == store.report_summaries(CANARY, last=1)[0]["id"]
