"""``bunraku facts``: queries, output formats, external and custom dirs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import bunraku

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ext_dir(tmp_path: Path) -> Path:
    d = tmp_path / "facts.d"
    d.mkdir()
    (d / "site.yaml").write_text("site: {name: ams1, racks: [r1, r2]}\ngreeting: hello world\ncount: 3\n")
    return d


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(bunraku.main, ["facts", *args])
    return result.exit_code, result.output


def test_single_query_prints_the_bare_value(ext_dir: Path) -> None:
    assert run("os.family", "--external-dir", str(ext_dir)) == (0, "Debian\n")
    assert run("greeting", "--external-dir", str(ext_dir)) == (0, "hello world\n")
    assert run("count", "--external-dir", str(ext_dir)) == (0, "3\n")
    code, out = run("site", "--external-dir", str(ext_dir))
    assert code == 0 and out == '{\n  name => "ams1",\n  racks => [\n    "r1",\n    "r2"\n  ]\n}\n'
    assert run("site.racks.1", "--external-dir", str(ext_dir)) == (0, "r2\n")


def test_missing_query_prints_an_empty_value(ext_dir: Path) -> None:
    assert run("no.such.fact", "--external-dir", str(ext_dir)) == (0, "\n")
    code, out = run("site.name", "nope", "kernel", "--external-dir", str(ext_dir))
    assert code == 0
    assert out == "kernel => Linux\nnope => \nsite.name => ams1\n"


def test_json_and_yaml_outputs(ext_dir: Path) -> None:
    code, out = run("--json", "os.family", "site.name", "nope", "--external-dir", str(ext_dir))
    assert code == 0 and json.loads(out) == {"nope": None, "os.family": "Debian", "site.name": "ams1"}
    code, out = run("--yaml", "os.family", "--external-dir", str(ext_dir))
    assert code == 0 and yaml.safe_load(out) == {"os.family": "Debian"}
    code, out = run("--yaml", "--external-dir", str(ext_dir))
    assert code == 0 and yaml.safe_load(out)["site"]["name"] == "ams1"
    code, out = run("--json", "--yaml")
    assert code == 1 and "mutually exclusive" in out


def test_whole_fact_set_hides_legacy_names_unless_shown(ext_dir: Path) -> None:
    code, out = run("--json", "--external-dir", str(ext_dir))
    facts = json.loads(out)
    assert code == 0 and "osfamily" not in facts and facts["greeting"] == "hello world"
    assert list(facts) == sorted(facts)
    code, out = run("--json", "--show-legacy", "--external-dir", str(ext_dir))
    facts = json.loads(out)
    assert code == 0 and facts["osfamily"] == "Debian" and facts["os"]["family"] == "Debian"
    code, out = run("--json", "--no-legacy", "--external-dir", str(ext_dir))
    assert code == 0 and "osfamily" not in json.loads(out)
    # A query finds a legacy name without --show-legacy, as with Facter.
    assert run("osfamily", "--external-dir", str(ext_dir)) == (0, "Debian\n")


def test_whole_fact_set_prints_facters_human_format(ext_dir: Path) -> None:
    code, out = run("--external-dir", str(ext_dir))
    assert code == 0
    lines = out.splitlines()
    assert "greeting => hello world" in lines and "kernel => Linux" in lines and "count => 3" in lines
    assert "facterversion => 4.3.0" in lines and not any(line.startswith("osfamily =>") for line in lines)
    start = lines.index("site => {")
    assert lines[start:start + 7] == ["site => {", '  name => "ams1",', "  racks => [", '    "r1",', '    "r2"',
                                      "  ]", "}"]
    top = [line.split(" => ")[0] for line in lines if line and not line[0].isspace() and " => " in line]
    assert top == sorted(top)


def test_puppet_flag_is_accepted(ext_dir: Path) -> None:
    assert run("-p", "greeting", "--external-dir", str(ext_dir)) == (0, "hello world\n")
    assert run("--puppet", "-j", "count", "--external-dir", str(ext_dir)) == (0, '{\n  "count": 3\n}\n')


def test_custom_dir_and_expensive_fact_on_request(tmp_path: Path) -> None:
    (tmp_path / "role.py").write_text(
        'from facts import fact\n\n\n@fact("role", needs=("os",))\ndef role(facts):\n'
        '    return "db-" + facts["os"]["family"]\n')
    assert run("role", "--custom-dir", str(tmp_path), "--external-dir", str(tmp_path / "none")) == (0, "db-Debian\n")
    code, out = run("--json", "packages.bash", "--external-dir", str(tmp_path / "none"))
    assert code == 0
    assert isinstance(json.loads(out).get("packages.bash", ""), str)


def test_the_real_command_line(ext_dir: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bunraku.py"), "facts", "--json", "--external-dir", str(ext_dir)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert facts["networking"]["interfaces"]["lo"]["ip"] == "127.0.0.1"
    assert facts["bunraku_version"] == bunraku.__version__
