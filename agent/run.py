"""One agent run, and the timer that repeats it.

A run: lock -> certificate -> deliver spooled reports -> plugin sync (custom facts) -> facts ->
catalog (or the cached one when no master answers) -> apply -> report (spooled if it cannot be sent).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import vardir
from agent.catalogcache import load_cached, parse_catalog, save_cached
from agent.filesource import RemoteFileSource
from agent.lock import LockHeld, RunLock
from agent.spool import ReportSpool
from engine.apply import apply_catalog
from engine.catalog import Catalog, CatalogError
from engine.errors import EngineError
from engine.fsutil import atomic_write
from engine.report import Report
from engine.summary import report_lines
from master.proto import bunraku_pb2 as pb
from master.rpc import pki
from master.rpc.client import ClientError, MasterClient, MasterUnavailable, ca_server_for, ensure_certificate

log = logging.getLogger(__name__)

Line = tuple[str, str]


@dataclass(slots=True)
class AgentSettings:
    certname: str
    servers: list[str]
    ssldir: Path
    vardir: Path
    ca_server: str | None = None
    root: Path = Path("/")
    environment: str = "production"
    noop: bool = False
    tags: list[str] | None = None
    show_diff: bool = False
    use_cached_catalog: bool = False
    usecacheonfailure: bool = True
    facts_file: Path | None = None
    facts: dict[str, Any] | None = None
    pluginsync: bool = True
    waitforcert: float = 120.0
    challenge: str | None = None
    csr_extensions: dict[str, str] = field(default_factory=dict)
    ca_fingerprint: str | None = None
    runinterval: float = 1800.0
    splay: bool = False
    splaylimit: float | None = None
    timeout: float = 120.0
    state_dir: Path | None = None  # the engine's (reports, filebucket); default ROOT/var/lib/bunraku
    live: bool = False  # daemon mode: keep the live channel open and run when the master says so
    apply_mode: str = "full"  # this run: full | incremental (only what changed since the last good catalog)

    # -- where things live under vardir --------------------------------------------------------------
    @property
    def catalog_cache(self) -> Path:
        return self.vardir / "client_data" / "catalog" / f"{self.certname}.json"

    @property
    def spool_dir(self) -> Path:
        return self.vardir / "spool"

    @property
    def lock_file(self) -> Path:
        return self.vardir / "state" / "agent_catalog_run.lock"

    @property
    def disabled_file(self) -> Path:
        return self.vardir / "state" / "agent_disabled.lock"

    @property
    def last_good_catalog(self) -> Path:
        """The last catalog applied without failures: what an incremental run compares against."""
        return self.vardir / "state" / "last_good_catalog.json"

    @property
    def plugin_facts_dir(self) -> Path:
        return self.vardir / "lib" / "facts"

    @property
    def file_cache(self) -> Path:
        return self.vardir / "filecache"


@dataclass(slots=True)
class RunResult:
    exit_code: int
    report: Report | None = None
    lines: list[Line] = field(default_factory=list)
    cached_catalog_status: str = "not_used"
    report_sent: bool = False


# -- disable / enable ------------------------------------------------------------------------------
def disable(settings: AgentSettings, reason: str) -> None:
    settings.disabled_file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(str(settings.disabled_file),
                 json.dumps({"disabled_message": reason or "reason not specified"}).encode())


def enable(settings: AgentSettings) -> bool:
    try:
        settings.disabled_file.unlink()
        return True
    except FileNotFoundError:
        return False


def disabled_reason(settings: AgentSettings) -> str | None:
    try:
        data = json.loads(settings.disabled_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return "reason not specified"
    return str(data.get("disabled_message") or "reason not specified")


# -- the run ---------------------------------------------------------------------------------------
def _load_facts(settings: AgentSettings) -> dict[str, Any]:
    if settings.facts is not None:
        return dict(settings.facts)
    if settings.facts_file is not None:
        import yaml

        text = settings.facts_file.read_text(encoding="utf-8")
        data = json.loads(text) if settings.facts_file.suffix == ".json" else yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ValueError(f"{settings.facts_file}: facts must be a mapping")
        return data
    from facts import collect_facts

    custom = [settings.plugin_facts_dir] if settings.plugin_facts_dir.is_dir() else []
    return dict(collect_facts(custom_dirs=custom))


def plugin_sync(client: MasterClient, settings: AgentSettings) -> int:
    """Mirror the environment's modules' facts/ into the agent's custom facts dir; returns files changed."""
    reply = client.call("PluginSync", pb.PluginSyncRequest(environment=settings.environment))
    target = settings.plugin_facts_dir
    target.mkdir(parents=True, exist_ok=True)
    wanted: dict[str, tuple[str, str]] = {}
    for f in reply.facts:
        module, _, name = f.path.partition("/")
        if "/" in name or not name or name.startswith("."):
            continue
        wanted[f"{module}__{name}"] = (f.sha256, f.uri)
    changed = 0
    import hashlib

    for local, (sha, uri) in wanted.items():
        path = target / local
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == sha:
            continue
        data = b"".join(c.data for c in client.stream("FileContent", pb.FileContentRequest(
            uri=uri, environment=reply.environment, sha256=sha)))
        if hashlib.sha256(data).hexdigest() != sha:
            raise ClientError(f"plugin {uri} arrived corrupted")
        atomic_write(str(path), data, mode=0o644)
        changed += 1
    for stale in target.iterdir():
        if stale.is_file() and stale.name not in wanted:
            stale.unlink()
            changed += 1
    if changed:
        log.info("plugin sync: %d file(s) changed", changed)
    return changed


