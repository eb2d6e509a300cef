"""Exported resources through a real master: a node exports (@@), the others collect (<<| |>>) from the
master's store; the exporter does not apply its own export; a new export reaches collectors whose cached
catalog would otherwise be reused."""

from __future__ import annotations

from pathlib import Path

from agent.run import run_once
from tests.e2e.harness import agent_settings, start_master

SITE = """\
node /^web/ {
  @@file { "/etc/peers/${trusted['certname']}":
    ensure  => file,
    content => "${trusted['certname']} ${facts['networking']['ip']}\\n",
    tag     => 'peer',
  }
}
node /^lb/ {
  file { '/etc/peers': ensure => directory }
  File <<| tag == 'peer' |>> { mode => '0640' }
}
"""


def _site(base: Path) -> Path:
    env = base / "production"
    (env / "manifests").mkdir(parents=True)
    (env / "manifests" / "site.pp").write_text(SITE)
    return base


def _agent(server: object, tmp: Path, name: str, ip: str) -> object:
    return agent_settings(server, tmp, name, facts={"networking": {"fqdn": name, "ip": ip}})


def test_exported_resources_are_collected_by_other_nodes(tmp_path: Path) -> None:
    server = start_master(tmp_path, _site(tmp_path / "envs"), autosign="true")
    try:
        web01 = _agent(server, tmp_path, "web01.example.com", "10.0.0.1")
        lb = _agent(server, tmp_path, "lb01.example.com", "10.0.0.9")
        assert run_once(web01).exit_code in (0, 2)
        # the exporter keeps its export in its catalog but never applies it
        assert not (web01.root / "etc/peers/web01.example.com").exists()
        assert run_once(lb).exit_code in (0, 2)
        peer = lb.root / "etc/peers/web01.example.com"
        assert peer.read_text() == "web01.example.com 10.0.0.1\n"
        assert oct(peer.stat().st_mode & 0o777) == "0o640"
        # a second exporter appears: the collector's next run picks it up (its cached catalog is stale)
        web02 = _agent(server, tmp_path, "web02.example.com", "10.0.0.2")
        assert run_once(web02).exit_code in (0, 2)
        assert run_once(lb).exit_code in (0, 2)
        assert (lb.root / "etc/peers/web02.example.com").read_text() == "web02.example.com 10.0.0.2\n"
        # and a run with nothing new changes nothing
        assert run_once(lb).exit_code == 0
    finally:
        server.stop()
