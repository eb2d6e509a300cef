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
@click.option("--server", envvar="BUNRAKU_SERVER", default="localhost:8140", help="With --node: the master(s).")
@click.option("--ssldir", "op_ssldir", envvar="BUNRAKU_SSLDIR", default=str(Path.home() / ".bunraku/ssl"),
              help="With --node: the operator's ssldir.")
@click.option("--certname", "op_certname", envvar="BUNRAKU_CERTNAME", default="admin",
              help="With --node: the operator certificate's name.")
def facts_cmd(queries: tuple[str, ...], as_json: bool, as_yaml: bool, external_dirs: tuple[str, ...],
              custom_dirs: tuple[str, ...], no_legacy: bool, timeout: float, node_name: str | None = None,
              server: str = "", op_ssldir: str = "", op_certname: str = "", show_legacy: bool = False,
              puppet: bool = False) -> None:
    """This host's facts, as Facter prints them; QUERY is a dotted path such as os.release.major."""
    import json
    import logging

    from facts import collect_facts, query
    from facts.render import facter_order, render_facts, render_value

    if as_json and as_yaml:
        _die("error: --json and --yaml are mutually exclusive")
    logging.basicConfig(level=logging.WARNING, format="bunraku facts: warning: %(message)s")
    facts = _node_facts(node_name, server, op_ssldir, op_certname) if node_name else collect_facts(
        external_dirs=[Path(d) for d in external_dirs] if external_dirs else None,
        custom_dirs=[Path(d) for d in custom_dirs] + _puppet_fact_dirs(puppet),
        include_legacy=not no_legacy,
        timeout=timeout,
        include=[q.split(".")[0] for q in queries],
    )
    facts = facter_order(facts)
    if queries:
        # As Facter: a fact that does not resolve is null (JSON), "" (YAML), an empty value (text).
        data: Any = {q: query(facts, q) for q in sorted(dict.fromkeys(queries))}
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


# -- the engine: apply, resource, filebucket --------------------------------------------------------
_LEVEL_COLOURS = {"notice": "cyan", "warning": "yellow", "err": "red"}


def _progress_line() -> Any:
    """A progress line on the terminal for runs that take more than a second; (-1, 0) clears it."""
    import time

    started = time.monotonic()
    shown = False

    def update(done: int, total: int) -> None:
        nonlocal shown
        if done < 0:
            if shown:
                sys.stderr.write("\r\033[K")
                sys.stderr.flush()
            return
        if time.monotonic() - started < 1.0 or total == 0:
            return
        shown = True
        sys.stderr.write(f"\r\033[Kapplying {done}/{total} resources "
                         f"({100 * done // total}%)")
        sys.stderr.flush()

    return update


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
    import time

    from engine.apply import apply_catalog
    from engine.errors import EngineError
    from engine.sources import ModulepathFileSource
    from engine.summary import report_lines

    if bool(manifest) == bool(catalog_file):
        _die("error: give either a MANIFEST or --catalog FILE")
    facts = _load_facts_file(facts_file)
    retrieval_started = time.perf_counter()
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
    retrieval = time.perf_counter() - retrieval_started
    tag_list = [t.strip() for t in tags.split(",") if t.strip()] if tags else None
    progress = _progress_line() if sys.stderr.isatty() else None
    try:
        report = apply_catalog(catalog, root=Path(root_dir), noop=noop, tags=tag_list, show_diff=show_diff,
                               state_dir=Path(state_dir) if state_dir else None, facts=facts,
                               file_sources=ModulepathFileSource(_split_path(modulepath)), progress=progress)
    except EngineError as exc:
        _engine_error(exc)
    finally:
        if progress is not None:
            progress(-1, 0)
    report.add_times("config_retrieval", retrieval)
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

    root = str(Path(root_dir).absolute())
    ctx.obj = FileBucket(Path(state_dir) if state_dir else default_state_dir(root), root=root)


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



# -- master, agent, CA and fleet (issue 5) ----------------------------------------------------------
def _setup_cli_logging(verbose: bool = False, debug: bool = False) -> None:
    import logging

    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s")
    logging.getLogger("grpc").setLevel(logging.WARNING)


