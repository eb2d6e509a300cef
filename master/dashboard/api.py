"""The JSON API under /api/: the same data as the pages, for tools and tests."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from master.dashboard import pages
from master.dashboard.http import HTTPError, Request, Response, json_response
from master.dashboard.rollouts import rollout_progress

if TYPE_CHECKING:
    from master.dashboard.app import Dashboard

log = logging.getLogger(__name__)


def whoami(dash: Dashboard, request: Request) -> Response:
    return json_response(request.viewer.as_json() if request.viewer is not None else None)


def nodes(dash: Dashboard, request: Request) -> Response:
    data = pages.gather_nodes(dash, request)
    fleet = dash.fleet(request.viewer)
    return json_response({**data, "counts": fleet.counts, "as_of": fleet.taken_at})


def node(dash: Dashboard, request: Request, name: str) -> Response:
    return json_response(pages.gather_node(dash, request, name))


def reports(dash: Dashboard, request: Request) -> Response:
    data = pages.gather_reports(dash, request)
    data.pop("groups", None)
    return json_response(data)


def report(dash: Dashboard, request: Request, report_id: str) -> Response:
    data = pages.gather_report(dash, request, int(report_id))
    return json_response({"id": data["id"], "seconds": data["seconds"], "report": data["report"],
                          "events": dash.store.report_events(int(report_id))})


def stats(dash: Dashboard, request: Request) -> Response:
    data = pages.gather_stats(dash, request)
    data["nodes"] = dash.fleet(request.viewer).counts
    return json_response(data)


def search(dash: Dashboard, request: Request) -> Response:
    if not request.arg("fact"):
        raise HTTPError(400, "fact: required (a dotted path such as os.release.major)")
    return json_response(pages.gather_search(dash, request))


def rollouts(dash: Dashboard, request: Request) -> Response:
    found = pages.visible_rollouts(dash, request)
    return json_response({"rollouts": [{**r, "progress": rollout_progress(r)} for r in found]})


def rollout(dash: Dashboard, request: Request, rollout_id: str) -> Response:
    found = pages.visible_rollout(dash, request, rollout_id)
    return json_response({**found, "progress": rollout_progress(found)})


#: a deploy request's body is a small JSON document
DEPLOY_MAX_BODY = 4096
#: what a form on any web page can post without asking (a cross-site request a browser sends as it is)
_FORM_TYPES = ("", "application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


def deploy(dash: Dashboard, request: Request) -> Response:
    """``POST /deploy`` (the git server's webhook, or an operator): fetch the code now, resolve the
    Puppetfiles and answer with what each environment serves. Operators and admins of every group only;
    with a bearer token or an operator certificate (a browser's login cookie does not deploy)."""
    viewer = request.viewer
    if viewer is None or viewer.method == "token" and not request.bearer:  # never the cookie nor the query string
        raise HTTPError(401, "deploying takes an operator certificate or an Authorization: Bearer token")
    if not (viewer.access.allows("operator") and viewer.access.covers(None)):
        raise HTTPError(403, "deploying code takes the operator or admin role over every group")
    if viewer.method == "certificate" and request.media_type in _FORM_TYPES:
        # a browser holding the certificate sends it to any page's form too; a form cannot send JSON's type
        raise HTTPError(415, "with a certificate, send the deploy request with Content-Type: application/json")
    if dash.deployer is None:
        raise HTTPError(404, "this master does not fetch code from a git server (set git_remote or git_repo)")
    body = request.body(DEPLOY_MAX_BODY)
    log.info("deploy requested by %s (%s)", viewer.name, viewer.method)
    status, reply = dash.deployer.webhook(body)
    return json_response(reply, status)
