"""The dashboard's HTML pages: each gathers its data (``gather_*``, shared with the JSON API), draws its
charts on the server and renders a template.

Every ``gather_*`` reads only what the request's viewer may see (``Dashboard.fleet(viewer)``,
``Dashboard.scope``, ``Dashboard.may_see_node``): a viewer limited to groups gets the nodes, runs, reports,
facts and rollouts of its groups, and a node of another group answers exactly as a node that does not exist."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from master.dashboard import queries
from master.dashboard.http import HTTPError, Request, Response, redirect, safe_next, with_query
from master.dashboard.rollouts import rollout_progress
from master.dashboard.svgchart import Series, bar_chart, format_number, line_chart
from master.store import NODE_STATUSES
from master.store.documents import run_seconds, utc

if TYPE_CHECKING:
    from master.dashboard.app import Dashboard

log = logging.getLogger(__name__)

#: The time ranges the statistics offer: (length, bucket).
RANGES: dict[str, tuple[timedelta, str]] = {"24h": (timedelta(hours=24), "hour"), "7d": (timedelta(days=7), "hour"),
                                            "30d": (timedelta(days=30), "day")}
MAX_FACT_ROWS = 2000

# -- template helpers ------------------------------------------------------------------------------------------


def when(value: datetime | None) -> str:
    return "—" if value is None else utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


@jinja2.pass_context
def ago(context: Any, value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = int((context["now"] - utc(value)).total_seconds())
    if seconds < 0:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def seconds_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def message_parts(message: str) -> dict[str, Any]:
    """An event message: its first line, and the rest as a unified diff (lines classed add/del/hunk/file)
    or as plain text."""
    first, _, rest = message.partition("\n")
    lines = rest.splitlines()
    is_diff = any(line.startswith("@@") for line in lines) or any(line.startswith("+++ ") for line in lines)
    diff = []
    if is_diff:
        for line in lines:
            kind = ("file" if line.startswith(("+++", "---")) else "hunk" if line.startswith("@@")
                    else "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx")
            diff.append((kind, line))
    return {"summary": first, "diff": diff, "text": "" if is_diff else rest}


def install_filters(env: jinja2.Environment) -> None:
    from master.rollout.view import event_detail, progress_line
    from master.store.documents import agent_label

    env.filters.update(when=when, ago=ago, seconds=seconds_text, value=value_text, num=format_number,
                       message_parts=message_parts, progress_line=progress_line, event_detail=event_detail,
                       agent=agent_label)
    env.globals.update(with_query=with_query, statuses=NODE_STATUSES, report_filters=queries.REPORT_FILTERS,
                       ranges=list(RANGES))


# -- arguments -------------------------------------------------------------------------------------------------


def parse_when(text: str | None, name: str, *, end_of_day: bool = False) -> datetime | None:
    """A time from a form: ``2024-05-01``, ``2024-05-01T10:00`` (UTC) or ISO 8601 with a zone."""
    if text is None:
        return None
    try:
        moment = utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise HTTPError(400, f"{name}: expected a time like 2024-05-01 or 2024-05-01T10:00, not {text!r}") from None
    if end_of_day and len(text) == 10:  # "until 2024-05-01" includes that day
        moment += timedelta(days=1)
    return moment


def range_arg(request: Request, default: str = "24h") -> str:
    name = request.arg("range") or default
    if name not in RANGES:
        raise HTTPError(400, f"range: expected one of {', '.join(RANGES)}, not {name!r}")
    return name


def choice_arg(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.arg(name)
    if value is not None and value not in allowed:
        raise HTTPError(400, f"{name}: expected one of {', '.join(allowed)}, not {value!r}")
    return value


# -- data, shared with the JSON API ----------------------------------------------------------------------------


def gather_nodes(dash: Dashboard, request: Request) -> dict[str, Any]:
    fleet = dash.fleet(request.viewer)
    status = choice_arg(request, "status", NODE_STATUSES)
    group, environment, text = request.arg("group"), request.arg("environment"), request.arg("q")
    found = [s for s in fleet.statuses
             if (status is None or s.status == status) and (group is None or s.group == group)
             and (environment is None or s.environment == environment)
             and (text is None or text.lower() in s.name.lower())]
    per = request.int_arg("per", dash.page_size, high=500)
    pages = max(1, -(-len(found) // per))
    page = request.int_arg("page", 1, high=pages)
    return {"nodes": found[(page - 1) * per: page * per], "total": len(found), "page": page, "pages": pages,
            "per": per, "filters": {"status": status, "group": group, "environment": environment, "q": text},
            "groups": fleet.groups, "environments": fleet.environments}


def flatten_facts(facts: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``[("os.release.major", "12"), ...]``: every leaf of the facts, by dotted path, sorted."""
    out: list[tuple[str, Any]] = []
    if isinstance(facts, Mapping) and facts:
        for key in sorted(facts, key=str):
            out.extend(flatten_facts(facts[key], f"{prefix}{key}."))
    elif isinstance(facts, list) and facts and all(isinstance(v, Mapping | list) for v in facts):
        for index, item in enumerate(facts):
            out.extend(flatten_facts(item, f"{prefix}{index}."))
    elif prefix:
        out.append((prefix[:-1], facts))
    return out


