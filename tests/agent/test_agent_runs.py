"""Agent runs against a real master: converge, stay converged, cached catalog when no master answers,
report spooling and later delivery, several masters, disable/enable, plugin sync, file content cache."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.run import disable, enable, run_once
from tests.e2e.harness import agent_settings, make_site, start_master


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agent")


@pytest.fixture(scope="module")
def master(tmp: Path) -> Iterator:
    make_site(tmp / "envs")
    server = start_master(tmp, tmp / "envs", autosign="true")
    yield server
    server.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_first_run_gets_a_certificate_converges_and_reports(master, tmp: Path) -> None:
    s = agent_settings(master, tmp, "web01.example.com", csr_extensions={"pp_role": "web"})
    result = run_once(s)
    assert result.exit_code == 2, "\n".join(t for _, t in result.lines)
    assert result.report_sent and result.cached_catalog_status == "not_used"
    motd = (s.root / "etc/motd").read_text()
    assert motd == "hello from web01.example.com (remote) role=web\n"
    assert (s.root / "etc/pp_role").read_text() == "web"
    assert (s.root / "etc/demo.conf").read_text() == "setting = 1\n" * 1000
    assert (s.vardir / "lib/facts/demo__synced_role.py").exists()  # plugin sync
    again = run_once(s)
    assert again.exit_code == 0 and again.report is not None and again.report.status == "unchanged"
    statuses = {n.name: n for n in master.store.node_statuses()}
    assert statuses["web01.example.com"].status == "unchanged"
    assert statuses["web01.example.com"].report_count == 2


def test_noop_changes_nothing_and_is_pending(master, tmp: Path) -> None:
    s = agent_settings(master, tmp, "noop.example.com", noop=True)
    result = run_once(s)
    assert result.exit_code == 0 and result.report.noop_pending
    assert not (s.root / "etc/motd").exists()


def test_master_down_uses_the_cached_catalog_and_spools_the_report(master, tmp: Path) -> None:
    s = agent_settings(master, tmp, "web02.example.com")
    assert run_once(s).exit_code == 2
    (s.root / "etc/motd").unlink()
    live = list(s.servers)
    s.servers = [f"127.0.0.1:{_free_port()}"]
    s.timeout = 3
    result = run_once(s)
    assert result.cached_catalog_status == "on_failure"
    assert result.report.cached_catalog_status == "on_failure"
    assert (s.root / "etc/motd").exists()  # the cached catalog was applied
    assert not result.report_sent and len(list((s.vardir / "spool").glob("*.json"))) == 1
    before = master.store.node_statuses()
    count = {n.name: n.report_count for n in before}["web02.example.com"]
    s.servers = [f"127.0.0.1:{_free_port()}", *live]  # several masters: the first is down
    result = run_once(s)
    assert result.report_sent and result.exit_code == 0
    assert list((s.vardir / "spool").glob("*.json")) == []
    reports = master.store.reports("web02.example.com", last=5)
    assert len(reports) == count + 2
    assert "on_failure" in [r["cached_catalog_status"] for r in reports]


def test_without_cache_on_failure_a_run_fails(master, tmp: Path) -> None:
    s = agent_settings(master, tmp, "web03.example.com")
    assert run_once(s).exit_code == 2
    s.servers = [f"127.0.0.1:{_free_port()}"]
    s.timeout = 3
    s.usecacheonfailure = False
    result = run_once(s)
    assert result.exit_code == 1 and any("no master answered" in text for _, text in result.lines)


def test_explicitly_requested_cached_catalog(master, tmp: Path) -> None:
    s = agent_settings(master, tmp, "web04.example.com")
    assert run_once(s).exit_code == 2
    s.use_cached_catalog = True
    result = run_once(s)
    assert result.report.cached_catalog_status == "explicitly_requested"


def test_disable_and_enable(master, tmp: Path) -> None:
    s = agent_settings(master, tmp, "web05.example.com")
    disable(s, "maintenance until 5pm")
    result = run_once(s)
    assert result.exit_code == 1 and "maintenance until 5pm" in result.lines[0][1]
    assert not (s.root / "etc/motd").exists()
    assert enable(s)
    assert run_once(s).exit_code == 2


def test_a_run_in_progress_blocks_another(master, tmp: Path) -> None:
    from tests.agent.test_agent_lock_spool import hold_lock

    s = agent_settings(master, tmp, "web06.example.com")
    s.lock_file.parent.mkdir(parents=True, exist_ok=True)
    holder = hold_lock(s.lock_file)
    try:
        result = run_once(s)
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1 and f"already in progress (pid {holder.pid})" in result.lines[0][1]


def test_unchanged_files_are_not_fetched_again(master, tmp: Path) -> None:
    from agent.filesource import RemoteFileSource
    from wire.client import MasterClient
    from wire.pki import SSLPaths

    s = agent_settings(master, tmp, "web07.example.com")
    run_once(s)
    with MasterClient(s.servers, SSLPaths(s.ssldir, s.certname)) as client:
        source = RemoteFileSource(client, "production", s.file_cache)
        assert source.read("puppet:///modules/demo/demo.conf") == b"setting = 1\n" * 1000
        assert source.fetched == 0  # metadata said sha256 X, the content cache had X


def test_unsigned_certificate_waits_then_gives_up(tmp_path: Path) -> None:
    make_site(tmp_path / "envs")
    server = start_master(tmp_path, tmp_path / "envs")  # autosign off
    try:
        s = agent_settings(server, tmp_path, "pending.example.com", waitforcert=0)
        result = run_once(s)
        assert result.exit_code == 1 and "not signed yet" in result.lines[-1][1]
        server.ctx.ca.sign("pending.example.com")
        assert run_once(s).exit_code == 2
    finally:
        server.stop()
