"""pyproject.toml as current setuptools reads it: no deprecation warnings on `pip install -e .`."""

from __future__ import annotations

import warnings
from pathlib import Path

from setuptools.config.pyprojecttoml import apply_configuration
from setuptools.dist import Distribution

REPO = Path(__file__).resolve().parent.parent


def _warnings_reading(pyproject: Path) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), pyproject)
    assert dist.get_name() == "bunraku"
    return [str(w.message).splitlines()[0] for w in caught]


def test_pyproject_reads_without_setuptools_warnings() -> None:
    assert _warnings_reading(REPO / "pyproject.toml") == []


def test_the_license_is_an_spdx_expression_not_a_table(tmp_path: Path) -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '\nlicense = "Apache-2.0"\n' in text
    # the table spelling setuptools warns about (the check above would catch it)
    (tmp_path / "README.md").write_text("x\n")
    (tmp_path / "pyproject.toml").write_text(text.replace('license = "Apache-2.0"', 'license = {text = "Apache-2.0"}'))
    assert any("license" in w for w in _warnings_reading(tmp_path / "pyproject.toml"))
