"""Summaries of a run: the lines ``puppet apply`` prints (the CLI prints them), and the files a Puppet
agent leaves in its state directory (``last_run_summary.yaml``, ``last_run_report.yaml``,
``classes.txt``, ``resources.txt``) for the tools that read them."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from engine.catalog import COMPILABLE_TYPE, Catalog, default_kind
from engine.report import Report

log = logging.getLogger(__name__)

LEVEL_NAMES = {"notice": "Notice", "warning": "Warning", "err": "Error", "info": "Info"}


#: the tag of a log entry holding a file's content diff: kept in every report, shown on the console only
#: with --show-diff (then logged at notice level)
DIFF_TAG = "content_diff"


def report_lines(report: Report, *, verbose: bool = False) -> list[tuple[str, str]]:
    """(level, text) lines: every notice or worse log (and info ones when ``verbose``, but not the content
    diffs every report keeps), then a summary line."""
    lines: list[tuple[str, str]] = []
    for entry in report.logs:
        if entry.level not in LEVEL_NAMES or (entry.level == "info" and (not verbose or DIFF_TAG in entry.tags)):
            continue
        prefix = LEVEL_NAMES[entry.level]
        where = f"{entry.source}: " if entry.source and entry.source != "Bunraku" else ""
        message = entry.message
        if entry.level == "err" and entry.file:
            message += f" (file: {entry.file}, line: {entry.line})" if entry.line else f" (file: {entry.file})"
        for i, text in enumerate(message.splitlines() or [""]):
            lines.append((entry.level, f"{prefix}: {where}{text}" if i == 0 else text))
    total = report.metric("time", "total") or 0.0
    changes = report.metric("changes", "total") or 0
    failed = report.metric("resources", "failed") or 0
    skipped = report.metric("resources", "skipped") or 0
    pending = report.metric("events", "noop") or 0
    parts = [f"{changes} change{'s' if changes != 1 else ''}"]
    if report.noop:
        parts = [f"{pending} pending change{'s' if pending != 1 else ''} (noop)"]
    if failed:
        parts.append(f"{failed} failed")
    if skipped:
        parts.append(f"{skipped} skipped")
    verb = "Applied catalog" if not report.noop else "Checked catalog"
    lines.append(("err" if failed else "notice",
                  f"Notice: {verb} for {report.host} in {total:.2f} seconds: {', '.join(parts)}"))
    return lines


# -- what a Puppet agent leaves in its state directory ----------------------------------------------------
#: Resources a catalog carries that manage nothing on the host (Puppet leaves them out of resources.txt).
_UNMANAGED_TYPES = frozenset({"Stage", "Schedule", "Filebucket", "Anchor", "Whit"})


def last_run_summary(report: Report, *, run_mode: str = "agent",
                     initial_environment: str | None = None) -> dict[str, Any]:
    """``last_run_summary.yaml`` in Puppet's layout (what its ``raw_summary`` gives): ``version``,
    ``application``, then one mapping per metric category (``resources``, ``time`` with ``last_run``,
    ``changes``, ``events``); monitoring checks and the agent's environment logic read it."""
    summary: dict[str, Any] = {
        "version": {"config": report.configuration_version, "puppet": report.puppet_version},
        "application": {"run_mode": run_mode, "initial_environment": initial_environment or report.environment,
                        "converged_environment": report.environment},
    }
    for category in ("resources", "time", "changes", "events"):
        values = (report.metrics.get(category) or {}).get("values") or []
        section = {str(name): value for name, label, value in sorted(values, key=lambda v: str(v[1]))}
        if category != "time":
            section.setdefault("total", 0)
        summary[category] = section
    summary["time"]["last_run"] = int(time.time())
    return summary


def write_last_run_files(state_dir: Path, report: Report) -> None:
    """``last_run_summary.yaml`` and ``last_run_report.yaml`` under ``state_dir``, as Puppet's agent
    writes them (mode 0640), for the tools that read them. Only a cache of what the report says: a
    disk that cannot take them is logged, never an error of the run."""
    import yaml

    from engine.fsutil import atomic_write

    summary = yaml.safe_dump(last_run_summary(report), sort_keys=False, default_flow_style=False,
                             allow_unicode=True, explicit_start=True)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(str(state_dir / "last_run_summary.yaml"), summary.encode("utf-8"), mode=0o640)
        atomic_write(str(state_dir / "last_run_report.yaml"), report.to_yaml().encode("utf-8"), mode=0o640)
    except OSError as exc:
        # info, not warning: a full disk is said once, by what it costs (the report's spooling)
        log.info("could not write the last run's summary in %s: %s", state_dir, exc.strerror or exc)


def write_catalog_summary(state_dir: Path, catalog: Catalog) -> None:
    """``classes.txt`` (the catalog's classes) and ``resources.txt`` (the resources it manages, as
    lowercased references) under ``state_dir``, as Puppet's agent writes them."""
    from engine.fsutil import atomic_write

    managed = [r.ref.lower() for r in catalog
               if not r.exported and r.type not in _UNMANAGED_TYPES
               and (r.kind or default_kind(r.type)) == COMPILABLE_TYPE]
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(str(state_dir / "classes.txt"), "".join(f"{c}\n" for c in catalog.classes).encode("utf-8"),
                     mode=0o640)
        atomic_write(str(state_dir / "resources.txt"), "".join(f"{r}\n" for r in managed).encode("utf-8"),
                     mode=0o640)
    except OSError as exc:
        log.info("could not write the catalog's summary in %s: %s", state_dir, exc.strerror or exc)
