"""`bunraku dashboard`: login tokens for the web dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.common import die


@click.group("dashboard")
def dashboard_group() -> None:
    """The master's web dashboard: tokens for viewers without an operator certificate."""


def _token_store(tokens_file: str | None, ssldir: str | None) -> Any:
    from master.dashboard import TokenStore

    if tokens_file:
        return TokenStore(Path(tokens_file))
    base = Path(ssldir) if ssldir else Path("/var/lib/bunraku/master/ssl")
    return TokenStore(base / "dashboard-tokens.json")


def _token_options(func: Any) -> Any:
    func = click.option("--tokens", "tokens_file", type=click.Path(dir_okay=False),
                        help="The token file (default: <ssldir>/dashboard-tokens.json).")(func)
    return click.option("--ssldir", type=click.Path(file_okay=False), help="The master's ssldir.")(func)


@dashboard_group.command("token-issue")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), default="viewer", show_default=True,
              help="What the holder may see and do, as for an operator certificate.")
@click.option("--groups", "role_groups",
              help="The node groups the holder may see, comma-separated (nodes of other groups stay hidden). [all]")
@_token_options
def dashboard_token_issue(name: str, role: str, role_groups: str | None, tokens_file: str | None,
                          ssldir: str | None) -> None:
    """Issue a login token for NAME and print it once (only its hash is kept)."""
    from master.dashboard import TokenError

    groups = role_groups.split(",") if role_groups is not None else None
    try:
        click.echo(_token_store(tokens_file, ssldir).issue(name, role, groups))
    except TokenError as exc:
        die(f"error: {exc}")


@dashboard_group.command("token-revoke")
@click.argument("name")
@_token_options
def dashboard_token_revoke(name: str, tokens_file: str | None, ssldir: str | None) -> None:
    """Revoke NAME's token."""
    from master.dashboard import TokenError

    try:
        if not _token_store(tokens_file, ssldir).revoke(name):
            die(f"error: no token named {name}")
    except TokenError as exc:
        die(f"error: {exc}")


@dashboard_group.command("token-list")
@_token_options
def dashboard_token_list(tokens_file: str | None, ssldir: str | None) -> None:
    """The names and roles that hold tokens (never the tokens)."""
    from master.dashboard import TokenError

    try:
        for entry in _token_store(tokens_file, ssldir).list():
            click.echo(f"{entry.get('name')}\t{entry.get('role')}\t{entry.get('issued', '')}")
    except TokenError as exc:
        die(f"error: {exc}")
