"""Where the dashboard's rollouts pages get their data.

A ``RolloutSource`` has ``list()`` and ``get(id)`` returning plain dicts in the shape of
:func:`master.rollout.view.rollout_status`, the function ``bunraku rollout status`` prints: the controller's
state names, waves numbered from 0 (wave 0 is the canary) and named, nodes with their state, health,
``detail`` (why) and, when they failed, ``report_id``, and the rollout's ``reason``, ``progress`` and
``timeline``. ``list()`` gives each rollout without its nodes and timeline, with its ``progress``.
Without release control the dashboard uses ``EmptyRolloutSource`` and says that no rollout has run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from master.rollout.view import ROLLOUT_STATES as ROLLOUT_STATES  # one vocabulary with the CLI

if TYPE_CHECKING:
    from master.rollout import Rollouts

log = logging.getLogger(__name__)


@runtime_checkable
class RolloutSource(Protocol):
    """The rollouts the dashboard shows, newest first."""

    def list(self) -> list[dict[str, Any]]: ...

    def get(self, rollout_id: str) -> dict[str, Any] | None: ...


class EmptyRolloutSource:
    """No release control yet: no rollouts."""

    def list(self) -> list[dict[str, Any]]:
        return []

    def get(self, rollout_id: str) -> dict[str, Any] | None:
        return None


class StaticRolloutSource:
    """Rollouts given up front (tests, demos, a tool that exports them to a file)."""

    def __init__(self, rollouts: Iterable[Mapping[str, Any]]) -> None:
        self._rollouts = [dict(r) for r in rollouts]

    def list(self) -> list[dict[str, Any]]:
        return list(self._rollouts)

    def get(self, rollout_id: str) -> dict[str, Any] | None:
        return next((r for r in self._rollouts if str(r.get("id")) == rollout_id), None)


class ControllerRolloutSource:
    """The rollouts of release control (:class:`master.rollout.Rollouts`), as ``bunraku rollout status``
    shows them (the same function makes both)."""

    def __init__(self, rollouts: Rollouts) -> None:
        self._rollouts = rollouts

    def list(self) -> list[dict[str, Any]]:
        return self._rollouts.list_all()

    def get(self, rollout_id: str) -> dict[str, Any] | None:
        from master.rollout import RolloutError
        from master.rollout.view import rollout_status

        try:
            return rollout_status(self._rollouts, int(rollout_id))
        except (ValueError, RolloutError):
            return None


def rollout_progress(rollout: Mapping[str, Any]) -> dict[str, Any]:
    """The rollout's nodes counted (``total``, ``waves``, ``states`` and ``health`` by name): the
    controller's ``progress``, or, for a rollout given without it, counted from its waves."""
    if isinstance(rollout.get("progress"), Mapping):
        return dict(rollout["progress"])
    from master.rollout.controller import progress_of

    nodes = [{**n, "wave": w.get("index", i)} for i, w in enumerate(rollout.get("waves") or [])
             for n in (w or {}).get("nodes") or []]
    return progress_of(nodes)
