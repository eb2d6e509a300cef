"""The agent's live channel: a stream from the master kept open while the daemon runs.

The master pings down the stream and sends "run now" (with the apply mode) when a rollout wants this
node, and tasks to run or cancel (:mod:`agent.tasks`); the agent sends its own heartbeats with the
``Heartbeat`` call. When the stream breaks or goes silent for three heartbeats the agent reconnects, with jittered exponential backoff. Runs still happen
on the timer; a "run now" only starts the next one early. The identity is the agent's certificate.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from agent.run import AgentSettings, RunResult, disabled_reason, run_once, wait_for_next_run, wait_for_stop
from agent.tasks import TaskRunner
from agent.upgrade import Staged
from wire import pki
from wire.client import ClientError, MasterClient
from wire.proto import bunraku_pb2 as pb

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
#: at its start the daemon waits this long for the channel, then this long for a run the master re-sends
STARTUP_CONNECT_WAIT = 2.0
STARTUP_REQUEST_WAIT = 0.5


class RunRequests:
    """"Run now" requests from the channel to the run loop; the strongest mode asked for wins."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._mode: str | None = None

    def request(self, mode: str) -> None:
        with self._cond:
            # a full run covers an incremental one; never downgrade a pending full run
            self._mode = "full" if "full" in (mode, self._mode) else "incremental"
            self._cond.notify_all()

    def wait(self, timeout: float, stop: threading.Event) -> str | None:
        """The mode of a requested run, or None when ``timeout`` passed (or ``stop`` was set) first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._mode is None and not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.5))
            mode, self._mode = self._mode, None
            return mode

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


class LiveChannel:
    """Keep the live stream open in a thread; hand "run now" requests to ``requests``."""

    def __init__(self, settings: AgentSettings, requests: RunRequests, stop: threading.Event,
                 *, running: Callable[[], bool] = lambda: False) -> None:
        self.settings = settings
        self.requests = requests
        self.stop = stop
        self.running = running
        self.connected = threading.Event()
        self.heartbeat_seconds = 10.0
        self._last_message = time.monotonic()
        self._call: object | None = None
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        #: send a heartbeat now (it says whether the agent is disabled) rather than at the next beat
        self.beat_now = threading.Event()
        self.tasks = TaskRunner(settings)

    def start(self) -> None:
        for target, name in ((self._listen, "live"), (self._beat, "live-heartbeat")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self, timeout: float = 5.0) -> None:
        self.tasks.close()
        self._cancel()
        self.beat_now.set()  # the heartbeat thread sees ``stop`` at once
        for thread in self._threads:
            thread.join(timeout)

    def _client(self) -> MasterClient:
        s = self.settings
        return MasterClient(s.servers, pki.SSLPaths(s.ssldir, s.certname), timeout=s.timeout)

    def _cancel(self) -> None:
        with self._lock:
            call = self._call
        if call is not None:
            call.cancel()  # type: ignore[attr-defined]

    def _listen(self) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            if not pki.SSLPaths(self.settings.ssldir, self.settings.certname).has_identity():
                wait_for_stop(self.stop, backoff)  # the first run gets the certificate
                continue
            client = self._client()
            try:
                reason = disabled_reason(self.settings)
                server, call, first = client.open_stream("Live", pb.LiveHello(
                    environment=self.settings.environment, disabled=reason is not None,
                    disabled_reason=reason or ""))
                with self._lock:
                    self._call = call
                self._on_message(first)
                log.info("live channel open to %s", server)
                self.connected.set()
                backoff = 1.0
                for message in call:
                    self._on_message(message)
                    if self.stop.is_set():
                        break
            except ClientError as exc:
                log.info("live channel: %s", exc)
            except Exception as exc:  # noqa: BLE001 - grpc errors from a broken or cancelled stream
                if not self.stop.is_set():
                    log.info("live channel closed: %s", exc)
            finally:
                self.connected.clear()
                with self._lock:
                    self._call = None
                client.close()
            if self.stop.is_set():
                return
            delay = backoff * random.uniform(0.5, 1.0)
            log.info("live channel: reconnecting in %.1fs", delay)
            wait_for_stop(self.stop, delay)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _on_message(self, message: pb.LiveCommand) -> None:
        self._last_message = time.monotonic()
        if message.heartbeat_seconds > 0:
            self.heartbeat_seconds = message.heartbeat_seconds
        if message.kind == pb.LiveCommand.RUN:
            mode = message.mode if message.mode in ("full", "incremental") else "full"
            log.info("the master asks for a run now (%s%s)", mode,
                     f", rollout {message.rollout_id}" if message.rollout_id else "")
            if disabled_reason(self.settings) is not None:
                self.beat_now.set()  # the run will be skipped: tell the master why at once
            self.requests.request(mode)
        elif message.kind == pb.LiveCommand.TASK:
            self.tasks.start(message.task)
        elif message.kind == pb.LiveCommand.CANCEL:
            if self.tasks.cancel(message.task.task_id):
                log.info("the master cancels task %d", message.task.task_id)

    def _beat(self) -> None:
        client: MasterClient | None = None
        try:
            while not self.stop.is_set():
                self.beat_now.wait(self.heartbeat_seconds if self.connected.is_set() else 0.2)
                self.beat_now.clear()
                if self.stop.is_set():
                    break
                if not self.connected.is_set():
                    continue
                if time.monotonic() - self._last_message > 3 * self.heartbeat_seconds:
                    log.warning("live channel: the master has been silent; reconnecting")
                    self._cancel()
                    continue
                try:
                    if client is None:
                        client = self._client()
                    reason = disabled_reason(self.settings)
                    client.call("Heartbeat", pb.HeartbeatRequest(environment=self.settings.environment,
                                                                 running=self.running(),
                                                                 disabled=reason is not None,
                                                                 disabled_reason=reason or ""),
                                timeout=max(1.0, self.heartbeat_seconds))
                except ClientError as exc:
                    log.info("heartbeat failed: %s", exc)
                    self._cancel()
        finally:
            if client is not None:
                client.close()


def run_daemon_live(settings: AgentSettings, stop: threading.Event,
                    on_result: Callable[[RunResult], None] | None = None) -> Staged | None:
    """:func:`agent.run.run_daemon` with the live channel: run every ``runinterval`` seconds, and at
    once when the master says so (in the mode it says; timer runs are full). Returns the agent version
    a run staged (the channel closed first), or None when stopped."""
    requests = RunRequests()
    running = threading.Event()
    channel = LiveChannel(settings, requests, stop, running=running.is_set)
    channel.start()
    try:
        mode: str | None = "full"
        if settings.splay:
            delay = random.uniform(0, settings.splaylimit if settings.splaylimit is not None
                                   else settings.runinterval)
            log.info("splay: first run in %.0f s", delay)
            mode = requests.wait(delay, stop) or "full"
        elif channel.connected.wait(STARTUP_CONNECT_WAIT):
            # a master re-sends the "run now" a rollout still waits for when the channel connects: the run
            # every daemon makes at its start is that run, not one more after it
            requests.wait(STARTUP_REQUEST_WAIT, stop)
        while not stop.is_set():
            started = time.monotonic()
            running.set()
            try:
                result = run_once(settings if mode in (None, "full") else replace(settings, apply_mode=mode))
            except Exception:  # a daemon must survive one bad run; the next one may succeed
                log.exception("the run failed")
                result = RunResult(1)
            finally:
                running.clear()
            if on_result is not None:
                on_result(result)
            if result.upgrade is not None:
                return result.upgrade
            mode = wait_for_next_run(settings, settings.runinterval - (time.monotonic() - started), stop,
                                     lambda timeout: requests.wait(timeout, stop)) or "full"
        return None
    finally:
        stop.set()
        requests.wake()
        channel.join()
