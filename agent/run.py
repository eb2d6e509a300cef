"""One agent run, and the timer that repeats it.

A run: lock -> certificate -> deliver spooled reports -> plugin sync (custom facts) -> facts ->
catalog (or the cached one when no master answers) -> apply -> report (spooled if it cannot be sent).

A full vardir does not stop a run: the lock needs no free space, and the caches it cannot write are only
caches. A report the spool cannot take is held in memory (a daemon sends it when a master answers), and
the next run says it was lost. Between runs the daemon sends what waits in the spool when its delay
(see :mod:`agent.delivery`) has passed.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import upgrade, vardir
from agent.catalogcache import load_cached, parse_catalog, save_cached
from agent.delivery import BASE_DELAY, deliver_spool, note_failure
from agent.filesource import RemoteFileSource
from agent.lock import LockHeld, RunLock
from agent.spool import ReportSpool
from agent.status import AgentStatus
from engine.apply import apply_catalog
from engine.catalog import Catalog, CatalogError
from engine.deferred import FunctionCaller
from engine.errors import EngineError
from engine.fsutil import atomic_write
from engine.report import Report
from engine.summary import report_lines, write_catalog_summary, write_last_run_files
from wire import pki
from wire.client import (
    ClientError,
    MasterBusy,
    MasterClient,
    MasterUnavailable,
    ca_server_for,
    ensure_certificate,
)
from wire.proto import bunraku_pb2 as pb

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
    #: resolves the catalog's Deferred values (engine.deferred); the CLI gives the language's functions
    functions: FunctionCaller | None = None
    #: the accounts this agent runs tasks as (agent.tasks); none by default: it runs no task
    task_accounts: tuple[str, ...] = ()

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
    def status_file(self) -> Path:
        """What the agent did (``bunraku agent status``): see :mod:`agent.status`."""
        return self.vardir / "state" / "agent_status.json"

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
    report_fate: str = "none"  # sent | spooled | held in memory (the disk could not take it) | none
    #: an agent version this run staged (:mod:`agent.upgrade`): the daemon hands over to it after the run
    upgrade: upgrade.Staged | None = None


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
        from facts.files import load_facts_file

        given = load_facts_file(settings.facts_file)  # FactsFileError is a ValueError
        given["bunraku_version"] = upgrade.running_version()  # the agent's own, whatever the file says
        return given
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


def _os_reason(exc: OSError) -> str:
    """"no space left on device": the system's words for an OSError, to go inside a sentence."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


