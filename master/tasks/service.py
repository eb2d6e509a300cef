"""What the master does for tasks, as plain functions of (context, peer, request values), like
:mod:`master.service`: the gRPC servicer only translates messages.

Who may run what (one policy, here):

* starting or cancelling a task takes the operator role over the task's group (a role limited to groups
  covers only those; a task given by ``--nodes`` alone needs every node's group covered); reading tasks
  takes the viewer role, and a task of a group the role does not cover answers as one that does not exist;
* the account: ``root`` only for admins; any other account only where the node's group lists it in its
  ``task_accounts`` (the groups file) - on other nodes the run is stored ``refused`` with the reason.
  The agent checks again against its own ``--task-accounts`` and refuses what that does not list.

Every task is stored with its operator (certificate name and role) and logged: the audit trail.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from master.classify import ClassificationError
from master.service import (
    MasterContext,
    Peer,
    ServiceError,
    _node_group,
    _store,
    classify,
    require_role,
)
from master.store.documents import now_utc
from master.tasks import modules
from master.tasks.store import ClaimedRun, TaskError, TaskSpec, TaskStore

if TYPE_CHECKING:
    from master.tasks.dispatch import TaskDispatcher

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT = "root"
DEFAULT_MAX_CONCURRENT = 10
DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 24 * 3600.0
#: how long an offline node may take to come back for its run (seconds)
DEFAULT_EXPIRES_IN = 3600.0
MAX_COMMAND_BYTES = 64 * 1024
_ACCOUNT = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")


def _fields(**kw: Any) -> dict[str, Any]:
    return {"fields": kw}


def _dispatcher(ctx: MasterContext) -> TaskDispatcher:
    dispatcher = ctx.tasks
    if dispatcher is None:
        raise ServiceError("unimplemented", "this master runs no tasks")
    return dispatcher


def _task_store(ctx: MasterContext) -> TaskStore:
    return _dispatcher(ctx).tasks


def _scope(ctx: MasterContext, peer: Peer, group: str | None, nodes: list[str]) -> dict[str, str | None]:
    """node -> its group, for the nodes a task covers (refusing what the operator's role does not cover)."""
    if group:
        require_role(peer, "operator", group, what="run tasks")
        known = {s.name: s.group for s in _store(ctx.store.node_statuses)}
        in_group = sorted(n for n, g in known.items() if g == group)
        if nodes:
            outside = [n for n in nodes if n not in in_group]
            if outside:
                raise ServiceError("invalid_argument", f"node {outside[0]} is not a node of group {group} "
                                                       "(the master has not seen it there)")
            return {n: group for n in nodes}
        if not in_group:
            raise ServiceError("invalid_argument", f"group {group} has no nodes the master has seen; "
                                                   "its agents must run against this master once")
        return {n: group for n in in_group}
    if not nodes:
        raise ServiceError("invalid_argument", "a task needs --group GROUP or --nodes NODE,...")
    role = require_role(peer, "operator", any_group=True, what="run tasks")
    out: dict[str, str | None] = {}
    for node in nodes:
        node_group = _node_group(ctx, node)
        if not role.covers(node_group):
            raise ServiceError("not_found", f"no node {node}")
        out[node] = node_group
    return out


def _refusal(ctx: MasterContext, node: str, account: str) -> str | None:
    """Why ``account`` may not run tasks on ``node`` (None: it may). Root was checked against the role."""
    if account == "root":
        return None
    try:
        cls = ctx.classifier.classify(node)
    except ClassificationError as exc:
        return f"cannot classify {node}: {exc}"
    if account in cls.task_accounts:
        return None
    where = f"group {cls.group}" if cls.group else "no group"
    allowed = ", ".join(cls.task_accounts) or "none"
    return (f"account {account} may not run tasks on {node} ({where}; task_accounts: {allowed}); "
            "add it to the group's task_accounts in the groups file")


def run_task(ctx: MasterContext, peer: Peer, *, group: str | None, nodes: list[str], account: str,
             max_concurrent: int, timeout: float, idempotency_key: str, command: list[str], task: str,
             params: dict[str, str], environment: str, expires_in: float) -> tuple[dict[str, Any], bool]:
    """Start a task (see the module for who may); returns (the task with its runs, created)."""
    store = _task_store(ctx)
    account = account or DEFAULT_ACCOUNT
    if not _ACCOUNT.match(account):
        raise ServiceError("invalid_argument", f"{account!r} is not an account name")
    if bool(command) == bool(task):
        raise ServiceError("invalid_argument", "give a task name or a command after --, not both or neither")
    if command and len(json.dumps(command)) > MAX_COMMAND_BYTES:
        raise ServiceError("invalid_argument", f"the command is longer than {MAX_COMMAND_BYTES} bytes")
    if params and not task:
        raise ServiceError("invalid_argument", "--param is for a module's task; a command takes its own arguments")
    if max_concurrent < 0 or timeout < 0 or expires_in < 0:
        raise ServiceError("invalid_argument", "--max-concurrent, --timeout and --expires-in must not be negative")
    timeout = timeout or DEFAULT_TIMEOUT
    if timeout > MAX_TIMEOUT:
        raise ServiceError("invalid_argument", f"--timeout is at most {MAX_TIMEOUT:g} seconds")
    scope = _scope(ctx, peer, group or None, list(dict.fromkeys(nodes)))
    if account == "root":
        try:
            for node_group in sorted({g or "" for g in scope.values()}):
                require_role(peer, "admin", node_group or None, what="run tasks as root")
        except ServiceError:
            log.warning("refused a task as root", extra=_fields(by=peer.certname, role=str(peer.role),
                                                                 what=task or " ".join(command), group=group))
            raise
    environment = environment or "production"
    typed: dict[str, Any] | None = None
    if task:
        try:
            env = ctx.environments.get(environment)
            found = modules.find_task(env.path, task)
            typed = modules.check_params(found, dict(params))
            task = found.name
        except TaskError as exc:
            raise ServiceError("invalid_argument", str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - EnvError: an environment that does not exist
            raise ServiceError("not_found", f"environment {environment}: {exc}") from None
    runs = {node: (node_group, _refusal(ctx, node, account)) for node, node_group in scope.items()}
    role = peer.role
    spec = TaskSpec(kind="module" if task else "command", account=account, operator=peer.certname,
                    max_concurrent=max_concurrent or DEFAULT_MAX_CONCURRENT, timeout=timeout,
                    expires_at=now_utc() + timedelta(seconds=expires_in or DEFAULT_EXPIRES_IN),
                    command=tuple(command) if command else None, task_name=task or None, params=typed,
                    environment=environment if task else None, group=group or None, nodes=tuple(nodes),
                    idempotency_key=idempotency_key or None, operator_role=str(role) if role else None)
    try:
        task_id, created = _store(store.create, spec, runs)
    except TaskError as exc:
        raise ServiceError("failed_precondition", str(exc)) from None
    refused = sum(1 for _g, why in runs.values() if why)
    log.info("task %s", "created" if created else "re-sent (idempotency key)",
             extra=_fields(task=task_id, by=peer.certname, role=str(role), account=account,
                           what=task or " ".join(command), group=group, nodes=len(runs), refused=refused,
                           key=idempotency_key or None))
    _dispatcher(ctx).wake()
    return task_status(ctx, peer, task_id), created


def _visible(peer: Peer, info: dict[str, Any]) -> bool:
    role = peer.role
    return role is not None and (role.groups is None or role.covers(info.get("group")))


def task_status(ctx: MasterContext, peer: Peer, task_id: int) -> dict[str, Any]:
    require_role(peer, "viewer", any_group=True, what="see tasks")
    info = _store(_task_store(ctx).get, int(task_id))
    if info is None or not _visible(peer, info):
        raise ServiceError("not_found", f"no task {task_id}")
    return info


def list_tasks(ctx: MasterContext, peer: Peer, last: int) -> list[dict[str, Any]]:
    require_role(peer, "viewer", any_group=True, what="list tasks")
    return [t for t in _store(_task_store(ctx).list, last=min(max(1, last or 50), 1000)) if _visible(peer, t)]


def cancel_task(ctx: MasterContext, peer: Peer, task_id: int) -> dict[str, Any]:
    info = task_status(ctx, peer, task_id)
    require_role(peer, "operator", info.get("group"), what="cancel tasks")
    _store(_task_store(ctx).cancel, int(task_id), peer.certname)
    log.info("task cancelled", extra=_fields(task=task_id, by=peer.certname))
    _dispatcher(ctx).wake()
    return task_status(ctx, peer, task_id)


def task_result(ctx: MasterContext, peer: Peer, task_id: int, state: str, *, exit_code: int | None,
                stdout: bytes, stderr: bytes, stdout_truncated: bool, stderr_truncated: bool,
                duration: float | None, reason: str) -> bool:
    """The caller's (an agent's) result of its run of ``task_id``; stored once (False: already stored)."""
    if peer.operator:
        raise ServiceError("permission_denied", "task results come from the node's own agent")
    try:
        stored = _store(_task_store(ctx).finish, int(task_id), peer.certname, state, exit_code=exit_code,
                        stdout=stdout.decode("utf-8", "replace"), stderr=stderr.decode("utf-8", "replace"),
                        stdout_truncated=stdout_truncated, stderr_truncated=stderr_truncated,
                        duration=duration, reason=reason or None)
    except TaskError as exc:
        raise ServiceError("invalid_argument", str(exc)) from None
    log.info("task result", extra=_fields(task=task_id, node=peer.certname, state=state, exit_code=exit_code,
                                          stored=stored))
    _dispatcher(ctx).wake()  # a slot is free
    return stored


def payload_for(ctx: MasterContext, run: ClaimedRun) -> dict[str, Any]:
    """The fields of the wire's TaskCommand for ``run``: a module's task is looked up in the node's own
    environment (as classification gives it, else the task's) when it is sent."""
    fields: dict[str, Any] = {"task_id": run.task_id, "account": run.account, "timeout": run.timeout}
    if run.kind == "command":
        fields["argv"] = list(run.command or ())
        return fields
    try:
        env, _cls = classify(ctx, run.node, run.environment or "production")
    except ServiceError as exc:
        raise TaskError(f"task {run.task_name} for {run.node}: {exc}") from None
    found = modules.find_task(env.path, run.task_name or "")
    method = modules.input_method(found.metadata)
    fields.update(executable=found.executable(), name=found.name)
    if method in ("both", "environment"):
        fields["environment"] = modules.environment_variables(run.params)
    if method in ("both", "stdin"):
        fields["stdin"] = json.dumps(run.params).encode()
    return fields
