"""Pure functions over the documents the store keeps: catalog digests and redaction, report summaries
and events, dotted fact paths, timestamps. No I/O, no database: the store's SQL lives elsewhere."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

REDACTED = "[redacted]"

#: Top-level catalog keys that change on every compilation (or with every commit) without the catalog's
#: content changing; the digest leaves them out so that "did this node's catalog change?" has an answer.
#: ``code_id`` is left out too: the history keeps it in its own column, and a new commit that leaves a
#: node's resources alone must not look like a new catalog to the rollout tooling.
DIGEST_EXCLUDED_KEYS = frozenset({"version", "catalog_uuid", "code_id"})

#: Properties that are secret by their type, even when the manifest did not mark them ``Sensitive``
#: (mirrors ``sensitive_properties`` of engine/types; the store does not import the engine).
TYPE_SENSITIVE_PARAMETERS: Mapping[str, frozenset[str]] = {"user": frozenset({"password"})}

#: Namespace for transaction ids derived from a report's content when the agent sent none.
_REPORT_NAMESPACE = uuid.UUID("6f1c2a4e-5b7d-4c1e-9a3f-2d8e0b6c4a11")


def utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_time(value: Any) -> datetime | None:
    """Puppet's ISO 8601 times (``2024-05-01T10:00:00.123Z``) or a datetime; None when absent or unreadable."""
    if isinstance(value, datetime):
        return utc(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def canonical_json(value: Any) -> str:
    """The one spelling of a JSON document that digests are taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest_of(value: Any) -> str:
    """sha256 of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


# -- catalogs ---------------------------------------------------------------------------------------------


def redact_catalog(catalog: Mapping[str, Any]) -> dict[str, Any]:
    """``catalog`` with its sensitive parameter values reading ``"[redacted]"``.

    Only the resources that hold secrets are copied; the rest is shared with the input (a deep copy of a
    large catalog costs more than compiling it), so neither the result nor the input may be mutated."""
    out = dict(catalog)
    resources = out.get("resources")
    if not isinstance(resources, list):
        return out
    redacted: list[Any] = []
    for resource in resources:
        if isinstance(resource, dict) and isinstance(resource.get("parameters"), dict):
            params = resource["parameters"]
            secret = set(resource.get("sensitive_parameters") or ())
            secret |= TYPE_SENSITIVE_PARAMETERS.get(str(resource.get("type", "")).lower(), frozenset())
            hidden = [name for name in secret if name in params]
            if hidden:
                resource = dict(resource, parameters={**params, **dict.fromkeys(hidden, REDACTED)})
        redacted.append(resource)
    out["resources"] = redacted
    return out


def catalog_digest(catalog: Mapping[str, Any], *, redacted: Mapping[str, Any] | None = None) -> str:
    """sha256 of the canonical JSON of ``catalog`` without its per-compilation keys.

    Taken over the *redacted* catalog (pass it as ``redacted`` when it is at hand): a digest of the secret
    values would let anyone who reads the store test guesses of a weak password offline."""
    source = redacted if redacted is not None else redact_catalog(catalog)
    content = {k: v for k, v in source.items() if k not in DIGEST_EXCLUDED_KEYS}
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


# -- reports ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """The columns of a report row, read from the document."""

    node: str
    transaction_uuid: str
    time: datetime
    environment: str | None
    code_id: str | None
    configuration_version: str | None
    catalog_uuid: str | None
    status: str
    noop: bool
    noop_pending: bool
    corrective_change: bool
    cached_catalog_status: str | None
    event_count: int
    change_count: int
    run_seconds: float | None = None


def run_seconds(document: Any) -> float | None:
    """A report's total run time from its metrics: Puppet's ``{"time": {"values": [["total", "Total", 1.2],
    ...]}}``, or a plain ``{"time": {"total": 1.2}}``; None when absent."""
    try:
        timing = document["metrics"]["time"]
    except (KeyError, TypeError):
        return None
    if isinstance(timing, dict):
        for entry in timing.get("values") or []:
            if isinstance(entry, list | tuple) and len(entry) >= 3 and entry[0] == "total":
                return float(entry[2]) if isinstance(entry[2], int | float) else None
        total = timing.get("total")
        return float(total) if isinstance(total, int | float) and not isinstance(total, bool) else None
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def summarize_report(report: Mapping[str, Any], *, received_at: datetime) -> ReportSummary:
    """Read the indexed fields of a report; raises ValueError when it names no host."""
    node = report.get("host")
    if not isinstance(node, str) or not node:
        raise ValueError("report has no host")
    txn = report.get("transaction_uuid")
    if not isinstance(txn, str) or not txn:
        # without an id from the agent, the content is the identity: a resent report is still one report
        txn = str(uuid.uuid5(_REPORT_NAMESPACE, canonical_json(report)))
    statuses = report.get("resource_statuses") or {}
    events = sum(len(s.get("events") or []) for s in statuses.values() if isinstance(s, Mapping))
    changes = sum(int(s.get("change_count") or 0) for s in statuses.values() if isinstance(s, Mapping))
    return ReportSummary(
        node=node,
        transaction_uuid=txn,
        time=parse_time(report.get("time")) or received_at,
        environment=_text(report.get("environment")),
        code_id=_text(report.get("code_id")),
        configuration_version=_text(report.get("configuration_version")),
        catalog_uuid=_text(report.get("catalog_uuid")),
        status=str(report.get("status") or "unchanged"),
        noop=bool(report.get("noop", False)),
        noop_pending=bool(report.get("noop_pending", False)),
        corrective_change=bool(report.get("corrective_change", False)),
        cached_catalog_status=_text(report.get("cached_catalog_status")),
        event_count=events,
        change_count=changes,
        run_seconds=run_seconds(report),
    )


def report_events(report: Mapping[str, Any], *, default_time: datetime) -> Iterator[dict[str, Any]]:
    """One row per event of the report's resource statuses, in the document's order."""
    for ref, status in (report.get("resource_statuses") or {}).items():
        if not isinstance(status, Mapping):
            continue
        for event in status.get("events") or []:
            if not isinstance(event, Mapping):
                continue
            yield {
                "resource": str(ref),
                "resource_type": _text(status.get("resource_type")),
                "property": _text(event.get("property")),
                "previous_value": event.get("previous_value"),
                "desired_value": event.get("desired_value"),
                "message": str(event.get("message") or ""),
                "status": str(event.get("status") or "success"),
                "corrective_change": bool(event.get("corrective_change", False)),
                "time": parse_time(event.get("time")) or default_time,
            }


# -- facts --------------------------------------------------------------------------------------------------

_MISSING = object()


def fact_at(facts: Any, path: str) -> Any:
    """The value at dotted ``path`` (``os.release.major``; a number indexes a list), or ``_MISSING``."""
    node = facts
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def scalar_text(value: Any) -> str | None:
    """How a JSON scalar reads as text (what PostgreSQL's ``#>>`` gives); None for null and collections."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return None


def fact_matches(facts: Any, path: str, wanted: Any) -> bool:
    """Whether the fact at ``path`` equals ``wanted``; a string also matches a scalar that reads the same,
    because queries from the command line arrive as text (``is_virtual=true``, ``processors.count=4``)."""
    actual = fact_at(facts, path)
    if actual is _MISSING:
        return False
    if isinstance(wanted, str):
        return scalar_text(actual) == wanted
    if isinstance(actual, bool) != isinstance(wanted, bool):
        return False  # True == 1 in Python, not in facts
    return bool(actual == wanted)


def agent_label(puppet_version: str | None) -> str | None:
    """What a node's agent is, from its latest report's ``puppet_version``: Bunraku's version ("1.2.0"),
    or "puppet 7.23.0" for a Puppet agent; None before any report."""
    if not puppet_version:
        return None
    if puppet_version.startswith("bunraku "):
        return puppet_version[len("bunraku "):]
    return f"puppet {puppet_version}"
