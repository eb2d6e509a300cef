"""The master's store failing under a running master: its disk full (a real tmpfs of a few MiB, filled with
a real file), its SQLite file deleted, its pages damaged. Catalogs keep flowing, no report is acknowledged
that is not kept, the master refuses to start on a store it cannot trust, and `bunraku store` brings it
back (backup while running, verify, restore)."""

from __future__ import annotations

import errno
import json
import logging
import os
import random
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.e2e.harness import agent_settings, client_for, issue_identity, make_site, start_master
from tests.reliability.fleet import MasterProcess, bunraku, issue

FULL_MESSAGE = "the master's store is full; keep the report and retry"


# -- helpers --------------------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB tmpfs, unmounted afterwards."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip() or done.returncode}")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)  # files still open


def fill_disk(mount_point: Path) -> Path:
    """Write a file until the filesystem has not one byte left; returns it (delete it to free the space)."""
    filler = mount_point / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return filler


def checkpoint(db: Path) -> None:
    """Fold the WAL into the database file and empty it, so that the next write must grow a file."""
    conn = sqlite3.connect(db)
    try:
        busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
    finally:
        conn.close()


def report_for(node: str, rng: random.Random) -> dict[str, Any]:
    from master.dashboard.sample import make_report

    report = make_report(node, datetime.now(UTC), "changed", rng)
    report["transaction_uuid"] = str(uuid.uuid4())
    return report


def submit(client: Any, report: dict[str, Any]) -> str:
    from wire.proto import bunraku_pb2 as pb

    return str(client.call("SubmitReport", pb.ReportRequest(report_json=json.dumps(report).encode())).id)


def stored_uuids(db: Path, node: str) -> set[str]:
    from master.store import Store

    with Store.open(path=db) as store:
        return {r["transaction_uuid"] for r in store.reports(node, last=1000)}


def scrape(master: Any) -> str:
    return str(master.ctx.metrics.render().decode())


def store_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "master.store.health" and r.levelno >= logging.ERROR]


# -- a full disk ----------------------------------------------------------------------------------------------


def test_a_full_store_serves_catalogs_refuses_reports_and_recovers_when_space_returns(
        tmp_path: Path, small_disk: Path, caplog: pytest.LogCaptureFixture) -> None:
    from agent.run import run_once
    from master.dashboard import TokenStore, create_app
    from wire.client import ClientError, MasterUnavailable

    caplog.set_level(logging.INFO)
    make_site(tmp_path / "envs")
    db = small_disk / "store.sqlite"
    master = start_master(tmp_path, tmp_path / "envs", store_url=f"sqlite:///{db}", autosign="true")
    try:
        old = agent_settings(master, tmp_path, "old.example.com")
        first = run_once(old)
        assert first.exit_code in (0, 2) and first.report_sent, first.lines
        checkpoint(db)
        filler = fill_disk(small_disk)

        # an agent that ran before: a fresh catalog (not its cached one), its report kept in its spool
        again = run_once(old)
        assert again.exit_code in (0, 2), again.lines
        assert again.cached_catalog_status == "not_used"
        assert not again.report_sent and len(list(old.spool_dir.glob("*.json"))) == 1
        # a node never seen: certificate, facts and a catalog all the same
        new = agent_settings(master, tmp_path, "new.example.com")
        bootstrap = run_once(new)
        assert bootstrap.exit_code in (0, 2), bootstrap.lines
        assert "hello from new.example.com" in (new.root / "etc/motd").read_text()
        assert not bootstrap.report_sent and len(list(new.spool_dir.glob("*.json"))) == 1
        # a report is refused as temporarily unavailable, with a line that says why and what to do
        operator = client_for(master, issue_identity(master, tmp_path, "admin", operator=True))
        with operator, pytest.raises(MasterUnavailable) as refused:
            submit(operator, report_for("old.example.com", random.Random(1)))
        assert FULL_MESSAGE in str(refused.value)
        assert isinstance(refused.value, ClientError)
        # loudly: one error for the change of state (not one per refused write), a metric, a banner
        assert len(store_errors(caplog)) == 1, store_errors(caplog)
        assert "is full" in store_errors(caplog)[0]
        assert "bunraku_store_writable 0.0" in scrape(master)
        tokens = TokenStore(tmp_path / "tokens.json")
        token = tokens.issue("ops", "viewer")
        page = _dashboard_page(create_app(master.ctx.store, tokens=tokens), token)
        assert "the master&#39;s store is full" in page or "the master's store is full" in page

        # space returns: writes resume by themselves; the spooled reports are delivered and kept
        filler.unlink()
        for settings in (old, new):
            result = run_once(settings)
            assert result.exit_code in (0, 2) and result.report_sent, result.lines
            assert not list(settings.spool_dir.glob("*.json"))
        assert "bunraku_store_writable 1.0" in scrape(master)
        assert len(store_errors(caplog)) == 1
        assert len(stored_uuids(db, "old.example.com")) == 3
        assert len(stored_uuids(db, "new.example.com")) == 2
    finally:
        master.stop()
        master.store.close()