class _Run:
    """What one run carries from step to step: the spool, the status record, the lines to show."""

    def __init__(self, settings: AgentSettings) -> None:
        self.s = settings
        self.spool = ReportSpool(settings.spool_dir)
        self.status = AgentStatus.open(settings.status_file)
        self.lines: list[Line] = []
        self.fate = "none"

    def send_report(self, client: MasterClient | None, report: Report) -> bool:
        """Send the run's report; else spool it; else hold it in memory and say so. True if sent."""
        write_last_run_files(self.s.vardir / "state", report)  # Puppet's files, for the tools that read them
        data = report.to_store_json().encode("utf-8")  # Puppet's report plus what our master's store keeps
        failure: ClientError = MasterUnavailable("no master answered")
        if client is not None:
            try:
                client.call("SubmitReport", pb.ReportRequest(report_json=data))
                self.fate = "sent"
                return True
            except MasterUnavailable as exc:
                log.warning("could not send the report: %s", exc)
                failure = exc
            except ClientError as exc:
                log.warning("the master refused the report: %s", exc)
                failure = exc
        if not self.status.delivery:  # the daemon tries the spool again after the delay this sets
            note_failure(self.status, failure)
        try:
            self.spool.add(data, report.transaction_uuid)
        except OSError as exc:
            self.spool.hold(data, report.transaction_uuid)
            reason = f"{_os_reason(exc)} in {self.s.vardir}"
            self.status.note_report_not_kept(report.transaction_uuid, reason, pid=os.getpid())
            self.lines.append(("err", f"Error: the report of this run could not be spooled: {reason}; it is "
                                      "lost if the agent stops before a master answers"))
            self.fate = "held in memory"
            return False
        self.fate = "spooled"
        return False

    def say_what_became_of_the_last_report(self) -> None:
        """Once, the report an earlier run could not keep, unless this process still holds or has sent it."""
        lost = self.status.take_report_not_kept()
        if lost is None:
            return
        if lost.get("pid") == os.getpid():  # this daemon held it in memory
            if self.spool.holds(str(lost.get("transaction_uuid"))):
                self.status.data["report_not_kept"] = lost  # still held: nothing is lost yet
            return
        self.lines.append(("warning", f"Warning: the previous run could not keep its report: {lost.get('reason')}"))

    def result(self, exit_code: int, report: Report | None, *, cached: str = "not_used",
               sent: bool = False, staged: upgrade.Staged | None = None) -> RunResult:
        return RunResult(exit_code, report, self.lines, cached, sent, self.fate, staged)


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
    lock = RunLock(settings.lock_file)
    try:
        vardir.prepare(settings.vardir)
        lock.acquire()
    except LockHeld as exc:
        return RunResult(1, lines=[("warning", f"Notice: {exc}")])
    except OSError as exc:
        return RunResult(1, lines=[("err", f"Error: cannot use the agent's directory {settings.vardir}: "
                                           f"{_os_reason(exc)}")])
    try:
        result = _run_locked(settings)
    finally:
        lock.release()
    if result.report_fate == "sent" and os.environ.get(upgrade.TRIAL_ENV):
        upgrade.confirm_trial(settings.vardir)  # a version on trial: the master accepted its report
    return result


def _run_locked(s: AgentSettings) -> RunResult:
    run = _Run(s)
    run.spool.remove_stale_temps()
    run.spool.store_held()
    run.say_what_became_of_the_last_report()
    result: RunResult | None = None
    try:
        result = _run_with_identity(run)
        return result
    finally:
        run.status.set_held_in_memory(len(run.spool.held()))
        if not run.spool.depth():
            run.status.set_delivery(None)  # nothing waits: no attempt is due
        if result is not None:
            status = result.report.status if result.report is not None else "not run"
            errors = [text for level, text in result.lines if level == "err"]
            run.status.record_run(status, result.exit_code, result.report_fate,
                                  message=errors[0] if errors else None)
        run.status.save()


def _run_with_identity(run: _Run) -> RunResult:
    s = run.s
    paths = pki.SSLPaths(s.ssldir, s.certname)
    client: MasterClient | None = None
    try:
        ensure_certificate(paths, s.ca_server or ca_server_for(s.servers[0]), waitforcert=s.waitforcert,
                           challenge=s.challenge, extensions=s.csr_extensions, ca_fingerprint=s.ca_fingerprint)
        client = MasterClient(s.servers, paths, timeout=s.timeout)
    except MasterUnavailable as exc:
        if not (paths.has_identity() or s.use_cached_catalog or s.catalog_cache.exists()):
            run.lines.append(("err", f"Error: {exc}"))
            return run.result(1, None)
        run.lines.append(("warning", f"Warning: {exc}"))
    except ClientError as exc:
        run.lines.append(("err", f"Error: {exc}"))
        return run.result(1, None)
    try:
        return _run_with_client(run, client)
    finally:
        if client is not None:
            client.close()


def _deliver_spooled_reports(run: _Run, client: MasterClient) -> tuple[bool, bool]:
    """Send what waits in the spool: (whether a master answered, whether it asked us to slow down)."""
    waiting = run.spool.depth()
    outcome = deliver_spool(client, run.spool, run.status)
    if outcome.skipped_until is not None:
        when = time.strftime("%H:%M:%S", time.localtime(outcome.skipped_until))
        run.lines.append(("notice", f"Notice: {waiting} spooled report(s) wait: the master asked this node to "
                                    f"slow down; next attempt after {when}"))
        return True, True
    if isinstance(outcome.error, MasterUnavailable):
        return False, False
    if outcome.error is not None:
        run.lines.append(("warning", f"Warning: {run.spool.depth()} spooled report(s) could not be delivered "
                                     f"yet and stay in the spool: {outcome.error}"))
        return True, isinstance(outcome.error, MasterBusy)
    return True, False


