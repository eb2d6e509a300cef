"""The report of one apply run: Puppet's report, ``report_format`` 12, as Puppet's own tools read it.

:meth:`Report.to_dict` is exactly what Puppet writes and what its JSON schema (``api/schemas/report.json``
in Puppet's repository) allows: a Puppet server's loader (``Puppet::Transaction::Report.convert_from``)
reads it and computes the same ``status`` and ``exit_status`` as :meth:`Report.exit_code`. Every file
Bunraku writes (the state dir's reports, ``--report FILE``, the agent's ``last_run_report.yaml``) holds
that form.

Bunraku's own additions — ``apply_mode`` and ``incremental`` (see :mod:`engine.incremental`),
``health`` (the healthcheck probes), ``agent_upgrade`` (see :mod:`agent.upgrade`) and ``releases`` (the
version of each application a ``release`` resource left current) — have no place in Puppet's schema, which forbids unknown keys
everywhere. They live on the :class:`Report` object and travel only to Bunraku's own master, whose store
keeps them: :meth:`Report.to_store_dict` is Puppet's form plus those top-level keys (Puppet's loader
ignores them; its schema would not). A skipped resource's reason (``ResourceStatus.skip_reason``) is in
memory only; the report says it as Puppet does, in the ``Skipping because of failed dependencies`` log.

Timestamps are Puppet's: ISO 8601, local time, nine digits of fraction and a numeric offset.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import __version__

if TYPE_CHECKING:
    from engine.statedir import StateDir

log = logging.getLogger(__name__)

REPORT_FORMAT = 12
REDACTED = "[redacted]"
_monotonic = time.monotonic  # the dataclasses below have a field named ``time``

#: The keys :meth:`Report.to_store_dict` adds for Bunraku's master; never in a file Puppet may read.
STORE_ONLY_KEYS = ("apply_mode", "incremental", "health", "agent_upgrade", "releases")
#: YAML tag of Puppet's ``last_run_report.yaml``: its loader builds the report from the tagged mapping.
PUPPET_REPORT_YAML_TAG = "!ruby/object:Puppet::Transaction::Report"


#: What a report says in ``puppet_version``: which agent wrote it (Puppet's field for that).
AGENT_VERSION = f"bunraku {__version__}"


def puppet_time(ns: int | None = None) -> str:
    """``2024-05-01T12:00:00.123456789+02:00``: the time (now, or ``ns`` nanoseconds since the epoch)
    as Puppet writes it (Ruby's ``Time#iso8601(9)`` of a local time)."""
    if ns is None:
        ns = time.time_ns()
    seconds, fraction = divmod(ns, 1_000_000_000)
    second, offset = _local_second(seconds)
    return f"{second}.{fraction:09d}{offset}"


@lru_cache(maxsize=4)
def _local_second(seconds: int) -> tuple[str, str]:
    """A second's local date and time and its UTC offset (``+02:00``): a run stamps a thousand events
    within a few seconds."""
    local = datetime.fromtimestamp(seconds).astimezone()
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%dT%H:%M:%S}", f"{offset[:3]}:{offset[3:]}"


def labelize(name: str) -> str:
    """A metric's label, as Puppet derives it: ``config_retrieval`` -> ``Config retrieval``."""
    return name.capitalize().replace("_", " ")


def _event_value(value: Any) -> Any:
    """Event values are strings, arrays, hashes or null in Puppet's reports (its schema allows no
    other): a number or boolean is written as Puppet prints it."""
    if value is None or isinstance(value, (str, list, dict)):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(slots=True)
