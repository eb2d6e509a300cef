"""``processors`` and ``memory``, from /proc/cpuinfo and /proc/meminfo."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from facts.core._io import list_dir, read_line, read_text, run_command
from facts.registry import collector
from facts.units import bytes_to_human, hertz_to_human, memory_capacity


def parse_cpuinfo(text: str) -> list[dict[str, str]]:
    """/proc/cpuinfo to one ``{key: value}`` per logical processor, in order."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition(":")
        if sep:
            current[key.strip()] = value.strip()
    if current:
        blocks.append(current)
    return [b for b in blocks if b.get("processor", "").isdigit()]


def processors_fact(cpus: list[dict[str, str]], *, machine: str, package_ids: list[str] | None = None) -> dict[str, Any]:
    """Facter's ``processors`` from parsed cpuinfo; ``package_ids`` (sysfs) when cpuinfo has none."""
    models = [c.get("model name") or c.get("Processor") or c.get("cpu") or c.get("CPU part", "")
              for c in cpus]
    physical = {c["physical id"] for c in cpus if "physical id" in c}
    physicalcount = len(physical) or len(set(package_ids or [])) or (1 if cpus else 0)
    result: dict[str, Any] = {
        "count": len(cpus),
        "physicalcount": physicalcount,
        "models": models,
        "isa": machine,
    }
    first = cpus[0] if cpus else {}
    if first.get("cpu cores", "").isdigit():
        cores = int(first["cpu cores"])
        result["cores"] = cores
        siblings = first.get("siblings", "")
        if siblings.isdigit() and cores:
            result["threads"] = max(1, int(siblings) // cores)
    mhz = first.get("cpu MHz") or first.get("clock", "").removesuffix("MHz")
    if mhz:
        try:
            speed = hertz_to_human(int(float(mhz)) * 1_000_000)
        except ValueError:
            speed = None
        if speed:
            result["speed"] = speed
    return result


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo to ``{key: bytes}`` (values are in kB)."""
    result: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        fields = rest.split()
        if sep and fields and fields[0].isdigit():
            result[key.strip()] = int(fields[0]) * (1024 if len(fields) > 1 else 1)
    return result


def _memory_block(total: int, available: int) -> dict[str, Any]:
    used = total - available
    return {
        "available": bytes_to_human(available),
        "available_bytes": available,
        "capacity": memory_capacity(used, total),
        "total": bytes_to_human(total),
        "total_bytes": total,
        "used": bytes_to_human(used),
        "used_bytes": used,
    }


def memory_fact(meminfo: Mapping[str, int]) -> dict[str, Any]:
    """Facter's ``memory``: ``system`` always, ``swap`` when there is swap."""
    total = meminfo.get("MemTotal", 0)
    if "MemAvailable" in meminfo:
        available = meminfo["MemAvailable"]
    else:  # kernels before 3.14
        available = meminfo.get("MemFree", 0) + meminfo.get("Buffers", 0) + meminfo.get("Cached", 0)
    result: dict[str, Any] = {"system": _memory_block(total, available)}
    swap_total = meminfo.get("SwapTotal", 0)
    if swap_total:
        result["swap"] = _memory_block(swap_total, meminfo.get("SwapFree", 0))
    return result


@collector("processors")
def collect_processors(_facts: Mapping[str, Any]) -> dict[str, Any]:
    cpus = parse_cpuinfo(read_text("/proc/cpuinfo") or "")
    package_ids: list[str] = []
    if not any("physical id" in c for c in cpus):
        for name in list_dir("/sys/devices/system/cpu"):
            if name.startswith("cpu") and name[3:].isdigit():
                value = read_line(f"/sys/devices/system/cpu/{name}/topology/physical_package_id")
                if value is not None:
                    package_ids.append(value)
    if not cpus:
        count = os.cpu_count() or 0
        cpus = [{"processor": str(i)} for i in range(count)]
    result = processors_fact(cpus, machine=os.uname().machine, package_ids=package_ids)
    result["isa"] = hardware_isa(run_command(["uname", "-p"]), os.uname().machine)
    return {"processors": result}


def hardware_isa(uname_p: str | None, machine: str) -> str:
    """``processors.isa`` (legacy ``hardwareisa``): what ``uname -p`` prints, as Facter reports it on Linux.

    GNU uname prints "unknown" for -p on most distributions (Debian, Ubuntu) and Facter passes that on
    unchanged, so we do too; only when uname cannot run at all do we fall back to the machine name.
    """
    value = (uname_p or "").strip()
    return value or machine


@collector("memory")
def collect_memory(_facts: Mapping[str, Any]) -> dict[str, Any]:
    text = read_text("/proc/meminfo")
    if text is None:
        return {}
    return {"memory": memory_fact(parse_meminfo(text))}
