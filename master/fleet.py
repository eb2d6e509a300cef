"""Operator views of the fleet, over the master's API with an operator certificate: the nodes table,
reports, stored facts and catalog diffs (the CLI prints what these return)."""

from __future__ import annotations

import json
from typing import Any

from master.proto import bunraku_pb2 as pb
from master.rpc.client import MasterClient


def list_nodes(client: MasterClient, unresponsive_after: float = 3600) -> list[dict[str, Any]]:
    reply = client.call("ListNodes", pb.ListNodesRequest(unresponsive_after_seconds=int(unresponsive_after)))
    return [{"name": n.name, "status": n.status, "last_run": n.last_run, "last_seen": n.last_seen,
             "code_id": n.code_id, "environment": n.environment, "group": n.group,
             "report_count": n.report_count} for n in reply.nodes]


def nodes_table(nodes: list[dict[str, Any]]) -> list[str]:
    """``bunraku nodes``: one aligned line per node."""
    header = ("NODE", "STATUS", "LAST RUN", "CODE ID", "ENVIRONMENT", "GROUP", "REPORTS")
    rows = [(n["name"], n["status"], (n["last_run"] or "-")[:19].replace("T", " "),
             (n["code_id"] or "-")[:12], n["environment"] or "-", n["group"] or "-", str(n["report_count"]))
            for n in nodes]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]


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
