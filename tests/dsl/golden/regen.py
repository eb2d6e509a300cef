#!/usr/bin/env python3
"""Regenerate the expected catalogs of the golden suite and of ``examples/`` with Puppet 7.23.

Usage (from anywhere; needs ``/usr/bin/puppet``, i.e. Debian's ``puppet-agent`` package)::

    .venv/bin/python tests/dsl/golden/regen.py              # golden cases, error cases and examples
    .venv/bin/python tests/dsl/golden/regen.py NAME...      # only these golden/error cases
    .venv/bin/python tests/dsl/golden/regen.py --examples   # only examples/expected

Tests never run Puppet; they read the JSON this script writes.

How Puppet is made deterministic
--------------------------------
Every compile runs in a fresh private tree under /tmp (``--confdir``, ``--vardir``, ``--codedir``,
``--environmentpath``, ``--basemodulepath``, ``--vendormoduledir``), so nothing of the host's Puppet
setup (e.g. the Debian modules symlinked into /usr/share/puppet/modules) leaks in and nothing is written
outside /tmp. Debian's puppet-agent lacks the core types that Puppet's own AIO package vendors as
modules (cron, ssh_authorized_key, host, mount ...): install ``puppet-module-puppetlabs-cron-core``,
``-sshkeys-core``, ``-host-core``, ``-mount-core`` etc.; the script puts them on ``--vendormoduledir``
as AIO does. stdlib is deliberately *not* on any path.

Facts are injected with the **yaml facts terminus** (``--facts_terminus yaml``): the facts file is
written as a ``Puppet::Node::Facts`` YAML document to ``$vardir/client_yaml/facts/<node>.yaml``
(``clientyamldir``; the terminus reads ``yamldir`` only when Puppet runs as a server). Puppet then uses
exactly those facts and does not run Facter for the node at all, so host facts cannot leak into the
catalog (unlike external facts in /etc/facter/facts.d, which only override the facts they name).

The one fact the script adds is ``clientcert: <node>``: a real agent adds it to the facts it sends,
and ``$trusted['certname']`` (and so ``%{trusted.certname}`` in hiera.yaml) comes from it when
compiling locally. Bunraku sets ``$trusted['certname']`` from the node name, which is equivalent.

``puppet catalog find`` prints a ``Notice:`` line before the JSON on stdout; the JSON is the first line
that starts with ``{``.

Normalisation (see ``tests/dsl/catalog_compare.py``): ``version``, ``catalog_uuid``, ``code_id`` and
``kind`` dropped; ``Class[Settings]``, its edge and the ``settings`` class/tag dropped; ``file`` paths
relative to the golden directory (golden cases) or to the environment directory (examples).

Error cases (``golden/errors/*.pp``) are compiled the same way; Puppet's first error message, line and
column go to ``golden/errors/expected.yaml``.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from catalog_compare import (  # noqa: E402
    GOLDEN_NODE,
    CompileCase,
    example_cases,
    golden_cases,
    load_facts,
    normalise_catalog,
)

log = logging.getLogger("regen")

PUPPET = "/usr/bin/puppet"
#: cases compiled as Puppet's server serves a catalog to an agent (rich data: a Deferred as
#: ``{"__ptype": "Deferred", ...}``), not as ``--render-as json`` prints it (their string form)
RENDER_AS = {"deferred_values": "rich_data_json"}
#: The core types Puppet's AIO packages vendor as modules (cron, ssh_authorized_key, host, mount ...).
#: Debian ships them as puppet-module-puppetlabs-*-core; we put them on --vendormoduledir like AIO does.
MODULES_AVAILABLE = Path("/usr/share/puppet/modules.available")
VENDORED_MODULES = {
    name: MODULES_AVAILABLE / f"puppetlabs-{name.replace('_', '-')}"
    for name in (
        "augeas_core",
        "cron_core",
        "host_core",
        "mailalias_core",
        "mount_core",
        "selinux_core",
        "sshkeys_core",
    )
}
ERROR_RE = re.compile(r"^Error: (?P<msg>.*)$", re.MULTILINE)
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
POS_RE = re.compile(
    r"\s*\((?:file: (?P<file>[^,)]+)(?:, )?)?(?:line: (?P<line>\d+))?(?:, column: (?P<col>\d+))?\)"
)


class PuppetRun:
    """One private Puppet tree under /tmp for a compile."""

    def __init__(self, node: str, facts: dict[str, Any]) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bunraku-regen-"))
        self.node = node
        for sub in ("confdir", "vardir/client_yaml/facts", "codedir", "envs/production", "empty", "vendor"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for name, package_dir in VENDORED_MODULES.items():
            if package_dir.is_dir():
                (self.root / "vendor" / name).symlink_to(package_dir)
        values = dict(facts)
        values["clientcert"] = node
        doc = {"name": node, "values": values}
        text = yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)
        (self.root / "vardir/client_yaml/facts" / f"{node}.yaml").write_text(
            "--- !ruby/object:Puppet::Node::Facts\n" + text, encoding="utf-8"
        )

    def use_environment(self, env_dir: Path) -> None:
        """Make ``env_dir`` the ``production`` environment (a symlink; Puppet keeps the link path)."""
        prod = self.root / "envs" / "production"
        prod.rmdir()
        prod.symlink_to(env_dir.resolve())

    @property
    def env_dir(self) -> Path:
        return self.root / "envs" / "production"

    def compile(
        self, manifest: Path | None, basemodulepath: list[Path], hiera_config: Path | None,
        render_as: str = "json",
    ) -> tuple[dict[str, Any] | None, str]:
        args = [
            PUPPET, "catalog", "find", self.node,
            "--terminus", "compiler", "--render-as", render_as,
            "--facts_terminus", "yaml",
            "--confdir", str(self.root / "confdir"),
            "--vardir", str(self.root / "vardir"),
            "--codedir", str(self.root / "codedir"),
            "--environmentpath", str(self.root / "envs"),
            "--environment", "production",
            "--basemodulepath", ":".join(str(p) for p in basemodulepath) or str(self.root / "empty"),
            "--vendormoduledir", str(self.root / "vendor"),
            "--color", "false",
        ]  # fmt: skip
        if manifest is not None:
            args += ["--manifest", str(manifest)]
        if hiera_config is not None:
            args += ["--hiera_config", str(hiera_config)]
        proc = subprocess.run(args, capture_output=True, text=True, check=False, cwd=self.root)
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                return json.loads(line), proc.stderr
        return None, proc.stdout + proc.stderr

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def compile_case(case: CompileCase) -> tuple[dict[str, Any] | None, str, PuppetRun]:
    run = PuppetRun(case.node, case.facts())
    if case.env_dir is not None:
        run.use_environment(case.env_dir)
        # the environment's own modules/ is on its modulepath already
        catalog, err = run.compile(None, [], None)
    else:
        catalog, err = run.compile(case.manifest, case.modulepath, case.hiera_config,
                                   RENDER_AS.get(case.name, "json"))
    return catalog, err, run


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def regen_case(case: CompileCase) -> bool:
    catalog, err, run = compile_case(case)
    try:
        if catalog is None:
            log.error("%s: Puppet failed:\n%s", case.name, ANSI_RE.sub("", err))
            return False
        bases = list(case.bases)
        if case.env_dir is not None:
            # Puppet reports files through the symlinked environment path
            prefix = bases[0][1] if bases else ""
            rel = case.env_dir.resolve().relative_to(bases[0][0].resolve()) if bases else Path()
            bases.insert(0, (run.env_dir, str(Path(prefix) / rel) if str(rel) != "." else prefix))
        write_json(case.expected, normalise_catalog(catalog, bases))
        for line in ANSI_RE.sub("", err).splitlines():
            if line.startswith("Warning:"):
                log.warning("%s: %s", case.name, line)
        return True
    finally:
        run.cleanup()


def parse_error(text: str, golden_dir: Path) -> dict[str, Any]:
    text = ANSI_RE.sub("", text)
    match = ERROR_RE.search(text)
    if match is None:
        return {
            "message": text.strip().splitlines()[-1] if text.strip() else "",
            "line": None,
            "column": None,
        }
    msg = match.group("msg")
    msg = re.sub(r"^Could not call 'find' on 'catalog': ", "", msg)
    msg = re.sub(r" on node \S+$", "", msg)
    line = col = None
    file = None
    positions = list(POS_RE.finditer(msg))
    if positions:
        pos = positions[-1]
        file = pos.group("file")
        line = int(pos.group("line")) if pos.group("line") else None
        col = int(pos.group("col")) if pos.group("col") else None
    if positions and positions[-1].end() == len(msg):
        msg = msg[: positions[-1].start()]
    # positions inside the message (e.g. "already declared at (file: ...)") keep golden-relative paths
    msg = msg.replace(str(golden_dir) + "/", "")
    if file and file.startswith(str(golden_dir)):
        file = str(Path(file).relative_to(golden_dir))
    return {"message": msg.strip(), "file": file, "line": line, "column": col}


def regen_errors(golden_dir: Path, only: set[str]) -> bool:
    err_dir = golden_dir / "errors"
    expected_file = err_dir / "expected.yaml"
    expected: dict[str, Any] = {}
    if expected_file.exists():
        expected = yaml.safe_load(expected_file.read_text(encoding="utf-8")) or {}
    present = {p.stem for p in err_dir.glob("*.pp")}
    expected = {k: v for k, v in expected.items() if k in present}
    ok = True
    facts = load_facts(golden_dir / "facts.yaml")
    for manifest in sorted(err_dir.glob("*.pp")):
        if only and manifest.stem not in only:
            continue
        run = PuppetRun(GOLDEN_NODE, facts)
        try:
            catalog, err = run.compile(manifest, [golden_dir / "modules"], None)
        finally:
            run.cleanup()
        if catalog is not None:
            log.error("%s: expected a compile error, Puppet compiled it", manifest.name)
            ok = False
            continue
        expected[manifest.stem] = parse_error(err, golden_dir)
    header = (
        "# Puppet 7.23's errors for golden/errors/*.pp (written by regen.py). Reference only: Bunraku's\n"
        "# messages are its own, but it must fail and report the same line and column.\n"
    )
    expected_file.write_text(
        header + yaml.safe_dump(expected, sort_keys=True, allow_unicode=True, width=1000), encoding="utf-8"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="only these golden/error cases")
    parser.add_argument("--examples", action="store_true", help="only examples/expected")
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    only = set(opts.names)
    ok = True
    if not opts.examples:
        for case in golden_cases(HERE):
            if only and case.name not in only:
                continue
            log.info("golden %s", case.name)
            ok &= regen_case(case)
        ok &= regen_errors(HERE, only)
    if opts.examples or not only:
        for case in example_cases():
            log.info("example %s", case.name)
            ok &= regen_case(case)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
