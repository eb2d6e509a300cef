"""Benchmark: a converged (nothing to change) and a first apply of N defined-type files, Bunraku vs
`puppet apply`, whole processes, same machine, same run. Appends a "## Apply" section to
bench/RESULTS.md.

    .venv/bin/python bench/bench_apply.py [--files 1000] [--big 10000] [--repeat 3]

When `dsl.compiler` is not importable, Bunraku applies (``--catalog``) the catalog that
`puppet catalog find` compiles from the same manifest, and the table says so. For the 10,000-file
converged run the catalog is generated in Puppet's shape directly (compiling it with Puppet adds
nothing to what is measured).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BUNRAKU = [str(REPO / ".venv/bin/bunraku")] if (REPO / ".venv/bin/bunraku").exists() else \
    [sys.executable, str(REPO / "bunraku.py")]

MANIFEST = """define bench::f(String $content) {{
  file {{ $title: ensure => file, content => $content, mode => '0644' }}
}}
file {{ ['{base}', '{base}/files']: ensure => directory }}
Integer[1, {n}].each |$i| {{
  bench::f {{ "{base}/files/f${{i}}": content => "file ${{i}}\\n" }}
}}
"""


def measure(argv: list[str], ok: tuple[int, ...] = (0, 2)) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one whole process, via a fresh wrapper."""
    wrapper = ("import resource, subprocess, sys, time, json;"
               "t = time.perf_counter();"
               "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE);"
               "dt = time.perf_counter() - t;"
               "print(json.dumps([dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode,"
               " p.stderr.decode()[-2000:]]))")
    out = subprocess.run([sys.executable, "-c", wrapper, *argv], capture_output=True, text=True, check=True)
    dt, rss, code, err = json.loads(out.stdout)
    if code not in ok:
        raise SystemExit(f"{' '.join(argv[:3])} ... exited {code}: {err}")
    return dt, rss


def puppet_dirs(work: Path) -> list[str]:
    args = []
    for name in ("confdir", "vardir", "logdir", "rundir", "codedir"):
        d = work / "puppet" / name
        d.mkdir(parents=True, exist_ok=True)
        args += [f"--{name}", str(d)]
    return args


def puppet_catalog(work: Path, manifest: Path, node: str) -> Path:
    out = subprocess.run(["puppet", "catalog", "find", node, "--terminus", "compiler", "--manifest",
                          str(manifest), "--render-as", "json", *puppet_dirs(work)],
                         capture_output=True, text=True, check=True).stdout
    text = out[out.index('{"tags"'):]
    path = work / f"{manifest.stem}.catalog.json"
    path.write_text(text)
    return path


def synthetic_catalog(base: str, n: int, path: Path) -> None:
    res = [{"type": "Stage", "title": "main", "tags": ["stage"], "exported": False},
           {"type": "Class", "title": "main", "tags": ["class"], "exported": False},
           {"type": "File", "title": base, "tags": ["file"], "exported": False, "parameters": {"ensure": "directory"}},
           {"type": "File", "title": f"{base}/files", "tags": ["file"], "exported": False,
            "parameters": {"ensure": "directory"}}]
    edges = [{"source": "Stage[main]", "target": "Class[main]"},
             {"source": "Class[main]", "target": f"File[{base}]"},
             {"source": "Class[main]", "target": f"File[{base}/files]"}]
    files = []
    for i in range(1, n + 1):
        title = f"{base}/files/f{i}"
        res.append({"type": "Bench::F", "title": title, "tags": ["bench::f"], "exported": False,
                    "parameters": {"content": f"file {i}\n"}})
        files.append({"type": "File", "title": title, "tags": ["file", "bench::f"], "exported": False,
                      "file": "site.pp", "line": 2,
                      "parameters": {"ensure": "file", "content": f"file {i}\n", "mode": "0644"}})
        edges.append({"source": "Class[main]", "target": f"Bench::F[{title}]"})
        edges.append({"source": f"Bench::F[{title}]", "target": f"File[{title}]"})
    doc = {"tags": [], "name": "bench.node", "version": 1, "code_id": None, "catalog_uuid": "bench",
           "catalog_format": 2, "environment": "production", "resources": res + files, "edges": edges,
           "classes": []}
    path.write_text(json.dumps(doc))


