"""Fixtures shared across the test packages."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.reliability.pgcluster import PrivateCluster

_PARSE_CACHE: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """The parse cache is on by default (in ~/.cache): the tests, and the commands they run, use an
    empty one of this session alone, so that no result depends on a warm cache."""
    path = tempfile.mkdtemp(prefix="bunraku-parse-cache-")
    _PARSE_CACHE.append(path)
    os.environ["BUNRAKU_PARSE_CACHE"] = path


def pytest_unconfigure(config: pytest.Config) -> None:
    while _PARSE_CACHE:
        shutil.rmtree(_PARSE_CACHE.pop(), ignore_errors=True)


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivateCluster]:
    """A PostgreSQL cluster of this test session alone (a ``PrivateCluster``): tests may restart it.
    Skips where the PostgreSQL server binaries are not installed."""
    from tests.reliability.pgcluster import PrivateCluster, pg_bindir

    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    pytest.importorskip("psycopg")
    try:
        cluster = PrivateCluster(bindir)
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run a PostgreSQL cluster as")
    try:
        cluster.init()
        cluster.start()
        cluster.create_database("test")
        yield cluster
    finally:
        cluster.destroy()
