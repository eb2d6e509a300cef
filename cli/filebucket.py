"""`bunraku filebucket`: contents kept before files were replaced."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cli.common import OptionsAnywhereGroup, die, engine_error


@click.group("filebucket", cls=OptionsAnywhereGroup)
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="The state directory (default ROOT/var/lib/bunraku).")
@click.option("--root", "root_dir", default="/", show_default=True, type=click.Path(file_okay=False),
              help="The target root whose bucket to read (as `apply --root`).")
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
        engine_error(exc)


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
        engine_error(exc)
    except OSError as exc:
        die(f"{path or checksum}: error: {exc.strerror}")
    click.echo(f"restored {where}")
