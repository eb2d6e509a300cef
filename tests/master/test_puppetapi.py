"""Puppet's HTTP API on a real master (loopback, real certificates from its CA), spoken to as a Puppet
agent does: the CA routes, node, catalog (facts in Puppet's form encoding), reports into the store, the
file-serving mounts, who may ask for what, revocation, Puppet's headers and error documents, and the
listener's connection limits and timeouts."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import ssl
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from master.puppetapi import Limits, PuppetAPIServer, fileserving
from tests.e2e.harness import issue_identity, make_site, start_master
from wire import pki

pytest.importorskip("aiohttp")

FACTS = {"role": "web", "networking": {"fqdn": "web01.example.com"}, "os": {"family": "Debian"}}


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("puppetapi")


def _add_plugins(env: Path) -> None:
    """Puppet's plugin directories in two modules: lib/ (Ruby facts, a type), facts.d/, and a symbolic
    link that leads out of its module."""
    demo = env / "modules" / "demo"
    (demo / "lib" / "facter").mkdir(parents=True)
    (demo / "lib" / "facter" / "demo_fact.rb").write_text("Facter.add(:demo_fact) { setcode { 'x' } }\n")
    (demo / "lib" / "puppet" / "type").mkdir(parents=True)
    (demo / "lib" / "puppet" / "type" / "demo_thing.rb").write_text("Puppet::Type.newtype(:demo_thing) {}\n")
    (demo / "lib" / ".git").mkdir()
    (demo / "facts.d").mkdir()
    (demo / "facts.d" / "demo.txt").write_text("demo_external=yes\n")
    extra = env / "modules" / "extra"
    (extra / "lib" / "facter").mkdir(parents=True)
    (extra / "lib" / "facter" / "demo_fact.rb").write_text("# shadowed by demo's\n")
    (extra / "lib" / "facter" / "extra_fact.rb").write_text("Facter.add(:extra_fact) { setcode { 'y' } }\n")
    (demo / "files" / "escape").symlink_to("/etc/passwd")
    (demo / "files" / "tree" / "sub").mkdir(parents=True)
    (demo / "files" / "tree" / "a.txt").write_text("a\n")
    (demo / "files" / "tree" / "sub" / "b.txt").write_text("b\n")


@pytest.fixture(scope="module")
def master(tmp: Path) -> Iterator[Any]:
    make_site(tmp / "envs")
    _add_plugins(tmp / "envs" / "production")
    make_site(tmp / "envs", "staging")
    groups = tmp / "groups.yaml"
    groups.write_text("groups:\n  staged:\n    nodes: ['stage*']\n    environment: staging\n"
                      "    parameters: {tier: backend}\n")
    server = start_master(tmp, tmp / "envs", groups=groups, puppet_listen="127.0.0.1:0")
    yield server
    server.stop()


class Client:
    """An HTTPS client as a Puppet agent is one: the CA's certificate, and its own when it has one."""

    def __init__(self, master: Any, paths: pki.SSLPaths | None = None, *, port: int | None = None) -> None:
        context = ssl.create_default_context(cafile=str(master.ctx.ca.ca_cert_path))
        if paths is not None:
            context.load_cert_chain(str(paths.cert), str(paths.key))
        self.conn = http.client.HTTPSConnection("127.0.0.1", port or master.puppet_api.port, context=context,
                                                timeout=30)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    def request(self, method: str, path: str, body: bytes | str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        return response.status, response.headers, response.read()

    def json(self, method: str, path: str, body: bytes | str | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        status, head, data = self.request(method, path, body, headers)
        assert head["Content-Type"].startswith("application/json"), (status, data)
        return status, json.loads(data)


def _catalog_form(facts: dict[str, Any], name: str, environment: str = "production") -> str:
    """A catalog request's body as Puppet 7 writes it: the facts document URI-encoded, then the form."""
    document = json.dumps({"name": name, "values": facts, "timestamp": "2024-05-01T10:00:00.000000000+00:00",
                           "expiration": "2024-05-01T10:30:00.000000000+00:00"})
    fields = {"facts_format": "application/json", "facts": urllib.parse.quote(document, safe=""),
              "environment": environment, "transaction_uuid": str(uuid.uuid4()), "static_catalog": "true",
              "checksum_type": "sha256.md5"}
    return "&".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in fields.items())


FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


def _report(host: str, status: str = "changed") -> dict[str, Any]:
    return {"host": host, "time": "2024-05-01T10:00:01.123456789+00:00", "configuration_version": 1714557600,
            "transaction_uuid": str(uuid.uuid4()), "report_format": 12, "puppet_version": "7.23.0",
            "status": status, "transaction_completed": True, "noop": False, "noop_pending": False,
            "environment": "production", "corrective_change": False, "catalog_uuid": str(uuid.uuid4()),
            "cached_catalog_status": "not_used", "code_id": None, "logs": [],
            "metrics": {"time": {"name": "time", "label": "Time", "values": [["total", "Total", 1.5]]}},
            "resource_statuses": {"File[/etc/motd]": {
                "title": "/etc/motd", "resource": "File[/etc/motd]", "resource_type": "File", "change_count": 1,
                "out_of_sync_count": 1, "changed": True, "failed": False, "skipped": False, "events": [{
                    "property": "ensure", "previous_value": "absent", "desired_value": "file",
                    "message": "defined content as '{sha256}ab'", "name": "file_created", "status": "success",
                    "time": "2024-05-01T10:00:01.000000000+00:00", "corrective_change": False}]}}}


# -- the CA ------------------------------------------------------------------------------------------------
def test_anyone_gets_the_ca_certificate_and_crl_with_puppets_header(master) -> None:
    with Client(master) as client:
        status, head, body = client.request("GET", "/puppet-ca/v1/certificate/ca", headers={"Accept": "text/plain"})
        assert (status, body) == (200, master.ctx.ca.ca_pem())
        assert head["Content-Type"].startswith("text/plain")
        assert head["X-Puppet-Version"] == "7.23.0"
        status, head, body = client.request("GET", "/puppet-ca/v1/certificate_revocation_list/ca")
        assert (status, body) == (200, master.ctx.ca.crl_pem())
        later = formatdate(time.time() + 3600, usegmt=True)
        status, _head, body = client.request("GET", "/puppet-ca/v1/certificate_revocation_list/ca",
                                             headers={"If-Modified-Since": later})
        assert (status, body) == (304, b"")


def test_a_certificate_request_waits_for_signing_and_a_second_key_for_the_name_is_refused(master) -> None:
    name = "csr01.example.com"
    key = pki.generate_key()
    with Client(master) as client:
        status, _head, _body = client.request("PUT", f"/puppet-ca/v1/certificate_request/{name}",
                                              pki.make_csr(key, name), {"Content-Type": "text/plain"})
        assert status == 200
        status, head, body = client.request("GET", f"/puppet-ca/v1/certificate/{name}")
        assert (status, body) == (404, f"Could not find certificate {name}".encode())
        assert head["Content-Type"].startswith("text/plain")
        master.ctx.ca.sign(name)
        status, _head, body = client.request("GET", f"/puppet-ca/v1/certificate/{name}")
        assert status == 200 and pki.load_cert(body).public_key().public_numbers() == key.public_key().public_numbers()
        other = pki.make_csr(pki.generate_key(), name)
        status, _head, body = client.request("PUT", f"/puppet-ca/v1/certificate_request/{name}", other,
                                             {"Content-Type": "text/plain"})
        assert status == 400 and b"already has a signed certificate" in body
        status, _head, body = client.request("PUT", "/puppet-ca/v1/certificate_request/Not_A_Name", other,
                                             {"Content-Type": "text/plain"})
        assert status == 400 and b"is not valid" in body
        status, _head, _body = client.request("PUT", "/puppet-ca/v1/certificate_request/big.example.com",
                                              b"x" * (128 * 1024), {"Content-Type": "text/plain"})
        assert status == 413


# -- who may ask for what ----------------------------------------------------------------------------------
def test_without_a_certificate_only_the_ca_answers(master) -> None:
    with Client(master) as client:
        status, error = client.json("GET", "/puppet/v3/node/web01.example.com?environment=production")
    assert status == 403
    assert error["issue_kind"] == "FAILED_AUTHORIZATION"
    assert error["message"].startswith("Not Authorized: Forbidden request: /puppet/v3/node/web01.example.com")


def test_a_node_gets_its_catalog_from_puppets_form_encoded_facts(master, tmp: Path) -> None:
    name = "web01.example.com"
    paths = issue_identity(master, tmp, name)
    with Client(master, paths) as client:
        status, catalog = client.json("POST", f"/puppet/v3/catalog/{name}?environment=production",
                                      _catalog_form(dict(FACTS, trusted={"certname": "db01"}), name), FORM)
        assert status == 200
        assert catalog["name"] == name and catalog["environment"] == "production"
        motd = next(r for r in catalog["resources"] if r["title"] == "/etc/motd")
        assert motd["parameters"]["content"] == f"hello from {name} (remote) role=web\n"
        assert all(r.get("kind") for r in catalog["resources"])
        status, node = client.json("GET", f"/puppet/v3/node/{name}?environment=production")
        assert (status, node) == (200, {"name": name, "environment": "production"})
    stored = master.store.get_facts(name)
    assert stored["os"]["family"] == "Debian" and "trusted" not in stored


def test_a_large_catalog_arrives_whole_with_its_length(master, tmp: Path) -> None:
    """A catalog larger than one piece of the answer (app.SEND_CHUNK) is sent a piece at a time as the
    client takes it, with its Content-Length: the agent reads the same document."""
    from master.puppetapi.app import SEND_CHUNK

    name = "big01.example.com"
    role = "r" * (3 * SEND_CHUNK)  # the demo class puts the role fact into /etc/motd's content
    with Client(master, issue_identity(master, tmp, name)) as client:
        status, head, data = client.request("POST", f"/puppet/v3/catalog/{name}?environment=production",
                                            _catalog_form(dict(FACTS, role=role), name), FORM)
    assert status == 200 and len(data) > 3 * SEND_CHUNK
    assert int(head["Content-Length"]) == len(data) and head.get("Transfer-Encoding") is None
    assert head["Content-Type"].startswith("application/json")
    motd = next(r for r in json.loads(data)["resources"] if r["title"] == "/etc/motd")
    assert motd["parameters"]["content"] == f"hello from {name} (remote) role={role}\n"


def test_classification_overrides_the_environment_the_agent_asks_for(master, tmp: Path) -> None:
    name = "stage01.example.com"
    paths = issue_identity(master, tmp, name)
    with Client(master, paths) as client:
        status, node = client.json("GET", f"/puppet/v3/node/{name}?environment=production")
        assert (status, node["environment"], node["parameters"]) == (200, "staging", {"tier": "backend"})
        status, catalog = client.json("POST", f"/puppet/v3/catalog/{name}?environment=production",
                                      _catalog_form(FACTS, name), FORM)
        assert (status, catalog["environment"]) == (200, "staging")


def test_a_node_may_not_ask_for_another_nodes_catalog_node_or_report(master, tmp: Path) -> None:
    paths = issue_identity(master, tmp, "web02.example.com")
    other = "db01.example.com"
    with Client(master, paths) as client:
        status, error = client.json("POST", f"/puppet/v3/catalog/{other}?environment=production",
                                    _catalog_form(FACTS, other), FORM)
        assert status == 403
        assert error == {"message": f"Not Authorized: web02.example.com may not act for node {other}",
                         "issue_kind": "FAILED_AUTHORIZATION"}
        status, _error = client.json("GET", f"/puppet/v3/node/{other}?environment=production")
        assert status == 403
        status, error = client.json("PUT", f"/puppet/v3/report/{other}?environment=production",
                                    json.dumps(_report(other)), {"Content-Type": "application/json"})
        assert status == 403 and "may not submit a report" in error["message"]
        status, error = client.json("PUT", f"/puppet/v3/report/{other}?environment=production",
                                    json.dumps(_report("web02.example.com")), {"Content-Type": "application/json"})
        assert status == 403 and "may not act for node" in error["message"]
    assert master.store.reports(other, last=5) == []


def test_puppets_report_lands_in_the_store(master, tmp: Path) -> None:
    name = "web03.example.com"
    paths = issue_identity(master, tmp, name)
    report = _report(name)
    with Client(master, paths) as client:
        status, answer = client.json("PUT", f"/puppet/v3/report/{name}?environment=production",
                                     json.dumps(report), {"Content-Type": "application/json"})
    assert (status, answer) == (200, [])
    [stored] = master.store.reports(name, last=5)
    assert stored["transaction_uuid"] == report["transaction_uuid"]
    [summary] = master.store.report_summaries(name)
    assert (summary["status"], summary["event_count"], summary["change_count"]) == ("changed", 1, 1)
    assert summary["time"].isoformat().startswith("2024-05-01T10:00:01.123456")


def test_uploaded_facts_are_stored_and_serve_a_catalog_request_without_facts(master, tmp: Path) -> None:
    name = "web04.example.com"
    paths = issue_identity(master, tmp, name)
    document = {"name": name, "values": dict(FACTS, role="db"), "timestamp": "2024-05-01T10:00:00Z"}
    with Client(master, paths) as client:
        status, _answer = client.json("PUT", f"/puppet/v3/facts/{name}?environment=production", json.dumps(document),
                                      {"Content-Type": "application/json"})
        assert status == 200
        assert master.store.get_facts(name)["role"] == "db"
        status, catalog = client.json("GET", f"/puppet/v3/catalog/{name}?environment=production")
        assert status == 200
        motd = next(r for r in catalog["resources"] if r["title"] == "/etc/motd")
        assert motd["parameters"]["content"].endswith("role=db\n")
        status, error = client.json("PUT", "/puppet/v3/facts/db01.example.com?environment=production",
                                    json.dumps(document), {"Content-Type": "application/json"})
        assert (status, error["issue_kind"]) == (403, "FAILED_AUTHORIZATION")


def test_a_revoked_certificate_is_refused_on_every_route(master, tmp: Path) -> None:
    name = "gone.example.com"
    paths = issue_identity(master, tmp, name)
    with Client(master, paths) as client:
        assert client.request("GET", f"/puppet/v3/node/{name}?environment=production")[0] == 200
        master.ctx.ca.revoke(name)
        status, error = client.json("GET", f"/puppet/v3/node/{name}?environment=production")  # same connection
        assert status == 403 and error["message"] == f"Not Authorized: the certificate of {name} has been revoked"
        status, _head, body = client.request("GET", "/puppet-ca/v1/certificate/ca")
        assert status == 403 and b"has been revoked" in body


# -- files -------------------------------------------------------------------------------------------------
def test_file_metadata_and_content_of_a_module_file(master, tmp: Path) -> None:
    paths = issue_identity(master, tmp, "files01.example.com")
    source = tmp / "envs" / "production" / "modules" / "demo" / "files" / "demo.conf"
    with Client(master, paths) as client:
        status, meta = client.json("GET", "/puppet/v3/file_metadata/modules/demo/demo.conf?environment=production"
                                          "&links=manage&checksum_type=sha256&source_permissions=ignore")
        assert status == 200
        assert meta["checksum"] == {"type": "sha256",
                                    "value": "{sha256}" + hashlib.sha256(source.read_bytes()).hexdigest()}
        assert (meta["type"], meta["path"], meta["relative_path"]) == ("file", str(source.resolve()), None)
        assert meta["mode"] == os.stat(source).st_mode & 0o7777
        status, meta = client.json("GET", "/puppet/v3/file_metadata/modules/demo/demo.conf?environment=production"
                                          "&checksum_type=md5")
        assert meta["checksum"]["value"] == "{md5}" + hashlib.md5(source.read_bytes()).hexdigest()
        status, head, body = client.request("GET", "/puppet/v3/file_content/modules/demo/demo.conf"
                                                   "?environment=production", headers={"Accept": "application/octet-stream"})
        assert (status, body) == (200, source.read_bytes())
        assert head["Content-Type"] == "application/octet-stream"
        status, listing = client.json("GET", "/puppet/v3/file_metadatas/modules/demo/tree?environment=production"
                                             "&recurse=true&checksum_type=sha256&links=manage")
        assert status == 200
        assert [(m["relative_path"], m["type"]) for m in listing] == [
            (".", "directory"), ("a.txt", "file"), ("sub", "directory"), ("sub/b.txt", "file")]
        assert {m["path"] for m in listing} == {str((source.parent / "tree").resolve())}
        status, error = client.json("GET", "/puppet/v3/file_metadata/modules/demo/nothing?environment=production")
        assert (status, error["issue_kind"]) == (404, "RESOURCE_NOT_FOUND")


def test_pluginsync_mounts_merge_every_modules_lib_and_facts_d(master, tmp: Path) -> None:
    paths = issue_identity(master, tmp, "plugins01.example.com")
    modules = (tmp / "envs" / "production" / "modules").resolve()
    query = ("?environment=production&recurse=true&max_files=-1&links=follow&checksum_type=sha256"
             "&source_permissions=ignore&ignore=.svn&ignore=CVS&ignore=.git&ignore=.hg")
    with Client(master, paths) as client:
        status, listing = client.json("GET", "/puppet/v3/file_metadatas/plugins" + query)
        assert status == 200
        found = {m["relative_path"]: m for m in listing}
        assert listing[0]["relative_path"] == "." and listing[0]["type"] == "directory"
        assert sorted(found) == [".", "facter", "facter/demo_fact.rb", "facter/extra_fact.rb", "puppet",
                                 "puppet/type", "puppet/type/demo_thing.rb"]
        assert found["facter/demo_fact.rb"]["path"] == str(modules / "demo" / "lib")  # the first module wins
        assert found["facter/extra_fact.rb"]["path"] == str(modules / "extra" / "lib")
        status, _head, body = client.request("GET", "/puppet/v3/file_content/plugins/facter/demo_fact.rb"
                                                    "?environment=production")
        assert status == 200 and body.startswith(b"Facter.add(:demo_fact)")
        status, listing = client.json("GET", "/puppet/v3/file_metadatas/pluginfacts" + query)
        assert [m["relative_path"] for m in listing] == [".", "demo.txt"]
        status, listing = client.json("GET", "/puppet/v3/file_metadatas/locales" + query)
        assert [(m["relative_path"], m["type"]) for m in listing] == [(".", "directory")]  # nothing to sync
        status, error = client.json("GET", "/puppet/v3/file_metadatas/plugins?environment=nowhere")
        assert (status, error["issue_kind"]) == (404, "ENVIRONMENT_NOT_FOUND")


def test_nothing_outside_the_mounts_is_served(master, tmp: Path) -> None:
    paths = issue_identity(master, tmp, "files02.example.com")
    with Client(master, paths) as client:
        for path in ("modules/demo/escape", "modules/demo/%2e%2e/manifests/init.pp",
                     "modules/demo/..%2F..%2Fmanifests%2Finit.pp", "modules/Demo/demo.conf"):
            for route in ("file_metadata", "file_content"):
                status, head, body = client.request("GET", f"/puppet/v3/{route}/{path}?environment=production")
                assert status in (403, 404), (route, path, status)
                assert b"root:" not in body and b"class demo" not in body
                assert head["Content-Type"].startswith("application/json")
        status, error = client.json("GET", "/puppet/v3/file_content/secrets/x?environment=production")
        assert (status, error["issue_kind"]) == (404, "RESOURCE_NOT_FOUND")


def test_unknown_routes_and_methods_answer_in_puppets_form(master, tmp: Path) -> None:
    paths = issue_identity(master, tmp, "routes01.example.com")
    with Client(master, paths) as client:
        status, error = client.json("GET", "/puppet/v3/nonsense/x")
        assert error == {"message": "Not Found: No route for GET /puppet/v3/nonsense/x", "issue_kind": "HANDLER_NOT_FOUND"}
        status, error = client.json("DELETE", "/puppet/v3/catalog/routes01.example.com")
        assert (status, error["issue_kind"]) == (405, "UNSUPPORTED_METHOD")
        status, answer = client.json("GET", "/puppet/v3/status/whatever")
        assert (status, answer) == (200, {"is_alive": True, "version": "7.23.0"})


# -- the listener ----------------------------------------------------------------------------------------
def test_requests_share_a_kept_alive_connection(master, tmp: Path) -> None:
    paths = issue_identity(master, tmp, "alive01.example.com")
    with Client(master, paths) as client:
        client.request("GET", "/puppet-ca/v1/certificate/ca")
        first = client.conn.sock
        for _ in range(3):
            assert client.request("GET", "/puppet/v3/node/alive01.example.com?environment=production")[0] == 200
        assert client.conn.sock is first


@pytest.fixture()
def small(master) -> Iterator[PuppetAPIServer]:
    """A second listener on the same master with tight limits."""
    paths = pki.SSLPaths(master.config.ssldir, master.config.certname)
    server = PuppetAPIServer(master.ctx, "127.0.0.1", 0, certfile=paths.cert, keyfile=paths.key, cafile=paths.ca,
                             limits=Limits(max_connections=10, max_per_address=2, handshake_timeout=0.5,
                                           keepalive_timeout=0.5, threads=2))
    server.start()
    yield server
    server.stop()


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_connections_over_the_per_address_limit_are_reset(master, small: PuppetAPIServer) -> None:
    held = [socket.create_connection(("127.0.0.1", small.port)) for _ in range(2)]
    try:
        time.sleep(0.1)
        extra = socket.create_connection(("127.0.0.1", small.port))
        assert _closed_within(extra, 2)
        extra.close()
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)  # released: a new connection is served
    with Client(master, port=small.port) as client:
        assert client.request("GET", "/status/v1/simple")[:3:2] == (200, b"running")


