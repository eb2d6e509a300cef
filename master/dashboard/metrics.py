"""Prometheus metrics of the master, in a registry of their own (never the process-global one).

The master calls ``catalog_compiled(seconds)``, ``compile_failed()`` and ``report_received(status)`` as
things happen; node counts by status and rollouts by state are read from the store and the rollout
source when Prometheus scrapes, so they are never stale and cost nothing in between.
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from master.dashboard.rollouts import ROLLOUT_STATES, EmptyRolloutSource, RolloutSource
from master.store import NODE_STATUSES, Store, StoreError

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Compile times span milliseconds (a tiny catalog) to minutes (a huge one on a busy master).
COMPILE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class _FleetCollector(Collector):
    """Gauges computed at scrape time: nodes by status, rollouts by state."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        if metrics.store is not None:
            started = time.perf_counter()
            nodes = GaugeMetricFamily("bunraku_nodes", "Nodes by their current status.", labels=["status"])
            try:
                counts = Tally(s.status for s in metrics.store.node_statuses(
                    unresponsive_after=metrics.unresponsive_after, now=metrics.now()))
            except StoreError as exc:
                log.warning("metrics: cannot count nodes: %s", exc)
            else:
                for status in NODE_STATUSES:
                    nodes.add_metric([status], counts.get(status, 0))
                yield nodes
            yield GaugeMetricFamily("bunraku_metrics_fleet_scrape_seconds",
                                    "Time spent reading the store for this scrape.",
                                    value=time.perf_counter() - started)
        rollouts = GaugeMetricFamily("bunraku_rollouts", "Rollouts by state.", labels=["state"])
        try:
            by_state = Tally(str(r.get("state", "unknown")) for r in metrics.rollouts.list())
        except Exception:  # a plugged-in source must not break the scrape
            log.exception("metrics: rollout source failed")
            by_state = Tally()
        for state in sorted(set(ROLLOUT_STATES) | set(by_state)):
            rollouts.add_metric([state], by_state.get(state, 0))
        yield rollouts


class Metrics:
    """The master's metrics. Thread-safe: prometheus-client's counters and histograms lock themselves."""

    def __init__(self, store: Store | None = None, *, rollouts: RolloutSource | None = None,
                 unresponsive_after: timedelta = timedelta(hours=1),
                 now: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.rollouts: RolloutSource = rollouts if rollouts is not None else EmptyRolloutSource()
        self.unresponsive_after = unresponsive_after
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._compiled = Counter("bunraku_catalogs_compiled", "Catalogs compiled.", registry=r)
        self._compile_failed = Counter("bunraku_catalog_compile_failures", "Catalog compilations that failed.",
                                       registry=r)
        self._compile_seconds = Histogram("bunraku_catalog_compile_seconds", "Time to compile a catalog.",
                                          buckets=COMPILE_BUCKETS, registry=r)
        self._reports = Counter("bunraku_reports_received", "Reports received, by run status.", ["status"],
                                registry=r)
        for status in ("changed", "unchanged", "failed"):
            self._reports.labels(status)  # present (at 0) before the first report
        self._facts = Counter("bunraku_facts_received", "Fact sets received.", registry=r)
        self._requests = Counter("bunraku_dashboard_requests", "Dashboard requests, by HTTP status class.",
                                 ["code"], registry=r)
        self._up = Gauge("bunraku_master_start_time_seconds", "When the master started (Unix time).",
                         registry=r)
        self._up.set_to_current_time()
        self._store_writable = Gauge("bunraku_store_writable", "1 while the store takes writes; 0 while it is "
                                     "full or its file was deleted or replaced.", registry=r)
        self._store_writable.set_function(lambda: 0.0 if getattr(self.store, "write_problem", None) else 1.0)
        self._writes_waiting = Gauge("bunraku_store_writes_waiting", "Store writes journaled behind the "
                                     "requests and not committed yet (store_write_behind).", registry=r)
        self._writes_waiting.set_function(self._waiting)
        r.register(_FleetCollector(self))

    def _waiting(self) -> float:
        behind = getattr(self.store, "write_behind", None)
        return float(behind.status()["waiting"]) if behind is not None else 0.0

    # -- what the master calls ------------------------------------------------------------------------------

    def catalog_compiled(self, seconds: float) -> None:
        self._compiled.inc()
        self._compile_seconds.observe(max(0.0, seconds))

    def compile_failed(self) -> None:
        self._compile_failed.inc()

    def report_received(self, status: str) -> None:
        self._reports.labels(status if status in ("changed", "unchanged", "failed") else "other").inc()

    def facts_received(self) -> None:
        self._facts.inc()

    def dashboard_request(self, code: int) -> None:
        self._requests.labels(f"{code // 100}xx").inc()

    # -- exposition -------------------------------------------------------------------------------------

    def render(self) -> bytes:
        """The text exposition format, as /metrics serves it."""
        return generate_latest(self.registry)
