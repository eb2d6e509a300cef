"""Catalog compilation in worker processes (the GIL must not cap a multi-core master), with a catalog
cache keyed by (code version, node, facts digest, classification digest).

Each worker is a process of its own that compiles one catalog at a time, under limits:

- memory: its address space is capped (RLIMIT_AS, ``memory_mb``); a compile that needs more fails with
  "compile of NODE exceeded the worker memory limit of N MiB" and the worker is replaced;
- CPU: a profiling timer interrupts a compile that has used ``cpu_seconds`` of CPU time and names the
  manifest position it was at ("compile of NODE exceeded the CPU limit of Ns at manifests/site.pp:2:3");
  RLIMIT_CPU ends one stuck where the timer cannot reach it (inside a C call);
- wall clock: a worker that has not answered after ``timeout`` seconds is killed and replaced.

A worker that dies or is replaced takes nothing else with it: the others go on compiling. Workers die
with the master (PR_SET_PDEATHSIG; and an idle worker sees its pipe close), so a killed master leaves
no compile process behind.

Workers parse with dsl's parse cache; ``parse_cache`` (a directory) shares parsed files across them.
"""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class CompileFailure(Exception):
    """The manifests do not compile for this node (the message is the compiler's, one line)."""


@dataclass(frozen=True, slots=True)
class CompileJob:
    node: str
    facts: dict[str, Any]
    env_dir: Path
    environment: str
    code_id: str | None
    version: str
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    trusted: dict[str, Any] | None = None
    #: the store's URL, for collecting exported resources (``<<| |>>``) in the worker
    store_url: str | None = None
    #: changes when exported resources change, so cached catalogs that collect them are not reused
    exported_version: str = ""
    #: the facts as the agent sent them (already checked), when ``facts`` is left empty: the worker
    #: parses them itself, so the master neither keeps nor pickles a parsed copy during the compile
    facts_json: bytes | None = None
    #: a digest of the facts for the cache key, when the caller has one (of ``facts_json``)
    facts_digest: str = ""


@dataclass(frozen=True, slots=True)
class Compiled:
    """A compiled catalog as the worker hands it back: the JSON to send, and what the master's store and
    export bookkeeping need, worked out in the worker so the master never parses the catalog again."""

    data: bytes
    #: the store's digest (of the redacted catalog without its per-compilation keys)
    digest: str = ""
    #: the per-compilation keys the digest leaves out (version, catalog_uuid, code_id)
    header: dict[str, Any] = field(default_factory=dict)
    #: the exported resources (``@@``), as JSON text
    exports: str = "[]"
    #: ``data`` holds no secret the store's copy would redact: ``json.loads(data)`` is that copy
    redacted: bool = False


@dataclass(frozen=True, slots=True)
class WorkerLimits:
    memory_mb: int = 2048  # address space of a worker; 0: none
    cpu_seconds: float = 60.0  # CPU time of one compile; 0: none


_STORES: dict[str, Any] = {}


def _exported_source(store_url: str, environment: str) -> Any:
    """What other nodes export, read from the master's store (one connection pool per worker)."""
    store = _STORES.get(store_url)
    if store is None:
        from master.store import Store

        store = _STORES[store_url] = Store.open(store_url, create=False)  # the master made it

    def source(type_name: str) -> list[dict[str, Any]]:
        return list(store.exported_resources(type_name, environment))

    return source


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str,
                                     separators=(",", ":")).encode("utf-8")).hexdigest()


def job_facts(job: CompileJob) -> dict[str, Any]:
    """The facts to compile with: ``job.facts``, or ``job.facts_json`` parsed ($trusted never from facts)."""
    if job.facts_json is None:
        return job.facts
    facts = json.loads(job.facts_json) if job.facts_json else {}
    facts.pop("trusted", None)
    return facts


def _relative(text: str, env_dir: Path) -> str:
    """``text`` with the environment's directory left out of the paths it names: positions read
    ``manifests/site.pp:3:5``, and a client learns nothing of the master's file system."""
    return text.replace(f"{env_dir}{os.sep}", "")


