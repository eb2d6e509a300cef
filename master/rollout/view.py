"""A rollout as operators see it, the same in ``bunraku rollout status`` and on the dashboard: the
controller's state names, waves numbered from 0 (wave 0 is the canary), every node's state, health and
reason, the rollout's reason and timeline, its nodes counted by state, and for a node that failed the
report that says why (``report_id``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from master.rollout.controller import PUPPET_RUN_SLACK, progress_of
from master.store.documents import parse_time

if TYPE_CHECKING:
    from master.rollout.controller import Rollouts

#: a rollout's states, in the order of its life
ROLLOUT_STATES = ("running", "paused", "completed", "halted", "aborted", "rolling_back", "rolled_back")
#: a node's states in a rollout, in the order of its life
NODE_STATES = ("pending", "triggered", "deferred", "succeeded", "failed", "rollback_pending", "rolling_back",
               "rolled_back", "rollback_failed")
#: node states whose report says what went wrong
FAILED_NODE_STATES = ("failed", "rollback_failed")


def wave_name(index: int) -> str:
    return "canary" if index == 0 else f"batch {index}"


def rollout_status(rollouts: Rollouts, rollout_id: int) -> dict[str, Any]:
    """The rollout with its waves (each named), nodes, ``progress``, ``timeline`` and ``failures``: every
    node that failed, when, why and the ``report_id`` of the report that said so (None: no report came),
    kept after a rollback has moved the node on. A node that failed carries its latest failure's
    ``report_id`` (and, when its state has moved on since, the ``failure`` itself)."""
    info = rollouts.get(int(rollout_id))
    timeline = rollouts.timeline(int(rollout_id))
    info["timeline"] = timeline
    info["progress"] = progress_of(info["nodes"])
    for wave in info["waves"]:
        wave["name"] = wave_name(int(wave["index"]))
    by_name = {n["name"]: n for n in info["nodes"]}
    triggered: dict[tuple[str, str], str] = {}
    failures: list[dict[str, Any]] = []
    for event in timeline:
        node, kind = event.get("node"), event["kind"]
        if not node:
            continue
        if kind in ("triggered", "rollback_triggered"):
            triggered[(node, kind)] = event["at"]
        elif kind in FAILED_NODE_STATES:
            rollback = kind == "rollback_failed"
            since = triggered.get((node, "rollback_triggered" if rollback else "triggered"))
            want = (by_name.get(node) or {}).get("previous_code_id") if rollback else info["code_id"]
            if str(info.get("environment")).startswith("artifact:"):  # reports name commits, not app versions
                want = None
            detail = event.get("detail") or {}
            failures.append({"node": node, "at": event["at"], "state": kind,
                             "detail": detail.get("detail") if isinstance(detail, dict) else str(detail),
                             "report_id": _report_of(rollouts, node, want, since)})
    info["failures"] = failures
    for failure in failures:  # the latest one wins
        node_info = by_name.get(failure["node"])
        if node_info is not None:
            node_info["report_id"] = failure["report_id"]
            if node_info["state"] not in FAILED_NODE_STATES:
                node_info["failure"] = failure["detail"]
    return info


def _report_of(rollouts: Rollouts, node: str, code_id: str | None, since: str | None) -> int | None:
    """The id of ``node``'s first report of ``code_id`` made after it was triggered (the one its verdict
    came from)."""
    start = parse_time(since) if since else None
    if start is None:
        return None
    # a Puppet agent dates its report from the start of its run, which may precede the assignment
    for begin in (start, start - PUPPET_RUN_SLACK):
        try:
            found = rollouts.store.report_summaries(node, last=20, since=begin)
        except Exception:  # noqa: BLE001 - a missing link is no reason to fail the whole status
            return None
        for summary in reversed(found):  # oldest first: the first run after the trigger decided
            if not summary.get("noop") and (code_id is None or summary.get("code_id") == code_id):
                return int(summary["id"])
    return None


def progress_line(progress: dict[str, Any]) -> str:
    """``2 node(s) in 2 wave(s): 1 rolled_back, 1 pending; 1 unhealthy``."""
    states = progress.get("states") or {}
    order = [s for s in NODE_STATES if s in states] + sorted(s for s in states if s not in NODE_STATES)
    said = ", ".join(f"{states[s]} {s}" for s in order) or "none"
    line = f"{progress.get('total', 0)} node(s) in {progress.get('waves', 0)} wave(s): {said}"
    unhealthy = (progress.get("health") or {}).get("unhealthy")
    return f"{line}; {unhealthy} unhealthy" if unhealthy else line


def event_detail(detail: Any) -> str:
    """A timeline event's detail as one line: ``detail=... health=unhealthy`` (its options left out)."""
    if not isinstance(detail, dict):
        return "" if detail is None else str(detail)
    return "  ".join(f"{k}={v}" for k, v in sorted(detail.items())
                     if v not in (None, "", [], {}) and k != "options")


__all__ = ["FAILED_NODE_STATES", "event_detail", "NODE_STATES", "ROLLOUT_STATES", "progress_line", "rollout_status", "wave_name"]
