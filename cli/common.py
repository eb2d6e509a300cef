"""Shared helpers of the command line: one-line errors, option parsing, logging, progress."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from engine import __version__


def die(message: str, code: int = 1) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


# -- the defaults every command shares (one place, so no two commands disagree) -------------------------
#: the master agents and operators talk to: Puppet's `server` default, on Puppet's port (the master's
#: certificate names ``puppet`` and ``localhost``); BUNRAKU_SERVER overrides it for every command
DEFAULT_SERVER = "puppet:8140"
SERVER_ENVVAR = "BUNRAKU_SERVER"
#: an agent's ssldir and vardir, under its --root
AGENT_SSLDIR = "etc/bunraku/ssl"
AGENT_VARDIR = "var/lib/bunraku/agent"
#: an operator's ssldir, as `bunraku cert generate NAME --operator --out-ssldir` writes it
OPERATOR_SSLDIR = str(Path.home() / ".bunraku/ssl")
OPERATOR_CERTNAME = "admin"
#: the environment a node or a command uses unless told otherwise
DEFAULT_ENVIRONMENT = "production"
# The master's ssldir and vardir are its settings' defaults (master.config.MasterConfig): `master`,
# `cert`, `store` and `dashboard token-*` all read them through master_config().


def master_config(config_file: str | None, **given: Any) -> Any:
    """The master's settings as `bunraku master` would read them (its --config file, then the options
    given here); every command that works on the master's files takes its paths from this."""
    from master.config import ConfigError, load_config

    try:
        return load_config(config_file, {k: v for k, v in given.items() if v is not None})
    except ConfigError as exc:
        die(str(exc))


def key_values(items: tuple[str, ...], option: str, form: str, example: str) -> dict[str, str]:
    """Repeated ``--OPTION KEY=VALUE`` arguments as a dict; a malformed one is a one-line error."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            die(f"error: --{option} {item!r}: expected {form} (e.g. --{option} {example})")
        out[key.strip()] = value
    return out


def report_dsl_error(exc: Any) -> NoReturn:
    """Print a positioned DSL error (plus the source line and a caret on a terminal) and exit 1."""
    click.echo(exc.format_line(), err=True)
    if sys.stderr.isatty():
        excerpt = exc.excerpt()
        if excerpt:
            click.echo(excerpt, err=True)
    sys.exit(1)


def load_facts_file(path: str | None) -> dict[str, Any] | None:
    """The facts in ``--facts FILE`` (None without one); a bad file is a one-line error."""
    if path is None:
        return None
    from facts.files import FactsFileError
    from facts.files import load_facts_file as load

    try:
        return load(path)
    except FactsFileError as exc:
        die(str(exc))


def split_path(value: str | None) -> list[Path]:
    if not value:
        return []
    return [Path(p) for p in value.split(":") if p]


def host_facts_or_minimal(node: str) -> dict[str, Any]:
    """This host's facts when the facts package can collect them; a minimal set otherwise."""
    try:
        from facts import collect_facts
    except ImportError:
        return {"networking": {"fqdn": node, "hostname": node.split(".")[0]}}
    return dict(collect_facts())


LEVEL_COLOURS = {"notice": "cyan", "warning": "yellow", "err": "red"}


def progress_line() -> Any:
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


def engine_error(exc: Exception) -> NoReturn:
    message = str(exc)
    die(message if ": error: " in message or message.startswith("error:") else f"error: {message}")


def log_level(verbose: bool = False, debug: bool = False) -> int:
    """The lowest level a run logs: notices (Puppet's default), info with -v, everything with -d."""
    import logging

    from master.logfmt import NOTICE

    return logging.DEBUG if debug else logging.INFO if verbose else NOTICE


def setup_cli_logging(verbose: bool = False, debug: bool = False) -> None:
    """Log records on stderr in the master's format: ``TIME Level: message`` (Puppet's level names)."""
    import logging

    from master.logfmt import PuppetFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(PuppetFormatter())
    logging.basicConfig(level=log_level(verbose, debug), handlers=[handler])
    logging.getLogger("grpc").setLevel(logging.WARNING)


