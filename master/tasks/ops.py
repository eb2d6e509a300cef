"""The operator's side of tasks, over the master's API with an operator certificate: the calls the CLI
makes and the text it prints."""

from __future__ import annotations

import json
from typing import Any

from wire.client import MasterClient
from wire.proto import bunraku_pb2 as pb

#: run states that are over
FINAL = ("succeeded", "failed", "refused", "cancelled", "expired")


def run_task(client: MasterClient, *, group: str | None = None, nodes: list[str] | None = None,
             account: str | None = None, max_concurrent: int | None = None, timeout: float | None = None,
             idempotency_key: str | None = None, command: list[str] | None = None, task: str | None = None,
             params: dict[str, str] | None = None, environment: str | None = None,
             expires_in: float | None = None) -> tuple[dict[str, Any], bool]:
    reply = client.call("RunTask", pb.RunTaskRequest(
        group=group or "", nodes=nodes or [], account=account or "", max_concurrent=max_concurrent or 0,
        timeout=timeout or 0, idempotency_key=idempotency_key or "", command=command or [], task=task or "",
        params=params or {}, environment=environment or "", expires_in=expires_in or 0))
    return dict(json.loads(reply.task_json)), bool(reply.created)


def task_status(client: MasterClient, task_id: int) -> dict[str, Any]:
    return dict(json.loads(client.call("TaskStatus", pb.TaskStatusRequest(id=task_id)).task_json))


def list_tasks(client: MasterClient, last: int = 50) -> list[dict[str, Any]]:
    return list(json.loads(client.call("ListTasks", pb.ListTasksRequest(last=last)).task_json))


def cancel_task(client: MasterClient, task_id: int) -> dict[str, Any]:
    return dict(json.loads(client.call("CancelTask", pb.CancelTaskRequest(id=task_id)).task_json))


def finished(info: dict[str, Any]) -> bool:
    return all(run["state"] in FINAL for run in info.get("runs") or [])


def what(info: dict[str, Any]) -> str:
    """The task as the operator asked for it: ``module::name k=v`` or the command's words."""
    if info.get("task"):
        params = " ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}"
                          for k, v in sorted((info.get("params") or {}).items()))
        return f"{info['task']}{' ' + params if params else ''}"
    return " ".join(info.get("command") or [])


def _time(value: str | None) -> str:
    return (value or "-")[:19].replace("T", " ")


def states_text(states: dict[str, int]) -> str:
    return ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no nodes"


def task_lines(info: dict[str, Any], *, outputs: bool = True) -> list[str]:
    """``bunraku task show``: the task, one line per node, then each node's output."""
    lines = [f"task {info['id']}  {what(info)}",
             f"as {info['account']}  group={info.get('group') or '-'}  max_concurrent={info['max_concurrent']}"
             f"  timeout={info['timeout']:g}s  by={info['operator']} ({info.get('operator_role') or '-'})"
             f"  created={_time(info.get('created_at'))}  expires={_time(info.get('expires_at'))}"]
    if info.get("idempotency_key"):
        lines.append(f"idempotency key: {info['idempotency_key']}")
    if info.get("cancelled_at"):
        lines.append(f"cancelled by {info.get('cancelled_by')} at {_time(info['cancelled_at'])}")
    lines.append(f"nodes: {states_text(info.get('states') or {})}")
    runs = info.get("runs") or []
    header = ("NODE", "STATE", "EXIT", "DURATION", "STARTED", "ENDED")
    rows = [(r["node"], r["state"], "-" if r["exit_code"] is None else str(r["exit_code"]),
             "-" if r["duration"] is None else f"{r['duration']:.2f}s", _time(r["started_at"]), _time(r["ended_at"]))
            for r in runs]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in [header, *rows]]
    if not outputs:
        return lines
    for r in runs:
        if not (r["stdout"] or r["stderr"] or r["reason"]):
            continue
        lines.append(f"--- {r['node']} ({r['state']})")
        if r["reason"]:
            lines.append(f"reason: {r['reason']}")
        for stream in ("stdout", "stderr"):
            if r[stream]:
                cut = " (truncated)" if r[f"{stream}_truncated"] else ""
                lines.append(f"{stream}{cut}:")
                lines += ["  " + line for line in r[stream].rstrip("\n").splitlines()]
    return lines


def tasks_table(items: list[dict[str, Any]]) -> list[str]:
    """``bunraku task list``: one line per task, newest first."""
    header = ("ID", "CREATED", "BY", "AS", "GROUP", "NODES", "TASK")
    rows = [(str(t["id"]), _time(t.get("created_at")), t["operator"], t["account"], t.get("group") or "-",
             states_text(t.get("states") or {}) + (" (cancelled)" if t.get("cancelled_at") else ""), what(t)[:60])
            for t in items]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in [header, *rows]]
