"""Rollouts: a release (a commit of an environment) reaches the fleet wave by wave.

State lives in the store, so a restarted master resumes where it was, and with several masters on
one PostgreSQL store exactly one drives a given rollout: the holder of its lease. ``tick()`` is
idempotent: it reads the state, judges the nodes that ran, and starts the next ones.

    rollout: running -> completed | halted | aborted ; halted/running -> rolling_back -> rolled_back
             halted -> running (``retry``: its failed nodes start again, from the earliest wave with one)
    node:    pending -> triggered -> succeeded | failed     (deferred: offline, gets it at its next run)
             failed -> pending (retry)
             ... -> rollback_pending -> rolling_back -> rolled_back | rollback_failed

A node succeeds when a report for the release, made after it was triggered, says it applied without
failures and its health checks passed; it fails on a failed or unhealthy report, or when no report
arrives within the health timeout. A Bunraku agent that says it is disabled (``bunraku agent --disable``,
on its live channel) fails at once when its turn comes, or while the rollout waits for its run ("agent
disabled: <reason>"). Fleet-wide, at most ``max_concurrent`` nodes are triggered at once.

Puppet agents (nodes whose newest report Puppet wrote, or, before any report, whose facts are a Puppet
agent's) have no live channel and cannot be triggered: their release is assigned all the same, the
node stays in flight ("waiting for its next run (Puppet agent, runs every ~30m)", the interval between
its last two reports) and is judged by the first report it sends after the assignment (Puppet dates a
report from the start of its run: one begun up to PUPPET_RUN_SLACK earlier counts when its ``code_id``
is the release's). Such a report is healthy when it is for the assigned release, not a noop run, its
status is not ``failed``, its transaction completed and the catalog it applied was the master's (not
its cache after a failed catalog request); it cannot run Bunraku's health checks. The wave's health
timeout applies to it as to any node: it must be longer than the agents' run interval. A waiting
Puppet agent holds one of the ``max_concurrent`` slots.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from master.rollout.plan import PlanError, RolloutOptions, failure_budget, plan_waves
from master.store import Store
from master.store.documents import parse_time
from master.store.schema import node_releases, rollout_nodes, rollout_timeline, rollouts

log = logging.getLogger(__name__)

ACTIVE = ("running", "rolling_back")
FINAL = ("completed", "halted", "aborted", "rolled_back")
IN_FLIGHT = ("triggered", "rolling_back")
_LOCK_KEY = 0x524F4C4C  # "ROLL": serializes fleet-wide slot accounting on PostgreSQL


class RolloutError(Exception):
    """Something an operator asked for cannot be done (one-line message)."""


class Dispatcher(Protocol):
    def trigger(self, node: str) -> bool:
        """Ask ``node`` to run now; False when it is not connected to any master (it runs at its next timer
        run). With several masters, one whose hub does not hold the node's channel asks the master that
        does (:class:`master.notify.FleetDispatcher`).

        A dispatcher may also take ``mode="incremental"`` (rollouts started with ``incremental``)."""


class NoDispatcher:
    def trigger(self, node: str, mode: str = "full") -> bool:
        return False


def _now() -> datetime:
    return datetime.now(UTC)


class Rollouts:
    def __init__(self, store: Store, *, dispatcher: Dispatcher | None = None,
                 clock: Callable[[], datetime] = _now, owner: str | None = None,
                 lease_seconds: float = 30.0) -> None:
        self.store = store
        self.dispatcher = dispatcher or NoDispatcher()
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = timedelta(seconds=lease_seconds)
        #: (node, code_id) -> (when, error) of this master's failed compiles of a release: a node whose
        #: catalog does not compile falls back to its cached catalog and would only time out the wave
        self._compile_failures: dict[tuple[str, str], tuple[datetime, str]] = {}
        self._failures_lock = threading.Lock()
        #: what the agents said of themselves on their live channel (disabled, and why)
        self.agents = AgentStates()

    def note_compile_failure(self, node: str, code_id: str, error: str) -> None:
        """``node``'s catalog at ``code_id`` failed to compile (its rollout fails it at once)."""
        with self._failures_lock:
            if len(self._compile_failures) > 10000:
                self._compile_failures.clear()
            self._compile_failures[(node, code_id)] = (self.clock(), error)

    # -- queries -------------------------------------------------------------------------------------
    def assigned_release(self, node: str, environment: str) -> str | None:
        def work(conn: Connection) -> str | None:
            row = conn.execute(sa.select(node_releases.c.code_id).where(
                node_releases.c.node == node, node_releases.c.environment == environment)).first()
            return None if row is None else str(row.code_id)
        return self.store._run("assigned release", work)

    def pin_release(self, node: str, environment: str, code_id: str) -> str:
        """Record ``code_id`` as ``node``'s release unless it has one already; return its release."""
        now = self.clock()

        def work(conn: Connection) -> str:
            row = conn.execute(sa.select(node_releases.c.code_id).where(
                node_releases.c.node == node, node_releases.c.environment == environment)).first()
            if row is not None:
                return str(row.code_id)
            conn.execute(sa.insert(node_releases).values(node=node, environment=environment, code_id=code_id,
                                                         assigned_at=now))
            return code_id

        return self.store._run("pin release", work, write=True)

    def expected_run(self, node: str) -> tuple[int, str] | None:
        """(rollout id, apply mode) when an active rollout waits for a run of ``node`` (it was triggered
        and has not reported yet), so a reconnecting agent can be told again."""
        def work(conn: Connection) -> tuple[int, str] | None:
            row = conn.execute(sa.select(rollouts.c.id, rollouts.c.options, rollout_nodes.c.state)
                               .select_from(rollout_nodes.join(rollouts, rollouts.c.id == rollout_nodes.c.rollout_id))
                               .where(rollout_nodes.c.node == node, rollout_nodes.c.state.in_(IN_FLIGHT),
                                      rollouts.c.state.in_(ACTIVE))
                               .order_by(rollouts.c.id.desc())).first()
            if row is None:
                return None
            return int(row.id), _mode(row.options, row.state == "rolling_back")
        return self.store._run("expected run", work)

    def get(self, rollout_id: int) -> dict[str, Any]:
        def work(conn: Connection) -> dict[str, Any]:
            row = conn.execute(sa.select(rollouts).where(rollouts.c.id == rollout_id)).first()
            if row is None:
                raise RolloutError(f"no rollout {rollout_id}")
            nodes = conn.execute(sa.select(rollout_nodes).where(rollout_nodes.c.rollout_id == rollout_id)
                                 .order_by(rollout_nodes.c.wave, rollout_nodes.c.node)).all()
            return _describe(row, nodes)
        return self.store._run("get rollout", work)

    def list_all(self) -> list[dict[str, Any]]:
        """Every rollout, newest first, each with its ``progress`` (its nodes counted by state and health,
        its number of waves) but not its nodes."""
        def work(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(sa.select(rollouts).order_by(rollouts.c.id.desc())).all()
            n = rollout_nodes.c
            counts = conn.execute(sa.select(n.rollout_id, n.state, n.health, sa.func.count().label("n"),
                                            sa.func.max(n.wave).label("last_wave"))
                                  .group_by(n.rollout_id, n.state, n.health)).all()
            tallies: dict[int, list[tuple[str, str | None, int, int]]] = {}
            for c in counts:
                tallies.setdefault(int(c.rollout_id), []).append((c.state, c.health, int(c.n), int(c.last_wave)))
            out = []
            for r in rows:
                info = _describe(r, None)
                info["progress"] = _progress(tallies.get(int(r.id), []))
                out.append(info)
            return out
        return self.store._run("list rollouts", work)

    def timeline(self, rollout_id: int) -> list[dict[str, Any]]:
        def work(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(sa.select(rollout_timeline).where(rollout_timeline.c.rollout_id == rollout_id)
                                .order_by(rollout_timeline.c.id)).all()
            return [{"at": r.at.isoformat(), "kind": r.kind, "node": r.node,
                     "detail": json.loads(r.detail) if r.detail else None} for r in rows]
        return self.store._run("rollout timeline", work)

    # -- operator commands ---------------------------------------------------------------------------
    def nodes_in_scope(self, environment: str, group: str | None = None) -> list[str]:
        """The nodes a rollout of ``environment`` (and ``group``) covers: those last seen in it."""
        return [s.name for s in self.store.node_statuses()
                if s.environment in (environment, None) and (group is None or s.group == group)]

    def start(self, code_id: str, environment: str, *, options: RolloutOptions, group: str | None = None,
              nodes: list[str] | None = None, created_by: str | None = None,
              previous: dict[str, str] | None = None) -> int:
        """Start rolling ``code_id`` out; ``previous``: what each node goes back to on rollback when no
        earlier rollout assigned it anything (an agent upgrade: the version it runs)."""
        if not code_id:
            raise RolloutError("a rollout needs a release (a commit)")
        if nodes is None:
            nodes = self.nodes_in_scope(environment, group)
        waves = plan_waves(nodes, options)
        if not waves:
            where = f"group {group} of " if group else ""
            raise RolloutError(f"no nodes in {where}environment {environment} to roll {code_id} out to")
        now = self.clock()

        def work(conn: Connection) -> int:
            busy = conn.execute(sa.select(rollouts.c.id).where(
                rollouts.c.environment == environment, rollouts.c.state.in_(ACTIVE + ("paused",)),
                (rollouts.c.group_name == group) if group else sa.true())).first()
            if busy is not None:
                raise RolloutError(f"rollout {busy.id} is still active in environment {environment}; "
                                   "pause, abort or wait for it first")
            inserted = conn.execute(sa.insert(rollouts).values(
                code_id=code_id, environment=environment, group_name=group, options=options.to_dict(),
                state="running", current_wave=0, created_by=created_by, created_at=now,
                updated_at=now)).inserted_primary_key
            assert inserted is not None
            rid = inserted[0]
            current = {r.node: r.code_id for r in conn.execute(sa.select(node_releases).where(
                node_releases.c.environment == environment)).all()}
            conn.execute(sa.insert(rollout_nodes), [
                {"rollout_id": rid, "node": n, "wave": w, "state": "pending",
                 "previous_code_id": current.get(n) or (previous or {}).get(n)}
                for w, wave in enumerate(waves) for n in wave])
            _event(conn, rid, now, "started", None, {"code_id": code_id, "environment": environment,
                                                     "group": group, "waves": [len(w) for w in waves],
                                                     "options": options.to_dict(), "by": created_by})
            return int(rid)

        rid = self.store._run("start rollout", work, write=True)
        log.info("rollout %d: %s to %d nodes of %s in %d waves", rid, code_id, sum(map(len, waves)),
                 environment, len(waves))
        return rid

    def pause(self, rollout_id: int, by: str | None = None) -> None:
        self._transition(rollout_id, ("running",), "paused", "paused", by)

    def resume(self, rollout_id: int, by: str | None = None) -> None:
        self._transition(rollout_id, ("paused",), "running", "resumed", by)

    def retry(self, rollout_id: int, by: str | None = None) -> list[str]:
        """Start the failed nodes of a halted rollout again (their cause fixed): they are pending once more,
        the rollout runs from the earliest wave that has one, and waves already done pass at once.
        Returns the nodes retried."""
        now = self.clock()

        def work(conn: Connection) -> list[str]:
            row = _row(conn, rollout_id)
            if row.state != "halted":
                raise RolloutError(f"rollout {rollout_id} is {row.state}; only a halted rollout can be retried"
                                   + ("" if row.state in FINAL else
                                      f" (`bunraku rollout status {rollout_id}` shows how it is going)"))
            failed = conn.execute(sa.select(rollout_nodes.c.node, rollout_nodes.c.wave).where(
                rollout_nodes.c.rollout_id == rollout_id, rollout_nodes.c.state == "failed")
                .order_by(rollout_nodes.c.node)).all()
            if not failed:
                raise RolloutError(f"rollout {rollout_id} has no failed node to retry; start a new rollout")
            conn.execute(sa.update(rollout_nodes).where(
                rollout_nodes.c.rollout_id == rollout_id, rollout_nodes.c.state == "failed").values(
                state="pending", triggered_at=None, finished_at=None, health=None, detail=None))
            conn.execute(sa.update(rollouts).where(rollouts.c.id == rollout_id).values(
                state="running", current_wave=min(int(f.wave) for f in failed), wave_done_at=None, reason=None,
                updated_at=now))
            names = [str(f.node) for f in failed]
            _event(conn, rollout_id, now, "retried", None, {"by": by, "nodes": names})
            return names

        return self.store._run("retry", work, write=True)

    def abort(self, rollout_id: int, by: str | None = None) -> None:
        self._transition(rollout_id, ("running", "paused", "halted"), "aborted", "aborted", by)

    def rollback(self, rollout_id: int, by: str | None = None, reason: str = "requested") -> None:
        now = self.clock()

        def work(conn: Connection) -> None:
            row = _row(conn, rollout_id)
            if row.state not in ("running", "paused", "halted", "completed", "aborted"):
                raise RolloutError(f"rollout {rollout_id} is {row.state}; it cannot be rolled back")
            _begin_rollback(conn, row, now, reason, by)

        self.store._run("roll back", work, write=True)

    def _transition(self, rollout_id: int, allowed: tuple[str, ...], to: str, kind: str, by: str | None) -> None:
        now = self.clock()

        def work(conn: Connection) -> None:
            row = _row(conn, rollout_id)
            if row.state not in allowed:
                raise RolloutError(f"rollout {rollout_id} is {row.state}; it cannot be {kind}"
                                   + _what_instead(rollout_id, row.state, kind))
            conn.execute(sa.update(rollouts).where(rollouts.c.id == rollout_id).values(state=to, updated_at=now))
            _event(conn, rollout_id, now, kind, None, {"by": by})

        self.store._run(kind, work, write=True)

    # -- driving -------------------------------------------------------------------------------------
    def acquire_lease(self, rollout_id: int) -> bool:
        now = self.clock()

        def work(conn: Connection) -> bool:
            result = conn.execute(sa.update(rollouts).where(
                rollouts.c.id == rollout_id,
                sa.or_(rollouts.c.lease_owner.is_(None), rollouts.c.lease_owner == self.owner,
                       rollouts.c.lease_until < now),
            ).values(lease_owner=self.owner, lease_until=now + self.lease))
            return bool(result.rowcount == 1)

        return self.store._run("rollout lease", work, write=True)

    def tick(self) -> None:
        """Advance every active rollout whose lease this master holds (or can take)."""
        def active(conn: Connection) -> list[int]:
            return [int(r.id) for r in conn.execute(sa.select(rollouts.c.id).where(
                rollouts.c.state.in_(ACTIVE)).order_by(rollouts.c.id)).all()]

        for rid in self.store._run("active rollouts", active):
            if self.acquire_lease(rid):
                self.tick_one(rid)

        def finished_with_deferred(conn: Connection) -> list[int]:
            recent = self.clock() - timedelta(days=1)
            return [int(r.rollout_id) for r in conn.execute(
                sa.select(rollout_nodes.c.rollout_id).distinct().join(
                    rollouts, rollouts.c.id == rollout_nodes.c.rollout_id).where(
                    rollout_nodes.c.state == "deferred", rollouts.c.state.in_(FINAL + ("paused",)),
                    rollouts.c.updated_at > recent)).all()]

        for rid in self.store._run("deferred nodes", finished_with_deferred):
            if self.acquire_lease(rid):
                self._judge(rid)

    def tick_one(self, rollout_id: int) -> None:
        self._judge(rollout_id)
        to_trigger = self.store._run("advance rollout", lambda conn: self._advance(conn, rollout_id), write=True)
        disabled = {n: why for n, _mode in to_trigger if (why := self.agents.disabled(n)) is not None}
        if disabled:
            self._fail_disabled(rollout_id, disabled)
        to_trigger = [(n, mode) for n, mode in to_trigger if n not in disabled]
        puppet = {n: runs for n, _mode in to_trigger if (runs := self.puppet_runs(n)) is not None}
        if puppet:
            self._wait_for_puppet_agents(rollout_id, puppet)
        offline = [n for n, mode in to_trigger if n not in puppet and not self._trigger(n, mode)]
        if offline:
            now = self.clock()

            def defer(conn: Connection) -> None:
                for node in offline:
                    res = conn.execute(sa.update(rollout_nodes).where(
                        rollout_nodes.c.rollout_id == rollout_id, rollout_nodes.c.node == node,
                        rollout_nodes.c.state == "triggered").values(state="deferred", finished_at=now,
                                                                    detail="offline: gets the release at its "
                                                                           "next run"))
                    if res.rowcount:
                        _event(conn, rollout_id, now, "deferred", node, None)

            self.store._run("defer offline nodes", defer, write=True)

    def puppet_runs(self, node: str) -> PuppetRuns | None:
        """How ``node`` runs when it is a Puppet agent (it cannot be triggered); None for other nodes.
        A Puppet agent is a node whose newest report Puppet wrote (``puppet_version`` a Puppet version,
        where Bunraku's agent writes ``bunraku ...``), or, with no report yet, whose stored facts are
        those a Puppet agent sends (``clientversion``, no ``bunraku_version``)."""
        try:
            reports = self.store.reports(node, last=2)
            if reports:
                if not written_by_puppet(reports[0]):
                    return None
                times = [parse_time(r.get("time")) for r in reports]
                interval = None
                if len(times) == 2 and times[0] is not None and times[1] is not None and times[0] > times[1]:
                    interval = (times[0] - times[1]).total_seconds()
                return PuppetRuns(interval)
            facts = self.store.get_facts(node)
        except Exception as exc:  # noqa: BLE001 - unknown: treated as any node (triggered, or deferred)
            log.warning("rollout: cannot tell how %s runs: %s", node, exc)
            return None
        if isinstance(facts, dict) and isinstance(facts.get("values"), dict):
            facts = facts["values"]
        if isinstance(facts, dict) and "clientversion" in facts and "bunraku_version" not in facts:
            return PuppetRuns(None)
        return None

    def _wait_for_puppet_agents(self, rollout_id: int, nodes: dict[str, PuppetRuns]) -> None:
        """Say in each Puppet agent's row that the rollout waits for its next run (no trigger exists)."""
        info = self.get(rollout_id)
        timeout = RolloutOptions.from_dict(info["options"]).health_timeout

        def work(conn: Connection) -> None:
            for node, runs in nodes.items():
                conn.execute(sa.update(rollout_nodes).where(
                    rollout_nodes.c.rollout_id == rollout_id, rollout_nodes.c.node == node,
                    rollout_nodes.c.state.in_(IN_FLIGHT)).values(detail=runs.waiting(timeout)))

        self.store._run("wait for puppet agents", work, write=True)

    def _fail_disabled(self, rollout_id: int, nodes: dict[str, str]) -> None:
        """Nodes whose agent is disabled: triggering them would be a run skipped; fail them now, saying why."""
        now = self.clock()

        def work(conn: Connection) -> None:
            for node, why in nodes.items():
                row = conn.execute(sa.select(rollout_nodes.c.state).where(
                    rollout_nodes.c.rollout_id == rollout_id, rollout_nodes.c.node == node)).first()
                if row is None or row.state not in IN_FLIGHT:
                    continue
                state = "rollback_failed" if row.state == "rolling_back" else "failed"
                detail = disabled_detail(why)
                conn.execute(sa.update(rollout_nodes).where(
                    rollout_nodes.c.rollout_id == rollout_id, rollout_nodes.c.node == node).values(
                    state=state, detail=detail, finished_at=now))
                _event(conn, rollout_id, now, state, node, {"health": None, "detail": detail})

        self.store._run("fail disabled agents", work, write=True)  # the next tick weighs the failures

    def _trigger(self, node: str, mode: str = "full") -> bool:
        try:
            if mode != "full":
                return bool(self.dispatcher.trigger(node, mode=mode))  # type: ignore[call-arg]
            return bool(self.dispatcher.trigger(node))
        except Exception as exc:  # noqa: BLE001 - a node we cannot reach is an offline node
            log.warning("rollout: cannot trigger %s: %s", node, exc)
            return False

    def _judge(self, rollout_id: int) -> None:
        """Turn in-flight nodes into succeeded/failed from their reports (read outside the write lock)."""
        info = self.get(rollout_id)
        timeout = timedelta(seconds=RolloutOptions.from_dict(info["options"]).health_timeout)
        now = self.clock()
        verdicts: list[tuple[str, str, str | None, str]] = []
        # an application version (environment artifact:APP): any run after the assignment fetched a catalog
        # pinning it, and its report's code_id is the environment's commit, not the version
        artifact = str(info["environment"]).startswith("artifact:")
        app = str(info["environment"])[len("artifact:"):]
        agent = str(info["environment"]).startswith("agent:")
        for node in info["nodes"]:
            if node["state"] == "deferred":
                # offline when its wave ran: it takes the release at its next run; say how that went
                since = parse_time(node["triggered_at"])
                if since is None:
                    late = None
                elif agent:
                    late = self._agent_verdict(node["name"], info["code_id"], since)
                else:
                    late = self._verdict(node["name"], None if artifact else info["code_id"], since,
                                         release=(app, info["code_id"]) if artifact else None)
                if late is not None:
                    ok, health, detail = late
                    verdicts.append((node["name"], "succeeded" if ok else "failed", health,
                                     f"at its next run: {detail}"))
                continue
            if node["state"] not in IN_FLIGHT:
                continue
            rolling_back = node["state"] == "rolling_back"
            want = None if artifact else node["previous_code_id"] if rolling_back else info["code_id"]
            since = parse_time(node["triggered_at"])
            assert since is not None
            if agent:
                verdict = self._agent_verdict(node["name"], node["previous_code_id"] if rolling_back
                                              else info["code_id"], since)
            elif artifact:  # the version it should run: the rollout's, or (rolling back) the one it had
                verdict = self._verdict(node["name"], None, since, release=(
                    app, node["previous_code_id"] if rolling_back else info["code_id"]))
            else:
                verdict = self._verdict(node["name"], want, since)
            if verdict is None:
                disabled = self.agents.disabled(node["name"])
                if disabled is not None:
                    verdicts.append((node["name"], "rollback_failed" if rolling_back else "failed", None,
                                     disabled_detail(disabled)))
                elif now - since > timeout:
                    why = f"no report within {timeout.total_seconds():g}s"
                    if (node["detail"] or "").startswith(PUPPET_WAITING):
                        why += (" (Puppet agent: it runs only on its own schedule; give --health-timeout "
                                "longer than its run interval)")
                    verdicts.append((node["name"], "rollback_failed" if rolling_back else "failed", None, why))
                continue
            ok, health, detail = verdict
            if rolling_back:
                verdicts.append((node["name"], "rolled_back" if ok else "rollback_failed", health, detail))
            else:
                verdicts.append((node["name"], "succeeded" if ok else "failed", health, detail))
        if not verdicts:
            return

        def work(conn: Connection) -> None:
            for name, state, health, detail in verdicts:
                conn.execute(sa.update(rollout_nodes).where(
                    rollout_nodes.c.rollout_id == rollout_id, rollout_nodes.c.node == name,
                    rollout_nodes.c.state.in_(IN_FLIGHT + ("deferred",))).values(
                    state=state, health=health, detail=detail, finished_at=now))
                _event(conn, rollout_id, now, state, name, {"health": health, "detail": detail})

        self.store._run("judge rollout nodes", work, write=True)

    def _verdict(self, node: str, code_id: str | None, since: datetime,
                 release: tuple[str, str | None] | None = None) -> tuple[bool, str | None, str] | None:
        """``node``'s first run after ``since`` for ``code_id`` (None: any), or for an application
        version (``release``: app, version; a version None is the manifest's): succeeded, failed, or None
        (no such run yet). A report that says which version of the app it left current must name this
        one; reports of agents that do not say (older ones) count as any run."""
        if code_id is not None:
            with self._failures_lock:
                failure = self._compile_failures.get((node, code_id))
            if failure is not None and failure[0] >= since:
                return False, None, f"its catalog does not compile: {failure[1]}"
        for report in self.store.reports(node, last=5):
            at = parse_time(report.get("time"))
            puppet = written_by_puppet(report)
            # Puppet's report time is when its run began: a run already under way when the release was
            # assigned may still have fetched the release's catalog (its code_id says so)
            if at is None or at < (since - PUPPET_RUN_SLACK if puppet else since) or report.get("noop"):
                continue
            if code_id is not None and report.get("code_id") != code_id:
                continue
            if release is not None and release[1] is not None and "releases" in report \
                    and (report.get("releases") or {}).get(release[0]) != release[1] \
                    and report.get("status") != "failed":
                continue  # a run that kept another version (its catalog was not this one's yet)
            if puppet:
                return _puppet_verdict(report)
            return _run_verdict(report, "applied")
        return None

    def _agent_verdict(self, node: str, version: str | None, since: datetime) -> tuple[bool, str | None, str] | None:
        """An agent upgrade: a report written by ``version`` after ``since`` (None: any version) succeeds as
        any report does; one saying ``version`` could not be staged or failed its trial fails."""
        for report in self.store.reports(node, last=5):
            at = parse_time(report.get("time"))
            if at is None or at < since or report.get("noop"):
                continue
            upgrade = report.get("agent_upgrade") or {}
            if upgrade.get("to") == version and upgrade.get("state") in ("failed", "stage_failed"):
                return False, None, f"agent {version}: {upgrade.get('reason')}"
            if version is not None and report.get("puppet_version") != f"bunraku {version}":
                continue
            return _run_verdict(report, f"runs agent {version}")
        return None

    def _advance(self, conn: Connection, rollout_id: int) -> list[tuple[str, str]]:
        """Decide the rollout's next step inside one write transaction; return (node, mode) to trigger."""
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        row = _row(conn, rollout_id)
        if row.state not in ACTIVE:
            return []
        now = self.clock()
        options = RolloutOptions.from_dict(row.options)
        nodes = conn.execute(sa.select(rollout_nodes).where(rollout_nodes.c.rollout_id == rollout_id)).all()
        in_flight_fleet = conn.execute(sa.select(sa.func.count()).select_from(rollout_nodes).where(
            rollout_nodes.c.state.in_(IN_FLIGHT))).scalar() or 0
        slots = max(0, options.max_concurrent - int(in_flight_fleet))
        if row.state == "rolling_back":
            pending = sorted((n for n in nodes if n.state == "rollback_pending"), key=lambda n: n.node)
            if not pending and not any(n.state == "rolling_back" for n in nodes):
                conn.execute(sa.update(rollouts).where(rollouts.c.id == rollout_id).values(
                    state="rolled_back", updated_at=now))
                _event(conn, rollout_id, now, "rolled_back", None, None)
                return []
            picked = pending[:slots]
            for n in picked:
                _assign(conn, n.node, row.environment, n.previous_code_id, None, rollout_id, now)
                conn.execute(sa.update(rollout_nodes).where(
                    rollout_nodes.c.rollout_id == rollout_id, rollout_nodes.c.node == n.node).values(
                    state="rolling_back", triggered_at=now, finished_at=None))
                _event(conn, rollout_id, now, "rollback_triggered", n.node, {"code_id": n.previous_code_id})
            return [(n.node, _mode(row.options, True)) for n in picked]
        failed = sum(1 for n in nodes if n.state == "failed")
        budget = failure_budget(options, len(nodes))
        if failed > budget:
            reason = f"{failed} node(s) failed; the budget is {budget}"
            conn.execute(sa.update(rollouts).where(rollouts.c.id == rollout_id).values(
                state="halted", updated_at=now, reason=reason))
            _event(conn, rollout_id, now, "halted", None, {"failed": failed, "budget": budget})
            if options.auto_rollback:
                _begin_rollback(conn, _row(conn, rollout_id), now, f"auto-rollback: {reason}", "auto-rollback")
            return []
        wave = row.current_wave
        in_wave = [n for n in nodes if n.wave == wave]
        if all(n.state in ("succeeded", "failed", "deferred") for n in in_wave):
            last = max(n.wave for n in nodes)
            if wave >= last:
                conn.execute(sa.update(rollouts).where(rollouts.c.id == rollout_id).values(
                    state="completed", updated_at=now))
                _event(conn, rollout_id, now, "completed", None, None)
                return []
            if row.wave_done_at is None:
                conn.execute(sa.update(rollouts).where(rollouts.c.id == rollout_id).values(
                    wave_done_at=now, updated_at=now))
                _event(conn, rollout_id, now, "wave_passed", None, {"wave": wave})
                done_at = now
            else:
                done_at = row.wave_done_at
            if now < done_at + timedelta(seconds=options.pause_between):
                return []
            wave += 1
            conn.execute(sa.update(rollouts).where(rollouts.c.id == rollout_id).values(
                current_wave=wave, wave_done_at=None, updated_at=now))
            _event(conn, rollout_id, now, "wave_started", None, {"wave": wave})
            in_wave = [n for n in nodes if n.wave == wave]
        pending = sorted((n for n in in_wave if n.state == "pending"), key=lambda n: n.node)
        picked = pending[:slots]
        for n in picked:
            _assign(conn, n.node, row.environment, row.code_id, n.previous_code_id, rollout_id, now)
            conn.execute(sa.update(rollout_nodes).where(
                rollout_nodes.c.rollout_id == rollout_id, rollout_nodes.c.node == n.node).values(
                state="triggered", triggered_at=now))
            _event(conn, rollout_id, now, "triggered", n.node, {"wave": wave})
        return [(n.node, _mode(row.options, False)) for n in picked]


def _mode(options: Any, rolling_back: bool) -> str:
    """How a triggered node applies: incremental when the rollout asked for it; rollbacks run full."""
    return "incremental" if not rolling_back and (options or {}).get("incremental") else "full"


def _row(conn: Connection, rollout_id: int) -> Any:
    row = conn.execute(sa.select(rollouts).where(rollouts.c.id == rollout_id)).first()
    if row is None:
        raise RolloutError(f"no rollout {rollout_id}")
    return row


def _event(conn: Connection, rollout_id: int, at: datetime, kind: str, node: str | None, detail: Any) -> None:
    conn.execute(sa.insert(rollout_timeline).values(
        rollout_id=rollout_id, at=at, kind=kind, node=node,
        detail=None if detail is None else json.dumps(detail, sort_keys=True)))


def _run_verdict(report: dict[str, Any], passed: str) -> tuple[bool, str | None, str]:
    """A Bunraku agent's run: failed when unhealthy or failed, else passed (``passed (its status)``)."""
    health = (report.get("health") or {}).get("status")
    if health == "unhealthy":
        return False, health, _unhealthy_reason(report)
    if report.get("status") == "failed":
        return False, health, _failure_reason(report)
    return True, health, f"{passed} ({report.get('status')})"


def _assign(conn: Connection, node: str, environment: str, code_id: str | None, previous: str | None,
            rollout_id: int, now: datetime) -> None:
    conn.execute(sa.delete(node_releases).where(node_releases.c.node == node,
                                                node_releases.c.environment == environment))
    if code_id is not None:
        conn.execute(sa.insert(node_releases).values(node=node, environment=environment, code_id=code_id,
                                                     previous_code_id=previous, rollout_id=rollout_id,
                                                     assigned_at=now))


def _begin_rollback(conn: Connection, row: Any, now: datetime, reason: str, by: str | None) -> None:
    took = ("triggered", "succeeded", "failed", "deferred")
    conn.execute(sa.update(rollout_nodes).where(
        rollout_nodes.c.rollout_id == row.id, rollout_nodes.c.state.in_(took)).values(
        state="rollback_pending", finished_at=None))
    conn.execute(sa.update(rollouts).where(rollouts.c.id == row.id).values(
        state="rolling_back", updated_at=now, reason=reason))
    _event(conn, row.id, now, "rollback_started", None, {"reason": reason, "by": by})


def _describe(row: Any, nodes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": int(row.id), "code_id": row.code_id, "environment": row.environment, "group": row.group_name,
        "options": row.options, "state": row.state, "current_wave": row.current_wave, "reason": row.reason,
        "created_by": row.created_by, "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }
    if nodes is not None:
        out["nodes"] = [{
            "name": n.node, "wave": n.wave, "state": n.state, "previous_code_id": n.previous_code_id,
            "triggered_at": n.triggered_at.isoformat() if n.triggered_at else None,
            "finished_at": n.finished_at.isoformat() if n.finished_at else None,
            "health": n.health, "detail": n.detail} for n in nodes]
        waves: dict[int, list[dict[str, Any]]] = {}
        for n in out["nodes"]:
            waves.setdefault(n["wave"], []).append(n)
        out["waves"] = [{"index": i, "nodes": waves[i]} for i in sorted(waves)]
    return out


__all__ = ["Rollouts", "RolloutError", "Dispatcher", "NoDispatcher", "PlanError"]


#: longest reason kept in a rollout's node row (the report has the rest)
REASON_CHARS = 300
#: how a Puppet agent's row in ``rollout status`` begins while the rollout waits for its run
PUPPET_WAITING = "waiting for its next run (Puppet agent"
#: a Puppet agent's run that began this long before the assignment may have fetched the release
PUPPET_RUN_SLACK = timedelta(minutes=2)


def written_by_puppet(report: dict[str, Any]) -> bool:
    """The report was sent by a Puppet agent (Bunraku's agent writes ``bunraku VERSION`` in
    ``puppet_version``; a report without the field is not taken for Puppet's)."""
    version = report.get("puppet_version")
    return isinstance(version, str) and bool(version) and not version.startswith("bunraku")


def _every(seconds: float) -> str:
    if seconds < 120:
        return f"~{seconds:.0f}s"
    if seconds < 2 * 3600:
        return f"~{seconds / 60:.0f}m"
    return f"~{seconds / 3600:.1f}h".replace(".0h", "h")


@dataclass(frozen=True, slots=True)
class PuppetRuns:
    """A Puppet agent's runs: ``interval`` between its last two reports (None: unknown)."""

    interval: float | None = None

    def waiting(self, health_timeout: float) -> str:
        if self.interval is None:
            return f"{PUPPET_WAITING}, at its next run)"
        said = f"{PUPPET_WAITING}, runs every {_every(self.interval)})"
        if self.interval > health_timeout:
            said += f"; longer than the health timeout of {health_timeout:g}s"
        return said


def _puppet_verdict(report: dict[str, Any]) -> tuple[bool, str | None, str]:
    """A Puppet agent's report for the release: healthy when it applied the master's catalog to the end
    without failures (Puppet agents run no Bunraku health checks)."""
    if report.get("status") == "failed":
        return False, None, _failure_reason(report)
    if report.get("transaction_completed") is False:
        return False, None, "the run did not complete (Puppet agent)"
    if report.get("cached_catalog_status") == "on_failure":
        return False, None, "it could not retrieve its catalog and applied its cached one (Puppet agent)"
    return True, None, f"applied ({report.get('status')}; Puppet agent)"


def _unhealthy_reason(report: dict[str, Any]) -> str:
    """``health check web unhealthy after 3 attempts: connect to ...: connection refused``: what an
    operator needs to see in ``rollout status`` without opening the report."""
    checks = (report.get("health") or {}).get("checks") or {}
    for name, check in checks.items():
        if isinstance(check, dict) and check.get("status") == "unhealthy":
            attempts = check.get("attempts")
            message = str(check.get("message") or "no detail")
            if message.startswith("unhealthy"):  # the probe's own words say it: "unhealthy after 3 attempts: ..."
                return f"health check {name} {message}"[:REASON_CHARS]
            tries = f" after {attempts} attempt{'s' if attempts != 1 else ''}" if attempts else ""
            return f"health check {name} unhealthy{tries}: {message}"[:REASON_CHARS]
    return "health checks failed"


def _failure_reason(report: dict[str, Any]) -> str:
    """The run failed: its first error about a failed resource (else its first error), with the resource
    it concerns. A Puppet agent logs errors of its own first at times (a fact it could not read)."""
    statuses = report.get("resource_statuses") or {}
    failed = [ref for ref, status in statuses.items() if isinstance(status, dict) and status.get("failed")]
    errors = [e for e in report.get("logs") or [] if isinstance(e, dict) and e.get("level") == "err"]
    about_failed = [e for e in errors if any(ref in str(e.get("source") or "") for ref in failed)]
    for entry in about_failed or errors:
        source = str(entry.get("source") or "")
        where = f"{source}: " if source and source.lower() not in ("puppet", "bunraku") else ""
        return f"the run failed: {where}{entry.get('message')}"[:REASON_CHARS]
    for ref in failed:  # no error logged (or kept): the failed resource's own failure event says why
        events = statuses[ref].get("events") or []
        message = next((e.get("message") for e in events if isinstance(e, dict) and e.get("status") == "failure"
                        and e.get("message")), None)
        if message:
            return f"the run failed: {ref}: {message}"[:REASON_CHARS]
    if failed:
        return f"the run failed: {failed[0]} failed"[:REASON_CHARS]
    return "the run failed (no error in its report)"


def disabled_detail(reason: str) -> str:
    return f"agent disabled: {reason}"[:REASON_CHARS]


def _what_instead(rollout_id: int, state: str, kind: str) -> str:
    """What an operator can do instead of a command the rollout's state refuses."""
    if kind == "resumed" and state == "halted":
        return (f"; fix what failed (`bunraku rollout status {rollout_id}` says why), then "
                f"`bunraku rollout retry {rollout_id}`, or start a new rollout")
    if kind == "resumed" and state in FINAL:
        return "; start a new rollout"
    return ""


def _progress(tallies: list[tuple[str, str | None, int, int]]) -> dict[str, Any]:
    """A rollout's nodes counted: ``total``, ``waves``, ``states`` {state: n}, ``health`` {health: n}."""
    states: dict[str, int] = {}
    health: dict[str, int] = {}
    waves = 0
    for state, healthy, count, last_wave in tallies:
        states[state] = states.get(state, 0) + count
        if healthy:
            health[healthy] = health.get(healthy, 0) + count
        waves = max(waves, last_wave + 1)
    return {"total": sum(states.values()), "waves": waves, "states": states, "health": health}


def progress_of(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """:func:`_progress` of a rollout's nodes as :meth:`Rollouts.get` gives them."""
    return _progress([(n["state"], n.get("health"), 1, int(n["wave"])) for n in nodes])


class AgentStates:
    """What Bunraku agents say of themselves on their live channel (``Heartbeat``, ``Live``): disabled or
    not, and why. Kept in memory by the master the agent is connected to; a state not repeated within
    ``fresh_seconds`` (the agent went away) no longer counts."""

    def __init__(self, fresh_seconds: float = 60.0, clock: Callable[[], float] | None = None) -> None:
        import time

        self.fresh_seconds = fresh_seconds
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._disabled: dict[str, tuple[str, float]] = {}

    def note(self, node: str, disabled: str | None) -> None:
        """``node``'s agent says it is disabled (``disabled``: the reason it gave) or not (None)."""
        with self._lock:
            if disabled is None:
                self._disabled.pop(node, None)
            else:
                if len(self._disabled) > 100000:
                    self._disabled.clear()
                self._disabled[node] = (disabled or "reason not specified", self._clock())

    def disabled(self, node: str) -> str | None:
        """The reason ``node``'s agent is disabled, as it said lately; None when it is not (or is silent)."""
        with self._lock:
            said = self._disabled.get(node)
        if said is None or self._clock() - said[1] > self.fresh_seconds:
            return None
        return said[0]

    def all_disabled(self) -> dict[str, str]:
        with self._lock:
            names = list(self._disabled)
        return {n: why for n in names if (why := self.disabled(n)) is not None}
