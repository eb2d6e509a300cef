"""The ``bunraku`` command line: the composition root.

Each command imports the packages it needs lazily, inside the command, so ``bunraku facts`` never
pays for the compiler and ``bunraku compile`` never pays for gRPC. Errors a user can cause are one
line on stderr (``FILE:LINE:COL: error: MESSAGE``), exit status 1, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

__version__ = "0.1.0"


def _die(message: str, code: int = 1) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _report_dsl_error(exc: Any) -> NoReturn:
    """Print a positioned DSL error (plus the source line and a caret on a terminal) and exit 1."""
    click.echo(exc.format_line(), err=True)
    if sys.stderr.isatty():
        excerpt = exc.excerpt()
        if excerpt:
            click.echo(excerpt, err=True)
    sys.exit(1)


def _load_facts_file(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    import json

    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        _die(f"{path}: error: cannot read facts file: {exc.strerror}")
    try:
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        _die(f"{path}: error: facts file is not valid {'JSON' if p.suffix == '.json' else 'YAML'}: "
             f"{str(exc).splitlines()[0]}")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        _die(f"{path}: error: facts file must hold a mapping of fact names to values")
    # `puppet facts` output wraps facts in {"name":..., "values": {...}}
    if "values" in data and isinstance(data["values"], dict) and "name" in data:
        data = data["values"]
    return data


def _split_path(value: str | None) -> list[Path]:
    if not value:
        return []
    return [Path(p) for p in value.split(":") if p]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bunraku")
def main() -> None:
    """Bunraku: declarative configuration management in the Puppet language."""


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
        click.option("--environment", default="production", show_default=True),
        click.option("--strict-variables", is_flag=True, help="Unknown variables are errors."),
    ]
    for opt in reversed(options):
        func = opt(func)
    return func


def _build_compile_request(manifest: str | None, node: str, facts_file: str | None,
                           modulepath: str | None, hiera_config: str | None, env_dir: str | None,
                           environment: str, strict_variables: bool) -> Any:
    from dsl.compiler import CompileRequest

    facts = _load_facts_file(facts_file)
    if facts is None:
        facts = _host_facts_or_minimal(node)
    return CompileRequest.from_cli(
        manifest=Path(manifest) if manifest else None,
        node=node,
        facts=facts,
        modulepath=_split_path(modulepath),
        hiera_config=Path(hiera_config) if hiera_config else None,
        env_dir=Path(env_dir) if env_dir else None,
        environment=environment,
        strict_variables=strict_variables,
    )


def _host_facts_or_minimal(node: str) -> dict[str, Any]:
    """This host's facts when the facts package can collect them; a minimal set otherwise."""
    try:
        from facts import collect_facts  # type: ignore[attr-defined]
    except ImportError:
        return {"networking": {"fqdn": node, "hostname": node.split(".")[0]}}
    return dict(collect_facts())


@main.command("compile")
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
        _report_dsl_error(exc)
    if pretty is None:
        pretty = sys.stdout.isatty()
    click.echo(catalog.to_json(indent=2 if pretty else None))


@main.group("parser")
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


@main.command("lookup")
@click.argument("key")
@_compile_options
@click.option("--merge", type=click.Choice(["first", "unique", "hash", "deep"]), default=None)
@click.option("--default", "default_value", default=None, help="Value when the key is not found.")
@click.option("--render-as", type=click.Choice(["yaml", "json", "s"]), default="yaml")
def lookup_cmd(key: str, node: str, facts_file: str | None, modulepath: str | None,
               hiera_config: str | None, env_dir: str | None, environment: str,
               strict_variables: bool, merge: str | None, default_value: str | None,
               render_as: str) -> None:
    """Look KEY up in Hiera for a node, as the compiler would."""
    import json

    import yaml

    from dsl.compiler import lookup_for_node
    from dsl.errors import DslError

    try:
        request = _build_compile_request(None, node, facts_file, modulepath, hiera_config, env_dir,
                                         environment, strict_variables)
        found, value = lookup_for_node(request, key, merge=merge)
    except DslError as exc:
        _report_dsl_error(exc)
    if not found:
        if default_value is None:
            _die(f"error: lookup of '{key}' found no value for node {node}; "
                 "add it to the Hiera data or pass --default")
        value = default_value
    if render_as == "json":
        click.echo(json.dumps(value, indent=2))
    elif render_as == "s":
        click.echo(value if isinstance(value, str) else json.dumps(value))
    else:
        click.echo(yaml.safe_dump(value, default_flow_style=False, sort_keys=False).rstrip("\n"))


