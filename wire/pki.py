"""Keys, certificate requests and certificates, as both sides of the built-in CA need them.

An ssldir (agent, operator or master) is laid out as Puppet's::

    certs/<certname>.pem   certs/ca.pem   crl.pem
    private_keys/<certname>.pem   certificate_requests/<certname>.pem
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AttributeOID, NameOID, ObjectIdentifier

#: Puppet's registered arc for certificate extensions (1.3.6.1.4.1.34380.1.1.* pp_*, .1.3.* auth).
PUPPET_ARC = "1.3.6.1.4.1.34380.1."
#: Puppet's short names for the registered extensions, so $trusted['extensions']['pp_role'] works.
SHORT_NAMES = {
    "1.3.6.1.4.1.34380.1.1.1": "pp_uuid", "1.3.6.1.4.1.34380.1.1.2": "pp_instance_id",
    "1.3.6.1.4.1.34380.1.1.3": "pp_image_name", "1.3.6.1.4.1.34380.1.1.4": "pp_preshared_key",
    "1.3.6.1.4.1.34380.1.1.5": "pp_cost_center", "1.3.6.1.4.1.34380.1.1.6": "pp_product",
    "1.3.6.1.4.1.34380.1.1.7": "pp_project", "1.3.6.1.4.1.34380.1.1.8": "pp_application",
    "1.3.6.1.4.1.34380.1.1.9": "pp_service", "1.3.6.1.4.1.34380.1.1.10": "pp_employee",
    "1.3.6.1.4.1.34380.1.1.11": "pp_created_by", "1.3.6.1.4.1.34380.1.1.12": "pp_environment",
    "1.3.6.1.4.1.34380.1.1.13": "pp_role", "1.3.6.1.4.1.34380.1.1.14": "pp_software_version",
    "1.3.6.1.4.1.34380.1.1.15": "pp_department", "1.3.6.1.4.1.34380.1.1.16": "pp_cluster",
    "1.3.6.1.4.1.34380.1.1.17": "pp_provisioner", "1.3.6.1.4.1.34380.1.1.18": "pp_region",
    "1.3.6.1.4.1.34380.1.1.19": "pp_datacenter", "1.3.6.1.4.1.34380.1.1.20": "pp_zone",
    "1.3.6.1.4.1.34380.1.1.21": "pp_network", "1.3.6.1.4.1.34380.1.1.22": "pp_securitypolicy",
    "1.3.6.1.4.1.34380.1.1.23": "pp_cloudplatform", "1.3.6.1.4.1.34380.1.1.24": "pp_apptier",
    "1.3.6.1.4.1.34380.1.1.25": "pp_hostname",
    "1.3.6.1.4.1.34380.1.3.13": "pp_auth_role", "1.3.6.1.4.1.34380.1.3.39": "pp_cli_auth",
}
OIDS_BY_NAME = {name: oid for oid, name in SHORT_NAMES.items()}
#: Puppet's pp_cli_auth: the CA sets it on operator certificates; it is never copied from a CSR.
OPERATOR_OID = OIDS_BY_NAME["pp_cli_auth"]
#: Private extension on the master's server certificate carrying the CA certificate (DER), so a new
#: agent can learn the CA on first contact (trust on first use, pinned by --ca-fingerprint).
CA_CARRIER_OID = "1.3.6.1.4.1.34380.1.2.99"
#: A pre-shared autosign challenge may also travel as this extension (Puppet's pp_preshared_key).
CHALLENGE_EXT_OID = OIDS_BY_NAME["pp_preshared_key"]
#: Private extension on operator certificates: their role and groups, ``role=operator;groups=web,db``
#: (see :func:`parse_role`). Only the CA sets it; it is never copied from a CSR.
ROLE_OID = "1.3.6.1.4.1.34380.1.2.100"
ROLE_EXT = "bunraku_role"
SHORT_NAMES[ROLE_OID] = ROLE_EXT
#: What each role may do, from least to most (each includes the ones before it).
ROLES = ("viewer", "operator", "admin")
#: Roles outside that ladder: ``publisher`` (a CI job) pushes application artifacts and does nothing else;
#: operators and admins may publish too.
SIDE_ROLES = ("publisher",)
#: Extensions only the CA grants: refused in CSRs, never copied from one.
CA_ONLY_OIDS = frozenset({OPERATOR_OID, CA_CARRIER_OID, ROLE_OID})
#: Puppet's ppAuthCertExt arc (pp_auth_role ...): what a certificate may do. A CSR asking for one is
#: never autosigned, and signed only when the admin says so (``--allow-authorization-extensions``).
AUTH_ARC = "1.3.6.1.4.1.34380.1.3."


class PkiError(Exception):
    """A key, request or certificate is missing or malformed."""


@dataclass(frozen=True, slots=True)
class OperatorRole:
    """An operator's role and, when limited, the node groups it may act on (None: every group)."""

    role: str
    groups: frozenset[str] | None = None

    def allows(self, needed: str) -> bool:
        if needed == "publisher":
            return self.role in ("publisher", "operator", "admin")
        if self.role in SIDE_ROLES:
            return False
        return ROLES.index(self.role) >= ROLES.index(needed)

    def covers(self, group: str | None) -> bool:
        return self.groups is None or (group is not None and group in self.groups)

    def __str__(self) -> str:
        return self.role + (f";groups={','.join(sorted(self.groups))}" if self.groups is not None else "")


