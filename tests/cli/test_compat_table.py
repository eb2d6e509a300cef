"""docs/COMPATIBILITY.md's "Command line" table, checked against the command line (and against
Puppet's own --help where Puppet is installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli import main
from cli.common import _respell

DOC = Path(__file__).resolve().parents[2] / "docs" / "COMPATIBILITY.md"
COMMANDS = {"apply": "apply", "agent": "agent", "resource": "resource", "facts": "facts"}


def _rows() -> list[tuple[str, list[str], str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in COMMANDS:
            flags = re.findall(r"`(-[^`\s]+)`", cells[1])
            assert flags, line
            rows.append((cells[0], flags, cells[2].split(":")[0].split(",")[0].strip()))
    return rows


def _accepts(command: click.Command, flag: str) -> bool:
    """Whether the command's parser takes ``flag`` (directly or as an underscore spelling)."""
    names = {opt for p in command.params if isinstance(p, click.Option) for opt in (*p.opts, *p.secondary_opts)}
    names |= {"-h", "--help"}
    return _respell(command, [flag])[0] in names


def test_the_table_is_what_the_command_line_does() -> None:
    rows = _rows()
    assert len(rows) > 60
    assert {verdict for _, _, verdict in rows} <= {"accepted", "warned", "refused"}
    runner = CliRunner()
    for cmd, flags, verdict in rows:
        command = main.commands[COMMANDS[cmd]]
        for flag in flags:
            assert _accepts(command, flag), f"{cmd} {flag}: the table says {verdict}, click does not know it"
            if verdict == "accepted":
                continue
            res = runner.invoke(main, [cmd, flag, "x"] if verdict == "refused" else [cmd, flag, "--help"])
            if verdict == "refused":
                assert res.exit_code == 1, (cmd, flag, res.output)
                assert res.output.startswith("error: ") and res.output.count("\n") == 1, (cmd, flag, res.output)


def test_warned_flags_say_so_in_one_line(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["apply", "-L", "-e", "notify { 'x': }", "--root", str(tmp_path),
                                    "--facts", "/dev/null"])
    assert res.exit_code == 0 and "Warning: --loadclasses has no effect" in res.output
    res = CliRunner().invoke(main, ["facts", "--trace", "os.family"])
    assert res.exit_code == 0 and res.output.startswith("Warning: --trace has no effect")


def _puppet_flags(app: str) -> set[str]:
    text = subprocess.run(["puppet", app, "--help"], capture_output=True, text=True, timeout=120).stdout
    options = text.split("OPTIONS", 1)[1].split("EXAMPLE", 1)[0]
    found = set(re.findall(r"^\*\s+(--[\w-]+)", options, re.M))
    usage = text.split("USAGE", 1)[1].split("DESCRIPTION", 1)[0]
    found |= set(re.findall(r"\[(-\w)\|", usage))
    return found


@pytest.mark.skipif(shutil.which("puppet") is None or shutil.which("facter") is None,
                    reason="Puppet and Facter are not installed")
def test_the_table_lists_every_flag_puppet_documents() -> None:
    listed: dict[str, set[str]] = {}
    for cmd, flags, _ in _rows():
        listed.setdefault(cmd, set()).update(flags)
    for app in ("apply", "agent", "resource"):
        missing = {f for f in _puppet_flags(app)
                   if f not in listed[app] and f.replace("_", "-") not in {x.replace("_", "-") for x in listed[app]}}
        assert not missing, f"puppet {app}: {sorted(missing)} not in the table"
    facter = subprocess.run(["facter", "--help"], capture_output=True, text=True, timeout=120).stdout
    documented = set(re.findall(r"\[(--[\w-]+)\]", facter)) | set(re.findall(r"^\s+(-\w) \[", facter, re.M))
    assert documented and not documented - listed["facts"], sorted(documented - listed["facts"])
