"""The compile workers' fast path: ``compile_catalog_document`` builds the catalog's document directly,
without the Catalog and Resource objects; it must be exactly ``compile_catalog(...).to_dict()`` (the same
keys in the same order, the same values), on the golden manifests, the example site and a few more."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from catalog_compare import CompileCase, example_cases, golden_cases

import dsl.compiler as compiler
from dsl.errors import DslError

MORE = {
    "defines_from_facts": """
define bench::conf(Integer $port) {
  file { "/etc/bench/${title}.conf":
    ensure  => file,
    owner   => 'root',
    mode    => '0644',
    content => "# ${title}\\nport=${port}\\nhost=${facts['networking']['fqdn']}\\nseq=${facts['seq']}\\n",
  }
}
node default {
  Integer[1, 20].each |$i| { bench::conf { "svc${i}": port => 8000 + $i } }
}
""",
    "exported_virtual_secrets": """
@@file { '/etc/exported': content => 'x', tag => ['ex', 'ported'] }
@notify { 'virtual-never': }
@user { 'realized': password => 'hash', uid => 4001 }
realize(User['realized'])
file { '/etc/key': content => Sensitive('s3cret'), mode => 0644 }
file { '/etc/dir/': ensure => directory, before => File['/etc/key'], noop => true }
exec { 'run': command => '/bin/true', path => ['/bin', '/usr/bin'], subscribe => File['/etc/key'] }
notify { 'deferred': message => Deferred('sprintf', ['%s', 'x']) }
create_resources('notify', { 1 => { message => 'int title' }, 'b' => { message => [1, 2.5, {'k' => undef}] } })
Notify['b'] -> Notify['deferred']
define wrap($inner = undef) { notify { "wrapped-${title}": message => $inner } }
wrap { ['w1', 'w2']: inner => 'i', loglevel => 'debug', tag => 'w' }
File { owner => 'root' }
file { '/etc/defaults': }
""",
}


def _request(case: CompileCase) -> compiler.CompileRequest:
    req = compiler.CompileRequest.from_cli(manifest=case.manifest, node=case.node, facts=case.facts(),
                                           modulepath=case.modulepath, hiera_config=case.hiera_config,
                                           env_dir=case.env_dir, environment="production")
    req.version = "v1"
    return req


def _both(req: compiler.CompileRequest) -> tuple[Any, Any]:
    results: list[Any] = []
    for build in (lambda: compiler.compile_catalog(req).to_dict(), lambda: compiler.compile_catalog_document(req)):
        try:
            doc = build()
        except DslError as exc:
            results.append(("error", type(exc).__name__, str(exc)))
            continue
        assert isinstance(doc.pop("catalog_uuid"), str)
        results.append(doc)
    return results[0], results[1]


def _same(slow: Any, fast: Any) -> None:
    assert fast == slow
    # the same keys in the same order (the JSON sent when it cannot be sorted follows them)
    assert json.dumps(fast, default=repr) == json.dumps(slow, default=repr)


CASES = golden_cases() + example_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_document_is_the_catalog_as_a_dict(case: CompileCase) -> None:
    _same(*_both(_request(case)))


@pytest.mark.parametrize("name", sorted(MORE))
def test_the_document_is_the_catalog_as_a_dict_on_more_manifests(tmp_path: Path, name: str) -> None:
    manifest = tmp_path / "site.pp"
    manifest.write_text(MORE[name])
    req = compiler.CompileRequest.from_cli(manifest=manifest, node="n1.example.com",
                                           facts={"networking": {"fqdn": "n1.example.com"}, "seq": "7"})
    req.version = "v1"
    req.exported_allowed = True
    slow, fast = _both(req)
    assert isinstance(slow, dict), slow
    _same(slow, fast)


def test_the_compilers_uniqueness_keys_are_puppets() -> None:
    """The compiler's shortcut for types of one key attribute gives uniqueness_key's answers."""
    from dsl.resource_types import BUILTIN_SPECS, TitleMismatch, uniqueness_key

    comp = compiler.Compiler(compiler.CompileRequest(node="n1", facts={}))
    titles = ["/etc/x", "/etc/x/", "/", "x", "", "a:/b", "multi\nline", "C:/dir/"]
    params_list: list[dict[str, Any]] = [{}, {"path": "/other"}, {"name": "n"}, {"path": None}, {"name": None},
                                         {"command": "/bin/true"}, {"ensure": "file", "name": ""}]
    for spec in [None, *BUILTIN_SPECS.values()]:
        for title in titles:
            for params in params_list:
                try:
                    want: Any = uniqueness_key(spec, title, params)
                except TitleMismatch as exc:
                    want = ("mismatch", str(exc))
                try:
                    got: Any = comp._uniqueness_key(spec, title, params)
                except TitleMismatch as exc:
                    got = ("mismatch", str(exc))
                assert got == want, (spec and spec.name, title, params)
