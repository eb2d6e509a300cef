"""Puppet's `agent` and `facter` flags on `bunraku agent` and `bunraku facts`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli import main

from .conftest import bunraku


def test_agent_disable_and_enable_as_flags(tmp_path: Path) -> None:
    base = ["agent", "--vardir", str(tmp_path), "--certname", "n1.example.com"]
    runner = CliRunner()
    res = runner.invoke(main, [*base, "--disable", "kernel upgrade"])
    assert res.exit_code == 0 and res.output == "agent disabled: kernel upgrade\n"
    lock = tmp_path / "state/agent_disabled.lock"
    assert json.loads(lock.read_text()) == {"disabled_message": "kernel upgrade"}
    assert runner.invoke(main, [*base, "--enable"]).output == "agent enabled\n"
    assert not lock.exists()
    res = runner.invoke(main, [*base, "--disable"])  # no message, as Puppet allows
    assert res.exit_code == 0 and json.loads(lock.read_text()) == {"disabled_message": "reason not specified"}
    assert runner.invoke(main, [*base, "enable"]).output == "agent enabled\n"  # the subcommand stays


def test_agent_flags_puppet_spells(tmp_path: Path) -> None:
    proc = bunraku("agent", "-D", check=1)
    assert proc.stderr.count("\n") == 1 and "runs in the foreground" in proc.stderr
    proc = bunraku("agent", "--certname", "n1", "--ssldir", str(tmp_path), "--fingerprint", check=1)
    assert proc.stderr.startswith("error: no certificate or request for n1")
    # --server_list, --masterport: the CA is asked at the first master's port + 1
    proc = bunraku("agent", "--server_list", "master.invalid", "--masterport", "9140", "--no-daemonize",
                   "--certname", "n1", "--vardir", str(tmp_path / "v"), "--ssldir", str(tmp_path / "ssl"),
                   "-o", "-w", "0", "--facts", "/dev/null", check=1)
    assert "master.invalid:9141" in proc.stdout + proc.stderr, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr


def test_facts_flags_facter_spells(tmp_path: Path) -> None:
    ext = tmp_path / "facts.d"
    ext.mkdir()
    (ext / "site.yaml").write_text("site_fact: here\n")
    runner = CliRunner()
    res = runner.invoke(main, ["facts", "--external-dir", str(ext), "site_fact"])
    assert res.exit_code == 0 and res.output == "here\n"
    res = runner.invoke(main, ["facts", "--external-dir", str(ext), "--no-external-facts", "site_fact"])
    assert res.exit_code == 0 and res.output == "\n"
    res = runner.invoke(main, ["facts", "--strict", "no_such_fact"])
    assert res.exit_code == 1 and 'fact "no_such_fact" does not exist' in res.output
    res = runner.invoke(main, ["facts", "--hocon"])
    assert res.exit_code == 1 and "use --json or --yaml" in res.output
    assert runner.invoke(main, ["facts", "--no-color", "--no-cache", "--no_block", "os.family"]).exit_code == 0


def test_agent_takes_puppet_durations(tmp_path: Path) -> None:
    from cli.common import Duration

    assert [Duration().convert(v, None, None) for v in ("30", "90s", "30m", "2h", "1d")] == \
        [30.0, 90.0, 1800.0, 7200.0, 86400.0]
    base = ["agent", "--vardir", str(tmp_path), "--certname", "n1"]
    ok = CliRunner().invoke(main, [*base, "--runinterval", "30m", "--splaylimit", "5m", "-w", "2m", "--disable"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(main, [*base, "--runinterval", "5x", "--disable"])
    assert bad.exit_code == 2 and "'5x' is not a duration" in bad.output
