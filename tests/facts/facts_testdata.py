"""The captured host texts in ``data/`` (Debian 12, Ubuntu 22.04, Rocky 9, Alpine 3.19), for the parser tests."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
DISTROS = ("debian12", "ubuntu2204", "rocky9", "alpine319")


class Captured:
    """The captured files of one host."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.root = DATA / name

    def text(self, filename: str) -> str | None:
        path = self.root / filename
        return path.read_text(encoding="utf-8") if path.exists() else None

    def line(self, filename: str) -> str | None:
        text = self.text(filename)
        return text.strip() if text is not None else None

    def dmi(self) -> dict[str, str]:
        directory = self.root / "dmi"
        if not directory.is_dir():
            return {}
        return {p.name: p.read_text(encoding="utf-8").strip() for p in directory.iterdir()}


def host(name: str) -> Captured:
    return Captured(name)
