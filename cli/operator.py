"""What the fleet commands share: the operator's certificate and client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.common import DEFAULT_SERVER, OPERATOR_CERTNAME, OPERATOR_SSLDIR, SERVER_ENVVAR, die


# -- fleet operations (operator certificate) ---------------------------------------------------------
def operator_options(func: Any) -> Any:
    options = [
        click.option("--server", envvar=SERVER_ENVVAR, default=DEFAULT_SERVER, show_default=True,
                     help="Master(s), comma-separated."),
        click.option("--ssldir", "op_ssldir", envvar="BUNRAKU_SSLDIR", default=OPERATOR_SSLDIR,
                     show_default=True, help="The operator's ssldir."),
        click.option("--certname", "op_certname", envvar="BUNRAKU_CERTNAME", default=OPERATOR_CERTNAME,
                     show_default=True,
                     help="The operator certificate's name."),
    ]
    for opt in reversed(options):
        func = opt(func)
    return func


def operator_client(server: str, ssldir: str, certname: str) -> Any:
    from wire.client import MasterClient
    from wire.pki import SSLPaths

    paths = SSLPaths(Path(ssldir), certname)
    if not paths.has_identity():
        die(f"error: no operator certificate for {certname} in {ssldir}; on the master run "
             f"`bunraku cert generate {certname} --operator --out-ssldir DIR`")
    try:
        return MasterClient(server, paths, timeout=300)
    except Exception as exc:  # noqa: BLE001 - ClientError for a bad --server
        die(f"error: {exc}")


def fleet_call(func: Any, *args: Any, **kw: Any) -> Any:
    from wire.client import ClientError

    try:
        return func(*args, **kw)
    except ClientError as exc:
        die(f"error: {exc}")


def node_facts(node: str, server: str, ssldir: str, certname: str) -> dict[str, Any]:
    from master import fleet

    with operator_client(server, ssldir, certname) as client:
        found = fleet_call(fleet.stored_facts, client, node)
    if found is None:
        die(f"error: the master has no facts for {node}")
    return found
