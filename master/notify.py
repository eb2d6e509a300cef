"""Notifications between masters sharing one store: "run now", "tasks queued", "catalogs changed".

On PostgreSQL each master holds one dedicated connection that LISTENs on a few channels (``bunraku_run``,
``bunraku_tasks``, ``bunraku_catalogs``) in a background thread, and sends with ``SELECT pg_notify(...)``
through the store's engine: inside the transaction of the change it announces when the caller passes
that transaction's connection (PostgreSQL delivers at commit, so a listener never hears of a change it
cannot read yet), else in one of its own after the change was committed. When the listening connection
drops (PostgreSQL restarted, the backend terminated) the thread reconnects with a growing delay, LISTENs
again, and tells the ``on_reconnect`` callbacks that something may have been missed (the task dispatcher
looks for queued runs, the catalog caches are flushed). Channels carry the store's schema when it is
not ``public``, so installations sharing one database do not hear each other.

On SQLite there is one master: notifications are delivered in-process, after the caller's commit.

A message is a small JSON object (a node name, an environment name), with ``from``: the sending
master's id. Every master handles every message, its own too; handlers are idempotent. Callbacks run
on one thread of their own, in order, never on the listening thread.

:class:`LiveChannels` records which master holds each node's live channel (refreshed while it is open),
so that :class:`FleetDispatcher` can tell a node connected to another master to run now, and count it
as reached.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from master.store.api import AFTER_COMMIT
from master.store.schema import live_channels

if TYPE_CHECKING:
    from master.live import LiveHub
    from master.store import Store

log = logging.getLogger(__name__)

#: the logical channels; on PostgreSQL ``bunraku_<name>`` (with ``_<schema>`` outside ``public``)
CHANNELS = ("run", "tasks", "catalogs")
#: PostgreSQL refuses payloads of 8000 bytes and more; ours are far smaller
MAX_PAYLOAD_BYTES = 7900
#: reconnect delays of the listening connection (seconds): doubled from the first up to the last
RECONNECT_MIN, RECONNECT_MAX = 0.2, 15.0
#: the listening connection's application_name, followed by its channels' prefix (pg_stat_activity shows
#: which backends listen)
LISTENER_NAME = "bunraku-notify"
#: how often an idle listening connection is checked with a query (seconds)
KEEPALIVE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Notice:
    channel: str            # one of CHANNELS
    data: dict[str, Any]    # the message, without "from"
    origin: str             # the sending master's id

    def __getitem__(self, key: str) -> Any:
        return self.data.get(key)


Handler = Callable[[Notice], None]


class Notifier:
    """Send and receive notifications; see the module. ``start()`` opens the listener (PostgreSQL)."""

    def __init__(self, store: Store, *, origin: str) -> None:
        self.store = store
        self.origin = origin
        self.postgres = store.engine.dialect.name == "postgresql"
        self._handlers: dict[str, list[Handler]] = {c: [] for c in CHANNELS}
        self._reconnect: list[Callable[[], None]] = []
        self._inbox: queue.Queue[Notice | Callable[[], None] | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._prefix = "bunraku_"
        #: set while the listening connection is open and LISTENing (PostgreSQL)
        self.listening = threading.Event()
        #: the backend pid of the listening connection (PostgreSQL), for operators and tests
        self.listener_pid: int | None = None
        self.reconnects = 0

    # -- receiving ------------------------------------------------------------------------------------------
    def subscribe(self, channel: str, handler: Handler) -> None:
        if channel not in self._handlers:
            raise ValueError(f"unknown notification channel {channel!r}")
        self._handlers[channel].append(handler)

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """``callback()`` after the listening connection came back: notifications may have been missed."""
        self._reconnect.append(callback)

    def start(self) -> None:
        dispatch = threading.Thread(target=self._dispatch_loop, name="notify-dispatch", daemon=True)
        dispatch.start()
        self._threads.append(dispatch)
        if self.postgres:
            schema = self.store._run("notify schema", lambda c: c.execute(sa.text("SELECT current_schema()")).scalar())
            if schema and schema != "public":
                self._prefix = f"bunraku_{schema}_"[:50]
            listen = threading.Thread(target=self._listen_loop, name="notify-listen", daemon=True)
            listen.start()
            self._threads.append(listen)

    def close(self) -> None:
        self._stop.set()
        self._inbox.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    # -- sending --------------------------------------------------------------------------------------------
    def channel_name(self, channel: str) -> str:
        return self._prefix + channel

    def notify(self, channel: str, data: dict[str, Any] | None = None, *, conn: Connection | None = None) -> None:
        """Tell every master (this one too). With ``conn`` the message goes out when its transaction commits;
        without, at once (call it after the change is committed). Never raises for a store failure: a
        notification only hastens what the masters' polls and timers do anyway."""
        if channel not in self._handlers:
            raise ValueError(f"unknown notification channel {channel!r}")
        message = dict(data or {})
        payload = json.dumps({**message, "from": self.origin}, separators=(",", ":"))
        if len(payload.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"notification on {channel} is {len(payload)} bytes; at most {MAX_PAYLOAD_BYTES}")
        if not self.postgres:
            notice = Notice(channel, message, self.origin)
            if conn is not None:
                conn.info.setdefault(AFTER_COMMIT, []).append(lambda: self._inbox.put(notice))
            else:
                self._inbox.put(notice)
            return
        statement = sa.text("SELECT pg_notify(:channel, :payload)")
        params = {"channel": self.channel_name(channel), "payload": payload}
        if conn is not None:
            conn.execute(statement, params)
            return
        try:
            self.store._run(f"notify {channel}", lambda c: c.execute(statement, params))
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("notify: cannot send on %s: %s", channel, exc)

    # -- the threads ----------------------------------------------------------------------------------------
    def _dispatch_loop(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                return
            if isinstance(item, Notice):
                handlers: list[Any] = [lambda h=h, n=item: h(n) for h in self._handlers[item.channel]]
            else:
                handlers = [item]
            for call in handlers:
                try:
                    call()
                except Exception as exc:  # noqa: BLE001 - one failing handler must not stop the others
                    log.warning("notify: a handler failed: %s", exc)

    def _connect(self) -> Any:
        import psycopg

        engine = self.store.engine
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        conn = psycopg.connect(*args, **{**kwargs, "autocommit": True, "connect_timeout": 10,
                                         "application_name": f"{LISTENER_NAME} {self._prefix}"[:63]})
        for channel in CHANNELS:
            conn.execute(f'LISTEN "{self.channel_name(channel)}"')
        return conn

    def _listen_loop(self) -> None:
        delay = RECONNECT_MIN
        connected_before = False
        while not self._stop.is_set():
            try:
                conn = self._connect()
            except Exception as exc:  # noqa: BLE001 - PostgreSQL down or restarting: try again
                log.warning("notify: cannot listen (%s); trying again in %.1fs", _one_line(exc), delay)
                self._stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX)
                continue
            delay = RECONNECT_MIN
            self.listener_pid = int(conn.info.backend_pid)
            self.listening.set()
            if connected_before:
                self.reconnects += 1
                log.info("notify: listening again; catching up on what may have been missed")
                for callback in self._reconnect:
                    self._inbox.put(callback)
            else:
                log.info("notify: listening on %s", ", ".join(self.channel_name(c) for c in CHANNELS))
            connected_before = True
            try:
                self._receive(conn)
            except Exception as exc:  # noqa: BLE001 - the connection dropped: reconnect
                if not self._stop.is_set():
                    log.warning("notify: the listening connection dropped (%s); reconnecting", _one_line(exc))
            finally:
                self.listening.clear()
                try:
                    conn.close()
                except Exception:  # noqa: BLE001, S110 - closing a dead connection
                    pass

    def _receive(self, conn: Any) -> None:
        names = {self.channel_name(c): c for c in CHANNELS}
        checked = time.monotonic()
        while not self._stop.is_set():
            for note in conn.notifies(timeout=1.0):
                notice = _parse(names.get(note.channel), note.payload)
                if notice is not None:
                    self._inbox.put(notice)
            if time.monotonic() - checked >= KEEPALIVE_SECONDS:
                conn.execute("SELECT 1")  # a connection dropped without a word shows here
                checked = time.monotonic()


