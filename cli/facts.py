"""`bunraku facts`: this host's facts, as Facter prints them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.common import (
    DEFAULT_SERVER,
    OPERATOR_CERTNAME,
    OPERATOR_SSLDIR,
    SERVER_ENVVAR,
    PuppetCommand,
    die,
    warn,
)
from cli.operator import node_facts

# -- facts ----------------------------------------------------------------------------------------
_REFUSED = {
    "hocon": "--hocon: HOCON output is not supported; use --json or --yaml",
    "config": "--config: there is no facter.conf; use --external-dir, --custom-dir and --timeout",
    "timing": "--timing is not supported; a collector that takes longer than --timeout is named in a warning",
    "list_block_groups": "--list-block-groups: facts are never blocked; nothing to list",
    "list_cache_groups": "--list-cache-groups: facts are never cached; nothing to list",
}


@click.command("facts", cls=PuppetCommand)
@click.argument("queries", nargs=-1)
@click.option("--json", "-j", "as_json", is_flag=True, help="Print JSON.")
@click.option("--yaml", "-y", "as_yaml", is_flag=True, help="Print YAML.")
@click.option("--external-dir", "external_dirs", multiple=True, type=click.Path(file_okay=False),
              help="A facts.d directory; repeatable; replaces the default directories.")
@click.option("--custom-dir", "custom_dirs", multiple=True, type=click.Path(file_okay=False),
              help="A directory of Python custom facts (or a module, or a module path); repeatable.")
@click.option("--show-legacy", is_flag=True,
              help="Show the legacy flat names ($::osfamily ...) with the whole fact set; queries find them anyway.")
@click.option("--no-legacy", is_flag=True, help="Leave out the legacy flat names, even from queries.")
@click.option("--puppet", "-p", "puppet", is_flag=True,
              help="Also load the custom facts the agent synced from the master (as facter -p).")
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="Seconds each collector, external executable and custom fact may take.")
@click.option("--node", "node_name", help="The facts the master stored for NODE (operator certificate).")
@click.option("--server", envvar=SERVER_ENVVAR, default=DEFAULT_SERVER, show_default=True,
              help="With --node: the master(s).")
@click.option("--ssldir", "op_ssldir", envvar="BUNRAKU_SSLDIR", default=OPERATOR_SSLDIR,
              help="With --node: the operator's ssldir.")
@click.option("--certname", "op_certname", envvar="BUNRAKU_CERTNAME", default=OPERATOR_CERTNAME,
              help="With --node: the operator certificate's name.")
@click.option("--no-custom-facts", is_flag=True, help="Load no custom facts (not even with --custom-dir, -p).")
@click.option("--no-external-facts", is_flag=True, help="Load no external facts (no facts.d).")
@click.option("--no-ruby", is_flag=True, help="As --no-custom-facts (no Ruby is ever loaded).")
@click.option("--strict", is_flag=True, help="Exit 1 when a QUERY names a fact that does not exist.")
@click.option("-d", "--debug", is_flag=True, help="Log debug messages on stderr.")
@click.option("--verbose", is_flag=True, help="Log info messages on stderr.")
@click.option("-l", "--log-level", type=click.Choice(["none", "trace", "debug", "info", "warn", "error", "fatal"]),
              help="The level of messages logged on stderr.")
@click.option("--color/--no-color", default=None, hidden=True)
@click.option("--no-cache", is_flag=True, hidden=True)
@click.option("--no-block", is_flag=True, hidden=True)
@click.option("--sequential", is_flag=True, hidden=True)
@click.option("--trace", is_flag=True, hidden=True)
@click.option("--http-debug", is_flag=True, hidden=True)
@click.option("-v", "--version", "show_version", is_flag=True, help="Print the version and exit.")
@click.option("--hocon", is_flag=True, hidden=True)
@click.option("-c", "--config", is_flag=False, hidden=True)
@click.option("-t", "--timing", is_flag=True, hidden=True)
@click.option("--list-block-groups", is_flag=True, hidden=True)
@click.option("--list-cache-groups", is_flag=True, hidden=True)
def facts_cmd(queries: tuple[str, ...], as_json: bool, as_yaml: bool, external_dirs: tuple[str, ...],
              custom_dirs: tuple[str, ...], no_legacy: bool, timeout: float, node_name: str | None = None,
              server: str = "", op_ssldir: str = "", op_certname: str = "", show_legacy: bool = False,
              puppet: bool = False, no_custom_facts: bool = False, no_external_facts: bool = False,
              no_ruby: bool = False, strict: bool = False, debug: bool = False, verbose: bool = False,
              log_level: str | None = None, show_version: bool = False, **ignored: Any) -> None:
    """This host's facts, as Facter prints them; QUERY is a dotted path such as os.release.major."""
    import json
    import logging

    from facts import collect_facts, query
    from facts.render import facter_order, render_facts, render_value

    for name, message in _REFUSED.items():
        if ignored.get(name):
            die(f"error: {message}")
    if ignored.get("trace"):
        warn("--trace has no effect: with --debug a custom fact that fails logs its traceback")
    if show_version:
        from cli import __version__

        click.echo(__version__)
        return
    if as_json and as_yaml:
        die("error: --json and --yaml are mutually exclusive")
    level = {"none": logging.CRITICAL + 10, "fatal": logging.CRITICAL, "error": logging.ERROR, "warn": logging.WARNING,
             "info": logging.INFO, "debug": logging.DEBUG, "trace": logging.DEBUG}.get(
        log_level or ("debug" if debug else "info" if verbose else "warn"), logging.WARNING)
    logging.basicConfig(level=level, format="bunraku facts: %(levelname)s: %(message)s" if level < logging.WARNING
                        else "bunraku facts: warning: %(message)s")
    no_custom = no_custom_facts or no_ruby
    facts = node_facts(node_name, server, op_ssldir, op_certname) if node_name else collect_facts(
        external_dirs=[] if no_external_facts else [Path(d) for d in external_dirs] if external_dirs else None,
        custom_dirs=[] if no_custom else [Path(d) for d in custom_dirs] + _puppet_fact_dirs(puppet),
        include_legacy=not no_legacy,
        timeout=timeout,
        include=[q.split(".")[0] for q in queries],
    )
    facts = facter_order(facts)
    if queries:
        # As Facter: a fact that does not resolve is null (JSON), "" (YAML), an empty value (text).
        data: Any = {q: query(facts, q) for q in sorted(dict.fromkeys(queries))}
        missing = [q for q, value in data.items() if value is None]
        if strict and missing:
            die("\n".join(f"error: fact \"{q}\" does not exist" for q in missing))
    elif show_legacy or no_legacy or node_name:
        data = facts
    else:
        # As Facter: the whole fact set leaves the legacy names out unless --show-legacy.
        from facts.legacy import legacy_facts

        hidden = {name for name, value in legacy_facts(facts).items() if facts.get(name) == value}
        data = {name: value for name, value in facts.items() if name not in hidden}

    if as_yaml:
        import yaml

        shown = {k: "" if v is None and queries else v for k, v in data.items()}
        if shown:
            click.echo(yaml.safe_dump(shown, default_flow_style=False, sort_keys=False).rstrip("\n"))
    elif as_json:
        click.echo(json.dumps(data, indent=2))
    elif len(queries) == 1:
        click.echo(render_value(data[queries[0]]))
    else:
        click.echo(render_facts(data))


def _puppet_fact_dirs(puppet: bool) -> list[Path]:
    """With ``facts -p``: the custom facts dir the agent fills by plugin sync, when there is one."""
    synced = Path("/var/lib/bunraku/agent/lib/facts")
    return [synced] if puppet and synced.is_dir() else []
