"""The handlers of Puppet's HTTP API: each reads a request, calls the use case in :mod:`master.service`
(on a worker thread: they block) and writes Puppet's answer. Who may ask for what is decided there,
the same as for Bunraku's own agents over gRPC; the handlers only say who is asking (the verified
client certificate) and translate.

    /puppet-ca/v1/certificate/{ca|NAME}        GET   text/plain PEM        anyone
    /puppet-ca/v1/certificate_revocation_list/ca  GET (If-Modified-Since)  anyone
    /puppet-ca/v1/certificate_request/NAME     PUT   a CSR in PEM          anyone
    /puppet/v3/node/NAME                       GET   the node object       the node
    /puppet/v3/catalog/NAME                    POST  (or GET) form: facts  the node
    /puppet/v3/report/NAME                     PUT   Puppet's report       the node
    /puppet/v3/facts/NAME                      PUT   Puppet's facts        the node
    /puppet/v3/file_metadata(s)/MOUNT/PATH     GET   see master.puppetapi.fileserving  any node
    /puppet/v3/file_content/MOUNT/PATH         GET   the bytes             any node
    /puppet/v3/status/NAME, /status/v1/simple  GET   liveness              anyone

Every answer carries ``X-Puppet-Version``; errors are Puppet's ``{"message", "issue_kind"}`` (plain
text on the CA's routes, as puppetserver's CA answers).

The protections of the gRPC listener apply here too (:class:`Guards`, from the same settings): each
caller (its certificate's name, else its address) has a token bucket of ``rate_limit``. Puppet's agent
cannot retry a request whose answer it streams (file metadata and content) after a 429, so a request
finding its caller's bucket empty first waits for a token (:class:`Throttle`: at most
THROTTLE_WAIT_SECONDS, and at most THROTTLE_QUEUE of one caller's requests wait at once; an agent asks
one thing at a time and is only slowed down); past that it is answered 429 with ``Retry-After``, which
Puppet's agent honours on its other requests. A request body of LARGE_REQUEST_BYTES or more
is charged to the master's in-flight byte budget (shared with the gRPC listener) while it is read and
handled, and refused 503 with ``Retry-After`` when there is no room. A report larger than
``max_report_bytes`` is refused 413 as it arrives, before anything is parsed or stored; facts (catalog
POST, facts PUT) are bounded by ``max_message_bytes`` as over gRPC.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import functools
import json
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from cryptography import x509

from master import limits, service
from master.connguard import address_key
from master.puppetapi import fileserving, formats
from master.service import MasterContext, Peer, ServiceError

log = logging.getLogger(__name__)

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: a large answer goes out in pieces of this size, each once the client has taken the one before: a
#: slow client holds the master's copy of its catalog, not also an encrypted one in the connection's buffer
SEND_CHUNK = 64 * 1024


async def _send(request: web.Request, data: bytes, content_type: str) -> web.StreamResponse:
    if len(data) <= SEND_CHUNK:
        return web.Response(body=data, content_type=content_type)
    response = web.StreamResponse()
    response.content_type = content_type
    response.content_length = len(data)
    await response.prepare(request)
    view = memoryview(data)
    for start in range(0, len(view), SEND_CHUNK):
        await response.write(view[start:start + SEND_CHUNK])  # waits while the connection's buffer is full
    await response.write_eof()
    return response

#: the largest certificate request read (anyone may send one: it is read whole before it is checked)
CSR_MAX_BYTES = 64 * 1024
#: how long a client has to send a request's body
BODY_SECONDS = 120.0
#: a ServiceError's code -> (HTTP status, Puppet issue kind)
STATUS_OF = {
    "invalid_argument": (400, formats.RUNTIME_ERROR),
    "permission_denied": (403, formats.FAILED_AUTHORIZATION),
    "unauthenticated": (403, formats.FAILED_AUTHORIZATION),
    "not_found": (404, formats.RESOURCE_NOT_FOUND),
    "failed_precondition": (500, formats.RUNTIME_ERROR),
    "unimplemented": (501, formats.RUNTIME_ERROR),
    "unavailable": (503, formats.RUNTIME_ERROR),
    "resource_exhausted": (503, formats.RUNTIME_ERROR),
}


#: how long a request may wait for a token of its caller's rate limit before it is answered 429
THROTTLE_WAIT_SECONDS = 10.0
#: how many requests of one caller may wait for a token at once (the others are answered 429 at once)
THROTTLE_QUEUE = 4


class Throttle:
    """A caller's requests over its rate limit wait for a token (on the event loop: a waiting request
    holds no thread), a few at a time and not for long; the rest are refused."""

    def __init__(self, limiter: limits.RateLimiter, *, wait: float = THROTTLE_WAIT_SECONDS,
                 queue: int = THROTTLE_QUEUE) -> None:
        self.limiter = limiter
        self.wait = wait
        self.queue = queue
        self.waiting: dict[str, int] = {}
        self.delayed = 0  # requests served after waiting for a token
        self.retry_after = max(1, math.ceil(1.0 / limiter.rate))

    async def admit(self, key: str) -> bool:
        """True when ``key``'s request may go on (at once, or after waiting for a token)."""
        if self.limiter.allow(key, count=False):
            return True
        if self.waiting.get(key, 0) >= self.queue:
            self.limiter.allow(key)  # counted as refused
            return False
        self.waiting[key] = self.waiting.get(key, 0) + 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        try:
            while (left := deadline - loop.time()) > 0:
                await asyncio.sleep(min(1.0 / self.limiter.rate, left))
                if self.limiter.allow(key, count=False):
                    self.delayed += 1
                    return True
            self.limiter.allow(key)
            return False
        finally:
            self.waiting[key] -= 1
            if self.waiting[key] <= 0:
                del self.waiting[key]


