"""Expressions per function, evaluated by Puppet once (regen.py writes expected.json) and by Bunraku in
every test run (test_functions_puppet.py). A case is an expression, or a dict with ``expr``, ``setup``
(statements evaluated first) and ``facts``. Keep an expression's text stable: it is the key of its
expected result."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

DEFAULT_FACTS: dict[str, Any] = {
    "networking": {"fqdn": "web01.example.com", "hostname": "web01", "ip": "10.0.0.5"},
    "fqdn": "web01.example.com",
}


@dataclass(frozen=True)
class Case:
    function: str
    expr: str
    setup: str | None = None
    facts: dict[str, Any] | None = field(default=None, hash=False)

    @property
    def key(self) -> str:
        facts = f" [facts {hashlib.sha1(json.dumps(self.facts, sort_keys=True).encode()).hexdigest()[:8]}]" \
            if self.facts else ""
        return f"{self.function}: {self.setup + ' ; ' if self.setup else ''}{self.expr}{facts}"


def load_cases() -> list[Case]:
    from tests.dsl.functions_puppet.case_list import CASES

    cases = []
    for function, entries in CASES.items():
        for entry in entries:
            if isinstance(entry, str):
                cases.append(Case(function, entry))
            else:
                cases.append(Case(function, entry["expr"], entry.get("setup"), entry.get("facts")))
    return cases