def compile_job(job: CompileJob) -> bytes:
    """Compile one catalog (in a worker process); returns its JSON, or raises CompileFailure."""
    return compile_job_full(job).data


def compile_job_full(job: CompileJob) -> Compiled:
    """Compile one catalog (in a worker process), with its digest and exports; raises CompileFailure."""
    from dsl.compiler import CompileRequest, compile_catalog_document
    from dsl.errors import DslError

    try:
        request = CompileRequest.from_cli(manifest=None, node=job.node, facts=job_facts(job), env_dir=job.env_dir,
                                          environment=job.environment)
        request.classes = dict(job.classes)
        request.parameters = dict(job.parameters)
        request.trusted = job.trusted
        request.confine_files = True  # authors and nodes may not read the master's files
        request.code_id = job.code_id
        request.version = job.code_id[:12] if job.code_id else job.version
        if job.store_url:
            request.exported_source = _exported_source(job.store_url, job.environment)
        doc = compile_catalog_document(request)  # compile_catalog(request).to_dict(), without the objects
    except DslError as exc:
        if isinstance(exc.__context__, MemoryError):  # the compiler's own word for it hides the limit
            raise exc.__context__ from None
        raise CompileFailure(_relative(exc.format_line(), job.env_dir)) from None
    except RecursionError:
        raise CompileFailure("manifest nesting too deep") from None
    from master.store.documents import DIGEST_EXCLUDED_KEYS

    data, digest, redacted = _serialise_full(doc)
    exported = [r for r in doc.get("resources") or [] if isinstance(r, dict) and r.get("exported")]
    return Compiled(data, digest, {k: doc[k] for k in DIGEST_EXCLUDED_KEYS if k in doc},
                    json.dumps(exported, sort_keys=True, default=str), redacted)


def _serialise(doc: dict[str, Any]) -> tuple[bytes, str]:
    data, digest, _redacted = _serialise_full(doc)
    return data, digest


def _serialise_full(doc: dict[str, Any]) -> tuple[bytes, str, bool]:
    """The catalog's JSON to send and its digest (:func:`master.store.documents.catalog_digest`), encoding
    the catalog once where it can: the digest is taken over the canonical JSON of the catalog without its
    per-compilation keys; when no value had to be redacted for it and it holds no rich data, that very
    text, with those keys put back in front, is what is sent (the same document, its keys sorted)."""
    from master.store.documents import DIGEST_EXCLUDED_KEYS, canonical_json, redact_catalog

    redacted = redact_catalog(doc) if _has_secrets(doc) else doc  # (else redact_catalog changes nothing)
    body = _canonical({k: v for k, v in redacted.items() if k not in DIGEST_EXCLUDED_KEYS})
    raw = body.encode("utf-8")
    digest = hashlib.sha256(raw).hexdigest()
    same = redacted is doc or all(a is b for a, b in zip(redacted.get("resources") or (), doc.get("resources") or (),
                                                         strict=True))
    # Puppet's rich data (Deferred, Sensitive, ...: objects tagged "__ptype") is read by the order of its
    # keys, which a sorted text would change; and secrets redacted for the digest must reach the agent
    if not same or '"__ptype"' in body:
        return json.dumps(doc, ensure_ascii=False).encode("utf-8"), digest, same
    header = canonical_json({k: doc[k] for k in DIGEST_EXCLUDED_KEYS if k in doc})
    if header == "{}":
        return raw, digest, True
    if body == "{}":
        return header.encode("utf-8"), digest, True
    # header[:-1] + "," + body[1:], encoded: the body's bytes copied once
    return b"".join((header[:-1].encode("utf-8"), b",", memoryview(raw)[1:])), digest, True


#: :func:`master.store.documents.canonical_json`'s encoder, without its check for circular references (a
#: catalog is a tree: the text is the same, sooner)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
                              check_circular=False)


