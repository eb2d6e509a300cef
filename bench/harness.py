"""What every benchmark script shares: timing whole processes, alternating the tools compared, watching the
machine's load, and writing one section of bench/RESULTS.md.

Measuring a process (``measure``): wall time from spawn to exit; CPU time (user + system) and peak RSS from the
``os.wait4`` of that very child. The CPU time covers the whole process tree: the kernel adds to a process's
figures those of every child it reaped (and so on down), so a tool that spawns helpers and waits for them is
charged for them; a child left running or never reaped is not counted. Peak RSS is that of the largest single
process of the tree (what the kernel keeps in ``ru_maxrss``), not a sum. A long-running server is measured
from outside instead (``ProcessTree``, ``TreeSampler``): /proc of its pid and every descendant, summed.

Comparing tools (``alternate``): one warm-up run of each, then A B A B ... so that whatever else the machine
does falls on both alike; medians are reported, CPU beside wall, ratios for both.

The load average (1, 5, 15 min) is printed before every run. A section is written to bench/RESULTS.md only
when ``--write`` is given and the 1-minute load average before every run was at most ``LOAD_LIMIT``;
otherwise the script prints why and exits non-zero (with ``--write`` it stops at the first busy run, as
nothing of it could be recorded), while ``--allow-busy`` runs to the end, prints the result, writes nothing.
The benchmark's own previous run counts in the load average too: ``--settle S`` waits up to S seconds before
a run for the 1-minute figure to come down under the limit (default 180 s with ``--write``, none without):
after a burst that kept both cores busy the figure needs a minute or two to decay (it falls by e each minute).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
LOAD_LIMIT = 1.0
SETTLE_WITH_WRITE = 180.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def bunraku_command() -> list[str]:
    """How to start Bunraku's CLI as users run it: installed by pip from this tree (compiled bytecode, no
    editable-install import hook, which costs every start ~25 ms) into a venv kept under
    ~/.cache/bunraku-bench, made again when the tree's code changes. ``BUNRAKU_BENCH_EDITABLE=1`` runs the
    development venv's entry point instead (or bunraku.py when there is none)."""
    if os.environ.get("BUNRAKU_BENCH_EDITABLE") != "1":
        installed = installed_bunraku()
        if installed is not None:
            return installed
    script = ROOT / ".venv" / "bin" / "bunraku"
    return [str(script)] if script.exists() else [sys.executable, str(ROOT / "bunraku.py")]


def installed_bunraku() -> list[str] | None:
    import hashlib
    import shutil

    h = hashlib.sha256()
    for package in ("bunraku.py", "pyproject.toml", "cli", "engine", "dsl", "master", "agent", "facts", "wire"):
        base = ROOT / package
        for path in sorted([base] if base.is_file() else base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                st = path.stat()
                h.update(f"{path.relative_to(ROOT)}:{st.st_mtime_ns}:{st.st_size}\n".encode())
    venv = Path.home() / ".cache" / "bunraku-bench" / f"venv-{h.hexdigest()[:16]}"
    script = venv / "bin" / "bunraku"
    if script.exists():
        return [str(script)]
    print(f"installing this tree into {venv} (pip install .) ...", flush=True)
    shutil.rmtree(venv.parent, ignore_errors=True)  # older trees' venvs
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(ROOT)], check=True,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"could not install this tree for the benchmark ({exc}); using the development venv", flush=True)
        shutil.rmtree(venv, ignore_errors=True)
        return None
    return [str(script)]


def loadavg() -> tuple[float, float, float]:
    return os.getloadavg()


# --- one whole process -------------------------------------------------------------------------------------

@dataclass
class Sample:
    wall: float          # seconds, spawn to exit
    cpu: float           # seconds, user + system of the process and every descendant it reaped
    max_rss_kb: int      # largest single process of the tree
    status: int          # exit code (negative: killed by that signal)
    load: float          # 1-minute load average just before the run
    stdout: bytes = b""
    stderr: bytes = b""

    @property
    def rss_mib(self) -> float:
        return self.max_rss_kb / 1024


@dataclass
class Command:
    """One thing to measure. ``prepare`` runs before every run of it, untimed (e.g. to empty a target)."""
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    cwd: Path | str | None = None
    ok: tuple[int, ...] = (0,)
    capture: bool = False
    prepare: Callable[[], None] | None = None
    check: Callable[[Sample], str | None] | None = None   # returns why the run is wrong, or None
    label: str = ""

    @property
    def shown(self) -> str:
        return self.label or self.name


class BenchError(SystemExit):
    """A measured command failed."""


class BusyMachine(SystemExit):
    """--write on a busy machine: nothing could be recorded."""


