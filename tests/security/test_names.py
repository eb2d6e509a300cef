"""Names checked whole and to length by a running master: certnames (a trailing newline is not the same
name; an overlong one is one clear INVALID_ARGUMENT), environment and module names, dashboard routes."""

from __future__ import annotations

import shutil
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.e2e.harness import client_for, issue_identity, make_site, start_master
from tests.reliability.fleet import bunraku
from tests.security.anonymous import AnonymousClient
from wire.client import ClientError
from wire.proto import bunraku_pb2 as pb

SIGNED = pb.CertificateReply.SIGNED


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("names")


@pytest.fixture(scope="module")
def master(tmp: Path) -> Iterator:
    """Autosign on (the worst case for names), a group `web` by glob, the dashboard on."""
    envs = tmp / "envs"
    make_site(envs)
    # a directory whose name is an environment's plus a newline: never an environment
    shutil.copytree(envs / "production", envs / "production\n")
    groups = tmp / "groups.yaml"
    groups.write_text("groups:\n  web:\n    nodes: ['web*']\n")
    server = start_master(tmp, envs, autosign="true", groups=groups, dashboard_listen="127.0.0.1:0")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def anon(master) -> AnonymousClient:  # noqa: ANN001
    return AnonymousClient(master.ca_address)


def _refusal(anon: AnonymousClient, name: str) -> ClientError:
    with pytest.raises(ClientError) as err:
        anon.ask(name)
    return err.value


# -- certnames -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["web01.example.com\n", "admin\n", "web01.example.com\r", "web01.example.com.",
                                  ".web01", "web..01", "Web01", "web01 "])
def test_a_certname_must_match_whole(master, anon: AnonymousClient, name: str) -> None:
    err = _refusal(anon, name)
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert str(err).endswith(f"certname {name!r} is not valid (lowercase letters, digits, '-' and '_', "
                             "in labels separated by single dots)")
    assert name not in {e.name for e in master.ctx.ca.entries()}


def test_a_name_with_a_newline_joins_no_group_and_gets_no_catalog(master, anon: AnonymousClient) -> None:
    assert anon.ask("web01.example.com")[0].status == SIGNED  # autosign is on: the name alone is refused
    _refusal(anon, "web01.example.com\n")
    names = [e.name for e in master.ctx.ca.entries() if e.name.startswith("web01")]
    assert names == ["web01.example.com"]
    nodes = [n.name for n in master.store.node_statuses() if n.name.startswith("web01")]
    assert nodes in ([], ["web01.example.com"])


@pytest.mark.parametrize(("name", "message"), [
    ("a" * 300, "a certname of 300 characters is too long (at most 64, the most a certificate's common name holds)"),
    ("b" * 40 + "." + "c" * 40, "a certname of 81 characters is too long (at most 64, the most a certificate's "
                                "common name holds)"),
    ("d" * 64, f"certname {'d' * 64!r} has a label of 64 characters (at most 63 between dots)"),
])
def test_an_overlong_certname_is_one_clear_invalid_argument(master, anon: AnonymousClient, name: str,
                                                            message: str) -> None:
    err = _refusal(anon, name)
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    details = str(err).split("failed: ", 1)[1]
    assert details == message
    assert "Errno" not in details and str(master.config.ssldir) not in details


def test_the_longest_certname_is_signed(anon: AnonymousClient) -> None:
    name = "e" * 62 + ".f"  # 64 characters
    reply, _, _ = anon.ask(name)
    assert reply.status == SIGNED, reply.message


def test_cert_commands_check_names_too(master) -> None:  # noqa: ANN001
    ssldir = str(master.config.ssldir)
    for args in (("generate", "x" * 300, "--out-ssldir", str(Path(ssldir).parent / "out")),
                 ("clean", "../../ssl/ca/ca_crt"), ("sign", "../signed/master.test")):
        result = bunraku("cert", "--ssldir", ssldir, *args)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: ")
        assert "too long" in result.stderr or "is not valid" in result.stderr


def test_a_certificate_issued_to_a_bad_name_before_is_refused_and_can_be_cleaned(master, tmp: Path) -> None:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    from wire import pki

    name = "web05.example.com\n"  # as a CA that checked only a prefix of the name signed it
    ca = master.ctx.ca
    key = pki.generate_key()
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca.ca_key, hashes.SHA256()))
    pki.write_public(ca.dir / "signed" / f"{name}.pem", pki.cert_pem(cert))
    paths = pki.SSLPaths(tmp / "legacy", name)
    pki.write_private(paths.key, pki.key_pem(key))
    pki.write_public(paths.cert, pki.cert_pem(cert))
    pki.write_public(paths.ca, ca.ca_pem())
    with client_for(master, paths) as client, pytest.raises(ClientError) as err:
        client.call("GetCatalog", pb.CatalogRequest(facts_json=b"{}"))
    assert err.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert "is not valid" in str(err.value) and "bunraku cert clean" in str(err.value)
    cleaned = bunraku("cert", "--ssldir", str(master.config.ssldir), "clean", name)
    assert cleaned.returncode == 0, cleaned.stderr
    assert cert.serial_number in ca.revoked_serials()


# -- environment and module names -------------------------------------------------------------------------
def test_an_environment_name_must_match_whole(master, tmp: Path) -> None:
    with client_for(master, issue_identity(master, tmp, "web03.example.com")) as client:
        assert client.call("GetCatalog", pb.CatalogRequest(environment="production", facts_json=b"{}"))
        with pytest.raises(ClientError) as err:
            client.call("GetCatalog", pb.CatalogRequest(environment="production\n", facts_json=b"{}"))
    assert err.value.code == grpc.StatusCode.NOT_FOUND
    assert "environment name 'production\\n' is not valid" in str(err.value)


def test_a_module_name_must_match_whole(master, tmp: Path) -> None:
    with client_for(master, issue_identity(master, tmp, "web04.example.com")) as client:
        found = client.call("FileMetadata", pb.FileMetadataRequest(uri="puppet:///modules/demo/demo.conf",
                                                                   environment="production"))
        assert found.found
        with pytest.raises(ClientError) as err:
            client.call("FileMetadata", pb.FileMetadataRequest(uri="puppet:///modules/demo\n/demo.conf",
                                                               environment="production"))
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "'demo\\n' is not a module name" in str(err.value)


# -- dashboard routes --------------------------------------------------------------------------------------
def _get(url: str, token: str, cafile: Path) -> int:
    context = ssl.create_default_context(cafile=str(cafile))
    context.check_hostname = False
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_a_dashboard_route_must_match_whole(master) -> None:  # noqa: ANN001
    from master.dashboard import TokenStore

    token = TokenStore(Path(master.config.ssldir) / "dashboard-tokens.json").issue("viewer-names")
    base = f"https://127.0.0.1:{master.dashboard.port}"
    ca = Path(master.config.ssldir) / "certs" / "ca.pem"
    assert _get(f"{base}/api/nodes", token, ca) == 200
    assert _get(f"{base}/api/nodes%0A", token, ca) == 404


def test_cert_options_work_after_the_subcommand_too(tmp_path: Path) -> None:
    from master.ca import CertificateAuthority

    CertificateAuthority(tmp_path / "ssl").setup("master.test")
    before = bunraku("cert", "--ssldir", str(tmp_path / "ssl"), "list", "--all")
    after = bunraku("cert", "list", "--all", "--ssldir", str(tmp_path / "ssl"))
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert before.stdout == after.stdout and "master.test" in after.stdout