def _canonical(value: Any) -> str:
    return _CANONICAL.encode(value)


def _has_secrets(doc: dict[str, Any]) -> bool:
    """Whether :func:`master.store.documents.redact_catalog` may hide anything of ``doc``: a resource
    with sensitive parameters, or of a type whose properties are secret."""
    from master.store.documents import TYPE_SENSITIVE_PARAMETERS

    resources = doc.get("resources")
    if not isinstance(resources, list):
        return False
    for resource in resources:
        if not isinstance(resource, dict) or resource.get("sensitive_parameters") or \
                str(resource.get("type", "")).lower() in TYPE_SENSITIVE_PARAMETERS:
            return True
    return False


# -- the worker process ------------------------------------------------------------------------------
class _CpuLimitReached(BaseException):
    """Raised in a worker by the profiling timer. A BaseException, so that no ``except Exception`` of
    the compiler swallows it; it carries the manifest position the compile was at."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def _manifest_position(frames: list[Any]) -> str:
    """The source position of the innermost manifest node being evaluated in ``frames`` (outermost
    first): the evaluator's frames hold the AST nodes they evaluate (other objects carry spans too,
    the resources being built, but say less). Within a frame, the node that starts last is the most
    precise (the statement rather than the block around it)."""
    from dsl.ast import Node

    for frame in reversed(frames):
        nodes = [v for v in frame.f_locals.values() if isinstance(v, Node) and v.span.line > 0]
        if nodes:
            return str(max(nodes, key=lambda n: (n.span.line, n.span.col)).span)
    return ""


def _stack(frame: Any) -> list[Any]:
    """The running frames from the outermost to ``frame``."""
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames[::-1]


def _traceback_frames(exc: BaseException) -> list[Any]:
    """The frames an exception went through, from where it was caught to where it was raised."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


def _on_cpu_limit(signum: int, frame: Any) -> None:
    raise _CpuLimitReached(_manifest_position(_stack(frame)))


PR_SET_PDEATHSIG = 1
#: after a compile with facts or a catalog this big, the worker hands its freed memory back: at once if it
#: last did so TRIM_SECONDS ago or more, else when no job has come for TRIM_SECONDS (a busy worker would
#: otherwise give back, and fault in again, the memory of every compile)
LARGE_PAYLOAD = 256 * 1024
TRIM_SECONDS = 1.0


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when the master dies (Linux), and leave at once if it already
    has. Set after any change of user: such a change clears it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the closed pipe still ends an idle worker
        pass
    if os.getppid() != parent:
        os._exit(0)


def _preload_store_drivers() -> None:
    """Import what opening the store (for exported resources) needs, before privileges are dropped."""
    import sqlite3  # noqa: F401

    import sqlalchemy.dialects.sqlite.pysqlite  # noqa: F401

    import master.store  # noqa: F401

    try:
        import psycopg  # noqa: F401
        import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401
    except ImportError:  # pragma: no cover - PostgreSQL support not installed
        pass


def _init_worker(parse_cache: str | None, user: str | None = None) -> None:
    if parse_cache:
        os.environ["BUNRAKU_PARSE_CACHE"] = parse_cache
    import dsl.compiler  # noqa: F401 - import once per worker, before the first request
    from dsl.gctune import tune_gc

    tune_gc()

    if user:  # started by root: compile (user-written code) only as the master's user
        _preload_store_drivers()
        from master.privileges import drop_privileges

        drop_privileges(user, [])


def _limit_cpu(seconds: float) -> None:
    """Arm the profiling timer for one compile, and RLIMIT_CPU a little beyond it as the backstop."""
    import resource

    signal.setitimer(signal.ITIMER_PROF, seconds)
    used = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(used.ru_utime + used.ru_stime + 2 * seconds + 5)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.getrlimit(resource.RLIMIT_CPU)[1]))


def _unlimit_cpu() -> None:
    import resource

    signal.setitimer(signal.ITIMER_PROF, 0)
    resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, resource.getrlimit(resource.RLIMIT_CPU)[1]))


