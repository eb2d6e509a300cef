"""This host's facts next to Facter's own: every key ``facter --show-legacy`` prints is ours too, with the
same value unless it changes from one second to the next. Skipped where Facter is not installed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("facter") is None,
                                reason="facter is not installed: nothing to compare our facts with")

# Keys we do not have, on purpose (docs/COMPATIBILITY.md, "Facts"): the Ruby interpreter Facter runs in.
# Ours has python/python_version instead.
UNSUPPORTED = {"ruby", "rubyplatform", "rubysitedir", "rubyversion"}

# Present in both, values read a moment apart: free memory, load, uptime.
VOLATILE = {"load_averages", "memory", "memoryfree", "memoryfree_mb", "swapfree", "swapfree_mb",
            "system_uptime", "uptime", "uptime_days", "uptime_hours", "uptime_seconds"}

# Compared exactly, not only as "ours covers Facter's": the facts manifests branch on most.
STABLE = ("os", "kernel", "kernelrelease", "kernelversion", "kernelmajversion", "architecture", "hardwareisa",
          "hardwaremodel", "facterversion", "osfamily", "operatingsystem", "operatingsystemrelease",
          "operatingsystemmajrelease", "identity", "filesystems", "fips_enabled", "timezone")
STABLE_PATHS = (("networking", "hostname"), ("networking", "domain"), ("networking", "fqdn"),
                ("processors", "isa"), ("processors", "count"), ("processors", "models"))


def _facter() -> dict[str, Any]:
    # Facter exits 1 when it logged an error (an unreadable /proc/1/environ in a container, for one) but
    # still prints the facts it resolved.
    proc = subprocess.run(["facter", "--json", "--show-legacy"], capture_output=True, text=True, timeout=120,
                          check=False)
    try:
        facts = json.loads(proc.stdout)
    except ValueError:
        pytest.skip(f"facter printed no JSON (exit {proc.returncode}): {proc.stderr[-300:]}")
    assert isinstance(facts, dict)
    return facts


def _ours() -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(ROOT / "bunraku.py"), "facts", "--json", "--show-legacy"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert isinstance(facts, dict)
    return facts


@pytest.fixture(scope="module")
def both() -> tuple[dict[str, Any], dict[str, Any]]:
    return _facter(), _ours()


def _missing(theirs: Any, ours: Any, path: str = "") -> list[str]:
    """Where ``ours`` lacks or differs from ``theirs``; a hash of ours may hold more keys."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        found: list[str] = []
        for key, value in theirs.items():
            if key not in ours:
                found.append(f"{path}.{key}: missing")
            else:
                found.extend(_missing(value, ours[key], f"{path}.{key}"))
        return found
    return [] if theirs == ours else [f"{path}: facter {theirs!r}, ours {ours!r}"]


def test_every_key_facter_prints_is_ours(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    facter, ours = both
    assert sorted(set(facter) - set(ours) - UNSUPPORTED) == []


def test_values_equal_facters_but_the_volatile_ones(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    facter, ours = both
    differences = []
    for key in sorted(set(facter) & set(ours) - VOLATILE):
        differences.extend(_missing(facter[key], ours[key], key))
    # a virtual CPU without cpufreq reports its current clock ("cpu MHz"), which moves between two reads
    differences = [d for d in differences if not d.startswith("processors.speed:")]
    assert differences == []


def test_stable_facts_are_exactly_facters(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    facter, ours = both
    for key in STABLE:
        if key in facter:
            assert ours.get(key) == facter[key], key
    for first, second in STABLE_PATHS:
        if second in (facter.get(first) or {}):
            assert ours[first][second] == facter[first][second], f"{first}.{second}"
    assert ours["facterversion"] == facter["facterversion"]


def test_human_output_lists_the_same_names(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    facter_text = subprocess.run(["facter"], capture_output=True, text=True, timeout=120, check=False).stdout
    ours_text = subprocess.run([sys.executable, str(ROOT / "bunraku.py"), "facts"], capture_output=True,
                               text=True, timeout=120, cwd=ROOT, check=True).stdout

    def names(text: str) -> set[str]:
        return {line.split(" => ")[0] for line in text.splitlines() if line[:1].strip() and " => " in line}

    assert names(facter_text) - names(ours_text) - UNSUPPORTED == set()
    assert "hardwareisa" not in names(ours_text)  # a legacy name: hidden without --show-legacy, as Facter
    for key in ("kernel", "facterversion", "kernelrelease"):
        if key in both[0]:
            assert f"{key} => {both[0][key]}" in ours_text.splitlines()