# -- facts ----------------------------------------------------------------------------------------
@main.command("facts")
@click.argument("queries", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the default for the whole fact set).")
@click.option("--yaml", "as_yaml", is_flag=True, help="Print YAML.")
@click.option("--external-dir", "external_dirs", multiple=True, type=click.Path(file_okay=False),
              help="A facts.d directory; repeatable; replaces the default directories.")
@click.option("--custom-dir", "custom_dirs", multiple=True, type=click.Path(file_okay=False),
              help="A directory of Python custom facts (or a module, or a module path); repeatable.")
@click.option("--no-legacy", is_flag=True, help="Leave out the legacy flat names ($::osfamily ...).")
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="Seconds each collector, external executable and custom fact may take.")
def facts_cmd(queries: tuple[str, ...], as_json: bool, as_yaml: bool, external_dirs: tuple[str, ...],
              custom_dirs: tuple[str, ...], no_legacy: bool, timeout: float) -> None:
    """This host's facts, as Facter prints them; QUERY is a dotted path such as os.release.major."""
    import json
    import logging

    from facts import collect_facts, query

    if as_json and as_yaml:
        _die("error: --json and --yaml are mutually exclusive")
    logging.basicConfig(level=logging.WARNING, format="bunraku facts: warning: %(message)s")
    facts = collect_facts(
        external_dirs=[Path(d) for d in external_dirs] if external_dirs else None,
        custom_dirs=[Path(d) for d in custom_dirs],
        include_legacy=not no_legacy,
        timeout=timeout,
        include=[q.split(".")[0] for q in queries],
    )
    missing = object()
    if queries:
        found = {q: v for q in queries if (v := query(facts, q, missing)) is not missing}
        data: Any = found
    else:
        data = facts

    def render(value: Any) -> str:
        if isinstance(value, str):
            return value
        return json.dumps(value, indent=2, sort_keys=True)

    if as_yaml:
        import yaml

        if data:
            click.echo(yaml.safe_dump(data, default_flow_style=False, sort_keys=True).rstrip("\n"))
    elif as_json or not queries:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    elif len(queries) == 1:
        if queries[0] in found:
            click.echo(render(found[queries[0]]))
    else:
        for name in queries:
            if name in found:
                click.echo(f"{name} => {render(found[name])}")


# -- the engine: apply, resource, filebucket --------------------------------------------------------
_LEVEL_COLOURS = {"notice": "cyan", "warning": "yellow", "err": "red"}


def _engine_error(exc: Exception) -> NoReturn:
    message = str(exc)
    _die(message if ": error: " in message or message.startswith("error:") else f"error: {message}")


def _load_catalog_file(path: str) -> Any:
    from engine.catalog import Catalog, CatalogError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        _die(f"{path}: error: cannot read catalog: {exc.strerror}")
    try:
        data = __import__("json").loads(text)
        # `puppet catalog find --render-as json` wraps nothing; some tools wrap in {"data": ...}
        if isinstance(data, dict) and "resources" not in data and isinstance(data.get("data"), dict):
            data = data["data"]
        return Catalog.from_dict(data)
    except ValueError as exc:
        _die(f"{path}: error: catalog is not valid JSON: {exc}")
    except CatalogError as exc:
        _die(f"{path}: error: {exc}")


@main.command("apply")
@click.argument("manifest", required=False, type=click.Path())
@click.option("--catalog", "catalog_file", type=click.Path(dir_okay=False),
              help="Apply this catalog JSON instead of compiling a manifest.")
@click.option("--modulepath", help="Colon-separated module directories.")
@click.option("--hiera-config", type=click.Path(dir_okay=False), help="A Hiera 5 hiera.yaml.")
@click.option("--facts", "facts_file", type=click.Path(dir_okay=False), help="Facts as JSON or YAML.")
@click.option("--node", default=None, help="Node name (default: the fqdn fact or this host's FQDN).")
@click.option("--noop", is_flag=True, help="Only report what would change; change and write nothing.")
@click.option("--show-diff", is_flag=True, help="Show unified diffs of file content changes.")
@click.option("--root", "root_dir", default="/", show_default=True, type=click.Path(file_okay=False),
              help="Target root directory to converge.")
