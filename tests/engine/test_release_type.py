"""The ``release`` type in a throwaway root: tar.gz, zip and single-file artifacts from a local artifact
directory; the atomic switch of ``current``; keep; hooks; failures leave ``current`` alone; rollback to
a version on disk without downloading; digest checks."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from engine.apply import apply_catalog
from engine.errors import ValidationError
from engine.registry import get_type
from engine.sources import ModulepathFileSource
from tests.engine.conftest import CatalogBuilder, converge, failures


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _why(report: Any) -> list[str]:
    """The release's failure messages without the transaction's "change from 'A' to 'B' failed: "."""
    return [re.sub(r"^change from '[^']*' to '[^']*' failed: ", "", m)
            for m in failures(report).get("Release[shop]", [])]


class Site:
    """A local artifact directory (ARTIFACT_DIR/APP/VERSION/FILE) and the catalogs of one release."""

    def __init__(self, tmp: Path, root: Path) -> None:
        self.artifacts = tmp / "artifacts"
        self.root = root
        self.state = tmp / "state"
        self.fetched: list[str] = []

    def source(self) -> Any:
        site = self

        class Counting(ModulepathFileSource):
            def fetch_artifact(self, ref: Any, dest: str) -> str:
                site.fetched.append(f"{ref.app} {ref.version}")
                return super().fetch_artifact(ref, dest)

        return Counting(artifact_dir=self.artifacts)

    def catalog(self, version: str, **params: Any) -> Any:
        cb = CatalogBuilder()
        cb.add("Release", "shop", version=version, path="/srv/shop", **params)
        return cb.catalog

    def apply(self, version: str, noop: bool = False, **params: Any) -> Any:
        return apply_catalog(self.catalog(version, **params), root=self.root, state_dir=self.state, noop=noop,
                             file_sources=self.source())

    def current(self) -> str:
        return os.readlink(self.root / "srv/shop/current")


@pytest.fixture
def site(tmp_path: Path, root: Path) -> Site:
    return Site(tmp_path, root)


def test_tar_gz_release_converges_noop_first_and_twice_idempotent(site: Site) -> None:
    _tar(site.artifacts / "shop/1.0/shop-1.0.tar.gz", {"index.php": b"<?php echo 'v1';", "bin/run.sh": b"#!/bin/sh\n"})
    predicted, first, _second = converge(site.catalog("1.0"), site.root, site.state, file_sources=site.source())
    event = predicted.resource_statuses["Release[shop]"].events[0]
    assert (event.property, event.previous_value, event.desired_value, event.status) == (
        "version", "absent", "1.0", "noop")
    assert first.resource_statuses["Release[shop]"].events[0].message == "version 1.0 deployed"
    assert site.current() == "releases/1.0"
    assert (site.root / "srv/shop/current/index.php").read_bytes() == b"<?php echo 'v1';"
    assert os.stat(site.root / "srv/shop/current/bin/run.sh").st_mode & 0o777 == 0o755
    assert site.fetched == ["shop 1.0"]  # noop fetched nothing; the second run neither
    assert not (site.root / "srv/shop/.incoming/1.0.part").exists()
    assert "Release[shop]" in first.resource_statuses


def test_noop_shows_the_version_change_and_touches_nothing(site: Site) -> None:
    _tar(site.artifacts / "shop/1.0/a.tar.gz", {"v": b"1"})
    _tar(site.artifacts / "shop/2.0/a.tar.gz", {"v": b"2"})
    site.apply("1.0")
    report = site.apply("2.0", noop=True)
    event = report.resource_statuses["Release[shop]"].events[0]
    assert (event.status, event.previous_value, event.desired_value) == ("noop", "1.0", "2.0")
    assert event.message == "current_value '1.0', should be '2.0' (noop)"
    assert site.current() == "releases/1.0"
    assert not (site.root / "srv/shop/releases/2.0").exists()
    assert site.fetched == ["shop 1.0"]


def test_zip_and_single_file_jar(site: Site) -> None:
    _zip(site.artifacts / "shop/1.0/site.zip", {"public/index.php": b"<?php", "README": b"r"})
    site.apply("1.0")
    assert (site.root / "srv/shop/current/public/index.php").read_bytes() == b"<?php"
    jar = site.artifacts / "shop/2.0/shop-2.0.jar"
    _zip(jar, {"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n"})  # a jar is a zip, kept whole
    site.apply("2.0")
    assert (site.root / "srv/shop/current/shop-2.0.jar").read_bytes() == jar.read_bytes()
    assert sorted(os.listdir(site.root / "srv/shop/current")) == ["shop-2.0.jar"]


def test_keep_n_versions_and_roll_back_to_one_on_disk_without_downloading(site: Site) -> None:
    for v in ("1", "2", "3", "4"):
        _tar(site.artifacts / f"shop/{v}/a.tar.gz", {"v": v.encode()})
        assert not failures(site.apply(v, keep=3))
    assert sorted(os.listdir(site.root / "srv/shop/releases")) == ["2", "3", "4"]
    site.fetched.clear()
    report = site.apply("3", keep=3)
    assert report.resource_statuses["Release[shop]"].events[0].message == \
        "version changed '4' to '3' (on disk: no download)"
    assert site.current() == "releases/3" and site.fetched == []
    assert (site.root / "srv/shop/current/v").read_text() == "3"
    assert sorted(os.listdir(site.root / "srv/shop/releases")) == ["2", "3", "4"]


def test_a_broken_archive_leaves_current_untouched(site: Site) -> None:
    _tar(site.artifacts / "shop/1.0/a.tar.gz", {"v": b"1"})
    site.apply("1.0")
    (site.artifacts / "shop/2.0").mkdir(parents=True)
    (site.artifacts / "shop/2.0/a.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    report = site.apply("2.0")
    [message] = _why(report)
    assert message.startswith("cannot unpack a.tar.gz as tar: ")
    assert site.current() == "releases/1.0"
    assert sorted(os.listdir(site.root / "srv/shop/releases")) == ["1.0"]
    assert sorted(os.listdir(site.root / "srv/shop/.incoming")) == ["2.0.part"]  # the download, kept


def test_an_archive_that_leaves_its_directory_is_refused(site: Site) -> None:
    _zip(site.artifacts / "shop/1.0/evil.zip", {"../../etc/passwd": b"x"})
    report = site.apply("1.0")
    assert _why(report) == ["the zip holds '../../etc/passwd', which leaves the release's directory"]
    assert (site.root / "etc/passwd").read_text() != "x"
    assert not (site.root / "srv/shop/current").exists()
    assert os.listdir(site.root / "srv/shop/releases") == []


def test_a_digest_other_than_the_catalogs_fails_and_the_next_run_downloads_again(site: Site) -> None:
    _tar(site.artifacts / "shop/1.0/a.tar.gz", {"v": b"1"})
    report = site.apply("1.0", sha256="0" * 64)
    [message] = _why(report)
    assert message.startswith("artifact shop 1.0 arrived damaged: its sha256 is ")
    assert message.endswith("the catalog says 000000000000; it is downloaded again at the next run")
    assert not (site.root / "srv/shop/current").exists()
    good = hashlib.sha256((site.artifacts / "shop/1.0/a.tar.gz").read_bytes()).hexdigest()
    assert not failures(site.apply("1.0", sha256=good))
    assert site.fetched == ["shop 1.0", "shop 1.0"]


def test_hooks_run_in_the_new_release_and_a_failure_leaves_or_puts_back_current(site: Site,
                                                                              shell_root: Path) -> None:
    for v in ("1", "2", "3"):
        _tar(site.artifacts / f"shop/{v}/a.tar.gz", {"v": v.encode()})
    hooks = {"before_switch": "touch before-$RELEASE_VERSION", "after_switch": "touch after-from-$RELEASE_PREVIOUS"}
    assert not failures(site.apply("1", **hooks))
    assert (site.root / "srv/shop/releases/1/before-1").exists()
    assert (site.root / "srv/shop/releases/1/after-from-").exists()
    report = site.apply("2", before_switch="echo migration broke >&2; false")
    assert _why(report) == ["before_switch failed (exit 1): migration broke"]
    assert site.current() == "releases/1"
    report = site.apply("3", healthcheck="test \"$(cat v)\" = 1")
    assert _why(report) == ["healthcheck failed (exit 1): no output; current switched back to 1"]
    assert site.current() == "releases/1"
    assert not failures(site.apply("3", healthcheck="test \"$(cat v)\" = 3"))
    assert site.current() == "releases/3"


def test_owner_and_group_own_the_unpacked_tree(site: Site) -> None:
    _tar(site.artifacts / "shop/1.0/a.tar.gz", {"dir/v": b"1"})
    assert not failures(site.apply("1.0", owner="nobody", group="nogroup"))
    st = os.stat(site.root / "srv/shop/releases/1.0/dir/v")
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    report = site.apply("2.0", owner="nobody")
    assert _why(report)[0].startswith("artifact shop 2.0: expected one file in ")


def test_parameters_are_checked() -> None:
    release = get_type("release")
    assert release is not None
    with pytest.raises(ValidationError, match="path must be fully qualified, not 'srv'"):
        release.validate("shop", {"version": "1", "path": "srv"})
    with pytest.raises(ValidationError, match="version must be letters"):
        release.validate("shop", {"version": "../1", "path": "/srv/shop"})
    with pytest.raises(ValidationError, match="keep must be at least 1"):
        release.validate("shop", {"version": "1", "path": "/srv/shop", "keep": 0})
    params = release.validate("shop", {"version": "1", "path": "/srv/shop/"})
    assert (params["app"], params["path"], params["keep"], params["format"]) == ("shop", "/srv/shop", 5, "auto")


def test_the_compiler_compiles_the_type(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    site = tmp_path / "site.pp"
    site.write_text("release { 'shop':\n  version => '1.4.2',\n  path => '/srv/shop',\n  keep => 3,\n}\n"
                    "release { 'api': version => '2', path => '/srv/api', colour => 'red' }\n")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(root / "bunraku.py"), "compile", str(site), "--node", "n1"],
                          capture_output=True, text=True, cwd=root, timeout=120)
    assert done.returncode == 1 and "no parameter named 'colour'" in done.stderr, done.stderr
    site.write_text("release { 'shop':\n  version => '1.4.2',\n  path => '/srv/shop',\n  keep => 3,\n}\n")
    done = subprocess.run([sys.executable, str(root / "bunraku.py"), "compile", str(site), "--node", "n1"],
                          capture_output=True, text=True, cwd=root, timeout=120)
    assert done.returncode == 0, done.stderr
    [release] = [r for r in json.loads(done.stdout)["resources"] if r["type"] == "Release"]
    assert release["parameters"] == {"version": "1.4.2", "path": "/srv/shop", "keep": 3}


def test_masterless_apply_takes_artifacts_from_a_directory(tmp_path: Path, root: Path) -> None:
    import subprocess
    import sys

    _tar(tmp_path / "artifacts/shop/1.4.2/shop.tar.gz", {"index.php": b"<?php"})
    site = tmp_path / "site.pp"
    site.write_text("release { 'shop': version => '1.4.2', path => '/srv/shop' }\n")
    repo = Path(__file__).resolve().parents[2]

    def apply(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(repo / "bunraku.py"), "apply", str(site), "--root", str(root),
                               "--detailed-exitcodes", "--node", "n1", *extra],
                              capture_output=True, text=True, cwd=repo, timeout=120)

    missing = apply()
    assert missing.returncode == 4 and "give `bunraku apply` an --artifact-dir" in missing.stdout + missing.stderr
    assert apply("--artifact-dir", str(tmp_path / "artifacts"), "--noop").returncode == 2
    assert not (root / "srv/shop/current").exists()
    done = apply("--artifact-dir", str(tmp_path / "artifacts"))
    assert done.returncode == 2, done.stderr
    assert (root / "srv/shop/current/index.php").read_bytes() == b"<?php"
    assert apply("--artifact-dir", str(tmp_path / "artifacts")).returncode == 0
