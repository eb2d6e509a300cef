"""Limits that keep one bad agent from hurting the master: per-peer rate limiting and checks on the
documents (facts, reports) agents send, before anything is stored.

    limiter = RateLimiter(per_minute=600, burst=60)
    server = grpc.server(pool, interceptors=[RateLimitInterceptor(limiter), AuthInterceptor(auth)])

A peer is the common name of its verified client certificate, or its address when it has none (the
certificate request). Each peer has a token bucket refilled at ``per_minute / 60`` tokens a second and
holding at most ``burst``; a call with an empty bucket is refused with RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc

log = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class DocumentError(ValueError):
    """A facts or report document is malformed or too big (one line for the caller)."""


# -- documents ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DocumentLimits:
    max_depth: int = 64  # nesting of mappings and lists
    max_nodes: int = 500_000  # values in the whole document
    max_string: int = 4 * 1024 * 1024  # characters in one string (a key or a value)


DEFAULT_DOCUMENT_LIMITS = DocumentLimits()


def check_document(value: Any, what: str, limits: DocumentLimits = DEFAULT_DOCUMENT_LIMITS) -> None:
    """Refuse (DocumentError) a JSON value that is nested too deep, has too many values, holds a string
    too long, or holds something JSON cannot (NaN, infinities). Iterative: no recursion to exhaust.
    Only containers are stacked (scalars are checked where they are met), so checking a document of
    half a million values costs little memory besides the document."""
    nodes = 0

    def scalar(item: Any) -> None:
        if isinstance(item, str):
            if len(item) > limits.max_string:
                raise DocumentError(f"{what}: a string is longer than {limits.max_string} characters")
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise DocumentError(f"{what}: NaN and infinite numbers are not allowed")
        elif item is not None and not isinstance(item, (bool, int)):
            raise DocumentError(f"{what}: unexpected value of type {type(item).__name__}")

    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise DocumentError(f"{what} has more than {limits.max_nodes} values")
        if isinstance(item, dict):
            if depth > limits.max_depth:
                raise DocumentError(f"{what} is nested deeper than {limits.max_depth} levels")
            for key in item:
                if not isinstance(key, str):
                    raise DocumentError(f"{what}: keys must be strings")
                if len(key) > limits.max_string:
                    raise DocumentError(f"{what}: a key is longer than {limits.max_string} characters")
            children: Any = item.values()
        elif isinstance(item, list):
            if depth > limits.max_depth:
                raise DocumentError(f"{what} is nested deeper than {limits.max_depth} levels")
            children = item
        else:
            scalar(item)
            continue
        for sub in children:
            if isinstance(sub, (dict, list)):
                stack.append((sub, depth + 1))
                continue
            nodes += 1
            if nodes > limits.max_nodes:
                raise DocumentError(f"{what} has more than {limits.max_nodes} values")
            scalar(sub)


_REPORT_FIELDS: dict[str, tuple[type, ...]] = {
    "host": (str,), "transaction_uuid": (str,), "time": (str,), "status": (str,), "environment": (str,),
    "configuration_version": (str, int, type(None)), "code_id": (str, type(None)),
    "catalog_uuid": (str, type(None)), "noop": (bool,), "noop_pending": (bool,),
    "corrective_change": (bool,), "cached_catalog_status": (str,), "resource_statuses": (dict,),
    "metrics": (dict,), "logs": (list,),
}
REPORT_STATUSES = frozenset({"changed", "unchanged", "failed"})


def check_report(report: Mapping[str, Any], limits: DocumentLimits = DEFAULT_DOCUMENT_LIMITS) -> None:
    """The report's size and shape: the fields the store reads have the types it expects."""
    check_document(report, "report", limits)
    for name, types in _REPORT_FIELDS.items():
        if name in report and not isinstance(report[name], types):
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise DocumentError(f"report: {name} must be {wanted}, not {type(report[name]).__name__}")
    if "status" in report and report["status"] not in REPORT_STATUSES:
        raise DocumentError(f"report: status must be one of {', '.join(sorted(REPORT_STATUSES))}")
    for title, status in report.get("resource_statuses", {}).items():
        if not isinstance(status, dict):
            raise DocumentError(f"report: resource_statuses[{title[:80]!r}] must be an object")
        if not isinstance(status.get("events", []), list):
            raise DocumentError(f"report: resource_statuses[{title[:80]!r}].events must be a list")


