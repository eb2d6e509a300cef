"""`bunraku master`: the master's server."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import die, given


@click.command("master")
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
@click.option("--log-format", type=click.Choice(["text", "json", "kv"]),
              help="Log lines: text (TIME Level: message, as the agent's) or structured json / kv. [text]")
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
        die(f"error: --operator: a certificate's name does not make it an operator; on the master run "
             f"`bunraku cert generate NAME --operator --role ROLE --out-ssldir DIR` for {', '.join(operators)}")
    options = {"listen": listen, "ca_listen": ca_listen, "certname": certname, "dns_alt_names": dns_alt_names,
               "environmentpath": environmentpath, "git_repo": git_repo, "ssldir": ssldir, "vardir": vardir,
               "store_url": store_url, "autosign": autosign, "autosign_challenges": list(autosign_challenges),
               "enc": enc, "groups": groups, "workers": workers, "log_format": log_format, "user": user,
               "dashboard_listen": dashboard_listen, "puppet_listen": puppet_listen}
    # only what was given on the command line overrides the file (an option's default would erase it)
    overrides = {name: value for name, value in options.items() if given(name)}
    try:
        config = load_config(config_file, overrides)
    except ConfigError as exc:
        die(str(exc))
    setup_logging(config.log_format)
    server = MasterServer(config, create_store=create_store)
    try:
        server.start()
    except (CAError, OSError) as exc:
        die(f"error: {exc}")
    except Exception as exc:  # the store's own errors (StoreError, ...) are one line too
        die(f"error: cannot start the master: {exc}")
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
