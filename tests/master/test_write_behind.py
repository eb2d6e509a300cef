"""Bookkeeping writes off the request path (master.store.writebehind): journaled, committed in batches,
bounded, and never lost to kill -9 - on a real SQLite store, with a real process killed."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from master.store import Store, StoreUnavailable
from master.store.writebehind import SUFFIX, Record, WriteBehind, read_segment

ROOT = Path(__file__).resolve().parents[2]
CATALOG = {"resources": [{"type": "File", "title": "/etc/motd", "parameters": {"content": "hi"}}]}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(path=tmp_path / "store.db") as opened:
        yield opened


def _segments(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}"))


def _defer_some(store: Store, nodes: list[str]) -> None:
    for i, node in enumerate(nodes):
        store.defer_facts(node, json.dumps({"i": i, "trusted": {"certname": "forged"}}).encode(),
                          environment="production", drop=("trusted",))
        store.defer_catalog(node, f"digest-{node}", {"version": i}, lambda: json.dumps(CATALOG).encode(),
                            code_id="c1", environment="production", compile_seconds=0.1)
        store.defer_contact(node, group="web")


def test_deferred_writes_are_committed_in_batches_and_their_journal_goes(store: Store, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    assert store.start_write_behind(journal) == 0
    nodes = [f"n{i}.example.com" for i in range(50)]
    _defer_some(store, nodes)
    assert store.settle(10)
    behind = store.write_behind
    assert behind.committed == 150 and behind.commits < 150  # batched: fewer transactions than writes
    assert _segments(journal) == []
    for i, node in enumerate(nodes):
        assert store.get_facts(node) == {"i": i}  # less the key the request dropped
        assert store.get_catalog(node) == {**CATALOG, "version": i}
    statuses = {s.name: s for s in store.node_statuses()}
    assert set(statuses) == set(nodes) and {s.group for s in statuses.values()} == {"web"}
    assert store.stop_write_behind()


def test_writes_acknowledged_before_kill_9_are_committed_at_the_next_start(tmp_path: Path) -> None:
    db, journal = tmp_path / "store.db", tmp_path / "journal"
    Store.open(path=db).close()
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        from master.store import Store
        store = Store.open(path=Path({str(db)!r}))
        store.start_write_behind(Path({str(journal)!r}))
        print("ready", flush=True)
        sys.stdin.readline()
        for i in range(40):
            node = f"k{{i}}.example.com"
            store.defer_facts(node, json.dumps({{"i": i}}).encode(), environment="production")
            store.defer_contact(node)
            print("ack", node, flush=True)  # what a request replies once its writes are deferred
        sys.stdin.read()
    """)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    blocker = sqlite3.connect(db, isolation_level=None)
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline() == "ready\n"
        # the store's write lock is held here, so the child's writer cannot commit anything it queues
        blocker.execute("BEGIN IMMEDIATE")
        child.stdin.write("go\n")
        child.stdin.flush()
        acked = []
        while len(acked) < 40:
            line = child.stdout.readline()
            assert line, "the child ended early"
            acked.append(line.split()[1])
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        child.kill()
    blocker.rollback()
    blocker.close()
    with Store.open(path=db) as store:
        # the kill landed before the writer could commit: nothing of it is in the store...
        assert all(store.get_facts(node) is None for node in acked)
        assert sum(1 for p in _segments(journal) for _ in read_segment(p)) == 80
        # ... and everything acknowledged is, once a master starts on the journal it left
        assert store.start_write_behind(journal) == 80
        assert store.settle(10)
        assert [store.get_facts(node) for node in acked] == [{"i": i} for i in range(40)]
        assert {s.name for s in store.node_statuses()} == set(acked)
        assert _segments(journal) == []


def test_replaying_a_journal_again_changes_nothing(store: Store, tmp_path: Path) -> None:
    """A segment committed just before a kill is committed again at the next start: records are
    idempotent, and an older one never overwrites a newer write."""
    journal = tmp_path / "journal"
    store.start_write_behind(journal)
    store.defer_facts("a.example.com", b'{"old": true}', environment="production")
    frames = b"".join(b"".join(r.frame()) for p in _segments(journal) for r in read_segment(p))
    assert store.settle(10)
    store.stop_write_behind()
    store.save_facts("a.example.com", {"new": True})  # written after the journaled one
    journal.mkdir(exist_ok=True)
    (journal / f"{1:012d}{SUFFIX}").write_bytes(frames)  # as if its removal had not happened
    assert store.start_write_behind(journal) == 1
    assert store.settle(10)
    assert store.get_facts("a.example.com") == {"new": True}
    assert len([s for s in store.node_statuses()]) == 1


