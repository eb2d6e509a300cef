"""Built-in functions against Puppet 7: each expression of functions_puppet/case_list.py evaluates to
what Puppet evaluated it to (expected.json, written once by functions_puppet/regen.py with Puppet and
Debian's modules; this test never runs Puppet). Where Puppet fails, Bunraku fails too, with one
positioned line; where Puppet's failure is an argument mismatch, Bunraku's words are Puppet's, after
the function's name (``'keys' parameter 'hsh' expects a Hash value, got Integer`` is
``keys(): parameter 'hsh' expects a Hash value, got Integer``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from dsl import types as T
from dsl.compiler import Compiler, CompileRequest
from dsl.errors import DslError
from dsl.values import DEFAULT, RegexValue, Sensitive
from tests.dsl.functions_puppet.cases import DEFAULT_FACTS, Case, load_cases

HERE = Path(__file__).resolve().parent / "functions_puppet"
MODULES = Path("/usr/share/puppet/modules")
EXPECTED: dict[str, Any] = json.loads((HERE / "expected.json").read_text(encoding="utf-8"))["cases"]
CASES = load_cases()

#: Puppet's words for an argument mismatch, which Bunraku must say after ``NAME(): ``
_SIGNATURE_ERROR = re.compile(r"\A'(?P<name>[\w:]+)' (?P<rest>(?:expects|parameter|block|does not expect) .*)\Z")

#: where Bunraku's words differ from Puppet's: Bunraku has no parametrized Iterable and no Binary type
WORDING_DIFFERS = {
    "capitalize: capitalize({'a' => 'b'})",
    "camelcase: camelcase(true)",
    "length: length(1)",
}


def encode(v: Any) -> Any:
    """A value as puppet_eval.rb encodes Puppet's."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, list):
        return [encode(x) for x in v]
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v):
            return {k: encode(x) for k, x in v.items()}
        return {"__hash": [[encode(list(k) if isinstance(k, tuple) else k), encode(x)] for k, x in v.items()]}
    if v is DEFAULT:
        return {"__default": True}
    if isinstance(v, RegexValue):
        return {"__regexp": v.pattern}
    if isinstance(v, T.PType):
        return {"__type": str(v)}
    if isinstance(v, Sensitive):
        return {"__sensitive": encode(v.value)}
    return {"__other": type(v).__name__, "s": str(v)}


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same JSON kind all the way down (1 is not 1.0, true is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def evaluate(tmp: Path, case: Case, index: int) -> Any:
    manifest = tmp / f"case{index}.pp"
    manifest.write_text(f"{case.setup or ''}\n$__result = {case.expr}\n", encoding="utf-8")
    request = CompileRequest(node="web01.example.com", facts=case.facts or DEFAULT_FACTS, manifests=[manifest],
                             modulepath=[MODULES] if MODULES.is_dir() else [])
    compiler = Compiler(request)
    compiler.compile()
    return compiler.top.vars["__result"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("functions")


def test_every_case_has_an_expectation() -> None:
    missing = [c.key for c in CASES if c.key not in EXPECTED]
    assert not missing, f"run tests/dsl/functions_puppet/regen.py: {missing[:5]}"


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.key for c in CASES])
def test_function_as_puppet(workdir: Path, index: int) -> None:
    case = CASES[index]
    expected = EXPECTED.get(case.key)
    if expected is None:
        pytest.skip("no expectation yet: run regen.py")
    if not MODULES.is_dir() and re.search(r"Stdlib::|stdlib::ensure", case.expr):
        pytest.skip(f"{MODULES} is absent")
    if "error" in expected:
        with pytest.raises(DslError) as info:
            evaluate(workdir, case, index)
        err = info.value
        line = err.format_line()
        assert "\n" not in line and err.span is not None and err.span.line == 2, line
        assert "internal error" not in err.message, line
        m = _SIGNATURE_ERROR.match(expected["error"])
        if m and case.key not in WORDING_DIFFERS:
            assert err.message == f"{m['name']}(): {m['rest']}"
        return
    value = evaluate(workdir, case, index)
    assert same(encode(value), expected["value"]), f"Puppet: {expected['value']!r}\nBunraku: {encode(value)!r}"