def _given(param: str) -> bool:
    """Whether the current command's option ``param`` was given (command line or environment)."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(param)
    return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


@main.command("master")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML settings file.")
@click.option("--listen", help="HOST:PORT for agents (mutual TLS). [127.0.0.1:8140]")
@click.option("--ca-listen", help="HOST:PORT for certificate requests (server TLS). [listen port + 1]")
@click.option("--certname", help="The master's certificate name. [this host's FQDN]")
@click.option("--dns-alt-names", help="Comma-separated extra names for the master's certificate.")
@click.option("--environmentpath", type=click.Path(file_okay=False), help="Directory of environments.")
@click.option("--git-repo", help="A git repository whose branches are environments.")
@click.option("--ssldir", type=click.Path(file_okay=False), help="The CA and the master's certificate.")
@click.option("--vardir", type=click.Path(file_okay=False), help="Caches and the default SQLite store.")
@click.option("--store-url", help="SQLAlchemy URL of the store (default: SQLite under --vardir).")
@click.option("--autosign", help="false | true | FILE of names/globs | EXECUTABLE policy.")
@click.option("--autosign-challenge", "autosign_challenges", multiple=True,
              help="A pre-shared challenge that signs CSRs carrying it; repeatable.")
@click.option("--operator", "operators", multiple=True, hidden=True,
              help="Refused: operator rights come from `bunraku cert generate NAME --operator`.")
@click.option("--enc", type=click.Path(dir_okay=False), help="External node classifier executable.")
@click.option("--groups", type=click.Path(dir_okay=False), help="YAML file of node groups.")
@click.option("--workers", type=int, help="Compile processes (0: one per core).")
@click.option("--log-format", type=click.Choice(["json", "kv"]), help="Structured log format.")
@click.option("--port-file", type=click.Path(dir_okay=False),
              help="Write 'PORT CA_PORT' here once listening (useful with port 0).")
@click.option("--user", help="Once listening, run as this user (its state is handed to it).")
@click.option("--dashboard-listen", help="HOST:PORT of the HTTPS dashboard and /metrics (off by default).")
@click.option("--puppet-listen", help="HOST:PORT of Puppet's HTTP API for unmodified Puppet agents (HTTPS, same "
                                      "CA; off by default; Puppet agents expect port 8140).")
@click.option("--create-store", is_flag=True,
              help="Create a new store where this master's is missing (or take the one found as its own).")
def master_cmd(config_file: str | None, listen: str | None, ca_listen: str | None, certname: str | None,
               dns_alt_names: str | None, environmentpath: str | None, git_repo: str | None,
               ssldir: str | None, vardir: str | None, store_url: str | None, autosign: str | None,
               autosign_challenges: tuple[str, ...], operators: tuple[str, ...], enc: str | None,
               groups: str | None, workers: int | None, log_format: str | None, port_file: str | None,
               user: str | None, dashboard_listen: str | None, puppet_listen: str | None,
               create_store: bool) -> None:
    """Run the master: CA, catalog compilation, file server, store."""
    import signal
    import threading

    from master.ca import CAError
    from master.config import ConfigError, load_config
    from master.logfmt import setup_logging
    from master.server import MasterServer

    if operators:
        _die(f"error: --operator: a certificate's name does not make it an operator; on the master run "
             f"`bunraku cert generate NAME --operator --role ROLE --out-ssldir DIR` for {', '.join(operators)}")
    options = {"listen": listen, "ca_listen": ca_listen, "certname": certname, "dns_alt_names": dns_alt_names,
               "environmentpath": environmentpath, "git_repo": git_repo, "ssldir": ssldir, "vardir": vardir,
               "store_url": store_url, "autosign": autosign, "autosign_challenges": list(autosign_challenges),
               "enc": enc, "groups": groups, "workers": workers, "log_format": log_format, "user": user,
               "dashboard_listen": dashboard_listen, "puppet_listen": puppet_listen}
    # only what was given on the command line overrides the file (an option's default would erase it)
    overrides = {name: value for name, value in options.items() if _given(name)}
    try:
        config = load_config(config_file, overrides)
    except ConfigError as exc:
        _die(str(exc))
    setup_logging(config.log_format)
    server = MasterServer(config, create_store=create_store)
    try:
        server.start()
    except (CAError, OSError) as exc:
        _die(f"error: {exc}")
    except Exception as exc:  # the store's own errors (StoreError, ...) are one line too
        _die(f"error: cannot start the master: {exc}")
    if port_file:
        dash = f" {server.dashboard.port}" if getattr(server, "dashboard", None) is not None else ""
        Path(port_file).write_text(f"{server.port} {server.ca_port}{dash}\n", encoding="utf-8")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    # Short waits: a handler runs only when the main thread gets control back, and a wait without a
    # timeout was seen to sleep through SIGTERM after the process had been stopped and continued.
    while not done.wait(0.5):
        pass
    server.stop()


@main.group("dashboard")
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
        _die(f"error: {exc}")


@dashboard_group.command("token-revoke")
@click.argument("name")
@_token_options
def dashboard_token_revoke(name: str, tokens_file: str | None, ssldir: str | None) -> None:
    """Revoke NAME's token."""
    from master.dashboard import TokenError

    try:
        if not _token_store(tokens_file, ssldir).revoke(name):
            _die(f"error: no token named {name}")
    except TokenError as exc:
        _die(f"error: {exc}")


