"""Tasks in the store, on SQLite and on the real PostgreSQL: claims within the limits (also by two stores
claiming at once, as two masters do), idempotency keys, expiry, cancellation, results stored once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from master.store import Store
from master.tasks.store import OUTPUT_LIMIT, TaskError, TaskSpec, TaskStore
from tests.master.test_store import store_url  # noqa: F401 - the SQLite / PostgreSQL fixture

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
NODES = [f"web{i:02d}" for i in range(10)]


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:  # noqa: F811
    with Store.open(store_url) as opened:
        yield opened


def spec(**kw: object) -> TaskSpec:
    values: dict[str, object] = {"kind": "command", "account": "deploy", "operator": "alice", "max_concurrent": 3,
                                 "timeout": 60.0, "expires_at": T0 + timedelta(hours=1), "command": ("uptime",),
                                 "group": "web"}
    values.update(kw)
    return TaskSpec(**values)  # type: ignore[arg-type]


def everyone(nodes: list[str] = NODES, group: str = "web") -> dict[str, tuple[str | None, str | None]]:
    return {n: (group, None) for n in nodes}


def running(tasks: TaskStore, task_id: int) -> list[str]:
    info = tasks.get(task_id)
    assert info is not None
    return [r["node"] for r in info["runs"] if r["state"] in ("running", "cancelling")]


def test_claims_never_exceed_the_tasks_max_concurrent_and_refill_as_runs_end(store: Store) -> None:
    tasks = TaskStore(store)
    task_id, created = tasks.create(spec(), everyone(), now=T0)
    assert created
    first = tasks.claim(NODES, "m1", now=T0)
    assert [r.node for r in first] == NODES[:3]
    assert first[0].command == ("uptime",) and first[0].account == "deploy"
    assert tasks.claim(NODES, "m1", now=T0) == []  # full: nothing more
    assert tasks.finish(task_id, "web01", "succeeded", exit_code=0, stdout="up\n", duration=0.5, now=T0)
    again = tasks.claim(NODES, "m1", now=T0)
    assert [r.node for r in again] == ["web03"]
    assert sorted(running(tasks, task_id)) == ["web00", "web02", "web03"]
    info = tasks.get(task_id)
    assert info is not None
    web01 = next(r for r in info["runs"] if r["node"] == "web01")
    assert web01["state"] == "succeeded" and web01["stdout"] == "up\n" and web01["exit_code"] == 0
    assert info["operator"] == "alice" and info["account"] == "deploy"


def test_only_connected_nodes_are_claimed(store: Store) -> None:
    tasks = TaskStore(store)
    tasks.create(spec(max_concurrent=10), everyone(), now=T0)
    assert [r.node for r in tasks.claim(["web05", "db01"], "m1", now=T0)] == ["web05"]
    assert sorted(tasks.queued_nodes(NODES)) == sorted(n for n in NODES if n != "web05")


def test_group_and_fleet_limits_hold_across_tasks(store: Store) -> None:
    tasks = TaskStore(store)
    tasks.create(spec(max_concurrent=10), everyone(NODES[:5]), now=T0)
    tasks.create(spec(max_concurrent=10, command=("id",)), everyone(NODES[5:]), now=T0)
    tasks.create(spec(max_concurrent=10, group="db"), everyone(["db01", "db02", "db03"], "db"), now=T0)
    claimed = tasks.claim(NODES + ["db01", "db02", "db03"], "m1", group_limits={"web": 4}, fleet_limit=6, now=T0)
    web = [r for r in claimed if r.node.startswith("web")]
    assert len(web) == 4 and len(claimed) == 6
    assert tasks.claim(NODES + ["db01", "db02", "db03"], "m1", group_limits={"web": 4}, fleet_limit=6, now=T0) == []


def test_two_stores_claiming_at_once_never_send_a_run_twice_nor_exceed_the_limit(store_url: str) -> None:  # noqa: F811
    with Store.open(store_url) as one, Store.open(store_url) as two:
        setup = TaskStore(one)
        task_id, _ = setup.create(spec(max_concurrent=3), everyone(), now=T0)
        claimed: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(8)

        def master(store: Store, name: str) -> None:
            tasks = TaskStore(store)
            barrier.wait()
            for _ in range(5):
                got = tasks.claim(NODES, name, now=T0)
                with lock:
                    claimed.extend(r.node for r in got)

        threads = [threading.Thread(target=master, args=(s, f"m{i}")) for i, s in enumerate([one, two] * 4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(claimed) == 3 and len(set(claimed)) == 3
        assert sorted(running(setup, task_id)) == sorted(claimed)


def test_a_resent_idempotency_key_runs_once_per_node(store: Store) -> None:
    tasks = TaskStore(store)
    task_id, created = tasks.create(spec(idempotency_key="deploy-42"), everyone(NODES[:2]), now=T0)
    assert created
    tasks.claim(NODES, "m1", now=T0)
    tasks.finish(task_id, "web00", "succeeded", exit_code=0, now=T0)
    tasks.finish(task_id, "web01", "succeeded", exit_code=0, now=T0)
    again, created = tasks.create(spec(idempotency_key="deploy-42"), everyone(NODES[:3]), now=T0)
    assert again == task_id and not created
    info = tasks.get(task_id)
    assert info is not None
    assert {r["node"]: r["state"] for r in info["runs"]} == {"web00": "succeeded", "web01": "succeeded",
                                                              "web02": "queued"}
    assert [r.node for r in tasks.claim(NODES, "m1", now=T0)] == ["web02"]  # only the node it lacked
    with pytest.raises(TaskError, match="idempotency key 'deploy-42' was used for task .* use another key"):
        tasks.create(spec(idempotency_key="deploy-42", command=("reboot",)), everyone(), now=T0)
    assert len(tasks.list()) == 1


def test_offline_nodes_get_their_run_until_the_task_expires(store: Store) -> None:
    tasks = TaskStore(store)
    task_id, _ = tasks.create(spec(expires_at=T0 + timedelta(minutes=5)), everyone(NODES[:2]), now=T0)
    assert [r.node for r in tasks.claim(["web00"], "m1", now=T0 + timedelta(minutes=1))] == ["web00"]
    later = T0 + timedelta(minutes=6)
    assert tasks.claim(["web01"], "m1", now=later) == []  # back too late
    assert tasks.expire(now=later) == 1
    info = tasks.get(task_id)
    assert info is not None
    states = {r["node"]: (r["state"], r["reason"]) for r in info["runs"]}
    assert states["web01"] == ("expired", "the node did not connect before the task expired")
    assert states["web00"][0] == "running"  # a run already sent is not expired


def test_a_result_reported_twice_is_stored_once(store: Store) -> None:
    tasks = TaskStore(store)
    task_id, _ = tasks.create(spec(), everyone(["web00"]), now=T0)
    tasks.claim(["web00"], "m1", now=T0)
    assert tasks.finish(task_id, "web00", "failed", exit_code=3, stderr="boom", duration=1.0, now=T0)
    assert not tasks.finish(task_id, "web00", "succeeded", exit_code=0, now=T0 + timedelta(seconds=5))
    info = tasks.get(task_id)
    assert info is not None
    run = info["runs"][0]
    assert (run["state"], run["exit_code"], run["stderr"]) == ("failed", 3, "boom")
    assert not tasks.finish(task_id, "web99", "succeeded", exit_code=0)  # no such run


def test_output_is_bounded(store: Store) -> None:
    tasks = TaskStore(store)
    task_id, _ = tasks.create(spec(), everyone(["web00"]), now=T0)
    tasks.claim(["web00"], "m1", now=T0)
    tasks.finish(task_id, "web00", "succeeded", exit_code=0, stdout="x" * (OUTPUT_LIMIT + 100), stderr="e", now=T0)
    info = tasks.get(task_id)
    assert info is not None
    run = info["runs"][0]
    assert len(run["stdout"]) == OUTPUT_LIMIT and run["stdout_truncated"] and not run["stderr_truncated"]


def test_refused_runs_are_stored_with_their_reason_and_never_sent(store: Store) -> None:
    tasks = TaskStore(store)
    why = "account daemon may not run tasks on web01"
    task_id, _ = tasks.create(spec(account="daemon"), {"web00": ("web", why), "web01": ("web", why)}, now=T0)
    assert tasks.claim(NODES, "m1", now=T0) == []
    info = tasks.get(task_id)
    assert info is not None
    assert [(r["state"], r["reason"]) for r in info["runs"]] == [("refused", why)] * 2
    assert info["states"] == {"refused": 2}


def test_cancel_stops_queued_runs_and_asks_running_ones_to_stop(store: Store) -> None:
    tasks = TaskStore(store)
    task_id, _ = tasks.create(spec(max_concurrent=1), everyone(NODES[:3]), now=T0)
    tasks.claim(NODES, "m1", now=T0)
    assert tasks.cancel(task_id, "bob", now=T0)
    assert not tasks.cancel(task_id + 100, "bob")
    assert tasks.cancelling(NODES) == [(task_id, "web00")]
    assert tasks.claim(NODES, "m1", now=T0) == []
    assert tasks.finish(task_id, "web00", "cancelled", exit_code=137, reason="killed", now=T0)
    info = tasks.get(task_id)
    assert info is not None
    assert info["cancelled_by"] == "bob"
    assert {r["node"]: r["state"] for r in info["runs"]} == {"web00": "cancelled", "web01": "cancelled",
                                                              "web02": "cancelled"}
    assert tasks.cancelling(NODES) == []


def test_a_run_whose_agent_never_reports_fails_after_its_timeout(store: Store) -> None:
    tasks = TaskStore(store)
    task_id, _ = tasks.create(spec(timeout=10.0), everyone(["web00"]), now=T0)
    tasks.claim(["web00"], "m1", now=T0)
    assert tasks.fail_lost(grace=30, now=T0 + timedelta(seconds=20)) == 0
    assert tasks.fail_lost(grace=30, now=T0 + timedelta(seconds=41)) == 1
    info = tasks.get(task_id)
    assert info is not None
    assert info["runs"][0]["state"] == "failed"
    assert info["runs"][0]["reason"] == "no result from the agent within 40s of the start"


def test_a_run_put_back_is_claimed_again(store: Store) -> None:
    tasks = TaskStore(store)
    task_id, _ = tasks.create(spec(), everyone(["web00"]), now=T0)
    tasks.claim(["web00"], "m1", now=T0)
    tasks.unclaim(task_id, "web00")
    assert [r.node for r in tasks.claim(["web00"], "m2", now=T0)] == ["web00"]
    info = tasks.get(task_id)
    assert info is not None and info["runs"][0]["claimed_by"] == "m2"
