"""The master's settings: a YAML file, overridden by command-line options.

    listen: 127.0.0.1:8140          # mutual TLS: every call but the certificate request
    ca_listen: 127.0.0.1:8141       # server TLS only: certificate requests (default: listen port + 1)
    certname: puppet.example.com
    ssldir: /var/lib/bunraku/master/ssl
    vardir: /var/lib/bunraku/master   # caches (git checkouts, parse cache), store default
    environmentpath: /etc/bunraku/environments
    git: {repo: /srv/git/site.git, poll_seconds: 2}
    store_url: null                   # postgresql+psycopg://...; default SQLite under vardir
    autosign: false                   # true | FILE of names/globs | EXECUTABLE policy
    autosign_challenges: []           # pre-shared challenges accepted in CSRs
    operators: [admin]                # certnames allowed the fleet calls (besides pp_cli_auth certs)
    enc: null                         # external node classifier executable
    groups: null                      # YAML file of node groups
    workers: 0                        # compile processes (0: one per core)
    catalog_cache_size: 2000
    environment_timeout: 2            # seconds a directory environment's code version is trusted
    log_format: json                  # json | kv
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml


class ConfigError(Exception):
    """The configuration file or an option is wrong (one line for the user)."""


@dataclass(slots=True)
class MasterConfig:
    listen: str = "127.0.0.1:8140"
    ca_listen: str | None = None
    certname: str = field(default_factory=lambda: socket.getfqdn().lower())
    dns_alt_names: list[str] = field(default_factory=list)
    ssldir: Path = Path("/var/lib/bunraku/master/ssl")
    vardir: Path = Path("/var/lib/bunraku/master")
    environmentpath: Path | None = Path("/etc/bunraku/environments")
    git_repo: str | None = None
    git_poll_seconds: float = 2.0
    store_url: str | None = None
    autosign: Any = False
    autosign_challenges: list[str] = field(default_factory=list)
    operators: list[str] = field(default_factory=lambda: ["admin"])
    enc: Path | None = None
    groups: Path | None = None
    workers: int = 0
    catalog_cache_size: int = 2000
    environment_timeout: float = 2.0
    log_format: str = "json"
    max_threads: int = 64

    @property
    def store_path(self) -> Path:
        return self.vardir / "store.sqlite"

    def ca_address(self) -> str:
        if self.ca_listen:
            return self.ca_listen
        host, _, port = self.listen.rpartition(":")
        return f"{host}:{int(port) + 1}" if int(port) else f"{host}:0"


_PATHS = {"ssldir", "vardir", "environmentpath", "enc", "groups"}


def load_config(path: Path | str | None, overrides: dict[str, Any] | None = None) -> MasterConfig:
    """Settings from ``path`` (YAML; optional), then ``overrides`` (options given on the command line)."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: error: cannot read the configuration: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: error: not valid YAML: {str(exc).splitlines()[0]}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: error: the configuration must be a mapping of settings")
        data.update(loaded)
        git = data.pop("git", None)
        if isinstance(git, dict):
            data.setdefault("git_repo", git.get("repo"))
            if "poll_seconds" in git:
                data.setdefault("git_poll_seconds", git["poll_seconds"])
    for key, value in (overrides or {}).items():
        if value is not None and value != ():
            data[key] = value
    known = {f.name for f in fields(MasterConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}error: unknown setting(s): {', '.join(unknown)}")
    for key in _PATHS:
        if data.get(key) is not None:
            data[key] = Path(os.path.expanduser(str(data[key])))
    for key in ("operators", "autosign_challenges", "dns_alt_names"):
        if isinstance(data.get(key), str):
            data[key] = [s.strip() for s in data[key].split(",") if s.strip()]
    config = MasterConfig(**data)
    if ":" not in config.listen:
        raise ConfigError(f"error: listen address {config.listen!r} must be HOST:PORT")
    if config.log_format not in ("json", "kv"):
        raise ConfigError(f"error: log_format must be 'json' or 'kv', not {config.log_format!r}")
    return config