@dashboard_group.command("token-list")
@_token_options
def dashboard_token_list(tokens_file: str | None, ssldir: str | None) -> None:
    """The names and roles that hold tokens (never the tokens)."""
    from master.dashboard import TokenError

    try:
        for entry in _token_store(tokens_file, ssldir).list():
            click.echo(f"{entry.get('name')}\t{entry.get('role')}\t{entry.get('issued', '')}")
    except TokenError as exc:
        _die(f"error: {exc}")


@main.group("store")
def store_group() -> None:
    """The master's store: back it up (while the master runs), check it, restore it, create it."""


def _store_options(func: Any) -> Any:
    func = click.option("--store-url", help="SQLAlchemy URL of the store (default: SQLite under the vardir).")(func)
    func = click.option("--vardir", type=click.Path(file_okay=False), help="The master's vardir.")(func)
    return click.option("--config", "config_file", type=click.Path(dir_okay=False),
                        help="The master's YAML settings file.")(func)


def _store_call(func: Any, config_file: str | None, vardir: str | None, store_url: str | None,
                *args: Any) -> Any:
    """``func(location, *args)`` for the store the master's settings name; errors are one line."""
    from master.config import ConfigError, load_config
    from master.store import StoreError
    from master.store.guard import locate

    try:
        config = load_config(config_file, {"vardir": vardir, "store_url": store_url})
        return func(locate(config.store_url, config.store_path), config.vardir, *args)
    except (ConfigError, StoreError) as exc:
        _die(f"error: {exc}")


@store_group.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@_store_options
def store_backup(file: str, config_file: str | None, vardir: str | None, store_url: str | None) -> None:
    """Write a consistent copy of the store to FILE (safe while the master runs)."""
    from master.store import maintenance

    info = _store_call(lambda loc, _state: maintenance.backup(loc, Path(file)), config_file, vardir, store_url)
    click.echo(f"backed up the store to {file} ({info.summary()})")


@store_group.command("verify")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--quick", is_flag=True, help="PRAGMA quick_check instead of the full integrity_check.")
@_store_options
def store_verify(file: str | None, quick: bool, config_file: str | None, vardir: str | None,
                 store_url: str | None) -> None:
    """Check FILE (default: the store) for damage, and that it is a store this Bunraku can open."""
    from master.store import StoreError, maintenance

    def check(loc: Any, _state: Path) -> Any:
        if file is None and loc.file is None:
            raise StoreError(maintenance.postgres_guidance(loc, "verify"))
        return maintenance.verify(Path(file) if file else loc.file, thorough=not quick)

    info = _store_call(check, config_file, vardir, store_url)
    click.echo(f"{info.path}: ok ({info.summary()})")


@store_group.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@_store_options
def store_restore(file: str, config_file: str | None, vardir: str | None, store_url: str | None) -> None:
    """Replace the store with the backup FILE (stop the master first; the replaced file is kept)."""
    from master.store import maintenance

    info, moved = _store_call(lambda loc, state: maintenance.restore(loc, Path(file), state),
                              config_file, vardir, store_url)
    kept = f"; the file it replaced is kept as {moved}" if moved else ""
    click.echo(f"restored {file} to {info.path} ({info.summary()}){kept}")


@store_group.command("init")
@_store_options
def store_init(config_file: str | None, vardir: str | None, store_url: str | None) -> None:
    """Create a new, empty store where there is none (after losing one without a backup)."""
    from master.store import maintenance

    def create(loc: Any, state: Path) -> tuple[Any, Any]:
        return loc, maintenance.init(loc, state)

    loc, known = _store_call(create, config_file, vardir, store_url)
    click.echo(f"created a new store at {loc.where} (id {known.store_id})")


