"""A guard in front of the certificate-request listener: at most so many connections from one client
address, from one network (:func:`network_key`), and in all.

gRPC caps the connections of a listener, but not those of one client, so one host could fill the
certificate port (which anyone may reach) and keep every new agent from enrolling. The guard accepts
the connections itself, refuses those over a cap at once (a reset: nothing is held), and relays the
others, byte for byte, to the gRPC server on a loopback port. TLS stays end to end; the gRPC server's
own limits (handshake and idle timeouts, its connection cap) still apply, and when it closes a
connection the guard closes the client's. Certificate requests are small and rare, so relaying them
costs next to nothing; the agent listener, which carries catalogs, is not relayed.

    guard = ConnectionGuard("0.0.0.0", 8141, upstream=("127.0.0.1", grpc_port), max_connections=256,
                            max_per_address=8, max_per_network=32)
    port = guard.start()
    guard.client_address("ipv4:127.0.0.1:53412")   # -> "192.0.2.7", for per-client rate limits
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable

log = logging.getLogger(__name__)

#: how often refusals are logged (a flood must not flood the log)
REFUSAL_LOG_INTERVAL = 10.0
#: connections accepted in one turn of the guard's loop
ACCEPT_BATCH = 64
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset
#: how long a closing connection may take to flush what is left for a peer that does not read
CLOSE_TIMEOUT = 5.0


def reset_close(conn: socket.socket) -> None:
    """Close with a reset: nothing of a refused connection lingers on our side."""
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    except OSError:
        pass
    conn.close()


class CountedProtocol(asyncio.Protocol):
    """An HTTP server's protocol for one connection, giving the connection's slot back (``release``) when
    it ends: the accept loops of the Puppet API and the dashboard count connections before any TLS."""

    def __init__(self, inner: asyncio.Protocol, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release = release

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self._inner.connection_lost(exc)
        finally:
            self._release()


def address_key(address: str) -> str:
    """What counts as one client: its IPv4 address, or the /64 of an IPv6 one (a host gets a whole /64)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


#: the prefix one network holds: an IPv4 /24, an IPv6 /48 (what a site is usually given)
IPV4_NETWORK_BITS = 24
IPV6_NETWORK_BITS = 48


