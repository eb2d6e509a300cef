"""Source text to AST. The hand-written lexer's tokens go to the recursive-descent parser
(``dsl.rdparser``), which builds our own frozen AST directly. The reference is the LALR grammar
(``grammar.lark``) run by Lark (``dsl.larkparser``, imported only when needed): it parses whatever
the fast path declines (every invalid text among it), so syntax errors read as they always have, and
the tests hold both paths to the same trees.

Parse results are cached by (file name, content hash): an unchanged file is never parsed twice in
a process, nor across processes (``dsl.parsecache``: a per-user directory, on by default).
"""

from __future__ import annotations

import gc
import hashlib
from pathlib import Path

from . import ast, parsecache, rdparser
from .errors import DslSyntaxError, Span
from .lexer import Lexer

# -- public API -------------------------------------------------------------------------------------
_MEMO: dict[tuple[str, str], ast.Program] = {}


def parse_string(source: str, filename: str = "<string>") -> ast.Program:
    """Parse manifest text. Raises :class:`DslSyntaxError` with a position on bad input."""
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    key = (filename, digest)
    hit = _MEMO.get(key)
    if hit is not None:
        return hit
    cache_dir = parsecache.cache_dir()
    name = None
    if cache_dir is not None and parsecache.usable_dir(cache_dir):
        name = parsecache.entry_name(filename, digest)
        program = parsecache.load(cache_dir, name, source)
        if program is not None:
            _MEMO[key] = program
            return program
    program = _parse_uncached(source, filename)
    _MEMO[key] = program
    if cache_dir is not None and name is not None:
        parsecache.store(cache_dir, name, program)
    return program


def _parse_uncached(source: str, filename: str) -> ast.Program:
    if "\x00" in source:
        idx = source.index("\x00")
        lexer = Lexer(source, filename)
        line, col = lexer.linecol(idx)
        raise DslSyntaxError("NUL byte in source text", Span(filename, line, col, line, col), source)
    lexer = Lexer(source, filename)
    gc_was_on = gc.isenabled()
    gc.disable()  # the parse allocates many objects and frees none: collecting is wasted time
    try:
        return rdparser.parse_lexed(lexer, filename, source)
    except rdparser.Fallback:
        pass
    finally:
        if gc_was_on:
            gc.enable()
    from .larkparser import parse_tokens

    return parse_tokens(lexer.tokens(), filename, source)


def parse_reference(source: str, filename: str = "<string>") -> ast.Program:
    """Parse with the reference LALR path only (no cache): what the fast path is held to."""
    from .larkparser import parse_tokens

    return parse_tokens(Lexer(source, filename).tokens(), filename, source)


def parse_file(path: Path) -> ast.Program:
    """Parse a manifest file; unreadable or non-UTF-8 files are syntax errors with a position."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DslSyntaxError(f"cannot read file: {exc.strerror}", Span(name, 0, 0, 0, 0)) from None
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        prefix = data[: exc.start]
        line = prefix.count(b"\n") + 1
        col = exc.start - (prefix.rfind(b"\n") + 1) + 1
        raise DslSyntaxError("file is not valid UTF-8", Span(name, line, col, line, col)) from None
    return parse_string(source, name)
