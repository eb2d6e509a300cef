"""The dashboard served over real TLS on loopback: an operator certificate logs in (mutual TLS, the client
certificate optional), an agent's certificate or none does not, a certificate from another CA is refused in
the handshake, a revoked operator is refused when the CRL is given, and tokens work over HTTPS."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from master.dashboard import TokenStore, create_app, serve
from master.dashboard.app import OPERATOR_OID
from master.dashboard.sample import seed_sample_fleet
from master.store import Store

NOW = dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.UTC)


class Pki:
    """A throwaway CA, as the master's CA makes them: EC keys, operator certificates carry pp_cli_auth."""

    def __init__(self, name: str = "Bunraku CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                  content_commitment=False, key_encipherment=False,
                                                  data_encipherment=False, key_agreement=False,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
                     .sign(self.key, hashes.SHA256()))
        self.keys: dict[str, Any] = {}

    def issue(self, name: str, *, operator: bool = False, server: bool = False) -> x509.Certificate:
        key = ec.generate_private_key(ec.SECP256R1())
        self.keys[name] = key
        now = dt.datetime.now(dt.UTC)
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                         ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                critical=False)
        if operator:
            # DER UTF8String "true", as the CA writes pp_cli_auth
            builder = builder.add_extension(
                x509.UnrecognizedExtension(ObjectIdentifier(OPERATOR_OID), b"\x0c\x04true"), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    @staticmethod
    def der(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.DER)

    def write(self, directory: Path, name: str, cert: x509.Certificate) -> tuple[Path, Path]:
        cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(self.keys[name].private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
        return cert_path, key_path

    def write_ca(self, directory: Path) -> Path:
        path = directory / "ca.pem"
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path

    def write_crl(self, directory: Path, revoked: list[x509.Certificate]) -> Path:
        now = dt.datetime.now(dt.UTC)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(now - dt.timedelta(minutes=1)).next_update(now + dt.timedelta(days=1)))
        for cert in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(cert.serial_number).revocation_date(now).build())
        path = directory / "crl.pem"
        path.write_bytes(builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        return path


class Tls:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.pki = Pki()
        self.ca = self.pki.write_ca(base)
        self.server = self.pki.write(base, "master", self.pki.issue("master", server=True))
        self.operator = self.pki.write(base, "ops-alice", self.pki.issue("ops-alice", operator=True))
        revoked_cert = self.pki.issue("ops-mallory", operator=True)
        self.revoked = self.pki.write(base, "ops-mallory", revoked_cert)
        self.agent = self.pki.write(base, "web01.example.com", self.pki.issue("web01.example.com"))
        foreign = Pki("Other CA")
        self.foreign = foreign.write(base, "ops-eve", foreign.issue("ops-eve", operator=True))
        self.crl = self.pki.write_crl(base, [revoked_cert])

    def context(self, client: tuple[Path, Path] | None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        if client is not None:
            context.load_cert_chain(str(client[0]), str(client[1]))
        return context


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Tls, str]]:
    base = tmp_path_factory.mktemp("dashboard-tls")
    tls = Tls(base)
    store = Store.open(path=base / "store.db")
    seed_sample_fleet(store, now=NOW, nodes=4, days=1, runs_per_day=4)
    tokens = TokenStore(base / "tokens.json")
    token = tokens.issue("alice")
    app = create_app(store, tokens=tokens, now=lambda: NOW)
    server = serve(app, "127.0.0.1", 0, certfile=tls.server[0], keyfile=tls.server[1], cafile=tls.ca,
                   crlfile=tls.crl)
    yield server, tls, token
    server.shutdown()
    store.close()


