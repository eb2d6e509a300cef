"""The CA of a running master against anonymous clients on its CA port: nobody can swap their key in
for a node's pending request, the admin can compare the fingerprint the agent prints with the one
`bunraku cert list` shows, and authorization extensions are never granted unless the admin says so."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.e2e.harness import make_site, start_master
from tests.reliability.fleet import bunraku
from tests.security.anonymous import AnonymousClient, public_key_der, raw_csr
from wire import pki
from wire.client import ClientError, MasterClient, MasterUnavailable
from wire.proto import bunraku_pb2 as pb
from wire.proto import bunraku_pb2_grpc as pb_grpc

PENDING, SIGNED, REJECTED = pb.CertificateReply.PENDING, pb.CertificateReply.SIGNED, pb.CertificateReply.REJECTED


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ca-security")


@pytest.fixture(scope="module")
def master(tmp: Path) -> Iterator:
    """A master that autosigns *.auto.test (and nothing else)."""
    make_site(tmp / "envs")
    policy = tmp / "autosign.conf"
    policy.write_text("*.auto.test\n")
    server = start_master(tmp, tmp / "envs", autosign=str(policy))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def anon(master) -> AnonymousClient:  # noqa: ANN001
    return AnonymousClient(master.ca_address)


def _cert(master, *args: str):  # noqa: ANN001, ANN202 - `bunraku cert` on the master's ssldir
    return bunraku("cert", "--ssldir", str(master.config.ssldir), *args)


# -- one request per name ------------------------------------------------------------------------------
def test_a_second_request_cannot_replace_a_pending_one(master, anon: AnonymousClient) -> None:
    name = "web01.example.com"
    node, node_key, node_csr = anon.ask(name)
    assert node.status == PENDING
    thief, thief_key, _ = anon.ask(name)
    assert thief.status == REJECTED
    assert thief.message == (f"{name} already has a requested certificate; ask an admin to run "
                             f"`bunraku cert clean {name}` on the master if this request should replace it")
    # the agent polling with the request it keeps is answered as before: an agent's retry is harmless
    assert anon.submit(name, node_csr).status == PENDING
    master.ctx.ca.sign(name)  # the admin signs what is pending: still the node's request
    signed = anon.submit(name, node_csr)
    assert signed.status == SIGNED
    assert public_key_der(pki.load_cert(bytes(signed.certificate_pem))) == public_key_der(node_key)
    late, _, _ = anon.ask(name, key=thief_key)
    assert late.status == REJECTED and f"{name} already has a signed certificate" in late.message


def test_cert_clean_lets_a_new_request_in(master, anon: AnonymousClient) -> None:
    name = "web02.example.com"
    assert anon.ask(name)[0].status == PENDING
    assert anon.ask(name)[0].status == REJECTED
    cleaned = _cert(master, "clean", name)
    assert cleaned.returncode == 0, cleaned.stderr
    assert anon.ask(name)[0].status == PENDING


def test_cert_list_shows_the_fingerprint_the_agent_prints(master, tmp: Path) -> None:
    name = "db01.example.com"
    base = tmp / "agent-db01"
    (base / "root" / "etc").mkdir(parents=True)
    agent = bunraku("agent", "--server", master.address, "--ca-server", master.ca_address, "--certname", name,
                    "--root", str(base / "root"), "--vardir", str(base / "var"), "--ssldir", str(base / "ssl"),
                    "--onetime", "--waitforcert", "0")
    assert agent.returncode == 1
    printed = re.search(r"request fingerprint \(SHA256\) ([0-9A-F:]{95})", agent.stdout + agent.stderr)
    assert printed is not None, agent.stdout + agent.stderr
    stored = pki.fingerprint_csr(pki.load_csr((base / "ssl" / "certificate_requests" / f"{name}.pem").read_bytes()))
    assert printed.group(1) == stored
    listed = _cert(master, "list")
    line = next(x for x in listed.stdout.splitlines() if name in x)
    assert "requested" in line and f"(SHA256) {stored}" in line


# -- authorization extensions ---------------------------------------------------------------------------
def test_authorization_extensions_are_never_autosigned(master, anon: AnonymousClient) -> None:
    plain, _, _ = anon.ask("app01.auto.test", extensions={"pp_role": "web"})
    assert plain.status == SIGNED  # the policy signs this name...
    name = "app02.auto.test"
    reply, key, csr = anon.ask(name, extensions={"pp_role": "web", "pp_auth_role": "admin"})
    assert reply.status == PENDING  # ...but not a request asking for an authorization extension
    assert f"`bunraku cert sign {name} --allow-authorization-extensions`" in reply.message
    line = next(x for x in _cert(master, "list").stdout.splitlines() if name in x)
    assert "authorization extensions: pp_auth_role" in line
    refused = _cert(master, "sign", name)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == (f"error: the request of {name} carries authorization extension(s) pp_auth_role; "
                              f"sign it with --allow-authorization-extensions only if {name} should have them\n")
    assert anon.submit(name, csr).status == PENDING
    granted = _cert(master, "sign", name, "--allow-authorization-extensions")
    assert granted.returncode == 0, granted.stderr
    signed = anon.submit(name, csr)
    assert signed.status == SIGNED
    cert = pki.load_cert(bytes(signed.certificate_pem))
    assert pki.puppet_extensions(cert.extensions) == {"pp_role": "web", "pp_auth_role": "admin"}
    assert public_key_der(cert) == public_key_der(key)


@pytest.mark.parametrize(("extension", "value", "shown"), [
    ("pp_cli_auth", "true", "pp_cli_auth"),
    (pki.ROLE_OID, "role=admin", pki.ROLE_EXT),
    (pki.CA_CARRIER_OID, "x", pki.CA_CARRIER_OID),
])
def test_requests_asking_for_what_only_the_ca_grants_are_rejected(master, anon: AnonymousClient, extension: str,
                                                                  value: str, shown: str) -> None:
    name = f"grab-{shown.replace('.', '-').replace('_', '-')}.auto.test"
    reply, _, _ = anon.ask(name, extensions={extension: value})
    assert reply.status == REJECTED
    assert reply.message.startswith(f"the request asks for {shown}, which only the CA grants")
    assert name not in {e.name for e in master.ctx.ca.entries()}  # nothing kept that an admin might sign


# -- what the CA keeps on disk -----------------------------------------------------------------------------------
def _refused(anon: AnonymousClient, name: str, csr: bytes) -> str:
    with pytest.raises(ClientError) as err:
        anon.submit(name, csr)
    assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED, str(err.value)
    message = str(err.value)
    assert "\n" not in message and "/tmp" not in message and "Traceback" not in message
    return message


def test_certificate_requests_cannot_fill_the_masters_disk(tmp: Path) -> None:
    server = start_master(tmp / "pending-caps", None, ca_max_pending=5, ca_max_pending_per_network=3)
    try:
        anon = AnonymousClient(server.ca_address)
        ca = server.ctx.ca
        for size in (40_000, 1_000_000):  # over the CA's own limit, over the listener's message limit
            csr = raw_csr(pki.generate_key(), "big.example.com", extensions={"1.2.3.4.5": "A" * size})
            _refused(anon, "big.example.com", csr)
        assert "big.example.com" not in {e.name for e in ca.entries()}
        # from one network (the tests' loopback /24): three requests wait, the fourth is refused
        waiting = [anon.ask(f"n{i}.example.com") for i in range(3)]
        assert [reply.status for reply, _key, _csr in waiting] == [PENDING] * 3
        message = _refused(anon, "n3.example.com", raw_csr(pki.generate_key(), "n3.example.com"))
        assert message.endswith("3 certificate requests from this network are waiting to be signed, as many as "
                                "this CA holds from one network; try again later")
        assert anon.submit("n0.example.com", waiting[0][2]).status == PENDING  # an agent polling is answered
        ca.sign("n0.example.com")  # signed: it no longer waits, there is room again
        assert anon.submit("n0.example.com", waiting[0][2]).status == SIGNED
        assert anon.ask("n3.example.com")[0].status == PENDING
        # in all: requests from anywhere count (two more from elsewhere make five)
        for name in ("far1.example.com", "far2.example.com"):
            assert ca.submit(name, raw_csr(pki.generate_key(), name))[0] == "pending"
        ca.clean("n3.example.com")
        assert ca.submit("far3.example.com", raw_csr(pki.generate_key(), "far3.example.com"))[0] == "pending"
        message = _refused(anon, "n4.example.com", raw_csr(pki.generate_key(), "n4.example.com"))
        assert message.endswith("5 certificate requests are waiting to be signed, as many as this CA holds; "
                                "try again later")
        assert len([e for e in ca.entries() if e.state == "requested"]) == 5
    finally:
        server.stop()


# -- only the master serves TLS ----------------------------------------------------------------------------------
class _Impostor(pb_grpc.MasterServicer):
    def Heartbeat(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return pb.HeartbeatReply()


def _serve_as(key_pem: bytes, cert_pem: bytes) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(2))
    pb_grpc.add_MasterServicer_to_server(_Impostor(), server)
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key_pem, cert_pem)]))
    server.start()
    return server, port


def _identity(base: Path, name: str, key: Any, cert_pem: bytes, ca_pem: bytes) -> pki.SSLPaths:
    paths = pki.SSLPaths(base / name, name)
    pki.write_private(paths.key, pki.key_pem(key))
    pki.write_public(paths.cert, cert_pem)
    pki.write_public(paths.ca, ca_pem)
    return paths


def _old_style_certificate(ca: Any, name: str, key: Any) -> bytes:
    """A node's certificate as this CA made them before: good for serving TLS as well."""
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca.ca_key, hashes.SHA256()))
    return pki.cert_pem(cert)


