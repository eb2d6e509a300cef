"""The crontab provider: crontab files under ROOT/var/spool/cron/crontabs/<user>.

Only entries under a ``# Bunraku Name: <title>`` (or Puppet's ``# Puppet Name:``) marker are ever
changed; hand-written lines stay exactly as they are.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from engine import preflight
from engine.fsutil import atomic_write
from engine.registry import Change, Provider, provider
from engine.types.cron import FIELDS

log = logging.getLogger(__name__)

MARKERS = ("# Bunraku Name: ", "# Puppet Name: ")
SPOOL = "/var/spool/cron/crontabs"


@dataclass(slots=True)
class CronEntry:
    name: str
    environment: list[str] = field(default_factory=list)
    special: str | None = None
    times: dict[str, str] = field(default_factory=dict)
    command: str = ""
    marker: str = MARKERS[0]

    def render(self) -> list[str]:
        lines = [f"{self.marker}{self.name}", *self.environment]
        if self.special:
            lines.append(f"@{self.special} {self.command}")
        else:
            lines.append(" ".join(self.times.get(f, "*") for f in FIELDS) + " " + self.command)
        return lines


def parse_cron_line(line: str, entry: CronEntry) -> None:
    if line.startswith("@"):
        special, _, command = line[1:].partition(" ")
        entry.special = special
        entry.command = command.strip()
    else:
        parts = line.split(None, 5)
        entry.times = dict(zip(FIELDS, parts[:5]))
        entry.command = parts[5] if len(parts) > 5 else ""


def parse_crontab(text: str) -> list[str | CronEntry]:
    """Crontab text as a list of hand-written lines (str) and managed entries (CronEntry)."""
    out: list[str | CronEntry] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = next((m for m in MARKERS if line.startswith(m)), None)
        if marker is None:
            out.append(line)
            i += 1
            continue
        entry = CronEntry(line[len(marker):].strip(), marker=marker)
        i += 1
        while i < len(lines) and _is_env(lines[i]):
            entry.environment.append(lines[i])
            i += 1
        if i < len(lines):
            parse_cron_line(lines[i], entry)
            i += 1
        out.append(entry)
    return out


def _is_env(line: str) -> bool:
    head = line.split("=", 1)[0]
    return "=" in line and not line.startswith("#") and head.strip().replace("_", "").isalnum() and " " not in head.strip()


def render_crontab(items: list[str | CronEntry]) -> str:
    lines: list[str] = []
    for item in items:
        lines.extend([item] if isinstance(item, str) else item.render())
    return "\n".join(lines) + "\n" if lines else ""


def desired_entry(p: dict[str, Any], marker: str = MARKERS[0]) -> CronEntry:
    return CronEntry(p["name"], list(p["environment"]), p["special"],
                     {} if p["special"] else {f: p[f] for f in FIELDS}, p["command"], marker)


@provider("cron", "crontab")
class Crontab(Provider):
    __slots__ = ()

    def _path(self) -> str:
        return self.ctx.path(f"{SPOOL}/{self.params['user']}")

    def _items(self) -> list[str | CronEntry]:
        key = f"crontab:{self.params['user']}"
        items = self.ctx.cache.get(key)
        if items is None:
            try:
                with open(self._path(), encoding="utf-8") as fh:
                    items = parse_crontab(fh.read())
            except FileNotFoundError:
                items = []
            self.ctx.cache[key] = items
        return items

    def _find(self) -> CronEntry | None:
        name = self.params["name"]
        for item in self._items():
            if isinstance(item, CronEntry) and item.name == name:
                return item
        return None

    def check(self) -> list[Change]:
        p = self.params
        entry = self._find()
        if p["ensure"] == "absent":
            return [Change("ensure", "present", "absent", "removed")] if entry else []
        if entry is None:
            return [Change("ensure", "absent", "present", "created")]
        changes = []
        want = desired_entry(p)

        def differ(prop: str, have: Any, wanted: Any) -> None:
            if have != wanted:
                changes.append(Change(prop, have, wanted, f"{prop} changed '{have}' to '{wanted}'"))

        differ("command", entry.command, want.command)
        differ("special", entry.special or "absent", want.special or "absent")
        if not want.special:
            for f in FIELDS:
                differ(f, entry.times.get(f, "*"), want.times[f])
        differ("environment", ",".join(entry.environment), ",".join(want.environment))
        return changes

    def preflight(self, changes: list[Change]) -> str | None:
        if self.params["ensure"] == "absent":
            return None
        # cron ignores the crontab of a user it cannot find (engine.preflight)
        return preflight.unknown_user(self.ctx, self.params["user"], "cron user")

    def sync(self, change: Change) -> None:
        p = self.params
        items = self._items()
        entry = self._find()
        if p["ensure"] == "absent":
            items[:] = [i for i in items if i is not entry]
        else:
            new = desired_entry(p, entry.marker if entry else MARKERS[0])
            if entry is None:
                items.append(new)
            else:
                items[items.index(entry)] = new
        self._write(render_crontab(items))

    def _write(self, text: str) -> None:
        spool = self.ctx.path(SPOOL)
        if not os.path.isdir(spool):
            os.makedirs(spool, exist_ok=True)
            crontab_gid = self.ctx.accounts.gid_of("crontab")
            os.chmod(spool, 0o1730)
            if crontab_gid is not None:
                os.chown(spool, 0, crontab_gid)
        uid = self.ctx.accounts.uid_of(self.params["user"])
        gid = self.ctx.accounts.gid_of("crontab")
        atomic_write(self._path(), text.encode("utf-8"), mode=0o600, uid=uid, gid=gid)

    @classmethod
    def instances(cls, ctx: Any) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        spool = ctx.path(SPOOL)
        if not os.path.isdir(spool):
            return out
        for user in sorted(os.listdir(spool)):
            with open(ctx.path(f"{SPOOL}/{user}"), encoding="utf-8", errors="replace") as fh:
                items = parse_crontab(fh.read())
            n = 0
            for item in items:
                if isinstance(item, CronEntry):
                    params: dict[str, Any] = {"ensure": "present", "user": user, "command": item.command}
                    if item.special:
                        params["special"] = item.special
                    else:
                        params.update(item.times)
                    if item.environment:
                        params["environment"] = item.environment
                    out.append((item.name, params))
                elif item.strip() and not item.lstrip().startswith("#") and not _is_env(item):
                    n += 1
                    entry = CronEntry("")
                    parse_cron_line(item.strip(), entry)
                    params = {"ensure": "present", "user": user, "command": entry.command}
                    params.update(entry.times if not entry.special else {"special": entry.special})
                    out.append((f"unmanaged:{entry.command}-{n}", params))
        return out
