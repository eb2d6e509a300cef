"""ERB corpus: the real templates of Debian's puppet-module-* packages render byte for byte as Puppet
7.23 renders them.

``erb_corpus/cases.json`` holds what Puppet rendered (``erb_corpus/regen.rb`` collects it by compiling
``erb_corpus/scenarios.yaml`` with Puppet; it is never run here): for each case the template, the values
of the ``@variables`` it names, the scope lookups and Puppet function calls it made with their results,
and the output. Bunraku renders the same template against those values - replaying the function
results, so the comparison measures the template engine, not our ports of modules' Ruby functions;
nested ``scope.function_template`` calls are rendered for real - and must produce the same bytes.

The templates themselves are read from /usr/share/puppet/modules (installed by ``.ci/run``; none of that
code lives in this repository). ``erb_corpus/known_failures.txt`` lists the cases Bunraku does not
render identically yet, each with its cause; a listed case that passes fails the run (the list only
shrinks), like ``corpus_known_failures.txt`` for the parser.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from dsl.erb import ErbError, compile_template, render
from dsl.erb.rvalues import RRegexp, RubyError, Symbol
from dsl.values import DEFAULT, Default, RegexValue, Sensitive

HERE = Path(__file__).resolve().parent / "erb_corpus"
MODULEPATH = Path("/usr/share/puppet/modules")
AVAILABLE = Path("/usr/share/puppet/modules.available")
KNOWN_FAILURES = HERE / "known_failures.txt"
MAX_REPORTED = 60


@cache
def corpus() -> dict[str, Any]:
    return json.loads((HERE / "cases.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def known_failures() -> dict[str, str]:
    out = {}
    for line in KNOWN_FAILURES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            case_id, _, cause = line.partition("  ")
            out[case_id.strip()] = cause.strip()
    return out


# -- values between Ruby's JSON and ours ----------------------------------------------------------------
def decode(v: Any) -> Any:
    """A value as regen.rb encoded it, as the compiler would hold it."""
    if isinstance(v, list):
        return [decode(x) for x in v]
    if isinstance(v, dict):
        if len(v) == 1:
            (tag, inner), = v.items()
            if tag == "__sym__":
                return DEFAULT if inner == "default" else Symbol(inner)
            if tag == "__pairs__":
                return {decode(k): decode(x) for k, x in inner}
            if tag == "__regexp__":
                return RegexValue(inner)
            if tag == "__sensitive__":
                return Sensitive(decode(inner))
            if tag == "__float__":
                return float(inner.replace("Infinity", "inf"))
            if tag in ("__type__", "__object__"):
                return _Opaque(f"{tag}:{inner}")
        return {k: decode(x) for k, x in v.items()}
    return v


class _Opaque:
    """A Puppet object the corpus does not carry (a type, a catalog resource)."""

    def __init__(self, what: str) -> None:
        self.what = what


def encode(v: Any) -> Any:
    """Our value as regen.rb encodes Ruby's; symbols as strings on both sides (Puppet receives them so)."""
    if isinstance(v, (list, tuple)):
        return [encode(x) for x in v]
    if isinstance(v, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in v):
            return {k: encode(x) for k, x in v.items()}
        return {"__pairs__": [[encode(k), encode(x)] for k, x in v.items()]}
    if isinstance(v, Symbol):
        return v.name
    if isinstance(v, Default):
        return {"__sym__": "default"}
    if isinstance(v, (RegexValue, RRegexp)):
        return {"__regexp__": v.pattern if isinstance(v, RegexValue) else v.source}
    if isinstance(v, Sensitive):
        return {"__sensitive__": encode(v.value)}
    return v


def _canonical(v: Any) -> str:
    def strip_symbols(x: Any) -> Any:
        if isinstance(x, list):
            return [strip_symbols(y) for y in x]
        if isinstance(x, dict):
            if set(x) == {"__sym__"} and x["__sym__"] != "default":
                return x["__sym__"]
            return {k: strip_symbols(y) for k, y in x.items()}
        return x

    return json.dumps(strip_symbols(v), sort_keys=False)