def parse_role(text: str) -> OperatorRole:
    """``role=operator;groups=web,db`` (groups optional; ``groups=*`` or none: every group)."""
    fields: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in ("role", "groups"):
            raise PkiError(f"operator role {text!r}: expected role=ROLE;groups=G1,G2")
        fields[key.strip()] = value.strip()
    role = fields.get("role", "")
    if role not in ROLES + SIDE_ROLES:
        raise PkiError(f"operator role {role!r} is not one of {', '.join(ROLES + SIDE_ROLES)}")
    groups_text = fields.get("groups")
    if groups_text is None or groups_text == "*":
        return OperatorRole(role)
    groups = frozenset(g.strip() for g in groups_text.split(",") if g.strip())
    if not groups:
        raise PkiError(f"operator role {text!r}: groups= names no group")
    return OperatorRole(role, groups)


def role_text(role: str, groups: list[str] | tuple[str, ...] | None = None) -> str:
    """The extension value for ``role`` limited to ``groups`` (validated)."""
    text = f"role={role}" + (f";groups={','.join(groups)}" if groups else "")
    parse_role(text)
    return text


def der_utf8(text: str) -> bytes:
    """DER UTF8String, the encoding Puppet gives extension values."""
    data = text.encode("utf-8")
    n = len(data)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return b"\x0c" + length + data


def from_der_value(value: bytes) -> str:
    """Decode a DER string extension value (UTF8String, PrintableString, IA5String ...) or raw text."""
    if len(value) >= 2 and value[0] in (0x0C, 0x13, 0x16, 0x14, 0x1E):
        first = value[1]
        if first < 0x80:
            body = value[2:2 + first]
        else:
            k = first & 0x7F
            size = int.from_bytes(value[2:2 + k], "big")
            body = value[2 + k:2 + k + size]
        return body.decode("utf-16-be" if value[0] == 0x1E else "utf-8", "replace")
    return value.decode("utf-8", "replace")


