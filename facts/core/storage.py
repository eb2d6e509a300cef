"""``mountpoints``, ``disks`` and ``partitions``: /proc/self/mounts with statvfs, and /sys/block."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from facts.core._io import list_dir, read_line, read_text
from facts.registry import collector
from facts.units import bytes_to_human, filesystem_capacity

SECTOR = 512
# Pseudo disks Facter leaves out of ``disks``: they have no backing device.
_VIRTUAL_BLOCK = re.compile(r"^(loop|ram|zram|dm-|md|nbd|sr)\d*")


class Mount(NamedTuple):
    device: str
    path: str
    filesystem: str
    options: list[str]


def _unescape(field: str) -> str:
    # The kernel escapes space, tab, newline and backslash in mounts as octal (\040).
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mounts(text: str) -> list[Mount]:
    """/proc/self/mounts (fstab format) to its mounts, in order."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mounts.append(Mount(_unescape(fields[0]), _unescape(fields[1]), fields[2], fields[3].split(",")))
    return mounts


def keeps_mount(mount: Mount) -> bool:
    """Facter's filter: no /proc and /sys pseudo filesystems (tmpfs there is kept), no autofs."""
    if mount.filesystem == "autofs":
        return False
    return not (re.match(r"^/(proc|sys)", mount.path) and mount.filesystem != "tmpfs")


def root_device_from_cmdline(cmdline: str) -> str | None:
    match = re.search(r"root=(\S+)", cmdline)
    return match.group(1) if match else None


def mountpoint_fact(mount: Mount, *, size: int, available: int, used: int, root_device: str | None = None) -> dict[str, Any]:
    """One entry of ``mountpoints`` from the mount and its statvfs numbers in bytes."""
    device = root_device if mount.device == "/dev/root" and root_device else mount.device
    return {
        "available": bytes_to_human(available),
        "available_bytes": available,
        "capacity": filesystem_capacity(used, used + available),
        "device": device,
        "filesystem": mount.filesystem,
        "options": list(mount.options),
        "size": bytes_to_human(size),
        "size_bytes": size,
        "used": bytes_to_human(used),
        "used_bytes": used,
    }


def statvfs_bytes(st: os.statvfs_result) -> tuple[int, int, int]:
    """(size, available, used) in bytes, as Sys::Filesystem computes them."""
    size = st.f_blocks * st.f_frsize
    available = st.f_bavail * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    return size, available, used


@collector("mountpoints")
def collect_mountpoints(_facts: Mapping[str, Any]) -> dict[str, Any]:
    text = read_text("/proc/self/mounts") or read_text("/proc/mounts")
    if text is None:
        return {}
    root_device = root_device_from_cmdline(read_text("/proc/cmdline") or "")
    result: dict[str, Any] = {}
    for mount in parse_mounts(text):
        if not keeps_mount(mount):
            continue
        try:
            size, available, used = statvfs_bytes(os.statvfs(mount.path))
        except OSError:
            size = available = used = 0
        result[mount.path] = mountpoint_fact(mount, size=size, available=available, used=used,
                                             root_device=root_device)
    return {"mountpoints": result}


def disk_fact(*, sectors: int, rotational: str | None, vendor: str | None, model: str | None,
              serial: str | None) -> dict[str, Any]:
    """One entry of ``disks`` from its /sys/block attributes."""
    size = sectors * SECTOR
    result: dict[str, Any] = {"size": bytes_to_human(size), "size_bytes": size}
    if rotational is not None:
        result["type"] = "hdd" if rotational == "1" else "ssd"
    for key, value in (("vendor", vendor), ("model", model), ("serial", serial)):
        if value:
            result[key] = value
    return result


@collector("disks")
def collect_disks(_facts: Mapping[str, Any]) -> dict[str, Any]:
    disks: dict[str, Any] = {}
    for name in list_dir("/sys/block"):
        base = f"/sys/block/{name}"
        if _VIRTUAL_BLOCK.match(name) or not os.path.isdir(f"{base}/device"):
            continue
        sectors = read_line(f"{base}/size")
        disks[name] = disk_fact(
            sectors=int(sectors) if sectors and sectors.isdigit() else 0,
            rotational=read_line(f"{base}/queue/rotational"),
            vendor=read_line(f"{base}/device/vendor"),
            model=read_line(f"{base}/device/model"),
            serial=read_line(f"{base}/device/serial") or read_line(f"{base}/serial"),
        )
    return {"disks": disks} if disks else {}


def _by_links(directory: str) -> dict[str, str]:
    """/dev/disk/by-uuid and friends: {"/dev/vda1": "<uuid>"}."""
    links = {}
    for name in list_dir(directory):
        try:
            target = os.path.realpath(os.path.join(directory, name))
        except OSError:
            continue
        links[target] = name.replace("\\x2f", "/").replace("\\x20", " ")
    return links


@collector("partitions", needs=("mountpoints",))
def collect_partitions(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Sizes from /sys, mount points from ``mountpoints``, ids from /dev/disk/by-* links; no blkid."""
    mounted = {v.get("device"): path for path, v in (facts.get("mountpoints") or {}).items()}
    uuids, partuuids, labels = (_by_links(f"/dev/disk/{kind}") for kind in ("by-uuid", "by-partuuid", "by-label"))
    partitions: dict[str, Any] = {}
    disks = list_dir("/sys/block")
    for disk in disks:
        if _VIRTUAL_BLOCK.match(disk) and not disk.startswith(("dm-", "md")):
            continue
        for part in list_dir(f"/sys/block/{disk}"):
            if not part.startswith(disk) or not os.path.exists(f"/sys/block/{disk}/{part}/partition"):
                continue
            sectors = read_line(f"/sys/block/{disk}/{part}/size") or "0"
            size = int(sectors) * SECTOR if sectors.isdigit() else 0
            device = f"/dev/{part}"
            entry: dict[str, Any] = {"size": bytes_to_human(size), "size_bytes": size}
            if device in mounted:
                entry["mount"] = mounted[device]
            for key, source in (("uuid", uuids), ("partuuid", partuuids), ("label", labels)):
                if device in source:
                    entry[key] = source[device]
            partitions[device] = entry
    # Facter prints an empty ``partitions`` hash on a Linux host with whole disks only; none without sysfs.
    return {"partitions": partitions} if partitions or disks else {}
