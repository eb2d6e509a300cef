"""`bunraku agent`: the agent's run loop, once or on a timer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cli.common import (
    AGENT_SSLDIR,
    AGENT_VARDIR,
    DEFAULT_ENVIRONMENT,
    DEFAULT_SERVER,
    SERVER_ENVVAR,
    Duration,
    OptionsAnywhereGroup,
    RunOutput,
    deferred_functions,
    die,
    load_facts_file,
    log_level,
    refused,
    run_exit_status,
    setup_cli_logging,
    version_option,
    warn,
)


def _with_port(servers: str, port: int | None) -> str:
    """``--masterport``/``--serverport``: the port of the masters given without one."""
    if port is None:
        return servers
    items = [s.strip() for s in servers.split(",") if s.strip()]
    return ",".join(s if s.rpartition(":")[2].isdigit() else f"{s}:{port}" for s in items)


def _agent_settings(obj: dict[str, Any]) -> Any:
    from agent.run import AgentSettings
    from wire.client import ClientError, split_servers

    root = Path(obj["root"])
    try:
        servers = split_servers(_with_port(obj["server"], obj.get("masterport")))
    except ClientError as exc:
        die(f"error: {exc}")
    certname = obj["certname"]
    if not certname:
        from facts.files import certname_from_facts

        certname = certname_from_facts(load_facts_file(obj.get("facts_file")))
    extensions = {}
    for item in obj.get("csr_attributes") or ():
        key, sep, value = item.partition("=")
        if not sep:
            die(f"error: --csr-extension {item!r}: expected NAME=VALUE (e.g. pp_role=web)")
        extensions[key] = value
    return AgentSettings(
        certname=certname, servers=servers, ca_server=obj["ca_server"],
        ssldir=Path(obj["ssldir"]) if obj["ssldir"] else root / AGENT_SSLDIR,
        vardir=Path(obj["vardir"]) if obj["vardir"] else root / AGENT_VARDIR,
        root=root, environment=obj["environment"], facts_file=Path(obj["facts_file"]) if obj["facts_file"] else None,
        challenge=obj["challenge"], csr_extensions=extensions, ca_fingerprint=obj["ca_fingerprint"],
        waitforcert=obj["waitforcert"], functions=deferred_functions())


@click.group("agent", cls=OptionsAnywhereGroup, invoke_without_command=True)
@click.option("--server", "--server-list", envvar=SERVER_ENVVAR, default=DEFAULT_SERVER, show_default=True,
              help="Master(s), HOST[:PORT], comma-separated, tried in order (Puppet's --server_list).")
@click.option("--masterport", "--serverport", "masterport", type=click.IntRange(1, 65535),
              help="The port of the masters named without one. [8140]")
@click.option("--ca-server", help="HOST:PORT of the CA listener (default: the first server's port + 1).")
@click.option("--certname", help="This node's certificate name (default: its FQDN).")
@click.option("--ssldir", type=click.Path(file_okay=False), help=f"This node's key and certificate. [ROOT/{AGENT_SSLDIR}]")
@click.option("--vardir", type=click.Path(file_okay=False),
              help=f"Catalog cache, report spool, lock, plugins. [ROOT/{AGENT_VARDIR}]")
@click.option("--root", "root_dir", default="/", show_default=True, type=click.Path(file_okay=False),
              help="Target root directory to converge.")
@click.option("--environment", default=DEFAULT_ENVIRONMENT, show_default=True,
              help="The environment to ask the master for (its classifier may decide otherwise).")
@click.option("-o", "--onetime", is_flag=True, help="Run once and exit.")
@click.option("-t", "--test", "test_mode", is_flag=True,
              help="Once, verbose, with diffs and detailed exit codes; no cached catalog on failure.")
@click.option("--noop", is_flag=True, help="Only report what would change.")
@click.option("--tags", help="Apply only resources with one of these comma-separated tags (or type names).")
@click.option("--show-diff", is_flag=True, help="Show a unified diff of each file's content change.")
@click.option("--detailed-exitcodes", is_flag=True, help="Exit 0 no changes, 2 changes, 4 failures, 6 both.")
@click.option("--facts", "facts_file", type=click.Path(dir_okay=False),
              help="Submit these facts (JSON/YAML) instead of collecting this host's.")
@click.option("-w", "--waitforcert", type=Duration(), default=120.0, show_default=True,
              help="Seconds to wait for the certificate to be signed (0: ask once).")
@click.option("--challenge", help="Pre-shared autosign challenge to put in the certificate request.")
@click.option("--csr-extension", "csr_attributes", multiple=True, help="NAME=VALUE extension request (pp_role=web).")
@click.option("--ca-fingerprint", help="Expected SHA-256 fingerprint of the CA (first contact).")
@click.option("--runinterval", type=Duration(), default=1800.0, show_default=True, help="Seconds between runs.")
@click.option("--splay/--no-splay", default=False, help="Wait a random time (up to --splaylimit) first.")
@click.option("--splaylimit", type=Duration(), help="[runinterval]")
@click.option("--use-cached-catalog", is_flag=True, help="Apply the cached catalog; do not ask a master.")
@click.option("--usecacheonfailure/--no-usecacheonfailure", default=True, show_default=True,
              help="Apply the cached catalog when no master answers.")
@click.option("--no-pluginsync", is_flag=True, help="Do not sync custom facts from the master.")
@click.option("--live/--no-live", default=True, show_default=True,
              help="Daemon mode: keep a live channel to the master (heartbeats, runs on demand for rollouts).")
@click.option("--task-accounts", metavar="ACCOUNTS", default="",
              help="Accounts the master's tasks may run as here, comma-separated (root too must be listed). [none]")
@click.option("-v", "--verbose", is_flag=True, help="Show info messages too (each resource checked, ...).")
@click.option("-d", "--debug", is_flag=True, help="Show debug messages too.")
@click.option("-l", "--logdest", multiple=True, metavar="DEST",
              help="console (default), syslog or a file path (.json/.jsonl: JSON records); comma-separated "
                   "or repeated.")
@click.option("--disable", "disable_message", is_flag=False, flag_value="", default=None, metavar="[MESSAGE]",
              help="Stop runs until --enable, with an optional MESSAGE, and exit (as `agent disable`).")
@click.option("--enable", "enable_runs", is_flag=True, help="Allow runs again and exit (as `agent enable`).")
@click.option("--fingerprint", is_flag=True,
              help="Print the SHA-256 fingerprint of this node's certificate (or request) and exit.")
@click.option("--no-daemonize", is_flag=True, help="Accepted: the agent always runs in the foreground.")
@refused("-D", "--daemonize", message="bunraku agent runs in the foreground; run it under systemd "
                                      "(examples/systemd/) or with --onetime from a timer")
@click.option("--write-catalog-summary", is_flag=True, hidden=True)
@refused("--digest", message="fingerprints are always SHA-256; drop --digest", takes_value=True)
@refused("--evaltrace", message="not supported; -v shows every change and -d the engine's debug log")
@refused("--job-id", message="not supported; `bunraku rollout` names and tracks the runs it asks for",
         takes_value=True)
@refused("--sourceaddress", message="not supported; the agent connects from the address its route gives",
         takes_value=True)
@refused("--skip-tags", message="not supported; name the resources to apply with --tags", takes_value=True)
@click.option("--trace", is_flag=True, hidden=True)
@version_option
@click.pass_context
def agent_group(ctx: click.Context, server: str, ca_server: str | None, certname: str | None,
                ssldir: str | None, vardir: str | None, root_dir: str, environment: str, onetime: bool,
                test_mode: bool, noop: bool, tags: str | None, show_diff: bool, detailed_exitcodes: bool,
                facts_file: str | None, waitforcert: float, challenge: str | None,
                csr_attributes: tuple[str, ...], ca_fingerprint: str | None, runinterval: float, splay: bool,
                splaylimit: float | None, use_cached_catalog: bool, usecacheonfailure: bool,
                no_pluginsync: bool, verbose: bool, debug: bool, live: bool = True, masterport: int | None = None,
                logdest: tuple[str, ...] = (), disable_message: str | None = None, enable_runs: bool = False,
                fingerprint: bool = False, no_daemonize: bool = False,
                write_catalog_summary: bool = False, trace: bool = False, task_accounts: str = "") -> None:
    """Run the agent: on a timer (--runinterval), or once (--onetime, -t)."""
    obj = {"server": server, "ca_server": ca_server, "certname": certname, "ssldir": ssldir, "vardir": vardir,
           "root": root_dir, "environment": environment, "facts_file": facts_file, "challenge": challenge,
           "csr_attributes": csr_attributes, "ca_fingerprint": ca_fingerprint, "waitforcert": waitforcert,
           "masterport": masterport}
    ctx.obj = obj
    if ctx.invoked_subcommand is not None:
        return
    if trace:
        warn("--trace has no effect: errors a user can cause are one line, and the others print their traceback")
    if disable_message is not None and enable_runs:
        die("error: give --disable or --enable, not both")
    if disable_message is not None:
        ctx.invoke(agent_disable, reason=disable_message)
        return
    if enable_runs:
        ctx.invoke(agent_enable)
        return
    if fingerprint:
        _print_fingerprint(obj)
        return
    import signal
    import threading

    from agent import upgrade
    from agent.run import run_daemon, run_once

    settings = _agent_settings(obj)
    upgrade.enter(settings.vardir, sys.argv[1:])  # another version is current or on trial: run that one
    setup_cli_logging(verbose or test_mode, debug)
    # a daemon's lines are a log: each with its time, as the log records on stderr
    out = RunOutput(logdest, timestamps=not (onetime or test_mode))
    out.capture_logging(log_level(verbose or test_mode, debug))
    settings.noop = noop
    settings.tags = [t.strip() for t in tags.split(",") if t.strip()] if tags else None
    settings.show_diff = show_diff or test_mode
    settings.use_cached_catalog = use_cached_catalog
    settings.usecacheonfailure = usecacheonfailure and not test_mode
    settings.pluginsync = not no_pluginsync
    settings.runinterval = runinterval
    settings.splay = splay and not test_mode
    settings.splaylimit = splaylimit
    settings.task_accounts = tuple(a.strip() for a in task_accounts.split(",") if a.strip())
    detailed = detailed_exitcodes or test_mode
    shown = {"info", "notice", "warning", "err"} if (verbose or test_mode or debug) else {"notice", "warning", "err"}

    def show(result: Any) -> None:
        for level, text in result.lines:
            if level in shown:
                out(level, text)

    if onetime or test_mode:
        try:
            result = run_once(settings)
            show(result)
            if result.upgrade is not None:  # tried at the agent's next start: this invocation runs once
                try:
                    upgrade.prepare(settings.vardir, result.upgrade)
                except OSError as exc:
                    warn(f"warning: agent {result.upgrade.version} cannot be tried: {exc}")
        finally:
            out.close()
        sys.exit(run_exit_status(result.report, detailed=detailed, run_code=result.exit_code))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if live:
        from agent.live import run_daemon_live

        settings.live = True
        staged = run_daemon_live(settings, stop, show)
    else:
        staged = run_daemon(settings, stop, show)
    out.close()
    if staged is not None:
        upgrade.hand_over(settings.vardir, staged, sys.argv[1:])


def _print_fingerprint(obj: dict[str, Any]) -> None:
    """``--fingerprint``: this node's certificate's (or, before it is signed, its request's)."""
    from cryptography import x509

    from wire import pki

    settings = _agent_settings(obj)
    paths = pki.SSLPaths(settings.ssldir, settings.certname)
    try:
        if paths.cert.is_file():
            click.echo(f"(SHA256) {pki.fingerprint(x509.load_pem_x509_certificate(paths.cert.read_bytes()))}")
        elif paths.csr.is_file():
            click.echo(f"(SHA256) {pki.fingerprint_csr(x509.load_pem_x509_csr(paths.csr.read_bytes()))}")
        else:
            die(f"error: no certificate or request for {settings.certname} in {settings.ssldir}; "
                "run the agent once (--onetime) to ask for one")
    except (OSError, ValueError) as exc:
        die(f"error: {settings.ssldir}: cannot read {settings.certname}'s certificate: {exc}")


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

    from agent import upgrade
    from agent.run import disabled_reason
    from agent.status import summary, summary_lines

    settings = _agent_settings(obj)
    info = {"disabled": disabled_reason(settings), **summary(settings.status_file, settings.spool_dir),
            "agent": upgrade.status(settings.vardir)}
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    for line in [*summary_lines(info, settings.spool_dir), *upgrade.status_lines(info["agent"])]:
        click.echo(line)
