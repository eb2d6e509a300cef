"""PuppetDB's HTTP API on the dashboard's listener: ``/pdb/query/v4`` (PQL or ``["from", ...]``), one
endpoint per entity (``/pdb/query/v4/nodes``, ``/pdb/query/v4/nodes/web01/facts``, ...), ``/pdb/cmd/v1``
(``deactivate node``), ``/pdb/meta/v1``, ``/status/v1/services/puppetdb-status`` and the population metrics
Puppetboard's overview reads.

The dashboard authenticates (operator certificate, or a token as ``Authorization: Bearer`` or PuppetDB's
``X-Authentication``) and limits what each viewer sees to its groups, as on every dashboard route. Queries
come as GET parameters or as a POSTed JSON body; a query the API cannot answer is a 400 with a one-line
message, as PuppetDB's are."""

from __future__ import annotations

import functools
import json
import logging
import socket
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from master.dashboard.http import HTTPError, Request, Response
from master.puppetdb import pql
from master.puppetdb.entities import ENTITIES, Backend, timestamp
from master.puppetdb.errors import QueryError
from master.puppetdb.query import (
    Paging,
    Scope,
    execute,
    parse_bool,
    parse_count,
    parse_json_query,
    parse_order_by,
    split_from,
)

if TYPE_CHECKING:
    from master.dashboard.app import Dashboard

log = logging.getLogger(__name__)

#: The PuppetDB API version these endpoints follow.
API_VERSION = "8.0.0"
JSON = "application/json; charset=utf-8"
#: Options read from a request besides ``query`` and paging.
OPTIONS = ("summarize_by", "count_by", "counts_filter", "distinct_resources")


