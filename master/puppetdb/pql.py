"""PQL, PuppetDB's query language, read into the AST the compiler takes.

    nodes[certname, report_timestamp] { facts { name = "os" and value ~ "Debian" } order by certname limit 10 }
    reports { certname in inventory[certname] { facts.os.family = "Debian" } and status = "failed" }
    events[count(), status] { latest_report? = true group by status }

A query is ``entity [fields] { conditions modifiers }`` and becomes ``["from", entity, ["extract", fields,
query, ["group_by", ...]], ["order_by", ...], ["limit", n], ["offset", n]]``. Conditions: comparisons
(``=``, ``!=``, ``<``, ``>``, ``<=``, ``>=``, ``~``, ``!~``), ``is null`` / ``is not null``, ``and``, ``or``,
``!`` (not) and parentheses, ``field in [values]``, ``field in entity[fields] { ... }`` (a subquery) and
``entity { ... }`` alone (an implicit subquery, joined on the entities' natural key). Errors name the line
and column."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from master.puppetdb.errors import QueryError

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<op>!=|!~|<=|>=|=|<|>|~|!)
  | (?P<punct>[\[\]{}(),])
  | (?P<word>[A-Za-z_][A-Za-z0-9_?\-]*(?:\.(?:[A-Za-z0-9_?\-]+|"(?:[^"\\]|\\.)*"))*)
""", re.VERBOSE)

