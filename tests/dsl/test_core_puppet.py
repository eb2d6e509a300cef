"""The core language against Puppet 7: each expression of core_puppet/case_list.py (operators, literals,
type algebra, conversions, interpolation, iteration, selectors and case, access) evaluates to what Puppet
evaluated it to (core_puppet/expected.json, written once by core_puppet/regen.py; this test never runs
Puppet). Where Puppet fails, Bunraku fails too, with one positioned line. The evaluation and the value
comparison are functions_puppet's. Cases of core_puppet/known_differences.py may fail (xfail); every other
case must match."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dsl.errors import DslError
from tests.dsl.core_puppet.cases import load_cases
from tests.dsl.core_puppet.known_differences import KNOWN_DIFFERENCES
from tests.dsl.test_functions_puppet import encode, evaluate, same

HERE = Path(__file__).resolve().parent / "core_puppet"
EXPECTED: dict[str, Any] = json.loads((HERE / "expected.json").read_text(encoding="utf-8"))["cases"]
CASES = load_cases()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("core")


def test_every_case_has_an_expectation() -> None:
    missing = [c.key for c in CASES if c.key not in EXPECTED]
    assert not missing, f"run tests/dsl/core_puppet/regen.py: {missing[:5]}"


def test_keys_are_unique_and_known_differences_are_cases() -> None:
    keys = [c.key for c in CASES]
    assert len(keys) == len(set(keys))
    assert not set(KNOWN_DIFFERENCES) - set(keys)


def check(workdir: Path, index: int) -> None:
    case = CASES[index]
    expected = EXPECTED[case.key]
    if "error" in expected:
        with pytest.raises(DslError) as info:
            evaluate(workdir, case, index)
        err = info.value
        line = err.format_line()
        assert "\n" not in line and err.span is not None, line
        assert "internal error" not in err.message, line
        return
    value = evaluate(workdir, case, index)
    assert same(encode(value), expected["value"]), f"Puppet: {expected['value']!r}\nBunraku: {encode(value)!r}"


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.key for c in CASES])
def test_core_as_puppet(workdir: Path, index: int) -> None:
    case = CASES[index]
    if case.key not in EXPECTED:
        pytest.skip("no expectation yet: run regen.py")
    cause = KNOWN_DIFFERENCES.get(case.key)
    if cause is None:
        check(workdir, index)
        return
    try:
        check(workdir, index)
    except (AssertionError, pytest.fail.Exception, DslError, Exception) as exc:  # noqa: BLE001
        pytest.xfail(f"{cause} ({type(exc).__name__})")
