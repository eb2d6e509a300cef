"""The file server serves a module's files/ and nothing else."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from master import fileserver
from master.environments import Environment
from tests.e2e.harness import make_site


@pytest.fixture()
def env(tmp_path: Path) -> Environment:
    path = make_site(tmp_path / "envs")
    (tmp_path / "secret").write_text("top secret")
    os.symlink(tmp_path / "secret", path / "modules" / "demo" / "files" / "escape")
    (path / "modules" / "demo" / "files" / "sub").mkdir()
    os.symlink("../demo.conf", path / "modules" / "demo" / "files" / "sub" / "inside")
    return Environment("production", path, "v1", None)


def test_metadata_and_chunks_carry_the_sha256(env: Environment) -> None:
    meta = fileserver.metadata(env, "puppet:///modules/demo/demo.conf")
    data = (env.path / "modules/demo/files/demo.conf").read_bytes()
    assert meta is not None and meta.kind == "file" and meta.sha256 == hashlib.sha256(data).hexdigest()
    chunks = list(fileserver.chunks(env, "puppet:///modules/demo/demo.conf"))
    assert b"".join(c for c, _ in chunks) == data and chunks[-1][1] == meta.sha256
    assert fileserver.metadata(env, "puppet:///modules/demo/missing") is None
    assert fileserver.metadata(env, "puppet:///modules/demo/sub/inside") is not None  # a link that stays inside


@pytest.mark.parametrize("uri", [
    "puppet:///modules/demo/../../../etc/passwd",
    "puppet:///modules/demo/sub/../../manifests/init.pp",
    "puppet:///modules/../demo/files/demo.conf",
    "puppet:///modules/demo/escape",
    "puppet:///plugins/demo/manifests/init.pp",
    "puppet:///files/demo.conf",
    "file:///etc/passwd",
])
def test_everything_outside_files_is_refused(env: Environment, uri: str) -> None:
    with pytest.raises(fileserver.FileServerError):
        fileserver.resolve(env, uri)


def test_plugin_facts_lists_modules_facts(env: Environment) -> None:
    files = fileserver.plugin_facts(env)
    assert [f[0] for f in files] == ["demo/synced_role.py"]
    assert fileserver.resolve(env, files[0][2]) is not None