class Event:
    property: str | None
    previous_value: Any
    desired_value: Any
    message: str
    status: str  # success | failure | noop | audit
    time: str = field(default_factory=puppet_time)
    #: Puppet's event name: ``file_created``, ``executed_command``, ``refresh``, ``mode_changed`` ...
    name: str = "property_changed"
    redacted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "audited": False, "property": self.property, "previous_value": _event_value(self.previous_value),
            "desired_value": _event_value(self.desired_value), "historical_value": None,
            "message": self.message, "name": self.name, "status": self.status, "time": self.time,
            "redacted": self.redacted, "corrective_change": False,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(d.get("property"), d.get("previous_value"), d.get("desired_value"), d.get("message", ""),
                   d.get("status", "success"), d.get("time") or puppet_time(), d.get("name") or "property_changed",
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
    #: Why it was skipped (in memory only; the report's log says it, as Puppet's does).
    skip_reason: str | None = None
    #: When it was evaluated.
    time: str = field(default_factory=puppet_time)
    #: A refresh it received ran (Puppet's ``restarted`` resource metric; not serialised, as in Puppet).
    restarted: bool = False

    @property
    def resource(self) -> str:
        return f"{self.resource_type}[{self.title}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title, "file": self.file, "line": self.line, "resource": self.resource,
            "resource_type": self.resource_type, "provider_used": self.provider,
            "containment_path": self.containment_path, "evaluation_time": self.evaluation_time,
            "tags": self.tags, "time": self.time, "failed": self.failed, "failed_to_restart": self.failed_to_restart,
            "changed": self.changed, "out_of_sync": self.out_of_sync, "skipped": self.skipped,
            "change_count": self.change_count, "out_of_sync_count": self.out_of_sync_count,
            "events": [e.to_dict() for e in self.events], "corrective_change": False,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResourceStatus:
        events = [Event.from_dict(e) for e in d.get("events") or []]
        return cls(
            resource_type=d["resource_type"], title=d["title"], file=d.get("file"), line=d.get("line"),
            tags=list(d.get("tags") or []), containment_path=list(d.get("containment_path") or []),
            events=events, change_count=d.get("change_count", 0), out_of_sync_count=d.get("out_of_sync_count", 0),
            failed=d.get("failed", False), skipped=d.get("skipped", False), changed=d.get("changed", False),
            out_of_sync=d.get("out_of_sync", False), failed_to_restart=d.get("failed_to_restart", False),
            evaluation_time=d.get("evaluation_time") or 0.0, provider=d.get("provider_used"),
            skip_reason=d.get("skip_reason"), time=d.get("time") or puppet_time(),
            restarted=any(e.name == "refresh" and e.status == "success" for e in events),
        )


@dataclass(slots=True)
class LogEntry:
    level: str
    message: str
    source: str = "Bunraku"
    time: str = field(default_factory=puppet_time)
    file: str | None = None
    line: int | None = None
    #: The level, then the tags of the resource it is about (Puppet's log tags).
    tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "message": self.message, "source": self.source, "tags": self.tags,
                "time": self.time, "file": self.file, "line": self.line}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogEntry:
        return cls(d.get("level", "info"), d.get("message", ""), d.get("source", "Bunraku"),
                   d.get("time") or puppet_time(), d.get("file"), d.get("line"), list(d.get("tags") or []))


