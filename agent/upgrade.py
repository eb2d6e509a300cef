"""The agent upgrades itself: a new version installed beside the old one, tried, kept or given up by itself.

A rollout of an agent version (``bunraku agent-upgrade start VERSION``) assigns nodes a version; the master
then names it, with its artifact's digest, in every catalog reply (``CatalogReply.agent_version``). A run
that is offered a version other than its own downloads the artifact ``bunraku-agent VERSION`` (a wheel or
a zipapp: a zip of the ``cli``, ``engine``... packages), checks its digest, unpacks it into
``versions/VERSION`` and says so in its report (``agent_upgrade: staged``). After that run — its report
sent or spooled, nothing of it lost — the daemon hands over:

1. it writes ``trial.json`` (from which version to which, and the deadline) and replaces itself (same
   process id: systemd sees no restart) with the **supervisor**, a small program of the standard library
   only, or, when it already runs under one, exits with :data:`EXIT_UPGRADE` to it;
2. the supervisor starts the new version as its child; that version runs at once, as any agent does when
   it starts, and when the master has accepted that run's report it writes ``trial.confirmed``;
3. confirmed within the deadline: the supervisor points ``current`` at the new version (one rename) and
   the child goes on as the agent. Otherwise — it could not start (``trial.error`` holds why), it exited,
   or it did not report in time — the supervisor stops it, records why in ``outcome.json``, and starts the
   old version again, which says in its next report that the upgrade failed and never tries that version
   again (a fixed build is a new version).

Layout, under ``VARDIR/agent/``::

    versions/<version>/   a version's packages (complete or absent: unpacked in .incoming/ and renamed)
    current               -> versions/<version>, the version the agent runs (absent: the installed one)
    base.json             the installed version and where its packages are (written at the first upgrade)
    trial.json            an upgrade waiting for, or in, its trial
    trial.confirmed       the new version's word that its report was accepted (its version)
    trial.error           why the new version could not start
    outcome.json          how the last upgrade ended: {from, to, state: done|failed, reason, at, reported}

``bunraku agent`` started by hand or by systemd enters the supervisor whenever ``current`` or a pending
``trial.json`` exists, so the version in ``current`` is the one that runs after a reboot too. A supervisor
killed during a trial leaves ``trial.json`` marked started: the next start counts that trial as failed.
Only the daemon hands over at once; ``--onetime`` leaves the switch to the next start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

log = logging.getLogger(__name__)

#: the artifact application name agent versions are pushed as
AGENT_APP = "bunraku-agent"
#: the rollout environment of agent versions (``node_releases``: node -> version)
ROLLOUT_ENVIRONMENT = "agent:bunraku"
#: an agent under a supervisor exits with this to have a staged version tried
EXIT_UPGRADE = 75
#: set in the supervisor's children (to its process id)
SUPERVISED_ENV = "BUNRAKU_AGENT_SUPERVISED"
#: set in a version on trial (to that version)
TRIAL_ENV = "BUNRAKU_AGENT_TRIAL"
DEFAULT_DEADLINE = 600.0
#: versions kept in versions/ (the current one and the one before it always are)
KEEP = 3
_PACKAGES = ("cli", "engine", "agent")
#: a version is a directory name under versions/: what the master accepts as an artifact's version (it
#: starts with a letter or a digit: never "..", ".incoming" or a path)
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}\Z")
#: the most a build may unpack to, and its most entries (a zip declares both; a bomb is refused unread)
MAX_UNPACKED_BYTES = 1 << 30
MAX_ENTRIES = 50_000


class UpgradeError(Exception):
    """A version cannot be staged (one line: what and what to do)."""


@dataclass(frozen=True, slots=True)
class Offer:
    """The version the master wants this node to run, and its artifact (sha256 empty: none held)."""

    version: str
    sha256: str = ""
    size: int = -1
    filename: str = ""
    deadline: float = DEFAULT_DEADLINE


@dataclass(frozen=True, slots=True)
class Staged:
    """A version ready to be tried: where its packages are (``base``: the installed version's)."""

    version: str
    where: str
    deadline: float
    base: bool = False


def running_version() -> str:
    from engine import __version__

    return __version__


def running_dir() -> str:
    """The directory this version's packages are imported from."""
    import engine

    return os.path.dirname(os.path.dirname(os.path.abspath(engine.__file__)))


def home(vardir: Path) -> Path:
    return vardir / "agent"


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write(path: Path, data: Any) -> None:
    from engine.fsutil import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(str(path), json.dumps(data, indent=1).encode("utf-8"), mode=0o600)


def _base(vardir: Path) -> dict[str, str]:
    """The installed version (recorded the first time this agent stages another one)."""
    found = _read(home(vardir) / "base.json")
    if isinstance(found, dict) and found.get("version") and found.get("dir"):
        return {"version": str(found["version"]), "dir": str(found["dir"])}
    versions = str(home(vardir) / "versions")
    where = running_dir()
    if where.startswith(versions + os.sep):  # base.json lost: nothing better than this version
        return {"version": running_version(), "dir": where}
    base = {"version": running_version(), "dir": where}
    _write(home(vardir) / "base.json", base)
    return base


def outcome(vardir: Path) -> dict[str, Any] | None:
    found = _read(home(vardir) / "outcome.json")
    return found if isinstance(found, dict) else None


def failed_before(vardir: Path, version: str) -> str | None:
    """Why ``version`` failed its trial here, or None if it did not (or was never tried)."""
    last = outcome(vardir)
    if last is not None and last.get("state") == "failed" and (last.get("to") or {}).get("version") == version:
        return str(last.get("reason") or "it failed its trial")
    return None


def status(vardir: Path) -> dict[str, Any]:
    """What ``bunraku agent status`` says of the agent's versions: the one that runs (``current``, else
    the installed one), the installed one, one waiting for its trial, and how the last upgrade ended."""
    h = home(vardir)
    base = _read(h / "base.json")
    installed = str(base["version"]) if isinstance(base, dict) and base.get("version") else running_version()
    current = os.path.basename(os.readlink(h / "current")) if (h / "current").is_symlink() else None
    trial = _read(h / "trial.json")
    pending = str((trial.get("to") or {}).get("version")) if isinstance(trial, dict) else None
    return {"version": current or installed, "installed": installed, "pending": pending, "last": outcome(vardir)}


def status_lines(info: dict[str, Any]) -> list[str]:
    line = f"version:   {info['version']}"
    if info["version"] != info["installed"]:
        line += f" (upgraded; the installed version is {info['installed']})"
    if info["pending"]:
        line += f"; {info['pending']} waits for its trial at the agent's next start"
    lines = [line]
    last = info.get("last")
    if isinstance(last, dict):
        frm, to = (last.get("from") or {}).get("version"), (last.get("to") or {}).get("version")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last["at"])) if last.get("at") else "?"
        said = "done" if last.get("state") == "done" else f"failed: {last.get('reason')}"
        lines.append(f"upgrade:   {frm} -> {to} at {when}: {said}")
    return lines


