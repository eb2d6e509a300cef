"""`bunraku resource`: real resources as manifest code, and setting one, as ``puppet resource`` does."""

from __future__ import annotations

import sys
from typing import Any

import click

from cli.common import (
    PuppetCommand,
    RunOutput,
    die,
    engine_error,
    run_exit_status,
    setup_cli_logging,
    version_option,
)


def _parse_assignments(type_name: str, title: str, assignments: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name or not name.replace("_", "").isalnum():
            die(f"error: {type_name} {title}: expected ATTRIBUTE=VALUE, not {item!r}")
        # as Puppet's command line: a repeated attribute makes a list
        if name in params:
            previous = params[name]
            params[name] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            params[name] = value
    return params


def _converge(type_name: str, title: str, params: dict[str, Any], root_dir: str, noop: bool,
              out: RunOutput, verbose: bool) -> Any:
    """Converge the one resource ``type_name[title]`` to ``params``; its report."""
    from engine.apply import apply_catalog
    from engine.catalog import Catalog, Resource, capitalize_type
    from engine.errors import EngineError
    from engine.summary import report_lines
    from facts.files import certname_from_facts

    catalog = Catalog(certname_from_facts(None))
    ref = catalog.add(Resource(capitalize_type(type_name), title, parameters=params,
                               tags=[type_name.lower()])).ref
    catalog.classes = []
    try:
        report = apply_catalog(catalog, root=root_dir, noop=noop, save_report=False)
    except EngineError as exc:
        engine_error(exc)
    for level, text in report_lines(report, verbose=verbose):
        if text.startswith(("Notice: Applied catalog", "Notice: Checked catalog")):
            continue  # one resource: its own lines say it all
        out(level, text.replace(f"/Stage[main]/Main/{ref}", f"/{ref}", 1))
    return report


@click.command("resource", cls=PuppetCommand)
@click.argument("type_name", metavar="TYPE", required=False)
@click.argument("title", required=False)
@click.argument("assignments", nargs=-1, metavar="[ATTRIBUTE=VALUE]...")
@click.option("--root", "root_dir", default="/", show_default=True, type=click.Path(file_okay=False),
              help="Target root directory to read (and with ATTRIBUTE=VALUE, to converge).")
@click.option("--noop", is_flag=True, help="With ATTRIBUTE=VALUE: only say what would change.")
@click.option("-t", "--types", "list_types", is_flag=True, help="List the resource types this engine manages.")
@click.option("-y", "--to-yaml", "to_yaml", is_flag=True, help="Print YAML (as Hiera data) instead of manifest code.")
@click.option("--detailed-exitcodes", is_flag=True,
              help="With ATTRIBUTE=VALUE: exit 2 when it changed (or would, with --noop), 4 when it failed.")
@click.option("-v", "--verbose", is_flag=True, help="Also show info messages.")
@click.option("-d", "--debug", is_flag=True, help="Also show debug messages.")
@click.option("-e", "--edit", is_flag=True, hidden=True)
@click.option("-p", "--param", "params", multiple=True, hidden=True)
@version_option
def resource_cmd(type_name: str | None, title: str | None, assignments: tuple[str, ...], root_dir: str,
                 noop: bool, list_types: bool, to_yaml: bool, detailed_exitcodes: bool, verbose: bool,
                 debug: bool, edit: bool, params: tuple[str, ...]) -> None:
    """Print the current state of real resources of TYPE (or just TITLE) as manifest code; with
    ATTRIBUTE=VALUE, first converge TITLE to them (honouring --root and --noop)."""
    from engine import registry
    from engine.describe import describe
    from engine.errors import EngineError

    if edit:
        die("error: --edit is not supported; write the resources to a file and `bunraku apply` it")
    if params:
        die("error: --param is not supported; the output lists every attribute this engine reads")
    if list_types:
        registry.load_all()
        for name in registry.type_names():
            click.echo(name)
        return
    if type_name is None:
        die("error: name a resource TYPE (or --types to list them)")
    if verbose or debug:
        setup_cli_logging(verbose, debug)
    type_name = type_name.lower()
    report = None
    given: dict[str, Any] = {}
    if assignments:
        if registry.get_type(type_name) is None:
            die(f"error: unknown resource type '{type_name}' (known: {', '.join(registry.type_names())})")
        assert title is not None
        out = RunOutput()
        given = _parse_assignments(type_name, title, assignments)
        report = _converge(type_name, title, given, root_dir, noop, out, verbose or debug)
    try:
        text = _as_yaml(type_name, title, root_dir) if to_yaml else describe(type_name, title, root=root_dir)
    except EngineError as exc:
        if "cannot list instances" not in str(exc):
            engine_error(exc)
        if not given:
            die(f"error: bunraku cannot read {type_name} resources from the system; "
                f"`bunraku resource {type_name} TITLE ATTRIBUTE=VALUE ...` applies one")
        from engine.describe import render_resource

        assert title is not None
        text = render_resource(type_name, title, given)  # what was applied: nothing to read back
        if to_yaml:
            import yaml

            text = yaml.safe_dump({type_name: {title: given}}, default_flow_style=False, sort_keys=False)
    click.echo(text, nl=False)
    if report is not None:
        sys.exit(run_exit_status(report, detailed=detailed_exitcodes))


def _as_yaml(type_name: str, title: str | None, root_dir: str) -> str:
    """``--to-yaml``: the resources as ``TYPE: {TITLE: {ATTRIBUTE: VALUE}}`` (Hiera data)."""
    import yaml

    from engine.describe import current_state

    data = {t: {k: v for k, v in p.items() if v is not None and v != []}
            for t, p in current_state(type_name, title, root=root_dir)}
    return yaml.safe_dump({type_name: data}, default_flow_style=False, sort_keys=False)