def _send_report(client: MasterClient | None, spool: ReportSpool, report: Report) -> bool:
    data = report.to_json().encode("utf-8")
    if client is not None:
        try:
            client.call("SubmitReport", pb.ReportRequest(report_json=data))
            return True
        except MasterUnavailable as exc:
            log.warning("could not send the report: %s", exc)
        except ClientError as exc:
            log.warning("the master refused the report: %s", exc)
    spool.add(data, report.transaction_uuid)
    return False


def _failed_report(settings: AgentSettings, message: str) -> Report:
    report = Report(host=settings.certname, environment=settings.environment, noop=settings.noop)
    report.log("err", message)
    report.finalise(0.0, {})
    report.status = "failed"
    return report


def run_once(settings: AgentSettings) -> RunResult:
    reason = disabled_reason(settings)
    if reason is not None:
        return RunResult(1, lines=[("warning", "Notice: Skipping run of the Bunraku agent; administratively "
                                               f"disabled (Reason: '{reason}'); use `bunraku agent enable`")])
    try:
        vardir.prepare(settings.vardir)
        with RunLock(settings.lock_file):
            return _run_locked(settings)
    except LockHeld as exc:
        return RunResult(1, lines=[("warning", f"Notice: {exc}")])


def _run_locked(s: AgentSettings) -> RunResult:
    lines: list[Line] = []
    spool = ReportSpool(s.spool_dir)
    paths = pki.SSLPaths(s.ssldir, s.certname)
    client: MasterClient | None = None
    try:
        ensure_certificate(paths, s.ca_server or ca_server_for(s.servers[0]), waitforcert=s.waitforcert,
                           challenge=s.challenge, extensions=s.csr_extensions, ca_fingerprint=s.ca_fingerprint)
        client = MasterClient(s.servers, paths, timeout=s.timeout)
    except MasterUnavailable as exc:
        if not (paths.has_identity() or s.use_cached_catalog or s.catalog_cache.exists()):
            return RunResult(1, lines=[("err", f"Error: {exc}")])
        lines.append(("warning", f"Warning: {exc}"))
    except ClientError as exc:
        return RunResult(1, lines=[("err", f"Error: {exc}")])
    try:
        return _run_with_client(s, client, spool, lines)
    finally:
        if client is not None:
            client.close()


