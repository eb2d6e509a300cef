"""`bunraku lookup --explain`, and a wrong-type class parameter from Hiera naming its data file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dsl.compiler import CompileRequest, compile_catalog, lookup_for_node
from dsl.errors import DslError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> Path:
    (tmp_path / "data/nodes").mkdir(parents=True)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "hiera.yaml").write_text(
        "version: 5\ndefaults: {datadir: data, data_hash: yaml_data}\nhierarchy:\n"
        "  - {name: Per-node data, path: 'nodes/%{trusted.certname}.yaml'}\n"
        "  - {name: Common data, path: common.yaml}\n")
    (tmp_path / "data/nodes/web01.yaml").write_text("app::servers: [a]\n")
    (tmp_path / "data/common.yaml").write_text("app::servers: [b, c]\napp::port: 'eighty'\n")
    (tmp_path / "manifests/site.pp").write_text("class app(Integer $port = 80) {}\ninclude app\n")
    return tmp_path


def _request(env: Path) -> CompileRequest:
    return CompileRequest(manifests=[env / "manifests/site.pp"], node="web01", facts={}, env_dir=env,
                          hiera_config=env / "hiera.yaml")


def test_explain_shows_each_level_and_where_the_value_came_from(env: Path) -> None:
    trace: list[str] = []
    assert lookup_for_node(_request(env), "app::servers", explain=trace) == (True, ["a"])
    assert trace[0] == 'Searching for "app::servers"'
    text = "\n".join(trace)
    assert 'Hierarchy entry "Per-node data"' in text
    assert f'Path "{env}/data/nodes/web01.yaml"\n        Found key: "app::servers" value: ["a"]' in text
    assert "Common data" not in text  # the first found wins: the rest is not searched


def test_explain_of_a_merge_and_of_a_missing_key(env: Path) -> None:
    trace: list[str] = []
    assert lookup_for_node(_request(env), "app::servers", merge="unique", explain=trace) == (True, ["a", "b", "c"])
    assert "  Merge strategy unique" in trace and trace[-1] == '  Merged result: ["a", "b", "c"]'
    trace = []
    assert lookup_for_node(_request(env), "app::none", explain=trace) == (False, None)
    assert '        No such key: "app::none"' in trace and trace[-1] == 'Not found: "app::none"'


def test_a_wrong_type_from_hiera_names_the_data_file(env: Path) -> None:
    with pytest.raises(DslError) as caught:
        compile_catalog(_request(env))
    assert (f"Class[App]: parameter 'port' expects an Integer value, got String "
            f"(the value is Hiera data from {env}/data/common.yaml)") in str(caught.value)


def test_the_command_line(env: Path) -> None:
    cmd = [sys.executable, str(ROOT / "bunraku.py"), "lookup", "--env-dir", str(env), "--node", "web01", "--explain"]
    found = subprocess.run([*cmd, "app::port"], capture_output=True, text=True, cwd=env)
    assert found.returncode == 0 and 'Found key: "app::port" value: "eighty"' in found.stdout
    missing = subprocess.run([*cmd, "app::nope"], capture_output=True, text=True, cwd=env)
    assert missing.returncode == 1 and missing.stdout.rstrip().endswith('Not found: "app::nope"')
