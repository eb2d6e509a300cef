"""Pure planning for rollouts: counts given as ``N`` or ``N%``, and the waves a fleet is split into."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

_COUNT = re.compile(r"\A\s*(\d+)\s*(%?)\s*\Z")


class PlanError(ValueError):
    """Rollout options a user gave are invalid (one-line message)."""


@dataclass(frozen=True, slots=True)
class Count:
    """A number of nodes, absolute (``3``) or relative to the fleet (``10%``)."""

    value: int
    percent: bool = False

    @classmethod
    def parse(cls, text: str | int | None, what: str, default: str) -> Count:
        raw = default if text is None else str(text)
        m = _COUNT.match(raw)
        if not m:
            raise PlanError(f"{what} must be a number of nodes or a percentage (e.g. 5 or 10%), not {raw!r}")
        value, pct = int(m.group(1)), m.group(2) == "%"
        if pct and value > 100:
            raise PlanError(f"{what} cannot be more than 100%, not {raw}")
        return cls(value, pct)

    def of(self, total: int) -> int:
        if not self.percent:
            return self.value
        return math.ceil(total * self.value / 100)

    def __str__(self) -> str:
        return f"{self.value}%" if self.percent else str(self.value)


@dataclass(frozen=True, slots=True)
class RolloutOptions:
    canary: Count = field(default_factory=lambda: Count(1))
    batch: Count = field(default_factory=lambda: Count(10, True))
    max_concurrent: int = 5
    max_failures: Count = field(default_factory=lambda: Count(0))
    health_timeout: float = 600.0
    pause_between: float = 0.0
    auto_rollback: bool = False
    incremental: bool = False  # agents apply only what changed since their last good catalog

    @classmethod
    def parse(cls, *, canary: str | int | None = None, batch: str | int | None = None,
              max_concurrent: int | None = None, max_failures: str | int | None = None,
              health_timeout: float | None = None, pause_between: float | None = None,
              auto_rollback: bool = False, incremental: bool = False) -> RolloutOptions:
        opts = cls(
            canary=Count.parse(canary, "--canary", "1"),
            batch=Count.parse(batch, "--batch", "10%"),
            max_concurrent=5 if max_concurrent is None else int(max_concurrent),
            max_failures=Count.parse(max_failures, "--max-failures", "0"),
            health_timeout=600.0 if health_timeout is None else float(health_timeout),
            pause_between=0.0 if pause_between is None else float(pause_between),
            auto_rollback=bool(auto_rollback),
            incremental=bool(incremental),
        )
        if opts.max_concurrent < 1:
            raise PlanError("--max-concurrent must be at least 1")
        if opts.batch.of(100) < 1:
            raise PlanError("--batch must be at least 1 node")
        if opts.health_timeout <= 0:
            raise PlanError("--health-timeout must be positive")
        if opts.pause_between < 0:
            raise PlanError("--pause-between cannot be negative")
        return opts

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("canary", "batch", "max_failures"):
            d[key] = str(getattr(self, key))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RolloutOptions:
        return cls.parse(canary=d.get("canary"), batch=d.get("batch"), max_concurrent=d.get("max_concurrent"),
                         max_failures=d.get("max_failures"), health_timeout=d.get("health_timeout"),
                         pause_between=d.get("pause_between"), auto_rollback=bool(d.get("auto_rollback")),
                         incremental=bool(d.get("incremental")))


def plan_waves(nodes: Sequence[str], options: RolloutOptions) -> list[list[str]]:
    """The canary wave, then batches, over the nodes in a stable order (sorted names)."""
    ordered = sorted(set(nodes))
    total = len(ordered)
    if total == 0:
        return []
    waves: list[list[str]] = []
    canary = min(options.canary.of(total), total)
    if canary:
        waves.append(ordered[:canary])
    rest = ordered[canary:]
    size = max(1, options.batch.of(total))
    for i in range(0, len(rest), size):
        waves.append(rest[i:i + size])
    return waves


def failure_budget(options: RolloutOptions, total: int) -> int:
    """How many failed nodes a rollout tolerates; one more halts it."""
    return options.max_failures.of(total)