@dataclass(slots=True)
class Report:
    host: str
    configuration_version: Any = None
    code_id: str | None = None
    catalog_uuid: str | None = None
    environment: str = "production"
    transaction_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: str = field(default_factory=puppet_time)
    noop: bool = False
    status: str = "unchanged"
    noop_pending: bool = False
    cached_catalog_status: str = "not_used"
    corrective_change: bool = False
    resource_statuses: dict[str, ResourceStatus] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    logs: list[LogEntry] = field(default_factory=list)
    puppet_version: str = AGENT_VERSION
    #: The transaction ran to its end (Puppet: a report of a run that had no catalog is not completed,
    #: and therefore ``failed``).
    transaction_completed: bool = False
    #: The master that served the catalog (``host:port``), when there was one.
    server_used: str | None = None
    #: ``full`` or ``incremental`` (see :mod:`engine.incremental`); ``incremental`` then says against what.
    apply_mode: str = "full"
    incremental: dict[str, Any] | None = None
    #: ``{status: healthy|unhealthy|unknown, checks: {title: {status, healthy, attempts, message, duration}}}``
    health: dict[str, Any] = field(default_factory=lambda: {"status": "unknown", "checks": {}})
    #: What became of an agent version the master offered (:mod:`agent.upgrade`): ``{from, to, state,
    #: reason}``, state staged | stage_failed | failed | done; None when nothing was offered
    agent_upgrade: dict[str, Any] | None = None
    #: app -> the version its ``release`` resource left current in this run (for application rollouts)
    releases: dict[str, str] = field(default_factory=dict)
    #: The ``time`` metric's values in order: per resource type, then the run's phases, ``total`` last.
    times: dict[str, float] = field(default_factory=dict)
    _started: float = field(default_factory=_monotonic, repr=False, compare=False)

    # -- building ----------------------------------------------------------------------------------
    def log(self, level: str, message: str, source: str = "Bunraku", file: str | None = None,
            line: int | None = None, tags: list[str] | None = None) -> None:
        self.logs.append(LogEntry(level, message, source, puppet_time(), file, line,
                                  [level, *(t for t in tags or () if t != level)]))

    def record_health(self, name: str, *, healthy: bool | None, attempts: int, message: str,
                      duration: float) -> None:
        """One health check's outcome; ``healthy=None`` means it could not run (unknown)."""
        status = "unknown" if healthy is None else "healthy" if healthy else "unhealthy"
        self.health["checks"][name] = {"status": status, "healthy": bool(healthy), "attempts": attempts,
                                       "message": message, "duration": round(duration, 6)}
        self.health["status"] = health_status(self.health["checks"])

    def add_times(self, name: str, seconds: float) -> None:
        """Record how long a phase took (``config_retrieval``, ``fact_generation``, ``total`` ...), as
        Puppet's ``add_times``; a report already finalised shows it at once."""
        self.times[name] = round(float(seconds), 9)
        if "total" in self.times and name != "total":
            # total stays last, and is the wall time since the run began, which includes this phase
            self.times["total"] = round(max(self.times.pop("total"), time.monotonic() - self._started), 9)
        if self.metrics:
            self.metrics["time"] = _metric("time", list(self.times.items()))

    def finalise(self, elapsed: float, time_by_type: dict[str, float]) -> None:
        """Compute the metrics and the status the way Puppet's ``finalize_report`` does."""
        statuses = list(self.resource_statuses.values())
        events = [e for s in statuses for e in s.events]
        failed = sum(1 for s in statuses if s.failed)
        failed_to_restart = sum(1 for s in statuses if s.failed_to_restart)
        changes = sum(s.change_count for s in statuses)
        if failed or failed_to_restart or not self.transaction_completed:
            self.status = "failed"
        elif changes:
            self.status = "changed"
        else:
            self.status = "unchanged"
        self.noop_pending = any(e.status == "noop" for e in events)
        phases = {k: v for k, v in self.times.items() if k not in ("total",)}
        self.times = {k.lower(): round(v, 9) for k, v in sorted(time_by_type.items())}
        self.times["config_retrieval"] = phases.pop("config_retrieval", 0.0)
        self.times["transaction_evaluation"] = round(elapsed, 9)
        self.times["catalog_application"] = phases.pop("catalog_application", round(elapsed, 9))
        self.times.update(phases)
        self.times["total"] = round(max(elapsed, time.monotonic() - self._started), 9)
        by_status: dict[str, int] = {"total": len(events), "failure": 0, "success": 0}
        for event in events:
            by_status[event.status] = by_status.get(event.status, 0) + 1
        self.metrics = {
            "resources": _metric("resources", [
                ("total", len(statuses)),
                ("skipped", sum(1 for s in statuses if s.skipped)),
                ("failed", failed),
                ("failed_to_restart", failed_to_restart),
                ("restarted", sum(1 for s in statuses if s.restarted)),
                ("changed", sum(1 for s in statuses if s.changed)),
                ("out_of_sync", sum(1 for s in statuses if s.out_of_sync)),
                ("scheduled", 0),
                ("corrective_change", 0),
            ]),
            "time": _metric("time", list(self.times.items())),
            "changes": _metric("changes", [("total", changes)]),
            "events": _metric("events", list(by_status.items())),
        }

    # -- reading -------------------------------------------------------------------------------------
    def metric(self, category: str, name: str) -> Any:
        for key, _label, value in self.metrics.get(category, {}).get("values", []):
            if key == name:
                return value
        return None

    def exit_code(self) -> int:
        """``--detailed-exitcodes``, Puppet's ``exit_status``: 2 if anything changed, 4 if a resource
        failed or failed to restart, 6 both, 0 neither."""
        code = 0
        if self.metric("changes", "total"):
            code |= 2
        if self.metric("resources", "failed") or self.metric("resources", "failed_to_restart"):
            code |= 4
        return code

    # -- serialisation --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Puppet's report (valid against its schema), as every file Bunraku writes holds it."""
        out: dict[str, Any] = {
            "host": self.host, "time": self.time,
            # a run without a catalog has no version; the schema wants a string or an integer
            "configuration_version": "" if self.configuration_version is None else self.configuration_version,
            "transaction_uuid": self.transaction_uuid, "report_format": REPORT_FORMAT,
            "puppet_version": self.puppet_version, "status": self.status,
            "transaction_completed": self.transaction_completed, "noop": self.noop,
            "noop_pending": self.noop_pending, "environment": self.environment,
            "logs": [entry.to_dict() for entry in self.logs], "metrics": self.metrics,
            "resource_statuses": {ref: s.to_dict() for ref, s in self.resource_statuses.items()},
            "corrective_change": self.corrective_change,
        }
        # as Puppet: these only when known
        if self.server_used:
            out["server_used"] = self.server_used
        if self.catalog_uuid:
            out["catalog_uuid"] = self.catalog_uuid
        if self.code_id:
            out["code_id"] = self.code_id
        out["cached_catalog_status"] = self.cached_catalog_status
        return out

    def to_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, default=str)

    def to_store_dict(self) -> dict[str, Any]:
        """Puppet's report plus Bunraku's top-level additions (:data:`STORE_ONLY_KEYS`): what a
        Bunraku agent sends its master, whose store and rollouts read them."""
        out = {**self.to_dict(), "apply_mode": self.apply_mode, "incremental": self.incremental,
               "health": self.health}
        if self.agent_upgrade is not None:
            out["agent_upgrade"] = self.agent_upgrade
        if self.releases:
            out["releases"] = self.releases
        return out

    def to_store_json(self) -> str:
        return json.dumps(self.to_store_dict(), ensure_ascii=False, default=str)

    def to_yaml(self) -> str:
        """``last_run_report.yaml`` as a Puppet agent writes it: the report's mapping under Puppet's
        report tag, which Puppet's YAML loader accepts."""
        import yaml

        body = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, default_flow_style=False)
        return f"--- {PUPPET_REPORT_YAML_TAG}\n{body}"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Report:
        metrics = d.get("metrics") or {}
        times = {str(v[0]): v[2] for v in (metrics.get("time") or {}).get("values") or []
                 if isinstance(v, list) and len(v) == 3}
        version = d.get("configuration_version")
        return cls(
            host=d["host"], configuration_version=None if version == "" else version, code_id=d.get("code_id"),
            catalog_uuid=d.get("catalog_uuid"), environment=d.get("environment", "production"),
            transaction_uuid=d.get("transaction_uuid", ""), time=d.get("time") or puppet_time(),
            noop=d.get("noop", False), status=d.get("status", "unchanged"), noop_pending=d.get("noop_pending", False),
            cached_catalog_status=d.get("cached_catalog_status", "not_used"),
            corrective_change=d.get("corrective_change", False),
            resource_statuses={k: ResourceStatus.from_dict(v) for k, v in (d.get("resource_statuses") or {}).items()},
            metrics=metrics, logs=[LogEntry.from_dict(x) for x in d.get("logs") or []],
            puppet_version=d.get("puppet_version") or AGENT_VERSION,
            # reports from before the field existed completed unless they failed
            transaction_completed=bool(d.get("transaction_completed", d.get("status") != "failed")),
            server_used=d.get("server_used"), apply_mode=d.get("apply_mode", "full"),
            incremental=d.get("incremental"),
            health=d.get("health") or {"status": "unknown", "checks": {}}, times=times,
            agent_upgrade=d.get("agent_upgrade"), releases=dict(d.get("releases") or {}),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Report:
        return cls.from_dict(json.loads(text))

    def save(self, state_dir: Path | str | StateDir) -> Path:
        """Write ``reports/<host>/<timestamp>.json`` and ``last_run_report.json`` (atomically) in a
        host directory or a :class:`engine.statedir.StateDir` (an image's: resolved inside it at each
        write, so no link the run made can carry them onto the host)."""
        from engine.statedir import StateDir

        state = state_dir if isinstance(state_dir, StateDir) else StateDir.on_host(state_dir)
        data = self.to_json().encode("utf-8")
        name = f"reports/{self.host.replace('/', '_')}/{_file_stamp(self.time)}.json"
        path = state.write(name, data, mode=0o640)
        state.write("last_run_report.json", data, mode=0o640)
        return path


def _file_stamp(when: str) -> str:
    """``20240501T100000123456``: a report's time in UTC, for its file name."""
    try:
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        moment = datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")


def health_status(checks: dict[str, dict[str, Any]]) -> str:
    """``unhealthy`` if any check ran and failed; else ``unknown`` if there are none or one could not
    run; else ``healthy``."""
    statuses = {c.get("status") for c in checks.values()}
    if "unhealthy" in statuses:
        return "unhealthy"
    if not checks or "unknown" in statuses:
        return "unknown"
    return "healthy"


def _metric(name: str, values: list[tuple[str, Any]]) -> dict[str, Any]:
    return {"name": name, "label": labelize(name), "values": [[key, labelize(key), value] for key, value in values]}
