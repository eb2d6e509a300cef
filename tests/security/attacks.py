"""What the security tests throw at a real master: idle connections, facts documents as big as the limits
allow, and readings of a process's memory and open files."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from tests.reliability.fleet import MasterProcess

#: a facts document just under the master's limits (16 MiB messages, 500,000 values): 15.7 MB
BIG_FACTS_VALUES = 402_000


def big_facts(values: int = BIG_FACTS_VALUES, *, tag: str = "") -> bytes:
    """A flat facts document of ``values`` short strings (39 bytes each on the wire)."""
    facts: dict[str, Any] = {f"f{i:07d}{tag}": f"value-{i:019d}" for i in range(values)}
    facts["role"] = "web"
    return json.dumps(facts, separators=(",", ":")).encode()


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def children(pid: int) -> list[int]:
    """Direct children of ``pid``."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                out.append(int(entry))
    return out


def alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


class PeakSampler:
    """Samples the resident memory of a process in a thread; ``peak`` is the highest reading, and
    ``peak_with_children`` the highest of it and its children together (the compile workers)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.peak_with_children = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def sample(self) -> None:
        own = rss_bytes(self.pid)
        self.peak = max(self.peak, own)
        self.peak_with_children = max(self.peak_with_children, own + sum(rss_bytes(c) for c in children(self.pid)))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()


@contextlib.contextmanager
def idle_connections(address: str, count: int, *, sources: list[str] | None = None) -> Iterator[list[socket.socket]]:
    """``count`` TCP connections to ``address`` that never send a byte, from the loopback ``sources``
    in turn (127.0.0.2, 127.0.0.3 ...; default: the kernel's choice). Connections the server refuses
    or drops stay in the list, closed by the peer; all are closed on exit."""
    host, _, port = address.rpartition(":")
    socks: list[socket.socket] = []
    try:
        for i in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            if sources:
                sock.bind((sources[i % len(sources)], 0))
            sock.settimeout(5)
            try:
                sock.connect((host, int(port)))
            except OSError:
                sock.close()
                continue
            socks.append(sock)
        yield socks
    finally:
        for sock in socks:
            sock.close()


def loopback(first: int, count: int = 1) -> list[str]:
    """``count`` loopback addresses from 127.0.0.``first`` on: distinct clients for the master."""
    return [f"127.0.0.{first + i}" for i in range(count)]


def still_open(socks: list[socket.socket]) -> int:
    """How many of ``socks`` the server has not closed."""
    count = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            count += sock.recv(1) != b""  # the server sends nothing before the client speaks
        except BlockingIOError:
            count += 1
        except OSError:
            pass
    return count


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def open_file_limit(pid: int) -> tuple[int, int]:
    """(soft, hard) limit of open files of process ``pid``."""
    return resource.prlimit(pid, resource.RLIMIT_NOFILE)


class LimitedMaster(MasterProcess):
    """A :class:`MasterProcess` started with a given (soft, hard) limit of open files, as a host with
    the usual limits would start it."""

    def __init__(self, *args: Any, open_files: tuple[int, int], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.open_files = open_files

    def start(self, *extra: str, timeout: float = 60) -> float:
        real_popen = subprocess.Popen
        limit = self.open_files

        def popen(*args: Any, **kw: Any) -> Any:
            return real_popen(*args, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit), **kw)

        with mock.patch.object(subprocess, "Popen", popen):
            return super().start(*extra, timeout=timeout)


class ConnectionFlood:
    """Keeps ``count`` idle TCP connections open to ``address`` from ``sources`` loopback addresses, in a
    thread: those the server refuses or closes are opened again, as an attacker would."""

    def __init__(self, address: str, count: int, *, sources: int = 1, first_source: int = 2) -> None:
        host, _, port = address.rpartition(":")
        self.target = (host, int(port))
        self.count = count
        self.sources = [f"127.0.0.{first_source + i}" for i in range(sources)]
        self.socks: list[socket.socket | None] = [None] * count
        self.opened = 0
        self.dropped = 0  # refused or closed by the server
        self.ready = threading.Event()  # every connection has been tried once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="connection-flood", daemon=True)

    def _connect(self, i: int) -> socket.socket | None:
        """Start a connection without waiting for it (an attacker does not wait either)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.setblocking(False)
        try:
            sock.bind((self.sources[i % len(self.sources)], 0))
            sock.connect_ex(self.target)
        except OSError:
            sock.close()
            return None
        self.opened += 1
        return sock

    def _closed_by_server(self, sock: socket.socket) -> bool:
        """Refused, reset or closed by the server (a connection still being made is not)."""
        try:
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                return True
            return sock.recv(1) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:  # (or closed meanwhile by the flood's own thread: gone all the same)
            return exc.errno != errno.ENOTCONN

    def _connected(self, sock: socket.socket) -> bool:
        try:
            sock.getpeername()
        except OSError:
            return False
        return True

    def _settle(self, timeout: float) -> None:
        """Wait until each connection of the first round is made or refused."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            if all(s is None or self._connected(s) or self._closed_by_server(s) for s in self.socks):
                return
            time.sleep(0.05)

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            for i, sock in enumerate(self.socks):
                if self._stop.is_set():
                    return
                if sock is not None and self._closed_by_server(sock):
                    sock.close()
                    self.dropped += 1
                    sock = None
                if sock is None:
                    self.socks[i] = self._connect(i)
            if first:
                self._settle(10)
                first = False
            self.ready.set()
            self._stop.wait(0.5)

    def held(self) -> int:
        """How many of the connections the server has accepted and still holds open."""
        return sum(1 for s in list(self.socks)
                   if s is not None and self._connected(s) and not self._closed_by_server(s))

    def __enter__(self) -> ConnectionFlood:
        self._thread.start()
        self.ready.wait(120)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        for sock in self.socks:
            if sock is not None:
                sock.close()


def flood_large_facts(client: Any, documents: list[bytes], calls: int) -> Counter[str]:
    """``calls`` concurrent GetCatalog and SubmitFacts calls (alternately) from one node, each with one of
    ``documents``; counts the outcomes: "ok", or the status code and message of a refusal."""
    from wire.client import ClientError
    from wire.proto import bunraku_pb2 as pb

    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def one(i: int) -> None:
        facts = documents[i % len(documents)]
        method, request = (("GetCatalog", pb.CatalogRequest(facts_json=facts)) if i % 2 else
                           ("SubmitFacts", pb.FactsRequest(facts_json=facts)))
        try:
            client.call(method, request, timeout=120)
            outcome = "ok"
        except ClientError as exc:
            outcome = f"{exc.code.name if exc.code else None}: {str(exc).partition(': ')[2]}"
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=one, args=(i,), name=f"large-facts-{i}") for i in range(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def main(argv: list[str]) -> int:
    """Run an attack from a process of its own (as an attacker on another host would), so that it
    does not compete with the test's own clients for this interpreter:

        python -m tests.security.attacks large-facts ADDRESS SSLDIR CERTNAME CALLS  -> outcomes (JSON)
        python -m tests.security.attacks idle ADDRESS COUNT SOURCES               -> until stdin closes
    """
    from wire import pki
    from wire.client import MasterClient

    if argv[0] == "large-facts":
        address, ssldir, certname, calls = argv[1], Path(argv[2]), argv[3], int(argv[4])
        documents = [big_facts(tag=str(i)) for i in range(4)]
        with MasterClient([address], pki.SSLPaths(ssldir, certname), timeout=120) as client:
            print("ready", flush=True)
            outcomes = flood_large_facts(client, documents, calls)
        print(json.dumps(dict(outcomes)), flush=True)
        return 0
    if argv[0] == "idle":
        address, count, sources = argv[1], int(argv[2]), int(argv[3])
        with ConnectionFlood(address, count, sources=sources) as flood:
            print("ready", flush=True)
            import sys

            sys.stdin.read()
            print(json.dumps({"opened": flood.opened, "dropped": flood.dropped, "held": flood.held()}), flush=True)
        return 0
    raise SystemExit(f"unknown attack {argv[0]!r}")


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
