"""The store's retention job: reports expired after ``report_ttl``, silent nodes deactivated after
``node_ttl``, deactivated nodes purged after ``node_purge_ttl``, catalog history trimmed, and catalog
documents nothing names any more collected (:meth:`master.store.Store.maintain`).

Masters sharing one store run it one at a time: each pass first takes the ``maintenance`` lease in the
store, and a master that does not hold it skips the pass."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from master.store import Store, StoreError

log = logging.getLogger(__name__)

LEASE = "maintenance"


class Retention:
    def __init__(self, store: Store, config: Any, owner: str) -> None:
        self.store, self.config, self.owner = store, config, owner

    def settings(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`Store.maintain` that the master's settings give."""
        cfg = self.config

        def ttl(seconds: float) -> timedelta | None:
            return timedelta(seconds=seconds) if seconds > 0 else None

        return {"report_ttl": ttl(cfg.report_ttl), "node_ttl": ttl(cfg.node_ttl),
                "node_purge_ttl": ttl(cfg.node_purge_ttl), "history_per_node": cfg.catalog_history_per_node}

    def run_once(self) -> dict[str, int] | None:
        """One pass when this master holds (or can take) the lease; None when another master holds it."""
        cfg = self.config
        # the lease outlives the pass and the wait to the next one: the holder keeps it while it lives
        if not self.store.take_lease(LEASE, self.owner, cfg.store_maintenance_seconds * 2 + 60):
            return None

        gone = self.store.maintain(**self.settings())
        if any(gone.values()):
            log.info("store retention: %s", ", ".join(f"{v} {k}" for k, v in gone.items() if v))
        return gone

    def loop(self, stop: threading.Event, first_delay: float = 60.0) -> None:
        """Run a pass every ``store_maintenance_seconds`` until ``stop`` is set (the first after
        ``first_delay``, so a starting master serves its agents first)."""
        delay = first_delay
        while not stop.wait(delay):
            delay = self.config.store_maintenance_seconds
            try:
                self.run_once()
            except StoreError as exc:  # unavailable for a moment: the next pass tries again
                log.warning("store retention: %s", exc)
