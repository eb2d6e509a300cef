"""``bunraku apply --root IMAGE`` stays inside the image: links in the image are resolved inside it, as
chroot(2) resolves them, and the programs a manifest runs (exec, init scripts, health-check commands, a
pip package's Python) run chrooted into it. Real images (a copied shell and its libraries), real
subprocesses, a real ``bunraku apply`` process; the host paths they aim at are real host temp dirs."""

from __future__ import annotations

import json
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
    assert failures(report) == {"File[/etc/y]": [
        f"Cannot apply: could not find user hostonly (the owner) in etc/passwd under {root}, and no user resource "
        "before it creates it; add user { 'hostonly': } (it is then ordered first) or use an existing user"]}
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
    assert failures(report) == {"Exec[x]": [f"Cannot apply: there is no /bin/sh under {root} to run the command; "
                                            "install a shell in the root, or give the command as an array of words"]}


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


# -- a program that tries to leave the chroot ---------------------------------------------------------------
_ESCAPE_C = r"""
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(void) {
  mkdir("/.inner", 0700);
  if (chroot("/.inner") != 0) { perror("chroot"); return 3; }
  for (int i = 0; i < 64; i++) chdir("..");
  if (chroot(".") != 0) { perror("chroot out"); return 4; }
  FILE *f = fopen(TARGET, "w");
  if (!f) { perror("fopen"); return 5; }
  fputs("written on the host by a program of the image\n", f);
  fclose(f);
  return 0;
}
"""


def test_exec_cannot_chroot_out_of_the_image(tmp_path: Path, host_dir: Path) -> None:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("building the escape program needs gcc")
    target = host_dir / "escaped"
    source = tmp_path / "escape.c"
    source.write_text(_ESCAPE_C)
    root = _image(tmp_path, shell=True)
    built = subprocess.run([gcc, "-static", "-O0", f'-DTARGET="{target}"', "-o", str(root / "escape"), str(source)],
                           capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"gcc cannot build a static program here: {built.stderr.strip()[-300:]}")
    manifest = tmp_path / "site.pp"
    manifest.write_text("exec { 'escape': command => '/escape', logoutput => true }\n")
    run = _bunraku("apply", str(manifest), "--root", str(root), "--detailed-exitcodes")
    assert not target.exists(), "a program run under --root wrote a file on the host"
    assert list(host_dir.iterdir()) == []
    assert run.returncode == 4, run.stdout + run.stderr  # the exec failed, nothing else changed
    assert "chroot: Operation not permitted" in run.stdout
    assert "'/escape' returned 3 instead of one of [0]" in run.stdout


# -- the state directory of an image ------------------------------------------------------------------------
def test_state_dir_stays_in_the_image_when_the_run_links_var_to_the_host(tmp_path: Path, host_dir: Path) -> None:
    root = _image(tmp_path)
    (root / "var/lib").mkdir(parents=True)
    (root / "etc/motd").write_text("old motd\n")
    manifest = tmp_path / "site.pp"
    manifest.write_text(f"""
file {{ '/var': ensure => link, target => '{host_dir}', force => true }}
file {{ '/etc/motd': content => "new motd\\n", backup => 'puppet', require => File['/var'] }}
""")
    run = _bunraku("apply", str(manifest), "--root", str(root), "--detailed-exitcodes")
    assert run.returncode == 2, run.stdout + run.stderr
    assert list(host_dir.iterdir()) == [], "the report or the filebucket followed the image's /var onto the host"
    assert (root / "var").readlink() == host_dir
    state = root / str(host_dir).lstrip("/") / "lib/bunraku"  # where /var/lib/bunraku is inside the image
    report = json.loads((state / "last_run_report.json").read_text())
    assert report["status"] == "changed"
    assert len(list((state / "reports").rglob("*.json"))) == 1
    [contents] = list((state / "clientbucket").rglob("contents"))
    assert contents.read_text() == "old motd\n"
    listing = _bunraku("filebucket", "--root", str(root), "list")
    assert listing.returncode == 0 and listing.stdout.split()[-1] == "/etc/motd", listing.stdout + listing.stderr


