"""The client side of the master's API, shared by the agent and the operator commands.

    client = MasterClient(["m1:8140", "m2:8140"], SSLPaths(ssldir, certname))
    reply = client.call("GetCatalog", pb.CatalogRequest(...))

Masters are tried in order; the first that answers is kept until it stops answering. Everything but
the certificate request runs over mutual TLS with the identity in ``ssldir``.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from wire import pki
from wire.proto import bunraku_pb2 as pb
from wire.proto import bunraku_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

DEFAULT_PORT = 8140
MAX_MESSAGE = 16 * 1024 * 1024  # as the master's default max_message_bytes
OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)]
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class ClientError(Exception):
    """A call failed; ``code`` is the gRPC status (None when no master answered)."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.code = code


class MasterUnavailable(ClientError):
    """No master answered."""


class MasterBusy(ClientError):
    """The master turned the call away for now (its rate limit for this node): try again later, slower."""


class CertificateRevoked(ClientError):
    """The master refused our certificate: the CA has revoked it."""


def _refusal(message: str, exc: grpc.RpcError) -> ClientError:
    """The error for a call the master answered with a failure status, by what the caller can do."""
    code, details = exc.code(), exc.details() or ""
    # RESOURCE_EXHAUSTED is also a message over the size limit, which waiting will not cure
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" not in details:
        return MasterBusy(message, code)
    if code == grpc.StatusCode.UNAUTHENTICATED and "has been revoked" in details:
        return CertificateRevoked(message, code)
    return ClientError(message, code)


