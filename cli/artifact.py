"""`bunraku artifact`: the master's repository of application artifacts (what `release` resources deploy)."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import OptionsAnywhereGroup, die, key_values
from cli.operator import fleet_call, operator_client, operator_options


@click.group("artifact", cls=OptionsAnywhereGroup)
def artifact_group() -> None:
    """Application artifacts on the master: push from CI, list, show, yank, gc (operator certificate)."""


@artifact_group.command("push")
@click.argument("app")
@click.argument("version")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--meta", multiple=True, metavar="KEY=VALUE",
              help="Metadata kept with the version (repeatable), e.g. --meta commit=3f2a9c1.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@operator_options
def artifact_push(app: str, version: str, file: Path, meta: tuple[str, ...], as_json: bool, server: str,
                  op_ssldir: str, op_certname: str) -> None:
    """Push FILE as APP VERSION (a .tar.gz, .zip or a single file such as a .jar). An interrupted push
    resumes where the master's copy ends when run again (role publisher, operator or admin)."""
    import json

    from master import artifactclient

    if not file.is_file():
        die(f"error: {file}: no such file")
    with operator_client(server, op_ssldir, op_certname) as client:
        try:
            info = fleet_call(artifactclient.push, client, app, version, file, key_values(meta, "meta", "KEY=VALUE", "commit=3f2a9c1"))
        except OSError as exc:
            die(f"error: {file}: {exc.strerror or exc}")
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"pushed {info['app']} {info['version']}: {info['filename']}, "
               f"{artifactclient.human_size(info['size'])}, sha256 {info['sha256']}")


@artifact_group.command("list")
@click.argument("app", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@operator_options
def artifact_list(app: str | None, as_json: bool, server: str, op_ssldir: str, op_certname: str) -> None:
    """Every version of every app (or of APP), oldest first."""
    import json

    from master import artifactclient

    with operator_client(server, op_ssldir, op_certname) as client:
        items = fleet_call(artifactclient.command, client, "list", app or "")
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for line in artifactclient.artifact_lines(items):
        click.echo(line)


@artifact_group.command("show")
@click.argument("app")
@click.argument("version")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@operator_options
def artifact_show(app: str, version: str, as_json: bool, server: str, op_ssldir: str, op_certname: str) -> None:
    """One version: its file, size, sha256, who pushed it and its metadata."""
    import json

    from master import artifactclient

    with operator_client(server, op_ssldir, op_certname) as client:
        info = fleet_call(artifactclient.command, client, "show", app, version)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for line in artifactclient.show_lines(info):
        click.echo(line)


@artifact_group.command("yank")
@click.argument("app")
@click.argument("version")
@operator_options
def artifact_yank(app: str, version: str, server: str, op_ssldir: str, op_certname: str) -> None:
    """Withdraw a version: the master serves it no more (nodes keep what they unpacked); gc deletes it."""
    from master import artifactclient

    with operator_client(server, op_ssldir, op_certname) as client:
        fleet_call(artifactclient.command, client, "yank", app, version)
    click.echo(f"yanked {app} {version}")


@artifact_group.command("gc")
@click.option("--older-than", type=click.FloatRange(0, min_open=True), metavar="SECONDS",
              help="Delete unfinished pushes older than this. [86400]")
@operator_options
def artifact_gc(older_than: float | None, server: str, op_ssldir: str, op_certname: str) -> None:
    """Delete yanked versions and the content no version names any more (admin role)."""
    from master import artifactclient

    with operator_client(server, op_ssldir, op_certname) as client:
        done = fleet_call(artifactclient.command, client, "gc", older_than=older_than or 0)
    click.echo(f"removed {len(done['versions'])} yanked version(s), {done['digests']} content(s), "
               f"{artifactclient.human_size(done['bytes'])}")
    for name in done["versions"]:
        click.echo(f"  {name}")
