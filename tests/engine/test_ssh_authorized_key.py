"""ssh_authorized_key: a key line in a user's authorized_keys; other lines are never touched."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from engine.apply import apply_catalog

from .conftest import CatalogBuilder, changes, converge, failures

KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5bWF0ZXJpYWxmb3JidW5yYWt1dGVzdHM="
OTHER = "AAAAC3NzaC1lZDI1NTE5AAAAIG90aGVya2V5bWF0ZXJpYWxmb3JidW5yYWt1dGVzdA=="


def _with_user(root: Path) -> Path:
    with open(root / "etc/passwd", "a") as fh:
        fh.write("alice:x:1001:1001::/home/alice:/bin/bash\n")
    home = root / "home/alice"
    home.mkdir(parents=True)
    return home


def test_key_is_added_idempotently_and_hand_lines_kept(root: Path, state: Path) -> None:
    home = _with_user(root)
    (home / ".ssh").mkdir(mode=0o700)
    keys = home / ".ssh/authorized_keys"
    keys.write_text("# managed by hand\nssh-rsa AAAAB3NzaC1yc2E= bob@desk\n")
    cb = CatalogBuilder()
    cb.add("Ssh_authorized_key", "alice@laptop", user="alice", type="ed25519", key=KEY,
           options=["no-pty", 'from="10.0.0.0/8,192.168.0.0/16"'])
    converge(cb.catalog, root, state)
    assert keys.read_text() == ("# managed by hand\nssh-rsa AAAAB3NzaC1yc2E= bob@desk\n"
                                f'no-pty,from="10.0.0.0/8,192.168.0.0/16" ssh-ed25519 {KEY} alice@laptop\n')
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o600
    assert os.stat(keys).st_uid == 1001


def test_key_change_and_removal(root: Path, state: Path) -> None:
    home = _with_user(root)
    cb = CatalogBuilder()
    cb.add("Ssh_authorized_key", "alice@laptop", user="alice", type="ssh-ed25519", key=KEY)
    converge(cb.catalog, root, state)
    assert stat.S_IMODE(os.stat(home / ".ssh").st_mode) == 0o700
    cb2 = CatalogBuilder()
    ref = cb2.add("Ssh_authorized_key", "alice@laptop", user="alice", type="ssh-ed25519", key=OTHER)
    report = apply_catalog(cb2.catalog, root=root, state_dir=state)
    assert changes(report) == {(ref, "key")}
    assert OTHER in (home / ".ssh/authorized_keys").read_text()
    cb3 = CatalogBuilder()
    cb3.add("Ssh_authorized_key", "alice@laptop", user="alice", ensure="absent")
    converge(cb3.catalog, root, state)
    assert (home / ".ssh/authorized_keys").read_text() == ""


def test_unknown_user_is_a_clear_failure(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    ref = cb.add("Ssh_authorized_key", "x", user="ghost", type="rsa", key=KEY)
    predicted = apply_catalog(cb.catalog, root=root, state_dir=state, noop=True)
    assert changes(predicted) == {(ref, "ensure")}
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    assert "user ghost does not exist" in failures(report)[ref][0]
