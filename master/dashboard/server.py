"""Serving the dashboard over HTTPS on aiohttp, the master's one HTTP stack (Puppet's API runs on it too):
an event loop in a thread of its own accepts connections and reads requests; the application (a WSGI
callable, :class:`master.dashboard.app.Dashboard`, which knows nothing of the server) renders each page on
a pool of threads, so a slow page holds a thread, never the loop, and an idle connection holds no thread.

TLS with the master's certificate, and an optional client certificate checked against the CA (an
operator's certificate logs its holder in; viewers without one log in with a token); the certificate the
handshake verified reaches the application under ``PEER_CERT_KEY``, a key no client can set.

A flood must not lock other viewers out: connections are counted per source address (an IPv6 address by
its /64), per network (an IPv4 /24, an IPv6 /48) and in all, and those over a limit are reset at once,
before any TLS. Connections are kept alive between requests, and every wait has a deadline: the handshake
(``handshake_timeout``); a request's headers, which must be complete within ``idle_timeout`` of the
connection opening or of the previous answer (a client trickling its headers byte by byte is dropped all
the same), after which an idle connection is closed; its body (``body_timeout``, at most ``max_body``
bytes, a larger one refused with 413 before it is read). The CRL is loaded again into the TLS context
when its file changes (the application also checks every request's certificate against the CA's revoked
serials)."""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import os
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from multidict import CIMultiDict

from master.connguard import CountedProtocol, address_key, network_key, reset_close
from master.dashboard import http
from master.dashboard.app import PEER_CERT_KEY

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: A client has this long from connecting to the end of the TLS handshake.
HANDSHAKE_TIMEOUT = 5.0
#: A connection waiting for its first or next request is closed after this long; the request's headers
#: must be complete by then, however slowly they trickle in.
IDLE_TIMEOUT = 10.0
#: A request's body must arrive within this long of its headers.
BODY_TIMEOUT = 30.0
#: The largest request body accepted (the login form is the only one read); a larger one is refused.
MAX_BODY = http.MAX_BODY
#: Pages rendered at once (each on a thread of its own); more wait their turn, their connections idle.
THREADS = 16
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
#: How long ``shutdown()`` lets requests in progress finish.
SHUTDOWN_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    handshake_timeout: float = HANDSHAKE_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    per_address: int = MAX_CONNECTIONS_PER_ADDRESS
    total: int = MAX_CONNECTIONS
    per_network: int = MAX_CONNECTIONS_PER_NETWORK
    body_timeout: float = BODY_TIMEOUT
    max_body: int = MAX_BODY
    threads: int = THREADS

    @classmethod
    def defaults(cls) -> ConnectionLimits:
        """The module's settings as they are now (read at start, so that they can be set before it)."""
        return cls(handshake_timeout=HANDSHAKE_TIMEOUT, idle_timeout=IDLE_TIMEOUT,
                   per_address=MAX_CONNECTIONS_PER_ADDRESS, total=MAX_CONNECTIONS,
                   per_network=MAX_CONNECTIONS_PER_NETWORK, body_timeout=BODY_TIMEOUT, max_body=MAX_BODY,
                   threads=THREADS)


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
    context.set_alpn_protocols(["http/1.1"])
    return context


# -- the WSGI application behind aiohttp ---------------------------------------------------------------------


class _ProtocolLog(logging.Logger):
    """The log of aiohttp's connection handling: a request the HTTP parser refuses is the client's doing,
    one debug line (no client may fill the master's log with tracebacks); anything else is an error."""

    def debug(self, msg: object, *args: Any, **kw: Any) -> None:
        log.debug("dashboard: %s", str(msg) % args if args else msg)

    def warning(self, msg: object, *args: Any, **kw: Any) -> None:
        log.warning("dashboard: %s", str(msg) % args if args else msg)

    def exception(self, msg: object, *args: Any, exc_info: Any = None, **kw: Any) -> None:
        msg = str(msg) % args if args else str(msg)
        exc = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if isinstance(exc, HttpProcessingError):
            log.debug("dashboard: %s: %s", msg, " ".join(str(exc).split()))
        else:
            log.error("dashboard: %s", msg, exc_info=exc or True)


_PROTOCOL_LOG = _ProtocolLog(f"{__name__}.connections")


