"""Serving the dashboard over HTTPS: the standard library's WSGI server, one thread per connection, TLS
with the master's certificate, and an optional client certificate checked against the CA (an operator's
certificate logs its holder in; viewers without one log in with a token).

A flood must not lock other viewers out: connections are counted per source address (an IPv6 address by
its /64), per network (an IPv4 /24, an IPv6 /48) and in all, and those over a limit are closed at once,
before any TLS; the handshake and
each wait for the client have a deadline, so that a silent connection gives its thread back. The CRL is
loaded again into the TLS context when its file changes (the application also checks every request's
certificate against the CA's revoked serials)."""

from __future__ import annotations

import functools
import logging
import os
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from master.connguard import address_key, network_key
from master.dashboard.app import PEER_CERT_KEY

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: A client has this long from connecting to the end of the TLS handshake.
HANDSHAKE_TIMEOUT = 5.0
#: A connection that sends (or reads) nothing for this long is dropped: a silent client must not hold a
#: thread. One request per connection, so this also bounds a connection kept open after its answer.
IDLE_TIMEOUT = 10.0
#: Connections open at once from one source address (an IPv6 /64) and in all; more are closed at once.
#: A browser opens about six per site; a proxy in front of many viewers needs more.
MAX_CONNECTIONS_PER_ADDRESS = 32
MAX_CONNECTIONS = 256
#: Connections open at once from one network (an IPv4 /24, an IPv6 /48): a host with many addresses
#: of one network cannot take every connection.
MAX_CONNECTIONS_PER_NETWORK = 64
#: Connections refused at the limits are logged (as a count) at most this often: a flood must not flood
#: the log as well.
REFUSED_LOG_SECONDS = 60.0
#: Connections waiting to be accepted (the listen backlog).
LISTEN_BACKLOG = 128


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    handshake_timeout: float = HANDSHAKE_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    per_address: int = MAX_CONNECTIONS_PER_ADDRESS
    total: int = MAX_CONNECTIONS
    per_network: int = MAX_CONNECTIONS_PER_NETWORK

    @classmethod
    def defaults(cls) -> ConnectionLimits:
        """The module's settings as they are now (read at start, so that they can be set before it)."""
        return cls(HANDSHAKE_TIMEOUT, IDLE_TIMEOUT, MAX_CONNECTIONS_PER_ADDRESS, MAX_CONNECTIONS,
                   MAX_CONNECTIONS_PER_NETWORK)


#: What connections are counted by: the IPv4 address, or the /64 of an IPv6 one (one host holds a whole
#: /64, so counting its addresses one by one would be no limit); the same as the certificate listener's.
source_key = address_key


