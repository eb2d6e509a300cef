"""PuppetDB's AST query language compiled to SQLAlchemy selects over the store, and run.

A query is ``[operator, ...]`` (``["=", "certname", "web01"]``, ``["and", q1, q2]``, ``["in", "certname",
["extract", "certname", ["select_facts", q]]]``, ``["subquery", "facts", q]``, ``["extract", fields, q,
["group_by", ...]]``) or, at the root endpoint, ``["from", entity, query, ["order_by", ...], ["limit", n]]``.
Each condition becomes SQL on the entity's expressions (:mod:`master.puppetdb.entities`): the database
filters, sorts, pages and counts, whatever the size of the store. ``fact-contents`` and ``fact-paths``
flatten fact documents: SQL narrows the documents (by node, environment and fact name), Python walks the
ones left, one at a time.

By default, as in PuppetDB, the node entities (nodes, facts, resources, catalogs, inventory, ...) show active
nodes only; a query that names ``node_state``, ``deactivated`` or ``expired`` decides for itself. A viewer
limited to node groups sees the rows of their nodes only, in every entity and subquery."""

from __future__ import annotations

import json
import operator
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from master.puppetdb import entities
from master.puppetdb.entities import STATE_FIELDS, Backend, Entity, Field, timestamp
from master.puppetdb.errors import QueryError
from master.puppetdb.regex import checked as checked_regex
from master.puppetdb.sqljson import JsonValue
from master.store.documents import parse_time
from master.store.schema import UTCDateTime, catalog_documents

COMPARISON_OPS = ("=", ">", "<", ">=", "<=", "~", "null?")
OPERATORS = (*COMPARISON_OPS, "and", "or", "not", "in", "extract", "subquery", "from", "select_<entity>")
FUNCTIONS = ("count", "avg", "sum", "min", "max")
EVENT_STATUSES = (("success", "successes"), ("failure", "failures"), ("noop", "noops"), ("skipped", "skips"))
#: The largest ``limit`` a query may ask for (PuppetDB has none; a page of this many is already huge).
MAX_LIMIT = 1_000_000
#: The deepest nesting of a query's lists, and the most conditions one query may hold, each counted once per
#: subquery it is in (SQLite refuses an expression deeper than 1,000, a subquery's conditions counting again at
#: each level it is nested in; compiling one recurses as deep): more is a 400, not a failure in the database.
MAX_DEPTH = 64
MAX_CONDITIONS = 500


@dataclass(frozen=True, slots=True)
class Scope:
    """Who asks, against which store: the backend and the node groups the viewer is limited to (None:
    every group)."""

    backend: Backend
    groups: frozenset[str] | None = None


@dataclass(slots=True)
class Paging:
    limit: int | None = None
    offset: int | None = None
    order_by: list[tuple[str, str]] = field(default_factory=list)
    include_total: bool = False


@dataclass(slots=True)
class Result:
    rows: list[Any]
    total: int | None = None
    #: the answer as JSON text, built by the database (when asked for and every field is a plain value);
    #: ``rows`` is empty then
    text: str | None = None


# -- reading the request's pieces -------------------------------------------------------------------------------