class ReplayHost:
    """The scope of a recorded render: its variables, its lookups, and its function calls replayed."""

    def __init__(self, case: dict[str, Any], file: str | None, state: dict[str, Any] | None = None) -> None:
        self.case = case
        self.file = file
        self.vars = {k: decode(v) for k, v in case["vars"].items()}
        self.lookups = {k: decode(v) for k, v in case["lookups"].items()}
        self.calls = [(name, _canonical(args), decode(result)) for name, args, result in case["functions"]]
        self.state = state if state is not None else {"setvars": {}, "used": set()}

    def variable(self, name: str) -> tuple[bool, Any]:
        if name in self.state["setvars"]:
            return True, self.state["setvars"][name]
        if name in self.vars:
            return True, self.vars[name]
        return False, None

    def lookupvar(self, name: str) -> Any:
        if name in self.state["setvars"]:
            return self.state["setvars"][name]
        if name in self.lookups:
            return self.lookups[name]
        return self.vars.get(name)

    def setvar(self, name: str, value: Any) -> None:
        if name in self.state["setvars"]:
            raise RubyError("Puppet::ParseError", f"Cannot reassign variable '${name}'")
        self.state["setvars"][name] = value

    def call_function(self, name: str, args: list[Any], block: Any) -> Any:
        if name == "template":
            out = []
            for ref in args:
                mod, _, rest = str(ref).partition("/")
                path = MODULEPATH / mod / "templates" / rest
                nested = ReplayHost(self.case, str(path), self.state)
                text = path.read_bytes().decode("utf-8")
                try:
                    out.append(render(nested, text, f"{mod}/templates/{rest}"))
                except ErbError as exc:
                    raise RubyError("Puppet::ParseError", f"{ref}:{exc.line}: {exc.message}") from None
            return "".join(out)
        key = _canonical(encode(args))
        for i, (n, a, result) in enumerate(self.calls):
            if n == name and a == key and i not in self.state["used"]:
                self.state["used"].add(i)
                return result
        for n, a, result in self.calls:  # a repeated call with the same arguments
            if n == name and a == key:
                return result
        raise RubyError("RuntimeError", f"Puppet was not called with {name}({key}) in this case")

    def all_variables(self) -> dict[str, Any]:
        if "to_hash" in self.case:
            return {k: decode(v) for k, v in self.case["to_hash"].items()}
        return dict(self.vars)

    def classes(self) -> list[str]:
        return []

    def tags(self) -> list[str]:
        return []


def template_path(ref: str) -> Path:
    mod, _, rest = ref.partition("/")
    return MODULEPATH / mod / "templates" / rest


def render_case(case: dict[str, Any]) -> str:
    if "inline" in case:
        return render(ReplayHost(case, None), case["inline"], "inline_template")
    path = template_path(case["template"])
    text = path.read_bytes().decode("utf-8")
    mod, _, rest = case["template"].partition("/")
    return render(ReplayHost(case, str(path)), text, f"{mod}/templates/{rest}")


def _first_difference(expected: str, got: str) -> str:
    i = next((k for k, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
    line = expected.count("\n", 0, i) + 1
    return f"output line {line}: expected {expected[i:i + 60]!r}, got {got[i:i + 60]!r}"


def run_case(case: dict[str, Any]) -> str | None:
    """None when Bunraku renders the case as Puppet did, else what went wrong."""
    if "template" in case:
        path = template_path(case["template"])
        if hashlib.sha256(path.read_bytes()).hexdigest() != case["sha256"]:
            return "the template differs from the one Puppet rendered; run erb_corpus/regen.rb"
    try:
        got = render_case(case)
    except ErbError as exc:
        return f"line {exc.line}: {exc.message}"
    if got != case["output"]:
        return _first_difference(case["output"], got)
    return None


def test_erb_corpus_renders_as_puppet() -> None:
    if not MODULEPATH.is_dir():
        pytest.skip(f"{MODULEPATH} is absent: install Debian's puppet-module-* packages to run the ERB corpus")
    cases = [c for c in corpus()["cases"] if "inline" in c or template_path(c["template"]).is_file()]
    if not cases:
        pytest.skip("none of the corpus templates are installed")
    known = known_failures()
    failures: list[str] = []
    fixed: list[str] = []
    for case in cases:
        problem = run_case(case)
        if problem is None and case["id"] in known:
            fixed.append(case["id"])
        elif problem is not None and case["id"] not in known:
            failures.append(f"{case['id']} ({case['scenario']}): {problem}")
    problems = []
    if failures:
        shown = "\n".join(failures[:MAX_REPORTED])
        more = f"\n... and {len(failures) - MAX_REPORTED} more" if len(failures) > MAX_REPORTED else ""
        problems.append(f"{len(failures)} of {len(cases)} ERB cases render differently from Puppet:\n{shown}{more}")
    if fixed:
        problems.append(f"{len(fixed)} case(s) in {KNOWN_FAILURES.name} render identically now; remove them:\n"
                        + "\n".join(fixed))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def test_every_template_ruby_accepts_parses() -> None:
    """Every template of the packages that Ruby's ERB compiles must parse with Bunraku too."""
    if not AVAILABLE.is_dir():
        pytest.skip(f"{AVAILABLE} is absent: install Debian's puppet-module-* packages")
    known = known_failures()
    failures = []
    for rel in corpus()["ruby_parses"]:
        path = AVAILABLE / rel
        if not path.is_file() or f"parse:{rel}" in known:
            continue
        try:
            compile_template(path.read_bytes().decode("utf-8"))
        except ErbError as exc:
            if "unsupported Ruby in ERB" not in exc.message:
                failures.append(f"{rel}:{exc.line}: {exc.message}")
    if failures:
        pytest.fail(f"{len(failures)} templates Ruby accepts do not parse:\n" + "\n".join(failures), pytrace=False)
