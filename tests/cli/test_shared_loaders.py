"""What the command line and the agent share: one facts-file reader, one certname rule, one catalog reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.catalogcache import parse_catalog
from agent.run import AgentSettings, _load_facts
from cli import main
from engine import __version__
from engine.catalog import Catalog, CatalogError
from facts.files import FactsFileError, certname_from_facts, load_facts_file


def test_agent_reads_puppet_facts_documents_as_the_cli_does(tmp_path: Path) -> None:
    wrapped = tmp_path / "node.json"  # what `puppet facts show --render-as json` style tools write
    wrapped.write_text(json.dumps({"name": "web1.example.com", "values": {"networking": {"fqdn": "Web1.Example.com"}}}))
    settings = AgentSettings(certname="x", servers=["m:8140"], ssldir=tmp_path, vardir=tmp_path,
                             facts_file=wrapped)
    assert load_facts_file(wrapped) == {"networking": {"fqdn": "Web1.Example.com"}}
    # the agent adds its own version, whatever the file says (the master's agent upgrades read it)
    assert _load_facts(settings) == {"networking": {"fqdn": "Web1.Example.com"}, "bunraku_version": __version__}
    assert certname_from_facts(load_facts_file(wrapped)) == "web1.example.com"
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert _load_facts(AgentSettings(certname="x", servers=["m:8140"], ssldir=tmp_path, vardir=tmp_path,
                                     facts_file=empty)) == {"bunraku_version": __version__}
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n")
    with pytest.raises(FactsFileError, match="must hold a mapping"):
        load_facts_file(listed)
    res = CliRunner().invoke(main, ["apply", "-e", "notify { 'x': }", "--facts", str(listed)])
    assert res.exit_code == 1 and res.output == f"{listed}: error: facts file must hold a mapping of fact names to values\n"


def test_agent_and_apply_read_wrapped_catalogs(tmp_path: Path) -> None:
    catalog = Catalog("n1.example.com")
    document = json.dumps({"data": catalog.to_dict()}).encode()
    assert parse_catalog(document, "n1.example.com").name == "n1.example.com"
    with pytest.raises(CatalogError, match="not valid JSON"):
        parse_catalog(b"{nope")
    path = tmp_path / "c.json"
    path.write_bytes(document)
    res = CliRunner().invoke(main, ["apply", "--catalog", str(path), "--root", str(tmp_path / "root"),
                                    "--state-dir", str(tmp_path / "state")])
    assert res.exit_code == 0 and "Applied catalog for n1.example.com" in res.output, res.output