def _run_with_client(s: AgentSettings, client: MasterClient | None, spool: ReportSpool,
                     lines: list[Line]) -> RunResult:
    reachable = client is not None
    if client is not None and spool.pending():
        try:
            spool.deliver(lambda data: client.call("SubmitReport", pb.ReportRequest(report_json=data)),
                          refused=lambda exc: isinstance(exc, ClientError) and not isinstance(exc, MasterUnavailable))
        except MasterUnavailable:
            reachable = False
        except ClientError as exc:
            lines.append(("warning", f"Warning: a spooled report was refused: {exc}"))
    if client is not None and reachable and s.pluginsync and not s.use_cached_catalog:
        try:
            plugin_sync(client, s)
        except MasterUnavailable:
            reachable = False
        except ClientError as exc:
            lines.append(("warning", f"Warning: plugin sync failed: {exc}"))
    try:
        facts = _load_facts(s)
    except (OSError, ValueError) as exc:
        return RunResult(1, lines=lines + [("err", f"Error: could not load facts: {exc}")])

    catalog: Catalog | None = None
    cached_status = "not_used"
    failure: str | None = None
    if s.use_cached_catalog:
        cached_status = "explicitly_requested"
    elif client is not None and reachable:
        try:
            reply = client.call("GetCatalog", pb.CatalogRequest(
                environment=s.environment, facts_json=json.dumps(facts, default=str).encode()))
            catalog = parse_catalog(bytes(reply.catalog_json), s.certname)
            save_cached(s.catalog_cache, bytes(reply.catalog_json))
            if reply.crl_pem:
                pki.write_public(pki.SSLPaths(s.ssldir, s.certname).crl, bytes(reply.crl_pem))
            lines.append(("info", f"Info: Applying configuration version '{catalog.version}'"))
        except (ClientError, CatalogError) as exc:
            failure = f"could not retrieve catalog from the master: {exc}"
    else:
        failure = "could not retrieve catalog: no master answered"
    if catalog is None and cached_status == "not_used" and failure is not None:
        lines.append(("err", f"Error: {failure}"))
        if s.usecacheonfailure and s.catalog_cache.exists():
            cached_status = "on_failure"
        else:
            report = _failed_report(s, failure)
            sent = _send_report(client if reachable else None, spool, report)
            return RunResult(1, report, lines, report_sent=sent)
    if catalog is None:
        try:
            catalog = load_cached(s.catalog_cache, s.certname)
        except CatalogError as exc:
            report = _failed_report(s, f"could not load the cached catalog: {exc}")
            sent = _send_report(client if reachable else None, spool, report)
            return RunResult(1, report, lines + [("err", f"Error: could not load the cached catalog: {exc}")],
                             report_sent=sent)
        lines.append(("notice", f"Notice: Using cached catalog from environment '{catalog.environment}'"
                                f" ({cached_status})"))

    sources = RemoteFileSource(client, catalog.environment, s.file_cache) if client is not None else None
    try:
        report = apply_catalog(catalog, root=s.root, noop=s.noop, tags=s.tags, show_diff=s.show_diff,
                               state_dir=s.state_dir, facts=facts, file_sources=sources,
                               incremental_from=_last_good(s) if s.apply_mode == "incremental" else None)
    except EngineError as exc:
        report = _failed_report(s, str(exc))
        lines.append(("err", f"Error: {exc}"))
    else:
        _remember_good(s, catalog, report)
    report.cached_catalog_status = cached_status
    if cached_status != "not_used":
        report.log("notice", f"Using cached catalog ({cached_status})")
    lines.extend(report_lines(report))
    sent = _send_report(client if reachable else None, spool, report)
    if not sent:
        lines.append(("warning", "Warning: the report could not be sent; it is spooled for the next run"))
    return RunResult(report.exit_code(), report, lines, cached_status, sent)


def _last_good(s: AgentSettings) -> dict[str, Any] | None:
    """The last catalog applied without failures, or None (then an incremental run is a full one)."""
    try:
        data = json.loads(s.last_good_catalog.read_bytes())
    except FileNotFoundError:
        log.info("no last good catalog yet: this incremental run applies everything")
        return None
    except (OSError, ValueError) as exc:
        log.warning("the last good catalog is unreadable (%s): this run applies everything", exc)
        return None
    return data if isinstance(data, dict) else None


def _remember_good(s: AgentSettings, catalog: Catalog, report: Report) -> None:
    if s.noop or s.tags or report.status == "failed":
        return  # a partial or failed run is no baseline for the next incremental one
    try:
        s.last_good_catalog.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(str(s.last_good_catalog), catalog.to_json(indent=None).encode("utf-8"), mode=0o600)
    except OSError as exc:
        log.warning("could not keep the last good catalog: %s", exc)


# -- the timer ---------------------------------------------------------------------------------------
def run_daemon(settings: AgentSettings, stop: threading.Event,
               on_result: Callable[[RunResult], None] | None = None) -> None:
    """Run every ``runinterval`` seconds until ``stop`` is set (after a random splay, if asked)."""
    if settings.splay:
        delay = random.uniform(0, settings.splaylimit if settings.splaylimit is not None else settings.runinterval)
        log.info("splay: first run in %.0f s", delay)
        if stop.wait(delay):
            return
    while not stop.is_set():
        started = time.monotonic()
        try:
            result = run_once(settings)
        except Exception:  # a daemon must survive one bad run; the next one may succeed
            log.exception("the run failed")
            result = RunResult(1)
        if on_result is not None:
            on_result(result)
        stop.wait(max(0.0, settings.runinterval - (time.monotonic() - started)))

