"""External facts: files in facts.d directories, as Facter reads them.

``.yaml``/``.yml``, ``.json`` and ``key=value`` ``.txt`` files are parsed; any other file that is
executable is run and its output read as JSON, ``key=value`` lines or YAML. External facts override
core facts of the same name. Within a directory files are read in name order; a later directory
overrides an earlier one.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_DIRS = (Path("/etc/facter/facts.d"), Path("/etc/puppetlabs/facter/facts.d"), Path("/etc/bunraku/facts.d"))
_SKIPPED_SUFFIXES = ("~", ".bak", ".orig", ".swp", ".dpkg-old", ".dpkg-new", ".rpmnew", ".rpmsave")


class ExternalFactError(ValueError):
    """An external fact file that cannot be read as facts."""


def parse_key_value(text: str) -> dict[str, str]:
    """``key=value`` lines (Facter's .txt format); blank lines and ``#`` comments are skipped."""
    result: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ExternalFactError(f"line {number} is not key=value: {raw!r}")
        result[key.strip()] = value.strip()
    return result


def _mapping(data: Any, kind: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ExternalFactError(f"{kind} must hold a mapping of fact names to values, not {type(data).__name__}")
    return {str(k): v for k, v in data.items()}


def parse_yaml(text: str) -> dict[str, Any]:
    import yaml  # only paid for when a YAML fact file exists

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return _mapping(yaml.load(text, Loader=loader), "YAML")  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise ExternalFactError(f"invalid YAML: {str(exc).splitlines()[0]}") from exc


def parse_json(text: str) -> dict[str, Any]:
    try:
        return _mapping(json.loads(text), "JSON")
    except json.JSONDecodeError as exc:
        raise ExternalFactError(f"invalid JSON: {exc}") from exc


def parse_executable_output(text: str) -> dict[str, Any]:
    """An executable's stdout: JSON when it looks like JSON, ``key=value`` lines, else YAML."""
    stripped = text.strip()
    if not stripped:
        return {}
    if stripped.startswith("{"):
        return parse_json(stripped)
    try:
        return parse_key_value(stripped)
    except ExternalFactError:
        return parse_yaml(stripped)


def is_candidate(path: Path) -> bool:
    name = path.name
    return not name.startswith(".") and not name.endswith(_SKIPPED_SUFFIXES)


def fact_files(directories: Sequence[Path]) -> list[Path]:
    """The candidate files of ``directories`` in load order; missing directories are skipped."""
    files: list[Path] = []
    for directory in directories:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        files.extend(Path(e.path) for e in entries if e.is_file() and is_candidate(Path(e.name)))
    return files


def load_fact_file(path: Path, *, timeout: float) -> dict[str, Any]:
    """The facts one file defines; raises ExternalFactError (or OSError) when it cannot."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return parse_yaml(path.read_text(encoding="utf-8"))
    if suffix == ".json":
        return parse_json(path.read_text(encoding="utf-8"))
    if suffix == ".txt":
        return parse_key_value(path.read_text(encoding="utf-8"))
    if os.access(path, os.X_OK):
        stdout, stderr, code = _run_executable(path, timeout)
        if code != 0:
            raise ExternalFactError(f"exited with status {code}: {stderr.strip()[:200]}")
        if stderr.strip():
            log.debug("external fact %s wrote to stderr: %s", path, stderr.strip()[:200])
        return parse_executable_output(stdout)
    log.debug("external fact file %s: not a known format and not executable; ignored", path)
    return {}


def _run_executable(path: Path, timeout: float) -> tuple[str, str, int]:
    """Run a fact executable in its own process group, so a timeout kills its children too."""
    import signal
    import subprocess

    proc = subprocess.Popen([str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            cwd=str(path.parent), text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise ExternalFactError(f"timed out after {timeout:g}s") from exc
    return stdout, stderr, proc.returncode
