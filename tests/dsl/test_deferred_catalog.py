"""Deferred values in the catalog: written as Puppet's rich data, read back as they are, and left
unresolved by a compile (``bunraku compile`` prints them as Puppet's server serves them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bunraku import main
from dsl.compiler import CompileRequest, compile_catalog
from engine.catalog import Catalog, CatalogError
from tests.interop.oracle import PuppetTree, require_puppet

MANIFEST = """\
$d = Deferred('sprintf', ['%s-%s', Deferred('join', [['a', 'b'], ',']), 3])
file { '/tmp/deferred/out': content => $d }
notify { 'nested': message => [{'k' => Deferred('inline_epp', ['x<%= $a %>', {'a' => Sensitive('s')}])}] }
notify { 'secret': message => Sensitive(Deferred('join', [['a'], '-'])) }
notify { 'bare': message => Deferred('foo') }
notify { 'fact': message => Deferred('$facts', ['os', 'family']) }
notify { 'hash_form': message => Deferred({'name' => 'upcase', 'arguments' => ['x']}) }
"""

#: what Puppet 7.23's compiler serves for MANIFEST (``rich_data``), resource by resource
PUPPET_FORM: dict[str, tuple[dict[str, Any], list[str] | None]] = {
    "File[/tmp/deferred/out]": ({"content": {
        "__ptype": "Deferred", "name": "sprintf", "arguments": [
            "%s-%s", {"__ptype": "Deferred", "name": "join", "arguments": [["a", "b"], ","]}, 3]}}, None),
    "Notify[nested]": ({"message": [{"k": {
        "__ptype": "Deferred", "name": "inline_epp",
        "arguments": ["x<%= $a %>", {"a": {"__ptype": "Sensitive", "__pvalue": "s"}}]}}]}, None),
    "Notify[secret]": ({"message": {"__ptype": "Deferred", "name": "join", "arguments": [["a"], "-"]}},
                       ["message"]),
    "Notify[bare]": ({"message": {"__ptype": "Deferred", "name": "foo"}}, None),
    "Notify[fact]": ({"message": {"__ptype": "Deferred", "name": "$facts", "arguments": ["os", "family"]}},
                     None),
    "Notify[hash_form]": ({"message": {"__ptype": "Deferred", "name": "upcase", "arguments": ["x"]}}, None),
}


def _ours(tmp_path: Path) -> dict[str, tuple[dict[str, Any], list[str] | None]]:
    site = tmp_path / "site.pp"
    site.write_text(MANIFEST)
    catalog = compile_catalog(CompileRequest.from_cli(manifest=site, node="n1", facts={}))
    data = json.loads(catalog.to_json())
    return {f"{r['type']}[{r['title']}]": (r.get("parameters", {}), r.get("sensitive_parameters"))
            for r in data["resources"] if r["type"] in ("File", "Notify")}


def test_deferred_is_written_as_puppet_rich_data(tmp_path: Path) -> None:
    assert _ours(tmp_path) == PUPPET_FORM


def test_the_catalog_reads_deferred_back_unchanged(tmp_path: Path) -> None:
    site = tmp_path / "site.pp"
    site.write_text(MANIFEST)
    catalog = compile_catalog(CompileRequest.from_cli(manifest=site, node="n1", facts={}))
    again = Catalog.from_json(catalog.to_json())
    assert again.to_dict()["resources"] == catalog.to_dict()["resources"]
    assert again.get("Notify[bare]").parameters["message"] == {"__ptype": "Deferred", "name": "foo"}


@pytest.mark.parametrize(("value", "why"), [
    ({"__ptype": "Deferred"}, "a Deferred must name a function, not None"),
    ([{"__ptype": "Deferred", "name": "not a name"}], "a Deferred must name a function, not 'not a name'"),
    ({"k": {"__ptype": "Deferred", "name": "join", "arguments": "x"}},
     "the arguments of Deferred 'join' must be a list"),
])
def test_a_malformed_deferred_is_refused_in_one_line(value: Any, why: str) -> None:
    doc = {"name": "n1", "version": 1, "resources": [{"type": "Notify", "title": "x", "parameters": {"message": value}}]}
    with pytest.raises(CatalogError) as exc:
        Catalog.from_dict(doc)
    assert str(exc.value) == f"Notify[x]: parameter 'message': {why}"


def test_bunraku_compile_prints_deferred_unresolved(tmp_path: Path) -> None:
    site = tmp_path / "site.pp"
    site.write_text("notify { 'n': message => Deferred('join', [['a', 'b'], '-']) }\n")
    out = CliRunner().invoke(main, ["compile", "--node", "n1", "--compact", str(site)])
    assert out.exit_code == 0, out.output
    res = {r["title"]: r for r in json.loads(out.output)["resources"]}
    assert res["n"]["parameters"]["message"] == {"__ptype": "Deferred", "name": "join", "arguments": [["a", "b"], "-"]}


#: compiles the manifest named on the command line with Puppet and prints the parameters of its File
#: and Notify resources as Puppet's server serialises them (rich data)
PUPPET_COMPILE = r"""
Puppet[:code] = File.read(ARGV[0])
catalog = Puppet::Parser::Compiler.compile(Puppet::Node.new('n1'))
Puppet.override(rich_data: true) do
  out = {}
  catalog.to_data_hash['resources'].each do |r|
    next unless %w[File Notify].include?(r['type'])
    out["#{r['type']}[#{r['title']}]"] = [r['parameters'] || {}, r['sensitive_parameters']]
  end
  puts JSON.generate(out)
end
"""


def test_puppet_writes_the_same_deferred(tmp_path: Path) -> None:
    require_puppet()
    site = tmp_path / "puppet.pp"
    site.write_text(MANIFEST)
    theirs = PuppetTree(tmp_path / "puppet").ruby(PUPPET_COMPILE, str(site))
    assert {ref: (params, sens) for ref, (params, sens) in theirs.items()} == _ours(tmp_path)
