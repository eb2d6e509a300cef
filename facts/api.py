"""``collect_facts``: core collectors, external facts and custom facts, composed with Facter's precedence
(core < legacy names < custom < external)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from facts.runner import Task, run_tasks

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0


def _ignore(_name: str, _value: Any, _facts: dict[str, Any]) -> None:
    return None


def collect_core(*, timeout: float, include: Iterable[str] = (), external_files: Sequence[Path] = ()
                 ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the core collectors (without expensive ones unless named in ``include``) and load the
    external fact files, all concurrently. Returns (core facts, one mapping per external file)."""
    import facts.core  # noqa: F401 - registers the collectors
    from facts.registry import COLLECTORS

    wanted = set(include)
    tasks = [Task(c.name, c.collect, needs=c.needs) for c in COLLECTORS.values()
             if not c.expensive or c.name in wanted]
    # External files are tasks named by their path (no collector name holds a "/"), loaded alongside.
    external_names = [str(path) for path in dict.fromkeys(external_files)]
    tasks.extend(Task(name, _external_loader(Path(name), timeout), timeout=timeout, what="external fact file")
                 for name in external_names)
    core: dict[str, Any] = {}

    def merge(name: str, value: Any, facts: dict[str, Any]) -> None:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a mapping of fact names, not {type(value).__name__}")
        if name not in external_set:
            facts.update(value)

    external_set = set(external_names)
    results = run_tasks(tasks, timeout=timeout, merge=merge, facts=core)
    externals = [results[name] for name in external_names if name in results]
    return core, externals


def _external_loader(path: Path, timeout: float) -> Any:
    from facts import external

    # An executable gets slightly less than the task's budget so its own timeout fires first and the
    # message says what happened.
    return lambda _facts: external.load_fact_file(path, timeout=max(0.1, timeout * 0.9))


def _load_custom_file(path: Path, _facts: Mapping[str, Any]) -> Any:
    from facts import custom

    return custom.load_fact_file(path)


def collect_custom(custom_dirs: Sequence[Path], facts: dict[str, Any], *, timeout: float,
                   external_names: Iterable[str] = ()) -> dict[str, Any]:
    """Load the custom fact files and resolve their facts in dependency order; returns their values."""
    from facts import custom

    files = custom.fact_files(custom_dirs)
    if not files:
        return {}
    load_tasks = [Task(f"load:{i}:{p}", partial(_load_custom_file, p), what="custom fact file")
                  for i, p in enumerate(files)]
    loaded = run_tasks(load_tasks, timeout=timeout, merge=_ignore)
    declared: dict[str, custom.CustomFact] = {}
    for task in load_tasks:
        for definition in loaded.get(task.name, []):
            if definition.name in declared:
                log.warning("custom fact %s is defined in %s and %s; the latter wins", definition.name,
                            declared[definition.name].source, definition.source)
            declared[definition.name] = definition
    shadowed = set(external_names)
    values: dict[str, Any] = {}

    def merge(name: str, value: Any, snapshot: dict[str, Any]) -> None:
        if value is None:  # like Facter's nil: the fact does not exist
            return
        values[name] = value
        if name not in shadowed:
            snapshot[name] = value

    tasks = [Task(d.name, d.func, needs=d.needs, timeout=d.timeout, what="custom fact") for d in declared.values()]
    run_tasks(tasks, timeout=timeout, merge=merge, facts=facts)
    return values


def collect_facts(*, external_dirs: Sequence[Path] | None = None, custom_dirs: Sequence[Path] = (),
                  include_legacy: bool = True, timeout: float = DEFAULT_TIMEOUT,
                  include: Iterable[str] = ()) -> dict[str, Any]:
    """This host's facts in Facter 4's layout, plus the legacy flat names unless ``include_legacy`` is off.

    ``external_dirs`` replaces the default facts.d directories (None: the defaults; ``[]``: none).
    ``custom_dirs`` hold Python custom facts. ``timeout`` bounds each collector, external executable
    and custom fact. ``include`` names expensive collectors to run too (e.g. "packages").
    """
    from facts import external
    from facts.legacy import legacy_facts

    dirs = external.DEFAULT_DIRS if external_dirs is None else tuple(Path(d) for d in external_dirs)
    core, externals = collect_core(timeout=timeout, include=include, external_files=external.fact_files(dirs))
    external_facts: dict[str, Any] = {}
    for mapping in externals:
        external_facts.update(mapping)
    result = dict(core)
    if include_legacy:
        for name, value in legacy_facts(core).items():
            result.setdefault(name, value)
    if custom_dirs:
        visible = dict(result)
        visible.update(external_facts)
        result.update(collect_custom([Path(d) for d in custom_dirs], visible, timeout=timeout,
                                     external_names=external_facts))
    result.update(external_facts)
    return dict(sorted(result.items()))