def worker_main(conn: Connection, parent: int, parse_cache: str | None, user: str | None,
                limits: WorkerLimits) -> None:
    """A compile worker: answers jobs from ``conn`` until it closes (the master stopped or died)."""
    import resource

    from master import heap

    _init_worker(parse_cache, user)
    _die_with_parent(parent)
    heap.tune()
    if limits.memory_mb:
        size = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    if limits.cpu_seconds:
        signal.signal(signal.SIGPROF, _on_cpu_limit)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C on the master's terminal: the master stops us
    conn.send(("ready", os.getpid()))
    trimmed, trim_pending = 0.0, False
    while True:
        try:
            if trim_pending and not conn.poll(TRIM_SECONDS):
                heap.trim()  # idle after large compiles: their memory goes back to the system
                trimmed, trim_pending = time.monotonic(), False
            _kind, job, has_raw = conn.recv()
            if has_raw:
                job = dataclasses.replace(job, facts_json=conn.recv_bytes())
        except (EOFError, OSError):
            return
        large = len(job.facts_json or b"") >= LARGE_PAYLOAD
        data = b""
        meta: tuple[str, dict[str, Any], str, bool] | None = None
        out_of_memory = False
        try:
            if limits.cpu_seconds:
                _limit_cpu(limits.cpu_seconds)
            try:
                compiled = compile_job_full(job)
            finally:
                if limits.cpu_seconds:
                    _unlimit_cpu()
            data, meta = compiled.data, (compiled.digest, compiled.header, compiled.exports, compiled.redacted)
            del compiled
            reply: tuple[str, Any] = ("ok", meta)
        except CompileFailure as exc:
            reply = ("failed", str(exc))
        except _CpuLimitReached as exc:
            reply = ("cpu", _relative(exc.where, job.env_dir))
        except MemoryError as exc:
            out_of_memory = True
            reply = ("memory", _relative(_manifest_position(_traceback_frames(exc)), job.env_dir))
        except Exception as exc:  # noqa: BLE001 - a compiler bug must not end the worker; say what it was
            log.exception("compile of %s failed unexpectedly", job.node)
            reply = ("failed", f"internal error in the compiler ({type(exc).__name__}); the master's log has "
                               "the details")
        del job
        try:
            conn.send(reply)
            if reply[0] == "ok":
                conn.send_bytes(data)
        except (EOFError, OSError):
            return
        if large or len(data) >= LARGE_PAYLOAD:
            if time.monotonic() - trimmed >= TRIM_SECONDS:
                heap.trim()  # a large compile's memory goes back to the system before the next one
                trimmed, trim_pending = time.monotonic(), False
            else:
                trim_pending = True
        data = b""
        if out_of_memory:
            return  # its heap may be in pieces: the master starts a fresh worker in its place


