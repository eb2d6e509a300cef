"""The master's settings: a YAML file, overridden by command-line options.

    listen: 127.0.0.1:8140          # mutual TLS: every call but the certificate request
    ca_listen: 127.0.0.1:8141       # server TLS only: certificate requests (default: listen port + 1)
    certname: puppet.example.com
    ssldir: /var/lib/bunraku/master/ssl
    vardir: /var/lib/bunraku/master   # caches (git checkouts, parse cache), store default
    environmentpath: /etc/bunraku/environments
    git: {repo: /srv/git/site.git, poll_seconds: 2}
    # or fetched from a git server into <vardir>/git-mirror.git every poll_seconds (see master/deploy.py):
    # git: {remote: https://git.example.com/site.git, credentials: /etc/bunraku/git-credentials}
    # git: {remote: ssh://git@git.example.com/site.git, ssh_key: /etc/bunraku/deploy_key}
    forge_url: null                   # base URL of Forge-style tarballs for Puppetfile modules
    store_url: null                   # postgresql+psycopg://...; default SQLite under vardir
    autosign: false                   # true | FILE of names/globs | EXECUTABLE policy
    autosign_challenges: []           # pre-shared challenges accepted in CSRs
    enc: null                         # external node classifier executable
    groups: null                      # YAML file of node groups
    workers: 0                        # compile processes (0: one per core)
    catalog_cache_size: 2000
    environment_timeout: 2            # seconds a directory environment's code version is trusted
    log_format: text                  # text (Puppet's: TIME Level: message) | json | kv
    environments:                     # per git environment (branch) release settings
      production: {follow_branch: false, release: 3f2a9c1}
    live_heartbeat_seconds: 10        # the live channel: heartbeats both ways this often
    live_timeout: 30                  # a silent agent counts as disconnected after this
    live_max_agents: 1000             # live channels held open at once (each holds a server thread)
    rollout_tick_seconds: 1           # how often the master advances the rollouts it drives
    rollout_lease_seconds: 15         # a rollout's driver must renew its lease within this
    rollout_owner: null               # this master's id for rollout leases (default certname@host:vardir)
    task_max_concurrent: 100          # task runs at once over the whole fleet, all tasks (groups: their own)
    task_poll_seconds: 1              # how often the master looks for queued task runs of its agents
    max_message_bytes: 16777216       # largest gRPC message accepted or sent (16 MiB)
    rate_limit: {per_node_per_minute: 1200, burst: 200}   # per certificate (gRPC, and Puppet's HTTP API
                                      # apart); false: no limit
    inflight_bytes: 67108864          # bytes of large requests (facts, reports) worked on at once (64 MiB),
                                      # over gRPC and Puppet's HTTP API together
    inflight_bytes_per_node: 16777216 # of those, from one certificate (16 MiB)
    inflight_wait_seconds: 1          # a large request waits this long for room, then is refused (at once
                                      # when its node is over its own share)
    max_connections: 4096             # open connections on the agent listener (lowered to fit the open-file limit)
    max_connections_per_address: 0   # of those, from one client address (0: no such cap; see docs/SECURITY.md)
    max_connections_per_network: 0   # of those, from one network (IPv4 /24, IPv6 /48; 0: no such cap)
    ca_max_connections: 256           # open connections on the certificate-request listener
    ca_max_connections_per_address: 8 # of those, from one client address (an IPv6 /64)
    ca_max_connections_per_network: 32  # of those, from one network (an IPv4 /24, an IPv6 /48)
    ca_max_pending: 10000             # certificate requests waiting to be signed, in all
    ca_max_pending_per_network: 256   # of those, sent from one network (an IPv4 /24, an IPv6 /48)
    max_report_bytes: 4194304         # largest report accepted (4 MiB); a larger one is set aside by its agent
    reports_per_node: 500             # reports kept per node, the newest (0: all)
    report_ttl: 14d                   # reports older than this go, with their events (each node keeps its
                                      # latest); durations: 90s, 30m, 12h, 14d, or seconds; 0: keep forever
    node_ttl: 0                       # nodes silent this long are deactivated (0: never)
    node_purge_ttl: 14d               # deactivated nodes (`bunraku store deactivate`, node_ttl) are purged
                                      # with everything stored about them after this (0: never)
    catalog_history_per_node: 20      # distinct catalogs remembered per node (the catalog diff history)
    store_maintenance_seconds: 3600   # how often one master (holding a lease in the store) applies the above
    store_write_behind: true          # facts, catalogs served and contacts: journaled in <vardir>/store-journal
                                      # and committed in batches by one thread, off the request path
                                      # (false: each written in its request)
    handshake_timeout: 10             # seconds a new connection has to finish its TLS handshake
    idle_timeout: 300                 # seconds an agent connection may stay without a call
    ca_idle_timeout: 30               # the same on the certificate-request listener
    compile_memory_mb: 2048           # address space of each compile worker (0: no limit)
    compile_cpu_seconds: 60           # CPU time one catalog compile may take (0: no limit)
    user: null                        # drop root privileges to this user once listening
    puppet_listen: null               # HOST:PORT of Puppet's HTTP API (HTTPS, this CA) for unmodified Puppet
                                      # agents. Unset: on port 8140 of listen's host whenever `listen` is on
                                      # another (nonzero) port (Puppet agents ask for 8140; with listen on
                                      # 8140, set one of the two elsewhere); `off`: not served
    puppet_max_connections: 1024      # open connections on it (an idle one costs memory, not a thread)
    puppet_max_connections_per_address: 256  # of those, from one client address (an IPv6 /64)
    puppet_keepalive_timeout: 15      # seconds a connection may wait for its next (or first) request

Operator rights come only from operator certificates (``bunraku cert generate NAME --operator --role
ROLE``), never from a name in this file: the old ``operators:`` setting is refused with that advice.

A setting given on the command line overrides the file; one not given leaves the file's value.

Releases (git environments): a node is compiled at the release a rollout assigned it; without one,
at the branch head when the environment follows its branch (``follow_branch: true``, the default);
otherwise at the environment's pinned ``release`` if set, else at the branch head of the node's first
compile, which is then recorded as its assignment - so with ``follow_branch: false`` a new commit
reaches a node only through a rollout (or by changing ``release``).
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
    git_remote: str | None = None            # URL the master fetches environments from (ssh, https, file://)
    git_credentials: Path | None = None      # https: a file "user:token", mode 0600
    git_ssh_key: Path | None = None          # ssh: a private key file, mode 0600
    forge_url: str | None = None             # Puppetfile Forge modules: {forge_url}/v3/files/A-N-V.tar.gz
    store_url: str | None = None
    autosign: Any = False
    autosign_challenges: list[str] = field(default_factory=list)
    enc: Path | None = None
    groups: Path | None = None
    workers: int = 0
    catalog_cache_size: int = 2000
    environment_timeout: float = 2.0
    log_format: str = "text"
    max_threads: int = 64
    environments: dict[str, Any] = field(default_factory=dict)
    live_heartbeat_seconds: float = 10.0
    live_timeout: float = 30.0
    live_max_agents: int = 1000
    rollout_tick_seconds: float = 1.0
    rollout_lease_seconds: float = 15.0
    rollout_owner: str | None = None
    task_max_concurrent: int = 100
    task_poll_seconds: float = 1.0
    max_message_bytes: int = 16 * 1024 * 1024
    rate_limit: Any = field(default_factory=lambda: {"per_node_per_minute": 1200, "burst": 200})
    inflight_bytes: int = 64 * 1024 * 1024
    inflight_bytes_per_node: int = 16 * 1024 * 1024
    inflight_wait_seconds: float = 1.0
    max_connections: int = 4096
    max_connections_per_address: int = 0
    max_connections_per_network: int = 0
    ca_max_connections: int = 256
    ca_max_connections_per_address: int = 8
    ca_max_connections_per_network: int = 32
    ca_max_pending: int = 10_000
    ca_max_pending_per_network: int = 256
    max_report_bytes: int = 4 * 1024 * 1024
    reports_per_node: int = 500
    report_ttl: float = 14 * 86400.0
    node_ttl: float = 0.0
    node_purge_ttl: float = 14 * 86400.0
    catalog_history_per_node: int = 20
    store_maintenance_seconds: float = 3600.0
    store_write_behind: bool = True
    handshake_timeout: float = 10.0
    idle_timeout: float = 300.0
    ca_idle_timeout: float = 30.0
    compile_memory_mb: int = 2048
    compile_cpu_seconds: float = 60.0
    user: str | None = None
    dashboard_listen: str | None = None      # HOST:PORT of the HTTPS dashboard and /metrics (off when unset)
    dashboard_tokens: Path | None = None     # token file for dashboard viewers (default: <ssldir>/dashboard-tokens.json)
    puppet_listen: str | None = None         # HOST:PORT of Puppet's HTTP API ("off"; unset: see puppet_api_address)
    puppet_max_connections: int = 1024
    puppet_max_connections_per_address: int = 256
    puppet_keepalive_timeout: float = 15.0

    def puppet_api_address(self) -> tuple[str | None, bool]:
        """(HOST:PORT of Puppet's HTTP API or None when off, whether it is the default): unset means on
        port 8140 of ``listen``'s host whenever ``listen`` uses another, nonzero port."""
        if self.puppet_listen is not None:
            return (None if self.puppet_listen == "off" else self.puppet_listen), False
        host, _, port = self.listen.rpartition(":")
        if not port.isdigit() or int(port) in (0, PUPPET_PORT):
            return None, False
        return f"{host}:{PUPPET_PORT}", True

    def follows_branch(self, environment: str) -> bool:
        return bool(self.environments.get(environment, {}).get("follow_branch", True))

    def pinned_release(self, environment: str) -> str | None:
        value = self.environments.get(environment, {}).get("release")
        return str(value) if value else None

    @property
    def store_path(self) -> Path:
        return self.vardir / "store.sqlite"

    @property
    def dashboard_tokens_path(self) -> Path:
        """The dashboard's token file: the master reads it here, `bunraku dashboard token-issue` writes it."""
        return self.dashboard_tokens or self.ssldir / "dashboard-tokens.json"

    def ca_address(self) -> str:
        if self.ca_listen:
            return self.ca_listen
        host, _, port = self.listen.rpartition(":")
        return f"{host}:{int(port) + 1}" if int(port) else f"{host}:0"


#: the port Puppet agents ask for by default
PUPPET_PORT = 8140

_PATHS = {"ssldir", "vardir", "environmentpath", "enc", "groups", "dashboard_tokens", "git_credentials",
          "git_ssh_key"}


def _refuse_name_based_operators(value: Any, path: Path | str | None) -> None:
    """Operator rights by certname (the former ``operators:`` / ``--operator``) would make anyone who
    gets a certificate for that name an operator; say what to do instead."""
    if not value:
        return
    names = list(value) if isinstance(value, list | tuple | dict) else [str(value)]
    where = f"{path}: " if path else ""
    raise ConfigError(f"{where}error: operators: a certificate's name does not make it an operator; remove this "
                      f"setting and on the master run `bunraku cert generate NAME --operator --role ROLE "
                      f"--out-ssldir DIR` for {', '.join(str(n) for n in names)}")


#: settings that bound what the master spends (see master.limits): name -> (least allowed, integer only)
_RESOURCE_LIMITS: dict[str, tuple[float, bool]] = {
    "inflight_bytes": (1, True), "inflight_bytes_per_node": (1, True), "inflight_wait_seconds": (0, False),
    "max_connections": (1, True), "ca_max_connections": (1, True), "ca_max_connections_per_address": (1, True),
    "ca_max_connections_per_network": (1, True), "ca_max_pending": (1, True), "ca_max_pending_per_network": (1, True),
    "max_report_bytes": (4096, True), "reports_per_node": (0, True),
    "max_connections_per_address": (0, True), "max_connections_per_network": (0, True),
    "handshake_timeout": (0.1, False), "idle_timeout": (0.1, False), "ca_idle_timeout": (0.1, False),
    "compile_memory_mb": (0, True), "compile_cpu_seconds": (0, False),
    "puppet_max_connections": (1, True), "puppet_max_connections_per_address": (1, True),
    "puppet_keepalive_timeout": (0.1, False),
    "report_ttl": (0, False), "node_ttl": (0, False), "node_purge_ttl": (0, False),
    "catalog_history_per_node": (1, True), "store_maintenance_seconds": (1, False),
}

#: settings given as durations (``14d``, ``12h``, ``30m``, ``90s`` or a number of seconds)
_DURATIONS = ("report_ttl", "node_ttl", "node_purge_ttl", "store_maintenance_seconds")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(name: str, value: Any) -> float:
    """Seconds in ``value``: a number, or a number with a unit (s, m, h, d, w), as PuppetDB's TTLs are."""
    if isinstance(value, bool):
        raise ConfigError(f"error: {name} must be a duration such as 14d, 12h, 30m or 90s, not {value!r}")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().lower()
    number, unit = (text[:-1], text[-1]) if text and text[-1] in _UNITS else (text, "s")
    try:
        return float(number) * _UNITS[unit]
    except ValueError:
        raise ConfigError(f"error: {name} must be a duration such as 14d, 12h, 30m or 90s, not {value!r}") from None


def _check_resource_limits(config: MasterConfig) -> None:
    for name, (least, integer) in _RESOURCE_LIMITS.items():
        value = getattr(config, name)
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value < least:
            what = "an integer" if integer else "a number"
            raise ConfigError(f"error: {name} must be {what} of at least {least:g}, not {value!r}")
    if 0 < config.compile_memory_mb < 256:
        raise ConfigError("error: compile_memory_mb must be 0 (no limit) or at least 256: a compile worker "
                          "needs that much to start")


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
        dashboard = data.pop("dashboard", None)
        if isinstance(dashboard, dict):
            data.setdefault("dashboard_listen", dashboard.get("listen"))
            data.setdefault("dashboard_tokens", dashboard.get("tokens"))
        git = data.pop("git", None)
        if isinstance(git, dict):
            data.setdefault("git_repo", git.get("repo"))
            if "poll_seconds" in git:
                data.setdefault("git_poll_seconds", git["poll_seconds"])
            for key in ("remote", "credentials", "ssh_key"):
                if key in git:
                    data.setdefault(f"git_{key}", git[key])
    for key, value in (overrides or {}).items():
        if value is not None and value != ():
            data[key] = value
    _refuse_name_based_operators(data.pop("operators", None), path)
    known = {f.name for f in fields(MasterConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}error: unknown setting(s): {', '.join(unknown)}")
    if not isinstance(data.get("store_write_behind", True), bool):
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}error: store_write_behind must be true or false")
    for key in _PATHS:
        if data.get(key) is not None:
            data[key] = Path(os.path.expanduser(str(data[key])))
    if data.get("puppet_listen") in (False, "false", "no", ""):  # YAML reads a bare off as false
        data["puppet_listen"] = "off"
    for key in _DURATIONS:
        if data.get(key) is not None:
            data[key] = parse_duration(key, data[key])
    for key in ("autosign_challenges", "dns_alt_names"):
        if isinstance(data.get(key), str):
            data[key] = [s.strip() for s in data[key].split(",") if s.strip()]
    envs = data.get("environments")
    if envs is not None:
        if not isinstance(envs, dict) or not all(isinstance(v, dict) for v in envs.values()):
            raise ConfigError("error: environments must map environment names to settings "
                              "(follow_branch, release)")
        for name, settings in envs.items():
            bad = sorted(set(settings) - {"follow_branch", "release"})
            if bad:
                raise ConfigError(f"error: environments.{name}: unknown setting(s): {', '.join(bad)}")
    config = MasterConfig(**data)
    if ":" not in config.listen:
        raise ConfigError(f"error: listen address {config.listen!r} must be HOST:PORT")
    if config.puppet_listen is not None and config.puppet_listen != "off" and ":" not in str(config.puppet_listen):
        raise ConfigError(f"error: puppet_listen address {config.puppet_listen!r} must be HOST:PORT")
    if config.log_format not in ("text", "json", "kv"):
        raise ConfigError(f"error: log_format must be 'text', 'json' or 'kv', not {config.log_format!r}")
    from master.limits import RateLimit

    try:
        RateLimit.parse(config.rate_limit)
    except ValueError as exc:
        raise ConfigError(f"error: {exc}") from None
    if not isinstance(config.max_message_bytes, int) or config.max_message_bytes < 4096:
        raise ConfigError("error: max_message_bytes must be an integer of at least 4096")
    _check_resource_limits(config)
    from master.deploy import DeployError, check_settings

    try:
        check_settings(config)
    except DeployError as exc:
        raise ConfigError(str(exc)) from None
    if config.user:
        from master.privileges import PrivilegeError, check_user

        try:
            check_user(config.user)
        except PrivilegeError as exc:
            raise ConfigError(f"error: {exc}") from None
    return config
