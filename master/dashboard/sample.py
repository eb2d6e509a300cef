"""A realistic sample fleet for demos, tests and benchmarks: nodes in groups with Facter-style facts,
catalogs (classes, compile times) and reports in Puppet's shape — changed, failed, unchanged and noop runs,
corrective and intentional changes, file content diffs in event messages, run times in the metrics."""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from master.store import Store

log = logging.getLogger(__name__)

GROUPS = ("web", "db", "cache")
OS_RELEASES = (("Debian", "12", "12.5", "bookworm"), ("Debian", "11", "11.9", "bullseye"),
               ("Ubuntu", "22.04", "22.04", "jammy"))
CLASSES = {"web": ["role::web", "profile::base", "profile::nginx", "ntp"],
           "db": ["role::db", "profile::base", "profile::postgresql", "ntp"],
           "cache": ["role::cache", "profile::base", "profile::redis", "ntp"]}


def sample_facts(name: str, group: str, index: int) -> dict[str, Any]:
    family_name, major, full, codename = OS_RELEASES[index % len(OS_RELEASES)]
    return {
        "os": {"name": family_name, "family": "Debian", "architecture": "amd64",
               "release": {"major": major, "full": full}, "distro": {"codename": codename}},
        "networking": {"fqdn": name, "hostname": name.split(".")[0], "ip": f"10.0.{index // 250}.{index % 250 + 1}"},
        "processors": {"count": 2 + 2 * (index % 4)},
        "memory": {"system": {"total_bytes": (4 + 4 * (index % 3)) * 1024 ** 3}},
        "kernel": "Linux", "kernelrelease": "6.1.0-18-amd64", "is_virtual": index % 5 != 0,
        "role": group, "bunraku_version": "0.1.0",
    }


def sample_catalog(name: str, group: str, code_id: str) -> dict[str, Any]:
    classes = CLASSES[group]
    resources = [{"type": "Class", "title": c, "tags": ["class"], "exported": False, "parameters": {}}
                 for c in classes]
    resources.append({"type": "File", "title": "/etc/motd", "tags": ["file"], "exported": False,
                      "parameters": {"ensure": "file", "content": f"{name}\n"}})
    return {"name": name, "version": code_id, "code_id": code_id, "catalog_uuid": str(uuid.uuid4()),
            "catalog_format": 2, "environment": "production", "tags": ["settings"], "classes": classes,
            "resources": resources, "edges": []}


def _file_event(path: str, at: str, *, status: str, old: str, new: str) -> dict[str, Any]:
    diff = (f"--- {path}\t(previous)\n+++ {path}\t(desired)\n@@ -1,2 +1,2 @@\n {path.rsplit('/', 1)[-1]}\n"
            f"-{old}\n+{new}")
    verb = "would have changed" if status == "noop" else "changed"
    return {"property": "content", "previous_value": "{sha256}" + "a" * 64, "desired_value": "{sha256}" + "b" * 64,
            "message": f"content {verb} '{{sha256}}{'a' * 12}' to '{{sha256}}{'b' * 12}'\n{diff}",
            "status": status, "time": at, "name": "content_changed", "corrective_change": False}


def _metric(name: str, values: list[tuple[str, str, float]]) -> dict[str, Any]:
    return {"name": name, "label": name.title(), "values": [list(v) for v in values]}


