"""Operator views of the fleet, over the master's API with an operator certificate: the nodes table,
reports, stored facts and catalog diffs (the CLI prints what these return)."""

from __future__ import annotations

import json
from typing import Any

from master.store.documents import agent_label
from wire.client import MasterClient
from wire.proto import bunraku_pb2 as pb


def list_nodes(client: MasterClient, unresponsive_after: float = 3600) -> list[dict[str, Any]]:
    reply = client.call("ListNodes", pb.ListNodesRequest(unresponsive_after_seconds=int(unresponsive_after)))
    return [{"name": n.name, "status": n.status, "last_run": n.last_run, "last_seen": n.last_seen,
             "code_id": n.code_id, "environment": n.environment, "group": n.group,
             "report_count": n.report_count, "cached_catalog": n.cached_catalog or None,
             "disabled": (n.disabled_reason or "reason not specified") if n.agent_disabled else None,
             "agent_version": agent_label(n.agent_version)}
            for n in reply.nodes]


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: what nodes say of themselves (a disabled agent's message, the
    version in their reports) with control characters shown as escapes, never sent to the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def nodes_table(nodes: list[dict[str, Any]]) -> list[str]:
    """``bunraku nodes``: one aligned line per node (what nodes said of themselves made printable)."""
    header = ("NODE", "STATUS", "LAST RUN", "CODE ID", "ENVIRONMENT", "GROUP", "AGENT", "REPORTS")
    rows = [tuple(printable(cell) for cell in (
        n["name"], _status_text(n), (n["last_run"] or "-")[:19].replace("T", " "), (n["code_id"] or "-")[:12],
        n["environment"] or "-", n["group"] or "-", n.get("agent_version") or "-", str(n["report_count"])))
        for n in nodes]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]


def _status_text(node: dict[str, Any]) -> str:
    """The status, and when the latest run applied a cached catalog, why: a run on the old catalog after
    the new one failed to compile (or could not be fetched) is no success of the new code."""
    if node.get("disabled"):
        return f"{node['status']} (agent disabled: {node['disabled']})"
    cached = node.get("cached_catalog")
    if cached == "on_failure":
        return f"{node['status']} (on cached catalog: catalog retrieval failed)"
    if cached == "explicitly_requested":
        return f"{node['status']} (on cached catalog, as asked)"
    return str(node["status"])


def reports(client: MasterClient, node: str, last: int = 1) -> list[dict[str, Any]]:
    reply = client.call("GetReports", pb.GetReportsRequest(node=node, last=last))
    return [json.loads(r) for r in reply.report_json]


def report_summary(report: dict[str, Any]) -> list[str]:
    """A report as an operator reads it: header, then the events that happened."""
    lines = [f"{report.get('host')}  {report.get('time')}  status={report.get('status')}"
             f"  noop={report.get('noop')}  code_id={report.get('code_id') or '-'}"
             f"  environment={report.get('environment')}  cached_catalog={report.get('cached_catalog_status')}"]
    for ref, st in (report.get("resource_statuses") or {}).items():
        for ev in st.get("events") or []:
            lines.append(f"  {ev.get('status'):8} {ref}: {ev.get('message')}")
    for entry in report.get("logs") or []:
        if entry.get("level") == "err":
            lines.append(f"  error    {entry.get('message')}")
    return lines


def stored_facts(client: MasterClient, node: str) -> dict[str, Any] | None:
    reply = client.call("GetFacts", pb.GetFactsRequest(node=node))
    return json.loads(reply.facts_json) if reply.found else None


def catalog_diff(client: MasterClient, node: str, from_rev: str, to_rev: str,
                 environment: str = "") -> tuple[dict[str, Any], str, str]:
    reply = client.call("DiffCatalog", pb.DiffCatalogRequest(node=node, from_rev=from_rev, to_rev=to_rev,
                                                             environment=environment))
    return json.loads(reply.diff_json), reply.from_code_id, reply.to_code_id


