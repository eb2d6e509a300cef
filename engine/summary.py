"""A human-readable rendering of a report, as ``puppet apply`` prints one (the CLI prints it)."""

from __future__ import annotations

from engine.report import Report

LEVEL_NAMES = {"notice": "Notice", "warning": "Warning", "err": "Error", "info": "Info"}


def report_lines(report: Report) -> list[tuple[str, str]]:
    """(level, text) lines: every notice or worse log, then a summary line."""
    lines: list[tuple[str, str]] = []
    for entry in report.logs:
        if entry.level not in LEVEL_NAMES or entry.level == "info":
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
