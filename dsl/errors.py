"""Errors of the manifest language: one root type, one subclass per stage.

Every error a user can cause carries a position so the CLI can print it the way compilers do,
``FILE:LINE:COL: error: MESSAGE``, and editors jump to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Span:
    """A source range; lines and columns are one-based."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NO_SPAN = Span("<unknown>", 0, 0, 0, 0)


class DslError(Exception):
    """Root of every error raised by the manifest language."""

    kind = "error"

    def __init__(self, message: str, span: Span | None = None, source: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.source = source

    @property
    def file(self) -> str | None:
        return self.span.file if self.span else None

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def col(self) -> int | None:
        return self.span.col if self.span else None

    def format_line(self) -> str:
        """The one-line form; values quoted in the message can't break it over several lines."""
        message = self.message.replace("\r", "\\r").replace("\n", "\\n")
        if self.span is None or self.span.line == 0:
            where = self.span.file + ": " if self.span and self.span.file != "<unknown>" else ""
            return f"{where}error: {message}"
        return f"{self.span.file}:{self.span.line}:{self.span.col}: error: {message}"

    def excerpt(self) -> str | None:
        """The offending source line with a caret under the column, when the source is at hand."""
        if self.span is None or self.span.line <= 0:
            return None
        text = self.source
        if text is None:
            try:
                text = Path(self.span.file).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
        lines = text.splitlines()
        if self.span.line > len(lines):
            return None
        src = lines[self.span.line - 1].replace("\t", " ")
        return f"{src}\n{' ' * max(self.span.col - 1, 0)}^"

    def __str__(self) -> str:
        return self.format_line()


class DslSyntaxError(DslError):
    """The text is not valid Puppet language."""


class EvaluationError(DslError):
    """The program is well formed but evaluating it failed (unknown class, duplicate resource, ...)."""


class DslTypeError(EvaluationError):
    """A value does not match the type it must have."""

