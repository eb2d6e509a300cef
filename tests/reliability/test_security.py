"""Security: certificates the master must refuse, what one node may not see of another, Sensitive values
kept out of logs, reports, stores, spools and diffs, private files on disk, and the master running as
an unprivileged user."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.e2e.harness import client_for, issue_identity, make_site, start_master
from tests.reliability.fleet import ROOT, MasterProcess, free_port, issue, pg_store_or_skip, record_figures
from wire import pki
from wire.client import ClientError, MasterClient, MasterUnavailable
from wire.proto import bunraku_pb2 as pb


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("security")


@pytest.fixture(scope="module")
def master(tmp: Path) -> Iterator:
    make_site(tmp / "envs")
    server = start_master(tmp, tmp / "envs")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def web01(master, tmp: Path):  # noqa: ANN001, ANN201
    return issue_identity(master, tmp, "web01.example.com")


# -- certificates ---------------------------------------------------------------------------------
def _cert_signed_by(ca_key, ca_cert, certname: str, *, not_before: datetime.datetime,  # noqa: ANN001
                    not_after: datetime.datetime, key=None) -> tuple[bytes, bytes]:  # noqa: ANN001
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = key or pki.generate_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, certname)])
    cert = (x509.CertificateBuilder().subject_name(name)
            .issuer_name(ca_cert.subject if ca_cert is not None else name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key or key, hashes.SHA256()))
    return pki.key_pem(key), pki.cert_pem(cert)


def _client_with(master, tmp: Path, name: str, key_pem: bytes, cert_pem: bytes) -> MasterClient:  # noqa: ANN001
    paths = pki.SSLPaths(tmp / name, "web01.example.com")
    pki.write_private(paths.key, key_pem)
    pki.write_public(paths.cert, cert_pem)
    pki.write_public(paths.ca, master.ctx.ca.ca_pem())
    return MasterClient([master.address], paths, timeout=5)


@pytest.mark.parametrize("kind", ["expired", "not_yet_valid", "self_signed"])
def test_expired_future_and_unsigned_certificates_are_refused(master, web01, tmp: Path, kind: str) -> None:
    now = datetime.datetime.now(datetime.UTC)
    ca_key, ca_cert = master.ctx.ca.ca_key, master.ctx.ca.ca_cert
    if kind == "expired":
        key, cert = _cert_signed_by(ca_key, ca_cert, "web01.example.com", not_before=now - datetime.timedelta(days=30),
                                    not_after=now - datetime.timedelta(days=1))
    elif kind == "not_yet_valid":
        key, cert = _cert_signed_by(ca_key, ca_cert, "web01.example.com", not_before=now + datetime.timedelta(days=1),
                                    not_after=now + datetime.timedelta(days=30))
    else:
        key, cert = _cert_signed_by(None, None, "web01.example.com", not_before=now - datetime.timedelta(days=1),
                                    not_after=now + datetime.timedelta(days=30))
    with _client_with(master, tmp, kind, key, cert) as client, pytest.raises((MasterUnavailable, ClientError)):
        client.call("GetCatalog", pb.CatalogRequest(facts_json=b"{}"))
    # the same name with a valid certificate works: the refusal was the certificate's
    with client_for(master, web01) as client:
        client.call("GetCatalog", pb.CatalogRequest(facts_json=b"{}"))


def test_a_node_cannot_read_another_nodes_facts_reports_or_diffs(master, tmp: Path) -> None:
    with client_for(master, issue_identity(master, tmp, "db01.example.com")) as victim:
        victim.call("GetCatalog", pb.CatalogRequest(facts_json=b'{"role": "db", "secret_fact": "v1"}'))
    with client_for(master, issue_identity(master, tmp, "web02.example.com")) as spy:
        calls = [("GetFacts", pb.GetFactsRequest(node="db01.example.com")),
                 ("GetReports", pb.GetReportsRequest(node="db01.example.com", last=5)),
                 ("GetCatalog", pb.CatalogRequest(node="db01.example.com", facts_json=b"{}")),
                 ("SubmitFacts", pb.FactsRequest(node="db01.example.com", facts_json=b"{}")),
                 ("DiffCatalog", pb.DiffCatalogRequest(node="db01.example.com", from_rev="a", to_rev="b")),
                 ("ListNodes", pb.ListNodesRequest())]
        for method, request in calls:
            with pytest.raises(ClientError) as info:
                spy.call(method, request)
            assert info.value.code == grpc.StatusCode.PERMISSION_DENIED, method
        # its own facts it may read
        own = spy.call("GetFacts", pb.GetFactsRequest())
        assert not own.found or "secret_fact" not in own.facts_json.decode()


# -- Sensitive end to end ----------------------------------------------------------------------------
SECRET = "s3cr3t-" + uuid.uuid4().hex[:12]
OLD_SECRET = "old-s3cr3t-" + uuid.uuid4().hex[:12]
PW_HASH = "$6$salt$" + uuid.uuid4().hex
SENSITIVE_PP = f"""\
node default {{
  file {{ '/etc/secret.conf': ensure => file, content => Sensitive("{SECRET}\\n") }}
  user {{ 'bob': ensure => present, uid => 2001, password => Sensitive('{PW_HASH}') }}
  notify {{ 'visible': message => 'nothing to hide' }}
}}
"""


def _sensitive_root(root: Path) -> None:
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc/group").write_text("root:x:0:\nusers:x:100:\n")
    (root / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc/gshadow").write_text("root:*::\nusers:*::\n")
    for name in ("shadow", "gshadow"):
        os.chmod(root / "etc" / name, 0o640)
    (root / "etc/secret.conf").write_text(OLD_SECRET + "\n")  # so a diff would show both


def _find_secrets(where: str, data: bytes, found: list[str]) -> None:
    for secret in (SECRET, OLD_SECRET, PW_HASH):
        if secret.encode() in data:
            found.append(f"{where}: {secret[:10]}...")


def test_sensitive_values_never_reach_logs_reports_stores_spools_or_diffs(tmp_path: Path) -> None:
    env = tmp_path / "envs" / "production"
    (env / "manifests").mkdir(parents=True)
    (env / "modules").mkdir()
    (env / "manifests" / "site.pp").write_text(SENSITIVE_PP)
    master = MasterProcess(tmp_path / "m", tmp_path / "envs", log_format="json")
    master.start("--autosign", "true")  # the real CSR round trip too
    base = tmp_path / "agent"
    _sensitive_root(base / "root")
    (base / "facts.json").write_text(json.dumps({"role": "vault"}))
    cmd = [sys.executable, str(ROOT / "bunraku.py"), "agent", "-t", "--server", master.address,
           "--ca-server", master.ca_address, "--certname", "vault.example.com", "--root", str(base / "root"),
           "--vardir", str(base / "var"), "--ssldir", str(base / "ssl"), "--facts", str(base / "facts.json"),
           "--waitforcert", "0", "--debug"]
    found: list[str] = []
    try:
        first = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert first.returncode == 2, first.stdout + first.stderr
        assert (base / "root/etc/secret.conf").read_text() == SECRET + "\n"
        assert PW_HASH in (base / "root/etc/shadow").read_text()
        _find_secrets("agent output (run 1, --show-diff, --debug)", (first.stdout + first.stderr).encode(), found)
        # the master goes away: the next run uses the cached catalog and spools its report
        master.stop()
        (base / "root/etc/secret.conf").write_text(OLD_SECRET + "\n")
        offline = subprocess.run([*cmd[:2], "agent", "--onetime", *cmd[4:]], cwd=ROOT, capture_output=True,
                                 text=True, timeout=120)
        _find_secrets("agent output (offline run)", (offline.stdout + offline.stderr).encode(), found)
        spooled = list((base / "var/spool").glob("*.json"))
        assert spooled, offline.stdout + offline.stderr
        for path in spooled:
            _find_secrets(f"spool {path.name}", path.read_bytes(), found)
        master.start()
        again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        _find_secrets("agent output (run 3)", (again.stdout + again.stderr).encode(), found)
        assert again.returncode in (0, 2), again.stdout + again.stderr
    finally:
        master.stop()
    _find_secrets("master log", master.log_path.read_bytes(), found)
    for path in (base / "var").rglob("*"):
        if not path.is_file():
            continue
        if "client_data" in path.parts or path.name == "last_good_catalog.json":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path  # catalogs must hold it: private
            continue
        _find_secrets(str(path.relative_to(base)), path.read_bytes(), found)
    for path in (base / "root/var").rglob("*") if (base / "root/var").exists() else []:
        if path.is_file() and "clientbucket" not in path.parts:  # the filebucket keeps old contents, 0600
            _find_secrets(str(path.relative_to(base)), path.read_bytes(), found)
    store_bytes = b"".join(p.read_bytes() for p in master.vardir.glob("store.sqlite*"))
    assert store_bytes
    _find_secrets("SQLite store file (+ WAL)", store_bytes, found)
    from master.store import Store

    with Store.open(path=master.vardir / "store.sqlite") as store:
        reports = store.reports("vault.example.com", last=10)
        assert len(reports) == 3  # the spooled one arrived
        _find_secrets("stored reports", json.dumps(reports, default=str).encode(), found)
        _find_secrets("stored catalog", json.dumps(store.get_catalog("vault.example.com"), default=str).encode(),
                      found)
    assert found == [], found
    record_figures("sensitive_end_to_end", {"places_searched": "agent output x3, spool, master log, SQLite, "
                                                                "reports, state dir", "leaks": 0})


def test_sensitive_values_never_reach_postgresql(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from agent.run import run_once
    from tests.reliability.fleet import light_agent

    store = pg_store_or_skip()
    env = tmp_path / "envs" / "production"
    (env / "manifests").mkdir(parents=True)
    (env / "modules").mkdir()
    (env / "manifests" / "site.pp").write_text(SENSITIVE_PP)
    server = start_master(tmp_path, tmp_path / "envs", store=store)
    node = f"vault-{uuid.uuid4().hex[:8]}.example.com"
    try:
        s = light_agent([server.address], tmp_path, issue(server.ctx.ca, tmp_path / "ids", node), show_diff=True)
        _sensitive_root(s.root)
        result = run_once(s)
        assert result.exit_code == 2 and result.report_sent, result.lines
    finally:
        server.stop()
    found: list[str] = []
    _find_secrets("agent lines", "\n".join(t for _, t in result.lines).encode(), found)
    with store.engine.connect() as conn:
        tables = [t for t in sa.inspect(conn).get_table_names()]
        for table in tables:
            rows = conn.execute(sa.text(f"SELECT t::text FROM {table} t")).scalars().all()
            _find_secrets(f"postgresql table {table}", "\n".join(r for r in rows if node in r or True).encode(),
                          found)
    store.close()
    assert tables and found == [], found


# -- files on disk ---------------------------------------------------------------------------------
def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_and_state_on_disk_are_private(master, tmp: Path) -> None:
    from agent.run import run_once
    from tests.reliability.fleet import light_agent

    s = light_agent([master.address], tmp, issue(master.ctx.ca, tmp / "ids", "modes.example.com"))
    s.ca_server = master.ca_address
    assert run_once(s).exit_code == 2
    s.servers = [f"127.0.0.1:{free_port()}"]
    s.timeout = 3
    run_once(s)  # spools a report
    checked: dict[str, str] = {}

    def private(path: Path, want: int) -> None:
        mode = _mode(path)
        assert mode & ~want == 0, f"{path} is {mode:o}, wanted at most {want:o}"
        checked[str(path.name)] = f"{mode:o}"

    for key in (master.config.ssldir).rglob("*"):
        if "private" in str(key.relative_to(master.config.ssldir)) or key.name.endswith("_key.pem"):
            if key.is_file():
                private(key, 0o600)
    private(pki.SSLPaths(s.ssldir, s.certname).key, 0o600)
    private(s.vardir, 0o700)
    for sub in ("state", "spool", "client_data", "client_data/catalog", "filecache"):
        private(s.vardir / sub, 0o700)
    private(s.catalog_cache, 0o600)
    spooled = list(s.spool_dir.glob("*.json"))
    assert spooled
    for path in spooled:
        private(path, 0o600)
    private(master.config.vardir / "store.sqlite", 0o600)
    assert any(k.endswith(".pem") for k in checked)
    record_figures("file_modes", {"files_checked": len(checked)})


# -- the master runs unprivileged -------------------------------------------------------------------
def _status_ids(pid: int) -> tuple[int, int]:
    lines = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    uids = {int(x) for x in lines["Uid"].split()}
    gids = {int(x) for x in lines["Gid"].split()}
    assert len(uids) == 1 and len(gids) == 1, (uids, gids)  # real, effective, saved, fs: all the same
    return uids.pop(), gids.pop()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_the_master_drops_root_for_the_given_user(tmp_path: Path) -> None:
    import pwd

    nobody = pwd.getpwnam("nobody")
    # pytest's own temporary directories are root's (0700): nobody could not even reach them
    top = Path(tempfile.mkdtemp(prefix="bunraku-user-"))
    os.chmod(top, 0o755)
    try:
        _run_as_nobody(top, tmp_path, nobody)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _run_as_nobody(top: Path, tmp_path: Path, nobody: Any) -> None:
    make_site(top / "envs")
    master = MasterProcess(top / "m", top / "envs")
    master.port_file = master.vardir / "ports"  # written after the switch: in its own (handed over) vardir
    master.vardir.mkdir(parents=True)
    os.chmod(master.base, 0o755)
    master.start("--user", "nobody")
    try:
        assert master.proc is not None
        assert _status_ids(master.proc.pid) == (nobody.pw_uid, nobody.pw_gid)
        children = subprocess.run(["pgrep", "-P", str(master.proc.pid)], capture_output=True, text=True).stdout.split()
        workers = [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        assert workers  # the compile worker(s) run as the user too; multiprocessing's resource tracker
        for child in workers:  # (a helper that only removes semaphores at exit) stays as it started
            assert _status_ids(int(child))[0] == nobody.pw_uid
        assert (master.vardir / "store.sqlite").stat().st_uid == nobody.pw_uid
        # and it works: a node gets its catalog and its report is stored
        ca = master.ca()
        paths = issue(ca, tmp_path / "ids", "web01.example.com")
        with MasterClient([master.address], paths, timeout=20) as client:
            client.call("GetCatalog", pb.CatalogRequest(facts_json=b'{"role": "web"}'))
            report = {"host": "web01.example.com", "transaction_uuid": str(uuid.uuid4()), "status": "unchanged",
                      "time": "2024-01-01T00:00:00Z", "environment": "production", "noop": False,
                      "resource_statuses": {}, "metrics": {}, "logs": []}
            client.call("SubmitReport", pb.ReportRequest(report_json=json.dumps(report).encode()))
    finally:
        master.stop()
    bad = subprocess.run([sys.executable, str(ROOT / "bunraku.py"), "master", "--config", str(master.config_path),
                          "--user", "no-such-user-xyz"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert bad.returncode == 1 and bad.stderr.strip() == "error: no such user: no-such-user-xyz"
    record_figures("master_user", {"uid": nobody.pw_uid, "workers_checked": len(workers)})
