"""ERB scanning: a template becomes one Ruby program, as Ruby's ERB compiles it with ``trim_mode: '-'``
(the mode Puppet's ``template()`` and ``inline_template()`` use).

Text between tags becomes an output statement, ``<%= expr %>`` an output of ``expr.to_s``, and the code
of ``<% %>`` tags stays as it is, so a block a tag opens (``<% @list.each do |x| -%>``) may be closed by
a later tag. Pieces of one template line are joined with ``; `` and template line breaks stay line
breaks in the program, exactly as ERB does - which keeps two of its quirks users may rely on without
knowing: a ``#`` comment in a ``<% %>`` tag also silences the text after the tag up to the next line
break of the program, and the content of an unterminated tag is printed as text.

The program is Ruby source in which output statements are markers the lexer turns into tokens:
``\\0T<n>\\0`` prints ``texts[n]``, ``\\0I\\0(( code ))`` prints the value of ``code``, and ``\\0L<n>\\0``
says "this is template line n" after a multi-line ``<%# %>`` comment, so errors name the template's
own lines even where ERB's generated code loses them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: the start tags ERB recognises with trim mode '-': ``<%-`` (eating the indentation before it when it
#: starts a line) first, then the fixed tags; ``\Z`` ends the text when no tag follows
_START_TAG = re.compile(r"(.*?)(^[ \t]*<%-|<%-|<%%|<%=|<%#|<%|\Z)", re.S | re.M)
_END_TAG = re.compile(r"(.*?)(-%>|%%>|%>|\Z)", re.S)
_TRIM_START = re.compile(r"[ \t]*<%-")
_LINE_END = re.compile(r"\r?\n|\Z")

MARK = "\0"


@dataclass(frozen=True, slots=True)
class ErbProgram:
    """A template compiled to Ruby source with output markers, and the text pieces they print."""

    source: str
    texts: tuple[str, ...]


def compile_erb(src: str) -> ErbProgram:
    """Compile ERB text into a program for :mod:`dsl.erb.parser`."""
    texts: list[str] = []
    lines: list[str] = []  # finished program lines
    pending: list[str] = []  # pieces of the current program line, joined with '; '
    content: list[str] = []
    open_tag: str | None = None
    pos = 0
    n = len(src)
    template_line = 1  # the template line the scanner is at, for the markers after comments

    def put_text(text: str) -> None:
        texts.append(text)
        pending.append(f"{MARK}T{len(texts) - 1}{MARK}" + "\n" * text.count("\n"))

    def line_break() -> None:
        lines.append("; ".join(pending))
        pending.clear()

    while pos < n:
        m = (_END_TAG if open_tag else _START_TAG).match(src, pos)
        assert m is not None  # both patterns can match the empty string
        pos = m.end()
        template_line += m.group(0).count("\n")
        tag_line = template_line
        pieces: list[str | None] = [m.group(1)]
        elem = m.group(2)
        if _TRIM_START.match(elem):
            pieces.append("<%")
        elif elem == "-%>":
            pieces.append("%>")
            eol = _LINE_END.match(src, pos)
            if eol is not None:
                pos = eol.end()
                if eol.group(0):
                    template_line += 1
                pieces.append(None)
        else:
            pieces.append(elem)
        for tok in pieces:
            if tok == "":
                continue
            if open_tag is None:
                if tok is None:
                    line_break()
                elif tok in ("<%", "<%=", "<%#"):
                    open_tag = tok
                    if content:
                        put_text("".join(content))
                        content.clear()
                elif tok == "\n":
                    content.append("\n")
                    put_text("".join(content))
                    content.clear()
                elif tok == "<%%":
                    content.append("<%")
                else:
                    content.append(tok)
            else:
                if tok == "%>":
                    code = "".join(content)
                    content.clear()
                    if open_tag == "<%":
                        if code.endswith("\n"):
                            pending.append(code[:-1])
                            line_break()
                        else:
                            pending.append(code)
                    elif open_tag == "<%=":
                        pending.append(f"{MARK}I{MARK}(({code}))")
                    elif "\n" in code:  # a comment: ERB drops it with its line breaks; say where we are
                        pending.append(f"{MARK}L{tag_line}{MARK}")
                    open_tag = None
                elif tok == "%%>":
                    content.append("%>")
                elif tok is not None:
                    content.append(tok)
    if content:
        put_text("".join(content))
    lines.append("; ".join(pending))
    return ErbProgram("\n".join(lines), tuple(texts))
