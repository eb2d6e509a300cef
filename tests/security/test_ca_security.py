"""The CA of a running master against anonymous clients on its CA port: nobody can swap their key in
for a node's pending request, the admin can compare the fingerprint the agent prints with the one
`bunraku cert list` shows, and authorization extensions are never granted unless the admin says so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from master.proto import bunraku_pb2 as pb
from master.rpc import pki
from tests.e2e.harness import make_site, start_master
from tests.reliability.fleet import bunraku
from tests.security.anonymous import AnonymousClient, public_key_der

pytest.importorskip("master.store")

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
