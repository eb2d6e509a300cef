from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.apply import apply_catalog

from .conftest import CatalogBuilder, changes, converge

SCRIPT = """#!/bin/sh
# A real init script: starts a real background process with a pidfile. It runs chrooted into the
# target root, so its paths are the root's.
PIDFILE=/run/demo.pid
LOG=/run/actions.log
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
case "$1" in
  start) echo start >> "$LOG"; running && exit 0
         sleep 600 </dev/null >/dev/null 2>&1 & echo $! > "$PIDFILE" ;;
  stop)  echo stop >> "$LOG"; running && kill "$(cat "$PIDFILE")"; rm -f "$PIDFILE" ;;
  restart) "$0" stop; "$0" start ;;
  status) running ;;
  *) echo "usage: $0 start|stop|restart|status"; exit 3 ;;
esac
"""


@pytest.fixture
def svc_root(shell_root: Path) -> Iterator[Path]:
    root = shell_root
    run = root / "run"
    run.mkdir()
    script = root / "etc/init.d/demo"
    script.parent.mkdir(parents=True)
    script.write_text(SCRIPT)
    script.chmod(0o755)
    yield root
    pidfile = run / "demo.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass


def _pid(root: Path) -> int | None:
    pidfile = root / "run/demo.pid"
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def test_sysv_service_starts_enables_restarts_on_refresh_and_stops(svc_root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/etc/demo.conf", content="v1\n", notify="Service[demo]")
    cb.add("Service", "demo", ensure="running", enable=True, hasrestart=True)
    predicted, first, _ = converge(cb.catalog, svc_root, state)
    assert first.resource_statuses["Service[demo]"].provider == "sysv"  # no systemd as PID 1 here
    assert changes(first) == {("File[/etc/demo.conf]", "ensure"), ("Service[demo]", "ensure"),
                              ("Service[demo]", "enable"), ("Service[demo]", None)}
    pid = _pid(svc_root)
    assert pid is not None
    assert os.readlink(svc_root / "etc/rc2.d/S20demo") == "../init.d/demo"
    assert (svc_root / "etc/rc0.d/K01demo").is_symlink()
    # a config change restarts the running service: a new process
    cb.catalog.get("File[/etc/demo.conf]").parameters["content"] = "v2\n"
    report = apply_catalog(cb.catalog, root=svc_root, state_dir=state)
    assert changes(report) == {("File[/etc/demo.conf]", "content"), ("Service[demo]", None)}
    assert report.metric("resources", "restarted") == 1
    new_pid = _pid(svc_root)
    assert new_pid is not None and new_pid != pid
    cb.catalog.get("Service[demo]").parameters.update(ensure="stopped", enable=False)
    converge(cb.catalog, svc_root, state)
    assert _pid(svc_root) is None
    assert not (svc_root / "etc/rc2.d/S20demo").exists() and (svc_root / "etc/rc2.d/K01demo").is_symlink()


def test_stopped_service_is_not_restarted_by_refresh(svc_root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/etc/demo.conf", content="v1\n", notify="Service[demo]")
    cb.add("Service", "demo", ensure="stopped")
    _, first, _ = converge(cb.catalog, svc_root, state)
    assert changes(first) == {("File[/etc/demo.conf]", "ensure")}
    assert not (svc_root / "run/actions.log").exists()


def test_missing_init_script_fails(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Service", "ghost", ensure="running", provider="sysv")
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    assert report.resource_statuses["Service[ghost]"].failed
    assert "no init script for service ghost in /etc/init.d" in \
        report.resource_statuses["Service[ghost]"].events[0].message


def test_systemd_enable_offline_with_systemctl_root(root: Path, state: Path) -> None:
    unit = root / "etc/systemd/system/demo.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Unit]\nDescription=demo\n[Service]\nExecStart=/bin/sleep 600\n"
                    "[Install]\nWantedBy=multi-user.target\n")
    cb = CatalogBuilder()
    cb.add("Service", "demo", enable=True, provider="systemd")
    converge(cb.catalog, root, state)
    assert (root / "etc/systemd/system/multi-user.target.wants/demo.service").is_symlink()
    cb.catalog.get("Service[demo]").parameters["enable"] = False
    converge(cb.catalog, root, state)
    assert not (root / "etc/systemd/system/multi-user.target.wants/demo.service").exists()
    cb.catalog.get("Service[demo]").parameters["ensure"] = "running"
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    assert "systemd is not running on the target" in report.resource_statuses["Service[demo]"].events[0].message