def make_report(node: str, at: datetime, kind: str, rng: random.Random, *, code_id: str = "c0ffee1",
                environment: str = "production") -> dict[str, Any]:
    """A report of one run; ``kind`` is changed, corrective, failed, unchanged or noop."""
    when = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    statuses: dict[str, Any] = {}

    def resource(rtype: str, title: str, events: list[dict[str, Any]], *, failed: bool = False) -> None:
        changed = any(e["status"] == "success" for e in events)
        statuses[f"{rtype}[{title}]"] = {
            "resource_type": rtype, "title": title, "change_count": sum(e["status"] == "success" for e in events),
            "out_of_sync_count": len(events), "failed": failed, "skipped": False, "changed": changed,
            "out_of_sync": bool(events), "evaluation_time": round(rng.uniform(0.001, 0.2), 4), "events": events,
            "corrective_change": any(e.get("corrective_change") for e in events),
        }

    resource("Package", "ntp", [])
    resource("Service", "ntp", [])
    logs = []
    if kind in ("changed", "corrective"):
        event = _file_event("/etc/ntp.conf", when, status="success", old="server 0.pool.ntp.org",
                            new="server ntp1.example.com")
        event["corrective_change"] = kind == "corrective"
        resource("File", "/etc/ntp.conf", [event])
        resource("Service", "ntp", [{"property": "ensure", "previous_value": "stopped", "desired_value": "running",
                                     "message": "ensure changed 'stopped' to 'running'", "status": "success",
                                     "time": when, "name": "service_started", "corrective_change": False}])
    elif kind == "failed":
        resource("Exec", "migrate-db", [{"property": "returns", "previous_value": "notrun", "desired_value": ["0"],
                                         "message": "change from 'notrun' to ['0'] failed: exit status 1",
                                         "status": "failure", "time": when, "name": "executed_command",
                                         "corrective_change": False}], failed=True)
        logs.append({"level": "err", "message": "migrate-db returned 1 instead of one of [0]",
                     "source": "/Stage[main]/Role::Db/Exec[migrate-db]/returns", "time": when})
    elif kind == "noop":
        resource("File", "/etc/motd", [_file_event("/etc/motd", when, status="noop", old="Welcome",
                                                   new="Authorized use only")])
    noop_pending = kind == "noop"
    status = {"changed": "changed", "corrective": "changed", "failed": "failed"}.get(kind, "unchanged")
    total = round(rng.uniform(2.0, 9.0) + (6.0 if kind == "failed" else 0.0), 3)
    events = [e for s in statuses.values() for e in s["events"]]
    logs.append({"level": "notice", "message": f"Applied catalog in {total:.2f} seconds", "source": "Bunraku",
                 "time": when})
    return {
        "host": node, "time": when, "configuration_version": code_id, "code_id": code_id,
        "transaction_uuid": str(uuid.UUID(int=rng.getrandbits(128))), "report_format": 12,
        "environment": environment, "status": status, "noop": kind == "noop", "noop_pending": noop_pending,
        "cached_catalog_status": "not_used", "corrective_change": kind == "corrective", "kind": "apply",
        "resource_statuses": statuses, "logs": logs,
        "metrics": {
            "resources": _metric("resources", [("total", "Total", len(statuses)),
                                               ("changed", "Changed", sum(s["changed"] for s in statuses.values())),
                                               ("failed", "Failed", sum(s["failed"] for s in statuses.values()))]),
            "events": _metric("events", [("total", "Total", len(events))]),
            "changes": _metric("changes", [("total", "Total", sum(s["change_count"] for s in statuses.values()))]),
            "time": _metric("time", [("file", "File", round(total * 0.3, 3)), ("total", "Total", total)]),
        },
    }


def pick_kind(rng: random.Random) -> str:
    return rng.choices(("unchanged", "changed", "corrective", "failed", "noop"), (70, 12, 8, 6, 4))[0]


@dataclass(frozen=True, slots=True)
class SampleFleet:
    """What ``seed_sample_fleet`` made: node names by group, and some nodes worth looking at."""

    nodes: list[str]
    groups: dict[str, str]
    unresponsive: str
    unreported: str


def seed_sample_fleet(store: Store, *, now: datetime, nodes: int = 9, days: int = 2, runs_per_day: int = 12,
                      seed: int = 7) -> SampleFleet:
    """Save facts, a catalog and ``days`` of reports for ``nodes`` nodes (three groups), through the store's
    API as the master would. The last node of each group's round is varied: node 0 last failed, node 1 last
    changed, node 2 ran in noop; plus one node that stopped reporting a day ago and one never reported."""
    rng = random.Random(seed)
    names, group_of = [], {}
    step = timedelta(days=1) / runs_per_day
    for i in range(nodes):
        group = GROUPS[i % len(GROUPS)]
        name = f"{group}{i // len(GROUPS) + 1:02d}.example.com"
        names.append(name)
        group_of[name] = group
        store.set_node_group(name, group)
        code_id = f"c{0xc0ffee + i % 2:x}"
        store.save_facts(name, sample_facts(name, group, i), received_at=now - timedelta(minutes=5))
        store.save_catalog(name, sample_catalog(name, group, code_id), code_id=code_id, environment="production",
                           compiled_at=now - timedelta(minutes=6), compile_seconds=round(rng.uniform(0.2, 2.5), 3))
        runs = days * runs_per_day
        for run in range(runs):
            at = now - step * (runs - run) + timedelta(seconds=rng.randrange(60))
            kind = pick_kind(rng)
            if run == runs - 1:
                kind = {0: "failed", 1: "changed", 2: "noop"}.get(i, "unchanged")
            store.save_report(make_report(name, at, kind, rng, code_id=code_id), received_at=at)
    # one node went silent a day ago; one has sent facts but never a report
    silent = "legacy01.example.com"
    store.set_node_group(silent, "web")
    store.save_facts(silent, sample_facts(silent, "web", 1), received_at=now - timedelta(days=1))
    store.save_report(make_report(silent, now - timedelta(days=1), "changed", rng), received_at=now - timedelta(days=1))
    fresh = "new01.example.com"
    store.save_facts(fresh, sample_facts(fresh, "db", 0), received_at=now - timedelta(minutes=1))
    group_of[silent] = "web"
    log.info("sample fleet: %d nodes, %d reports each", nodes, days * runs_per_day)
    return SampleFleet(nodes=names + [silent, fresh], groups=group_of, unresponsive=silent, unreported=fresh)
