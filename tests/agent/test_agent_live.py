"""The agent's side of release control: "run now" requests, the live channel against a real master
(connect, heartbeats, reconnect), and incremental runs from the last good catalog."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from agent.live import LiveChannel, RunRequests
from agent.run import run_once
from master.live import Command
from tests.e2e.harness import agent_settings, make_site, start_master, wait_for


def test_run_requests_merge_and_never_downgrade_a_full_run() -> None:
    stop = threading.Event()
    requests = RunRequests()
    assert requests.wait(0.01, stop) is None
    requests.request("incremental")
    assert requests.wait(1, stop) == "incremental"
    requests.request("full")
    requests.request("incremental")
    assert requests.wait(1, stop) == "full"
    stop.set()
    assert requests.wait(5, stop) is None


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    tmp = tmp_path_factory.mktemp("live")
    make_site(tmp / "envs")
    server = start_master(tmp, tmp / "envs", live_heartbeat_seconds=0.2, live_timeout=2,
                          autosign=True)
    yield server, tmp
    server.stop()


def test_the_channel_connects_beats_runs_on_demand_and_reconnects(master) -> None:
    server, tmp = master
    settings = agent_settings(server, tmp, "live01.example.com")
    assert run_once(settings).exit_code == 2  # the first run gets the certificate
    stop = threading.Event()
    requests = RunRequests()
    channel = LiveChannel(settings, requests, stop)
    channel.start()
    try:
        hub = server.ctx.live
        wait_for(lambda: hub.connected("live01.example.com"), 10, "the channel")
        assert hub.trigger("live01.example.com", "incremental") is True
        assert requests.wait(5, stop) == "incremental"
        before = server.ctx.store.node_statuses()[0].last_seen
        wait_for(lambda: server.ctx.store.node_statuses()[0].last_seen > before, 5, "a heartbeat")
        conn = hub._connections["live01.example.com"]
        hub.disconnect(conn)
        conn.commands.put(Command("close"))  # the master ends the stream
        wait_for(lambda: hub._connections.get("live01.example.com") not in (None, conn), 10, "a reconnect")
        assert hub.trigger("live01.example.com") is True and requests.wait(5, stop) == "full"
    finally:
        stop.set()
        channel.join()


def test_an_incremental_run_applies_only_what_changed_since_the_last_good_catalog(master) -> None:
    server, tmp = master
    settings = agent_settings(server, tmp, "inc01.example.com")
    first = run_once(settings)
    assert first.exit_code == 2 and settings.last_good_catalog.exists()
    (settings.root / "etc/motd").write_text("drifted\n")
    incremental = run_once(replace(settings, apply_mode="incremental"))
    assert incremental.report is not None and incremental.report.apply_mode == "incremental"
    assert (settings.root / "etc/motd").read_text() == "drifted\n"  # unchanged in the catalog: not checked
    full = run_once(settings)
    assert full.report is not None and full.report.apply_mode == "full"
    assert (settings.root / "etc/motd").read_text() != "drifted\n"


def test_without_a_last_good_catalog_an_incremental_run_is_full(master) -> None:
    server, tmp = master
    settings = agent_settings(server, tmp, "inc02.example.com")
    result = run_once(replace(settings, apply_mode="incremental"))
    assert result.report is not None and result.report.apply_mode == "full"
    assert Path(settings.last_good_catalog).exists()
