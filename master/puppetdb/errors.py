"""The package's one error: a query PuppetDB would refuse with 400, with a one-line message saying what
is wrong and what is accepted."""

from __future__ import annotations


class QueryError(Exception):
    """A query that cannot be answered: unknown entity, field or operator, malformed AST or PQL, bad paging."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