# -- keys and PEM files -----------------------------------------------------------------------------
def generate_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: Any) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_private(path: Path, data: bytes) -> None:
    """Write a secret (mode 0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def load_cert(data: bytes) -> x509.Certificate:
    try:
        if data.lstrip().startswith(b"-----"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise PkiError(f"not a certificate: {exc}") from None


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    try:
        return x509.load_pem_x509_csr(data)
    except ValueError as exc:
        raise PkiError(f"not a certificate request: {exc}") from None


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def common_name(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attrs:
        raise PkiError("the certificate or request has no common name (CN)")
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode("utf-8")


def fingerprint(cert: x509.Certificate) -> str:
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def make_csr(key: Any, certname: str, *, challenge: str | None = None,
             extensions: dict[str, str] | None = None) -> bytes:
    """A CSR for ``certname``; ``extensions`` are Puppet extension requests (``pp_role: web``)."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, certname)]))
    for name, value in (extensions or {}).items():
        oid = OIDS_BY_NAME.get(name, name)
        if not oid.startswith(PUPPET_ARC) or oid in CA_ONLY_OIDS:
            raise PkiError(f"extension {name!r} is not a Puppet extension request (pp_*)")
        builder = builder.add_extension(x509.UnrecognizedExtension(ObjectIdentifier(oid), der_utf8(value)),
                                        critical=False)
    if challenge:
        builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode("utf-8"))
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def csr_challenge(csr: x509.CertificateSigningRequest) -> str | None:
    """The pre-shared challenge of a CSR: the challengePassword attribute or the pp_preshared_key one."""
    try:
        attr = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD)
        value = attr.value
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    except x509.AttributeNotFound:
        pass
    for ext in csr.extensions:
        if ext.oid.dotted_string == CHALLENGE_EXT_OID and isinstance(ext.value, x509.UnrecognizedExtension):
            return from_der_value(ext.value.value)
    return None


def extension_name(oid: str) -> str:
    """Puppet's short name of an extension (``pp_auth_role``), else its dotted OID."""
    return SHORT_NAMES.get(oid, oid)


def ca_only_extensions(exts: x509.Extensions) -> list[str]:
    """The extensions of a request that only the CA grants (see :data:`CA_ONLY_OIDS`), by name."""
    return [extension_name(ext.oid.dotted_string) for ext in exts if ext.oid.dotted_string in CA_ONLY_OIDS]


def authorization_extensions(exts: x509.Extensions) -> list[str]:
    """The authorization extensions (Puppet's ``1.3.6.1.4.1.34380.1.3`` arc) of a request, by name."""
    return [extension_name(ext.oid.dotted_string) for ext in exts
            if (ext.oid.dotted_string + ".").startswith(AUTH_ARC) and ext.oid.dotted_string not in CA_ONLY_OIDS]


def puppet_extensions(exts: x509.Extensions) -> dict[str, str]:
    """Puppet-arc extensions by short name (or dotted OID), as $trusted['extensions'] shows them."""
    out: dict[str, str] = {}
    for ext in exts:
        oid = ext.oid.dotted_string
        if oid.startswith(PUPPET_ARC) and oid != CA_CARRIER_OID and isinstance(ext.value, x509.UnrecognizedExtension):
            out[SHORT_NAMES.get(oid, oid)] = from_der_value(ext.value.value)
    return out


@dataclass(frozen=True, slots=True)
class SSLPaths:
    """An agent's (or operator's) ssldir."""

    ssldir: Path
    certname: str

    @property
    def key(self) -> Path:
        return self.ssldir / "private_keys" / f"{self.certname}.pem"

    @property
    def cert(self) -> Path:
        return self.ssldir / "certs" / f"{self.certname}.pem"

    @property
    def csr(self) -> Path:
        return self.ssldir / "certificate_requests" / f"{self.certname}.pem"

    @property
    def ca(self) -> Path:
        return self.ssldir / "certs" / "ca.pem"

    @property
    def crl(self) -> Path:
        return self.ssldir / "crl.pem"

    def ensure_key(self) -> Any:
        if self.key.exists():
            return serialization.load_pem_private_key(self.key.read_bytes(), password=None)
        key = generate_key()
        write_private(self.key, key_pem(key))
        return key

    def has_identity(self) -> bool:
        return self.key.exists() and self.cert.exists() and self.ca.exists()


def fingerprint_csr(csr: x509.CertificateSigningRequest) -> str:
    digest = hashlib.sha256(csr.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
