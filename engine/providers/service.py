"""Service providers: sysv (init scripts under ROOT/etc/init.d, rc?.d links; run chrooted into a
target root other than /) and systemd."""

from __future__ import annotations

import glob
import logging
import os
import subprocess
import tempfile
from typing import Any

from engine import preflight
from engine.errors import ProviderError
from engine.registry import Change, Provider, provider
from engine.shell import run
from engine.spawn import run_program, shell_argv
from engine.types.service import pid1_name

log = logging.getLogger(__name__)

START_LEVELS = ("2", "3", "4", "5")
STOP_LEVELS = ("0", "1", "6")


def run_detached(argv: list[str], timeout: float = 120, *, root: str = "/") -> tuple[int, str]:
    """Run an init script (or a service's own start/stop/status command), chrooted into a target root
    other than / (see :mod:`engine.spawn`). Its output goes to a temporary file, not a pipe, so a
    daemon it starts (which inherits the descriptors) cannot keep us waiting for end-of-file."""
    with tempfile.TemporaryFile() as out:
        try:
            proc = run_program(root, argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                               timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired:
            raise ProviderError(f"{' '.join(argv)} timed out after {timeout:g} seconds") from None
        out.seek(0)
        return proc.returncode, out.read().decode("utf-8", "replace")


def process_matches(pattern: str) -> bool:
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if pattern in cmd:
            return True
    return False


class _Service(Provider):
    __slots__ = ()

    def is_running(self) -> bool:
        raise NotImplementedError

    def is_enabled(self) -> str:
        raise NotImplementedError

    def check(self) -> list[Change]:
        p = self.params
        changes = []
        if p["ensure"] is not None:
            have = "running" if self.is_running() else "stopped"
            if have != p["ensure"]:
                changes.append(Change("ensure", have, p["ensure"], f"ensure changed '{have}' to '{p['ensure']}'"))
        if p["enable"] is not None:
            have_e = self.is_enabled()
            if have_e != p["enable"]:
                changes.append(Change("enable", have_e, p["enable"], f"enable changed '{have_e}' to '{p['enable']}'"))
        return changes

    def will_refresh(self) -> bool:
        ensure = self.params["ensure"]
        if ensure == "stopped":
            return False
        return ensure == "running" or self.is_running()

    def refresh(self) -> bool:
        if not self.will_refresh():
            return False
        self.restart()
        return True

    def restart(self) -> None:
        raise NotImplementedError


@provider("service", "sysv")
class SysV(_Service):
    """Init scripts under ROOT/etc/init.d, enabled by S/K links in ROOT/etc/rc?.d."""

    __slots__ = ()

    def _find_script(self) -> str | None:
        """The init script's path as the target root sees it (it runs chrooted into a root)."""
        name = self.params["name"]
        for d in self.params["path"]:
            path = f"{d.rstrip('/')}/{name}"
            if os.path.exists(self.ctx.path(path)):
                return path
        return None

    def _script(self) -> str:
        script = self._find_script()
        if script is None:
            raise ProviderError(f"no init script for service {self.params['name']} in "
                                f"{', '.join(self.params['path'])}")
        return script

    def _cmd(self, action: str) -> None:
        custom = self.params.get(action)
        root = self.ctx.root
        argv = shell_argv(root, custom) if custom else [self._script(), action]
        code, output = run_detached(argv, root=root)
        if code != 0:
            last = output.strip().splitlines()[-1:] or [""]
            raise ProviderError(f"could not {action} service {self.params['name']}: exit code {code} {last[0]}".rstrip())

    def is_running(self) -> bool:
        p = self.params
        root = self.ctx.root
        if p.get("status"):
            return run_detached(shell_argv(root, p["status"]), root=root)[0] == 0
        if p["hasstatus"]:
            script = self._find_script()
            if script is None:
                # Not installed yet (a package earlier in the run may bring it): not running. Checking
                # must not fail, so a dry run on a fresh host predicts the start instead of an error.
                return False
            return run_detached([script, "status"], root=root)[0] == 0
        return process_matches(p.get("pattern") or p.get("binary") or p["name"])

    def preflight(self, changes: list[Change]) -> str | None:
        p = self.params
        needs_script = False
        for c in changes:
            if c.property == "enable":
                needs_script = True
            elif c.property == "ensure":
                needs_script = needs_script or not p.get("start" if c.desired == "running" else "stop")
        if not needs_script or self._find_script() is not None:
            return None
        name = p["name"]
        if any(preflight.has_path(self.ctx, f"{d.rstrip('/')}/{name}") for d in p["path"]):
            return None
        return (f"no init script for service {name} in {', '.join(p['path'])}{preflight.where(self.ctx)}, and "
                "no resource before it creates one; install the package that provides it first, or manage the "
                "script with a file resource")

    def _links(self, levels: tuple[str, ...], letter: str) -> list[str]:
        name = self.params["name"]
        out = []
        for lv in levels:
            out.extend(glob.glob(self.ctx.path(f"/etc/rc{lv}.d/{letter}[0-9][0-9]{name}")))
        return out

    def is_enabled(self) -> str:
        return "true" if self._links(START_LEVELS, "S") else "false"

    def sync(self, change: Change) -> None:
        if change.property == "ensure":
            self._cmd("start" if change.desired == "running" else "stop")
        elif change.property == "enable":
            self._set_enabled(change.desired == "true")

    def _set_enabled(self, enabled: bool) -> None:
        name = self.params["name"]
        self._script()
        for link in self._links(START_LEVELS + STOP_LEVELS, "S") + self._links(START_LEVELS + STOP_LEVELS, "K"):
            os.unlink(link)
        for lv in START_LEVELS + STOP_LEVELS:
            d = self.ctx.path(f"/etc/rc{lv}.d")
            os.makedirs(d, exist_ok=True)
            start = enabled and lv in START_LEVELS
            os.symlink(f"../init.d/{name}", os.path.join(d, f"{'S20' if start else 'K01'}{name}"))

    def restart(self) -> None:
        p = self.params
        if p.get("restart") or p["hasrestart"]:
            self._cmd("restart")
        else:
            if self.is_running():
                self._cmd("stop")
            self._cmd("start")

    @classmethod
    def instances(cls, ctx: Any) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        d = ctx.path("/etc/init.d")
        if not os.path.isdir(d):
            return out
        for name in sorted(os.listdir(d)):
            if name.startswith(".") or name in ("README", "skeleton", "rc", "rcS"):
                continue
            prov = cls(ctx, name, {"name": name, "path": ["/etc/init.d"], "hasstatus": True})
            try:
                running = prov.is_running()
            except ProviderError:
                continue
            out.append((name, {"ensure": "running" if running else "stopped", "enable": prov.is_enabled()}))
        return out


@provider("service", "systemd")
class Systemd(_Service):
    """systemctl; with a target root other than / (or no systemd as PID 1) only enable/disable, offline
    through ``systemctl --root``."""

    __slots__ = ()

    def _online(self) -> bool:
        return self.ctx.root == "/" and pid1_name() == "systemd"

    def _unit(self) -> str:
        name = self.params["name"]
        return name if "." in name else f"{name}.service"

    def _systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        root = [] if self.ctx.root == "/" else [f"--root={self.ctx.root}"]
        return run(["systemctl", *root, *args], check=check)

    def _need_online(self) -> None:
        if not self._online():
            raise ProviderError(f"cannot manage whether {self._unit()} runs: systemd is not running on the "
                                f"target (PID 1 is '{pid1_name()}', root {self.ctx.root})")

    def is_running(self) -> bool:
        self._need_online()
        if self.params.get("status"):
            return run(["/bin/sh", "-c", self.params["status"]], check=False).returncode == 0
        return self._systemctl("is-active", "--quiet", "--", self._unit(), check=False).returncode == 0

    def is_enabled(self) -> str:
        proc = self._systemctl("is-enabled", "--", self._unit(), check=False)
        state = proc.stdout.strip()
        if state in ("enabled", "enabled-runtime", "alias", "static", "indirect", "generated"):
            return "true"
        if state == "masked":
            return "mask"
        if proc.returncode != 0 and not state:
            detail = proc.stderr.strip().splitlines()[-1:] or [""]
            raise ProviderError(f"cannot query {self._unit()}: {detail[0]}")
        return "false"

    def sync(self, change: Change) -> None:
        unit = self._unit()
        if change.property == "ensure":
            self._need_online()
            self._systemctl("start" if change.desired == "running" else "stop", "--", unit)
        elif change.property == "enable":
            if change.previous == "mask":
                self._systemctl("unmask", "--", unit)
            if change.desired == "true":
                self._systemctl("enable", "--", unit)
            elif change.desired == "mask":
                self._systemctl("mask", "--", unit)
            else:
                self._systemctl("disable", "--", unit)

    def restart(self) -> None:
        self._need_online()
        self._systemctl("restart", "--", self._unit())