def test_a_node_certificate_cannot_pose_as_the_master(tmp: Path) -> None:
    make_site(tmp / "envs-posing")
    server = start_master(tmp / "posing", tmp / "envs-posing", autosign="true", dns_alt_names=["puppet.example.com"])
    ids = tmp / "posing-ids"
    try:
        anon = AnonymousClient(server.ca_address)
        # names agents may know the master by are never autosigned, whatever autosign says
        for name in ("localhost", "puppet", "puppet.example.com"):
            assert anon.ask(name)[0].status == PENDING, name
        assert anon.ask("master.test")[0].status == REJECTED  # the master's own: taken
        reply, key, _csr = anon.ask("web01.example.com")
        assert reply.status == SIGNED
        cert = pki.load_cert(bytes(reply.certificate_pem))
        assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == \
            [ExtendedKeyUsageOID.CLIENT_AUTH]
        victim = _identity(ids, "web01.example.com", key, bytes(reply.certificate_pem), anon.ca_pem)
        with MasterClient([server.address], victim, timeout=20) as client:  # a client all the same
            client.call("Heartbeat", pb.HeartbeatRequest())
        # a node named like the master, signed by mistake, serving TLS: the agent refuses it
        impostor_key = pki.generate_key()
        ca = server.ctx.ca
        assert anon.submit("localhost", raw_csr(impostor_key, "localhost")).status == REJECTED  # (one per name)
        ca.clean("localhost")
        assert anon.submit("localhost", raw_csr(impostor_key, "localhost")).status == PENDING
        impostor_cert = ca.sign("localhost")
        _operator_key, operator_cert = ca.generate("ops-posing", role="role=admin")  # operators: clients too
        assert list(pki.load_cert(operator_cert).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) \
            == [ExtendedKeyUsageOID.CLIENT_AUTH]
        for key_pem, cert_pem, served in ((pki.key_pem(impostor_key), impostor_cert, False),
                                          (server.config.ssldir.joinpath("private_keys", "master.test.pem")
                                           .read_bytes(),
                                           server.config.ssldir.joinpath("certs", "master.test.pem").read_bytes(),
                                           True)):
            fake, port = _serve_as(key_pem, cert_pem)
            try:
                with MasterClient([f"localhost:{port}"], victim, timeout=5) as client:
                    if served:  # the master's own certificate (the test's control)
                        client.call("Heartbeat", pb.HeartbeatRequest())
                    else:
                        with pytest.raises(MasterUnavailable):
                            client.call("Heartbeat", pb.HeartbeatRequest())
            finally:
                fake.stop(0)
        # certificates made before (good for serving too) keep working as clients
        old_key = pki.generate_key()
        old = _identity(ids, "old01.example.com", old_key, _old_style_certificate(ca, "old01.example.com", old_key),
                        anon.ca_pem)
        with MasterClient([server.address], old, timeout=20) as client:
            client.call("Heartbeat", pb.HeartbeatRequest())
    finally:
        server.stop()
