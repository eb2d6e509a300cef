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
from collections.abc import Callable, Mapping
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
    too long, or holds something JSON cannot (NaN, infinities). Iterative: no recursion to exhaust."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise DocumentError(f"{what} has more than {limits.max_nodes} values")
        if isinstance(item, dict):
            if depth > limits.max_depth:
                raise DocumentError(f"{what} is nested deeper than {limits.max_depth} levels")
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise DocumentError(f"{what}: keys must be strings")
                if len(key) > limits.max_string:
                    raise DocumentError(f"{what}: a key is longer than {limits.max_string} characters")
                stack.append((sub, depth + 1))
        elif isinstance(item, list):
            if depth > limits.max_depth:
                raise DocumentError(f"{what} is nested deeper than {limits.max_depth} levels")
            stack.extend((sub, depth + 1) for sub in item)
        elif isinstance(item, str):
            if len(item) > limits.max_string:
                raise DocumentError(f"{what}: a string is longer than {limits.max_string} characters")
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise DocumentError(f"{what}: NaN and infinite numbers are not allowed")
        elif item is not None and not isinstance(item, (bool, int)):
            raise DocumentError(f"{what}: unexpected value of type {type(item).__name__}")


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

    def allow(self, peer: str) -> bool:
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(peer, (self.limit.burst, now))
            tokens = min(self.limit.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            else:
                self.refused += 1
            self._buckets[peer] = (tokens, now)
            while len(self._buckets) > self.max_peers:
                self._buckets.popitem(last=False)
        return allowed


def peer_key(context: grpc.ServicerContext) -> str:
    """The certificate's common name when the peer has one, else its address without the port."""
    try:
        names = context.auth_context().get("x509_common_name")
    except Exception:  # noqa: BLE001 - an insecure or odd transport: fall back to the address
        names = None
    if names:
        return "cn:" + names[0].decode("utf-8", "replace")
    address = context.peer() or "unknown"
    return "addr:" + address.rpartition(":")[0]


def guard_handler(handler: Any, guard: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Any:
    """``handler`` with its unary behaviour (request-response or server-streaming) wrapped by ``guard``;
    what interceptors use to check a call before it runs."""
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(guard(handler.unary_unary),
                                                   handler.request_deserializer, handler.response_serializer)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(guard(handler.unary_stream),
                                                    handler.request_deserializer, handler.response_serializer)
    return handler


class RateLimitInterceptor(grpc.ServerInterceptor):
    """Refuse a peer's calls with RESOURCE_EXHAUSTED while its bucket is empty."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        limiter = self.limiter

        def guard(behaviour: Callable[..., Any]) -> Callable[..., Any]:
            def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
                key = peer_key(context)
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


def grpc_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes)]


def interceptors_for(config: Any) -> list[grpc.ServerInterceptor]:
    """The rate-limit interceptor the master's ``rate_limit`` setting asks for (none if it is off)."""
    limit = RateLimit.parse(getattr(config, "rate_limit", None))
    return [RateLimitInterceptor(RateLimiter(limit))] if limit is not None else []
