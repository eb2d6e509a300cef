"""PuppetDB's entities over the store's tables: for each, where its rows come from (a FROM clause over the
store's tables, JSON documents opened with the backend's JSON functions) and its fields (PuppetDB's names)
as SQL expressions, with how each is turned into PuppetDB's JSON.

Every entity is built fresh per query with its own table aliases, so that an entity used again in a
subquery never correlates with the outer one by accident."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from master.puppetdb.errors import QueryError
from master.puppetdb.sqljson import JsonValue, each_element, each_member, element_text, member_value
from master.store.schema import (
    UTCDateTime,
    catalog_documents,
    catalogs,
    events,
    facts,
    nodes,
    reports,
)

#: Entities the query endpoints answer, in PuppetDB's names.
ENTITIES = ("nodes", "environments", "producers", "facts", "factsets", "fact-contents", "fact-paths", "fact-names",
            "inventory", "resources", "catalogs", "edges", "reports", "events", "event-counts", "aggregate-event-counts")
#: Fields naming whether a node is active: mentioning one turns PuppetDB's "active nodes only" off.
STATE_FIELDS = ("node_state", "deactivated", "expired")


def timestamp(value: datetime | None) -> str | None:
    """PuppetDB's spelling of a time: ``2024-05-01T10:00:00.000Z`` (what its clients parse)."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value == "true"
    return bool(value)


@dataclass(slots=True)
class Field:
    """One field of an entity. ``expr`` is what is selected, compared and sorted (None: a field with a
    ``condition`` only, or one always null); ``kind`` says how values given in a query are read ("string",
    "time", "bool", "number", "json", "null"); ``json``: the field is a JSON value compared inside the
    database; ``extra``: more expressions selected with it, handed to ``decode`` after the value;
    ``joins``: the optional joins of the entity it needs."""

    name: str
    expr: sa.ColumnElement[Any] | None
    kind: str = "string"
    decode: Callable[..., Any] | None = None
    json: JsonValue | None = None
    condition: Callable[[str, Any], sa.ColumnElement[bool]] | None = None
    extra: tuple[sa.ColumnElement[Any], ...] = ()
    joins: tuple[str, ...] = ()
    queryable: bool = True
    #: what is selected for the answer when it differs from ``expr`` (a time formatted by the database)
    output: sa.ColumnElement[Any] | None = None


@dataclass(slots=True)
class Entity:
    """An entity's rows: ``base`` joined with the optional ``joins`` its fields need, ``fields`` in
    PuppetDB's output order, the node table alias (``node``) for activity and group limits, and
    ``dynamic`` for dotted fields (``facts.os.family``, ``parameters.ensure``)."""

    name: str
    base: sa.FromClause
    fields: dict[str, Field]
    node: Any  # the aliased nodes table
    certname: sa.ColumnElement[Any]
    active_only: bool = True
    joins: dict[str, Callable[[sa.FromClause], sa.FromClause]] = field(default_factory=dict)
    dynamic: Callable[[str], Field | None] | None = None
    #: the field an implicit subquery from another entity matches on, and the other entity's field
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)

    def field(self, name: str) -> Field:
        found = self.fields.get(name)
        if found is None and self.dynamic is not None:
            found = self.dynamic(name)
        if found is None or not found.queryable:
            known = ", ".join(n for n, f in self.fields.items() if f.queryable)
            raise QueryError(f"'{name}' is not a queryable field of {self.name}; known fields: {known}")
        return found

    def source(self, used: set[str]) -> sa.FromClause:
        """The FROM clause with the optional joins of the fields in ``used``."""
        out = self.base
        wanted: set[str] = set()
        for name in used:
            found = self.fields.get(name) or (self.dynamic(name) if self.dynamic is not None else None)
            wanted.update(found.joins if found is not None else ())
        for name, join in self.joins.items():
            if name in wanted:
                out = join(out)
        return out


@dataclass(frozen=True, slots=True)
class Backend:
    """What entities need to know of the store: its dialect, and the retention setting that tells
    expired nodes (silent for ``node_ttl`` seconds, deactivated by the store's retention) from nodes
    deactivated by hand."""

    postgres: bool
    node_ttl: float = 0.0
    #: the certname of the master answering: PuppetDB's ``producer`` of the facts, catalogs and reports it
    #: stored (the store does not record which master received each), and the one entry of ``producers``
    producer: str | None = None


