"""`bunraku agent-upgrade`: roll a version of the agent itself out, in waves, with rollback."""

from __future__ import annotations

import click

from cli.common import OptionsAnywhereGroup, PuppetCommand
from cli.operator import fleet_call, operator_client, operator_options


@click.group("agent-upgrade", cls=OptionsAnywhereGroup)
def agent_upgrade_group() -> None:
    """Upgrade the agents: a build pushed as `bunraku-agent VERSION`, rolled out like a release."""


@agent_upgrade_group.command("start", cls=PuppetCommand, aliases={"--env": "--environment"})
@click.argument("version")
@click.option("--group", help="Only the agents of this group (product line).")
@click.option("--environment", help="Only the agents last seen in this environment. [all]")
@click.option("--canary", help="Agents of the first wave: N or N%. [1]")
@click.option("--batch", help="Agents of each later wave: N or N%. [10%]")
@click.option("--max-concurrent", type=int, help="Agents upgrading at once, fleet-wide. [5]")
@click.option("--max-failures", help="Failed agents tolerated (N or N%); one more halts the rollout. [0]")
@click.option("--health-timeout", type=float,
              help="Seconds the new version has to report; an agent whose new version does not goes back to "
                   "its old one by itself. [600]")
@click.option("--pause-between", type=float, help="Seconds between waves. [0]")
@click.option("--auto-rollback", is_flag=True, help="When halted, give the agents their previous version back.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@operator_options
def agent_upgrade_start(version: str, group: str | None, environment: str | None, canary: str | None,
                        batch: str | None, max_concurrent: int | None, max_failures: str | None,
                        health_timeout: float | None, pause_between: float | None, auto_rollback: bool,
                        as_json: bool, server: str, op_ssldir: str, op_certname: str) -> None:
    """Roll agent VERSION (pushed with `bunraku artifact push bunraku-agent VERSION FILE`) out to the Bunraku
    agents in scope, wave by wave. Each agent installs it beside its current version, hands over to it after
    a run, and keeps it only if the new version reports within --health-timeout. Follow it with
    `bunraku rollout status ID`."""
    import json

    from master import fleet

    with operator_client(server, op_ssldir, op_certname) as client:
        info = fleet_call(fleet.start_rollout, client, "", environment or "", group=group, canary=canary,
                          batch=batch, max_concurrent=max_concurrent, max_failures=max_failures,
                          health_timeout=health_timeout, pause_between=pause_between, auto_rollback=auto_rollback,
                          agent_version=version)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    waves = [len(w["nodes"]) for w in info.get("waves") or []]
    click.echo(f"rollout {info['id']} started: agent {version} to {sum(waves)} agent(s) in {len(waves)} wave(s) "
               f"{waves}; follow it with `bunraku rollout status {info['id']}`")
