"""The parser: AST shapes, syntax error messages word for word, positions, and the parse cache."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from dsl import ast
from dsl.errors import DslSyntaxError
from dsl.parser import _MEMO, parse_file, parse_string


def stmts(src: str) -> tuple[ast.Node, ...]:
    return parse_string(src, "t.pp").body.statements


def test_resource_with_title_array_and_splat() -> None:
    (res,) = stmts("file { ['/a', '/b']:\n  ensure => file,\n  * => $attrs,\n}\n")
    assert isinstance(res, ast.ResourceExpr)
    assert res.type_name == "file" and res.form == "regular"
    body = res.bodies[0]
    assert isinstance(body.title, ast.ArrayLit)
    assert [op.name for op in body.ops] == ["ensure", "*"]
    assert (res.span.line, res.span.col) == (1, 1)


def test_virtual_exported_defaults_override_collector() -> None:
    v, e, d, o, c = stmts("@user { 'a': }\n@@host { 'b': }\nFile { mode => '0644' }\n"
                          "File['/x'] { owner => root }\nUser <| tag == 'admins' |> { shell => '/bin/zsh' }\n")
    assert isinstance(v, ast.ResourceExpr) and v.form == "virtual"
    assert isinstance(e, ast.ResourceExpr) and e.form == "exported"
    assert isinstance(d, ast.ResourceDefaults) and d.type_name == "File"
    assert isinstance(o, ast.ResourceOverride)
    assert isinstance(c, ast.Collector) and c.ops[0].name == "shell" and not c.exported


def test_statement_calls_without_parentheses() -> None:
    inc, noti = stmts("include foo, bar\nnotice 'hi'\n")
    assert isinstance(inc, ast.Call) and inc.name == "include" and len(inc.args) == 2
    assert isinstance(noti, ast.Call) and noti.name == "notice"


def test_call_with_space_before_parenthesis() -> None:
    (call,) = stmts("ensure_packages (['a', 'b'], {'ensure' => 'present'})\n")
    assert isinstance(call, ast.Call) and len(call.args) == 2


def test_method_chain_with_lambdas() -> None:
    (chain,) = stmts("[3, 1].sort.map |$x| { $x + 1 }.join('-')\n")
    assert isinstance(chain, ast.MethodCall) and chain.name == "join"
    inner = chain.target
    assert isinstance(inner, ast.MethodCall) and inner.name == "map" and inner.lambda_ is not None


def test_operator_precedence() -> None:
    (a,) = stmts("$x = 1 + 2 * 3 == 7 and !$y =~ /z/\n")
    assert isinstance(a, ast.Assign)
    top = a.value
    assert isinstance(top, ast.And)
    eq = top.left
    assert isinstance(eq, ast.BinOp) and eq.op == "=="
    assert isinstance(eq.left, ast.BinOp) and eq.left.op == "+"
    match = top.right
    assert isinstance(match, ast.BinOp) and match.op == "=~" and isinstance(match.left, ast.Not)


def test_interpolation_bare_word_rule() -> None:
    (a,) = stmts('$s = "${x} ${x[1]} ${x.upcase} ${x + 1} $y"\n')
    parts = [p for p in a.value.parts if not isinstance(p, str)]
    assert isinstance(parts[0], ast.Var)
    assert isinstance(parts[1], ast.Access) and isinstance(parts[1].target, ast.Var)
    assert isinstance(parts[2], ast.MethodCall) and isinstance(parts[2].target, ast.Var)
    assert isinstance(parts[3], ast.BinOp) and isinstance(parts[3].left, ast.QName)
    assert isinstance(parts[4], ast.Var) and parts[4].name == "y"


def test_heredoc_margin_trim_and_escapes() -> None:
    src = '$t = @("END"/L)\n    Hello ${name}\n      indented \\\n    continued\n    |- END\nnotice($t)\n'
    a, call = stmts(src)
    parts = a.value.parts
    assert parts[0] == "Hello " and isinstance(parts[1], ast.Var)
    assert parts[2] == "\n  indented continued"
    assert isinstance(call, ast.Call) and call.span.line == 6


def test_numbers() -> None:
    (a,) = stmts("$n = [0x1F, 017, 1.5, 2e3, -4]\n")
    assert [i.value for i in a.value.items] == [31, 15, 1.5, 2000.0, -4]


def test_definitions() -> None:
    c, d, n, f, t = stmts(
        "class foo::bar(Optional[Integer[1, 5]] $x = undef) inherits foo::params { }\n"
        "define foo::vhost(String $port) { }\n"
        "node 'web01', /^db\\d+$/, default { }\n"
        "function foo::double(Integer $x) >> Integer { $x * 2 }\n"
        "type Foo::Port = Integer[1, 65535]\n")
    assert isinstance(c, ast.ClassDef) and c.parent == "foo::params" and c.params[0].name == "x"
    assert isinstance(d, ast.DefineDef) and d.params[0].type_expr is not None
    assert isinstance(n, ast.NodeDef) and [m.kind for m in n.matches] == ["name", "regex", "default"]
    assert isinstance(f, ast.FunctionDef) and f.return_type is not None
    assert isinstance(t, ast.TypeAlias) and t.name == "Foo::Port"


def test_keywords_as_attribute_names() -> None:
    (res,) = stmts("exec { 'x': unless => 'test -f /x', command => '/bin/true' }\n")
    assert [op.name for op in res.bodies[0].ops] == ["unless", "command"]


def test_hash_as_first_statement_of_a_lambda() -> None:
    (a,) = stmts("$h = $a.map |$k| { { $k => 1 } }\n")
    assert isinstance(a.value.lambda_.body.statements[0], ast.HashLit)


SYNTAX_ERRORS = [
    ("file { '/x':\n  ensure => file,\n  mode => '0644'\n",
     "t.pp:3:17: error: expected '}' to close the resource body opened at line 1, but the file ended"),
    ("file { '/x':\n  ensure => file\n  mode => '0644',\n}",
     "t.pp:3:3: error: expected ',' or '}' after the attribute value, found 'mode'"),
    ("file { '/x'\n  ensure => file,\n}",
     "t.pp:2:3: error: expected ':' after the resource title, found 'ensure'"),
    ("class foo {\n  notify { 'a': }\n",
     "t.pp:2:18: error: expected '}' to close the class body opened at line 1, but the file ended"),
    ("$x = [1, 2\nnotify { 'a': }",
     "t.pp:2:1: error: expected ']' to close the array opened at line 1, found 'notify'"),
    ("notify { 'a': message => 'x' }}", "t.pp:1:31: error: unmatched '}': nothing is open here to close"),
    ('$x = "abc\nfoo', "t.pp:1:6: error: unterminated double-quoted string"),
    ("$x = 08", "t.pp:1:6: error: '08' is not a valid number"),
    ("$x = @(END)\nabc\n", "t.pp:1:6: error: heredoc end tag 'END' not found"),
    ("$x += 1", "t.pp:1:4: error: the '+=' operator is no longer supported; write $x = $x + ..."),
    ("class a(String $name) {}",
     "t.pp:1:16: error: the parameter $name redefines a built-in parameter of the Class Definition; rename it"),
    ("$a = 1\n$b = ?", "t.pp:2:6: error: syntax error at '?'"),
]


@pytest.mark.parametrize(("source", "message"), SYNTAX_ERRORS)
def test_syntax_error_messages(source: str, message: str) -> None:
    with pytest.raises(DslSyntaxError) as info:
        parse_string(source, "t.pp")
    assert info.value.format_line() == message


def test_error_excerpt_points_at_the_column() -> None:
    with pytest.raises(DslSyntaxError) as info:
        parse_string("notice('a')\nfile { '/x'\n  ensure => file,\n}\n", "t.pp")
    assert info.value.excerpt() == "  ensure => file,\n  ^"


def test_non_utf8_and_nul(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pp"
    bad.write_bytes(b"notice('ok')\nnotice('\xff')\n")
    with pytest.raises(DslSyntaxError) as info:
        parse_file(bad)
    assert info.value.format_line() == f"{bad}:2:9: error: file is not valid UTF-8"
    with pytest.raises(DslSyntaxError, match="NUL byte"):
        parse_string("notice('a')\x00", "t.pp")


def test_parse_cache_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = "notify { 'cached': }\n"
    first = parse_string(src, "c.pp")
    assert parse_string(src, "c.pp") is first
    assert parse_string(src + "\n", "c.pp") is not first
    # across processes: a cache directory keeps pickled ASTs keyed by name and content
    cache = tmp_path / "cache"
    monkeypatch.setenv("BUNRAKU_PARSE_CACHE", str(cache))
    _MEMO.clear()
    program = parse_string("notify { 'disk': }\n", "d.pp")
    assert list(cache.glob("*.ast")) == []  # stored the second time a text is parsed
    _MEMO.clear()
    assert parse_string("notify { 'disk': }\n", "d.pp") == program
    files = list(cache.glob("*.ast"))
    assert len(files) == 1
    assert pickle.loads(files[0].read_bytes()) == program
    _MEMO.clear()
    assert parse_string("notify { 'disk': }\n", "d.pp") == program