@click.option("--tags", help="Apply only resources with one of these comma-separated tags.")
@click.option("--detailed-exitcodes", is_flag=True, help="Exit 0 no changes, 2 changes, 4 failures, 6 both.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False), help="Also write the report JSON here.")
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="Where reports and the filebucket live (default ROOT/var/lib/bunraku).")
def apply_cmd(manifest: str | None, catalog_file: str | None, modulepath: str | None,
              hiera_config: str | None, facts_file: str | None, node: str | None, noop: bool,
              show_diff: bool, root_dir: str, tags: str | None, detailed_exitcodes: bool,
              report_file: str | None, state_dir: str | None) -> None:
    """Converge this host (or --root DIR) to MANIFEST or to a --catalog JSON."""
    import socket

    from engine.apply import apply_catalog
    from engine.errors import EngineError
    from engine.sources import ModulepathFileSource
    from engine.summary import report_lines

    if bool(manifest) == bool(catalog_file):
        _die("error: give either a MANIFEST or --catalog FILE")
    facts = _load_facts_file(facts_file)
    if catalog_file:
        catalog = _load_catalog_file(catalog_file)
    else:
        assert manifest is not None
        node_name = node or ((facts or {}).get("networking") or {}).get("fqdn") or \
            (facts or {}).get("fqdn") or socket.getfqdn()
        if facts is None:
            facts = _host_facts_or_minimal(node_name)
        try:
            from dsl.compiler import CompileRequest, compile_catalog
        except ImportError:
            _die("error: the manifest compiler is not available in this build; apply a --catalog instead")
        from dsl.errors import DslError
        try:
            request = CompileRequest.from_cli(
                manifest=Path(manifest), node=node_name, facts=facts, modulepath=_split_path(modulepath),
                hiera_config=Path(hiera_config) if hiera_config else None, env_dir=None,
                environment="production", strict_variables=False)
            catalog = compile_catalog(request)
        except DslError as exc:
            _report_dsl_error(exc)
    tag_list = [t.strip() for t in tags.split(",") if t.strip()] if tags else None
    try:
        report = apply_catalog(catalog, root=Path(root_dir), noop=noop, tags=tag_list, show_diff=show_diff,
                               state_dir=Path(state_dir) if state_dir else None, facts=facts,
                               file_sources=ModulepathFileSource(_split_path(modulepath)))
    except EngineError as exc:
        _engine_error(exc)
    colour = sys.stdout.isatty()
    for level, text in report_lines(report):
        click.echo(click.style(text, fg=_LEVEL_COLOURS.get(level)) if colour else text)
    if report_file:
        try:
            Path(report_file).write_text(report.to_json(indent=2), encoding="utf-8")
        except OSError as exc:
            _die(f"{report_file}: error: cannot write report: {exc.strerror}")
    if detailed_exitcodes:
        sys.exit(report.exit_code())
    sys.exit(1 if report.status == "failed" else 0)


@main.command("resource")
@click.argument("type_name", metavar="TYPE")
@click.argument("title", required=False)
@click.option("--root", "root_dir", default="/", show_default=True, type=click.Path(file_okay=False))
def resource_cmd(type_name: str, title: str | None, root_dir: str) -> None:
    """Print the current state of real resources of TYPE (or just TITLE) as manifest code."""
    from engine.describe import describe
    from engine.errors import EngineError

    try:
        click.echo(describe(type_name, title, root=root_dir), nl=False)
    except EngineError as exc:
        _engine_error(exc)


@main.group("filebucket")
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="The state directory (default ROOT/var/lib/bunraku).")
@click.option("--root", "root_dir", default="/", show_default=True, type=click.Path(file_okay=False))
@click.pass_context
def filebucket_group(ctx: click.Context, state_dir: str | None, root_dir: str) -> None:
    """The local filebucket: contents kept before files were replaced."""
    from engine.context import default_state_dir
    from engine.filebucket import FileBucket

    ctx.obj = FileBucket(Path(state_dir) if state_dir else default_state_dir(root_dir))


@filebucket_group.command("list")
@click.pass_obj
def filebucket_list(bucket: Any) -> None:
    """One line per kept content: checksum, time, size, original paths."""
    import datetime

    for entry in bucket.entries():
        when = datetime.datetime.fromtimestamp(entry.mtime).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{entry.checksum} {when} {entry.size:>8} {' '.join(entry.paths)}")


@filebucket_group.command("get")
@click.argument("checksum")
@click.pass_obj
def filebucket_get(bucket: Any, checksum: str) -> None:
    """Print the kept content with CHECKSUM (a unique prefix is enough)."""
    from engine.errors import EngineError

    try:
        sys.stdout.buffer.write(bucket.get(checksum))
    except EngineError as exc:
        _engine_error(exc)


@filebucket_group.command("restore")
@click.argument("checksum")
@click.argument("path", required=False)
@click.pass_obj
def filebucket_restore(bucket: Any, checksum: str, path: str | None) -> None:
    """Write the content with CHECKSUM back to PATH (default: the path it was kept from)."""
    from engine.errors import EngineError

    try:
        where = bucket.restore(checksum, path)
    except EngineError as exc:
        _engine_error(exc)
    except OSError as exc:
        _die(f"{path or checksum}: error: {exc.strerror}")
    click.echo(f"restored {where}")



if __name__ == "__main__":  # pragma: no cover
    main()
