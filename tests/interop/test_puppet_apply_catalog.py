"""Puppet applies Bunraku's catalogs: ``puppet apply --catalog`` of what Bunraku compiles converges a
directory to the same state as Bunraku's own apply.

For every golden manifest (``tests/dsl/golden``) and ``manifests/converge.pp`` here, the catalog Bunraku
compiles is made safe to apply in a temporary directory (``catalogs.confine``: files under a root of
the test's own; what could reach beyond it pruned). The same document then goes to Puppet and to
Bunraku, each with its own root, and the test compares:

- the two trees: every entry's kind, mode, owner, content and link target;
- the refreshes: how many times each resource was refreshed (``refresh`` events), and the names of
  the events each resource had (``file_created``, ``message_changed``, ``executed_command`` ...);
- Puppet's verdict on Bunraku's result: Puppet applying the catalog to the tree Bunraku converged
  finds no file to change.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dsl.deferred import call_deferred
from engine.apply import apply_catalog
from engine.catalog import Catalog, parse_ref
from engine.report import Report
from tests.dsl.catalog_compare import CompileCase
from tests.interop.catalogs import DoesNotCompile, compile_case, confine, interop_cases, prepare_root
from tests.interop.oracle import PuppetTree, require_puppet


# -- what to compare ------------------------------------------------------------------------------------
def tree(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under ``root``: kind, mode, owner, group and content or link target (``ROOT`` for
    the root itself, so two roots compare)."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            st = os.lstat(path)
            rel = str(path.relative_to(root))
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path).replace(str(root), "ROOT"), st.st_uid, st.st_gid)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("directory", oct(mode), st.st_uid, st.st_gid)
            else:
                out[rel] = ("file", oct(mode), st.st_uid, st.st_gid, path.read_bytes())
    return out


def _resource_key(ref: str, root: Path) -> str:
    return ref.replace(str(root), "ROOT")


def refreshes(statuses: dict[str, Any], root: Path) -> Counter[str]:
    """How many refreshes each resource ran (successful ``refresh`` events)."""
    return Counter({_resource_key(ref, root): sum(1 for e in s["events"] if e["name"] == "refresh"
                                                  and e["status"] == "success")
                    for ref, s in statuses.items() if any(e["name"] == "refresh" for e in s["events"])})


def event_names(statuses: dict[str, Any], root: Path) -> dict[str, list[str]]:
    """The names of each resource's successful events."""
    out = {}
    for ref, status in statuses.items():
        names = sorted(e["name"] for e in status["events"] if e["status"] == "success")
        if names:
            out[_resource_key(ref, root)] = names
    return out


def _file_events(statuses: dict[str, Any]) -> dict[str, list[str]]:
    return {ref: [e["message"] for e in s["events"]] for ref, s in statuses.items()
            if parse_ref(ref)[0] == "File" and s["events"]}


@dataclass
class Outcome:
    """One case: the confined catalogs, both roots, both reports, and Puppet's check of Bunraku's tree."""

    case: CompileCase
    base: Path
    skip: str | None = None
    notes: list[str] = field(default_factory=list)
    b_doc: dict[str, Any] = field(default_factory=dict)
    bunraku: Report | None = None
    puppet: subprocess.CompletedProcess[str] | None = None
    check: subprocess.CompletedProcess[str] | None = None

    @property
    def p_root(self) -> Path:
        return self.base / "by-puppet"

    @property
    def b_root(self) -> Path:
        return self.base / "by-bunraku"

    @property
    def has_files(self) -> bool:
        return any(r["type"] == "File" for r in self.b_doc.get("resources", []))


def _prepare(case: CompileCase, base: Path) -> Outcome:
    """Compile, confine, and apply with Bunraku (in this process); Puppet's runs come after."""
    out = Outcome(case, base)
    try:
        catalog = compile_case(case)
    except DoesNotCompile as exc:
        out.skip = str(exc)
        return out
    assert catalog["version"] is not None, "a null version makes Puppet refuse the catalog"
    assert all(r.get("kind") for r in catalog["resources"]), "without kind, Puppet applies nothing"
    p_doc, out.notes = confine(catalog, out.p_root)
    out.b_doc, _ = confine(catalog, out.b_root)
    prepare_root(p_doc, out.p_root)
    prepare_root(out.b_doc, out.b_root)
    (base / "puppet.json").write_text(json.dumps(p_doc), encoding="utf-8")
    (base / "check.json").write_text(json.dumps(out.b_doc), encoding="utf-8")
    out.bunraku = apply_catalog(Catalog.from_dict(out.b_doc), root="/", state_dir=base / "state",
                                functions=call_deferred)  # as `bunraku apply` resolves Deferred values
    return out


def _run_puppet(out: Outcome) -> None:
    out.puppet = PuppetTree(out.base / "puppet").apply_catalog(out.base / "puppet.json")


