from __future__ import annotations

from pathlib import Path

from engine.apply import apply_catalog

from .conftest import CatalogBuilder, changes, converge, failures

HASH = "$6$salt$abcdefghijklmnopqrstuvwxyz0123456789"


def _line(root: Path, file: str, name: str) -> list[str]:
    for line in (root / "etc" / file).read_text().splitlines():
        if line.split(":")[0] == name:
            return line.split(":")
    return []


def test_users_and_groups_converge_through_the_shadow_tools(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("User", "alice", uid=2001, gid="devs", home="/home/alice", shell="/bin/bash", comment="Alice A",
           groups=["ops"], password=HASH, managehome=True, expiry="2030-01-01")
    cb.add("Group", "devs", gid=3001)
    cb.add("Group", "ops", gid=3002)
    cb.add("Group", "auditors", gid=3003, members=["alice"], require="User[alice]")
    predicted, first, _ = converge(cb.catalog, root, state)
    # groups autorequired by the user: created first although declared after it
    refs = list(first.resource_statuses)
    assert refs.index("Group[devs]") < refs.index("User[alice]")
    assert _line(root, "passwd", "alice") == ["alice", "x", "2001", "3001", "Alice A", "/home/alice", "/bin/bash"]
    assert _line(root, "group", "ops")[3] == "alice"
    assert _line(root, "group", "auditors")[3] == "alice"
    assert _line(root, "shadow", "alice")[1] == HASH
    assert (root / "home/alice").is_dir()
    # the password never shows in the report
    assert HASH not in first.to_json() and HASH not in predicted.to_json()


def test_user_properties_change_one_by_one_and_membership(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Group", "a", gid=3101)
    cb.add("Group", "b", gid=3102)
    cb.add("User", "bob", uid=2002, shell="/bin/sh", groups=["a"])
    converge(cb.catalog, root, state)
    cb2 = CatalogBuilder()
    cb2.add("Group", "a", gid=3101)
    cb2.add("Group", "b", gid=3102)
    cb2.add("User", "bob", uid=2003, shell="/bin/bash", groups=["b"], comment="Bob")
    predicted, first, _ = converge(cb2.catalog, root, state)
    events = {e.property: e for e in first.resource_statuses["User[bob]"].events}
    assert set(events) == {"uid", "shell", "comment", "groups"}
    assert events["uid"].message == "uid changed '2002' to '2003'"
    assert events["groups"].message == "groups changed 'a' to 'a,b'"  # minimum membership keeps 'a'
    cb2.catalog.get("User[bob]").parameters.update(membership="inclusive")
    report = apply_catalog(cb2.catalog, root=root, state_dir=state)
    assert [e.message for e in report.resource_statuses["User[bob]"].events] == ["groups changed 'a,b' to 'b'"]


def test_removal_and_purge_of_unmanaged_users(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    for name, uid in (("keep", 2100), ("drop", 2101), ("stray", 2102)):
        cb.add("User", name, uid=uid)
    apply_catalog(cb.catalog, root=root, state_dir=state)
    cb2 = CatalogBuilder()
    cb2.add("User", "keep", uid=2100)
    cb2.add("User", "drop", ensure="absent")
    cb2.add("Resources", "user", purge=True, unless_system_user=True)
    _, first, _ = converge(cb2.catalog, root, state)
    assert changes(first) == {("User[drop]", "ensure"), ("User[stray]", "ensure")}
    assert _line(root, "passwd", "keep") and not _line(root, "passwd", "stray")
    assert _line(root, "passwd", "nobody")  # system users survive


def test_bad_gid_fails_clearly(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("User", "carol", gid="nosuchgroup")
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    [message] = failures(report)["User[carol]"]
    # found before useradd runs, with what to do (engine.preflight)
    assert "could not find group nosuchgroup (the gid)" in message and "add group { 'nosuchgroup': }" in message