def gather_node(dash: Dashboard, request: Request, name: str) -> dict[str, Any]:
    missing = HTTPError(404, f"no node named {name!r}")
    if not dash.may_see_node(request, name):
        raise missing
    status = dash.fleet(request.viewer).by_name.get(name)
    facts = dash.store.get_facts(name)
    recent, _ = queries.report_page(dash.store, node=name, limit=15)
    if status is None and facts is None and not recent:
        raise missing
    catalog = dash.store.get_catalog(name) or {}
    return {
        "name": name, "status": status, "facts": facts or {}, "classes": list(catalog.get("classes") or []),
        "resource_count": len(catalog.get("resources") or []), "catalog": queries.catalog_info(dash.store, name),
        "catalog_history": dash.store.catalog_history(name, 10), "reports": recent,
        "runs": queries.node_runs(dash.store, name, last=60),
    }


def gather_reports(dash: Dashboard, request: Request) -> dict[str, Any]:
    status = choice_arg(request, "status", queries.REPORT_FILTERS)
    since = parse_when(request.arg("since"), "since")
    until = parse_when(request.arg("until"), "until", end_of_day=True)
    if since is None and request.arg("range"):
        since = dash.now() - RANGES[range_arg(request)][0]
    before_text = request.arg("before")
    try:
        before = queries.Cursor.decode(before_text) if before_text else None
    except ValueError:
        raise HTTPError(400, f"before: not a page cursor: {before_text!r}") from None
    limit = request.int_arg("per", dash.page_size, high=500)
    filters = {"node": request.arg("node"), "group": request.arg("group"), "status": status,
               "since": request.arg("since"), "until": request.arg("until"), "range": request.arg("range")}
    rows, cursor = queries.report_page(dash.store, node=filters["node"], group=filters["group"], status=status,
                                       since=since, until=until, before=before, limit=limit,
                                       groups=dash.scope(request))
    return {"reports": rows, "next": cursor.encode() if cursor else None, "filters": filters,
            "first_page": before is None, "groups": dash.fleet(request.viewer).groups}


def gather_report(dash: Dashboard, request: Request, report_id: int) -> dict[str, Any]:
    document = dash.store.get_report(report_id)
    if document is None or not dash.may_see_node(request, str(document.get("host"))):
        raise HTTPError(404, f"no report {report_id}")
    statuses = document.get("resource_statuses") or {}
    notable = {ref: s for ref, s in statuses.items()
               if isinstance(s, Mapping) and (s.get("events") or s.get("failed") or s.get("skipped"))}
    return {"id": report_id, "report": document, "resources": notable, "quiet_resources": len(statuses) - len(notable),
            "seconds": run_seconds(document)}


