"""The signature contract of the built-in functions: every signature names known types; a call with
the wrong number or the wrong kind of arguments, or a block where none fits, is one positioned line in
Puppet's words after the function's name; and no body ever escapes with anything but such a line,
whatever arguments its signature lets through."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dsl import ast
from dsl import types as T
from dsl.compiler import Compiler, CompileRequest
from dsl.errors import DslError, DslTypeError, EvaluationError, Span
from dsl.evaluator import Closure, _Break, _Next, _Return
from dsl.functions import FUNCTIONS
from dsl.functions.contract import INF, Function, parse_signature
from dsl.parser import parse_string
from dsl.values import DEFAULT, RegexValue, Sensitive

ROOT = Path(__file__).resolve().parents[2]
NAMES = sorted(FUNCTIONS)
AT = Span("call.pp", 1, 1, 1, 10)
NODE = ast.Literal(AT, None)

#: a value of every kind the language has
CANDIDATES: list[Any] = [
    None, True, 0, 3, -1, 1.5, "", "a", "a,b", "/tmp/bunraku-contract-x", "10.0.0.1", "1.0.0", "x_y",
    [], [1, "a"], ["a", "b"], [1, 2], {}, {"a": 1}, {"a": "b"}, T.PInteger(), T.PString(), RegexValue("a"),
    DEFAULT, Sensitive("s"), T.PResource("Notify", "x"),
]
#: values no function takes where it expects a name, a number or a collection
STRANGE: list[Any] = [DEFAULT, RegexValue("a"), Sensitive("s"), T.PInteger(), 1.5, True, None, {"a": 1}, [1]]


def _compiler(tmp: Path) -> Compiler:
    manifest = tmp / "site.pp"
    manifest.write_text("notify { 'x': }\n")
    compiler = Compiler(CompileRequest(node="n1.example.com", facts={"networking": {"fqdn": "n1.example.com"}},
                                       manifests=[manifest]))
    compiler.compile()
    return compiler


def _lambdas(compiler: Compiler) -> dict[int, Closure]:
    """Lambdas of 0 to 3 parameters that return their first argument (or 1)."""
    out = {}
    for n in range(4):
        params = ", ".join(f"$p{i}" for i in range(n))
        body = "$p0" if n else "1"
        program = parse_string(f"with() |{params}| {{ {body} }}", "lambda.pp")
        call = program.body.statements[0]
        assert isinstance(call, ast.Call) and call.lambda_ is not None
        out[n] = Closure(call.lambda_, compiler.top, compiler)
    return out


@pytest.fixture(scope="module")
def compiler(tmp_path_factory: pytest.TempPathFactory) -> Compiler:
    return _compiler(tmp_path_factory.mktemp("contract"))


def _call(compiler: Compiler, name: str, args: list[Any], block: Any = None) -> Any:
    compiler.scope = compiler.top
    return compiler.call_function(name, list(args), block, NODE)


def _assert_one_positioned_line(name: str, err: DslError) -> None:
    line = err.format_line()
    assert "\n" not in line, line
    assert err.span is not None and err.span.line > 0, line
    assert "internal error" not in err.message, line


def test_every_signature_names_known_types() -> None:
    for name in NAMES:
        fn: Function = FUNCTIONS[name]
        for d in fn.dispatches:
            d.types()  # raises for an unknown type name


def test_signatures_read_like_puppets() -> None:
    d = parse_signature("String $str, Integer $n?, Callable[1, 2] &$block?")
    assert str(d) == "(String str, Integer n?, Callable[1, 2] block?)"
    assert (d.lo, d.hi, d.block is not None and d.block.required) == (1, 2, False)
    rest = parse_signature("Any +$names")
    assert (rest.lo, rest.hi) == (1, INF)
    with pytest.raises(ValueError, match="repeated parameter must be the last"):
        parse_signature("Any *$a, Any $b")


@pytest.mark.parametrize("name", NAMES)
def test_wrong_arity_is_one_line_naming_the_function(compiler: Compiler, name: str) -> None:
    fn: Function = FUNCTIONS[name]
    lo = min(d.lo for d in fn.dispatches)
    hi = max(d.hi for d in fn.dispatches)
    attempts = []
    if hi != INF:
        attempts.append(["a"] * (int(hi) + 1))
    if lo > 0:
        attempts.append([])
    if not attempts:
        pytest.skip(f"{name} takes any number of arguments")
    for args in attempts:
        with pytest.raises(EvaluationError) as info:
            _call(compiler, name, args)
        _assert_one_positioned_line(name, info.value)
        assert info.value.message.startswith(f"{name}(): expects "), info.value.message
        assert "argument" in info.value.message


def _refused_by_every_dispatch(fn: Function, count: int) -> Any:
    fitting = [d for d in fn.dispatches if d.lo <= count <= d.hi]
    for value in STRANGE:
        if all(not d.types()[d.param_at(0, count)].instance(value) for d in fitting):
            return value
    return None


@pytest.mark.parametrize("name", NAMES)
def test_wrong_type_is_one_line_naming_the_parameter(compiler: Compiler, name: str) -> None:
    fn: Function = FUNCTIONS[name]
    count = max(1, min(d.lo for d in fn.dispatches))
    if not any(d.lo <= count <= d.hi for d in fn.dispatches):
        pytest.skip(f"{name} takes no arguments")
    value = _refused_by_every_dispatch(fn, count)
    if value is None:
        pytest.skip(f"{name} takes any value first")
    fitting = [d for d in fn.dispatches if d.lo <= count <= d.hi]
    needs_block = all(d.block is not None and d.block.required for d in fitting)
    arity = fitting[0].block.lo if fitting[0].block is not None else 1
    block = _lambdas(compiler)[int(arity)] if needs_block else None
    with pytest.raises(DslTypeError) as info:
        _call(compiler, name, [value] + ["a"] * (count - 1), block)
    _assert_one_positioned_line(name, info.value)
    message = info.value.message
    assert message.startswith(f"{name}(): parameter ") or message.startswith(f"{name}(): expects one of "), message


def test_a_block_where_none_fits(compiler: Compiler) -> None:
    blocks = _lambdas(compiler)
    cases: list[tuple[str, list[Any], Closure | None, str]] = [
             ("upcase", ["a"], blocks[1], "upcase(): does not expect a block"),
             ("each", [[1]], None, "each(): expects a block"),
             ("each", [[1]], blocks[3], "each(): block expects between 1 and 2 arguments, got 3"),
             ("lest", [None], blocks[1], "lest(): block expects no arguments, got 1")]
    for name, args, block, message in cases:
        with pytest.raises(EvaluationError) as info:
            _call(compiler, name, args, block)
        assert info.value.message == message


def _samples(t: T.PType) -> list[Any]:
    """Values of the type itself: an enumeration's words, a range's lower bound."""
    r = T.resolve(t)
    if isinstance(r, T.PVariant):
        return [v for x in r.types for v in _samples(x)]
    if isinstance(r, T.PEnum):
        return list(r.values)[:3]
    if isinstance(r, T.PInteger) and r.lo != -T.INF:
        return [int(r.lo)]
    return []


def _accepted(t: T.PType) -> list[Any]:
    return ([v for v in CANDIDATES if t.instance(v)] + [v for v in _samples(t) if t.instance(v)])[:6]


def _argument_lists(fn: Function) -> list[tuple[list[Any], int | None]]:
    """Arguments each dispatch lets through (a few combinations), with the block arity it needs."""
    out: list[tuple[list[Any], int | None]] = []
    for d in fn.dispatches:
        pools = []
        for p, t in zip(d.params, d.types()):
            if p.hi == INF and p.lo == 0:
                continue
            pools.append(_accepted(t))
        required = sum(1 for p in d.params if p.lo == 1)
        blocks: list[int | None] = [None]
        if d.block is not None:
            arity = int(d.block.lo) if d.block.lo == d.block.hi else 1
            blocks = [arity] if d.block.required else [None, arity]
        for block in blocks:
            for count in sorted({required, len(pools)}):
                if any(not pool for pool in pools[:count]):
                    continue
                combos = itertools.islice(itertools.product(*pools[:count]), 60)
                out.extend((list(combo), block) for combo in combos)
    return out


_CONTROL = {"break", "next", "return"}


@pytest.mark.parametrize("name", NAMES)
def test_bodies_fail_only_with_one_positioned_line(tmp_path: Path, name: str) -> None:
    """Whatever arguments the signature lets through, the function returns or fails with one
    positioned line: no traceback, no 'internal error'."""
    compiler = _compiler(tmp_path)
    blocks = _lambdas(compiler)
    fn: Function = FUNCTIONS[name]
    for args, arity in _argument_lists(fn):
        try:
            _call(compiler, name, args, blocks[arity] if arity is not None else None)
        except DslError as err:
            _assert_one_positioned_line(name, err)
        except (_Break, _Next, _Return):
            assert name in _CONTROL


def test_the_cli_prints_one_line_for_a_bad_call(tmp_path: Path) -> None:
    manifest = tmp_path / "site.pp"
    manifest.write_text("$x = upcase()\n$y = upcase('a', 'b')\n")
    proc = subprocess.run([sys.executable, str(ROOT / "bunraku.py"), "compile", str(manifest), "--node", "n1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[0] == f"{manifest}:1:6: error: upcase(): expects 1 argument, got none"
