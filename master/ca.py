"""The built-in certificate authority: the CA key and certificate, the master's server certificate,
pending requests, signing (by hand or by an autosign policy), revocation and the CRL.

Layout under the master's ssldir (Puppet's)::

    ca/ca_key.pem ca/ca_crt.pem ca/ca_crl.pem ca/serial ca/requests/<name>.pem ca/signed/<name>.pem
    certs/<master>.pem private_keys/<master>.pem certs/ca.pem crl.pem

Everything is a file so that ``bunraku cert ...`` on the same host works on it directly while the
master runs; a file lock serialises writers and the master re-reads the CRL when it changes.
"""

from __future__ import annotations

import datetime
import fcntl
import fnmatch
import ipaddress
import logging
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from wire import pki

log = logging.getLogger(__name__)

CA_YEARS = 15
CERT_YEARS = 5
#: a certname: lowercase DNS-like labels (plus '_'); matched whole (``fullmatch``), so no trailing newline
CERTNAME_RE = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
#: The certname is the certificate's common name, which X.509 caps at 64 characters (ub-common-name,
#: RFC 5280; OpenSSL, hence Puppet, enforces it too), so that is the longest name, well under DNS's 253;
#: each dot-separated label at most 63, as in DNS.
CERTNAME_MAX = 64
CERTNAME_LABEL_MAX = 63
AUTOSIGN_TIMEOUT = 30.0
#: the largest certificate request taken (a request with a 4096-bit key and Puppet's extensions is ~2 KiB);
#: checked before it is parsed
CSR_MAX_BYTES = 16 * 1024
#: names agents may know the master by whatever its certname: never autosigned for a node
MASTER_NAMES = frozenset({"localhost", "puppet"})


class CAError(Exception):
    """Something a user asked of the CA cannot be done (one line, no traceback)."""


class InvalidCertname(CAError):
    """A certname that is not a valid name (the caller's mistake, not the CA's state)."""


class CAFull(CAError):
    """The CA takes no such request now: too large, or too many waiting (RESOURCE_EXHAUSTED)."""


@dataclass(frozen=True, slots=True)
class CertEntry:
    name: str
    state: str  # requested | signed | revoked
    fingerprint: str
    not_after: str
    serial: int | None
    #: a request's authorization extensions (pp_auth_role ...): signing them takes an explicit flag
    authorization: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AutosignPolicy:
    """Autosign: off (None), everything (True), a file of names/globs, an executable, and/or a challenge."""

    rule: bool | Path | None = None
    challenges: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: Any, challenges: Sequence[str] = ()) -> AutosignPolicy:
        if value in (None, False, "false", "off", ""):
            rule: bool | Path | None = None
        elif value in (True, "true", "on"):
            rule = True
        else:
            rule = Path(str(value))
        return cls(rule, tuple(c for c in challenges if c))

    def allows(self, certname: str, csr_pem: bytes, csr: x509.CertificateSigningRequest) -> tuple[bool, str]:
        if self.challenges:
            challenge = pki.csr_challenge(csr)
            if challenge is not None and challenge in self.challenges:
                return True, "pre-shared challenge"
        if self.rule is True:
            return True, "autosign=true"
        if isinstance(self.rule, Path):
            path = self.rule
            if not path.exists():
                log.warning("autosign policy %s does not exist; not signing %s", path, certname)
                return False, ""
            if os.access(path, os.X_OK) and path.is_file():
                try:
                    proc = subprocess.run([str(path), certname], input=csr_pem, capture_output=True,
                                          timeout=AUTOSIGN_TIMEOUT, check=False)
                except (OSError, subprocess.TimeoutExpired) as exc:
                    log.warning("autosign policy %s failed for %s: %s", path, certname, exc)
                    return False, ""
                if proc.returncode == 0:
                    return True, f"policy executable {path}"
                return False, ""
            for line in path.read_text(encoding="utf-8").splitlines():
                pattern = line.split("#", 1)[0].strip()
                if pattern and fnmatch.fnmatchcase(certname, pattern):
                    return True, f"autosign.conf entry {pattern!r}"
        return False, ""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _shown(name: str) -> str:
    """A name for a message: quoted (so a newline shows as \\n) and cut short."""
    return repr(name if len(name) <= 64 else name[:64] + "...")