class _Connection(RequestHandler):
    """aiohttp's handling of one connection; its own answers (to a request its parser refuses) carry the
    dashboard's security headers too."""

    __slots__ = ()

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        response = super().handle_error(request, status, exc, message)
        for name, value in http.SECURITY_HEADERS:
            response.headers[name] = value
        response.headers["Server"] = "Bunraku"
        return response


class _Refused(Exception):
    """Ends a request before the application sees it (a body too large or too slow)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _read_body(request: web.BaseRequest, limits: ConnectionLimits) -> bytes:
    """The request's body: at most ``max_body`` bytes (a declared larger one is refused unread), within
    ``body_timeout``."""
    if not request.body_exists:
        return b""
    if request.content_length is not None and request.content_length > limits.max_body:
        raise _Refused(413, f"request body too large (the limit is {limits.max_body} bytes)")
    data = bytearray()
    try:
        async with asyncio.timeout(limits.body_timeout):
            async for chunk in request.content.iter_chunked(16 * 1024):
                data += chunk
                if len(data) > limits.max_body:
                    raise _Refused(413, f"request body too large (the limit is {limits.max_body} bytes)")
    except TimeoutError:
        raise _Refused(408, f"the request body did not arrive within {limits.body_timeout:g} seconds") from None
    return bytes(data)


def _environ(request: web.BaseRequest, body: bytes, server: tuple[str, int]) -> dict[str, Any]:
    """The WSGI environment of ``request`` (PEP 3333), with the verified client certificate (DER, or None)
    under ``PEER_CERT_KEY``."""
    raw_path, _, query = request.raw_path.partition("?")
    version = request.version
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method, "SCRIPT_NAME": "",
        # percent-decoded, each byte one character, as WSGI hands a path over
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"), "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": request.remote or "",
        "SERVER_NAME": server[0], "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{version.major}.{version.minor}", "HTTPS": "on",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "https", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    for name, value in request.headers.items():
        if "_" in name:  # "X_Y" and "X-Y" would be one key: such headers are dropped, not confused
            continue
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if key == "CONTENT_TYPE":
                environ[key] = value
            continue
        key = "HTTP_" + key
        if key in environ:
            environ[key] += ("; " if key == "HTTP_COOKIE" else ",") + value
        else:
            environ[key] = value
    # verified against the CA by the handshake (CERT_OPTIONAL: absent is fine, invalid is refused)
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    environ[PEER_CERT_KEY] = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return environ


def _call(app: WSGIApp, environ: dict[str, Any]) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """Run ``app`` on ``environ`` (on a worker thread): status, reason, headers, body."""
    started: list[tuple[str, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        started[:] = [(status, headers)]
        return written.append

    result = app(environ, start_response)
    try:
        written.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not started:
        raise RuntimeError("the application did not start a response")
    status, headers = started[0]
    code, _, reason = status.partition(" ")
    return int(code), reason, headers, b"".join(written)


def _response(status: int, reason: str | None, headers: list[tuple[str, str]], body: bytes) -> web.Response:
    fields = CIMultiDict(headers)
    fields.setdefault("Server", "Bunraku")  # not the server's software and version
    return web.Response(status=status, reason=reason or None, body=body, headers=fields)


def _plain(status: int, message: str) -> web.Response:
    """An answer of the server's own, with the application's headers (security headers included)."""
    answer = http.Response(status, message.encode("utf-8"), "text/plain; charset=utf-8")
    response = _response(status, None, answer.wsgi_headers(), answer.body)
    response.force_close()
    return response


class _Handler:
    """aiohttp's request handler: reads the body, then runs the application on the pool of threads."""

    def __init__(self, app: WSGIApp, limits: ConnectionLimits, threads: futures.Executor,
                 server: tuple[str, int]) -> None:
        self.app = app
        self.limits = limits
        self.threads = threads
        self.server = server

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            body = await _read_body(request, self.limits)
        except _Refused as exc:
            log.debug("dashboard: %s %s from %s refused: %s", request.method, request.path, request.remote, exc)
            return _plain(exc.status, str(exc))
        environ = _environ(request, body, self.server)
        try:
            status, reason, headers, content = await asyncio.get_running_loop().run_in_executor(
                self.threads, _call, self.app, environ)
        except Exception:
            log.exception("dashboard: %s %s failed", request.method, request.path)
            return _plain(500, "internal error (see the master's log)")
        return _response(status, reason, headers, content)