def _run_with_client(run: _Run, client: MasterClient | None) -> RunResult:
    s, spool, lines = run.s, run.spool, run.lines
    reachable = client is not None
    busy = False
    if client is not None and spool.depth():
        reachable, busy = _deliver_spooled_reports(run, client)
    # plugin sync is optional (the last synced facts stay): a master that asked us to slow down is spared it
    if client is not None and reachable and not busy and s.pluginsync and not s.use_cached_catalog:
        try:
            plugin_sync(client, s)
        except MasterUnavailable:
            reachable = False
        except ClientError as exc:
            lines.append(("warning", f"Warning: plugin sync failed: {exc}"))
        except OSError as exc:
            lines.append(("warning", f"Warning: plugin sync failed: cannot write to {s.plugin_facts_dir}: "
                                     f"{_os_reason(exc)}"))
    try:
        facts = _load_facts(s)
    except (OSError, ValueError) as exc:
        lines.append(("err", f"Error: could not load facts: {exc}"))
        return run.result(1, None)

    catalog: Catalog | None = None
    offer: upgrade.Offer | None = None
    cached_status = "not_used"
    failure: str | None = None
    retrieval_started = time.monotonic()
    if s.use_cached_catalog:
        cached_status = "explicitly_requested"
    elif client is not None and reachable:
        try:
            reply = client.call("GetCatalog", pb.CatalogRequest(
                environment=s.environment, facts_json=json.dumps(facts, default=str).encode()))
            catalog = parse_catalog(bytes(reply.catalog_json), s.certname)
            _cache_catalog(run, bytes(reply.catalog_json))
            if reply.HasField("agent_version"):
                v = reply.agent_version
                offer = upgrade.Offer(v.version, v.sha256, v.size, v.filename,
                                      v.deadline_seconds or upgrade.DEFAULT_DEADLINE)
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
            sent = run.send_report(client if reachable else None, report)
            return run.result(1, report, sent=sent)
    if catalog is None:
        try:
            catalog = load_cached(s.catalog_cache, s.certname)
        except CatalogError as exc:
            report = _failed_report(s, f"could not load the cached catalog: {exc}")
            lines.append(("err", f"Error: could not load the cached catalog: {exc}"))
            sent = run.send_report(client if reachable else None, report)
            return run.result(1, report, sent=sent)
        lines.append(("notice", f"Notice: Using cached catalog from environment '{catalog.environment}'"
                                f" ({cached_status})"))

    retrieval = time.monotonic() - retrieval_started
    write_catalog_summary(s.vardir / "state", catalog)
    sources = RemoteFileSource(client, catalog.environment, s.file_cache) if client is not None else None
    try:
        report = apply_catalog(catalog, root=s.root, noop=s.noop, tags=s.tags, show_diff=s.show_diff,
                               state_dir=s.state_dir, facts=facts, file_sources=sources,
                               incremental_from=_last_good(s) if s.apply_mode == "incremental" else None,
                               functions=s.functions)
    except EngineError as exc:
        report = _failed_report(s, str(exc))
        lines.append(("err", f"Error: {exc}"))
    else:
        _remember_good(s, catalog, report)
    report.cached_catalog_status = cached_status
    report.add_times("config_retrieval", retrieval)
    if cached_status != "not_used":
        report.log("notice", f"Using cached catalog ({cached_status})")
    staged = upgrade.consider(s.vardir, offer, sources, report, noop=s.noop)
    lines.extend(report_lines(report))
    sent = run.send_report(client if reachable else None, report)
    if run.fate == "spooled":
        lines.append(("warning", "Warning: the report could not be sent; it is spooled for the next run"))
    return run.result(report.exit_code(), report, cached=cached_status, sent=sent, staged=staged)


