"""Release control: staged rollouts of a commit with canaries, batches, a fleet-wide concurrency
limit, health checks, a failure budget and rollback. See :mod:`master.rollout.controller`."""

from master.rollout.controller import Dispatcher, NoDispatcher, RolloutError, Rollouts
from master.rollout.plan import Count, PlanError, RolloutOptions, plan_waves

__all__ = ["Count", "Dispatcher", "NoDispatcher", "PlanError", "RolloutError", "RolloutOptions", "Rollouts",
           "plan_waves"]