class DashboardServer:
    """A running dashboard: ``host``, ``port``, ``url``, ``wait()``, ``shutdown()``."""

    def __init__(self, app: WSGIApp, sock: socket.socket, contexts: TLSContexts, limits: ConnectionLimits) -> None:
        self._app = app
        self._sock = sock
        self._contexts = contexts
        self.limits = limits
        self._gate = ConnectionGate(limits)
        address = sock.getsockname()
        self._address = (str(address[0]), int(address[1]))
        self._threads = futures.ThreadPoolExecutor(limits.threads, thread_name_prefix="dashboard")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"dashboard-{self.port}", daemon=True)

    @property
    def host(self) -> str:
        return self._address[0]

    @property
    def port(self) -> int:
        return self._address[1]

    @property
    def url(self) -> str:
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{self.port}/"

    def _start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            self._sock.close()
            self._threads.shutdown(wait=False)
            raise OSError(f"cannot serve the dashboard: {self._failure}")

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to _start(), or logged once it had started
            if not self._ready.is_set():
                self._failure = exc
            else:
                log.exception("dashboard: the server stopped on an error")
        finally:
            self._ready.set()
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        handler = _Handler(self._app, self.limits, self._threads, self._address)
        server = web.Server(handler)
        handshakes: set[asyncio.Task[None]] = set()
        accepting = asyncio.create_task(self._accept(server, handshakes))
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            accepting.cancel()
            self._sock.close()
            for task in list(handshakes):
                task.cancel()
            await server.shutdown(SHUTDOWN_SECONDS)

    async def _accept(self, server: web.Server, handshakes: set[asyncio.Task[None]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, address = await loop.sock_accept(self._sock)
            except OSError as exc:  # out of file descriptors, say: the backlog waits a moment
                log.warning("dashboard: accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            # in the accept loop: refusing costs no handshake
            host = str(address[0])
            reason = self._gate.admit(host)
            if reason is not None:
                self._gate.refused(host, reason)
                reset_close(conn)
                continue
            task = loop.create_task(self._serve(server, conn, host))
            handshakes.add(task)
            task.add_done_callback(handshakes.discard)

    async def _serve(self, server: web.Server, conn: socket.socket, host: str) -> None:
        """TLS on ``conn`` within the handshake timeout; then aiohttp serves it until it closes."""
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._gate.release(host)

        loop = asyncio.get_running_loop()

        def protocol() -> asyncio.Protocol:
            # keepalive_timeout: aiohttp closes a connection still waiting for a whole request this long
            # after it opened or after the last answer, data arriving or not; so it also bounds the headers
            connection = _Connection(server, loop=loop, access_log=None,  # type: ignore[arg-type]
                                     keepalive_timeout=self.limits.idle_timeout, lingering_time=0,
                                     auto_decompress=False, logger=_PROTOCOL_LOG)
            return CountedProtocol(connection, release)

        try:
            await loop.connect_accepted_socket(protocol, conn, ssl=self._contexts.current(),
                                               ssl_handshake_timeout=self.limits.handshake_timeout)
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            log.debug("dashboard: TLS handshake with %s failed: %s", host, exc)
            conn.close()
            release()
        except asyncio.CancelledError:  # shutting down during the handshake
            conn.close()
            release()
            raise

    def wait(self) -> None:
        """Block until ``shutdown()`` (the CLI's foreground mode)."""
        self._thread.join()

    def shutdown(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop has just closed
                pass
        self._thread.join(timeout=SHUTDOWN_SECONDS + 5)
        self._sock.close()
        self._threads.shutdown(wait=False, cancel_futures=True)
        log.info("dashboard stopped")


def serve(app: WSGIApp, host: str, port: int, *, certfile: str | Path, keyfile: str | Path, cafile: str | Path,
          crlfile: str | Path | None = None, limits: ConnectionLimits | None = None) -> DashboardServer:
    """Serve ``app`` over HTTPS on ``host``:``port`` (0: any free port) in a background thread. ``crlfile``
    is watched (loaded again when it changes); ``limits``: the connection limits (the module's by default).
    OSError (one line) when the address cannot be bound."""
    host = host.strip("[]")
    contexts = TLSContexts(certfile=certfile, keyfile=keyfile, cafile=cafile, crlfile=crlfile)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} for the dashboard: {exc.strerror or exc}") from None
    running = DashboardServer(app, sock, contexts, limits or ConnectionLimits.defaults())
    running._start()
    log.info("dashboard listening on %s", running.url)
    return running
