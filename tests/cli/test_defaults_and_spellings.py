"""One set of defaults and spellings across the command line: the same --server default everywhere,
the master's ssldir as the master reads it, group options before or after the subcommand, old spellings
as hidden aliases, help text on every option, and the commands the pages name exist."""

from __future__ import annotations

import http.client
import json
import re
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import click
from click.testing import CliRunner
from cryptography import x509

from cli import main
from cli.common import DEFAULT_ENVIRONMENT, DEFAULT_SERVER, SERVER_ENVVAR
from tests.cli.conftest import REPO, bunraku
from tests.e2e.harness import issue_identity, make_site, start_master


def _commands(command: click.Command = main, path: tuple[str, ...] = ("bunraku",)) -> Iterator[tuple[str, Any]]:
    yield " ".join(path), command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, (*path, name))


def _options(name: str) -> list[tuple[str, click.Option]]:
    return [(path, p) for path, cmd in _commands() for p in cmd.params
            if isinstance(p, click.Option) and name in p.opts]


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# -- help text ------------------------------------------------------------------------------------------------
def test_every_command_and_visible_option_has_help_text() -> None:
    missing = [path for path, cmd in _commands() if not (cmd.help or cmd.short_help)]
    missing += [f"{path} {'/'.join(p.opts)}" for path, cmd in _commands() for p in cmd.params
                if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip()]
    assert missing == []


# -- one default for the master, the environment, the operator's ssldir ----------------------------------------
def test_agents_and_fleet_commands_default_to_the_same_master() -> None:
    servers = _options("--server")
    assert {path for path, _ in servers} >= {"bunraku agent", "bunraku nodes", "bunraku report show",
                                             "bunraku rollout start", "bunraku facts", "bunraku catalog diff"}
    assert {(p.default, p.envvar) for _, p in servers} == {(DEFAULT_SERVER, SERVER_ENVVAR)}
    ssldirs = {p.default for path, p in _options("--ssldir") if path != "bunraku agent" and isinstance(p.default, str)}
    assert len(ssldirs) == 1 and next(iter(ssldirs)).endswith(".bunraku/ssl")  # the operator's, everywhere


