"""Puppet reads Bunraku's reports: ``Puppet::Transaction::Report.convert_from`` (what a Puppet server
does with a submitted report, and the agent with its ``last_run_report.yaml``) accepts a changed, an
unchanged, a failed, a noop report and one of a run that had no catalog, in each form Bunraku writes
(Puppet's JSON, the JSON an agent sends its master, YAML), and computes the same ``status`` and
``exit_status`` as Bunraku, the same metrics, event names and times."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from engine.apply import apply_catalog
from engine.catalog import Catalog
from engine.report import Report
from tests.interop.catalogs import MANIFESTS, compile_case, confine, manifest_case, prepare_root
from tests.interop.oracle import PuppetTree, load_reports, load_tagged_yaml
from tests.interop.schema import errors

SECRET = b"s3cret\n"  # the Sensitive content in converge.pp


def _apply(name: str, root: Path, state: Path, *, noop: bool = False, times: int = 1) -> Report:
    catalog = compile_case(manifest_case(MANIFESTS / f"{name}.pp"))
    doc, _ = confine(catalog, root)
    prepare_root(doc, root)
    report = None
    for _ in range(times):
        report = apply_catalog(Catalog.from_dict(doc), root="/", noop=noop, state_dir=state)
    assert report is not None
    return report


def _no_catalog() -> Report:
    """The report of an agent run that got no catalog (what the agent sends then)."""
    report = Report(host="agent.example.com", environment="production")
    report.log("err", "could not retrieve catalog: no master answered")
    report.finalise(0.0, {})
    return report


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    tmp = tmp_path_factory.mktemp("reports")
    out = {
        "changed": _apply("converge", tmp / "changed", tmp / "state-changed"),
        "unchanged": _apply("steady", tmp / "unchanged", tmp / "state-unchanged", times=2),
        "failed": _apply("failing", tmp / "failed", tmp / "state-failed"),
        "noop": _apply("converge", tmp / "noop", tmp / "state-noop", noop=True),
        "no-catalog": _no_catalog(),
    }
    assert {name: r.status for name, r in out.items()} == {
        "changed": "changed", "unchanged": "unchanged", "failed": "failed", "noop": "unchanged",
        "no-catalog": "failed"}
    return out


def _forms(report: Report) -> dict[str, str]:
    return {"json": report.to_json(), "store.json": report.to_store_json(), "yaml": report.to_yaml()}


def _metrics(report: Report) -> dict[str, dict[str, Any]]:
    return {category: {name: value for name, _label, value in data["values"]}
            for category, data in report.metrics.items()}


def test_every_report_is_valid_against_puppets_schema(reports: dict[str, Report]) -> None:
    for name, report in reports.items():
        assert errors("report", report.to_dict()) == [], name
        assert load_tagged_yaml(report.to_yaml()) == json.loads(report.to_json()), name


def test_puppets_loader_reads_them_and_agrees(reports: dict[str, Report], tmp_path: Path,
                                             puppet: PuppetTree) -> None:
    files: dict[Path, Report] = {}
    for name, report in reports.items():
        for form, text in _forms(report).items():
            path = tmp_path / f"{name}.{form}"
            path.write_text(text, encoding="utf-8")
            files[path] = report
    loaded = load_reports(puppet, list(files))
    for seen in loaded:
        path = Path(seen["path"])
        ours = files[path]
        assert "error" not in seen, f"{path.name}: Puppet refused it: {seen.get('error')}"
        assert seen["class"] == "Puppet::Transaction::Report"
        assert (seen["status"], seen["exit_status"]) == (ours.status, ours.exit_code()), path.name
        assert seen["transaction_completed"] == ours.transaction_completed
        assert (seen["noop"], seen["noop_pending"]) == (ours.noop, ours.noop_pending), path.name
        assert seen["time"] == ours.time, path.name  # Puppet reads back the same instant, written the same
        assert seen["puppet_version"] == ours.puppet_version
        want_version = "" if ours.configuration_version is None else ours.configuration_version
        assert seen["configuration_version"] == want_version
        summary = seen["summary"]
        for category, values in _metrics(ours).items():
            assert {k: v for k, v in summary[category].items() if k != "last_run"} == values, (path.name, category)
        assert set(seen["resources"]) == set(ours.resource_statuses)
        for ref, status in ours.resource_statuses.items():
            theirs = seen["resources"][ref]
            assert theirs["time"] == status.time
            assert (theirs["failed"], theirs["skipped"], theirs["change_count"]) == \
                (status.failed, status.skipped, status.change_count), ref
            assert [(e["name"], e["status"], e["property"], e["message"], bool(e["redacted"]), e["time"])
                    for e in theirs["events"]] == \
                [(e.name, e.status, e.property, e.message, e.redacted, e.time) for e in status.events], ref
        assert [(log["level"], log["tags"], log["message"]) for log in seen["logs"]] == \
            [(e.level, e.tags, e.message) for e in ours.logs], path.name
    assert len(loaded) == len(files)


def test_what_puppet_computes_for_each_kind_of_run(reports: dict[str, Report], tmp_path: Path,
                                                   puppet: PuppetTree) -> None:
    paths = []
    for name, report in reports.items():
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(report.to_store_json(), encoding="utf-8")  # as an agent submits it
    seen = {Path(r["path"]).stem: (r["status"], r["exit_status"]) for r in load_reports(puppet, paths)}
    assert seen == {"changed": ("changed", 2), "unchanged": ("unchanged", 0), "failed": ("failed", 6),
                    "noop": ("unchanged", 0), "no-catalog": ("failed", 0)}


def test_reports_say_what_puppet_says(reports: dict[str, Report]) -> None:
    """Event names, redaction and metrics as Puppet writes them (checked against Puppet's reports of
    the same catalogs by test_puppet_apply_catalog; here without Puppet)."""
    changed = reports["changed"]
    names = {ref: [e.name for e in s.events] for ref, s in changed.resource_statuses.items()}
    assert names[f"File[{_root(changed)}/srv/app]"] == ["directory_created"]
    assert names["Exec[reload-on-vhost]"] == ["refresh"]
    assert names["Exec[always]"] == ["executed_command"]
    assert names["Notify[done]"] == ["message_changed"]
    assert changed.metric("resources", "restarted") == 5
    secret = changed.resource_statuses[f"File[{_root(changed)}/srv/app/secret]"].events[0]
    assert (secret.name, secret.message, secret.redacted) == ("file_created", "changed [redacted] to [redacted]", True)
    assert (secret.previous_value, secret.desired_value) == ("[redacted]", "[redacted]")
    text = changed.to_json() + changed.to_store_json() + changed.to_yaml()
    for digest in (hashlib.md5(SECRET).hexdigest(), hashlib.sha256(SECRET).hexdigest()):
        assert digest not in text
    failed = reports["failed"]
    assert failed.metric("resources", "failed_to_restart") == 1 and failed.metric("resources", "skipped") == 1
    assert [e.name for e in failed.resource_statuses["Exec[failing-refresh]"].events] == ["resource_error"]
    noop = reports["noop"]
    assert noop.noop_pending and noop.metric("changes", "total") == 0 and noop.metric("events", "noop") > 0


def _root(report: Report) -> str:
    ref = next(r for r in report.resource_statuses if r.startswith("File[") and r.endswith("/srv/app]"))
    return ref[len("File["):-len("/srv/app]")]
