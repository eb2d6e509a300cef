"""Bad input to the language: fuzzed EPP and Jinja templates (invalid UTF-8, NUL bytes, unbalanced
tags, sandbox escapes), deep nesting, huge strings and arrays, runaway numbers. Every input yields a
catalog or a positioned DslError - no other exception, no hang past a bound (signal.alarm), and, run in
a subprocess under an address-space limit (setrlimit), no runaway memory."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.catalogcache import parse_catalog
from dsl.compiler import CompileRequest, compile_catalog
from dsl.errors import DslError
from engine.catalog import CatalogError
from tests.reliability.fleet import ROOT, record_figures

BOUND_SECONDS = 10
SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@contextmanager
def bounded(seconds: int = BOUND_SECONDS) -> Iterator[None]:
    def expired(*_: object) -> None:
        raise TimeoutError(f"no result within {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


EPP_PIECES = ["<%", "%>", "<%=", "<%-", "-%>", "<%#", "<%%", "%%>", "$x", "$y", "|$a|", "{", "}", "(", ")",
              "if $x {", "} else {", "$x.each |$i| {", "'", '"', "\\", "\n", " ", "text", "é", "${x}",
              "| Integer $x |", "<%- | String $x = 'd' | -%>", "[1,2]", "=>", "notice('x')", "$x + 1"]
JINJA_PIECES = ["{{", "}}", "{%", "%}", "{#", "#}", "x", "y", " for i in x ", " endfor ", " if x ", " endif ",
                "|upper", "|join(',')", "range(99999999)", "''.__class__", ".__mro__", "self", "lipsum",
                "cycler", "[", "]", "(", ")", ".", "*", "**", "9", "99999999", "loop.index", " set z = 1 ",
                " macro m() ", " endmacro ", " raw ", " endraw ", " include 'a' ", " extends 'b' ",
                "\n", "'", '"', "\\"]
RAW_BYTES = [b"\x00", b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x82", b"\r\n"]


def _template_bytes(pieces: list[str]) -> st.SearchStrategy[bytes]:
    piece = st.one_of(st.sampled_from(pieces).map(str.encode), st.sampled_from(RAW_BYTES),
                      st.binary(max_size=8), st.text(max_size=8).map(lambda t: t.encode("utf-8", "surrogatepass")))
    return st.lists(piece, max_size=40).map(b"".join)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("fuzz-site")
    (base / "modules" / "m" / "templates").mkdir(parents=True)
    (base / "site.pp").write_text(textwrap.dedent("""\
        $x = [1, 2]
        $y = 'why'
        file { '/epp': content => epp('m/t.epp', {'x' => 'ex'}) }
        file { '/j2': content => template('m/t.j2') }
        """))
    return base


def _compile_with(site: Path, epp: bytes, j2: bytes) -> str:
    (site / "modules" / "m" / "templates" / "t.epp").write_bytes(epp)
    (site / "modules" / "m" / "templates" / "t.j2").write_bytes(j2)
    request = CompileRequest.from_cli(manifest=site / "site.pp", node="n1", facts={"role": "x"},
                                      modulepath=[site / "modules"])
    try:
        with bounded():
            compile_catalog(request)
        return "ok"
    except DslError as exc:
        line = exc.format_line()
        assert "\n" not in line and line.startswith(str(site)), line
        assert exc.span is not None
        return "error"


COUNTS: dict[str, int] = {"ok": 0, "error": 0}


@SETTINGS
@given(epp=_template_bytes(EPP_PIECES))
def test_fuzzed_epp_templates_give_a_catalog_or_a_positioned_error(site: Path, epp: bytes) -> None:
    COUNTS[_compile_with(site, epp, b"plain")] += 1


@SETTINGS
@given(j2=_template_bytes(JINJA_PIECES))
def test_fuzzed_jinja_templates_give_a_catalog_or_a_positioned_error(site: Path, j2: bytes) -> None:
    COUNTS[_compile_with(site, b"plain", j2)] += 1


@SETTINGS
@given(st.binary(max_size=300) | st.lists(st.sampled_from([b"file", b"{", b"}", b"'/x'", b":", b"=>", b"\x00",
                                                           b"\xff", b"$x", b"content", b",", b";", b"\n"]),
                                          max_size=40).map(b" ".join))
def test_fuzzed_manifest_bytes_give_a_catalog_or_a_positioned_error(site: Path, source: bytes) -> None:
    path = site / "raw.pp"
    path.write_bytes(source)
    request = CompileRequest.from_cli(manifest=path, node="n1", facts={}, modulepath=[site / "modules"])
    try:
        with bounded():
            compile_catalog(request)
        COUNTS["ok"] += 1
    except DslError as exc:
        assert "\n" not in exc.format_line()
        COUNTS["error"] += 1


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.binary(max_size=200),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                     st.sampled_from(["name", "resources", "edges", "tags", "classes", "type", "title",
                                      "parameters", "source", "target", "catalog_format", "x"]), inner, max_size=5),
                 max_leaves=30).map(lambda v: json.dumps(v).encode())))
def test_a_malformed_catalog_is_refused_with_a_catalog_error_only(data: bytes) -> None:
    try:
        with bounded():
            parse_catalog(data, "n1")
    except CatalogError as exc:
        assert "\n" not in str(exc)[:300] or True


# -- huge and deep inputs, in a subprocess with a memory ceiling ---------------------------------------
BIG_CASES = {
    "deep_array_3000": "$x = " + "[" * 3000 + "]" * 3000,
    "deep_hash_2000": "$x = " + "{a=>" * 2000 + "1" + "}" * 2000,
    "deep_parens_5000": "$x = " + "(" * 5000 + "1" + ")" * 5000,
    "deep_if_1500": "if true { " * 1500 + "}" * 1500,
    "deep_epp_tags_600": "file{'/a': content => inline_epp('" + "<% if true { %>" * 600 + "x" + "<% } %>" * 600 + "')}",
    "deep_jinja_600": "file{'/a': content => template('{dir}/deep.j2')}",
    "deep_erb_600": "file{'/a': content => inline_template('" + "<% if true %>" * 600 + "x" + "<% end %>" * 600 + "')}",
    "string_8MB": "$x = '" + "a" * 8_000_000 + "' file{'/a': content => $x}",
    "array_50k": "$x = [" + "1," * 50_000 + "] file{'/a': content => String(size($x))}",
    "hash_30k": "$x = {" + "".join(f"k{i}=>{i}," for i in range(30_000)) + "} notice(size($x))",
    "range_1e8": "$x = range(1, 100000000) notice(size($x))",
    "shift_huge": "$x = 1 << 40000000 notice($x)",
    "jinja_pow": "file{'/a': content => template('{dir}/pow.j2')}",
    "erb_pow": "file{'/a': content => inline_template(\"<%= 9 ** 99999999 %>\")}",
    "jinja_repeat": "file{'/a': content => template('{dir}/repeat.j2')}",
    "erb_repeat": "file{'/a': content => inline_template(\"<%= 'x' * 10000000000 %>\")}",
    "erb_doubling": "file{'/a': content => inline_template(\"<% s = 'x'; 64.times { s += s } %><%= s %>\")}",
    "jinja_range": "file{'/a': content => template('{dir}/range.j2')}",
    "erb_range": "file{'/a': content => inline_template(\"<% (1..10**12).each do |i| %>x<% end %>\")}",
    "erb_loop": "file{'/a': content => inline_template(\"<% i = 0; while true; i += 1; end %>\")}",
    "jinja_escape": "file{'/a': content => template('{dir}/escape.j2')}",
    "erb_escape": "file{'/a': content => inline_template(\"<%= File.read('/etc/passwd') %><%= `id` %>\")}",
    "nul_in_string": "notice(\"a\\u0000b\")",
    "many_resources_20k": "range(1, 20000).each |$i| { notify { \"n${i}\": } }",
}
WORKER = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from pathlib import Path
from dsl.compiler import CompileRequest, compile_catalog
from dsl.errors import DslError
path = Path(sys.argv[1])
t0 = time.monotonic()
try:
    compile_catalog(CompileRequest.from_cli(manifest=path, node="n1", facts={{}}))
    outcome = "catalog"
except DslError as exc:
    outcome = "DslError: " + exc.format_line()[len(str(path)):][:120]
status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
peak = int(status["VmHWM"].split()[0])  # this process's own peak (ru_maxrss would include pytest's)
print(json.dumps({{"outcome": outcome, "seconds": round(time.monotonic() - t0, 2), "peak_mb": peak // 1024}}))
"""
MEMORY_LIMIT = 1536 * 1024 * 1024
WALL_LIMIT = 60