def parse_json_query(text: str | None) -> Any:
    """The AST of the ``query`` parameter (None when absent or empty)."""
    if text is None or not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise QueryError(f"query: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise QueryError(f"query: nested deeper than {MAX_DEPTH} levels") from None


def check_shape(ast: Any, what: str = "query") -> None:
    """Refuse a query nested deeper than :data:`MAX_DEPTH` or holding more than :data:`MAX_CONDITIONS`
    conditions (walked without recursion: the AST may be anything a client sent)."""
    conditions = 0
    stack = [(ast, 1, 1)]
    while stack:
        item, depth, weight = stack.pop()
        if not isinstance(item, list | dict):
            continue
        if depth > MAX_DEPTH:
            raise QueryError(f"{what}: nested deeper than {MAX_DEPTH} levels")
        children = item.values() if isinstance(item, dict) else item
        head = item[0] if isinstance(item, list) and item and isinstance(item[0], str) else None
        if head in COMPARISON_OPS:
            conditions += weight
            if conditions > MAX_CONDITIONS:
                raise QueryError(f"{what}: more than {MAX_CONDITIONS} conditions (those of subqueries counted "
                                 "once per level); match many values with [\"in\", field, [\"array\", [...]]]")
        elif head is not None and (head in ("subquery", "from") or head.startswith("select_")):
            weight += 1
        stack.extend((child, depth + 1, weight) for child in children)


def parse_order_by(value: Any) -> list[tuple[str, str]]:
    """``[{"field": "certname", "order": "desc"}]`` (as JSON text or already read) as (field, order) pairs."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise QueryError('order_by: expected JSON such as [{"field": "certname", "order": "desc"}]') from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise QueryError('order_by: expected a list such as [{"field": "certname", "order": "desc"}]')
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("field"), str):
            raise QueryError('order_by: each entry needs a "field", as in {"field": "certname", "order": "desc"}')
        order = str(item.get("order", "asc")).lower()
        if order not in ("asc", "desc"):
            raise QueryError(f"order_by: order must be \"asc\" or \"desc\", not {order!r}")
        out.append((item["field"], order))
    return out


def parse_count(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise QueryError(f"{name} must be a whole number, not {json.dumps(value)}") from None
    if number < 0 or number > MAX_LIMIT:
        raise QueryError(f"{name} must be between 0 and {MAX_LIMIT}")
    return number


def parse_bool(name: str, value: Any) -> bool:
    if value is None or value == "" or value is False:
        return False
    if value is True or str(value).lower() == "true":
        return True
    if str(value).lower() == "false":
        return False
    raise QueryError(f"{name} must be true or false")


# -- the root endpoint's "from" -----------------------------------------------------------------------------------


def split_from(ast: Any, paging: Paging) -> tuple[str, Any]:
    """``["from", entity, query?, modifiers...]`` as the entity and its query; the modifiers go into ``paging``."""
    if not isinstance(ast, list) or len(ast) < 2 or ast[0] != "from" or not isinstance(ast[1], str):
        raise QueryError('the root endpoint takes PQL or ["from", entity, query...]')
    entity, query = ast[1], None
    for part in ast[2:]:
        if isinstance(part, list) and part and part[0] == "order_by":
            if len(part) != 2 or not isinstance(part[1], list):
                raise QueryError('order_by: expected ["order_by", [["field", "desc"], "other"]]')
            for item in part[1]:
                if isinstance(item, str):
                    paging.order_by.append((item, "asc"))
                elif isinstance(item, list) and len(item) == 2 and str(item[1]).lower() in ("asc", "desc"):
                    paging.order_by.append((str(item[0]), str(item[1]).lower()))
                else:
                    raise QueryError(f"order_by: cannot read {json.dumps(item)}")
        elif isinstance(part, list) and part and part[0] in ("limit", "offset"):
            if len(part) != 2:
                raise QueryError(f'{part[0]}: expected ["{part[0]}", N]')
            setattr(paging, part[0], parse_count(part[0], part[1]))
        elif query is None:
            query = part
        else:
            raise QueryError(f"from: unexpected {json.dumps(part)} after the query")
    return entity, query


# -- conditions -------------------------------------------------------------------------------------------------


def _mentions_state(ast: Any) -> bool:
    """Whether the query names a field of node activity (not inside subqueries of other entities)."""
    if not isinstance(ast, list) or not ast:
        return False
    if ast[0] in COMPARISON_OPS and len(ast) >= 2 and ast[1] in STATE_FIELDS:
        return True
    if ast[0] in ("and", "or", "not"):
        return any(_mentions_state(a) for a in ast[1:])
    if ast[0] == "extract" and len(ast) >= 3:
        return _mentions_state(ast[2])
    return False


def _coerce(f: Field, op: str, value: Any) -> Any:
    """A value given in a query for a comparison with the plain field ``f``."""
    if f.kind == "time":
        when = parse_time(value) if isinstance(value, str) else None
        if when is None:
            raise QueryError(f"'{f.name}' is a time: give an ISO 8601 timestamp such as "
                             f"\"2024-05-01T10:00:00Z\", not {json.dumps(value)}")
        return sa.bindparam(None, when, type_=UTCDateTime())
    if f.kind == "bool":
        if not isinstance(value, bool):
            raise QueryError(f"'{f.name}' is a boolean: compare it with true or false, not {json.dumps(value)}")
        return value
    if op in (">", "<", ">=", "<="):
        raise QueryError(f"operator '{op}' takes a number or a time; '{f.name}' is text")
    if not isinstance(value, str):
        raise QueryError(f"'{f.name}' is text: compare it with a string, not {json.dumps(value)}")
    return value


class Compiler:
    """Conditions of one query over one entity; ``used`` collects the fields they name (for the joins)."""

    def __init__(self, scope: Scope, entity: Entity) -> None:
        self.scope = scope
        self.entity = entity
        self.used: set[str] = set()

    def field(self, name: Any) -> Field:
        if not isinstance(name, str):
            raise QueryError(f"a field name must be a string, not {json.dumps(name)}")
        found = self.entity.field(name)
        self.used.add(name)
        return found

    def condition(self, ast: Any) -> sa.ColumnElement[bool]:
        if not isinstance(ast, list) or not ast or not isinstance(ast[0], str):
            raise QueryError(f"expected a query such as [\"=\", \"certname\", \"web01\"], not {json.dumps(ast)}")
        op, args = ast[0], ast[1:]
        if op in ("and", "or"):
            if not args:
                raise QueryError(f"'{op}' needs at least one query")
            parts = [self.condition(a) for a in args]
            return sa.and_(*parts) if op == "and" else sa.or_(*parts)
        if op == "not":
            if len(args) != 1:
                raise QueryError("'not' takes exactly one query")
            return sa.not_(self.condition(args[0]))
        if op in COMPARISON_OPS:
            if len(args) != 2:
                raise QueryError(f"'{op}' takes a field and a value, as in [\"{op}\", \"certname\", ...]")
            return self.compare(op, self.field(args[0]), args[1])
        if op == "in":
            if len(args) != 2:
                raise QueryError('\'in\' takes fields and a subquery or an array: ["in", "certname", '
                                 '["extract", "certname", ["select_facts", ...]]]')
            return self.member(args[0], args[1])
        if op == "subquery":
            if len(args) not in (1, 2) or not isinstance(args[0], str):
                raise QueryError('\'subquery\' takes an entity and a query: ["subquery", "facts", [...]]')
            return self.implicit(args[0], args[1] if len(args) == 2 else None)
        if op == "extract":
            raise QueryError("'extract' belongs at the top of a query or inside 'in'")
        if op == "~>":
            raise QueryError(f"operator '~>' is answered by fact-contents and fact-paths only, not {self.entity.name}")
        raise QueryError(f"unknown operator '{op}'; supported: {', '.join(OPERATORS)}")

    def compare(self, op: str, f: Field, value: Any) -> sa.ColumnElement[bool]:
        if f.condition is not None:
            return f.condition(op, value)
        if op == "null?" and not isinstance(value, bool):
            raise QueryError(f"'null?' takes true or false, not {json.dumps(value)}")
        if f.json is not None:
            return f.json.compare(op, value, f.name)
        if f.expr is None:  # a field this store never has
            return sa.true() if op == "null?" and value else sa.false()
        if op == "null?":
            return f.expr.is_(None) if value else f.expr.is_not(None)
        if op == "~":
            if f.kind != "string" or not isinstance(value, str):
                raise QueryError(f"operator '~' takes a regular expression and a text field; '{f.name}' is not one")
            checked_regex(value, f.name)
            return f.expr.regexp_match(value)
        bound = _coerce(f, op, value)
        return {"=": f.expr.__eq__, ">": f.expr.__gt__, "<": f.expr.__lt__, ">=": f.expr.__ge__,
                "<=": f.expr.__le__}[op](bound)

    def member(self, names: Any, source: Any) -> sa.ColumnElement[bool]:
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not names:
            raise QueryError("'in' takes a field or a list of fields")
        left = []
        for name in names:
            f = self.field(name)
            if f.expr is None or f.json is not None:
                raise QueryError(f"'in' cannot match on '{name}'")
            left.append(f.expr)
        if isinstance(source, list) and source and source[0] == "array":
            if len(names) != 1 or len(source) != 2 or not isinstance(source[1], list):
                raise QueryError('\'in\' with an array takes one field: ["in", "certname", ["array", ["a", "b"]]]')
            f = self.field(names[0])
            return left[0].in_([_coerce(f, "=", v) for v in source[1]])
        sub = self.subselect(source, len(names))
        return (left[0] if len(left) == 1 else sa.tuple_(*left)).in_(sub)

    def subselect(self, source: Any, width: int) -> sa.Select[Any]:
        """``["extract", fields, ["select_ENTITY", query]]`` or ``["from", ENTITY, ["extract", fields, query]]``."""
        if not isinstance(source, list) or not source:
            raise QueryError("'in' needs a subquery: [\"extract\", fields, [\"select_<entity>\", ...]] or [\"from\", ...]")
        if source[0] == "from":
            if len(source) < 3 or not isinstance(source[1], str) or not isinstance(source[2], list) \
                    or len(source[2]) < 2 or source[2][0] != "extract":
                raise QueryError('a subquery ["from", entity, ...] needs ["extract", fields, query]')
            name, extract = source[1], source[2]
            fields, query = extract[1], extract[2] if len(extract) > 2 else None
        elif source[0] == "extract":
            if len(source) != 3 or not isinstance(source[2], list) or not source[2] \
                    or not str(source[2][0]).startswith("select_"):
                raise QueryError('\'extract\' in \'in\' needs a subquery: ["extract", "certname", '
                                 '["select_facts", ...]]')
            name = str(source[2][0])[len("select_"):].replace("_", "-")
            fields, query = source[1], source[2][1] if len(source[2]) > 1 else None
        else:
            raise QueryError(f"'in' cannot take {json.dumps(source[0])}; use extract/select_<entity>, from or array")
        fields = [fields] if isinstance(fields, str) else fields
        if not isinstance(fields, list) or len(fields) != width:
            raise QueryError(f"'in' matches {width} field(s) against a subquery extracting {json.dumps(fields)}")
        return select_rows(self.scope, name, query, fields)

    def implicit(self, name: str, query: Any) -> sa.ColumnElement[bool]:
        outer, inner = self.entity.keys.get(name, ("certname", "certname"))
        return self.member(outer, ["from", name, ["extract", [inner], query]])


def _restrict(scope: Scope, entity: Entity, compiler: Compiler, query: Any) -> list[sa.ColumnElement[bool]]:
    """The conditions every query over ``entity`` gets: active nodes only (unless the query says), and the
    viewer's groups."""
    out: list[sa.ColumnElement[bool]] = []
    if entity.name in ("environments", "producers"):
        return out
    if entity.active_only and not _mentions_state(query):
        out.append(entity.node.c.deactivated_at.is_(None))
    if scope.groups is not None:
        out.append(entity.node.c.group_name.in_(sorted(scope.groups)))
    if out:
        compiler.used.add("node_state")  # the entity's join with the node's row, where it is optional
    return out


def select_rows(scope: Scope, name: str, query: Any, fields: list[Any]) -> sa.Select[Any]:
    """A subquery: ``fields`` of the rows of entity ``name`` that match ``query``."""
    if name in ("fact-contents", "fact-paths", "fact-names", "event-counts", "aggregate-event-counts"):
        raise QueryError(f"{name} cannot be used in a subquery")
    entity = entities.build(name, scope.backend, scope.groups)
    compiler = Compiler(scope, entity)
    where = [compiler.condition(query)] if query is not None else []
    exprs = []
    for name_ in fields:
        f = compiler.field(name_)
        if f.expr is None or f.json is not None:
            raise QueryError(f"a subquery cannot extract '{name_}'")
        exprs.append(f.expr)
    where += _restrict(scope, entity, compiler, query)
    return sa.select(*exprs).select_from(entity.source(compiler.used)).where(*where)


# -- extract ----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Projection:
    fields: list[str] | None = None  # None: every field
    functions: list[tuple[str, str | None]] = field(default_factory=list)  # (function, field or None)
    group_by: list[str] = field(default_factory=list)


def split_extract(ast: Any) -> tuple[Projection, Any]:
    if not (isinstance(ast, list) and ast and ast[0] == "extract"):
        return Projection(), ast
    if len(ast) < 2 or len(ast) > 4:
        raise QueryError('\'extract\' takes fields, a query and a group_by: ["extract", ["certname"], [...]]')
    wanted = ast[1] if isinstance(ast[1], list) and (not ast[1] or ast[1][0] != "function") else [ast[1]]
    projection = Projection(fields=[])
    query = None
    for part in ast[2:]:
        if isinstance(part, list) and part and part[0] == "group_by":
            projection.group_by = [str(p) for p in part[1:]]
        elif query is None:
            query = part
        else:
            raise QueryError(f"extract: unexpected {json.dumps(part)}")
    for item in wanted:
        if isinstance(item, str):
            assert projection.fields is not None
            projection.fields.append(item)
        elif isinstance(item, list) and len(item) >= 2 and item[0] == "function":
            if item[1] not in FUNCTIONS:
                raise QueryError(f"unknown function '{item[1]}'; supported: {', '.join(FUNCTIONS)}")
            if len(item) > 3 or (item[1] != "count" and len(item) != 3):
                raise QueryError(f"function '{item[1]}' takes one field: [\"function\", \"{item[1]}\", \"field\"]")
            projection.functions.append((item[1], item[2] if len(item) == 3 else None))
        else:
            raise QueryError(f"extract: cannot read {json.dumps(item)}")
    return projection, query


# -- running ------------------------------------------------------------------------------------------------------


def execute(conn: Connection, scope: Scope, name: str, query: Any, paging: Paging,
            options: dict[str, Any] | None = None, *, as_text: bool = False) -> Result:
    """The rows of entity ``name`` matching ``query`` (the AST), paged; with the total when asked. With
    ``as_text``, an answer whose fields are all plain values (text, times, booleans) comes back as JSON text
    the database wrote (``Result.text``): a fleet's node list costs no Python per node."""
    options = options or {}
    check_shape(query)
    if name == "fact-names":
        return _fact_names(conn, scope, paging)
    if name in ("fact-contents", "fact-paths"):
        return _flattened(conn, scope, name, query, paging)
    if name == "event-counts":
        return _event_counts(conn, scope, query, paging, options)
    if name == "aggregate-event-counts":
        return _aggregate_event_counts(conn, scope, query, options)
    projection, query = split_extract(query)
    entity = entities.build(name, scope.backend, scope.groups)
    compiler = Compiler(scope, entity)
    where = [compiler.condition(query)] if query is not None else []
    where += _restrict(scope, entity, compiler, query)
    fast = _fast_resource_count(conn, scope, entity, compiler, projection, where)
    if fast is not None:
        return Result([{"count": fast}], 1 if paging.include_total else None)

    columns: list[sa.ColumnElement[Any]] = []
    #: (key, first column, how many, decode or None) per answer field
    readers: list[tuple[str, int, int, Callable[..., Any] | None]] = []
    #: (key, field or None for a computed one) per answer field, for the answer built as JSON in SQL
    answer: list[tuple[str, Field | None]] = []

    def add(f: Field, key: str) -> None:
        answer.append((key, f))
        if f.expr is None:
            readers.append((key, -1, 0, None))
            return
        start = len(columns)
        columns.append((f.output if f.output is not None else f.expr).label(f"c{start}"))
        for i, extra in enumerate(f.extra):
            columns.append(extra.label(f"c{start}_{i}"))
        readers.append((key, start, 1 + len(f.extra), f.decode))

    order_keys: dict[str, sa.ColumnElement[Any]] = {}
    group_exprs = []
    if projection.functions or projection.group_by:
        for name_ in projection.group_by:
            f = compiler.field(name_)
            if f.expr is None or f.json is not None:
                raise QueryError(f"cannot group by '{name_}'")
            group_exprs.append(f.expr)
        for name_ in projection.fields or []:
            if name_ not in projection.group_by:
                raise QueryError(f"extract: '{name_}' must be in group_by when functions are extracted")
            add(compiler.field(name_), name_)
            order_keys[name_] = compiler.field(name_).expr  # type: ignore[assignment]
        for function, argument in projection.functions:
            if argument is None:
                expr: sa.ColumnElement[Any] = sa.func.count()
            else:
                f = compiler.field(argument)
                if f.expr is None or f.json is not None:
                    raise QueryError(f"function '{function}' cannot take '{argument}'")
                expr = getattr(sa.func, function)(f.expr)
            index = len(columns)
            columns.append(expr.label(f"c{index}"))
            readers.append((function, index, 1, _number))
            answer.append((function, None))
            order_keys[function] = expr
    else:
        # every field of the entity, but those that exist for queries only (node_state, latest_report?, tag)
        wanted = projection.fields if projection.fields is not None else [
            n for n, f in entity.fields.items() if (f.expr is not None or f.condition is None)]
        for name_ in wanted:
            f = entity.fields.get(name_) or compiler.field(name_)
            compiler.used.add(name_)
            add(f, name_)
        for name_, f in entity.fields.items():
            if f.expr is not None and f.queryable:
                order_keys[name_] = f.expr
    order = []
    for name_, direction in paging.order_by:
        expr_ = order_keys.get(name_)
        if expr_ is None:
            if name_ in entity.fields or (entity.dynamic and entity.dynamic(name_)):
                f = compiler.field(name_)
                expr_ = f.expr
            if expr_ is None:
                raise QueryError(f"cannot order {entity.name} by '{name_}'")
        order.append(expr_.desc() if direction == "desc" else expr_.asc())
    if not columns:  # only fields this store never has: a row each all the same
        columns.append(sa.literal(1).label("c_"))
    statement = sa.select(*columns).select_from(entity.source(compiler.used)).where(*where)
    if group_exprs:
        statement = statement.group_by(*group_exprs)
    total = None
    if paging.include_total:  # counted over the rows alone: no column of the answer is computed for it
        counted = sa.select(*(group_exprs or [sa.literal(1)])).select_from(entity.source(compiler.used)).where(*where)
        if group_exprs:
            counted = counted.group_by(*group_exprs)
        total = int(conn.execute(sa.select(sa.func.count()).select_from(counted.subquery())).scalar() or 0)
    if order:
        statement = statement.order_by(*order)
    if paging.limit is not None:
        statement = statement.limit(paging.limit)
    if paging.offset:
        statement = statement.offset(paging.offset)
    row_json = _json_rows(scope.backend, statement, answer) if as_text and entity.name != "resources" else None
    if row_json is not None:
        text = conn.execute(row_json).scalars().all()
        return Result([], total, "[" + ",".join(text) + "]")
    rows = _read_rows(conn.execute(statement), readers)
    if entity.name == "resources" and (projection.fields is None or "resource" in projection.fields) \
            and not projection.functions:
        for row in rows:
            if {"certname", "type", "title"} <= row.keys():
                row["resource"] = entities.resource_hash(row["certname"], row["type"], row["title"])
    return Result(rows, total)


#: Most fields of an answer built as JSON in SQL (SQLite's functions take at most 127 arguments).
_SQL_OBJECT_FIELDS = 50


def _json_rows(backend: Backend, statement: sa.Select[Any],
               answer: list[tuple[str, Field | None]]) -> sa.Select[Any] | None:
    """``statement`` (filtered, ordered and paged) giving each answer row as a JSON object written by the
    database, in the answer's key order: SQLite's json_object, PostgreSQL's row_to_json over the rows (cheaper
    than json_build_object). None when a field needs Python to read it (a JSON document, a number, an
    aggregate, a value computed from several columns)."""
    if not answer or len(answer) > _SQL_OBJECT_FIELDS:
        return None
    values: list[tuple[str, sa.ColumnElement[Any]]] = []
    for key, f in answer:
        if f is None:
            return None
        if f.expr is None:
            value: Any = sa.cast(sa.null(), sa.Text)
        elif f.decode is not None or f.extra or f.kind not in ("string", "time", "bool") \
                or isinstance(f.expr.type, sa.Float | sa.Numeric | sa.JSON):
            return None
        else:
            value = f.output if f.output is not None else f.expr
            if f.kind == "bool" and not backend.postgres:  # SQLite keeps 1/0
                value = sa.case((value.is_(None), sa.null()), (value == sa.true(), sa.func.json("true")),
                                else_=sa.func.json("false"))
        values.append((key, value))
    if not backend.postgres:
        args = [a for key, value in values for a in (sa.literal(key, sa.String), value)]
        return statement.with_only_columns(sa.func.json_object(*args, type_=sa.Text), maintain_column_froms=True)
    keys = [key for key, _ in values]
    if len(set(keys)) != len(keys) or any(len(key.encode()) > 63 for key in keys):  # PostgreSQL's names
        return None
    # the rows come out of the subquery in its order: the outer query only turns each into JSON
    rows = statement.with_only_columns(*[value.label(key) for key, value in values],
                                       maintain_column_froms=True).subquery("answer")
    return sa.select(sa.cast(sa.func.row_to_json(rows.table_valued()), sa.Text))


def _read_rows(result: Any, readers: list[tuple[str, int, int, Callable[..., Any] | None]]) -> list[dict[str, Any]]:
    """The answer's rows: columns read as they are go through zip (a node listing is thousands of rows);
    the rest are decoded one by one (so a key's place in the JSON may differ from PuppetDB's)."""
    plain = [(key, start) for key, start, count, decode in readers if start >= 0 and decode is None]
    nulls = {key: None for key, start, _, _ in readers if start < 0}
    decoded = [(key, start, count, decode) for key, start, count, decode in readers
               if start >= 0 and decode is not None]
    keys = [key for key, _ in plain]
    pick = operator.itemgetter(*[start for _, start in plain]) if len(plain) > 1 else None
    rows = []
    for row in result:
        if pick is not None:
            out = dict(zip(keys, pick(row), strict=True))
        else:
            out = {key: row[start] for key, start in plain}
        if nulls:
            out.update(nulls)
        for key, start, count, decode in decoded:
            out[key] = decode(*row[start:start + count])
        rows.append(out)
    return rows


def _number(value: Any) -> Any:
    if value is None or isinstance(value, int | float):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return int(number) if number.is_integer() else number


#: Resources per catalog document, by digest: a document never changes under its digest, so its count is
#: read once (walking its JSON) and kept; bounded, the oldest entries go first.
_RESOURCE_COUNTS: OrderedDict[str, int] = OrderedDict()
_RESOURCE_COUNTS_LOCK = threading.Lock()
RESOURCE_COUNTS_KEPT = 200_000


def _fast_resource_count(conn: Connection, scope: Scope, entity: Entity, compiler: Compiler,
                         projection: Projection, where: list[sa.ColumnElement[bool]]) -> int | None:
    """``count()`` of resources filtered by node or environment only (Puppetboard's overview asks for it):
    the nodes per catalog digest counted in SQL, each distinct catalog's resources counted once (and
    remembered), not one JSON array walked per node. None for any other query."""
    if entity.name != "resources" or projection.fields or projection.group_by or projection.functions != [
            ("count", None)] or not compiler.used <= {"certname", "environment", "node_state"}:
        return None
    c = entity.certname.table  # type: ignore[attr-defined]
    n = entity.node
    # the entity's own catalog and node aliases, without the walk over each catalog's resources
    per_digest: dict[str, int] = dict(conn.execute(sa.select(c.c.digest, sa.func.count()).select_from(
        c.join(n, n.c.name == c.c.node)).where(*where).group_by(c.c.digest)).all())
    with _RESOURCE_COUNTS_LOCK:
        known = {d: _RESOURCE_COUNTS[d] for d in per_digest if d in _RESOURCE_COUNTS}
    missing = [d for d in per_digest if d not in known]
    d = catalog_documents
    if scope.backend.postgres:
        length = sa.func.jsonb_array_length(d.c.catalog.op("->")(sa.literal("resources")))
    else:
        length = sa.func.json_array_length(d.c.catalog, "$.resources")
    for start in range(0, len(missing), 500):
        found = dict(conn.execute(sa.select(d.c.digest, sa.func.coalesce(length, 0))
                                  .where(d.c.digest.in_(missing[start:start + 500]))).all())
        known.update(found)
        with _RESOURCE_COUNTS_LOCK:
            _RESOURCE_COUNTS.update(found)
            while len(_RESOURCE_COUNTS) > RESOURCE_COUNTS_KEPT:
                _RESOURCE_COUNTS.popitem(last=False)
    return sum(nodes * int(known.get(digest, 0)) for digest, nodes in per_digest.items())


# -- event counts -------------------------------------------------------------------------------------------------


def _event_counts(conn: Connection, scope: Scope, query: Any, paging: Paging,
                  options: dict[str, Any]) -> Result:
    summarize_by = str(options.get("summarize_by") or "")
    total: list[int] = []
    rows = event_count_rows(conn, scope, query, summarize_by, str(options.get("count_by") or "resource"),
                            options.get("counts_filter"), paging, total=total)
    return Result(rows, total[0] if total else None)


def event_count_rows(conn: Connection, scope: Scope, query: Any, summarize_by: str, count_by: str,
                     counts_filter: Any, paging: Paging | None = None,
                     total: list[int] | None = None) -> list[dict[str, Any]]:
    """PuppetDB's event-counts: per certname, resource or containing class, how many resources (or nodes,
    ``count_by``) had successes, failures, noops and skips."""
    if summarize_by not in ("certname", "resource", "containing_class"):
        raise QueryError("summarize_by must be certname, resource or containing_class")
    if count_by not in ("resource", "certname"):
        raise QueryError("count_by must be resource or certname")
    _, query = split_extract(query)
    entity = entities.build("events", scope.backend, scope.groups)
    compiler = Compiler(scope, entity)
    where = [compiler.condition(query)] if query is not None else []
    where += _restrict(scope, entity, compiler, query)
    certname = compiler.field("certname").expr
    kind, title = compiler.field("resource_type").expr, compiler.field("resource_title").expr
    status = compiler.field("status").expr
    assert certname is not None and kind is not None and title is not None and status is not None
    subject: list[sa.ColumnElement[Any]] = {"certname": [certname], "resource": [kind, title],
                                            "containing_class": []}[summarize_by]
    key = certname if count_by == "certname" else sa.func.coalesce(kind, "") + "[" + title + "]" + "@" + certname
    counts: dict[str, sa.ColumnElement[Any]] = {label: sa.func.count(sa.distinct(sa.case((status == value, key)))) for value, label in EVENT_STATUSES}
    statement = (sa.select(*[s.label(f"s{i}") for i, s in enumerate(subject)],
                           *[c.label(label) for label, c in counts.items()])
                 .select_from(entity.source(compiler.used)).where(*where))
    if subject:
        statement = statement.group_by(*subject)
    if counts_filter not in (None, ""):
        having = parse_json_query(counts_filter) if isinstance(counts_filter, str) else counts_filter
        check_shape(having, "counts_filter")
        statement = statement.having(_counts_condition(counts, having))
    if paging is not None and paging.order_by:
        order = []
        for name, direction in paging.order_by:
            if name not in counts:
                raise QueryError(f"cannot order event-counts by '{name}'; use successes, failures, noops or skips")
            order.append(counts[name].desc() if direction == "desc" else counts[name].asc())
        statement = statement.order_by(*order)
    if paging is not None and paging.include_total and total is not None:
        total.append(int(conn.execute(sa.select(sa.func.count()).select_from(statement.subquery())).scalar() or 0))
    if paging is not None and paging.limit is not None:
        statement = statement.limit(paging.limit)
    if paging is not None and paging.offset:
        statement = statement.offset(paging.offset)
    out = []
    for row in conn.execute(statement):
        mapping = row._mapping
        if summarize_by == "certname":
            subject_json: dict[str, Any] = {"title": mapping["s0"]}
        elif summarize_by == "resource":
            subject_json = {"type": mapping["s0"], "title": mapping["s1"]}
        else:
            subject_json = {"title": None}
        if summarize_by == "containing_class" and not any(mapping[label] for label in counts):
            continue
        out.append({"subject_type": summarize_by, "subject": subject_json,
                    **{label: int(mapping[label]) for label in counts}})
    return out


def _counts_condition(counts: dict[str, sa.ColumnElement[Any]], ast: Any) -> sa.ColumnElement[bool]:
    if not isinstance(ast, list) or not ast:
        raise QueryError("counts_filter: expected a query such as [\">\", \"failures\", 0]")
    op = ast[0]
    if op in ("and", "or"):
        parts = [_counts_condition(counts, a) for a in ast[1:]]
        return sa.and_(*parts) if op == "and" else sa.or_(*parts)
    if op == "not" and len(ast) == 2:
        return sa.not_(_counts_condition(counts, ast[1]))
    if op in ("=", ">", "<", ">=", "<=") and len(ast) == 3:
        column = counts.get(ast[1])
        if column is None:
            raise QueryError("counts_filter: fields are successes, failures, noops and skips")
        if not isinstance(ast[2], int) or isinstance(ast[2], bool):
            raise QueryError("counts_filter: compare counts with whole numbers")
        return {"=": column.__eq__, ">": column.__gt__, "<": column.__lt__, ">=": column.__ge__,
                "<=": column.__le__}[op](ast[2])
    raise QueryError(f"counts_filter: operator '{op}' is not supported (=, >, <, >=, <=, and, or, not)")


def _aggregate_event_counts(conn: Connection, scope: Scope, query: Any, options: dict[str, Any]) -> Result:
    out = []
    for summarize_by in str(options.get("summarize_by") or "").split(","):
        rows = event_count_rows(conn, scope, query, summarize_by.strip(),
                                str(options.get("count_by") or "resource"), options.get("counts_filter"))
        entry: dict[str, Any] = {"summarize_by": summarize_by.strip()}
        for _, label in EVENT_STATUSES:
            entry[label] = sum(1 for r in rows if r[label] > 0)
        entry["total"] = len(rows)
        out.append(entry)
    return Result(out)


# -- fact names, contents and paths ---------------------------------------------------------------------------------


def _fact_names(conn: Connection, scope: Scope, paging: Paging) -> Result:
    entity = entities.build("facts", scope.backend, scope.groups)
    compiler = Compiler(scope, entity)
    name = compiler.field("name").expr
    assert name is not None
    statement = (sa.select(name).distinct().select_from(entity.source(compiler.used))
                 .where(*_restrict(scope, entity, compiler, None)).order_by(name))
    rows = list(conn.execute(statement).scalars())
    total = len(rows) if paging.include_total else None
    start = paging.offset or 0
    end = start + paging.limit if paging.limit is not None else None
    return Result(rows[start:end], total)


def _walk(value: Any, path: list[Any]) -> Iterator[tuple[list[Any], Any, bool]]:
    """(path, value, is_leaf) of every node under ``value`` (a leaf: a scalar or an empty container)."""
    if isinstance(value, dict) and value:
        yield path, value, False
        for key, item in value.items():
            yield from _walk(item, [*path, key])
    elif isinstance(value, list) and value:
        yield path, value, False
        for index, item in enumerate(value):
            yield from _walk(item, [*path, index])
    else:
        yield path, value, True


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "array"
    return "null"


def _pushdown(ast: Any, entity: Entity) -> list[sa.ColumnElement[bool]]:
    """SQL that narrows the fact documents before Python walks them: "=" on certname and environment inside
    a top-level "and" (a fact name narrows them too: :func:`_fact_name_wanted`); every row is still checked
    against the whole query in Python."""
    parts = ast[1:] if isinstance(ast, list) and ast and ast[0] == "and" else [ast]
    out: list[sa.ColumnElement[bool]] = []
    for part in parts:
        if isinstance(part, list) and len(part) == 3 and part[0] == "=" and isinstance(part[2], str):
            if part[1] in ("certname", "environment"):
                expr = entity.fields[part[1]].expr
                assert expr is not None
                out.append(expr == part[2])
    return out


def _matcher(ast: Any, fields: tuple[str, ...]) -> Callable[[dict[str, Any]], bool]:
    """The query as a Python predicate over flattened rows (fact-contents, fact-paths)."""
    if ast is None:
        return lambda row: True
    if not isinstance(ast, list) or not ast or not isinstance(ast[0], str):
        raise QueryError(f"expected a query such as [\"=\", \"name\", \"os\"], not {json.dumps(ast)}")
    op, args = ast[0], ast[1:]
    if op in ("and", "or"):
        if not args:
            raise QueryError(f"'{op}' needs at least one query")
        parts = [_matcher(a, fields) for a in args]
        return (lambda row: all(p(row) for p in parts)) if op == "and" else (lambda row: any(p(row) for p in parts))
    if op == "not":
        if len(args) != 1:
            raise QueryError("'not' takes exactly one query")
        inner = _matcher(args[0], fields)
        return lambda row: not inner(row)
    if op in ("node_state",):
        raise QueryError("node_state is a field, not an operator")
    if len(args) != 2:
        raise QueryError(f"operator '{op}' takes a field and a value")
    name, value = args
    if name == "node_state":  # each row carries its node's state for this
        if op != "=" or value not in ("active", "inactive", "any"):
            raise QueryError("node_state takes '=' with \"active\", \"inactive\" or \"any\"")
        return (lambda row: True) if value == "any" else (lambda row: row["node_state"] == value)
    if name not in fields:
        raise QueryError(f"'{name}' is not a queryable field; known fields: {', '.join(fields)}")
    if op == "=":
        return lambda row: row.get(name) == value and type(row.get(name)) is type(value) or (
            isinstance(value, int | float) and not isinstance(value, bool)
            and isinstance(row.get(name), int | float) and not isinstance(row.get(name), bool)
            and row.get(name) == value)
    if op == "~":
        if not isinstance(value, str):
            raise QueryError("'~' takes a regular expression")
        pattern = checked_regex(value, name)
        return lambda row: isinstance(row.get(name), str) and pattern.search(row[name]) is not None
    if op == "~>":
        if name != "path" or not isinstance(value, list):
            raise QueryError("'~>' takes \"path\" and a list of regular expressions")
        patterns = [checked_regex(v, name) for v in value]
        return lambda row: len(row["path"]) == len(patterns) and all(
            p.search(str(part)) for p, part in zip(patterns, row["path"], strict=True))
    if op == "null?":
        return lambda row: (row.get(name) is None) == bool(value)
    if op in (">", "<", ">=", "<="):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise QueryError(f"'{op}' takes a number")
        compare = {">": float.__gt__, "<": float.__lt__, ">=": float.__ge__, "<=": float.__le__}[op]
        return lambda row: isinstance(row.get(name), int | float) and not isinstance(row.get(name), bool) and \
            compare(float(row[name]), float(value))
    if op == "in" and isinstance(value, list) and value and value[0] == "array" and len(value) == 2:
        options = value[1]
        return lambda row: row.get(name) in options
    raise QueryError(f"operator '{op}' is not supported on fact-contents and fact-paths "
                     "(=, <, >, <=, >=, ~, ~>, null?, in with an array, and, or, not)")


def _flattened(conn: Connection, scope: Scope, name: str, query: Any, paging: Paging) -> Result:
    projection, query = split_extract(query)
    entity = entities.build("fact-contents", scope.backend, scope.groups)
    compiler = Compiler(scope, entity)
    fields: tuple[str, ...] = ("certname", "environment", "path", "name", "value") if name == "fact-contents" \
        else ("path", "type")
    match = _matcher(query, fields)
    where = _pushdown(query, entity) if name == "fact-contents" else []
    wanted = _fact_name_wanted(query)
    facts_col = entity.fields["facts"].expr
    assert facts_col is not None
    if wanted is not None:
        where.append(JsonValue.at(scope.backend.postgres, facts_col, (wanted,)).exists())
    where += _restrict(scope, entity, compiler, query)
    environment = entity.fields["environment"].expr
    assert environment is not None
    statement = (sa.select(entity.certname, environment, facts_col, entity.node.c.deactivated_at)
                 .select_from(entity.source(compiler.used)).where(*where).order_by(entity.certname))
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()  # fact-paths: the paths in the answer
    tried: set[tuple[str, str, str]] = set()  # ... and those matched against the query, by node state
    for certname, environment, document, deactivated in conn.execution_options(yield_per=200).execute(statement):
        state = "active" if deactivated is None else "inactive"
        top = document.items() if isinstance(document, dict) else ()
        for fact, value in top:
            if wanted is not None and fact != wanted:
                continue
            for path, item, leaf in _walk(value, [fact]):
                if name == "fact-contents":
                    if not leaf:
                        continue
                    row = {"certname": certname, "environment": environment, "path": path, "name": fact,
                           "value": item, "node_state": state}
                else:
                    kind = _type_name(item)
                    key = (json.dumps(path), kind)
                    if key in seen or (*key, state) in tried:
                        continue
                    tried.add((*key, state))
                    row = {"path": path, "type": kind, "node_state": state}
                if not match(row):
                    continue
                del row["node_state"]
                if name == "fact-paths":
                    seen.add(key)
                rows.append(row)
    for field_name, direction in reversed(paging.order_by):
        if field_name not in fields:
            raise QueryError(f"cannot order {name} by '{field_name}'")
        rows.sort(key=lambda r, f=field_name: json.dumps(r.get(f), sort_keys=True),  # type: ignore[misc]
                  reverse=direction == "desc")
    if projection.functions:
        return Result(_group_in_python(rows, projection))
    if projection.fields is not None:
        for f in projection.fields:
            if f not in fields:
                raise QueryError(f"'{f}' is not a field of {name}; known fields: {', '.join(fields)}")
        rows = [{f: r.get(f) for f in projection.fields} for r in rows]
    total = len(rows) if paging.include_total else None
    start = paging.offset or 0
    end = start + paging.limit if paging.limit is not None else None
    return Result(rows[start:end], total)


def _fact_name_wanted(ast: Any) -> str | None:
    parts = ast[1:] if isinstance(ast, list) and ast and ast[0] == "and" else [ast]
    for part in parts:
        if isinstance(part, list) and len(part) == 3 and part[0] == "=" and part[1] == "name" \
                and isinstance(part[2], str):
            return part[2]
    return None


def _group_in_python(rows: list[dict[str, Any]], projection: Projection) -> list[dict[str, Any]]:
    if any(function != "count" for function, _ in projection.functions):
        raise QueryError("fact-contents and fact-paths extract count() only")
    keys = projection.group_by
    tally: Counter[str] = Counter(json.dumps([r.get(k) for k in keys]) for r in rows)
    out = []
    for key, count in tally.items():
        values = json.loads(key)
        out.append({**dict(zip(keys, values, strict=True)), "count": count})
    return out


__all__ = ["Paging", "Result", "Scope", "execute", "parse_json_query", "split_from", "timestamp"]
