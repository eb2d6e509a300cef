"""The fast parser (recursive descent, ``dsl.rdparser``) against the reference (the LALR grammar run by
Lark, ``dsl.larkparser``): the same trees, spans included, for every manifest we have, and for broken
variants of them; on whatever the reference rejects the fast path must decline, so that the
reference reports the error.

The manifests: every ``.pp`` of Debian's puppet-module-* packages under
/usr/share/puppet/modules.available (when installed) and every ``.pp`` in this repository's tests and
examples.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from dsl import ast, rdparser
from dsl.errors import DslError
from dsl.lexer import Lexer
from dsl.parser import parse_reference, parse_string

ROOT = Path(__file__).resolve().parents[2]
CORPUS_ROOT = Path("/usr/share/puppet/modules.available")


def manifests() -> list[Path]:
    found = sorted(ROOT.glob("tests/**/*.pp")) + sorted(ROOT.glob("examples/**/*.pp"))
    if CORPUS_ROOT.is_dir():
        found += sorted(CORPUS_ROOT.glob("**/*.pp"))
    return [p for p in found if p.is_file()]


def fast(source: str, name: str) -> ast.Program | None:
    """The fast path's tree, or None where it declines."""
    try:
        return rdparser.parse_lexed(Lexer(source, name), name, source)
    except rdparser.Fallback:
        return None


def reference(source: str, name: str) -> ast.Program | None:
    try:
        return parse_reference(source, name)
    except (DslError, RecursionError):
        return None


def read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def test_same_trees_for_every_manifest() -> None:
    files = manifests()
    assert len(files) > 50
    compared = 0
    problems: list[str] = []
    for path in files:
        source = read(path)
        if source is None or "\x00" in source:
            continue
        try:
            Lexer(source, str(path)).arrays()
        except DslError:
            continue  # the lexer is shared by both paths
        ref = reference(source, str(path))
        got = fast(source, str(path))
        if ref is None:
            if got is not None:
                problems.append(f"{path}: the fast path accepts what the reference rejects")
        elif got is None:
            problems.append(f"{path}: the fast path declines a valid manifest")
        elif got != ref:
            problems.append(f"{path}: the trees differ")
        compared += 1
    assert compared > 50
    assert problems == []


def _mutants(count: int, seed: int) -> list[tuple[str, str]]:
    """Broken (and a few still valid) variants of real manifests: one token deleted, doubled, or
    replaced by another token of the same file."""
    rng = random.Random(seed)
    sources = [(str(p), s) for p in manifests() if (s := read(p)) is not None and "\x00" not in s]
    out: list[tuple[str, str]] = []
    while len(out) < count:
        name, src = rng.choice(sources)
        try:
            _types, _values, starts, ends = Lexer(src, name).arrays()
        except DslError:
            continue
        if not starts:
            continue
        k = rng.randrange(len(starts))
        s, e = starts[k], ends[k]
        how = rng.randrange(3)
        if how == 0:
            mutated = src[:s] + src[e:]
        elif how == 1:
            mutated = src[:s] + src[s:e] + " " + src[s:]
        else:
            j = rng.randrange(len(starts))
            mutated = src[:s] + src[starts[j]:ends[j]] + " " + src[e:]
        try:
            Lexer(mutated, name).arrays()
        except DslError:
            continue
        out.append((name, mutated))
    return out


def test_same_verdicts_and_trees_for_broken_manifests() -> None:
    problems: list[str] = []
    accepted = rejected = 0
    for name, source in _mutants(400, seed=20261201):
        ref = reference(source, name)
        got = fast(source, name)
        if ref is None:
            rejected += 1
            if got is not None:
                problems.append(f"{name}: the fast path accepts a mutant the reference rejects")
        else:
            accepted += 1
            if got != ref:
                problems.append(f"{name}: the paths differ on a mutant the reference accepts")
    assert rejected > 50 and accepted > 20  # the mutants exercise both verdicts
    assert problems == []


@pytest.mark.parametrize("source", [
    "$a = $b ? { 1 => 2 } == 3\n",  # '==' may not follow a selector: a new statement cannot start with it
    "$x = [1] = 2\n",  # only variables can be assigned to
    "include\n",  # a statement function without arguments is a bare word
    "$a = 1 -> Foo['x']\n",  # an assignment is not a relationship operand
    "Foo { a => 1 } -> Bar['y']\n",  # nor are resource defaults
    "$x = 'a' -1\n",  # binary minus, not a new statement
    "notice(1) *$y\n",
    "class a($name) {}\n",
    "$x = \"${1.5}\"\n",
])
def test_corner_cases_agree(source: str) -> None:
    ref = reference(source, "c.pp")
    got = fast(source, "c.pp")
    assert got == ref
    if ref is None:
        with pytest.raises(DslError) as fast_err:
            parse_string(source, "c.pp")
        with pytest.raises(DslError) as ref_err:
            parse_reference(source, "c.pp")
        assert fast_err.value.format_line() == ref_err.value.format_line()


def test_spans_are_the_reference_spans() -> None:
    source = ("$h = { 'a' => [1, -2], }\n$e = []\nnotice -$y\n"
              "file { ['/a', \"/b${x}\"]:\n  mode => '0644',\n}\n$s = $x ? { 1 => 'a', default => 'b' }\n"
              "$l = $a.map |$k, $v| { $k }\n")
    program = parse_string(source, "s.pp")
    assert program == parse_reference(source, "s.pp")
    h, e, n, f, s, m = program.body.statements
    assert isinstance(h, ast.Assign) and isinstance(h.value, ast.HashLit)
    # a hash spans its first key to its last value, braces excluded
    assert (h.value.span.line, h.value.span.col, h.value.span.end_col) == (1, 8, 21)
    assert isinstance(e, ast.Assign) and e.value.span.line == 0  # an empty array has no position
    assert isinstance(n, ast.Call) and (n.span.col, n.span.end_col) == (1, 11)
    assert isinstance(f, ast.ResourceExpr) and f.bodies[0].title.span.end_col == 23


def test_valid_manifests_never_load_the_reference_parser(tmp_path: Path) -> None:
    """Lark is imported only for text the fast path declines: not for a valid manifest."""
    manifest = tmp_path / "m.pp"
    manifest.write_text("class a { file { '/x': ensure => file } }\ninclude a\n")
    code = ("import sys\nfrom pathlib import Path\nfrom dsl.parser import parse_file, parse_string\n"
            f"parse_file(Path({str(manifest)!r}))\nprint('lark' in sys.modules)\n"
            "try:\n    parse_string('notify { x }', 'b.pp')\nexcept Exception as e:\n    print(e)\n"
            "print('lark' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "BUNRAKU_PARSE_CACHE": "off"}).stdout.splitlines()
    assert out[0] == "False"
    assert out[1] == "b.pp:1:12: error: expected ':' after the resource title, found '}'"
    assert out[2] == "True"
