"""An anonymous client of a master's CA port, as a new agent is (no certificate yet): certificate requests
built by hand (any name, any extension, as an attacker would build them) and submitted over server TLS
exactly as the agent submits its own."""

from __future__ import annotations

import warnings
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import AttributeOID, NameOID, ObjectIdentifier

from wire import pki
from wire.client import fetch_ca_on_first_use, request_certificate


def raw_csr(key: Any, common_name: str, *, extensions: dict[str, str] | None = None,
            challenge: str | None = None) -> bytes:
    """A CSR for ``common_name`` carrying ``extensions`` ({dotted OID or Puppet short name: value})
    without the checks of :func:`pki.make_csr`: what a hostile client can send."""
    with warnings.catch_warnings():  # a CN longer than X.509 allows is the point of some requests
        warnings.simplefilter("ignore", UserWarning)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name, _validate=False)])
    builder = x509.CertificateSigningRequestBuilder().subject_name(name)
    for ext_name, value in (extensions or {}).items():
        oid = pki.OIDS_BY_NAME.get(ext_name, ext_name)
        builder = builder.add_extension(x509.UnrecognizedExtension(ObjectIdentifier(oid), pki.der_utf8(value)),
                                        critical=False)
    if challenge:
        builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


class AnonymousClient:
    """Learns the CA from the master's certificate (trust on first use) and submits requests."""

    def __init__(self, ca_address: str) -> None:
        self.ca_address = ca_address
        self.ca_pem = fetch_ca_on_first_use(ca_address)

    def submit(self, certname: str, csr_pem: bytes) -> Any:
        """The master's CertificateReply; raises wire.client.ClientError when the call is refused."""
        return request_certificate(self.ca_address, self.ca_pem, certname, csr_pem, timeout=20)

    def ask(self, certname: str, *, key: Any = None, **csr: Any) -> tuple[Any, Any, bytes]:
        """(reply, key, csr) for a fresh request for ``certname`` (CN the same)."""
        key = key or pki.generate_key()
        csr_pem = raw_csr(key, certname, **csr)
        return self.submit(certname, csr_pem), key, csr_pem


def public_key_der(obj: Any) -> bytes:
    return bytes(obj.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo))
