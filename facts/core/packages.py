"""``packages``: installed packages and versions. Expensive, so only collected when asked for by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from facts.core._io import run_command
from facts.registry import collector

_QUERIES = (
    ["dpkg-query", "-W", "-f", "${Package}\\t${Version}\\t${db:Status-Abbrev}\\n"],
    ["rpm", "-qa", "--qf", "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\tii\\n"],
)


def parse_package_lines(text: str) -> dict[str, str]:
    """``name<TAB>version<TAB>status`` lines; only installed ones (dpkg status "ii")."""
    packages: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and fields[0] and (len(fields) < 3 or fields[2].strip().startswith("ii")):
            packages[fields[0]] = fields[1]
    return packages


def parse_apk_info(text: str) -> dict[str, str]:
    """``apk info -v`` lines ("musl-1.2.4-r2") to {"musl": "1.2.4-r2"}."""
    packages: dict[str, str] = {}
    for line in text.split():
        parts = line.rsplit("-", 2)
        if len(parts) == 3:
            packages[parts[0]] = f"{parts[1]}-{parts[2]}"
    return packages


@collector("packages", expensive=True)
def collect_packages(_facts: Mapping[str, Any]) -> dict[str, Any]:
    for argv in _QUERIES:
        output = run_command(argv, timeout=30.0)
        if output is not None:
            return {"packages": parse_package_lines(output)}
    output = run_command(["apk", "info", "-v"], timeout=30.0)
    if output is not None:
        return {"packages": parse_apk_info(output)}
    return {}
