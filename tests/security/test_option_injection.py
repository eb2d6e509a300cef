"""A name that reaches a command line can never be read there as an option: ``--force-all`` for dpkg,
``-oDir::Etc::sourcelist=...`` for apt, ``--index-url=...`` for pip, ``-H host`` for systemctl.

Each provider's tools are replaced by shims on PATH (or, for pip, the target's Python) that record
their argv, so each test proves both the one-line error naming the resource and that no command ever
ran with the hostile name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.apply import apply_catalog
from engine.catalog import Catalog
from engine.report import Report
from tests.engine.conftest import CatalogBuilder, failures

TOOLS = ("dpkg", "dpkg-deb", "apt-get", "apt-cache", "useradd", "usermod", "userdel", "groupadd",
         "groupmod", "groupdel", "systemctl", "crontab", "python")

SHIM = """#!/bin/sh
echo "$(basename "$0") $*" >> {log}
case "$(basename "$0") $*" in
  systemctl*is-enabled*) echo disabled ;;
  python*distributions*) echo '{{}}' ;;
esac
exit 0
"""

OPTION_ERROR = "a name may not start with '-' (a command would read it as an option)"


@pytest.fixture
def shims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every tool a provider may run, as a recorder first on PATH; returns the log of their argv."""
    bin_dir = tmp_path / "shims"
    bin_dir.mkdir()
    log = tmp_path / "argv.log"
    log.touch()
    for tool in TOOLS:
        shim = bin_dir / tool
        shim.write_text(SHIM.format(log=log))
        shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin")
    return log


@pytest.fixture
def image(tmp_path: Path) -> Path:
    root = tmp_path / "image"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\n")
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    return root


def _apply(catalog: Catalog, root: Path, tmp_path: Path) -> Report:
    return apply_catalog(catalog, root=root, state_dir=tmp_path / "state", facts={"os": {"family": "Debian"}})


def _assert_refused(report: Report, ref: str, what: str, name: str, log: Path) -> None:
    assert failures(report) == {ref: [f"Could not evaluate: invalid {what} '{name}': {OPTION_ERROR}"]}
    assert any(ref in entry.source and entry.level == "err" for entry in report.logs)
    assert name not in log.read_text(), log.read_text()


def test_dpkg_package_named_like_an_option(shims: Path, image: Path, tmp_path: Path) -> None:
    name = "--force-all"
    # Listed as installed, so removing it would run dpkg with the name on its command line.
    (image / "var/lib/dpkg/status").write_text(f"Package: {name}\nStatus: install ok installed\nVersion: 1\n\n")
    debs = tmp_path / "debs"
    debs.mkdir()
    cb = CatalogBuilder()
    ref = cb.add("Package", name, ensure="absent", provider="dpkg", source=str(debs))
    _assert_refused(_apply(cb.catalog, image, tmp_path), ref, "package name", name, shims)


def test_apt_package_named_like_an_option(shims: Path, image: Path, tmp_path: Path) -> None:
    name = "-oDir::Etc::sourcelist=/tmp/evil.list"
    cb = CatalogBuilder()
    ref = cb.add("Package", "evil", name=name, ensure="present", provider="apt")
    _assert_refused(_apply(cb.catalog, image, tmp_path), ref, "package name", name, shims)


def test_dpkg_source_named_like_an_option(shims: Path, image: Path, tmp_path: Path) -> None:
    source = "--admindir=/tmp/evil"
    cb = CatalogBuilder()
    ref = cb.add("Package", "demo", ensure="latest", provider="dpkg", source=source)
    _assert_refused(_apply(cb.catalog, image, tmp_path), ref, "package source", source, shims)


def test_pip_package_named_like_an_option(shims: Path, tmp_path: Path) -> None:
    name = "--index-url=http://127.0.0.1:9/simple"
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin/python").symlink_to(shims.parent / "shims/python")
    cb = CatalogBuilder()
    ref = cb.add("Package", "evil", name=name, ensure="present", provider="pip", python=str(venv))
    _assert_refused(_apply(cb.catalog, Path("/"), tmp_path), ref, "package name", name, shims)


@pytest.mark.parametrize("provider", ["systemd", "sysv"])
def test_service_named_like_an_option(shims: Path, image: Path, tmp_path: Path, provider: str) -> None:
    name = "-Hattacker.example.com"
    cb = CatalogBuilder()
    ref = cb.add("Service", name, enable=True, provider=provider)
    _assert_refused(_apply(cb.catalog, image, tmp_path), ref, "service name", name, shims)


@pytest.mark.parametrize(("type_name", "what"), [("User", "user name"), ("Group", "group name")])
def test_account_named_like_an_option(shims: Path, image: Path, tmp_path: Path, type_name: str,
                                      what: str) -> None:
    name = "-ohostile"
    cb = CatalogBuilder()
    ref = cb.add(type_name, name, ensure="present")
    _assert_refused(_apply(cb.catalog, image, tmp_path), ref, what, name, shims)


@pytest.mark.parametrize(("type_name", "params", "what"), [
    ("Cron", {"command": "/bin/true", "user": "--help"}, "cron user name"),
    ("Ssh_authorized_key", {"user": "--help", "type": "ssh-ed25519", "key": "AAAAC3NzaC1lZDI1NTE5"}, "user name"),
    ("Exec", {"command": "/bin/true", "user": "--help"}, "user"),
    ("Exec", {"command": "/bin/true", "group": "--help"}, "group"),
])
def test_account_parameters_named_like_an_option(shims: Path, image: Path, tmp_path: Path, type_name: str,
                                                 params: dict[str, Any], what: str) -> None:
    cb = CatalogBuilder()
    ref = cb.add(type_name, "hostile", **params)
    _assert_refused(_apply(cb.catalog, image, tmp_path), ref, what, "--help", shims)
    assert not (image / "var/spool/cron/crontabs/--help").exists()


@pytest.mark.parametrize(("type_name", "title", "params"), [
    ("User", "web\n", {"ensure": "present"}),
    ("Group", "web\n", {"ensure": "present"}),
    ("User", "web", {"ensure": "present", "expiry": "2030-01-01\n"}),
    ("Package", "demo", {"ensure": "1.0\n--force-all", "provider": "dpkg"}),
])
def test_a_value_with_a_trailing_newline_is_not_a_valid_name(shims: Path, image: Path, tmp_path: Path,
                                                             type_name: str, title: str,
                                                             params: dict[str, Any]) -> None:
    cb = CatalogBuilder()
    ref = cb.add(type_name, title, **params)
    report = _apply(cb.catalog, image, tmp_path)
    assert ref in failures(report), failures(report)
    assert shims.read_text() == ""
    assert not (image / "etc/x").exists()
