"""Real collection on this machine: Facter 4's layout, value types and the legacy names."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from facts import collect_facts, query
from facts.registry import COLLECTORS


@pytest.fixture(scope="module")
def host_facts() -> dict[str, Any]:
    return collect_facts(external_dirs=[])


def test_os_layout(host_facts: dict[str, Any]) -> None:
    os_fact = host_facts["os"]
    assert os_fact["family"] == "Debian"
    assert isinstance(os_fact["name"], str) and os_fact["name"]
    assert set(os_fact["release"]) >= {"full", "major"}
    assert all(isinstance(v, str) for v in os_fact["release"].values())
    assert os_fact["hardware"] and os_fact["architecture"]
    assert os_fact["selinux"]["enabled"] in (True, False)
    assert {"id", "description"} <= set(os_fact["distro"])


def test_kernel_and_identity(host_facts: dict[str, Any]) -> None:
    assert host_facts["kernel"] == "Linux"
    assert host_facts["kernelrelease"].startswith(host_facts["kernelversion"])
    assert host_facts["kernelversion"].startswith(host_facts["kernelmajversion"])
    identity = host_facts["identity"]
    assert isinstance(identity["uid"], int) and isinstance(identity["gid"], int)
    assert identity["privileged"] is (identity["uid"] == 0)
    assert isinstance(identity["user"], str)


def test_processors_and_memory(host_facts: dict[str, Any]) -> None:
    processors = host_facts["processors"]
    assert processors["count"] >= 1
    assert processors["physicalcount"] >= 1
    assert len(processors["models"]) == processors["count"]
    memory = host_facts["memory"]["system"]
    assert memory["total_bytes"] > 0
    assert memory["total"].endswith(("iB", "bytes"))
    assert memory["capacity"].endswith("%")
    assert memory["used_bytes"] + memory["available_bytes"] == memory["total_bytes"]


def test_networking(host_facts: dict[str, Any]) -> None:
    networking = host_facts["networking"]
    lo = networking["interfaces"]["lo"]
    assert lo["ip"] == "127.0.0.1"
    assert {"address": "127.0.0.1", "netmask": "255.0.0.0", "network": "127.0.0.0"} in lo["bindings"]
    assert isinstance(lo["mtu"], int)
    assert networking["hostname"] == socket.gethostname().split(".")[0]
    assert networking["fqdn"].startswith(networking["hostname"])
    if "primary" in networking:
        assert networking["primary"] in networking["interfaces"]


def test_mountpoints_uptime_load(host_facts: dict[str, Any]) -> None:
    root = host_facts["mountpoints"]["/"]
    assert root["size_bytes"] > 0 and isinstance(root["options"], list)
    assert set(root) == {"available", "available_bytes", "capacity", "device", "filesystem", "options", "size",
                         "size_bytes", "used", "used_bytes"}
    uptime = host_facts["system_uptime"]
    assert uptime["seconds"] >= 0 and isinstance(uptime["uptime"], str)
    assert set(host_facts["load_averages"]) == {"1m", "5m", "15m"}
    assert isinstance(host_facts["timezone"], str) and host_facts["timezone"]
    assert host_facts["path"]


def test_virtual_and_versions(host_facts: dict[str, Any]) -> None:
    assert isinstance(host_facts["virtual"], str)
    assert host_facts["is_virtual"] is (host_facts["virtual"] != "physical")
    assert host_facts["python_version"].count(".") == 2
    assert host_facts["bunraku_version"]


def test_legacy_names_agree_with_structured(host_facts: dict[str, Any]) -> None:
    f = host_facts
    assert f["osfamily"] == f["os"]["family"]
    assert f["operatingsystem"] == f["os"]["name"]
    assert f["operatingsystemrelease"] == f["os"]["release"]["full"]
    assert f["operatingsystemmajrelease"] == f["os"]["release"]["major"]
    assert f["hostname"] == f["networking"]["hostname"] and f["fqdn"] == f["networking"]["fqdn"]
    assert f["ipaddress_lo"] == "127.0.0.1"
    assert "lo" in f["interfaces"].split(",")
    assert f["processorcount"] == f["processors"]["count"]
    assert f["memorysize"] == f["memory"]["system"]["total"]
    assert isinstance(f["memorysize_mb"], float)
    assert f["architecture"] == f["os"]["architecture"]
    assert f["kernel"] == "Linux"
    assert f["uptime_seconds"] == f["system_uptime"]["seconds"]
    assert f["lsbdistcodename"] == f["os"]["distro"].get("codename", f["lsbdistcodename"])


def test_no_legacy_and_no_expensive_by_default() -> None:
    facts = collect_facts(external_dirs=[], include_legacy=False)
    assert "os" in facts and "osfamily" not in facts and "ipaddress_lo" not in facts
    assert "packages" not in facts
    assert COLLECTORS["packages"].expensive


def test_query() -> None:
    facts = {"os": {"release": {"major": "12"}}, "a.b": 1, "list": [{"x": 1}, {"x": 2}], "n": None}
    assert query(facts, "os.release.major") == "12"
    assert query(facts, "a.b") == 1
    assert query(facts, "list.1.x") == 2
    assert query(facts, "list.-1.x") == 2
    assert query(facts, "list.5.x") is None
    assert query(facts, "list.x") is None
    assert query(facts, "os.nope", "dflt") == "dflt"
    assert query(facts, "os.release.major.deeper") is None
    assert query(facts, "n") is None
