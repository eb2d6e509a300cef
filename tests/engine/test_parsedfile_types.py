"""host, sshkey, mailalias and mount: records of files under the target root; other lines never touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bunraku import main
from dsl.compiler import CompileRequest, compile_catalog
from dsl.errors import DslError
from engine.apply import apply_catalog

from .conftest import CatalogBuilder, converge, failures

ED = "AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5bWF0ZXJpYWxmb3JidW5yYWt1dGVzdHM="
RSA = "AAAAB3NzaC1yc2EAAAADAQABAAABAQC7"


def _events(report: object, ref: str) -> dict[str | None, tuple[str, object, object]]:
    status = report.resource_statuses[ref]  # type: ignore[attr-defined]
    return {e.property: (e.name, e.previous_value, e.desired_value) for e in status.events}


# -- host ------------------------------------------------------------------------------------------
HOSTS = (b"127.0.0.1\tlocalhost\r\n# hand-written   comment\n\n10.0.0.5  db.example.com db   # database\x0c\n"
         b"::1 ip6-localhost ip6-loopback\n192.0.2.1 caf\xc3\xa9.lan")


def test_host_converges_and_keeps_every_other_byte(root: Path, state: Path) -> None:
    hosts = root / "etc/hosts"
    hosts.write_bytes(HOSTS)
    hosts.chmod(0o640)
    cb = CatalogBuilder()
    web = cb.add("Host", "web.example.com", ip="10.0.0.9", host_aliases=["web", "www"], comment="front")
    db = cb.add("Host", "db.example.com", ip="10.0.0.6")
    predicted, first, _ = converge(cb.catalog, root, state)
    assert _events(predicted, web)["ensure"] == ("host_created", "absent", "present")
    assert _events(first, db) == {"ip": ("ip_changed", "10.0.0.5", "10.0.0.6")}
    assert hosts.read_bytes() == (b"127.0.0.1\tlocalhost\r\n# hand-written   comment\n\n"
                                  b"10.0.0.6\tdb.example.com\tdb\t# database\n::1 ip6-localhost ip6-loopback\n"
                                  b"192.0.2.1 caf\xc3\xa9.lan\n10.0.0.9\tweb.example.com\tweb\twww\t# front\n")
    assert hosts.stat().st_mode & 0o777 == 0o640

    cb2 = CatalogBuilder()
    ref = cb2.add("Host", "web.example.com", ip="10.0.0.9", host_aliases=[], comment="")
    report = apply_catalog(cb2.catalog, root=root, state_dir=state)
    assert _events(report, ref) == {"host_aliases": ("host_aliases_changed", ["web", "www"], "absent"),
                                    "comment": ("comment_changed", "front", "absent")}
    cb3 = CatalogBuilder()
    cb3.add("Host", "web.example.com", ensure="absent")
    cb3.add("Host", "db.example.com", ensure="absent")
    converge(cb3.catalog, root, state)
    assert hosts.read_bytes() == (b"127.0.0.1\tlocalhost\r\n# hand-written   comment\n\n"
                                  b"::1 ip6-localhost ip6-loopback\n192.0.2.1 caf\xc3\xa9.lan\n")


@pytest.mark.parametrize(("params", "message"), [
    ({"ip": "10.0.0"}, "invalid ip '10.0.0'"),
    ({}, "ip is required"),
    ({"ip": "10.0.0.1", "host_aliases": ["a b"]}, "invalid host alias 'a b'"),
    ({"ip": "10.0.0.1", "colour": "red"}, "no parameter named 'colour'"),
])
def test_host_errors_are_one_line(root: Path, state: Path, params: dict, message: str) -> None:
    cb = CatalogBuilder()
    ref = cb.add("Host", "web", **params)
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    (text,) = failures(report)[ref]
    assert message in text and "\n" not in text
    assert not (root / "etc/hosts").exists()


def test_missing_directory_is_predicted_in_noop(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    ref = cb.add("Host", "web", ip="10.0.0.1", target="/srv/net/hosts")
    for noop in (True, False):
        report = apply_catalog(cb.catalog, root=root, state_dir=state, noop=noop)
        (text,) = failures(report)[ref]
        assert text.startswith(f"Cannot apply: /srv/net does not exist under {root}")
    cb2 = CatalogBuilder()
    cb2.add("File", "/srv", ensure="directory")
    cb2.add("File", "/srv/net", ensure="directory")
    cb2.add("Host", "web", ip="10.0.0.1", target="/srv/net/hosts")
    converge(cb2.catalog, root, state)
    assert (root / "srv/net/hosts").read_text() == "10.0.0.1\tweb\n"


# -- sshkey ----------------------------------------------------------------------------------------
def test_sshkey_records_by_name_and_type(root: Path, state: Path) -> None:
    (root / "etc/ssh").mkdir()
    known = root / "etc/ssh/ssh_known_hosts"
    known.write_text(f"# fleet keys\n@cert-authority *.example.com ssh-ed25519 {ED}\n"
                     f"|1|abc=|def= ssh-rsa {RSA}\nweb.example.com ssh-rsa AAAAold\n")
    cb = CatalogBuilder()
    ed = cb.add("Sshkey", "web.example.com@ssh-ed25519", key=ED, host_aliases=["web", "10.0.0.9"])
    rsa = cb.add("Sshkey", "web.example.com_rsa", type="rsa", key=RSA, host_aliases=["web.example.com"])
    old = cb.add("Sshkey", "web.example.com", type="ssh-rsa", key=RSA)
    predicted, first, _ = converge(cb.catalog, root, state)
    assert _events(first, ed)["ensure"][0] == "sshkey_created"
    assert _events(first, rsa)["ensure"][0] == "sshkey_created"
    assert _events(predicted, old) == {"key": ("key_changed", "AAAAold", RSA)}
    assert known.read_text() == (f"# fleet keys\n@cert-authority *.example.com ssh-ed25519 {ED}\n"
                                 f"|1|abc=|def= ssh-rsa {RSA}\nweb.example.com ssh-rsa {RSA}\n"
                                 f"web.example.com,web,10.0.0.9 ssh-ed25519 {ED}\n"
                                 f"web.example.com_rsa,web.example.com ssh-rsa {RSA}\n")


def test_sshkey_unknown_type_fails_one_line(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    ref = cb.add("Sshkey", "web", type="ssh-foo", key=RSA)
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    assert failures(report)[ref][0].startswith("Could not evaluate: unknown key type 'ssh-foo'")


# -- mailalias -------------------------------------------------------------------------------------
def test_mailalias_continuations_quotes_and_include(root: Path, state: Path) -> None:
    aliases = root / "etc/aliases"
    aliases.write_text('# See man 5 aliases\npostmaster: root\nroot: admin,\n\t"|/usr/bin/log it", ops\nabuse: root\n')
    cb = CatalogBuilder()
    same = cb.add("Mailalias", "root", recipient=["admin", "|/usr/bin/log it", "ops"])
    changed = cb.add("Mailalias", "postmaster", recipient=["root", "ops"])
    cb.add("Mailalias", "team", file="/etc/mail/team")
    cb.add("Mailalias", "abuse", ensure="absent")
    _, first, _ = converge(cb.catalog, root, state)
    assert same not in first.resource_statuses or not _events(first, same)
    assert _events(first, changed) == {"recipient": ("recipient_changed", ["root"], ["root", "ops"])}
    assert aliases.read_text() == ('# See man 5 aliases\npostmaster: root, ops\nroot: admin,\n'
                                   '\t"|/usr/bin/log it", ops\nteam: :include: /etc/mail/team\n')
    cb2 = CatalogBuilder()
    cb2.add("Mailalias", "root", recipient=["admin", "|/usr/bin/log it"])
    converge(cb2.catalog, root, state)
    assert 'root: admin, "|/usr/bin/log it"\n' in aliases.read_text()


# -- mount -----------------------------------------------------------------------------------------
FSTAB = "# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=abc / ext4 errors=remount-ro 0 1\n"


def test_mount_fstab_under_a_root(root: Path, state: Path) -> None:
    fstab = root / "etc/fstab"
    fstab.write_text(FSTAB + "proc /proc proc defaults\n")
    cb = CatalogBuilder()
    data = cb.add("Mount", "/srv/data/", ensure="mounted", device="/dev/sdb1", fstype="xfs", options="noatime",
                  **{"pass": 2})
    proc = cb.add("Mount", "/proc", ensure="defined", options="nosuid,nodev")
    predicted, first, second = converge(cb.catalog, root, state)
    assert _events(first, data)["ensure"][1:] == ("absent", "mounted")
    assert _events(predicted, proc) == {"options": ("options_changed", "defaults", "nosuid,nodev")}
    assert fstab.read_text() == (FSTAB + "proc\t/proc\tproc\tnosuid,nodev\t0\t0\n"
                                 "/dev/sdb1\t/srv/data\txfs\tnoatime\t0\t2\n")
    warned = [x.message for x in second.logs if x.level == "warning"]
    assert any("not mounted under a target root" in m for m in warned), warned
    cb2 = CatalogBuilder()
    cb2.add("Mount", "/srv/data", ensure="absent")
    missing = cb2.add("Mount", "/mnt", ensure="present")
    report = apply_catalog(cb2.catalog, root=root, state_dir=state)
    assert failures(report)[missing] == ["Cannot apply: /mnt is not in /etc/fstab: creating its line needs device and fstype"]
    assert "/srv/data" not in fstab.read_text()


# -- the command line and the compiler ------------------------------------------------------------
def test_resource_command_lists_and_sets(root: Path) -> None:
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n")
    runner = CliRunner()
    res = runner.invoke(main, ["resource", "host", "--root", str(root)])
    assert res.exit_code == 0, res.output
    assert "host { 'localhost':\n  ensure   => 'present',\n  ip       => '127.0.0.1'," in res.output
    res = runner.invoke(main, ["resource", "host", "web", "ip=1.2.3.4", "--root", str(root), "--noop"])
    assert "/Host[web]/ensure: current_value 'absent', should be 'present' (noop)" in res.output
    res = runner.invoke(main, ["resource", "host", "web", "ip=1.2.3.4", "host_aliases=w", "--root", str(root)])
    assert res.exit_code == 0, res.output
    assert "  ip           => '1.2.3.4'," in res.output
    assert (root / "etc/hosts").read_text() == "127.0.0.1 localhost\n1.2.3.4\tweb\tw\n"
    res = runner.invoke(main, ["resource", "mailalias", "--root", str(root)])
    assert res.exit_code == 0 and res.output == ""
    res = runner.invoke(main, ["resource", "host", "bad", "ip=nope", "--root", str(root)])
    assert "Error: /Host[bad]: Could not evaluate: invalid ip 'nope'" in res.output
    assert "Traceback" not in res.output
    (root / "etc/aliases").mkdir()
    res = runner.invoke(main, ["resource", "mailalias", "--root", str(root)])
    assert res.exit_code == 1 and res.output == f"error: cannot read {root}/etc/aliases: Is a directory\n"


def _compile(tmp_path: Path, source: str) -> dict:
    manifest = tmp_path / "site.pp"
    manifest.write_text(source)
    return compile_catalog(CompileRequest.from_cli(manifest=manifest, node="n1", facts={})).to_dict()


def test_compiler_knows_the_parameters(tmp_path: Path) -> None:
    catalog = _compile(tmp_path, "host { 'a': ip => '10.0.0.1', host_aliases => ['b'], comment => 'c' }\n"
                                 f"sshkey {{ 'a': type => 'rsa', key => '{RSA}', host_aliases => ['b'] }}\n"
                                 "mailalias { 'a': recipient => ['root'], target => '/etc/aliases' }\n"
                                 "mount { '/m': device => 'd', fstype => 'xfs', options => 'ro', dump => 0, pass => 2 }\n")
    assert {r["type"] for r in catalog["resources"]} >= {"Host", "Sshkey", "Mailalias", "Mount"}
    for source in ("mailalias { 'a': recipients => ['root'] }", "host { 'a': address => '10.0.0.1' }"):
        with pytest.raises(DslError, match="has no parameter named"):
            _compile(tmp_path, source)


def test_mount_on_the_running_system_never_mounts(tmp_path: Path) -> None:
    from engine.context import ApplyContext
    from engine.providers.mount import Fstab, mounted_now
    from engine.registry import Change, get_type

    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /srv/my\\040data xfs rw 0 0\n")
    assert mounted_now("/srv/my data", str(mounts)) and not mounted_now("/srv", str(mounts))
    ctx = ApplyContext(root="/", state_dir=tmp_path / "state")
    mount = get_type("mount")
    assert mount is not None

    def problem(title: str, ensure: str) -> str | None:
        params = mount.validate(title, {"ensure": ensure, "device": "/dev/x", "fstype": "xfs"})
        return Fstab(ctx, title, params).preflight([Change("ensure", "defined", ensure, "")])

    assert problem("/nonexistent-bunraku-mount", "mounted") == (
        "mounting is not supported yet: mount /nonexistent-bunraku-mount by hand, or use ensure => defined to "
        "manage only its fstab line")
    assert (problem("/", "unmounted") or "").startswith("unmounting is not supported yet: / is mounted")
    assert (problem("/", "absent") or "").startswith("unmounting is not supported yet")