def test_an_unchanged_catalog_is_journaled_without_its_document(store: Store, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    journal = tmp_path / "journal"
    store.start_write_behind(journal)
    document = json.dumps(CATALOG).encode()

    def serve(version: int) -> None:
        store.defer_catalog("c.example.com", "d1", {"version": version}, lambda: document, code_id="c1",
                            environment="production")

    serve(1)
    assert store.settle(10)
    behind = store.write_behind
    assert behind.stored_lately("d1")
    with behind._cond:  # hold the writer back while looking at what was queued
        serve(2)
        assert behind._pending[-1].payload == b""
    assert store.settle(10)
    assert store.get_catalog("c.example.com") == {**CATALOG, "version": 2}
    # the document went meanwhile (retention): that record is dropped, and the next one carries it again
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM catalog_history")
        conn.exec_driver_sql("DELETE FROM catalogs")
        conn.exec_driver_sql("DELETE FROM catalog_documents")
    with caplog.at_level(logging.ERROR):
        serve(3)
        assert store.settle(10)
    assert "is no longer stored" in caplog.text and not behind.stored_lately("d1")
    with behind._cond:
        serve(4)
        assert behind._pending[-1].payload == document
    assert store.settle(10)
    assert store.get_catalog("c.example.com") == {**CATALOG, "version": 4}


def test_a_torn_record_at_a_segments_end_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / f"{1:012d}{SUFFIX}"
    whole = [Record("contact", {"node": f"n{i}", "at": "2026-01-01T00:00:00+00:00"}) for i in range(3)]
    data = b"".join(b"".join(r.frame()) for r in whole)
    path.write_bytes(data[: len(data) - 5])  # the process died inside the last write
    with caplog.at_level(logging.WARNING):
        assert [r.meta["node"] for r in read_segment(path)] == ["n0", "n1"]
    assert "never a whole record" in caplog.text
    damaged = bytearray(data)
    damaged[len(b"".join(whole[0].frame())) + 20] ^= 0xFF  # the second record's bytes changed
    path.write_bytes(bytes(damaged))
    assert [r.meta["node"] for r in read_segment(path)] == ["n0"]


def test_the_queue_is_bounded_while_the_store_refuses_writes(store: Store, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    journal = tmp_path / "journal"
    behind = WriteBehind(store, journal, max_records=5)
    store._behind = behind
    refusing = True
    real = store.write_batch

    def write_batch(steps: list) -> None:
        if refusing:
            raise StoreUnavailable("full", "the store's disk is full")
        real(steps)

    monkeypatch.setattr(store, "write_batch", write_batch)
    behind.start()
    for i in range(5):
        store.defer_contact(f"q{i}")
    assert store.settle(0.3) is False  # the writer keeps them, retrying
    assert behind.status()["waiting"] == 5 and behind.status()["error"] == "the store's disk is full"
    from master.dashboard import Metrics

    assert "bunraku_store_writes_waiting 5.0" in Metrics(store).render().decode()
    store.defer_contact("sync.example.com")  # over the bound: written in the request
    assert [s.name for s in store.node_statuses()] == ["sync.example.com"]
    refusing = False
    deadline = time.monotonic() + 15
    while not store.settle(0.5):  # at once while the store refuses: the writer's next attempt clears it
        assert time.monotonic() < deadline, behind.status()
        time.sleep(0.05)
    assert {s.name for s in store.node_statuses()} == {"sync.example.com", *(f"q{i}" for i in range(5))}
    assert _segments(journal) == []


def test_a_record_the_store_rejects_is_dropped_and_the_rest_committed(store: Store, tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    store.start_write_behind(tmp_path / "journal")
    with caplog.at_level(logging.ERROR):
        store.defer_contact("before.example.com")
        store.defer_facts("bad.example.com", b"[1, 2]", environment="production")  # not an object
        store.defer_contact("after.example.com")
        assert store.settle(10)
    assert {s.name for s in store.node_statuses()} == {"before.example.com", "after.example.com"}
    assert "a facts record of bad.example.com was dropped" in caplog.text


def test_a_journal_that_cannot_be_written_means_writes_in_the_request(store: Store, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    store.start_write_behind(journal)
    store.write_behind._next = 10**300  # a segment name too long for the file system: open() fails
    store.defer_contact("direct.example.com")
    assert [s.name for s in store.node_statuses()] == ["direct.example.com"]
    assert store.write_behind.status()["committed"] == 0


def test_stop_commits_what_waits(store: Store, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    store.start_write_behind(journal)
    for i in range(30):
        store.defer_contact(f"s{i}")
    assert store.stop_write_behind()
    assert len(store.node_statuses()) == 30 and _segments(journal) == []
    store.defer_contact("after-stop")  # without write-behind: written at once
    assert len(store.node_statuses()) == 31


def test_journal_files_are_private(store: Store, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    behind = WriteBehind(store, journal)
    behind.start()  # makes the directory
    with behind._cond:  # the writer cannot take the record (and remove its segment) meanwhile
        assert behind.submit(Record("contact", {"node": "p", "at": "2026-01-01T00:00:00+00:00"}))
        (segment,) = _segments(journal)
        assert os.stat(segment).st_mode & 0o777 == 0o600
        assert os.stat(journal).st_mode & 0o777 == 0o700
    behind.close()
