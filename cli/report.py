"""`bunraku report`: reports stored on the master."""

from __future__ import annotations

import click

from cli.common import OptionsAnywhereGroup, die
from cli.operator import fleet_call, operator_client, operator_options


@click.group("report", cls=OptionsAnywhereGroup)
def report_group() -> None:
    """Reports stored on the master."""


@report_group.command("show")
@click.argument("node")
@click.option("--last", type=int, default=1, show_default=True, help="How many recent reports.")
@click.option("--json", "as_json", is_flag=True, help="Print the report documents.")
@operator_options
def report_show(node: str, last: int, as_json: bool, server: str, op_ssldir: str, op_certname: str) -> None:
    """NODE's most recent reports."""
    import json

    from master import fleet

    with operator_client(server, op_ssldir, op_certname) as client:
        reports = fleet_call(fleet.reports, client, node, last)
    if not reports:
        die(f"error: no reports for {node}")
    if as_json:  # one document: a JSON array, newest first
        click.echo(json.dumps(list(reports), indent=2))
        return
    for report in reports:
        for line in fleet.report_summary(report):
            click.echo(line)
