"""`bunraku compile`, `bunraku parser validate`, `bunraku lookup`: the language."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cli.common import (
    DEFAULT_ENVIRONMENT,
    OptionsAnywhereGroup,
    die,
    host_facts_or_minimal,
    load_facts_file,
    report_dsl_error,
    split_path,
)


# -- the language ---------------------------------------------------------------------------------
def _compile_options(func: Any) -> Any:
    options = [
        click.option("--node", "node", required=True, help="Node (certificate) name to compile for."),
        click.option("--facts", "facts_file", type=click.Path(dir_okay=False),
                     help="Facts as a JSON or YAML file (Facter's layout)."),
        click.option("--modulepath", help="Colon-separated module directories."),
        click.option("--hiera-config", type=click.Path(dir_okay=False), help="A Hiera 5 hiera.yaml."),
        click.option("--env-dir", type=click.Path(file_okay=False),
                     help="An environment directory (manifests/, modules/, hiera.yaml, data/)."),
        click.option("--environment", default=DEFAULT_ENVIRONMENT, show_default=True,
                     help="The environment's name, as $environment and $server_facts see it."),
        click.option("--strict-variables", is_flag=True, help="Unknown variables are errors."),
    ]
    for opt in reversed(options):
        func = opt(func)
    return func


def _build_compile_request(manifest: str | None, node: str, facts_file: str | None,
                           modulepath: str | None, hiera_config: str | None, env_dir: str | None,
                           environment: str, strict_variables: bool) -> Any:
    from dsl.compiler import CompileRequest

    facts = load_facts_file(facts_file)
    if facts is None:
        facts = host_facts_or_minimal(node)
    return CompileRequest.from_cli(
        manifest=Path(manifest) if manifest else None,
        node=node,
        facts=facts,
        modulepath=split_path(modulepath),
        hiera_config=Path(hiera_config) if hiera_config else None,
        env_dir=Path(env_dir) if env_dir else None,
        environment=environment,
        strict_variables=strict_variables,
    )


@click.command("compile")
@click.argument("manifest", required=False, type=click.Path())
@_compile_options
@click.option("--pretty/--compact", default=None, help="Indent the JSON (default: only on a terminal).")
def compile_cmd(manifest: str | None, node: str, facts_file: str | None, modulepath: str | None,
                hiera_config: str | None, env_dir: str | None, environment: str,
                strict_variables: bool, pretty: bool | None) -> None:
    """Compile MANIFEST (or the environment's manifests/) for a node; print the catalog JSON."""
    from dsl.compiler import compile_catalog
    from dsl.errors import DslError

    try:
        request = _build_compile_request(manifest, node, facts_file, modulepath, hiera_config,
                                         env_dir, environment, strict_variables)
        catalog = compile_catalog(request)
    except DslError as exc:
        report_dsl_error(exc)
    if pretty is None:
        pretty = sys.stdout.isatty()
    click.echo(catalog.to_json(indent=2 if pretty else None))


@click.group("parser", cls=OptionsAnywhereGroup)
def parser_group() -> None:
    """Manifest syntax tools."""


@parser_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path())
def parser_validate(files: tuple[str, ...]) -> None:
    """Syntax-check FILES in one process: one error line per bad file, exit 1 if any is bad."""
    from dsl.errors import DslError
    from dsl.parser import parse_file

    bad = 0
    for name in files:
        try:
            parse_file(Path(name))
        except DslError as exc:
            bad += 1
            click.echo(exc.format_line(), err=True)
    sys.exit(1 if bad else 0)


@click.command("lookup")
@click.argument("key")
@_compile_options
@click.option("--merge", type=click.Choice(["first", "unique", "hash", "deep"]), default=None,
              help="The merge behaviour (default: the key's lookup_options, else first).")
@click.option("--default", "default_value", default=None, help="Value when the key is not found.")
@click.option("--render-as", type=click.Choice(["yaml", "json", "s"]), default="yaml", show_default=True,
              help="How to print the value (s: as a plain string).")
@click.option("--explain", is_flag=True,
              help="Show each Hiera level and data file searched, and where the value came from.")
def lookup_cmd(key: str, node: str, facts_file: str | None, modulepath: str | None,
               hiera_config: str | None, env_dir: str | None, environment: str,
               strict_variables: bool, merge: str | None, default_value: str | None,
               render_as: str, explain: bool) -> None:
    """Look KEY up in Hiera for a node, as the compiler would."""
    import json

    import yaml

    from dsl.compiler import lookup_for_node
    from dsl.errors import DslError

    try:
        request = _build_compile_request(None, node, facts_file, modulepath, hiera_config, env_dir,
                                         environment, strict_variables)
        trace: list[str] | None = [] if explain else None
        found, value = lookup_for_node(request, key, merge=merge, explain=trace)
    except DslError as exc:
        report_dsl_error(exc)
    if trace is not None:
        for line in trace:
            click.echo(line)
        if not found and default_value is None:
            sys.exit(1)
        if not found:
            click.echo(f'Using --default: "{default_value}"')
        return
    if not found:
        if default_value is None:
            die(f"error: lookup of '{key}' found no value for node {node}; "
                 "add it to the Hiera data or pass --default")
        value = default_value
    if render_as == "json":
        click.echo(json.dumps(value, indent=2))
    elif render_as == "s":
        click.echo(value if isinstance(value, str) else json.dumps(value))
    else:
        click.echo(yaml.safe_dump(value, default_flow_style=False, sort_keys=False).rstrip("\n"))