def _run_check(out: Outcome) -> None:
    out.check = PuppetTree(out.base / "puppet-check").apply_catalog(out.base / "check.json")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every case prepared, then Puppet's runs side by side (each is a Ruby process of its own)."""
    require_puppet()
    base = tmp_path_factory.mktemp("puppet-apply")
    prepared = [_prepare(case, base / case.name) for case in interop_cases()]
    # Puppet's check of Bunraku's tree runs after Bunraku's apply, so alongside Puppet's own apply
    jobs = [(_run_puppet, o) for o in prepared if o.skip is None]
    jobs += [(_run_check, o) for o in prepared if o.skip is None and o.has_files]
    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        for future in [pool.submit(run, o) for run, o in jobs]:
            future.result()
    return {o.case.name: o for o in prepared}


@pytest.mark.parametrize("name", [c.name for c in interop_cases()])
def test_puppet_apply_converges_bunrakus_catalog_like_bunraku(name: str, outcomes: dict[str, Outcome]) -> None:
    out = outcomes[name]
    if out.skip is not None:
        pytest.skip(out.skip)
    assert out.puppet is not None and out.bunraku is not None
    context = f"{name}; " + ("; ".join(out.notes) if out.notes else "nothing pruned")
    puppet = PuppetTree(out.base / "puppet")
    # (with --catalog, Puppet's exit status says nothing of failed resources: its report does)
    assert out.puppet.returncode == 0 and puppet.last_run_report()["status"] != "failed", \
        f"{context}\nPuppet failed to apply:\n{out.puppet.stdout}\n{out.puppet.stderr}"
    by_puppet = puppet.last_run_report()["resource_statuses"]
    report = out.bunraku
    assert report.status != "failed", f"{context}\n{[e.message for e in report.logs if e.level == 'err']}"
    by_bunraku = report.to_dict()["resource_statuses"]

    assert tree(out.b_root) == tree(out.p_root), context
    assert refreshes(by_bunraku, out.b_root) == refreshes(by_puppet, out.p_root), context
    puppet_names = {ref: names for ref, names in event_names(by_puppet, out.p_root).items()
                    if parse_ref(ref)[0] not in ("Schedule", "Filebucket")}
    assert event_names(by_bunraku, out.b_root) == puppet_names, context

    if out.has_files:
        # Puppet's verdict on the tree Bunraku converged: nothing left to change
        assert out.check is not None and out.check.returncode == 0, f"{context}\n{out.check}"
        check = PuppetTree(out.base / "puppet-check").last_run_report()
        assert check["status"] != "failed" and _file_events(check["resource_statuses"]) == {}, context


def test_bunrakus_report_of_that_run_is_what_puppet_writes(tmp_path: Path, puppet: PuppetTree) -> None:
    """The statuses and metrics of Bunraku's report of ``converge.pp`` and Puppet's of the same catalog
    agree, field by field where both are deterministic."""
    catalog = compile_case(interop_cases()[-1])
    root_p, root_b = tmp_path / "p", tmp_path / "b"
    p_doc, _ = confine(catalog, root_p)
    b_doc, _ = confine(catalog, root_b)
    prepare_root(p_doc, root_p)
    prepare_root(b_doc, root_b)
    (tmp_path / "c.json").write_text(json.dumps(p_doc), encoding="utf-8")
    assert puppet.apply_catalog(tmp_path / "c.json").returncode == 0
    theirs = puppet.last_run_report()
    ours = apply_catalog(Catalog.from_dict(b_doc), root="/", state_dir=tmp_path / "state")
    mine = ours.to_dict()
    assert mine["status"] == theirs["status"] == "changed"
    assert mine["report_format"] == theirs["report_format"] == 12
    assert set(mine) <= set(theirs) | {"code_id", "catalog_uuid", "server_used"}

    def metric(report: dict[str, Any], category: str) -> dict[str, Any]:
        return {name: value for name, _label, value in report["metrics"][category]["values"]}

    leaf = {ref for ref in theirs["resource_statuses"] if parse_ref(ref)[0] not in ("Schedule", "Filebucket")}
    assert metric(mine, "changes") == metric(theirs, "changes")
    assert metric(mine, "events") == metric(theirs, "events")
    resources = metric(theirs, "resources")
    resources["total"] = len(leaf)  # Puppet also counts its own Schedule and Filebucket resources
    assert metric(mine, "resources") == resources
    assert {"config_retrieval", "transaction_evaluation", "catalog_application", "total"} <= set(metric(mine, "time"))
    for ref in leaf:
        want = theirs["resource_statuses"][ref]
        got = mine["resource_statuses"][_resource_key(ref, root_p).replace("ROOT", str(root_b))]
        for key in ("resource_type", "title", "change_count", "out_of_sync_count", "changed", "out_of_sync",
                    "failed", "skipped", "failed_to_restart", "containment_path", "corrective_change"):
            if key in ("title", "containment_path"):
                assert json.dumps(got[key]).replace(str(root_b), "R") == json.dumps(want[key]).replace(
                    str(root_p), "R"), (ref, key)
            else:
                assert got[key] == want[key], (ref, key, got[key], want[key])
        assert sorted(set(got["tags"])) == sorted(set(want["tags"])), ref
        for g, w in zip(got["events"], want["events"], strict=True):
            for key in ("name", "status", "property", "redacted"):
                assert g[key] == (w[key] or False if key == "redacted" else w[key]), (ref, key, g, w)
            assert g["message"].replace(str(root_b), "R") == w["message"].replace(str(root_p), "R"), (ref, g, w)
    assert Report.from_dict(mine).to_dict() == mine
