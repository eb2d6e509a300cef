"""JSON in SQL, spelt for each backend: SQLite's json_each/json_extract over JSON text, PostgreSQL's
jsonb operators. The query compiler asks for "the value at this path" and "compare it with that" and gets
one SQL expression either way, so a fact's value is filtered in the database, never in Python."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from master.puppetdb.errors import QueryError
from master.puppetdb.regex import checked as checked_regex

#: SQLite's json_type names of the scalars that compare as numbers.
_SQLITE_NUMBERS = ("integer", "real")


def sqlite_path(path: tuple[str | int, ...]) -> str:
    """SQLite's JSON path of ``path``: ``$."os"."release"[0]``."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += '."' + part.replace('"', '\\"') + '"'
    return out


@dataclass(frozen=True, slots=True)
class JsonValue:
    """A JSON value inside a row: on SQLite its json type name and its SQL value (the "atom": text for a
    string, a number, 1/0 for a boolean, NULL for a container) plus its JSON text; on PostgreSQL a jsonb
    expression. ``compare`` builds the SQL condition of PuppetDB's operators on it."""

    postgres: bool
    type: sa.ColumnElement[Any] | None = None  # SQLite
    atom: sa.ColumnElement[Any] | None = None  # SQLite
    text: sa.ColumnElement[Any] | None = None  # SQLite: the JSON text of a container
    jsonb: sa.ColumnElement[Any] | None = None  # PostgreSQL

    @classmethod
    def at(cls, postgres: bool, document: sa.ColumnElement[Any], path: tuple[str | int, ...]) -> JsonValue:
        """The value at ``path`` inside the JSON ``document`` column."""
        if postgres:
            return cls(True, jsonb=document.op("#>")(sa.literal([str(p) for p in path],
                                                                 postgresql.ARRAY(sa.Text))))
        where = sqlite_path(path)
        return cls(False, type=sa.func.json_type(document, where), atom=sa.func.json_extract(document, where),
                   text=sa.func.json_extract(document, where))

    def output(self) -> sa.ColumnElement[Any]:
        """What to select: JSON text on SQLite (``decode`` reads it), the jsonb itself on PostgreSQL."""
        if self.postgres:
            assert self.jsonb is not None
            return self.jsonb
        assert self.type is not None and self.atom is not None and self.text is not None
        return sa.case((self.type == "true", "true"), (self.type == "false", "false"), (self.type == "null", "null"),
                       (self.type.in_(("object", "array")), self.text), else_=sa.func.json_quote(self.atom))

    def decode(self, value: Any) -> Any:
        if self.postgres or value is None:
            return value
        return json.loads(value) if isinstance(value, str) else value

    def exists(self) -> sa.ColumnElement[bool]:
        if self.postgres:
            assert self.jsonb is not None
            return self.jsonb.is_not(None)
        assert self.type is not None
        return self.type.is_not(None)

    def _typed(self, kind: str) -> sa.ColumnElement[Any]:
        """The value as SQL of ``kind`` ("number" or "string"), NULL when it is of another JSON type."""
        if self.postgres:
            assert self.jsonb is not None
            as_text = self.jsonb.op("#>>")(sa.literal([], postgresql.ARRAY(sa.Text)))
            if kind == "number":
                return sa.case((sa.func.jsonb_typeof(self.jsonb) == "number", sa.cast(as_text, sa.Numeric)))
            return sa.case((sa.func.jsonb_typeof(self.jsonb) == "string", as_text))
        assert self.type is not None and self.atom is not None
        if kind == "number":
            return sa.case((self.type.in_(_SQLITE_NUMBERS), self.atom))
        return sa.case((self.type == "text", self.atom))

    def compare(self, op: str, value: Any, field: str) -> sa.ColumnElement[bool]:
        if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
            try:  # beyond the databases' integers: compared as the number it is
                value = float(value)
            except OverflowError:
                raise QueryError(f"'{op}' on '{field}': the number {str(value)[:20]}... is too large") from None
        if op == "null?":
            return ~self.exists() if value else self.exists()
        if op == "~":
            if not isinstance(value, str):
                raise QueryError(f"the value of '~' on '{field}' must be a string (a regular expression)")
            checked_regex(value, field)
            return self._typed("string").regexp_match(value)
        if op == "=":
            if self.postgres:
                assert self.jsonb is not None
                return self.jsonb == sa.cast(sa.literal(json.dumps(value)), postgresql.JSONB)
            assert self.type is not None and self.atom is not None
            if value is None:
                return self.type == "null"
            if isinstance(value, bool):
                return self.type == ("true" if value else "false")
            if isinstance(value, int | float):
                return self._typed("number") == value
            if isinstance(value, str):
                return self._typed("string") == value
            assert self.text is not None
            # json() of a scalar's text (an unquoted string) is malformed: only containers are read as JSON
            return sa.case((self.type.in_(("object", "array")), sa.func.json(self.text)),
                           else_=sa.null()) == sa.func.json(json.dumps(value))
        compare = COMPARISONS.get(op)
        if compare is None:
            raise QueryError(f"operator '{op}' is not supported on '{field}'")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise QueryError(f"'{op}' on '{field}' takes a number, not {json.dumps(value)}")
        return compare(self._typed("number"), value)


COMPARISONS: dict[str, Callable[[Any, Any], sa.ColumnElement[bool]]] = {
    ">": lambda a, b: a > b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
}


def each_member(postgres: bool, document: sa.ColumnElement[Any], name: str) -> Any:
    """A table-valued function over the top-level members of ``document``: columns ``key``, ``value`` on
    PostgreSQL (jsonb), ``key``, ``value``, ``type``, ``atom`` on SQLite."""
    if postgres:
        return sa.func.jsonb_each(document).table_valued("key", "value").alias(name)
    return sa.func.json_each(document).table_valued("key", "value", "type", "atom").alias(name)


def each_element(postgres: bool, document: sa.ColumnElement[Any], key: str, name: str) -> Any:
    """A table-valued function over the elements of the array at ``document[key]``: column ``value``."""
    if postgres:
        return sa.func.jsonb_array_elements(document.op("->")(sa.literal(key))).table_valued("value").alias(name)
    return sa.func.json_each(document, f"$.{key}").table_valued("value").alias(name)


def member_value(postgres: bool, each: Any) -> JsonValue:
    """The ``value`` of a row of :func:`each_member` as a JsonValue."""
    if postgres:
        return JsonValue(True, jsonb=each.c.value)
    return JsonValue(False, type=each.c.type, atom=each.c.atom, text=each.c.value)


def element_value(postgres: bool, element: sa.ColumnElement[Any], path: tuple[str | int, ...]) -> JsonValue:
    """The value at ``path`` inside an element of :func:`each_element` (JSON text on SQLite)."""
    return JsonValue.at(postgres, element, path)


def element_text(postgres: bool, element: sa.ColumnElement[Any], key: str) -> sa.ColumnElement[Any]:
    """``element[key]`` as SQL text (or number), for plain fields of an array element."""
    if postgres:
        return element.op("->>")(sa.literal(key))
    return sa.func.json_extract(element, sqlite_path((key,)))
