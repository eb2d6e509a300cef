"""One ``$trusted`` for one certificate, whichever way the catalog is compiled: an agent over gRPC, a
Puppet agent over Puppet's HTTP API, the compile of stored facts behind ``catalog diff`` and a rollout's
check, and (``authenticated => 'local'``, no extensions, as ``puppet apply``) a masterless run."""

from __future__ import annotations

import json
import ssl
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agent.run import run_once
from bunraku import main
from master import service
from tests.e2e.harness import agent_settings, start_master
from wire import pki

pytest.importorskip("aiohttp")

NODE = "web01.example.com"
FACTS = {"networking": {"fqdn": NODE}, "os": {"family": "Debian"}}
SITE = "node default {\n  file { '/etc/trusted': content => String($trusted) }\n}\n"

#: Puppet 7's String($trusted), in its key order
REMOTE = ("{'authenticated' => 'remote', 'certname' => 'web01.example.com', 'extensions' => "
          "{'pp_role' => 'web', 'pp_datacenter' => 'dc1'}, 'hostname' => 'web01', 'domain' => 'example.com', "
          "'external' => {}}")
#: what ``puppet apply --certname web01.example.com`` prints for String($trusted)
LOCAL = ("{'authenticated' => 'local', 'certname' => 'web01.example.com', 'extensions' => {}, "
         "'hostname' => 'web01', 'domain' => 'example.com', 'external' => {}}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    tmp = tmp_path_factory.mktemp("trusted")
    env = tmp / "envs" / "production"
    (env / "manifests").mkdir(parents=True)
    (env / "manifests" / "site.pp").write_text(SITE)
    server = start_master(tmp, tmp / "envs", autosign="true", puppet_listen="127.0.0.1:0")
    # the certificate: requested by an agent with extensions, signed by the master's CA
    settings = agent_settings(server, tmp, NODE, facts=FACTS,
                              csr_extensions={"pp_role": "web", "pp_datacenter": "dc1"})
    result = run_once(settings)
    assert result.exit_code == 2, "\n".join(t for _, t in result.lines)
    yield server, settings
    server.stop()


def _content(catalog: dict[str, Any]) -> str:
    res = next(r for r in catalog["resources"] if r["type"] == "File" and r["title"] == "/etc/trusted")
    return str(res["parameters"]["content"])


def test_grpc_compile(site: tuple[Any, Any]) -> None:
    _server, settings = site
    assert (settings.root / "etc/trusted").read_text() == REMOTE
    assert _content(json.loads(settings.catalog_cache.read_text())) == REMOTE


def test_puppet_api_compile(site: tuple[Any, Any]) -> None:
    import http.client

    server, settings = site
    paths = pki.SSLPaths(settings.ssldir, NODE)
    context = ssl.create_default_context(cafile=str(server.ctx.ca.ca_cert_path))
    context.load_cert_chain(str(paths.cert), str(paths.key))
    document = json.dumps({"name": NODE, "values": FACTS})
    form = {"facts_format": "application/json", "facts": urllib.parse.quote(document, safe=""),
            "environment": "production", "transaction_uuid": str(uuid.uuid4())}
    body = "&".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in form.items())
    conn = http.client.HTTPSConnection("127.0.0.1", server.puppet_api.port, context=context, timeout=60)
    try:
        conn.request("POST", f"/puppet/v3/catalog/{NODE}?environment=production", body=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    assert response.status == 200, data[:500]
    assert _content(json.loads(data)) == REMOTE


def test_stored_facts_compile_of_catalog_diff_and_rollouts(site: tuple[Any, Any]) -> None:
    server, _settings = site
    ctx = server.ctx
    env, cls = service.classify(ctx, NODE, "production")
    facts = service._stored_facts(ctx, NODE)
    assert facts is not None
    data = service._compile_stored(ctx, NODE, facts, cls, env.name, env)
    assert _content(json.loads(data)) == REMOTE
    assert service.trusted_for_node(ctx, "never-seen.example.com")["extensions"] == {}


def test_masterless_apply(tmp_path: Path) -> None:
    site_pp = tmp_path / "site.pp"
    site_pp.write_text(SITE)
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(FACTS))
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    out = CliRunner().invoke(main, ["apply", "--node", NODE, "--facts", str(facts), "--root", str(root),
                                    "--state-dir", str(tmp_path / "state"), str(site_pp)])
    assert out.exit_code == 0, out.output
    assert (root / "etc/trusted").read_text() == LOCAL
