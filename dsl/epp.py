"""EPP templates: Puppet-language code embedded in text.

A template is translated into one Puppet program in which each text part becomes a call that
appends it to the output and each ``<%= expr %>`` a call that appends the rendered value; code
tags are kept as they are, so a ``<% $list.each |$x| { %>`` may open a block a later tag closes.
Line numbers are preserved (text parts become single-quoted strings that keep their newlines), so
errors point at the template's own lines.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import ast
from . import types as T
from .errors import DslSyntaxError, DslTypeError, Span
from .evaluator import Scope
from .parser import parse_string

if TYPE_CHECKING:
    from .compiler import Compiler

_TAG = re.compile(r"<%%|%%>|<%(-|=|#)?|(-)?%>")


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def translate(text: str, filename: str) -> tuple[str, str | None]:
    """Return (puppet source, parameter list source or None)."""
    out: list[str] = []
    params: str | None = None
    pos = 0
    n = len(text)
    buf: list[str] = []
    first_tag = True

    def flush() -> None:
        if buf:
            s = "".join(buf)
            out.append(f"__epp_text({_quote(s)})")
            buf.clear()

    while pos < n:
        m = _TAG.search(text, pos)
        if m is None:
            buf.append(text[pos:])
            break
        buf.append(text[pos:m.start()])
        tok = m.group(0)
        if tok == "<%%":
            buf.append("<%")
            pos = m.end()
            continue
        if tok == "%%>":
            buf.append("%>")
            pos = m.end()
            continue
        if tok.endswith("%>") and not tok.startswith("<%"):
            buf.append(tok)  # a stray '%>' outside any tag is text
            pos = m.end()
            continue
        mode = m.group(1)
        if mode == "-":
            # trim spaces and tabs before the tag on its line
            while buf and buf[-1] and buf[-1].rstrip(" \t") != buf[-1]:
                buf[-1] = buf[-1].rstrip(" \t")
                break
        end = _find_close(text, m.end())
        if end is None:
            line = text.count("\n", 0, m.start()) + 1
            col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
            raise DslSyntaxError("unterminated EPP tag: expected '%>'", Span(filename, line, col, line, col), text)
        close_start, close_end, trim = end
        body = text[m.end():close_start]
        flush()
        if mode == "#":
            out.append("\n" * body.count("\n"))
        elif mode == "=":
            out.append(f"__epp_render(({body}))")
        else:
            stripped = body.strip()
            if first_tag and stripped.startswith("|"):
                if not stripped.endswith("|"):
                    line = text.count("\n", 0, m.start()) + 1
                    raise DslSyntaxError("the EPP parameter list must end with '|'",
                                         Span(filename, line, 1, line, 1), text)
                params = stripped[1:-1]
                out.append("\n" * body.count("\n"))
            else:
                out.append(body)
        first_tag = False if mode != "#" else first_tag
        pos = close_end
        if trim:
            k = pos
            while k < n and text[k] in " \t":
                k += 1
            if text.startswith("\r\n", k):
                k += 1
            if k < n and text[k] == "\n":
                pos = k + 1
                out.append("\n")
            else:  # Puppet drops the spaces after '-%>' even when no line break follows
                pos = k
    flush()
    # Joined with spaces: every part keeps its own newlines, so template lines stay source lines.
    return " ".join(out), params


def _find_close(text: str, start: int) -> tuple[int, int, bool] | None:
    """Find the closing ``%>`` of a tag, skipping quoted strings; returns (start, end, trim)."""
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            j = i + 1
            while j < n and text[j] != c:
                if text[j] == "\\":
                    j += 1
                j += 1
            i = j + 1
            continue
        if text.startswith("-%>", i):
            return i, i + 3, True
        if text.startswith("%>", i):
            return i, i + 2, False
        i += 1
    return None


_PROGRAMS: dict[tuple[str, str], tuple[ast.Program, tuple[ast.Param, ...] | None]] = {}


def _compile_template(text: str, filename: str, line_offset: int = 0) -> tuple[ast.Program, tuple[ast.Param, ...] | None]:
    key = (filename, text)
    hit = _PROGRAMS.get(key)
    if hit is not None:
        return hit
    source, params_src = translate(text, filename)
    program = parse_string(("\n" * line_offset) + source, filename)
    params: tuple[ast.Param, ...] | None = None
    if params_src is not None:
        fprog = parse_string(("\n" * line_offset) + f"function __epp({params_src}) {{}}", filename)
        fdef = fprog.body.statements[0]
        assert isinstance(fdef, ast.FunctionDef)
        params = fdef.params
    _PROGRAMS[key] = (program, params)
    return program, params


def render_epp(ev: Compiler, text: str, filename: str, args: Any, node: ast.Node,
               line_offset: int = 0) -> str:
    program, params = _compile_template(text, filename, line_offset)
    inline = line_offset > 0 or filename == node.span.file
    enclosing = ev.scope if inline else ev.top
    scope = Scope("template", "epp", enclosing, ev.scope, ev.scope.resource, local=inline)
    given = args if isinstance(args, dict) else {}
    if args is not None and not isinstance(args, dict):
        ev.fail(node, "EPP parameters must be given as a Hash")
    if params is not None:
        names = {p.name for p in params}
        for k in given:
            if k not in names:
                ev.fail(node, f"the EPP template {filename} has no parameter named '{k}'")
        for p in params:
            if p.name in given:
                value = given[p.name]
            elif p.default is not None:
                saved = ev.scope
                ev.scope = scope
                try:
                    value = ev.eval(p.default)
                finally:
                    ev.scope = saved
            else:
                ev.fail(node, f"the EPP template {filename} expects a value for parameter '{p.name}'")
            if p.type_expr is not None:
                t = ev.eval_type(p.type_expr)
                if not t.instance(value):
                    ev.fail(node, f"the EPP template {filename} parameter '{p.name}' "
                                  f"{T.mismatch_message(t, value)}", DslTypeError)
            scope.vars[p.name] = value
    else:
        for k, v in given.items():
            scope.vars[k] = v
    buffers = ev.__dict__.setdefault("_epp_buffers", [])
    buffers.append([])
    saved = ev.scope
    ev.scope = scope
    try:
        ev.eval_block(program.body)
    finally:
        ev.scope = saved
        out = buffers.pop()
    return "".join(out)