def _agent_settings(obj: dict[str, Any]) -> Any:
    from agent.run import AgentSettings
    from master.rpc.client import ClientError, split_servers

    root = Path(obj["root"])
    try:
        servers = split_servers(obj["server"])
    except ClientError as exc:
        _die(f"error: {exc}")
    certname = obj["certname"]
    if not certname:
        import socket

        facts = _load_facts_file(obj.get("facts_file")) or {}
        certname = ((facts.get("networking") or {}).get("fqdn") or facts.get("fqdn") or socket.getfqdn()).lower()
    extensions = {}
    for item in obj.get("csr_attributes") or ():
        key, sep, value = item.partition("=")
        if not sep:
            _die(f"error: --csr-extension {item!r}: expected NAME=VALUE (e.g. pp_role=web)")
        extensions[key] = value
    return AgentSettings(
        certname=certname, servers=servers, ca_server=obj["ca_server"],
        ssldir=Path(obj["ssldir"]) if obj["ssldir"] else root / "etc/bunraku/ssl",
        vardir=Path(obj["vardir"]) if obj["vardir"] else root / "var/lib/bunraku/agent",
        root=root, environment=obj["environment"], facts_file=Path(obj["facts_file"]) if obj["facts_file"] else None,
        challenge=obj["challenge"], csr_extensions=extensions, ca_fingerprint=obj["ca_fingerprint"],
        waitforcert=obj["waitforcert"])


@main.group("agent", invoke_without_command=True)
@click.option("--server", default="puppet:8140", show_default=True,
              help="Master(s), HOST[:PORT], comma-separated, tried in order.")
@click.option("--ca-server", help="HOST:PORT of the CA listener (default: the first server's port + 1).")
@click.option("--certname", help="This node's certificate name (default: its FQDN).")
@click.option("--ssldir", type=click.Path(file_okay=False), help="[ROOT/etc/bunraku/ssl]")
@click.option("--vardir", type=click.Path(file_okay=False),
              help="Catalog cache, report spool, lock, plugins. [ROOT/var/lib/bunraku/agent]")
@click.option("--root", "root_dir", default="/", show_default=True, type=click.Path(file_okay=False),
              help="Target root directory to converge.")
@click.option("--environment", default="production", show_default=True)
@click.option("--onetime", is_flag=True, help="Run once and exit.")
@click.option("-t", "--test", "test_mode", is_flag=True,
              help="Once, verbose, with diffs and detailed exit codes; no cached catalog on failure.")
@click.option("--noop", is_flag=True, help="Only report what would change.")
@click.option("--tags", help="Apply only resources with one of these comma-separated tags (or type names).")
@click.option("--show-diff", is_flag=True)
@click.option("--detailed-exitcodes", is_flag=True, help="Exit 0 no changes, 2 changes, 4 failures, 6 both.")
@click.option("--facts", "facts_file", type=click.Path(dir_okay=False),
              help="Submit these facts (JSON/YAML) instead of collecting this host's.")
@click.option("--waitforcert", type=float, default=120.0, show_default=True,
              help="Seconds to wait for the certificate to be signed (0: ask once).")
@click.option("--challenge", help="Pre-shared autosign challenge to put in the certificate request.")
@click.option("--csr-extension", "csr_attributes", multiple=True, help="NAME=VALUE extension request (pp_role=web).")
@click.option("--ca-fingerprint", help="Expected SHA-256 fingerprint of the CA (first contact).")
@click.option("--runinterval", type=float, default=1800.0, show_default=True, help="Seconds between runs.")
@click.option("--splay/--no-splay", default=False, help="Wait a random time (up to --splaylimit) first.")
@click.option("--splaylimit", type=float, help="[runinterval]")
@click.option("--use-cached-catalog", is_flag=True, help="Apply the cached catalog; do not ask a master.")
@click.option("--usecacheonfailure/--no-usecacheonfailure", default=True, show_default=True,
              help="Apply the cached catalog when no master answers.")
@click.option("--no-pluginsync", is_flag=True, help="Do not sync custom facts from the master.")
@click.option("--live/--no-live", default=True, show_default=True,
              help="Daemon mode: keep a live channel to the master (heartbeats, runs on demand for rollouts).")
