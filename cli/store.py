"""`bunraku store`: back up, verify, restore and create the master's store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.common import OptionsAnywhereGroup, die


@click.group("store", cls=OptionsAnywhereGroup)
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
        die(f"error: {exc}")


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


def _open_store(config_file: str | None, vardir: str | None, store_url: str | None) -> tuple[Any, Any]:
    """(the master's settings, its store) — an existing store only; errors are one line."""
    from master.config import ConfigError, load_config
    from master.store import Store, StoreError

    try:
        config = load_config(config_file, {"vardir": vardir, "store_url": store_url})
        return config, Store.open(config.store_url, path=None if config.store_url else config.store_path,
                                  create=False)
    except (ConfigError, StoreError) as exc:
        die(f"error: {exc}")


@store_group.command("maintain")
@_store_options
@click.option("--force", is_flag=True, help="Run even while a master holds the maintenance lease.")
def store_maintain(config_file: str | None, vardir: str | None, store_url: str | None, force: bool) -> None:
    """Apply the store's retention now (report_ttl, node_ttl, node_purge_ttl, catalog history), as the
    master does every store_maintenance_seconds; prints what went."""
    import socket

    from master.retention import Retention
    from master.store import StoreError

    config, store = _open_store(config_file, vardir, store_url)
    try:
        retention = Retention(store, config, f"cli@{socket.gethostname()}")
        if force:  # without the lease: what two passes at once delete, only one of them deletes
            gone = store.maintain(**retention.settings())
        else:
            maybe = retention.run_once()
            if maybe is None:
                die("error: a master holds the store's maintenance lease and applies the retention itself; "
                    "pass --force to run now anyway")
            gone = maybe
    except StoreError as exc:
        die(f"error: {exc}")
    finally:
        store.close()
    click.echo(", ".join(f"{count} {what}" for what, count in gone.items()))


@store_group.command("deactivate")
@click.argument("nodes", nargs=-1, required=True)
@_store_options
def store_deactivate(nodes: tuple[str, ...], config_file: str | None, vardir: str | None,
                     store_url: str | None) -> None:
    """Deactivate decommissioned NODES: they leave listings and statistics, their exported resources are no
    longer collected, and the store purges them after node_purge_ttl. A node that checks in again is back."""
    from master.store import StoreError

    _config, store = _open_store(config_file, vardir, store_url)
    unknown = []
    try:
        for node in nodes:
            if store.deactivate_node(node):
                click.echo(f"deactivated {node}")
            else:
                unknown.append(node)
    except StoreError as exc:
        die(f"error: {exc}")
    finally:
        store.close()
    if unknown:
        die(f"error: the store knows no node {', '.join(unknown)}; check the names with `bunraku nodes`")
