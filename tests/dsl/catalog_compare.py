"""Normalise Puppet-shaped catalogs and compare them semantically.

Used by the golden tests (``tests/dsl/test_golden.py``), the examples test and ``golden/regen.py``;
importable by any other test that wants to hold a Bunraku catalog against one Puppet produced.

Normalisation (applied to both sides, so it is idempotent):

* drop ``version``, ``catalog_uuid``, ``code_id`` and every ``kind`` (Puppet-internal bookkeeping);
* drop ``Class[Settings]``, its containment edge and the ``settings`` class/tag (Puppet-only);
* make absolute ``file`` paths relative to a base directory (optionally under a prefix).

Comparison is semantic: resources as a set of (type, title); per resource the parameters (the
relationship metaparameters as sets of references, a single reference equal to a one-element list),
tags as sets, file, line and exported; containment edges as a set; classes as a set.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: Metaparameters whose values are resource references; order and list-ness do not matter.
RELATIONSHIP_PARAMS = frozenset({"before", "require", "notify", "subscribe"})

#: Top-level keys that change on every compile or are Puppet bookkeeping.
VOLATILE_KEYS = ("version", "catalog_uuid", "code_id")

SETTINGS_REF = "Class[Settings]"

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
GOLDEN_NODE = "golden.example.com"
EXAMPLE_NODES = ("web01.example.com", "web02.example.com", "db01.example.com")


# --------------------------------------------------------------------------------------------------
# normalisation


def _relative_file(path: str, bases: Iterable[tuple[Path, str]]) -> str:
    """``path`` made relative to the first base it lies under, prefixed with that base's prefix."""
    if not path.startswith("/"):
        return path
    candidate = Path(path)
    for base, prefix in bases:
        for root in {base, base.resolve()}:
            try:
                rel = candidate.relative_to(root)
            except ValueError:
                continue
            return str(Path(prefix) / rel) if prefix else str(rel)
    return path


def normalise_catalog(
    doc: Mapping[str, Any],
    bases: Iterable[tuple[Path, str]] = (),
) -> dict[str, Any]:
    """A normalised deep copy of a catalog document.

    ``bases`` is a sequence of ``(directory, prefix)``: a ``file`` under ``directory`` becomes
    ``prefix/relative/path`` (or just the relative path when the prefix is empty).
    """
    bases = list(bases)
    out: dict[str, Any] = copy.deepcopy(dict(doc))
    for key in (*VOLATILE_KEYS, "kind"):
        out.pop(key, None)
    out["tags"] = [t for t in out.get("tags", []) if t != "settings"]
    out["classes"] = [c for c in out.get("classes", []) if c != "settings"]
    resources = []
    for res in out.get("resources", []):
        if res.get("type") == "Class" and res.get("title") == "Settings":
            continue
        res.pop("kind", None)
        if isinstance(res.get("file"), str):
            res["file"] = _relative_file(res["file"], bases)
        resources.append(res)
    out["resources"] = resources
    out["edges"] = [e for e in out.get("edges", []) if SETTINGS_REF not in (e.get("source"), e.get("target"))]
    return out


# --------------------------------------------------------------------------------------------------
# comparison


def resource_ref(res: Mapping[str, Any]) -> str:
    return f"{res['type']}[{res['title']}]"


def _refs(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, list):
        out: set[str] = set()
        for item in value:
            out |= _refs(item)
        return frozenset(out)
    return frozenset({json.dumps(value, sort_keys=True)})


