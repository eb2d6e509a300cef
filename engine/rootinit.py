"""Seed a minimal target root (``bunraku apply --root DIR --init-root``): what the providers need before
a catalog can converge an empty directory.

- ``etc/passwd``, ``group``, ``shadow``, ``gshadow`` with root and the usual Debian system accounts, so
  the shadow tools (``useradd --root``, ``groupadd --root``) can lock and update them;
- ``etc/login.defs`` with user private groups on (``useradd`` then makes a group named after a new user,
  as on Debian), and an empty ``etc/skel``;
- ``var/lib/dpkg`` with an empty ``status`` (dpkg's database), apt's directories, ``tmp``, ``root``,
  ``home``, ``var/log``, ``etc/init.d`` and ``etc/rc?.d``.

Nothing that exists is touched: seeding is safe to repeat, and a root made from an image keeps its own
files. Programs are not copied: a root where ``exec`` or ``service`` resources run needs its own
``/bin/sh`` and the programs they call (from a base image or debootstrap).
"""

from __future__ import annotations

import os
from pathlib import Path

#: name, uid, gid, comment, home, shell (Debian's base-passwd, the accounts every Debian root has).
SYSTEM_USERS = (
    ("root", 0, 0, "root", "/root", "/bin/bash"),
    ("daemon", 1, 1, "daemon", "/usr/sbin", "/usr/sbin/nologin"),
    ("bin", 2, 2, "bin", "/bin", "/usr/sbin/nologin"),
    ("sys", 3, 3, "sys", "/dev", "/usr/sbin/nologin"),
    ("sync", 4, 65534, "sync", "/bin", "/bin/sync"),
    ("games", 5, 60, "games", "/usr/games", "/usr/sbin/nologin"),
    ("man", 6, 12, "man", "/var/cache/man", "/usr/sbin/nologin"),
    ("lp", 7, 7, "lp", "/var/spool/lpd", "/usr/sbin/nologin"),
    ("mail", 8, 8, "mail", "/var/mail", "/usr/sbin/nologin"),
    ("news", 9, 9, "news", "/var/spool/news", "/usr/sbin/nologin"),
    ("uucp", 10, 10, "uucp", "/var/spool/uucp", "/usr/sbin/nologin"),
    ("proxy", 13, 13, "proxy", "/bin", "/usr/sbin/nologin"),
    ("www-data", 33, 33, "www-data", "/var/www", "/usr/sbin/nologin"),
    ("backup", 34, 34, "backup", "/var/backups", "/usr/sbin/nologin"),
    ("list", 38, 38, "Mailing List Manager", "/var/list", "/usr/sbin/nologin"),
    ("irc", 39, 39, "ircd", "/run/ircd", "/usr/sbin/nologin"),
    ("nobody", 65534, 65534, "nobody", "/nonexistent", "/usr/sbin/nologin"),
)

#: name, gid.
SYSTEM_GROUPS = (
    ("root", 0), ("daemon", 1), ("bin", 2), ("sys", 3), ("adm", 4), ("tty", 5), ("disk", 6), ("lp", 7),
    ("mail", 8), ("news", 9), ("uucp", 10), ("man", 12), ("proxy", 13), ("kmem", 15), ("dialout", 20),
    ("fax", 21), ("voice", 22), ("cdrom", 24), ("floppy", 25), ("tape", 26), ("sudo", 27), ("audio", 29),
    ("dip", 30), ("www-data", 33), ("backup", 34), ("operator", 37), ("list", 38), ("irc", 39), ("src", 40),
    ("shadow", 42), ("utmp", 43), ("video", 44), ("sasl", 45), ("plugdev", 46), ("staff", 50), ("games", 60),
    ("users", 100), ("nogroup", 65534),
)

#: The group that may read shadow and gshadow, as on Debian.
SHADOW_GID = 42

LOGIN_DEFS = """\
# Written by bunraku apply --init-root: what useradd and groupadd read in this root.
USERGROUPS_ENAB yes
UID_MIN 1000
UID_MAX 60000
SYS_UID_MIN 100
SYS_UID_MAX 999
GID_MIN 1000
GID_MAX 60000
SYS_GID_MIN 100
SYS_GID_MAX 999
ENCRYPT_METHOD SHA512
"""

