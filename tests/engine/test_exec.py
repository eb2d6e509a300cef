from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from engine.apply import apply_catalog
from engine.errors import ValidationError
from engine.types.exec import ExecType

from .conftest import CatalogBuilder, changes, converge, failures


def test_exec_creates_onlyif_unless_converge(root: Path, state: Path) -> None:
    marker = root / "made"
    cb = CatalogBuilder()
    cb.add("Exec", "make", command=f"touch {marker}", path=["/usr/bin", "/bin"], creates="/made")
    cb.add("Exec", "never", command="/bin/false", onlyif="/bin/false")
    cb.add("Exec", "guarded", command=f"/bin/sh -c 'echo x >> {root}/guard'", unless=f"/usr/bin/test -s {root}/guard")
    cb.add("Exec", "in-cwd", command="/bin/sh -c 'pwd > here'", cwd="/", creates="/here",
           environment=["GREETING=hi"])
    _, first, _ = converge(cb.catalog, root, state)
    assert changes(first) == {("Exec[make]", "returns"), ("Exec[guarded]", "returns"), ("Exec[in-cwd]", "returns")}
    assert marker.exists() and (root / "guard").read_text() == "x\n"
    assert (root / "here").read_text().strip() == str(root)
    assert first.resource_statuses["Exec[make]"].events[0].message == "executed successfully"


def test_exec_returns_tries_timeout_and_logoutput(root: Path, state: Path, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    cb = CatalogBuilder()
    cb.add("Exec", "exit3", command="/bin/sh -c 'exit 3'", returns=[0, 3])
    cb.add("Exec", "flaky", command=f"/bin/sh -c 'echo . >> {counter}; [ $(wc -l < {counter}) -ge 3 ]'",
           tries=3, try_sleep=0)
    cb.add("Exec", "slow", command="/bin/sleep 5", timeout=0.2)
    cb.add("Exec", "noisy", command="/bin/sh -c 'echo out-line; exit 1'")
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    bad = failures(report)
    assert set(bad) == {"Exec[slow]", "Exec[noisy]"}
    assert "command exceeded timeout of 0.2 seconds" in bad["Exec[slow]"][0]
    assert any(entry.message == "(output) out-line" and entry.level == "err" for entry in report.logs)
    assert counter.read_text().count(".") == 3


def test_exec_as_missing_user_fails_clearly(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Exec", "as-ghost", command="/bin/true", user="ghost")
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    expected = "could not find user ghost" if os.geteuid() == 0 else "only root can execute commands as other users"
    assert expected in failures(report)["Exec[as-ghost]"][0]


def test_exec_as_another_user(root: Path, state: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    with open(root / "etc/passwd", "a") as fh:
        fh.write("runner:x:4242:4242::/tmp:/bin/sh\n")
    shared = Path(tempfile.mkdtemp(prefix="bunraku-exec-"))  # pytest's tmp dirs are private to root
    try:
        shared.chmod(0o777)
        out = shared / "who"
        cb = CatalogBuilder()
        cb.add("Exec", "whoami", command=f"/bin/sh -c 'id -u > {out}'", user="runner")
        report = apply_catalog(cb.catalog, root=root, state_dir=state)
        assert not failures(report), failures(report)
        assert out.read_text().strip() == "4242"
    finally:
        shutil.rmtree(shared)


def test_unqualified_command_without_path_is_invalid() -> None:
    with pytest.raises(ValidationError) as err:
        ExecType().validate("x", {"command": "make install"})
    assert str(err.value) == "'make' is not qualified and no path was specified. Please qualify the command " \
                             "or specify a path."