KEYWORDS = ("and", "or", "not", "in", "is", "null", "true", "false", "order", "by", "group", "limit", "offset",
            "asc", "desc")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # string, number, op, punct, word, end
    text: str
    line: int
    column: int


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise QueryError(f"PQL:{line}:{pos - line_start + 1}: error: unexpected character {text[pos]!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append(Token(kind, match.group(), line, pos - line_start + 1))
        chunk = match.group()
        if "\n" in chunk:
            line += chunk.count("\n")
            line_start = pos + chunk.rindex("\n") + 1
        pos = match.end()
    out.append(Token("end", "", line, pos - line_start + 1))
    return out


def _string(token: Token) -> str:
    body = token.text[1:-1]
    if token.text[0] == "'":
        body = body.replace("\\'", "'").replace('"', '\\"')
    try:
        return str(json.loads(f'"{body}"'))
    except json.JSONDecodeError:
        return body


class Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0

    # -- tokens ------------------------------------------------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def fail(self, message: str, token: Token | None = None) -> QueryError:
        at = token or self.token
        found = "the end of the query" if at.kind == "end" else repr(at.text)
        return QueryError(f"PQL:{at.line}:{at.column}: error: {message}, found {found}")

    def take(self) -> Token:
        token = self.token
        self.pos += 1
        return token

    def at(self, text: str) -> bool:
        token = self.token
        return token.kind in ("punct", "op") and token.text == text or \
            token.kind == "word" and token.text.lower() == text

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.pos += 1
            return True
        return False

    def expect(self, text: str, why: str) -> Token:
        if not self.at(text):
            raise self.fail(f"expected '{text}' {why}")
        return self.take()

    def word(self, what: str) -> str:
        token = self.token
        if token.kind != "word" or token.text.lower() in KEYWORDS:
            raise self.fail(f"expected {what}")
        self.pos += 1
        return token.text

    # -- grammar -----------------------------------------------------------------------------------------------

    def parse(self) -> list[Any]:
        query = self.query()
        if self.token.kind != "end":
            raise self.fail("expected the end of the query")
        return query

    def query(self) -> list[Any]:
        entity = self.word("an entity such as nodes, facts or reports")
        fields: list[Any] | None = None
        if self.at("["):
            fields = self.projection()
        opened = self.expect("{", f"to open the query of {entity}")
        condition = None
        if not self.at("}") and not self.at_modifier():
            condition = self.disjunction()
        group_by: list[str] = []
        modifiers: list[Any] = []
        while self.at_modifier():
            word = self.take().text.lower()
            if word in ("order", "group"):
                self.expect("by", f"after '{word}'")
                if word == "group":
                    group_by = [self.field_name()]
                    while self.accept(","):
                        group_by.append(self.field_name())
                else:
                    order = [self.order_item()]
                    while self.accept(","):
                        order.append(self.order_item())
                    modifiers.append(["order_by", order])
            else:
                token = self.token
                if token.kind != "number" or not token.text.isdigit():
                    raise self.fail(f"expected a whole number after '{word}'")
                self.pos += 1
                modifiers.append([word, int(token.text)])
        if not self.at("}"):
            raise self.fail(f"expected '}}' to close the query of {entity} opened at line {opened.line} "
                            f"column {opened.column}")
        self.take()
        out: list[Any] = ["from", entity]
        if fields is not None or group_by:
            extract: list[Any] = ["extract", fields or [], condition]
            if condition is None:
                extract = extract[:2]
            if group_by:
                if condition is None:
                    extract.append(None)
                extract.append(["group_by", *group_by])
            out.append(extract)
        elif condition is not None:
            out.append(condition)
        return out + modifiers

    def at_modifier(self) -> bool:
        token = self.token
        return token.kind == "word" and token.text.lower() in ("order", "group", "limit", "offset")

    def order_item(self) -> list[str]:
        name = self.field_name()
        direction = "asc"
        if self.at("asc") or self.at("desc"):
            direction = self.take().text.lower()
        return [name, direction]

    def projection(self) -> list[Any]:
        self.expect("[", "to open the list of fields")
        fields: list[Any] = []
        if self.accept("]"):
            return fields
        while True:
            name = self.field_name()
            if self.accept("("):
                argument = None if self.at(")") else self.field_name()
                self.expect(")", f"to close {name}(")
                fields.append(["function", name] + ([argument] if argument is not None else []))
            else:
                fields.append(name)
            if self.accept("]"):
                return fields
            self.expect(",", "between fields (or ']' to close the list)")

    def field_name(self) -> str:
        name = self.word("a field name")
        return re.sub(r'\."((?:[^"\\]|\\.)*)"', lambda m: "." + m.group(1), name)

    def disjunction(self) -> Any:
        parts = [self.conjunction()]
        while self.accept("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else ["or", *parts]

    def conjunction(self) -> Any:
        parts = [self.negation()]
        while self.accept("and"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else ["and", *parts]

    def negation(self) -> Any:
        if self.accept("!") or self.accept("not"):
            return ["not", self.negation()]
        return self.primary()

    def primary(self) -> Any:
        if self.at("("):
            opened = self.take()
            inner = self.disjunction()
            if not self.accept(")"):
                raise self.fail(f"expected ')' to close the '(' at line {opened.line} column {opened.column}")
            return inner
        if self.at("["):
            fields = self.projection()
            self.expect("in", "after a list of fields")
            return ["in", fields, self.subquery()]
        name = self.field_name()
        if self.at("{") or self.at("["):  # an entity: an implicit subquery
            self.pos -= 1
            sub = self.query()
            if len(sub) > 3 or (len(sub) == 3 and isinstance(sub[2], list) and sub[2] and sub[2][0] == "extract"):
                raise self.fail("an implicit subquery takes conditions only")
            return ["subquery", sub[1]] + ([sub[2]] if len(sub) == 3 else [])
        return self.comparison(name)

    def subquery(self) -> Any:
        if self.at("["):
            self.take()
            values = []
            if not self.accept("]"):
                while True:
                    values.append(self.value())
                    if self.accept("]"):
                        break
                    self.expect(",", "between values (or ']' to close the array)")
            return ["array", values]
        sub = self.query()
        if len(sub) < 3 or not (isinstance(sub[2], list) and sub[2] and sub[2][0] == "extract"):
            raise QueryError(f"PQL: error: the subquery of {sub[1]} after 'in' must name its fields, "
                             f"as in {sub[1]}[certname] {{ ... }}")
        return sub

    def comparison(self, name: str) -> Any:
        if self.accept("is"):
            negated = self.accept("not")
            self.expect("null", "after 'is'")
            return ["null?", name, not negated]
        if self.accept("in"):
            return ["in", name, self.subquery()]
        token = self.token
        if token.kind != "op" or token.text == "!":
            raise self.fail(f"expected an operator (=, !=, <, >, <=, >=, ~, !~, in, is null) after '{name}'")
        self.pos += 1
        value = self.value()
        if token.text == "!=":
            return ["not", ["=", name, value]]
        if token.text == "!~":
            return ["not", ["~", name, value]]
        return [token.text, name, value]

    def value(self) -> Any:
        token = self.token
        if token.kind == "string":
            self.pos += 1
            return _string(token)
        if token.kind == "number":
            self.pos += 1
            number = float(token.text)
            return int(number) if re.fullmatch(r"-?\d+", token.text) else number
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            self.pos += 1
            return token.text.lower() == "true"
        if token.kind == "word" and token.text.lower() == "null":
            self.pos += 1
            return None
        raise self.fail("expected a value (a string, number, true or false)")


def parse(text: str) -> list[Any]:
    """The AST (``["from", ...]``) of the PQL query ``text``; QueryError with its line and column."""
    if not text.strip():
        raise QueryError("PQL: error: the query is empty")
    return Parser(text).parse()


def is_pql(text: str) -> bool:
    """Whether the root endpoint's ``query`` is PQL (an AST is JSON, a list)."""
    return not text.lstrip().startswith("[")