def gather_stats(dash: Dashboard, request: Request) -> dict[str, Any]:
    name = range_arg(request)
    length, bucket = RANGES[name]
    group, node = request.arg("group"), request.arg("node")
    scope = dash.scope(request)
    until = dash.now()
    series = dash.run_series(since=until - length, until=until, bucket=bucket, node=node, group=group, groups=scope)
    since = series[0]["start"]  # whole buckets
    store = dash.store

    def key(*parts: Any) -> tuple[Any, ...]:
        return ("stats", name, group, node, scope, *parts)

    slow = dash.stats_cache_seconds
    totals = queries.totals_of(series)
    fleet = dash.fleet(request.viewer)
    if node is None:
        # one scan of the period's runs, by node, gives the top tables, the group table and who reported
        rows = dash.cached(key("per_node"), lambda: queries.per_node(store, since=since, group=group, groups=scope),
                           seconds=slow)
        top = queries.rank(rows)
        totals["nodes_reporting"] = len(rows)
        compiles = dash.cached(("compile_by_group",), lambda: queries.compile_by_group(store))
        groups = [] if group is not None else queries.group_table(
            rows, {s.name: s.group for s in fleet.statuses},
            {g: figures for g, figures in compiles.items() if scope is None or g in scope})
    else:
        top, groups = {}, []
        totals["nodes_reporting"] = 1 if totals["runs"] else 0
    return {
        "range": name, "bucket": bucket, "group": group, "node": node, "since": since, "until": until,
        "totals": totals, "series": series,
        "compile": dash.cached(key("compile"), lambda: queries.compile_summary(store, group=group, groups=scope)),
        "compile_series": dash.cached(key("compile_series"), lambda: queries.compile_series(
            store, since=since, until=until, bucket=bucket, group=group, groups=scope)),
        "groups": groups, "top": top,
        "group_names": fleet.groups,
    }


