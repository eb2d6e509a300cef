"""`bunraku nodes`, `bunraku catalog diff`: the fleet as the master sees it."""

from __future__ import annotations

import click

from cli.common import OptionsAnywhereGroup
from cli.operator import fleet_call, operator_client, operator_options


@click.command("nodes")
@operator_options
@click.option("--unresponsive-after", type=float, default=3600, show_default=True,
              help="Seconds without contact before a node counts as unresponsive.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def nodes_cmd(server: str, op_ssldir: str, op_certname: str, unresponsive_after: float, as_json: bool) -> None:
    """The fleet: each node's status, last run, code_id and group."""
    import json

    from master import fleet

    with operator_client(server, op_ssldir, op_certname) as client:
        nodes = fleet_call(fleet.list_nodes, client, unresponsive_after)
    if as_json:
        click.echo(json.dumps(nodes, indent=2))
        return
    for line in fleet.nodes_table(nodes):
        click.echo(line)


@click.group("catalog", cls=OptionsAnywhereGroup)
def catalog_group() -> None:
    """Catalogs on the master."""


@catalog_group.command("diff")
@click.argument("node")
@click.option("--from", "from_rev", required=True, help="A git revision of the node's environment.")
@click.option("--to", "to_rev", required=True, help="Another revision (e.g. a branch before it is merged).")
@click.option("--environment", default="", help="Default: the node's classified environment.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@operator_options
def catalog_diff_cmd(node: str, from_rev: str, to_rev: str, environment: str, as_json: bool, server: str,
                     op_ssldir: str, op_certname: str) -> None:
    """What moving NODE from one commit to another would change, resource by resource."""
    import json

    from master import fleet
    from master.catalogdiff import render_diff

    with operator_client(server, op_ssldir, op_certname) as client:
        diff, old, new = fleet_call(fleet.catalog_diff, client, node, from_rev, to_rev, environment)
    if as_json:
        click.echo(json.dumps(diff, indent=2))
        return
    click.echo(f"--- {node} @ {old[:12]}\n+++ {node} @ {new[:12]}")
    lines = render_diff(diff)
    for line in lines or ["(no resource changes)"]:
        click.echo(line)
