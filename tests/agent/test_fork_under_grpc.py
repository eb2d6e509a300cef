"""Programs started as another account while gRPC is busy in the same process (an agent daemon running an
exec with `user`, or a task) start every time: gRPC's fork handlers, which crash such a child at random,
are off in every process of ours."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import sys, threading, time
import {module}  # what an agent or a master imports first
import grpc
from concurrent import futures

server = grpc.server(futures.ThreadPoolExecutor(4))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
channel = grpc.insecure_channel(f"127.0.0.1:{{port}}")

def busy():
    while True:
        try:
            grpc.channel_ready_future(channel).result(timeout=1)
        except Exception:
            pass
        time.sleep(0.001)

for _ in range(4):
    threading.Thread(target=busy, daemon=True).start()
failed = 0
for _ in range(150):
    proc = subprocess.run(["/bin/true"], user=65534, group=65534, extra_groups=[], capture_output=True)
    failed += proc.returncode != 0
print("failed", failed)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="starting programs as another account needs root")
@pytest.mark.parametrize("module", ["wire.client", "master"])
def test_programs_started_as_another_account_beside_busy_grpc_all_start(module: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    out = subprocess.run([sys.executable, "-c", "import subprocess\n" + PROBE.format(module=module)], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=300, check=True).stdout
    assert out.strip() == "failed 0", out
