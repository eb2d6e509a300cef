"""The fenced blocks of the manual (docs/*.md), and a session that runs them as a reader would.

A block is run according to its language and the HTML comment on the line before it (if any):

- ```console: each ``$ COMMAND`` line (continued by a trailing ``\\``) runs in bash; the lines after it,
  up to the next ``$``, are the output it must print (stdout and stderr together). A line ``...`` stands
  for any number of lines, and ``...`` inside a line for any text. A command with no lines after it only
  has to succeed. A command may fail only when the next one is ``echo $?``, which shows its status.
- ```sh: the whole block runs as one bash script with ``set -e``; it must succeed.
- a line that is only a path in backticks and a colon (`site/hiera.yaml`:) right before a block of any
  language: the block is that file's content, written into the session's current directory (the reader
  creates that file).
- ``<!-- background; wait for: TEXT -->`` before a console block: its commands keep running (a master,
  an agent daemon) until the session ends; the session waits until each has printed TEXT.
- ``<!-- not run: REASON -->``: not run (it needs what a test machine has not: a real host, a network,
  Puppet). The tests count these, so the list stays short and explicit.
- ```yaml, ```json and ```puppet blocks that are not files are parsed, so that no example has a syntax error.

Commands run one after another in one temporary directory, with ``HOME`` inside it, and what one
exports (``export BUNRAKU_SERVER=...``) and the directory it changes to are kept for the next, as in a
terminal. ``bunraku`` is this checkout's.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"

_FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)\s*$")
_NOTE = re.compile(r"^<!--\s*(.*?)\s*-->\s*$")
_FILE = re.compile(r"^`([\w./~-]+)`:\s*$")


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    note: str = ""  # the HTML comment right before the fence, if any

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    @property
    def not_run(self) -> str | None:
        return self.note[len("not run:"):].strip() if self.note.startswith("not run:") else None

    @property
    def file(self) -> str | None:
        return self.note[len("file:"):].strip() if self.note.startswith("file:") else None

    @property
    def background(self) -> str | None:
        """The text a background block's commands print once ready ("" for none)."""
        if not self.note.startswith("background"):
            return None
        _, _, wait = self.note.partition("wait for:")
        return wait.strip()


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a markdown file, each with the comment on the line before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2), i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        before = lines[start - 1] if start > 0 else ""
        note = _NOTE.match(before)
        named = _FILE.match(before)
        text = note.group(1) if note else f"file: {named.group(1)}" if named else ""
        out.append(Block(path, start + 1, lang, "\n".join(body) + "\n", text))
        i += 1
    return out


@dataclass
class Command:
    text: str
    expected: list[str]
    line: int


def console_commands(block: Block) -> list[Command]:
    commands: list[Command] = []
    lines = block.text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            if commands:
                commands[-1].expected.append(line)
            elif line.strip():
                raise AssertionError(f"{block.where}: console block text before its first '$ ' command: {line!r}")
            i += 1
            continue
        number = block.line + 1 + i
        text = line[2:]
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text + "\n" + lines[i]
        commands.append(Command(text, [], number))
        i += 1
    for command in commands:
        while command.expected and not command.expected[-1].strip():
            command.expected.pop()
    return commands


def output_matches(expected: list[str], actual: list[str]) -> bool:
    """``expected`` lines against ``actual`` ones: ``...`` alone is any lines, within a line any text."""
    def line_ok(pattern: str, line: str) -> bool:
        if "..." not in pattern:
            return pattern.rstrip() == line.rstrip()
        rx = ".*".join(re.escape(part) for part in pattern.rstrip().split("..."))
        return re.fullmatch(rx, line.rstrip()) is not None

    def match(e: int, a: int) -> bool:
        if e == len(expected):
            return a == len(actual)
        if expected[e].strip() == "...":
            return any(match(e + 1, k) for k in range(a, len(actual) + 1))
        return a < len(actual) and line_ok(expected[e], actual[a]) and match(e + 1, a + 1)

    return match(0, 0)


_STATE_DROP = "^declare -x (PWD|OLDPWD|SHLVL|_)="


