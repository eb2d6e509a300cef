"""fstab files: ``DEVICE MOUNTPOINT FSTYPE OPTIONS [DUMP [PASS]]``, a record found by its mount point.
Nothing is ever mounted or unmounted (see :mod:`engine.types.mount`)."""

from __future__ import annotations

from typing import Any

from engine.providers.parsedfile import Entry, ParsedFile
from engine.registry import Change, provider

#: What a new line gets for what the manifest leaves out.
DEFAULTS = {"options": "defaults", "dump": "0", "pass": "0"}


def _unescape(text: str) -> str:
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def mounted_now(mount_point: str, mounts: str = "/proc/self/mounts") -> bool:
    """Whether something is mounted at ``mount_point`` on this system."""
    try:
        with open(mounts, encoding="utf-8", errors="replace") as fh:
            return any(len(w) > 1 and _unescape(w[1]) == mount_point for w in (line.split() for line in fh))
    except OSError:
        return False


@provider("mount", "parsed")
class Fstab(ParsedFile):
    __slots__ = ()
    default_target = "/etc/fstab"
    properties = ("device", "fstype", "options", "dump", "pass")

    @classmethod
    def parse_line(cls, line: str) -> Entry | None:
        words = line.split()
        if len(words) < 3 or words[0].startswith("#"):
            return None
        fields = {"device": words[0], "fstype": words[2], "options": words[3] if len(words) > 3 else "defaults",
                  "dump": words[4] if len(words) > 4 else "0", "pass": words[5] if len(words) > 5 else "0"}
        name = words[1].rstrip("/") or "/"
        return Entry(name, fields, line)

    def new_fields(self, have: dict[str, Any] | None) -> dict[str, Any]:
        return super().new_fields(have if have is not None else dict(DEFAULTS))

    def render(self, fields: dict[str, Any]) -> str:
        return "\t".join([fields["device"], self.params["name"], fields["fstype"], fields["options"],
                          fields["dump"], fields["pass"]])

    def _live(self) -> bool:
        """Whether ``mounted``/``unmounted`` are about this system (not a target root)."""
        return self.ctx.root == "/"

    def check(self) -> list[Change]:
        want = self.params["ensure"]
        items = self.items()
        index = self.find(items)
        if want == "mounted" and not self._live():
            self.ctx.note("warning", f"not mounted: file systems are not mounted under a target root "
                                     f"({self.ctx.root}); only the fstab line is managed")
        if want == "absent" or index is None:
            return super().check()
        if self._live() and want in ("mounted", "unmounted"):
            now = "mounted" if mounted_now(self.params["name"]) else "unmounted"
            if now != want:
                return [Change("ensure", now, want, f"ensure changed '{now}' to '{want}'")]
        entry = items[index]
        assert isinstance(entry, Entry)
        return self.compare(entry)

    def preflight(self, changes: list[Change]) -> str | None:
        creating = any(c.property == "ensure" and c.previous == "absent" for c in changes)
        missing = [f for f in ("device", "fstype") if self.params.get(f) is None]
        if creating and missing:
            return f"{self.params['name']} is not in {self.target()}: creating its line needs {' and '.join(missing)}"
        if self._live():
            want = self.params["ensure"]
            if want == "mounted" and not mounted_now(self.params["name"]):
                return (f"mounting is not supported yet: mount {self.params['name']} by hand, or use "
                        "ensure => defined to manage only its fstab line")
            if want in ("unmounted", "absent") and mounted_now(self.params["name"]):
                return (f"unmounting is not supported yet: {self.params['name']} is mounted; unmount it by hand "
                        f"first, or use ensure => defined")
        return super().preflight(changes)

    @classmethod
    def listed(cls, entry: Entry) -> tuple[str, dict[str, Any]]:
        return entry.name, {"ensure": "defined", **entry.fields, "target": cls.default_target}

    @classmethod
    def instances(cls, ctx: Any) -> list[tuple[str, dict[str, Any]]]:
        out = super().instances(ctx)
        if ctx.root == "/":
            for title, params in out:
                params["ensure"] = "mounted" if mounted_now(title) else "unmounted"
        return out