def _parse(channel: str | None, payload: str) -> Notice | None:
    if channel is None:
        return None
    try:
        message = json.loads(payload)
    except ValueError:
        log.warning("notify: ignored a message on %s that is not JSON", channel)
        return None
    if not isinstance(message, dict):
        return None
    origin = str(message.pop("from", ""))
    return Notice(channel, message, origin)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- which master holds which live channel --------------------------------------------------------------------
class LiveChannels:
    """The store's record of the live channels open to this master (table ``live_channels``): written when a
    channel opens, refreshed by :meth:`refresh` while it is open, removed when it closes. A row not
    refreshed for ``fresh_seconds`` is stale (its master stopped without a word)."""

    def __init__(self, store: Store, *, master: str, fresh_seconds: float = 30.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.master = master
        self.fresh = timedelta(seconds=fresh_seconds)
        self.clock = clock

    def opened(self, node: str) -> None:
        now = self.clock()

        def work(conn: Connection) -> None:
            done = conn.execute(sa.update(live_channels).where(live_channels.c.node == node)
                                .values(master=self.master, heard_at=now))
            if not done.rowcount:
                conn.execute(sa.insert(live_channels).values(node=node, master=self.master, heard_at=now))

        self.store._run("live channel opened", work, write=True)

    def closed(self, node: str) -> None:
        self.store._run("live channel closed", lambda conn: conn.execute(sa.delete(live_channels).where(
            live_channels.c.node == node, live_channels.c.master == self.master)), write=True)

    def refresh(self, nodes: Iterable[str]) -> None:
        """The channels open here now are ``nodes``: mark them fresh, record missing ones, drop the others."""
        now = self.clock()
        wanted = set(nodes)

        def work(conn: Connection) -> None:
            mine = {r.node for r in conn.execute(sa.select(live_channels.c.node).where(
                live_channels.c.master == self.master)).all()}
            gone = sorted(mine - wanted)
            if gone:
                conn.execute(sa.delete(live_channels).where(live_channels.c.master == self.master,
                                                            live_channels.c.node.in_(gone)))
            kept = sorted(mine & wanted)
            for start in range(0, len(kept), 500):
                conn.execute(sa.update(live_channels).where(live_channels.c.master == self.master,
                                                            live_channels.c.node.in_(kept[start:start + 500]))
                             .values(heard_at=now))
            for node in sorted(wanted - mine):
                done = conn.execute(sa.update(live_channels).where(live_channels.c.node == node)
                                    .values(master=self.master, heard_at=now))
                if not done.rowcount:
                    conn.execute(sa.insert(live_channels).values(node=node, master=self.master, heard_at=now))

        self.store._run("live channels", work, write=True)

    def holder(self, node: str) -> str | None:
        """The master holding ``node``'s channel now (None: no master has heard from it lately)."""
        since = self.clock() - self.fresh
        row = self.store._run("live channel holder", lambda conn: conn.execute(
            sa.select(live_channels.c.master).where(live_channels.c.node == node,
                                                    live_channels.c.heard_at >= since)).first())
        return None if row is None else str(row.master)


class FleetDispatcher:
    """The rollouts' dispatcher with several masters: a node connected here is triggered through the hub
    (:meth:`LiveHub.trigger`); a node whose channel another master holds is told through ``run`` and
    counts as triggered; any other node is offline (False: it gets its release at its next run)."""

    def __init__(self, hub: LiveHub, notifier: Notifier, channels: LiveChannels | None) -> None:
        self.hub = hub
        self.notifier = notifier
        self.channels = channels
        notifier.subscribe("run", self._run_requested)
        if channels is not None:
            notifier.on_reconnect(self._catch_up)

    def trigger(self, node: str, mode: str = "full", rollout_id: int = 0) -> bool:
        if self.channels is None or self.hub.connected(node):
            return self.hub.trigger(node, mode, rollout_id)
        holder = self.channels.holder(node)
        if holder is None or holder == self.channels.master:
            return self.hub.trigger(node, mode, rollout_id)
        self.notifier.notify("run", {"node": node, "mode": mode, "rollout": rollout_id})
        log.info("live: asked master %s to tell %s to run now (%s)", holder, node, mode)
        return True

    def _run_requested(self, notice: Notice) -> None:
        node = notice["node"]
        if not isinstance(node, str) or not self.hub.connected(node):
            return  # another master's agent, or gone: its rollout waits for its report as for any node
        mode = notice["mode"] if notice["mode"] in ("full", "incremental") else "full"
        rollout = notice["rollout"] if isinstance(notice["rollout"], int) else 0
        self.hub.trigger(node, mode, rollout)

    def _catch_up(self) -> None:
        """After the listener reconnected: a ``run`` may have been missed; tell this master's agents that a
        rollout still waits for again (as when their channel opens)."""
        pending_run = self.hub.on_connect
        if pending_run is None:
            return
        for node in self.hub.connected_nodes():
            command = pending_run(node)
            if command is not None:
                self.hub.send(node, command)


def keep_channels_fresh(hub: LiveHub, channels: LiveChannels, stop: threading.Event, every: float) -> None:
    """Refresh this master's rows of ``live_channels`` every ``every`` seconds until ``stop``; clear them at
    the end (the master is stopping: its agents will connect elsewhere)."""
    while not stop.wait(every):
        try:
            channels.refresh(hub.connected_nodes())
        except Exception as exc:  # noqa: BLE001 - the store may be briefly unavailable; try again
            log.warning("live: cannot record the open channels: %s", exc)
    try:
        channels.refresh(())
    except Exception as exc:  # noqa: BLE001 - stale rows expire by themselves
        log.debug("live: cannot clear the open channels: %s", exc)
