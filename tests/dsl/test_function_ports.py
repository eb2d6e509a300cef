"""Python ports of module functions (lib/bunraku/functions): found on the compilation's module path,
checked by their declared signature, never seen by another environment, never replacing a built-in,
refused on the master unless allowed; and the error for a function nobody ported names the module
that ships it in Ruby."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dsl.compiler import CompileRequest, compile_catalog
from dsl.errors import DslError
from dsl.functions import FUNCTIONS

PORT_RANGE = '''\
from dsl.functions import Call, function


@function("mymod::port_range", "Integer[1, 65535] $first, Integer[1, 65535] $last, String $separator?")
def port_range(call: Call, first: int, last: int, separator: str = ":") -> str:
    if last < first:
        call.fail(f"the range ends ({last}) before it starts ({first})")
    return f"{first}{separator}{last}"
'''

GLOBAL_PORT = '''\
from dsl.functions import Call, function


@function("shout", "String $text, Callable[1, 1] &$block?")
def shout(call: Call, text: str) -> str:
    loud = text.upper() + "!"
    return call.block(loud) if call.block is not None else loud
'''


def _module(root: Path, name: str, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _compile(tmp: Path, source: str, modulepath: list[Path], **request: Any) -> dict[str, Any]:
    manifest = tmp / "site.pp"
    manifest.write_text(source)
    req = CompileRequest.from_cli(manifest=manifest, node="n1", facts={}, modulepath=modulepath)
    for k, v in request.items():
        setattr(req, k, v)
    cat = json.loads(compile_catalog(req).to_json())
    return {r["title"]: r["parameters"].get("message") for r in cat["resources"] if r["type"] == "Notify"}


def _error(tmp: Path, source: str, modulepath: list[Path], **request: Any) -> str:
    with pytest.raises(DslError) as info:
        _compile(tmp, source, modulepath, **request)
    line = info.value.format_line()
    assert "\n" not in line
    return line.replace(f"{tmp}/", "")


def test_a_namespaced_port_is_called_through_its_signature(tmp_path: Path) -> None:
    mods = _module(tmp_path / "modules", "mymod", {"lib/bunraku/functions/mymod/port_range.py": PORT_RANGE})
    out = _compile(tmp_path, "notify { 'a': message => mymod::port_range(8000, 8010) }\n"
                             "notify { 'b': message => mymod::port_range(1, 2, '-') }\n", [mods])
    assert out == {"a": "8000:8010", "b": "1-2"}
    assert _error(tmp_path, "$x = mymod::port_range(80)\n", [mods]) == \
        "site.pp:1:6: error: mymod::port_range(): expects between 2 and 3 arguments, got 1"
    assert _error(tmp_path, "$x = mymod::port_range(0, 80)\n", [mods]) == \
        "site.pp:1:6: error: mymod::port_range(): parameter 'first' expects an Integer[1, 65535] value, " \
        "got Integer[0, 0]"
    assert _error(tmp_path, "$x = mymod::port_range(90, 80)\n", [mods]) == \
        "site.pp:1:6: error: mymod::port_range(): the range ends (80) before it starts (90)"


def test_a_global_port_takes_a_block(tmp_path: Path) -> None:
    mods = _module(tmp_path / "modules", "loud", {"lib/bunraku/functions/shout.py": GLOBAL_PORT})
    out = _compile(tmp_path, "notify { 'a': message => shout('hi') }\n"
                             "notify { 'b': message => 'x'.shout |$s| { \"<${s}>\" } }\n", [mods])
    assert out == {"a": "HI!", "b": "<X!>"}


def test_a_port_signature_may_name_the_environments_type_aliases(tmp_path: Path) -> None:
    port = PORT_RANGE.replace('"Integer[1, 65535] $first, Integer[1, 65535] $last', '"Mymod::Port $first, Mymod::Port $last')
    mods = _module(tmp_path / "modules", "mymod", {"lib/bunraku/functions/mymod/port_range.py": port,
                                                   "types/port.pp": "type Mymod::Port = Integer[1, 65535]\n"})
    assert _compile(tmp_path, "notify { 'a': message => mymod::port_range(80, 81) }\n", [mods]) == {"a": "80:81"}
    assert _error(tmp_path, "$x = mymod::port_range(80, 0)\n", [mods]) == \
        "site.pp:1:6: error: mymod::port_range(): parameter 'last' expects an Integer[1, 65535] value, got " \
        "Integer[0, 0]"
    broken = PORT_RANGE.replace('"Integer[1, 65535] $first', '"Integer[1, $first')
    mods = _module(tmp_path / "other", "mymod", {"lib/bunraku/functions/mymod/port_range.py": broken})
    assert "port_range.py does not load: ValueError: unbalanced brackets" in \
        _error(tmp_path, "$x = mymod::port_range(1, 2)\n", [mods])
    wrong = PORT_RANGE.replace('"Integer[1, 65535] $first', '"Nosuch::Type $first')
    mods = _module(tmp_path / "third", "mymod", {"lib/bunraku/functions/mymod/port_range.py": wrong})
    assert "mymod::port_range(): its signature is wrong: resource type not found: 'Nosuch::Type'" in \
        _error(tmp_path, "$x = mymod::port_range(80, 81)\n", [mods])


def test_ports_stay_in_their_environment(tmp_path: Path) -> None:
    with_port = _module(tmp_path / "prod", "loud", {"lib/bunraku/functions/shout.py": GLOBAL_PORT})
    other = _module(tmp_path / "dev", "quiet", {"manifests/init.pp": "class quiet {}\n"})
    assert _compile(tmp_path, "notify { 'a': message => shout('x') }\n", [with_port]) == {"a": "X!"}
    assert "shout" not in FUNCTIONS
    assert _error(tmp_path, "$x = shout('x')\n", [other]).startswith("site.pp:1:6: error: unknown function 'shout'")
    # a second environment with its own, different port of the same name
    changed = GLOBAL_PORT.replace('text.upper() + "!"', 'text.lower() + "?"')
    second = _module(tmp_path / "staging", "loud", {"lib/bunraku/functions/shout.py": changed})
    assert _compile(tmp_path, "notify { 'a': message => shout('X') }\n", [second]) == {"a": "x?"}
    assert _compile(tmp_path, "notify { 'a': message => shout('x') }\n", [with_port]) == {"a": "X!"}


def test_a_port_cannot_replace_a_built_in(tmp_path: Path) -> None:
    text = GLOBAL_PORT.replace('"shout"', '"upcase"')
    mods = _module(tmp_path / "modules", "bad", {"lib/bunraku/functions/shout.py": text})
    message = _error(tmp_path, "$x = shout('x')\n", [mods])
    assert "declares 'upcase', which is a built-in function; a port cannot replace it" in message
    assert _compile(tmp_path, "notify { 'a': message => upcase('x') }\n", [mods]) == {"a": "X"}


def test_a_broken_port_is_one_positioned_line(tmp_path: Path) -> None:
    mods = _module(tmp_path / "modules", "bad", {"lib/bunraku/functions/shout.py": "def oops(:\n",
                                                 "lib/bunraku/functions/other.py": PORT_RANGE})
    assert "shout.py does not load: SyntaxError" in _error(tmp_path, "$x = shout('x')\n", [mods])
    assert "other.py does not declare the function 'other' (it declares: mymod::port_range)" in \
        _error(tmp_path, "$x = other(1)\n", [mods])


def test_the_master_runs_ports_only_when_allowed(tmp_path: Path) -> None:
    mods = _module(tmp_path / "modules", "loud", {"lib/bunraku/functions/shout.py": GLOBAL_PORT})
    message = _error(tmp_path, "$x = shout('x')\n", [mods], confine_files=True)
    assert "this master does not run modules' Python code" in message
    assert _compile(tmp_path, "notify { 'a': message => shout('x') }\n", [mods], confine_files=True,
                    python_functions=True) == {"a": "X!"}


def test_an_unknown_function_names_the_module_shipping_it_in_ruby(tmp_path: Path) -> None:
    mods = _module(tmp_path / "modules", "acme", {
        "lib/puppet/functions/acme/secret.rb": "Puppet::Functions.create_function(:'acme::secret') do\nend\n",
        "lib/puppet/parser/functions/legacy_thing.rb": "module Puppet::Parser::Functions\nend\n",
    })
    assert _error(tmp_path, "$x = acme::secret()\n", [mods]) == (
        "site.pp:1:6: error: unknown function 'acme::secret': module acme ships it in Ruby "
        "(lib/puppet/functions/acme/secret.rb), which Bunraku does not run; port it to Python as "
        "acme/lib/bunraku/functions/acme/secret.py (see docs/FUNCTIONS.md)")
    assert _error(tmp_path, "$x = legacy_thing(1)\n", [mods]) == (
        "site.pp:1:6: error: unknown function 'legacy_thing': module acme ships it in Ruby "
        "(lib/puppet/parser/functions/legacy_thing.rb), which Bunraku does not run; port it to Python as "
        "acme/lib/bunraku/functions/legacy_thing.py (see docs/FUNCTIONS.md)")
    assert _error(tmp_path, "$x = nothing_anywhere()\n", [mods]) == (
        "site.pp:1:6: error: unknown function 'nothing_anywhere'; check the name and that the module that "
        "defines it is on the module path")
