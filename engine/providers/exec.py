"""The exec provider (POSIX): runs commands with a search path, as another account if asked, chrooted
into the target root when it is not /."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time

from engine import preflight
from engine.errors import ProviderError
from engine.registry import Change, Provider, provider
from engine.spawn import SHELL, RunAs, find_program, run_program, shell_argv
from engine.types.exec import command_words

log = logging.getLogger(__name__)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: First words of a shell command that are the shell's own, not a program to find on the path.
SHELL_WORDS = frozenset({
    ".", ":", "[", "alias", "break", "case", "cd", "command", "continue", "echo", "eval", "exec", "exit",
    "export", "false", "for", "if", "printf", "pwd", "read", "return", "set", "shift", "test", "times",
    "trap", "true", "type", "ulimit", "umask", "unset", "until", "wait", "while", "{", "(", "!",
})


def _shell_syntax(word: str) -> bool:
    """Whether the first word of a shell command is the shell's (a builtin, an assignment, an expansion)."""
    return word in SHELL_WORDS or any(c in word for c in "=$`(){};&|<>*?")


@provider("exec", "posix")
class PosixExec(Provider):
    __slots__ = ()

    # -- running ---------------------------------------------------------------------------------------
    # Under a target root other than /, commands (and onlyif/unless/refresh) run chrooted into it, so
    # they change the same image that creates/cwd/user refer to: see engine.spawn.
    def _argv(self, command: str | list[str]) -> list[str]:
        root = self.ctx.root
        search = self.params["path"] or DEFAULT_PATH.split(":")
        if isinstance(command, list):
            words = [str(w) for w in command]
            if not words[0].startswith("/"):
                found = (shutil.which(words[0], path=":".join(search)) if root == "/"
                         else find_program(root, words[0], search))
                if found is None:
                    where = f" in chroot {root}" if root != "/" else ""
                    raise ProviderError(f"could not find command '{words[0]}'{where}")
                words[0] = found
            return words
        return shell_argv(root, command)

    def _run_as(self, env: dict[str, str]) -> RunAs | None:
        user, group = self.params.get("user"), self.params.get("group")
        if user is None and group is None:
            return None
        if os.geteuid() != 0:
            raise ProviderError("only root can execute commands as other users")
        accounts = self.ctx.accounts
        uid = gid = None
        groups: tuple[int, ...] | None = None
        if user is not None:
            uid = accounts.uid_of(user)
            if uid is None:
                raise ProviderError(f"could not find user {user}")
            entry = accounts.passwd.get(user)
            if entry is not None:
                env.update(HOME=entry.home, USER=entry.name, LOGNAME=entry.name)
                gid = entry.gid
            groups = ()
        if group is not None:
            gid = accounts.gid_of(group)
            if gid is None:
                raise ProviderError(f"could not find group {group}")
        return RunAs(uid, gid, groups)

    def _run(self, command: str | list[str]) -> tuple[int, str]:
        p = self.params
        env = dict(os.environ)
        env["PATH"] = ":".join(p["path"]) or DEFAULT_PATH
        run_as = self._run_as(env)
        for item in p["environment"]:
            name, _, value = item.partition("=")
            env[name] = value
        cwd = p.get("cwd")
        if cwd is not None and not os.path.isdir(self.ctx.path(cwd)):
            raise ProviderError(f"working directory '{cwd}' does not exist")
        try:
            proc = run_program(self.ctx.root, self._argv(command), cwd=cwd, run_as=run_as,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=env, timeout=p["timeout"])
        except subprocess.TimeoutExpired:
            raise ProviderError(f"command exceeded timeout of {p['timeout']:g} seconds") from None
        return proc.returncode, proc.stdout.decode("utf-8", "replace")

    def _note_confinement(self) -> None:
        if self.ctx.root != "/" and self.ctx.noop:
            self.ctx.note("notice", f"would run in chroot {self.ctx.root}")

    def _should_run(self) -> bool:
        p = self.params
        for path in p["creates"]:
            if os.path.lexists(self.ctx.path(path, follow=False)):
                return False
        for cmd in p.get("onlyif") or []:
            if self._run(cmd)[0] != 0:
                return False
        for cmd in p.get("unless") or []:
            if self._run(cmd)[0] == 0:
                return False
        return True

    def _execute(self, command: str | list[str]) -> None:
        p = self.params
        code, output = 0, ""
        for attempt in range(p["tries"]):
            if attempt and p["try_sleep"]:
                time.sleep(p["try_sleep"])
            code, output = self._run(command)
            if code in p["returns"]:
                break
        ok = code in p["returns"]
        if output and (p["logoutput"] == "true" or (p["logoutput"] == "on_failure" and not ok)):
            for line in output.rstrip("\n").splitlines():
                self.ctx.note("notice" if ok else "err", f"(output) {line}", output=True)
        if not ok:
            shown = command if isinstance(command, str) else " ".join(command)
            expected = ", ".join(str(r) for r in p["returns"])
            raise ProviderError(f"'{shown}' returned {code} instead of one of [{expected}]")

    # -- preflight (engine.preflight) --------------------------------------------------------------------
    def preflight(self, changes: list[Change]) -> str | None:
        p = self.params
        ctx = self.ctx
        problems: list[str | None] = []
        if p.get("user") is not None:
            problems.append(preflight.unknown_user(ctx, p["user"], "user"))
        if p.get("group") is not None:
            problems.append(preflight.unknown_group(ctx, p["group"], "group"))
        cwd = p.get("cwd")
        if cwd is not None and not preflight.has_path(ctx, cwd, directory=True):
            problems.append(f"working directory '{cwd}' does not exist{preflight.where(ctx)} and no resource "
                            "before it creates it; create it or change cwd")
        command = p["command"]
        if isinstance(command, str) and ctx.root != "/" and not preflight.has_program(ctx, SHELL, []):
            problems.append(f"there is no {SHELL} under {ctx.root} to run the command; install a shell "
                            "in the root, or give the command as an array of words")
        words = command_words(command)
        name = words[0] if words else ""
        if name and (isinstance(command, list) or not _shell_syntax(name)):
            search = p["path"] or DEFAULT_PATH.split(":")
            if not preflight.has_program(ctx, name, search):
                looked = name if name.startswith("/") else f"'{name}' in path {':'.join(search)}"
                problems.append(f"command {looked} not found{preflight.where(ctx)}; install it there or fix "
                                "the command's path")
        return preflight.first(*problems)

    def would_create(self, changes: list[Change]) -> list[tuple[str, str]]:
        return [preflight.ANYTHING]  # a command may create any file or account

    # -- protocol ----------------------------------------------------------------------------------------
    def check(self) -> list[Change]:
        if self.params["refreshonly"] or not self._should_run():
            return []
        self._note_confinement()
        return [Change("returns", "notrun", [str(r) for r in self.params["returns"][:1]],
                       "executed successfully")]

    def sync(self, change: Change) -> None:
        self._execute(self.params["command"])

    def will_refresh(self) -> bool:
        if not self._should_run():
            return False
        self._note_confinement()
        return True

    def refresh(self) -> bool:
        if not self._should_run():
            return False
        self._execute(self.params.get("refresh") or self.params["command"])
        return True
