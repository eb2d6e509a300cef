"""Run fact tasks concurrently, in dependency order, each bounded in time.

A few worker threads pull ready tasks (those whose needs have finished, failed or timed out: a
dependent then sees the fact missing, as with Facter's nil) and run them. The caller's thread only
watches the deadlines: a task that overruns its timeout is reported and dropped, its worker is
written off and replaced, so a collector stuck on a dead NFS mount or an executable that never
returns costs at most its timeout and never a hang. Workers are daemon threads, so an abandoned one
never holds up the exit either.

Few workers rather than a thread per task: most collectors take well under a millisecond, and with
the GIL each extra thread costs more in hand-offs than it saves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

log = logging.getLogger(__name__)

TaskFunc = Callable[[Mapping[str, Any]], Any]
MergeFunc = Callable[[str, Any, dict[str, Any]], None]
MAX_WORKERS = 4


class Task:
    """A unit of work: ``func(facts_so_far)``; ``needs`` names other tasks of the same run."""

    __slots__ = ("name", "needs", "func", "timeout", "what")

    def __init__(self, name: str, func: TaskFunc, *, needs: Iterable[str] = (), timeout: float | None = None,
                 what: str = "fact collector") -> None:
        self.name = name
        self.func = func
        self.needs = tuple(needs)
        self.timeout = timeout
        self.what = what


class _Run:
    """The shared state of one ``run_tasks`` call; every field is guarded by ``cond``."""

    def __init__(self, tasks: list[Task], timeout: float, merge: MergeFunc, facts: dict[str, Any]) -> None:
        self.by_name = {t.name: t for t in tasks}
        self.pending = dict(self.by_name)  # not started yet, in the caller's order
        self.running: dict[str, tuple[float, int]] = {}  # name -> (deadline, worker id)
        self.finished: set[str] = set()
        self.results: dict[str, Any] = {}
        self.timeout = timeout
        self.merge = merge
        self.facts = facts
        lock = threading.Lock()
        # Two conditions on one lock, so a finishing task wakes the watcher only when it matters.
        self.cond = threading.Condition(lock)  # workers: a task others need has finished, or the end
        self.watcher = threading.Condition(lock)  # the caller: the run is over, or a worker was lost
        self.next_worker = 0

    def ready(self, task: Task) -> bool:
        return all(n in self.finished or n not in self.by_name or n == task.name for n in task.needs)

    def take(self, worker: int) -> tuple[Task, dict[str, Any]] | None:
        """The next ready task for ``worker`` (marked running), or None; caller holds ``cond``."""
        for name, task in self.pending.items():
            if self.ready(task):
                del self.pending[name]
                limit = task.timeout if task.timeout is not None else self.timeout
                self.running[name] = (time.monotonic() + limit, worker)
                return task, dict(self.facts)
        return None

    def start_worker(self) -> None:
        self.next_worker += 1
        threading.Thread(target=self.work, args=(self.next_worker,), name=f"facts-{self.next_worker}",
                         daemon=True).start()

    def work(self, worker: int) -> None:
        while True:
            with self.cond:
                job = self.take(worker)
                while job is None:
                    if not self.pending:
                        return
                    self.cond.wait()  # for a running task that others need, or for the end of the run
                    job = self.take(worker)
            task, snapshot = job
            try:
                value: Any = task.func(snapshot)
                failed = False
            except (Exception, SystemExit) as exc:  # a broken collector must never break the run
                log.warning("%s %s failed: %s: %s", task.what, task.name, type(exc).__name__, exc)
                log.debug("%s %s traceback", task.what, task.name, exc_info=True)
                value, failed = None, True
            with self.cond:
                if self.running.get(task.name, (0.0, -1))[1] != worker:
                    return  # timed out meanwhile: already reported, and this worker was replaced
                del self.running[task.name]
                self.finished.add(task.name)
                if not failed:
                    try:
                        self.merge(task.name, value, self.facts)
                    except Exception as exc:
                        log.warning("%s %s returned an unusable value: %s", task.what, task.name, exc)
                    else:
                        self.results[task.name] = value
                if any(task.name in t.needs for t in self.pending.values()):
                    self.cond.notify_all()
                if not self.running and (not self.pending or not any(map(self.ready, self.pending.values()))):
                    self.watcher.notify()

    def watch(self) -> None:
        """Wait for the run to end, expiring overdue tasks; caller holds the lock."""
        # Tasks not started yet cannot expire before now + the smallest of their timeouts, so waking
        # by then (or at the earliest running deadline) never misses one.
        shortest = min((t.timeout if t.timeout is not None else self.timeout) for t in self.by_name.values())
        while self.pending or self.running:
            now = time.monotonic()
            for name, (deadline, _worker) in list(self.running.items()):
                if deadline <= now:
                    task = self.by_name[name]
                    log.warning("%s %s timed out; its facts are missing", task.what, name)
                    del self.running[name]
                    self.finished.add(name)
                    if self.pending:
                        self.start_worker()  # the stuck worker is lost; keep the pool's size
                    self.cond.notify_all()
            if not self.running and self.pending and not any(map(self.ready, self.pending.values())):
                for name, task in self.pending.items():
                    log.warning("%s %s is in a dependency cycle (needs %s); skipped", task.what, name,
                                ", ".join(task.needs))
                self.pending.clear()
                break
            if self.pending or self.running:
                wake = min([d for d, _ in self.running.values()] + [now + shortest])
                self.watcher.wait(max(0.0, wake - time.monotonic()))


def run_tasks(tasks: Iterable[Task], *, timeout: float, merge: MergeFunc, facts: dict[str, Any] | None = None,
              max_workers: int = MAX_WORKERS) -> dict[str, Any]:
    """Run ``tasks``; return ``{task name: result}`` for those that succeeded in time.

    ``merge(name, result, facts)`` folds each result into ``facts``, the mapping whose copy later
    tasks receive. Needs that name no task of this run are ignored. Tasks in a dependency cycle are
    reported and skipped.
    """
    task_list = list(tasks)
    if not task_list:
        return {}
    run = _Run(task_list, timeout, merge, facts if facts is not None else {})
    with run.cond:
        for _ in range(min(max_workers, len(task_list))):
            run.start_worker()
        run.watch()
        run.pending.clear()  # let idle workers see there is nothing left
        run.cond.notify_all()
        return dict(run.results)