def fetch(server: Any, tls: Tls, path: str, *, client: tuple[Path, Path] | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=tls.context(client), timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_operator_certificate_logs_in_over_tls(served: tuple[Any, Tls, str]) -> None:
    server, tls, _ = served
    assert server.port > 0 and server.url == f"https://127.0.0.1:{server.port}/"
    status, _, body = fetch(server, tls, "/api/whoami", client=tls.operator)
    assert status == 200
    assert json.loads(body) == {"name": "ops-alice", "role": "admin", "method": "certificate", "groups": None}
    status, headers, body = fetch(server, tls, "/", client=tls.operator)
    assert status == 200 and b"<svg" in body and "default-src 'none'" in headers["content-security-policy"]
    status, _, body = fetch(server, tls, "/metrics", client=tls.operator)
    assert status == 200 and b"bunraku_nodes{" in body


def test_without_an_operator_certificate_there_is_no_way_in_but_a_token(served: tuple[Any, Tls, str]) -> None:
    server, tls, token = served
    status, headers, _ = fetch(server, tls, "/nodes")
    assert status == 302 and headers["location"] == "/login?next=%2Fnodes"
    assert fetch(server, tls, "/api/nodes")[0] == 401
    # an agent's certificate is valid for the CA but is no operator's
    assert fetch(server, tls, "/", client=tls.agent)[0] == 302
    assert fetch(server, tls, "/api/nodes", client=tls.agent)[0] == 401
    assert fetch(server, tls, "/api/nodes", headers={"Authorization": "Bearer bkd_nope"})[0] == 401
    status, _, body = fetch(server, tls, "/api/whoami", headers={"Authorization": f"Bearer {token}"})
    assert status == 200 and json.loads(body)["method"] == "token"


def test_certificates_the_ca_did_not_sign_or_revoked_are_refused_in_the_handshake(
        served: tuple[Any, Tls, str]) -> None:
    server, tls, _ = served
    for client in (tls.foreign, tls.revoked):
        with pytest.raises((ssl.SSLError, ConnectionError)):
            fetch(server, tls, "/api/whoami", client=client)
    # the server carries on serving
    assert fetch(server, tls, "/api/whoami", client=tls.operator)[0] == 200


def test_plain_http_and_shutdown(tmp_path: Path) -> None:
    tls = Tls(tmp_path)
    store = Store.open(path=tmp_path / "store.db")
    server = serve(create_app(store), "127.0.0.1", 0, certfile=tls.server[0], keyfile=tls.server[1], cafile=tls.ca)
    try:
        plain = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            plain.request("GET", "/")
            plain.getresponse()
        plain.close()
        assert fetch(server, tls, "/api/nodes", client=tls.operator)[0] == 200
    finally:
        server.shutdown()
        store.close()
    with pytest.raises(OSError):
        fetch(server, tls, "/")


# -- the HTTP server: keep-alive, deadlines, body size, connection cap -----------------------------------------


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Callable[..., tuple[Any, Tls]]]:
    """Starts a dashboard over a small fleet with the given connection limits; stops it afterwards."""
    from master.dashboard.server import ConnectionLimits

    tls = Tls(tmp_path)
    store = Store.open(path=tmp_path / "store.db")
    seed_sample_fleet(store, now=NOW, nodes=2, days=1, runs_per_day=2)
    started: list[Any] = []

    def start(**limits: Any) -> tuple[Any, Tls]:
        server = serve(create_app(store, now=lambda: NOW), "127.0.0.1", 0, certfile=tls.server[0],
                       keyfile=tls.server[1], cafile=tls.ca, limits=ConnectionLimits(**limits))
        started.append(server)
        return server, tls

    yield start
    for server in started:
        server.shutdown()
    store.close()


def _tls_socket(server: Any, tls: Tls, client: tuple[Path, Path] | None = None) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return tls.context(client).wrap_socket(raw, server_hostname="localhost")


def _closed(connection: ssl.SSLSocket, within: float) -> bool:
    """Whether the server closes ``connection`` within ``within`` seconds (reading what it sends)."""
    deadline = time.monotonic() + within
    connection.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            if connection.recv(65536) == b"":
                return True
        except TimeoutError:
            continue
        except (ConnectionError, ssl.SSLError):
            return True
    return False


def test_keep_alive_serves_requests_one_after_another_on_one_connection(
        serving: Callable[..., tuple[Any, Tls]]) -> None:
    server, tls = serving(idle_timeout=1.0)
    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=tls.context(tls.operator), timeout=10)
    try:
        connection.request("GET", "/api/whoami")
        first = connection.getresponse()
        assert first.status == 200 and first.version == 11 and json.loads(first.read())["name"] == "ops-alice"
        assert connection.sock is not None, "the server closed the connection after one request"
        local = connection.sock.getsockname()
        connection.request("GET", "/nodes")
        second = connection.getresponse()
        assert second.status == 200 and b"page 1 of 1" in second.read()
        assert connection.sock is not None and connection.sock.getsockname() == local
        # kept open while idle for less than idle_timeout, closed after it
        assert _closed(connection.sock, within=5.0)
    finally:
        connection.close()


