"""Notifications between masters (master.notify): in-process on SQLite; on the real PostgreSQL at
127.0.0.1:5432, LISTEN/NOTIFY between two stores opened on one schema, delivered at commit, surviving a
terminated listening connection; the record of which master holds a live channel, and "run now" for a
node connected to another master's hub."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from master.live import LiveHub
from master.notify import FleetDispatcher, LiveChannels, Notice, Notifier
from master.store import Store
from tests.master.test_store import PG_DB, PG_HOST, PG_PORT, PG_USER, PgSchema, needs_pg

WAIT = 10.0


def _inbox(notifier: Notifier, channel: str) -> queue.Queue[Notice]:
    got: queue.Queue[Notice] = queue.Queue()
    notifier.subscribe(channel, got.put)
    return got


def _nothing(got: queue.Queue[Notice], seconds: float = 0.5) -> bool:
    try:
        got.get(timeout=seconds)
    except queue.Empty:
        return True
    return False


@pytest.fixture
def pg() -> Iterator[PgSchema]:
    schema = PgSchema()
    try:
        yield schema
    finally:
        schema.drop()


@pytest.fixture
def two_masters(pg: PgSchema) -> Iterator[tuple[Notifier, Notifier]]:
    """Two notifiers, each on its own store opened on one schema, as two masters have them."""
    stores = [Store.open(url=pg.url()), Store.open(url=pg.url())]
    notifiers = [Notifier(stores[0], origin="master-a"), Notifier(stores[1], origin="master-b")]
    try:
        yield notifiers[0], notifiers[1]
    finally:
        for notifier in notifiers:
            notifier.close()
        for store in stores:
            store.close()


def _start(*notifiers: Notifier) -> None:
    for notifier in notifiers:
        notifier.start()
    for notifier in notifiers:
        assert notifier.listening.wait(WAIT), "the listener never started"


# -- SQLite: one master, delivered in-process ------------------------------------------------------------------
def test_sqlite_delivers_in_process_once_the_transaction_committed(tmp_path: Path) -> None:
    with Store.open(path=tmp_path / "store.db") as store:
        notifier = Notifier(store, origin="only")
        got = _inbox(notifier, "tasks")
        notifier.start()
        try:
            notifier.notify("tasks", {"task": 7})
            notice = got.get(timeout=WAIT)
            assert (notice.channel, notice.data, notice.origin) == ("tasks", {"task": 7}, "only")

            def fails(conn: sa.Connection) -> None:
                notifier.notify("tasks", {"task": 8}, conn=conn)
                raise RuntimeError("rolled back")

            with pytest.raises(RuntimeError):
                store._run("test", fails, write=True)
            store._run("test", lambda conn: notifier.notify("tasks", {"task": 9}, conn=conn), write=True)
            assert got.get(timeout=WAIT).data == {"task": 9}  # the rolled-back one was never delivered
            assert _nothing(got)
        finally:
            notifier.close()


# -- PostgreSQL: LISTEN/NOTIFY --------------------------------------------------------------------------------
@needs_pg
def test_a_notification_reaches_the_other_master_with_its_sender(two_masters: tuple[Notifier, Notifier]) -> None:
    a, b = two_masters
    heard_by_b, heard_by_a = _inbox(b, "run"), _inbox(a, "run")
    _start(a, b)
    a.notify("run", {"node": "web01.example.com", "mode": "full"})
    for got in (heard_by_b, heard_by_a):  # every master hears it, the sender too
        notice = got.get(timeout=WAIT)
        assert notice.data == {"node": "web01.example.com", "mode": "full"}
        assert notice.origin == "master-a"
        assert notice["node"] == "web01.example.com"
    with pytest.raises(ValueError, match="at most 7900"):
        a.notify("run", {"node": "x" * 8000})


@needs_pg
def test_a_notification_in_a_transaction_is_heard_at_commit_and_never_after_a_rollback(
        two_masters: tuple[Notifier, Notifier]) -> None:
    a, b = two_masters
    got = _inbox(b, "tasks")
    _start(a, b)
    release = threading.Event()
    heard_before_commit: list[bool] = []

    def slow(conn: sa.Connection) -> None:
        a.notify("tasks", {"task": 1}, conn=conn)
        heard_before_commit.append(not _nothing(got, 1.0))
        release.set()

    a.store._run("test", slow, write=True)
    assert release.is_set() and heard_before_commit == [False]
    assert got.get(timeout=WAIT).data == {"task": 1}

    def fails(conn: sa.Connection) -> None:
        a.notify("tasks", {"task": 2}, conn=conn)
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        a.store._run("test", fails, write=True)
    a.notify("tasks", {"task": 3})
    assert got.get(timeout=WAIT).data == {"task": 3}


@needs_pg
def test_the_listener_survives_a_terminated_connection(two_masters: tuple[Notifier, Notifier]) -> None:
    a, b = two_masters
    got = _inbox(b, "catalogs")
    caught_up = threading.Event()
    b.on_reconnect(caught_up.set)
    _start(a, b)
    first = b.listener_pid
    assert first is not None
    admin = sa.create_engine(f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}")
    try:
        with admin.begin() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar()
    finally:
        admin.dispose()
    assert caught_up.wait(WAIT), "the listener never reconnected"
    assert b.listening.wait(WAIT)
    assert b.listener_pid != first and b.reconnects == 1
    a.notify("catalogs", {"env": "production", "why": "deploy"})
    assert got.get(timeout=WAIT).data == {"env": "production", "why": "deploy"}


@needs_pg
def test_installations_in_other_schemas_do_not_hear_each_other(two_masters: tuple[Notifier, Notifier]) -> None:
    a, _b = two_masters
    other = PgSchema()
    store = Store.open(url=other.url())
    stranger = Notifier(store, origin="elsewhere")
    try:
        got = _inbox(stranger, "run")
        mine = _inbox(a, "run")
        _start(a, stranger)
        assert a.channel_name("run") != stranger.channel_name("run")
        a.notify("run", {"node": "web01.example.com"})
        assert mine.get(timeout=WAIT).data == {"node": "web01.example.com"}
        assert _nothing(got)
    finally:
        stranger.close()
        store.close()
        other.drop()


# -- who holds which channel; run now through another master ----------------------------------------------------
@needs_pg
def test_the_store_records_which_master_holds_a_channel(pg: PgSchema) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    with Store.open(url=pg.url()) as store:
        a = LiveChannels(store, master="master-a", fresh_seconds=30, clock=lambda: now[0])
        b = LiveChannels(store, master="master-b", fresh_seconds=30, clock=lambda: now[0])
        a.opened("web01")
        assert b.holder("web01") == "master-a"
        b.opened("web01")  # the agent moved to master b
        a.closed("web01")  # a's late word of the old channel does not erase b's
        assert a.holder("web01") == "master-b"
        b.refresh(["web02"])  # web01's channel closed on b, web02's opened
        assert (a.holder("web01"), a.holder("web02")) == (None, "master-b")
        now[0] += timedelta(seconds=31)  # master b stopped refreshing: its rows are stale
        assert a.holder("web02") is None
        b.refresh(["web02"])
        assert a.holder("web02") == "master-b"


@needs_pg
def test_run_now_reaches_a_node_connected_to_another_master(two_masters: tuple[Notifier, Notifier]) -> None:
    a, b = two_masters
    hub_a, hub_b = LiveHub(), LiveHub()
    channels_a = LiveChannels(a.store, master=a.origin)
    channels_b = LiveChannels(b.store, master=b.origin)
    hub_b.connect_listeners.append(channels_b.opened)
    hub_b.disconnect_listeners.append(channels_b.closed)
    dispatch_a = FleetDispatcher(hub_a, a, channels_a)
    FleetDispatcher(hub_b, b, channels_b)
    _start(a, b)
    conn = hub_b.connect("web01.example.com")
    assert conn.commands.empty()
    assert dispatch_a.trigger("web01.example.com", mode="incremental", rollout_id=4) is True
    command = conn.commands.get(timeout=WAIT)
    assert (command.kind, command.mode, command.rollout_id) == ("run", "incremental", 4)
    assert dispatch_a.trigger("nowhere.example.com") is False  # no master holds it: deferred
    hub_b.disconnect(conn)
    assert channels_a.holder("web01.example.com") is None
    assert dispatch_a.trigger("web01.example.com") is False
    local = hub_a.connect("web02.example.com")  # the hub's own nodes as before
    assert dispatch_a.trigger("web02.example.com") is True
    assert local.commands.get(timeout=WAIT).kind == "run"


@needs_pg
def test_after_reconnecting_a_master_tells_its_agents_again_what_a_rollout_waits_for(
        two_masters: tuple[Notifier, Notifier]) -> None:
    from master.live import Command

    _a, b = two_masters
    hub = LiveHub()
    hub.on_connect = lambda node: Command("run", "full", 9) if node == "web01.example.com" else None
    FleetDispatcher(hub, b, LiveChannels(b.store, master=b.origin))
    _start(b)
    waiting, idle = hub.connect("web01.example.com"), hub.connect("web02.example.com")
    assert waiting.commands.get_nowait().rollout_id == 9  # on connect, as before
    admin = sa.create_engine(f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}")
    try:
        with admin.begin() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": b.listener_pid})
    finally:
        admin.dispose()
    command = waiting.commands.get(timeout=WAIT)  # a "run" may have been missed meanwhile: sent again
    assert (command.kind, command.rollout_id) == ("run", 9)
    assert idle.commands.empty()
