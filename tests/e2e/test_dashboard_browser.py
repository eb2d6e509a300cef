"""The dashboard in a real headless browser (Debian's chromium and chromedriver) against a real HTTPS server
on loopback: logging in with a token, following links from the overview to a node to a report, filtering,
paging, searching by fact, and the server-drawn SVG charts. Skipped only when chromium is not installed."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from master.dashboard import TokenStore, create_app, serve
from master.dashboard.sample import seed_sample_fleet
from master.store import Store
from tests.master.test_dashboard_tls import Pki

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                                reason="chromium is not installed (apt-get install chromium chromium-driver)")

from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("browser")
    pki = Pki()
    ca = pki.write_ca(base)
    cert, key = pki.write(base, "master", pki.issue("master", server=True))
    store = Store.open(path=base / "store.db")
    fleet = seed_sample_fleet(store, now=NOW, nodes=9, days=2, runs_per_day=12)
    tokens = TokenStore(base / "tokens.json")
    token = tokens.issue("browser-user")
    server = serve(create_app(store, tokens=tokens, now=lambda: NOW, page_size=10), "127.0.0.1", 0,
                   certfile=cert, keyfile=key, cafile=ca)
    try:
        yield {"url": server.url.rstrip("/"), "token": token, "store": store, "fleet": fleet}
    finally:
        server.shutdown()
        store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    profile = tempfile.mkdtemp(prefix="bunraku-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--ignore-certificate-errors", f"--user-data-dir={profile}",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def log_in(browser: Any, dashboard: dict[str, Any]) -> None:
    browser.get(dashboard["url"] + "/login")
    if browser.find_elements(By.ID, "token"):
        browser.find_element(By.ID, "token").send_keys(dashboard["token"])
        navigate(browser, browser.find_element(By.ID, "login"))


def navigate(browser: Any, element: Any) -> None:
    """Click ``element`` and wait for the next page to replace this one, fully loaded."""
    page = browser.find_element(By.TAG_NAME, "html")
    element.click()

    def replaced(driver: Any) -> bool:
        try:
            page.is_enabled()
        except WebDriverException:  # stale, or Chrome's "node does not belong to the document": gone
            return True
        return False

    WebDriverWait(browser, 10).until(replaced)
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")


def query_of(browser: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(browser.current_url).query)


def test_login_then_overview_to_node_to_report(browser: Any, dashboard: dict[str, Any]) -> None:
    browser.delete_all_cookies()
    browser.get(dashboard["url"] + "/nodes")
    assert urlsplit(browser.current_url).path == "/login"
    browser.find_element(By.ID, "token").send_keys("bkd_not-a-token")
    navigate(browser, browser.find_element(By.ID, "login"))
    assert browser.find_element(By.ID, "login-error").text == "token refused"
    browser.find_element(By.ID, "token").send_keys(dashboard["token"])
    navigate(browser, browser.find_element(By.ID, "login"))
    assert urlsplit(browser.current_url).path == "/nodes"  # back where we were going
    assert "browser-user" in browser.find_element(By.CLASS_NAME, "who").text

    navigate(browser, browser.find_element(By.LINK_TEXT, "Overview"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Fleet overview"
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == 3 and all(c.size["width"] > 300 and c.size["height"] > 100 for c in charts)
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")

    # a failure of the last day -> its node -> its latest report
    node_link = browser.find_element(By.CSS_SELECTOR, "table.reports a.node-link")
    node = node_link.text
    navigate(browser, node_link)
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(node)
    node_charts = browser.find_elements(By.CSS_SELECTOR, "#node-charts svg.chart")
    assert len(node_charts) == 2 and node_charts[0].find_elements(By.TAG_NAME, "polyline")
    assert "role::" in browser.find_element(By.ID, "classes").text
    report_link = browser.find_element(By.CSS_SELECTOR, "table.reports a.report-link")
    report_id = report_link.text.removeprefix("report #")
    navigate(browser, report_link)
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(f"Report #{report_id} of {node}")
    assert urlsplit(browser.current_url).path == f"/report/{report_id}"


def test_a_report_shows_its_file_diff(browser: Any, dashboard: dict[str, Any]) -> None:
    log_in(browser, dashboard)
    changed = dashboard["store"].report_summaries(dashboard["fleet"].nodes[1], last=1)[0]
    browser.get(f"{dashboard['url']}/report/{changed['id']}")
    added = browser.find_element(By.CSS_SELECTOR, "pre.diff span.add")
    assert added.text == "+server ntp1.example.com"
    assert added.value_of_css_property("color") != browser.find_element(
        By.CSS_SELECTOR, "pre.diff span.del").value_of_css_property("color")


def test_node_filters_and_paging(browser: Any, dashboard: dict[str, Any]) -> None:
    log_in(browser, dashboard)
    browser.get(dashboard["url"] + "/nodes")
    Select(browser.find_element(By.ID, "status")).select_by_visible_text("failed")
    navigate(browser, browser.find_element(By.ID, "apply"))
    assert query_of(browser)["status"] == ["failed"]
    badges = browser.find_elements(By.CSS_SELECTOR, "table.nodes .badge")
    assert badges and {b.text for b in badges} == {"failed"}
    expected = sorted(n.name for n in dashboard["store"].node_statuses(now=NOW) if n.status == "failed")
    assert [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.nodes a.node-link")] == expected

    browser.get(dashboard["url"] + "/nodes")
    first = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.nodes a.node-link")]
    navigate(browser, browser.find_element(By.ID, "next"))
    second = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.nodes a.node-link")]
    assert len(first) == 10 and second and not set(first) & set(second)


def test_report_filters_and_older_pages(browser: Any, dashboard: dict[str, Any]) -> None:
    log_in(browser, dashboard)
    node = dashboard["fleet"].nodes[4]
    browser.get(dashboard["url"] + "/reports")
    browser.find_element(By.ID, "node").send_keys(node)
    Select(browser.find_element(By.ID, "status")).select_by_visible_text("unchanged")
    browser.find_element(By.ID, "since").send_keys("2024-05-09T12:00")
    navigate(browser, browser.find_element(By.ID, "apply"))
    rows = browser.find_elements(By.CSS_SELECTOR, "table.reports tr")[1:]
    assert rows
    assert {r.find_element(By.CSS_SELECTOR, "a.node-link").text for r in rows} == {node}
    assert {r.find_element(By.CSS_SELECTOR, ".badge").text for r in rows} == {"unchanged"}
    shown = [r.find_element(By.CSS_SELECTOR, "a.report-link").text for r in rows]
    if browser.find_elements(By.ID, "older"):
        navigate(browser, browser.find_element(By.ID, "older"))
    if query_of(browser).get("before"):
        older = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.reports a.report-link")]
        assert older and not set(older) & set(shown)
        assert query_of(browser)["node"] == [node] and query_of(browser)["status"] == ["unchanged"]
    expected = [r for r in dashboard["store"].report_summaries(node, last=1000, status="unchanged",
                                                                since=datetime(2024, 5, 9, 12, tzinfo=UTC))]
    assert len(expected) >= len(shown)


def test_search_by_fact_and_statistics(browser: Any, dashboard: dict[str, Any]) -> None:
    log_in(browser, dashboard)
    browser.get(dashboard["url"] + "/search")
    browser.find_element(By.ID, "fact").send_keys("os.release.major")
    browser.find_element(By.ID, "value").send_keys("12")
    navigate(browser, browser.find_element(By.ID, "search"))
    expected = dashboard["store"].nodes_with_fact("os.release.major", "12")
    assert browser.find_element(By.ID, "search-summary").text == f"{len(expected)} nodes with os.release.major = 12"
    assert [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.nodes a.node-link")] == expected

    navigate(browser, browser.find_element(By.LINK_TEXT, "Statistics"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#stats-charts svg.chart")) == 4
    navigate(browser, browser.find_element(By.LINK_TEXT, "web"))  # the group table links to the group's statistics
    assert query_of(browser)["group"] == ["web"]
    assert browser.find_element(By.TAG_NAME, "h1").text == "Statistics: group web, last 24h"
    navigate(browser, browser.find_element(By.LINK_TEXT, "Rollouts"))
    assert "No rollout has run yet." in browser.find_element(By.ID, "rollouts").text
    navigate(browser, browser.find_element(By.CSS_SELECTOR, "header button"))  # log out
    assert urlsplit(browser.current_url).path == "/login"
    browser.get(dashboard["url"] + "/")
    assert urlsplit(browser.current_url).path == "/login"


@pytest.fixture(scope="module")
def rolled_back(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A dashboard over a real rollout controller whose release failed its health check on the canary (a
    real engine run) and was rolled back."""
    from master.dashboard.rollouts import ControllerRolloutSource
    from master.rollout import RolloutOptions, Rollouts
    from tests.master.test_rollout import Clock, drive
    from tests.master.test_rollout_views import EngineFleet, closed_port, health_check

    base = tmp_path_factory.mktemp("browser-rollout")
    pki = Pki()
    ca = pki.write_ca(base)
    cert, key = pki.write(base, "master", pki.issue("master", server=True))
    store = Store.open(path=base / "store.db")
    clock = Clock()
    for i in range(4):
        store.heartbeat(f"web{i:02d}.example.com", at=clock(), group="web")
    port = closed_port()
    fleet = EngineFleet(store, clock, {"bad2": [health_check(port)]})
    rollouts = Rollouts(store, dispatcher=fleet, clock=clock)
    fleet.rollouts = rollouts
    first = rollouts.start("good1", "production", options=RolloutOptions.parse(canary=1, batch="50%"))
    assert drive(rollouts, fleet, clock, first)["state"] == "completed"
    rid = rollouts.start("bad2", "production", options=RolloutOptions.parse(canary=1, batch=1, auto_rollback=True))
    assert drive(rollouts, fleet, clock, rid)["state"] == "rolled_back"
    tokens = TokenStore(base / "tokens.json")
    token = tokens.issue("browser-user")
    server = serve(create_app(store, tokens=tokens, rollouts=ControllerRolloutSource(rollouts), cache_seconds=0),
                   "127.0.0.1", 0, certfile=cert, keyfile=key, cafile=ca)
    try:
        yield {"url": server.url.rstrip("/"), "token": token, "store": store, "id": rid, "port": port}
    finally:
        server.shutdown()
        store.close()


