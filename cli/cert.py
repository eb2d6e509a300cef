"""`bunraku cert`: the master's certificate authority."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cli.common import OptionsAnywhereGroup, die, master_config


# -- the CA -----------------------------------------------------------------------------------------
@click.group("cert", cls=OptionsAnywhereGroup)
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

        given = ctx.obj or {}
        config = master_config(sub_config or given.get("config"), ssldir=sub_ssldir or given.get("ssldir"))
        return func(CertificateAuthority(config.ssldir), *args, **kw)

    return with_ca


def _ca_call(func: Any, *args: Any, **kw: Any) -> Any:
    from master.ca import CAError
    from wire.pki import PkiError

    try:
        return func(*args, **kw)
    except (CAError, PkiError) as exc:
        die(f"error: {exc}")
    except OSError as exc:
        die(f"error: {exc.strerror}: {exc.filename}")


@cert_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Signed and revoked certificates too.")
@_pass_ca
def cert_list(ca: Any, show_all: bool) -> None:
    """Pending requests (and with --all, every certificate)."""
    from wire.pki import fingerprint

    if not ca.exists():
        die(f"error: no CA under {ca.dir}; start `bunraku master` once")
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
    from wire.pki import PkiError

    names = list(certnames)
    if sign_all:
        names += [e.name for e in _ca_call(ca.entries) if e.state == "requested"]
    if not names:
        die("error: name a certificate request (or --all)")
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
@click.option("--role", type=click.Choice(["viewer", "operator", "admin", "publisher"]),
              help="An operator's role: viewer reads; operator runs rollouts; admin: all; publisher only pushes "
                   "artifacts (CI). [admin]")
@click.option("--groups", "role_groups", help="With --role: the node groups it may act on, comma-separated. [all]")
@click.option("--out-ssldir", type=click.Path(file_okay=False), required=True,
              help="Where to write the key, certificate and CA (an ssldir for --ssldir of the client).")
@_pass_ca
def cert_generate(ca: Any, certname: str, operator: bool, out_ssldir: str, role: str | None = None,
                  role_groups: str | None = None) -> None:
    """Make a key and certificate here (e.g. an operator's) and write them as an ssldir."""
    from wire import pki

    if role_groups and not role:
        die("error: --groups limits a role; give --role too")
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