def test_the_master_certificate_answers_to_the_default_server_name(tmp_path: Path) -> None:
    from master.ca import CertificateAuthority
    from wire import pki

    host = DEFAULT_SERVER.rpartition(":")[0]
    CertificateAuthority(tmp_path / "ssl").setup("master.example.com")
    cert = pki.load_cert((tmp_path / "ssl" / "certs" / "master.example.com.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert host in names.get_values_for_type(x509.DNSName)


def test_environment_is_spelt_one_way_and_env_is_a_hidden_alias() -> None:
    environments = _options("--environment")
    # one default name (or none: the node's classified environment)
    assert {p.default for _, p in environments if isinstance(p.default, str)} == {DEFAULT_ENVIRONMENT, ""}
    assert not [path for path, p in _options("--env")]  # no visible --env option left
    from cli.rollout import rollout_start

    ctx = rollout_start.make_context("start", ["production", "--env", "staging"])
    assert ctx.params["environment"] == "staging"
    ctx = rollout_start.make_context("start", ["production", "--env=qa"])
    assert ctx.params["environment"] == "qa"
    assert not re.search(r"^\s+--env\b", _run("rollout", "start", "--help").output, re.M)


# -- group options before and after the subcommand -------------------------------------------------------------
def test_every_command_group_takes_options_before_and_after_its_subcommands() -> None:
    from cli.common import OptionsAnywhereGroup

    groups = [path for path, cmd in _commands() if isinstance(cmd, click.Group) and path != "bunraku"]
    assert groups and [p for p, cmd in _commands() if p in groups and not isinstance(cmd, OptionsAnywhereGroup)] == []


def test_cert_options_before_and_after_the_subcommand(tmp_path: Path) -> None:
    from master.ca import CertificateAuthority

    CertificateAuthority(tmp_path / "ssl").setup("master.example.com")
    after = _run("cert", "list", "--all", "--ssldir", str(tmp_path / "ssl"))
    before = _run("cert", "--ssldir", str(tmp_path / "ssl"), "list", "--all")
    assert after.exit_code == before.exit_code == 0, after.output
    assert after.output == before.output and "master.example.com" in after.output


def test_agent_options_after_its_subcommands(tmp_path: Path) -> None:
    root = tmp_path / "root"
    said = _run("agent", "disable", "patching", "--root", str(root), "--certname", "n1")
    assert said.exit_code == 0, said.output
    assert (root / "var/lib/bunraku/agent/state/agent_disabled.lock").exists()
    status = _run("agent", "status", "--json", "--root", str(root), "--certname", "n1")
    assert json.loads(status.output)["disabled"] == "patching"
    assert _run("agent", "--root", str(root), "enable").output == "agent enabled\n"


def test_fleet_options_before_the_subcommand(tmp_path: Path) -> None:
    empty = str(tmp_path / "nothing")
    for args in (("report", "--ssldir", empty, "show", "web01"), ("rollout", "--ssldir", empty, "list"),
                 ("catalog", "--ssldir", empty, "diff", "web01", "--from", "a", "--to", "b"),
                 ("report", "show", "web01", "--ssldir", empty)):
        result = _run(*args)
        assert result.exit_code == 1 and f"no operator certificate for admin in {empty}" in result.output, args


def test_dashboard_token_options_before_and_after_the_subcommand(tmp_path: Path) -> None:
    ssl_dir = tmp_path / "ssl"
    issued = _run("dashboard", "--ssldir", str(ssl_dir), "token-issue", "alice", "--role", "viewer")
    assert issued.exit_code == 0, issued.output
    listed = _run("dashboard", "token-list", "--ssldir", str(ssl_dir))
    assert listed.output.startswith("alice\tviewer\t")


# -- the dashboard's tokens where the master reads them, with the operator role ---------------------------------
def test_a_token_issued_from_the_masters_settings_logs_in_to_its_dashboard(tmp_path: Path) -> None:
    make_site(tmp_path / "envs")
    master = start_master(tmp_path, tmp_path / "envs", dashboard_listen="127.0.0.1:0", puppet_listen="off")
    try:
        config = tmp_path / "master.yaml"
        config.write_text(f"ssldir: {master.config.ssldir}\n")
        issued = bunraku("dashboard", "token-issue", "ci", "--role", "operator", "--config", str(config))
        assert issued.returncode == 0, issued.stderr
        token = issued.stdout.strip()
        context = ssl.create_default_context(cafile=str(master.config.ssldir / "ca" / "ca_crt.pem"))
        conn = http.client.HTTPSConnection("127.0.0.1", master.dashboard.port, context=context, timeout=10)
        conn.request("GET", "/api/whoami", headers={"Authorization": f"Bearer {token}"})
        reply = conn.getresponse()
        body = reply.read()
        assert reply.status == 200, body
        assert json.loads(body)["role"] == "operator"
    finally:
        master.stop()


# -- the commands the pages tell users to run exist ---------------------------------------------------------------
def test_commands_named_on_the_dashboard_pages_exist() -> None:
    named = []
    for page in sorted((REPO / "master/dashboard/templates").glob("*.html")):
        named += re.findall(r"<code>bunraku ([^<]+)</code>", page.read_text())
    assert any(n.startswith("dashboard token-issue") for n in named)
    for text in named:
        command: click.Command = main
        words = text.split()
        while isinstance(command, click.Group) and words and words[0] in command.commands:
            command = command.commands[words.pop(0)]
        assert not isinstance(command, click.Group), f"`bunraku {text}` names no command"
        known = {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}
        assert {w for w in words if w.startswith("--")} <= known, text


# -- report show --json: one document -------------------------------------------------------------------------
def test_report_show_json_prints_one_array(tmp_path: Path) -> None:
    from master.dashboard.sample import make_report

    make_site(tmp_path / "envs")
    master = start_master(tmp_path, tmp_path / "envs", puppet_listen="off")
    try:
        now = datetime.now(UTC)
        for minutes in (30, 20, 10):
            master.ctx.store.save_report(make_report("web01.example.com", now - timedelta(minutes=minutes),
                                                     "unchanged", Random(minutes)))
        operator = issue_identity(master, tmp_path, "admin", operator=True)
        op = ["--server", master.address, "--ssldir", str(operator.ssldir)]
        shown = bunraku("report", "show", "web01.example.com", "--last", "3", "--json", *op)
        assert shown.returncode == 0, shown.stderr
        documents = json.loads(shown.stdout)
        assert isinstance(documents, list) and [d["host"] for d in documents] == ["web01.example.com"] * 3
        assert documents[0]["time"] > documents[1]["time"] > documents[2]["time"]  # newest first
        before = bunraku("report", *op, "show", "web01.example.com", "--last", "3", "--json")
        assert json.loads(before.stdout) == documents
    finally:
        master.stop()
