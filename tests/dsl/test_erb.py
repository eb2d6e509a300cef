"""ERB templates: the cases of erb_cases.py (checked against Ruby's ERB), errors word for word, and
template()/inline_template() in compiled manifests with Puppet's scope semantics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsl.compiler import CompileRequest, compile_catalog
from dsl.erb import ErbError, render
from dsl.erb.rvalues import RubyError
from dsl.errors import DslError
from dsl.values import Sensitive
from tests.dsl.erb_cases import ALL, ERRORS


class VarsHost:
    """A scope with the given variables and no Puppet functions."""

    file = None

    def __init__(self, variables: dict[str, Any]) -> None:
        self.vars = dict(variables)

    def variable(self, name: str) -> tuple[bool, Any]:
        return name in self.vars, self.vars.get(name)

    def lookupvar(self, name: str) -> Any:
        return self.vars.get(name.removeprefix("::"))

    def setvar(self, name: str, value: Any) -> None:
        self.vars[name] = value

    def call_function(self, name: str, args: list[Any], block: Any) -> Any:
        raise RubyError("NoMethodError", f"no function {name}")

    def all_variables(self) -> dict[str, Any]:
        return dict(self.vars)

    def classes(self) -> list[str]:
        return []

    def tags(self) -> list[str]:
        return []


@pytest.mark.parametrize(("template", "variables", "expected"), ALL, ids=[f"case{i}" for i in range(len(ALL))])
def test_renders_as_ruby_erb(template: str, variables: dict[str, Any], expected: str) -> None:
    assert render(VarsHost(variables), template, "inline_template") == expected


@pytest.mark.parametrize(("template", "variables", "message"), ERRORS, ids=[f"error{i}" for i in range(len(ERRORS))])
def test_errors_name_the_line_and_the_construct(template: str, variables: dict[str, Any], message: str) -> None:
    with pytest.raises(ErbError) as info:
        render(VarsHost(variables), template, "inline_template")
    assert f"{info.value.line}: {info.value.message}" == message


# -- through the compiler ------------------------------------------------------------------------------
def compile_messages(tmp_path: Path, source: str, templates: dict[str, str] | None = None,
                     facts: dict[str, Any] | None = None) -> dict[str, Any]:
    modules = tmp_path / "modules"
    for rel, text in (templates or {}).items():
        path = modules / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    manifest = tmp_path / "site.pp"
    manifest.write_text(source)
    req = CompileRequest.from_cli(manifest=manifest, node="web01.example.com",
                                  facts=facts or {"networking": {"fqdn": "web01.example.com"}, "osfamily": "Debian"},
                                  modulepath=[modules])
    cat = compile_catalog(req).to_dict()
    return {r["title"]: r["parameters"].get("message") for r in cat["resources"] if r["type"] == "Notify"}


def test_template_renders_a_module_erb_file_in_the_class_scope(tmp_path: Path) -> None:
    tpl = ("# <%= @name %> on <%= @osfamily %>\n"
           "<% @servers.each do |s| -%>\nserver <%= s %> port <%= @port %>\n<% end -%>\n"
           "fqdn=<%= @facts['networking']['fqdn'] %> top=<%= scope['::osfamily'] %>\n")
    src = ("class app($port = 8080, $servers = ['a', 'b']) {\n"
           "  notify { 'conf': message => template('app/app.conf.erb') }\n}\ninclude app\n")
    out = compile_messages(tmp_path, src, {"app/templates/app.conf.erb": tpl})
    assert out["conf"] == ("# app on Debian\nserver a port 8080\nserver b port 8080\n"
                           "fqdn=web01.example.com top=Debian\n")


def test_template_keeps_crlf_line_endings_and_concatenates_several_templates(tmp_path: Path) -> None:
    src = "notify { 'x': message => template('m/a.erb', 'm/b.erb') }\n"
    out = compile_messages(tmp_path, src, {"m/templates/a.erb": "a\r\n<% if true -%>\r\nb\r\n<% end -%>\r\n",
                                           "m/templates/b.erb": "<%= 1 + 1 %>"})
    assert out["x"] == "a\r\nb\r\n2"


def test_qualified_lookups_lambda_locals_and_defines(tmp_path: Path) -> None:
    src = ("class params { $port = 81 }\ninclude params\n"
           "define site($docroot) {\n"
           "  notify { $title: message => inline_template('<%= @title %>:<%= @docroot %>:"
           "<%= scope[\"params::port\"] %>:<%= scope.lookupvar(\"params::port\") %>') }\n}\n"
           "site { 'www': docroot => '/srv' }\n"
           "[1, 2].each |$i| { notify { \"n${i}\": message => inline_template('<%= @i * 10 %>') } }\n")
    out = compile_messages(tmp_path, src)
    assert out["www"] == "www:/srv:81:81"
    assert out["n1"] == "10" and out["n2"] == "20"


def test_puppet_functions_from_templates(tmp_path: Path) -> None:
    src = ("notify { 'v': message => inline_template("
           "\"<%= scope.function_versioncmp(['2.4.1', '2.4']) %> <%= scope.call_function('upcase', ['x']) %> "
           "<%= scope.function_template(['m/inner.erb']).strip %>\") }\n"
           "$secret = Sensitive('s3cret')\n"
           "notify { 's': message => inline_template('<%= @secret %>|<%= @secret.unwrap %>') }\n"
           "notify { 'd': message => inline_template('<%= @d.inspect %> <%= @u.inspect %>') }\n"
           "$d = default\n$u = undef\n")
    out = compile_messages(tmp_path, src, {"m/templates/inner.erb": "inner <%= 1 %>\n"})
    assert out["v"] == "1 X inner 1"
    assert out["s"] == "Sensitive [value redacted]|s3cret"


def test_setvar_from_a_template_is_seen_by_a_nested_template(tmp_path: Path) -> None:
    outer = ("<% scope.setvar('_shared', {}) -%><% [1, 2].each do |i| -%>"
             "<% scope.lookupvar('_shared')[:item] = i -%><%= scope.function_template(['m/inner.erb']) -%><% end -%>")
    inner = "item=<%= scope.lookupvar('_shared')[:item] %>\n"
    src = "class c { notify { 'x': message => template('m/outer.erb') } }\ninclude c\n"
    out = compile_messages(tmp_path, src, {"m/templates/outer.erb": outer, "m/templates/inner.erb": inner})
    assert out["x"] == "item=1\nitem=2\n"


def test_jinja_templates_stay_jinja(tmp_path: Path) -> None:
    src = "class c($port = 80) { notify { 'j': message => template('m/x.j2') } }\ninclude c\n"
    out = compile_messages(tmp_path, src, {"m/templates/x.j2": "port={{ port }}"})
    assert out["j"] == "port=80"


@pytest.mark.parametrize(("source", "templates", "message"), [
    ("notify { 'x': message => template('m/x.erb') }\n",
     {"m/templates/x.erb": "ok\n<%= @servers.join(',') %>\n"},
     "1:26: error: m/templates/x.erb:2: undefined method `join' for nil:NilClass"),
    ("notify { 'x': message => template('m/x.erb') }\n",
     {"m/templates/x.erb": "<%= 'x'.unpack('C') %>"},
     "1:26: error: m/templates/x.erb:1: unsupported Ruby in ERB: method 'unpack' on String"),
    ("\nnotify { 'x': message => inline_template('<% if true %>') }\n", {},
     "2:26: error: inline_template:1: syntax error: expected 'end' to close the 'if' opened at line 1, got end of "
     "template"),
    ("notify { 'x': message => inline_template(\"<%= scope.function_fail(['stop here']) %>\") }\n", {},
     "1:26: error: inline_template:1: stop here"),
    ("notify { 'x': message => inline_template(\"<%= 'x' * 10000000000 %>\") }\n", {},
     "1:26: error: inline_template:1: this would build a string of 10000000000 characters (at most 16777216)"),
    ("notify { 'x': message => template('m/nope.erb') }\n", {},
     "1:26: error: could not read template 'm/nope.erb' ({modules}/m/templates/nope.erb): No such file or "
     "directory"),
])
def test_template_errors_are_one_positioned_line(tmp_path: Path, source: str, templates: dict[str, str],
                                                  message: str) -> None:
    (tmp_path / "modules" / "m" / "templates").mkdir(parents=True)
    with pytest.raises(DslError) as info:
        compile_messages(tmp_path, source, templates)
    expected = f"{tmp_path / 'site.pp'}:" + message.format(modules=tmp_path / "modules")
    assert info.value.format_line() == expected


def test_sensitive_values_print_redacted_like_puppet() -> None:
    host = VarsHost({"pw": Sensitive("x")})
    assert render(host, "<%= @pw %> <%= @pw.class %>", "t") == \
        "Sensitive [value redacted] Puppet::Pops::Types::PSensitiveType::Sensitive"


def test_compiled_templates_are_cached_by_text() -> None:
    from dsl.erb import compile_template

    text = "<%= 'cached' %>"
    assert compile_template(text) is compile_template(text)


def test_a_template_rendering_itself_stops_with_one_line(tmp_path: Path) -> None:
    loop = "<%= scope.function_template(['m/r.erb']) %><%= scope.function_template(['m/r.erb']) %>"
    with pytest.raises(DslError) as info:
        compile_messages(tmp_path, "notify { 'x': message => template('m/r.erb') }\n", {"m/templates/r.erb": loop})
    assert info.value.format_line() == (f"{tmp_path / 'site.pp'}:1:26: error: m/templates/r.erb:1: m/templates/r.erb: "
                                        "templates nested more than 32 deep (a template rendering itself?)")
