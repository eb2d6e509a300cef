"""Catalogs and reports in Puppet's formats, checked without Puppet (tests/interop has Puppet judge
them): kinds and versions, alias references, event names, redaction, checksums, metrics, timestamps,
exit codes, and the files a Puppet agent leaves in its state directory."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from engine.apply import apply_catalog, event_name
from engine.catalog import Catalog, Resource
from engine.report import REPORT_FORMAT, STORE_ONLY_KEYS, Report, puppet_time
from engine.summary import last_run_summary, write_catalog_summary, write_last_run_files
from tests.engine.conftest import CatalogBuilder

PUPPET_TIME = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d\Z")


# -- catalogs ---------------------------------------------------------------------------------------------
def test_every_resource_has_puppets_kind_and_the_version_is_never_null() -> None:
    cat = Catalog("n")
    assert isinstance(cat.version, int) and cat.version > 1_600_000_000  # the compile time, as Puppet's default
    for res in (Resource("Stage", "main"), Resource("Class", "Foo"), Resource("Node", "default"),
                Resource("File", "/x"), Resource("Mymod::Thing", "t"), Resource("Mydef", "d", kind="defined_type")):
        cat.add(res)
    kinds = {r["type"]: r["kind"] for r in cat.to_dict()["resources"]}
    assert kinds == {"Stage": "compilable_type", "Class": "unknown", "Node": "unknown", "File": "compilable_type",
                     "Mymod::Thing": "defined_type", "Mydef": "defined_type"}
    again = Catalog.from_dict(json.loads(cat.to_json()))
    assert again.get("Mydef[d]").kind == "defined_type" and again.version == cat.version
    assert isinstance(Catalog.from_dict({"name": "n", "version": None}).version, int)


def test_relationships_by_alias_and_by_namevar_resolve_as_in_puppet(shell_root: Path, state: Path) -> None:
    root = shell_root  # the refresh of Exec[job] runs /bin/sh in the root (a noop checks it is there)
    cb = CatalogBuilder()
    cb.add("File", "config", path="/etc/app.conf", content="x\n")
    cb.add("Exec", "job", command="/bin/true", refreshonly=True, alias="the-job")
    cb.add("Notify", "by-path", require="File[/etc/app.conf]", notify="Exec[the-job]")
    assert cb.catalog.aliases() == {"File[/etc/app.conf]": "File[config]", "Exec[the-job]": "Exec[job]"}
    assert ("File[config]", "Notify[by-path]", False) in set(cb.catalog.relationships())
    assert cb.catalog.validate_relationships() == []
    report = apply_catalog(cb.catalog, root=root, state_dir=state, noop=True)
    assert report.status != "failed"


# -- event names --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("type_name", "prop", "desired", "name"), [
    ("File", "ensure", "file", "file_created"), ("File", "ensure", "present", "file_created"),
    ("File", "ensure", "directory", "directory_created"), ("File", "ensure", "link", "link_created"),
    ("File", "ensure", "absent", "file_removed"), ("File", "content", "{sha256}ab", "content_changed"),
    ("File", "mode", "0644", "mode_changed"), ("User", "ensure", "present", "user_created"),
    ("Group", "ensure", "present", "group_created"), ("Group", "ensure", "absent", "group_removed"),
    ("Package", "ensure", "installed", "package_installed"), ("Package", "ensure", "1.2-3", "package_changed"),
    ("Service", "ensure", "running", "service_started"), ("Service", "enable", False, "service_disabled"),
    ("Exec", "returns", ["0"], "executed_command"), ("Notify", "message", "hi", "message_changed"),
    ("Cron", "ensure", "present", "cron_created"), ("Ssh_authorized_key", "ensure", "absent", "ssh_authorized_key_removed"),
])
def test_event_names_are_puppets(type_name: str, prop: str, desired: object, name: str) -> None:
    assert event_name(type_name, prop, desired) == name


def test_a_file_created_with_sensitive_content_shows_no_checksum(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/etc/secret", content="s3cret\n", sensitive=["content"])
    cb.add("File", "/etc/plain", content="plain\n")
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    secret = report.resource_statuses["File[/etc/secret]"].events[0]
    assert (secret.name, secret.message, secret.redacted) == ("file_created", "changed [redacted] to [redacted]", True)
    assert (secret.previous_value, secret.desired_value) == ("[redacted]", "[redacted]")
    text = report.to_json() + report.to_store_json() + report.to_yaml()
    for digest in (hashlib.md5(b"s3cret\n").hexdigest(), hashlib.sha256(b"s3cret\n").hexdigest()):
        assert digest not in text
    plain = report.resource_statuses["File[/etc/plain]"].events[0]
    digest = hashlib.sha256(b"plain\n").hexdigest()
    assert plain.message == f"defined content as '{{sha256}}{digest}'"
    assert plain.redacted is False


def test_content_changes_are_shown_with_sha256(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/etc/motd", content="one\n")
    apply_catalog(cb.catalog, root=root, state_dir=state)
    cb.catalog.get("File[/etc/motd]").parameters["content"] = "two\n"
    event = apply_catalog(cb.catalog, root=root, state_dir=state).resource_statuses["File[/etc/motd]"].events[0]
    old, new = (f"{{sha256}}{hashlib.sha256(t).hexdigest()}" for t in (b"one\n", b"two\n"))
    assert (event.name, event.previous_value, event.desired_value) == ("content_changed", old, new)


@pytest.mark.parametrize(("message", "shown"), [
    (True, "defined 'message' as true"), (3, "defined 'message' as 3"), (3.5, "defined 'message' as 3.500000"),
    (["first", "second"], "defined 'message' as 'first'"), ("a\nb", 'defined \'message\' as "a\\nb"'),
    ("it's", 'defined \'message\' as "it\'s"'), (False, None), ([], None),
])
def test_notify_takes_one_message_as_puppet_does(message: object, shown: str | None, root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Notify", "n", message=message)
    status = apply_catalog(cb.catalog, root=root, state_dir=state).resource_statuses["Notify[n]"]
    assert [e.message for e in status.events] == ([shown] if shown else [])


# -- reports -------------------------------------------------------------------------------------------------
def test_the_report_is_puppets_and_the_additions_go_to_the_store_only(shell_root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/etc/a", content="a\n", notify="Exec[e]")
    cb.add("Exec", "e", command="/bin/true", refreshonly=True)
    report = apply_catalog(cb.catalog, root=shell_root, state_dir=state)
    data = report.to_dict()
    assert data["report_format"] == REPORT_FORMAT and data["transaction_completed"] is True
    assert data["puppet_version"].startswith("bunraku ") and data["configuration_version"] == 1
    assert not set(STORE_ONLY_KEYS) & set(data) and "kind" not in data and "bunraku_version" not in data
    # agent_upgrade only when the master offered an agent version (agent.upgrade), releases with a release
    assert set(STORE_ONLY_KEYS) - {"agent_upgrade", "releases"} <= set(report.to_store_dict())
    report.agent_upgrade = {"from": "0.1.0", "to": "0.2.0", "state": "staged", "reason": None}
    assert report.to_store_dict()["agent_upgrade"]["state"] == "staged" and "agent_upgrade" not in report.to_dict()
    assert all(PUPPET_TIME.match(t) for t in [data["time"], *(log["time"] for log in data["logs"])])
    for status in data["resource_statuses"].values():
        assert "skip_reason" not in status and PUPPET_TIME.match(status["time"])
        assert all(PUPPET_TIME.match(e["time"]) for e in status["events"])
    refresh = data["resource_statuses"]["Exec[e]"]["events"][0]
    assert (refresh["name"], refresh["property"]) == ("refresh", None)
    assert data["logs"][0]["tags"] == ["notice", "file"]
    values = {c: [v[:2] for v in m["values"]] for c, m in data["metrics"].items()}
    assert values["resources"] == [["total", "Total"], ["skipped", "Skipped"], ["failed", "Failed"],
                                   ["failed_to_restart", "Failed to restart"], ["restarted", "Restarted"],
                                   ["changed", "Changed"], ["out_of_sync", "Out of sync"],
                                   ["scheduled", "Scheduled"], ["corrective_change", "Corrective change"]]
    assert values["events"] == [["total", "Total"], ["failure", "Failure"], ["success", "Success"]]
    assert values["time"][-4:] == [["config_retrieval", "Config retrieval"],
                                   ["transaction_evaluation", "Transaction evaluation"],
                                   ["catalog_application", "Catalog application"], ["total", "Total"]]
    assert report.metric("resources", "restarted") == 1 and report.metric("resources", "out_of_sync") == 2
    report.add_times("fact_generation", 0.25)
    assert [v[0] for v in report.metrics["time"]["values"]][-2:] == ["fact_generation", "total"]
    assert Report.from_dict(report.to_store_dict()).to_store_dict() == report.to_store_dict()


def test_exit_codes_and_status_are_puppets() -> None:
    no_catalog = Report(host="h")
    no_catalog.finalise(0.0, {})
    assert (no_catalog.status, no_catalog.exit_code()) == ("failed", 0)  # the agent's own exit status says 1
    done = Report(host="h", transaction_completed=True)
    done.finalise(0.0, {})
    assert (done.status, done.exit_code()) == ("unchanged", 0)


def test_puppet_time_is_iso8601_with_nanoseconds_and_an_offset() -> None:
    text = puppet_time(1_700_000_000_123_456_789)
    assert PUPPET_TIME.match(text) and text.split("T")[1][8:18] == ".123456789"
    assert datetime.fromisoformat(text).timestamp() == pytest.approx(1_700_000_000.123456, abs=1e-6)


# -- the agent's state files -----------------------------------------------------------------------------------
def test_state_files_are_written_in_puppets_layout(root: Path, state: Path, tmp_path: Path) -> None:
    cb = CatalogBuilder()
    cb.catalog.classes = ["settings", "base"]
    cb.add("File", "/etc/A", content="a\n")
    cb.container("Mymod::Thing", "t")
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    out = tmp_path / "var" / "state"
    write_last_run_files(out, report)
    write_catalog_summary(out, cb.catalog)
    assert (out / "classes.txt").read_text() == "settings\nbase\n"
    assert (out / "resources.txt").read_text() == "file[/etc/a]\n"
    summary = yaml.safe_load((out / "last_run_summary.yaml").read_text())
    assert summary == last_run_summary(report) | {"time": summary["time"]}
    assert list(summary["resources"]) == sorted(summary["resources"], key=lambda k: k.capitalize().replace("_", " "))
    assert summary["events"] == {"failure": 0, "success": 1, "total": 1}
    text = (out / "last_run_report.yaml").read_text()
    assert text.startswith("--- !ruby/object:Puppet::Transaction::Report\n")
    assert yaml.safe_load("---\n" + text.split("\n", 1)[1]) == report.to_dict()
