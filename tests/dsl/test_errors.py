"""Evaluation errors word for word, and how the CLI reports errors: one line, exit 1, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dsl.compiler import CompileRequest, compile_catalog
from dsl.errors import DslError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def compile_source(tmp_path: Path, source: str, *, strict: bool = False) -> dict:
    manifest = tmp_path / "e.pp"
    manifest.write_text(source)
    req = CompileRequest.from_cli(manifest=manifest, node="n1", facts={}, strict_variables=strict)
    return compile_catalog(req).to_dict()


EVALUATION_ERRORS = [
    ("include nope", "1:1: error: could not find class 'nope' for node n1; check the name and that its module "
                     "is on the module path"),
    ("foo { 'x': }", "1:1: error: unknown resource type: 'foo'; check the name and that the module defining it "
                     "is on the module path"),
    ("file { 'x': colour => red }", "1:1: error: File[x]: has no parameter named 'colour'"),
    ("class a(Integer $p) {}\ninclude a", "2:1: error: Class[A]: expects a value for parameter 'p'"),
    ("class a(Integer $p) {}\nclass { 'a': p => 'x' }",
     "2:1: error: Class[A]: parameter 'p' expects an Integer value, got String"),
    ("class a(Integer[1, 10] $p) {}\nclass { 'a': p => 20 }",
     "2:1: error: Class[A]: parameter 'p' expects an Integer[1, 10] value, got Integer[20, 20]"),
    ("class a(Optional[String] $p = 'x') {}\nclass { 'a': p => 5 }",
     "2:1: error: Class[A]: parameter 'p' expects a value of type Undef or String, got Integer"),
    ("class a(Enum['on', 'off'] $p) {}\nclass { 'a': p => 'maybe' }",
     "2:1: error: Class[A]: parameter 'p' expects a match for Enum['off', 'on'], got 'maybe'"),
    ("notify { 'a': require => File['/nope'] }",
     "1:15: error: could not find resource 'File[/nope]' in parameter 'require' of Notify[a]; declare it or fix "
     "the reference"),
    ("notify { 'a': }\nnotify { 'a': }",
     "2:1: error: duplicate declaration: Notify[a] is already declared at {file}:1; a resource can be declared "
     "only once"),
    ("$x = 1\n$x = 2", "2:4: error: cannot reassign variable '$x'"),
    ("notice($nope)", "1:8: error: unknown variable '$nope'"),
    ("nofunc(1)", "1:1: error: unknown function 'nofunc'; check the name and that the module that defines it is "
                  "on the module path"),
    ("$x = 'a' ? { 'b' => 1 }", "1:6: error: no matching entry for selector parameter with value 'a'"),
    ("$x = 1 / 0", "1:6: error: division by 0"),
    ("fail('custom failure')", "1:1: error: custom failure"),
    ("define d($a) {}\nd { 'x': }", "2:1: error: D[x]: expects a value for parameter 'a'"),
    ("$x = inline_template('<%= @nope.join %>')",
     "1:6: error: inline_template:1: undefined method `join' for nil:NilClass"),
    ("File['/nope'] { mode => '0644' }", "1:1: error: cannot override File[/nope]: no such resource in the catalog"),
    ("@@file { '/x': }", "1:3: error: exported resources (@@) need the master's store, which this compilation does "
                         "not have; compile through the master or remove the @@"),
    ("Notify['a'] -> Notify['b']\nnotify { 'a': }",
     "1:13: error: could not find resource 'Notify[b]' for a relationship with 'Notify[a]'; declare it or fix the "
     "reference"),
]


@pytest.mark.parametrize(("source", "message"), EVALUATION_ERRORS)
def test_evaluation_error_messages(tmp_path: Path, source: str, message: str) -> None:
    with pytest.raises(DslError) as info:
        compile_source(tmp_path, source, strict=True)
    file = str(tmp_path / "e.pp")
    assert info.value.format_line() == f"{file}:" + message.replace("{file}", file)


def test_unknown_variable_is_a_warning_without_strict(tmp_path: Path) -> None:
    cat = compile_source(tmp_path, "notify { 'a': message => \"[${nope}]\" }")
    notify = next(r for r in cat["resources"] if r["type"] == "Notify")
    assert notify["parameters"]["message"] == "[]"


def _bunraku(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bunraku.py"), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


def test_cli_reports_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pp"
    bad.write_text("file { '/x'\n  ensure => file,\n}\n")
    proc = _bunraku("compile", str(bad), "--node", "n1", "--facts", "/dev/null")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == f"{bad}:2:3: error: expected ':' after the resource title, found 'ensure'\n"


def test_parser_validate_many_files(tmp_path: Path) -> None:
    good = tmp_path / "good.pp"
    good.write_text("class ok { notify { 'x': } }\n")
    bad1 = tmp_path / "bad1.pp"
    bad1.write_text("class bad {\n")
    bad2 = tmp_path / "bad2.pp"
    bad2.write_text("$x = [1,\n")
    proc = _bunraku("parser", "validate", str(good), str(bad1), str(bad2))
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines == [
        f"{bad1}:1:12: error: expected '}}' to close the class body opened at line 1, but the file ended",
        f"{bad2}:1:9: error: expected ']' to close the array opened at line 1, but the file ended",
    ]
    assert _bunraku("parser", "validate", str(good)).returncode == 0


def test_cli_compile_example_environment() -> None:
    proc = _bunraku("compile", "--env-dir", str(EXAMPLES / "environments" / "production"), "--node",
                    "web01.example.com", "--facts", str(EXAMPLES / "facts" / "web01.example.com.yaml"))
    assert proc.returncode == 0, proc.stderr
    catalog = json.loads(proc.stdout)
    assert catalog["catalog_format"] == 2 and catalog["name"] == "web01.example.com"
    assert "role::web" in catalog["classes"]


def test_cli_lookup() -> None:
    env = EXAMPLES / "environments" / "production"
    facts = EXAMPLES / "facts" / "web01.example.com.yaml"
    proc = _bunraku("lookup", "profile::ntp::servers", "--node", "web01.example.com", "--env-dir", str(env),
                    "--facts", str(facts), "--render-as", "json")
    assert proc.returncode == 0, proc.stderr
    assert isinstance(json.loads(proc.stdout), list)
    missing = _bunraku("lookup", "no::such::key", "--node", "web01.example.com", "--env-dir", str(env),
                       "--facts", str(facts))
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: lookup of 'no::such::key' found no value for node web01.example.com")
    assert _bunraku("lookup", "no::such::key", "--node", "web01.example.com", "--env-dir", str(env), "--facts",
                    str(facts), "--default", "fallback", "--render-as", "s").stdout == "fallback\n"


def test_cli_bad_facts_file(tmp_path: Path) -> None:
    facts = tmp_path / "f.yaml"
    facts.write_text("- just\n- a list\n")
    site = tmp_path / "s.pp"
    site.write_text("notice('x')\n")
    proc = _bunraku("compile", str(site), "--node", "n1", "--facts", str(facts))
    assert proc.returncode == 1
    assert proc.stderr == f"{facts}: error: facts file must hold a mapping of fact names to values\n"
