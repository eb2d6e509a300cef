"""The dashboard's task pages and API: the tasks the viewer's groups cover (a task of another group
answers as one that does not exist), as ``bunraku task list`` and ``task show`` give them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from master.access import may_read
from master.dashboard.http import HTTPError, Request, Response, json_response

if TYPE_CHECKING:
    from master.dashboard.app import Dashboard


def _tasks(dash: Dashboard) -> Any:
    from master.tasks.store import TaskStore

    return TaskStore(dash.store)


def visible_tasks(dash: Dashboard, request: Request) -> list[dict[str, Any]]:
    viewer = request.viewer
    if viewer is None:
        return []
    return [t for t in _tasks(dash).list(last=200) if may_read(viewer.access, t.get("group"))]


def visible_task(dash: Dashboard, request: Request, task_id: str) -> dict[str, Any]:
    viewer = request.viewer
    info = _tasks(dash).get(int(task_id)) if task_id.isdigit() else None
    if info is None or viewer is None or not may_read(viewer.access, info.get("group")):
        raise HTTPError(404, f"no task {task_id!r}")
    return dict(info)


def task_list(dash: Dashboard, request: Request) -> Response:
    from master.tasks.ops import what

    tasks = visible_tasks(dash, request)
    return dash.render("tasks.html", request, tasks=tasks, what={t["id"]: what(t) for t in tasks})


def task_page(dash: Dashboard, request: Request, task_id: str) -> Response:
    from master.tasks.ops import states_text, what

    task = visible_task(dash, request, task_id)
    return dash.render("task.html", request, task=task, what=what(task),
                       states=states_text(task.get("states") or {}))


def api_tasks(dash: Dashboard, request: Request) -> Response:
    return json_response({"tasks": visible_tasks(dash, request)})


def api_task(dash: Dashboard, request: Request, task_id: str) -> Response:
    return json_response(visible_task(dash, request, task_id))
