"""One version everywhere: the constant reports and the CLI print is pyproject.toml's."""

import tomllib
from pathlib import Path

from engine import __version__
from engine.report import AGENT_VERSION

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_constant_is_the_projects_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert __version__ == project
    assert AGENT_VERSION == f"bunraku {project}"


def test_the_cli_prints_that_version() -> None:
    from click.testing import CliRunner

    from cli import main

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
