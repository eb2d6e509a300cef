"""Where the dashboard's rollouts page gets its data.

Release control (rolling a new code version out in waves) plugs in here later: anything with ``list()`` and
``get(id)`` returning plain dicts of the shape below is a ``RolloutSource``. Until then the dashboard uses
``EmptyRolloutSource`` and the page says that no rollout has run.

A rollout::

    {"id": "r-42", "rev": "3f2a9c1", "env": "production", "state": "running",
     "waves": [{"nodes": [{"name": "web01", "state": "done", "health": "healthy"}, ...]}, ...]}

Optional keys the page shows when present: ``started``, ``finished`` (ISO 8601 text), ``name`` of a wave.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

ROLLOUT_STATES = ("pending", "running", "paused", "done", "failed", "aborted")


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
    """The rollouts of release control (:class:`master.rollout.Rollouts`) in the dashboard's shape."""

    _STATES = {"completed": "done", "halted": "failed", "rolled_back": "failed", "rolling_back": "running"}
    _NODE_STATES = {"succeeded": "done", "triggered": "running", "rolling_back": "running",
                    "rollback_pending": "pending", "rolled_back": "rolled back", "rollback_failed": "failed"}

    def __init__(self, rollouts: Any) -> None:
        self._rollouts = rollouts

    def _shape(self, r: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(r["id"]), "rev": r["code_id"], "env": r["environment"],
            "state": self._STATES.get(r["state"], r["state"]), "started": r.get("created_at"),
            "group": r.get("group"), "reason": r.get("reason"),
        }
        if r["state"] in ("completed", "halted", "aborted", "rolled_back"):
            out["finished"] = r.get("updated_at")
        if "waves" in r:
            out["waves"] = [{
                "name": "canary" if w["index"] == 0 else f"batch {w['index']}",
                "nodes": [{"name": n["name"], "state": self._NODE_STATES.get(n["state"], n["state"]),
                           "health": n.get("health") or "unknown"} for n in w["nodes"]],
            } for w in r["waves"]]
        return out

    def list(self) -> list[dict[str, Any]]:
        return [self._shape(r) for r in self._rollouts.list_all()]

    def get(self, rollout_id: str) -> dict[str, Any] | None:
        try:
            return self._shape(self._rollouts.get(int(rollout_id)))
        except (ValueError, LookupError):
            return None
        except Exception as exc:  # noqa: BLE001 - an unknown id is the controller's RolloutError
            log.debug("rollout %s: %s", rollout_id, exc)
            return None


def rollout_progress(rollout: Mapping[str, Any]) -> dict[str, int]:
    """Counts of the rollout's nodes by state and by health (``state:done``, ``health:healthy``, ``total``)."""
    counts: dict[str, int] = {"total": 0}
    for wave in rollout.get("waves") or []:
        for node in (wave or {}).get("nodes") or []:
            counts["total"] += 1
            for key in ("state", "health"):
                value = node.get(key)
                if value:
                    counts[f"{key}:{value}"] = counts.get(f"{key}:{value}", 0) + 1
    return counts