@click.option("-v", "--verbose", is_flag=True)
@click.option("--debug", is_flag=True)
@click.pass_context
def agent_group(ctx: click.Context, server: str, ca_server: str | None, certname: str | None,
                ssldir: str | None, vardir: str | None, root_dir: str, environment: str, onetime: bool,
                test_mode: bool, noop: bool, tags: str | None, show_diff: bool, detailed_exitcodes: bool,
                facts_file: str | None, waitforcert: float, challenge: str | None,
                csr_attributes: tuple[str, ...], ca_fingerprint: str | None, runinterval: float, splay: bool,
                splaylimit: float | None, use_cached_catalog: bool, usecacheonfailure: bool,
                no_pluginsync: bool, verbose: bool, debug: bool, live: bool = True) -> None:
    """Run the agent: on a timer (--runinterval), or once (--onetime, -t)."""
    obj = {"server": server, "ca_server": ca_server, "certname": certname, "ssldir": ssldir, "vardir": vardir,
           "root": root_dir, "environment": environment, "facts_file": facts_file, "challenge": challenge,
           "csr_attributes": csr_attributes, "ca_fingerprint": ca_fingerprint, "waitforcert": waitforcert}
    ctx.obj = obj
    if ctx.invoked_subcommand is not None:
        return
    import signal
    import threading

    from agent.run import run_daemon, run_once

    _setup_cli_logging(verbose or test_mode, debug)
    settings = _agent_settings(obj)
    settings.noop = noop
    settings.tags = [t.strip() for t in tags.split(",") if t.strip()] if tags else None
    settings.show_diff = show_diff or test_mode
    settings.use_cached_catalog = use_cached_catalog
    settings.usecacheonfailure = usecacheonfailure and not test_mode
    settings.pluginsync = not no_pluginsync
    settings.runinterval = runinterval
    settings.splay = splay and not test_mode
    settings.splaylimit = splaylimit
    detailed = detailed_exitcodes or test_mode
    colour = sys.stdout.isatty()
    shown = {"info", "notice", "warning", "err"} if (verbose or test_mode or debug) else {"notice", "warning", "err"}

    def show(result: Any) -> None:
        for level, text in result.lines:
            if level in shown:
                click.echo(click.style(text, fg=_LEVEL_COLOURS.get(level)) if colour else text)

    if onetime or test_mode:
        result = run_once(settings)
        show(result)
        if detailed or result.exit_code in (0, 1):
            sys.exit(result.exit_code if detailed else (1 if result.exit_code else 0))
        sys.exit(1 if result.exit_code & 4 else 0)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if live:
        from agent.live import run_daemon_live

        settings.live = True
        run_daemon_live(settings, stop, show)
    else:
        run_daemon(settings, stop, show)


@agent_group.command("disable")
@click.argument("reason", required=False, default="")
@click.pass_obj
def agent_disable(obj: dict[str, Any], reason: str) -> None:
    """Stop runs (timer and --onetime) until `bunraku agent enable`."""
    from agent.run import disable

    disable(_agent_settings(obj), reason)
    click.echo(f"agent disabled{': ' + reason if reason else ''}")


@agent_group.command("enable")
@click.pass_obj
def agent_enable(obj: dict[str, Any]) -> None:
    """Allow runs again."""
    from agent.run import enable

    click.echo("agent enabled" if enable(_agent_settings(obj)) else "agent was not disabled")


@agent_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_obj
def agent_status(obj: dict[str, Any], as_json: bool) -> None:
    """The last run, the reports waiting in the spool, and those set aside or lost (and why)."""
    import json

    from agent.status import summary, summary_lines

    settings = _agent_settings(obj)
    info = summary(settings.status_file, settings.spool_dir)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    for line in summary_lines(info, settings.spool_dir):
        click.echo(line)


