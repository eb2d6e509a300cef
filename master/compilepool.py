"""Catalog compilation in a pool of worker processes (the GIL must not cap a multi-core master), with
a catalog cache keyed by (code version, node, facts digest, classification digest).

Workers parse with dsl's parse cache; ``parse_cache`` (a directory) shares parsed files across them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
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


_STORES: dict[str, Any] = {}


def _exported_source(store_url: str, environment: str) -> Any:
    """What other nodes export, read from the master's store (one connection pool per worker)."""
    store = _STORES.get(store_url)
    if store is None:
        from master.store import Store

        store = _STORES[store_url] = Store.open(store_url)

    def source(type_name: str) -> list[dict[str, Any]]:
        return list(store.exported_resources(type_name, environment))

    return source


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str,
                                     separators=(",", ":")).encode("utf-8")).hexdigest()


def compile_job(job: CompileJob) -> bytes:
    """Compile one catalog (in a worker process); returns its JSON, or raises CompileFailure."""
    from dsl.compiler import CompileRequest, compile_catalog
    from dsl.errors import DslError

    try:
        request = CompileRequest.from_cli(manifest=None, node=job.node, facts=job.facts, env_dir=job.env_dir,
                                          environment=job.environment)
        request.classes = dict(job.classes)
        request.parameters = dict(job.parameters)
        request.trusted = job.trusted
        request.code_id = job.code_id
        request.version = job.code_id[:12] if job.code_id else job.version
        if job.store_url:
            request.exported_source = _exported_source(job.store_url, job.environment)
        catalog = compile_catalog(request)
    except DslError as exc:
        raise CompileFailure(exc.format_line()) from None
    except RecursionError:
        raise CompileFailure("manifest nesting too deep") from None
    return catalog.to_json(indent=None).encode("utf-8")


def _warm(parse_cache: str | None) -> int:
    if parse_cache:
        os.environ["BUNRAKU_PARSE_CACHE"] = parse_cache
    import dsl.compiler  # noqa: F401 - import once per worker, before the first request

    return os.getpid()


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
    if user:  # started by root: compile (user-written code) only as the master's user
        import dsl.compiler  # noqa: F401 - loaded while the interpreter's files are surely readable
        _preload_store_drivers()
        from master.privileges import drop_privileges

        drop_privileges(user, [])


class CompilePool:
    def __init__(self, workers: int = 0, *, parse_cache: Path | None = None, cache_size: int = 2000,
                 user: str | None = None) -> None:
        self.user = user
        self.workers = workers or os.cpu_count() or 1
        self.parse_cache = str(parse_cache) if parse_cache else None
        if parse_cache:
            parse_cache.mkdir(parents=True, exist_ok=True)
        # spawn, not fork: the master runs gRPC threads, which must not be forked.
        ctx = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                         initargs=(self.parse_cache, self.user))
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._inflight: dict[tuple[str, ...], Future[bytes]] = {}
        self.hits = 0
        self.misses = 0

    def warm(self) -> None:
        """Start every worker and import the compiler there (so the first request is not slow)."""
        futures = [self._pool.submit(_warm, self.parse_cache) for _ in range(self.workers)]
        for f in futures:
            f.result()

    def key(self, job: CompileJob) -> tuple[str, ...]:
        return (job.version, job.node, job.environment, digest(job.facts),
                digest([job.classes, job.parameters, job.trusted]), job.exported_version)

    def compile(self, job: CompileJob, *, use_cache: bool = True, timeout: float = 300.0) -> tuple[bytes, bool]:
        """The catalog JSON and whether it came from the cache; concurrent identical jobs share one run."""
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
                try:
                    future = self._pool.submit(compile_job, job)
                except BrokenProcessPool:
                    self._replace_pool()
                    future = self._pool.submit(compile_job, job)
                if use_cache:
                    self._inflight[key] = future
            self.misses += 1
        try:
            data = future.result(timeout=timeout)
        except BrokenProcessPool:  # a worker was killed (OOM killer, kill -9): start fresh ones
            with self._lock:
                self._replace_pool(broken=future)
            raise CompileFailure("a compile worker died during the compilation; the next attempt "
                                 "uses a new one") from None
        except TimeoutError:
            raise CompileFailure(f"the compilation took longer than {timeout:g} s") from None
        finally:
            if owner and use_cache:
                with self._lock:
                    self._inflight.pop(key, None)
        if owner and use_cache and self.cache_size:
            with self._lock:
                self._cache[key] = data
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return data, False

    def _replace_pool(self, broken: Future[bytes] | None = None) -> None:
        """(Lock held.) Replace a broken executor, once: concurrent callers see the new one."""
        if broken is not None and not getattr(self._pool, "_broken", False):
            return  # already replaced by another caller
        log.warning("compile pool broken; starting new workers")
        self._pool.shutdown(wait=False, cancel_futures=True)
        ctx = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                         initargs=(self.parse_cache, self.user))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