def test_silent_connections_are_closed_by_the_handshake_and_keepalive_timeouts(master, small: PuppetAPIServer) -> None:
    raw = socket.create_connection(("127.0.0.1", small.port))  # never starts TLS
    assert _closed_within(raw, 5)
    raw.close()
    context = ssl.create_default_context(cafile=str(master.ctx.ca.ca_cert_path))
    with context.wrap_socket(socket.create_connection(("127.0.0.1", small.port)), server_hostname="127.0.0.1") as tls:
        tls.sendall(b"GET /status/v1/simple HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        started = time.monotonic()
        assert _closed_within(tls, 5)
        assert time.monotonic() - started < 4


# -- the mounts, without a server ------------------------------------------------------------------------------
def test_mount_paths_are_parsed_and_confined() -> None:
    assert fileserving.parse_path("modules/demo/a//b/./c") == fileserving.MountPath("modules", "demo", "a/b/c")
    assert fileserving.parse_path("plugins") == fileserving.MountPath("plugins", None, "")
    assert fileserving.parse_path("pluginfacts/x.txt").uri == "puppet:///pluginfacts/x.txt"
    for bad in ("modules/demo/../x", "modules", "modules/Demo/x", "plugins/a\0b"):
        with pytest.raises(fileserving.FileServingError):
            fileserving.parse_path(bad)
    with pytest.raises(fileserving.UnknownMount):
        fileserving.parse_path("tasks/x")
