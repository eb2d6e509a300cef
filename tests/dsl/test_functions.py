"""Built-in functions where a compile is the point: resources the stdlib helpers declare, stable
seeded values, templates, Sensitive values, and functions whose Puppet oracle is unusable (Puppet's own
scanf needs a Ruby library Debian does not ship). Values of expressions are checked against Puppet in
test_functions_puppet.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from dsl.compiler import CompileRequest, compile_catalog
from dsl.errors import DslError


def messages(tmp_path: Path, source: str, modulepath: list[Path] | None = None,
             facts: dict[str, Any] | None = None) -> dict[str, Any]:
    manifest = tmp_path / "site.pp"
    manifest.write_text(source)
    req = CompileRequest.from_cli(manifest=manifest, node="web01.example.com",
                                  facts=facts or {"networking": {"fqdn": "web01.example.com"}},
                                  modulepath=modulepath or [])
    cat = compile_catalog(req).to_dict()
    return {r["title"]: r["parameters"].get("message") for r in cat["resources"] if r["type"] == "Notify"}


def value_of(tmp_path: Path, expr: str) -> Any:
    return messages(tmp_path, f"notify {{ 'v': message => {expr} }}\n")["v"]


STDLIB = [
    ("pick(undef, '', 'a', 'b')", "a"),
    ("pick_default(undef, '')", ""),
    ("merge({'a' => 1, 'b' => 2}, {'b' => 3}, undef)", {"a": 1, "b": 3}),
    ("deep_merge({'a' => {'x' => 1, 'y' => 2}}, {'a' => {'y' => 3}})", {"a": {"x": 1, "y": 3}}),
    ("concat([1], 2, [3, 4])", [1, 2, 3, 4]),
    ("any2array('a')", ["a"]),
    ("any2array({'a' => 1})", ["a", 1]),
    ("has_key({'a' => 1}, 'a')", True),
    ("member(['a', 'b'], 'b')", True),
    ("member(['a', 'b'], ['a', 'c'])", False),
    ("delete(['a', 'b', 'a'], 'a')", ["b"]),
    ("delete({'a' => 1, 'b' => 2}, 'a')", {"b": 2}),
    ("to_json({'a' => [1, true, undef]})", '{"a":[1,true,null]}'),
    ("to_yaml({'a' => 1})", "---\na: 1\n"),
    ("parsejson('{\"a\": [1, 2]}')", {"a": [1, 2]}),
    ("parseyaml('a: [1, 2]')", {"a": [1, 2]}),
    ("parsejson('{bad', 'fallback')", "fallback"),
    ("str2bool('yes')", True),
    ("str2bool('false')", False),
    ("bool2str(true)", "true"),
    ("bool2str(false, 'on', 'off')", "off"),
    ("versioncmp('1.10.0', '1.9.2')", 1),
    ("versioncmp('2.0', '2.0')", 0),
    ("versioncmp('1.0-rc1', '1.0')", 1),  # Puppet 7.23 says 1
    ("versioncmp('1.0', '1.0.1')", -1),
]


@pytest.mark.parametrize(("expr", "expected"), STDLIB)
def test_stdlib_functions(tmp_path: Path, expr: str, expected: Any) -> None:
    assert value_of(tmp_path, expr) == expected


def test_fqdn_rand_is_stable_per_host_and_seed(tmp_path: Path) -> None:
    src = "notify { 'a': message => fqdn_rand(60) }\nnotify { 'b': message => fqdn_rand(60, 'cron') }\n"
    first = messages(tmp_path, src)
    assert first == messages(tmp_path, src)
    assert all(0 <= v < 60 for v in first.values())
    other = messages(tmp_path, src, facts={"networking": {"fqdn": "db01.example.com"}})
    assert other != first


def test_ensure_packages_and_ensure_resource_are_idempotent(tmp_path: Path) -> None:
    manifest = tmp_path / "site.pp"
    manifest.write_text("ensure_packages(['git', 'curl'])\nensure_packages(['git'])\n"
                        "ensure_resource('user', 'deploy', {'ensure' => 'present'})\n"
                        "ensure_resource('user', 'deploy', {'ensure' => 'present'})\n")
    cat = compile_catalog(CompileRequest.from_cli(manifest=manifest, node="n", facts={})).to_dict()
    refs = {(r["type"], r["title"]): r.get("parameters") for r in cat["resources"]}
    assert refs[("Package", "git")] == {"ensure": "installed"}
    assert ("Package", "curl") in refs and refs[("User", "deploy")] == {"ensure": "present"}
    manifest.write_text("package { 'git': ensure => '2.39' }\nensure_packages(['git'])\n")
    with pytest.raises(DslError, match="already declared with ensure => 2.39"):
        compile_catalog(CompileRequest.from_cli(manifest=manifest, node="n", facts={}))


def test_jinja2_template_sees_scope_variables(tmp_path: Path) -> None:
    tpl = tmp_path / "modules" / "app" / "templates"
    tpl.mkdir(parents=True)
    (tpl / "app.conf.j2").write_text("port={{ port }}\n{% for s in servers %}server {{ s }}\n{% endfor %}"
                                     "host={{ facts.networking.fqdn }}\n")
    src = ("class app($port = 8080, $servers = ['a', 'b']) {\n"
           "  notify { 'conf': message => template('app/app.conf.j2') }\n"
           "  notify { 'inline': message => inline_template('<%= @port + 1 %>') }\n}\ninclude app\n")
    out = messages(tmp_path, src, modulepath=[tmp_path / "modules"])
    assert out["conf"] == "port=8080\nserver a\nserver b\nhost=web01.example.com\n"
    assert out["inline"] == "8081"


def test_template_errors_are_positioned(tmp_path: Path) -> None:
    tpl = tmp_path / "modules" / "app" / "templates"
    tpl.mkdir(parents=True)
    (tpl / "bad.j2").write_text("fine\n{{ nope }}")
    (tpl / "syntax.j2").write_text("a\nb\n{% if %}\n")
    # at the template's own line (where the fix goes), naming the manifest line that rendered it
    with pytest.raises(DslError) as info:
        messages(tmp_path, "notify { 'x': message => template('app/bad.j2') }\n", modulepath=[tmp_path / "modules"])
    assert info.value.format_line() == (f"{tpl / 'bad.j2'}:2:1: error: 'nope' is undefined "
                                        f"(in template app/bad.j2, rendered at {tmp_path / 'site.pp'}:1:26)")
    with pytest.raises(DslError) as info:
        messages(tmp_path, "notify { 'x': message => template('app/syntax.j2') }\n", modulepath=[tmp_path / "modules"])
    assert info.value.format_line().startswith(f"{tpl / 'syntax.j2'}:3:1: error: Expected an expression")
    with pytest.raises(DslError, match="points outside the module's templates/ directory"):
        messages(tmp_path, "notify { 'x': message => epp('app/../../../etc/passwd') }\n",
                 modulepath=[tmp_path / "modules"])


def test_sensitive_values_are_marked_in_the_catalog(tmp_path: Path) -> None:
    manifest = tmp_path / "site.pp"
    manifest.write_text("user { 'app': password => Sensitive('s3cret') }\n")
    cat = compile_catalog(CompileRequest.from_cli(manifest=manifest, node="n", facts={})).to_dict()
    user = next(r for r in cat["resources"] if r["type"] == "User")
    assert user["sensitive_parameters"] == ["password"]
    assert json.dumps(user["parameters"]) == '{"password": "s3cret"}'


@pytest.mark.parametrize(("expr", "expected"), [
    ("scanf('42 abc', '%d %s')", [42, "abc"]),
    ("scanf('x=0x1f;y=3.5', 'x=%x;y=%f')", [31, 3.5]),
    ("scanf('abc123', '%[a-z]%d')", ["abc", 123]),
    ("scanf('12', '%d') |$r| { $r[0] + 1 }", 13),
    ("scanf('a', '%d')", []),
])
def test_scanf(tmp_path: Path, expr: str, expected: Any) -> None:
    assert value_of(tmp_path, expr) == expected


def test_file_functions_stay_in_the_environment_on_the_master(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("key")
    files = tmp_path / "modules" / "m" / "files"
    files.mkdir(parents=True)
    (files / "data.yaml").write_text("a: 1\n")
    manifest = tmp_path / "site.pp"
    manifest.write_text(f"notify {{ 'a': message => file('{secret}') }}\n")
    req = CompileRequest.from_cli(manifest=manifest, node="n", facts={}, modulepath=[tmp_path / "modules"])
    assert next(r for r in compile_catalog(req).to_dict()["resources"] if r["type"] == "Notify")[
        "parameters"]["message"] == "key"
    req.confine_files = True
    with pytest.raises(DslError, match="is outside the environment and its modules"):
        compile_catalog(req)
    manifest.write_text(f"notify {{ 'a': message => loadyaml('{files / 'data.yaml'}') }}\n")
    req = CompileRequest.from_cli(manifest=manifest, node="n", facts={}, modulepath=[tmp_path / "modules"])
    req.confine_files = True
    assert next(r for r in compile_catalog(req).to_dict()["resources"] if r["type"] == "Notify")[
        "parameters"]["message"] == {"a": 1}


def test_functions_that_would_run_code_on_the_master_refuse(tmp_path: Path) -> None:
    for expr, words in [("generate('/bin/echo', 'x')", "runs '/bin/echo x' on the master"),
                        ("validate_cmd('x', '/bin/true')", "runs the command '/bin/true' on the master"),
                        ("redisget('k', 'redis://h')", "reads 'k' from the Redis server at redis://h")]:
        with pytest.raises(DslError, match=re.escape(words)):
            value_of(tmp_path, expr)
