"""A 500 MB artifact pushed to a master and downloaded by an agent, each in its own process: the peak
resident memory of all three stays flat (far below the artifact's size). `make soak` runs it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIZE = 500 * 1024 * 1024
#: what a process may add to its peak on top of its size at rest: a few chunks, gRPC's buffers, the store's
#: page cache; a copy of the artifact in memory would be 500 MB
FLAT_MB = 120

MASTER = """\
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.e2e.harness import make_site, start_master
tmp = Path({tmp!r})
make_site(tmp / "envs")
master = start_master(tmp, tmp / "envs")
print(master.address, flush=True)
sys.stdin.read()
master.stop()
"""

CLIENT = """\
import sys
from pathlib import Path
sys.path.insert(0, {root!r})

def peak_mb():
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(status["VmHWM"].split()[0]) // 1024, int(status["VmRSS"].split()[0]) // 1024

from wire.client import MasterClient
from wire import pki
client = MasterClient([{address!r}], pki.SSLPaths(Path({ssldir!r}), {certname!r}), timeout=600)
at_rest = peak_mb()[1]
{body}
print(at_rest, peak_mb()[0], flush=True)
"""

PUSH = """\
from master import artifactclient
artifactclient.push(client, "big", "1", Path({file!r}))
"""

DOWNLOAD = """\
from agent.filesource import RemoteFileSource
from engine.providers.release import file_sha256
from engine.sources import ArtifactRef
source = RemoteFileSource(client, "production", Path({cache!r}))
source.fetch_artifact(ArtifactRef("big", "1", {sha!r}, {size}, "big.bin"), {dest!r})
assert file_sha256({dest!r}) == {sha!r}
"""


def _status_mb(pid: int, key: str) -> int:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(status[key].split()[0]) // 1024


def _client(tmp: Path, address: str, ssldir: Path, certname: str, body: str) -> tuple[int, int]:
    script = CLIENT.format(root=str(ROOT), address=address, ssldir=str(ssldir), certname=certname,
                           body=textwrap.dedent(body))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    at_rest, peak = map(int, done.stdout.split())
    return at_rest, peak


@pytest.mark.soak
def test_a_500_mb_artifact_streams_with_flat_memory_on_master_and_agent(tmp_path: Path) -> None:
    from tests.e2e.harness import issue_identity_from_ca

    big = tmp_path / "big.bin"
    block = os.urandom(1024 * 1024)
    h = hashlib.sha256()
    with open(big, "wb") as out:
        for i in range(SIZE // len(block)):
            data = i.to_bytes(8, "big") + block[8:]
            h.update(data)
            out.write(data)
    digest = h.hexdigest()
    master = subprocess.Popen([sys.executable, "-c", MASTER.format(root=str(ROOT), tmp=str(tmp_path))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert master.stdout is not None
        address = master.stdout.readline().strip()
        assert address, "the master did not start"
        master_at_rest = _status_mb(master.pid, "VmRSS")
        ci = issue_identity_from_ca(tmp_path / "master" / "ssl", tmp_path, "ci", role="role=publisher",
                                    operator=True)
        node = issue_identity_from_ca(tmp_path / "master" / "ssl", tmp_path, "web01.example.com")
        push_rest, push_peak = _client(tmp_path, address, ci.ssldir, "ci", PUSH.format(file=str(big)))
        dest = tmp_path / "agent" / "big.part"
        dest.parent.mkdir()
        agent_rest, agent_peak = _client(tmp_path, address, node.ssldir, "web01.example.com", DOWNLOAD.format(
            cache=str(tmp_path / "cache"), sha=digest, size=SIZE, dest=str(dest)))
        master_peak = _status_mb(master.pid, "VmHWM")
    finally:
        if master.stdin is not None:
            master.stdin.close()
        master.wait(timeout=60)
    assert dest.stat().st_size == SIZE
    assert push_peak - push_rest < FLAT_MB, (push_rest, push_peak)
    assert agent_peak - agent_rest < FLAT_MB, (agent_rest, agent_peak)
    assert master_peak - master_at_rest < FLAT_MB, (master_at_rest, master_peak)
