"""Module corpus: real public modules must compile to the catalogs Puppet 7.23 made of them.

The cases (``include <module>`` and each shipped example manifest of Debian's ``puppet-module-*``
packages) and Puppet's results are described in ``module_corpus.py``. Each case is compiled in
process and compared semantically (``catalog_compare``: resources, parameters, relationships,
containment, classes); where Puppet refused to compile, Bunraku must fail at the same file and line.

``modules_corpus/passing.txt`` lists the cases that match today and must keep matching (the pass set
never shrinks); ``modules_corpus/known_failures.txt`` lists the others with a one-line cause. A case
that starts to match fails the run until it is moved to the pass list, so both lists stay true.

Measure and classify (and rewrite both lists with ``--update``)::

    .venv/bin/python tests/dsl/test_modules_corpus.py [--update] [-v] [CASE...]
"""

from __future__ import annotations

import argparse
import collections
import logging
import re
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalog_compare import compare_catalogs, load_facts, normalise_catalog  # noqa: E402
from module_corpus import (  # noqa: E402
    EXPECTED_DIR,
    FACTS_FILE,
    KNOWN_FAILURES_FILE,
    MODULES_DIR,
    NODE,
    PASSING_FILE,
    ModuleCase,
    discover_cases,
    load_errors,
    load_expected_module,
    module_version,
    one_line,
    path_bases,
    read_list,
    relative_file,
)

#: a compile that takes longer than this is a failure (a loop), not a wait
CASE_TIMEOUT = 120


@dataclass
class Outcome:
    """What became of one case."""

    case: str
    ok: bool
    #: one line saying why it does not match (empty when it matches)
    cause: str = ""
    #: the cause without case-specific detail: what the report counts
    reason: str = ""
    #: every difference, for -v
    details: str = ""
    seconds: float = 0.0


@dataclass
class Expectation:
    catalog: dict[str, Any] | None
    error: dict[str, Any] | None


class CaseTimeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------------------------------
# which cases, and what Puppet said


def corpus_cases() -> tuple[list[tuple[ModuleCase, Expectation]], list[str]]:
    """The cases that can run here with their expectation, and why the others are skipped."""
    skipped: list[str] = []
    errors = load_errors()
    installed = {c.name: c for c in discover_cases()}
    expected_modules = sorted(p.name[: -len(".json.gz")] for p in EXPECTED_DIR.glob("*.json.gz"))
    out: list[tuple[ModuleCase, Expectation]] = []
    for module in expected_modules:
        doc = load_expected_module(module) or {}
        catalogs: dict[str, Any] = doc.get("catalogs", {})
        names = sorted(set(catalogs) | {k for k in errors if k.split("/", 1)[0] == module})
        version = module_version(module)
        if version != doc.get("version"):
            skipped.append(
                f"{module}: installed version {version} is not the one Puppet compiled ({doc.get('version')}); "
                f"{len(names)} case(s) skipped"
            )
            continue
        for name in names:
            case = installed.get(name)
            if case is None:
                skipped.append(f"{name}: its manifest is not installed")
                continue
            out.append((case, Expectation(catalogs.get(name), errors.get(name))))
    return out, skipped


# --------------------------------------------------------------------------------------------------
# compiling with Bunraku and judging


_UNKNOWN_FUNCTION_RE = re.compile(r"unknown function: '([^']+)'")
_UNKNOWN_TYPE_RE = re.compile(r"unknown resource type: '([^']+)'")
_CLASS_NOT_TYPE_RE = re.compile(r"'([^']+)' is a class, not a resource type")
_REF_PREFIX_RE = re.compile(r"^(?:[A-Z][\w:]*\[.*?\]|edge \S+ -> \S+|classes differ)(?=: | )[: ]*")
_DETAIL_RE = re.compile(r"(?:\s*\(expected .*|: expected .*| = .*|: missing \[.*)$")


def _ruby_type_shipped(name: str) -> bool:
    return any(
        (MODULES_DIR / m / "lib" / "puppet" / "type" / f"{name}.rb").is_file()
        for m in (p.name for p in MODULES_DIR.iterdir())
    )


def classify_error(message: str) -> str:
    """What a Bunraku compile error says is missing, without the case's detail."""
    match = _UNKNOWN_FUNCTION_RE.search(message)
    if match:
        return f"unknown function {match.group(1)}"
    match = _UNKNOWN_TYPE_RE.search(message)
    if match:
        return f"custom type {match.group(1)}"
    match = _CLASS_NOT_TYPE_RE.search(message)
    if match and _ruby_type_shipped(match.group(1)):
        return f"custom type {match.group(1)} (a class has its name)"
    return "error: " + one_line(message, 120)


def classify_diff(diff: str) -> str:
    """A catalog difference without its resource and values: ``parameter 'notify' missing``."""
    text = _REF_PREFIX_RE.sub("", diff)
    return "differs: " + one_line(_DETAIL_RE.sub("", text), 100)


