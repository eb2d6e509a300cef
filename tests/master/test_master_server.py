"""A real master on loopback with real certificates: identity rules, revocation, foreign CAs, the file
server over gRPC, operator calls, git environments served without restart, classification, PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from master.ca import CertificateAuthority
from tests.e2e.harness import (
    client_for,
    commit_change,
    git,
    issue_identity,
    make_git_site,
    make_site,
    start_master,
)
from wire import pki
from wire.client import ClientError, MasterUnavailable
from wire.proto import bunraku_pb2 as pb

FACTS = {"role": "web", "networking": {"fqdn": "web01.example.com"}}


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="module")
def master(tmp: Path) -> Iterator:
    make_site(tmp / "envs")
    groups = tmp / "groups.yaml"
    groups.write_text("groups:\n  db:\n    nodes: ['/^db\\d+/']\n    classes: {extra: {note: grouped}}\n"
                      "    parameters: {tier: backend}\n")
    server = start_master(tmp, tmp / "envs", groups=groups)
    yield server
    server.stop()


def _catalog(client, node: str = "", facts: dict | None = None) -> dict:
    reply = client.call("GetCatalog", pb.CatalogRequest(node=node, facts_json=json.dumps(facts or FACTS).encode()))
    return json.loads(reply.catalog_json)


def _content(catalog: dict, title: str) -> str:
    return next(r for r in catalog["resources"] if r["title"] == title)["parameters"]["content"]


def test_a_node_gets_its_catalog_with_trusted_from_its_certificate(master, tmp: Path) -> None:
    paths = issue_identity(master, tmp, "web01.example.com")
    forged = dict(FACTS, trusted={"certname": "db01.example.com", "authenticated": "remote"})
    with client_for(master, paths) as client:
        catalog = _catalog(client, facts=forged)
    assert catalog["name"] == "web01.example.com"
    assert _content(catalog, "/etc/motd") == "hello from web01.example.com (remote) role=web\n"
    assert master.store.get_facts("web01.example.com")["role"] == "web"


def test_another_nodes_catalog_facts_and_reports_are_refused(master, tmp: Path) -> None:
    paths = issue_identity(master, tmp, "web02.example.com")
    with client_for(master, paths) as client:
        with pytest.raises(ClientError) as info:
            _catalog(client, node="db01.example.com")
        assert info.value.code == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(ClientError, match="may not"):
            client.call("SubmitFacts", pb.FactsRequest(node="db01.example.com", facts_json=b"{}"))
        report = {"host": "db01.example.com", "transaction_uuid": str(uuid.uuid4()), "status": "unchanged"}
        with pytest.raises(ClientError, match="may not submit a report"):
            client.call("SubmitReport", pb.ReportRequest(report_json=json.dumps(report).encode()))
        with pytest.raises(ClientError, match="not an operator"):
            client.call("ListNodes", pb.ListNodesRequest())
        with pytest.raises(ClientError, match="may not act"):
            client.call("GetReports", pb.GetReportsRequest(node="db01.example.com", last=1))


def test_a_revoked_certificate_is_refused_on_the_next_call(master, tmp: Path) -> None:
    paths = issue_identity(master, tmp, "revoked.example.com")
    with client_for(master, paths) as client:
        _catalog(client)
        CertificateAuthority(master.config.ssldir).revoke("revoked.example.com")  # as `bunraku cert revoke`
        with pytest.raises(ClientError, match="revoked") as info:
            _catalog(client)
        assert info.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_a_certificate_from_another_ca_is_refused(master, tmp: Path) -> None:
    other = CertificateAuthority(tmp / "other-ca")
    other.setup("evil.test")
    key, cert = other.generate("web01.example.com")
    paths = pki.SSLPaths(tmp / "foreign", "web01.example.com")
    pki.write_private(paths.key, key)
    pki.write_public(paths.cert, cert)
    pki.write_public(paths.ca, master.ctx.ca.ca_pem())  # trusts the real master, presents a foreign cert
    with client_for(master, paths) as client, pytest.raises(MasterUnavailable):
        client.call("GetCatalog", pb.CatalogRequest(facts_json=b"{}"), timeout=5)


def test_without_a_certificate_only_the_certificate_request_is_allowed(master) -> None:
    creds = grpc.ssl_channel_credentials(root_certificates=master.ctx.ca.ca_pem())
    from wire.proto import bunraku_pb2_grpc as pb_grpc

    with grpc.secure_channel(master.ca_address, creds) as channel:
        stub = pb_grpc.MasterStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.GetCatalog(pb.CatalogRequest(facts_json=b"{}"), timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        csr = pki.make_csr(pki.generate_key(), "new.example.com")
        reply = stub.RequestCertificate(pb.CertificateRequest(certname="new.example.com", csr_pem=csr), timeout=5)
        assert reply.status == pb.CertificateReply.PENDING  # autosign is off by default


def test_file_server_over_grpc_refuses_traversal(master, tmp: Path) -> None:
    paths = issue_identity(master, tmp, "files.example.com")
    with client_for(master, paths) as client:
        meta = client.call("FileMetadata", pb.FileMetadataRequest(uri="puppet:///modules/demo/demo.conf"))
        assert meta.found and len(meta.sha256) == 64
        data = b"".join(c.data for c in client.stream("FileContent", pb.FileContentRequest(
            uri="puppet:///modules/demo/demo.conf")))
        assert data == b"setting = 1\n" * 1000
        for uri in ("puppet:///modules/demo/../../manifests/site.pp", "puppet:///modules/demo/../../../../etc/passwd"):
            with pytest.raises(ClientError) as info:
                client.call("FileMetadata", pb.FileMetadataRequest(uri=uri))
            assert info.value.code == grpc.StatusCode.PERMISSION_DENIED
            with pytest.raises(ClientError):
                list(client.stream("FileContent", pb.FileContentRequest(uri=uri)))


def test_groups_classify_nodes_and_operators_see_the_fleet(master, tmp: Path) -> None:
    node = issue_identity(master, tmp, "db01.example.com")
    with client_for(master, node) as client:
        catalog = _catalog(client, facts={"role": "db"})
        report = {"host": "db01.example.com", "transaction_uuid": str(uuid.uuid4()), "status": "changed",
                  "time": "2024-01-01T00:00:00Z", "environment": "production", "noop": False,
                  "resource_statuses": {}, "metrics": {}, "logs": []}
        client.call("SubmitReport", pb.ReportRequest(report_json=json.dumps(report).encode()))
    assert _content(catalog, "/etc/extra") == "grouped backend\n"
    op = issue_identity(master, tmp, "ops", operator=True)
    from master import fleet

    with client_for(master, op) as client:
        nodes = {n["name"]: n for n in fleet.list_nodes(client)}
        assert nodes["db01.example.com"]["group"] == "db"
        assert nodes["db01.example.com"]["status"] == "changed"
        assert fleet.stored_facts(client, "db01.example.com") == {"role": "db"}
        assert fleet.reports(client, "db01.example.com", 1)[0]["transaction_uuid"] == report["transaction_uuid"]


def test_catalog_cache_serves_repeat_requests(master, tmp: Path) -> None:
    paths = issue_identity(master, tmp, "cache.example.com")
    with client_for(master, paths) as client:
        client.call("GetCatalog", pb.CatalogRequest(facts_json=json.dumps(FACTS).encode()))
        again = client.call("GetCatalog", pb.CatalogRequest(facts_json=json.dumps(FACTS).encode()))
        assert again.cache_hit
        changed = client.call("GetCatalog", pb.CatalogRequest(facts_json=json.dumps(dict(FACTS, role="x")).encode()))
        assert not changed.cache_hit


def test_git_environment_serves_a_new_commit_without_restart(tmp_path: Path) -> None:
    work = make_git_site(tmp_path)
    first = git(work, "rev-parse", "HEAD")
    server = start_master(tmp_path, None, git_repo=str(work), git_poll_seconds=0)
    try:
        paths = issue_identity(server, tmp_path, "web01.example.com")
        with client_for(server, paths) as client:
            reply = client.call("GetCatalog", pb.CatalogRequest(facts_json=json.dumps(FACTS).encode()))
            assert reply.code_id == first and json.loads(reply.catalog_json)["code_id"] == first
            second = commit_change(work, "manifests/site.pp", "node default { class { 'demo': motd => 'v2' } }\n")
            reply = client.call("GetCatalog", pb.CatalogRequest(facts_json=json.dumps(FACTS).encode()))
            assert reply.code_id == second
            assert _content(json.loads(reply.catalog_json), "/etc/motd").startswith("v2 from web01")
        op = issue_identity(server, tmp_path, "ops", operator=True)
        from master import fleet

        with client_for(server, op) as client:
            diff, old, new = fleet.catalog_diff(client, "web01.example.com", first, second)
        assert (old, new) == (first, second)
        assert list(diff["changed"]) == ["File[/etc/motd]"] and not diff["added"] and not diff["removed"]
    finally:
        server.stop()


def test_enc_classification_over_the_wire(tmp_path: Path) -> None:
    make_site(tmp_path / "envs")
    enc = tmp_path / "enc.sh"
    enc.write_text("#!/bin/sh\necho 'classes: {extra: {note: from-enc}}'\necho 'parameters: {tier: t1}'\n")
    enc.chmod(0o755)
    server = start_master(tmp_path, tmp_path / "envs", enc=enc)
    try:
        paths = issue_identity(server, tmp_path, "web09.example.com")
        with client_for(server, paths) as client:
            assert _content(_catalog(client), "/etc/extra") == "from-enc t1\n"
    finally:
        server.stop()


def test_postgresql_store(tmp_path: Path) -> None:
    from master.store import Store

    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    try:
        store = Store.open(url=url)
    except Exception as exc:  # noqa: BLE001 - no PostgreSQL here: the SQLite path is covered above
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    make_site(tmp_path / "envs")
    server = start_master(tmp_path, tmp_path / "envs", store=store)
    node = f"pg-{uuid.uuid4().hex[:8]}.example.com"
    try:
        paths = issue_identity(server, tmp_path, node)
        with client_for(server, paths) as client:
            _catalog(client)
            report = {"host": node, "transaction_uuid": str(uuid.uuid4()), "status": "unchanged",
                      "time": "2024-01-01T00:00:00Z", "environment": "production", "noop": False,
                      "resource_statuses": {}, "metrics": {}, "logs": []}
            client.call("SubmitReport", pb.ReportRequest(report_json=json.dumps(report).encode()))
        assert store.get_facts(node) == FACTS
        assert store.reports(node, last=1)[0]["host"] == node
    finally:
        server.stop()
