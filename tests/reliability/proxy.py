"""A TCP forwarder on loopback between agents and a master that counts the bytes of each connection and,
once armed, cuts one connection after an exact number of client-to-master bytes: it forwards that many,
runs an action (kill -9 the master) while the rest of the request is still held back, then closes both
sides. The bytes are TLS, so the forwarder knows sizes, not calls: a test picks a cut point that only one
call (a report much larger than everything else on the connection) can reach."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Connection:
    number: int
    upstream: int = 0  # bytes forwarded from the agent to the master
    downstream: int = 0  # bytes forwarded from the master to the agent
    closed: bool = False


@dataclass
class Cut:
    connection: int
    upstream_forwarded: int  # client-to-master bytes the master got on that connection
    upstream_held: int  # bytes of the same connection the agent had sent that the master never got
    downstream_forwarded: int
    at: float  # time.monotonic() when the action started


class CuttingProxy:
    def __init__(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        self.target = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # so that the accepting thread notices close()
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections: list[Connection] = []
        self.cuts: list[Cut] = []
        self._lock = threading.Lock()
        self._cut_at: int | None = None
        self._action: Callable[[], None] | None = None
        self._closing = False
        self._threads: list[threading.Thread] = []
        accept = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        accept.start()
        self._threads.append(accept)

    def arm(self, cut_at: int, action: Callable[[], None]) -> None:
        """Cut the first connection whose client-to-master bytes reach ``cut_at``: forward exactly
        ``cut_at`` bytes, run ``action``, close. Only once."""
        with self._lock:
            self._cut_at, self._action = cut_at, action

    def disarm(self) -> None:
        with self._lock:
            self._cut_at, self._action = None, None

    def close(self) -> None:
        self._closing = True
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()  # nothing listens behind us: the agent sees a closed connection
                continue
            upstream.settimeout(None)
            with self._lock:
                conn = Connection(len(self.connections))
                self.connections.append(conn)
            thread = threading.Thread(target=self._pump, args=(conn, client, upstream), daemon=True,
                                      name=f"proxy-{conn.number}")
            thread.start()
            self._threads.append(thread)

    def _take_cut(self, conn: Connection, size: int) -> tuple[int, Callable[[], None]] | None:
        """If this chunk reaches the armed cut point: (bytes of it to forward, the action); disarms."""
        with self._lock:
            if self._cut_at is None or self._action is None or conn.upstream + size < self._cut_at:
                return None
            keep, action = self._cut_at - conn.upstream, self._action
            self._cut_at, self._action = None, None
            return keep, action

    def _pump(self, conn: Connection, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while not self._closing:
                readable, _, _ = select.select(list(peers), [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        cut = self._take_cut(conn, len(data))
                        if cut is not None:
                            keep, action = cut
                            upstream.sendall(data[:keep])
                            conn.upstream += keep
                            at = time.monotonic()
                            action()
                            self.cuts.append(Cut(conn.number, conn.upstream, len(data) - keep, conn.downstream, at))
                            return
                        upstream.sendall(data)
                        conn.upstream += len(data)
                    else:
                        client.sendall(data)
                        conn.downstream += len(data)
        except OSError:
            return
        finally:
            conn.closed = True
            for sock in peers:
                try:
                    sock.close()
                except OSError:
                    pass