@dataclass(frozen=True, slots=True)
class Guards:
    """What protects the master from one caller: its rate limit (None: off), the in-flight byte budget
    (None: off), and the largest report and facts bodies read."""

    throttle: Throttle | None = None
    budget: limits.InflightBytes | None = None
    max_report_bytes: int = 4 * 1024 * 1024
    max_facts_bytes: int = limits.DEFAULT_MAX_MESSAGE_BYTES


def caller_key(request: web.Request) -> str:
    """Who is asking, for the rate limit and the byte budget: ``cn:NAME`` of a client certificate the
    TLS layer verified against the CA, else ``addr:`` and the client's address (an IPv6 /64)."""
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    cert = ssl_object.getpeercert() if ssl_object is not None else None
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return f"cn:{value}"
    return "addr:" + address_key(request.remote or "unknown")


class APIError(Exception):
    """An answer other than success: ``status``, the message, Puppet's issue kind; ``plain`` for the CA's
    routes (plain text bodies)."""

    def __init__(self, status: int, message: str, issue_kind: str = formats.RUNTIME_ERROR, *,
                 plain: bool = False, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.issue_kind = issue_kind
        self.plain = plain
        self.retry_after = retry_after

    def response(self) -> web.Response:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        if self.plain:
            return web.Response(status=self.status, text=str(self), content_type=formats.TEXT, headers=headers)
        return web.Response(status=self.status, content_type=formats.JSON, headers=headers,
                            body=formats.error_document(self.status, str(self), self.issue_kind))


def _from_service(exc: ServiceError, *, plain: bool = False, not_found: str = formats.RESOURCE_NOT_FOUND) -> APIError:
    status, kind = STATUS_OF.get(exc.code, (500, formats.RUNTIME_ERROR))
    return APIError(status, str(exc), not_found if status == 404 else kind, plain=plain)


class PuppetAPI:
    """The handlers, over one master's use cases; blocking calls run on ``threads``."""

    def __init__(self, ctx: MasterContext, threads: Executor, guards: Guards | None = None) -> None:
        self.ctx = ctx
        self.threads = threads
        self.guards = guards or Guards()

    @asynccontextmanager
    async def _charged(self, request: web.Request, limit: int) -> AsyncIterator[None]:
        """Hold the request's body size (its Content-Length, else ``limit``) against the in-flight byte
        budget while it is read and handled; 503 when there is no room (see :class:`limits.InflightBytes`)."""
        budget = self.guards.budget
        size = request.content_length if request.content_length is not None else (limit if request.body_exists else 0)
        if budget is None or size < limits.LARGE_REQUEST_BYTES:
            yield
            return
        key = caller_key(request)
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(self.threads, budget.acquire, key, size):
            log.warning("refused a large request: no room in flight",
                        extra={"fields": {"peer": key, "path": request.path, "bytes": size,
                                          "in_flight": budget.in_flight}})
            raise APIError(503, limits.BUSY_MESSAGE, plain=request.path.startswith("/puppet-ca/"),
                           retry_after=max(1, math.ceil(budget.wait)))
        try:
            yield
        finally:
            await loop.run_in_executor(self.threads, budget.release, key, size)

    # -- plumbing ------------------------------------------------------------------------------------
    async def _call(self, func: Callable[..., T], *args: Any, plain: bool = False,
                    not_found: str = formats.RESOURCE_NOT_FOUND, **kw: Any) -> T:
        """``func(*args, **kw)`` on a worker thread; a ServiceError becomes Puppet's answer for it."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.threads, functools.partial(func, *args, **kw))
        except ServiceError as exc:
            raise _from_service(exc, plain=plain, not_found=not_found) from None

    def _peer(self, request: web.Request) -> Peer | None:
        """Who the verified client certificate says is asking (None: no certificate). The CRL is read on
        every request (see :func:`master.service.authenticate_certificate`)."""
        transport = request.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            return None
        try:
            return service.authenticate_certificate(self.ctx, x509.load_der_x509_certificate(der))
        except ServiceError as exc:
            raise _from_service(exc, plain=request.path.startswith("/puppet-ca/")) from None

    def _node(self, request: web.Request) -> Peer:
        peer = self._peer(request)
        if peer is None:
            raise APIError(403, f"Forbidden request: {request.path} (method {request.method}): a client "
                                "certificate signed by this master's CA is required", formats.FAILED_AUTHORIZATION)
        return peer

    @staticmethod
    async def _body(request: web.Request, limit: int | None = None, *, plain: bool = False) -> bytes:
        """The request's body, read within BODY_SECONDS; ``limit``: refuse a larger one as it arrives."""
        too_large = APIError(413, f"the request body is larger than {limit} bytes", plain=plain)
        if limit is not None and request.content_length is not None and request.content_length > limit:
            raise too_large
        try:
            async with asyncio.timeout(BODY_SECONDS):
                if limit is None:
                    return await request.read()
                data = bytearray()
                async for chunk in request.content.iter_chunked(16 * 1024):
                    data += chunk
                    if len(data) > limit:
                        raise too_large
                return bytes(data)
        except TimeoutError:
            raise APIError(400, f"the request body did not arrive within {BODY_SECONDS:g} seconds",
                           plain=plain) from None
        except web.HTTPRequestEntityTooLarge as exc:
            raise APIError(413, exc.text or "the request body is too large", plain=plain) from None

    @staticmethod
    def _json(document: Any, status: int = 200) -> web.Response:
        return web.Response(status=status, content_type=formats.JSON,
                            body=json.dumps(document, separators=(",", ":"), default=str).encode())

    # -- the CA (v1) ---------------------------------------------------------------------------------
    async def certificate(self, request: web.Request) -> web.Response:
        self._peer(request)  # a revoked certificate is refused here too, as on the gRPC side
        name = request.match_info["name"]
        if name == "ca":
            return web.Response(body=self.ctx.ca.ca_pem(), content_type=formats.TEXT)
        pem = await self._call(service.get_certificate, self.ctx, name, plain=True)
        if pem is None:
            raise APIError(404, f"Could not find certificate {name}", plain=True)
        return web.Response(body=pem, content_type=formats.TEXT)

    async def crl(self, request: web.Request) -> web.Response:
        self._peer(request)
        if request.match_info["name"] != "ca":
            raise APIError(404, f"Could not find certificate_revocation_list {request.match_info['name']}",
                           plain=True)
        modified = datetime.datetime.fromtimestamp(int(self.ctx.ca.crl_path.stat().st_mtime), datetime.UTC)
        since = request.if_modified_since
        headers = {"Last-Modified": email.utils.format_datetime(modified, usegmt=True)}
        if since is not None and modified <= since:
            return web.Response(status=304, headers=headers)
        return web.Response(body=self.ctx.ca.crl_pem(), content_type=formats.TEXT, headers=headers)

    async def certificate_request(self, request: web.Request) -> web.Response:
        self._peer(request)
        name = request.match_info["name"]
        csr = await self._body(request, CSR_MAX_BYTES, plain=True)
        status, _cert, message = await self._call(service.request_certificate, self.ctx, name, csr, plain=True,
                                                  client=request.remote)
        if status == "rejected":
            raise APIError(400, message, plain=True)
        return web.Response(text="", content_type=formats.TEXT)

    # -- /puppet/v3 ------------------------------------------------------------------------------------
    async def node(self, request: web.Request) -> web.Response:
        peer = self._node(request)
        name = request.match_info["name"]
        env, cls = await self._call(service.node_definition, self.ctx, peer, name,
                                    request.query.get("environment", ""))
        return self._json(formats.node_document(name, env.name, cls.classes, cls.parameters))

    async def catalog(self, request: web.Request) -> web.StreamResponse:
        peer = self._node(request)
        name = request.match_info["name"]
        params: dict[str, str] = dict(request.query)
        limit = self.guards.max_facts_bytes
        if request.content_length is not None and request.content_length > limit:
            raise APIError(413, f"the catalog request is {request.content_length} bytes, larger than "
                                f"max_message_bytes ({limit}) of this master")
        async with self._charged(request, limit):
            return await self._catalog(request, peer, name, params)

    async def _catalog(self, request: web.Request, peer: Peer, name: str,
                       params: dict[str, str]) -> web.StreamResponse:
        if request.method == "POST":
            try:
                async with asyncio.timeout(BODY_SECONDS):
                    form = await request.post()
            except TimeoutError:
                raise APIError(400, f"the request body did not arrive within {BODY_SECONDS:g} seconds") from None
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        try:
            facts_json = formats.catalog_facts(params)
        except formats.RequestError as exc:
            raise APIError(400, str(exc)) from None
        if facts_json is None:  # as Puppet's master: the facts it stored for the node
            stored = await self._call(service.get_facts, self.ctx, peer, name)
            if stored is None:
                raise APIError(400, f"the catalog request for {name} carries no facts and none are stored")
            facts_json = json.dumps(stored.get("values", stored) if isinstance(stored, dict) else stored,
                                    default=str).encode()
        data, _code_id, _env, _hit = await self._call(service.get_catalog, self.ctx, peer, name,
                                                     params.get("environment", ""), facts_json,
                                                     not_found=formats.ENVIRONMENT_NOT_FOUND)
        del facts_json, params
        return await _send(request, data, formats.JSON)

    async def report(self, request: web.Request) -> web.Response:
        peer = self._node(request)
        name = request.match_info["name"]
        kind = request.content_type
        if kind not in (formats.JSON, "text/pson", "application/pson"):
            raise APIError(415, f"reports are sent as {formats.JSON}, not {kind}", formats.UNSUPPORTED_MEDIA_TYPE)
        limit = self.guards.max_report_bytes
        too_large = APIError(413, f"the report is larger than max_report_bytes ({limit}) of this master; "
                                  "it is not stored")
        if request.content_length is not None and request.content_length > limit:
            log.warning("refused a report of %d bytes from %s", request.content_length, peer.certname,
                        extra={"fields": {"peer": peer.certname, "bytes": request.content_length}})
            raise too_large
        async with self._charged(request, limit):
            try:
                body = await self._body(request, limit)
            except APIError as exc:
                if exc.status == 413:
                    log.warning("refused a report of more than %d bytes from %s", limit, peer.certname,
                                extra={"fields": {"peer": peer.certname}})
                    raise too_large from None
                raise
            await self._call(service.submit_report, self.ctx, peer, body, node=name)
        return self._json([])

    async def facts(self, request: web.Request) -> web.Response:
        """``puppet facts upload``: the node's facts, stored as a catalog request would store them."""
        peer = self._node(request)
        name = request.match_info["name"]
        if request.content_type not in (formats.JSON, "text/pson", "application/pson"):
            raise APIError(415, f"facts are sent as {formats.JSON}, not {request.content_type}",
                           formats.UNSUPPORTED_MEDIA_TYPE)
        async with self._charged(request, self.guards.max_facts_bytes):
            body = await self._body(request, self.guards.max_facts_bytes)
            try:
                facts_json = formats.fact_values(body)
            except formats.RequestError as exc:
                raise APIError(400, str(exc)) from None
            await self._call(service.submit_facts, self.ctx, peer, name, request.query.get("environment", ""),
                             facts_json)
        return self._json(None)

    async def _environment(self, peer: Peer, request: web.Request) -> Any:
        return await self._call(service.serving_environment, self.ctx, peer, request.query.get("environment", ""),
                                not_found=formats.ENVIRONMENT_NOT_FOUND)

    def _mount_path(self, request: web.Request) -> fileserving.MountPath:
        try:
            return fileserving.parse_path(request.match_info["path"])
        except fileserving.UnknownMount as exc:
            raise APIError(404, str(exc), formats.RESOURCE_NOT_FOUND) from None
        except fileserving.FileServingError as exc:
            raise APIError(403, str(exc), formats.FAILED_AUTHORIZATION) from None

    async def _serve_files(self, func: Callable[..., T], *args: Any, **kw: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.threads, functools.partial(func, *args, **kw))
        except fileserving.FileServingError as exc:
            log.warning("file request refused: %s", exc)
            raise APIError(403, str(exc), formats.FAILED_AUTHORIZATION) from None

    async def file_metadata(self, request: web.Request) -> web.Response:
        peer = self._node(request)
        where = self._mount_path(request)
        env = await self._environment(peer, request)
        document = await self._serve_files(fileserving.metadata, env, where,
                                           checksum=request.query.get("checksum_type"),
                                           links=_links(request.query.get("links")))
        if document is None:
            raise APIError(404, f"Could not find file_metadata {request.match_info['path']}",
                           formats.RESOURCE_NOT_FOUND)
        return self._json(document)

    async def file_metadatas(self, request: web.Request) -> web.Response:
        peer = self._node(request)
        where = self._mount_path(request)
        env = await self._environment(peer, request)
        query = request.query
        try:
            limit = query.get("recurselimit")
            options = fileserving.ListOptions(
                recurse=formats.flag(query.get("recurse")) or query.get("recurse") == "remote",
                recurselimit=int(limit) if limit not in (None, "", "inf") else None,
                ignore=tuple(p for value in query.getall("ignore", []) for p in value.split()),
                max_files=int(query.get("max_files") or -1))
        except ValueError:
            raise APIError(400, "recurselimit and max_files must be integers") from None
        documents = await self._serve_files(fileserving.search, env, where, options,
                                            checksum=query.get("checksum_type"), links=_links(query.get("links")))
        if documents is None:
            raise APIError(404, f"Could not find file_metadatas {request.match_info['path']}",
                           formats.RESOURCE_NOT_FOUND)
        return self._json(documents)

    async def file_content(self, request: web.Request) -> web.StreamResponse:
        peer = self._node(request)
        where = self._mount_path(request)
        env = await self._environment(peer, request)
        path = await self._serve_files(fileserving.content_path, env, where)
        if path is None:
            raise APIError(404, f"Could not find file_content {request.match_info['path']}",
                           formats.RESOURCE_NOT_FOUND)
        return web.FileResponse(path, headers={"Content-Type": formats.OCTETS})

    # -- status ---------------------------------------------------------------------------------------
    async def status(self, request: web.Request) -> web.Response:
        return self._json({"is_alive": True, "version": formats.PUPPET_VERSION})

    async def simple_status(self, request: web.Request) -> web.Response:
        return web.Response(text="running", content_type=formats.TEXT)


def _links(value: str | None) -> str:
    return "follow" if value == "follow" else "manage"


def _rate_limited(throttle: Throttle) -> Any:
    """A middleware holding back, then refusing (429, ``Retry-After``), a caller over its rate limit."""
    limit = throttle.limiter.limit

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = caller_key(request)
        if not await throttle.admit(key):
            log.warning("rate limit: refused a request", extra={"fields": {"peer": key, "path": request.path}})
            raise APIError(429, f"too many requests from {key.partition(':')[2]}: at most "
                                f"{limit.per_node_per_minute:g} a minute (bursts of {limit.burst:g}); "
                                "try again later",
                           plain=request.path.startswith("/puppet-ca/"), retry_after=throttle.retry_after)
        return await handler(request)

    return guard


@web.middleware
async def _puppet_answers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Puppet's headers on every answer, and Puppet's error documents for every failure."""
    try:
        response = await handler(request)
    except APIError as exc:
        response = exc.response()
    except web.HTTPNotFound:
        response = APIError(404, f"No route for {request.method} {request.path}", formats.HANDLER_NOT_FOUND,
                            plain=request.path.startswith("/puppet-ca/")).response()
    except web.HTTPMethodNotAllowed:
        response = APIError(405, f"{request.method} is not allowed on {request.path}",
                            formats.UNSUPPORTED_METHOD).response()
    except web.HTTPRequestEntityTooLarge as exc:
        response = APIError(413, exc.text or "the request body is too large").response()
    except web.HTTPException:
        raise
    except Exception:  # a bug: logged here, one line for the agent
        log.exception("%s %s failed", request.method, request.path)
        response = APIError(500, "the master failed to answer; see its log").response()
    response.headers[formats.VERSION_HEADER] = formats.PUPPET_VERSION
    log.debug("%s %s -> %d", request.method, request.path, response.status)
    return response


def create_app(ctx: MasterContext, threads: Executor, *, max_body: int, guards: Guards | None = None
               ) -> web.Application:
    """The application: Puppet's routes over ``ctx``; request bodies up to ``max_body`` bytes; ``guards``
    (rate limit, byte budget, report and facts sizes)."""
    guards = guards or Guards(max_facts_bytes=max_body)
    api = PuppetAPI(ctx, threads, guards)
    middlewares: list[Any] = [_puppet_answers]
    if guards.throttle is not None:
        middlewares.append(_rate_limited(guards.throttle))
    app = web.Application(client_max_size=max_body, middlewares=middlewares)
    ca, v3 = "/puppet-ca/v1", "/puppet/v3"
    app.router.add_get(f"{ca}/certificate/{{name}}", api.certificate)
    app.router.add_get(f"{ca}/certificate_revocation_list/{{name}}", api.crl)
    app.router.add_put(f"{ca}/certificate_request/{{name}}", api.certificate_request)
    app.router.add_get(f"{v3}/node/{{name}}", api.node)
    app.router.add_post(f"{v3}/catalog/{{name}}", api.catalog)
    app.router.add_get(f"{v3}/catalog/{{name}}", api.catalog)
    app.router.add_put(f"{v3}/report/{{name}}", api.report)
    app.router.add_put(f"{v3}/facts/{{name}}", api.facts)
    app.router.add_get(f"{v3}/file_metadata/{{path:.*}}", api.file_metadata)
    app.router.add_get(f"{v3}/file_metadatas/{{path:.*}}", api.file_metadatas)
    app.router.add_get(f"{v3}/file_content/{{path:.*}}", api.file_content)
    app.router.add_get(f"{v3}/status/{{name}}", api.status)
    app.router.add_get("/status/v1/simple", api.simple_status)
    app.router.add_get("/status/v1/simple/{service}", api.simple_status)
    return app