# -- rate limiting -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RateLimit:
    per_node_per_minute: float = 1200.0
    burst: float = 200.0

    @classmethod
    def parse(cls, value: Any) -> RateLimit | None:
        """``{per_node_per_minute: N, burst: M}``, or ``None``/``false`` for no limit. ValueError if bad."""
        if value is None or value is False:
            return None
        if isinstance(value, RateLimit):
            return value
        if not isinstance(value, Mapping):
            raise ValueError("rate_limit must be a mapping {per_node_per_minute: N, burst: M} or false")
        unknown = sorted(set(value) - {"per_node_per_minute", "burst"})
        if unknown:
            raise ValueError(f"rate_limit: unknown key(s): {', '.join(map(str, unknown))}")
        try:
            per_minute = float(value.get("per_node_per_minute", 1200.0))
            burst = float(value.get("burst", max(1.0, per_minute / 10)))
        except (TypeError, ValueError):
            raise ValueError("rate_limit: per_node_per_minute and burst must be numbers") from None
        if per_minute <= 0 or burst < 1:
            raise ValueError("rate_limit: per_node_per_minute must be > 0 and burst >= 1")
        return cls(per_minute, burst)


class RateLimiter:
    """Token buckets, one per peer (the least recently seen are forgotten past ``max_peers``)."""

    def __init__(self, limit: RateLimit, *, max_peers: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.rate = limit.per_node_per_minute / 60.0
        self.max_peers = max_peers
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.refused = 0

    def allow(self, peer: str, *, count: bool = True) -> bool:
        """Take a token of ``peer``'s bucket; False when it is empty (counted in ``refused`` unless
        ``count`` is false: a caller that waits and asks again counts once, when it gives up)."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(peer, (self.limit.burst, now))
            tokens = min(self.limit.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            elif count:
                self.refused += 1
            self._buckets[peer] = (tokens, now)
            while len(self._buckets) > self.max_peers:
                self._buckets.popitem(last=False)
        return allowed


#: the client address behind the address gRPC saw (``ipv4:127.0.0.1:PORT``), when a relay knows it
AddressResolver = Callable[[str], "str | None"]


def peer_key(context: grpc.ServicerContext, addresses: AddressResolver | None = None) -> str:
    """The certificate's common name when the peer has one, else its address without the port.
    ``addresses`` maps the address gRPC saw to the client's own when a connection guard relays the
    listener (:mod:`master.connguard`)."""
    try:
        names = context.auth_context().get("x509_common_name")
    except Exception:  # noqa: BLE001 - an insecure or odd transport: fall back to the address
        names = None
    if names:
        return "cn:" + names[0].decode("utf-8", "replace")
    address = context.peer() or "unknown"
    client = addresses(address) if addresses is not None else None
    return "addr:" + (client or address.rpartition(":")[0])


def guard_handler(handler: Any, guard: Callable[[Callable[..., Any]], Callable[..., Any]],
                  deserializer: Callable[[Any], Callable[[bytes], Any]] | None = None) -> Any:
    """``handler`` with its unary behaviour (request-response or server-streaming) wrapped by ``guard``;
    what interceptors use to check a call before it runs. ``deserializer``, when given, wraps the
    handler's request deserializer the same way."""
    wrap = deserializer or (lambda d: d)
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(guard(handler.unary_unary),
                                                   wrap(handler.request_deserializer), handler.response_serializer)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(guard(handler.unary_stream),
                                                    wrap(handler.request_deserializer), handler.response_serializer)
    return handler


class RateLimitInterceptor(grpc.ServerInterceptor):
    """Refuse a peer's calls with RESOURCE_EXHAUSTED while its bucket is empty."""

    def __init__(self, limiter: RateLimiter, addresses: AddressResolver | None = None) -> None:
        self.limiter = limiter
        self.addresses = addresses

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        limiter = self.limiter
        addresses = self.addresses

        def guard(behaviour: Callable[..., Any]) -> Callable[..., Any]:
            def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
                key = peer_key(context, addresses)
                if not limiter.allow(key):
                    log.warning("rate limit: refused a call", extra={"fields": {"peer": key,
                                                                               "method": details.method}})
                    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                  f"too many calls from {key.partition(':')[2]}: at most "
                                  f"{limiter.limit.per_node_per_minute:g} a minute "
                                  f"(bursts of {limiter.limit.burst:g}); try again later")
                return behaviour(request, context)
            return wrapped

        return guard_handler(handler, guard)


