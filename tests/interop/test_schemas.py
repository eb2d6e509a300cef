"""Bunraku's catalogs and reports against Puppet's published JSON schemas (``schemas/``), and the
validator's two allowances proven on a report Puppet wrote itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.apply import apply_catalog
from engine.catalog import Catalog
from engine.report import Report
from tests.interop.catalogs import (
    MANIFESTS,
    DoesNotCompile,
    compile_case,
    confine,
    interop_cases,
    manifest_case,
    prepare_root,
)
from tests.interop.oracle import PuppetTree
from tests.interop.schema import ERRATA, all_errors, erratum_of, errors, python_pattern, schema

TAG = r"\A[[:alnum:]_][[:alnum:]_:.-]*\Z"  # Puppet's tag pattern, as its schemas write it


def test_the_vendored_schemas_are_puppets_and_read_as_draft_4() -> None:
    for name in ("catalog", "report"):
        assert schema(name)["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert (Path(__file__).parent / "schemas" / "LICENSE").read_text().lstrip().startswith("Apache License")


@pytest.mark.parametrize(("tag", "valid"), [("class", True), ("foo::bar", True), ("a.b-c_d", True), ("_x", True),
                                            ("Web01", True), ("-x", False), ("a b", False), ("", False),
                                            ("x\n", False)])
def test_puppets_tag_pattern_means_the_same_to_python(tag: str, valid: bool) -> None:
    assert bool(re.search(python_pattern(TAG), tag)) is valid


@pytest.mark.parametrize("case", interop_cases(), ids=lambda c: c.name)
def test_bunrakus_catalogs_are_valid(case) -> None:  # noqa: ANN001
    try:
        catalog = compile_case(case)
    except DoesNotCompile as exc:
        pytest.skip(str(exc))
    assert errors("catalog", catalog) == []
    assert errors("catalog", Catalog.from_dict(catalog).to_dict()) == []  # what a round trip writes


def test_the_validator_is_not_vacuous() -> None:
    catalog = compile_case(manifest_case(MANIFESTS / "steady.pp"))
    catalog["version"] = None
    del catalog["resources"][0]["tags"]
    catalog["resources"][1]["kind"] = 3
    assert [e.split(":")[0] for e in errors("catalog", catalog)] == ["resources/0", "resources/1/kind", "version"]
    report = Report(host="h")
    report.transaction_completed = True
    report.finalise(0.0, {})
    assert errors("report", report.to_dict()) == []
    assert errors("report", report.to_store_dict()) == [
        "(document): Additional properties are not allowed ('apply_mode', 'health', 'incremental' were unexpected)"]


@pytest.fixture(scope="module")
def both_reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:  # type: ignore[type-arg]
    """Puppet's report and Bunraku's of the same catalog (``manifests/converge.pp`` and ``failing.pp``
    in one), each applied to a directory of its own."""
    from tests.interop.oracle import require_puppet

    require_puppet()
    tmp = tmp_path_factory.mktemp("schemas")
    catalog = compile_case(manifest_case(MANIFESTS / "converge.pp"))
    failing = compile_case(manifest_case(MANIFESTS / "failing.pp"))
    catalog["resources"] += [r for r in failing["resources"] if r["type"] in ("Exec", "File")]
    catalog["edges"] += [e for e in failing["edges"] if e["source"] == "Class[main]"]
    docs = {}
    for who in ("puppet", "bunraku"):
        docs[who], _ = confine(catalog, tmp / who)
        prepare_root(docs[who], tmp / who)
    (tmp / "c.json").write_text(json.dumps(docs["puppet"]), encoding="utf-8")
    puppet = PuppetTree(tmp / "tree")
    assert puppet.apply_catalog(tmp / "c.json").returncode == 0
    theirs = puppet.last_run_report()
    ours = apply_catalog(Catalog.from_dict(docs["bunraku"]), root="/", state_dir=tmp / "state").to_dict()
    assert theirs["status"] == ours["status"] == "failed"
    return theirs, ours


def test_each_allowance_is_needed_by_puppets_own_report(both_reports: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    theirs, _ = both_reports
    found = [erratum_of(e) for e in all_errors("report", theirs)]
    assert None not in found, [e.message for e in all_errors("report", theirs) if erratum_of(e) is None]
    assert set(found) == set(ERRATA)  # each allowance is one Puppet needs for its own report


def test_bunrakus_report_needs_no_more_than_puppets(both_reports: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    _, ours = both_reports
    assert errors("report", ours) == []
    assert {erratum_of(e) for e in all_errors("report", ours)} == {"line is an integer"}  # never redacted: null