# -- staging -------------------------------------------------------------------------------------------
def check_version(version: str) -> str:
    """``version`` if it can name a directory of versions/, else UpgradeError."""
    if not _VERSION.match(version or ""):
        raise UpgradeError(f"the master offers version {version!r}, which is not a version name (letters, digits "
                           "and . _ + -, starting with a letter or digit); ignoring it")
    return version


def _safe_unpack(archive: str, into: str) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise UpgradeError(f"the build holds {len(infos)} entries, more than {MAX_ENTRIES}; it is not a build "
                               "of the agent")
        # zipfile writes no more than an entry declares: the declared sizes bound what lands on disk
        total = sum(info.file_size for info in infos)
        if total > MAX_UNPACKED_BYTES:
            raise UpgradeError(f"the build unpacks to {total} bytes, more than {MAX_UNPACKED_BYTES}; it is not a "
                               "build of the agent")
        for info in infos:
            parts = [p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".")]
            if info.filename.startswith("/") or ".." in parts:
                raise UpgradeError(f"the build holds {info.filename!r}, which leaves its directory")
            zf.extract(info, into)


def stage(vardir: Path, offer: Offer, sources: Any) -> Staged:
    """Make ``offer``'s version ready on disk: the installed version, one in ``versions/``, or the
    artifact downloaded (carrying on from a partial download), checked and unpacked."""
    from engine.errors import ProviderError
    from engine.sources import ArtifactRef, fetch_artifact

    check_version(offer.version)
    base = _base(vardir)
    if offer.version == base["version"]:
        return Staged(offer.version, base["dir"], offer.deadline, base=True)
    versions = home(vardir) / "versions"
    target = versions / offer.version
    if (target / "cli" / "__init__.py").is_file():
        return Staged(offer.version, str(target), offer.deadline)
    if not offer.sha256:
        raise UpgradeError(f"the master holds no artifact {AGENT_APP} {offer.version}; push the build with "
                           f"`bunraku artifact push {AGENT_APP} {offer.version} FILE`")
    incoming = versions / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    part = incoming / f"{offer.version}.part"
    ref = ArtifactRef(AGENT_APP, offer.version, offer.sha256, offer.size, offer.filename)
    try:
        fetch_artifact(sources, ref, str(part))
    except ProviderError as exc:
        raise UpgradeError(str(exc)) from None
    h = hashlib.sha256()
    with open(part, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    if h.hexdigest() != offer.sha256:
        part.unlink()
        raise UpgradeError(f"{AGENT_APP} {offer.version} arrived damaged (sha256 {h.hexdigest()[:12]}, the master "
                           f"says {offer.sha256[:12]}); it is downloaded again at the next run")
    staging = incoming / f"{offer.version}.unpack"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _safe_unpack(str(part), str(staging))
        missing = [p for p in _PACKAGES if not (staging / p / "__init__.py").is_file()]
        if missing:
            raise UpgradeError(f"{offer.filename or 'the artifact'} is not a build of the agent: it has no "
                               f"{', '.join(missing)} package (push a wheel or a zipapp of Bunraku)")
        os.rename(staging, target)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UpgradeError(f"cannot unpack {offer.filename or 'the artifact'}: {exc} (a wheel or a zipapp is "
                           "expected)") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    part.unlink()
    log.info("agent %s unpacked into %s", offer.version, target)
    return Staged(offer.version, str(target), offer.deadline)


def prune(vardir: Path, keep: int = KEEP) -> None:
    """Remove old versions beyond ``keep`` (never the current one, nor one on trial)."""
    versions = home(vardir) / "versions"
    if not versions.is_dir():
        return
    protected = {os.path.basename(os.readlink(home(vardir) / "current"))} if (home(vardir) / "current").is_symlink() \
        else set()
    trial = _read(home(vardir) / "trial.json")
    if isinstance(trial, dict):
        protected |= {str((trial.get(k) or {}).get("version")) for k in ("from", "to")}
    protected.add(os.path.basename(running_dir()))
    present = [p for p in versions.iterdir() if p.is_dir() and not p.name.startswith(".")]
    kept = sum(1 for p in present if p.name in protected)
    others = sorted(((p.stat().st_mtime, p) for p in present if p.name not in protected), reverse=True)
    for _mtime, path in others[max(0, keep - kept):]:
        shutil.rmtree(path, ignore_errors=True)
        log.info("agent version %s removed (keeping %d)", path.name, keep)


# -- what a run does with an offer ---------------------------------------------------------------------
def consider(vardir: Path, offer: Offer | None, sources: Any, report: Any, *, noop: bool) -> Staged | None:
    """Called by a run after it applied its catalog: say in ``report`` what becomes of ``offer`` (and of the
    last upgrade's outcome, once); return the version to switch to after the run, if any."""
    running = running_version()
    last = outcome(vardir)
    if last is not None and not last.get("reported"):
        frm, to = (last.get("from") or {}).get("version"), (last.get("to") or {}).get("version")
        if last.get("state") == "failed":
            report.log("err", f"The upgrade of the agent from {frm} to {to} failed: {last.get('reason')}; "
                              f"back on {running}")
        else:
            report.log("notice", f"The agent was upgraded from {frm} to {to}")
        report.agent_upgrade = {"from": frm, "to": to, "state": last.get("state"), "reason": last.get("reason")}
        last["reported"] = True
        try:
            _write(home(vardir) / "outcome.json", last)
        except OSError as exc:
            log.warning("could not note the upgrade's outcome as reported: %s", exc)
    if offer is None or offer.version == running:
        return None
    why = failed_before(vardir, offer.version)
    if why is not None:
        report.log("err", f"Agent {offer.version} failed its trial on this node ({why}); staying on {running} "
                          "(a fixed build is a new version)")
        report.agent_upgrade = {"from": running, "to": offer.version, "state": "failed", "reason": why}
        return None
    if noop:
        report.log("notice", f"Would upgrade the agent from {running} to {offer.version} (noop)")
        return None
    try:
        staged = stage(vardir, offer, sources)
    except (UpgradeError, OSError) as exc:
        message = str(exc) if isinstance(exc, UpgradeError) else f"cannot write to {home(vardir)}: {exc}"
        report.log("err", f"Could not stage agent {offer.version}: {message}")
        report.agent_upgrade = {"from": running, "to": offer.version, "state": "stage_failed", "reason": message}
        return None
    report.log("notice", f"Agent {offer.version} staged; this agent ({running}) hands over to it after this run")
    report.agent_upgrade = {"from": running, "to": offer.version, "state": "staged", "reason": None}
    return staged


def confirm_trial(vardir: Path) -> None:
    """A version on trial had its report accepted: tell the supervisor (once)."""
    version = os.environ.pop(TRIAL_ENV, None)
    if not version or version != running_version():
        return
    from engine.fsutil import atomic_write

    try:
        atomic_write(str(home(vardir) / "trial.confirmed"), version.encode("utf-8"), mode=0o600)
        log.info("agent %s reported: its trial is over", version)
    except OSError as exc:  # the deadline will pass and the old version comes back: say why
        log.error("could not confirm agent %s's trial in %s: %s", version, home(vardir), exc)


# -- handing over ----------------------------------------------------------------------------------------
def prepare(vardir: Path, staged: Staged) -> None:
    """Write ``trial.json``: the supervisor tries ``staged`` at its next start."""
    base = _base(vardir)
    current_dir = running_dir()
    frm = {"version": running_version(), "dir": current_dir, "base": current_dir == base["dir"]}
    to = {"version": staged.version, "dir": staged.where, "base": staged.base}
    for name in ("trial.confirmed", "trial.error"):
        try:
            (home(vardir) / name).unlink()
        except FileNotFoundError:
            pass
    _write(home(vardir) / "trial.json", {"from": frm, "to": to, "deadline": staged.deadline,
                                         "prepared_at": time.time()})
    prune(vardir)


def supervised() -> bool:
    return bool(os.environ.get(SUPERVISED_ENV))


def hand_over(vardir: Path, staged: Staged, argv: list[str]) -> NoReturn:
    """After the run that staged a version: have it tried (the supervisor takes over this process)."""
    prepare(vardir, staged)
    log.info("handing over to agent %s", staged.version)
    if supervised():
        sys.exit(EXIT_UPGRADE)
    _exec_supervisor(vardir, argv)


def enter(vardir: Path, argv: list[str]) -> None:
    """At the agent's start: run under the supervisor when another version is current or waits for its
    trial (returns only when this process should go on as the agent)."""
    if supervised():
        return
    h = home(vardir)
    if (h / "current").is_symlink() or (h / "trial.json").is_file():
        _exec_supervisor(vardir, argv)


def _exec_supervisor(vardir: Path, argv: list[str]) -> NoReturn:
    config = {"home": str(home(vardir)), "argv": argv, "python": sys.executable, "launch": LAUNCHER,
              "base": _base(vardir)}
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os.execv(sys.executable, [sys.executable, "-c", SUPERVISOR, json.dumps(config)])


#: How the supervisor starts a version: its directory first on the path, then the command line.
LAUNCHER = r'''
import os, sys
home, where = sys.argv[1], sys.argv[2]
if where:
    sys.path.insert(0, where)
sys.argv = ["bunraku", *sys.argv[3:]]
try:
    from cli import main
except BaseException as exc:
    if os.environ.get("BUNRAKU_AGENT_TRIAL"):
        with open(os.path.join(home, "trial.error"), "w") as fh:
            fh.write(f"{type(exc).__name__}: {exc}")
    raise
main()
'''

#: The supervisor: the standard library only, so that nothing a version ships can break it.
SUPERVISOR = r'''
import json, os, signal, subprocess, sys, time

CONFIG = json.loads(sys.argv[1])
HOME, ARGV, PYTHON, LAUNCH, BASE = CONFIG["home"], CONFIG["argv"], CONFIG["python"], CONFIG["launch"], CONFIG["base"]
EXIT_UPGRADE = 75
child = None
stopping = False


def path(name):
    return os.path.join(HOME, name)


def read(name):
    try:
        with open(path(name), encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return None


def read_json(name):
    try:
        return json.loads(read(name) or "")
    except ValueError:
        return None


def write_json(name, data):
    temp = path(name) + ".new"
    with open(temp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temp, path(name))


def remove(name):
    try:
        os.unlink(path(name))
    except FileNotFoundError:
        pass


def say(level, text):
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % int(now % 1 * 1000)
    sys.stderr.write(f"{stamp} {level}: {text}\n")
    sys.stderr.flush()


def current_dir():
    if os.path.islink(path("current")):
        where = os.path.join(HOME, os.readlink(path("current")))
        if os.path.isdir(where):
            return where
        say("Warning", f"the current agent version {where} is gone; starting the installed one")
    return BASE["dir"]


def switch(to):
    if to.get("base"):
        remove("current")
        return
    remove("current.new")
    os.symlink(os.path.relpath(to["dir"], HOME), path("current.new"))
    os.replace(path("current.new"), path("current"))


def start(where, extra):
    env = dict(os.environ)
    env["BUNRAKU_AGENT_SUPERVISED"] = str(os.getpid())
    env.pop("BUNRAKU_AGENT_TRIAL", None)
    env.update(extra)
    return subprocess.Popen([PYTHON, "-c", LAUNCH, HOME, where, *ARGV], env=env)


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def forward(signum, frame):
    global stopping
    stopping = True
    if child is not None and child.poll() is None:
        child.send_signal(signum)


def trial(plan):
    """Try plan["to"]; True when it reported in time (it goes on as the agent)."""
    global child
    to, frm = plan["to"], plan["from"]
    deadline_s = float(plan.get("deadline") or 600)
    if plan.get("started_at"):
        reason = "the agent stopped during its trial"
        child = None
    else:
        plan["started_at"] = time.time()
        write_json("trial.json", plan)
        remove("trial.confirmed")
        remove("trial.error")
        say("Notice", f"trying agent {to['version']} (after {frm['version']}): it must report within {deadline_s:g}s")
        child = start(to["dir"], {"BUNRAKU_AGENT_TRIAL": to["version"]})
        deadline = time.monotonic() + deadline_s
        reason = None
        while True:
            if (read("trial.confirmed") or "").strip() == to["version"]:
                break
            code = child.poll()
            if code is not None:
                error = (read("trial.error") or "").strip()
                reason = f"it exited with status {code} before it reported" + (f": {error}" if error else "")
                break
            if stopping:
                reason = "the agent was stopped during its trial"
                break
            if time.monotonic() > deadline:
                reason = f"it did not report within {deadline_s:g}s"
                break
            time.sleep(0.2)
    record = {"from": {"version": frm["version"]}, "to": {"version": to["version"]}, "at": time.time()}
    if reason is None:
        switch(to)
        write_json("outcome.json", dict(record, state="done", reason=None, reported=False))
        remove("trial.json")
        say("Notice", f"agent {to['version']} reported: it is the current version")
        return True
    if child is not None:
        stop(child)
    write_json("outcome.json", dict(record, state="failed", reason=reason, reported=False))
    remove("trial.json")
    say("Error", f"agent {to['version']} failed its trial: {reason}; back on {frm['version']}")
    child = None
    return False


for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, forward)
while True:
    plan = read_json("trial.json")
    if isinstance(plan, dict) and not stopping:
        kept = trial(plan)
        if not kept:
            if stopping:
                sys.exit(0)
            child = start(current_dir(), {})
    elif not stopping:
        child = start(current_dir(), {})
    else:
        sys.exit(0)
    code = child.wait()
    if code == EXIT_UPGRADE and not stopping and os.path.isfile(path("trial.json")):
        continue
    sys.exit(code if code >= 0 else 128 - code)
'''
