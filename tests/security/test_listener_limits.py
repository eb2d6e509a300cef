"""The master's listeners under connection floods: idle TCP connections to the certificate port (which
anyone may reach) and to the agent port must not take the open files the master serves signed nodes
with. A real master process, started with the usual limit of open files, and real TLS."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from master import limits
from master.config import ConfigError, load_config
from master.connguard import ConnectionGuard
from tests.e2e.harness import make_site
from tests.reliability.fleet import issue
from tests.security.attacks import (
    ConnectionFlood,
    LimitedMaster,
    idle_connections,
    loopback,
    open_fds,
    open_file_limit,
    still_open,
    wait_until,
)
from wire import pki
from wire.client import MasterClient, request_certificate
from wire.proto import bunraku_pb2 as pb
from wire.proto import bunraku_pb2_grpc as pb_grpc

OPEN_FILES = 1024  # the usual hard limit of a service started without LimitNOFILE
CAPS = limits.connection_caps(4096, 256, 8, OPEN_FILES)  # the defaults, lowered to fit


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("listeners")


@pytest.fixture(scope="module")
def master(base: Path) -> Iterator[LimitedMaster]:
    make_site(base / "envs")
    server = LimitedMaster(base / "master", base / "envs", open_files=(512, OPEN_FILES), handshake_timeout=2,
                           idle_timeout=2, ca_idle_timeout=2, rate_limit=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def node(master: LimitedMaster, base: Path) -> pki.SSLPaths:
    return issue(master.ca(), base / "ids", "web01.example.com")


def _catalog(master: LimitedMaster, paths: pki.SSLPaths) -> str:
    with MasterClient([master.address], paths, timeout=20) as client:
        reply = client.call("GetCatalog", pb.CatalogRequest(facts_json=b'{"role": "web"}'))
    return str(json.loads(reply.catalog_json)["name"])


def _enrol(master: LimitedMaster, base: Path, certname: str) -> int:
    paths = pki.SSLPaths(base / "enrol" / certname, certname)
    csr = pki.make_csr(paths.ensure_key(), certname)
    reply = request_certificate(master.ca_address, master.ca().ca_pem(), certname, csr, timeout=20)
    return int(reply.status)


def test_the_master_raises_its_open_file_limit_to_the_hard_limit(master: LimitedMaster) -> None:
    assert open_file_limit(master.proc.pid) == (OPEN_FILES, OPEN_FILES)


def test_idle_connections_from_one_address_on_the_ca_port_neither_starve_signed_nodes_nor_new_agents(
        master: LimitedMaster, node: pki.SSLPaths, base: Path) -> None:
    pid = master.proc.pid
    with ConnectionFlood(master.ca_address, 1500, sources=1) as flood:
        wait_until(lambda: flood.held() <= CAPS.ca_per_address, 20, "the guard to drop what is over its cap")
        assert flood.opened > 1000  # the connections were made (and are being dropped)
        assert open_fds(pid) < OPEN_FILES - 200
        assert _catalog(master, node) == "web01.example.com"
        # a new agent, from another address than the flood's, still gets its request in
        assert _enrol(master, base, "new01.example.com") == pb.CertificateReply.PENDING
        assert open_fds(pid) < OPEN_FILES - 200


def test_both_listeners_flooded_from_many_addresses_stay_within_their_caps(
        master: LimitedMaster, node: pki.SSLPaths) -> None:
    pid = master.proc.pid
    with MasterClient([master.address], node, timeout=20) as connected:
        connected.call("Heartbeat", pb.HeartbeatRequest())
        with ConnectionFlood(master.ca_address, 800, sources=100) as ca_flood, \
                ConnectionFlood(master.address, 1200, sources=100, first_source=110) as agent_flood:
            wait_until(lambda: ca_flood.held() <= CAPS.ca, 20, "the certificate port to hold at most its cap")
            peak = 0
            for _ in range(10):  # the floods reconnect what is closed; the master never runs out of files
                peak = max(peak, open_fds(pid))
                connected.call("Heartbeat", pb.HeartbeatRequest())  # a connection made before the flood
                time.sleep(0.2)
            assert agent_flood.held() <= CAPS.agents
            assert peak < OPEN_FILES - 50, peak
    assert _catalog(master, node) == "web01.example.com"


def test_connections_that_never_finish_a_tls_handshake_are_closed(master: LimitedMaster) -> None:
    with idle_connections(master.address, 20) as agents, \
            idle_connections(master.ca_address, 5, sources=loopback(2, 5)) as ca:
        assert still_open(agents) == 20 and still_open(ca) == 5
        wait_until(lambda: still_open(agents) + still_open(ca) == 0, 15, "the handshake timeout")


def test_an_agent_connection_without_calls_is_closed_after_the_idle_timeout(
        master: LimitedMaster, node: pki.SSLPaths) -> None:
    creds = grpc.ssl_channel_credentials(node.ca.read_bytes(), node.key.read_bytes(), node.cert.read_bytes())
    states: list[grpc.ChannelConnectivity] = []
    with grpc.secure_channel(master.address, creds) as channel:
        channel.subscribe(states.append, try_to_connect=False)
        pb_grpc.MasterStub(channel).Heartbeat(pb.HeartbeatRequest(), timeout=20)
        ready = grpc.ChannelConnectivity.READY
        wait_until(lambda: ready in states, 10, "the channel to be ready")  # (states arrive on another thread)
        wait_until(lambda: states[-1] == grpc.ChannelConnectivity.IDLE, 15, "the master to close the idle connection")
        assert states.index(ready) < len(states) - 1


def test_the_guard_caps_each_address_and_all_and_knows_who_is_behind_a_relayed_connection() -> None:
    upstream = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: [accepted.append(upstream.accept()[0]) for _ in range(3)], daemon=True).start()
    guard = ConnectionGuard("127.0.0.1", 0, upstream=upstream.getsockname(), max_connections=3, max_per_address=2)
    port = guard.start()
    address = f"127.0.0.1:{port}"
    try:
        with idle_connections(address, 3, sources=loopback(2)) as first, \
                idle_connections(address, 1, sources=loopback(3)) as second:
            wait_until(lambda: len(accepted) == 3, 10, "three relayed connections")
            wait_until(lambda: still_open(first) == 2, 10, "the third from one address to be refused")
            assert still_open(second) == 1
            with idle_connections(address, 1, sources=loopback(4)) as third:
                wait_until(lambda: still_open(third) == 0, 10, "a fourth in all to be refused")
            peers = sorted(str(guard.client_address(f"ipv4:127.0.0.1:{s.getpeername()[1]}")) for s in accepted)
            assert peers == ["127.0.0.2", "127.0.0.2", "127.0.0.3"]
            assert guard.refused == 2
    finally:
        guard.stop()
        upstream.close()
        for sock in accepted:
            sock.close()


@pytest.mark.parametrize(("settings", "message"), [
    ({"max_connections": 0}, "max_connections must be an integer of at least 1, not 0"),
    ({"ca_max_connections_per_address": "many"}, "ca_max_connections_per_address must be an integer"),
    ({"handshake_timeout": 0}, "handshake_timeout must be a number of at least 0.1, not 0"),
    ({"idle_timeout": -1}, "idle_timeout must be a number of at least 0.1, not -1"),
])
def test_bad_connection_settings_are_one_line_errors(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, settings)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_many_addresses_of_one_network_cannot_fill_the_ca_port(tmp_path: Path) -> None:
    from tests.e2e.harness import start_master
    from tests.security.anonymous import AnonymousClient

    server = start_master(tmp_path, None, rate_limit=False, handshake_timeout=60)  # the flood's are held
    try:
        per_network = server.config.ca_max_connections_per_network
        sources = [f"127.0.1.{i}" for i in range(2, 36)]  # 34 addresses of one /24, 8 connections each
        assert 8 * len(sources) > 256  # tried: more than the certificate port's total cap
        with idle_connections(server.ca_address, 8 * len(sources), sources=sources) as flood:
            # made (the guard resets some while they connect): more than one network may hold
            assert len(flood) > per_network
            wait_until(lambda: still_open(flood) <= per_network, 20, "the guard to refuse what is over its cap")
            # an agent in another network enrols all the same
            reply = AnonymousClient(server.ca_address).ask("new02.example.com")[0]
            assert reply.status == pb.CertificateReply.PENDING
    finally:
        server.stop()


def test_the_agent_listener_can_cap_connections_per_address(base: Path) -> None:
    """With ``max_connections_per_address`` set, one host's idle connections to the agent port are cut at
    that many, and a node from another address is served while they sit there."""
    make_site(base / "envs-per-address")
    capped = LimitedMaster(base / "per-address", base / "envs-per-address", open_files=(512, OPEN_FILES),
                           handshake_timeout=30, rate_limit=False, max_connections_per_address=8,
                           max_connections_per_network=1000)
    capped.start()
    try:
        node = issue(capped.ca(), base / "ids-per-address", "web01.example.com")
        with idle_connections(capped.address, 40, sources=loopback(7)) as flood:
            wait_until(lambda: still_open(flood) <= 8, 20, "the guard to cut what is over the per-address cap")
            assert still_open(flood) == 8
            assert _catalog(capped, node) == "web01.example.com"
    finally:
        capped.stop()