def _dashboard_page(app: Any, token: str) -> str:
    import io

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/nodes", "QUERY_STRING": "", "wsgi.input": io.BytesIO(),
               "CONTENT_LENGTH": "0", "wsgi.url_scheme": "https", "SERVER_NAME": "localhost",
               "SERVER_PORT": "443", "HTTP_HOST": "localhost", "HTTP_AUTHORIZATION": f"Bearer {token}",
               "REMOTE_ADDR": "127.0.0.1"}
    status: list[str] = []
    body = b"".join(app(environ, lambda s, _headers, *_: status.append(s)))
    assert status and status[0].startswith("200"), (status, body[:300])
    return body.decode()


# -- the store file deleted while the master runs -------------------------------------------------------------


def test_a_deleted_store_acknowledges_nothing_and_is_restored_from_an_online_backup(tmp_path: Path) -> None:
    from wire.client import MasterClient, MasterUnavailable

    make_site(tmp_path / "envs")
    master = MasterProcess(tmp_path / "m", tmp_path / "envs")
    master.start()
    config = str(master.config_path)
    db = master.vardir / "store.sqlite"
    rng = random.Random(7)
    node = "web01.example.com"
    backup = tmp_path / "backups" / "store.bak"
    backup.parent.mkdir()
    try:
        identity = issue(master.ca(), tmp_path / "ids", node)
        client = MasterClient([master.address], identity, timeout=20)
        acknowledged = []
        for _ in range(20):
            report = report_for(node, rng)
            submit(client, report)
            acknowledged.append(report["transaction_uuid"])
        done = bunraku("store", "backup", str(backup), "--config", config)  # while the master runs
        assert done.returncode == 0, done.stderr
        assert "backed up the store" in done.stdout and "20 report(s)" in done.stdout

        db.unlink()
        refused = []
        for _ in range(3):
            report = report_for(node, rng)
            with pytest.raises(MasterUnavailable, match="store file was deleted or replaced"):
                submit(client, report)
            refused.append(report)
        client.close()
        errors = [line for line in master.log_text().splitlines() if "was deleted while the master" in line]
        assert len(errors) == 1, errors
        assert str(db) in errors[0]

        done = bunraku("store", "restore", str(backup), "--config", config)
        assert done.returncode == 1
        assert done.stderr.strip() == (f"error: a master is running on the store DB {db}; stop it (and every "
                                       "master using that file) before you restore it")
    finally:
        master.stop()

    # restarted on nothing: refused, with one line saying what happened and what to do
    with pytest.raises(RuntimeError):
        master.start(timeout=30)
    last = master.log_text().strip().splitlines()[-1]
    assert last.startswith(f"error: cannot start the master: the store DB {db} is missing but this master "
                           "created one there on ")
    assert last.endswith("; restore it with `bunraku store restore BACKUP` or create a new one with "
                         "`bunraku store init`")
    assert "Traceback" not in master.log_text()
    assert not db.exists()

    done = bunraku("store", "restore", str(backup), "--config", config)
    assert done.returncode == 0, done.stderr
    master.start()
    try:
        with MasterClient([master.address], identity, timeout=20) as client:
            for report in refused:  # what the agents kept, delivered again
                submit(client, report)
    finally:
        master.stop()
    assert stored_uuids(db, node) == set(acknowledged) | {r["transaction_uuid"] for r in refused}


