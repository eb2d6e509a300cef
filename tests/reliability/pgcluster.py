"""A private PostgreSQL cluster for the tests: ``initdb`` into a temporary directory, started with
``pg_ctl`` on a free loopback port. Tests may restart or stop it without touching the machine's own
server. As root, the cluster runs as the ``postgres`` OS user (initdb refuses root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.reliability.fleet import free_port


def pg_bindir() -> Path | None:
    """The newest PostgreSQL server binaries on this machine (``initdb``, ``pg_ctl``), or None."""
    def version(initdb: str) -> int:
        name = Path(initdb).parts[-3]
        return int(name) if name.isdigit() else 0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


class PrivateCluster:
    """One cluster in its own directory; ``url(database)`` is a SQLAlchemy URL for it."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.user = "postgres" if os.geteuid() == 0 else None
        entry = pwd.getpwnam(self.user) if self.user is not None else None  # KeyError: no such user
        self.base = Path(tempfile.mkdtemp(prefix="bunraku-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = free_port()
        if entry is not None:
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
        os.chmod(self.base, 0o700)

    def _cmd(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user is not None else []
        return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=timeout, cwd=self.base)

    def _check(self, done: subprocess.CompletedProcess[str], what: str) -> None:
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{what} failed ({done.returncode}): {done.stdout}{done.stderr}{log}")

    @property
    def options(self) -> str:
        # a test cluster: no fsync (nothing here must survive the machine), only loopback, socket in base
        return f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"

    def init(self) -> None:
        self._check(self._cmd(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                              "-E", "UTF8", "--no-sync"), "initdb")

    def pg_ctl(self, action: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return self._cmd(str(self.bindir / "pg_ctl"), action, "-D", str(self.data), "-l", str(self.log), "-w",
                         "-o", self.options, *extra)

    def start(self) -> None:
        self._check(self.pg_ctl("start"), "pg_ctl start")

    def restart(self, mode: str = "fast") -> subprocess.CompletedProcess[str]:
        return self.pg_ctl("restart", "-m", mode)

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("stop", "-m", mode)

    def running(self) -> bool:
        return self._cmd(str(self.bindir / "pg_ctl"), "status", "-D", str(self.data)).returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        if self.data.exists():
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)
