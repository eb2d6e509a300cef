"""Fixtures of the facts tests."""

from __future__ import annotations

import pytest
from facts_testdata import DISTROS, Captured


@pytest.fixture(params=DISTROS)
def captured(request: pytest.FixtureRequest) -> Captured:
    return Captured(request.param)