def test_create_store_starts_anew_where_the_store_was_lost(tmp_path: Path) -> None:
    master = MasterProcess(tmp_path / "m", None)
    master.start()  # a fresh machine: no flag needed
    master.stop()
    db = master.vardir / "store.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with pytest.raises(RuntimeError):
        master.start(timeout=30)
    assert "is missing but this master created one" in master.log_text()
    assert not db.exists()
    old_id = json.loads((master.vardir / "store-marker.json").read_text())["stores"][str(db)]["id"]

    master.start("--create-store")
    master.stop()
    new_id = json.loads((master.vardir / "store-marker.json").read_text())["stores"][str(db)]["id"]
    assert new_id and new_id != old_id
    master.start()  # and from then on, as usual
    master.stop()


# -- damaged pages --------------------------------------------------------------------------------------------


def corrupt_middle_pages(db: Path) -> None:
    """Overwrite a run of pages in the middle of the file with garbage (as a bad disk or a stray write):
    pages of report data, past the small tables a master reads as it starts, so only a check finds it."""
    page = 4096
    pages = db.stat().st_size // page
    assert pages >= 80, f"{db} is too small to damage in the middle ({pages} pages)"
    rng = random.Random(3)
    with open(db, "r+b") as fh:
        fh.seek(pages // 2 * page)
        fh.write(rng.randbytes(pages // 4 * page))


def test_a_master_will_not_start_on_a_damaged_store(tmp_path: Path) -> None:
    from wire.client import MasterClient

    master = MasterProcess(tmp_path / "m", None)
    master.start()
    config = str(master.config_path)
    db = master.vardir / "store.sqlite"
    node = "db01.example.com"
    rng = random.Random(11)
    with MasterClient([master.address], issue(master.ca(), tmp_path / "ids", node), timeout=20) as client:
        for _ in range(40):
            submit(client, report_for(node, rng))
    master.stop()
    checkpoint(db)
    backup = tmp_path / "store.bak"
    shutil.copyfile(db, backup)  # the master is stopped and the WAL folded in: a plain copy is a backup
    corrupt_middle_pages(db)

    with pytest.raises(RuntimeError):
        master.start(timeout=30)
    last = master.log_text().strip().splitlines()[-1]
    assert last.startswith(f"error: cannot start the master: the store DB {db} is damaged (")
    assert last.endswith("); restore it with `bunraku store restore BACKUP`, or move it aside and create a "
                         "new one with `bunraku store init`")
    assert "Traceback" not in master.log_text()

    damaged = bunraku("store", "verify", "--config", config)
    assert damaged.returncode == 1 and damaged.stderr.startswith(f"error: {db} is damaged: ")
    assert len(damaged.stderr.strip().splitlines()) == 1
    good = bunraku("store", "verify", str(backup), "--config", config)
    assert good.returncode == 0 and "ok (schema version" in good.stdout and "40 report(s)" in good.stdout
    refused = bunraku("store", "init", "--config", config)
    assert refused.returncode == 1 and "is damaged" in refused.stderr and "move it aside" in refused.stderr

    restored = bunraku("store", "restore", str(backup), "--config", config)
    assert restored.returncode == 0, restored.stderr
    assert "the file it replaced is kept as" in restored.stdout
    master.start()
    master.stop()
    assert len(stored_uuids(db, node)) == 40


def test_the_grpc_code_of_a_refused_report_is_unavailable(tmp_path: Path) -> None:
    """Agents keep a report the master answers UNAVAILABLE (and drop one it refuses for good)."""
    from wire.proto import bunraku_pb2 as pb
    from wire.proto import bunraku_pb2_grpc as pb_grpc

    master = start_master(tmp_path, None)
    try:
        paths = issue_identity(master, tmp_path, "web02.example.com")
        db = master.config.store_path
        db.unlink()
        creds = grpc.ssl_channel_credentials(root_certificates=paths.ca.read_bytes(),
                                             private_key=paths.key.read_bytes(),
                                             certificate_chain=paths.cert.read_bytes())
        with grpc.secure_channel(master.address, creds) as channel:
            stub = pb_grpc.MasterStub(channel)
            report = report_for("web02.example.com", random.Random(2))
            with pytest.raises(grpc.RpcError) as refused:
                stub.SubmitReport(pb.ReportRequest(report_json=json.dumps(report).encode()), timeout=20)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        details = refused.value.details() or ""
        assert details == "the master's store file was deleted or replaced; keep the report and retry"
        assert str(tmp_path) not in details
    finally:
        master.stop()
        master.store.close()
