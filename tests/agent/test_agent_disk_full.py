"""A full disk under the agent's vardir (a real tmpfs of a few MiB, filled with a real file): runs go on
and converge, a report that cannot be spooled costs one clear error line (and is sent if a master
answers), no half-written file stays behind, and the next run says what was lost."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.run import run_once
from agent.spool import ReportSpool
from tests.e2e.harness import issue_identity, make_site, start_master
from tests.reliability.fleet import bunraku, free_port, light_agent

NODE = "full.example.com"


@pytest.fixture
def small_vardir(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted where the agent keeps its vardir."""
    mount_point = tmp_path / "var"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for the vardir (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(directory: Path) -> Path:
    """Fill the filesystem of ``directory`` with one file, to the last byte it will take."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 1 << 12, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    assert os.statvfs(directory).f_bavail == 0
    return filler


def temp_files(directory: Path) -> list[str]:
    """Half-written files: every dot-file under ``directory`` (the agent keeps none for good)."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob(".*") if p.is_file())


@pytest.fixture
def master(tmp_path: Path) -> Iterator[Any]:
    make_site(tmp_path / "envs")
    server = start_master(tmp_path, tmp_path / "envs")
    yield server
    server.stop()


def agent_cli(tmp_path: Path, vardir: Path, server: str, ssldir: Path) -> list[str]:
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"role": "web", "networking": {"fqdn": NODE}}))
    (tmp_path / "root" / "etc").mkdir(parents=True, exist_ok=True)
    return ["agent", "--onetime", "--detailed-exitcodes", "--server", server, "--certname", NODE,
            "--root", str(tmp_path / "root"), "--vardir", str(vardir), "--ssldir", str(ssldir),
            "--facts", str(facts), "--waitforcert", "0"]


def test_a_full_vardir_does_not_stop_the_run_from_converging(master: Any, small_vardir: Path,
                                                               tmp_path: Path) -> None:
    paths = issue_identity(master, tmp_path, NODE)
    fill(small_vardir)  # full before the agent ever ran: not even the lock file exists yet
    args = agent_cli(tmp_path, small_vardir, master.address, paths.ssldir)
    first = bunraku(*args)
    output = first.stdout + first.stderr
    assert first.returncode == 2, output  # changes made, nothing failed
    assert "Traceback" not in output
    assert (tmp_path / "root/etc/motd").read_text().startswith("hello from full.example.com")
    assert (tmp_path / "root/etc/demo.conf").read_text() == "setting = 1\n" * 1000
    assert "Warning: could not cache the catalog in" in first.stdout
    assert len(master.store.reports(NODE, last=10)) == 1  # the report went to the master
    assert temp_files(small_vardir) == []

    again = bunraku(*args)  # still full: converged, nothing to do
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Traceback" not in again.stdout + again.stderr
    assert len(master.store.reports(NODE, last=10)) == 2


def test_a_report_the_full_spool_cannot_take_is_one_error_line_and_the_next_run_says_so(
        master: Any, small_vardir: Path, tmp_path: Path) -> None:
    paths = issue_identity(master, tmp_path, NODE)
    args = agent_cli(tmp_path, small_vardir, f"127.0.0.1:{free_port()}", paths.ssldir)  # no master there
    offline = bunraku(*args)
    assert offline.returncode == 1 and len(ReportSpool(small_vardir / "spool").pending()) == 1, offline.stdout

    filler = fill(small_vardir)
    full = bunraku(*args)
    output = full.stdout + full.stderr
    assert full.returncode == 1 and "Traceback" not in output, output
    lines = [line for line in output.splitlines() if "no space left on device" in line.lower()]
    assert lines == [f"Error: the report of this run could not be spooled: no space left on device in "
                     f"{small_vardir}; it is lost if the agent stops before a master answers"], output
    assert temp_files(small_vardir) == []  # no truncated spool entry left behind
    assert len(ReportSpool(small_vardir / "spool").pending()) == 1

    filler.unlink()
    (small_vardir / "spool" / ".spool.abandoned").write_bytes(b'{"host": "full.exa')  # a writer's leftover
    after = bunraku(*args)
    assert "Traceback" not in after.stdout + after.stderr
    assert (f"Warning: the previous run could not keep its report: no space left on device in {small_vardir}"
            in after.stdout.splitlines()), after.stdout
    assert temp_files(small_vardir) == []
    assert len(ReportSpool(small_vardir / "spool").pending()) == 2
    status = bunraku("agent", "--vardir", str(small_vardir), "--certname", NODE, "status")
    assert "spool:     2 report(s) waiting" in status.stdout, status.stdout + status.stderr


def test_a_report_held_in_memory_goes_out_when_a_master_answers(master: Any, small_vardir: Path,
                                                                tmp_path: Path) -> None:
    from tests.reliability.fleet import issue

    s = light_agent([master.address], tmp_path, issue(master.ctx.ca, tmp_path / "ids", NODE), timeout=3.0,
                    vardir=small_vardir)
    assert run_once(s).exit_code == 2
    fill(small_vardir)
    s.servers = [f"127.0.0.1:{free_port()}"]  # the master is away, and the disk is full
    away = run_once(s)
    assert away.report is not None and away.report_fate == "held in memory"
    assert any(level == "err" and "could not be spooled: no space left on device" in text
               for level, text in away.lines), away.lines
    s.servers = [master.address]  # the same agent process, a master answers again
    back = run_once(s)
    assert back.report_sent and not any("previous run" in text for _, text in back.lines), back.lines
    stored = {r["transaction_uuid"] for r in master.store.reports(NODE, last=10)}
    assert away.report.transaction_uuid in stored
    assert ReportSpool(s.spool_dir).depth() == 0 and temp_files(small_vardir) == []
