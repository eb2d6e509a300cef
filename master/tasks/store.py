"""Tasks in the store: what an operator asked for, and each node's run of it.

A run is ``queued`` until the master holding its node's live channel claims it: one conditional UPDATE
(``queued`` -> ``running``) inside a transaction that first counts the running rows - of the task, of the
node's group and of the fleet - so a limit is never exceeded, and two masters sharing a PostgreSQL store
never both send one run (their claims are serialized by an advisory lock; SQLite writes are serialized
anyway). A run ends ``succeeded``, ``failed``, ``refused``, ``cancelled`` or ``expired`` (still queued
when its task expired: its node did not come back in time). Results are stored once: a run that has
ended ignores a second report of it.

    queued -> running -> succeeded | failed | refused | cancelled
    queued -> cancelled | expired | refused       running -> cancelling (cancel sent) -> cancelled | ...
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from master.store import Store, StoreError
from master.store.documents import now_utc
from master.store.schema import task_runs, tasks

log = logging.getLogger(__name__)

#: a run that holds a concurrency slot
RUNNING = ("running", "cancelling")
FINAL = ("succeeded", "failed", "refused", "cancelled", "expired")
RESULT_STATES = ("succeeded", "failed", "refused", "cancelled")
#: the most bytes of each stream kept per run
OUTPUT_LIMIT = 64 * 1024
_CLAIM_LOCK_KEY = 0x5441534B  # "TASK": serializes the claims (and their slot counts) of all masters


class TaskError(Exception):
    """Something asked of tasks cannot be done (one-line message)."""


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """What an operator asked for."""

    kind: str  # command | module
    account: str
    operator: str
    max_concurrent: int
    timeout: float
    expires_at: datetime
    command: tuple[str, ...] | None = None
    task_name: str | None = None
    params: Mapping[str, Any] | None = None
    environment: str | None = None
    group: str | None = None
    nodes: tuple[str, ...] = ()
    idempotency_key: str | None = None
    operator_role: str | None = None

    def same_request(self, row: Any) -> bool:
        """Whether a stored task asks for the same thing (a re-sent request with its idempotency key)."""
        return (row.kind == self.kind and row.account == self.account
                and list(row.command or []) == list(self.command or []) and row.task_name == self.task_name
                and dict(row.params or {}) == dict(self.params or {}))


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    """A run this master claimed and must now send down its node's live channel."""

    task_id: int
    node: str
    kind: str
    account: str
    timeout: float
    command: tuple[str, ...] | None
    task_name: str | None
    params: dict[str, Any]
    environment: str | None


