"""``dmi``, ``virtual``, ``is_virtual`` and ``hypervisors``: what this host runs on.

Containers are recognised first (a container on a VM is reported as the container, as Facter does),
from /.dockerenv, /run/.containerenv, /proc/1/cgroup, /proc/self/mountinfo and the ``container``
variable systemd and LXC export; then hypervisors from DMI, /proc/xen and the CPU's hypervisor flag.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from facts.core._io import read_line, read_text
from facts.registry import collector

DMI_DIR = "/sys/class/dmi/id"
_DMI_FILES = ("bios_date", "bios_vendor", "bios_version", "board_asset_tag", "board_vendor", "board_name",
              "board_serial", "chassis_asset_tag", "chassis_type", "sys_vendor", "product_name",
              "product_serial", "product_uuid")
_CHASSIS_TYPES = ("Other", None, "Desktop", "Low Profile Desktop", "Pizza Box", "Mini Tower", "Tower",
                  "Portable", "Laptop", "Notebook", "Hand Held", "Docking Station", "All in One",
                  "Sub Notebook", "Space-Saving", "Lunch Box", "Main System Chassis", "Expansion Chassis",
                  "SubChassis", "Bus Expansion Chassis", "Peripheral Chassis", "Storage Chassis",
                  "Rack Mount Chassis", "Sealed-Case PC", "Multi-system", "CompactPCI", "AdvancedTCA",
                  "Blade", "Blade Enclosure", "Tablet", "Convertible", "Detachable")
# DMI product names that give the hypervisor away (Facter's HYPERVISORS_HASH).
_PRODUCT_HYPERVISORS = (("VMware", "vmware"), ("VirtualBox", "virtualbox"), ("Parallels", "parallels"),
                        ("KVM", "kvm"), ("Virtual Machine", "hyperv"), ("RHEV Hypervisor", "rhev"),
                        ("oVirt Node", "ovirt"), ("HVM domU", "xenhvm"), ("Bochs", "bochs"),
                        ("OpenBSD", "vmm"), ("BHYVE", "bhyve"))
_VENDOR_HYPERVISORS = (("QEMU", "kvm"), ("Xen", "xenhvm"), ("Microsoft Corporation", "hyperv"),
                       ("innotek GmbH", "virtualbox"), ("VMware", "vmware"), ("Amazon EC2", "kvm"),
                       ("Google", "gce"), ("OpenStack", "openstack"), ("DigitalOcean", "kvm"))
# Values of ``virtual`` that are the host itself, not a guest (Facter's PHYSICAL_HYPERVISORS).
PHYSICAL = ("physical", "xen0", "vmware_server", "vmware_workstation", "openvzhn", "vserver_host")


def dmi_fact(raw: Mapping[str, str | None]) -> dict[str, Any]:
    """Facter's ``dmi`` from the /sys/class/dmi/id attributes (unreadable ones are None or absent)."""

    def put(target: dict[str, Any], key: str, source: str) -> None:
        value = raw.get(source)
        if value:
            target[key] = value

    bios: dict[str, Any] = {}
    put(bios, "release_date", "bios_date")
    put(bios, "vendor", "bios_vendor")
    put(bios, "version", "bios_version")
    board: dict[str, Any] = {}
    put(board, "asset_tag", "board_asset_tag")
    put(board, "manufacturer", "board_vendor")
    put(board, "product", "board_name")
    put(board, "serial_number", "board_serial")
    chassis: dict[str, Any] = {}
    put(chassis, "asset_tag", "chassis_asset_tag")
    chassis_type = raw.get("chassis_type")
    if chassis_type and chassis_type.isdigit() and 1 <= int(chassis_type) <= len(_CHASSIS_TYPES):
        name = _CHASSIS_TYPES[int(chassis_type) - 1]
        if name:
            chassis["type"] = name
    product: dict[str, Any] = {}
    put(product, "name", "product_name")
    put(product, "serial_number", "product_serial")
    put(product, "uuid", "product_uuid")
    result: dict[str, Any] = {}
    for key, value in (("bios", bios), ("board", board), ("chassis", chassis)):
        if value:
            result[key] = value
    put(result, "manufacturer", "sys_vendor")
    if product:
        result["product"] = product
    return result


