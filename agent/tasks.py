"""Tasks on the agent: run what the master sends down the live channel as the account it names.

The agent trusts the master's word only so far: it runs a task only as an account its own
``--task-accounts`` lists (``root`` too must be listed), whatever the master allows, and reports a
refusal otherwise. A task runs on this host (never under ``--root``: it is about the machine), in a
process group of its own, as the account (its uid, gid and groups from this host's account database;
its home directory as the working directory), with a clean environment (plus a module task's ``PT_<name>`` parameters and their JSON on
standard input). After its timeout, or when the master cancels it, the whole process group is killed.
Standard output and error are kept up to ``OUTPUT_LIMIT`` bytes each. The result goes back with the
unary ``TaskResult`` call, retried until a master takes it; the master stores it once.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from engine.spawn import RunAs
from wire import pki
from wire.client import ClientError, MasterClient
from wire.proto import bunraku_pb2 as pb

log = logging.getLogger(__name__)

#: the most bytes of each of standard output and error kept and sent back
OUTPUT_LIMIT = 64 * 1024
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: how long the agent keeps trying to deliver a result (seconds)
REPORT_PATIENCE = 600.0


@dataclass(slots=True)
class TaskOutcome:
    state: str  # succeeded | failed | refused | cancelled
    exit_code: int = 0
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration: float = 0.0
    reason: str = ""


class _Capture:
    """Read a pipe to its end, keeping the first ``limit`` bytes."""

    def __init__(self, pipe: IO[bytes], limit: int = OUTPUT_LIMIT) -> None:
        self.data = bytearray()
        self.truncated = False
        self._pipe = pipe
        self._limit = limit
        self.thread = threading.Thread(target=self._read, daemon=True, name="task-output")
        self.thread.start()

    def _read(self) -> None:
        try:
            while chunk := self._pipe.read(65536):
                room = self._limit - len(self.data)
                if room > 0:
                    self.data += chunk[:room]
                if len(chunk) > room:
                    self.truncated = True
        except (OSError, ValueError):
            pass
        finally:
            self._pipe.close()


def _refusal(account: str, allowed: tuple[str, ...]) -> str | None:
    if account not in allowed:
        listed = ", ".join(allowed) or "none"
        return (f"this agent does not run tasks as {account} (its --task-accounts: {listed}); "
                "start the agent with --task-accounts listing it")
    return None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_task(command: Any, allowed: tuple[str, ...], cancelled: threading.Event) -> TaskOutcome:
    """Run one TaskCommand to its end (or its timeout, or ``cancelled``)."""
    account = command.account or "root"
    why = _refusal(account, allowed)
    if why is not None:
        return TaskOutcome("refused", reason=why)
    try:
        entry = pwd.getpwnam(account)
    except KeyError:
        return TaskOutcome("refused", reason=f"there is no account {account} on this host")
    run_as: RunAs | None = None
    if os.geteuid() == 0:
        if entry.pw_uid != 0:
            run_as = RunAs(entry.pw_uid, entry.pw_gid, tuple(os.getgrouplist(account, entry.pw_gid)))
    elif entry.pw_uid != os.geteuid():
        me = pwd.getpwuid(os.geteuid()).pw_name
        return TaskOutcome("refused", reason=f"the agent runs as {me} and cannot run tasks as {account}")
    home = entry.pw_dir if os.path.isdir(entry.pw_dir) else "/"
    env = {"PATH": SAFE_PATH, "HOME": entry.pw_dir, "USER": account, "LOGNAME": account,
           "SHELL": entry.pw_shell or "/bin/sh", "LANG": "C.UTF-8"}
    env.update(dict(command.environment))
    workdir: str | None = None
    try:
        if command.executable:
            workdir = tempfile.mkdtemp(prefix="bunraku-task-")
            program = os.path.join(workdir, (command.name or "task").replace("::", "-"))
            with open(program, "wb") as fh:
                fh.write(command.executable)
            os.chmod(program, 0o700)
            if run_as is not None:
                os.chown(workdir, entry.pw_uid, entry.pw_gid)
                os.chown(program, entry.pw_uid, entry.pw_gid)
            argv = [program] if command.executable.startswith(b"#!") else ["/bin/sh", program]
        else:
            words = list(command.argv)
            if not words:
                return TaskOutcome("failed", exit_code=-1, reason="the task has no command")
            argv = ["/bin/sh", "-c", words[0]] if len(words) == 1 else words
        return _run(argv, env, home, run_as, bytes(command.stdin), command.timeout or 60.0, cancelled)
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


#: Switches to the account, then becomes the task's program. The agent holds gRPC's threads, and a
#: fork() that changes ids in the child runs gRPC's fork handlers, which can abort that child; without
#: an id change the child is made with vfork(), which runs none. So the switch happens after an exec.
_SWITCH_ACCOUNT = r"""import os, sys
uid, gid, groups = int(sys.argv[1]), int(sys.argv[2]), [int(g) for g in sys.argv[3].split(",") if g]
try:
    os.setgroups(groups)
    os.setgid(gid)
    os.setuid(uid)
    os.execvp(sys.argv[4], sys.argv[4:])
except OSError as exc:
    sys.stderr.write(f"cannot run {sys.argv[4]} as uid {uid}: {exc.strerror}\n")
    sys.exit(127)