def compiler_available() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import dsl.compiler"], cwd=REPO, capture_output=True)
    return probe.returncode == 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--big", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-results", action="store_true", help="do not append to bench/RESULTS.md")
    args = ap.parse_args()
    n = args.files
    work = Path(tempfile.mkdtemp(prefix="bunraku-bench-"))
    rows: list[tuple[str, str, float, int]] = []
    try:
        pbase, bbase = str(work / "puppet-out"), str(work / "bunraku-out")
        pman = work / "puppet.pp"
        pman.write_text(MANIFEST.format(base=pbase, n=n))
        bman = work / "bunraku.pp"
        bman.write_text(MANIFEST.format(base=bbase, n=n))
        use_compiler = compiler_available()
        catalog = puppet_catalog(work, bman, "bench.node")
        state = work / "bunraku-state"
        if use_compiler:
            bcmd = [*BUNRAKU, "apply", str(bman), "--state-dir", str(state), "--facts", str(work / "facts.json")]
            (work / "facts.json").write_text(json.dumps({"networking": {"fqdn": "bench.node"}}))
            how = "`bunraku apply MANIFEST` (compile + apply)"
        else:
            bcmd = [*BUNRAKU, "apply", "--catalog", str(catalog), "--state-dir", str(state)]
            how = "`bunraku apply --catalog` on the catalog `puppet catalog find` compiled from the same manifest"
        pcmd = ["puppet", "apply", str(pman), *puppet_dirs(work)]
        pcat = ["puppet", "apply", "--catalog", str(puppet_catalog(work, pman, "bench.node")), *puppet_dirs(work)]

        # first apply: empty targets
        pt, pm = measure(pcmd)
        bt, bm = measure(bcmd)
        rows += [(f"first apply, {n} files", "puppet apply site.pp", pt, pm),
                 (f"first apply, {n} files", "bunraku", bt, bm)]
        first_ratio = pt / bt
        # converged: nothing to change
        pts = [measure(pcmd) for _ in range(max(1, args.repeat - 1))]
        pcs = [measure(pcat) for _ in range(max(1, args.repeat - 1))]
        bts = [measure(bcmd) for _ in range(args.repeat)]
        p_conv = statistics.median(t for t, _ in pts)
        pc_conv = statistics.median(t for t, _ in pcs)
        b_conv = statistics.median(t for t, _ in bts)
        rows += [(f"converged, {n} files", "puppet apply site.pp", p_conv, max(m for _, m in pts)),
                 (f"converged, {n} files", "puppet apply --catalog", pc_conv, max(m for _, m in pcs)),
                 (f"converged, {n} files", "bunraku", b_conv, max(m for _, m in bts))]
        # 10,000 files converged (bunraku only)
        big = work / "big.catalog.json"
        synthetic_catalog(str(work / "big-out"), args.big, big)
        bigcmd = [*BUNRAKU, "apply", "--catalog", str(big), "--state-dir", str(work / "big-state")]
        measure(bigcmd)
        bigs = [measure(bigcmd) for _ in range(args.repeat)]
        big_t = statistics.median(t for t, _ in bigs)
        rows.append((f"converged, {args.big} files", "bunraku", big_t, max(m for _, m in bigs)))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = ["## Apply", "",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {n} instances of a defined type each holding "
             f"one `file` (content + mode) plus 2 directories; whole processes, medians of {args.repeat} "
             f"(puppet: {max(1, args.repeat - 1)}); Puppet {puppet_version()}; Bunraku runs {how}.", "",
             "| case | tool | wall s | peak RSS MiB |", "|---|---|---:|---:|"]
    for case, tool, t, m in rows:
        lines.append(f"| {case} | {tool} | {t:.3f} | {m / 1024:.0f} |")
    lines += ["",
              f"- converged: bunraku is **{p_conv / b_conv:.1f}x** faster than `puppet apply` "
              f"(target ≥10x) and {pc_conv / b_conv:.1f}x faster than `puppet apply --catalog` (no compile, no facts)",
              f"- first apply: **{first_ratio:.1f}x** faster (target ≥5x)",
              f"- {args.big} files converged: **{big_t:.2f} s** (target < 2 s)", ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_results:
        results = HERE / "RESULTS.md"
        existing = results.read_text() if results.exists() else "# Benchmark results\n"
        results.write_text(existing.rstrip("\n") + "\n\n" + text)


def puppet_version() -> str:
    return subprocess.run(["puppet", "--version"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