@dataclass
class Session:
    """One terminal: a directory, its exported variables, and the processes left running."""

    root: Path
    background: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = self.root / ".docs-session"
        self.state.mkdir(parents=True, exist_ok=True)
        (self.root / "home").mkdir(exist_ok=True)
        bindir = self.state / "bin"
        bindir.mkdir(exist_ok=True)
        shim = bindir / "bunraku"
        shim.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(REPO / 'bunraku.py'))} "
                        '"$@"\n')
        shim.chmod(0o755)
        os.symlink(REPO / "examples", self.root / "examples")
        (self.state / "cwd").write_text(str(self.root))
        (self.state / "env").write_text("")
        (self.state / "status").write_text("0")
        self.env = dict(os.environ, HOME=str(self.root / "home"), PATH=f"{bindir}:{os.environ.get('PATH', '')}",
                        PYTHONUNBUFFERED="1", GIT_AUTHOR_NAME="Docs", GIT_AUTHOR_EMAIL="docs@example.com",
                        GIT_COMMITTER_NAME="Docs", GIT_COMMITTER_EMAIL="docs@example.com", TERM="dumb",
                        COLUMNS="100")
        for name in [n for n in self.env if n.startswith("BUNRAKU_") and n != "BUNRAKU_PARSE_CACHE"]:
            del self.env[name]

    @property
    def cwd(self) -> Path:
        """The directory the last command left the terminal in."""
        return Path((self.state / "cwd").read_text().strip())

    def _script(self, body: str, strict: bool = False) -> str:
        s = self.state
        return (f'cd "$(cat {s}/cwd)" && . {s}/env\n'
                f"(exit $(cat {s}/status))\n"
                + ("set -e\n" if strict else "")
                + body + "\n"
                f"__status=$?\nset +e\npwd > {s}/cwd\n"
                f"export -p | grep -v -E '{_STATE_DROP}' > {s}/env\n"
                f"echo $__status > {s}/status\nexit $__status\n")

    def run(self, body: str, *, strict: bool = False, timeout: float = 120) -> tuple[int, str]:
        proc = subprocess.run(["bash", "-c", self._script(body, strict)], cwd=self.root, env=self.env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        return proc.returncode, proc.stdout

    def start(self, command: str, ready: str, where: str, timeout: float = 60) -> None:
        log = self.state / f"background-{len(self.background)}.log"
        s = self.state
        script = f'cd "$(cat {s}/cwd)" && . {s}/env\nexec {command}\n'
        with open(log, "wb") as out:
            proc = subprocess.Popen(["bash", "-c", script], cwd=self.root, env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.background.append((proc, log))
        deadline = time.monotonic() + timeout
        while ready and ready not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{where}: `{command}` did not print {ready!r} "
                                     f"(exit {proc.poll()}):\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)

    def close(self) -> None:
        for proc, _log in reversed(self.background):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _log in reversed(self.background):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.background.clear()

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}" for _p, log in self.background)


def check_syntax(block: Block, tmp: Path) -> None:
    """A yaml, json or puppet example parses."""
    if block.lang == "yaml":
        import yaml

        try:
            yaml.safe_load(block.text)
        except yaml.YAMLError as exc:
            raise AssertionError(f"{block.where}: the YAML example does not parse: {exc}") from None
    elif block.lang == "json":
        import json

        try:
            json.loads(block.text)
        except ValueError as exc:
            raise AssertionError(f"{block.where}: the JSON example does not parse: {exc}") from None
    elif block.lang == "puppet":
        from dsl.errors import DslError
        from dsl.parser import parse_file

        path = tmp / f"example-{block.line}.pp"
        path.write_text(block.text, encoding="utf-8")
        try:
            parse_file(path)
        except DslError as exc:
            raise AssertionError(f"{block.where}: the Puppet example does not parse: {exc.format_line()}") from None


def run_block(session: Session, block: Block) -> None:
    """Run one block in the session; AssertionError saying where and what when it does not do as shown."""
    if block.file is not None:
        target = session.cwd / block.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.text, encoding="utf-8")
        return
    if block.background is not None:
        for command in console_commands(block):
            session.start(command.text, block.background, f"{block.where} (line {command.line})")
        return
    if block.lang == "sh":
        status, out = session.run(block.text, strict=True)
        if status != 0:
            raise AssertionError(f"{block.where}: the sh block exited {status}:\n{out}\n{session.logs()}")
        return
    commands = console_commands(block)
    for i, command in enumerate(commands):
        status, out = session.run(command.text)
        shown_status = i + 1 < len(commands) and commands[i + 1].text.strip() == "echo $?"
        if status != 0 and not shown_status:
            raise AssertionError(f"{block.where} (line {command.line}): `{command.text}` exited {status}:\n{out[-3000:]}"
                                 f"\n{session.logs()}")
        if command.expected and not output_matches(command.expected, out.splitlines()):
            raise AssertionError(f"{block.where} (line {command.line}): `{command.text}` printed\n{out[-3000:]}\n"
                                 "but the manual shows\n" + "\n".join(command.expected))


def runnable(block: Block) -> bool:
    return block.not_run is None and (block.file is not None or block.lang in ("console", "sh"))
