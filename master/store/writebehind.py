"""Bookkeeping writes off the request path: a journal on disk, a bounded queue, group commits.

A catalog request leaves three small records behind it - the node's facts, the catalog it was served and
its contact - and none of them decides the answer. With write-behind on (the master's default), the
request thread appends each record to a journal segment in the master's vardir and queues it; one writer
thread commits whatever has queued in one transaction (one commit for many requests under load, at once
when idle) and deletes the segment once its records are in the store.

Nothing acknowledged is lost to ``kill -9``: a record is in the journal (the kernel's page cache, which
outlives the process) before the reply that depends on it is sent, and a master that starts finds the
segments a dead one left and commits them first. Every record is idempotent and carries the time it was
taken (an older record never overwrites a newer one), so a segment committed just before the kill and
committed again after it changes nothing.

Bounded: past ``max_bytes`` or ``max_records`` waiting (the store is slow or down), and when the journal
cannot be written (its disk is full), a record is written in the request as before, never queued without
limit. Readers in this process that must see what was just written (an operator's question, a report
that follows its catalog) call :meth:`WriteBehind.settle` first.

Segment format: records ``MAGIC | meta length | payload length | crc32 | meta JSON | payload``, the payload
being the facts or catalog JSON as it came, so nothing is serialised again on the request path. A torn
record at a segment's end (the process died inside that write, before it replied) is ignored.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from master.store.errors import StoreError, StoreUnavailable

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from master.store.api import Store

log = logging.getLogger(__name__)

MAGIC = b"\xb7K"
_HEAD = struct.Struct(">2sIII")
SUFFIX = ".journal"
#: records waiting, at most (beyond it, writes happen in the request again)
MAX_RECORDS = 20_000
#: bytes of records waiting, at most
MAX_BYTES = 128 * 1024 * 1024
#: records per transaction, at most
BATCH_RECORDS = 500
#: catalog digests remembered as committed
STORED_DIGESTS = 20_000
#: the longest pause between two attempts while the store refuses writes (seconds)
RETRY_MAX_SECONDS = 5.0


@dataclass(slots=True)
class Record:
    """One bookkeeping write: ``kind`` is ``facts``, ``catalog`` or ``contact``; ``meta`` its JSON fields
    (node, at, ...); ``payload`` the facts or redacted catalog as JSON text (empty for a contact)."""

    kind: str
    meta: dict[str, Any]
    payload: bytes = b""
    size: int = field(default=0)

    def frame(self) -> list[bytes]:
        """The record as the journal keeps it, in pieces (written with one ``writev``, not copied)."""
        meta = json.dumps({"kind": self.kind, **self.meta}, separators=(",", ":")).encode()
        crc = zlib.crc32(self.payload, zlib.crc32(meta))
        return [_HEAD.pack(MAGIC, len(meta), len(self.payload), crc), meta, self.payload]

    def work(self, store: Store) -> Callable[[Connection], None]:
        """What the record does, as a step of a store transaction."""
        m = self.meta
        at = datetime.fromisoformat(m["at"])
        if self.kind == "facts":
            return store.facts_work(m["node"], facts_document(self.payload, m.get("drop")),
                                    environment=m["environment"], at=at)
        if self.kind == "catalog":
            payload, digest = self.payload, m["digest"]

            def document() -> bytes:
                if not payload:  # left out as stored already, and removed since (retention)
                    raise ValueError(f"catalog {digest[:12]} is no longer stored")
                return payload

            return store.catalog_work(m["node"], digest, m["header"], document, code_id=m["code_id"],
                                      environment=m["environment"], at=at, compile_seconds=m.get("seconds"))
        if self.kind == "contact":
            return store.contact_work(m["node"], at=at, group=m.get("group"))
        raise ValueError(f"unknown journal record kind {self.kind!r}")


def facts_document(payload: bytes, drop: list[str] | None) -> dict[str, Any]:
    """Facts as a record holds them: their JSON text, less the top-level keys ``drop``."""
    document = json.loads(payload)
    if not isinstance(document, dict):
        raise ValueError("facts are not a JSON object")
    for key in drop or ():
        document.pop(key, None)
    return document


def read_segment(path: Path) -> Iterator[Record]:
    """The whole records of a segment, in order; a torn or damaged tail ends it."""
    data = path.read_bytes()
    offset = 0
    while offset + _HEAD.size <= len(data):
        magic, meta_len, payload_len, crc = _HEAD.unpack_from(data, offset)
        start = offset + _HEAD.size
        end = start + meta_len + payload_len
        if magic != MAGIC or end > len(data):
            break
        meta_bytes, payload = data[start:start + meta_len], data[start + meta_len:end]
        if zlib.crc32(payload, zlib.crc32(meta_bytes)) != crc:
            break
        meta = json.loads(meta_bytes)
        yield Record(meta.pop("kind"), meta, payload, end - offset)
        offset = end
    if offset != len(data):
        log.warning("store journal %s: %d bytes at its end were never a whole record (ignored)", path,
                    len(data) - offset)


def _coalesced(records: list[Record]) -> list[Record]:
    """The batch to commit: contacts of one node (and group) reduced to the latest; the rest as they came,
    ordered by node (so that two masters' batches take the nodes' row locks in one order)."""
    latest: dict[tuple[str, str | None], Record] = {}
    out: list[Record] = []
    for record in records:
        if record.kind != "contact":
            out.append(record)
            continue
        key = (record.meta["node"], record.meta.get("group"))
        seen = latest.get(key)
        if seen is None:
            latest[key] = record
            out.append(record)
        elif record.meta["at"] > seen.meta["at"]:
            seen.meta["at"] = record.meta["at"]
    out.sort(key=lambda r: r.meta["node"])  # stable: one node's records keep their order
    return out


class WriteBehind:
    """The journal and the writer thread of one store (see the module docstring)."""

    def __init__(self, store: Store, directory: Path, *, max_records: int = MAX_RECORDS,
                 max_bytes: int = MAX_BYTES) -> None:
        self.store = store
        self.directory = directory
        self.max_records, self.max_bytes = max_records, max_bytes
        self._cond = threading.Condition()
        self._pending: list[Record] = []
        self._pending_bytes = 0
        self._sealed: list[Path] = []  # segments whose records are all queued (or being committed)
        self._fd: int | None = None
        self._segment: Path | None = None
        self._next = 0
        self._submitted = 0  # records queued so far, and committed (or given up) so far
        self._done = 0
        self._in_flight = 0  # records taken by the writer and not committed yet
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._overflowing = False  # said once per episode: records written in the request
        self._journal_error: str | None = None
        self.last_error: str | None = None
        self.committed = 0  # records committed, and transactions that did it (for status and tests)
        self.commits = 0
        #: digests of catalogs committed lately: a catalog record for one of them is journaled without the
        #: catalog (the common case - a node's catalog did not change - costs no copy of it)
        self._stored: OrderedDict[str, None] = OrderedDict()

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> int:
        """Queue what dead masters left in the journal, then start the writer. Returns how many records
        were found."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        found = 0
        numbers = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            try:
                numbers.append(int(path.stem))
            except ValueError:
                continue
            records = list(read_segment(path))
            found += len(records)
            self._pending.extend(records)
            self._pending_bytes += sum(r.size for r in records)
            self._submitted += len(records)
            self._sealed.append(path)
        self._next = max(numbers, default=0) + 1
        if found:
            log.warning("store journal: %d bookkeeping write(s) left by a master that stopped without "
                        "committing them; committing them now", found)
        self._thread = threading.Thread(target=self._loop, name="store-writer", daemon=True)
        self._thread.start()
        return found

    def close(self, timeout: float = 30.0) -> bool:
        """Commit what is queued (for at most ``timeout`` seconds) and stop; what could not be committed
        stays in the journal for the next start. Returns whether everything was committed."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._cond:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            return self._done >= self._submitted

    # -- the request side ---------------------------------------------------------------------------------------

    def stored_lately(self, digest: str) -> bool:
        """Whether a catalog of ``digest`` was committed lately (then its record may leave the catalog out)."""
        with self._cond:
            return digest in self._stored

    def submit(self, record: Record) -> bool:
        """Journal and queue ``record``; False when it must be written in the request instead (the queue is
        full, the journal cannot be written, or the writer has stopped)."""
        frame = record.frame()
        size = record.size = sum(len(piece) for piece in frame)
        with self._cond:
            if self._stopping:
                return False
            if len(self._pending) + self._in_flight >= self.max_records or \
                    self._pending_bytes + size > self.max_bytes:
                if not self._overflowing:
                    self._overflowing = True
                    log.warning("store writes are behind (%d waiting, %s); writing in the requests until "
                                "they catch up", len(self._pending) + self._in_flight, self.last_error or "busy")
                return False
            if not self._append(frame):
                return False
            self._pending.append(record)
            self._pending_bytes += size
            self._submitted += 1
            self._cond.notify_all()
            return True

    def _append(self, frame: list[bytes]) -> bool:
        """Write ``frame`` to the open segment (opening one); on failure the segment is sealed as it is."""
        try:
            if self._fd is None:
                self._segment = self.directory / f"{self._next:012d}{SUFFIX}"
                self._next += 1
                self._fd = os.open(self._segment, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            written = os.writev(self._fd, frame)
            total = sum(len(piece) for piece in frame)
            if written < total:  # short write: the rest, then (a full disk raises here)
                view = memoryview(b"".join(frame))[written:]
                while view:
                    view = view[os.write(self._fd, view):]
        except OSError as exc:
            if self._journal_error is None:
                log.warning("store journal %s cannot be written (%s); bookkeeping writes happen in the requests "
                            "until it can", self.directory, exc.strerror or exc)
            self._journal_error = exc.strerror or str(exc)
            self._seal()
            return False
        if self._journal_error is not None:
            log.warning("store journal %s is written again", self.directory)
            self._journal_error = None
        return True

    def _seal(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._segment is not None:
            self._sealed.append(self._segment)
            self._segment = None

    def settle(self, timeout: float = 5.0) -> bool:
        """Wait until every record queued before this call is committed (at most ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._submitted
            while self._done < target:
                if self.last_error is not None:  # the store refuses writes: waiting will not help
                    return False
                left = deadline - time.monotonic()
                if left <= 0 or (self._stopping and self._thread is not None and not self._thread.is_alive()):
                    return False
                self._cond.wait(left)
            return True

    def status(self) -> dict[str, Any]:
        with self._cond:
            return {"waiting": len(self._pending) + self._in_flight, "bytes": self._pending_bytes,
                    "committed": self.committed, "commits": self.commits, "error": self.last_error}

    # -- the writer ---------------------------------------------------------------------------------------------

    def _loop(self) -> None:
        delay = 0.05
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending:
                    return
                batch = self._pending[:BATCH_RECORDS]
                del self._pending[:len(batch)]
                self._in_flight = len(batch)
                if not self._pending:  # the open segment's records are all in this batch or before
                    self._seal()
                sealed = list(self._sealed) if not self._pending else []
                stopping = self._stopping
            error = self._commit(batch)
            with self._cond:
                self._in_flight = 0
                if error is None:
                    self._pending_bytes -= sum(r.size for r in batch)
                    self._done += len(batch)
                    self.last_error = None
                    if self._overflowing and len(self._pending) < self.max_records // 2:
                        self._overflowing = False
                        log.warning("store writes caught up")
                    for path in sealed:
                        self._sealed.remove(path)
                        _unlink(path)
                    for record in batch:
                        if record.kind == "catalog" and record.payload:
                            self._stored[record.meta["digest"]] = None
                            self._stored.move_to_end(record.meta["digest"])
                    while len(self._stored) > STORED_DIGESTS:
                        self._stored.popitem(last=False)
                    self._cond.notify_all()
                    delay = 0.05
                    continue
                self._pending[:0] = batch  # first again, after a pause
                self.last_error = error
                self._cond.notify_all()
            if stopping:
                return  # stopping: what is left stays in the journal for the next start
            time.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _commit(self, batch: list[Record]) -> str | None:
        """Commit ``batch`` in one transaction; None, or why the store refused it (then nothing of it was
        committed). A record the store rejects for itself (not for being unavailable) is logged and dropped
        after the others are committed one by one."""
        records = _coalesced(batch)
        try:
            self.store.write_batch([r.work(self.store) for r in records])
        except StoreUnavailable as exc:
            return exc.problem
        except (StoreError, ValueError, KeyError) as exc:
            if len(records) == 1:
                log.error("store journal: a %s record of %s was dropped: %s", records[0].kind,
                          records[0].meta.get("node"), exc)
                if records[0].kind == "catalog":  # its next record carries the catalog again
                    with self._cond:
                        self._stored.pop(records[0].meta.get("digest", ""), None)
                return None
            for record in records:  # find the one at fault
                error = self._commit([record])
                if error is not None:
                    return error
            return None
        except Exception as exc:  # noqa: BLE001 - a fault of ours: keep the records, say so, try again later
            log.exception("store journal: committing %d record(s) failed", len(records))
            return f"{type(exc).__name__}: {exc}"
        self.committed += len(batch)
        self.commits += 1
        return None


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("store journal: cannot remove %s: %s", path, exc.strerror or exc)

