"""Modules' tasks, laid out as Puppet's: ``modules/<module>/tasks/<name>[.ext]``, the program, next to
``<name>.json`` (or ``.yaml``) whose ``parameters`` maps each parameter to its Puppet ``type`` (and an
optional ``default``). ``module::name`` names a task; ``module`` alone is ``module::init``.

Parameters arrive from the command line as text (``--param count=3``); each is taken as its text when
its type accepts a String, else as the JSON it spells (``3``, ``true``, ``["a"]``), and checked against
its type with the language's own type system. The agent gives them to the program as Puppet does: as
``PT_<name>`` environment variables and as one JSON object on its standard input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from master.tasks.store import TaskError

#: the largest task program sent to agents
MAX_EXECUTABLE_BYTES = 1024 * 1024
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_METADATA_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class ModuleTask:
    name: str  # module::name
    program: Path
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def parameters(self) -> dict[str, Any]:
        params = self.metadata.get("parameters") or {}
        return params if isinstance(params, dict) else {}

    def executable(self) -> bytes:
        size = self.program.stat().st_size
        if size > MAX_EXECUTABLE_BYTES:
            raise TaskError(f"task {self.name}: {self.program.name} is {size} bytes, more than the "
                            f"{MAX_EXECUTABLE_BYTES} a task may send")
        return self.program.read_bytes()


def split_name(name: str) -> tuple[str, str]:
    module, _, task = name.partition("::")
    task = task or "init"
    if not _NAME.match(module) or not _NAME.match(task):
        raise TaskError(f"task {name!r}: a task is named module::name (lower-case letters, digits, '_')")
    return module, task


def find_task(env_dir: Path, name: str) -> ModuleTask:
    """The task ``name`` of the environment at ``env_dir``."""
    module, task = split_name(name)
    where = env_dir / "modules" / module / "tasks"
    if not where.is_dir():
        raise TaskError(f"task {module}::{task}: module {module} has no tasks/ in {env_dir.name}")
    programs = sorted(p for p in where.iterdir()
                      if p.is_file() and (p.name == task or (p.stem == task and p.suffix not in _METADATA_SUFFIXES
                                                             and p.suffix != ".md")))
    if not programs:
        raise TaskError(f"task {module}::{task}: no {where.relative_to(env_dir)}/{task} (or {task}.EXT) "
                        f"in environment {env_dir.name}")
    metadata: dict[str, Any] = {}
    for suffix in _METADATA_SUFFIXES:
        meta = where / f"{task}{suffix}"
        if meta.is_file():
            metadata = _read_metadata(meta)
            break
    return ModuleTask(f"{module}::{task}", programs[0], metadata)


def _read_metadata(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except OSError as exc:
        raise TaskError(f"{path}: cannot read the task's metadata: {exc.strerror}") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise TaskError(f"{path}: the task's metadata is not valid {path.suffix[1:].upper()}: "
                        f"{str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise TaskError(f"{path}: the task's metadata must be a mapping")
    return data


def check_params(task: ModuleTask, given: dict[str, str]) -> dict[str, Any]:
    """The parameters of a run of ``task``, typed and checked against its metadata (one error naming
    the parameter otherwise). Without metadata any parameter is taken as text."""
    from dsl.functions.contract import mismatch_message, resolve_type

    declared = task.parameters
    if not task.metadata:
        return dict(given)
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TaskError(f"task {task.name} has no parameter {unknown[0]!r} "
                        f"(its parameters: {', '.join(sorted(declared)) or 'none'})")
    out: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        type_text = str(spec.get("type") or "Any")
        try:
            ptype = resolve_type(type_text)
        except Exception:  # noqa: BLE001 - the language's errors for a bad type expression
            raise TaskError(f"task {task.name}: parameter {name!r} has a type Bunraku cannot read: "
                            f"{type_text}") from None
        if name in given:
            value: Any = given[name]
            if not ptype.instance(value):
                try:
                    value = json.loads(given[name])
                except ValueError:
                    pass
        elif "default" in spec:
            value = spec["default"]
        else:
            value = None
        if not ptype.instance(value):
            if name not in given and value is None:
                raise TaskError(f"task {task.name}: parameter {name!r} ({type_text}) is required; "
                                f"give it with --param {name}=VALUE")
            raise TaskError(f"task {task.name}: parameter {name!r} {mismatch_message(ptype, value)}")
        if value is not None:
            out[name] = value
    return out


def environment_variables(params: dict[str, Any]) -> dict[str, str]:
    """``PT_<name>`` for each parameter: strings as they are, other values as JSON (as Puppet does)."""
    return {f"PT_{k}": v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}


def input_method(task_metadata: dict[str, Any]) -> str:
    method = str(task_metadata.get("input_method") or "both")
    return method if method in ("both", "environment", "stdin") else "both"
