"""The core-language cases of case_list.py as functions_puppet's ``Case`` (topic in place of function), so
one Ruby evaluator and one comparison serve both differential suites."""

from __future__ import annotations

from tests.dsl.functions_puppet.cases import Case


def load_cases() -> list[Case]:
    from tests.dsl.core_puppet.case_list import CASES

    cases = []
    for topic, entries in CASES.items():
        for entry in entries:
            if isinstance(entry, str):
                cases.append(Case(topic, entry))
            else:
                cases.append(Case(topic, entry["expr"], entry.get("setup")))
    return cases
