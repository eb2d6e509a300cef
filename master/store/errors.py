"""The store's error types: one root, and the kinds the master treats differently."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot do what was asked; the message is one line, fit for the command line."""


class StoreUnavailable(StoreError):
    """The store takes no writes for now (its disk is full, or its file was deleted or replaced); reads
    may still work. ``reason`` is ``"full"`` or ``"gone"``; the message names no server-side path, so it
    may be sent to clients."""

    def __init__(self, reason: str, problem: str) -> None:
        super().__init__(f"{problem}; try again later")
        self.reason = reason
        self.problem = problem  # what is wrong, without the advice (callers add their own)


class StoreMissing(StoreError):
    """The store has no schema and was asked not to create one."""
