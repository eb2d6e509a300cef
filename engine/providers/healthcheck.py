"""The healthcheck provider: http, tcp and command probes with retries. Reads, never writes.

Each attempt returns ``(healthy, what was observed)``; ``probe()`` retries until one is healthy or
the attempts run out, sleeping ``interval`` between attempts, and reports the last observation.
Network checks talk to the network as it is (they are not confined to the target root); commands
run as ``exec`` runs them (``path``, ``environment``; a string through ``/bin/sh -c``; chrooted into
a target root other than /, see :mod:`engine.spawn`).
"""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import socket
import ssl
import subprocess
import time
from urllib.parse import urlsplit

from engine.errors import ProviderError
from engine.providers.exec import DEFAULT_PATH
from engine.registry import Change, ProbeResult, Provider, provider
from engine.spawn import find_program, run_program, shell_argv

log = logging.getLogger(__name__)

#: How much of a response body is read (and searched for ``expect_body``).
MAX_BODY = 64 * 1024
#: How much of a body or command output goes into a message.
SHOWN = 120


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def _reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"timed out after {timeout:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host: {exc.strerror or exc}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


@provider("healthcheck", "builtin")
class HealthcheckProvider(Provider):
    __slots__ = ()

    # -- the protocol: never out of sync, never changes anything -----------------------------------------
    def check(self) -> list[Change]:
        return []

    def sync(self, change: Change) -> None:
        raise ProviderError("a health check never changes the system")

    def probe(self) -> ProbeResult:
        p = self.params
        attempts = 1 + p["retries"]
        attempt = {"http": self._http, "tcp": self._tcp, "command": self._command}[p["check"]]
        started = time.monotonic()
        healthy, observed, n = False, "", 0
        for n in range(1, attempts + 1):
            healthy, observed = attempt()
            log.debug("healthcheck %s attempt %d/%d: %s", self.title, n, attempts, observed)
            if healthy:
                break
            if n < attempts and p["interval"]:
                time.sleep(p["interval"])
        plural = "s" if n != 1 else ""
        verdict = "healthy" if healthy else "unhealthy"
        message = f"{verdict} after {n} attempt{plural}: {observed}"
        return ProbeResult(healthy, n, message, time.monotonic() - started)

    # -- one attempt of each kind ----------------------------------------------------------------------
    def _http(self) -> tuple[bool, str]:
        p = self.params
        url: str = p["url"]
        parts = urlsplit(url)
        host = parts.hostname or ""
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(host, parts.port or 443, timeout=p["timeout"])
        else:
            # http.client, not urllib: no proxies from the environment and no redirects followed,
            # so the check sees exactly what the service answers on that address.
            conn = http.client.HTTPConnection(host, parts.port or 80, timeout=p["timeout"])
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("GET", target, headers={"User-Agent": "bunraku-healthcheck", "Connection": "close"})
            resp = conn.getresponse()
            status = resp.status
            body = resp.read(MAX_BODY).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            return False, f"GET {url}: {_reason(exc, p['timeout'])}"
        finally:
            conn.close()
        expected: list[int] = p["expect_status"]
        if expected and status not in expected or not expected and not 200 <= status <= 299:
            want = ", ".join(str(s) for s in expected) if expected else "2xx"
            return False, f"GET {url}: HTTP {status}, expected {want}; body '{_shown(body)}'"
        needle = p.get("expect_body")
        if needle is not None and needle not in body:
            return False, f"GET {url}: HTTP {status} but the body does not contain '{needle}'; " \
                          f"body '{_shown(body)}'"
        return True, f"GET {url}: HTTP {status}" + (f", body contains '{needle}'" if needle is not None else "")

    def _tcp(self) -> tuple[bool, str]:
        p = self.params
        where = f"{p['host']}:{p['port']}" if ":" not in p["host"] else f"[{p['host']}]:{p['port']}"
        try:
            with socket.create_connection((p["host"], p["port"]), timeout=p["timeout"]):
                pass
        except OSError as exc:
            return False, f"connect to {where}: {_reason(exc, p['timeout'])}"
        return True, f"connected to {where}"

    def _command(self) -> tuple[bool, str]:
        p = self.params
        command = p["command"]
        shown = command if isinstance(command, str) else " ".join(str(w) for w in command)
        search = ":".join(p["path"]) or DEFAULT_PATH
        env = dict(os.environ)
        env["PATH"] = search
        for item in p["environment"]:
            name, _, value = item.partition("=")
            env[name] = value
        root = self.ctx.root
        try:
            if isinstance(command, list):
                argv = [str(w) for w in command]
                if not argv[0].startswith("/"):
                    found = (shutil.which(argv[0], path=search) if root == "/"
                             else find_program(root, argv[0], search.split(":")))
                    if found is None:
                        return False, f"'{shown}': could not find command '{argv[0]}'"
                    argv[0] = found
            else:
                argv = shell_argv(root, command)
            proc = run_program(root, argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=env, timeout=p["timeout"])
        except subprocess.TimeoutExpired:
            return False, f"'{shown}' timed out after {p['timeout']:g}s"
        except ProviderError as exc:
            return False, f"'{shown}': {exc}"
        except OSError as exc:
            return False, f"'{shown}': {_reason(exc, p['timeout'])}"
        output = proc.stdout.decode("utf-8", "replace").strip()
        lines = output.splitlines()
        detail = f": {_shown(lines[-1])}" if lines else ""
        return proc.returncode == 0, f"'{shown}' exited {proc.returncode}{detail}"