def test_a_rolled_back_rollout_shows_its_reason_timeline_and_the_failing_report(
        browser: Any, rolled_back: dict[str, Any]) -> None:
    log_in(browser, rolled_back)
    browser.get(rolled_back["url"] + "/rollouts")
    row = browser.find_element(By.CSS_SELECTOR, "#rollouts tr:nth-child(2)")
    assert row.find_element(By.CSS_SELECTOR, ".badge").text == "rolled_back"
    assert "4 node(s) in 4 wave(s): 3 pending, 1 rolled_back" in row.text
    navigate(browser, row.find_element(By.LINK_TEXT, str(rolled_back["id"])))
    assert browser.find_element(By.TAG_NAME, "h1").text == f"Rollout {rolled_back['id']} rolled_back"
    assert browser.find_element(By.ID, "rollout-reason").text == "auto-rollback: 1 node(s) failed; the budget is 0"
    events = [r.find_elements(By.TAG_NAME, "td") for r in browser.find_elements(By.CSS_SELECTOR, "#timeline tr")[1:]]
    kinds = [cells[1].text for cells in events]
    assert kinds[0] == "started" and kinds[-1] == "rolled_back"
    assert kinds.index("failed") < kinds.index("halted") < kinds.index("rollback_started")
    failure = browser.find_element(By.CSS_SELECTOR, "#failures tr:nth-child(2)")
    why = (f"health check web unhealthy after 3 attempts: connect to 127.0.0.1:{rolled_back['port']}: "
           "connection refused")
    assert failure.find_element(By.CSS_SELECTOR, "td.detail").text == why
    assert [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h2")][1:3] == ["Wave 0 (canary)", "Wave 1"]
    link = failure.find_element(By.CSS_SELECTOR, "a.report-link")
    report_id = link.text.removeprefix("report #")
    navigate(browser, link)
    assert urlsplit(browser.current_url).path == f"/report/{report_id}"
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(f"Report #{report_id} of web00.example.com")
    assert "failed" in browser.find_element(By.TAG_NAME, "h1").text
    assert why.removeprefix("health check web ") in browser.find_element(By.ID, "logs").text
    browser.back()
    navigate(browser, browser.find_element(By.CSS_SELECTOR, "#failures a.diff-link"))
    assert urlsplit(browser.current_url).fragment == "changes"
    assert browser.find_element(By.ID, "changes").text.startswith("Resources with events")
