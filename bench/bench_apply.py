"""Benchmark: a converged (nothing to change) and a first apply of N files, Bunraku against `puppet apply` and
CFEngine's `cf-agent`, whole processes, same machine, same run, alternating.

Puppet and Bunraku apply the same manifest (N instances of a defined type, each one `file` with content and
mode 0644, plus 2 directories); cf-agent a policy of N `files:` promises with the same content and perms on
the same kind of files (plus the 2 directories), from a private work directory (`cf-agent -K -w WORKDIR
-f POLICY`). Each tool has a target directory of its own under a temporary directory; a first apply starts
from an empty target (and empty state), a converged one finds everything in place. The N-file cases run at
--files (default 1,000) with all three tools; the big converged case at --big (default 10,000) with Bunraku
and cf-agent.

    .venv/bin/python bench/bench_apply.py [--files 1000] [--big 10000] [--repeat 3] [--no-cfengine]
                                          [--write] [--allow-busy]

When `dsl.compiler` is not importable, Bunraku applies (``--catalog``) the catalog that
`puppet catalog find` compiles from the same manifest, and the table says so. For the big converged run
Bunraku applies a catalog generated in Puppet's shape directly (compiling it with Puppet adds nothing to what
is measured). With ``--write`` the result replaces the "## Apply" section of bench/RESULTS.md (only on a
quiet machine; see bench/harness.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

REPO = harness.ROOT
BUNRAKU = harness.bunraku_command()

MANIFEST = """define bench::f(String $content) {{
  file {{ $title: ensure => file, content => $content, mode => '0644' }}
}}
file {{ ['{base}', '{base}/files']: ensure => directory }}
Integer[1, {n}].each |$i| {{
  bench::f {{ "{base}/files/f${{i}}": content => "file ${{i}}\\n" }}
}}
"""

CF_HEAD = """body common control
{{
  bundlesequence => {{ "bench" }};
}}

body perms bench_mode
{{
  mode => "0644";
  rxdirs => "false";
}}

