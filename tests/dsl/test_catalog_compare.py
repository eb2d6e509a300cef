"""The golden data is complete and consistent, and the comparison helpers report what they should.

These tests need neither Puppet nor the compiler, so they run from day one.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from catalog_compare import (
    GOLDEN_DIR,
    compare_catalogs,
    example_cases,
    golden_cases,
    load_expected,
    normalise_catalog,
)

ALL_CASES = golden_cases() + example_cases()


def test_every_golden_case_has_expected_json() -> None:
    cases = golden_cases()
    assert len(cases) >= 40
    missing = [c.name for c in cases if not c.expected.is_file()]
    assert not missing, f"run tests/dsl/golden/regen.py: no expected JSON for {missing}"
    names = {c.name for c in cases}
    stale = sorted(p.stem for p in (GOLDEN_DIR / "expected").glob("*.json") if p.stem not in names)
    assert not stale, f"expected JSON without a golden manifest: {stale}"


def test_every_error_case_has_expected_position() -> None:
    expected = yaml.safe_load((GOLDEN_DIR / "errors" / "expected.yaml").read_text(encoding="utf-8"))
    manifests = {p.stem for p in (GOLDEN_DIR / "errors").glob("*.pp")}
    assert manifests == set(expected), "run tests/dsl/golden/regen.py to refresh errors/expected.yaml"
    for name, info in expected.items():
        assert isinstance(info["line"], int), f"{name}: Puppet reported no line"
        assert info["message"], name


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.name for c in ALL_CASES])
def test_expected_catalogs_are_normalised(case) -> None:  # type: ignore[no-untyped-def]
    doc = load_expected(case)
    assert normalise_catalog(doc, case.bases) == doc
    assert {"version", "catalog_uuid", "code_id"}.isdisjoint(doc)
    for res in doc["resources"]:
        assert "kind" not in res
        assert (res["type"], res["title"]) != ("Class", "Settings")
        assert not str(res.get("file", "")).startswith("/"), f"{case.name}: absolute path {res['file']}"
    assert "settings" not in doc["classes"]
    assert compare_catalogs(doc, copy.deepcopy(doc)) == []


def _sample() -> dict:
    return {
        "name": "n",
        "environment": "production",
        "tags": ["settings", "class"],
        "classes": ["settings", "foo"],
        "version": 123,
        "catalog_uuid": "u",
        "code_id": None,
        "resources": [
            {
                "type": "Class",
                "title": "Settings",
                "tags": ["class", "settings"],
                "exported": False,
                "kind": "x",
            },
            {
                "type": "File",
                "title": "/a",
                "tags": ["file", "class"],
                "file": "/srv/golden/x.pp",
                "line": 3,
                "exported": False,
                "kind": "compilable_type",
                "parameters": {
                    "ensure": "file",
                    "require": "Package[p]",
                    "before": ["Service[s]", "Exec[e]"],
                },
            },
        ],
        "edges": [
            {"source": "Stage[main]", "target": "Class[Settings]"},
            {"source": "Class[main]", "target": "File[/a]"},
        ],
    }


def test_normalise_drops_puppet_bookkeeping() -> None:
    doc = normalise_catalog(_sample(), [(Path("/srv/golden"), "")])
    assert "version" not in doc and "catalog_uuid" not in doc and "code_id" not in doc
    assert doc["classes"] == ["foo"] and doc["tags"] == ["class"]
    assert [r["title"] for r in doc["resources"]] == ["/a"]
    assert doc["resources"][0]["file"] == "x.pp" and "kind" not in doc["resources"][0]
    assert doc["edges"] == [{"source": "Class[main]", "target": "File[/a]"}]


def test_compare_is_semantic_for_relationships_and_tags() -> None:
    want = normalise_catalog(_sample())
    got = copy.deepcopy(want)
    res = got["resources"][0]
    res["parameters"]["require"] = ["Package[p]"]
    res["parameters"]["before"] = ["Exec[e]", "Service[s]"]
    res["tags"] = ["class", "file"]
    assert compare_catalogs(want, got) == []


def test_compare_names_the_resource() -> None:
    want = normalise_catalog(_sample())
    got = copy.deepcopy(want)
    res = got["resources"][0]
    res["parameters"]["ensure"] = "directory"
    res["parameters"]["mode"] = "0644"
    res["line"] = 4
    got["edges"].append({"source": "Class[main]", "target": "File[/b]"})
    diffs = compare_catalogs(want, got)
    text = "\n".join(diffs)
    assert 'File[/a]: parameter \'ensure\': expected "file", got "directory"' in text
    assert "File[/a]: unexpected parameter 'mode'" in text
    assert "File[/a]: line: expected 3, got 4" in text
    assert "edge Class[main] -> File[/b]: not expected" in text


def test_compare_distinguishes_integer_and_string() -> None:
    want = normalise_catalog(_sample())
    got = json.loads(json.dumps(want))
    got["resources"][0]["parameters"]["ensure"] = 1
    want["resources"][0]["parameters"]["ensure"] = "1"
    assert compare_catalogs(want, got)


def test_compare_is_strict_inside_nested_values() -> None:
    want = normalise_catalog(_sample())
    got = copy.deepcopy(want)
    want["resources"][0]["parameters"]["content"] = [True, 1.0, {"a": 1, "b": 2}]
    got["resources"][0]["parameters"]["content"] = [1, 1, {"a": 1, "b": 2}]
    assert len(compare_catalogs(want, got)) == 1
    got["resources"][0]["parameters"]["content"] = [True, 1.0, {"b": 2, "a": 1}]
    assert len(compare_catalogs(want, got)) == 1, "hash order is significant"
