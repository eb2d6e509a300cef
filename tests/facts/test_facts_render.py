"""Facter's human output, ``processors.isa`` and the Augeas version: pure functions on captured texts."""

from __future__ import annotations

from facts.core.augeas import parse_augeas_version
from facts.core.hardware import hardware_isa
from facts.legacy import legacy_facts
from facts.render import facter_order, render_facts, render_value

# Captured from `facter --external-dir D site`, `facter ... site e h l` and `facter ... site.nested.a.1`
# with D/site.yaml holding the mapping below.
SITE = {"name": "ams1", "racks": ["r1", "r2"], "empty": {}, "el": [],
        "nested": {"a": [1, {"z": True, "b": [], "c": 'x"y'}], "n": None, "f": 1.5, "s": "a\\b\nc"}}

SINGLE = """{
  el => [

  ],
  empty => {
  },
  name => "ams1",
  nested => {
    a => [
      1,
      {
        z => true,
        b => [

        ],
        c => "x\\"y"
      }
    ],
    f => 1.5,
    n => null,
    s => "a\\b\\nc"
  },
  racks => [
    "r1",
    "r2"
  ]
}"""

MULTI = """e => [
]
h => {
}
l => [
  "x",
  1
]
missing => {EMPTY}
site => {
  el => [
  ],
  empty => {
  },
  name => "ams1",
  nested => {
    a => [
      1,
      {
        z => true,
        b => [
        ],
        c => "x\\"y"
      }
    ],
    f => 1.5,
    n => null,
    s => "a\\b
c"
  },
  racks => [
    "r1",
    "r2"
  ]
}""".replace("{EMPTY}", "")  # Facter leaves a space after "=>" and nothing else for a missing fact


def test_single_query_value_as_facter_prints_it() -> None:
    assert render_value(facter_order(SITE)) == SINGLE
    assert render_value("hello world") == "hello world"
    assert render_value(3) == "3"
    assert render_value(None) == ""
    assert render_value([]) == "[\n\n]"
    assert render_value({}) == "{\n}"
    # A hash found inside an array keeps its order when queried alone...
    assert render_value(facter_order(SITE)["nested"]["a"][1]).splitlines()[1] == "  z => true,"


def test_several_queries_and_whole_fact_set_as_facter_prints_them() -> None:
    ordered = facter_order({"site": SITE, "l": ["x", 1], "e": [], "h": {}, "missing": None})
    assert render_facts(ordered) == MULTI
    # ...and is sorted when it is one of several.
    assert render_facts({"a.1": {"z": True, "b": 1}}) == "a.1 => {\n  b => 1,\n  z => true\n}"


def test_facter_order_sorts_hashes_but_not_inside_arrays() -> None:
    ordered = facter_order({"b": {"y": 1, "x": [{"q": 1, "p": 2}]}, "a": 1})
    assert list(ordered) == ["a", "b"] and list(ordered["b"]) == ["x", "y"]
    assert list(ordered["b"]["x"][0]) == ["q", "p"]


def test_hardware_isa_is_uname_p() -> None:
    assert hardware_isa("unknown\n", "x86_64") == "unknown"  # GNU uname on Debian/Ubuntu, as Facter reports
    assert hardware_isa("x86_64\n", "x86_64") == "x86_64"  # Fedora/RHEL's patched uname
    assert hardware_isa(None, "aarch64") == "aarch64"  # no uname to run
    assert hardware_isa("", "aarch64") == "aarch64"


def test_augeas_version_from_tool_output() -> None:
    assert parse_augeas_version("augtool 1.14.0 <http://augeas.net/>\nCopyright 2007-2016 David Lutterkort\n"
                                ) == "1.14.0"
    assert parse_augeas_version("augparse 1.12.0 <https://augeas.net/>\n") == "1.12.0"
    assert parse_augeas_version("") is None


def test_legacy_augeasversion_and_dhcp_servers() -> None:
    facts = {"augeas": {"version": "1.14.0"},
             "networking": {"hostname": "h", "dhcp": "10.0.0.1",
                            "interfaces": {"eth0": {"ip": "10.0.0.5", "dhcp": "10.0.0.1"}, "lo": {"ip": "127.0.0.1"}}}}
    legacy = legacy_facts(facts)
    assert legacy["augeasversion"] == "1.14.0"
    assert legacy["dhcp_servers"] == {"system": "10.0.0.1", "eth0": "10.0.0.1"}
    assert legacy_facts({"networking": {"interfaces": {}}})["dhcp_servers"] == {"system": None}