# -- the CA -----------------------------------------------------------------------------------------
@main.group("cert")
@click.option("--ssldir", type=click.Path(file_okay=False), help="The master's ssldir.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="The master's YAML settings.")
@click.pass_context
def cert_group(ctx: click.Context, ssldir: str | None, config_file: str | None) -> None:
    """The master's certificate authority (run on the master, like `puppetserver ca`)."""
    ctx.obj = {"ssldir": ssldir, "config": config_file}


def _pass_ca(func: Any) -> Any:
    """Give a `cert` subcommand the CA, from --ssldir/--config given before or after the subcommand
    (`bunraku cert --ssldir X list` and `bunraku cert list --ssldir X` alike)."""
    import functools

    @click.option("--ssldir", "sub_ssldir", type=click.Path(file_okay=False),
                  help="The master's ssldir (also accepted before the subcommand).")
    @click.option("--config", "sub_config", type=click.Path(dir_okay=False), help="The master's YAML settings.")
    @click.pass_context
    @functools.wraps(func)
    def with_ca(ctx: click.Context, *args: Any, sub_ssldir: str | None = None, sub_config: str | None = None,
                **kw: Any) -> Any:
        from master.ca import CertificateAuthority
        from master.config import ConfigError, load_config

        given = ctx.obj or {}
        try:
            config = load_config(sub_config or given.get("config"), {"ssldir": sub_ssldir or given.get("ssldir")})
        except ConfigError as exc:
            _die(str(exc))
        return func(CertificateAuthority(config.ssldir), *args, **kw)

    return with_ca


def _ca_call(func: Any, *args: Any, **kw: Any) -> Any:
    from master.ca import CAError
    from master.rpc.pki import PkiError

    try:
        return func(*args, **kw)
    except (CAError, PkiError) as exc:
        _die(f"error: {exc}")
    except OSError as exc:
        _die(f"error: {exc.strerror}: {exc.filename}")


@cert_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Signed and revoked certificates too.")
@_pass_ca
def cert_list(ca: Any, show_all: bool) -> None:
    """Pending requests (and with --all, every certificate)."""
    from master.rpc.pki import fingerprint

    if not ca.exists():
        _die(f"error: no CA under {ca.dir}; start `bunraku master` once")
    entries = _ca_call(ca.entries)
    click.echo(f"CA fingerprint (SHA-256): {fingerprint(ca.ca_cert)}")
    for e in entries:
        if show_all or e.state == "requested":
            mark = {"requested": " ", "signed": "+", "revoked": "-"}[e.state]
            extra = f"  expires {e.not_after}" if e.not_after else ""
            if e.authorization:
                extra += f"  authorization extensions: {', '.join(e.authorization)}"
            click.echo(f"{mark} {e.name:40} {e.state:9} (SHA256) {e.fingerprint}{extra}")


@cert_group.command("sign")
@click.argument("certnames", nargs=-1)
@click.option("--all", "sign_all", is_flag=True, help="Sign every pending request.")
@click.option("--allow-authorization-extensions", "allow_authorization", is_flag=True,
              help="Also sign requests carrying authorization extensions (pp_auth_role ...), granting them.")
@_pass_ca
def cert_sign(ca: Any, certnames: tuple[str, ...], sign_all: bool, allow_authorization: bool) -> None:
    """Sign pending certificate requests (compare their fingerprints, `bunraku cert list`, with the agents')."""
    from master.ca import CAError
    from master.rpc.pki import PkiError

    names = list(certnames)
    if sign_all:
        names += [e.name for e in _ca_call(ca.entries) if e.state == "requested"]
    if not names:
        _die("error: name a certificate request (or --all)")
    failed = False
    for name in names:
        try:
            ca.sign(name, allow_authorization_extensions=allow_authorization)
        except (CAError, PkiError, OSError) as exc:  # the others are still signed; the exit status tells
            message = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) else str(exc)
            click.echo(f"error: {message}", err=True)
            failed = True
            continue
        click.echo(f"Signed certificate for {name}")
    if failed:
        sys.exit(1)


@cert_group.command("revoke")
@click.argument("certnames", nargs=-1, required=True)
@_pass_ca
def cert_revoke(ca: Any, certnames: tuple[str, ...]) -> None:
    """Revoke certificates (the master refuses them from the next call on)."""
    for name in certnames:
        serial = _ca_call(ca.revoke, name)
        click.echo(f"Revoked certificate for {name} (serial {serial})")


@cert_group.command("clean")
@click.argument("certnames", nargs=-1, required=True)
@_pass_ca
def cert_clean(ca: Any, certnames: tuple[str, ...]) -> None:
    """Revoke and remove certificates and requests, so the nodes can ask again."""
    for name in certnames:
        _ca_call(ca.clean, name)
        click.echo(f"Cleaned {name}")


@cert_group.command("generate")
@click.argument("certname")
@click.option("--operator", is_flag=True, help="An operator certificate (pp_cli_auth): fleet calls.")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]),
              help="An operator's role: viewer reads; operator runs rollouts; admin: all. [admin]")
@click.option("--groups", "role_groups", help="With --role: the node groups it may act on, comma-separated. [all]")
@click.option("--out-ssldir", type=click.Path(file_okay=False), required=True,
              help="Where to write the key, certificate and CA (an ssldir for --ssldir of the client).")
@_pass_ca
def cert_generate(ca: Any, certname: str, operator: bool, out_ssldir: str, role: str | None = None,
                  role_groups: str | None = None) -> None:
    """Make a key and certificate here (e.g. an operator's) and write them as an ssldir."""
    from master.rpc import pki

    if role_groups and not role:
        _die("error: --groups limits a role; give --role too")
    role_ext = None
    if role:
        groups = [g.strip() for g in (role_groups or "").split(",") if g.strip()]
        role_ext = _ca_call(pki.role_text, role, groups)
        operator = True  # a role is an operator's
    key, cert = _ca_call(ca.generate, certname, operator=operator, role=role_ext)
    paths = pki.SSLPaths(Path(out_ssldir), certname)
    pki.write_private(paths.key, key)
    pki.write_public(paths.cert, cert)
    pki.write_public(paths.ca, ca.ca_pem())
    kind = f"an operator ({role_ext})" if role_ext else "an operator" if operator else "a"
    click.echo(f"Generated {kind} certificate for {certname} in {out_ssldir}")


