"""Validate documents against Puppet's published JSON schemas (``schemas/``, draft 4).

Two things stand between those schemas and a Python validator, and this module says both out loud:

- Their patterns are Ruby regular expressions: ``[[:alnum:]_]`` (a POSIX class) means nothing to
  Python's ``re``. :func:`python_pattern` rewrites the class (``[:alnum:]`` -> ``\\w``; every class
  that uses it also admits ``_``, so the set is the same); ``\\A`` and ``\\Z`` mean the same in both.
- Puppet's own documents break the report schema in two places (its reports are the reference, the
  schema a description of them): ``line`` of a log or a resource status is typed ``string`` or
  ``null``, and Puppet writes an integer; Puppet writes ``redacted: null`` on events. :data:`ERRATA`
  names them; :func:`errors` leaves out exactly those and nothing else. ``test_schemas.py`` proves each
  erratum on a report written by Puppet itself, so none of them can hide a fault of ours.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).resolve().parent / "schemas"


def python_pattern(pattern: str) -> str:
    """A Ruby regular expression of Puppet's schemas, for Python's ``re``."""
    return pattern.replace("[:alnum:]", r"\w")


def _rewrite_patterns(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                out[key] = python_pattern(value)
            elif key == "patternProperties" and isinstance(value, dict):
                out[key] = {python_pattern(k): _rewrite_patterns(v) for k, v in value.items()}
            else:
                out[key] = _rewrite_patterns(value)
        return out
    if isinstance(node, list):
        return [_rewrite_patterns(v) for v in node]
    return node


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """``catalog`` or ``report``: Puppet's schema, patterns made readable by Python."""
    with (SCHEMAS / f"{name}.json").open(encoding="utf-8") as fh:
        raw = json.load(fh)
    readable = _rewrite_patterns(copy.deepcopy(raw))
    jsonschema.Draft4Validator.check_schema(readable)  # (its regex format check needs Python patterns)
    return readable


def _is_line_as_puppet_writes_it(error: jsonschema.ValidationError) -> bool:
    path = list(error.absolute_path)
    return (len(path) >= 2 and path[-1] == "line" and path[0] in ("logs", "resource_statuses")
            and isinstance(error.instance, int) and not isinstance(error.instance, bool))


def _is_unset_redacted(error: jsonschema.ValidationError) -> bool:
    path = list(error.absolute_path)
    return len(path) >= 2 and path[-1] == "redacted" and path[-3] == "events" and error.instance is None


#: Where Puppet's own reports break ``report.json`` (name -> test on a validation error).
ERRATA: dict[str, Callable[[jsonschema.ValidationError], bool]] = {
    "line is an integer": _is_line_as_puppet_writes_it,
    "redacted is null": _is_unset_redacted,
}


def all_errors(name: str, document: Any) -> list[jsonschema.ValidationError]:
    """Every error of ``document`` against schema ``name``, errata included."""
    validator = jsonschema.Draft4Validator(schema(name))
    return sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))


def erratum_of(error: jsonschema.ValidationError) -> str | None:
    return next((label for label, test in ERRATA.items() if test(error)), None)


def errors(name: str, document: Any) -> list[str]:
    """The schema errors of ``document`` that are not :data:`ERRATA`, one line each (path: message)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message}"
            for e in all_errors(name, document) if erratum_of(e) is None]