def _cache_catalog(run: _Run, data: bytes) -> None:
    """Keep the catalog for runs without a master; a cache that cannot be written only costs that."""
    try:
        save_cached(run.s.catalog_cache, data)
    except OSError as exc:
        run.lines.append(("warning", f"Warning: could not cache the catalog in {run.s.catalog_cache.parent}: "
                                     f"{_os_reason(exc)}"))


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
        log.warning("could not keep the last good catalog in %s: %s", s.last_good_catalog.parent, _os_reason(exc))


# -- the timer ---------------------------------------------------------------------------------------
def wait_for_stop(stop: threading.Event, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``stop``, in short slices: a signal handler (SIGTERM sets ``stop``)
    runs only when the main thread gets control back, which one long wait may not give it."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        stop.wait(min(left, 0.5))
    return True


def run_daemon(settings: AgentSettings, stop: threading.Event,
               on_result: Callable[[RunResult], None] | None = None) -> upgrade.Staged | None:
    """Run every ``runinterval`` seconds until ``stop`` is set (after a random splay, if asked), or until
    a run staged another agent version (returned: the caller hands over to it)."""
    if settings.splay:
        delay = random.uniform(0, settings.splaylimit if settings.splaylimit is not None else settings.runinterval)
        log.info("splay: first run in %.0f s", delay)
        if wait_for_stop(stop, delay):
            return None

    def sleep(timeout: float) -> str | None:
        wait_for_stop(stop, timeout)
        return None  # only the timer starts runs here

    while not stop.is_set():
        started = time.monotonic()
        try:
            result = run_once(settings)
        except Exception:  # a daemon must survive one bad run; the next one may succeed
            log.exception("the run failed")
            result = RunResult(1)
        if on_result is not None:
            on_result(result)
        if result.upgrade is not None:
            return result.upgrade
        wait_for_next_run(settings, settings.runinterval - (time.monotonic() - started), stop, sleep)
    return None


def wait_for_next_run(settings: AgentSettings, seconds: float, stop: threading.Event,
                      wait: Callable[[float], str | None]) -> str | None:
    """Wait up to ``seconds`` with ``wait(timeout)``, which returns a run mode when a run is wanted
    sooner; meanwhile send the spooled reports each time their delay has passed."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        retry = spool_retry_in(settings)
        # at least a second between attempts, even if one could not start (a run held the lock)
        mode = wait(left if retry is None else min(left, max(retry, 1.0)))
        if mode is not None or stop.is_set():
            return mode
        if retry is not None and time.monotonic() < deadline:
            try:
                deliver_spooled(settings)
            except Exception:  # a daemon must survive this; the reports stay for the next attempt
                log.exception("delivering spooled reports failed")
    return None


def spool_retry_in(settings: AgentSettings) -> float | None:
    """Seconds until the spool should be tried again, or None when nothing waits in it."""
    if not ReportSpool(settings.spool_dir).depth():
        return None
    retry_after = AgentStatus.open(settings.status_file).delivery.get("retry_after")
    if not isinstance(retry_after, (int, float)):
        return BASE_DELAY
    return max(0.0, retry_after - time.time())


def deliver_spooled(settings: AgentSettings) -> int:
    """Between runs: send what waits in the spool (unless a run holds the lock); returns how many."""
    lock = RunLock(settings.lock_file)
    try:
        lock.acquire()
    except (LockHeld, OSError) as exc:
        log.info("not delivering spooled reports now: %s", exc)
        return 0
    try:
        run = _Run(settings)
        run.spool.store_held()
        paths = pki.SSLPaths(settings.ssldir, settings.certname)
        if not run.spool.depth() or not paths.has_identity():
            return 0
        with MasterClient(settings.servers, paths, timeout=settings.timeout) as client:
            outcome = deliver_spool(client, run.spool, run.status, respect_rate_limit=False)
        lost = run.status.data.get("report_not_kept")
        if (isinstance(lost, dict) and lost.get("pid") == os.getpid()
                and not run.spool.holds(str(lost.get("transaction_uuid")))):
            run.status.take_report_not_kept()  # this process held it, and has stored or sent it since
        run.status.save()
        return outcome.sent
    finally:
        lock.release()