bundle agent bench
{{
  files:
    "{base}/."
      create => "true";
    "{base}/files/."
      create => "true";
"""
CF_FILE = """    "{base}/files/f{i}"
      create => "true",
      content => "file {i}$(const.n)",
      perms => bench_mode;
"""


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


def cfengine_workdir(work: Path, name: str, base: str, n: int) -> list[str]:
    """A private CFEngine work directory holding the policy; returns the cf-agent command line. cf-agent
    validates a policy with cf-promises from WORKDIR/bin and needs a key pair in WORKDIR/ppkeys."""
    wd = work / name
    (wd / "bin").mkdir(parents=True)
    (wd / "inputs").mkdir()
    promises = shutil.which("cf-promises") or "/usr/bin/cf-promises"
    (wd / "bin" / "cf-promises").symlink_to(promises)
    subprocess.run([shutil.which("cf-key") or "/usr/bin/cf-key"], env=dict(os.environ,
                   CFENGINE_TEST_OVERRIDE_WORKDIR=str(wd)), capture_output=True, check=True)
    policy = wd / "inputs" / "promises.cf"
    with policy.open("w") as out:
        out.write(CF_HEAD.format(base=base))
        for i in range(1, n + 1):
            out.write(CF_FILE.format(base=base, i=i))
        out.write("}\n")
    return [shutil.which("cf-agent") or "/usr/bin/cf-agent", "-K", "-w", str(wd), "-f", str(policy)]


def wiper(*paths: Path) -> Callable[[], None]:
    def wipe() -> None:
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)
    return wipe


def expect_files(base: Path, n: int) -> Callable[[harness.Sample], str | None]:
    def check(_sample: harness.Sample) -> str | None:
        last = base / "files" / f"f{n}"
        try:
            if last.read_text() != f"file {n}\n" or (last.stat().st_mode & 0o777) != 0o644:
                return f"{last} is not as promised"
        except OSError as exc:
            return f"{last}: {exc.strerror}"
        return None
    return check


def compiler_available() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import dsl.compiler"], cwd=REPO, capture_output=True)
    return probe.returncode == 0


def version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.splitlines()[0] if out else "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--big", type=int, default=10000, help="files of the big converged case (0: skip it)")
    ap.add_argument("--repeat", type=int, default=3, help="measured runs of each tool and case (after a warm-up)")
    ap.add_argument("--no-cfengine", action="store_true", help="leave cf-agent out")
    ap.add_argument("--no-puppet", action="store_true", help="leave Puppet out (Bunraku against cf-agent only)")
    ap.add_argument("--no-results", action="store_true", help="print only (the default without --write)")
    harness.add_arguments(ap)
    args = ap.parse_args()
    if args.no_results:
        args.write = False
    bench = harness.Bench(args)
    use_cf = not args.no_cfengine and shutil.which("cf-agent") is not None
    if not args.no_cfengine and not use_cf:
        print("cf-agent not found (apt-get install cfengine3); leaving it out", file=sys.stderr)
    n = args.files
    work = Path(tempfile.mkdtemp(prefix="bunraku-bench-"))
    results: list[tuple[str, str, harness.Summary]] = []
    try:
        pout, bout, cout = work / "puppet-out", work / "bunraku-out", work / "cf-out"
        pman = work / "puppet.pp"
        pman.write_text(MANIFEST.format(base=pout, n=n))
        bman = work / "bunraku.pp"
        bman.write_text(MANIFEST.format(base=bout, n=n))
        use_compiler = compiler_available()
        state = work / "bunraku-state"
        if use_compiler:
            (work / "facts.json").write_text(json.dumps({"networking": {"fqdn": "bench.node"}}))
            bcmd = [*BUNRAKU, "apply", str(bman), "--state-dir", str(state), "--facts", str(work / "facts.json")]
            how = "`bunraku apply MANIFEST` as installed by pip (a first apply compiles; a converged run reuses the catalog its previous run compiled, as nothing it was compiled from changed, and checks the inputs and facts for that)"
        else:
            bcmd = [*BUNRAKU, "apply", "--catalog", str(puppet_catalog(work, bman, "bench.node")),
                    "--state-dir", str(state)]
            how = "`bunraku apply --catalog` on the catalog `puppet catalog find` compiled from the same manifest"
        pdirs = puppet_dirs(work)
        pcmd = ["puppet", "apply", str(pman), *pdirs]
        pcat = [] if args.no_puppet else \
            ["puppet", "apply", "--catalog", str(puppet_catalog(work, pman, "bench.node")), *pdirs]
        cfcmd = cfengine_workdir(work, "cf-wd", str(cout), n) if use_cf else []

        first = [harness.Command("puppet", pcmd, ok=(0, 2), prepare=wiper(pout), check=expect_files(pout, n),
                                 label=f"first apply, {n} files: puppet apply site.pp"),
                 harness.Command("bunraku", bcmd, ok=(0, 2), prepare=wiper(bout, state), check=expect_files(bout, n),
                                 label=f"first apply, {n} files: bunraku apply")]
        if args.no_puppet:
            first = first[1:]
        if use_cf:
            first.append(harness.Command("cf-agent", cfcmd, prepare=wiper(cout), check=expect_files(cout, n),
                                         label=f"first apply, {n} files: cf-agent"))
        for name, samples in bench.alternate(first, args.repeat).items():
            results.append((f"first apply, {n} files", name, harness.summarize(samples, (0, 2))))

        converged = [harness.Command("puppet", pcmd, ok=(0, 2), label=f"converged, {n} files: puppet apply site.pp"),
                     harness.Command("puppet --catalog", pcat, ok=(0, 2),
                                     label=f"converged, {n} files: puppet apply --catalog"),
                     harness.Command("bunraku", bcmd, ok=(0, 2), label=f"converged, {n} files: bunraku apply")]
        if args.no_puppet:
            converged = converged[2:]
        if use_cf:
            converged.append(harness.Command("cf-agent", cfcmd, label=f"converged, {n} files: cf-agent"))
        for name, samples in bench.alternate(converged, args.repeat).items():
            results.append((f"converged, {n} files", name, harness.summarize(samples, (0, 2))))

        if args.big:
            big_out, big_cat = work / "big-out", work / "big.catalog.json"
            synthetic_catalog(str(big_out), args.big, big_cat)
            big = [harness.Command("bunraku", [*BUNRAKU, "apply", "--catalog", str(big_cat), "--state-dir",
                                               str(work / "big-state")], ok=(0, 2), check=expect_files(big_out, args.big),
                                   label=f"converged, {args.big} files: bunraku apply --catalog")]
            if use_cf:
                big_cf = work / "big-cf-out"
                big.append(harness.Command("cf-agent", cfengine_workdir(work, "big-cf-wd", str(big_cf), args.big),
                                           check=expect_files(big_cf, args.big),
                                           label=f"converged, {args.big} files: cf-agent"))
            for name, samples in bench.alternate(big, args.repeat).items():
                results.append((f"converged, {args.big} files", name, harness.summarize(samples, (0, 2))))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    shown = {"puppet": "puppet apply site.pp", "puppet --catalog": "puppet apply --catalog", "bunraku": "bunraku",
             "cf-agent": "cf-agent -K"}
    rows = [[case, shown[tool], f"{st.wall:.3f}", f"{st.wall_min:.3f}–{st.wall_max:.3f}", f"{st.cpu:.3f}",
             f"{st.rss_mib:.0f}"] for case, tool, st in results]
    by = {(case, tool): st for case, tool, st in results}
    lines = [f"{n} instances of a defined type each holding one `file` (content + mode 0644) plus 2 directories; "
             f"cf-agent: the same files as {n} `files:` promises (content, perms 0644) from a private work "
             f"directory. Whole processes, {args.repeat} runs of each tool per case, alternating, after one warm-up "
             f"each; medians. CPU = user + system of the process and the children it reaped (wait4). "
             f"Puppet {version(['puppet', '--version'])}"
             + (f"; {version(['cf-agent', '--version'])}" if use_cf else "")
             + f"; Bunraku runs {how}" + (" (Puppet left out)" if args.no_puppet else "")
             + (f"; in the {args.big}-file case Bunraku applies a generated catalog in Puppet's shape "
                "(`bunraku apply --catalog`)." if args.big else "."), "",
             harness.table(["case", "tool", "wall s (median)", "wall min–max", "CPU s (median)", "peak RSS MiB"],
                           rows, align="llrrrr"), "",
             "Ratios are the other tool's median over Bunraku's: above 1.0x Bunraku is faster or cheaper.", ""]

    def compare(case: str, baseline: str, what: str, target: str = "") -> None:
        ours, theirs = by.get((case, "bunraku")), by.get((case, baseline))
        if ours and theirs:
            lines.append(f"- {case}, {what} ÷ bunraku: wall **{harness.ratio(theirs.wall, ours.wall)}**, "
                         f"CPU {harness.ratio(theirs.cpu, ours.cpu)}{target}")

    compare(f"converged, {n} files", "puppet", "`puppet apply`", " (target ≥15x)")
    compare(f"converged, {n} files", "puppet --catalog", "`puppet apply --catalog` (no compile, no facts)")
    compare(f"converged, {n} files", "cf-agent", "`cf-agent`", " (target: no slower, ≥1.0x)")
    compare(f"first apply, {n} files", "puppet", "`puppet apply`", " (target ≥5x)")
    compare(f"first apply, {n} files", "cf-agent", "`cf-agent`")
    if args.big:
        compare(f"converged, {args.big} files", "cf-agent", "`cf-agent`")
        big_st = by.get((f"converged, {args.big} files", "bunraku"))
        if big_st:
            lines.append(f"- {args.big} files converged, bunraku: **{big_st.wall:.2f} s** wall, {big_st.cpu:.2f} s CPU "
                         "(target < 2 s)")
    return bench.finish("Apply", "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
