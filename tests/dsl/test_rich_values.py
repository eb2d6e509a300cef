"""SemVer, SemVerRange, Timespan and Timestamp as values: how they land in a catalog (against Puppet 7
itself when it is installed), as typed class parameters, the one-line errors a user gets, ``Timestamp()``
as the current time, and the round trip of a Timespan through its own string form."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from dsl.compiler import CompileRequest, compile_catalog
from dsl.errors import DslError
from dsl.semver import Version, VersionRange
from dsl.timevalues import Timespan, format_timespan, parse_timespan

MANIFEST = """\
notify { 'a':
  message => [SemVer('1.2.3'), SemVerRange('>=1.0.0'), Timespan(60), Timestamp(0), {k => Timespan(1.5)}],
}
notify { 'b': message => Timestamp('2020-01-01', '%F') + Timespan('1-02:03:04') }
notify { 'c': message => SemVer('1.2.3-rc.1+b5') }
notify { "t${Timespan(2)}": message => "${SemVer('2.0.0')} ${Timespan(-1.5)}" }
notify { 'd': message => [SemVer('1.10.0'), SemVer('1.9.0-rc1'), SemVer('1.9.0')].sort }
"""

_PUPPET_CATALOG = """\
require 'puppet'
require 'json'
Puppet.initialize_settings(['--color', 'false'])
node = Puppet::Node.new('n1')
Puppet[:code] = File.read(ARGV[0])
cat = Puppet::Resource::Catalog.indirection.find('n1', use_node: node)
puts JSON.generate(cat.to_data_hash['resources'].select { |r| r['type'] == 'Notify' })
"""


def _bunraku_notify_params(tmp_path: Path, source: str) -> dict[str, Any]:
    site = tmp_path / "site.pp"
    site.write_text(source)
    catalog = compile_catalog(CompileRequest.from_cli(manifest=site, node="n1", facts={})).to_dict()
    return {r["title"]: r["parameters"] for r in catalog["resources"] if r["type"] == "Notify"}


def test_rich_values_become_their_strings_in_a_catalog(tmp_path: Path) -> None:
    params = _bunraku_notify_params(tmp_path, MANIFEST)
    assert params["a"]["message"] == ["1.2.3", ">=1.0.0", "0-00:01:00.0", "1970-01-01T00:00:00.000000000 UTC",
                                      {"k": "0-00:00:01.5"}]
    assert params["b"]["message"] == "2020-01-02T02:03:04.000000000 UTC"
    assert params["c"]["message"] == "1.2.3-rc.1+b5"
    assert params["t0-00:00:02.0"]["message"] == "2.0.0 -0-00:00:01.5"
    assert params["d"]["message"] == ["1.9.0-rc1", "1.9.0", "1.10.0"]


@pytest.mark.skipif(shutil.which("ruby") is None or shutil.which("puppet") is None, reason="Puppet is absent")
def test_catalog_parameters_are_what_puppet_writes(tmp_path: Path) -> None:
    ours = _bunraku_notify_params(tmp_path, MANIFEST)
    script = tmp_path / "catalog.rb"
    script.write_text(_PUPPET_CATALOG)
    proc = subprocess.run(["ruby", str(script), str(tmp_path / "site.pp")], capture_output=True, text=True,
                          timeout=120, check=True)
    theirs = {r["title"]: r["parameters"] for r in json.loads(proc.stdout.strip().splitlines()[-1])}
    assert ours == theirs


def test_typed_class_parameters_take_and_check_rich_values(tmp_path: Path) -> None:
    source = """\
class app(SemVer['>=1.0.0 <2.0.0'] $version, Timespan[0, 3600] $timeout = Timespan(30)) {
  notify { 'app': message => "${version} ${timeout} ${$timeout * 2}" }
}
class { 'app': version => SemVer('1.4.0') }
"""
    assert _bunraku_notify_params(tmp_path, source)["app"]["message"] == "1.4.0 0-00:00:30.0 0-00:01:00.0"
    site = tmp_path / "site.pp"
    for bad, fragment in (("'1.4.0'", "got String"), ("SemVer('2.0.0')", "SemVer")):
        site.write_text(source.replace("SemVer('1.4.0')", bad))
        with pytest.raises(DslError) as info:
            compile_catalog(CompileRequest.from_cli(manifest=site, node="n1", facts={}))
        line = info.value.format_line()
        assert "\n" not in line and "version" in line and fragment in line, line


@pytest.mark.parametrize(("expr", "message"), [
    ("SemVer('1.2')", "The string '1.2' cannot be converted to a SemVer"),
    ("SemVerRange('v1')", 'Unparsable version range: "v1"'),
    ("Timespan('03:04')", "Unable to parse '03:04' using any of the formats"),
    ("Timestamp('2020-13-01', '%F')", "Unable to parse '2020-13-01' using format '%F'"),
    ("Timestamp(0) + Timestamp(1)", "A Timestamp cannot be added to a Timestamp"),
    ("Timespan(1).strftime('%Y')", "Bad format specifier '%' in '%Y', at position 1"),
    ("Timestamp(0).strftime('%F', 'Nowhere/Land')", "Illegal timezone 'Nowhere/Land'"),
])
def test_a_bad_value_is_one_positioned_line(tmp_path: Path, expr: str, message: str) -> None:
    site = tmp_path / "site.pp"
    site.write_text(f"# a comment\n$x = {expr}\n")
    with pytest.raises(DslError) as info:
        compile_catalog(CompileRequest.from_cli(manifest=site, node="n1", facts={}))
    line = info.value.format_line()
    assert line.startswith(f"{site}:2:") and ": error: " in line and "\n" not in line, line
    assert message in line and "internal error" not in line, line


def test_timestamp_without_argument_is_now(tmp_path: Path) -> None:
    before = time.time()
    params = _bunraku_notify_params(tmp_path, "notify { 'now': message => Integer(Timestamp()) }\n")
    assert before - 1 <= params["now"]["message"] <= time.time() + 1


def test_a_timespan_reads_back_its_own_string_form() -> None:
    # Puppet prints the fraction as a number without its trailing zeros (0.05 s prints as '.5'), so only a
    # fraction of zero or of at least a tenth of a second survives the round trip; those always do
    rng = random.Random(7)
    for _ in range(500):
        frac = rng.choice([0, rng.randint(10 ** 8, 10 ** 9 - 1)])
        span = Timespan(rng.choice([1, -1]) * (rng.randint(0, 10 ** 7) * 10 ** 9 + frac))
        assert parse_timespan(str(span)).nsecs == span.nsecs, str(span)
        assert parse_timespan(format_timespan(span, "%H:%M:%S.%-N"), ["%H:%M:%S.%-N"]).nsecs == span.nsecs


def test_versions_order_as_semver_two_says() -> None:
    texts = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
             "1.0.0-rc.1", "1.0.0", "1.2.0", "1.10.0", "2.0.0"]
    shuffled = [Version.parse(t) for t in texts]
    random.Random(3).shuffle(shuffled)
    assert [str(v) for v in sorted(shuffled)] == texts
    assert VersionRange.parse(">=1.0.0-alpha <1.0.0").include(Version.parse("1.0.0-beta"))
    assert not VersionRange.parse(">=0.9.0").include(Version.parse("1.0.0-rc.1"))