# -- the master's side ---------------------------------------------------------------------------------
class _Worker:
    def __init__(self, process: Any, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.pid: int = process.pid

    def kill(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


class CompilePool:
    def __init__(self, workers: int = 0, *, parse_cache: Path | None = None, cache_size: int = 2000,
                 user: str | None = None, limits: WorkerLimits | None = None, timeout: float = 300.0) -> None:
        self.user = user
        self.workers = workers or os.cpu_count() or 1
        self.parse_cache = str(parse_cache) if parse_cache else None
        if parse_cache:
            parse_cache.mkdir(parents=True, exist_ok=True)
        self.limits = limits or WorkerLimits()
        self.timeout = timeout
        # spawn, not fork: the master runs gRPC threads, which must not be forked
        self._mp = multiprocessing.get_context("spawn")
        # Workers are started from this one long-lived thread: the kernel's parent-death signal fires
        # when the thread that started a process ends, and request threads may come and go.
        self._starter = ThreadPoolExecutor(1, thread_name_prefix="compile-workers")
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()  # idle or busy
        self._count = 0  # workers running or starting
        self._cond = threading.Condition()
        self._closed = False
        self._start_failed = False  # the last attempt to start a worker failed
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, ...], Compiled] = OrderedDict()
        self._lock = threading.Lock()
        self._inflight: dict[tuple[str, ...], Future[Compiled]] = {}
        self.hits = 0
        self.misses = 0
        self.replaced = 0

    # -- workers ------------------------------------------------------------------------------------
    def _start_worker(self) -> _Worker:
        """(On the starter thread.) Start one worker and wait until it can compile."""
        here, there = self._mp.Pipe()
        process = self._mp.Process(target=worker_main, name="bunraku-compile", daemon=True,
                                   args=(there, os.getpid(), self.parse_cache, self.user, self.limits))
        process.start()
        there.close()
        worker = _Worker(process, here)
        if not here.poll(120):
            worker.kill()
            raise OSError("a compile worker did not start within 120 s")
        try:
            kind, _pid = here.recv()
        except (EOFError, OSError):
            worker.kill()
            raise OSError(f"a compile worker failed to start (exit status {process.exitcode})") from None
        assert kind == "ready"
        with self._cond:
            self._all.add(worker)
        return worker

    def _add_worker(self) -> None:
        """(On the starter thread.) A new worker, handed to the idle list."""
        try:
            worker = self._start_worker()
        except Exception as exc:  # noqa: BLE001 - logged; the next compile that finds none starts another
            log.error("cannot start a compile worker: %s", exc)
            with self._cond:
                self._count -= 1
                self._start_failed = True
                self._cond.notify_all()
            return
        with self._cond:
            self._start_failed = False
            if self._closed:
                worker.kill()
                self._count -= 1
                return
            self._idle.append(worker)
            self._cond.notify_all()

    def _top_up(self) -> None:
        """(Condition held.) Start workers until there are ``self.workers`` running or starting."""
        while self._count < self.workers and not self._closed:
            self._count += 1
            self._starter.submit(self._add_worker)

    def warm(self) -> None:
        """Start every worker and import the compiler there (so the first request is not slow)."""
        with self._cond:
            missing = self.workers - self._count
            self._count += missing
        started = [self._starter.submit(self._start_worker) for _ in range(missing)]
        for future in started:
            try:
                worker = future.result()
            except Exception:
                with self._cond:
                    self._count -= 1
                raise
            with self._cond:
                self._idle.append(worker)
                self._cond.notify_all()

    def worker_pids(self) -> list[int]:
        with self._cond:
            return sorted(w.pid for w in self._all)

    def _take(self, deadline: float) -> _Worker:
        with self._cond:
            self._top_up()
            while not self._idle:
                left = deadline - time.monotonic()
                if self._closed:
                    raise CompileFailure("the master is shutting down")
                if self._start_failed and not self._all:
                    self._start_failed = False  # the next request tries again
                    raise CompileFailure("no compile worker could be started; the master's log says why")
                if left <= 0:
                    raise CompileFailure(f"no compile worker was free within {self.timeout:g} s")
                self._cond.wait(left)
                self._top_up()
            return self._idle.pop()

    def _give_back(self, worker: _Worker) -> None:
        with self._cond:
            if self._closed:
                worker.kill()
                return
            self._idle.append(worker)
            # one worker for one waiter: with many requests waiting, waking them all for it costs each a
            # thread switch for nothing (any waiter that wakes, notified or timed out, looks at the idle list)
            self._cond.notify()

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self._cond:
            self._all.discard(worker)
            self._count -= 1
            self.replaced += 1
            self._top_up()

    def _run(self, job: CompileJob) -> Compiled:
        """Compile ``job`` on a free worker, within the limits."""
        deadline = time.monotonic() + self.timeout
        worker = self._take(deadline)
        try:
            raw = job.facts_json
            worker.conn.send(("compile", dataclasses.replace(job, facts_json=None) if raw is not None else job,
                              raw is not None))
            if raw is not None:
                worker.conn.send_bytes(raw)
            ready = wait([worker.conn, worker.process.sentinel], max(deadline - time.monotonic(), 0))
            if worker.conn not in ready:
                raise _WorkerLost("timeout" if not ready else "died")
            kind, detail = worker.conn.recv()
            data = worker.conn.recv_bytes() if kind == "ok" else b""
        except (EOFError, OSError):
            kind, detail = "died", None
        except _WorkerLost as lost:
            kind, detail = lost.why, None
        if kind in ("ok", "failed", "cpu"):
            self._give_back(worker)
        else:
            self._replace(worker)
        node = job.node
        if kind == "ok":
            digest_, header, exports, redacted = detail
            return Compiled(data, digest_, header, exports, redacted)
        if kind == "failed":
            raise CompileFailure(detail)
        if kind == "cpu":
            where = f" at {detail}" if detail else ""
            log.warning("compile of %s exceeded the CPU limit%s", node, where)
            raise CompileFailure(f"compile of {node} exceeded the CPU limit of {self.limits.cpu_seconds:g}s{where}")
        if kind == "memory":
            where = f" at {detail}" if detail else ""
            log.warning("compile of %s exceeded the worker memory limit%s; worker replaced", node, where)
            raise CompileFailure(f"compile of {node} exceeded the worker memory limit of "
                                 f"{self.limits.memory_mb} MiB{where}")
        if kind == "timeout":
            log.warning("compile of %s took longer than %g s; worker killed", node, self.timeout)
            raise CompileFailure(f"compile of {node} took longer than {self.timeout:g} s")
        status = worker.process.exitcode
        log.warning("a compile worker died compiling %s (exit status %s); started a new one", node, status)
        if status == -signal.SIGXCPU:
            raise CompileFailure(f"compile of {node} exceeded the CPU limit of {self.limits.cpu_seconds:g}s")
        raise CompileFailure("a compile worker died during the compilation; the next attempt uses a new one")

    # -- compiles -----------------------------------------------------------------------------------
    def key(self, job: CompileJob) -> tuple[str, ...]:
        facts = job.facts_digest
        if not facts:
            facts = hashlib.sha256(job.facts_json).hexdigest() if job.facts_json is not None else digest(job.facts)
        return (job.version, job.node, job.environment, facts, digest([job.classes, job.parameters, job.trusted]),
                job.exported_version)

    def compile(self, job: CompileJob, *, use_cache: bool = True) -> tuple[bytes, bool]:
        """The catalog JSON and whether it came from the cache; concurrent identical jobs share one run."""
        compiled, hit = self.compile_full(job, use_cache=use_cache)
        return compiled.data, hit

    def compile_full(self, job: CompileJob, *, use_cache: bool = True) -> tuple[Compiled, bool]:
        """:meth:`compile`, with the catalog's digest, header and exports as the worker worked them out."""
        key = self.key(job)
        with self._lock:
            if use_cache and self.cache_size:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    self.hits += 1
                    return hit, True
            future = self._inflight.get(key) if use_cache else None
            owner = future is None
            if future is None:
                future = Future()
                if use_cache:
                    self._inflight[key] = future
            self.misses += 1
        if not owner:
            return future.result(), False
        try:
            data = self._run(job)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(data)
        finally:
            if use_cache:
                with self._lock:
                    self._inflight.pop(key, None)
        if use_cache and self.cache_size:
            with self._lock:
                self._cache[key] = data
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return data, False

    def drop(self, environment: str | None = None) -> int:
        """Forget the cached catalogs of ``environment`` (None: all); returns how many were dropped."""
        with self._lock:
            doomed = [k for k in self._cache if environment is None or k[2] == environment]
            for key in doomed:
                del self._cache[key]
        return len(doomed)

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            workers, self._idle = list(self._all), []
            self._all.clear()
            self._cond.notify_all()
        for worker in workers:  # busy ones too: their callers hear that the worker died
            worker.kill()
        self._starter.shutdown(wait=True, cancel_futures=True)


class _WorkerLost(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why