def gather_search(dash: Dashboard, request: Request) -> dict[str, Any]:
    fact, value = request.arg("fact"), request.query.get("value", "").strip()
    names: list[str] = []
    if fact:
        names = dash.cached(("search", fact, value), lambda: dash.store.nodes_with_fact(fact, value))
    fleet = dash.fleet(request.viewer)
    if dash.scope(request) is not None:
        names = [n for n in names if n in fleet.by_name]
    per = request.int_arg("per", 100, high=1000)
    pages = max(1, -(-len(names) // per))
    page = request.int_arg("page", 1, high=pages)
    shown = names[(page - 1) * per: page * per]
    return {"fact": fact, "value": value, "total": len(names), "page": page, "pages": pages, "per": per,
            "nodes": [fleet.by_name.get(n) or {"name": n, "status": "unknown"} for n in shown]}


# -- charts ----------------------------------------------------------------------------------------------------


def _labels(series: list[dict[str, Any]], bucket: str) -> list[str]:
    fmt = "%H:00" if bucket == "hour" else "%m-%d"
    return [entry["start"].strftime(fmt) for entry in series]


def runs_chart(series: list[dict[str, Any]], bucket: str, title: str) -> Markup:
    return bar_chart(title, _labels(series, bucket),
                     [Series(s, [e[s] for e in series]) for s in ("unchanged", "changed", "failed")], y_label="runs",
                     whole=True)


def duration_chart(series: list[dict[str, Any]], bucket: str, title: str) -> Markup:
    return line_chart(title, _labels(series, bucket),
                      [Series("average", [e["avg_seconds"] for e in series]),
                       Series("longest", [e["max_seconds"] for e in series])], y_label="seconds")


def changes_chart(series: list[dict[str, Any]], bucket: str, title: str) -> Markup:
    return bar_chart(title, _labels(series, bucket),
                     [Series("intentional", [e["intentional"] for e in series]),
                      Series("corrective", [e["corrective"] for e in series]),
                      Series("failed", [e["failed"] for e in series])], y_label="runs", whole=True)


def status_chart(counts: Mapping[str, int]) -> Markup:
    labels = list(NODE_STATUSES)
    return bar_chart("Nodes by status", labels,
                     [Series(s, [counts.get(s, 0) if s == other else 0 for other in labels]) for s in labels],
                     y_label="nodes", whole=True)


def node_charts(runs: list[dict[str, Any]]) -> list[Markup]:
    labels = [r["time"].strftime("%m-%d %H:%M") for r in runs]
    return [
        line_chart("Run time", labels, [Series("run time", [r["seconds"] for r in runs])], y_label="seconds"),
        bar_chart("Changes per run", labels, [
            Series("intentional", [0 if r["corrective_change"] else r["change_count"] for r in runs]),
            Series("corrective", [r["change_count"] if r["corrective_change"] else 0 for r in runs]),
            Series("failed", [1 if r["status"] == "failed" else 0 for r in runs]),
        ], y_label="changes", whole=True),
    ]


# -- pages -----------------------------------------------------------------------------------------------------


def overview(dash: Dashboard, request: Request) -> Response:
    fleet = dash.fleet(request.viewer)
    scope = dash.scope(request)
    until = dash.now()
    since = until - timedelta(hours=24)
    series = dash.run_series(since=since, until=until, bucket="hour", groups=scope)
    totals = queries.totals_of(series)
    failures, _ = queries.report_page(dash.store, status="failed", since=since, limit=10, groups=scope)
    changes, _ = queries.report_page(dash.store, status="changed", since=since, limit=10, groups=scope)
    unresponsive = sorted((s for s in fleet.statuses if s.status == "unresponsive"),
                          key=lambda s: s.last_seen or since)[:25]
    return dash.render("overview.html", request, fleet=fleet, totals=totals, failures=failures, changes=changes,
                       unresponsive=unresponsive, charts=[status_chart(fleet.counts),
                                                          runs_chart(series, "hour", "Runs, last 24 hours"),
                                                          changes_chart(series, "hour", "Changes, last 24 hours")])


def node_list(dash: Dashboard, request: Request) -> Response:
    return dash.render("nodes.html", request, **gather_nodes(dash, request))


def node_page(dash: Dashboard, request: Request, name: str) -> Response:
    data = gather_node(dash, request, name)
    return dash.render("node.html", request, **data, fact_rows=flatten_facts(data["facts"])[:MAX_FACT_ROWS],
                       charts=node_charts(data["runs"]))


def report_list(dash: Dashboard, request: Request) -> Response:
    return dash.render("reports.html", request, **gather_reports(dash, request))


def report_page(dash: Dashboard, request: Request, report_id: str) -> Response:
    return dash.render("report.html", request, **gather_report(dash, request, int(report_id)))


def search(dash: Dashboard, request: Request) -> Response:
    return dash.render("search.html", request, **gather_search(dash, request))


def stats(dash: Dashboard, request: Request) -> Response:
    data = gather_stats(dash, request)
    scope = data["node"] or (f"group {data['group']}" if data["group"] else "fleet")
    series, bucket = data["series"], data["bucket"]
    compile_labels = _labels(data["compile_series"], bucket)
    charts = [runs_chart(series, bucket, f"Runs ({scope})"), duration_chart(series, bucket, f"Run time ({scope})"),
              changes_chart(series, bucket, f"Corrective and intentional changes ({scope})"),
              line_chart("Compile time of the latest catalogs, by when compiled", compile_labels,
                         [Series("average", [e["avg"] for e in data["compile_series"]]),
                          Series("longest", [e["max"] for e in data["compile_series"]])], y_label="seconds")]
    return dash.render("stats.html", request, **data, scope=scope, charts=charts)


def visible_rollouts(dash: Dashboard, request: Request) -> list[dict[str, Any]]:
    """The rollouts the viewer may see (of its groups; over the whole fleet: viewers of every group only),
    as the gRPC service lists them."""
    return [dash.shown_rollout(request, r) for r in dash.rollouts.list() if dash.may_see_rollout(request, r)]


def visible_rollout(dash: Dashboard, request: Request, rollout_id: str) -> dict[str, Any]:
    """One rollout, if the viewer may see it; one it may not answers as one that does not exist."""
    rollout = dash.rollouts.get(rollout_id)
    if rollout is None or not dash.may_see_rollout(request, rollout):
        raise HTTPError(404, f"no rollout {rollout_id!r}")
    return dash.shown_rollout(request, rollout)


def rollout_list(dash: Dashboard, request: Request) -> Response:
    rollouts = visible_rollouts(dash, request)
    return dash.render("rollouts.html", request, rollouts=rollouts,
                       progress={str(r.get("id")): rollout_progress(r) for r in rollouts})


def rollout_page(dash: Dashboard, request: Request, rollout_id: str) -> Response:
    rollout = visible_rollout(dash, request, rollout_id)
    return dash.render("rollout.html", request, rollout=rollout, progress=rollout_progress(rollout))


def login(dash: Dashboard, request: Request) -> Response:
    if request.method == "POST":
        form = request.form()
        target = safe_next(form.get("next"))
        token = form.get("token", "").strip()
        viewer = dash._verify_token(token) if token else None
        if viewer is None:
            log.warning("dashboard: login refused from %s", request.environ.get("REMOTE_ADDR", "?"))
            return dash.render("login.html", request, 401, error="token refused", next=target)
        log.info("dashboard: %s logged in with a token", viewer.name)
        return redirect(target, 303, [dash.login_cookie(request, token)])
    target = safe_next(request.arg("next"))
    if request.viewer is not None:
        return redirect(target, 303)
    return dash.render("login.html", request, error=None, next=target)


def logout(dash: Dashboard, request: Request) -> Response:
    return redirect("/login", 303, [dash.logout_cookie(request)])