"""


def _as_account(argv: list[str], run_as: RunAs | None) -> list[str]:
    if run_as is None:
        return argv
    groups = ",".join(str(g) for g in run_as.groups or ())
    return [sys.executable, "-I", "-c", _SWITCH_ACCOUNT, str(run_as.uid), str(run_as.gid), groups, *argv]


def _run(argv: list[str], env: dict[str, str], cwd: str, run_as: RunAs | None, stdin: bytes,
         timeout: float, cancelled: threading.Event) -> TaskOutcome:
    started = time.monotonic()
    try:
        proc = subprocess.Popen(_as_account(argv, run_as), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return TaskOutcome("failed", exit_code=127, reason=f"cannot start {argv[0]}: {exc}")
    out, err = _Capture(proc.stdout), _Capture(proc.stderr)  # type: ignore[arg-type]
    assert proc.stdin is not None
    try:
        proc.stdin.write(stdin)
    except OSError:
        pass  # the program does not read its input
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass
    deadline = started + timeout
    reason = ""
    state: str | None = None
    while True:
        try:
            proc.wait(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            pass
        if cancelled.is_set():
            _kill_group(proc)
            state, reason = "cancelled", "cancelled by an operator; its process group was killed"
        elif time.monotonic() > deadline:
            _kill_group(proc)
            state, reason = "failed", f"timed out after {timeout:g}s; its process group was killed"
    _kill_group(proc)  # what it left running in its group goes with it
    for capture in (out, err):
        capture.thread.join(5)
    code = proc.returncode
    if code < 0:
        reason = reason or f"killed by signal {-code}"
        code = 128 - code
    return TaskOutcome(state or ("succeeded" if code == 0 else "failed"), code, bytes(out.data), bytes(err.data),
                       out.truncated, err.truncated, time.monotonic() - started, reason)


class TaskRunner:
    """The agent's running tasks: each in a thread of its own; results reported with ``report``."""

    def __init__(self, settings: Any, report: Callable[[int, TaskOutcome], None] | None = None) -> None:
        self.settings = settings
        self.report = report or self._report
        self._lock = threading.Lock()
        self._running: dict[int, threading.Event] = {}
        self._seen: set[int] = set()
        self.stop = threading.Event()

    def start(self, command: Any) -> bool:
        """Run ``command`` (a TaskCommand) in the background; False when it was received before."""
        task_id = int(command.task_id)
        with self._lock:
            if task_id in self._seen:
                log.info("task %d was received before; not running it again", task_id)
                return False
            if len(self._seen) > 100000:
                self._seen.clear()
            self._seen.add(task_id)
            cancelled = self._running[task_id] = threading.Event()
        threading.Thread(target=self._run, args=(command, cancelled), name=f"task-{task_id}", daemon=True).start()
        return True

    def cancel(self, task_id: int) -> bool:
        with self._lock:
            event = self._running.get(int(task_id))
        if event is None:
            return False
        event.set()
        return True

    def running(self) -> list[int]:
        with self._lock:
            return sorted(self._running)

    def close(self) -> None:
        """The agent stops: kill what still runs (its result is reported as cancelled if a master answers)."""
        self.stop.set()
        with self._lock:
            events = list(self._running.values())
        for event in events:
            event.set()

    def _run(self, command: Any, cancelled: threading.Event) -> None:
        task_id = int(command.task_id)
        log.info("running task %d as %s", task_id, command.account or "root")
        try:
            outcome = run_task(command, tuple(self.settings.task_accounts), cancelled)
        except Exception as exc:  # noqa: BLE001 - a task's failure is its result, never the agent's end
            log.exception("task %d failed to run", task_id)
            outcome = TaskOutcome("failed", exit_code=-1, reason=f"the agent could not run it: {exc}")
        finally:
            with self._lock:
                self._running.pop(task_id, None)
        log.info("task %d %s (exit %d) in %.2fs%s", task_id, outcome.state, outcome.exit_code, outcome.duration,
                 f": {outcome.reason}" if outcome.reason else "")
        self.report(task_id, outcome)

    def _report(self, task_id: int, outcome: TaskOutcome) -> None:
        s = self.settings
        request = pb.TaskResultRequest(task_id=task_id, state=outcome.state, exit_code=outcome.exit_code,
                                       stdout=outcome.stdout, stderr=outcome.stderr,
                                       stdout_truncated=outcome.stdout_truncated,
                                       stderr_truncated=outcome.stderr_truncated, duration=outcome.duration,
                                       reason=outcome.reason)
        deadline = time.monotonic() + REPORT_PATIENCE
        delay = 0.5
        for attempt in range(1, 1000):
            try:
                with MasterClient(s.servers, pki.SSLPaths(s.ssldir, s.certname), timeout=s.timeout) as client:
                    client.call("TaskResult", request)
                return
            except ClientError as exc:
                if time.monotonic() > deadline or exc.code is not None and exc.code.name in (
                        "PERMISSION_DENIED", "INVALID_ARGUMENT", "UNIMPLEMENTED"):
                    log.warning("the result of task %d could not be delivered: %s", task_id, exc)
                    return
                log.info("task %d: delivering its result failed (%s); retrying", task_id, exc)
            if self.stop.is_set() and attempt >= 3:  # the agent is stopping: a few tries only
                log.warning("the result of task %d was not delivered before the agent stopped", task_id)
                return
            time.sleep(delay)
            delay = min(delay * 2, 15.0)
