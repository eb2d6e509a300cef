from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import CatalogBuilder, converge


def _wheel(where: Path, version: str) -> None:
    files = {
        "bunraku_demo/__init__.py": f"VERSION = '{version}'\n",
        f"bunraku_demo-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: bunraku-demo\nVersion: {version}\n",
        f"bunraku_demo-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                                                   "Tag: py3-none-any\n",
    }
    record = []
    for path, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(content)}")
    record.append(f"bunraku_demo-{version}.dist-info/RECORD,,")
    files[f"bunraku_demo-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(where / f"bunraku_demo-{version}-py3-none-any.whl", "w") as zf:
        for path, content in files.items():
            zf.writestr(path, content)


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    return env


def _version(venv: Path) -> str | None:
    proc = subprocess.run([str(venv / "bin/python"), "-c", "import bunraku_demo; print(bunraku_demo.VERSION)"],
                          capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def test_pip_into_a_virtualenv_pin_latest_absent(tmp_path: Path, venv: Path, state: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for v in ("1.0", "2.0"):
        _wheel(wheels, v)
    root = Path("/")
    cb = CatalogBuilder()
    cb.add("Package", "bunraku-demo", ensure="1.0", provider="pip", python=str(venv), source=str(wheels))
    converge(cb.catalog, root, state)
    assert _version(venv) == "1.0"
    cb.catalog.get("Package[bunraku-demo]").parameters["ensure"] = "latest"
    _, first, _ = converge(cb.catalog, root, state)
    assert [e.message for e in first.resource_statuses["Package[bunraku-demo]"].events] == \
        ["ensure changed '1.0' to '2.0'"]
    assert _version(venv) == "2.0"
    cb.catalog.get("Package[bunraku-demo]").parameters["ensure"] = "absent"
    converge(cb.catalog, root, state)
    assert _version(venv) is None
