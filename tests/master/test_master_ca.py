"""The built-in CA: setup, requests, signing, revocation, and every autosign mode."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography import x509

from master.ca import AutosignPolicy, CAError, CertificateAuthority
from wire import pki


def _csr(name: str, **kw) -> bytes:
    return pki.make_csr(pki.generate_key(), name, **kw)


@pytest.fixture()
def ca(tmp_path: Path) -> CertificateAuthority:
    authority = CertificateAuthority(tmp_path / "ssl")
    authority.setup("master.test", ["puppet"])
    return authority


def test_setup_creates_ca_server_cert_with_sans_and_crl(ca: CertificateAuthority, tmp_path: Path) -> None:
    cert = pki.load_cert((tmp_path / "ssl" / "certs" / "master.test.pem").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "master.test", "puppet"} <= set(sans.get_values_for_type(x509.DNSName))
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    cert.verify_directly_issued_by(ca.ca_cert)
    assert ca.revoked_serials() == frozenset()
    assert (tmp_path / "ssl" / "crl.pem").exists()


def test_request_waits_until_signed_then_is_returned(ca: CertificateAuthority) -> None:
    key = pki.generate_key()
    csr = pki.make_csr(key, "web01", extensions={"pp_role": "web"})
    status, cert, message = ca.submit("web01", csr)
    assert (status, cert) == ("pending", None)
    assert "bunraku cert sign web01" in message
    assert [e.state for e in ca.entries() if e.name == "web01"] == ["requested"]
    ca.sign("web01")
    status, cert, _ = ca.submit("web01", csr)  # the same key asks again: gets its certificate
    assert status == "signed" and cert is not None
    assert pki.puppet_extensions(pki.load_cert(cert).extensions) == {"pp_role": "web"}


def test_a_second_key_for_a_signed_name_is_rejected(ca: CertificateAuthority) -> None:
    ca.submit("web01", _csr("web01"))
    ca.sign("web01")
    status, _, message = ca.submit("web01", _csr("web01"))
    assert status == "rejected" and "bunraku cert clean web01" in message


def test_cn_mismatch_and_operator_extension_are_rejected(ca: CertificateAuthority) -> None:
    assert ca.submit("web01", _csr("db01"))[0] == "rejected"
    with pytest.raises(pki.PkiError):
        _csr("web01", extensions={"pp_cli_auth": "true"})
    with pytest.raises(CAError, match="not valid"):
        ca.submit("../etc", _csr("x"))


def test_revoke_lists_the_serial_and_clean_forgets(ca: CertificateAuthority) -> None:
    ca.submit("web01", _csr("web01"))
    ca.sign("web01")
    serial = ca.revoke("web01")
    assert serial in ca.revoked_serials()
    assert [e.state for e in ca.entries() if e.name == "web01"] == ["revoked"]
    ca.clean("web01")
    assert ca.submit("web01", _csr("web01"))[0] == "pending"
    with pytest.raises(CAError, match="no certificate or request"):
        ca.clean("nobody")


def test_autosign_true(ca: CertificateAuthority) -> None:
    ca.autosign = AutosignPolicy.parse("true")
    assert ca.submit("any.example.com", _csr("any.example.com"))[0] == "signed"


def test_autosign_off_by_default(ca: CertificateAuthority) -> None:
    assert ca.submit("any.example.com", _csr("any.example.com"))[0] == "pending"


def test_autosign_file_of_globs(ca: CertificateAuthority, tmp_path: Path) -> None:
    conf = tmp_path / "autosign.conf"
    conf.write_text("# web servers\n*.web.example.com\ndb01.example.com\n")
    ca.autosign = AutosignPolicy.parse(str(conf))
    assert ca.submit("a.web.example.com", _csr("a.web.example.com"))[0] == "signed"
    assert ca.submit("db01.example.com", _csr("db01.example.com"))[0] == "signed"
    assert ca.submit("db02.example.com", _csr("db02.example.com"))[0] == "pending"


def test_autosign_executable_policy_gets_name_and_csr(ca: CertificateAuthority, tmp_path: Path) -> None:
    policy = tmp_path / "policy.sh"
    policy.write_text('#!/bin/sh\ngrep -q "BEGIN CERTIFICATE REQUEST" && [ "$1" = "ok.example.com" ]\n')
    policy.chmod(0o755)
    ca.autosign = AutosignPolicy.parse(str(policy))
    assert ca.submit("ok.example.com", _csr("ok.example.com"))[0] == "signed"
    assert ca.submit("no.example.com", _csr("no.example.com"))[0] == "pending"


def test_autosign_challenge_attribute_or_extension(ca: CertificateAuthority) -> None:
    ca.autosign = AutosignPolicy.parse(None, ["s3cret"])
    assert ca.submit("a1", _csr("a1", challenge="s3cret"))[0] == "signed"
    assert ca.submit("a2", _csr("a2", extensions={"pp_preshared_key": "s3cret"}))[0] == "signed"
    assert ca.submit("a3", _csr("a3", challenge="wrong"))[0] == "pending"
    assert ca.submit("a4", _csr("a4"))[0] == "pending"
    cert = pki.load_cert(ca.certificate("a2") or b"")
    assert "pp_preshared_key" not in pki.puppet_extensions(cert.extensions)  # the secret is not copied


def test_reserved_names_are_never_autosigned(ca: CertificateAuthority) -> None:
    ca.autosign = AutosignPolicy.parse("true")
    ca.reserved_names = {"admin"}
    assert ca.submit("admin", _csr("admin"))[0] == "pending"


def test_operator_certificate_carries_pp_cli_auth(ca: CertificateAuthority) -> None:
    _key, cert = ca.generate("admin", operator=True)
    assert pki.puppet_extensions(pki.load_cert(cert).extensions) == {"pp_cli_auth": "true"}
