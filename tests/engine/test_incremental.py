"""Incremental apply: the pure diff/closure functions, then real applies against a throwaway root."""

from __future__ import annotations

from pathlib import Path

from engine.apply import apply_catalog
from engine.catalog import Catalog
from engine.graph import build_graph
from engine.incremental import (
    catalog_digest,
    changed_resources,
    closure,
    removed_resources,
    resource_digest,
    volatile_resources,
)

from .conftest import CatalogBuilder, failures

CONTAINERS = frozenset({"Stage", "Class"})


def _copy(catalog: Catalog) -> Catalog:
    return Catalog.from_dict(catalog.to_dict())


def _closure(catalog: Catalog, refs: set[str]) -> set[str]:
    resources = catalog.resources
    is_container = [r.type in CONTAINERS for r in resources]
    graph = build_graph(catalog, resources, is_container, lambda i: ())
    return closure(graph, resources, refs)


# -- pure functions --------------------------------------------------------------------------------------
def test_changed_resources_sees_parameter_changes_and_new_resources_only() -> None:
    cb = CatalogBuilder()
    cb.add("File", "/a", content="1", mode="0644")
    cb.add("File", "/b", content="1")
    cb.add("File", "/gone", content="1")
    old = cb.catalog
    assert changed_resources(old, _copy(old)) == set()
    new = _copy(old)
    new.get("File[/a]").parameters = {"mode": "0644", "content": "1"}  # same, other key order
    new.get("File[/b]").parameters["content"] = "2"
    new.get("File[/b]").line = 99  # where it is written is not desired state
    cb2 = CatalogBuilder()
    cb2.catalog = new
    cb2.add("Notify", "new")
    new._resources.pop("File[/gone]")  # noqa: SLF001 - a resource removed from the manifest
    assert changed_resources(old, new) == {"File[/b]", "Notify[new]"}
    assert changed_resources(old.to_dict(), new.to_dict()) == {"File[/b]", "Notify[new]"}
    assert removed_resources(old, new) == {"File[/gone]"}


def test_digests_ignore_identity_but_not_state() -> None:
    cb = CatalogBuilder()
    cb.add("File", "/a", content="1", require="File[/b]")
    cb.add("File", "/b", content="1")
    again = _copy(cb.catalog)
    again.catalog_uuid, again.version = "other", 2
    assert catalog_digest(cb.catalog) == catalog_digest(again) == catalog_digest(again.to_dict())
    again.get("File[/a]").parameters["require"] = []
    assert catalog_digest(cb.catalog) != catalog_digest(again)
    assert resource_digest(cb.catalog.get("File[/a]")) != resource_digest(again.get("File[/a]"))
    assert len(catalog_digest(cb.catalog)) == 64


def test_closure_follows_relationships_refreshes_and_class_order() -> None:
    cb = CatalogBuilder()
    cb.container("Class", "Pkg")
    cb.container("Class", "Svc")
    cb.add("Package", "nginx", container="Class[Pkg]")
    cb.add("File", "/etc/nginx.conf", container="Class[Svc]", notify="Service[nginx]")
    cb.add("Service", "nginx", container="Class[Svc]")
    cb.add("Exec", "reload", container="Class[Svc]", subscribe="File[/etc/nginx.conf]")
    cb.add("Notify", "unrelated")
    cb.catalog.get("Class[Svc]").parameters["require"] = "Class[Pkg]"
    cat = cb.catalog
    assert _closure(cat, {"File[/etc/nginx.conf]"}) == {"File[/etc/nginx.conf]", "Service[nginx]", "Exec[reload]"}
    assert _closure(cat, {"Service[nginx]"}) == {"Service[nginx]"}
    # The package's class comes before the service's class: everything in it depends on the package.
    assert _closure(cat, {"Package[nginx]"}) == {"Package[nginx]", "File[/etc/nginx.conf]", "Service[nginx]",
                                                "Exec[reload]"}
    # A changed class starts from its end: its dependents, not its own contents.
    assert _closure(cat, {"Class[Pkg]"}) == {"File[/etc/nginx.conf]", "Service[nginx]", "Exec[reload]"}
    assert _closure(cat, {"Class[Svc]"}) == set()
    assert _closure(cat, {"Notify[unrelated]", "Nothing[here]"}) == {"Notify[unrelated]"}


def test_volatile_resources() -> None:
    cb = CatalogBuilder()
    cb.add("File", "/from-server", source="puppet:///modules/x/y")
    cb.add("File", "/inline", content="x")
    cb.add("Package", "curl", ensure="latest")
    cb.add("Package", "vim", ensure="installed")
    cb.add("Resources", "user", purge=True)
    assert volatile_resources(cb.catalog) == {"File[/from-server]", "Package[curl]", "Resources[user]"}


# -- applying --------------------------------------------------------------------------------------------
def _site(n: int = 5) -> CatalogBuilder:
    """Files and a reload exec; the exec runs chrooted into the root, so it logs to ROOT/reloads.log."""
    cb = CatalogBuilder()
    for i in range(n):
        cb.add("File", f"/etc/f{i}", content=f"v1 {i}\n")
    cb.add("Exec", "reload", command="/bin/sh -c 'echo reload >> /reloads.log'", refreshonly=True,
           subscribe="File[/etc/f2]")
    return cb