#: Directories and their modes, parents first.
DIRECTORIES = (
    ("etc", 0o755), ("etc/skel", 0o755), ("etc/init.d", 0o755),
    *((f"etc/rc{level}.d", 0o755) for level in "0123456S"),
    ("etc/apt", 0o755), ("etc/apt/apt.conf.d", 0o755), ("etc/apt/preferences.d", 0o755),
    ("etc/apt/sources.list.d", 0o755), ("etc/apt/trusted.gpg.d", 0o755),
    ("root", 0o700), ("home", 0o755), ("tmp", 0o1777), ("run", 0o755),
    ("var", 0o755), ("var/log", 0o755), ("var/log/apt", 0o755), ("var/tmp", 0o1777),
    ("var/lib", 0o755), ("var/lib/dpkg", 0o755), ("var/lib/dpkg/info", 0o755),
    ("var/lib/dpkg/updates", 0o755), ("var/lib/dpkg/triggers", 0o755), ("var/lib/dpkg/alternatives", 0o755),
    ("var/lib/apt", 0o755), ("var/lib/apt/lists", 0o755), ("var/lib/apt/lists/partial", 0o700),
    ("var/cache", 0o755), ("var/cache/apt", 0o755), ("var/cache/apt/archives", 0o755),
    ("var/cache/apt/archives/partial", 0o700),
)


class RootInitError(Exception):
    """The root cannot be seeded (one line: what and where)."""


def _files() -> list[tuple[str, str, int, int]]:
    """(path, content, mode, gid) of every file the seed writes."""
    passwd = "".join(f"{n}:x:{u}:{g}:{c}:{h}:{s}\n" for n, u, g, c, h, s in SYSTEM_USERS)
    shadow = "".join(f"{n}:*:19000:0:99999:7:::\n" for n, *_ in SYSTEM_USERS)
    group = "".join(f"{n}:x:{g}:\n" for n, g in SYSTEM_GROUPS)
    gshadow = "".join(f"{n}:*::\n" for n, _ in SYSTEM_GROUPS)
    return [
        ("etc/passwd", passwd, 0o644, 0),
        ("etc/group", group, 0o644, 0),
        ("etc/shadow", shadow, 0o640, SHADOW_GID),
        ("etc/gshadow", gshadow, 0o640, SHADOW_GID),
        ("etc/login.defs", LOGIN_DEFS, 0o644, 0),
        ("var/lib/dpkg/status", "", 0o644, 0),
        ("var/lib/dpkg/available", "", 0o644, 0),
    ]


def _inside(root: Path, rel: str) -> Path:
    """``root/rel``, refusing a path that leads out of the root through a link the root holds."""
    path = root / rel
    parent = path.parent.resolve()
    if parent != root and root not in parent.parents:
        raise RootInitError(f"{path.parent} leads out of the root {root} (a link); remove it or seed another root")
    return path


def init_root(root: str | os.PathLike[str]) -> list[str]:
    """Create what is missing of the minimal root in ``root``; return what was created, as root paths."""
    base = Path(os.path.abspath(root))
    if base == Path("/"):
        raise RootInitError("--init-root seeds a new target root; give it --root DIR, never /")
    created: list[str] = []
    try:
        base.mkdir(parents=True, exist_ok=True)
        base = base.resolve()
        for rel, mode in DIRECTORIES:
            path = _inside(base, rel)
            if not os.path.lexists(path):
                path.mkdir()
                path.chmod(mode)
                created.append("/" + rel)
        for rel, content, mode, gid in _files():
            path = _inside(base, rel)
            if os.path.lexists(path):
                continue
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(content)
            os.chmod(path, mode)
            if gid and os.geteuid() == 0:
                os.chown(path, 0, gid)
            created.append("/" + rel)
    except OSError as exc:
        raise RootInitError(f"cannot seed {base}: {exc.strerror or exc}"
                            + (f": {exc.filename}" if exc.filename else "")) from None
    return created
