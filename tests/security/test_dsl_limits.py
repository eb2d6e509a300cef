"""A few characters of manifest or template may not make the compiler build a gigabyte: widths and
precisions in every formatting path (sprintf, String() formats, EPP through sprintf, Jinja2's %,
str.format, format_map, filters and padding methods) are capped at the size of the largest string
repetition, with a positioned error; normal formatting is unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsl.compiler import CompileRequest, compile_catalog
from dsl.errors import DslError
from dsl.formatlimits import MAX_STRING_SIZE

HUGE = 999_999_999
WIDTH = f"format width {HUGE} is too large (at most {MAX_STRING_SIZE})"


def _compile(tmp_path: Path, expr: str, templates: dict[str, str] | None = None) -> Any:
    manifest = tmp_path / "site.pp"
    manifest.write_text(f"notify {{ 'v':\n  message => {expr},\n}}\n")
    modulepath = []
    if templates:
        for name, text in templates.items():
            path = tmp_path / "modules/demo/templates" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        modulepath = [tmp_path / "modules"]
    req = CompileRequest.from_cli(manifest=manifest, node="web01.example.com", facts={}, modulepath=modulepath)
    cat = compile_catalog(req).to_dict()
    return next(r["parameters"]["message"] for r in cat["resources"] if r["type"] == "Notify")


def _error(tmp_path: Path, expr: str, templates: dict[str, str] | None = None) -> str:
    with pytest.raises(DslError) as err:
        _compile(tmp_path, expr, templates)
    return str(err.value).replace(str(tmp_path) + "/", "")


@pytest.mark.parametrize(("expr", "message"), [
    (f"sprintf('%{HUGE}s', 'x')", f"sprintf(): {WIDTH}"),
    (f"sprintf('%-{HUGE}d', 1)", f"sprintf(): {WIDTH}"),
    (f"sprintf('%.{HUGE}f', 1)", f"sprintf(): format precision {HUGE} is too large (at most {MAX_STRING_SIZE})"),
    (f"sprintf('%*d', {HUGE}, 1)", f"sprintf(): {WIDTH}"),
    (f"sprintf('%{HUGE}b', 5)", f"sprintf(): {WIDTH}"),
    (f"String(1, '%{HUGE}d')", f"String.new: {WIDTH}"),
    (f"String(1.5, '%.{HUGE}f')", f"String.new: format precision {HUGE} is too large (at most {MAX_STRING_SIZE})"),
])
def test_language_format_widths_are_capped(tmp_path: Path, expr: str, message: str) -> None:
    assert _error(tmp_path, expr) == f"site.pp:2:14: error: {message}"


@pytest.mark.parametrize(("template", "message"), [
    (f'{{{{ "%{HUGE}d" % 1 }}}}', WIDTH),
    (f'{{{{ "%*d" % ({HUGE}, 1) }}}}', WIDTH),
    (f'{{{{ "%(n){HUGE}s" % {{"n": 1}} }}}}', WIDTH),
    (f'{{{{ "{{:>{HUGE}}}".format(1) }}}}', WIDTH),
    (f'{{{{ "{{0:>{{1}}}}".format(1, {HUGE}) }}}}', WIDTH),
    (f'{{{{ "{{n:.{HUGE}f}}".format_map({{"n": 1.0}}) }}}}', WIDTH),
    (f'{{{{ "%{HUGE}s"|format("x") }}}}', WIDTH),
    (f'{{{{ "x"|center({HUGE}) }}}}', WIDTH),
    (f'{{{{ "x".center({HUGE}) }}}}', WIDTH),
    (f'{{{{ "x".ljust({HUGE}) }}}}', WIDTH),
    (f'{{{{ "x".rjust({HUGE}) }}}}', WIDTH),
    (f'{{{{ "1".zfill({HUGE}) }}}}', WIDTH),
    (f'{{{{ "a\\tb".expandtabs({HUGE}) }}}}',
     f"expanding tabs would build a string of {HUGE + 3} characters (at most {MAX_STRING_SIZE})"),
    (f'{{{{ "a\\nb"|indent({HUGE}, true) }}}}', f"indent width {HUGE} is too large (at most {MAX_STRING_SIZE})"),
    (f'{{{{ {{"a": 1}}|tojson({HUGE}) }}}}', f"indent width {HUGE} is too large (at most {MAX_STRING_SIZE})"),
    (f'{{{{ [1]|batch({HUGE}, 0)|list }}}}', f"batch size {HUGE} is too large (at most {MAX_STRING_SIZE})"),
    (f'{{{{ [1]|slice({HUGE})|list }}}}', f"number of slices {HUGE} is too large (at most {MAX_STRING_SIZE})"),
    ('{{ (["a"] * 16000000)|join("y" * 16000000) }}',
     f"joining would build a string of {15_999_999 * 16_000_000} characters (at most {MAX_STRING_SIZE})"),
    ('{{ ("y" * 16000000).join(["a"] * 16000000) }}',
     f"joining would build a string of {15_999_999 * 16_000_000} characters (at most {MAX_STRING_SIZE})"),
    ('{% set a = "x" * 9000000 %}{{ a + a }}', f"result too large (at most {MAX_STRING_SIZE} items)"),
    ('{% set a = ["x"] * 9000000 %}{{ (a + a)|length }}', f"result too large (at most {MAX_STRING_SIZE} items)"),
    ('{{ ("x" * 16000000).replace("x", "yy") }}',
     f"replacing would build a string of 32000000 characters (at most {MAX_STRING_SIZE})"),
    ('{{ ("x" * 16000000)|replace("x", "yy") }}',
     f"replacing would build a string of 32000000 characters (at most {MAX_STRING_SIZE})"),
])
def test_template_format_widths_are_capped(tmp_path: Path, template: str, message: str) -> None:
    text = f"line one\n{template}\n"
    assert _error(tmp_path, "template('demo/t.j2')", {"t.j2": text}) == \
        f"modules/demo/templates/t.j2:2:1: error: {message} (in template demo/t.j2, rendered at site.pp:2:14)"


def test_epp_goes_through_the_same_sprintf(tmp_path: Path) -> None:
    expr = f"inline_epp('<%= sprintf(\"%{HUGE}s\", \"x\") %>')"
    assert _error(tmp_path, expr).endswith(f"error: sprintf(): {WIDTH}")


@pytest.mark.parametrize(("expr", "expected"), [
    ("sprintf('%5s|%-4d|%05.1f|%x|%*d|%%', 'ab', 7, 3.14159, 255, 3, 1)", "   ab|7   |003.1|ff|  1|%"),
    ("String(255, '%08x')", "000000ff"),
])
def test_ordinary_formatting_is_unchanged(tmp_path: Path, expr: str, expected: str) -> None:
    assert _compile(tmp_path, expr) == expected


def test_ordinary_template_formatting_is_unchanged(tmp_path: Path) -> None:
    text = ('{{ "%-4s|" % "ab" }}{{ "{:>4}|{:.2f}".format(1, 2) }}|{{ "x"|center(5) }}|{{ "%s-%s"|format(1, 2) }}|'
            '{{ [1, 2]|join(",") }}|{{ "aa"|replace("a", "b") }}|{{ "{n}".format_map({"n": 3}) }}')
    assert _compile(tmp_path, "template('demo/t.j2')", {"t.j2": text}) == "ab  |   1|2.00|  x  |1-2|1,2|bb|3"


def test_a_range_too_large_is_an_error_never_a_shortened_list(tmp_path: Path) -> None:
    assert _error(tmp_path, "String(range(1, 100000000).length)").endswith(
        "error: range(): the range has more than 1000000 elements; build it in parts or use Integer[a, b].each")
    assert _compile(tmp_path, "String(range('a01', 'a03'))") == "['a01', 'a02', 'a03']"
