"""Classification: which classes, top-scope parameters, environment and group a node gets, besides
the node definitions of its manifests.

Groups (product lines) are declared in YAML::

    groups:
      web:
        nodes: ["web*.example.com", "/^www\\d+\\./"]   # globs, or /regexes/
        classes: [role::web]                            # or {role::web: {param: value}}
        parameters: {tier: frontend}
        environment: production
        task_accounts: [deploy]                         # accounts tasks may run as (root: admins only)
        task_max_concurrent: 10                         # task runs at once in the group, all tasks

Every group whose patterns match contributes (in file order; the first one names the node's group).
An external node classifier (Puppet's ENC) is an executable called with the certname that prints
YAML ``classes``/``parameters``/``environment``; it is applied over the groups.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

ENC_TIMEOUT = 30.0


class ClassificationError(Exception):
    """The ENC or the groups file failed; the node gets no catalog (as Puppet does)."""


@dataclass(slots=True)
class Classification:
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    environment: str | None = None
    group: str | None = None
    #: the accounts tasks may run as on the node (its first group's ``task_accounts``)
    task_accounts: tuple[str, ...] = ()


def _classes(value: Any, where: str) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {value: {}}
    if isinstance(value, list):
        return {str(c): {} for c in value}
    if isinstance(value, dict):
        return {str(k): dict(v or {}) for k, v in value.items()}
    raise ClassificationError(f"{where}: classes must be a list or a mapping")


def _matcher(pattern: str) -> Any:
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        rx = re.compile(pattern[1:-1])
        return lambda name: rx.search(name) is not None
    return lambda name: fnmatch.fnmatchcase(name, pattern)


@dataclass(slots=True)
class Group:
    name: str
    matchers: list[Any]
    classes: dict[str, dict[str, Any]]
    parameters: dict[str, Any]
    environment: str | None
    task_accounts: tuple[str, ...] = ()
    task_max_concurrent: int | None = None

    def matches(self, node: str) -> bool:
        return any(m(node) for m in self.matchers)


def load_groups(path: Path) -> list[Group]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ClassificationError(f"{path}: cannot read the groups file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ClassificationError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    raw = data.get("groups", data) if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        raise ClassificationError(f"{path}: expected a mapping of group names")
    groups = []
    for name, spec in raw.items():
        where = f"{path}: group {name}"
        if not isinstance(spec, dict):
            raise ClassificationError(f"{where}: must be a mapping")
        nodes = spec.get("nodes") or []
        if isinstance(nodes, str):
            nodes = [nodes]
        try:
            matchers = [_matcher(str(p)) for p in nodes]
        except re.error as exc:
            raise ClassificationError(f"{where}: bad node regex: {exc}") from None
        accounts = spec.get("task_accounts") or []
        if isinstance(accounts, str):
            accounts = [accounts]
        limit = spec.get("task_max_concurrent")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise ClassificationError(f"{where}: task_max_concurrent must be a positive integer")
        groups.append(Group(str(name), matchers, _classes(spec.get("classes"), where),
                            dict(spec.get("parameters") or {}), spec.get("environment"),
                            tuple(str(a) for a in accounts), limit))
    return groups


def run_enc(enc: Path, node: str) -> dict[str, Any]:
    try:
        proc = subprocess.run([str(enc), node], capture_output=True, timeout=ENC_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClassificationError(f"external node classifier {enc} failed for {node}: {exc}") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ClassificationError(f"external node classifier {enc} exited with {proc.returncode} for {node}"
                                  + (f": {err[-1]}" if err else ""))
    try:
        data = yaml.safe_load(proc.stdout) or {}
    except yaml.YAMLError as exc:
        raise ClassificationError(f"external node classifier {enc} printed invalid YAML: "
                                  f"{str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ClassificationError(f"external node classifier {enc} must print a YAML mapping")
    return data


class Classifier:
    """Groups then the ENC; results are kept ``ttl`` seconds per node (file requests ask often)."""

    def __init__(self, *, groups_file: Path | None = None, enc: Path | None = None, ttl: float = 5.0) -> None:
        self.groups_file = groups_file
        self.enc = enc
        self.ttl = ttl
        self._groups: tuple[float, list[Group]] | None = None
        self._cache: dict[str, tuple[float, Classification]] = {}
        self._lock = threading.Lock()

    def _load_groups(self) -> list[Group]:
        if self.groups_file is None:
            return []
        try:
            mtime = self.groups_file.stat().st_mtime_ns
        except OSError:
            raise ClassificationError(f"{self.groups_file}: the groups file does not exist") from None
        cached = self._groups
        if cached is None or cached[0] != mtime:
            cached = (mtime, load_groups(self.groups_file))
            self._groups = cached
        return cached[1]

    def classify(self, node: str) -> Classification:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(node)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        result = Classification()
        for group in self._load_groups():
            if group.matches(node):
                if result.group is None:
                    result.group = group.name
                    result.task_accounts = group.task_accounts
                for cls, params in group.classes.items():
                    result.classes.setdefault(cls, {}).update(params)
                result.parameters.update(group.parameters)
                result.environment = result.environment or group.environment
        if self.enc is not None:
            data = run_enc(self.enc, node)
            for cls, params in _classes(data.get("classes"), f"ENC output for {node}").items():
                result.classes.setdefault(cls, {}).update(params)
            params = data.get("parameters") or {}
            if not isinstance(params, dict):
                raise ClassificationError(f"ENC output for {node}: parameters must be a mapping")
            result.parameters.update(params)
            if data.get("environment"):
                result.environment = str(data["environment"])
            if data.get("group"):
                result.group = str(data["group"])
        with self._lock:
            self._cache[node] = (now, result)
        return result

    def task_limits(self) -> dict[str, int]:
        """Each group's ``task_max_concurrent``: task runs at once in the group, over all tasks."""
        return {g.name: g.task_max_concurrent for g in self._load_groups() if g.task_max_concurrent is not None}
