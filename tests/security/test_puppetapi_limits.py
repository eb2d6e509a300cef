"""Puppet's HTTP API listener has the protections of the gRPC listener: a per-caller rate limit, the
in-flight byte budget, bounded report bodies, and certificate requests counted against the per-network
cap whichever protocol sent them. A real master with its real HTTPS listener on loopback."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from master.puppetapi.app import THROTTLE_QUEUE
from tests.e2e.harness import issue_identity, make_site, start_master
from wire import pki
from wire.client import ClientError, request_certificate

RATE = {"per_node_per_minute": 60, "burst": 10}
REPORT_LIMIT = 64 * 1024
CSR_CAP = 3
MESSAGE_LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("puppetapi-limits")


@pytest.fixture(scope="module")
def master(tmp: Path) -> Iterator[Any]:
    make_site(tmp / "envs")
    server = start_master(tmp, tmp / "envs", puppet_listen="127.0.0.1:0", rate_limit=RATE,
                          max_report_bytes=REPORT_LIMIT, ca_max_pending_per_network=CSR_CAP,
                          inflight_bytes=8 * 1024 * 1024, inflight_bytes_per_node=512 * 1024,
                          inflight_wait_seconds=0.5, max_message_bytes=MESSAGE_LIMIT)
    yield server
    server.stop()


def _context(master: Any, paths: pki.SSLPaths | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(master.ctx.ca.ca_cert_path))
    if paths is not None:
        context.load_cert_chain(str(paths.cert), str(paths.key))
    return context


def _connection(master: Any, paths: pki.SSLPaths | None = None) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection("127.0.0.1", master.puppet_api.port, context=_context(master, paths),
                                       timeout=60)


def _ask(conn: http.client.HTTPSConnection, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None, **kw: Any) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn.request(method, path, body=body, headers=headers or {}, **kw)
    response = conn.getresponse()
    return response.status, response.headers, response.read()


def _report(host: str, padding: int = 0) -> bytes:
    return json.dumps({
        "host": host, "time": "2026-12-01T10:00:01.123456789+00:00", "configuration_version": "1",
        "transaction_uuid": str(uuid.uuid4()), "report_format": 12, "puppet_version": "7.23.0",
        "status": "changed", "transaction_completed": True, "noop": False, "noop_pending": False,
        "environment": "production", "corrective_change": False, "cached_catalog_status": "not_used",
        "code_id": None, "metrics": {}, "resource_statuses": {},
        "logs": [{"level": "notice", "message": "x" * padding, "source": "Puppet", "tags": [],
                  "time": "2026-12-01T10:00:01.000000000+00:00"}]}).encode()


def test_a_flood_from_one_certificate_gets_429_with_puppets_error_document(master: Any, tmp: Path) -> None:
    """40 requests at once from one certificate: the burst is served, a few wait for tokens (an agent
    asking one thing at a time is only slowed down), the rest are refused with Puppet's error document."""
    flooder = issue_identity(master, tmp, "flood01.example.com")
    other = issue_identity(master, tmp, "calm01.example.com")

    def one(_: int) -> tuple[int, http.client.HTTPMessage, bytes]:
        with closing(_connection(master, flooder)) as conn:
            return _ask(conn, "GET", "/puppet/v3/status/flood01.example.com")

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(one, range(40)))
    statuses = Counter(status for status, _head, _body in answers)
    assert set(statuses) == {200, 429}, statuses
    # the burst, those that waited for a token, a few refilled while 40 handshakes ran; the rest refused
    assert statuses[200] >= RATE["burst"] and statuses[429] >= 40 - RATE["burst"] - THROTTLE_QUEUE - 10, statuses
    head, body = next((head, body) for status, head, body in answers if status == 429)
    assert head["Content-Type"].startswith("application/json") and int(head["Retry-After"]) >= 1
    assert head["X-Puppet-Version"]
    error = json.loads(body)
    assert error["issue_kind"] == "RUNTIME_ERROR"
    assert "too many requests from flood01.example.com: at most 60 a minute (bursts of 10)" in error["message"]
    with closing(_connection(master, other)) as conn:  # another certificate is not held back by the flood
        assert _ask(conn, "GET", "/puppet/v3/status/calm01.example.com")[0] == 200


