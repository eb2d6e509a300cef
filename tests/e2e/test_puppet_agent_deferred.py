"""An unmodified Puppet agent resolves the Deferred values of the catalog a Bunraku master compiles
(served over Puppet's HTTP API as rich data), to the same files a Bunraku agent writes from it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.run import run_once
from dsl.deferred import call_deferred
from tests.e2e.harness import agent_settings, start_master

pytestmark = pytest.mark.skipif(shutil.which("puppet") is None,
                                reason="Puppet's agent is not installed (Debian: apt-get install puppet-agent)")
pytest.importorskip("aiohttp")

SITE = """\
node default {
  $root = $facts['deferred_root']
  file { "${root}/greeting":
    ensure  => file,
    content => Deferred('sprintf', ["%s from %s\\n", Deferred('upcase', ['hello']), $trusted['certname']]),
  }
  file { "${root}/listed":
    ensure  => file,
    content => Deferred('inline_epp', ['<% $items.each |$i| { %>[<%= $i %>]<% } %>', {'items' => ['a', 'b']}]),
  }
}
"""


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("puppet-deferred")
    env = tmp / "envs" / "production"
    (env / "manifests").mkdir(parents=True)
    (env / "manifests" / "site.pp").write_text(SITE)
    server = start_master(tmp, tmp / "envs", autosign="true", puppet_listen="127.0.0.1:0")
    server.tmp = tmp
    yield server
    server.stop()


def _puppet_agent(master: Any, certname: str, root: Path) -> subprocess.CompletedProcess[str]:
    base = master.tmp / "puppet" / certname
    dirs = [arg for name in ("confdir", "vardir", "ssldir", "codedir", "logdir", "rundir", "publicdir")
            for arg in (f"--{name}", str(base / name))]
    command = ["puppet", "agent", "--test", *dirs, "--server", "127.0.0.1", "--masterport",
               str(master.puppet_api.port), "--certname", certname, "--waitforcert", "0", "--keylength", "2048",
               "--color", "false"]
    env = dict(os.environ, FACTER_deferred_root=str(root))  # a fact, as Facter reads FACTER_* variables
    return subprocess.run(command, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env=env)


def test_puppet_and_bunraku_agents_resolve_the_same_deferred(master: Any) -> None:
    theirs = master.tmp / "puppet-root"
    theirs.mkdir()
    done = _puppet_agent(master, "pagent.example.com", theirs)
    said = f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 2, said
    assert (theirs / "greeting").read_text() == "HELLO from pagent.example.com\n", said
    assert (theirs / "listed").read_text() == "[a][b]"

    s = agent_settings(master, master.tmp, "pagent2.example.com", functions=call_deferred)
    s.facts = {"deferred_root": "/out", "networking": {"fqdn": "pagent2.example.com"}}
    ours = s.root / "out"  # the agent converges its --root: /out is there
    ours.mkdir()
    result = run_once(s)
    assert result.exit_code == 2, "\n".join(t for _, t in result.lines)
    assert (ours / "greeting").read_text() == "HELLO from pagent2.example.com\n"
    assert (ours / "listed").read_text() == (theirs / "listed").read_text()
