"""Facter's human-readable units, reproduced to the character ("23.54 GiB", "2.60 GHz", "2.54%")."""

from __future__ import annotations

import math

_BINARY_PREFIXES = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_METRIC_PREFIXES = {0: "", 3: "k", 6: "M", 9: "G", 12: "T"}


def _ruby_round2(value: float) -> float:
    # Ruby's Float#round rounds half away from zero; Python's round() rounds half to even.
    return math.floor(value * 100.0 + 0.5) / 100.0


def bytes_to_human(num_bytes: int) -> str:
    """``bytes_to_human_readable`` of Facter's UnitConverter: "0 bytes", "4.00 KiB", "23.54 GiB"."""
    if num_bytes < 1024:
        return f"{num_bytes} bytes"
    exp = math.floor(math.log2(num_bytes) / 10.0)
    number = _ruby_round2(num_bytes / 1024.0**exp)
    if abs(number - 1024.0) < 1e-9:
        exp += 1
        number = 1.0
    if exp - 1 >= len(_BINARY_PREFIXES):
        return f"{num_bytes} bytes"
    return f"{number:.2f} {_BINARY_PREFIXES[exp - 1]}"


def hertz_to_human(hertz: int) -> str | None:
    """``hertz_to_human_readable``: 2596000000 -> "2.60 GHz"; None for an unknown (zero) speed."""
    if not hertz:
        return None
    power = math.floor(math.log10(hertz))
    display = power - power % 3
    coefficient = float(hertz) if power == 0 else hertz / 10**display
    return f"{_ruby_round2(coefficient):.2f} {_METRIC_PREFIXES.get(display, '')}Hz"


def memory_capacity(used: int, total: int) -> str:
    """Memory's capacity: always two decimals ("2.60%")."""
    return f"{(used / total * 100) if total else 0.0:.2f}%"


def filesystem_capacity(used: int, total: int) -> str:
    """A mount's capacity: "100%" when full (or empty), "0%" when unused, else two decimals."""
    if used == total:
        return "100%"
    if used > 0:
        return f"{used / total * 100:.2f}%"
    return "0%"


def bytes_to_mib(num_bytes: int) -> float:
    return num_bytes / (1024.0 * 1024.0)
