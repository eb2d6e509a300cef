"""`bunraku apply MANIFEST` reuses the last run's catalog when nothing it was compiled from changed, and
compiles again as soon as anything did: a manifest, a module file that appeared earlier in the modulepath,
Hiera data, a template, a fact the compile read (or any fact but the few that change on every run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, bunraku

REUSED = "reusing the catalog compiled at"


class Site:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        (self.root / "etc").mkdir(parents=True)
        (self.root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
        (self.root / "etc/group").write_text("root:x:0:\n")
        self.manifest = base / "site.pp"
        self.state = base / "state"  # the host's: a state directory inside an image keeps no catalog
        self.facts = {"networking": {"fqdn": "cache.example.com"}, "os": {"family": "Debian"},
                      "system_uptime": {"seconds": 100}, "memory": {"system": {"available_bytes": 1}}}

    def run(self, *extra: str, facts: dict | None = None) -> subprocess.CompletedProcess[str]:
        facts_file = self.base / "facts.json"
        facts_file.write_text(json.dumps(facts if facts is not None else self.facts))
        return bunraku("apply", str(self.manifest), "--root", str(self.root), "--facts", str(facts_file), "-v",
                       "--state-dir", str(self.state), *extra, check=0)

    def out(self, name: str = "out") -> str:
        return (self.root / name).read_text()


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


def _reused(proc: subprocess.CompletedProcess[str]) -> bool:
    return REUSED in proc.stdout + proc.stderr


def test_an_unchanged_site_is_not_compiled_again_and_its_messages_are_replayed(site: Site) -> None:
    site.manifest.write_text("notice(\"compiled for ${facts[os][family]}\")\n"
                             "file { '/out': content => \"one\\n\" }\n")
    first = site.run()
    assert not _reused(first) and site.out() == "one\n"
    entries = list((site.state / "catalog-cache").iterdir())
    assert len(entries) == 1 and entries[0].stat().st_mode & 0o777 == 0o600
    (site.root / "out").write_text("drifted\n")
    second = site.run()
    assert _reused(second), second.stderr
    assert site.out() == "one\n"  # the reused catalog is applied: drift corrected
    assert "compiled for Debian" in second.stdout + second.stderr  # the compile's notice, replayed
    # only the facts that change on every run changed: still reused
    moved = {**site.facts, "system_uptime": {"seconds": 999}, "memory": {"system": {"available_bytes": 7}}}
    assert _reused(site.run(facts=moved))
    # any other fact: compiled again
    assert not _reused(site.run(facts={**site.facts, "os": {"family": "RedHat"}}))
    # and --no-catalog-cache compiles whatever is kept
    assert not _reused(site.run("--no-catalog-cache"))


def test_a_changed_manifest_is_compiled_again(site: Site) -> None:
    site.manifest.write_text("file { '/out': content => \"one\\n\" }\n")
    site.run()
    site.manifest.write_text("file { '/out': content => \"two\\n\" }\n")
    assert not _reused(site.run()) and site.out() == "two\n"
    assert _reused(site.run())


def test_a_module_that_appears_earlier_in_the_modulepath_is_used(site: Site) -> None:
    first, second = site.base / "m1", site.base / "m2"
    (second / "greet/manifests").mkdir(parents=True)
    (second / "greet/manifests/init.pp").write_text("class greet { file { '/out': content => \"m2\\n\" } }\n")
    first.mkdir()
    site.manifest.write_text("include greet\n")
    modulepath = f"{first}:{second}"
    site.run("--modulepath", modulepath)
    assert site.out() == "m2\n" and _reused(site.run("--modulepath", modulepath))
    # the compile looked for greet in m1 and found nothing: that absence was one of its inputs
    (first / "greet/manifests").mkdir(parents=True)
    (first / "greet/manifests/init.pp").write_text("class greet { file { '/out': content => \"m1\\n\" } }\n")
    assert not _reused(site.run("--modulepath", modulepath)) and site.out() == "m1\n"


def test_hiera_data_and_templates_are_inputs(site: Site) -> None:
    mods = site.base / "modules"
    (mods / "app/templates").mkdir(parents=True)
    (mods / "app/manifests").mkdir(parents=True)
    (mods / "app/manifests/init.pp").write_text(
        "class app(String $port) { file { '/out': content => epp('app/conf.epp', { 'port' => $port }) } }\n")
    (mods / "app/templates/conf.epp").write_text("port=<%= $port %>\n")
    (site.base / "data").mkdir()
    (site.base / "data/common.yaml").write_text("app::port: '80'\n")
    (site.base / "hiera.yaml").write_text(
        "version: 5\nhierarchy:\n  - name: node\n    path: 'nodes/%{trusted.certname}.yaml'\n"
        "  - name: common\n    path: common.yaml\n")
    site.manifest.write_text("include app\n")
    args = ("--modulepath", str(mods), "--hiera-config", str(site.base / "hiera.yaml"))
    site.run(*args)
    assert site.out() == "port=80\n" and _reused(site.run(*args))
    (site.base / "data/common.yaml").write_text("app::port: '8080'\n")
    assert not _reused(site.run(*args)) and site.out() == "port=8080\n"
    (mods / "app/templates/conf.epp").write_text("listen=<%= $port %>\n")
    assert not _reused(site.run(*args)) and site.out() == "listen=8080\n"
    assert _reused(site.run(*args))
    # a Hiera level that did not exist when the catalog was compiled
    (site.base / "data/nodes").mkdir()
    (site.base / "data/nodes/cache.example.com.yaml").write_text("app::port: '9090'\n")
    assert not _reused(site.run(*args)) and site.out() == "listen=9090\n"


def test_facts_that_change_on_every_run_count_when_the_compile_reads_them(site: Site) -> None:
    site.manifest.write_text("file { '/out': content => \"${facts['system_uptime']['seconds']}\\n\" }\n")
    site.run()
    assert site.out() == "100\n" and _reused(site.run())
    assert not _reused(site.run(facts={**site.facts, "system_uptime": {"seconds": 101}}))
    assert site.out() == "101\n"
    # reading every fact (iterating over them) makes every fact count
    site.manifest.write_text("$n = $facts.keys.length\nfile { '/out': content => \"${n}\\n\" }\n")
    site.run()
    assert _reused(site.run())
    assert not _reused(site.run(facts={**site.facts, "system_uptime": {"seconds": 5}}))


def test_a_compile_that_asked_for_the_time_is_never_reused(site: Site) -> None:
    site.manifest.write_text("$t = Timestamp.new()\nfile { '/out': content => \"${t}\\n\" }\n")
    site.run()
    before = site.out()
    assert not _reused(site.run()) and site.out() != before
    assert not (site.state / "catalog-cache").exists() or \
        not list((site.state / "catalog-cache").iterdir())


def test_a_broken_entry_is_a_miss_not_an_error(site: Site) -> None:
    site.manifest.write_text("file { '/out': content => \"one\\n\" }\n")
    site.run()
    (entry,) = (site.state / "catalog-cache").iterdir()
    entry.write_text("{not json")
    proc = site.run()
    assert not _reused(proc) and "Traceback" not in proc.stderr and site.out() == "one\n"
    assert _reused(site.run())


def test_a_reused_catalog_never_loads_the_compiler(site: Site) -> None:
    site.manifest.write_text("file { '/out': content => \"one\\n\" }\n")
    site.run()
    facts_file = site.base / "facts.json"
    code = ("import sys\nfrom cli import main\n"
            "try:\n    main([" + ", ".join(repr(a) for a in (
                "apply", str(site.manifest), "--root", str(site.root), "--facts", str(facts_file), "-v",
                "--state-dir", str(site.state))) + "])\n"
            "except SystemExit:\n    pass\n"
            "print('compiler loaded:', 'dsl.compiler' in sys.modules, 'evaluator loaded:', 'dsl.evaluator' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "compiler loaded: False evaluator loaded: False" in out, out


def test_an_image_without_a_host_state_directory_keeps_no_catalog(site: Site) -> None:
    site.manifest.write_text("file { '/out': content => \"one\\n\" }\n")
    facts_file = site.base / "facts.json"
    facts_file.write_text(json.dumps(site.facts))
    for _ in range(2):
        proc = bunraku("apply", str(site.manifest), "--root", str(site.root), "--facts", str(facts_file), "-v",
                       check=0)
        assert not _reused(proc)
    assert (site.root / "var/lib/bunraku").is_dir() and not (site.root / "var/lib/bunraku/catalog-cache").exists()
