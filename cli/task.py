"""`bunraku task`: ad-hoc commands and modules' tasks on groups of nodes, as an account."""

from __future__ import annotations

import time
from typing import Any

import click

from cli.common import OptionsAnywhereGroup, die, key_values
from cli.operator import fleet_call, operator_client, operator_options


@click.group("task", cls=OptionsAnywhereGroup)
def task_group() -> None:
    """Run commands or modules' tasks on nodes as an account (operator certificate)."""


def _print(info: dict[str, Any], as_json: bool) -> None:
    import json

    from master.tasks import ops

    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for line in ops.task_lines(info):
        click.echo(line)


def _exit_status(info: dict[str, Any]) -> int:
    return 0 if all(r["state"] == "succeeded" for r in info.get("runs") or []) else 1


class _RunCommand(click.Command):
    """Notes whether the words came after ``--`` (a command) or not (a module task's name)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["bunraku.task_command"] = "--" in args
        return super().parse_args(ctx, args)


@task_group.command("run", cls=_RunCommand)
@click.argument("words", nargs=-1, required=True, metavar="NAME | -- COMMAND...")
@click.option("--group", help="The nodes of this group (product line).")
@click.option("--nodes", help="These nodes, comma-separated (of the group, when --group is given).")
@click.option("--as", "account", default="root", show_default=True,
              help="The account to run as (root: admins only; others: the group's task_accounts).")
@click.option("--max-concurrent", type=click.IntRange(1), help="Nodes running it at once, fleet-wide. [10]")
@click.option("--timeout", type=click.FloatRange(0, min_open=True),
              help="Seconds before the process group is killed. [60]")
@click.option("--expires-in", type=click.FloatRange(0, min_open=True),
              help="Seconds an offline node has to come back for it. [3600]")
@click.option("--idempotency-key", help="Sent again with the same key, the task runs once per node.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="A module task's parameter.")
@click.option("--environment", help="Where a module's task is looked up first. [production]")
@click.option("--wait", is_flag=True, help="Wait until every node is done; print the results; exit 1 unless all succeeded.")
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
@operator_options
def task_run(words: tuple[str, ...], group: str | None, nodes: str | None, account: str,
             max_concurrent: int | None, timeout: float | None, expires_in: float | None,
             idempotency_key: str | None, params: tuple[str, ...], environment: str | None, wait: bool,
             as_json: bool, server: str, op_ssldir: str, op_certname: str) -> None:
    """Run a module's task (NAME: module::task, with --param) or a command (after --) on the nodes of
    --group and/or --nodes, as --as. Offline nodes get it when they come back, unless it expired."""
    from master.tasks import ops

    is_command = bool(click.get_current_context().meta.get("bunraku.task_command"))
    if not is_command and len(words) > 1:
        die(f"error: {' '.join(words)!r}: a command goes after --: bunraku task run --group G -- {' '.join(words)}")
    task = None if is_command else words[0]
    command = list(words) if is_command else None
    with operator_client(server, op_ssldir, op_certname) as client:
        info, created = fleet_call(
            ops.run_task, client, group=group, nodes=[n.strip() for n in (nodes or "").split(",") if n.strip()],
            account=account, max_concurrent=max_concurrent, timeout=timeout, idempotency_key=idempotency_key,
            command=command, task=task, params=key_values(params, "param", "NAME=VALUE", "count=3"), environment=environment, expires_in=expires_in)
        if wait:
            while not ops.finished(info):
                time.sleep(1)
                info = fleet_call(ops.task_status, client, info["id"])
    if wait:
        _print(info, as_json)
        raise SystemExit(_exit_status(info))
    if as_json:
        _print(info, True)
        return
    said = "started" if created else "already sent with this idempotency key"
    click.echo(f"task {info['id']} {said}: {ops.states_text(info.get('states') or {})}")
    for run in info.get("runs") or []:
        if run["state"] == "refused":
            click.echo(f"  {run['node']}: refused: {run['reason']}", err=True)


@task_group.command("show")
@click.argument("task_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the task, its runs and their outputs as JSON.")
@operator_options
def task_show(task_id: int, as_json: bool, server: str, op_ssldir: str, op_certname: str) -> None:
    """A task: what, as whom, by whom; each node's state, exit code and duration; their outputs."""
    from master.tasks import ops

    with operator_client(server, op_ssldir, op_certname) as client:
        info = fleet_call(ops.task_status, client, task_id)
    _print(info, as_json)


@task_group.command("list")
@click.option("--last", type=click.IntRange(1, 1000), default=50, show_default=True, help="How many tasks.")
@click.option("--json", "as_json", is_flag=True, help="Print the tasks as JSON.")
@operator_options
def task_list(last: int, as_json: bool, server: str, op_ssldir: str, op_certname: str) -> None:
    """The newest tasks, with their nodes counted by state."""
    import json

    from master.tasks import ops

    with operator_client(server, op_ssldir, op_certname) as client:
        items = fleet_call(ops.list_tasks, client, last)
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for line in ops.tasks_table(items):
        click.echo(line)


@task_group.command("cancel")
@click.argument("task_id", type=int)
@operator_options
def task_cancel(task_id: int, server: str, op_ssldir: str, op_certname: str) -> None:
    """Cancel a task: nodes that have not started it never will; running ones are killed."""
    from master.tasks import ops

    with operator_client(server, op_ssldir, op_certname) as client:
        info = fleet_call(ops.cancel_task, client, task_id)
    click.echo(f"task {task_id} cancelled: {ops.states_text(info.get('states') or {})}")
