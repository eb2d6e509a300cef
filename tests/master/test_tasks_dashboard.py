"""The dashboard's task pages and API: a group-limited viewer sees its groups' tasks only, with each
node's state and (escaped) output."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from master.dashboard import create_app
from master.dashboard.tokens import TokenStore
from master.store import Store
from master.tasks.store import TaskSpec, TaskStore
from tests.master.test_dashboard import Client

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Client, Client, int, int]]:
    store = Store.open(path=tmp_path / "store.db")
    tasks = TaskStore(store)
    common = {"kind": "command", "operator": "alice", "max_concurrent": 2, "timeout": 60.0,
              "expires_at": NOW + timedelta(hours=1)}
    web, _ = tasks.create(TaskSpec(account="deploy", command=("uptime",), group="web", **common),  # type: ignore[arg-type]
                          {"web01": ("web", None), "web02": ("web", "account deploy may not run tasks on web02")},
                          now=NOW)
    db, _ = tasks.create(TaskSpec(account="postgres", command=("vacuumdb",), group="db", **common),  # type: ignore[arg-type]
                         {"db01": ("db", None)}, now=NOW)
    tasks.claim(["web01"], "m1", now=NOW)
    tasks.finish(web, "web01", "succeeded", exit_code=0, stdout="<b>up</b> 3 days\n", duration=0.25, now=NOW)
    tokens = TokenStore(tmp_path / "tokens.json")
    app = create_app(store, tokens=tokens, now=lambda: NOW, cache_seconds=0)
    yield (Client(app, token=tokens.issue("webviewer", "viewer", ["web"])),
           Client(app, token=tokens.issue("everyone", "viewer")), web, db)
    store.close()


def test_the_tasks_page_lists_only_the_viewers_groups(site: tuple[Client, Client, int, int]) -> None:
    web_viewer, everyone, web, db = site
    page = web_viewer.get("/tasks")
    assert page.status == 200
    assert f'href="/task/{web}"' in page.text and f'href="/task/{db}"' not in page.text
    assert "1 refused, 1 succeeded" in page.text
    assert f'href="/task/{db}"' in everyone.get("/tasks").text
    assert web_viewer.get(f"/task/{db}").status == 404
    assert web_viewer.get(f"/api/task/{db}").status == 404


def test_a_task_page_shows_each_node_and_its_escaped_output(site: tuple[Client, Client, int, int]) -> None:
    web_viewer, _everyone, web, _db = site
    page = web_viewer.get(f"/task/{web}")
    assert page.status == 200
    assert "&lt;b&gt;up&lt;/b&gt; 3 days" in page.text and "<b>up</b>" not in page.text
    assert "account deploy may not run tasks on web02" in page.text
    data = web_viewer.get(f"/api/task/{web}").json()
    assert [(r["node"], r["state"], r["exit_code"]) for r in data["runs"]] == [
        ("web01", "succeeded", 0), ("web02", "refused", None)]
    assert data["operator"] == "alice" and data["account"] == "deploy"
    listed = web_viewer.get("/api/tasks").json()
    assert [t["id"] for t in listed["tasks"]] == [web]