def _bounded(text: str | None) -> tuple[str | None, bool]:
    if text is None:
        return None, False
    data = text.encode("utf-8", "replace")
    if len(data) <= OUTPUT_LIMIT:
        return text, False
    return data[:OUTPUT_LIMIT].decode("utf-8", "ignore"), True


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class TaskStore:
    """Tasks and their runs in the master's store (SQLite or PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._postgres = store.engine.dialect.name == "postgresql"

    # -- creating ----------------------------------------------------------------------------------------
    def create(self, spec: TaskSpec, nodes: Mapping[str, tuple[str | None, str | None]], *,
               now: datetime | None = None) -> tuple[int, bool]:
        """Record ``spec`` with one run per node of ``nodes`` (node -> (its group, why it is refused or
        None)); returns (task id, created). A spec whose idempotency key names a stored task adds no
        task: the stored one gets runs for the nodes it lacks (each node runs it once), and a different
        request under the same key is refused."""
        at = now or now_utc()
        insert = pg_dialect.insert if self._postgres else sqlite_dialect.insert

        def runs_of(task_id: int) -> list[dict[str, Any]]:
            return [{"task_id": task_id, "node": node, "group_name": group,
                     "state": "refused" if reason else "queued", "reason": reason, "queued_at": at,
                     "ended_at": at if reason else None} for node, (group, reason) in sorted(nodes.items())]

        def work(conn: Connection) -> tuple[int, bool]:
            created = True
            row = None
            if spec.idempotency_key:
                row = conn.execute(sa.select(tasks).where(tasks.c.idempotency_key == spec.idempotency_key)).first()
            if row is not None:
                if not spec.same_request(row):
                    raise TaskError(f"idempotency key {spec.idempotency_key!r} was used for task {row.id}, which "
                                    "asked for something else; use another key")
                task_id, created = int(row.id), False
            else:
                task_id = int(conn.execute(sa.insert(tasks).values(
                    kind=spec.kind, command=list(spec.command) if spec.command is not None else None,
                    task_name=spec.task_name, params=dict(spec.params or {}), environment=spec.environment,
                    account=spec.account, scope={"group": spec.group, "nodes": list(spec.nodes)},
                    group_name=spec.group, max_concurrent=spec.max_concurrent, timeout=spec.timeout,
                    expires_at=spec.expires_at, idempotency_key=spec.idempotency_key or None,
                    operator=spec.operator, operator_role=spec.operator_role, created_at=at,
                ).returning(tasks.c.id)).scalar_one())
            rows = runs_of(task_id)
            if rows:
                conn.execute(insert(task_runs).on_conflict_do_nothing(
                    index_elements=[task_runs.c.task_id, task_runs.c.node]), rows)
            return task_id, created

        try:
            return self.store._run("create task", work, write=True)
        except StoreError as exc:
            if isinstance(exc.__cause__, IntegrityError) and spec.idempotency_key:
                # another master stored the same key at the same moment: the request is now a re-send
                return self.store._run("create task", work, write=True)
            raise

    # -- delivering ---------------------------------------------------------------------------------------
    def queued_nodes(self, nodes: list[str]) -> list[str]:
        """Which of ``nodes`` have a queued run (one indexed read: the masters poll it)."""
        if not nodes:
            return []

        def work(conn: Connection) -> list[str]:
            return [r.node for r in conn.execute(sa.select(task_runs.c.node).distinct().where(
                task_runs.c.state == "queued", task_runs.c.node.in_(nodes))).all()]

        return self.store._run("queued task runs", work)

    def claim(self, nodes: list[str], owner: str, *, fleet_limit: int | None = None,
              group_limits: Mapping[str, int] | None = None, now: datetime | None = None) -> list[ClaimedRun]:
        """Claim the queued runs of ``nodes`` that fit the limits (the task's ``max_concurrent``, the
        node group's, the fleet's ``fleet_limit``), oldest task first; they are ``running`` from now."""
        waiting = self.queued_nodes(nodes)
        if not waiting:
            return []
        limits = dict(group_limits or {})

        def work(conn: Connection) -> list[ClaimedRun]:
            if self._postgres:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CLAIM_LOCK_KEY})
            at = now or now_utc()
            r, t = task_runs, tasks
            candidates = conn.execute(
                sa.select(r.c.task_id, r.c.node, r.c.group_name, t.c.kind, t.c.account, t.c.timeout, t.c.command,
                          t.c.task_name, t.c.params, t.c.environment, t.c.max_concurrent)
                .select_from(r.join(t, t.c.id == r.c.task_id))
                .where(r.c.state == "queued", r.c.node.in_(waiting), t.c.cancelled_at.is_(None),
                       t.c.expires_at > at)
                .order_by(r.c.task_id, r.c.node)).all()
            if not candidates:
                return []
            running = sa.select(r.c.task_id, r.c.group_name).where(r.c.state.in_(RUNNING))
            per_task: dict[int, int] = {}
            per_group: dict[str | None, int] = {}
            total = 0
            for row in conn.execute(running).all():
                per_task[row.task_id] = per_task.get(row.task_id, 0) + 1
                per_group[row.group_name] = per_group.get(row.group_name, 0) + 1
                total += 1
            # Taken after the count: a run that ended before it has an earlier end than these starts, so the
            # stored timeline shows the limit as it was enforced.
            started = now or now_utc()
            claimed: list[ClaimedRun] = []
            busy: set[str] = set()
            for c in candidates:
                if fleet_limit is not None and total >= fleet_limit:
                    break
                if c.node in busy or per_task.get(c.task_id, 0) >= c.max_concurrent:
                    continue
                group_limit = limits.get(c.group_name) if c.group_name is not None else None
                if group_limit is not None and per_group.get(c.group_name, 0) >= group_limit:
                    continue
                done = conn.execute(sa.update(r).where(r.c.task_id == c.task_id, r.c.node == c.node,
                                                       r.c.state == "queued")
                                    .values(state="running", claimed_by=owner, started_at=started))
                if done.rowcount != 1:
                    continue
                busy.add(c.node)  # one new run per node per claim: its next one goes when a slot is free
                per_task[c.task_id] = per_task.get(c.task_id, 0) + 1
                per_group[c.group_name] = per_group.get(c.group_name, 0) + 1
                total += 1
                claimed.append(ClaimedRun(int(c.task_id), c.node, c.kind, c.account, float(c.timeout),
                                          tuple(c.command) if c.command is not None else None, c.task_name,
                                          dict(c.params or {}), c.environment))
            return claimed

        return self.store._run("claim task runs", work, write=True)

    def unclaim(self, task_id: int, node: str) -> None:
        """Put a claimed run back in the queue (its channel closed before it was sent)."""
        def work(conn: Connection) -> None:
            conn.execute(sa.update(task_runs).where(task_runs.c.task_id == task_id, task_runs.c.node == node,
                                                    task_runs.c.state == "running")
                         .values(state="queued", claimed_by=None, started_at=None))

        self.store._run("unclaim task run", work, write=True)

    def fail_run(self, task_id: int, node: str, reason: str, *, now: datetime | None = None) -> None:
        """End a claimed run the master could not send (its module task cannot be found, ...)."""
        self.finish(task_id, node, "failed", reason=reason, now=now)

    def finish(self, task_id: int, node: str, state: str, *, exit_code: int | None = None,
               stdout: str | None = None, stderr: str | None = None, stdout_truncated: bool = False,
               stderr_truncated: bool = False, duration: float | None = None, reason: str | None = None,
               now: datetime | None = None) -> bool:
        """Store a run's result; False when it was stored already (or the run is not running): a
        result reported twice is stored once."""
        if state not in RESULT_STATES:
            raise TaskError(f"unknown task run state {state!r}")
        out, out_cut = _bounded(stdout)
        err, err_cut = _bounded(stderr)

        def work(conn: Connection) -> bool:
            at = now or now_utc()  # inside the transaction: before any claim that sees this run ended
            done = conn.execute(sa.update(task_runs).where(
                task_runs.c.task_id == task_id, task_runs.c.node == node, task_runs.c.state.in_(RUNNING))
                .values(state=state, exit_code=exit_code, stdout=out, stderr=err,
                        stdout_truncated=stdout_truncated or out_cut, stderr_truncated=stderr_truncated or err_cut,
                        duration=duration, reason=reason, ended_at=at))
            return bool(done.rowcount == 1)

        return self.store._run("task result", work, write=True)

    def expire(self, *, now: datetime | None = None) -> int:
        """Runs still queued when their task expired end ``expired``; returns how many."""
        at = now or now_utc()

        def work(conn: Connection) -> int:
            expired = sa.select(tasks.c.id).where(tasks.c.expires_at <= at).scalar_subquery()
            done = conn.execute(sa.update(task_runs).where(task_runs.c.state == "queued",
                                                           task_runs.c.task_id.in_(expired))
                                .values(state="expired", ended_at=at,
                                        reason="the node did not connect before the task expired"))
            return int(done.rowcount or 0)

        return self.store._run("expire task runs", work, write=True)

    def fail_lost(self, *, grace: float = 30.0, now: datetime | None = None) -> int:
        """Runs with no result long after their timeout (the agent went away mid-run) end ``failed``."""
        at = now or now_utc()

        def work(conn: Connection) -> int:
            rows = conn.execute(sa.select(task_runs.c.task_id, task_runs.c.node, task_runs.c.started_at,
                                          tasks.c.timeout)
                                .select_from(task_runs.join(tasks, tasks.c.id == task_runs.c.task_id))
                                .where(task_runs.c.state.in_(RUNNING))).all()
            lost = 0
            for row in rows:
                if row.started_at is None or row.started_at + timedelta(seconds=row.timeout + grace) > at:
                    continue
                done = conn.execute(sa.update(task_runs).where(
                    task_runs.c.task_id == row.task_id, task_runs.c.node == row.node,
                    task_runs.c.state.in_(RUNNING)).values(
                    state="failed", ended_at=at,
                    reason=f"no result from the agent within {row.timeout + grace:g}s of the start"))
                lost += int(done.rowcount or 0)
            return lost

        return self.store._run("fail lost task runs", work, write=True)

    def cancel(self, task_id: int, by: str, *, now: datetime | None = None) -> bool:
        """Cancel a task: its queued runs end ``cancelled``, its running ones become ``cancelling`` (the
        master holding the node's channel tells the agent to kill it). False: no such task."""
        at = now or now_utc()

        def work(conn: Connection) -> bool:
            if conn.execute(sa.select(tasks.c.id).where(tasks.c.id == task_id)).first() is None:
                return False
            conn.execute(sa.update(tasks).where(tasks.c.id == task_id, tasks.c.cancelled_at.is_(None))
                         .values(cancelled_at=at, cancelled_by=by))
            conn.execute(sa.update(task_runs).where(task_runs.c.task_id == task_id, task_runs.c.state == "queued")
                         .values(state="cancelled", ended_at=at, reason=f"cancelled by {by} before it started"))
            conn.execute(sa.update(task_runs).where(task_runs.c.task_id == task_id, task_runs.c.state == "running")
                         .values(state="cancelling"))
            return True

        return self.store._run("cancel task", work, write=True)

    def cancelling(self, nodes: list[str]) -> list[tuple[int, str]]:
        """(task id, node) of the runs of ``nodes`` waiting for their agent to kill them."""
        if not nodes:
            return []

        def work(conn: Connection) -> list[tuple[int, str]]:
            return [(int(r.task_id), r.node) for r in conn.execute(sa.select(task_runs.c.task_id, task_runs.c.node)
                                                                  .where(task_runs.c.state == "cancelling",
                                                                         task_runs.c.node.in_(nodes))).all()]

        return self.store._run("cancelling task runs", work)

    # -- reading ---------------------------------------------------------------------------------------------
    def get(self, task_id: int) -> dict[str, Any] | None:
        """The task and its runs (with their output), or None."""
        def work(conn: Connection) -> dict[str, Any] | None:
            row = conn.execute(sa.select(tasks).where(tasks.c.id == task_id)).first()
            if row is None:
                return None
            runs = conn.execute(sa.select(task_runs).where(task_runs.c.task_id == task_id)
                                .order_by(task_runs.c.node)).all()
            return _describe(row, [_run_dict(r) for r in runs])

        return self.store._run("get task", work)

    def list(self, *, last: int = 50) -> list[dict[str, Any]]:
        """The newest ``last`` tasks, newest first, each with its runs counted by state (no output)."""
        def work(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(sa.select(tasks).order_by(tasks.c.id.desc()).limit(max(1, last))).all()
            if not rows:
                return []
            counts: dict[int, dict[str, int]] = {}
            for c in conn.execute(sa.select(task_runs.c.task_id, task_runs.c.state, sa.func.count())
                                  .where(task_runs.c.task_id.in_([r.id for r in rows]))
                                  .group_by(task_runs.c.task_id, task_runs.c.state)).all():
                counts.setdefault(int(c[0]), {})[c[1]] = int(c[2])
            return [{**_describe(r, None), "states": counts.get(int(r.id), {})} for r in rows]

        return self.store._run("list tasks", work)


def _run_dict(r: Any) -> dict[str, Any]:
    return {"node": r.node, "group": r.group_name, "state": r.state, "reason": r.reason,
            "claimed_by": r.claimed_by, "queued_at": _iso(r.queued_at), "started_at": _iso(r.started_at),
            "ended_at": _iso(r.ended_at), "exit_code": r.exit_code, "duration": r.duration,
            "stdout": r.stdout or "", "stderr": r.stderr or "", "stdout_truncated": bool(r.stdout_truncated),
            "stderr_truncated": bool(r.stderr_truncated)}


def _describe(row: Any, runs: list[dict[str, Any]] | None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "id": int(row.id), "kind": row.kind, "command": list(row.command) if row.command is not None else None,
        "task": row.task_name, "params": dict(row.params or {}), "environment": row.environment,
        "account": row.account, "scope": dict(row.scope or {}), "group": row.group_name,
        "max_concurrent": row.max_concurrent, "timeout": row.timeout, "expires_at": _iso(row.expires_at),
        "idempotency_key": row.idempotency_key, "operator": row.operator, "operator_role": row.operator_role,
        "created_at": _iso(row.created_at), "cancelled_at": _iso(row.cancelled_at), "cancelled_by": row.cancelled_by,
    }
    if runs is not None:
        info["runs"] = runs
        states: dict[str, int] = {}
        for run in runs:
            states[run["state"]] = states.get(run["state"], 0) + 1
        info["states"] = states
    return info
