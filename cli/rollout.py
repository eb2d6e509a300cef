"""`bunraku rollout`: release control in waves."""

from __future__ import annotations

from typing import Any

import click

from cli.common import DEFAULT_ENVIRONMENT, OptionsAnywhereGroup, PuppetCommand, die
from cli.operator import fleet_call, operator_client, operator_options


@click.group("rollout", cls=OptionsAnywhereGroup)
def rollout_group() -> None:
    """Release control: roll a commit out to the fleet in waves (operator certificate)."""


def _print_rollout(info: dict[str, Any], as_json: bool) -> None:
    import json

    from master import fleet

    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for line in fleet.rollout_lines(info):
        click.echo(line)


@rollout_group.command("start", cls=PuppetCommand, aliases={"--env": "--environment"})
@click.argument("rev", required=False)
@click.option("--environment", default=DEFAULT_ENVIRONMENT, show_default=True,
              help="The git environment.")
@click.option("--artifact", metavar="APP=VERSION",
              help="Roll an application version out (instead of REV) to the nodes whose catalogs deploy APP.")
@click.option("--group", help="Only the nodes of this group (product line).")
@click.option("--canary", help="Nodes of the first wave: N or N%. [1]")
@click.option("--batch", help="Nodes of each later wave: N or N%. [10%]")
@click.option("--max-concurrent", type=int, help="Nodes running at once, fleet-wide. [5]")
@click.option("--max-failures", help="Failed nodes tolerated (N or N%); one more halts the rollout. [0]")
@click.option("--health-timeout", type=float, help="Seconds a triggered node has to report healthy. [600]")
@click.option("--pause-between", type=float, help="Seconds between waves. [0]")
@click.option("--auto-rollback", is_flag=True, help="When halted, give the nodes their previous release back.")
@click.option("--incremental", is_flag=True, help="Agents apply only what changed since their last good run.")
@click.option("--force", is_flag=True, help="Start even if the release does not compile for some nodes.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@operator_options
def rollout_start(rev: str | None, environment: str, artifact: str | None, group: str | None, canary: str | None, batch: str | None,
                  max_concurrent: int | None, max_failures: str | None, health_timeout: float | None,
                  pause_between: float | None, auto_rollback: bool, incremental: bool, force: bool, as_json: bool,
                  server: str, op_ssldir: str, op_certname: str) -> None:
    """Roll REV (a branch of the environment or a commit) out, wave by wave. The master first compiles
    REV for every node in scope and refuses, naming each node and its error, if any fails (--force).
    With --artifact APP=VERSION, the version of an application is rolled out instead, in the same waves;
    a rollback switches nodes back to the version they had, already on disk."""
    from master import fleet

    if bool(rev) == bool(artifact):
        die("error: rollout start takes REV or --artifact APP=VERSION (one of them)")
    with operator_client(server, op_ssldir, op_certname) as client:
        info = fleet_call(fleet.start_rollout, client, rev or "", environment, group=group, canary=canary,
                          batch=batch, max_concurrent=max_concurrent, max_failures=max_failures,
                          health_timeout=health_timeout, pause_between=pause_between, auto_rollback=auto_rollback,
                          incremental=incremental, force=force, artifact=artifact or "")
    if as_json:
        _print_rollout(info, True)
        return
    waves = [len(w["nodes"]) for w in info.get("waves") or []]
    click.echo(f"rollout {info['id']} started: {info['environment']}@{info['code_id'][:12]} to {sum(waves)} "
               f"node(s) in {len(waves)} wave(s) {waves}")


@rollout_group.command("status")
@click.argument("rollout_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@operator_options
def rollout_status(rollout_id: int, as_json: bool, server: str, op_ssldir: str, op_certname: str) -> None:
    """A rollout: its state, waves, each node's state and health, and its timeline."""
    from master import fleet

    with operator_client(server, op_ssldir, op_certname) as client:
        info = fleet_call(fleet.rollout_status, client, rollout_id)
    _print_rollout(info, as_json)


def _rollout_command(command: str) -> Any:
    @click.argument("rollout_id", type=int)
    @operator_options
    def run(rollout_id: int, server: str, op_ssldir: str, op_certname: str) -> None:
        from master import fleet

        with operator_client(server, op_ssldir, op_certname) as client:
            info = fleet_call(fleet.rollout_command, client, rollout_id, command)
        said = f"rollout {rollout_id}: {info['state']}"
        retried = [e for e in info.get("timeline") or [] if e.get("kind") == "retried"]
        if command == "retry" and retried:
            nodes = (retried[-1].get("detail") or {}).get("nodes") or []
            said += f" (retrying {len(nodes)} node(s): {', '.join(nodes)})"
        click.echo(said)

    run.__doc__ = {"pause": "Stop starting new nodes (those running finish).",
                   "resume": "Carry on with a paused rollout (a halted one: fix what failed, then `retry`).",
                   "retry": "Start the failed nodes of a halted rollout again, once what failed is fixed.",
                   "abort": "Stop the rollout for good; nodes keep the release they have.",
                   "rollback": "Give every node the rollout reached its previous release back."}[command]
    return rollout_group.command(command)(run)


for _command in ("pause", "resume", "retry", "abort", "rollback"):
    _rollout_command(_command)


@rollout_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@operator_options
def rollout_list(as_json: bool, server: str, op_ssldir: str, op_certname: str) -> None:
    """Every rollout, newest first."""
    import json

    from master import fleet

    with operator_client(server, op_ssldir, op_certname) as client:
        items = fleet_call(fleet.list_rollouts, client)
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for line in fleet.rollouts_table(items):
        click.echo(line)