_POSITION_RE = re.compile(r"\(file: ([^,)]+), line: (\d+)")


def puppet_positions(error: dict[str, Any]) -> set[str]:
    """Where Puppet says it failed: the error's position and those its message quotes. An error in a
    defined type's body is reported at the declaration, with the failing expression's position inside
    the message; Bunraku reports the latter."""
    found = {f"{error.get('file')}:{error.get('line')}"}
    found.update(f"{m.group(1)}:{m.group(2)}" for m in _POSITION_RE.finditer(str(error.get("message", ""))))
    return found


def compile_with_bunraku(case: ModuleCase, scratch: Path) -> dict[str, Any]:
    from dsl import compiler

    manifest = case.write_manifest(scratch)
    req = compiler.CompileRequest.from_cli(
        manifest=manifest,
        node=NODE,
        facts=load_facts(FACTS_FILE),
        modulepath=[MODULES_DIR],
        environment="production",
        strict_variables=False,
    )
    # Puppet compiled without storeconfigs: it accepts @@ and leaves exported resources out
    req.exported_allowed = True
    doc: dict[str, Any] = compiler.compile_catalog(req).to_dict()
    exported = {f"{r['type']}[{r['title']}]" for r in doc.get("resources", []) if r.get("exported")}
    if exported:
        doc["resources"] = [r for r in doc["resources"] if not r.get("exported")]
        doc["edges"] = [
            e
            for e in doc.get("edges", [])
            if e.get("source") not in exported and e.get("target") not in exported
        ]
    return doc


def run_case(case: ModuleCase, expect: Expectation) -> Outcome:
    from dsl.errors import DslError
    from engine.catalog import CatalogError

    started = time.monotonic()

    def failed(reason: str, cause: str, details: str = "") -> Outcome:
        return Outcome(case.name, False, cause, reason, details, time.monotonic() - started)

    with tempfile.TemporaryDirectory(prefix="bunraku-modcorpus-") as tmp:
        scratch = Path(tmp)
        bases = path_bases(scratch)
        actual: dict[str, Any] | None = None
        failure: DslError | CatalogError | None = None
        try:
            with _time_limit(CASE_TIMEOUT):
                actual = compile_with_bunraku(case, scratch)
        except (DslError, CatalogError) as exc:
            failure = exc
        except CaseTimeout as exc:
            return failed("timeout", f"timeout: {exc}")
        except RecursionError:
            return failed("crash: RecursionError", "crash: RecursionError")
        except Exception as exc:  # a crash of the compiler is a finding, not a test error
            text = f"crash: {type(exc).__name__}: {one_line(str(exc), 100)}"
            return failed(f"crash: {type(exc).__name__}", text, traceback.format_exc())
        where = ""
        if failure is not None:
            span = getattr(failure, "span", None)
            where = f"{relative_file(span.file, bases)}:{span.line}" if span is not None else "?"
        if expect.error is not None:
            want = expect.error
            puppet = f"Puppet: {want.get('file')}:{want.get('line')}: {want.get('message')}"
            if failure is None:
                message = one_line(str(want.get("message", "")), 110)
                return failed(
                    "compiles where Puppet fails", f"compiles where Puppet fails: {message}", puppet
                )
            if want.get("line") is None or where in puppet_positions(want):
                return Outcome(case.name, True, seconds=time.monotonic() - started)
            reason = classify_error(getattr(failure, "message", str(failure)))
            if reason.startswith("error: "):
                reason = "fails elsewhere than Puppet: " + reason[len("error: ") :]
            cause = f"{reason} (at {where}; Puppet fails at {want.get('file')}:{want.get('line')})"
            return failed(reason, cause, f"{puppet}\nBunraku: {failure}")
        assert expect.catalog is not None
        if failure is not None:
            reason = classify_error(getattr(failure, "message", str(failure)))
            return failed(reason, f"{reason} (at {where})", f"Bunraku: {failure}")
        assert actual is not None
        diffs = compare_catalogs(expect.catalog, normalise_catalog(actual, bases))
        if diffs:
            return failed(classify_diff(diffs[0]), "differs: " + one_line(diffs[0], 150), "\n".join(diffs))
        return Outcome(case.name, True, seconds=time.monotonic() - started)


def run_corpus(only: set[str] | None = None) -> tuple[list[Outcome], list[str]]:
    cases, skipped = corpus_cases()
    outcomes = [
        run_case(case, expect)
        for case, expect in cases
        if not only or case.name in only or case.module in only
    ]
    return outcomes, skipped


# --------------------------------------------------------------------------------------------------
# the report


def reason_family(reason: str) -> str:
    """The family a reason belongs to, for the counts."""
    for prefix in (
        "unknown function",
        "custom type",
        "crash",
        "timeout",
        "differs",
        "compiles where",
        "fails elsewhere",
    ):
        if reason.startswith(prefix):
            return {
                "differs": "catalog differs",
                "compiles where": "compiles where Puppet fails",
                "fails elsewhere": "fails where Puppet does not",
            }.get(prefix, prefix)
    return "other compile error"


