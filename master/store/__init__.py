"""The master's store: facts, catalogs, reports and liveness of the fleet, in SQLAlchemy Core.

Backends
    ``Store.open()`` with no URL keeps an embedded SQLite file (``./bunraku.db``, or ``path=``): nothing to
    set up. ``Store.open("postgresql+psycopg://user@host/db")`` (``postgresql://`` works too) lets several
    masters share one store. SQLite runs in WAL mode with a long busy timeout, write transactions start
    with ``BEGIN IMMEDIATE`` and lock contention is retried, so many threads and processes can write at
    once; on PostgreSQL, pooled connections are pinged before use and a connection lost mid-call is retried
    once on a fresh one. Every write is one transaction.

Schema
    Created and upgraded by the store itself: a ``schema_version`` table records the migrations of
    ``migrations.py`` that have run; opening an older store runs the rest (PostgreSQL: under an advisory
    lock, so masters starting together upgrade once). A store newer than this code is refused.

What is kept
    - facts: the latest per node (an older delivery never overwrites a newer one);
    - catalogs: the latest per node, and a history of its distinct digests (first and last seen, code_id);
    - reports: whole documents (Puppet's report shape), plus indexed summary columns and one row per event;
      saving is idempotent on ``transaction_uuid``;
    - nodes: last contact (heartbeat, facts, catalog or report), group, and a pointer to the latest report,
      so that the fleet's status is one query.
    Values are JSON text on SQLite and JSONB on PostgreSQL; times are timezone-aware UTC in and out (a naive
    datetime given to the store is taken as UTC).

Secrets
    Sensitive values never reach the store. Catalogs are stored with the values of each resource's
    ``sensitive_parameters`` (and of properties secret by type, such as a user's ``password``) replaced by
    ``"[redacted]"``, and their digest is taken over that redacted form; the master therefore serves agents
    the catalogs it compiles, never the stored copies. Reports are stored as given: the engine has already
    redacted them.

Errors
    Everything the store raises is a ``StoreError`` with a one-line message ("cannot open store at URL:
    reason" for unusable URLs and paths), fit for the CLI to print without a traceback. Files the store
    creates are private: the SQLite file 0600 (its WAL files inherit that), new directories 0700.

Staying safe (``health``, ``guard``, ``maintenance``)
    A write that fails because the disk is full raises ``StoreUnavailable`` ("full") and the store says so
    in ``write_problem`` until a write succeeds again. An SQLite file deleted or replaced while open is
    noticed (at most a second later, and always before a report is acknowledged): from then on writes
    raise ``StoreUnavailable`` ("gone"). The master opens its store through ``guard.open_for_master``:
    checked, compared with the marker in its state directory, and locked; ``maintenance`` holds what
    ``bunraku store`` (backup, verify, restore, init) does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from master.store.api import NODE_STATUSES, NodeStatus, Store
    from master.store.documents import REDACTED, catalog_digest, redact_catalog
    from master.store.errors import StoreError, StoreMissing, StoreUnavailable
    from master.store.migrations import SCHEMA_VERSION

#: where each name lives: imported on first use, so that ``master.store.documents`` (what the compile
#: workers use to digest catalogs) does not bring SQLAlchemy in with it
_EXPORTS = {
    "NODE_STATUSES": "api", "NodeStatus": "api", "Store": "api",
    "REDACTED": "documents", "catalog_digest": "documents", "redact_catalog": "documents",
    "StoreError": "errors", "StoreMissing": "errors", "StoreUnavailable": "errors",
    "SCHEMA_VERSION": "migrations",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'master.store' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"master.store.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "NODE_STATUSES",
    "REDACTED",
    "SCHEMA_VERSION",
    "NodeStatus",
    "Store",
    "StoreError",
    "StoreMissing",
    "StoreUnavailable",
    "catalog_digest",
    "redact_catalog",
]
