"""The exec provider (POSIX): runs commands with a search path, as another account if asked."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from typing import Any

from engine.errors import ProviderError
from engine.registry import Change, Provider, provider

log = logging.getLogger(__name__)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@provider("exec", "posix")
class PosixExec(Provider):
    __slots__ = ()

    # -- running ---------------------------------------------------------------------------------------
    def _argv(self, command: str | list[str]) -> list[str]:
        search = ":".join(self.params["path"]) or DEFAULT_PATH
        if isinstance(command, list):
            words = [str(w) for w in command]
            if not words[0].startswith("/"):
                found = shutil.which(words[0], path=search)
                if found is None:
                    raise ProviderError(f"could not find command '{words[0]}'")
                words[0] = found
            return words
        return ["/bin/sh", "-c", command]

    def _run(self, command: str | list[str]) -> tuple[int, str]:
        p = self.params
        env = dict(os.environ)
        env["PATH"] = ":".join(p["path"]) or DEFAULT_PATH
        kwargs: dict[str, Any] = {}
        user, group = p.get("user"), p.get("group")
        if user is not None or group is not None:
            if os.geteuid() != 0:
                raise ProviderError("only root can execute commands as other users")
            accounts = self.ctx.accounts
            if user is not None:
                uid = accounts.uid_of(user)
                if uid is None:
                    raise ProviderError(f"could not find user {user}")
                kwargs["user"] = uid
                entry = accounts.passwd.get(user)
                if entry is not None:
                    env.update(HOME=entry.home, USER=entry.name, LOGNAME=entry.name)
                    kwargs["group"] = entry.gid
                kwargs["extra_groups"] = []
            if group is not None:
                gid = accounts.gid_of(group)
                if gid is None:
                    raise ProviderError(f"could not find group {group}")
                kwargs["group"] = gid
        for item in p["environment"]:
            name, _, value = item.partition("=")
            env[name] = value
        cwd = self.ctx.path(p["cwd"]) if p.get("cwd") else None
        if cwd is not None and not os.path.isdir(cwd):
            raise ProviderError(f"working directory '{p['cwd']}' does not exist")
        try:
            proc = subprocess.run(self._argv(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, env=env, cwd=cwd, timeout=p["timeout"], **kwargs)
        except subprocess.TimeoutExpired:
            raise ProviderError(f"command exceeded timeout of {p['timeout']:g} seconds") from None
        except FileNotFoundError as exc:
            raise ProviderError(f"could not find command '{exc.filename}'") from None
        except PermissionError as exc:
            raise ProviderError(f"cannot execute command: {exc.strerror}") from None
        return proc.returncode, proc.stdout.decode("utf-8", "replace")

    def _should_run(self) -> bool:
        p = self.params
        for path in p["creates"]:
            if os.path.lexists(self.ctx.path(path)):
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

    # -- protocol ----------------------------------------------------------------------------------------
    def check(self) -> list[Change]:
        if self.params["refreshonly"] or not self._should_run():
            return []
        return [Change("returns", "notrun", [str(r) for r in self.params["returns"][:1]],
                       "executed successfully")]

    def sync(self, change: Change) -> None:
        self._execute(self.params["command"])

    def will_refresh(self) -> bool:
        return self._should_run()

    def refresh(self) -> bool:
        if not self._should_run():
            return False
        self._execute(self.params.get("refresh") or self.params["command"])
        return True