def _json(data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    return Response(status, body, JSON, headers or [])


def _error(status: int, message: str) -> Response:
    return Response(status, (message + "\n").encode("utf-8"), "text/plain; charset=utf-8")


def _arguments(request: Request) -> dict[str, Any]:
    """The request's parameters: the query string, or for a POST its JSON body."""
    if request.method != "POST":
        return dict(request.query)
    body = request.body()
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise QueryError("the request body must be a JSON object such as {\"query\": [...]}") from None
    except RecursionError:
        raise QueryError("the request body is nested too deep") from None
    if not isinstance(data, dict):
        raise QueryError("the request body must be a JSON object such as {\"query\": [...]}")
    return data


def master_name(dash: Dashboard) -> str:
    """The certname of the master answering, PuppetDB's ``producer``: the dashboard's ``master_name`` when
    the master gave it one, else this host's fully qualified name (an agent's and a master's default
    certname)."""
    name = getattr(dash, "master_name", None)
    return str(name) if name else _host_name()


@functools.cache
def _host_name() -> str:
    return socket.getfqdn().lower()  # may ask the resolver: once


def _scope(dash: Dashboard, request: Request) -> Scope:
    backend = Backend(postgres=dash.store.engine.dialect.name == "postgresql",
                      node_ttl=float(getattr(dash, "node_ttl", 0.0) or 0.0), producer=master_name(dash))
    return Scope(backend, dash.scope(request))


def _query_of(args: dict[str, Any]) -> Any:
    query = args.get("query")
    if query is None or isinstance(query, list):
        return query
    return parse_json_query(str(query))


def _paging(args: dict[str, Any]) -> Paging:
    return Paging(limit=parse_count("limit", args.get("limit")), offset=parse_count("offset", args.get("offset")),
                  order_by=parse_order_by(args.get("order_by")),
                  include_total=parse_bool("include_total", args.get("include_total")))


def _answer(dash: Dashboard, request: Request, entity: str, query: Any, paging: Paging,
            args: dict[str, Any], single: bool = False) -> Response:
    options = {k: args.get(k) for k in OPTIONS}
    scope = _scope(dash, request)
    with dash.store.engine.connect() as conn:
        result = execute(conn, scope, entity, query, paging, options, as_text=not single)
    headers = [("X-Records", str(result.total))] if result.total is not None else []
    if result.text is not None:  # written by the database
        return Response(200, result.text.encode("utf-8"), JSON, headers)
    if single:
        if not result.rows:
            return _json({"error": f"no information is known about {entity[:-1]} {query[2]!r}"}, 404)
        return _json(result.rows[0], headers=headers)
    return _json(result.rows, headers=headers)


def _and(*parts: Any) -> Any:
    found = [p for p in parts if p is not None]
    if not found:
        return None
    return found[0] if len(found) == 1 else ["and", *found]


def _guarded(handler: Any) -> Any:
    """``handler`` with QueryError as PuppetDB's 400 (text, one line) and HTTPError kept."""
    def run(dash: Dashboard, request: Request, **kw: Any) -> Response:
        try:
            return handler(dash, request, **kw)  # type: ignore[no-any-return]
        except QueryError as exc:
            log.debug("puppetdb api: %s %s: %s", request.method, request.path, exc)
            return _error(400, exc.message)
        except RecursionError:  # a query nested deeper than the checks of its parts foresaw
            log.warning("puppetdb api: %s %s: the query is nested too deep", request.method, request.path)
            return _error(400, "the query is nested too deep; write it with fewer levels")

    run.__name__ = handler.__name__
    return run


@_guarded
def root(dash: Dashboard, request: Request) -> Response:
    """``/pdb/query/v4?query=PQL`` (or an AST ``["from", ...]``)."""
    args = _arguments(request)
    query = args.get("query")
    if query is None or (isinstance(query, str) and not query.strip()):
        raise QueryError("query: required (PQL such as nodes { certname ~ \"web\" }, or [\"from\", \"nodes\", ...])")
    if isinstance(query, str) and pql.is_pql(query):
        ast: Any = pql.parse(query)
    else:
        ast = query if isinstance(query, list) else parse_json_query(query)
    paging = _paging(args)
    entity, inner = split_from(ast, paging)
    if entity not in ENTITIES:
        raise QueryError(f"unknown entity '{entity}'; this API answers: {', '.join(ENTITIES)}")
    return _answer(dash, request, entity, inner, paging, args)


@_guarded
def entity_endpoint(dash: Dashboard, request: Request, entity: str, rest: str | None = None) -> Response:
    """``/pdb/query/v4/ENTITY[/...]`` with PuppetDB's path forms."""
    if entity not in ENTITIES:
        raise HTTPError(404, f"no PuppetDB endpoint {request.path}")
    args = _arguments(request)
    query = _query_of(args)
    paging = _paging(args)
    # the last part (a title or a fact value) may hold slashes of its own: "/resources/File//etc/motd"
    most = {"nodes": 3, "facts": 1, "resources": 1}.get(entity, 1)
    parts = rest.split("/", most) if rest else []
    if not parts:
        return _answer(dash, request, entity, query, paging, args)
    if entity == "nodes":
        certname = parts[0]
        if len(parts) == 1:
            return _answer(dash, request, "nodes", ["=", "certname", certname], Paging(), args, single=True)
        sub = parts[1]
        if sub == "facts" and len(parts) <= 4:
            extra = [["=", "name", parts[2]]] if len(parts) > 2 else []
            extra += [["=", "value", _value(parts[3])]] if len(parts) > 3 else []
            return _answer(dash, request, "facts", _and(["=", "certname", certname], *extra, query), paging, args)
        if sub == "resources" and len(parts) <= 4:
            extra = [["=", "type", _type_name(parts[2])]] if len(parts) > 2 else []
            extra += [["=", "title", parts[3]]] if len(parts) > 3 else []
            return _answer(dash, request, "resources", _and(["=", "certname", certname], *extra, query), paging,
                           args)
    if entity == "facts" and len(parts) <= 2:
        extra = [["=", "name", parts[0]]]
        extra += [["=", "value", _value(parts[1])]] if len(parts) > 1 else []
        return _answer(dash, request, "facts", _and(*extra, query), paging, args)
    if entity == "resources" and len(parts) <= 2:
        extra = [["=", "type", _type_name(parts[0])]]
        extra += [["=", "title", parts[1]]] if len(parts) > 1 else []
        return _answer(dash, request, "resources", _and(*extra, query), paging, args)
    if entity == "catalogs" and len(parts) == 1:
        return _answer(dash, request, "catalogs", ["=", "certname", parts[0]], Paging(), args, single=True)
    if entity == "catalogs" and len(parts) == 2 and parts[1] in ("edges", "resources"):
        return _answer(dash, request, parts[1], _and(["=", "certname", parts[0]], query), paging, args)
    if entity == "factsets" and len(parts) <= 2 and parts[1:] in ([], ["facts"]):
        return _answer(dash, request, "factsets" if len(parts) == 1 else "facts",
                       _and(["=", "certname", parts[0]], query), paging, args)
    if entity == "producers" and len(parts) == 1:
        return _answer(dash, request, "producers", ["=", "name", parts[0]], Paging(), args, single=True)
    if entity == "environments" and len(parts) == 1:
        return _answer(dash, request, "environments", ["=", "name", parts[0]], Paging(), args, single=True)
    if entity == "reports" and len(parts) == 2 and parts[1] in ("metrics", "logs", "events"):
        if parts[1] == "events":
            return _answer(dash, request, "events", _and(["=", "report", parts[0]], query), paging, args)
        with dash.store.engine.connect() as conn:
            result = execute(conn, _scope(dash, request), "reports", ["extract", [parts[1]], ["=", "hash", parts[0]]],
                             Paging(), {})
        if not result.rows:
            return _json({"error": f"no report {parts[0]!r}"}, 404)
        return _json(result.rows[0][parts[1]]["data"])
    raise HTTPError(404, f"no PuppetDB endpoint {request.path}")


def _value(text: str) -> Any:
    """A fact value in a path (``/facts/processors/4``): JSON when it reads as JSON, else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _type_name(text: str) -> str:
    return "::".join(part.capitalize() for part in text.split("::"))


def version(dash: Dashboard, request: Request) -> Response:
    return _json({"version": API_VERSION})


def server_time(dash: Dashboard, request: Request) -> Response:
    return _json({"server_time": timestamp(datetime.now(UTC))})


def status(dash: Dashboard, request: Request) -> Response:
    problem = dash.store.write_problem
    return _json({"service_version": API_VERSION, "service_status_version": 1, "detail_level": "info",
                  "state": "running" if problem is None else "error",
                  "status": {"maintenance_mode?": False, "queue_depth": 0, "read_db_up?": True,
                             "write_db_up?": problem is None}})


@_guarded
def population_metric(dash: Dashboard, request: Request, mbean: str) -> Response:
    """``/metrics/v2/read/puppetlabs.puppetdb.population:name=num-nodes`` (and num-resources,
    avg-resources-per-node): what Puppetboard's all-environments overview shows."""
    name = mbean.rsplit("name=", 1)[-1].strip("/")
    if not mbean.startswith("puppetlabs.puppetdb.population:") or name not in (
            "num-nodes", "num-resources", "avg-resources-per-node"):
        return _json({"status": 404, "error": f"no metric {mbean!r}"}, 404)
    with dash.store.engine.connect() as conn:
        scope = _scope(dash, request)
        nodes = execute(conn, scope, "nodes", ["extract", [["function", "count"]]], Paging()).rows[0]["count"]
        resources = execute(conn, scope, "resources", ["extract", [["function", "count"]]], Paging()).rows[0]["count"]
    value: Any = {"num-nodes": nodes, "num-resources": resources,
                  "avg-resources-per-node": resources / nodes if nodes else 0}[name]
    return _json({"request": {"mbean": mbean, "type": "read"}, "value": {"Value": value},
                  "timestamp": int(datetime.now(UTC).timestamp()), "status": 200})


#: PuppetDB's commands (``/pdb/cmd/v1``); this API carries out "deactivate node" only.
COMMANDS = ("replace facts", "replace catalog", "replace catalog inputs", "store report", "deactivate node",
            "configure expiration")
#: The largest command body read (a deactivation is a few hundred bytes).
COMMAND_MAX_BODY = 1 << 20


def command(dash: Dashboard, request: Request) -> Response:
    """``POST /pdb/cmd/v1``: PuppetDB's ``deactivate node`` (as ``puppet node deactivate`` and scripts send
    it), for operators and admins of the node's group, with a certificate or a token in a header. The
    other commands submit data, which a Bunraku master takes from its agents only: a 400 that says so."""
    viewer = request.viewer
    # the token read from a header (a Bearer one first, as the dashboard reads them), never from the cookie
    # or the query string: a page elsewhere can make a browser send those, not these headers
    in_header = request.bearer or bool(request.environ.get("HTTP_X_AUTHENTICATION", "").strip())
    if viewer is None or viewer.method == "token" and not in_header:
        raise HTTPError(401, "commands take an operator certificate or a token in X-Authentication or "
                             "Authorization: Bearer")
    if viewer.method == "certificate" and request.media_type != "application/json":
        # a browser holding the certificate sends it to any page's form too; a form cannot send JSON's type
        return _error(415, "a command is JSON: send it with Content-Type: application/json")
    try:
        body = request.body(COMMAND_MAX_BODY)
    except HTTPError as exc:  # PuppetDB's form of the error
        return _error(exc.status, exc.message)
    try:
        data = json.loads(body) if body.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "the command's body must be JSON: its payload, or {\"command\": ..., \"version\": ..., "
                           "\"payload\": {...}}")
    if not isinstance(data, dict):
        return _error(400, "the command's payload must be a JSON object")
    # PuppetDB's two spellings: ?command=deactivate_node&version=3&certname=X with the payload as the body,
    # or the whole command as the body
    name = request.query.get("command")
    payload: Any = data
    if name is None and "command" in data:
        name, payload = data.get("command"), data.get("payload")
    if not isinstance(name, str) or not name.strip():
        return _error(400, "missing the command: ?command=deactivate_node&version=3&certname=NODE with the payload "
                           "as the body, or {\"command\": \"deactivate node\", \"version\": 3, \"payload\": ...}")
    name = name.strip().replace("_", " ")
    if name not in COMMANDS:
        return _error(400, f"unknown command {name!r}; PuppetDB's commands are {', '.join(COMMANDS)}")
    if name != "deactivate node":
        return _error(400, f"command {name!r} is not accepted here: a Bunraku master stores the facts, catalogs and "
                           "reports its own agents send it; this API accepts 'deactivate node' only")
    if isinstance(payload, str):  # version 1 and 2: the certname itself
        payload = {"certname": payload}
    certname = (payload.get("certname") if isinstance(payload, dict) else None) or request.query.get("certname")
    if not isinstance(certname, str) or not certname:
        return _error(400, "'deactivate node' needs the node's certname: {\"certname\": \"web01.example.com\"}")
    access = viewer.access
    if not access.allows("operator"):
        raise HTTPError(403, "deactivating a node takes the operator or admin role")
    group = _node_group(dash, certname)
    if not access.covers(group):
        raise HTTPError(403, f"deactivating {certname} takes the operator or admin role over its group")
    known = dash.store.deactivate_node(certname)
    log.info("puppetdb api: %s (%s) deactivated node %s%s", viewer.name, viewer.method, certname,
             "" if known else " (not known to the store: nothing to do)")
    return _json({"uuid": str(uuid.uuid4())})


def _node_group(dash: Dashboard, certname: str) -> str | None:
    """The group of node ``certname`` (None: in none, or not known)."""
    import sqlalchemy as sa

    from master.store.schema import nodes

    with dash.store.engine.connect() as conn:
        return conn.execute(sa.select(nodes.c.group_name).where(nodes.c.name == certname)).scalar()


#: (path pattern, handler, methods) for the dashboard's route table
ROUTES: list[tuple[str, Any, tuple[str, ...]]] = [
    ("/pdb/query/v4", root, ("GET", "HEAD", "POST")),
    ("/pdb/cmd/v1", command, ("POST",)),
    ("/pdb/query/v4/(?P<entity>[a-z-]+)(?:/(?P<rest>.+))?", entity_endpoint, ("GET", "HEAD", "POST")),
    ("/pdb/meta/v1/version", version, ("GET", "HEAD")),
    ("/pdb/meta/v1/server-time", server_time, ("GET", "HEAD")),
    ("/status/v1/services/puppetdb-status", status, ("GET", "HEAD")),
    ("/metrics/v2/read/(?P<mbean>.+)", population_metric, ("GET", "HEAD")),
]