def test_a_client_that_never_finishes_its_headers_is_dropped(serving: Callable[..., tuple[Any, Tls]]) -> None:
    server, tls = serving(idle_timeout=1.0)
    connection = _tls_socket(server, tls)
    started = time.monotonic()
    connection.sendall(b"GET /api/whoami HTTP/1.1\r\nHost: localhost\r\n")
    closed = False
    try:
        # a header line a byte at a time, every 0.2 s: never silent for long, never done
        for byte in b"X-Slow: " + b"a" * 100:
            connection.sendall(bytes([byte]))
            if _closed(connection, within=0.2):
                closed = True
                break
    except (ConnectionError, ssl.SSLError):
        closed = True
    finally:
        connection.close()
    assert closed and time.monotonic() - started < 5.0
    # the server carries on serving
    assert fetch(server, tls, "/api/whoami", client=tls.operator)[0] == 200


def _answer(connection: ssl.SSLSocket) -> tuple[int, bytes]:
    """Status and the rest (headers, body) of the answer on ``connection`` (read until the server closes it)."""
    connection.settimeout(10)
    data = b""
    while True:
        try:
            chunk = connection.recv(65536)
        except (ConnectionError, ssl.SSLError):
            break
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]), data


def test_an_oversized_body_is_refused_before_it_is_read(serving: Callable[..., tuple[Any, Tls]],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    server, tls = serving(max_body=1024)
    # declared too large: refused on the headers alone, and the connection closed
    connection = _tls_socket(server, tls, tls.operator)
    connection.sendall(b"POST /api/nodes HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1048576\r\n"
                       b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
    status, body = _answer(connection)
    connection.close()
    assert status == 413 and b"too large" in body
    # sent in chunks without a length: refused once it grows past the limit
    connection = _tls_socket(server, tls)
    connection.sendall(b"POST /login HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                       b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
    chunk = b"token=" + b"a" * 600
    try:
        for _ in range(4):
            connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    except (ConnectionError, ssl.SSLError):
        pass
    status, _ = _answer(connection)
    connection.close()
    assert status == 413
    # a length and chunks at once: refused by the HTTP parser, with the security headers, in one log line
    with caplog.at_level(logging.DEBUG):
        connection = _tls_socket(server, tls)
        connection.sendall(b"POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n")
        status, answer = _answer(connection)
        connection.close()
    assert status == 400 and b"\r\nX-Content-Type-Options: nosniff\r\n" in answer
    assert not [r for r in caplog.records if r.exc_info], "a client's bad request logged a traceback"


def test_a_body_that_never_arrives_is_answered_408(serving: Callable[..., tuple[Any, Tls]]) -> None:
    server, tls = serving(body_timeout=1.0)
    connection = _tls_socket(server, tls)
    started = time.monotonic()
    connection.sendall(b"POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n"
                       b"Content-Type: application/x-www-form-urlencoded\r\n\r\ntoken=")
    status, _ = _answer(connection)
    connection.close()
    assert status == 408 and time.monotonic() - started < 5.0


def test_connections_kept_alive_count_against_the_cap(serving: Callable[..., tuple[Any, Tls]]) -> None:
    server, tls = serving(total=2, per_address=2, per_network=2)
    held = [http.client.HTTPSConnection("127.0.0.1", server.port, context=tls.context(tls.operator), timeout=10)
            for _ in range(2)]
    try:
        for connection in held:
            connection.request("GET", "/api/whoami")
            assert connection.getresponse().read() and connection.sock is not None
        # both are still open: a third is reset before any TLS
        with pytest.raises((ssl.SSLError, ConnectionError)):
            fetch(server, tls, "/api/whoami", client=tls.operator)
        # each kept-alive connection is served again
        for connection in held:
            connection.request("GET", "/api/whoami")
            assert connection.getresponse().status == 200
    finally:
        for connection in held:
            connection.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if fetch(server, tls, "/api/whoami", client=tls.operator)[0] == 200:
                break
        except (ssl.SSLError, ConnectionError):
            time.sleep(0.2)
    assert fetch(server, tls, "/api/whoami", client=tls.operator)[0] == 200
