"""The autoloader refuses a module file that defines a name outside the namespace its path gives
(``<module>/manifests/init.pp`` holds ``<module>``, ``<module>/manifests/a/b.pp`` holds ``<module>::a::b``
and what is nested in it), at the definition, as Puppet does ("Unacceptable location")."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsl.compiler import CompileRequest, compile_catalog
from dsl.errors import DslError


def _compile(tmp_path: Path, files: dict[str, str], site: str) -> dict:
    modules = tmp_path / "modules"
    for rel, text in files.items():
        f = modules / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    manifest = tmp_path / "site.pp"
    manifest.write_text(site)
    req = CompileRequest.from_cli(manifest=manifest, node="n1", facts={}, modulepath=[modules])
    return compile_catalog(req).to_dict()


def test_names_inside_the_files_namespace_load(tmp_path: Path) -> None:
    files = {"foo/manifests/init.pp": "class foo { include foo::sub::x }\nclass foo::params { }\n",
             "foo/manifests/sub/x.pp": "class foo::sub::x { foo::sub::x::d { 'a': } }\n"
                                       "define foo::sub::x::d { notify { $title: } }\n"}
    catalog = _compile(tmp_path, files, "include foo\n")
    assert "Foo::Sub::X::D" in {r["type"] for r in catalog["resources"]}


@pytest.mark.parametrize(("rel", "text", "name", "line_no"), [
    ("foo/manifests/init.pp", "# the wrong name\n\nclass bar { }\n", "bar", 3),
    ("foo/manifests/init.pp", "class foo { }\nclass foobar { }\n", "foobar", 2),
    ("foo/manifests/sub/x.pp", "class foo::sub::x { }\n\nclass foo { }\n", "foo", 3),
    ("foo/manifests/sub/x.pp", "\n\ndefine foo::other { }\n", "foo::other", 3),
])
def test_a_name_outside_the_files_namespace_fails_at_its_definition(tmp_path: Path, rel: str, text: str,
                                                                   name: str, line_no: int) -> None:
    site = "include foo::sub::x\n" if "sub" in rel else "include foo\n"
    with pytest.raises(DslError) as info:
        _compile(tmp_path, {rel: text}, site)
    line = info.value.format_line()
    assert line.startswith(f"{tmp_path / 'modules' / rel}:{line_no}:") and ": error: " in line, line
    assert f"Unacceptable location. The name '{name}' is unacceptable in file 'modules/{rel}'" in line, line
