"""A large application artifact through the master: pushed by CI, downloaded by an agent, and a download cut
short carried on by the next attempt — each in a process of its own, with their memory.

A master (its own process, SQLite store) takes a push of SIZE MB of incompressible content
(`master.artifactclient.push`, as `bunraku artifact push` does) from a publisher's certificate; an agent's
certificate then downloads it as the `release` type does (`RemoteFileSource.fetch_artifact`), and the
digest is checked. Then a second download is killed (SIGKILL) once half the file has arrived, and a third
attempt carries on from the partial file. Recorded: seconds and MB/s of each transfer, the bytes the resumed
attempt fetched, and each process's resident memory at rest and at its peak (VmRSS / VmHWM from /proc; the
master's over the whole session). tests/master/test_artifacts_soak.py (`make soak`) asserts the same peaks
stay within 120 MB of rest for 500 MB.

Puppet has no artifact repository: Puppet sites keep builds in a separate one (Artifactory, Nexus) and fetch
them with `archive` resources, so there is no Puppet column here.

    .venv/bin/python bench/bench_artifacts.py [--size-mb 500] [--write] [--allow-busy]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

ROOT = harness.ROOT
sys.path.insert(0, str(ROOT))
SECTION = "Artifacts"

MASTER = """\
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.e2e.harness import make_site, start_master
tmp = Path({tmp!r})
make_site(tmp / "envs")
master = start_master(tmp, tmp / "envs", puppet_listen="off")
print(master.address, flush=True)
sys.stdin.read()
master.stop()
"""

CLIENT = """\
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})

def mb(key):
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(status[key].split()[0]) / 1024

from wire.client import MasterClient
from wire import pki
client = MasterClient([{address!r}], pki.SSLPaths(Path({ssldir!r}), {certname!r}), timeout=900)
rest = mb("VmRSS")
started = time.perf_counter()
{body}
print(rest, mb("VmHWM"), time.perf_counter() - started, flush=True)
"""

PUSH = """\
from master import artifactclient
artifactclient.push(client, "big", "1", Path({file!r}))
"""

DOWNLOAD = """\
import os
from agent.filesource import RemoteFileSource
from engine.providers.release import file_sha256
from engine.sources import ArtifactRef
source = RemoteFileSource(client, "production", Path({cache!r}))
before = os.path.getsize({dest!r}) if os.path.exists({dest!r}) else 0
source.fetch_artifact(ArtifactRef("big", "1", {sha!r}, {size}, "big.bin"), {dest!r})
assert file_sha256({dest!r}) == {sha!r}, "digest mismatch"
print("fetched", os.path.getsize({dest!r}) - before, flush=True)
"""


def status_mb(pid: int, key: str) -> float:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(status[key].split()[0]) / 1024


def client_script(address: str, ssldir: Path, certname: str, body: str) -> list[str]:
    script = CLIENT.format(root=str(ROOT), address=address, ssldir=str(ssldir), certname=certname,
                           body=textwrap.dedent(body))
    return [sys.executable, "-c", script]


def run_client(argv: list[str]) -> tuple[float, float, float, int]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise harness.BenchError(done.stderr[-3000:])
    lines = done.stdout.split("\n")
    fetched = next((int(x.split()[1]) for x in lines if x.startswith("fetched ")), -1)
    rest, peak, seconds = map(float, next(x for x in lines if x and not x.startswith("fetched ")).split())
    return rest, peak, seconds, fetched


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=500, help="artifact size in MiB (default 500)")
    harness.add_arguments(parser)
    args = parser.parse_args()
    bench = harness.Bench(args)
    size = args.size_mb * 1024 * 1024
    from tests.e2e.harness import issue_identity_from_ca

    with tempfile.TemporaryDirectory(prefix="bench-artifacts-") as tmpdir:
        tmp = Path(tmpdir)
        big = tmp / "big.bin"
        block = os.urandom(1024 * 1024)
        h = hashlib.sha256()
        with open(big, "wb") as out:
            for i in range(size // len(block)):
                data = i.to_bytes(8, "big") + block[8:]
                h.update(data)
                out.write(data)
        digest = h.hexdigest()
        master = subprocess.Popen([sys.executable, "-c", MASTER.format(root=str(ROOT), tmp=str(tmp))],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        rows = []
        try:
            assert master.stdout is not None
            address = master.stdout.readline().strip()
            if not address:
                raise harness.BenchError("the master did not start")
            master_rest = status_mb(master.pid, "VmRSS")
            ci = issue_identity_from_ca(tmp / "master" / "ssl", tmp, "ci", role="role=publisher", operator=True)
            node = issue_identity_from_ca(tmp / "master" / "ssl", tmp, "web01.example.com")
            bench.before("push")
            rest, peak, seconds, _ = run_client(client_script(address, ci.ssldir, "ci", PUSH.format(file=str(big))))
            rows.append(("push (CI, publisher certificate)", seconds, size, rest, peak, "-"))
            dest = tmp / "agent" / "big.part"
            dest.parent.mkdir()
            download = client_script(address, node.ssldir, "web01.example.com", DOWNLOAD.format(
                cache=str(tmp / "cache"), sha=digest, size=size, dest=str(dest)))
            bench.before("download")
            rest, peak, seconds, fetched = run_client(download)
            rows.append(("download (agent)", seconds, fetched, rest, peak, "-"))
            # cut short: SIGKILL once half has arrived, then the next attempt carries on
            dest.unlink()
            bench.before("download, killed halfway")
            victim = subprocess.Popen(download, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while (dest.stat().st_size if dest.exists() else 0) < size // 2 and victim.poll() is None:
                time.sleep(0.01)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            held = dest.stat().st_size
            bench.before("download, resumed")
            rest, peak, seconds, fetched = run_client(download)
            if held + fetched != size:
                raise harness.BenchError(f"resume fetched {fetched} bytes after {held}; expected {size - held}")
            rows.append(("download resumed after a kill", seconds, fetched, rest, peak,
                         f"{held / 2**20:.0f} MiB kept, {fetched / 2**20:.0f} MiB fetched"))
            master_peak = status_mb(master.pid, "VmHWM")
        finally:
            if master.stdin is not None:
                master.stdin.close()
            master.wait(timeout=120)
    table = harness.table(
        ["transfer", "seconds", "MiB/s", "RSS at rest MiB", "peak RSS MiB", "resume"],
        [(name, f"{s:.1f}", f"{n / 2**20 / s:.0f}", f"{r:.0f}", f"{p:.0f}", extra)
         for name, s, n, r, p, extra in rows])
    body = (f"One artifact of {args.size_mb} MiB (incompressible), master with a SQLite store, each side in a "
            "process of its own on loopback.\n\n" + table + "\n\n"
            f"Master: {master_rest:.0f} MiB at rest before the push, {master_peak:.0f} MiB at its peak over the "
            "session. The push is one call per MiB, paced by the master's rate limit for a certificate (1,200 "
            "calls a minute after a burst of 200; the client waits when told to slow down). No process held the "
            "file in memory: every peak stays far below its size "
            "(tests/master/test_artifacts_soak.py asserts peak minus rest < 120 MiB for each). Puppet has no "
            "artifact repository to compare with.")
    return bench.finish(SECTION, body)


if __name__ == "__main__":
    sys.exit(main())