def measure(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | str | None = None,
            capture: bool = False, load: float | None = None) -> Sample:
    """Run ``argv`` once to completion; stdout is discarded unless ``capture``, stderr kept for errors."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    out, err = b"", b""
    readers = []
    if capture and proc.stdout is not None:
        chunks: list[bytes] = []
        readers.append(threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True))  # type: ignore[union-attr]
    errs: list[bytes] = []
    readers.append(threading.Thread(target=lambda: errs.append(proc.stderr.read()), daemon=True))  # type: ignore[union-attr]
    for reader in readers:
        reader.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: keep Popen consistent
    for reader in readers:
        reader.join()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    if capture:
        out = chunks[0] if chunks else b""
    err = errs[0] if errs else b""
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode,
                  loadavg()[0] if load is None else load, out, err)


# --- the session: load watch, alternation, recording -------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--write, --allow-busy and --settle, the same for every script."""
    parser.add_argument("--write", action="store_true",
                        help="replace this benchmark's section of bench/RESULTS.md (only on a quiet machine)")
    parser.add_argument("--allow-busy", action="store_true",
                        help=f"on a busy machine (1-min load average above {LOAD_LIMIT}) print the result and "
                             "write nothing, instead of failing")
    parser.add_argument("--settle", type=float, default=None,
                        help="wait up to this many seconds before each run for the load average to fall under "
                             f"{LOAD_LIMIT} (default: {SETTLE_WITH_WRITE:.0f} with --write, 0 otherwise)")


class Bench:
    """One benchmark session: prints and remembers the load average before each run."""

    def __init__(self, args: argparse.Namespace | None = None, *, write: bool | None = None) -> None:
        self.write = bool(getattr(args, "write", False)) if write is None else write
        self.allow_busy = bool(getattr(args, "allow_busy", False))
        settle = getattr(args, "settle", None)
        self.settle = (SETTLE_WITH_WRITE if self.write else 0.0) if settle is None else settle
        self.loads: list[float] = []
        self.busy: list[tuple[str, float]] = []
        self.started = time.time()

    # load ------------------------------------------------------------------------------------------------
    def before(self, label: str) -> float:
        """Print the load average before a run (after waiting for it to settle, if asked) and remember it."""
        deadline = time.monotonic() + self.settle
        load = loadavg()
        while load[0] > LOAD_LIMIT and time.monotonic() < deadline:
            print(f"  [load {load[0]:.2f}: waiting for it to fall under {LOAD_LIMIT}]", flush=True)
            time.sleep(min(5.0, max(0.1, deadline - time.monotonic())))
            load = loadavg()
        print(f"  [load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}] {label}", flush=True)
        self.loads.append(load[0])
        if load[0] > LOAD_LIMIT:
            self.busy.append((label, load[0]))
            if self.write and not self.allow_busy:   # nothing of this run could be recorded: stop now
                raise BusyMachine(f"not written to {shown_path(RESULTS)}: the 1-minute load average is "
                                 f"{load[0]:.2f} (above {LOAD_LIMIT}) before {label}"
                                 + (f", after waiting {self.settle:.0f} s" if self.settle else "")
                                 + "; the machine is busy. Rerun on a quiet machine, or pass --allow-busy to "
                                   "print the result only")
            self.settle = 0.0   # busy already: waiting longer changes nothing
        return load[0]

    def load_range(self) -> str:
        if not self.loads:
            return "none seen"
        return f"{min(self.loads):.2f}–{max(self.loads):.2f}"

    # runs ------------------------------------------------------------------------------------------------
    def run(self, command: Command) -> Sample:
        if command.prepare is not None:
            command.prepare()
        load = self.before(command.shown)
        sample = measure(command.argv, env=command.env, cwd=command.cwd, capture=command.capture, load=load)
        problem = None
        if sample.status not in command.ok:
            problem = f"exited {sample.status}"
        elif command.check is not None:
            problem = command.check(sample)
        if problem:
            err = sample.stderr.decode(errors="replace")[-2000:]
            raise BenchError(f"{command.shown}: {problem}\n$ {shlex.join(command.argv)}\n{err}")
        return sample

    def alternate(self, commands: Sequence[Command], runs: int, *, warmup: bool = True) -> dict[str, list[Sample]]:
        """One untimed warm-up of each command, then ``runs`` rounds of A B A B ..."""
        if warmup:
            for command in commands:
                self.run(command)
        samples: dict[str, list[Sample]] = {c.name: [] for c in commands}
        for _ in range(runs):
            for command in commands:
                samples[command.name].append(self.run(command))
        return samples

    # recording -------------------------------------------------------------------------------------------
    def finish(self, section: str, body: str, *, command: str | None = None) -> int:
        """Print the result; with --write, replace ``## section`` in bench/RESULTS.md if the machine was quiet.
        Returns the exit code for the script."""
        text = render_section(section, body, loads=self.load_range(), command=command or reproduce_command())
        print()
        print(text)
        if not self.write:
            return 0
        if self.busy:
            worst = max(self.busy, key=lambda b: b[1])
            why = (f"not written to {shown_path(RESULTS)}: the 1-minute load average exceeded {LOAD_LIMIT} "
                   f"before {len(self.busy)} of {len(self.loads)} runs (highest {worst[1]:.2f}, before "
                   f"{worst[0]}); the machine is busy. Rerun on a quiet machine"
                   + (" (--allow-busy: printed only)" if self.allow_busy else ", or pass --allow-busy to print only"))
            print(why, file=sys.stderr)
            return 0 if self.allow_busy else 3
        replace_section(section, text)
        print(f"written to {shown_path(RESULTS)} (## {section})", file=sys.stderr)
        return 0


def shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def reproduce_command() -> str:
    script = Path(sys.argv[0]).resolve()
    try:
        shown = str(script.relative_to(ROOT))
    except ValueError:
        shown = str(script)
    args = [a for a in sys.argv[1:] if a != "--allow-busy"]
    return shlex.join([".venv/bin/python", shown, *args])


def machine_description() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    distro = "Linux"
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                distro = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return (f"{distro}, kernel {platform.release()}, {os.cpu_count()} x {model}, "
            f"{mem_kb / 1024 / 1024:.1f} GiB RAM, Python {platform.python_version()}")


def render_section(section: str, body: str, *, loads: str, command: str) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    head = [f"## {section}", "",
            f"{stamp}; machine: {machine_description()}; 1-minute load average before the runs: {loads}.",
            f"Reproduce: `{command}`", ""]
    return "\n".join(head) + "\n" + body.strip("\n") + "\n"


def replace_section(section: str, text: str) -> None:
    """Replace the ``## section`` of bench/RESULTS.md (up to the next ``## ``), or append it."""
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    lines = current.splitlines()
    heading = f"## {section}"
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    except StopIteration:
        RESULTS.write_text(current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n", encoding="utf-8")
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    new = lines[:start] + text.rstrip("\n").splitlines() + ([""] if end < len(lines) else []) + lines[end:]
    RESULTS.write_text("\n".join(new).rstrip("\n") + "\n", encoding="utf-8")


# --- figures -----------------------------------------------------------------------------------------------

@dataclass
class Summary:
    runs: int
    wall: float          # median, s
    wall_min: float
    wall_max: float
    cpu: float           # median, s
    rss_mib: float       # median of the peaks
    rss_max_mib: float
    failures: int = 0


def summarize(samples: Sequence[Sample], ok: Iterable[int] = (0,)) -> Summary:
    walls = [s.wall for s in samples]
    good = set(ok)
    return Summary(len(samples), statistics.median(walls), min(walls), max(walls),
                   statistics.median(s.cpu for s in samples), statistics.median(s.rss_mib for s in samples),
                   max(s.rss_mib for s in samples), sum(1 for s in samples if s.status not in good))


def ratio(theirs: float, ours: float) -> str:
    """How many times ``ours`` is smaller (faster, cheaper) than ``theirs``."""
    if ours <= 0 or theirs != theirs or ours != ours:
        return "-"
    return f"{theirs / ours:.1f}x"


def seconds(value: float) -> str:
    if value != value:
        return "-"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, align: str | None = None) -> str:
    """A Markdown table; ``align`` is one letter per column, l or r (default: first l, rest r)."""
    align = align or "l" + "r" * (len(headers) - 1)
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float, float, Any]:
    """In-process timing: (median wall s, max wall s, median CPU s of this process, last result). The CPU
    figure is this process's, every thread (time.process_time); a database server's own CPU is not in it."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        result = call()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), max(walls), statistics.median(cpus), result


# --- a running server, from outside ------------------------------------------------------------------------

class ProcessTree:
    """A process and its descendants, read from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def pids(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, ()))
        return found

    def rss_bytes(self) -> int:
        total = 0
        for pid in self.pids():
            try:
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
            except (OSError, IndexError, ValueError):
                continue
        return total

    def cpu_seconds(self) -> float:
        """User + system of every live process of the tree, plus what each has reaped of its children."""
        ticks = 0
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            ticks += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        return ticks / CLOCK_TICKS


@dataclass
class TreeSampler:
    """Samples the summed RSS of a process tree every ``interval`` seconds while in use; ``peak`` in bytes."""
    tree: ProcessTree
    interval: float = 0.2
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> TreeSampler:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.tree.rss_bytes())
            self._stop.wait(self.interval)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, self.tree.rss_bytes())