def test_one_request_at_a_time_over_the_limit_is_slowed_down_not_refused(master: Any, tmp: Path) -> None:
    paths = issue_identity(master, tmp, "steady01.example.com")
    throttle = master.puppet_api.guards.throttle
    delayed = throttle.delayed
    started = time.monotonic()
    with closing(_connection(master, paths)) as conn:
        statuses = [_ask(conn, "GET", "/puppet/v3/status/steady01.example.com")[0]
                    for _ in range(RATE["burst"] + 3)]
    assert statuses == [200] * (RATE["burst"] + 3)
    # a token a second past the burst: 3 more requests take 3 seconds, and at least one of them waited
    assert throttle.delayed - delayed >= 1 and time.monotonic() - started >= 2.5


def test_large_bodies_over_a_certificates_share_of_the_byte_budget_get_503(master: Any, tmp: Path) -> None:
    """One facts upload is held half-sent (its 400 KiB charged to the budget); a second one from the same
    certificate would take it over its 512 KiB share: refused at once, and served again once the first
    is done."""
    name = "bulky01.example.com"
    paths = issue_identity(master, tmp, name)
    document = json.dumps({"name": name, "values": {"pad": "y" * (400 * 1024)}}).encode()
    path = f"/puppet/v3/facts/{name}?environment=production"
    held = _context(master, paths).wrap_socket(socket.create_connection(("127.0.0.1", master.puppet_api.port)),
                                               server_hostname="127.0.0.1")
    try:
        held.sendall(f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(document)}\r\n\r\n".encode() + document[:1000])
        deadline = time.monotonic() + 30
        while master.puppet_api.guards.budget.in_flight < len(document):
            assert time.monotonic() < deadline, "the first upload was never charged to the budget"
            time.sleep(0.05)
        with closing(_connection(master, paths)) as conn:
            status, head, body = _ask(conn, "PUT", path, document, {"Content-Type": "application/json"})
        assert status == 503, (status, body)
        assert head["Content-Type"].startswith("application/json") and int(head["Retry-After"]) >= 1
        assert json.loads(body) == {"message": "Service Unavailable: too many large requests in flight; retry later",
                                    "issue_kind": "RUNTIME_ERROR"}
        held.sendall(document[1000:])
        assert held.recv(64).startswith(b"HTTP/1.1 200")
    finally:
        held.close()
    deadline = time.monotonic() + 30
    while master.puppet_api.guards.budget.in_flight:
        assert time.monotonic() < deadline, "the budget was not given back"
        time.sleep(0.05)
    with closing(_connection(master, paths)) as conn:
        assert _ask(conn, "PUT", path, document, {"Content-Type": "application/json"})[0] == 200


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_report_is_refused_413_and_nothing_is_stored(master: Any, tmp: Path, chunked: bool) -> None:
    name = f"big-report-{'c' if chunked else 'l'}.example.com"
    paths = issue_identity(master, tmp, name)
    report = _report(name, padding=REPORT_LIMIT)
    assert len(report) > REPORT_LIMIT
    headers = {"Content-Type": "application/json"}
    with closing(_connection(master, paths)) as conn:
        if chunked:
            pieces = [report[i:i + 8192] for i in range(0, len(report), 8192)]
            status, head, body = _ask(conn, "PUT", f"/puppet/v3/report/{name}", iter(pieces), headers,
                                      encode_chunked=True)
        else:
            status, head, body = _ask(conn, "PUT", f"/puppet/v3/report/{name}", report, headers)
    assert status == 413, (status, body)
    assert head["Content-Type"].startswith("application/json")
    error = json.loads(body)
    assert error["message"] == (f"Request Entity Too Large: the report is larger than max_report_bytes ({REPORT_LIMIT}) of this master; "
                                "it is not stored")
    assert master.ctx.store.reports(name) == []
    with closing(_connection(master, paths)) as conn:  # a report within the limit is stored
        status, _head, body = _ask(conn, "PUT", f"/puppet/v3/report/{name}", _report(name), headers)
    assert status == 200, body
    assert len(master.ctx.store.reports(name)) == 1


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_catalog_request_with_facts_over_max_message_bytes_is_refused_413(master: Any, tmp: Path,
                                                                          chunked: bool) -> None:
    name = f"big-facts-{'c' if chunked else 'l'}.example.com"
    paths = issue_identity(master, tmp, name)
    form = "facts_format=application%2Fjson&facts=" + "x" * (MESSAGE_LIMIT + 1024)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    body = form.encode()
    with closing(_connection(master, paths)) as conn:
        if chunked:
            pieces = iter([body[i:i + 65536] for i in range(0, len(body), 65536)])
            status, head, answer = _ask(conn, "POST", f"/puppet/v3/catalog/{name}", pieces, headers,
                                        encode_chunked=True)
        else:
            status, head, answer = _ask(conn, "POST", f"/puppet/v3/catalog/{name}", body, headers)
    assert status == 413, (status, answer[:300])
    assert head["Content-Type"].startswith("application/json")
    assert json.loads(answer)["message"].startswith("Request Entity Too Large: ")
    assert master.ctx.store.get_facts(name) is None