def _producer(backend: Backend) -> Field:
    if backend.producer is None:
        return Field("producer", None, "null")
    return Field("producer", sa.literal(backend.producer, sa.String))


def _minus_seconds(backend: Backend, column: sa.ColumnElement[Any], seconds: float) -> sa.ColumnElement[Any]:
    if backend.postgres:
        return column - sa.literal_column(f"interval '{int(seconds)} seconds'")
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff"; strftime's %f is seconds with milliseconds
    return sa.func.strftime("%Y-%m-%d %H:%M:%f000", column, f"-{int(seconds)} seconds")


def node_state_fields(backend: Backend, n: Any) -> dict[str, Field]:
    """``deactivated``, ``expired`` and the query-only ``node_state`` of the node row ``n``: a node the
    store's retention deactivated after ``node_ttl`` of silence is expired, one deactivated otherwise (by
    ``bunraku store deactivate``) is deactivated."""
    if backend.node_ttl > 0:
        seen = sa.func.coalesce(n.c.last_seen, n.c.first_seen)
        expired: sa.ColumnElement[bool] = sa.and_(
            n.c.deactivated_at.is_not(None), seen <= _minus_seconds(backend, n.c.deactivated_at, backend.node_ttl))
    else:
        expired = sa.false()
    deactivated_at = sa.type_coerce(sa.case((expired, None), else_=n.c.deactivated_at), UTCDateTime())
    expired_at = sa.type_coerce(sa.case((expired, n.c.deactivated_at), else_=None), UTCDateTime())

    def state(op: str, value: Any) -> sa.ColumnElement[bool]:
        if op != "=" or value not in ("active", "inactive", "any"):
            raise QueryError("node_state takes '=' with \"active\", \"inactive\" or \"any\"")
        if value == "active":
            return n.c.deactivated_at.is_(None)
        if value == "inactive":
            return n.c.deactivated_at.is_not(None)
        return sa.true()

    return {"deactivated": Field("deactivated", deactivated_at, "time", timestamp),
            "expired": Field("expired", expired_at, "time", timestamp),
            "node_state": Field("node_state", None, condition=state)}


def _strpos(backend: Backend, text: sa.ColumnElement[Any], needle: str) -> sa.ColumnElement[Any]:
    return sa.func.strpos(text, needle) if backend.postgres else sa.func.instr(text, needle)


