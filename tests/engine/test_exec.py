from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.apply import apply_catalog
from engine.errors import ValidationError
from engine.types.exec import ExecType

from .conftest import CatalogBuilder, changes, converge, failures


def test_exec_creates_onlyif_unless_converge(shell_root: Path, state: Path) -> None:
    root = shell_root
    cb = CatalogBuilder()
    cb.add("Exec", "make", command="touch /made", path=["/usr/bin", "/bin"], creates="/made")
    cb.add("Exec", "never", command="/bin/false", onlyif="/bin/false")
    cb.add("Exec", "guarded", command="/bin/sh -c 'echo x >> /guard'", unless="/usr/bin/test -s /guard")
    cb.add("Exec", "in-cwd", command="/bin/sh -c 'pwd > here'", cwd="/etc", creates="/etc/here",
           environment=["GREETING=hi"])
    _, first, _ = converge(cb.catalog, root, state)
    assert changes(first) == {("Exec[make]", "returns"), ("Exec[guarded]", "returns"), ("Exec[in-cwd]", "returns")}
    assert (root / "made").exists() and (root / "guard").read_text() == "x\n"
    assert (root / "etc/here").read_text().strip() == "/etc"  # the cwd as the chrooted command sees it
    assert first.resource_statuses["Exec[make]"].events[0].message == "executed successfully"


def test_exec_returns_tries_timeout_and_logoutput(shell_root: Path, state: Path) -> None:
    root = shell_root
    cb = CatalogBuilder()
    cb.add("Exec", "exit3", command="/bin/sh -c 'exit 3'", returns=[0, 3])
    cb.add("Exec", "flaky", command="/bin/sh -c 'echo . >> /count; [ $(wc -l < /count) -ge 3 ]'",
           tries=3, try_sleep=0)
    cb.add("Exec", "slow", command="/bin/sleep 5", timeout=0.2)
    cb.add("Exec", "noisy", command="/bin/sh -c 'echo out-line; exit 1'")
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    bad = failures(report)
    assert set(bad) == {"Exec[slow]", "Exec[noisy]"}
    assert "command exceeded timeout of 0.2 seconds" in bad["Exec[slow]"][0]
    assert any(entry.message == "(output) out-line" and entry.level == "err" for entry in report.logs)
    assert (root / "count").read_text().count(".") == 3


def test_exec_on_the_host_when_the_root_is_slash(tmp_path: Path, state: Path) -> None:
    marker = tmp_path / "made"
    cb = CatalogBuilder()
    cb.add("Exec", "make", command=f"touch {marker}", path=["/usr/bin", "/bin"], creates=str(marker))
    _, first, _ = converge(cb.catalog, Path("/"), state)
    assert changes(first) == {("Exec[make]", "returns")} and marker.exists()


def test_exec_as_missing_user_fails_clearly(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Exec", "as-ghost", command="/bin/true", user="ghost")
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    expected = "could not find user ghost" if os.geteuid() == 0 else "only root can execute commands as other users"
    assert expected in failures(report)["Exec[as-ghost]"][0]


def test_exec_as_another_user(shell_root: Path, state: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    root = shell_root
    with open(root / "etc/passwd", "a") as fh:
        fh.write("runner:x:4242:4242::/tmp:/bin/sh\n")
    cb = CatalogBuilder()
    cb.add("Exec", "whoami", command="/bin/sh -c 'id -u > /tmp/who'", user="runner")
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    assert not failures(report), failures(report)
    assert (root / "tmp/who").read_text().strip() == "4242"
    assert (root / "tmp/who").stat().st_uid == 4242


def test_unqualified_command_without_path_is_invalid() -> None:
    with pytest.raises(ValidationError) as err:
        ExecType().validate("x", {"command": "make install"})
    assert str(err.value) == "'make' is not qualified and no path was specified. Please qualify the command " \
                             "or specify a path."
