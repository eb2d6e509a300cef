"""`bunraku dashboard`: login tokens for the web dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.common import OptionsAnywhereGroup, die, master_config


@click.group("dashboard", cls=OptionsAnywhereGroup)
def dashboard_group() -> None:
    """The master's web dashboard: tokens for viewers without an operator certificate."""


def _token_store(tokens_file: str | None, ssldir: str | None, config_file: str | None) -> Any:
    """The token file the master reads: --tokens, else its settings' (``dashboard.tokens``, or
    <ssldir>/dashboard-tokens.json with the master's ssldir)."""
    from master.dashboard.tokens import TokenStore

    if tokens_file:
        return TokenStore(Path(tokens_file))
    return TokenStore(master_config(config_file, ssldir=ssldir).dashboard_tokens_path)


def _token_options(func: Any) -> Any:
    func = click.option("--tokens", "tokens_file", type=click.Path(dir_okay=False),
                        help="The token file (default: the master's, <ssldir>/dashboard-tokens.json).")(func)
    func = click.option("--config", "config_file", type=click.Path(dir_okay=False),
                        help="The master's YAML settings (its ssldir and dashboard token file).")(func)
    return click.option("--ssldir", type=click.Path(file_okay=False),
                        help="The master's ssldir. [as `bunraku master`: its --config or default]")(func)


@dashboard_group.command("token-issue")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), default="viewer", show_default=True,
              help="What the holder may see and do, as for an operator certificate.")
@click.option("--groups", "role_groups",
              help="The node groups the holder may see, comma-separated (nodes of other groups stay hidden). [all]")
@_token_options
def dashboard_token_issue(name: str, role: str, role_groups: str | None, tokens_file: str | None,
                          ssldir: str | None, config_file: str | None) -> None:
    """Issue a login token for NAME and print it once (only its hash is kept)."""
    from master.dashboard.tokens import TokenError

    groups = role_groups.split(",") if role_groups is not None else None
    try:
        click.echo(_token_store(tokens_file, ssldir, config_file).issue(name, role, groups))
    except TokenError as exc:
        die(f"error: {exc}")


@dashboard_group.command("token-revoke")
@click.argument("name")
@_token_options
def dashboard_token_revoke(name: str, tokens_file: str | None, ssldir: str | None, config_file: str | None) -> None:
    """Revoke NAME's token."""
    from master.dashboard.tokens import TokenError

    try:
        if not _token_store(tokens_file, ssldir, config_file).revoke(name):
            die(f"error: no token named {name}")
    except TokenError as exc:
        die(f"error: {exc}")


@dashboard_group.command("token-list")
@_token_options
def dashboard_token_list(tokens_file: str | None, ssldir: str | None, config_file: str | None) -> None:
    """The names and roles that hold tokens (never the tokens)."""
    from master.dashboard.tokens import TokenError

    try:
        for entry in _token_store(tokens_file, ssldir, config_file).list():
            click.echo(f"{entry.get('name')}\t{entry.get('role')}\t{entry.get('issued', '')}")
    except TokenError as exc:
        die(f"error: {exc}")
