"""Give memory freed after large requests back to the system (glibc's allocator).

A 16 MiB facts document costs the master a few hundred MB while it is parsed, checked and stored.
Left alone, glibc keeps much of that: it raises its mmap threshold after the first big buffer is
freed (so later big buffers come from its heaps and stay there), and it keeps a heap per thread
arena (up to eight per core). So the master fixes the mmap threshold (big buffers are always mapped,
and unmapped when freed), bounds the number of arenas, and trims the heaps after large requests.
Elsewhere (musl, macOS) these are no-ops.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

#: buffers at least this big are mapped on their own, so freeing one gives its memory back at once
MMAP_THRESHOLD = 256 * 1024
#: at most this many malloc arenas (glibc's default is eight per core; each keeps its own free memory)
ARENA_MAX = 4
#: trims happen at most this often (a trim walks every heap)
TRIM_INTERVAL = 1.0


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()
_lock = threading.Lock()
_last_trim = 0.0
_pending: threading.Timer | None = None


def tune() -> bool:
    """Set the allocator up for a process that handles large requests; True when it could."""
    if _LIBC is None:
        return False
    ok = all(_LIBC.mallopt(option, value) == 1 for option, value in (
        (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, 4 * MMAP_THRESHOLD), (_M_ARENA_MAX, ARENA_MAX)))
    if not ok:
        log.debug("mallopt refused a setting; the allocator keeps its defaults")
    return ok


def trim() -> None:
    """Hand the free memory of every heap back to the system now."""
    global _last_trim
    if _LIBC is None:
        return
    with _lock:
        _last_trim = time.monotonic()
    _LIBC.malloc_trim(0)


def trim_soon() -> None:
    """Trim after a large request: now if the last trim was a while ago, else once the interval is up
    (so a flood of large requests costs one trim a second, not one each)."""
    global _pending
    if _LIBC is None:
        return
    with _lock:
        wait = _last_trim + TRIM_INTERVAL - time.monotonic()
        if wait > 0:
            if _pending is None or not _pending.is_alive():
                _pending = threading.Timer(wait, trim)
                _pending.daemon = True
                _pending.start()
            return
    trim()
