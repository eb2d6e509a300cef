"""The listener of Puppet's HTTP API: HTTPS on aiohttp, in an event loop of its own thread.

TLS uses the master's certificate and asks every client for one from the CA (optional: an agent without
a certificate yet fetches the CA and sends its request); the handlers read the verified certificate
from the connection. The accept loop is ours, so that connections are counted before any TLS: past
``puppet_max_connections`` in all, or ``puppet_max_connections_per_address`` from one address (an
IPv6 /64), a new connection is reset at once. Each handshake has ``handshake_timeout``; a connection
waiting for its first or next request is closed after ``puppet_keepalive_timeout`` (aiohttp's keep-alive
timer, which also ends headers that never finish); a body has a deadline of its own (see
:mod:`master.puppetapi.app`). Handlers call the master's blocking use cases on a pool of threads, so a
slow compile holds a thread, never the loop; idle connections cost no thread at all. Each caller is
rate limited (``rate_limit``, as on the gRPC listener) and large bodies are charged to the master's
in-flight byte budget, which the gRPC listener shares (:class:`master.puppetapi.app.Guards`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from collections import Counter
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from master import limits as master_limits
from master.connguard import CountedProtocol, address_key, reset_close
from master.puppetapi.app import Guards, Throttle, create_app
from master.service import MasterContext

log = logging.getLogger(__name__)

#: connections waiting to be accepted
LISTEN_BACKLOG = 512
#: refused connections are logged (as a count) at most this often
REFUSED_LOG_SECONDS = 60.0
#: how long stop() lets requests in progress finish
SHUTDOWN_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Limits:
    max_connections: int = 1024
    max_per_address: int = 256
    handshake_timeout: float = 10.0
    keepalive_timeout: float = 15.0
    max_body: int = 16 * 1024 * 1024
    threads: int = 64
    #: per caller (a certificate's name, else an address); None: no limit
    rate_limit: master_limits.RateLimit | None = None
    max_report_bytes: int = 4 * 1024 * 1024


class _Gate:
    """Open connections, in all and by source address; used from the event loop's thread only."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.open: Counter[str] = Counter()
        self.total = 0
        self._refused = 0
        self._logged_at = float("-inf")

    def admit(self, source: str) -> str | None:
        """None when ``source`` may open one more connection (counted until ``release``); else why not."""
        if self.total >= self.limits.max_connections:
            return f"{self.total} connections open (puppet_max_connections is {self.limits.max_connections})"
        if self.open[source] >= self.limits.max_per_address:
            return (f"{self.open[source]} connections open from it (puppet_max_connections_per_address is "
                    f"{self.limits.max_per_address})")
        self.open[source] += 1
        self.total += 1
        return None

    def release(self, source: str) -> None:
        self.total -= 1
        self.open[source] -= 1
        if self.open[source] <= 0:
            del self.open[source]

    def refused(self, address: str, reason: str) -> None:
        self._refused += 1
        now = time.monotonic()
        if now - self._logged_at >= REFUSED_LOG_SECONDS:
            log.warning("puppet API: refused %d connection(s) over the connection limits; the latest from %s: %s",
                        self._refused, address, reason)
            self._refused, self._logged_at = 0, now


def tls_context(*, certfile: Path, keyfile: Path, cafile: Path) -> ssl.SSLContext:
    """Server TLS (1.2 or later) with the master's certificate; a client certificate is asked for and,
    when sent, must chain to the CA (revocation is checked per request, against the CA's current CRL)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(certfile), str(keyfile))
    context.load_verify_locations(cafile=str(cafile))
    context.verify_mode = ssl.CERT_OPTIONAL
    context.set_alpn_protocols(["http/1.1"])
    return context


class PuppetAPIServer:
    """Puppet's HTTP API for one master: ``start()`` binds (raising OSError when it cannot) and serves in
    a background thread; ``port`` is the bound port; ``stop()``."""

    def __init__(self, ctx: MasterContext, host: str, port: int, *, certfile: Path, keyfile: Path,
                 cafile: Path, limits: Limits | None = None,
                 budget: master_limits.InflightBytes | None = None) -> None:
        self.ctx = ctx
        self.host = host
        self.limits = limits or Limits()
        rate = self.limits.rate_limit
        self.guards = Guards(throttle=Throttle(master_limits.RateLimiter(rate)) if rate is not None else None,
                             budget=budget,
                             max_report_bytes=self.limits.max_report_bytes, max_facts_bytes=self.limits.max_body)
        self._tls = tls_context(certfile=certfile, keyfile=keyfile, cafile=cafile)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
            self._sock.listen(LISTEN_BACKLOG)
        except OSError as exc:
            self._sock.close()
            raise OSError(f"cannot listen on {host}:{port} for Puppet's HTTP API: {exc.strerror or exc}") from None
        self._sock.setblocking(False)
        self.port = int(self._sock.getsockname()[1])
        self._threads = futures.ThreadPoolExecutor(self.limits.threads, thread_name_prefix="puppet-api")
        self._gate = _Gate(self.limits)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"puppet-api-{self.port}", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise OSError(f"cannot serve Puppet's HTTP API: {self._failure}")
        log.info("puppet API listening", extra={"fields": {"url": self.url}})

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start(), or logged when it had started
            if not self._ready.is_set():
                self._failure = exc
            else:
                log.exception("puppet API: the server stopped on an error")
        finally:
            self._ready.set()
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        app = create_app(self.ctx, self._threads, max_body=self.limits.max_body, guards=self.guards)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS,
                               keepalive_timeout=self.limits.keepalive_timeout)
        await runner.setup()
        connections: set[asyncio.Task[None]] = set()
        accepting = asyncio.create_task(self._accept(runner, connections))
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            accepting.cancel()
            self._sock.close()
            for task in list(connections):  # handshakes still under way
                task.cancel()
            await runner.cleanup()

    async def _accept(self, runner: web.AppRunner, connections: set[asyncio.Task[None]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, address = await loop.sock_accept(self._sock)
            except OSError as exc:  # out of file descriptors, say: the backlog waits a moment
                log.warning("puppet API: accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            source = address_key(str(address[0]))
            refusal = self._gate.admit(source)
            if refusal is not None:
                self._gate.refused(str(address[0]), refusal)
                reset_close(conn)
                continue
            task = loop.create_task(self._serve(runner, conn, source))
            connections.add(task)
            task.add_done_callback(connections.discard)

    async def _serve(self, runner: web.AppRunner, conn: socket.socket, source: str) -> None:
        """TLS on ``conn`` (within the handshake timeout), then aiohttp's protocol serves it."""
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._gate.release(source)

        server: Any = runner.server
        try:
            await asyncio.get_running_loop().connect_accepted_socket(
                lambda: CountedProtocol(server(), release), conn, ssl=self._tls,
                ssl_handshake_timeout=self.limits.handshake_timeout)
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            log.debug("puppet API: TLS with %s failed: %s", source, exc)
            conn.close()
            release()
        except asyncio.CancelledError:  # stopping during the handshake
            conn.close()
            release()
            raise

    def stop(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop has just closed
                pass
        if self._thread is not None:
            self._thread.join(timeout=SHUTDOWN_SECONDS + 5)
            self._thread = None
        else:
            self._sock.close()
        self._threads.shutdown(wait=False, cancel_futures=True)
        log.info("puppet API stopped")