def _taken(certname: str, state: str) -> str:
    return (f"{certname} already has a {state} certificate; ask an admin to run `bunraku cert clean {certname}` "
            "on the master if this request should replace it")


def _same_key(a: Any, b: Any) -> bool:
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return bool(a.public_bytes(*spki) == b.public_bytes(*spki))


def _request_der(path: Path) -> bytes | None:
    try:
        return pki.load_csr(path.read_bytes()).public_bytes(serialization.Encoding.DER)
    except pki.PkiError:  # a damaged request file still holds the name until `cert clean`
        return None


class CertificateAuthority:
    def __init__(self, ssldir: Path | str, *, autosign: AutosignPolicy | None = None,
                 max_pending: int | None = None, max_pending_per_network: int | None = None) -> None:
        self.ssldir = Path(ssldir)
        self.dir = self.ssldir / "ca"
        self.autosign = autosign or AutosignPolicy()
        #: requests waiting to be signed, in all and sent from one network (None: no limit); see submit
        self.max_pending = max_pending
        self.max_pending_per_network = max_pending_per_network
        self._request_sources: dict[str, str] = {}  # name -> network of a request this process stored
        self._crl_cache: tuple[tuple[int, int, int], frozenset[int]] | None = None
        self._mutex = threading.Lock()
        self._ca_cert: x509.Certificate | None = None
        self._ca_key: Any = None
        #: names never autosigned (operators, the master itself): only `bunraku cert sign` signs them
        self.reserved_names: set[str] = set()

    # -- files ----------------------------------------------------------------------------------------
    @property
    def ca_cert_path(self) -> Path:
        return self.dir / "ca_crt.pem"

    @property
    def ca_key_path(self) -> Path:
        return self.dir / "ca_key.pem"

    @property
    def crl_path(self) -> Path:
        return self.dir / "ca_crl.pem"

    def _request_path(self, name: str) -> Path:
        return self.dir / "requests" / f"{name}.pem"

    def _signed_path(self, name: str) -> Path:
        return self.dir / "signed" / f"{name}.pem"

    def exists(self) -> bool:
        return self.ca_cert_path.exists() and self.ca_key_path.exists()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        with self._mutex, open(self.dir / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _require(self) -> None:
        if not self.exists():
            raise CAError(f"no CA under {self.dir}; start `bunraku master` once (or run `bunraku cert setup`)")

    @property
    def ca_cert(self) -> x509.Certificate:
        if self._ca_cert is None:
            self._require()
            self._ca_cert = pki.load_cert(self.ca_cert_path.read_bytes())
        return self._ca_cert

    @property
    def ca_key(self) -> Any:
        if self._ca_key is None:
            self._require()
            self._ca_key = serialization.load_pem_private_key(self.ca_key_path.read_bytes(), password=None)
        return self._ca_key

    def ca_pem(self) -> bytes:
        return pki.cert_pem(self.ca_cert)

    # -- setup --------------------------------------------------------------------------------------
    def setup(self, master_certname: str, dns_alt_names: Sequence[str] = ()) -> pki.SSLPaths:
        """Create the CA (first start) and the master's server certificate if they are missing."""
        with self._locked():
            if not self.exists():
                key = pki.generate_key()
                name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Bunraku CA: {master_certname}")])
                now = _now()
                cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                        .public_key(key.public_key()).serial_number(1)
                        .not_valid_before(now - datetime.timedelta(minutes=5))
                        .not_valid_after(now + datetime.timedelta(days=365 * CA_YEARS))
                        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                       critical=True)
                        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                        .sign(key, hashes.SHA256()))
                pki.write_private(self.ca_key_path, pki.key_pem(key))
                pki.write_public(self.ca_cert_path, pki.cert_pem(cert))
                (self.dir / "serial").write_text("2\n")
                self._ca_cert, self._ca_key = cert, key
                self._write_crl(set())
                log.info("created the CA under %s", self.dir)
        paths = pki.SSLPaths(self.ssldir, master_certname)
        if not paths.cert.exists() or not paths.key.exists():
            key = paths.ensure_key()
            sans: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(master_certname),
                                            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                            x509.IPAddress(ipaddress.ip_address("::1"))]
            # `puppet`, the name agents and operators ask for unless told otherwise (as Puppet's CA does)
            for alt in dict.fromkeys(n for n in ("puppet", *dns_alt_names) if n != master_certname):
                try:
                    sans.append(x509.IPAddress(ipaddress.ip_address(alt)))
                except ValueError:
                    sans.append(x509.DNSName(alt))
            with self._locked():
                cert = self._issue(master_certname, key.public_key(), server=True, sans=sans)
                self._record(master_certname, cert)
            pki.write_public(paths.cert, pki.cert_pem(cert))
        pki.write_public(paths.ca, self.ca_pem())
        return paths

    # -- issuing --------------------------------------------------------------------------------------
    def _next_serial(self) -> int:
        path = self.dir / "serial"
        serial = int(path.read_text().strip() or "2") if path.exists() else 2
        path.write_text(f"{serial + 1}\n")
        return serial

    def _issue(self, certname: str, public_key: Any, *, server: bool = False, operator: bool = False,
               sans: Sequence[x509.GeneralName] = (), extensions: dict[str, bytes] | None = None
               ) -> x509.Certificate:
        now = _now()
        # Only the master's own certificate may serve TLS. A node's (or an operator's) is a client's alone,
        # so that it cannot pose as the master to agents: TLS checks a server certificate's purpose.
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:
            usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, certname)]))
                   .issuer_name(self.ca_cert.subject).public_key(public_key)
                   .serial_number(self._next_serial())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=365 * CERT_YEARS))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                                  critical=False))
        names = list(sans) or [x509.DNSName(certname)]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        if server:
            der = self.ca_cert.public_bytes(serialization.Encoding.DER)
            builder = builder.add_extension(
                x509.UnrecognizedExtension(ObjectIdentifier(pki.CA_CARRIER_OID), der), critical=False)
        for oid, value in (extensions or {}).items():
            builder = builder.add_extension(x509.UnrecognizedExtension(ObjectIdentifier(oid), value),
                                            critical=False)
        if operator:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(ObjectIdentifier(pki.OPERATOR_OID), pki.der_utf8("true")),
                critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())

    def _record(self, certname: str, cert: x509.Certificate) -> None:
        pki.write_public(self._signed_path(certname), pki.cert_pem(cert))
        with open(self.dir / "inventory.txt", "a", encoding="utf-8") as fh:
            fh.write(f"0x{cert.serial_number:04x} {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} "
                     f"{cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ} /CN={certname}\n")

    @staticmethod
    def check_name(certname: str) -> None:
        """Refuse what is not a certname. The whole string must match (``web01\\n`` is not ``web01``), and
        the length is checked here (see :data:`CERTNAME_MAX`) rather than found out by the file system."""
        if len(certname) > CERTNAME_MAX:
            raise InvalidCertname(f"a certname of {len(certname)} characters is too long (at most "
                                  f"{CERTNAME_MAX}, the most a certificate's common name holds)")
        if CERTNAME_RE.fullmatch(certname) is None:
            raise InvalidCertname(f"certname {_shown(certname)} is not valid (lowercase letters, digits, '-' "
                                  "and '_', in labels separated by single dots)")
        longest = max(certname.split("."), key=len)
        if len(longest) > CERTNAME_LABEL_MAX:
            raise InvalidCertname(f"certname {_shown(certname)} has a label of {len(longest)} characters "
                                  f"(at most {CERTNAME_LABEL_MAX} between dots)")

    def submit(self, certname: str, csr_pem: bytes, *, source: str | None = None) -> tuple[str, bytes | None, str]:
        """An agent's request: ('signed', cert, '') | ('pending', None, why) | ('rejected', None, why).

        A name holds one request or one certificate at a time. A request for a name that already has a
        pending request or a certificate is rejected until an admin runs ``bunraku cert clean NAME``, so
        nobody can swap their own key in for a node's while the admin is about to sign it. The same
        request sent again (an agent polling with the CSR it keeps in its ssldir: same key, same bytes)
        is answered as the first one was: still pending, or its certificate once signed.

        A request carrying authorization extensions (pp_auth_role ...) waits for an admin however
        autosign is set; one asking for what only the CA grants (pp_cli_auth, the operator role) is
        rejected. Raises :class:`InvalidCertname` when ``certname`` is not a name.

        What it keeps on disk is bounded: a request larger than CSR_MAX_BYTES is refused unread, and a new
        request is refused while ``max_pending`` wait to be signed, or ``max_pending_per_network`` sent
        from ``source`` (the client's network, see :func:`master.connguard.network_key`); both raise
        :class:`CAFull`. The same request sent again is answered all the same."""
        self.check_name(certname)
        if len(csr_pem) > CSR_MAX_BYTES:
            raise CAFull(f"the certificate request is {len(csr_pem)} bytes, more than the {CSR_MAX_BYTES} "
                         "this CA takes")
        try:
            csr = pki.load_csr(csr_pem)
            cn = pki.common_name(csr.subject)
        except pki.PkiError as exc:
            return "rejected", None, str(exc)
        if cn != certname:
            return "rejected", None, f"the request's CN {_shown(cn)} does not match certname {certname!r}"
        if not csr.is_signature_valid:
            return "rejected", None, "the request's signature is not valid"
        granted = pki.ca_only_extensions(csr.extensions)
        if granted:
            log.warning("rejected a certificate request from %s asking for %s", certname, ", ".join(granted))
            return "rejected", None, (f"the request asks for {', '.join(granted)}, which only the CA grants "
                                      "(operator certificates are made on the master with `bunraku cert generate`)")
        der = csr.public_bytes(serialization.Encoding.DER)
        pem = csr.public_bytes(serialization.Encoding.PEM)
        with self._locked():
            signed = self._signed_path(certname)
            if signed.exists():
                cert = pki.load_cert(signed.read_bytes())
                if _same_key(cert.public_key(), csr.public_key()) and \
                        cert.serial_number not in self.revoked_serials():
                    return "signed", pki.cert_pem(cert), ""
                log.warning("rejected a second certificate request for %s: it already has a certificate", certname)
                return "rejected", None, _taken(certname, "signed")
            request = self._request_path(certname)
            if request.exists():
                if _request_der(request) != der:
                    log.warning("rejected a second certificate request for %s: one is already pending", certname)
                    return "rejected", None, _taken(certname, "requested")
            else:
                self._check_room(certname, source)
                pki.write_public(request, pem)
                if source is not None:
                    self._request_sources[certname] = source
                log.info("certificate request from %s, fingerprint (SHA256) %s", certname,
                         pki.fingerprint_csr(csr))
        authorization = pki.authorization_extensions(csr.extensions)
        if authorization:
            return "pending", None, (f"the request carries authorization extension(s) {', '.join(authorization)}, "
                                     "which autosign never grants: waiting for an admin to sign it with "
                                     f"`bunraku cert sign {certname} --allow-authorization-extensions`")
        ok, why = (False, "") if certname in self.reserved_names else self.autosign.allows(certname, pem, csr)
        if ok:
            try:
                cert_pem = self._sign(certname, expected=der)
            except CAError as exc:  # cleaned or signed while the policy ran: the next poll tells
                log.info("not autosigning %s: %s", certname, exc)
            else:
                log.info("autosigned %s (%s)", certname, why)
                return "signed", cert_pem, ""
        log.info("certificate request from %s is waiting to be signed", certname)
        return "pending", None, f"waiting for `bunraku cert sign {certname}` on the master"

    def sign(self, certname: str, *, allow_authorization_extensions: bool = False) -> bytes:
        """Sign the pending request of ``certname``. Its Puppet extension requests (pp_role ...) are
        copied; authorization extensions (pp_auth_role ...) only when the admin allows them; what only
        the CA grants (pp_cli_auth, the operator role, the CA carrier) never."""
        self.check_name(certname)
        return self._sign(certname, allow_authorization=allow_authorization_extensions)

    def _sign(self, certname: str, *, allow_authorization: bool = False, expected: bytes | None = None) -> bytes:
        """Sign the stored request; ``expected``: only if it is still this request (DER)."""
        with self._locked():
            path = self._request_path(certname)
            if not path.exists():
                if self._signed_path(certname).exists():
                    raise CAError(f"{certname} is already signed")
                raise CAError(f"no certificate request for {certname}")
            if self._signed_path(certname).exists():
                raise CAError(f"{certname} already has a signed certificate; "
                              f"`bunraku cert clean {certname}` first")
            csr = pki.load_csr(path.read_bytes())
            if expected is not None and csr.public_bytes(serialization.Encoding.DER) != expected:
                raise CAError(f"the request of {certname} changed while it was checked")
            granted = pki.ca_only_extensions(csr.extensions)
            if granted:
                raise CAError(f"the request of {certname} asks for {', '.join(granted)}, which only the CA "
                              f"grants; `bunraku cert clean {certname}` and make it with `bunraku cert generate`")
            authorization = pki.authorization_extensions(csr.extensions)
            if authorization and not allow_authorization:
                raise CAError(f"the request of {certname} carries authorization extension(s) "
                              f"{', '.join(authorization)}; sign it with --allow-authorization-extensions "
                              f"only if {certname} should have them")
            exts = {ext.oid.dotted_string: ext.value.value for ext in csr.extensions
                    if isinstance(ext.value, x509.UnrecognizedExtension)
                    and ext.oid.dotted_string.startswith(pki.PUPPET_ARC)
                    and ext.oid.dotted_string not in (pki.CA_ONLY_OIDS | {pki.CHALLENGE_EXT_OID})}
            cert = self._issue(certname, csr.public_key(), extensions=exts)
            self._record(certname, cert)
            path.unlink()
            self._request_sources.pop(certname, None)
        return pki.cert_pem(cert)

    def _check_room(self, certname: str, source: str | None) -> None:
        """Refuse (CAFull) a new request while too many wait to be signed, in all or from ``source``.
        Requests are counted on disk (another process signs and cleans them); the network each came
        from is known for those this process stored."""
        if self.max_pending is not None:
            requests = self.dir / "requests"
            try:
                with os.scandir(requests) as entries:
                    waiting = sum(1 for e in entries if e.name.endswith(".pem"))
            except FileNotFoundError:
                waiting = 0
            if waiting >= self.max_pending:
                log.warning("refused the certificate request of %s: %d requests wait to be signed", certname,
                            waiting)
                raise CAFull(f"{waiting} certificate requests are waiting to be signed, as many as this CA "
                             "holds; try again later")
        if source is None or self.max_pending_per_network is None:
            return
        if len(self._request_sources) > 2 * (self.max_pending or 10_000):
            self._forget_gone_requests()
        same = [n for n, net in self._request_sources.items() if net == source]
        if len(same) < self.max_pending_per_network:
            return
        for name in same:  # signed or cleaned since (maybe by another process): no longer waiting
            if not self._request_path(name).exists():
                del self._request_sources[name]
        if sum(1 for net in self._request_sources.values() if net == source) >= self.max_pending_per_network:
            log.warning("refused the certificate request of %s: %d requests from %s wait to be signed", certname,
                        self.max_pending_per_network, source)
            raise CAFull(f"{self.max_pending_per_network} certificate requests from this network are waiting "
                         "to be signed, as many as this CA holds from one network; try again later")

    def _forget_gone_requests(self) -> None:
        for name in [n for n in self._request_sources if not self._request_path(n).exists()]:
            del self._request_sources[name]

    def reserve_master_names(self, certname: str, cert_pem: bytes) -> None:
        """Never autosign a name agents may know the master by: ``localhost``, ``puppet``, its certname
        and every name its certificate is valid for (``dns_alt_names``)."""
        names = set(MASTER_NAMES) | {certname}
        try:
            sans = pki.load_cert(cert_pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except (pki.PkiError, x509.ExtensionNotFound):
            sans = None
        if sans is not None:
            names |= {str(n).lower() for n in sans.get_values_for_type(x509.DNSName)}
            names |= {str(a) for a in sans.get_values_for_type(x509.IPAddress)}
        self.reserved_names |= names

    def generate(self, certname: str, *, operator: bool = False, role: str | None = None) -> tuple[bytes, bytes]:
        """Key and certificate made here (`puppetserver ca generate`), e.g. an operator's; ``role``
        (``role=operator;groups=web``, see :func:`pki.parse_role`) limits what the operator may do.
        The only way to a certificate with operator rights: requests never carry them."""
        self.check_name(certname)
        extensions = {}
        if role is not None:
            pki.parse_role(role)
            extensions[pki.ROLE_OID] = pki.der_utf8(role)
            operator = True
        key = pki.generate_key()
        with self._locked():
            if self._signed_path(certname).exists():
                raise CAError(f"{certname} already has a certificate; `bunraku cert clean {certname}` first")
            if self._request_path(certname).exists():  # someone asked for this name: not theirs to get
                raise CAError(f"{certname} has a pending certificate request; `bunraku cert clean {certname}` "
                              "first")
            cert = self._issue(certname, key.public_key(), operator=operator, extensions=extensions)
            self._record(certname, cert)
        return pki.key_pem(key), pki.cert_pem(cert)

    def certificate(self, certname: str) -> bytes | None:
        self.check_name(certname)
        path = self._signed_path(certname)
        return path.read_bytes() if path.exists() else None

    # -- revocation ----------------------------------------------------------------------------------
    def _write_crl(self, serials: set[int]) -> None:
        now = _now()
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.ca_cert.subject)
                   .last_update(now - datetime.timedelta(minutes=5))
                   .next_update(now + datetime.timedelta(days=365 * CERT_YEARS)))
        for serial in sorted(serials):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
        crl = builder.sign(self.ca_key, hashes.SHA256())
        data = crl.public_bytes(serialization.Encoding.PEM)
        pki.write_public(self.crl_path, data)
        pki.write_public(self.ssldir / "crl.pem", data)

    def crl_pem(self) -> bytes:
        return self.crl_path.read_bytes()

    def revoked_serials(self) -> frozenset[int]:
        """The CRL's serials, re-read whenever the file changes (another process may revoke): its
        modification time, size and inode, so that a CRL replaced within the clock's resolution (or
        with its time set back) is read again."""
        try:
            info = self.crl_path.stat()
        except FileNotFoundError:
            return frozenset()
        version = (info.st_mtime_ns, info.st_size, info.st_ino)
        cached = self._crl_cache
        if cached is not None and cached[0] == version:
            return cached[1]
        crl = x509.load_pem_x509_crl(self.crl_path.read_bytes())
        serials = frozenset(r.serial_number for r in crl)
        self._crl_cache = (version, serials)
        return serials

    @staticmethod
    def _check_existing_name(certname: str) -> None:
        """Revoking and cleaning take any name that is a file of the CA's, names issued before they were
        checked whole (``web01\\n``) included, so that those can be got rid of; nothing else."""
        if certname in ("", ".", "..") or "/" in certname or "\0" in certname:
            raise InvalidCertname(f"certname {_shown(certname)} is not valid")

    def revoke(self, certname: str) -> int:
        self._check_existing_name(certname)
        with self._locked():
            serial = self._revoke_locked(certname)
        log.info("revoked %s (serial %d)", certname, serial)
        return serial

    def _revoke_locked(self, certname: str) -> int:
        path = self._signed_path(certname)
        if not path.exists():
            raise CAError(f"no signed certificate for {certname}")
        serial = pki.load_cert(path.read_bytes()).serial_number
        serials = set(self.revoked_serials())
        if serial not in serials:
            serials.add(serial)
            self._write_crl(serials)
        return serial

    def clean(self, certname: str) -> None:
        """Revoke (if signed) and forget ``certname`` so that it can ask again: the one way to let a new
        request for a name that has a request or a certificate (see :meth:`submit`)."""
        self._check_existing_name(certname)
        found = False
        with self._locked():
            if self._signed_path(certname).exists():
                serial = self._revoke_locked(certname)
                log.info("revoked %s (serial %d)", certname, serial)
                self._signed_path(certname).unlink()
                found = True
            if self._request_path(certname).exists():
                self._request_path(certname).unlink()
                found = True
            self._request_sources.pop(certname, None)
        if not found:
            raise CAError(f"no certificate or request for {certname}")

    def entries(self) -> list[CertEntry]:
        out: list[CertEntry] = []
        revoked = self.revoked_serials()
        for path in sorted((self.dir / "requests").glob("*.pem")):
            csr = pki.load_csr(path.read_bytes())
            digest = pki.fingerprint_csr(csr)
            out.append(CertEntry(path.stem, "requested", digest, "", None,
                                 tuple(pki.authorization_extensions(csr.extensions))))
        for path in sorted((self.dir / "signed").glob("*.pem")):
            cert = pki.load_cert(path.read_bytes())
            state = "revoked" if cert.serial_number in revoked else "signed"
            out.append(CertEntry(path.stem, state, pki.fingerprint(cert),
                                 f"{cert.not_valid_after_utc:%Y-%m-%d}", cert.serial_number))
        return out