def test_certificate_requests_over_http_and_grpc_share_the_per_network_cap(master: Any) -> None:
    """Requests waiting to be signed, sent from one network, are capped whichever listener took them."""
    ca_pem = master.ctx.ca.ca_pem()
    for i in range(2):  # two over gRPC ...
        name = f"grpc-csr{i}.example.com"
        reply = request_certificate(master.ca_address, ca_pem, name, pki.make_csr(pki.generate_key(), name))
        assert "waiting for `bunraku cert sign" in reply.message, reply
    with closing(_connection(master)) as conn:  # ... then Puppet's API: one more fits the cap of 3
        name = "http-csr0.example.com"
        status, _head, body = _ask(conn, "PUT", f"/puppet-ca/v1/certificate_request/{name}",
                                   pki.make_csr(pki.generate_key(), name), {"Content-Type": "text/plain"})
        assert status == 200, body
        name = "http-csr1.example.com"
        status, head, body = _ask(conn, "PUT", f"/puppet-ca/v1/certificate_request/{name}",
                                  pki.make_csr(pki.generate_key(), name), {"Content-Type": "text/plain"})
    assert status == 503, body
    assert head["Content-Type"].startswith("text/plain")
    assert body.decode() == (f"{CSR_CAP} certificate requests from this network are waiting to be signed, as many "
                             "as this CA holds from one network; try again later")
    assert not (master.ctx.ca.ssldir / "ca" / "requests" / "http-csr1.example.com.pem").exists()
    with pytest.raises(ClientError, match="from this network are waiting"):  # and gRPC is refused too, now that HTTP filled it
        name = "grpc-csr9.example.com"
        request_certificate(master.ca_address, ca_pem, name, pki.make_csr(pki.generate_key(), name))


@pytest.mark.skipif(shutil.which("puppet") is None, reason="Puppet's agent is not installed")
def test_a_real_puppet_agent_under_the_rate_limit_waits_as_told_and_completes_its_run(tmp: Path) -> None:
    """Puppet's agent honours ``Retry-After`` on 429: a run that needs more requests than the burst is
    slowed down, not failed."""
    env = tmp / "small-envs" / "production" / "manifests"
    env.mkdir(parents=True)
    (env / "site.pp").write_text("node default {\n  notify { 'rate limited but served': }\n}\n")
    server = start_master(tmp / "small", tmp / "small-envs", puppet_listen="127.0.0.1:0", autosign=True,
                          rate_limit={"per_node_per_minute": 120, "burst": 3})
    try:
        name = "slowed01.example.com"
        base = tmp / "puppet" / name
        dirs = [arg for d in ("confdir", "vardir", "ssldir", "codedir", "logdir", "rundir", "publicdir")
                for arg in (f"--{d}", str(base / d))]
        run = subprocess.run(["puppet", "agent", "--test", *dirs, "--server", "127.0.0.1", "--masterport",
                              str(server.puppet_api.port), "--certname", name, "--waitforcert", "0",
                              "--keylength", "2048", "--color", "false"],
                             capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
        assert run.returncode == 2, f"exit {run.returncode}\n{run.stdout}\n{run.stderr}"
        assert "rate limited but served" in run.stdout
        assert server.puppet_api.guards.throttle.delayed > 0  # it was slowed down, and went on
        [report] = server.ctx.store.reports(name)
        assert report["status"] == "changed"
    finally:
        server.stop()