def detect_container(*, cgroup: str | None, mountinfo: str | None, dockerenv: bool, containerenv: str | None,
                     container_var: str | None) -> tuple[str, dict[str, str]] | None:
    """(kind, info) of the container this process runs in, or None. Pure: takes the texts read."""
    if containerenv is not None:  # podman writes /run/.containerenv (engine="podman-x.y")
        info = {}
        match = re.search(r'^id="?([^"\n]+)', containerenv, re.M)
        if match:
            info["id"] = match.group(1)
        return "podman", info
    cgroup = cgroup or ""
    docker = re.search(r"docker[/-]([0-9a-f]{12,64})", cgroup)
    if docker:
        return "docker", {"id": docker.group(1)}
    if "libpod" in cgroup:
        return "podman", {}
    lxc = re.search(r"^\d+:[^:]*:/lxc(?:\.payload)?[/.]([^/\n]+)", cgroup, re.M)
    if lxc:
        return "lxc", {"name": lxc.group(1)}
    if dockerenv:
        return "docker", {}
    if container_var:
        kind = {"systemd-nspawn": "systemd_nspawn", "oci": "docker"}.get(container_var, container_var)
        return kind, {}
    docker_mount = re.search(r"/docker/containers/([0-9a-f]{64})/", mountinfo or "")
    if docker_mount:
        return "docker", {"id": docker_mount.group(1)}
    return None


def detect_hypervisor(*, dmi: Mapping[str, Any], xen_capabilities: str | None, cpu_flags: set[str]) -> str | None:
    product = (dmi.get("product") or {}).get("name", "")
    for needle, name in _PRODUCT_HYPERVISORS:
        if needle in product:
            return name
    vendors = " ".join(filter(None, [dmi.get("manufacturer"), (dmi.get("bios") or {}).get("vendor")]))
    for needle, name in _VENDOR_HYPERVISORS:
        if needle in vendors:
            return name
    if xen_capabilities is not None:
        return "xen0" if "control_d" in xen_capabilities else "xenu"
    if "hypervisor" in cpu_flags:
        return "virtual"  # a guest of a hypervisor that does not say which
    return None


def parse_cpu_flags(cpuinfo: str) -> set[str]:
    match = re.search(r"^(?:flags|Features)\s*:(.*)$", cpuinfo, re.M)
    return set(match.group(1).split()) if match else set()


def parse_environ_var(environ: bytes | None, name: str) -> str | None:
    """One variable of a NUL-separated /proc/PID/environ."""
    for item in (environ or b"").split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key.decode(errors="replace") == name:
            return value.decode(errors="replace")
    return None


def virtual_facts(container: tuple[str, dict[str, str]] | None, hypervisor: str | None) -> dict[str, Any]:
    hypervisors: dict[str, Any] = {}
    if hypervisor and hypervisor != "virtual":
        hypervisors[hypervisor] = {}
    if container:
        hypervisors[container[0]] = dict(container[1])
    virtual = container[0] if container else hypervisor or "physical"
    result: dict[str, Any] = {"virtual": virtual, "is_virtual": virtual not in PHYSICAL}
    if hypervisors:
        result["hypervisors"] = hypervisors
    return result


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


@collector("dmi")
def collect_dmi(_facts: Mapping[str, Any]) -> dict[str, Any]:
    if not os.path.isdir(DMI_DIR):
        return {}
    dmi = dmi_fact({name: read_line(f"{DMI_DIR}/{name}") for name in _DMI_FILES})
    return {"dmi": dmi} if dmi else {}


@collector("virtual", needs=("dmi",))
def collect_virtual(facts: Mapping[str, Any]) -> dict[str, Any]:
    container_var = parse_environ_var(_read_bytes("/proc/1/environ"), "container") \
        or read_line("/run/systemd/container")
    container = detect_container(
        cgroup=read_text("/proc/1/cgroup") or read_text("/proc/self/cgroup"),
        mountinfo=read_text("/proc/self/mountinfo"),
        dockerenv=os.path.exists("/.dockerenv"),
        containerenv=read_text("/run/.containerenv"),
        container_var=container_var,
    )
    hypervisor = detect_hypervisor(dmi=facts.get("dmi") or {}, xen_capabilities=read_text("/proc/xen/capabilities"),
                                   cpu_flags=parse_cpu_flags(read_text("/proc/cpuinfo") or ""))
    return virtual_facts(container, hypervisor)
