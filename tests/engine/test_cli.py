from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bunraku import main

from .conftest import CatalogBuilder


def _catalog_file(tmp_path: Path, cb: CatalogBuilder) -> str:
    path = tmp_path / "catalog.json"
    path.write_text(cb.catalog.to_json())
    return str(path)


def test_apply_catalog_noop_then_enforce_with_detailed_exitcodes(root: Path, state: Path, tmp_path: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/etc/motd", content="hello\n", backup="puppet")
    cat = _catalog_file(tmp_path, cb)
    runner = CliRunner()
    args = ["apply", "--catalog", cat, "--root", str(root), "--state-dir", str(state), "--detailed-exitcodes"]
    noop = runner.invoke(main, [*args, "--noop"])
    assert noop.exit_code == 2, noop.output  # pending changes (docs/COMPATIBILITY.md: Puppet exits 0)
    assert "/Stage[main]/Main/File[/etc/motd]/ensure: current_value 'absent', should be 'file' (noop)" in noop.output
    assert "1 pending change (noop)" in noop.output
    first = runner.invoke(main, [*args, "--report", str(tmp_path / "r.json")])
    assert first.exit_code == 2, first.output
    assert "Notice: /Stage[main]/Main/File[/etc/motd]/ensure: defined content as '{sha256}" in first.output
    assert json.loads((tmp_path / "r.json").read_text())["status"] == "changed"
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and "0 changes" in again.output
    # change the content: the old one goes to the filebucket, which lists and restores it
    cb.catalog.get("File[/etc/motd]").parameters["content"] = "bye\n"
    cat = _catalog_file(tmp_path, cb)
    args[2] = cat
    assert runner.invoke(main, args).exit_code == 2
    listing = runner.invoke(main, ["filebucket", "--state-dir", str(state), "list"])
    assert listing.exit_code == 0 and "/etc/motd" in listing.output
    checksum = listing.output.split()[0]
    restored = runner.invoke(main, ["filebucket", "--state-dir", str(state), "restore", checksum,
                                    str(root / "etc/motd")])
    assert restored.exit_code == 0, restored.output
    assert (root / "etc/motd").read_text() == "hello\n"


def test_failures_exit_4_and_user_errors_are_one_line(root: Path, state: Path, tmp_path: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Exec", "boom", command="/bin/false")
    runner = CliRunner()
    args = ["--root", str(root), "--state-dir", str(state)]
    res = runner.invoke(main, ["apply", "--catalog", _catalog_file(tmp_path, cb), "--detailed-exitcodes", *args])
    assert res.exit_code == 4
    assert "Error: /Stage[main]/Main/Exec[boom]: Cannot apply: there is no /bin/sh under" in res.output
    cycle = CatalogBuilder()
    cycle.add("Notify", "a", require="Notify[b]")
    cycle.add("Notify", "b", require="Notify[a]")
    res = runner.invoke(main, ["apply", "--catalog", _catalog_file(tmp_path, cycle), *args])
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [
        "error: found 1 dependency cycle: Notify[a] (/etc/site.pp:1) => Notify[b] (/etc/site.pp:2) => Notify[a]"]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = runner.invoke(main, ["apply", "--catalog", str(bad), *args])
    assert res.exit_code == 1 and res.output.startswith(f"{bad}: error: catalog is not valid JSON")
    assert "Traceback" not in res.output


def test_resource_prints_manifest_code(root: Path) -> None:
    with open(root / "etc/passwd", "a") as fh:
        fh.write("dave:x:2500:100:Dave:/home/dave:/bin/zsh\n")
    (root / "etc/motd").write_text("hi\n")
    runner = CliRunner()
    res = runner.invoke(main, ["resource", "user", "dave", "--root", str(root)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("user { 'dave':\n  ensure   => 'present',\n")
    assert "  shell    => '/bin/zsh',\n" in res.output and "  provider => 'useradd',\n" in res.output
    res = runner.invoke(main, ["resource", "file", "/etc/motd", "--root", str(root)])
    assert "ensure   => 'file'" in res.output and "content  => '{sha256}" in res.output
    res = runner.invoke(main, ["resource", "group", "--root", str(root)])
    assert "group { 'users':" in res.output
    res = runner.invoke(main, ["resource", "widget"])
    assert res.exit_code == 1 and res.output.startswith("error: unknown resource type 'widget'")