def split_servers(value: str | Sequence[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        out.append(item if item.rpartition(":")[2].isdigit() else f"{item}:{DEFAULT_PORT}")
    if not out:
        raise ClientError("no master given (--server HOST[:PORT][,HOST2...])")
    return out


def ca_server_for(server: str) -> str:
    """Puppet's ca_port default for us: the CA listener is the master's port + 1."""
    host, _, port = server.rpartition(":")
    return f"{host}:{int(port) + 1}"


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


# -- bootstrap: CA certificate and our own certificate ------------------------------------------------
def fetch_ca_on_first_use(ca_server: str, *, expected_fingerprint: str | None = None,
                          timeout: float = 10.0) -> bytes:
    """The CA certificate, learnt from the master's server certificate (trust on first use).

    The master's certificate carries its CA; we check that the CA signed it and, if given, that the
    CA's SHA-256 fingerprint is the expected one (``--ca-fingerprint``, printed by ``bunraku cert list``)."""
    host, port = _host_port(ca_server)
    try:
        leaf_pem = ssl.get_server_certificate((host, port), timeout=timeout)
    except OSError as exc:
        raise MasterUnavailable(f"cannot reach the CA at {ca_server}: {exc}") from None
    leaf = pki.load_cert(leaf_pem.encode())
    try:
        ext = leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier(pki.CA_CARRIER_OID))
    except x509.ExtensionNotFound:
        raise ClientError(f"{ca_server} is not a Bunraku master (its certificate carries no CA)") from None
    assert isinstance(ext.value, x509.UnrecognizedExtension)
    ca = pki.load_cert(ext.value.value)
    try:
        leaf.verify_directly_issued_by(ca)
    except Exception:  # noqa: BLE001 - any verification failure means the same thing
        raise ClientError(f"{ca_server}: the server certificate is not signed by the CA it carries") from None
    fp = pki.fingerprint(ca)
    if expected_fingerprint and expected_fingerprint.replace(":", "").upper() != fp.replace(":", ""):
        raise ClientError(f"{ca_server}: CA fingerprint {fp} is not the expected {expected_fingerprint}")
    if not expected_fingerprint:
        log.warning("trusting the CA of %s on first use (fingerprint %s)", ca_server, fp)
    return pki.cert_pem(ca)


def request_certificate(ca_server: str, ca_pem: bytes, certname: str, csr_pem: bytes,
                        *, timeout: float = 30.0) -> Any:
    """Submit a CSR over server-authenticated TLS (the one call without a client certificate)."""
    creds = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    with grpc.secure_channel(ca_server, creds, options=OPTIONS) as channel:
        try:
            return pb_grpc.MasterStub(channel).RequestCertificate(
                pb.CertificateRequest(certname=certname, csr_pem=csr_pem), timeout=timeout)
        except grpc.RpcError as exc:
            code = exc.code()
            cls = MasterUnavailable if code in RETRYABLE else ClientError
            raise cls(f"certificate request to {ca_server} failed: {exc.details()}", code) from None


#: Puppet's notice level (between INFO and WARNING): shown without -v, printed "Notice:"
NOTICE = 25
#: while waiting for the certificate, ask the CA at least this often, and say so as often
CERT_POLL_SECONDS = 5.0


def ensure_certificate(paths: pki.SSLPaths, ca_server: str, *, waitforcert: float = 120.0,
                       challenge: str | None = None, extensions: dict[str, str] | None = None,
                       ca_fingerprint: str | None = None, sleep: Callable[[float], None] = time.sleep,
                       clock: Callable[[], float] = time.monotonic) -> None:
    """Make sure ``paths`` holds a key, the CA and our signed certificate: generate the key and CSR,
    submit it, and ask again until it is signed - every few seconds, each time saying so - for at most
    ``waitforcert`` seconds (plus the last request); 0: ask once (Puppet's ``--waitforcert 0``)."""
    if paths.has_identity():
        return
    if not paths.ca.exists():
        pki.write_public(paths.ca, fetch_ca_on_first_use(ca_server, expected_fingerprint=ca_fingerprint))
    ca_pem = paths.ca.read_bytes()
    key = paths.ensure_key()
    if paths.csr.exists():
        csr_pem = paths.csr.read_bytes()
    else:
        csr_pem = pki.make_csr(key, paths.certname, challenge=challenge, extensions=extensions)
        pki.write_public(paths.csr, csr_pem)
    # Puppet's "Certificate Request fingerprint": the admin compares it with `bunraku cert list` before signing
    fingerprint = pki.fingerprint_csr(pki.load_csr(csr_pem))
    name = paths.certname
    log.log(NOTICE, "certificate request for %s, fingerprint (SHA256) %s", name, fingerprint)
    deadline = clock() + waitforcert
    delay = 1.0
    while True:
        try:
            reply = request_certificate(ca_server, ca_pem, name, csr_pem,
                                        timeout=min(30.0, max(CERT_POLL_SECONDS, deadline - clock())))
        except MasterUnavailable as exc:
            left = deadline - clock()
            if left <= 0:
                raise MasterUnavailable(f"{exc}; gave up waiting for the certificate of {name} "
                                        f"(--waitforcert {waitforcert:g})", exc.code) from None
            log.log(NOTICE, "%s; waiting for the certificate of %s; %.0f s left", exc, name, left)
            sleep(min(delay, left))
            delay = min(delay * 2, CERT_POLL_SECONDS)
            continue
        if reply.status == pb.CertificateReply.SIGNED:
            cert = pki.load_cert(bytes(reply.certificate_pem))
            mine = key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
            theirs = cert.public_key().public_bytes(serialization.Encoding.DER,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
            if mine != theirs:
                raise ClientError("the signed certificate does not match our private key")
            pki.write_public(paths.cert, bytes(reply.certificate_pem))
            if reply.crl_pem:
                pki.write_public(paths.crl, bytes(reply.crl_pem))
            log.log(NOTICE, "received the certificate for %s", name)
            return
        if reply.status == pb.CertificateReply.REJECTED:
            raise ClientError(f"the CA rejected the certificate request for {name}: {reply.message}")
        left = deadline - clock()
        if left <= 0:
            waited = f"after waiting {waitforcert:g} s (--waitforcert)" if waitforcert > 0 else "(--waitforcert 0)"
            raise ClientError(f"the certificate for {name} is not signed yet {waited}; request fingerprint "
                              f"(SHA256) {fingerprint}; exiting (no certificate): sign it on the master "
                              f"(`bunraku cert sign {name}`) and run the agent again")
        log.log(NOTICE, "waiting for the certificate of %s to be signed (fingerprint (SHA256) %s); %.0f s left",
                name, fingerprint, left)
        sleep(min(delay, left))
        delay = min(delay * 2, CERT_POLL_SECONDS)


# -- authenticated calls -----------------------------------------------------------------------------
class MasterClient:
    def __init__(self, servers: str | Sequence[str], paths: pki.SSLPaths, *, timeout: float = 120.0) -> None:
        self.servers = split_servers(servers)
        self.paths = paths
        self.timeout = timeout
        self._channels: dict[str, grpc.Channel] = {}
        self._current = 0
        self.last_server: str | None = None

    def _stub(self, server: str) -> Any:
        channel = self._channels.get(server)
        if channel is None:
            try:
                creds = grpc.ssl_channel_credentials(root_certificates=self.paths.ca.read_bytes(),
                                                     private_key=self.paths.key.read_bytes(),
                                                     certificate_chain=self.paths.cert.read_bytes())
            except OSError as exc:
                raise ClientError(f"no certificate for {self.paths.certname} in {self.paths.ssldir}: "
                                  f"{exc.strerror}") from None
            channel = grpc.secure_channel(server, creds, options=OPTIONS)
            self._channels[server] = channel
        return pb_grpc.MasterStub(channel)

    def _order(self) -> list[str]:
        n = len(self.servers)
        return [self.servers[(self._current + i) % n] for i in range(n)]

    def call(self, method: str, request: Any, *, timeout: float | None = None) -> Any:
        """Call ``method`` on the first master that answers."""
        errors = []
        for server in self._order():
            try:
                reply = getattr(self._stub(server), method)(request, timeout=timeout or self.timeout)
            except grpc.RpcError as exc:
                code = exc.code()
                if code in RETRYABLE:
                    errors.append(f"{server}: {exc.details()}")
                    continue
                raise _refusal(f"{server}: {exc.details()}", exc) from None
            self._current = self.servers.index(server)
            self.last_server = server
            return reply
        raise MasterUnavailable("no master answered (" + "; ".join(errors) + ")")

    def stream(self, method: str, request: Any, *, timeout: float | None = None) -> Iterator[Any]:
        """A server-streaming call on the master that last answered (or the first that does)."""
        errors = []
        for server in self._order():
            try:
                it = getattr(self._stub(server), method)(request, timeout=timeout or self.timeout)
                first = next(it, None)
            except grpc.RpcError as exc:
                code = exc.code()
                if code in RETRYABLE:
                    errors.append(f"{server}: {exc.details()}")
                    continue
                raise _refusal(f"{server}: {exc.details()}", exc) from None
            self.last_server = server
            return _chain(first, it)
        raise MasterUnavailable("no master answered (" + "; ".join(errors) + ")")

    def open_stream(self, method: str, request: Any) -> tuple[str, Any, Any]:
        """A long-lived server-streaming call without a deadline on the first master whose first message
        arrives: (server, the call - iterate it, ``cancel()`` it - and that first message)."""
        errors = []
        for server in self._order():
            try:
                call = getattr(self._stub(server), method)(request)
                first = next(call)
            except StopIteration:
                errors.append(f"{server}: the stream ended at once")
                continue
            except grpc.RpcError as exc:
                code = exc.code()
                if code in RETRYABLE or code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    errors.append(f"{server}: {exc.details()}")
                    continue
                raise ClientError(f"{server}: {exc.details()}", code) from None
            self.last_server = server
            return server, call, first
        raise MasterUnavailable("no master answered (" + "; ".join(errors) + ")")

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def __enter__(self) -> MasterClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    if first is None:
        return
    yield first
    try:
        yield from rest
    except grpc.RpcError as exc:
        raise _refusal(exc.details() or "stream failed", exc) from None
