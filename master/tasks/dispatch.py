"""Delivery of task runs: the master that holds a node's live channel sends it that node's runs.

Queued runs live in the store, so any master may have taken the request: each master looks for queued
runs of the nodes connected to it - at once when a task is created, cancelled or a run ends on any
master sharing the store (the ``tasks`` notification, :mod:`master.notify`), or a channel opens here,
otherwise every ``poll_seconds`` (one indexed read, the fallback) - claims those that fit the limits
(:meth:`TaskStore.claim`) and sends them. A run whose channel closed between the claim and the send
goes back to the queue. The same pass expires runs whose task expired, fails runs whose agent never
reported, and sends "cancel" for runs being cancelled whose node is connected here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from master.live import Command, LiveHub
from master.notify import Notifier
from master.tasks.store import ClaimedRun, TaskError, TaskStore

log = logging.getLogger(__name__)

#: a running run whose agent has not reported this long after its timeout has failed
LOST_GRACE_SECONDS = 30.0
#: how often a pass also looks for expired and lost runs (seconds)
HOUSEKEEPING_SECONDS = 5.0


class TaskDispatcher:
    """Claims and sends this master's task runs; ``wake()`` makes the next pass happen now."""

    def __init__(self, tasks: TaskStore, hub: LiveHub, *, owner: str,
                 payload: Callable[[ClaimedRun], Mapping[str, Any]],
                 fleet_limit: int | None = None, group_limits: Callable[[], Mapping[str, int]] | None = None,
                 poll_seconds: float = 1.0) -> None:
        self.tasks = tasks
        self.hub = hub
        self.owner = owner
        self.payload = payload
        self.fleet_limit = fleet_limit
        self.group_limits = group_limits or dict
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._cancel_sent: set[tuple[int, str]] = set()
        self._housekept = 0.0
        self._lock = threading.Lock()
        self.notifier: Notifier | None = None
        hub.connect_listeners.append(lambda _node: self._wake.set())

    def listen(self, notifier: Notifier) -> None:
        """Hear of task changes on every master (and look again after missing some), and announce ours."""
        self.notifier = notifier
        notifier.subscribe("tasks", lambda _notice: self._wake.set())
        notifier.on_reconnect(self._wake.set)

    def wake(self) -> None:
        """The tasks changed here (committed): a pass now, here and on the other masters."""
        self._wake.set()
        if self.notifier is not None:
            self.notifier.notify("tasks")

    def loop(self, stop: threading.Event) -> None:
        """Passes until ``stop`` is set: one when woken, at least one every ``poll_seconds``."""
        while not stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if stop.is_set():
                return
            try:
                self.dispatch()
            except Exception as exc:  # noqa: BLE001 - the store may be briefly unavailable; try again
                log.warning("tasks: a delivery pass failed: %s", exc)

    def dispatch(self) -> int:
        """One pass; returns how many runs were sent."""
        with self._lock:  # one pass at a time (the loop, or a caller that wants one now)
            now = time.monotonic()
            if now - self._housekept >= HOUSEKEEPING_SECONDS:
                self._housekept = now
                expired = self.tasks.expire()
                lost = self.tasks.fail_lost(grace=LOST_GRACE_SECONDS)
                if expired or lost:
                    log.info("tasks: %d run(s) expired, %d lost", expired, lost)
            connected = self.hub.connected_nodes()
            if not connected:
                return 0
            self._send_cancels(connected)
            try:
                limits = dict(self.group_limits())
            except Exception as exc:  # noqa: BLE001 - an unreadable groups file: the fleet limit still holds
                log.warning("tasks: group limits unknown (%s); claiming with the fleet's only", exc)
                limits = {}
            sent = 0
            for run in self.tasks.claim(connected, self.owner, fleet_limit=self.fleet_limit, group_limits=limits):
                try:
                    fields = dict(self.payload(run))
                except TaskError as exc:
                    log.warning("tasks: task %d cannot be sent to %s: %s", run.task_id, run.node, exc)
                    self.tasks.fail_run(run.task_id, run.node, str(exc))
                    continue
                if self.hub.send(run.node, Command("task", task=fields)):
                    sent += 1
                    log.info("tasks: sent task %d to %s", run.task_id, run.node,
                             extra={"fields": {"task": run.task_id, "node": run.node, "account": run.account}})
                else:
                    self.tasks.unclaim(run.task_id, run.node)
            return sent

    def _send_cancels(self, connected: list[str]) -> None:
        for task_id, node in self.tasks.cancelling(connected):
            if (task_id, node) in self._cancel_sent:
                continue
            if self.hub.send(node, Command("cancel", task={"task_id": task_id})):
                self._cancel_sent.add((task_id, node))
                log.info("tasks: told %s to cancel task %d", node, task_id)
        if len(self._cancel_sent) > 10000:
            self._cancel_sent.clear()
