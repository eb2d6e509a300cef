"""Compile speed: Bunraku vs Puppet 7.23 on the same manifests, whole process, cold, same run.

Two manifests, each one defined type instantiated 10,000 times, every instance a file whose content
is interpolated:
  - loop:     the instances come from an iteration (`Integer[1, 10000].each`)
  - explicit: 10,000 declarations written out (a 10,000-line manifest: parsing dominates)

Usage: python bench/bench_compile.py [--runs N] [--instances N] [--no-puppet] [--write]
``--write`` replaces the "## Compile" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFINE = """define app::conf(String $owner = 'root', Integer $port = 8080) {
  file { "/etc/app/${title}.conf":
    ensure  => file,
    owner   => $owner,
    mode    => '0644',
    content => "# ${title}\\nport=${port}\\nowner=${owner}\\nhost=${facts['networking']['fqdn']}\\n",
  }
}
"""


def write_manifests(base: Path, n: int) -> dict[str, Path]:
    loop = base / "loop.pp"
    loop.write_text(DEFINE + f"Integer[1, {n}].each |$i| {{ app::conf {{ \"svc${{i}}\": port => 8000 + $i }} }}\n")
    explicit = base / "explicit.pp"
    lines = [DEFINE] + [f"app::conf {{ 'svc{i}': port => {8000 + i} }}\n" for i in range(1, n + 1)]
    explicit.write_text("".join(lines))
    return {"loop": loop, "explicit": explicit}


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0 or b'"resources"' not in out:
        raise SystemExit(f"command failed: {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024


def puppet_cmd(manifest: Path, tmp: Path) -> list[str]:
    conf = tmp / "puppet"
    return ["puppet", "catalog", "find", "bench.example.com", "--terminus", "compiler",
            "--manifest", str(manifest), "--render-as", "json", "--confdir", str(conf / "etc"),
            "--vardir", str(conf / "var"), "--codedir", str(conf / "code"), "--logdir", str(conf / "log")]


def bunraku_cmd(manifest: Path, facts: Path) -> list[str]:
    exe = ROOT / ".venv" / "bin" / "bunraku"
    return [str(exe) if exe.exists() else "bunraku", "compile", str(manifest), "--node",
            "bench.example.com", "--facts", str(facts)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--instances", type=int, default=10000)
    ap.add_argument("--no-puppet", action="store_true")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    have_puppet = not args.no_puppet and shutil.which("puppet") is not None
    rows = []
    with tempfile.TemporaryDirectory(prefix="bunraku-bench-") as d:
        tmp = Path(d)
        manifests = write_manifests(tmp, args.instances)
        facts = tmp / "facts.yaml"
        facts.write_text("networking: {fqdn: bench.example.com, hostname: bench}\nos: {family: Debian}\n")
        env = dict(os.environ)
        env.pop("BUNRAKU_PARSE_CACHE", None)
        for name, manifest in manifests.items():
            results: dict[str, list[tuple[float, float]]] = {"bunraku": [], "puppet": []}
            for _ in range(args.runs):
                results["bunraku"].append(run(bunraku_cmd(manifest, facts), tmp, env))
                if have_puppet:
                    results["puppet"].append(run(puppet_cmd(manifest, tmp), tmp, env))
            for tool, samples in results.items():
                if samples:
                    rows.append((name, tool, statistics.median(s[0] for s in samples),
                                 max(s[1] for s in samples)))
    lines = ["| manifest | tool | wall s (median) | peak RSS MiB |", "|---|---|---:|---:|"]
    for name, tool, wall, rss in rows:
        lines.append(f"| {name} | {tool} | {wall:.3f} | {rss:.0f} |")
    summary = []
    for name in ("loop", "explicit"):
        b = [r for r in rows if r[0] == name and r[1] == "bunraku"]
        p = [r for r in rows if r[0] == name and r[1] == "puppet"]
        if b and p:
            summary.append(f"- {name}: Bunraku is **{p[0][2] / b[0][2]:.1f}x** faster than `puppet catalog find` "
                           f"(target ≥5x) with {b[0][3]:.0f} MiB peak memory against Puppet's {p[0][3]:.0f} MiB")
    text = "\n".join(lines + [""] + summary)
    print(text)
    if args.write:
        write_section(text, args)


def write_section(text: str, args: argparse.Namespace) -> None:
    results = ROOT / "bench" / "RESULTS.md"
    header = (f"## Compile\n\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; one defined type "
              f"instantiated {args.instances} times, each a file with interpolated content; whole process, "
              f"cold (no parse cache on disk), medians of {args.runs}; Puppet 7.23 `puppet catalog find "
              f"--terminus compiler`; Bunraku `bunraku compile`. Machine: {os.cpu_count()} cores.\n\n")
    section = header + text + "\n"
    old = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    if "## Compile" in old:
        before, _, rest = old.partition("## Compile")
        after = rest[rest.find("\n## ") + 1:] if "\n## " in rest else ""
        new = before + section + ("\n" + after if after else "")
    else:
        new = old.rstrip("\n") + "\n\n" + section
    results.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
