"""Serving the dashboard over HTTPS: the standard library's WSGI server, one thread per connection, TLS
with the master's certificate, and an optional client certificate checked against the CA (an operator's
certificate logs its holder in; viewers without one log in with a token)."""

from __future__ import annotations

import logging
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from master.dashboard.app import PEER_CERT_KEY

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: A connection that sends nothing for this long is dropped (a slow client must not hold a thread forever).
CONNECTION_TIMEOUT = 30.0


class _Handler(WSGIRequestHandler):
    server: _TLSServer

    def setup(self) -> None:
        # the TLS handshake runs here, in the connection's own thread, not in the accept loop
        self.request.settimeout(CONNECTION_TIMEOUT)
        try:
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.info("dashboard: TLS handshake with %s failed: %s", self.client_address[0], exc)
            raise _HandshakeFailed from exc
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
    tls: ssl.SSLContext

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
          crlfile: str | Path | None = None) -> DashboardServer:
    """Serve ``app`` over HTTPS on ``host``:``port`` (0: any free port) in a background thread."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("_Server", (_TLSServer,), {"address_family": family})
    server = server_class((host, port), _Handler)
    server.tls = tls_context(certfile=certfile, keyfile=keyfile, cafile=cafile, crlfile=crlfile)
    server.set_app(app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name=f"dashboard-{server.server_address[1]}", daemon=True)
    thread.start()
    running = DashboardServer(server, thread)
    log.info("dashboard listening on %s", running.url)
    return running
