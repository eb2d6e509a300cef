"""Fixtures of the interop tests: Puppet itself judges what Bunraku writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.oracle import PuppetTree, require_puppet


@pytest.fixture
def puppet(tmp_path: Path) -> PuppetTree:
    """A private Puppet tree for this test; skips (saying why) where Puppet 7 is not installed."""
    require_puppet()
    return PuppetTree(tmp_path / "puppet")