# -- fleet operations (operator certificate) ---------------------------------------------------------
def _operator_options(func: Any) -> Any:
    options = [
        click.option("--server", envvar="BUNRAKU_SERVER", default="localhost:8140", show_default=True,
                     help="Master(s), comma-separated."),
        click.option("--ssldir", "op_ssldir", envvar="BUNRAKU_SSLDIR", default=str(Path.home() / ".bunraku/ssl"),
                     show_default=True, help="The operator's ssldir."),
        click.option("--certname", "op_certname", envvar="BUNRAKU_CERTNAME", default="admin", show_default=True,
                     help="The operator certificate's name."),
    ]
    for opt in reversed(options):
        func = opt(func)
    return func


def _operator_client(server: str, ssldir: str, certname: str) -> Any:
    from master.rpc.client import MasterClient
    from master.rpc.pki import SSLPaths

    paths = SSLPaths(Path(ssldir), certname)
    if not paths.has_identity():
        _die(f"error: no operator certificate for {certname} in {ssldir}; on the master run "
             f"`bunraku cert generate {certname} --operator --out-ssldir DIR`")
    try:
        return MasterClient(server, paths, timeout=300)
    except Exception as exc:  # noqa: BLE001 - ClientError for a bad --server
        _die(f"error: {exc}")


def _fleet_call(func: Any, *args: Any, **kw: Any) -> Any:
    from master.rpc.client import ClientError

    try:
        return func(*args, **kw)
    except ClientError as exc:
        _die(f"error: {exc}")


@main.command("nodes")
@_operator_options
@click.option("--unresponsive-after", type=float, default=3600, show_default=True,
              help="Seconds without contact before a node counts as unresponsive.")
@click.option("--json", "as_json", is_flag=True)
def nodes_cmd(server: str, op_ssldir: str, op_certname: str, unresponsive_after: float, as_json: bool) -> None:
    """The fleet: each node's status, last run, code_id and group."""
    import json

    from master import fleet

    with _operator_client(server, op_ssldir, op_certname) as client:
        nodes = _fleet_call(fleet.list_nodes, client, unresponsive_after)
    if as_json:
        click.echo(json.dumps(nodes, indent=2))
        return
    for line in fleet.nodes_table(nodes):
        click.echo(line)


@main.group("report")
def report_group() -> None:
    """Reports stored on the master."""


@report_group.command("show")
@click.argument("node")
@click.option("--last", type=int, default=1, show_default=True, help="How many recent reports.")
@click.option("--json", "as_json", is_flag=True, help="Print the report documents.")
@_operator_options
def report_show(node: str, last: int, as_json: bool, server: str, op_ssldir: str, op_certname: str) -> None:
    """NODE's most recent reports."""
    import json

    from master import fleet

    with _operator_client(server, op_ssldir, op_certname) as client:
        reports = _fleet_call(fleet.reports, client, node, last)
    if not reports:
        _die(f"error: no reports for {node}")
    if as_json:  # one document: a JSON array, newest first
        click.echo(json.dumps(list(reports), indent=2))
        return
    for report in reports:
        for line in fleet.report_summary(report):
            click.echo(line)


@main.group("catalog")
def catalog_group() -> None:
    """Catalogs on the master."""


@catalog_group.command("diff")
@click.argument("node")
@click.option("--from", "from_rev", required=True, help="A git revision of the node's environment.")
@click.option("--to", "to_rev", required=True, help="Another revision (e.g. a branch before it is merged).")
@click.option("--environment", default="", help="Default: the node's classified environment.")
@click.option("--json", "as_json", is_flag=True)
@_operator_options
def catalog_diff_cmd(node: str, from_rev: str, to_rev: str, environment: str, as_json: bool, server: str,
                     op_ssldir: str, op_certname: str) -> None:
    """What moving NODE from one commit to another would change, resource by resource."""
    import json

    from master import fleet
    from master.catalogdiff import render_diff

    with _operator_client(server, op_ssldir, op_certname) as client:
        diff, old, new = _fleet_call(fleet.catalog_diff, client, node, from_rev, to_rev, environment)
    if as_json:
        click.echo(json.dumps(diff, indent=2))
        return
    click.echo(f"--- {node} @ {old[:12]}\n+++ {node} @ {new[:12]}")
    lines = render_diff(diff)
    for line in lines or ["(no resource changes)"]:
        click.echo(line)


@main.group("rollout")
def rollout_group() -> None:
    """Release control: roll a commit out to the fleet in waves (operator certificate)."""


