"""The garbage collector's thresholds for a process that compiles catalogs."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Fewer cyclic garbage collections for a process that compiles: a compile allocates hundreds of
    thousands of AST nodes, scopes and resources that live until it ends, and with the default thresholds
    the collector walks them again and again (about a third of a large compile's CPU). Collections still
    run, so nothing piles up in a long-lived compile worker; they run a hundred times less often."""
    gc.set_threshold(100_000, 50, 1000)
