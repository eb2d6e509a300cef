"""Sending spooled reports to the master: which refusals are final, and when to try again.

The master may turn reports away for a while: its rate limit (RESOURCE_EXHAUSTED), a store that is
down, an internal error. None of that is the report's fault, so the report stays in the spool and is
tried again later, after a delay that doubles (with jitter) while attempts make no headway and starts
over when one does. On the rate limit the delivery stops at once: sending the rest would only be
refused too and keep the node's budget empty. Only a refusal that can never succeed sets a report aside.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field

import grpc

from agent.spool import ReportSpool
from agent.status import AgentStatus
from wire.client import CertificateRevoked, ClientError, MasterBusy, MasterClient, MasterUnavailable
from wire.proto import bunraku_pb2 as pb

log = logging.getLogger(__name__)

#: Seconds before the first new attempt; each attempt without headway doubles it, up to MAX_DELAY.
BASE_DELAY = 2.0
MAX_DELAY = 900.0


def final_refusal(exc: Exception) -> str | None:
    """Why the master will never take this report, or None when a later attempt may succeed."""
    if not isinstance(exc, ClientError) or isinstance(exc, (MasterUnavailable, MasterBusy)):
        return None
    if isinstance(exc, CertificateRevoked):
        return f"this node's certificate has been revoked ({exc})"
    if exc.code == grpc.StatusCode.INVALID_ARGUMENT:
        return f"the master refused it as malformed ({exc})"
    if exc.code == grpc.StatusCode.PERMISSION_DENIED:  # a report that names another node
        return f"the master will not take it from this node ({exc})"
    if exc.code == grpc.StatusCode.RESOURCE_EXHAUSTED:  # not the rate limit (MasterBusy): the size limit
        return f"it is larger than the master accepts ({exc})"
    return None


def note_failure(status: AgentStatus, exc: Exception, *, headway: bool = False) -> float:
    """Record a failed attempt; returns the seconds until the next one."""
    failures = 1 if headway else int(status.delivery.get("failures") or 0) + 1
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** min(failures - 1, 30))
    delay = random.uniform(delay / 2, delay)  # agents refused together must not come back together
    status.set_delivery({"failures": failures, "retry_after": time.time() + delay,
                         "rate_limited": isinstance(exc, MasterBusy), "error": str(exc)[:300]})
    return delay


def rate_limited_until(status: AgentStatus) -> float | None:
    """The time (epoch seconds) before which the master asked this node to stay away, or None."""
    delivery = status.delivery
    retry_after = delivery.get("retry_after")
    if delivery.get("rate_limited") and isinstance(retry_after, (int, float)) and retry_after > time.time():
        return float(retry_after)
    return None


@dataclass(slots=True)
class Delivery:
    sent: int = 0
    error: ClientError | None = None  # what stopped it, if anything did
    skipped_until: float | None = None  # not tried: the master's rate limit asked us to wait
    set_aside: list[tuple[str, str]] = field(default_factory=list)


def deliver_spool(client: MasterClient, spool: ReportSpool, status: AgentStatus, *,
                  respect_rate_limit: bool = True) -> Delivery:
    """Send what waits in ``spool`` (disk and memory), oldest first, recording the outcome in ``status``."""
    outcome = Delivery()
    before = spool.depth()
    if not before:
        status.set_delivery(None)
        return outcome
    if respect_rate_limit:
        outcome.skipped_until = rate_limited_until(status)
        if outcome.skipped_until is not None:
            return outcome

    def set_aside(entry: str, reason: str) -> None:
        status.note_set_aside(entry, reason)
        outcome.set_aside.append((entry, reason))

    try:
        outcome.sent = spool.deliver(lambda data: client.call("SubmitReport", pb.ReportRequest(report_json=data)),
                                     final_refusal, set_aside)
    except ClientError as exc:
        outcome.error = exc
        left = spool.depth()
        outcome.sent = before - left - len(outcome.set_aside)
        delay = note_failure(status, exc, headway=outcome.sent > 0)
        log.info("%d report(s) stay in the spool (%s); next attempt in %.0fs", left, exc, delay)
    else:
        status.set_delivery(None)
    status.set_held_in_memory(len(spool.held()))
    return outcome