def title_of(backend: Backend, ref: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The title of a resource reference ``Type[title]`` in SQL."""
    start = _strpos(backend, ref, "[")
    return sa.func.substr(ref, start + 1, sa.func.length(ref) - start - 1)


def split_ref(ref: str) -> tuple[str, str]:
    kind, _, rest = ref.partition("[")
    return kind, rest[:-1] if rest.endswith("]") else rest


def _json(backend: Backend, name: str, value: JsonValue, decode: Callable[[Any], Any] | None = None,
          joins: tuple[str, ...] = ()) -> Field:
    def read(raw: Any) -> Any:
        decoded = value.decode(raw)
        return decode(decoded) if decode is not None else decoded

    return Field(name, value.output(), "json", read, json=value, joins=joins)


def _doc_path(name: str, prefix: str) -> tuple[str | int, ...] | None:
    if not name.startswith(prefix + ".") or len(name) == len(prefix) + 1:
        return None
    return tuple(int(p) if p.isdigit() else p for p in name[len(prefix) + 1:].split("."))


# -- nodes ----------------------------------------------------------------------------------------------------


def build_nodes(backend: Backend) -> Entity:
    n = nodes.alias("n")
    c = catalogs.alias("nc")
    f = facts.alias("nf")
    r: Any
    if backend.postgres:
        # each node's latest report by its primary key: a LATERAL subquery with LIMIT is never flattened
        # into a hash join, which would read every report of the store (the whole table, documents and all)
        # to find the fleet's 10,000 latest ones
        latest = reports.alias("nrr")
        r = (sa.select(latest.c.environment, latest.c.status, latest.c.noop, latest.c.noop_pending,
                       latest.c.corrective_change, latest.c.transaction_uuid, latest.c.cached_catalog_status)
             .where(latest.c.id == n.c.latest_report_id).limit(1).lateral("nr"))

        def latest_join(s: sa.FromClause) -> sa.FromClause:
            return s.outerjoin(r, sa.true())
    else:  # SQLite looks each one up by rowid already
        r = reports.alias("nr")

        def latest_join(s: sa.FromClause) -> sa.FromClause:
            return s.outerjoin(r, r.c.id == n.c.latest_report_id)

    fields = {
        "certname": Field("certname", n.c.name),
        **{k: v for k, v in node_state_fields(backend, n).items() if k != "node_state"},
        "catalog_timestamp": Field("catalog_timestamp", n.c.catalog_at, "time", timestamp),
        "facts_timestamp": Field("facts_timestamp", n.c.facts_at, "time", timestamp),
        "report_timestamp": Field("report_timestamp", n.c.last_run, "time", timestamp),
        "catalog_environment": Field("catalog_environment", c.c.environment, joins=("c",)),
        "facts_environment": Field("facts_environment", f.c.environment, joins=("f",)),
        "report_environment": Field("report_environment", r.c.environment, joins=("r",)),
        "latest_report_status": Field("latest_report_status", r.c.status, joins=("r",)),
        "latest_report_noop": Field("latest_report_noop", r.c.noop, "bool", _bool, joins=("r",)),
        "latest_report_noop_pending": Field("latest_report_noop_pending", r.c.noop_pending, "bool", _bool,
                                            joins=("r",)),
        "latest_report_corrective_change": Field("latest_report_corrective_change", r.c.corrective_change, "bool",
                                                 _bool, joins=("r",)),
        "latest_report_hash": Field("latest_report_hash", r.c.transaction_uuid, joins=("r",)),
        "latest_report_job_id": Field("latest_report_job_id", None, "null"),
        "cached_catalog_status": Field("cached_catalog_status", r.c.cached_catalog_status, joins=("r",)),
        "node_state": node_state_fields(backend, n)["node_state"],
    }
    joins = {
        "r": latest_join,
        "c": lambda s: s.outerjoin(c, c.c.node == n.c.name),
        "f": lambda s: s.outerjoin(f, f.c.node == n.c.name),
    }
    return Entity("nodes", n, fields, n, n.c.name, joins=joins)


def build_environments(backend: Backend, groups: frozenset[str] | None) -> Entity:
    """The environments any node, catalog or fact set names (not reports': they may be many)."""
    n = nodes.alias("en")
    names = []
    for table, column in ((nodes, nodes.c.environment), (catalogs, catalogs.c.environment),
                          (facts, facts.c.environment)):
        query = sa.select(column.label("name")).where(column.is_not(None))
        if groups is not None:
            key = table.c.name if table is nodes else table.c.node
            query = query.where(key.in_(sa.select(nodes.c.name).where(nodes.c.group_name.in_(groups))))
        names.append(query)
    envs = sa.union(*names).subquery("envs")
    return Entity("environments", envs, {"name": Field("name", envs.c.name)}, n, envs.c.name, active_only=False)


def build_producers(backend: Backend) -> Entity:
    """The masters that produced what the store holds, as PuppetDB's producers: the answering master (none
    when it has no name: the store read outside a master)."""
    name = sa.literal(backend.producer, sa.String) if backend.producer is not None else sa.cast(sa.null(), sa.String)
    rows = sa.select(name.label("name")).where(sa.true() if backend.producer is not None else sa.false()) \
        .subquery("producers")
    n = nodes.alias("pn")
    return Entity("producers", rows, {"name": Field("name", rows.c.name)}, n, rows.c.name, active_only=False)


# -- facts ----------------------------------------------------------------------------------------------------


def _trusted_sql(backend: Backend, certname: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """PuppetDB's ``trusted`` fact of a node, built by the database: the store keeps the facts an agent sent,
    and the trusted data comes from its certificate name."""
    dot = _strpos(backend, certname, ".")
    host = sa.case((dot > 0, sa.func.substr(certname, 1, dot - 1)), else_=certname)
    domain = sa.case((dot > 0, sa.func.substr(certname, dot + 1)), else_="")
    build = sa.func.jsonb_build_object if backend.postgres else sa.func.json_object
    return build("certname", certname, "hostname", host, "domain", domain, "authenticated", "remote",
                 "extensions", build())


def build_facts(backend: Backend) -> Entity:
    """One row per node and top-level fact (the ``trusted`` fact included, as PuppetDB has it)."""
    f = facts.alias("f")
    n = nodes.alias("fn")
    pg = backend.postgres
    each = each_member(pg, f.c.facts, "fe")
    sent = [f.c.node.label("node"), f.c.environment.label("environment"), each.c.key.label("key"),
            each.c.value.label("value")]
    made = [f.c.node, f.c.environment, sa.literal("trusted"), _trusted_sql(backend, f.c.node)]
    if not pg:
        sent += [each.c.type.label("type"), each.c.atom.label("atom")]
        made += [sa.literal("object"), sa.null()]
    rows = sa.union_all(
        sa.select(*sent).select_from(f.join(each, sa.true())).where(each.c.key != "trusted"),
        sa.select(*made).select_from(f)).subquery("fx")
    value = member_value(pg, rows)
    fields = {
        "certname": Field("certname", rows.c.node),
        "name": Field("name", rows.c.key),
        "value": _json(backend, "value", value),
        "environment": Field("environment", rows.c.environment),
        **{k: v for k, v in node_state_fields(backend, n).items() if k == "node_state"},
    }
    return Entity("facts", rows.join(n, n.c.name == rows.c.node), fields, n, rows.c.node)


def build_fact_sets(backend: Backend, name: str = "fact-contents") -> Entity:
    """The fact documents themselves (one row per node), for the entities flattened in Python."""
    f = facts.alias("fs")
    n = nodes.alias("fsn")
    fields = {
        "certname": Field("certname", f.c.node),
        "environment": Field("environment", f.c.environment),
        "timestamp": Field("timestamp", f.c.received_at, "time", timestamp),
        "facts": Field("facts", f.c.facts, "json", queryable=False),
        **{k: v for k, v in node_state_fields(backend, n).items() if k == "node_state"},
    }

    def dynamic(field_name: str) -> Field | None:
        path = _doc_path(field_name, "facts")
        return None if path is None else _json(backend, field_name, JsonValue.at(backend.postgres, f.c.facts, path))

    return Entity(name, f.join(n, n.c.name == f.c.node), fields, n, f.c.node, dynamic=dynamic)


def build_factsets(backend: Backend) -> Entity:
    """PuppetDB's factsets: each node's facts as one row, ``facts`` as ``{"href", "data": [{"name", "value"}]}``
    (the ``trusted`` fact made from the certname, as the facts entity has it)."""
    entity = build_fact_sets(backend, "factsets")
    f = entity.fields
    facts_col, received = f["facts"].expr, f["timestamp"].expr
    assert facts_col is not None and received is not None

    def facts_of(document: Any, certname: str) -> dict[str, Any]:
        data = [{"name": str(k), "value": v} for k, v in (document or {}).items() if k != "trusted"] \
            if isinstance(document, dict) else []
        data.append({"name": "trusted", "value": _trusted(certname)})
        return {"href": f"/pdb/query/v4/factsets/{certname}/facts", "data": data}

    def hash_of(digest: str | None, document: Any) -> str | None:
        if digest:
            return digest
        from master.store.documents import digest_of  # facts stored before digests were kept

        return digest_of(document) if document is not None else None

    digest = entity.certname.table.c.digest  # type: ignore[attr-defined]  # the facts row's
    fields = {
        "certname": f["certname"],
        "environment": f["environment"],
        "timestamp": f["timestamp"],
        "producer_timestamp": Field("producer_timestamp", received, "time", timestamp),
        "facts": Field("facts", facts_col, "json", facts_of, extra=(entity.certname,), queryable=False),
        "hash": Field("hash", digest, decode=hash_of, extra=(facts_col,)),
        "producer": _producer(backend),
        "node_state": f["node_state"],
    }
    return Entity("factsets", entity.base, fields, entity.node, entity.certname)


def _trusted(certname: str) -> dict[str, Any]:
    host, _, domain = certname.partition(".")
    return {"certname": certname, "hostname": host, "domain": domain, "authenticated": "remote", "extensions": {}}


def build_inventory(backend: Backend) -> Entity:
    entity = build_fact_sets(backend, "inventory")
    f = entity.fields
    facts_col = f["facts"].expr
    assert facts_col is not None
    fields = {
        "certname": f["certname"],
        "timestamp": f["timestamp"],
        "environment": f["environment"],
        "facts": Field("facts", facts_col, "json", queryable=False),
        "trusted": Field("trusted", entity.certname, "json", _trusted, queryable=False),
        "node_state": f["node_state"],
    }
    dynamic = entity.dynamic

    def more(name: str) -> Field | None:
        if name == "trusted.certname":
            return Field(name, entity.certname)
        return dynamic(name) if dynamic is not None else None

    return Entity("inventory", entity.base, fields, entity.node, entity.certname, dynamic=more)


# -- catalogs and resources ------------------------------------------------------------------------------------


def resource_hash(certname: str, kind: str, title: str) -> str:
    return hashlib.sha1(f"{certname}\0{kind}\0{title}".encode()).hexdigest()  # noqa: S324 - an identifier


def pdb_resource(certname: str, environment: str | None, resource: dict[str, Any]) -> dict[str, Any]:
    kind, title = str(resource.get("type", "")), str(resource.get("title", ""))
    return {"certname": certname, "environment": environment, "type": kind, "title": title,
            "tags": resource.get("tags") or [], "exported": bool(resource.get("exported", False)),
            "file": resource.get("file"), "line": resource.get("line"),
            "parameters": resource.get("parameters") or {}, "resource": resource_hash(certname, kind, title)}


def _edge(edge: Any) -> dict[str, Any] | None:
    if not isinstance(edge, dict):
        return None
    source, target = edge.get("source"), edge.get("target")
    if not isinstance(source, str) or not isinstance(target, str):
        return None
    (st, stitle), (tt, ttitle) = split_ref(source), split_ref(target)
    return {"source_type": st, "source_title": stitle, "target_type": tt, "target_title": ttitle,
            "relationship": str(edge.get("relationship") or "contains")}


def build_resources(backend: Backend) -> Entity:
    c = catalogs.alias("rc")
    d = catalog_documents.alias("rd")
    n = nodes.alias("rn")
    each = each_element(backend.postgres, d.c.catalog, "resources", "re")
    base = c.join(d, d.c.digest == c.c.digest).join(n, n.c.name == c.c.node).join(each, sa.true())
    pg = backend.postgres

    def at(*path: str | int) -> JsonValue:
        return JsonValue.at(pg, each.c.value, path)

    fields = {
        "certname": Field("certname", c.c.node),
        "resource": Field("resource", None, queryable=False),
        "type": Field("type", element_text(pg, each.c.value, "type")),
        "title": Field("title", element_text(pg, each.c.value, "title")),
        "tags": _json(backend, "tags", at("tags"), lambda v: v or []),
        "exported": _json(backend, "exported", at("exported"), lambda v: bool(v)),
        "file": _json(backend, "file", at("file")),
        "line": _json(backend, "line", at("line")),
        "parameters": _json(backend, "parameters", at("parameters"), lambda v: v or {}),
        "environment": Field("environment", c.c.environment),
        "node_state": node_state_fields(backend, n)["node_state"],
    }

    def tag(op: str, value: Any) -> sa.ColumnElement[bool]:
        if op != "=" or not isinstance(value, str):
            raise QueryError("tag takes '=' with a string")
        tags = at("tags")
        if pg:
            assert tags.jsonb is not None
            return tags.jsonb.op("?")(value.lower())
        t = sa.func.json_each(each.c.value, "$.tags").table_valued("value").alias("rt")
        return sa.exists(sa.select(sa.literal(1)).select_from(t).where(t.c.value == value.lower()))

    fields["tag"] = Field("tag", None, condition=tag)

    def dynamic(name: str) -> Field | None:
        path = _doc_path(name, "parameters")
        return None if path is None else _json(backend, name, at("parameters", *path))

    return Entity("resources", base, fields, n, c.c.node, dynamic=dynamic)


def build_catalogs(backend: Backend) -> Entity:
    c = catalogs.alias("cc")
    d = catalog_documents.alias("cd")
    n = nodes.alias("cn")
    pg = backend.postgres
    header = lambda key: JsonValue.at(pg, c.c.header, (key,))  # noqa: E731

    def resources_of(doc: Any, certname: str, environment: str | None) -> dict[str, Any]:
        items = doc.get("resources") if isinstance(doc, dict) else None
        data = [pdb_resource(certname, environment, r) for r in items or [] if isinstance(r, dict)]
        for item in data:
            item.pop("certname", None)
            item.pop("environment", None)
        return {"href": f"/pdb/query/v4/catalogs/{certname}/resources", "data": data}

    def edges_of(doc: Any, certname: str) -> dict[str, Any]:
        items = doc.get("edges") if isinstance(doc, dict) else None
        data = [e for e in (_edge(x) for x in items or []) if e is not None]
        return {"href": f"/pdb/query/v4/catalogs/{certname}/edges", "data": data}

    fields = {
        "certname": Field("certname", c.c.node),
        "version": _json(backend, "version", header("version"), lambda v: None if v is None else str(v)),
        "transaction_uuid": Field("transaction_uuid", None, "null"),
        "catalog_uuid": _json(backend, "catalog_uuid", header("catalog_uuid")),
        "code_id": Field("code_id", c.c.code_id),
        "job_id": Field("job_id", None, "null"),
        "producer_timestamp": Field("producer_timestamp", c.c.compiled_at, "time", timestamp),
        "hash": Field("hash", c.c.digest),
        "environment": Field("environment", c.c.environment),
        "producer": _producer(backend),
        "resources": Field("resources", d.c.catalog, "json", resources_of, extra=(c.c.node, c.c.environment),
                           queryable=False),
        "edges": Field("edges", d.c.catalog, "json", edges_of, extra=(c.c.node,), queryable=False),
        "node_state": node_state_fields(backend, n)["node_state"],
    }
    base = c.join(d, d.c.digest == c.c.digest).join(n, n.c.name == c.c.node)
    return Entity("catalogs", base, fields, n, c.c.node)


def build_edges(backend: Backend) -> Entity:
    """PuppetDB's edges: one row per edge of each node's catalog (``source`` contains ``target``)."""
    c = catalogs.alias("gc")
    d = catalog_documents.alias("gd")
    n = nodes.alias("gn")
    pg = backend.postgres
    each = each_element(pg, d.c.catalog, "edges", "ge")
    source, target = element_text(pg, each.c.value, "source"), element_text(pg, each.c.value, "target")

    def kind_of(ref: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.substr(ref, 1, _strpos(backend, ref, "[") - 1)

    fields = {
        "certname": Field("certname", c.c.node),
        "relationship": Field("relationship",
                              sa.func.coalesce(element_text(pg, each.c.value, "relationship"), "contains")),
        "source_title": Field("source_title", title_of(backend, source)),
        "source_type": Field("source_type", kind_of(source)),
        "target_title": Field("target_title", title_of(backend, target)),
        "target_type": Field("target_type", kind_of(target)),
        "node_state": node_state_fields(backend, n)["node_state"],
    }
    # an edge names both ends by reference (``Type[title]``); anything else is no edge
    refs = sa.and_(_strpos(backend, source, "[") > 0, _strpos(backend, target, "[") > 0)
    base = c.join(d, d.c.digest == c.c.digest).join(n, n.c.name == c.c.node).join(each, refs)
    return Entity("edges", base, fields, n, c.c.node)


# -- reports and events ---------------------------------------------------------------------------------------


def report_metrics(metrics: Any) -> list[dict[str, Any]]:
    """Puppet's ``{"time": {"values": [["total", "Total", 1.2], ...]}}`` (or plain ``{"time": {"total": 1.2}}``)
    as PuppetDB's ``[{"category": "time", "name": "total", "value": 1.2}]``."""
    out: list[dict[str, Any]] = []
    if not isinstance(metrics, dict):
        return out
    for category, body in metrics.items():
        if not isinstance(body, dict):
            continue
        values = body.get("values")
        if isinstance(values, list):
            for entry in values:
                if isinstance(entry, list | tuple) and len(entry) >= 3:
                    out.append({"category": str(category), "name": str(entry[0]), "value": entry[2]})
            continue
        for name, value in body.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out.append({"category": str(category), "name": str(name), "value": value})
    return out


def report_logs(logs: Any) -> list[dict[str, Any]]:
    out = []
    for entry in logs if isinstance(logs, list) else []:
        if isinstance(entry, dict):
            out.append({"file": entry.get("file"), "line": entry.get("line"), "level": str(entry.get("level", "info")),
                        "message": str(entry.get("message", "")), "source": str(entry.get("source", "Puppet")),
                        "tags": list(entry.get("tags") or []), "time": entry.get("time")})
    return out


def report_events_of(document: Any, certname: str, txn: str, run_time: datetime | None) -> list[dict[str, Any]]:
    """PuppetDB's events from a report document's resource statuses."""
    out: list[dict[str, Any]] = []
    statuses = document.get("resource_statuses") if isinstance(document, dict) else None
    for ref, status in (statuses or {}).items():
        if not isinstance(status, dict):
            continue
        kind, title = split_ref(str(ref))
        for event in status.get("events") or []:
            if not isinstance(event, dict):
                continue
            out.append({"certname": certname, "report": txn, "status": str(event.get("status") or "success"),
                        "timestamp": event.get("time") or timestamp(run_time), "resource_type": kind,
                        "resource_title": str(status.get("title") or title), "property": event.get("property"),
                        "name": event.get("name"), "new_value": event.get("desired_value"),
                        "old_value": event.get("previous_value"), "message": event.get("message"),
                        "file": status.get("file"), "line": status.get("line"),
                        "containment_path": status.get("containment_path"),
                        "containing_class": None, "corrective_change": bool(event.get("corrective_change"))})
    return out


def build_reports(backend: Backend) -> Entity:
    r = reports.alias("rp")
    n = nodes.alias("rpn")
    pg = backend.postgres
    doc = lambda key: JsonValue.at(pg, r.c.document, (key,))  # noqa: E731

    def end_time(start: datetime | None, seconds: float | None) -> str | None:
        if start is None:
            return None
        from datetime import timedelta

        return timestamp(start + timedelta(seconds=seconds or 0.0))

    def href(kind: str) -> Callable[[Any, str], dict[str, Any]]:
        convert = report_metrics if kind == "metrics" else report_logs

        def make(value: Any, txn: str) -> dict[str, Any]:
            return {"href": f"/pdb/query/v4/reports/{txn}/{kind}", "data": convert(value)}

        return make

    def events_of(document: Any, certname: str, txn: str, run_time: datetime | None) -> dict[str, Any]:
        return {"href": f"/pdb/query/v4/reports/{txn}/events",
                "data": report_events_of(document, certname, txn, run_time)}

    metrics = doc("metrics")
    logs = doc("logs")
    fields = {
        "certname": Field("certname", r.c.node),
        "hash": Field("hash", r.c.transaction_uuid),
        "receive_time": Field("receive_time", r.c.received_at, "time", timestamp),
        "producer_timestamp": Field("producer_timestamp", r.c.time, "time", timestamp),
        "start_time": Field("start_time", r.c.time, "time", timestamp),
        # filters and sorting go by the indexed start time; the value shown adds the run's length
        "end_time": Field("end_time", r.c.time, "time", end_time, extra=(r.c.run_seconds,)),
        "transaction_uuid": Field("transaction_uuid", r.c.transaction_uuid),
        "catalog_uuid": Field("catalog_uuid", r.c.catalog_uuid),
        "code_id": Field("code_id", r.c.code_id),
        "job_id": Field("job_id", None, "null"),
        "configuration_version": Field("configuration_version", r.c.configuration_version),
        "environment": Field("environment", r.c.environment),
        "status": Field("status", r.c.status),
        "noop": Field("noop", r.c.noop, "bool", _bool),
        "noop_pending": Field("noop_pending", r.c.noop_pending, "bool", _bool),
        "corrective_change": Field("corrective_change", r.c.corrective_change, "bool", _bool),
        "cached_catalog_status": Field("cached_catalog_status", r.c.cached_catalog_status),
        "puppet_version": _json(backend, "puppet_version", doc("puppet_version")),
        "report_format": _json(backend, "report_format", doc("report_format"), lambda v: 12 if v is None else v),
        "type": Field("type", sa.literal("agent")),
        "producer": _producer(backend),
        "metrics": Field("metrics", metrics.output(), "json",
                         lambda v, txn: href("metrics")(metrics.decode(v), txn), extra=(r.c.transaction_uuid,),
                         queryable=False),
        "logs": Field("logs", logs.output(), "json", lambda v, txn: href("logs")(logs.decode(v), txn),
                      extra=(r.c.transaction_uuid,), queryable=False),
        "resource_events": Field("resource_events", r.c.document, "json", events_of,
                                 extra=(r.c.node, r.c.transaction_uuid, r.c.time), queryable=False),
    }

    fields["latest_report?"] = _latest_report(r.c.id)
    fields["node_state"] = node_state_fields(backend, n)["node_state"]
    fields["node_state"].joins = ("n",)
    # the node's row only when a condition reads it: counting a month of reports needs no join
    return Entity("reports", r, fields, n, r.c.node, active_only=False, keys={"events": ("hash", "report")},
                  joins={"n": lambda s: s.join(n, n.c.name == r.c.node)})


def _latest_report(report_id: Any) -> Field:
    """``latest_report?``: whether the row's report (``report_id``) is its node's latest."""

    def latest(op: str, value: Any) -> sa.ColumnElement[bool]:
        if op != "=" or not isinstance(value, bool):
            raise QueryError("latest_report? takes '=' with true or false")
        latest_ids = sa.select(nodes.c.latest_report_id).where(nodes.c.latest_report_id.is_not(None))
        return report_id.in_(latest_ids) if value else report_id.not_in(latest_ids)

    return Field("latest_report?", None, condition=latest)


def build_events(backend: Backend) -> Entity:
    e = events.alias("ev")
    r = reports.alias("evr")
    n = nodes.alias("evn")
    pg = backend.postgres
    fields = {
        "certname": Field("certname", e.c.node),
        "report": Field("report", r.c.transaction_uuid, joins=("r",)),
        "status": Field("status", e.c.status),
        "timestamp": Field("timestamp", e.c.time, "time", timestamp),
        "run_start_time": Field("run_start_time", r.c.time, "time", timestamp, joins=("r",)),
        "run_end_time": Field("run_end_time", r.c.time, "time", timestamp, joins=("r",)),
        "report_receive_time": Field("report_receive_time", r.c.received_at, "time", timestamp,
                                     joins=("r",)),
        "resource_type": Field("resource_type", e.c.resource_type),
        "resource_title": Field("resource_title", title_of(backend, e.c.resource)),
        "property": Field("property", e.c.property),
        "name": Field("name", None, "null"),
        "new_value": _json(backend, "new_value", JsonValue.at(pg, e.c.desired_value, ())),
        "old_value": _json(backend, "old_value", JsonValue.at(pg, e.c.previous_value, ())),
        "message": Field("message", e.c.message),
        "file": Field("file", None, "null"),
        "line": Field("line", None, "null"),
        "containment_path": Field("containment_path", None, "null"),
        "containing_class": Field("containing_class", None, "null"),
        "corrective_change": Field("corrective_change", e.c.corrective_change, "bool", _bool),
        "environment": Field("environment", r.c.environment, joins=("r",)),
        "configuration_version": Field("configuration_version", r.c.configuration_version, joins=("r",)),
    }

    # the latest reports' ids, then their events by the report_id index: never a walk over every event
    fields["latest_report?"] = _latest_report(e.c.report_id)
    fields["node_state"] = node_state_fields(backend, n)["node_state"]
    fields["node_state"].joins = ("n",)
    # the report's and the node's rows only when a field or condition reads them
    return Entity("events", e, fields, n, e.c.node, active_only=False, keys={"reports": ("report", "hash")},
                  joins={"r": lambda s: s.join(r, r.c.id == e.c.report_id),
                         "n": lambda s: s.join(n, n.c.name == e.c.node)})


BUILDERS: dict[str, Callable[[Backend], Entity]] = {
    "nodes": build_nodes, "facts": build_facts, "inventory": build_inventory, "resources": build_resources,
    "catalogs": build_catalogs, "edges": build_edges, "reports": build_reports, "events": build_events,
    "factsets": build_factsets, "producers": build_producers,
}


def time_text(backend: Backend, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """``column`` as PuppetDB's time text, spelt by the database (thousands of rows cost no Python)."""
    if backend.postgres:
        return sa.func.to_char(sa.func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    return sa.func.strftime("%Y-%m-%dT%H:%M:%fZ", column)


def build(name: str, backend: Backend, groups: frozenset[str] | None = None) -> Entity:
    """The entity ``name`` (a QueryError for one this API does not answer with SQL rows)."""
    if name == "environments":
        entity = build_environments(backend, groups)
    elif name in ("fact-contents", "fact-paths"):
        entity = build_fact_sets(backend, name)
    else:
        builder = BUILDERS.get(name)
        if builder is None:
            raise QueryError(f"unknown entity '{name}'; this API answers: {', '.join(ENTITIES)}")
        entity = builder(backend)
    for f in entity.fields.values():
        if f.decode is timestamp and f.expr is not None and not f.extra:
            f.output, f.decode = time_text(backend, f.expr), None
        elif f.decode is _bool:  # the column's Boolean type reads 0/1 as False/True already
            f.decode = None
    return entity


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