def _print_rollout(info: dict[str, Any], as_json: bool) -> None:
    import json

    from master import fleet

    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for line in fleet.rollout_lines(info):
        click.echo(line)


@rollout_group.command("start")
@click.argument("rev")
@click.option("--environment", "--env", "environment", default="production", show_default=True, help="The git environment.")
@click.option("--group", help="Only the nodes of this group (product line).")
@click.option("--canary", help="Nodes of the first wave: N or N%. [1]")
@click.option("--batch", help="Nodes of each later wave: N or N%. [10%]")
@click.option("--max-concurrent", type=int, help="Nodes running at once, fleet-wide. [5]")
@click.option("--max-failures", help="Failed nodes tolerated (N or N%); one more halts the rollout. [0]")
@click.option("--health-timeout", type=float, help="Seconds a triggered node has to report healthy. [600]")
@click.option("--pause-between", type=float, help="Seconds between waves. [0]")
@click.option("--auto-rollback", is_flag=True, help="When halted, give the nodes their previous release back.")
@click.option("--incremental", is_flag=True, help="Agents apply only what changed since their last good run.")
@click.option("--force", is_flag=True, help="Start even if the release does not compile for some nodes.")
@click.option("--json", "as_json", is_flag=True)
@_operator_options
def rollout_start(rev: str, environment: str, group: str | None, canary: str | None, batch: str | None,
                  max_concurrent: int | None, max_failures: str | None, health_timeout: float | None,
                  pause_between: float | None, auto_rollback: bool, incremental: bool, force: bool, as_json: bool,
                  server: str, op_ssldir: str, op_certname: str) -> None:
    """Roll REV (a branch of the environment or a commit) out, wave by wave. The master first compiles
    REV for every node in scope and refuses, naming each node and its error, if any fails (--force)."""
    from master import fleet

    with _operator_client(server, op_ssldir, op_certname) as client:
        info = _fleet_call(fleet.start_rollout, client, rev, environment, group=group, canary=canary, batch=batch,
                           max_concurrent=max_concurrent, max_failures=max_failures, health_timeout=health_timeout,
                           pause_between=pause_between, auto_rollback=auto_rollback, incremental=incremental,
                           force=force)
    if as_json:
        _print_rollout(info, True)
        return
    waves = [len(w["nodes"]) for w in info.get("waves") or []]
    click.echo(f"rollout {info['id']} started: {info['environment']}@{info['code_id'][:12]} to {sum(waves)} "
               f"node(s) in {len(waves)} wave(s) {waves}")


@rollout_group.command("status")
@click.argument("rollout_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@_operator_options
def rollout_status(rollout_id: int, as_json: bool, server: str, op_ssldir: str, op_certname: str) -> None:
    """A rollout: its state, waves, each node's state and health, and its timeline."""
    from master import fleet

    with _operator_client(server, op_ssldir, op_certname) as client:
        info = _fleet_call(fleet.rollout_status, client, rollout_id)
    _print_rollout(info, as_json)


def _rollout_command(command: str) -> Any:
    @click.argument("rollout_id", type=int)
    @_operator_options
    def run(rollout_id: int, server: str, op_ssldir: str, op_certname: str) -> None:
        from master import fleet

        with _operator_client(server, op_ssldir, op_certname) as client:
            info = _fleet_call(fleet.rollout_command, client, rollout_id, command)
        click.echo(f"rollout {rollout_id}: {info['state']}")

    run.__doc__ = {"pause": "Stop starting new nodes (those running finish).",
                   "resume": "Carry on with a paused rollout.",
                   "abort": "Stop the rollout for good; nodes keep the release they have.",
                   "rollback": "Give every node the rollout reached its previous release back."}[command]
    return rollout_group.command(command)(run)


for _command in ("pause", "resume", "abort", "rollback"):
    _rollout_command(_command)


@rollout_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@_operator_options
def rollout_list(as_json: bool, server: str, op_ssldir: str, op_certname: str) -> None:
    """Every rollout, newest first."""
    import json

    from master import fleet

    with _operator_client(server, op_ssldir, op_certname) as client:
        items = _fleet_call(fleet.list_rollouts, client)
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for line in fleet.rollouts_table(items):
        click.echo(line)


def _node_facts(node: str, server: str, ssldir: str, certname: str) -> dict[str, Any]:
    from master import fleet

    with _operator_client(server, ssldir, certname) as client:
        found = _fleet_call(fleet.stored_facts, client, node)
    if found is None:
        _die(f"error: the master has no facts for {node}")
    return found


if __name__ == "__main__":  # pragma: no cover
    main()
