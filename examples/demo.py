#!/usr/bin/env python3
"""The Bunraku demo (``make demo``): a master and three agents on loopback, all inside a temp directory.

1. ``bunraku master`` starts on 127.0.0.1 (port 0) on ``examples/environments`` with embedded SQLite
   and an autosign file (``*.example.com``); a CA is created on first start.
2. Three agents (web01, web02, db01) each get a certificate (CSR -> autosign) and converge their own
   sandbox root, submitting the facts in ``examples/facts/`` instead of this host's: a noop run, an
   enforcing run, then a run that changes nothing.
3. ``bunraku nodes`` (with an operator certificate) prints the fleet; everything stops.

Nothing outside the temp directory changes. The sandbox roots are seeded like a minimal Debian image
(account files, the config directories packages would create). Packages and services are left out with
``--tags file,user,group,ssh_authorized_key,cron``: installing packages needs apt and a network, and
starting services needs a running systemd, neither of which a sandbox directory has.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NODES = ("web01.example.com", "web02.example.com", "db01.example.com")
SAFE_TAGS = "file,user,group,ssh_authorized_key,cron"
SEED_FILES = {
    # the accounts a Debian base image and the nginx/postgresql packages would have created
    "etc/passwd": "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                  "postgres:x:105:107:PostgreSQL administrator:/var/lib/postgresql:/bin/bash\n",
    "etc/group": "root:x:0:\nsudo:x:27:\nwww-data:x:33:\npostgres:x:107:\n",
    "etc/shadow": "root:*:19700:0:99999:7:::\nwww-data:*:19700:0:99999:7:::\npostgres:*:19700:0:99999:7:::\n",
    "etc/gshadow": "root:*::\nsudo:*::\nwww-data:*::\npostgres:*::\n",
}
SEED_DIRS = ("etc/ntpsec", "etc/ssh", "etc/sudoers.d", "etc/nginx", "etc/postgresql/15/main/conf.d",
             "var/backups", "var/log", "var/spool/cron/crontabs", "home")


def bunraku(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "bunraku.py"), *args]


def seed_root(root: Path) -> None:
    for rel in SEED_DIRS:
        (root / rel).mkdir(parents=True, exist_ok=True)
    for rel, text in SEED_FILES.items():
        (root / rel).write_text(text)


def start_master(tmp: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    autosign = tmp / "autosign.conf"
    autosign.write_text("*.example.com\n")
    port_file = tmp / "master.ports"
    log = open(tmp / "master.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(bunraku(
        "master", "--listen", "127.0.0.1:0", "--ca-listen", "127.0.0.1:0", "--certname", "puppet.example.com",
        "--environmentpath", str(HERE / "environments"), "--ssldir", str(tmp / "master/ssl"),
        "--vardir", str(tmp / "master"), "--autosign", str(autosign), "--log-format", "kv",
        "--port-file", str(port_file)), stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the master did not start:\n" + (tmp / "master.log").read_text())
        time.sleep(0.1)
    port, ca_port = port_file.read_text().split()
    return proc, f"127.0.0.1:{port}", f"127.0.0.1:{ca_port}"


def run_agents(tmp: Path, server: str, ca: str, title: str, *extra: str) -> None:
    print(f"\n== {title}")
    procs = {}
    for node in NODES:
        base = tmp / "agents" / node
        procs[node] = subprocess.Popen(bunraku(
            "agent", "--onetime", "--detailed-exitcodes", "--server", server, "--ca-server", ca,
            "--certname", node, "--root", str(base / "root"), "--vardir", str(base / "var"),
            "--ssldir", str(base / "ssl"), "--facts", str(HERE / "facts" / f"{node}.yaml"),
            "--tags", SAFE_TAGS, *extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO, text=True)
    for node, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        lines = out.strip().splitlines()
        summary = next((x for x in reversed(lines) if "catalog for" in x), lines[-1] if lines else "")
        print(f"  {node:20} exit {proc.returncode}  {summary.removeprefix('Notice: ')}")
        for line in lines:
            if line.startswith("Error"):
                print(f"    {line}")


def main() -> int:
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="bunraku-demo-"))
    master = None
    try:
        master, server, ca = start_master(tmp)
        print(f"master listening on {server} (certificate requests on {ca}); everything lives under {tmp}, "
              "which the demo keeps")
        for node in NODES:
            seed_root(tmp / "agents" / node / "root")
        run_agents(tmp, server, ca, "noop run: what would change (nothing is touched)", "--noop")
        run_agents(tmp, server, ca, "enforcing run: converge each sandbox root")
        run_agents(tmp, server, ca, "converged run: nothing left to change")
        motd = (tmp / "agents" / NODES[0] / "root/etc/motd").read_text().strip().splitlines()
        print(f"\n{NODES[0]}:/etc/motd starts with: {motd[0] if motd else ''!r}")
        subprocess.run(bunraku("cert", "--ssldir", str(tmp / "master/ssl"), "generate", "admin", "--operator",
                               "--out-ssldir", str(tmp / "operator")), check=True, capture_output=True, cwd=REPO)
        print("\n== bunraku nodes")
        subprocess.run(bunraku("nodes", "--server", server, "--ssldir", str(tmp / "operator")), check=True, cwd=REPO)
        print(f"\ndemo finished in {time.monotonic() - started:.1f} s; the master's and the agents' files are "
              f"kept in {tmp} (the sandbox roots under agents/*/root); remove it with: rm -r {tmp}")
        return 0
    finally:
        if master is not None:
            master.send_signal(signal.SIGTERM)
            try:
                master.wait(timeout=15)
            except subprocess.TimeoutExpired:
                master.kill()


if __name__ == "__main__":
    sys.exit(main())
