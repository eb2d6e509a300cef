"""Rollouts of the agent itself: ``bunraku agent-upgrade start VERSION``.

An agent version is an artifact ``bunraku-agent VERSION`` (a wheel or a zipapp of Bunraku, pushed with
``bunraku artifact push``). Rolling it out is an ordinary rollout (waves, canaries, ``max_concurrent``,
health timeout, failure budget, rollback) whose environment is ``agent:bunraku`` and whose release is the
version. A node's assigned version rides on every catalog reply it gets (:func:`offer_for`); the agent
stages it, hands over to it and keeps it only if it reports within the rollout's health timeout
(:mod:`agent.upgrade`). The node succeeds on a report written by the new version and fails on one that
says the version could not be staged or failed its trial; rolling back assigns the version each node ran
before (from its facts), which the agent still has on disk.

Only Bunraku agents take part: Puppet agents (no ``bunraku_version`` fact) are left out of the rollout.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from master.store.schema import node_releases, rollouts

if TYPE_CHECKING:
    from master.service import MasterContext, Peer

log = logging.getLogger(__name__)

AGENT_APP = "bunraku-agent"
ROLLOUT_ENVIRONMENT = "agent:bunraku"
DEFAULT_DEADLINE = 600.0


def _assigned(conn: Connection, node: str) -> tuple[str, float] | None:
    row = conn.execute(sa.select(node_releases.c.code_id, rollouts.c.options)
                       .select_from(node_releases.outerjoin(rollouts, rollouts.c.id == node_releases.c.rollout_id))
                       .where(node_releases.c.node == node,
                              node_releases.c.environment == ROLLOUT_ENVIRONMENT)).first()
    if row is None:
        return None
    options = row.options if isinstance(row.options, dict) else {}
    return str(row.code_id), float(options.get("health_timeout") or DEFAULT_DEADLINE)


def offer_for(ctx: MasterContext, node: str) -> dict[str, Any] | None:
    """The agent version ``node`` should run, with its artifact, or None (no rollout assigned one)."""
    if ctx.rollouts is None:
        return None
    # one primary-key lookup per catalog request: a node a rollout just triggered must see its assignment
    assigned = ctx.store._run("agent version assigned", lambda conn: _assigned(conn, node))
    if assigned is None:
        return None
    version, deadline = assigned
    from master.artifacts import _repository

    offer: dict[str, Any] = {"version": version, "deadline_seconds": deadline}
    found = _repository(ctx).get(AGENT_APP, version)
    if found is not None and found["yanked"]:
        # withdrawn: no node switches to it, not even one that staged it before the yank
        return None
    if found is not None:
        offer.update(sha256=found["sha256"], size=found["size"], filename=found["filename"])
    return offer


def agent_version_of(facts: Any) -> str | None:
    """The Bunraku version in a node's stored facts (None: not a Bunraku agent, or facts unknown)."""
    if isinstance(facts, dict) and isinstance(facts.get("values"), dict):
        facts = facts["values"]
    if isinstance(facts, dict) and facts.get("bunraku_version"):
        return str(facts["bunraku_version"])
    return None


def start_agent_rollout(ctx: MasterContext, peer: Peer, version: str, environment: str, group: str | None,
                        options: dict[str, Any]) -> dict[str, Any]:
    """Roll agent ``version`` out to the Bunraku agents of ``group`` (and ``environment``, if given)."""
    from master.artifacts import (
        ArtifactError,
        _guarded,
        _service_error,
        available,
        check_name,
        rollout_options,
    )
    from master.service import _kick, _require_rollouts, _rollouts, require_role, rollout_status

    try:
        check_name("version", version)
    except ArtifactError as exc:
        raise _service_error("invalid_argument", str(exc)) from None
    require_role(peer, "operator", group, what="start an agent upgrade")
    rollouts = _require_rollouts(ctx)
    opts = rollout_options(options, drop=("force", "incremental"))
    available(ctx, AGENT_APP, version, what=f"agent build {version}",
              missing=f"no agent build {version}; push it first with `bunraku artifact push {AGENT_APP} {version} "
                      "FILE` (a wheel or a zipapp of Bunraku)")
    statuses = _guarded(ctx.store.node_statuses)
    previous: dict[str, str] = {}
    skipped = 0
    for status in statuses:
        if (environment and status.environment not in (environment, None)) or (group and status.group != group):
            continue
        running = agent_version_of(_guarded(ctx.store.get_facts, status.name))
        if running is None:
            skipped += 1  # a Puppet agent, or a node whose facts are unknown
            continue
        try:  # the node's own word: what a rollback would offer it back, so a version name or nothing
            check_name("version", running)
        except ArtifactError:
            log.warning("agent upgrade: %s says it runs agent %r, which is no version name; left out",
                        status.name, running[:200])
            skipped += 1
            continue
        previous[status.name] = running
    if not previous:
        where = f"group {group}" if group else "the fleet"
        raise _service_error("failed_precondition", f"no Bunraku agent in {where}"
                                                    + (f" (environment {environment})" if environment else "")
                                                    + (f"; {skipped} Puppet agent(s) left out" if skipped else ""))
    rid = _rollouts(rollouts.start, version, ROLLOUT_ENVIRONMENT, options=opts, group=group or None,
                    nodes=sorted(previous), created_by=peer.certname, previous=previous)
    _kick(rollouts, rid)
    log.info("agent upgrade started", extra={"fields": {"rollout": rid, "version": version, "group": group,
                                                        "nodes": len(previous), "by": peer.certname}})
    return rollout_status(ctx, peer, rid)
