"""`bunraku resource TYPE TITLE ATTRIBUTE=VALUE ...`: converge one resource, print it as Puppet does."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from cli import main

from .conftest import bunraku


def _resource(*args: str) -> object:
    return CliRunner().invoke(main, ["resource", *args])


def test_resource_sets_a_file_under_the_root(root: Path) -> None:
    proc = bunraku("resource", "file", "/x", "ensure=file", "content=hi", "--root", str(root), check=0)
    assert (root / "x").read_text() == "hi"
    assert "Notice: /File[/x]/ensure: defined content as '{sha256}" in proc.stdout
    assert proc.stdout.splitlines()[1] == "file { '/x':"
    assert "  provider => 'posix',\n" in proc.stdout and "  ensure   => 'file',\n" in proc.stdout
    again = _resource("file", "/x", "ensure=file", "content=hi", "--root", str(root), "--detailed_exitcodes")
    assert again.exit_code == 0 and "Notice:" not in again.output
    noop = _resource("file", "/x", "content=changed", "--root", str(root), "--noop", "--detailed-exitcodes")
    assert noop.exit_code == 2 and "(noop)" in noop.output
    assert (root / "x").read_text() == "hi"
    gone = _resource("file", "/x", "ensure=absent", "--root", str(root))
    assert gone.exit_code == 0 and not (root / "x").exists()
    assert gone.output.endswith("file { '/x':\n  ensure => 'absent',\n}\n")


def test_resource_lists_and_explains_what_it_cannot(root: Path) -> None:
    with open(root / "etc/passwd", "a") as fh:
        fh.write("dave:x:2500:0:Dave:/home/dave:/bin/zsh\n")
    users = _resource("user", "--root", str(root))
    assert users.exit_code == 0 and "user { 'dave':" in users.output and "provider => 'useradd'" in users.output
    as_yaml = yaml.safe_load(_resource("user", "dave", "-y", "--root", str(root)).output)
    assert as_yaml["user"]["dave"]["shell"] == "/bin/zsh"
    types = _resource("--types")
    assert {"file", "user", "group", "package", "service", "cron", "exec"} <= set(types.output.split())
    res = _resource("exec", "--root", str(root))
    assert res.exit_code == 1 and res.output.count("\n") == 1
    assert "cannot read exec resources from the system" in res.output
    res = _resource("file", "/x", "bogus", "--root", str(root))
    assert res.exit_code == 1 and "expected ATTRIBUTE=VALUE" in res.output
    res = _resource("file", "/x", "--edit")
    assert res.exit_code == 1 and "bunraku apply" in res.output


def test_resource_runs_a_resource_that_cannot_be_read_back(root: Path) -> None:
    res = _resource("notify", "hello", "message=from the shell", "--root", str(root))
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == "Notice: /Notify[hello]: from the shell"
    assert res.output.endswith("notify { 'hello':\n  message => 'from the shell',\n}\n")