# -- bytes in flight ---------------------------------------------------------------------------------
#: requests at least this big count against the in-flight budget; agents' usual facts are far smaller
LARGE_REQUEST_BYTES = 256 * 1024
BUSY_MESSAGE = "too many large requests in flight; retry later"


class InflightBytes:
    """A budget of request bytes being worked on, overall and per peer.

    Parsing, checking, storing and compiling a facts document costs several times its size in memory,
    so the master bounds how many bytes of large requests it works on at once: a request that would
    go over the overall budget waits up to ``wait`` seconds for others to finish, then is refused; one
    that would go over its own peer's share is refused at once (an agent sends one document at a time:
    a peer over its share is flooding, and waiting would only hold its request longer). A request
    larger than a budget is still let in when nothing else holds that budget, so no request under
    ``max_message_bytes`` is refused forever. ``on_release`` runs (outside the lock) after a large
    request is done: the master gives freed memory back to the system there."""

    def __init__(self, total: int, per_peer: int, wait: float, *,
                 on_release: Callable[[], None] | None = None) -> None:
        self.total = total
        self.per_peer = per_peer
        self.wait = wait
        self.on_release = on_release
        self.in_flight = 0
        self.refused = 0
        self._peers: dict[str, int] = {}
        self._cond = threading.Condition()

    def _fits(self, peer: str, size: int) -> bool:
        held = self._peers.get(peer, 0)
        return ((held == 0 or held + size <= self.per_peer)
                and (self.in_flight == 0 or self.in_flight + size <= self.total))

    def acquire(self, peer: str, size: int) -> bool:
        with self._cond:
            held = self._peers.get(peer, 0)
            if held and held + size > self.per_peer:
                self.refused += 1
                return False
            if not self._cond.wait_for(lambda: self._fits(peer, size), timeout=self.wait):
                self.refused += 1
                return False
            self.in_flight += size
            self._peers[peer] = self._peers.get(peer, 0) + size
            return True

    def release(self, peer: str, size: int) -> None:
        with self._cond:
            self.in_flight -= size
            left = self._peers.pop(peer, 0) - size
            if left > 0:
                self._peers[peer] = left
            self._cond.notify_all()
        if self.on_release is not None:
            self.on_release()


class _SizedRequest:
    """A request with the size it had on the wire (measured before parsing, where it costs nothing)."""

    __slots__ = ("message", "size")

    def __init__(self, message: Any, size: int) -> None:
        self.message = message
        self.size = size


#: the calls whose requests may be large (facts, reports): they get threads of their own
PAYLOAD_METHODS = frozenset({"/bunraku.v1.Master/GetCatalog", "/bunraku.v1.Master/SubmitFacts",
                             "/bunraku.v1.Master/SubmitReport"})


class InflightBytesInterceptor(grpc.ServerInterceptor):
    """Charge each large request to :class:`InflightBytes` while its handler runs; refuse it with
    RESOURCE_EXHAUSTED when there is no room. Put it first: it unwraps the sized request.

    ``payload_threads``, when given, runs the calls that may carry large requests (PAYLOAD_METHODS).
    gRPC receives a request in the thread that handles it, so the size of that pool bounds how many
    such requests are received at once (the others wait in gRPC's flow control, not in memory)."""

    def __init__(self, budget: InflightBytes, addresses: AddressResolver | None = None,
                 payload_threads: futures.ThreadPoolExecutor | None = None) -> None:
        self.budget = budget
        self.addresses = addresses
        self.payload_threads = payload_threads

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        budget = self.budget
        addresses = self.addresses
        pool = self.payload_threads if details.method in PAYLOAD_METHODS else None

        def sized(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
            def measure(data: bytes) -> _SizedRequest:
                return _SizedRequest(deserialize(data) if deserialize is not None else data, len(data))
            return measure

        def guard(behaviour: Callable[..., Any]) -> Callable[..., Any]:
            def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
                size, request = request.size, request.message
                if size < LARGE_REQUEST_BYTES:
                    return behaviour(request, context)
                key = peer_key(context, addresses)
                if not budget.acquire(key, size):
                    log.warning("refused a large request: no room in flight",
                                extra={"fields": {"peer": key, "method": details.method, "bytes": size,
                                                  "in_flight": budget.in_flight}})
                    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, BUSY_MESSAGE)
                try:
                    result = behaviour(request, context)
                except BaseException:
                    budget.release(key, size)
                    raise
                if not isinstance(result, Iterator):
                    budget.release(key, size)
                    return result
                return _release_after(result, lambda: budget.release(key, size))
            if pool is not None:  # gRPC's own hook: the call is received and handled in that pool
                wrapped.experimental_thread_pool = pool  # type: ignore[attr-defined]
            return wrapped

        return guard_handler(handler, guard, sized)


