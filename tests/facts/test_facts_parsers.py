"""Every pure parser, on texts captured from Debian 12, Ubuntu 22.04, Rocky 9 and Alpine 3.19 hosts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from facts_testdata import DATA, DISTROS, Captured, host

from facts.core import hardware, network, operating_system, packages, ssh, storage, system, virtual
from facts.legacy import legacy_facts
from facts.units import bytes_to_human, filesystem_capacity, hertz_to_human, memory_capacity

MACHINES = {"debian12": "x86_64", "ubuntu2204": "x86_64", "rocky9": "x86_64", "alpine319": "aarch64"}


def os_of(h: Captured) -> dict[str, Any]:
    selinux = operating_system.selinux_fact(h.line("selinux-enforce"), h.text("selinux-config"),
                                            h.line("selinux-policyvers"))
    return operating_system.os_fact(operating_system.parse_os_release(h.text("os-release") or ""),
                                    machine=MACHINES[h.name], debian_version=h.line("debian_version"),
                                    redhat_release=h.line("redhat-release"), selinux=selinux)


def networking_of(h: Captured, hostname: str = "web01") -> dict[str, Any]:
    raw = network.parse_ip_json(h.text("ip-addr.json") or "[]")
    network.merge_inet6_flags(raw, network.parse_if_inet6(h.text("if_inet6") or ""), replace=False)
    return network.networking_fact(raw, primary=network.parse_default_route(h.text("route") or ""),
                                   hostname=hostname, fqdn=None,
                                   domain=network.parse_resolv_conf_domain(h.text("resolv.conf") or ""))


# -- units ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("num", "text"), [
    (0, "0 bytes"), (1023, "1023 bytes"), (1024, "1.00 KiB"), (4096, "4.00 KiB"),
    (25276510208, "23.54 GiB"), (656961536, "626.53 MiB"), (1077248, "1.03 MiB"),
    (274877906944, "256.00 GiB"), (1024**2 - 1, "1.00 MiB"), (3 * 1024**4, "3.00 TiB"),
])
def test_bytes_to_human_matches_facter(num: int, text: str) -> None:
    assert bytes_to_human(num) == text


def test_speed_and_capacity_formats() -> None:
    assert hertz_to_human(2_600_000_000) == "2.60 GHz"
    assert hertz_to_human(2_494_000_000) == "2.49 GHz"
    assert hertz_to_human(800_000_000) == "800.00 MHz"
    assert hertz_to_human(0) is None
    assert memory_capacity(656961536, 25276510208) == "2.60%"
    assert memory_capacity(0, 100) == "0.00%"
    assert filesystem_capacity(0, 0) == "100%"
    assert filesystem_capacity(0, 10) == "0%"
    assert filesystem_capacity(23902031872, 23902031872 + 85042262016) == "21.94%"


# -- os ------------------------------------------------------------------------------------------
def test_os_release_parsing_handles_quotes_and_comments() -> None:
    parsed = operating_system.parse_os_release('# c\nNAME="Rocky Linux"\nID=rocky\nX=\'single\'\n\nbad line\n')
    assert parsed == {"NAME": "Rocky Linux", "ID": "rocky", "X": "single"}


@pytest.mark.parametrize(("distro", "name", "family", "release", "codename", "architecture"), [
    ("debian12", "Debian", "Debian", {"full": "12.5", "major": "12", "minor": "5"}, "bookworm", "amd64"),
    ("ubuntu2204", "Ubuntu", "Debian", {"full": "22.04", "major": "22.04"}, "jammy", "amd64"),
    ("rocky9", "Rocky", "RedHat", {"full": "9.3", "major": "9", "minor": "3"}, "Blue Onyx", "x86_64"),
    ("alpine319", "Alpine", "Alpine", {"full": "3.19.1", "major": "3", "minor": "19"}, None, "aarch64"),
])
def test_os_fact(distro: str, name: str, family: str, release: dict[str, str], codename: str | None,
                 architecture: str) -> None:
    fact = os_of(host(distro))
    assert fact["name"] == name
    assert fact["family"] == family
    assert fact["release"] == release
    assert fact["architecture"] == architecture
    assert fact["hardware"] == MACHINES[distro]
    assert fact["distro"].get("codename") == codename
    assert fact["distro"]["release"] == release
    assert fact["distro"]["description"]


def test_os_names_follow_facter() -> None:
    name = operating_system.os_name
    assert name({"NAME": "Red Hat Enterprise Linux"}) == "RedHat"
    assert name({"NAME": "Debian GNU/Linux"}) == "Debian"
    assert name({"NAME": "CBL-Mariner"}) == "CBL-Mariner"
    assert name({"NAME": "Arch Linux"}) == "Archlinux"  # Facter joins, then capitalizes
    assert operating_system.os_family({"ID": "almalinux", "ID_LIKE": "rhel centos fedora"}, "AlmaLinux") == "RedHat"
    assert operating_system.parse_redhat_release("CentOS Stream release 9") == ("9", None)


def test_selinux_fact() -> None:
    rocky = os_of(host("rocky9"))["selinux"]
    assert rocky == {"enabled": True, "enforced": True, "current_mode": "enforcing", "config_mode": "enforcing",
                     "config_policy": "targeted", "policy_version": "33"}
    assert operating_system.selinux_fact(None, None, None) == {"enabled": False}
    assert operating_system.selinux_fact("0", "SELINUX=permissive\n", None)["current_mode"] == "permissive"


# -- processors, memory --------------------------------------------------------------------------
@pytest.mark.parametrize(("distro", "count", "physical", "speed", "model"), [
    ("debian12", 4, 2, "2.49 GHz", "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"),
    ("ubuntu2204", 2, 1, "2.80 GHz", "AMD EPYC 7R32"),
    ("rocky9", 2, 2, "2.29 GHz", "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz"),
    ("alpine319", 2, 1, None, "0xd0c"),
])
def test_processors_fact(distro: str, count: int, physical: int, speed: str | None, model: str) -> None:
    h = host(distro)
    fact = hardware.processors_fact(hardware.parse_cpuinfo(h.text("cpuinfo") or ""), machine=MACHINES[distro])
    assert fact["count"] == count
    assert fact["physicalcount"] == physical
    assert fact.get("speed") == speed
    assert fact["models"] == [model] * count
    assert fact["isa"] == MACHINES[distro]


def test_physical_count_falls_back_to_sysfs_package_ids() -> None:
    cpus = [{"processor": "0"}, {"processor": "1"}, {"processor": "2"}]
    assert hardware.processors_fact(cpus, machine="aarch64", package_ids=["0", "0", "1"])["physicalcount"] == 2


@pytest.mark.parametrize(("distro", "total", "capacity", "swap"), [
    ("debian12", "7.76 GiB", "10.24%", {"total": "977.00 MiB", "used": "2.25 MiB", "capacity": "0.23%"}),
    ("ubuntu2204", "3.78 GiB", "31.11%", None),
    ("rocky9", "15.36 GiB", "8.14%", {"total": "8.00 GiB", "used": "0 bytes", "capacity": "0.00%"}),
    ("alpine319", "992.03 MiB", "11.20%", {"total": "512.00 MiB", "used": "256.00 MiB", "capacity": "50.00%"}),
])
def test_memory_fact(distro: str, total: str, capacity: str, swap: dict[str, str] | None) -> None:
    meminfo = hardware.parse_meminfo(host(distro).text("meminfo") or "")
    fact = hardware.memory_fact(meminfo)
    system_mem = fact["system"]
    assert system_mem["total"] == total
    assert system_mem["capacity"] == capacity
    assert system_mem["total_bytes"] == meminfo["MemTotal"]
    assert system_mem["used_bytes"] + system_mem["available_bytes"] == system_mem["total_bytes"]
    assert isinstance(system_mem["total_bytes"], int)
    if swap is None:
        assert "swap" not in fact
    else:
        assert {k: fact["swap"][k] for k in swap} == swap


def test_memory_without_memavailable_uses_free_buffers_cached() -> None:
    meminfo = hardware.parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n")
    assert hardware.memory_fact(meminfo)["system"]["available_bytes"] == 400 * 1024


# -- mounts, uptime, load ------------------------------------------------------------------------
def test_mounts_are_parsed_and_filtered_like_facter() -> None:
    mounts = storage.parse_mounts(host("debian12").text("mounts") or "")
    kept = [m.path for m in mounts if storage.keeps_mount(m)]
    assert kept == ["/dev", "/dev/pts", "/run", "/", "/dev/shm", "/boot/efi", "/srv/my share"]
    root = next(m for m in mounts if m.path == "/")
    assert root == storage.Mount("/dev/vda1", "/", "ext4", ["rw", "relatime", "errors=remount-ro"])


@pytest.mark.parametrize("distro", DISTROS)
def test_every_captured_mount_table_keeps_root(distro: str) -> None:
    mounts = storage.parse_mounts(host(distro).text("mounts") or "")
    assert "/" in [m.path for m in mounts if storage.keeps_mount(m)]
    assert all(not m.path.startswith("/proc") for m in mounts if storage.keeps_mount(m))


def test_mountpoint_fact_shape_and_root_device() -> None:
    mount = storage.Mount("/dev/root", "/", "ext4", ["rw"])
    fact = storage.mountpoint_fact(mount, size=270553174016, available=85042262016, used=23902031872,
                                   root_device=storage.root_device_from_cmdline("BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro"))
    assert fact == {"available": "79.20 GiB", "available_bytes": 85042262016, "capacity": "21.94%",
                    "device": "/dev/vda1", "filesystem": "ext4", "options": ["rw"], "size": "251.97 GiB",
                    "size_bytes": 270553174016, "used": "22.26 GiB", "used_bytes": 23902031872}


def test_disk_fact() -> None:
    assert storage.disk_fact(sectors=536870912, rotational="1", vendor="0x1af4", model=None, serial=None) == {
        "size": "256.00 GiB", "size_bytes": 274877906944, "type": "hdd", "vendor": "0x1af4"}
    assert storage.disk_fact(sectors=2048, rotational="0", vendor=None, model="Samsung SSD", serial="S1")["type"] == "ssd"


@pytest.mark.parametrize(("distro", "seconds", "text", "days", "hours"), [
    ("debian12", 95312, "1 day", 1, 26),
    ("ubuntu2204", 4251, "1:10 hours", 0, 1),
    ("rocky9", 2937600, "34 days", 34, 816),
    ("alpine319", 59, "0:00 hours", 0, 0),
])
def test_uptime(distro: str, seconds: int, text: str, days: int, hours: int) -> None:
    parsed = system.parse_uptime(host(distro).text("uptime") or "")
    assert parsed == seconds
    assert system.uptime_fact(parsed) == {"seconds": seconds, "uptime": text, "days": days, "hours": hours}


def test_load_averages(captured: Captured) -> None:
    load = system.parse_loadavg(captured.text("loadavg") or "")
    assert set(load) == {"1m", "5m", "15m"}
    assert all(isinstance(v, float) for v in load.values())
    assert system.parse_loadavg("1.52 0.98 0.77 3/412 1187") == {"1m": 1.52, "5m": 0.98, "15m": 0.77}


def test_filesystems() -> None:
    text = "nodev\tsysfs\nnodev\ttmpfs\n\text3\n\text2\n\text4\n\tsquashfs\n\tfuseblk\n\txfs\n\terofs\n\tbtrfs\n"
    assert system.parse_filesystems(text) == "btrfs,erofs,ext2,ext3,ext4,squashfs,xfs"


def test_kernel_facts() -> None:
    assert system.kernel_facts("Linux", "6.1.0-18-amd64") == {
        "kernel": "Linux", "kernelrelease": "6.1.0-18-amd64", "kernelversion": "6.1.0", "kernelmajversion": "6.1"}
    assert system.kernel_facts("Linux", "5.14.0-362.8.1.el9_3.x86_64")["kernelmajversion"] == "5.14"


# -- networking ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("distro", "primary", "ip", "ip6", "mac"), [
    ("debian12", "ens3", "10.0.2.15", "2001:db8:1::15", "52:54:00:12:34:56"),
    ("ubuntu2204", "eth0", "172.17.0.2", None, "02:42:ac:11:00:02"),
    ("rocky9", "ens192", "192.168.10.21", "fe80::250:56ff:fea1:b2c3", "00:50:56:a1:b2:c3"),
    ("alpine319", "eth0", "10.140.25.7", "fd42:9a7d:1c2b:3e4f:216:3eff:fe5a:7b9c", "00:16:3e:5a:7b:9c"),
])
def test_networking_fact(distro: str, primary: str, ip: str, ip6: str | None, mac: str) -> None:
    fact = networking_of(host(distro))
    assert fact["primary"] == primary
    assert fact["ip"] == ip
    assert fact.get("ip6") == ip6
    assert fact["mac"] == mac
    lo = fact["interfaces"]["lo"]
    assert lo["ip"] == "127.0.0.1"
    assert lo["bindings"] == [{"address": "127.0.0.1", "netmask": "255.0.0.0", "network": "127.0.0.0"}]
    assert "mac" not in lo
    assert isinstance(lo["mtu"], int)


def test_networking_details_on_debian() -> None:
    fact = networking_of(host("debian12"))
    ens3 = fact["interfaces"]["ens3"]
    assert [b["address"] for b in ens3["bindings"]] == ["10.0.2.15", "10.0.2.100"]
    assert ens3["bindings6"][0] == {"address": "2001:db8:1::15", "netmask": "ffff:ffff:ffff:ffff::",
                                    "network": "2001:db8:1::", "scope6": "global"}
    assert ens3["bindings6"][1]["flags"] == ["permanent"]
    assert fact["interfaces"]["ens4"] == {"mac": "52:54:00:ab:cd:ef", "mtu": 9000}
    assert fact["interfaces"]["lo"]["bindings6"][0] == {
        "address": "::1", "netmask": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "network": "::1",
        "scope6": "host", "flags": ["permanent"]}
    assert fact["domain"] == "example.com"
    assert fact["fqdn"] == "web01.example.com"
    assert fact["netmask"] == "255.255.255.0" and fact["network"] == "10.0.2.0"


def test_rocky_netmask_and_vlan_interface() -> None:
    fact = networking_of(host("rocky9"))
    assert fact["netmask"] == "255.255.254.0"
    assert fact["interfaces"]["ens192.20"]["network"] == "10.20.0.0"
    assert "domain" not in fact and fact["fqdn"] == "web01"


def test_if_inet6_flags_and_scopes() -> None:
    parsed = network.parse_if_inet6("fd000000000000000000000000000002 04 40 00 82     eth0\n"
                                    "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n")
    assert parsed == {"eth0": [("fd00::2", 64, "global", ["noad", "permanent"]),
                               ("fe80::fc:ff:fe00:1", 64, "link", ["permanent"])]}


def test_ip_json_without_if_inet6_uses_ip_flags() -> None:
    raw = network.parse_ip_json((DATA / "debian12" / "ip-addr.json").read_text())
    assert raw["ens3"]["v6"][1] == ("fe80::5054:ff:fe12:3456", 64, "link", ["permanent"])
    assert raw["lo"]["v4"] == [("127.0.0.1", 8)]
    assert "mac" not in raw["lo"]


def test_primary_without_default_route_is_first_routable_interface() -> None:
    raw = network.parse_ip_json((DATA / "rocky9" / "ip-addr.json").read_text())
    fact = network.networking_fact(raw, primary=None, hostname="h", fqdn="h.example.org", domain="example.org")
    assert fact["primary"] == "ens192"
    assert fact["fqdn"] == "h.example.org"


def test_default_route_and_resolv_conf() -> None:
    assert network.parse_default_route("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n") is None
    assert network.parse_resolv_conf_domain("search a.example b.example\n") == "a.example"
    assert network.parse_resolv_conf_domain("nameserver 1.1.1.1\n") is None
    assert network.ignored_address("169.254.1.1") and network.ignored_address("::1")
    assert not network.ignored_address("2001:db8::1")


# -- virtual, dmi --------------------------------------------------------------------------------
@pytest.mark.parametrize(("distro", "virtual_value", "hypervisors"), [
    ("debian12", "kvm", {"kvm": {}}),
    ("ubuntu2204", "docker", {"docker": {"id": "3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a"}}),
    ("rocky9", "vmware", {"vmware": {}}),
    ("alpine319", "lxc", {"lxc": {}}),
])
def test_virtual_detection(distro: str, virtual_value: str, hypervisors: dict[str, Any]) -> None:
    h = host(distro)
    environ = (h.root / "environ-pid1").read_bytes() if (h.root / "environ-pid1").exists() else None
    container = virtual.detect_container(cgroup=h.text("cgroup"), mountinfo=h.text("mountinfo"), dockerenv=False,
                                         containerenv=None,
                                         container_var=virtual.parse_environ_var(environ, "container"))
    hypervisor = virtual.detect_hypervisor(dmi=virtual.dmi_fact(h.dmi()), xen_capabilities=None,
                                           cpu_flags=virtual.parse_cpu_flags(h.text("cpuinfo") or ""))
    facts = virtual.virtual_facts(container, hypervisor)
    assert facts == {"virtual": virtual_value, "is_virtual": True, "hypervisors": hypervisors}


def test_container_markers() -> None:
    detect = virtual.detect_container
    none: dict[str, Any] = {"cgroup": "0::/", "mountinfo": "", "dockerenv": False, "containerenv": None,
                            "container_var": None}
    assert detect(**none) is None
    assert detect(**{**none, "dockerenv": True}) == ("docker", {})
    assert detect(**{**none, "containerenv": 'engine="podman-4.9.3"\nid="abc123"\n'}) == ("podman", {"id": "abc123"})
    assert detect(**{**none, "container_var": "systemd-nspawn"}) == ("systemd_nspawn", {})
    cid = "a" * 64
    assert detect(**{**none, "mountinfo": f"612 590 254:1 /var/lib/docker/containers/{cid}/hostname /etc/hostname"
                     " rw - ext4 /dev/vda1 rw\n"}) == ("docker", {"id": cid})
    assert detect(**{**none, "cgroup": "0::/lxc.payload.web01/init.scope\n"}) == ("lxc", {"name": "web01"})


def test_physical_and_xen_hosts() -> None:
    assert virtual.virtual_facts(None, None) == {"virtual": "physical", "is_virtual": False}
    xen0 = virtual.detect_hypervisor(dmi={}, xen_capabilities="control_d\n", cpu_flags=set())
    assert virtual.virtual_facts(None, xen0)["is_virtual"] is False
    assert virtual.detect_hypervisor(dmi={}, xen_capabilities="", cpu_flags=set()) == "xenu"
    assert virtual.detect_hypervisor(dmi={}, xen_capabilities=None, cpu_flags={"hypervisor"}) == "virtual"


def test_dmi_fact_layout() -> None:
    dmi = virtual.dmi_fact(host("rocky9").dmi())
    assert dmi["manufacturer"] == "VMware, Inc."
    assert dmi["product"]["name"] == "VMware Virtual Platform"
    assert dmi["bios"] == {"release_date": "11/12/2020", "vendor": "Phoenix Technologies LTD", "version": "6.00"}
    assert dmi["chassis"] == {"asset_tag": "No Asset Tag", "type": "Other"}
    assert dmi["board"]["product"] == "440BX Desktop Reference Platform"
    assert virtual.dmi_fact({"chassis_type": "10", "product_uuid": None})["chassis"] == {"type": "Notebook"}


# -- ssh -----------------------------------------------------------------------------------------
def test_ssh_fingerprints_match_ssh_keygen() -> None:
    expected = {}
    for line in (DATA / "ssh" / "sshfp.txt").read_text().splitlines():
        _host, _in, _type, algorithm, kind, digest = line.split()
        expected[(int(algorithm), int(kind))] = digest
    names = {"rsa": 1, "ecdsa": 3, "ed25519": 4}
    for path in sorted((DATA / "ssh").glob("*.pub")):
        parsed = ssh.ssh_key_fact(path.read_text())
        assert parsed is not None
        name, fact = parsed
        number = names[name]
        assert fact["fingerprints"]["sha1"] == f"SSHFP {number} 1 {expected[(number, 1)]}"
        assert fact["fingerprints"]["sha256"] == f"SSHFP {number} 2 {expected[(number, 2)]}"
        assert fact["key"] == path.read_text().split()[1]
        assert fact["type"] == path.read_text().split()[0]


def test_ssh_rejects_garbage() -> None:
    assert ssh.ssh_key_fact("") is None
    assert ssh.ssh_key_fact("ssh-unknown AAAA") is None
    assert ssh.ssh_key_fact("ssh-rsa ***notbase64***") is None


# -- packages ------------------------------------------------------------------------------------
def test_package_list_parsers() -> None:
    text = "bash\t5.2.15-2+b2\tii \nold\t1.0\trc \nzlib1g\t1:1.2.13.dfsg-1\tii \n"
    assert packages.parse_package_lines(text) == {"bash": "5.2.15-2+b2", "zlib1g": "1:1.2.13.dfsg-1"}
    assert packages.parse_apk_info("musl-1.2.4_git20230717-r4\nbusybox-1.36.1-r15\n") == {
        "musl": "1.2.4_git20230717-r4", "busybox": "1.36.1-r15"}


# -- legacy --------------------------------------------------------------------------------------
def test_legacy_names_from_a_whole_captured_host() -> None:
    h = host("debian12")
    facts: dict[str, Any] = {
        "os": os_of(h),
        "networking": networking_of(h),
        "processors": hardware.processors_fact(hardware.parse_cpuinfo(h.text("cpuinfo") or ""), machine="x86_64"),
        "memory": hardware.memory_fact(hardware.parse_meminfo(h.text("meminfo") or "")),
        "system_uptime": system.uptime_fact(system.parse_uptime(h.text("uptime") or "")),
        "identity": {"user": "root", "group": "root", "uid": 0, "gid": 0, "privileged": True},
        "dmi": virtual.dmi_fact(h.dmi()),
        "disks": {"vda": storage.disk_fact(sectors=2048, rotational="1", vendor="0x1af4", model=None, serial=None)},
    }
    legacy = legacy_facts(facts)
    assert legacy["osfamily"] == "Debian"
    assert legacy["operatingsystem"] == "Debian"
    assert legacy["operatingsystemrelease"] == "12.5"
    assert legacy["operatingsystemmajrelease"] == "12"
    assert legacy["lsbdistcodename"] == "bookworm"
    assert legacy["architecture"] == "amd64" and legacy["hardwaremodel"] == "x86_64"
    assert legacy["hostname"] == "web01" and legacy["fqdn"] == "web01.example.com"
    assert legacy["domain"] == "example.com"
    assert legacy["ipaddress"] == "10.0.2.15" and legacy["ipaddress6"] == "2001:db8:1::15"
    assert legacy["macaddress"] == "52:54:00:12:34:56"
    assert legacy["ipaddress_lo"] == "127.0.0.1" and legacy["mtu_ens4"] == 9000
    assert legacy["macaddress_ens3"] == "52:54:00:12:34:56"
    assert legacy["interfaces"] == "ens3,ens4,lo"
    assert legacy["processorcount"] == 4 and legacy["physicalprocessorcount"] == 2
    assert legacy["processor0"] == "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"
    assert legacy["memorysize"] == "7.76 GiB"
    assert legacy["memorysize_mb"] == pytest.approx(8137868 / 1024)
    assert isinstance(legacy["memorysize_mb"], float)
    assert legacy["swapsize"] == "977.00 MiB"
    assert legacy["uptime"] == "1 day" and legacy["uptime_days"] == 1 and legacy["uptime_seconds"] == 95312
    assert legacy["id"] == "root" and legacy["gid"] == "root"
    assert legacy["manufacturer"] == "QEMU" and legacy["uuid"] == "6a1f3c52-8d0e-4b7a-9c3e-2f5d8e7a1b40"
    assert legacy["blockdevices"] == "vda" and legacy["blockdevice_vda_size"] == 1048576
    assert legacy["selinux"] is False


def test_legacy_ssh_and_interface_name_mangling() -> None:
    key = ssh.ssh_key_fact((DATA / "ssh" / "ssh_host_ed25519_key.pub").read_text())
    assert key is not None
    legacy = legacy_facts({"ssh": {key[0]: key[1]},
                           "networking": {"interfaces": {"ens192.20": {"ip": "10.20.0.21"}}}})
    assert legacy["sshed25519key"] == key[1]["key"]
    assert legacy["sshfp_ed25519"].startswith("SSHFP 4 1 ") and "\nSSHFP 4 2 " in legacy["sshfp_ed25519"]
    assert legacy["ipaddress_ens192_20"] == "10.20.0.21"
    assert legacy_facts({}) == {}


def test_captured_json_is_valid() -> None:
    for distro in DISTROS:
        json.loads(host(distro).text("ip-addr.json") or "")
