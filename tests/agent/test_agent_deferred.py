"""The agent resolves the Deferred values of the catalog a real master compiled: the files hold the
resolved values, the report the master stores shows them (or [redacted]), the cached catalog keeps the
Deferred as served, and a Deferred naming an unknown function fails its resource alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.run import run_once
from dsl.deferred import call_deferred
from tests.e2e.harness import agent_settings, start_master

SITE = """\
node default {
  file { '/etc/motd':
    content => Deferred('sprintf', ["%s (%s)\\n", Deferred('upcase', [$trusted['certname']]),
                                    Deferred('$facts', ['os', 'family'])]),
  }
  file { '/etc/token':
    content => Deferred('inline_epp', ['token=<%= $t.unwrap %>', {'t' => Sensitive('t0ken-value')}]),
  }
  file { '/etc/broken': content => Deferred('vault_lookup', ['secret/x']) }
  file { '/etc/after-broken': content => 'x', require => File['/etc/broken'] }
}
"""


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    tmp = tmp_path_factory.mktemp("deferred")
    env = tmp / "envs" / "production"
    (env / "manifests").mkdir(parents=True)
    (env / "manifests" / "site.pp").write_text(SITE)
    server = start_master(tmp, tmp / "envs", autosign="true")
    server.tmp = tmp
    yield server
    server.stop()


def test_the_agent_resolves_deferred_values(master) -> None:
    s = agent_settings(master, master.tmp, "web01.example.com",
                       facts={"os": {"family": "Debian"}, "networking": {"fqdn": "web01.example.com"}},
                       functions=call_deferred)
    result = run_once(s)
    assert result.report is not None and result.report.status == "failed", "\n".join(t for _, t in result.lines)
    assert (s.root / "etc/motd").read_text() == "WEB01.EXAMPLE.COM (Debian)\n"
    assert (s.root / "etc/token").read_text() == "token=t0ken-value"
    assert not (s.root / "etc/broken").exists() and not (s.root / "etc/after-broken").exists()
    lines = "\n".join(t for _, t in result.lines)
    assert "Deferred function 'vault_lookup' failed: unknown function 'vault_lookup' on the agent" in lines
    assert "t0ken-value" not in lines
    stored = json.dumps(master.store.reports("web01.example.com", last=1))
    assert "t0ken-value" not in stored and "__ptype" not in stored
    cached = json.loads(s.catalog_cache.read_text())
    motd = next(r for r in cached["resources"] if r["title"] == "/etc/motd")
    assert motd["parameters"]["content"]["__ptype"] == "Deferred"  # the catalog as served
    # the next run resolves again from the same catalog, and the files stay as they are
    again = run_once(s)
    assert again.report is not None
    assert again.report.resource_statuses["File[/etc/motd]"].events == []


def test_the_agent_command_gives_the_functions(tmp_path: Path) -> None:
    from cli.agent import _agent_settings

    obj = {"server": "puppet:8140", "ca_server": None, "certname": "n1", "ssldir": None, "vardir": None,
           "root": str(tmp_path), "environment": "production", "facts_file": None, "challenge": None,
           "csr_attributes": (), "ca_fingerprint": None, "waitforcert": 0}
    functions = _agent_settings(obj).functions
    assert functions is not None
    assert functions("sprintf", ["%s-%s", "a", "b"], {}) == call_deferred("sprintf", ["%s-%s", "a", "b"], {})
