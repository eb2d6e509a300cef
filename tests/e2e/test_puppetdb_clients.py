"""PuppetDB's query API on a real master's dashboard listener, read by the real clients: pypuppetdb (with an
operator certificate, and with a dashboard token) and Puppetboard, started as its own Flask process and
opened in headless Chromium. The store holds the reports of real agent runs: web01 changed, then ran
unchanged; db01 failed on a file whose directory does not exist."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.run import run_once
from master.dashboard import TokenStore
from tests.e2e.harness import agent_settings, issue_identity, make_site, start_master, wait_for

pypuppetdb = pytest.importorskip("pypuppetdb", reason="pypuppetdb is not installed (pip install -e .[test])")

SITE_PP = """\
node default {
  include demo
}
node 'db01.example.com' {
  include demo
  file { '/missing-dir/sub/app.conf': ensure => file, content => "x\\n" }
}
"""
WEB, DB, OLD = "web01.example.com", "db01.example.com", "old01.example.com"


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("pdb")
    env = make_site(tmp / "envs")
    (env / "manifests" / "site.pp").write_text(SITE_PP)
    server = start_master(tmp, tmp / "envs", dashboard_listen="127.0.0.1:0", autosign="true")
    try:
        web = agent_settings(server, tmp, WEB, facts={"role": "web", "networking": {"fqdn": WEB},
                                                      "os": {"family": "Debian", "release": {"major": "12"}}})
        db = agent_settings(server, tmp, DB, facts={"role": "db", "networking": {"fqdn": DB},
                                                    "os": {"family": "RedHat", "release": {"major": "9"}}})
        first = run_once(web)
        assert first.exit_code in (0, 2), first
        again = run_once(web)
        assert again.exit_code == 0, again
        failed = run_once(db)
        assert failed.exit_code != 0, failed
        # a node decommissioned with `bunraku store deactivate`: PuppetDB's clients see it as inactive
        server.ctx.store.save_facts(OLD, {"role": "web"})
        assert server.ctx.store.deactivate_node(OLD)
        operator = issue_identity(server, tmp, "alice", operator=True)
        token = TokenStore(tmp / "master" / "ssl" / "dashboard-tokens.json").issue("scripts")
        yield {"server": server, "port": server.dashboard.port, "ca": str(operator.ca), "cert": str(operator.cert),
               "key": str(operator.key), "token": token, "tmp": tmp}
    finally:
        server.stop()


def _with_certificate(master: dict[str, Any]) -> Any:
    return pypuppetdb.connect(host="127.0.0.1", port=master["port"], ssl_verify=master["ca"],
                              ssl_key=master["key"], ssl_cert=master["cert"], timeout=30)


def test_pypuppetdb_reads_nodes_facts_resources_reports_and_events(master: dict[str, Any]) -> None:
    db = _with_certificate(master)
    assert db.current_version() >= "5.2.0"
    nodes = {n.name: n for n in db.nodes(with_status=True, unreported=24)}
    assert set(nodes) == {WEB, DB}
    assert nodes[WEB].status == "unchanged" and nodes[DB].status == "failed"
    assert nodes[DB].events["failures"] == 1
    assert nodes[WEB].report_timestamp is not None and nodes[WEB].deactivated is False

    assert db.node(WEB).name == WEB
    inactive = list(db.nodes(query='["=", "node_state", "inactive"]'))
    assert [n.name for n in inactive] == [OLD] and inactive[0].deactivated and not inactive[0].expired
    families = {f.node: f.value for f in db.facts("os")}
    assert families[WEB]["family"] == "Debian" and families[DB]["family"] == "RedHat"
    assert [f.node for f in db.facts("role", "db")] == [DB]
    assert "networking" in db.fact_names()

    motd = list(db.resources("file", "/etc/motd"))
    assert {r.node for r in motd} == {WEB, DB}
    assert all(r.type_ == "File" and r.name == "/etc/motd" for r in motd)
    assert {r.name for r in db.node(DB).resources("file")} >= {"/etc/motd", "/missing-dir/sub/app.conf"}
    catalog = db.catalog(WEB)
    assert catalog.get_resource("File", "/etc/motd") is not None

    reports = list(db.reports(query=json.dumps(["=", "certname", WEB]),
                              order_by='[{"field": "start_time", "order": "desc"}]'))
    assert [r.status for r in reports] == ["unchanged", "changed"]
    assert any(m["category"] == "time" for m in reports[1].metrics)
    changed_events = list(reports[1].events())
    assert changed_events and {e.status for e in changed_events} == {"success"}
    assert any(e.item["title"] == "/etc/motd" for e in changed_events)

    failures = list(db.events(query=json.dumps(["and", ["=", "certname", DB], ["=", "status", "failure"]])))
    assert [(e.item["type"], e.item["title"]) for e in failures] == [("File", "/missing-dir/sub/app.conf")]

    counted = db.aggregate_event_counts("certname", query='["=", "latest_report?", true]')
    assert counted[0]["failures"] == 1 and counted[0]["total"] == 1

    names = [n.name for n in db.pql('nodes { facts { name = "role" and value = "db" } }')]
    assert names == [DB]
    grouped = list(db.pql('reports[status, count()] { group by status }'))
    assert {g["status"]: g["count"] for g in grouped} == {"changed": 1, "unchanged": 1, "failed": 1}
    page = list(db.reports(query='["=", "environment", "production"]', limit=1, include_total=True))
    assert len(page) == 1 and db.total == 3


def test_pypuppetdb_with_a_dashboard_token(master: dict[str, Any]) -> None:
    db = pypuppetdb.connect(host="127.0.0.1", port=master["port"], ssl_verify=master["ca"], token=master["token"],
                            protocol="https", timeout=30)
    assert {n.name for n in db.nodes()} == {WEB, DB}
    stranger = pypuppetdb.connect(host="127.0.0.1", port=master["port"], ssl_verify=master["ca"],
                                  token="bkd_not-a-token", protocol="https", timeout=30)
    with pytest.raises(Exception, match="401"):
        list(stranger.nodes())


def test_an_unsupported_query_is_a_400_with_its_reason(master: dict[str, Any]) -> None:
    db = _with_certificate(master)
    with pytest.raises(Exception) as caught:
        list(db.nodes(query='["=", "no_such_field", "x"]'))
    response = caught.value.response  # type: ignore[attr-defined]
    assert response.status_code == 400
    assert response.text.startswith("'no_such_field' is not a queryable field of nodes; known fields: certname,")


# -- Puppetboard in a browser ------------------------------------------------------------------------------------

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def puppetboard(master: dict[str, Any]) -> Iterator[str]:
    pytest.importorskip("puppetboard", reason="puppetboard is not installed (pip install -e .[test])")
    settings = master["tmp"] / "puppetboard_settings.py"
    settings.write_text(
        f"PUPPETDB_HOST = '127.0.0.1'\nPUPPETDB_PORT = {master['port']}\nPUPPETDB_PROTO = 'https'\n"
        f"PUPPETDB_SSL_VERIFY = {master['ca']!r}\nPUPPETDB_CERT = {master['cert']!r}\n"
        f"PUPPETDB_KEY = {master['key']!r}\nSECRET_KEY = 'puppetboard-test-secret'\nOFFLINE_MODE = True\n"
        "UNRESPONSIVE_HOURS = 24\nENABLE_CATALOG = True\nDEFAULT_ENVIRONMENT = 'production'\nLOGLEVEL = 'warning'\n")
    port = _free_port()
    log = (master["tmp"] / "puppetboard.log").open("w")
    env = dict(os.environ, PUPPETBOARD_SETTINGS=str(settings))
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "puppetboard.app", "run", "--host",
                                "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                               cwd=master["tmp"])
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"puppetboard exited: {(master['tmp'] / 'puppetboard.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/status", timeout=5):
                return True
        except (urllib.error.URLError, OSError):
            return False

    try:
        wait_for(up, 60, "puppetboard to answer")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("chromium is not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="bunraku-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _page(browser: Any, url: str, *expected: str, timeout: float = 30) -> str:
    """Open ``url`` and wait until its text (tables filled by script included) shows every ``expected``."""
    from selenium.webdriver.common.by import By

    browser.get(url)
    deadline = time.monotonic() + timeout
    while True:
        text = browser.find_element(By.TAG_NAME, "body").text
        if all(e in text for e in expected):
            return str(text)
        if time.monotonic() > deadline:
            missing = [e for e in expected if e not in text]
            raise AssertionError(f"{url} does not show {missing}; it shows:\n{text[:3000]}")
        time.sleep(0.3)


def test_puppetboard_pages_show_the_fleet(master: dict[str, Any], puppetboard: str, browser: Any) -> None:
    overview = _page(browser, puppetboard + "/", DB)
    # the overview lists the nodes that need attention: the failed one, not the unchanged one
    assert WEB not in overview
    assert "1 node\nwith status failed" in overview and "1 node\nwith status unchanged" in overview
    assert "0 nodes\nwith status changed" in overview and "2\nPopulation" in overview
    assert "FAILED" in overview.split(DB)[0].rsplit("\n", 1)[-1]  # the failed node's row says so

    node = _page(browser, f"{puppetboard}/node/{WEB}", WEB, "networking", "role", "unchanged", "changed")
    assert "Debian" in node

    facts = _page(browser, puppetboard + "/facts", "networking", "role", "os")
    assert "synced_role" in facts or "role" in facts

    _page(browser, f"{puppetboard}/fact/role", WEB, DB)

    reports = _page(browser, puppetboard + "/reports", WEB, DB)
    assert "failed" in reports.lower() and "changed" in reports.lower()

    hash_ = _with_certificate(master).node(DB).latest_report_hash
    detail = _page(browser, f"{puppetboard}/report/{DB}/{hash_}", "/missing-dir/sub/app.conf", DB)
    assert "failure" in detail.lower() or "failed" in detail.lower()
    assert "File[/etc/motd]" in detail or "/etc/motd" in detail


@pytest.mark.parametrize(("path", "expected"), [
    ("/nodes", (WEB, DB)), ("/failures", (DB,)), ("/radiator", ("failed",)), ("/*/", (DB,)),
    ("/inventory/json", (WEB, DB)), ("/reports/json", (WEB, DB)), (f"/catalog/{WEB}", ("/etc/motd",)),
    ("/query", ("Query",)), ("/daily_reports_chart.json", ("failed",)),
])
def test_puppetboards_other_pages_answer(puppetboard: str, path: str, expected: tuple[str, ...]) -> None:
    try:
        with urllib.request.urlopen(puppetboard + path, timeout=60) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    assert status == 200, f"{path}: {status}\n{text[-1500:]}"
    for word in expected:
        assert word in text, f"{path} does not show {word!r}"
