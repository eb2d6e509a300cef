"""`bunraku apply` with Puppet's flags: -e, -t, --logdest, underscore spellings, the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from cli import main

from .conftest import bunraku


def _apply(*args: str) -> object:
    return CliRunner().invoke(main, ["apply", *args])


def test_execute_applies_code_and_names_it_in_errors(root: Path) -> None:
    proc = bunraku("apply", "--root", str(root), "--facts", "/dev/null", "-e",
                   "file { '/x': ensure => file, content => \"hi\\n\" }", check=0)
    assert (root / "x").read_text() == "hi\n"
    assert "Notice: /Stage[main]/Main/File[/x]/ensure: defined content as '{sha256}" in proc.stdout
    bad = bunraku("apply", "--root", str(root), "--execute", "notice(", check=1)
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("-e:1:") and ": error: " in lines[0], bad.stderr
    both = bunraku("apply", "site.pp", "-e", "notice(1)", "--root", str(root), check=1)
    assert both.stderr.strip() == "error: give one of MANIFEST, -e CODE or --catalog FILE"


def test_test_flag_is_detailed_exitcodes_with_diffs(root: Path) -> None:
    (root / "x").write_text("old\n")
    code = "file { '/x': content => \"new\\n\" }"
    res = _apply("-t", "-e", code, "--root", str(root), "--facts", "/dev/null")
    assert res.exit_code == 2, res.output
    assert "-old" in res.output and "+new" in res.output  # --show-diff
    again = _apply("--test", "-e", code, "--root", str(root), "--facts", "/dev/null")
    assert again.exit_code == 0, again.output


def test_logdest_file_takes_the_run_lines(root: Path, tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    res = _apply("-e", "notify { 'hello': }", "--root", str(root), "--facts", "/dev/null", "--logdest", str(log))
    assert res.exit_code == 0, res.output
    assert "Notify[hello]" not in res.output  # only the file, as Puppet does with --logdest FILE
    lines = log.read_text().splitlines()
    assert any(line.endswith("Notice: /Stage[main]/Main/Notify[hello]: hello") for line in lines), lines
    assert all(line[:4].isdigit() and line[4] == "-" for line in lines)  # timestamped
    jsonl = tmp_path / "run.jsonl"
    _apply("-e", "notify { 'again': }", "--root", str(root), "--facts", "/dev/null", "-l", f"console,{jsonl}")
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert {"level": "notice", "message": "Notice: /Stage[main]/Main/Notify[again]: again"}.items() <= \
        records[0].items()
    res = _apply("-e", "notify { 'x': }", "--root", str(root), "--logdest", str(tmp_path / "no/such/dir/log"))
    assert res.exit_code == 1 and res.output.count("\n") == 1 and "cannot open the log file" in res.output
    res = _apply("-e", "notify { 'x': }", "--root", str(root), "--logdest", "eventlog")
    assert res.exit_code == 1 and "use syslog, console or a file path" in res.output


def test_underscore_spellings_and_catalog_summary(root: Path, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data/common.yaml").write_text("motd: from hiera\n")
    hiera = tmp_path / "hiera.yaml"
    hiera.write_text(yaml.safe_dump({"version": 5, "defaults": {"datadir": str(tmp_path / "data"),
                                                                  "data_hash": "yaml_data"},
                                     "hierarchy": [{"name": "common", "path": "common.yaml"}]}))
    state = tmp_path / "state"
    res = _apply("-e", "class motd { file { '/motd': content => lookup('motd') } } include motd",
                 "--root", str(root), "--facts", "/dev/null", "--hiera_config", str(hiera), "--state_dir",
                 str(state), "--detailed_exitcodes", "--write_catalog_summary", "--show_diff")
    assert res.exit_code == 2, res.output
    assert (root / "motd").read_text() == "from hiera"
    assert "motd" in (state / "state/classes.txt").read_text().split()
    assert "file[/motd]" in (state / "state/resources.txt").read_text().split()
    summary = yaml.safe_load((state / "state/last_run_summary.yaml").read_text())
    assert summary["changes"]["total"] == 1 and summary["resources"]["changed"] == 1


def test_strict_variables_and_environment(root: Path) -> None:
    loose = _apply("-e", "notify { \"v=${nope}\": }", "--root", str(root), "--facts", "/dev/null")
    assert loose.exit_code == 0, loose.output
    for flag in ("--strict-variables", "--strict_variables", "--strict"):
        res = _apply("-e", "notify { \"v=${nope}\": }", "--root", str(root), "--facts", "/dev/null", flag)
        assert res.exit_code == 1 and "nope" in res.output and "Traceback" not in res.output, (flag, res.output)
    env = _apply("-e", "notify { \"env=${environment}\": }", "--root", str(root), "--facts", "/dev/null",
                 "--environment", "staging")
    assert "Notice: /Stage[main]/Main/Notify[env=staging]: env=staging" in env.output, env.output


def test_exit_codes(root: Path) -> None:
    fail = ["-e", "exec { '/bin/false': }", "--root", str(root), "--facts", "/dev/null"]
    assert _apply(*fail).exit_code == 1  # Puppet: 0 (docs/COMPATIBILITY.md)
    assert _apply(*fail, "--detailed-exitcodes").exit_code == 4
    change = ["-e", "file { '/y': ensure => file }", "--root", str(root), "--facts", "/dev/null"]
    assert _apply(*change, "--noop").exit_code == 0
    assert _apply(*change, "--noop", "--detailed-exitcodes").exit_code == 2  # Puppet: 0
    assert not (root / "y").exists()
    assert _apply(*change).exit_code == 0
    assert _apply(*change, "--detailed-exitcodes").exit_code == 0
    both = ["-e", "file { '/z': ensure => file } exec { '/bin/false': }", "--root", str(root), "--facts", "/dev/null"]
    assert _apply(*both, "--detailed-exitcodes").exit_code == 6
