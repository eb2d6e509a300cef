"""A noop run predicts the failures it can see (engine.preflight), and --init-root seeds a root that
converges: real roots, real shadow tools, real dpkg and apt on .debs built here."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bunraku import main
from engine.apply import apply_catalog
from engine.rootinit import init_root

from .conftest import CatalogBuilder, changes, converge, failures

FACTS = {"os": {"family": "Debian"}}


def _catalog_file(tmp_path: Path, cb: CatalogBuilder) -> str:
    path = tmp_path / "catalog.json"
    path.write_text(cb.catalog.to_json())
    return str(path)


def _one_failure(report: object, ref: str) -> str:
    [message] = failures(report)[ref]  # type: ignore[arg-type]
    assert "\n" not in message
    return message


def _build_deb(tmp: Path, name: str, version: str, files: dict[str, str] | None = None,
               postinst: str | None = None) -> Path:
    tree = tmp / f"tree-{name}-{version}"
    (tree / "DEBIAN").mkdir(parents=True)
    for rel, text in (files or {f"usr/share/{name}/VERSION": version + "\n"}).items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text)
        if rel.startswith("etc/init.d/"):
            (tree / rel).chmod(0o755)
    (tree / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: T <t@example.com>\n"
        "Description: a package built by the preflight tests\n")
    if postinst is not None:
        (tree / "DEBIAN/postinst").write_text(postinst)
        (tree / "DEBIAN/postinst").chmod(0o755)
    out = tmp / f"{name}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--build", "-Zgzip", str(tree), str(out)], check=True, capture_output=True)
    return out


# -- the scenario: an empty root --------------------------------------------------------------------------
def _site() -> CatalogBuilder:
    cb = CatalogBuilder()
    cb.add("Group", "app")
    cb.add("User", "app", gid="app", home="/srv/app")
    cb.add("File", "/srv", ensure="directory")
    cb.add("File", "/srv/app", ensure="directory", owner="app", group="app")
    cb.add("File", "/srv/app/app.conf", content="port=80\n", owner="app", group="app", mode="0640")
    cb.add("File", "/etc/motd", content="hello\n")
    return cb


def test_empty_root_noop_predicts_failures_then_init_root_converges(tmp_path: Path) -> None:
    root, state = tmp_path / "image", tmp_path / "state"
    root.mkdir()
    cat = _catalog_file(tmp_path, _site())
    runner = CliRunner()
    args = ["apply", "--catalog", cat, "--root", str(root), "--state-dir", str(state), "--detailed-exitcodes"]
    noop = runner.invoke(main, [*args, "--noop", "--report", str(tmp_path / "noop.json")])
    assert noop.exit_code == 6, noop.output  # a pending change (File[/srv]) and failures
    assert "Traceback" not in noop.output
    assert (f"Error: /Stage[main]/Main/Group[app]: Cannot apply: etc/passwd, etc/group, etc/shadow, etc/gshadow "
            f"missing under {root}") in noop.output
    assert f"run 'bunraku apply --root {root} --init-root' to seed them" in noop.output
    assert ("Error: /Stage[main]/Main/File[/etc/motd]: Cannot apply: cannot create /etc/motd; parent directory "
            f"/etc does not exist under {root}") in noop.output
    assert "1 pending change (noop), 2 failed, 3 skipped" in noop.output
    report = json.loads((tmp_path / "noop.json").read_text())
    assert report["status"] == "failed"
    assert report["resource_statuses"]["Group[app]"]["failed"] is True
    assert sorted(root.iterdir()) == []  # a noop writes nothing
    without_codes = runner.invoke(main, [*args[:-1], "--noop"])
    assert without_codes.exit_code == 1
    # seed, then the same noop promises what the run does
    seeded = runner.invoke(main, ["apply", "--root", str(root), "--init-root"])
    assert seeded.exit_code == 0, seeded.output
    assert f"seeded {root}: /etc/passwd, /etc/group, /etc/shadow, /etc/gshadow" in seeded.output
    noop = runner.invoke(main, [*args, "--noop"])
    assert noop.exit_code == 2, noop.output
    assert "6 pending changes (noop)" in noop.output
    first = runner.invoke(main, args)
    assert first.exit_code == 2, first.output
    assert "6 changes" in first.output
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and "0 changes" in again.output
    assert "app:x:" in (root / "etc/passwd").read_text()
    assert (root / "srv/app/app.conf").read_text() == "port=80\n"


def test_init_root_with_a_catalog_seeds_then_converges_and_refuses_noop(tmp_path: Path) -> None:
    root, state = tmp_path / "image", tmp_path / "state"
    cat = _catalog_file(tmp_path, _site())
    runner = CliRunner()
    args = ["apply", "--catalog", cat, "--root", str(root), "--state-dir", str(state), "--init-root"]
    refused = runner.invoke(main, [*args, "--noop"])
    assert refused.exit_code == 1 and refused.output.strip().splitlines() == [
        "error: --init-root writes into the root; seed it without --noop, then run --noop"]
    assert not root.exists()
    res = runner.invoke(main, [*args, "--detailed-exitcodes"])
    assert res.exit_code == 2, res.output
    assert "6 changes" in res.output
    slash = runner.invoke(main, ["apply", "--init-root"])
    assert slash.exit_code == 1 and "never /" in slash.output


def test_init_root_seeds_only_what_is_missing(tmp_path: Path) -> None:
    root = tmp_path / "image"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    created = init_root(root)
    assert "/etc/passwd" not in created and "/etc/shadow" in created and "/var/lib/dpkg/status" in created
    assert (root / "etc/passwd").read_text() == "root:x:0:0:root:/root:/bin/sh\n"
    assert "nogroup:x:65534:" in (root / "etc/group").read_text()
    assert (root / "etc/shadow").stat().st_mode & 0o777 == 0o640
    assert (root / "tmp").stat().st_mode & 0o7777 == 0o1777
    assert (root / "var/lib/dpkg/status").read_text() == ""
    assert init_root(root) == []
    # the shadow tools work in it
    subprocess.run(["useradd", "--root", str(root), "-M", "--", "alice"], check=True, capture_output=True)
    assert "alice:x:1000:1000:" in (root / "etc/passwd").read_text()
    assert "alice:x:1000:" in (root / "etc/group").read_text()  # user private groups, as on Debian
    # a link out of the root is never followed
    outside = tmp_path / "outside"
    outside.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    (other / "var").symlink_to(outside)
    from engine.rootinit import RootInitError

    with pytest.raises(RootInitError, match="leads out of the root"):
        init_root(other)
    assert list(outside.iterdir()) == []


# -- one check at a time ------------------------------------------------------------------------------------
def test_missing_account_databases(root: Path, state: Path) -> None:
    (root / "etc/shadow").unlink()
    (root / "etc/gshadow").unlink()
    before = (root / "etc/passwd").read_text()
    cb = CatalogBuilder()
    cb.add("User", "bob", password="$6$x$y")
    cb.add("Group", "ops")
    for noop in (True, False):
        report = apply_catalog(cb.catalog, root=root, state_dir=state, noop=noop)
        assert report.status == "failed"
        for ref in ("User[bob]", "Group[ops]"):
            message = _one_failure(report, ref)
            assert message.startswith(f"Cannot apply: etc/shadow, etc/gshadow missing under {root}")
        assert changes(report) == set()
    # the shadow tools never ran: no password hash in the world-readable passwd
    assert (root / "etc/passwd").read_text() == before


def test_missing_parent_directory(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/opt/app/app.conf", content="x\n")
    report = apply_catalog(cb.catalog, root=root, state_dir=state, noop=True)
    assert report.status == "failed"
    assert _one_failure(report, "File[/opt/app/app.conf]") == (
        f"Cannot apply: cannot create /opt/app/app.conf; parent directory /opt/app does not exist under {root}, "
        "and no resource before it creates it; add file { '/opt/app': ensure => directory } or create it in "
        "the root")
    # parents managed as directories earlier in the graph: the noop promises what the run does
    cb = CatalogBuilder()
    cb.add("File", "/opt/app/app.conf", content="x\n")
    cb.add("File", "/opt/app", ensure="directory")
    cb.add("File", "/opt", ensure="directory")
    predicted, _, _ = converge(cb.catalog, root, state)
    assert len(changes(predicted)) == 3
    assert (root / "opt/app/app.conf").read_text() == "x\n"
    # a parent that is a plain file is no directory
    cb = CatalogBuilder()
    cb.add("File", "/opt/app/app.conf/x", content="x\n")
    assert "parent directory /opt/app/app.conf does not exist" in _one_failure(
        apply_catalog(cb.catalog, root=root, state_dir=state, noop=True), "File[/opt/app/app.conf/x]")


def test_unknown_owner_and_group(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/etc/app.conf", content="x\n", owner="ghost")
    cb.add("File", "/etc/other.conf", content="x\n", group="spooks")
    cb.add("File", "/etc/ids.conf", content="x\n", owner="4242", group="4242")
    report = apply_catalog(cb.catalog, root=root, state_dir=state, noop=True)
    assert _one_failure(report, "File[/etc/app.conf]") == (
        f"Cannot apply: could not find user ghost (the owner) in etc/passwd under {root}, and no user resource "
        "before it creates it; add user { 'ghost': } (it is then ordered first) or use an existing user")
    assert _one_failure(report, "File[/etc/other.conf]").startswith(
        "Cannot apply: could not find group spooks in etc/group")
    assert ("File[/etc/ids.conf]", "ensure") in changes(report)  # numeric ids need no account
    cron = CatalogBuilder()
    cron.add("Cron", "sweep", command="/usr/bin/sweep", user="ghost", minute=5)
    assert _one_failure(apply_catalog(cron.catalog, root=root, state_dir=state, noop=True), "Cron[sweep]") == (
        f"Cannot apply: could not find user ghost (the cron user) in etc/passwd under {root}, and no user "
        "resource before it creates it; add user { 'ghost': } (it is then ordered first) or use an existing user")
    # the catalog adds them: useradd makes the user's own group too where login.defs says so
    (root / "etc/login.defs").write_text("USERGROUPS_ENAB yes\n")
    cb = CatalogBuilder()
    cb.add("File", "/etc/app.conf", content="x\n", owner="ghost", group="ghost")
    cb.add("User", "ghost")
    converge(cb.catalog, root, state)
    assert (root / "etc/app.conf").stat().st_uid == 1000


def test_dpkg_package_absent_from_its_source(root: Path, state: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _build_deb(tmp_path, "bunraku-pf", "1.0-1").rename(repo / "bunraku-pf_1.0-1_all.deb")
    cases = {
        "bunraku-nosuch": ({"source": str(repo)}, f"no .deb of bunraku-nosuch in {repo}; add it there"),
        "bunraku-pf": ({"source": str(repo), "ensure": "9.9-9"},
                       f"no .deb of bunraku-pf version 9.9-9 in {repo} (there: 1.0-1)"),
        "bunraku-gone": ({"source": str(tmp_path / "missing")},
                         f"package source {tmp_path / 'missing'} does not exist"),
    }
    for name, (params, expected) in cases.items():
        cb = CatalogBuilder()
        cb.add("Package", name, provider="dpkg", **params)
        report = apply_catalog(cb.catalog, root=root, state_dir=state, noop=True, facts=FACTS)
        assert expected in _one_failure(report, f"Package[{name}]"), name
    cb = CatalogBuilder()
    cb.add("Package", "bunraku-pf", provider="dpkg", source=str(repo))
    converge(cb.catalog, root, state, facts=FACTS)


def test_apt_package_absent_from_the_roots_lists(root: Path, state: Path, tmp_path: Path) -> None:
    init_root(root)
    cb = CatalogBuilder()
    cb.add("Package", "bunraku-pf", provider="apt")
    report = apply_catalog(cb.catalog, root=root, state_dir=state, noop=True, facts=FACTS)
    assert _one_failure(report, "Package[bunraku-pf]").startswith(
        f"Cannot apply: no apt package lists in var/lib/apt/lists under {root}, so apt cannot find bunraku-pf")
    repo = tmp_path / "repo"
    repo.mkdir()
    _build_deb(tmp_path, "bunraku-pf", "1.0-1").rename(repo / "bunraku-pf_1.0-1_all.deb")
    (repo / "Packages").write_text(subprocess.run(["dpkg-scanpackages", "-m", "."], cwd=repo, check=True,
                                                  capture_output=True, text=True).stdout)
    (root / "etc/apt/sources.list").write_text(f"deb [trusted=yes] file:{repo} ./\n")
    subprocess.run(["apt-get", "-o", f"Dir={root}", "-o", f"Dir::State::status={root}/var/lib/dpkg/status",
                    "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root", "-q", "update"],
                   check=True, capture_output=True)
    cb = CatalogBuilder()
    cb.add("Package", "bunraku-nosuch", provider="apt")
    cb.add("Package", "bunraku-pf", provider="apt", ensure="2.0-1")
    report = apply_catalog(cb.catalog, root=root, state_dir=state, noop=True, facts=FACTS)
    assert _one_failure(report, "Package[bunraku-nosuch]").startswith(
        f"Cannot apply: package bunraku-nosuch is not in the apt sources under {root} (apt-cache policy shows "
        "no candidate)")
    assert "version 2.0-1 of bunraku-pf is not in the apt sources" in _one_failure(report, "Package[bunraku-pf]")
    assert "(there: 1.0-1)" in _one_failure(report, "Package[bunraku-pf]")
    cb = CatalogBuilder()
    cb.add("Package", "bunraku-pf", provider="apt", ensure="1.0-1")
    converge(cb.catalog, root, state, facts=FACTS)


def test_exec_command_not_in_its_path(shell_root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Exec", "frob", command="frobnicate --now", path=["/usr/bin", "/bin"])
    cb.add("Exec", "abs", command=["/opt/tool/run"])
    cb.add("Exec", "shell-syntax", command="test -d /tmp && touch /tmp/ok", path=["/usr/bin"])
    report = apply_catalog(cb.catalog, root=shell_root, state_dir=state, noop=True)
    assert _one_failure(report, "Exec[frob]") == (
        f"Cannot apply: command 'frobnicate' in path /usr/bin:/bin not found under {shell_root}; install it "
        "there or fix the command's path")
    assert _one_failure(report, "Exec[abs]").startswith(f"Cannot apply: command /opt/tool/run not found under {shell_root}")
    assert ("Exec[shell-syntax]", "returns") in changes(report)
    # a program a file resource writes earlier in the graph: the noop promises the run
    cb = CatalogBuilder()
    cb.add("File", "/usr/local", ensure="directory")
    cb.add("File", "/usr/local/bin", ensure="directory")
    cb.add("File", "/usr/local/bin/hello", content="#!/bin/sh\ntouch /tmp/hello\n", mode="0755")
    cb.add("Exec", "hello", command="hello", path=["/usr/local/bin", "/usr/bin"], creates="/tmp/hello",
           require="File[/usr/local/bin/hello]")
    converge(cb.catalog, shell_root, state)
    assert (shell_root / "tmp/hello").exists()


def test_refreshonly_exec_whose_command_is_missing(shell_root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/etc/app.conf", content="x\n")
    cb.add("Exec", "reload", command="reload-app", path=["/usr/bin"], refreshonly=True,
           subscribe="File[/etc/app.conf]")
    report = apply_catalog(cb.catalog, root=shell_root, state_dir=state, noop=True)
    assert report.status == "failed"
    assert _one_failure(report, "Exec[reload]") == (
        f"Failed to call refresh: command 'reload-app' in path /usr/bin not found under {shell_root}; install it "
        "there or fix the command's path")
    assert ("File[/etc/app.conf]", "ensure") in changes(report)


def test_service_without_an_init_script(root: Path, state: Path, tmp_path: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Service", "ghost", ensure="running", provider="sysv")
    cb.add("Service", "spook", enable=True, provider="sysv")
    report = apply_catalog(cb.catalog, root=root, state_dir=state, noop=True)
    assert _one_failure(report, "Service[ghost]") == (
        f"Cannot apply: no init script for service ghost in /etc/init.d under {root}, and no resource before "
        "it creates one; install the package that provides it first, or manage the script with a file resource")
    assert "no init script for service spook" in _one_failure(report, "Service[spook]")
    # a package whose .deb holds the script (and no maintainer script) provides it: known before installing
    repo = tmp_path / "repo"
    repo.mkdir()
    _build_deb(tmp_path, "spook", "1.0", {"etc/init.d/spook": "#!/bin/sh\nexit 0\n"}).rename(repo / "spook.deb")
    init_root(root)
    cb = CatalogBuilder()
    cb.add("Package", "spook", provider="dpkg", source=str(repo))
    cb.add("Service", "spook", enable=True, provider="sysv")
    converge(cb.catalog, root, state, facts=FACTS)
    assert (root / "etc/rc2.d/S20spook").is_symlink()
    # a .deb without it provides nothing of the kind
    _build_deb(tmp_path, "other", "1.0").rename(repo / "other.deb")
    cb = CatalogBuilder()
    cb.add("Package", "other", provider="dpkg", source=str(repo))
    cb.add("Service", "other", enable=True, provider="sysv")
    report = apply_catalog(cb.catalog, root=root, state_dir=state, noop=True, facts=FACTS)
    assert "no init script for service other" in _one_failure(report, "Service[other]")
