"""`bunraku apply`: converge this host (or a --root) to a manifest or a catalog."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from cli.common import (
    PuppetCommand,
    RunOutput,
    deferred_functions,
    die,
    engine_error,
    host_facts_or_minimal,
    load_facts_file,
    progress_line,
    refused,
    report_dsl_error,
    run_exit_status,
    setup_cli_logging,
    split_path,
    version_option,
    warn,
)


def _load_catalog_file(path: str) -> Any:
    from agent.catalogcache import parse_catalog
    from engine.catalog import CatalogError

    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        die(f"{path}: error: cannot read catalog: {exc.strerror}")
    try:
        return parse_catalog(data)
    except CatalogError as exc:
        die(f"{path}: error: {exc}")


@contextmanager
def _no_dir() -> Iterator[str]:
    yield ""


def _compile(manifest: str | None, code: str | None, node: str, facts: dict[str, Any], modulepath: str | None,
             hiera_config: str | None, environment: str, strict_variables: bool) -> Any:
    """The catalog of MANIFEST, or of ``-e CODE`` (compiled from a temporary file that errors call ``-e``)."""
    import tempfile

    try:
        from dsl.compiler import CompileRequest, compile_catalog
    except ImportError:
        die("error: the manifest compiler is not available in this build; apply a --catalog instead")
    from dsl.errors import DslError

    with tempfile.TemporaryDirectory(prefix="bunraku-execute-") if code is not None else _no_dir() as tmp:
        path = Path(manifest) if manifest else Path(tmp) / "execute.pp"
        if code is not None:
            path.write_text(code if code.endswith("\n") else code + "\n", encoding="utf-8")
        try:
            request = CompileRequest.from_cli(
                manifest=path, node=node, facts=facts, modulepath=split_path(modulepath),
                hiera_config=Path(hiera_config) if hiera_config else None, env_dir=None,
                environment=environment, strict_variables=strict_variables)
            catalog = compile_catalog(request)
        except DslError as exc:
            if code is None:
                report_dsl_error(exc)
            click.echo(exc.format_line().replace(str(path), "-e"), err=True)
            excerpt = exc.excerpt() if sys.stderr.isatty() else None
            if excerpt:
                click.echo(excerpt, err=True)
            sys.exit(1)
        if code is not None:
            for resource in catalog:
                if resource.file == str(path):
                    resource.file = None
    return catalog


def _cached_compile(manifest: str, node: str, facts: dict[str, Any], modulepath: str | None,
                    hiera_config: str | None, environment: str, strict_variables: bool, state: Any,
                    log_level: int) -> Any:
    """The catalog of MANIFEST, reused from the last run when nothing it was compiled from has changed
    (:mod:`dsl.compilecache`); a reused catalog never loads the compiler."""
    import os

    from dsl import compilecache

    settings = {"manifest": os.path.abspath(manifest), "node": node, "environment": environment,
                "modulepath": [os.path.abspath(p) for p in split_path(modulepath)],
                "hiera_config": os.path.abspath(hiera_config) if hiera_config else None,
                "strict_variables": strict_variables, "log_level": log_level}
    key = compilecache.settings_key(settings)
    document = compilecache.lookup(state, key, facts)
    if document is not None:
        from engine.catalog import Catalog, CatalogError

        try:
            return Catalog.from_dict(document)
        except CatalogError:
            pass  # an entry from another build: compile
    from dsl.parsecache import cache_dir
    from engine.report import puppet_time

    parse_cache = cache_dir()
    with compilecache.watch(facts, exclude=(str(parse_cache),) if parse_cache else ()) as watcher:
        catalog = _compile(manifest, None, node, facts, modulepath, hiera_config, environment, strict_variables)
    compilecache.store(state, key, watcher, catalog.to_dict(), puppet_time())
    return catalog


def _init_root(root_dir: str, noop: bool) -> None:
    """``--init-root``: seed what is missing of a minimal target root (:mod:`engine.rootinit`)."""
    from engine.rootinit import RootInitError, init_root

    if noop:
        die("error: --init-root writes into the root; seed it without --noop, then run --noop")
    try:
        created = init_root(root_dir)
    except RootInitError as exc:
        die(f"error: {exc}")
    if created:
        files = [c for c in created if not Path(root_dir, c.lstrip("/")).is_dir()]
        dirs = len(created) - len(files)
        click.echo(f"Notice: seeded {root_dir}: {', '.join(files) or 'no files'} and {dirs} "
                   f"director{'y' if dirs == 1 else 'ies'}", err=True)
    else:
        click.echo(f"Notice: {root_dir} already has everything --init-root seeds", err=True)


@click.command("apply", cls=PuppetCommand)
@click.argument("manifest", required=False, type=click.Path())
@click.option("-e", "--execute", "code", metavar="CODE", help="Apply this manifest CODE instead of a MANIFEST file.")
@click.option("--catalog", "catalog_file", type=click.Path(dir_okay=False),
              help="Apply this catalog JSON (- for stdin) instead of compiling a manifest.")
@click.option("--modulepath", help="Colon-separated module directories.")
@click.option("--artifact-dir", type=click.Path(file_okay=False),
              help="Where `release` resources find their artifacts without a master: DIR/APP/VERSION/FILE.")
@click.option("--hiera-config", type=click.Path(dir_okay=False), help="A Hiera 5 hiera.yaml.")
@click.option("--facts", "facts_file", type=click.Path(dir_okay=False), help="Facts as JSON or YAML.")
@click.option("--node", "--certname", "node", default=None,
              help="Node name (default: the fqdn fact or this host's FQDN, lowercased).")
@click.option("--environment", default="production", show_default=True,
              help="The environment the catalog is compiled in ($environment).")
@click.option("--strict-variables", is_flag=True, help="Unknown variables are errors.")
@click.option("--strict", type=click.Choice(["off", "warning", "error"]), is_flag=False, flag_value="error",
              default=None, help="error (the default when given alone): as --strict-variables; off, warning: "
                                 "as without it.")
@click.option("--noop", is_flag=True, help="Only report what would change; change and write nothing.")
@click.option("--show-diff", is_flag=True, help="Show unified diffs of file content changes.")
@click.option("--root", "root_dir", default="/", show_default=True, type=click.Path(file_okay=False),
              help="Target root directory to converge.")
@click.option("--init-root", is_flag=True,
              help="First seed what is missing of a minimal --root DIR (account databases, dpkg's status, "
                   "the usual directories); alone, only seed it.")
@click.option("--tags", help="Apply only resources with one of these comma-separated tags.")
@click.option("--detailed-exitcodes", is_flag=True,
              help="Exit 0 no changes, 2 changes (or, with --noop, changes pending), 4 failures, 6 both.")
@click.option("-t", "--test", "test_mode", is_flag=True, help="As --detailed-exitcodes --verbose --show-diff.")
@click.option("-v", "--verbose", is_flag=True, help="Also show info messages.")
@click.option("-d", "--debug", is_flag=True, help="Also show debug messages.")
@click.option("-l", "--logdest", multiple=True, metavar="DEST",
              help="console (default), syslog or a file path (.json/.jsonl: JSON records); comma-separated "
                   "or repeated.")
@click.option("--write-catalog-summary", is_flag=True,
              help="Write classes.txt, resources.txt and last_run_summary.yaml to STATE_DIR/state, as the agent does.")
@click.option("-L", "--loadclasses", is_flag=True, hidden=True)
@refused("--skip-tags", message="not supported; name the resources to apply with --tags", takes_value=True)
@version_option
@click.option("--report", "report_file", type=click.Path(dir_okay=False), help="Also write the report JSON here.")
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="Where reports and the filebucket live (default ROOT/var/lib/bunraku).")
@click.option("--catalog-cache/--no-catalog-cache", default=True, show_default=True,
              help="Reuse the last run's catalog of MANIFEST when no file, fact or setting it was compiled "
                   "from has changed (kept in the state directory; with --root DIR, only in a --state-dir "
                   "outside DIR).")
def apply_cmd(manifest: str | None, code: str | None, catalog_file: str | None, modulepath: str | None,
              artifact_dir: str | None, hiera_config: str | None, facts_file: str | None, node: str | None, environment: str,
              strict_variables: bool, strict: str | None, noop: bool, show_diff: bool, root_dir: str,
              init_root: bool, tags: str | None, detailed_exitcodes: bool, test_mode: bool, verbose: bool, debug: bool,
              logdest: tuple[str, ...], write_catalog_summary: bool, loadclasses: bool,
              report_file: str | None, state_dir: str | None, catalog_cache: bool) -> None:
    """Converge this host (or --root DIR) to MANIFEST, to -e CODE or to a --catalog JSON."""
    import logging
    import time

    from engine.apply import apply_catalog
    from engine.context import default_state_dir
    from engine.errors import EngineError
    from engine.sources import ModulepathFileSource
    from engine.summary import report_lines, write_last_run_files
    from engine.summary import write_catalog_summary as write_summary
    from facts.files import certname_from_facts

    given = sum(1 for given_ in (manifest, code, catalog_file) if given_ is not None)
    if init_root:
        _init_root(root_dir, noop)
        if given == 0:
            sys.exit(0)
    if given != 1:
        die("error: give one of MANIFEST, -e CODE or --catalog FILE")
    if loadclasses:
        warn("--loadclasses has no effect: classes are loaded as the manifest names them")
    if catalog_file and (strict_variables or strict):
        warn("--strict-variables applies to compiling; a --catalog is already compiled")
    verbose = verbose or test_mode or debug
    if verbose:
        setup_cli_logging(verbose, debug)
    out = RunOutput(logdest)
    out.capture_logging(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)
    try:
        facts = load_facts_file(facts_file)
        retrieval_started = time.perf_counter()
        if catalog_file:
            catalog = _load_catalog_file(catalog_file)
        else:
            node_name = node or certname_from_facts(facts)
            if facts is None:
                facts = host_facts_or_minimal(node_name)
            strict_compile = strict_variables or strict == "error"
            from engine.statedir import StateDir

            cache_in = StateDir.for_run(root_dir, state_dir)
            # never from a state directory inside an image (--root DIR without a --state-dir of the host's):
            # whoever writes the image does not choose the catalog applied to it
            if catalog_cache and code is None and manifest is not None and cache_in.root == "/":
                catalog = _cached_compile(manifest, node_name, facts, modulepath, hiera_config, environment,
                                          strict_compile, cache_in, logging.getLogger().getEffectiveLevel())
            else:
                catalog = _compile(manifest, code, node_name, facts, modulepath, hiera_config, environment,
                                   strict_compile)
        retrieval = time.perf_counter() - retrieval_started
        tag_list = [t.strip() for t in tags.split(",") if t.strip()] if tags else None
        progress = progress_line() if sys.stderr.isatty() else None
        state = Path(state_dir) if state_dir else None
        try:
            report = apply_catalog(catalog, root=Path(root_dir), noop=noop, tags=tag_list,
                                   show_diff=show_diff or test_mode, state_dir=state, facts=facts,
                                   file_sources=ModulepathFileSource(split_path(modulepath), artifact_dir),
                                   progress=progress,
                                   functions=deferred_functions())
        except EngineError as exc:
            engine_error(exc)
        finally:
            if progress is not None:
                progress(-1, 0)
        report.add_times("config_retrieval", retrieval)
        for level, text in report_lines(report, verbose=verbose):
            out(level, text)
        if write_catalog_summary:
            summary_dir = (state or default_state_dir(root_dir)) / "state"
            write_summary(summary_dir, catalog)
            write_last_run_files(summary_dir, report)
        if report_file:
            try:
                Path(report_file).write_text(report.to_json(indent=2), encoding="utf-8")
            except OSError as exc:
                die(f"{report_file}: error: cannot write report: {exc.strerror}")
    finally:
        out.close()
    sys.exit(run_exit_status(report, detailed=detailed_exitcodes or test_mode))
