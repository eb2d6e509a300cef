"""``bunraku apply --root IMAGE`` stays inside the image: links in the image are resolved inside it, as
chroot(2) resolves them, and the programs a manifest runs (exec, init scripts, health-check commands, a
pip package's Python) run chrooted into it. Real images (a copied shell and its libraries), real
subprocesses, a real ``bunraku apply`` process; the host paths they aim at are real host temp dirs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.apply import apply_catalog
from engine.fsutil import under_root
from tests.engine.conftest import SHELL_PROGRAMS, CatalogBuilder, failures, install_programs

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chroot(2) and image ownership need root")


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A directory on the host, outside every image: nothing may ever appear in it."""
    path = Path(tempfile.mkdtemp(prefix="bunraku-host-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _image(tmp_path: Path, *, shell: bool = False) -> Path:
    root = tmp_path / "image"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\n")
    (root / "tmp").mkdir()
    if shell:
        install_programs(root, *SHELL_PROGRAMS)
    return root


def _bunraku(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "bunraku.py"), *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


# -- links inside the image ------------------------------------------------------------------------------
def test_absolute_link_in_the_image_is_followed_inside_the_image(tmp_path: Path, host_dir: Path) -> None:
    root = _image(tmp_path)
    (host_dir / "passwd").write_text("hostonly:x:4000:4000::/:/bin/sh\n")
    image_side = root / str(host_dir).lstrip("/")
    image_side.mkdir(parents=True)
    (image_side / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nimageonly:x:4100:0::/:/bin/sh\n")
    shutil.rmtree(root / "etc")
    (root / "etc").symlink_to(host_dir)  # etc -> /tmp/bunraku-host-XXXX, absolute, as images have them
    cb = CatalogBuilder()
    cb.add("File", "/etc/x", content="from the manifest\n", owner="imageonly")
    cb.add("File", "/etc/y", content="y\n", owner="hostonly")
    report = apply_catalog(cb.catalog, root=root, state_dir=tmp_path / "state")
    assert (image_side / "x").read_text() == "from the manifest\n"
    assert (image_side / "x").stat().st_uid == 4100  # the image's account, read through the same link
    assert failures(report) == {"File[/etc/y]": ["change from 'absent' to 'file' failed: could not find user "
                                                 "hostonly"]}
    assert sorted(p.name for p in host_dir.iterdir()) == ["passwd"]


def test_relative_link_cannot_climb_out_of_the_image(tmp_path: Path, host_dir: Path) -> None:
    root = _image(tmp_path)
    shutil.rmtree(root / "etc")
    (root / "etc").symlink_to("../" * 20 + str(host_dir).lstrip("/"))  # ../../..: clamped at the root
    (root / str(host_dir).lstrip("/")).mkdir(parents=True)
    cb = CatalogBuilder()
    cb.add("File", "/etc/x", content="x\n")
    report = apply_catalog(cb.catalog, root=root, state_dir=tmp_path / "state")
    assert not failures(report), failures(report)
    assert (root / str(host_dir).lstrip("/") / "x").read_text() == "x\n"
    assert list(host_dir.iterdir()) == []


def test_backup_never_writes_through_a_link_at_the_backup_name(tmp_path: Path, host_dir: Path) -> None:
    root = _image(tmp_path)
    (root / "etc/motd").write_text("old\n")
    victim = host_dir / "victim"
    victim.write_text("host file\n")
    (root / "etc/motd.bak").symlink_to(victim)
    cb = CatalogBuilder()
    cb.add("File", "/etc/motd", content="new\n", backup=".bak")
    report = apply_catalog(cb.catalog, root=root, state_dir=tmp_path / "state")
    assert not failures(report), failures(report)
    assert victim.read_text() == "host file\n"
    assert not (root / "etc/motd.bak").is_symlink() and (root / "etc/motd.bak").read_text() == "old\n"
    assert (root / "etc/motd").read_text() == "new\n"


def test_crontab_spool_behind_an_absolute_link_stays_in_the_image(tmp_path: Path, host_dir: Path) -> None:
    root = _image(tmp_path)
    (root / "var/spool").mkdir(parents=True)
    (root / "var/spool/cron").symlink_to(host_dir)
    cb = CatalogBuilder()
    cb.add("Cron", "backup", command="/usr/bin/backup", user="root", hour="3", minute="0")
    report = apply_catalog(cb.catalog, root=root, state_dir=tmp_path / "state")
    assert not failures(report), failures(report)
    assert "/usr/bin/backup" in (root / str(host_dir).lstrip("/") / "crontabs/root").read_text()
    assert list(host_dir.iterdir()) == []


def test_under_root_resolves_like_chroot(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "usr/lib").mkdir(parents=True)
    (root / "lib").symlink_to("usr/lib")
    (root / "abs").symlink_to("/usr")
    (root / "loop").symlink_to("/loop")
    (root / "usr/lib/link").symlink_to("/etc/target")
    r = str(root)
    assert under_root(r, "/lib/x") == f"{r}/usr/lib/x"
    assert under_root(r, "/abs/../../../lib/x") == f"{r}/usr/lib/x"  # '..' of /usr is /, then no higher
    assert under_root(r, "/lib/link") == f"{r}/etc/target"
    assert under_root(r, "/lib/link", follow=False) == f"{r}/usr/lib/link"
    assert under_root("/", "/lib/link") == "/lib/link"
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        under_root(r, "/loop/x")


# -- programs the manifest runs ----------------------------------------------------------------------------
def test_apply_root_runs_a_refreshonly_exec_inside_the_image(tmp_path: Path) -> None:
    root = _image(tmp_path, shell=True)
    (root / "etc/marker").write_text("only in the image\n")
    probe = f"/tmp/bunraku-probe-{uuid.uuid4().hex}"
    manifest = tmp_path / "site.pp"
    manifest.write_text(f"""
file {{ '/etc/app.conf': content => "v1\\n", notify => Exec['reload'] }}
exec {{ 'reload':
  command     => 'touch {probe}',
  creates     => '{probe}',
  onlyif      => 'test -f /etc/marker',
  path        => ['/usr/bin', '/bin'],
  refreshonly => true,
}}
""")
    try:
        noop = _bunraku("apply", str(manifest), "--root", str(root), "--noop")
        assert noop.returncode == 0, noop.stderr
        assert f"would run in chroot {root}" in noop.stdout
        run = _bunraku("apply", str(manifest), "--root", str(root), "--detailed-exitcodes")
        assert run.returncode == 2, run.stdout + run.stderr
        assert (root / probe.lstrip("/")).exists()  # onlyif saw the image's /etc/marker, touch wrote there
        assert not Path(probe).exists()
    finally:
        Path(probe).unlink(missing_ok=True)


def test_exec_without_a_shell_in_the_image_fails_clearly(tmp_path: Path) -> None:
    root = _image(tmp_path)
    cb = CatalogBuilder()
    cb.add("Exec", "x", command="/bin/true")
    report = apply_catalog(cb.catalog, root=root, state_dir=tmp_path / "state")
    assert failures(report) == {"Exec[x]": [f"change from 'notrun' to ['0'] failed: cannot run '/bin/true' in "
                                            f"chroot {root}: there is no /bin/sh in it"]}


def test_init_script_and_health_check_run_inside_the_image(tmp_path: Path) -> None:
    root = _image(tmp_path, shell=True)
    probe = f"/tmp/bunraku-probe-{uuid.uuid4().hex}"
    script = root / "etc/init.d/demo"
    script.parent.mkdir(parents=True)
    script.write_text(f"#!/bin/sh\ncase \"$1\" in\n  status) exit 3 ;;\n  start) touch {probe}.started ;;\nesac\n")
    script.chmod(0o755)
    cb = CatalogBuilder()
    cb.add("Service", "demo", ensure="running", provider="sysv")
    cb.add("Healthcheck", "probe", check="command", command=f"touch {probe}.checked", path="/usr/bin:/bin",
           retries=0, interval=0)
    try:
        report = apply_catalog(cb.catalog, root=root, state_dir=tmp_path / "state")
        assert not failures(report), failures(report)
        assert report.health["status"] == "healthy"
        assert (root / f"{probe}.started".lstrip("/")).exists() and (root / f"{probe}.checked".lstrip("/")).exists()
        assert not Path(f"{probe}.started").exists() and not Path(f"{probe}.checked").exists()
    finally:
        for suffix in (".started", ".checked"):
            Path(probe + suffix).unlink(missing_ok=True)


def test_pip_runs_the_images_python_inside_the_image(tmp_path: Path) -> None:
    root = _image(tmp_path, shell=True)
    probe = f"/tmp/bunraku-probe-{uuid.uuid4().hex}"
    python = root / "opt/venv/bin/python"
    python.parent.mkdir(parents=True)
    # The image's "Python": records each call and answers the installed-packages query with nothing.
    python.write_text(f"#!/bin/sh\necho \"$*\" >> {probe}\ncase \"$*\" in *distributions*) echo '{{}}' ;; esac\n")
    python.chmod(0o755)
    cb = CatalogBuilder()
    cb.add("Package", "demo", ensure="present", provider="pip", python="/opt/venv")
    try:
        report = apply_catalog(cb.catalog, root=root, state_dir=tmp_path / "state")
        assert not failures(report), failures(report)
        calls = (root / probe.lstrip("/")).read_text().splitlines()
        assert calls[-1].startswith("-m pip install") and calls[-1].endswith("-- demo")
        assert not Path(probe).exists()
    finally:
        Path(probe).unlink(missing_ok=True)


def test_filebucket_restore_to_the_recorded_path_writes_into_the_image(tmp_path: Path, host_dir: Path) -> None:
    root = _image(tmp_path)
    inside = root / str(host_dir).lstrip("/")  # the same path in the image as the host dir on the host
    inside.mkdir(parents=True)
    (inside / "motd").write_text("old\n")
    cb = CatalogBuilder()
    cb.add("File", f"{host_dir}/motd", content="new\n", backup="puppet")
    assert not failures(apply_catalog(cb.catalog, root=root))
    listing = _bunraku("filebucket", "--root", str(root), "list")
    assert listing.returncode == 0, listing.stderr
    checksum = listing.stdout.split()[0]
    restored = _bunraku("filebucket", "--root", str(root), "restore", checksum)
    assert restored.returncode == 0, restored.stderr
    assert (inside / "motd").read_text() == "old\n"
    assert list(host_dir.iterdir()) == []
