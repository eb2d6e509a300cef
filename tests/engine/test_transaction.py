from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.apply import apply_catalog
from engine.catalog import Catalog
from engine.errors import GraphError
from engine.report import Report

from .conftest import CatalogBuilder, changes, converge, failures

LOG = "/bin/sh -c 'echo $0 >> {log}'"


def _order(report: Report) -> list[str]:
    return [ref for ref, s in report.resource_statuses.items() if s.events]


def test_class_relationships_order_all_contents_and_manifest_order_breaks_ties(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.container("Class", "B")
    cb.container("Class", "A")
    cb.add("Notify", "b1", container="Class[B]")
    cb.add("Notify", "b2", container="Class[B]")
    cb.add("Notify", "a1", container="Class[A]")
    cb.container("Web::Vhost", "site", parent="Class[A]")
    cb.add("Notify", "a2", container="Web::Vhost[site]")
    cb.add("Notify", "last")
    cb.catalog.get("Class[A]").parameters["before"] = "Class[B]"
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    assert _order(report) == ["Notify[a1]", "Notify[a2]", "Notify[b1]", "Notify[b2]", "Notify[last]"]
    again = apply_catalog(cb.catalog, root=root, state_dir=state)
    assert _order(again) == _order(report)


def test_cycle_is_reported_with_every_resource_and_its_position(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/a", ensure="directory", require="Exec[b]")
    cb.add("Exec", "b", command="/bin/true", subscribe="File[/a]")
    with pytest.raises(GraphError) as err:
        apply_catalog(cb.catalog, root=root, state_dir=state)
    assert str(err.value) == ("found 1 dependency cycle: File[/a] (/etc/site.pp:1) => "
                              "Exec[b] (/etc/site.pp:2) => File[/a]")


def test_missing_relationship_target_is_an_error(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Notify", "x", require="File[/nowhere]")
    with pytest.raises(GraphError, match=r"Notify\[x\] \(/etc/site.pp:1\): error: relationship with "
                                         r"File\[/nowhere\], which is not in the catalog"):
        apply_catalog(cb.catalog, root=root, state_dir=state)


def test_failure_skips_dependents_but_not_unrelated_resources(shell_root: Path, state: Path) -> None:
    root = shell_root
    cb = CatalogBuilder()
    cb.container("Class", "Db")
    cb.add("Exec", "broken", command="/bin/false", container="Class[Db]")
    cb.add("Notify", "db-sibling", container="Class[Db]")
    cb.add("Notify", "after-db", require="Class[Db]")
    cb.add("File", "/etc/needs", content="x", require="Exec[broken]")
    cb.add("Notify", "unrelated")
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    st = report.resource_statuses
    assert st["Exec[broken]"].failed
    assert "'/bin/false' returned 1 instead of one of [0]" in st["Exec[broken]"].events[0].message
    assert st["File[/etc/needs]"].skipped and st["Notify[after-db]"].skipped
    assert st["File[/etc/needs]"].skip_reason == "dependency Exec[broken] failed"
    assert st["Notify[unrelated]"].changed and st["Notify[db-sibling]"].changed
    assert not (root / "etc/needs").exists()
    assert report.status == "failed" and report.exit_code() == 6


def test_refresh_travels_through_containers_and_noop_predicts_it(shell_root: Path, state: Path) -> None:
    root = shell_root
    log = root / "refresh.log"  # the execs run chrooted into the root: /refresh.log there
    cb = CatalogBuilder()
    cb.container("Class", "Config")
    cb.container("Class", "Runner")
    cb.add("File", "/etc/app.conf", content="v1\n", container="Class[Config]")
    cb.add("Exec", "reload", command=LOG.format(log="/refresh.log"), refreshonly=True, container="Class[Runner]")
    cb.add("Exec", "unrelated", command=LOG.format(log="/refresh.log"), refreshonly=True)
    cb.catalog.get("Class[Config]").parameters["notify"] = "Class[Runner]"
    predicted, first, second = converge(cb.catalog, root, root.parent / "state")
    assert ("Exec[reload]", None) in changes(predicted)  # a refresh is no property's event
    assert predicted.resource_statuses["Exec[reload]"].events[0].message == \
        "Would have triggered 'refresh' from 1 event"
    assert first.resource_statuses["Exec[reload]"].events[0].message == "Triggered 'refresh' from 1 event"
    assert log.read_text().count("\n") == 1
    cb.catalog.get("File[/etc/app.conf]").parameters["content"] = "v2\n"
    apply_catalog(cb.catalog, root=root, state_dir=state)
    assert log.read_text().count("\n") == 2


def test_tags_select_a_subset(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/etc/a", content="a", tags=["web"])
    cb.add("File", "/etc/b", content="b", tags=["db"])
    report = apply_catalog(cb.catalog, root=root, state_dir=state, tags=["web"])
    assert changes(report) == {("File[/etc/a]", "ensure")}
    assert not (root / "etc/b").exists()


def test_sensitive_values_are_redacted_everywhere(shell_root: Path, state: Path) -> None:
    root = shell_root  # the exec runs and prints the secret
    (root / "etc/secret").write_text("old-secret\n")
    cb = CatalogBuilder()
    cb.add("File", "/etc/secret", content="hunter2\n", sensitive=["content"])
    cb.add("Exec", "/bin/echo hunter2 && /bin/false", command="/bin/sh -c 'echo hunter2; exit 3'",
           sensitive=["command"], logoutput=True)
    cb.add("File", "/etc/rich", content={"__ptype": "Sensitive", "__pvalue": "topsecret"})
    for noop in (True, False):
        report = apply_catalog(cb.catalog, root=root, state_dir=state, noop=noop, show_diff=True)
        text = report.to_json()
        assert "hunter2" not in text.replace("/bin/echo hunter2 && /bin/false", "")
        assert "topsecret" not in text and "old-secret" not in text
        assert report.resource_statuses["File[/etc/secret]"].events[0].previous_value == "[redacted]"
    assert (root / "etc/secret").read_text() == "hunter2\n"


def test_report_shape_round_trip_and_saved_file(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/etc/x", content="x")
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    data = json.loads(report.to_json())
    for key in ("host", "time", "configuration_version", "transaction_uuid", "catalog_uuid", "status", "noop",
                "noop_pending", "corrective_change", "cached_catalog_status", "resource_statuses", "metrics",
                "logs", "environment", "puppet_version", "transaction_completed"):
        assert key in data
    assert "code_id" not in data  # as Puppet: only when the catalog has one
    assert data["report_format"] == 12 and data["status"] == "changed"
    rs = data["resource_statuses"]["File[/etc/x]"]
    assert rs["containment_path"] == ["Stage[main]", "Main", "File[/etc/x]"]
    assert rs["events"][0]["status"] == "success" and rs["change_count"] == 1
    assert report.metric("resources", "changed") == 1 and report.metric("changes", "total") == 1
    assert any(v[0] == "file" for v in data["metrics"]["time"]["values"])
    assert Report.from_dict(data).to_dict() == data
    saved = json.loads((state / "last_run_report.json").read_text())
    assert saved["transaction_uuid"] == report.transaction_uuid


def test_unknown_types_fail_and_defined_types_are_containers(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.container("Mymod::Thing", "t")
    cb.add("Notify", "inside", container="Mymod::Thing[t]")
    cb.add("Frobnicator", "f")
    cb.add("Notify", "n", foo="bar")
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    assert failures(report) == {"Frobnicator[f]": ["Could not evaluate: no provider for type 'frobnicator' in this "
                                                   "agent; it needs a Puppet agent or a Python port"],
                                "Notify[n]": ["Could not evaluate: no parameter named 'foo'"]}
    assert report.resource_statuses["Notify[inside]"].changed


def test_catalog_json_round_trip_applies(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/etc/j", content="j")
    cat = Catalog.from_json(cb.catalog.to_json())
    converge(cat, root, state)


def test_progress_is_reported_while_the_run_goes_on(root: Path, state: Path) -> None:
    from engine.apply import apply_catalog

    cb = CatalogBuilder()
    cb.add("File", "/data", ensure="directory")
    for i in range(60):
        cb.add("File", f"/data/f{i}", ensure="file", content=f"{i}\n")
    seen: list[tuple[int, int]] = []
    apply_catalog(cb.catalog, root=root, state_dir=state, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 61)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert {t for _, t in seen} == {61} and len(seen) >= 3
