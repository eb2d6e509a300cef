"""Compile speed: Bunraku vs Puppet 7.23 on the same manifests, whole process, cold, same run.

Two manifests, each one defined type instantiated 10,000 times, every instance a file whose content
is interpolated:
  - loop:     the instances come from an iteration (`Integer[1, 10000].each`)
  - explicit: 10,000 declarations written out (a 10,000-line manifest: parsing dominates)

Each tool runs alternately (one warm-up run of each first); wall time, CPU time (user + system of the process
and the children it reaped, from wait4) and peak RSS of the whole process, medians (see bench/harness.py).

Usage: python bench/bench_compile.py [--runs N] [--instances N] [--no-puppet] [--write] [--allow-busy]
``--write`` replaces the "## Compile" section of bench/RESULTS.md (only on a quiet machine).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

ROOT = harness.ROOT
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


def has_catalog(sample: harness.Sample) -> str | None:
    return None if b'"resources"' in sample.stdout else "printed no catalog"


def puppet_cmd(manifest: Path, tmp: Path) -> list[str]:
    conf = tmp / "puppet"
    return ["puppet", "catalog", "find", "bench.example.com", "--terminus", "compiler",
            "--manifest", str(manifest), "--render-as", "json", "--confdir", str(conf / "etc"),
            "--vardir", str(conf / "var"), "--codedir", str(conf / "code"), "--logdir", str(conf / "log")]


def bunraku_cmd(manifest: Path, facts: Path) -> list[str]:
    exe = ROOT / ".venv" / "bin" / "bunraku"
    return [str(exe) if exe.exists() else "bunraku", "compile", str(manifest), "--node",
            "bench.example.com", "--facts", str(facts)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--instances", type=int, default=10000)
    ap.add_argument("--no-puppet", action="store_true")
    harness.add_arguments(ap)
    args = ap.parse_args()
    bench = harness.Bench(args)
    have_puppet = not args.no_puppet and shutil.which("puppet") is not None
    rows = []
    with tempfile.TemporaryDirectory(prefix="bunraku-bench-") as d:
        tmp = Path(d)
        manifests = write_manifests(tmp, args.instances)
        facts = tmp / "facts.yaml"
        facts.write_text("networking: {fqdn: bench.example.com, hostname: bench}\nos: {family: Debian}\n")
        env = dict(os.environ)
        runs = iter(range(10**6))
        for name, manifest in manifests.items():
            def cold(name: str = name) -> None:
                # cold: the parse cache (on by default) starts empty on every run, and is written
                env["BUNRAKU_PARSE_CACHE"] = str(tmp / f"parse-cache-{name}-{next(runs)}")

            commands = [harness.Command("bunraku", bunraku_cmd(manifest, facts), env=env, cwd=tmp, capture=True,
                                        prepare=cold, check=has_catalog, label=f"{name}: bunraku compile")]
            if have_puppet:
                commands.append(harness.Command("puppet", puppet_cmd(manifest, tmp), env=env, cwd=tmp, capture=True,
                                                check=has_catalog, label=f"{name}: puppet catalog find"))
            for tool, samples in bench.alternate(commands, args.runs).items():
                rows.append((name, tool, harness.summarize(samples)))
    table = harness.table(["manifest", "tool", "wall s (median)", "CPU s (median)", "peak RSS MiB"],
                          [[name, tool, f"{st.wall:.3f}", f"{st.cpu:.3f}", f"{st.rss_max_mib:.0f}"]
                           for name, tool, st in rows], align="llrrr")
    summary = []
    for name in ("loop", "explicit"):
        b = [st for n, tool, st in rows if n == name and tool == "bunraku"]
        p = [st for n, tool, st in rows if n == name and tool == "puppet"]
        if b and p:
            summary.append(f"- {name}: Bunraku is **{harness.ratio(p[0].wall, b[0].wall)}** faster than "
                           f"`puppet catalog find` in wall time (target ≥8x), {harness.ratio(p[0].cpu, b[0].cpu)} "
                           f"in CPU time, with {b[0].rss_max_mib:.0f} MiB peak memory against Puppet's "
                           f"{p[0].rss_max_mib:.0f} MiB")
    text = "\n".join([f"One defined type instantiated {args.instances} times, each a file with interpolated "
                      f"content; whole process, cold (an empty parse cache), {args.runs} runs of each tool, "
                      "alternating, after one warm-up each; medians; Puppet 7.23 `puppet catalog find --terminus "
                      "compiler`; Bunraku `bunraku compile`.", "", table, "", *summary])
    return bench.finish("Compile", text)


if __name__ == "__main__":
    sys.exit(main())
