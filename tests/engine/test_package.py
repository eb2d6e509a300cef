from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.apply import apply_catalog
from engine.debversion import compare_versions
from engine.providers.package import parse_dpkg_status

from .conftest import CatalogBuilder, changes, converge, failures

PKG = "bunraku-testpkg"


def _build(tmp: Path, version: str) -> Path:
    tree = tmp / f"tree-{version}"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "usr/share/bunraku-testpkg").mkdir(parents=True)
    (tree / "usr/share/bunraku-testpkg/VERSION").write_text(version + "\n")
    (tree / "DEBIAN/control").write_text(
        f"Package: {PKG}\nVersion: {version}\nArchitecture: all\nMaintainer: T <t@example.com>\n"
        "Description: a package built by the engine tests\n")
    out = tmp / f"{PKG}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--build", "-Zgzip", str(tree), str(out)], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("debs")
    repo = tmp / "repo"
    repo.mkdir()
    for version in ("1.0-1", "2.0-1"):
        _build(tmp, version).rename(repo / f"{PKG}_{version}_all.deb")
    packages = subprocess.run(["dpkg-scanpackages", "-m", "."], cwd=repo, check=True, capture_output=True,
                              text=True).stdout
    (repo / "Packages").write_text(packages)
    return repo


@pytest.fixture
def dpkg_root(root: Path) -> Path:
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"):
        (root / d).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    return root


def _installed(root: Path) -> str | None:
    state = parse_dpkg_status((root / "var/lib/dpkg/status").read_text()).get(PKG)
    return state.version if state and state.status == "installed" else None


def test_dpkg_pin_upgrade_latest_and_purge(dpkg_root: Path, state: Path, repo: Path) -> None:
    facts = {"os": {"family": "Debian"}}
    cb = CatalogBuilder()
    cb.add("Package", PKG, ensure="1.0-1", source=str(repo))
    _, first, _ = converge(cb.catalog, dpkg_root, state, facts=facts)
    assert first.resource_statuses[f"Package[{PKG}]"].provider == "dpkg"
    assert _installed(dpkg_root) == "1.0-1"
    assert (dpkg_root / "usr/share/bunraku-testpkg/VERSION").read_text() == "1.0-1\n"
    cb.catalog.get(f"Package[{PKG}]").parameters["ensure"] = "latest"
    _, up, _ = converge(cb.catalog, dpkg_root, state, facts=facts)
    assert [e.message for e in up.resource_statuses[f"Package[{PKG}]"].events] == \
        ["ensure changed '1.0-1' to '2.0-1'"]
    assert _installed(dpkg_root) == "2.0-1"
    cb.catalog.get(f"Package[{PKG}]").parameters["ensure"] = "purged"
    converge(cb.catalog, dpkg_root, state, facts=facts)
    assert _installed(dpkg_root) is None
    assert PKG not in parse_dpkg_status((dpkg_root / "var/lib/dpkg/status").read_text()) or \
        parse_dpkg_status((dpkg_root / "var/lib/dpkg/status").read_text())[PKG].status == "not-installed"


def test_apt_from_a_local_repository_in_a_target_root(dpkg_root: Path, state: Path, repo: Path) -> None:
    apt = dpkg_root / "etc/apt"
    for d in ("apt.conf.d", "preferences.d", "sources.list.d", "trusted.gpg.d"):
        (apt / d).mkdir(parents=True)
    for d in ("var/lib/apt/lists/partial", "var/cache/apt/archives/partial"):
        (dpkg_root / d).mkdir(parents=True)
    (apt / "sources.list").write_text(f"deb [trusted=yes] file:{repo} ./\n")
    opts = ["-o", f"Dir={dpkg_root}", "-o", f"Dir::State::status={dpkg_root}/var/lib/dpkg/status",
            "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root"]
    subprocess.run(["apt-get", *opts, "-q", "update"], check=True, capture_output=True)
    cb = CatalogBuilder()
    cb.add("Package", PKG, ensure="1.0-1")
    _, first, _ = converge(cb.catalog, dpkg_root, state, facts={"os": {"family": "Debian"}})
    assert first.resource_statuses[f"Package[{PKG}]"].provider == "apt"
    assert _installed(dpkg_root) == "1.0-1"
    cb.catalog.get(f"Package[{PKG}]").parameters["ensure"] = "latest"
    converge(cb.catalog, dpkg_root, state, facts={"os": {"family": "Debian"}})
    assert _installed(dpkg_root) == "2.0-1"
    cb.catalog.get(f"Package[{PKG}]").parameters["ensure"] = "absent"
    converge(cb.catalog, dpkg_root, state, facts={"os": {"family": "Debian"}})
    assert _installed(dpkg_root) is None


def test_missing_version_fails_and_skips_dependents(dpkg_root: Path, state: Path, repo: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Package", PKG, ensure="9.9-9", source=str(repo), provider="dpkg")
    cb.add("File", "/etc/testpkg.conf", content="x", require=f"Package[{PKG}]")
    report = apply_catalog(cb.catalog, root=dpkg_root, state_dir=state)
    assert "no .deb of bunraku-testpkg version 9.9-9" in failures(report)[f"Package[{PKG}]"][0]
    assert report.resource_statuses["File[/etc/testpkg.conf]"].skipped
    assert changes(report) == set()


@pytest.mark.parametrize(("a", "b", "want"), [
    ("1.0", "1.0", 0), ("1.0-1", "1.0-2", -1), ("1:0.9", "2.0", 1), ("1.0~rc1", "1.0", -1),
    ("1.0a", "1.0", 1), ("1.10", "1.9", 1), ("2.0-1", "2.0-1+b1", -1),
])
def test_debian_version_order(a: str, b: str, want: int) -> None:
    assert compare_versions(a, b) == want
    result = subprocess.run(["dpkg", "--compare-versions", a, {-1: "lt", 0: "eq", 1: "gt"}[want], b])
    assert result.returncode == 0
