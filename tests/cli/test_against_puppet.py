"""Where `bunraku` and Puppet agree, and the two exit codes where they differ on purpose, checked
against the Puppet installed on this machine (skipped without it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import bunraku

pytestmark = pytest.mark.skipif(shutil.which("puppet") is None, reason="Puppet is not installed")


def _puppet(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    dirs = [arg for name in ("confdir", "vardir", "codedir", "logdir", "rundir")
            for arg in (f"--{name}", str(tmp / "puppet" / name))]
    return subprocess.run(["puppet", *args, *dirs], capture_output=True, text=True, timeout=300,
                          env={"HOME": str(tmp), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})


def _both(tmp: Path, root: Path, code: str, *flags: str) -> tuple[int, int]:
    return (_puppet(tmp, "apply", "-e", code, *flags).returncode,
            bunraku("apply", "-e", code, "--root", str(root), "--facts", "/dev/null", *flags).returncode)


def test_exit_codes_against_puppet(tmp_path: Path, root: Path) -> None:
    fail = "exec { '/bin/false': }"
    assert _both(tmp_path, root, fail, "--detailed-exitcodes") == (4, 4)
    assert _both(tmp_path, root, fail) == (0, 1)  # documented: a failed run is a failure
    target = tmp_path / "pending"
    (root / str(tmp_path).lstrip("/")).mkdir(parents=True)  # its parent exists in both roots
    pending = f"file {{ '{target}': ensure => file }}"
    assert _both(tmp_path, root, pending, "--noop") == (0, 0)
    assert _both(tmp_path, root, pending, "--noop", "--detailed-exitcodes") == (0, 2)  # documented: drift shows
    assert not target.exists() and not (root / str(target).lstrip("/")).exists()
    assert _both(tmp_path, root, "notice(", "--detailed-exitcodes") == (1, 1)


def test_resource_file_prints_what_puppet_prints(tmp_path: Path) -> None:
    target = tmp_path / "motd"
    target.write_text("hi\n")
    target.chmod(0o640)

    def attrs(text: str) -> dict[str, str]:
        return dict(re.findall(r"^\s+(\w+)\s+=> '([^']*)',$", text, re.M))

    theirs = attrs(_puppet(tmp_path, "resource", "file", str(target)).stdout)
    ours = attrs(bunraku("resource", "file", str(target), check=0).stdout)
    for key in ("ensure", "content", "mode", "provider"):
        assert ours[key] == theirs[key], (key, ours, theirs)