def test_filebucket_resolves_the_state_dir_inside_the_image_at_each_write(tmp_path: Path, host_dir: Path) -> None:
    from engine.context import default_state_dir
    from engine.filebucket import FileBucket

    root = _image(tmp_path)
    (root / "var/lib/bunraku").mkdir(parents=True)
    bucket = FileBucket(default_state_dir(root), root=str(root))  # as `bunraku filebucket --root` makes it
    bucket.backup(b"first\n", "/etc/a")
    # The image's state directory becomes a link to the host's directory after the bucket found it.
    shutil.rmtree(root / "var/lib/bunraku")
    (root / "var/lib/bunraku").symlink_to(host_dir)
    bucket.backup(b"second\n", "/etc/b")
    assert list(host_dir.iterdir()) == []
    [contents] = list((root / str(host_dir).lstrip("/") / "clientbucket").rglob("contents"))
    assert contents.read_text() == "second\n"
    assert [e.paths for e in bucket.entries()] == [("/etc/b",)]


# -- sources --------------------------------------------------------------------------------------------------
def test_local_source_under_root_is_the_images_file_not_the_hosts(tmp_path: Path, host_dir: Path) -> None:
    root = _image(tmp_path)
    (host_dir / "secret").write_text("host secret\n")
    (host_dir / "only-on-host").write_text("host only\n")
    inside = root / str(host_dir).lstrip("/")
    inside.mkdir(parents=True)
    (inside / "secret").write_text("the image's own\n")
    manifest = tmp_path / "site.pp"
    manifest.write_text(f"""
file {{ '/copy': source => '{host_dir}/secret' }}
file {{ '/copy2': source => 'file://{host_dir}/secret' }}
file {{ '/copy3': source => '{host_dir}/only-on-host' }}
""")
    run = _bunraku("apply", str(manifest), "--root", str(root), "--detailed-exitcodes")
    assert run.returncode == 6, run.stdout + run.stderr  # two copies made, /copy3 failed
    assert (root / "copy").read_text() == "the image's own\n"
    assert (root / "copy2").read_text() == "the image's own\n"
    assert not (root / "copy3").exists()
    assert f"could not retrieve information from source(s) {host_dir}/only-on-host" in run.stdout


def test_puppet_source_cannot_leave_the_modules_files(tmp_path: Path) -> None:
    from engine.sources import ModulepathFileSource

    root = _image(tmp_path)
    modules = tmp_path / "modules"
    (modules / "m/files").mkdir(parents=True)
    (modules / "m/files/ok").write_text("module file\n")
    (tmp_path / "secret").write_text("outside the module\n")
    (tmp_path / "files").mkdir()
    (tmp_path / "files/secret").write_text("outside every module\n")
    (modules / "m/files/link").symlink_to(tmp_path / "secret")
    cb = CatalogBuilder()
    cb.add("File", "/ok", source="puppet:///modules/m/ok")
    cb.add("File", "/up", source="puppet:///modules/m/../../../secret")
    cb.add("File", "/module-up", source="puppet:///modules/../secret")
    cb.add("File", "/link", source="puppet:///modules/m/link")
    report = apply_catalog(cb.catalog, root=root, state_dir=tmp_path / "state",
                           file_sources=ModulepathFileSource([modules]))
    assert (root / "ok").read_text() == "module file\n"
    assert sorted(failures(report)) == ["File[/link]", "File[/module-up]", "File[/up]"]
    assert "the path leaves the module's files" in failures(report)["File[/up]"][0]
    assert "the path leaves the module's files" in failures(report)["File[/module-up]"][0]
    assert "resolves outside the module's files" in failures(report)["File[/link]"][0]
    for name in ("up", "module-up", "link"):
        assert not (root / name).exists()
