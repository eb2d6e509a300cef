"""The catalog the master sent, checked before it is used or cached, and the cached copy, set aside
(renamed ``*.corrupt``) when it cannot be read so the next good catalog replaces it."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from engine.catalog import Catalog, CatalogError
from engine.fsutil import atomic_write

log = logging.getLogger(__name__)


def unwrap_catalog(data: Any) -> Any:
    """The catalog in a document: Puppet's catalog JSON as it is, or wrapped in ``{"data": {...}}``
    as some tools and older APIs write it."""
    if isinstance(data, dict) and "resources" not in data and isinstance(data.get("data"), dict):
        return data["data"]
    return data


def parse_catalog(data: bytes | str, certname: str | None = None) -> Catalog:
    """A catalog from JSON (see :func:`unwrap_catalog`), or CatalogError (never another exception) if
    it is malformed, is not valid UTF-8, or names another node. ``bunraku apply --catalog`` reads its
    file with this too."""
    try:
        try:
            document = json.loads(data)
        except ValueError as exc:
            raise CatalogError(f"catalog is not valid JSON: {exc}") from None
        catalog = Catalog.from_dict(unwrap_catalog(document))
    except CatalogError:
        raise
    except RecursionError:
        raise CatalogError("the catalog is nested too deep") from None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise CatalogError(f"malformed catalog: {type(exc).__name__}: {exc}"[:300]) from None
    if certname is not None and catalog.name != certname:
        raise CatalogError(f"the catalog is for {catalog.name!r}, not {certname!r}")
    return catalog


def set_aside(path: Path, reason: str) -> Path | None:
    """Rename an unreadable state file to ``NAME.<time>.corrupt`` (kept for a post-mortem)."""
    target = path.with_name(f"{path.name}.{time.time_ns()}.corrupt")
    try:
        os.replace(path, target)
    except FileNotFoundError:
        return None
    log.warning("%s is corrupt (%s); set aside as %s", path, reason, target.name)
    return target


def save_cached(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(str(path), data, mode=0o600)


def load_cached(path: Path, certname: str | None = None) -> Catalog:
    """The cached catalog; a corrupt one is set aside and CatalogError raised."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return parse_catalog(data, certname)
    except CatalogError as exc:
        set_aside(path, str(exc))
        raise CatalogError(f"the cached catalog was corrupt and has been set aside ({exc})") from None
