"""Property tests: any input yields a result or a positioned DslError, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl.compiler import CompileRequest, compile_catalog
from dsl.epp import translate
from dsl.errors import DslError
from dsl.evaluator import puppet_equal, to_str
from dsl.parser import parse_string

FRAGMENTS = [
    "file", "{", "}", "[", "]", "(", ")", "'/x'", '"a${b}c"', "$x", "=", "=>", ",", ";", ":", "->", "~>",
    "if", "else", "unless", "case", "default", "class", "define", "node", "include", "notice", "|$a|",
    "1", "0x1F", "2.5", "/re/", "=~", "and", "or", "!", "+", "-", "*", "/", "%", "<<", ">>", "==", "!=",
    "<|", "|>", "@", "@@", "Integer[1, 2]", "String", "undef", "true", "@(END)\nx\nEND\n", "\n", " ",
    "$facts['os']", ".map", "?", "in", "<", ">", "#c\n", "/* c */", "\\", "'", '"', "${", "$",
]

source_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(" ".join),
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(source_text)
def test_parser_never_raises_anything_but_a_positioned_error(source: str) -> None:
    try:
        parse_string(source, "fuzz.pp")
    except DslError as exc:
        assert exc.span is not None
        assert exc.format_line().startswith("fuzz.pp:")
        assert "\n" not in exc.format_line()


@SETTINGS
@given(source=st.lists(st.sampled_from(FRAGMENTS), max_size=30).map(" ".join))
def test_compiler_never_raises_anything_but_a_dsl_error(source: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.pp"
    path.write_text(source)
    req = CompileRequest.from_cli(manifest=path, node="n1", facts={"os": {"family": "Debian"}})
    try:
        compile_catalog(req)
    except DslError as exc:
        assert "\n" not in exc.format_line()


@SETTINGS
@given(st.text(max_size=300))
def test_epp_translation_is_total(text: str) -> None:
    try:
        translate(text, "t.epp")
    except DslError:
        pass


@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=10))
def test_equality_is_reflexive_and_to_str_total(value: object) -> None:
    assert puppet_equal(value, value)
    assert isinstance(to_str(value), str)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    deep = "$x = " + "[" * 3000 + "]" * 3000
    try:
        parse_string(deep, "deep.pp")
    except DslError:
        pass