def summary(outcomes: list[Outcome]) -> str:
    passed = sum(o.ok for o in outcomes)
    total = len(outcomes)
    pct = 100.0 * passed / total if total else 0.0
    lines = [f"module corpus: {passed} of {total} cases match Puppet 7.23 ({pct:.1f}%)"]
    failing = [o for o in outcomes if not o.ok]
    families = collections.Counter(reason_family(o.reason) for o in failing)
    for family, count in families.most_common():
        lines.append(f"  {count:4d}  {family}")
    reasons = collections.Counter(o.reason for o in failing)
    lines.append("reasons:")
    for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {count:4d}  {reason}")
    return "\n".join(lines)


def write_lists(outcomes: list[Outcome]) -> None:
    passing = sorted(o.case for o in outcomes if o.ok)
    failing = sorted((o for o in outcomes if not o.ok), key=lambda o: o.case)
    PASSING_FILE.write_text(
        "# Module corpus cases that compile to Puppet's catalog (or fail where Puppet fails) today; each\n"
        "# must keep doing so. Rewritten by `tests/dsl/test_modules_corpus.py --update`.\n"
        + "".join(f"{name}\n" for name in passing),
        encoding="utf-8",
    )
    KNOWN_FAILURES_FILE.write_text(
        "# Module corpus cases that do not match Puppet yet, each with its first cause. Rewritten by\n"
        "# `tests/dsl/test_modules_corpus.py --update`; a listed case that matches fails the test.\n"
        + "".join(f"{o.case}  # {o.cause}\n" for o in failing),
        encoding="utf-8",
    )


# --------------------------------------------------------------------------------------------------
# the test


def test_modules_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    if not MODULES_DIR.is_dir():
        pytest.skip(f"{MODULES_DIR} is absent: install Debian's puppet-module-* packages (.ci/run does)")
    # the modules' own deprecation and unknown-variable warnings are not what this test is about
    dsl_log = logging.getLogger("dsl")
    level = dsl_log.level
    dsl_log.setLevel(logging.ERROR)
    try:
        outcomes, skipped = run_corpus()
    finally:
        dsl_log.setLevel(level)
    if not outcomes:
        pytest.skip("no corpus case can run here: " + "; ".join(skipped[:5]))
    report = summary(outcomes)
    with capsys.disabled():
        print("\n" + report.splitlines()[0] + (f" ({len(skipped)} skipped)" if skipped else ""))
    passing = set(read_list(PASSING_FILE))
    known = read_list(KNOWN_FAILURES_FILE)
    problems: list[str] = []
    regressed = [o for o in outcomes if not o.ok and o.case in passing]
    if regressed:
        problems.append(
            f"{len(regressed)} case(s) of {PASSING_FILE.name} no longer match Puppet:\n"
            + "\n".join(
                f"{o.case}: {o.cause}\n    " + o.details.replace("\n", "\n    ")[:3000] for o in regressed
            )
        )
    fixed = sorted(o.case for o in outcomes if o.ok and o.case not in passing)
    if fixed:
        problems.append(
            f"{len(fixed)} case(s) match Puppet now; add them to {PASSING_FILE.name} (and drop them from "
            f"{KNOWN_FAILURES_FILE.name}), or run `tests/dsl/test_modules_corpus.py --update`:\n"
            + "\n".join(fixed)
        )
    unlisted = sorted(o.case for o in outcomes if not o.ok and o.case not in passing and o.case not in known)
    if unlisted:
        problems.append(
            f"{len(unlisted)} failing case(s) are in neither list; add them to {KNOWN_FAILURES_FILE.name}:\n"
            + "\n".join(unlisted)
        )
    if problems:
        pytest.fail(report + "\n\n" + "\n\n".join(problems), pytrace=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the module corpus (see the module docstring).")
    parser.add_argument("cases", nargs="*", help="only these cases or modules")
    parser.add_argument(
        "--update",
        action="store_true",
        help=f"rewrite {PASSING_FILE.name} and {KNOWN_FAILURES_FILE.name} from this run",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="every difference of every case")
    opts = parser.parse_args(argv)
    outcomes, skipped = run_corpus(set(opts.cases) or None)
    for outcome in outcomes:
        status = "ok  " if outcome.ok else "FAIL"
        print(f"{status} {outcome.case} ({outcome.seconds:.1f}s){'' if outcome.ok else ': ' + outcome.cause}")
        if opts.verbose and outcome.details:
            print("    " + outcome.details.replace("\n", "\n    "))
    for reason in skipped:
        print(f"skip {reason}")
    print(summary(outcomes))
    if opts.update:
        if opts.cases:
            print("--update needs the whole corpus (no CASE arguments)", file=sys.stderr)
            return 2
        write_lists(outcomes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
