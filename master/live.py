"""The live agent channel: connected agents, heartbeats both ways, "run now" and task commands.

Each connected agent holds one server-streaming ``Live`` call; the master sends it a PING every
``heartbeat_seconds`` and RUN commands when a rollout triggers it. The agent sends its own heartbeats
with the unary ``Heartbeat`` call; both directions count as hearing from it. A node the master has
not heard from for ``timeout`` seconds is not connected: :meth:`LiveHub.trigger` returns False and
the rollout defers it (it gets its assigned release at its next timer run).

A stream holds a server thread while it is open, so at most ``max_agents`` may be open at once; the
others are refused (RESOURCE_EXHAUSTED) and their agents keep running on the timer and retry.

With several masters, each hub knows only the agents connected to it; the store records which master
holds each node's channel (``live_channels``, refreshed every heartbeat). A rollout driven by one master
triggers a node connected to another through a ``run`` notification that master acts on, and counts it
as triggered (:class:`master.notify.FleetDispatcher`); a node no master has heard from lately is deferred.
Task runs reach such nodes the same way (``tasks``, then the other master's dispatcher claims them).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


class LiveRefused(Exception):
    """The hub holds as many channels as it may."""


@dataclass(frozen=True, slots=True)
class Command:
    kind: str                # "ping" | "run" | "task" | "cancel" | "close"
    mode: str = "full"       # run: full | incremental
    rollout_id: int = 0
    task: Any = None         # task, cancel: the fields of the wire's TaskCommand (master.tasks.dispatch)


@dataclass(eq=False)
class Connection:
    node: str
    commands: queue.Queue[Command] = field(default_factory=queue.Queue)
    connected_at: float = field(default_factory=time.monotonic)
    closed: threading.Event = field(default_factory=threading.Event)


class LiveHub:
    """Who is connected, and a way to reach them. Thread-safe; a :class:`master.rollout.Dispatcher`."""

    def __init__(self, *, heartbeat_seconds: float = 10.0, timeout: float = 30.0, max_agents: int = 1000,
                 clock: Callable[[], float] = time.monotonic,
                 on_heartbeat: Callable[[str], None] | None = None,
                 on_connect: Callable[[str], Command | None] | None = None) -> None:
        self.heartbeat_seconds = heartbeat_seconds
        self.timeout = timeout
        self.max_agents = max_agents
        self.clock = clock
        self.on_heartbeat = on_heartbeat
        self.on_connect = on_connect
        self._lock = threading.Lock()
        self._connections: dict[str, Connection] = {}
        self._heard: dict[str, float] = {}
        self._closed = False
        #: called with the node's name whenever a channel opens (the task dispatcher looks for its runs)
        self.connect_listeners: list[Callable[[str], None]] = []
        #: called with the node's name when its channel closes (and no newer one replaced it)
        self.disconnect_listeners: list[Callable[[str], None]] = []

    # -- the dispatcher side ------------------------------------------------------------------------
    def trigger(self, node: str, mode: str = "full", rollout_id: int = 0) -> bool:
        """Send "run now" to ``node``; False when it is not connected or has been silent too long."""
        with self._lock:
            conn = self._connections.get(node)
            alive = conn is not None and self.clock() - self._heard.get(node, float("-inf")) <= self.timeout
        if conn is None or not alive:
            log.info("live: %s is not connected; it gets its release at its next run", node)
            return False
        conn.commands.put(Command("run", mode, rollout_id))
        log.info("live: told %s to run now (%s)", node, mode)
        return True

    def send(self, node: str, command: Command) -> bool:
        """Queue ``command`` on ``node``'s channel; False when it is not connected (or silent too long)."""
        with self._lock:
            conn = self._connections.get(node)
            alive = conn is not None and self.clock() - self._heard.get(node, float("-inf")) <= self.timeout
        if conn is None or not alive:
            return False
        conn.commands.put(command)
        return True

    def connected(self, node: str) -> bool:
        with self._lock:
            return node in self._connections and \
                self.clock() - self._heard.get(node, float("-inf")) <= self.timeout

    def connected_nodes(self) -> list[str]:
        with self._lock:
            now = self.clock()
            return sorted(n for n in self._connections if now - self._heard.get(n, float("-inf")) <= self.timeout)

    # -- the agent side -------------------------------------------------------------------------------
    def heard_from(self, node: str) -> None:
        with self._lock:
            self._heard[node] = self.clock()
        if self.on_heartbeat is not None:
            try:
                self.on_heartbeat(node)
            except Exception as exc:  # noqa: BLE001 - liveness bookkeeping must not end the channel
                log.warning("live: recording the heartbeat of %s failed: %s", node, exc)

    def connect(self, node: str) -> Connection:
        """Register ``node``'s new channel (replacing an older one of the same node)."""
        with self._lock:
            if self._closed:
                raise LiveRefused("the master is shutting down")
            old = self._connections.get(node)
            if old is None and len(self._connections) >= self.max_agents:
                raise LiveRefused(f"the master holds {self.max_agents} live channels already")
            conn = Connection(node)
            self._connections[node] = conn
        if old is not None:
            old.commands.put(Command("close"))
        self.heard_from(node)
        log.info("live: %s connected", node)
        if self.on_connect is not None:
            try:
                pending = self.on_connect(node)
            except Exception as exc:  # noqa: BLE001 - a failed lookup only costs a re-trigger
                log.warning("live: looking up the pending run of %s failed: %s", node, exc)
                pending = None
            if pending is not None:
                conn.commands.put(pending)
        for listener in list(self.connect_listeners):
            try:
                listener(node)
            except Exception as exc:  # noqa: BLE001 - a listener's failure must not refuse the channel
                log.warning("live: a connect listener failed for %s: %s", node, exc)
        return conn

    def disconnect(self, conn: Connection) -> None:
        conn.closed.set()
        with self._lock:
            gone = self._connections.get(conn.node) is conn
            if gone:
                del self._connections[conn.node]
        if gone:
            log.info("live: %s disconnected", conn.node)
            for listener in list(self.disconnect_listeners):
                try:
                    listener(conn.node)
                except Exception as exc:  # noqa: BLE001 - bookkeeping must not break the channel's end
                    log.warning("live: a disconnect listener failed for %s: %s", conn.node, exc)

    def commands(self, conn: Connection, active: Callable[[], bool]) -> Iterator[Command]:
        """What to send down ``conn``: a first PING, then RUN commands and a PING every heartbeat, until
        the call ends (``active`` is False), the agent goes silent, or a newer channel replaces it."""
        try:
            yield Command("ping")
            while active():
                try:
                    command = conn.commands.get(timeout=self.heartbeat_seconds)
                except queue.Empty:
                    command = Command("ping")
                if command.kind == "close":
                    return
                with self._lock:
                    silent = self.clock() - self._heard.get(conn.node, float("-inf")) > self.timeout
                if silent:
                    log.warning("live: %s has been silent for more than %gs; closing its channel",
                                conn.node, self.timeout)
                    return
                yield command
        finally:
            self.disconnect(conn)

    def close(self) -> None:
        """End every channel (the master is stopping)."""
        with self._lock:
            self._closed = True
            conns = list(self._connections.values())
        for conn in conns:
            conn.commands.put(Command("close"))