# -- release control -------------------------------------------------------------------------------------
def start_rollout(client: MasterClient, rev: str, environment: str, *, group: str | None = None,
                  canary: str | None = None, batch: str | None = None, max_concurrent: int | None = None,
                  max_failures: str | None = None, health_timeout: float | None = None,
                  pause_between: float | None = None, auto_rollback: bool = False,
                  incremental: bool = False, force: bool = False, artifact: str = "",
                  agent_version: str = "") -> dict[str, Any]:
    reply = client.call("StartRollout", pb.StartRolloutRequest(
        rev=rev, environment=environment, group=group or "", canary=canary or "", batch=batch or "",
        max_concurrent=max_concurrent or 0, max_failures=max_failures or "", health_timeout=health_timeout or 0,
        pause_between=pause_between or 0, auto_rollback=auto_rollback, incremental=incremental, force=force,
        artifact=artifact, agent_version=agent_version))
    return dict(json.loads(reply.rollout_json))


def rollout_status(client: MasterClient, rollout_id: int) -> dict[str, Any]:
    return dict(json.loads(client.call("RolloutStatus", pb.RolloutStatusRequest(id=rollout_id)).rollout_json))


def rollout_command(client: MasterClient, rollout_id: int, command: str) -> dict[str, Any]:
    reply = client.call("RolloutCommand", pb.RolloutCommandRequest(id=rollout_id, command=command))
    return dict(json.loads(reply.rollout_json))


def list_rollouts(client: MasterClient) -> list[dict[str, Any]]:
    return list(json.loads(client.call("ListRollouts", pb.ListRolloutsRequest()).rollouts_json))


def rollout_lines(info: dict[str, Any]) -> list[str]:
    """``bunraku rollout status``: the rollout, its waves and nodes, then its timeline."""
    opts = info.get("options") or {}
    lines = [f"rollout {info['id']}  {info['state']}  {info['environment']}@{(info['code_id'] or '')[:12]}"
             f"  group={info.get('group') or '*'}  by={info.get('created_by') or '-'}"
             f"  created={(info.get('created_at') or '')[:19].replace('T', ' ')}"]
    if info.get("reason"):
        lines.append(f"reason: {info['reason']}")
    if info.get("progress"):
        from master.rollout.view import progress_line

        lines.append(f"nodes: {progress_line(info['progress'])}")
    lines.append("options: " + "  ".join(f"{k}={opts[k]}" for k in sorted(opts)))
    waves = info.get("waves") or []
    for wave in waves:
        current = "  <- current" if wave["index"] == info.get("current_wave") and info["state"] in (
            "running", "paused") else ""
        lines.append(f"wave {wave['index']}{' (canary)' if wave['index'] == 0 else ''}{current}")
        for n in wave["nodes"]:
            lines.append(f"  {n['name']:32} {n['state']:16} {n.get('health') or '-':10} {n.get('detail') or ''}"
                         .rstrip())
            if n.get("failure"):
                lines.append(f"  {'':32} failed before: {n['failure']}")
            if n.get("report_id"):
                lines.append(f"  {'':32} its report: #{n['report_id']} (dashboard /report/{n['report_id']}; "
                             f"`bunraku report show {n['name']}`)")
    timeline = info.get("timeline") or []
    if timeline:
        from master.rollout.view import event_detail

        lines.append("timeline")
        for event in timeline:
            extra = event_detail(event.get("detail"))
            lines.append(f"  {event['at'][:19].replace('T', ' ')}  {event['kind']:18} {event.get('node') or '':28}"
                         f" {extra}".rstrip())
    return lines


def rollouts_table(items: list[dict[str, Any]]) -> list[str]:
    header = ("ID", "STATE", "ENVIRONMENT", "GROUP", "RELEASE", "WAVE", "BY", "CREATED", "NODES")
    rows = [(str(r["id"]), r["state"], r["environment"], r.get("group") or "*", (r["code_id"] or "")[:12],
             str(r.get("current_wave", 0)), r.get("created_by") or "-",
             (r.get("created_at") or "")[:19].replace("T", " "), _node_counts(r.get("progress"))) for r in items]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]


def _node_counts(progress: dict[str, Any] | None) -> str:
    """``5: 3 succeeded, 1 failed, 1 pending`` (the same counts as the dashboard's)."""
    if not progress:
        return "-"
    from master.rollout.view import progress_line

    return progress_line(progress)
