"""The report of one apply run, in the shape of Puppet's report (report_format 12)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REPORT_FORMAT = 12
REDACTED = "[redacted]"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class Event:
    property: str | None
    previous_value: Any
    desired_value: Any
    message: str
    status: str  # success | failure | noop | audit
    time: str = ""
    name: str = "property_changed"
    redacted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "audited": False, "property": self.property, "previous_value": self.previous_value,
            "desired_value": self.desired_value, "historical_value": None, "message": self.message,
            "name": self.name, "status": self.status, "time": self.time, "redacted": self.redacted,
            "corrective_change": False,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(d.get("property"), d.get("previous_value"), d.get("desired_value"), d.get("message", ""),
                   d.get("status", "success"), d.get("time", ""), d.get("name", "property_changed"),
                   bool(d.get("redacted", False)))


@dataclass(slots=True)
class ResourceStatus:
    resource_type: str
    title: str
    file: str | None = None
    line: int | None = None
    tags: list[str] = field(default_factory=list)
    containment_path: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    change_count: int = 0
    out_of_sync_count: int = 0
    failed: bool = False
    skipped: bool = False
    changed: bool = False
    out_of_sync: bool = False
    failed_to_restart: bool = False
    evaluation_time: float = 0.0
    provider: str | None = None
    skip_reason: str | None = None

    @property
    def resource(self) -> str:
        return f"{self.resource_type}[{self.title}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title, "file": self.file, "line": self.line, "resource": self.resource,
            "resource_type": self.resource_type, "provider_used": self.provider,
            "containment_path": self.containment_path, "evaluation_time": self.evaluation_time,
            "tags": self.tags, "time": "", "failed": self.failed, "failed_to_restart": self.failed_to_restart,
            "changed": self.changed, "out_of_sync": self.out_of_sync, "skipped": self.skipped,
            "skip_reason": self.skip_reason, "change_count": self.change_count,
            "out_of_sync_count": self.out_of_sync_count, "events": [e.to_dict() for e in self.events],
            "corrective_change": False,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResourceStatus:
        return cls(
            resource_type=d["resource_type"], title=d["title"], file=d.get("file"), line=d.get("line"),
            tags=list(d.get("tags") or []), containment_path=list(d.get("containment_path") or []),
            events=[Event.from_dict(e) for e in d.get("events") or []],
            change_count=d.get("change_count", 0), out_of_sync_count=d.get("out_of_sync_count", 0),
            failed=d.get("failed", False), skipped=d.get("skipped", False), changed=d.get("changed", False),
            out_of_sync=d.get("out_of_sync", False), failed_to_restart=d.get("failed_to_restart", False),
            evaluation_time=d.get("evaluation_time", 0.0), provider=d.get("provider_used"),
            skip_reason=d.get("skip_reason"),
        )


@dataclass(slots=True)
class LogEntry:
    level: str
    message: str
    source: str = "Bunraku"
    time: str = ""
    file: str | None = None
    line: int | None = None
    tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "message": self.message, "source": self.source, "time": self.time,
                "file": self.file, "line": self.line, "tags": self.tags}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogEntry:
        return cls(d.get("level", "info"), d.get("message", ""), d.get("source", "Bunraku"), d.get("time", ""),
                   d.get("file"), d.get("line"), list(d.get("tags") or []))


@dataclass(slots=True)
class Report:
    host: str
    configuration_version: Any = None
    code_id: str | None = None
    catalog_uuid: str | None = None
    environment: str = "production"
    transaction_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: str = field(default_factory=lambda: _iso(time.time()))
    noop: bool = False
    status: str = "unchanged"
    noop_pending: bool = False
    cached_catalog_status: str = "not_used"
    corrective_change: bool = False
    resource_statuses: dict[str, ResourceStatus] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    logs: list[LogEntry] = field(default_factory=list)
    kind: str = "apply"
    #: ``full`` or ``incremental`` (see :mod:`engine.incremental`); ``incremental`` then says against what.
    apply_mode: str = "full"
    incremental: dict[str, Any] | None = None
    #: ``{status: healthy|unhealthy|unknown, checks: {title: {status, healthy, attempts, message, duration}}}``
    health: dict[str, Any] = field(default_factory=lambda: {"status": "unknown", "checks": {}})

    # -- building ----------------------------------------------------------------------------------
    def log(self, level: str, message: str, source: str = "Bunraku", file: str | None = None,
            line: int | None = None) -> None:
        self.logs.append(LogEntry(level, message, source, _iso(time.time()), file, line))

    def record_health(self, name: str, *, healthy: bool | None, attempts: int, message: str,
                      duration: float) -> None:
        """One health check's outcome; ``healthy=None`` means it could not run (unknown)."""
        status = "unknown" if healthy is None else "healthy" if healthy else "unhealthy"
        self.health["checks"][name] = {"status": status, "healthy": bool(healthy), "attempts": attempts,
                                       "message": message, "duration": round(duration, 6)}
        self.health["status"] = health_status(self.health["checks"])

    def finalise(self, elapsed: float, time_by_type: dict[str, float]) -> None:
        statuses = list(self.resource_statuses.values())
        events = [e for s in statuses for e in s.events]
        failed = sum(1 for s in statuses if s.failed)
        changed = sum(1 for s in statuses if s.changed)
        n_noop = sum(1 for e in events if e.status == "noop")
        if failed:
            self.status = "failed"
        elif changed:
            self.status = "changed"
        else:
            self.status = "unchanged"
        self.noop_pending = n_noop > 0
        self.metrics = {
            "resources": _metric("resources", "Resources", [
                ("total", "Total", len(statuses)),
                ("skipped", "Skipped", sum(1 for s in statuses if s.skipped)),
                ("failed", "Failed", failed),
                ("failed_to_restart", "Failed to restart", sum(1 for s in statuses if s.failed_to_restart)),
                ("restarted", "Restarted", sum(1 for e in events if e.name == "restarted" and e.status == "success")),
                ("changed", "Changed", changed),
                ("out_of_sync", "Out of sync", sum(1 for s in statuses if s.out_of_sync)),
                ("scheduled", "Scheduled", 0),
                ("corrective_change", "Corrective change", 0),
            ]),
            "events": _metric("events", "Events", [
                ("total", "Total", len(events)),
                ("failure", "Failure", sum(1 for e in events if e.status == "failure")),
                ("success", "Success", sum(1 for e in events if e.status == "success")),
                ("noop", "Noop", n_noop),
            ]),
            "changes": _metric("changes", "Changes", [
                ("total", "Total", sum(s.change_count for s in statuses)),
            ]),
            "time": _metric("time", "Time", [
                *((k.lower(), k, round(v, 6)) for k, v in sorted(time_by_type.items())),
                ("total", "Total", round(elapsed, 6)),
            ]),
        }

    # -- reading -------------------------------------------------------------------------------------
    def metric(self, category: str, name: str) -> Any:
        for key, _label, value in self.metrics.get(category, {}).get("values", []):
            if key == name:
                return value
        return None

    def exit_code(self) -> int:
        """``--detailed-exitcodes``: 0 nothing, 2 changes, 4 failures, 6 both."""
        code = 0
        if self.metric("resources", "failed") or self.status == "failed":
            code |= 4
        if any(s.changed for s in self.resource_statuses.values()):
            code |= 2
        return code

    # -- serialisation --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host, "time": self.time, "configuration_version": self.configuration_version,
            "transaction_uuid": self.transaction_uuid, "report_format": REPORT_FORMAT,
            "puppet_version": None, "bunraku_version": "0.1.0", "status": self.status, "noop": self.noop,
            "noop_pending": self.noop_pending, "environment": self.environment, "kind": self.kind,
            "code_id": self.code_id, "catalog_uuid": self.catalog_uuid,
            "cached_catalog_status": self.cached_catalog_status, "corrective_change": self.corrective_change,
            "logs": [entry.to_dict() for entry in self.logs], "metrics": self.metrics,
            "resource_statuses": {ref: s.to_dict() for ref, s in self.resource_statuses.items()},
            "apply_mode": self.apply_mode, "incremental": self.incremental, "health": self.health,
        }

    def to_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, default=str)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Report:
        return cls(
            host=d["host"], configuration_version=d.get("configuration_version"), code_id=d.get("code_id"),
            catalog_uuid=d.get("catalog_uuid"), environment=d.get("environment", "production"),
            transaction_uuid=d.get("transaction_uuid", ""), time=d.get("time", ""), noop=d.get("noop", False),
            status=d.get("status", "unchanged"), noop_pending=d.get("noop_pending", False),
            cached_catalog_status=d.get("cached_catalog_status", "not_used"),
            corrective_change=d.get("corrective_change", False),
            resource_statuses={k: ResourceStatus.from_dict(v) for k, v in (d.get("resource_statuses") or {}).items()},
            metrics=d.get("metrics") or {}, logs=[LogEntry.from_dict(x) for x in d.get("logs") or []],
            kind=d.get("kind", "apply"), apply_mode=d.get("apply_mode", "full"),
            incremental=d.get("incremental"),
            health=d.get("health") or {"status": "unknown", "checks": {}},
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Report:
        return cls.from_dict(json.loads(text))

    def save(self, state_dir: Path | str) -> Path:
        """Write ``reports/<host>/<timestamp>.json`` and ``last_run_report.json`` (atomically)."""
        from engine.fsutil import atomic_write

        base = Path(state_dir)
        reports = base / "reports" / self.host.replace("/", "_")
        reports.mkdir(parents=True, exist_ok=True)
        data = self.to_json().encode("utf-8")
        stamp = self.time.replace(":", "").replace("-", "").replace(".", "")
        path = reports / f"{stamp}.json"
        atomic_write(str(path), data, mode=0o640)
        atomic_write(str(base / "last_run_report.json"), data, mode=0o640)
        return path


def health_status(checks: dict[str, dict[str, Any]]) -> str:
    """``unhealthy`` if any check ran and failed; else ``unknown`` if there are none or one could not
    run; else ``healthy``."""
    statuses = {c.get("status") for c in checks.values()}
    if "unhealthy" in statuses:
        return "unhealthy"
    if not checks or "unknown" in statuses:
        return "unknown"
    return "healthy"


def _metric(name: str, label: str, values: list[tuple[str, str, Any]]) -> dict[str, Any]:
    return {"name": name, "label": label, "values": [list(v) for v in values]}