def same_value(expected: Any, actual: Any) -> bool:
    """Deep equality that tells 1, 1.0, "1" and true apart and keeps hash key order significant
    (Puppet hashes are ordered, and iteration order shows in the catalog)."""
    return json.dumps(expected, ensure_ascii=False) == json.dumps(actual, ensure_ascii=False)


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _compare_parameters(ref: str, expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    diffs: list[str] = []
    for name in sorted(set(expected) | set(actual)):
        if name not in actual:
            diffs.append(f"{ref}: parameter {name!r} missing (expected {_show(expected[name])})")
        elif name not in expected:
            diffs.append(f"{ref}: unexpected parameter {name!r} = {_show(actual[name])}")
        elif name in RELATIONSHIP_PARAMS:
            want, got = _refs(expected[name]), _refs(actual[name])
            if want != got:
                diffs.append(
                    f"{ref}: {name} references differ: missing {sorted(want - got)}, extra {sorted(got - want)}"
                )
        elif not same_value(expected[name], actual[name]):
            diffs.append(
                f"{ref}: parameter {name!r}: expected {_show(expected[name])}, got {_show(actual[name])}"
            )
    return diffs


def compare_catalogs(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between two *normalised* catalogs; empty when they agree."""
    diffs: list[str] = []
    exp_res = {resource_ref(r): r for r in expected.get("resources", [])}
    act_res = {resource_ref(r): r for r in actual.get("resources", [])}
    for ref in exp_res.keys() - act_res.keys():
        diffs.append(f"{ref}: missing from the catalog")
    for ref in act_res.keys() - exp_res.keys():
        diffs.append(f"{ref}: not expected in the catalog")
    for ref in sorted(exp_res.keys() & act_res.keys()):
        want, got = exp_res[ref], act_res[ref]
        diffs.extend(_compare_parameters(ref, want.get("parameters") or {}, got.get("parameters") or {}))
        want_tags, got_tags = set(want.get("tags", [])), set(got.get("tags", []))
        if want_tags != got_tags:
            diffs.append(
                f"{ref}: tags differ: missing {sorted(want_tags - got_tags)}, extra {sorted(got_tags - want_tags)}"
            )
        for key in ("file", "line", "exported"):
            if want.get(key) != got.get(key):
                diffs.append(f"{ref}: {key}: expected {_show(want.get(key))}, got {_show(got.get(key))}")
        want_sens = set(want.get("sensitive_parameters", []))
        got_sens = set(got.get("sensitive_parameters", []))
        if want_sens != got_sens:
            diffs.append(f"{ref}: sensitive_parameters: expected {sorted(want_sens)}, got {sorted(got_sens)}")

    def edge_set(doc: Mapping[str, Any]) -> set[tuple[str, str]]:
        return {(e["source"], e["target"]) for e in doc.get("edges", [])}

    want_edges, got_edges = edge_set(expected), edge_set(actual)
    for src, dst in sorted(want_edges - got_edges):
        diffs.append(f"edge {src} -> {dst}: missing")
    for src, dst in sorted(got_edges - want_edges):
        diffs.append(f"edge {src} -> {dst}: not expected")
    want_cls, got_cls = set(expected.get("classes", [])), set(actual.get("classes", []))
    if want_cls != got_cls:
        diffs.append(
            f"classes differ: missing {sorted(want_cls - got_cls)}, extra {sorted(got_cls - want_cls)}"
        )
    for key in ("name", "environment"):
        if key in expected and key in actual and expected[key] != actual[key]:
            diffs.append(f"catalog {key}: expected {_show(expected[key])}, got {_show(actual[key])}")
    return diffs


def format_diffs(title: str, diffs: list[str]) -> str:
    return f"{title}: {len(diffs)} difference(s)\n  " + "\n  ".join(diffs)


# --------------------------------------------------------------------------------------------------
# the golden cases and the example site


@dataclass(frozen=True)
class CompileCase:
    """Everything needed to compile one golden manifest (with Puppet or with Bunraku)."""

    name: str
    node: str
    manifest: Path
    modulepath: list[Path]
    expected: Path
    facts_file: Path
    env_dir: Path | None = None
    hiera_config: Path | None = None
    #: ``(directory, prefix)`` pairs used to relativise ``file`` paths
    bases: list[tuple[Path, str]] = field(default_factory=list)

    def facts(self) -> dict[str, Any]:
        return load_facts(self.facts_file)


def load_facts(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), f"{path}: facts must be a mapping"
    return data


def golden_cases(golden_dir: Path = GOLDEN_DIR) -> list[CompileCase]:
    """One case per ``golden/<name>.pp`` (shared ``golden/modules``) and per ``golden/<name>/`` environment."""
    cases: list[CompileCase] = []
    facts_file = golden_dir / "facts.yaml"
    for manifest in sorted(golden_dir.glob("*.pp")):
        cases.append(
            CompileCase(
                name=manifest.stem,
                node=GOLDEN_NODE,
                manifest=manifest,
                modulepath=[golden_dir / "modules"],
                expected=golden_dir / "expected" / f"{manifest.stem}.json",
                facts_file=facts_file,
                bases=[(golden_dir, "")],
            )
        )
    for env in sorted(p for p in golden_dir.iterdir() if (p / "manifests" / "site.pp").is_file()):
        hiera = env / "hiera.yaml"
        cases.append(
            CompileCase(
                name=env.name,
                node=GOLDEN_NODE,
                manifest=env / "manifests" / "site.pp",
                modulepath=[env / "modules"],
                expected=golden_dir / "expected" / f"{env.name}.json",
                facts_file=facts_file,
                env_dir=env,
                hiera_config=hiera if hiera.is_file() else None,
                bases=[(golden_dir, "")],
            )
        )
    return sorted(cases, key=lambda c: c.name)


def example_cases(examples_dir: Path = EXAMPLES_DIR) -> list[CompileCase]:
    env = examples_dir / "environments" / "production"
    return [
        CompileCase(
            name=node,
            node=node,
            manifest=env / "manifests" / "site.pp",
            modulepath=[env / "modules"],
            expected=examples_dir / "expected" / f"{node}.json",
            facts_file=examples_dir / "facts" / f"{node}.yaml",
            env_dir=env,
            hiera_config=env / "hiera.yaml",
            bases=[(env, "")],
        )
        for node in EXAMPLE_NODES
    ]


def load_expected(case: CompileCase) -> dict[str, Any]:
    with case.expected.open(encoding="utf-8") as fh:
        data = json.load(fh)
    assert isinstance(data, dict)
    return data