class ConnectionGate:
    """Open connections by source: admits a new one while its source address, its network
    (:func:`master.connguard.network_key`) and the total are under the limits."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._open: Counter[str] = Counter()
        self._networks: Counter[str] = Counter()
        self._total = 0
        self._lock = threading.Lock()
        self._refused = 0
        self._refused_logged_at = float("-inf")

    def admit(self, host: str) -> str | None:
        """None when a client at address ``host`` may open one more connection (counted until
        ``release``); else why not."""
        source, network = source_key(host), network_key(host)
        with self._lock:
            if self._total >= self.limits.total:
                return f"{self._total} connections open (the limit is {self.limits.total})"
            if self._open[source] >= self.limits.per_address:
                return f"{self._open[source]} connections open from it (the limit is {self.limits.per_address})"
            if self._networks[network] >= self.limits.per_network:
                return (f"{self._networks[network]} connections open from its network {network} (the limit is "
                        f"{self.limits.per_network})")
            self._open[source] += 1
            self._networks[network] += 1
            self._total += 1
            return None

    def release(self, host: str) -> None:
        source, network = source_key(host), network_key(host)
        with self._lock:
            self._total -= 1
            self._open[source] -= 1
            if self._open[source] <= 0:
                del self._open[source]
            self._networks[network] -= 1
            if self._networks[network] <= 0:
                del self._networks[network]

    def refused(self, address: str, reason: str) -> None:
        """Count a refused connection; a warning now and then with the count, the rest at debug level."""
        now = time.monotonic()
        with self._lock:
            self._refused += 1
            if now - self._refused_logged_at < REFUSED_LOG_SECONDS:
                count = 0
            else:
                count, self._refused, self._refused_logged_at = self._refused, 0, now
        if count:
            log.warning("dashboard: refused %d connection(s) over the connection limits; the latest from %s: %s",
                        count, address, reason)
        else:
            log.debug("dashboard: refused a connection from %s: %s", address, reason)


class TLSContexts:
    """The server's TLS context, made again when the CRL file changes, so that a certificate revoked while
    the master runs fails the next handshake. One stat of the CRL per connection; the context is rebuilt
    only on a change."""

    def __init__(self, *, certfile: str | Path, keyfile: str | Path, cafile: str | Path,
                 crlfile: str | Path | None = None) -> None:
        self._make = functools.partial(tls_context, certfile=certfile, keyfile=keyfile, cafile=cafile,
                                       crlfile=crlfile)
        self._crlfile = Path(crlfile) if crlfile is not None else None
        self._lock = threading.Lock()
        self._version = self._crl_version()
        self._context = self._make()

    def _crl_version(self) -> tuple[int, int, int] | None:
        if self._crlfile is None:
            return None
        try:
            info = os.stat(self._crlfile)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size, info.st_ino

    def current(self) -> ssl.SSLContext:
        version = self._crl_version()
        with self._lock:
            if version != self._version:
                self._version = version  # whether or not it loads: one attempt per change, not per connection
                try:
                    self._context = self._make()
                    log.info("dashboard: revocation list reloaded")
                except (OSError, ssl.SSLError, ValueError) as exc:
                    # the application still checks each request's certificate against the CA
                    log.error("dashboard: cannot load the changed revocation list (%s); keeping the previous one",
                              exc)
            return self._context


class _Handler(WSGIRequestHandler):
    server: _TLSServer

    def setup(self) -> None:
        # the TLS handshake runs here, in the connection's own thread, not in the accept loop; the timeout
        # bounds the whole handshake (the ssl module keeps one deadline across its reads)
        limits = self.server.gate.limits
        self.request.settimeout(limits.handshake_timeout)
        try:
            self.request = self.server.contexts.current().wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("dashboard: TLS handshake with %s failed: %s", self.client_address[0], exc)
            raise _HandshakeFailed from exc
        self.request.settimeout(limits.idle_timeout)
        super().setup()

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        environ["HTTPS"] = "on"
        environ["wsgi.url_scheme"] = "https"
        # verified against the CA by the handshake (CERT_OPTIONAL: absent is fine, invalid is refused)
        environ[PEER_CERT_KEY] = self.request.getpeercert(binary_form=True)
        return environ

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        log.debug("dashboard: %s " + format, self.client_address[0], *args)


class _HandshakeFailed(Exception):
    pass


class _TLSServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG
    contexts: TLSContexts
    gate: ConnectionGate

    def verify_request(self, request: Any, client_address: Any) -> bool:
        # in the accept loop: refusing costs no thread and no handshake
        reason = self.gate.admit(str(client_address[0]))
        if reason is None:
            return True
        self.gate.refused(str(client_address[0]), reason)
        try:  # closed with a reset: nothing of a flood lingers on our side
            request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        return False

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.gate.release(str(client_address[0]))
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.gate.release(str(client_address[0]))

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("dashboard: connection from %s ended with an error", client_address[0], exc_info=True)

    def server_bind(self) -> None:
        # WSGIServer looks up the host name of the address (slow without DNS); not needed
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()


def tls_context(*, certfile: str | Path, keyfile: str | Path, cafile: str | Path,
                crlfile: str | Path | None = None) -> ssl.SSLContext:
    """Server side: TLS 1.2 or later, our certificate, and client certificates optional but, when sent,
    verified against the CA (and its CRL when given: a revoked operator is refused)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(certfile), str(keyfile))
    context.load_verify_locations(cafile=str(cafile))
    if crlfile is not None:
        context.load_verify_locations(cafile=str(crlfile))
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


class DashboardServer:
    """A running dashboard: ``port``, ``url``, ``shutdown()``."""

    def __init__(self, server: _TLSServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{self.port}/"

    def wait(self) -> None:
        """Block until ``shutdown()`` (the CLI's foreground mode)."""
        self._thread.join()

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        log.info("dashboard stopped")


def serve(app: WSGIApp, host: str, port: int, *, certfile: str | Path, keyfile: str | Path, cafile: str | Path,
          crlfile: str | Path | None = None, limits: ConnectionLimits | None = None) -> DashboardServer:
    """Serve ``app`` over HTTPS on ``host``:``port`` (0: any free port) in a background thread. ``crlfile``
    is watched (loaded again when it changes); ``limits``: the connection limits (the module's by default)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    contexts = TLSContexts(certfile=certfile, keyfile=keyfile, cafile=cafile, crlfile=crlfile)
    server_class = type("_Server", (_TLSServer,), {"address_family": family})
    server = server_class((host, port), _Handler)
    server.contexts = contexts
    server.gate = ConnectionGate(limits or ConnectionLimits.defaults())
    server.set_app(app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name=f"dashboard-{server.server_address[1]}", daemon=True)
    thread.start()
    running = DashboardServer(server, thread)
    log.info("dashboard listening on %s", running.url)
    return running