def _release_after(responses: Iterator[Any], release: Callable[[], None]) -> Iterator[Any]:
    try:
        yield from responses
    finally:
        release()


# -- connections -------------------------------------------------------------------------------------
def raise_open_file_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit (every connection is one);
    returns the limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:  # a container may forbid it: serve within the soft limit
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, hard, exc)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


#: open files kept for everything but connections: the store, logs, environments, compile workers
RESERVED_FILES = 128


@dataclass(frozen=True, slots=True)
class ConnectionCaps:
    agents: int  # connections on the agent listener (mutual TLS)
    ca: int  # connections on the certificate-request listener
    ca_per_address: int  # of those, from one client address


def connection_caps(max_connections: int, ca_max_connections: int, ca_per_address: int,
                    open_files: int) -> ConnectionCaps:
    """The configured caps, lowered so that both listeners full still leave files for the rest: the
    agent listener gets at most half of what is not reserved, the certificate listener (three files
    a connection through its guard) at most a quarter."""
    spare = max(open_files - RESERVED_FILES, 64)
    caps = ConnectionCaps(min(max_connections, max(16, spare // 2)), min(ca_max_connections, max(8, spare // 12)),
                          ca_per_address)
    caps = ConnectionCaps(caps.agents, caps.ca, min(caps.ca_per_address, caps.ca))
    if (caps.agents, caps.ca) != (max_connections, ca_max_connections):
        log.warning("only %d open files allowed: at most %d agent and %d certificate-request connections "
                    "(raise the limit, e.g. LimitNOFILE= in the service unit, to allow more)",
                    open_files, caps.agents, caps.ca)
    return caps


def connection_options(*, max_connections: int, handshake_timeout: float, idle_timeout: float,
                       max_age: float | None = None) -> list[tuple[str, int]]:
    """gRPC server options that bound a listener's connections: how many may be open, how long one has
    to finish its TLS handshake (and send its first HTTP/2 frame), how long it may stay without a call,
    and (``max_age``) how long it may live at all. Checked against this gRPC core by the tests."""
    options = [("grpc.max_allowed_incoming_connections", max_connections),
               ("grpc.server_handshake_timeout_ms", int(handshake_timeout * 1000)),
               ("grpc.max_connection_idle_ms", int(idle_timeout * 1000))]
    if max_age:
        options += [("grpc.max_connection_age_ms", int(max_age * 1000)),
                    ("grpc.max_connection_age_grace_ms", int(max_age * 1000))]
    return options


#: how much of a request gRPC takes in before a thread asks for it (the HTTP/2 stream window)
RECEIVE_WINDOW_BYTES = 1024 * 1024


def receive_window_options() -> list[tuple[str, int]]:
    """A fixed receive window for each call. gRPC otherwise widens its windows to what the link can
    carry (BDP probing), and on a fast link takes in whole requests that no thread has asked for yet:
    40 calls of 15 MB on one connection were 600 MB in the master's memory before any was handled.
    1 MiB a round trip still uploads 16 MiB of facts in 16 round trips."""
    return [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", RECEIVE_WINDOW_BYTES)]


def grpc_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes)]


def budget_for(config: Any) -> InflightBytes:
    """The in-flight byte budget of the master's settings; freed memory goes back to the system after
    large requests."""
    from master import heap

    return InflightBytes(config.inflight_bytes, config.inflight_bytes_per_node, config.inflight_wait_seconds,
                         on_release=heap.trim_soon)


def interceptors_for(config: Any, budget: InflightBytes | None = None,
                     addresses: AddressResolver | None = None,
                     payload_threads: futures.ThreadPoolExecutor | None = None) -> list[grpc.ServerInterceptor]:
    """The interceptors the master's settings ask for: the in-flight byte budget (shared by the master's
    listeners), then the rate limit (none if ``rate_limit`` is off)."""
    out: list[grpc.ServerInterceptor] = []
    if budget is not None:
        out.append(InflightBytesInterceptor(budget, addresses, payload_threads))
    limit = RateLimit.parse(getattr(config, "rate_limit", None))
    if limit is not None:
        out.append(RateLimitInterceptor(RateLimiter(limit), addresses))
    return out
