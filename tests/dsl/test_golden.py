"""Golden tests: Bunraku's catalogs against the ones Puppet 7.23 produced (see golden/regen.py).

Each ``golden/<name>.pp`` (modulepath ``golden/modules``) and each environment ``golden/<name>/`` is
compiled for node ``golden.example.com`` with the facts of ``golden/facts.yaml`` and compared
semantically with ``golden/expected/<name>.json``. ``golden/errors/*.pp`` must fail to compile at the
line and column Puppet reported (``golden/errors/expected.yaml``). The ``examples/`` site is compiled
for its three nodes and compared with ``examples/expected/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from catalog_compare import (
    GOLDEN_DIR,
    GOLDEN_NODE,
    CompileCase,
    compare_catalogs,
    example_cases,
    format_diffs,
    golden_cases,
    load_expected,
    load_facts,
    normalise_catalog,
)

import dsl.compiler as compiler  # imported, never importorskip: a broken compiler must fail the suite

ERRORS_DIR = GOLDEN_DIR / "errors"
#: Test ids the compiler is known not to pass yet. They run as non-strict xfail so the suite stays
#: green while the compiler grows; `pytest --runxfail tests/dsl/test_golden.py` shows them as plain
#: failures. Remove an id once it passes (pytest reports it as XPASS).
KNOWN_FAILURES_FILE = GOLDEN_DIR / "known_failures.txt"


def _known_failures() -> set[str]:
    if not KNOWN_FAILURES_FILE.is_file():
        return set()
    lines = KNOWN_FAILURES_FILE.read_text(encoding="utf-8").splitlines()
    return {line.split("#", 1)[0].strip() for line in lines} - {""}


KNOWN_FAILURES = _known_failures()


def _params(kind: str, items: list[Any], ids: list[str]) -> list[Any]:
    marks = pytest.mark.xfail(reason=f"listed in {KNOWN_FAILURES_FILE.name}", strict=False)
    return [
        pytest.param(item, id=ident, marks=marks if f"{kind}[{ident}]" in KNOWN_FAILURES else ())
        for item, ident in zip(items, ids)
    ]


POSITION_RE = re.compile(r":(\d+):(\d+)(?::|\b)")


def compile_case(case: CompileCase) -> dict[str, Any]:
    req = compiler.CompileRequest.from_cli(
        manifest=case.manifest,
        node=case.node,
        facts=case.facts(),
        modulepath=case.modulepath,
        hiera_config=case.hiera_config,
        env_dir=case.env_dir,
        environment="production",
        strict_variables=False,
    )
    catalog = compiler.compile_catalog(req)
    doc: dict[str, Any] = catalog.to_dict()
    return doc


def assert_matches_expected(case: CompileCase) -> None:
    expected = normalise_catalog(load_expected(case), case.bases)
    actual = normalise_catalog(compile_case(case), case.bases)
    diffs = compare_catalogs(expected, actual)
    if diffs:
        pytest.fail(format_diffs(f"{case.name} differs from Puppet's catalog ({case.expected})", diffs))


GOLDEN_CASES = golden_cases()

#: Cases where Bunraku differs from Puppet on purpose: the pattern its error must match.
#: Puppet silently drops exported resources when it has no store; Bunraku says so instead, so an
#: agent never converges a catalog that lost resources without anyone noticing.
DELIBERATE_ERRORS = {"exported": r"need the master's store"}


@pytest.mark.parametrize("case", _params("test_golden_catalog", GOLDEN_CASES, [c.name for c in GOLDEN_CASES]))
def test_golden_catalog(case: CompileCase) -> None:
    pattern = DELIBERATE_ERRORS.get(case.name)
    if pattern is not None:
        from dsl.errors import DslError

        with pytest.raises(DslError, match=pattern):
            compile_case(case)
        return
    assert_matches_expected(case)


EXAMPLE_CASES = example_cases()


@pytest.mark.parametrize("case", _params("test_example_site", EXAMPLE_CASES, [c.name for c in EXAMPLE_CASES]))
def test_example_site(case: CompileCase) -> None:
    assert_matches_expected(case)


# --------------------------------------------------------------------------------------------------
# manifests that must not compile


def _expected_errors() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((ERRORS_DIR / "expected.yaml").read_text(encoding="utf-8")) or {}
    assert isinstance(data, dict)
    return data


def error_position(exc: BaseException) -> tuple[int | None, int | None]:
    """(line, column) of a compile error: from attributes if it has them, else from its message."""
    for holder in (
        exc,
        getattr(exc, "span", None),
        getattr(exc, "node", None),
        getattr(exc, "position", None),
    ):
        if holder is None:
            continue
        line = getattr(holder, "line", None)
        column = getattr(holder, "column", getattr(holder, "col", None))
        if isinstance(line, int) and line > 0:
            return line, column if isinstance(column, int) else None
    match = POSITION_RE.search(str(exc))
    if match:
        return int(match.group(1)), int(match.group(2))
    return None, None


ERROR_CASES = sorted(ERRORS_DIR.glob("*.pp"))


@pytest.mark.parametrize("manifest", _params("test_golden_error", ERROR_CASES, [p.stem for p in ERROR_CASES]))
def test_golden_error(manifest: Path) -> None:
    import dsl.errors as errors
    from engine.catalog import CatalogError

    want = _expected_errors()[manifest.stem]
    req = compiler.CompileRequest.from_cli(
        manifest=manifest,
        node=GOLDEN_NODE,
        facts=load_facts(GOLDEN_DIR / "facts.yaml"),
        modulepath=[GOLDEN_DIR / "modules"],
        hiera_config=None,
        env_dir=None,
        environment="production",
        strict_variables=False,
    )
    with pytest.raises((errors.DslError, CatalogError)) as info:
        compiler.compile_catalog(req)
    line, column = error_position(info.value)
    puppet = f"Puppet said: {want['message']} (line {want['line']}, column {want['column']})"
    assert line == want["line"], f"{manifest.name}: error reported at line {line}: {info.value}\n{puppet}"
    if want.get("column") is not None:
        assert column == want["column"], f"{manifest.name}: error at column {column}: {info.value}\n{puppet}"