def given(param: str) -> bool:
    """Whether the current command's option ``param`` was given (command line or environment)."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(param)
    return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def deferred_functions() -> Any:
    """The functions that resolve a catalog's Deferred values where it is applied (engine.deferred),
    or None in a build without the manifest language."""
    from importlib.util import find_spec

    if find_spec("dsl") is None:
        return None

    def call_deferred(name: str, args: list[Any], scope: Any) -> Any:
        # imported on the first Deferred value only: a catalog without one never loads the language
        from dsl.deferred import call_deferred as call

        return call(name, args, scope)

    return call_deferred


# -- the exit-code policy --------------------------------------------------------------------------
def run_exit_status(report: Any, *, detailed: bool, run_code: int | None = None) -> int:
    """The exit status of a run (``apply``, ``agent --onetime``, ``resource TYPE TITLE attr=value``).

    With ``--detailed-exitcodes``: Puppet's 0 (nothing to do), 2 (changes), 4 (failures), 6 (both), 1
    (the run did not happen); and, unlike Puppet, 2 for a ``--noop`` run with pending changes, so a dry
    run tells an operator that the host has drifted. Without it: 1 when the run failed or a resource
    failed (Puppet exits 0 then), otherwise 0. ``run_code`` is a code the run already decided (the
    agent's); otherwise it comes from ``report``.
    """
    code = run_code if run_code is not None else report.exit_code()
    if report is not None and code != 1 and getattr(report, "noop", False) and getattr(report, "noop_pending", False):
        code |= 2
    if detailed:
        return code
    failed = code == 1 or bool(code & 4) or (report is not None and getattr(report, "status", "") == "failed")
    return 1 if failed else 0


# -- Puppet's spellings ----------------------------------------------------------------------------
def _respell(command: click.Command, args: list[str]) -> list[str]:
    """``--show_diff`` for ``--show-diff``: Puppet's settings are spelt with underscores, and any
    underscore spelling of one of this command's long options is taken for it (hidden from --help);
    so is an old spelling the command keeps as a hidden alias (``aliases``: ``--env`` for ``--environment``)."""
    names = {opt for param in command.params if isinstance(param, click.Option)
             for opt in (*param.opts, *param.secondary_opts)}
    aliases: dict[str, str] = getattr(command, "aliases", None) or {}
    out: list[str] = []
    rest = False
    for arg in args:
        if not rest and arg == "--":
            rest = True
        elif not rest and arg.startswith("--"):
            name, eq, value = arg.partition("=")
            dashed = name.replace("_", "-")
            if name not in names and aliases.get(dashed) in names:
                arg = aliases[dashed] + eq + value
            elif name not in names and dashed in names:
                arg = dashed + eq + value
        out.append(arg)
    return out


class PuppetCommand(click.Command):
    """A command that also takes Puppet's underscore spellings of its options, and the old spellings
    ``aliases`` maps to its options (hidden from --help)."""

    def __init__(self, *args: Any, aliases: dict[str, str] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.aliases = dict(aliases or {})

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _respell(self, args))


class PuppetGroup(click.Group):
    """A group that also takes Puppet's underscore spellings of its own options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _respell(self, args))


def _long_options(command: click.Command) -> dict[str, click.Option]:
    """Each option string of ``command`` (``--ssldir``, ``-v``, ``--no-live``) to its option."""
    return {opt: param for param in command.params if isinstance(param, click.Option)
            for opt in (*param.opts, *param.secondary_opts)}


def _takes_value(option: click.Option, name: str, following: str | None) -> bool:
    if name in option.secondary_opts or option.count:
        return False
    if option.is_flag:  # a flag, or one whose value may be left out (``--disable [MESSAGE]``)
        return bool(getattr(option, "_flag_needs_value", False)) and following is not None \
            and not following.startswith("-")
    return True


def _take_options(args: list[str], wanted: Any) -> tuple[list[str], list[str]]:
    """Split ``args`` into the options ``wanted(name)`` returns an option for (with their values) and
    the rest, in order; nothing after ``--`` is an option."""
    taken: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        name, eq, _value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        option = wanted(name) if arg.startswith("-") and arg != "-" else None
        if option is None:
            rest.append(arg)
            index += 1
            continue
        following = args[index + 1] if index + 1 < len(args) else None
        consumes = not eq and _takes_value(option, name, following)
        taken.extend(args[index:index + 1 + int(consumes and following is not None)])
        index += 1 + int(consumes)
    return taken, rest


class OptionsAnywhereGroup(PuppetGroup):
    """A command group whose options may come after the subcommand, and the subcommands' before it:
    `bunraku cert list --ssldir X` and `bunraku cert --ssldir X list`, `bunraku report --server M show
    NODE` and `bunraku report show NODE --server M` alike. An option both declare stays where it is."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._reorder(ctx, args))

    def _reorder(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = _respell(self, args)
        mine = _long_options(self)
        position = None
        index = 0
        while index < len(args):  # the subcommand: the first command name that is no option's value
            arg = args[index]
            if arg == "--":
                break
            if arg in self.commands:
                position = index
                break
            option = mine.get(arg)
            following = args[index + 1] if index + 1 < len(args) else None
            index += 2 if option is not None and _takes_value(option, arg, following) else 1
        if position is None:
            return args
        sub = self.commands[args[position]]
        theirs = _long_options(sub)
        before, after = args[:position], args[position + 1:]
        # the subcommand's options given before it go after it; the group's given after it come before it
        to_sub, before = _take_options(before, lambda name: None if name in mine else theirs.get(name))
        to_group, after = _take_options(after, lambda name: None if name in theirs else mine.get(name))
        return [*before, *to_group, args[position], *to_sub, *after]


def warn(message: str) -> None:
    """A one-line warning on stderr (a flag accepted that has no effect here)."""
    click.echo(f"Warning: {message}", err=True)


# -- --logdest -------------------------------------------------------------------------------------
_SYSLOG_LEVELS = {"debug": 7, "info": 6, "notice": 5, "warning": 4, "err": 3}


class RunOutput:
    """Where a run's lines go: ``--logdest console`` (the default), a file path (appended, one
    timestamped line each; ``.json``/``.jsonl`` files get JSON records), ``syslog``; several
    destinations comma-separated or repeated. A destination that cannot be opened is a one-line error."""

    def __init__(self, logdest: tuple[str, ...] | list[str] = (), *, timestamps: bool = False) -> None:
        import logging

        #: console lines start with the time too (a daemon's log), as file lines always do
        self.timestamps = timestamps

        dests = [d.strip() for item in logdest for d in item.split(",") if d.strip()] or ["console"]
        self.console = False
        self.syslog = False
        self.files: list[tuple[Any, str]] = []
        for dest in dict.fromkeys(dests):
            if dest == "console":
                self.console = True
            elif dest == "syslog":
                self.syslog = True
            elif dest == "eventlog":
                die("error: --logdest eventlog is the Windows Event Log; use syslog, console or a file path")
            else:
                path = Path(dest)
                kind = "jsonl" if path.suffix == ".jsonl" else "json" if path.suffix == ".json" else "text"
                try:
                    fh = open(path, "a", encoding="utf-8")  # closed by close()
                except OSError as exc:
                    die(f"{dest}: error: --logdest: cannot open the log file: {exc.strerror}")
                if kind == "json" and fh.tell() == 0:
                    fh.write("[\n")
                self.files.append((fh, kind))
        if self.syslog:
            import syslog

            syslog.openlog("bunraku", syslog.LOG_PID, syslog.LOG_DAEMON)
        self.colour = self.console and sys.stdout.isatty()
        self._handler: logging.Handler | None = None

    def __call__(self, level: str, text: str) -> None:
        from master.logfmt import log_time

        stamp = log_time()
        if self.console:
            line = f"{stamp} {text}" if self.timestamps else text
            click.echo(click.style(line, fg=LEVEL_COLOURS.get(level)) if self.colour else line)
        if self.files:
            import json

            for fh, kind in self.files:
                if kind == "text":
                    fh.write(f"{stamp} {text}\n")
                else:
                    record = json.dumps({"time": stamp, "level": level, "message": text})
                    fh.write(record + (",\n" if kind == "json" else "\n"))
                fh.flush()
        if self.syslog:
            import syslog

            syslog.syslog(_SYSLOG_LEVELS.get(level, 5), text)

    def capture_logging(self, level: int) -> None:
        """Send the packages' log records (warnings, and more with -v/-d) to the same destinations
        when they are not the console (on the console they go to stderr as before)."""
        import logging

        if not self.files and not self.syslog:
            return
        from master.logfmt import puppet_level

        out = self

        class _Forward(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                label = puppet_level(record.levelno)
                kind = "err" if label == "Error" else label.lower()
                console, out.console = out.console, False
                try:
                    out(kind, f"{label}: {record.getMessage()}")
                finally:
                    out.console = console

        self._handler = _Forward(level)
        logging.getLogger().addHandler(self._handler)
        logging.getLogger().setLevel(min(logging.getLogger().level or level, level))

    def close(self) -> None:
        import logging

        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
        for fh, _kind in self.files:
            fh.close()
        self.files = []


def version_option(func: Any) -> Any:
    """``-V``/``--version`` on a command, as Puppet's applications take it."""
    return click.version_option(__version__, "-V", "--version", prog_name="bunraku")(func)


def refused(*names: str, message: str, takes_value: bool = False) -> Any:
    """A Puppet flag that has no sense here: accepted by the parser (hidden from --help), then refused
    with one line saying what to use instead."""

    def refuse(_ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value:
            die(f"error: {names[-1]}: {message}")

    return click.option(*names, is_flag=not takes_value, hidden=True, expose_value=False, callback=refuse,
                        is_eager=True)


class Duration(click.ParamType):
    """Seconds, or Puppet's duration spelling: ``30``, ``90s``, ``30m``, ``2h``, ``1d``, ``1y``."""

    name = "duration"
    _UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "y": 31536000.0}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        text = str(value).strip()
        unit = text[-1:] if text[-1:] in "smhdy" else ""
        try:
            seconds = float(text[: len(text) - len(unit)]) * self._UNITS[unit]
        except ValueError:
            self.fail(f"{value!r} is not a duration (seconds, or a number with s, m, h, d or y)", param, ctx)
        if seconds < 0:
            self.fail(f"{value!r} is negative", param, ctx)
        return seconds