def network_key(address: str) -> str:
    """What counts as one network, for caps in addition to those per address: the /24 of an IPv4 address,
    the /48 of an IPv6 one (an IPv4-mapped IPv6 address as its IPv4 address). Whoever holds many
    addresses of one network (a /24, or the /64s of a /48) counts as one client there."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    bits = IPV4_NETWORK_BITS if isinstance(ip, ipaddress.IPv4Address) else IPV6_NETWORK_BITS
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


class ConnectionGuard:
    """Accept on ``host:port``, relay to ``upstream``; see the module's documentation."""

    def __init__(self, host: str, port: int, *, upstream: tuple[str, int], max_connections: int,
                 max_per_address: int, max_per_network: int | None = None) -> None:
        self.host = host.strip("[]") or None
        self.port = port
        self.upstream = upstream
        self.max_connections = max_connections
        self.max_per_address = max_per_address
        self.max_per_network = max_per_network if max_per_network is not None else max_connections
        self.open = 0
        self.refused = 0
        self._per_address: Counter[str] = Counter()
        self._per_network: Counter[str] = Counter()
        self._clients: dict[int, str] = {}  # local port of a relayed upstream connection -> client address
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: socket.socket
        self._thread: threading.Thread | None = None
        self._relays: set[_Client] = set()
        self._last_refusal_log = 0.0
        self._refused_since_log = 0

    def start(self) -> int:
        """Listen (the connections are served by a thread of its own); returns the port."""
        family = socket.AF_INET6 if self.host and ":" in self.host else socket.AF_INET
        try:
            self._listener = socket.create_server(
                (self.host or "", self.port), family=family, backlog=1024,
                dualstack_ipv6=family == socket.AF_INET6 and self.host == "::" and socket.has_dualstack_ipv6())
        except OSError as exc:
            raise OSError(f"cannot listen on {self.host or '*'}:{self.port}: {exc.strerror}") from None
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        loop = self._loop = asyncio.new_event_loop()
        loop.add_reader(self._listener.fileno(), self._accept)
        self._thread = threading.Thread(target=loop.run_forever, name=f"connection-guard-{self.port}", daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return

        def close() -> None:
            loop.remove_reader(self._listener.fileno())
            self._listener.close()
            for relay in list(self._relays):
                relay.abort()
            loop.stop()

        loop.call_soon_threadsafe(close)
        self._thread.join(timeout=10)
        loop.close()
        self._loop = None

    def client_address(self, peer: str) -> str | None:
        """The client address behind ``peer`` as the gRPC server sees it (``ipv4:127.0.0.1:PORT``)."""
        _, _, port = peer.rpartition(":")
        return self._clients.get(int(port)) if port.isdigit() else None

    # -- the event loop's side ------------------------------------------------------------------
    def _accept(self) -> None:
        """Accept what is waiting, a few at a time, and refuse what is over a cap in the same turn of the
        loop, before anything else is done with it: a burst of connections never piles up files."""
        loop = asyncio.get_running_loop()
        for _ in range(ACCEPT_BATCH):
            try:
                conn, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of files: give the rest of the master a moment to close some
                log.warning("certificate listener: cannot accept: %s", exc.strerror)
                loop.remove_reader(self._listener.fileno())
                loop.call_later(0.1, loop.add_reader, self._listener.fileno(), self._accept)
                return
            address = str(peer[0])
            if not self._admit(address):
                reset_close(conn)
                continue
            conn.setblocking(False)
            loop.create_task(self._relay(conn, address))

    async def _relay(self, conn: socket.socket, address: str) -> None:
        loop = asyncio.get_running_loop()
        client = _Client(self, address)
        try:
            await loop.connect_accepted_socket(lambda: client, conn)
        except OSError:
            conn.close()
            client.finish()
            return
        try:
            upstream, _ = await loop.create_connection(lambda: _Upstream(client), *self.upstream)
        except OSError as exc:
            log.error("certificate listener: cannot reach its gRPC server: %s", exc)
            client.abort()
            return
        client.attach(upstream)

    def _admit(self, address: str) -> bool:
        """Count a new connection from ``address`` in, or count it refused."""
        key, network = address_key(address), network_key(address)
        if self.open >= self.max_connections:
            why = f"{self.max_connections} open in all"
        elif self._per_address[key] >= self.max_per_address:
            why = f"{self.max_per_address} open from one address"
        elif self._per_network[network] >= self.max_per_network:
            why = f"{self.max_per_network} open from network {network}"
        else:
            self.open += 1
            self._per_address[key] += 1
            self._per_network[network] += 1
            return True
        self.refused += 1
        self._refused_since_log += 1
        now = time.monotonic()
        if now - self._last_refusal_log >= REFUSAL_LOG_INTERVAL:
            log.warning("certificate listener: refused %d connection(s) (%s; last from %s)",
                        self._refused_since_log, why, address)
            self._last_refusal_log, self._refused_since_log = now, 0
        return False

    def _release(self, address: str) -> None:
        key, network = address_key(address), network_key(address)
        self.open -= 1
        self._per_address[key] -= 1
        if self._per_address[key] <= 0:
            del self._per_address[key]
        self._per_network[network] -= 1
        if self._per_network[network] <= 0:
            del self._per_network[network]


class _Client(asyncio.Protocol):
    """One client connection and its relay to the gRPC server."""

    def __init__(self, guard: ConnectionGuard, address: str) -> None:
        self.guard = guard
        self.address = address
        self.transport: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self.upstream_port: int | None = None
        self.pending: list[bytes] = []  # what the client sent before the upstream connection was made
        self.closed = False
        guard._relays.add(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def attach(self, upstream: asyncio.Transport) -> None:
        """The upstream connection is made: relay what came meanwhile, and all that follows."""
        if self.closed:
            upstream.abort()
            return
        self.upstream = upstream
        self.upstream_port = upstream.get_extra_info("sockname")[1]
        self.guard._clients[self.upstream_port] = self.address
        for data in self.pending:
            upstream.write(data)
        self.pending = []
        if self.transport is not None:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.upstream is not None:
            self.upstream.write(data)
            return
        self.pending.append(data)
        assert self.transport is not None
        self.transport.pause_reading()  # until the upstream connection is made

    def connection_lost(self, exc: Exception | None) -> None:
        self.finish()
        if self.upstream is not None:
            _close_soon(self.upstream)

    def pause_writing(self) -> None:  # the client reads slower than gRPC writes
        if self.upstream is not None:
            self.upstream.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.resume_reading()

    def upstream_lost(self) -> None:
        """gRPC closed its side (timeouts, caps, done): close the client's, after what gRPC said last."""
        if self.transport is not None and not self.transport.is_closing():
            _close_soon(self.transport)

    def abort(self) -> None:
        for transport in (self.transport, self.upstream):
            if transport is not None:
                transport.abort()
        self.finish()

    def finish(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.guard._relays.discard(self)
        if self.upstream_port is not None:
            self.guard._clients.pop(self.upstream_port, None)
        self.guard._release(self.address)


class _Upstream(asyncio.Protocol):
    def __init__(self, client: _Client) -> None:
        self.client = client

    def data_received(self, data: bytes) -> None:
        if self.client.transport is not None:
            self.client.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.upstream_lost()

    def pause_writing(self) -> None:  # gRPC reads slower than the client writes
        if self.client.transport is not None:
            self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.client.transport is not None:
            self.client.transport.resume_reading()


def _close_soon(transport: asyncio.Transport) -> None:
    """Close after flushing what is buffered, but reset if the peer does not read it in time."""
    transport.close()
    asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, transport.abort)