def test_incremental_touches_only_what_changed_and_its_refresh_targets(shell_root: Path, state: Path) -> None:
    root = shell_root
    cb = _site()
    first = apply_catalog(cb.catalog, root=root, state_dir=state)
    assert not failures(first) and first.apply_mode == "full" and first.incremental is None
    assert (root / "reloads.log").read_text() == "reload\n"

    new = _copy(cb.catalog)
    new.get("File[/etc/f2]").parameters["content"] = "v2\n"
    report = apply_catalog(new, root=root, state_dir=state, incremental_from=cb.catalog)
    assert not failures(report)
    assert set(report.resource_statuses) == {"File[/etc/f2]", "Exec[reload]"}
    assert report.resource_statuses["File[/etc/f2]"].changed
    assert report.resource_statuses["Exec[reload]"].changed
    assert (root / "etc/f2").read_text() == "v2\n"
    assert (root / "reloads.log").read_text() == "reload\nreload\n"
    assert report.apply_mode == "incremental" and report.status == "changed"
    assert report.incremental == {"base_catalog_digest": catalog_digest(cb.catalog), "considered": 2,
                                  "skipped_unchanged": 4}
    data = report.to_store_dict()  # Bunraku's additions travel to the master's store only
    assert data["apply_mode"] == "incremental" and data["incremental"]["skipped_unchanged"] == 4
    assert "apply_mode" not in report.to_dict()

    # Nothing changed since: nothing is checked at all.
    idle = apply_catalog(new, root=root, state_dir=state, incremental_from=new.to_dict())
    assert idle.resource_statuses == {} and idle.status == "unchanged"
    assert idle.incremental is not None and idle.incremental["considered"] == 0
    assert idle.incremental["skipped_unchanged"] == 6


def test_incremental_applies_new_resources_and_leaves_removed_ones(shell_root: Path, state: Path) -> None:
    root = shell_root
    cb = _site(n=3)
    apply_catalog(cb.catalog, root=root, state_dir=state)
    new = _copy(cb.catalog)
    new._resources.pop("File[/etc/f0]")  # noqa: SLF001 - removed from the manifest
    new.edges = [e for e in new.edges if e.target != "File[/etc/f0]"]
    grown = CatalogBuilder()
    grown.catalog = new
    grown.add("File", "/etc/new", content="hello\n")
    report = apply_catalog(new, root=root, state_dir=state, incremental_from=cb.catalog)
    assert set(report.resource_statuses) == {"File[/etc/new]"}
    assert (root / "etc/new").read_text() == "hello\n"
    assert (root / "etc/f0").exists()  # unmanaged now, not purged
    assert any("File[/etc/f0]" in entry.message and "not purged" in entry.message for entry in report.logs)
    assert report.incremental is not None and report.incremental["considered"] == 1


def test_drift_of_unchanged_resources_is_left_to_the_next_full_run(shell_root: Path, state: Path) -> None:
    root = shell_root
    cb = _site()
    apply_catalog(cb.catalog, root=root, state_dir=state)
    (root / "etc/f3").write_text("edited by hand\n")
    new = _copy(cb.catalog)
    new.get("File[/etc/f1]").parameters["content"] = "v2\n"
    incremental = apply_catalog(new, root=root, state_dir=state, incremental_from=cb.catalog)
    assert set(incremental.resource_statuses) == {"File[/etc/f1]"}
    assert (root / "etc/f3").read_text() == "edited by hand\n"  # the documented trade-off
    full = apply_catalog(new, root=root, state_dir=state)
    assert full.apply_mode == "full" and full.resource_statuses["File[/etc/f3]"].changed
    assert (root / "etc/f3").read_text() == "v1 3\n"


def test_incremental_noop_and_health_checks_always_run(shell_root: Path, state: Path) -> None:
    root = shell_root
    cb = _site(n=3)
    cb.add("Healthcheck", "conf", command="/usr/bin/test -f /etc/f1", retries=0, interval=0)
    apply_catalog(cb.catalog, root=root, state_dir=state)
    new = _copy(cb.catalog)
    new.get("File[/etc/f0]").parameters["content"] = "v2\n"
    report = apply_catalog(new, root=root, state_dir=state, incremental_from=cb.catalog, noop=True)
    assert set(report.resource_statuses) == {"File[/etc/f0]", "Healthcheck[conf]"}
    assert [e.status for e in report.resource_statuses["File[/etc/f0]"].events] == ["noop"]
    assert report.health["status"] == "healthy"
    assert report.incremental is not None
    assert (report.incremental["considered"], report.incremental["skipped_unchanged"]) == (2, 3)
    assert (root / "etc/f0").read_text() == "v1 0\n"


def test_incremental_gate_still_holds_back_changed_dependents(shell_root: Path, state: Path) -> None:
    root = shell_root
    flag = root / "up"
    flag.touch()
    cb = CatalogBuilder()
    cb.add("Healthcheck", "gate", command="/usr/bin/test -f /up", retries=0, interval=0,
           before="File[/etc/a]")
    cb.add("File", "/etc/a", content="1\n")
    cb.add("File", "/etc/b", content="1\n", require="File[/etc/a]")
    apply_catalog(cb.catalog, root=root, state_dir=state)
    flag.unlink()  # the gate is unchanged in the catalog but fails now; /etc/a is unchanged too
    new = _copy(cb.catalog)
    new.get("File[/etc/b]").parameters["content"] = "2\n"
    report = apply_catalog(new, root=root, state_dir=state, incremental_from=cb.catalog)
    st = report.resource_statuses
    assert st["Healthcheck[gate]"].failed and st["File[/etc/a]"].skipped and st["File[/etc/b]"].skipped
    assert (root / "etc/b").read_text() == "1\n"
    assert report.health["status"] == "unhealthy"