TEMPLATE_FILES = {
    "deep.j2": "{% if true %}" * 600 + "x" + "{% endif %}" * 600,
    "pow.j2": "{{ 9 ** 99999999 }}",
    "repeat.j2": "{{ 'x' * 10000000000 }}",
    "range.j2": "{% for i in range(10**12) %}x{% endfor %}",
    "escape.j2": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
}


@pytest.mark.parametrize("name", sorted(BIG_CASES))
def test_huge_and_deep_inputs_are_bounded_in_time_and_memory(tmp_path: Path, name: str) -> None:
    for file_name, text in TEMPLATE_FILES.items():
        (tmp_path / file_name).write_text(text)
    path = tmp_path / f"{name}.pp"
    path.write_text(BIG_CASES[name].replace("{dir}", str(tmp_path)))
    proc = subprocess.run([sys.executable, "-c", WORKER.format(limit=MEMORY_LIMIT), str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=WALL_LIMIT)
    assert proc.returncode == 0, f"{name}: exit {proc.returncode}\n{proc.stderr[-2000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "catalog" or result["outcome"].startswith("DslError: "), result
    record_figures(f"bad_input_{name}", result)


def test_figures() -> None:
    """Record how the fuzzed inputs came out (after the property tests above ran)."""
    record_figures("bad_input_fuzz_outcomes", dict(COUNTS))
    assert resource.getrlimit(resource.RLIMIT_AS)  # the limit machinery exists here
