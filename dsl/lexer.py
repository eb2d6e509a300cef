"""The Puppet-language lexer: source text to a list of tokens (:class:`Tok`).

Hand-written because Puppet's lexical rules depend on context a regular lexer cannot see:
``/`` is a regex or a division by what precedes it, ``[`` is an access or a list by whether
whitespace precedes it, ``{`` opens a hash, a selector or a block by the token before it,
double-quoted strings and heredocs embed expression tokens, and a heredoc's body starts on the
line after its tag. The parser (``dsl.rdparser``, and the LALR grammar ``grammar.lark`` it is held
to) consumes the token types named here.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from .errors import DslSyntaxError, Span

KEYWORDS = {
    "if": "IF", "elsif": "ELSIF", "else": "ELSE", "unless": "UNLESS", "case": "CASE",
    "default": "DEFAULT", "class": "CLASS", "define": "DEFINE", "node": "NODE",
    "inherits": "INHERITS", "function": "FUNCTION", "and": "AND", "or": "OR", "in": "IN",
    "true": "TRUE", "false": "FALSE", "undef": "UNDEF",
}

#: Functions that Puppet lets a statement call without parentheses (``include foo, bar``).
STATEMENT_FUNCTIONS = frozenset({
    "include", "require", "contain", "realize", "tag", "debug", "info", "notice", "warning", "err",
    "fail", "alert", "crit", "emerg", "break", "next", "return",
})

# Tokens after which a value has just ended: `/` is then division, `[` directly after is access.
_VALUE_END = frozenset({
    "NAME", "STMT_NAME", "CLASSREF", "VARIABLE", "NUMBER", "STRING", "DQPOST", "RBRACK", "RPAREN",
    "REGEX", "TRUE", "FALSE", "UNDEF", "DEFAULT",
})
# Tokens after which `{` opens a hash (an expression is expected there).
_HASH_AFTER = frozenset({
    "EQUALS", "FARROW", "PARROW", "LPAREN", "CALL_LPAREN", "LISTSTART", "LBRACK", "COMMA", "PLUS",
    "MINUS", "TIMES", "DIV", "MODULO", "ISEQUAL", "NOTEQUAL", "QMARK", "IN", "LT", "LE", "GT", "GE",
    "LSHIFT", "RSHIFT", "MATCH", "NOMATCH", "NOT", "AND", "OR", "APPENDS", "DELETES", "HASH_LBRACE",
    "DQPRE", "DQMID",
})

_NAME_RE = re.compile(r"(?:::)?[a-z_][A-Za-z0-9_]*(?:::[a-z_][A-Za-z0-9_]*)*")
# A bare word with inner hyphens is a string (Puppet's WORD): `display-name => ...`
_WORD_RE = re.compile(r"[a-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)+")
_CLASSREF_RE = re.compile(r"(?:::)?[A-Z][A-Za-z0-9_]*(?:::[A-Z][A-Za-z0-9_]*)*")
_VAR_RE = re.compile(r"(?:::)?[a-z_][A-Za-z0-9_]*(?:::[a-z_][A-Za-z0-9_]*)*|[0-9]+")
_NUMBER_RE = re.compile(
    r"0[xX][0-9A-Fa-f]+|(?:[0-9]+\.[0-9]+(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+|[0-9]+)")
_WORD_TAIL = re.compile(r"[A-Za-z0-9_]")
_HEREDOC_RE = re.compile(r'@\(\s*(?:"([^"\n]+)"|([^:/)\n"]+?))\s*(?::\s*([A-Za-z0-9_+]+))?\s*(?:/\s*([trnsuL$]*))?\s*\)')

_PUNCT = [
    ("<<|", "LLCOLLECT"), ("|>>", "RRCOLLECT"),
    ("<|", "LCOLLECT"), ("|>", "RCOLLECT"), ("<<", "LSHIFT"), (">>", "RSHIFT"),
    ("<=", "LE"), (">=", "GE"), ("<-", "IN_EDGE"), ("<~", "IN_EDGE_SUB"), ("->", "OUT_EDGE"),
    ("~>", "OUT_EDGE_SUB"), ("==", "ISEQUAL"), ("!=", "NOTEQUAL"), ("=~", "MATCH"), ("!~", "NOMATCH"),
    ("=>", "FARROW"), ("+>", "PARROW"), ("+=", "APPENDS"), ("-=", "DELETES"), ("@@", "ATAT"),
    ("<", "LT"), (">", "GT"), ("=", "EQUALS"), ("!", "NOT"), ("+", "PLUS"), ("-", "MINUS"),
    ("*", "TIMES"), ("%", "MODULO"), ("?", "QMARK"), (":", "COLON"), (",", "COMMA"), (";", "SEMIC"),
    (".", "DOT"), ("|", "PIPE"), ("@", "AT"), (")", "RPAREN"), ("]", "RBRACK"), ("}", "RBRACE"),
]
# One match finds the longest punctuation at a position (alternatives longest first).
_PUNCT_RE = re.compile("|".join(re.escape(text) for text, _ in sorted(_PUNCT, key=lambda p: -len(p[0]))))
_PUNCT_TYPE = dict(_PUNCT)
# A whole single-quoted string; inside it only \\ and \' are escapes.
_SQ_RE = re.compile(r"'([^'\\]*(?:\\[\s\S][^'\\]*)*)'")
_SQ_ESCAPE = re.compile(r"\\([\\'])")

# Punctuation the grammar drops from the tree (Lark filters terminals named with a leading "_").
_FILTERED = {name: "_" + name for name in (
    "ELSIF", "ELSE", "INHERITS", "LBRACK", "LISTSTART", "RBRACK", "LBRACE", "HASH_LBRACE", "RBRACE",
    "LPAREN", "CALL_LPAREN", "RPAREN", "QMARK", "COLON", "COMMA", "SEMIC", "DOT", "PIPE",
    "LCOLLECT", "RCOLLECT", "LLCOLLECT", "RRCOLLECT")}


class Tok:
    """One token: its type, its text (or decoded value), and where it stands (one-based lines and
    columns, zero-based offsets). The attribute names are those of Lark's tokens, which the
    reference parser is fed (``dsl.larkparser``)."""

    __slots__ = ("type", "value", "start_pos", "line", "column", "end_line", "end_column", "end_pos")

    def __init__(self, type_: str, value: str, start_pos: int, line: int, column: int, end_line: int,
                 end_column: int, end_pos: int) -> None:
        self.type = type_
        self.value = value
        self.start_pos = start_pos
        self.line = line
        self.column = column
        self.end_line = end_line
        self.end_column = end_column
        self.end_pos = end_pos

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Tok({self.type!r}, {self.value!r}, {self.line}:{self.column})"


_DQ_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "s": " ", "$": "$", '"': '"', "'": "'", "\\": "\\"}


class Lexer:
    """Tokenizes one source text, whole: ``arrays()`` for the parser, ``tokens()`` as objects."""

    def __init__(self, source: str, filename: str = "<string>", line_offset: int = 0) -> None:
        self.src = source
        self.filename = filename
        self.pos = 0
        self.n = len(source)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.line_offset = line_offset
        # The tokens, as parallel lists (cheaper to build than objects): type, value, start, end.
        self.types: list[str] = []
        self.values: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self._lexed: tuple[list[str], list[str], list[int], list[int]] | None = None
        # Heredoc bodies claimed by tags on the current line: skip them at the next newline.
        self._heredoc_resume: int | None = None

    # -- positions -------------------------------------------------------------------------------
    def linecol(self, pos: int) -> tuple[int, int]:
        idx = bisect_right(self.line_starts, pos) - 1
        return idx + 1 + self.line_offset, pos - self.line_starts[idx] + 1

    def span(self, start: int, end: int | None = None) -> Span:
        line, col = self.linecol(start)
        eline, ecol = self.linecol(end if end is not None else start)
        return Span(self.filename, line, col, eline, ecol)

    def fail(self, message: str, pos: int) -> DslSyntaxError:
        return DslSyntaxError(message, self.span(pos), self.src)

    def _tok(self, type_: str, value: str, start: int, end: int) -> None:
        self.types.append(type_)
        self.values.append(value)
        self.starts.append(start)
        self.ends.append(end)

    def _prev_type(self) -> str | None:
        return self.types[-1] if self.types else None

    # -- driver ----------------------------------------------------------------------------------
    def tokens(self) -> list[Tok]:
        types, values, starts, ends = self.arrays()
        linecol = self.linecol
        out = []
        for k, type_ in enumerate(types):
            start, end = starts[k], ends[k]
            out.append(Tok(type_, values[k], start, *linecol(start), *linecol(end), end))
        return out

    def arrays(self) -> tuple[list[str], list[str], list[int], list[int]]:
        """Lex the whole text: the token types (punctuation named with a leading '_'), values, start
        and end offsets, as parallel lists."""
        if self._lexed is None:
            self._lex_until(None)
            self._lexed = ([_FILTERED.get(t, t) for t in self.types], self.values, self.starts, self.ends)
        return self._lexed

    def _skip_space(self) -> bool:
        """Skip whitespace and comments; return True when anything was skipped."""
        src, start = self.src, self.pos
        while self.pos < self.n:
            c = src[self.pos]
            if c == "\n":
                if self._heredoc_resume is not None:
                    self.pos = self._heredoc_resume
                    self._heredoc_resume = None
                else:
                    self.pos += 1
            elif c in " \t\r\f\v":
                self.pos += 1
            elif c == "#":
                end = src.find("\n", self.pos)
                self.pos = self.n if end < 0 else end
            elif c == "/" and src.startswith("/*", self.pos):
                end = src.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated /* comment", self.pos)
                self.pos = end + 2
            else:
                break
        return self.pos != start

    def _lex_until(self, closer: str | None) -> None:
        """Lex tokens; with closer '}', stop at the brace that closes an interpolation ``${``."""
        depth = 0
        src = self.src
        while True:
            spaced = self._skip_space()
            if self.pos >= self.n:
                if closer is not None:
                    raise self.fail("unterminated ${ interpolation in string", self.pos)
                return
            c = src[self.pos]
            start = self.pos
            if closer is not None and c == "}" and depth == 0:
                return
            if c in "{[(":
                if c == "{":
                    depth += 1
                self._open_bracket(c, start, spaced)
                continue
            if c == "}":
                depth -= 1
            if c == "$":
                m = _VAR_RE.match(src, self.pos + 1)
                if not m:
                    raise self.fail("'$' must be followed by a variable name", start)
                self.pos = m.end()
                self._tok("VARIABLE", m.group(0), start, self.pos)
                continue
            if c == "'":
                self._single_quoted(start)
                continue
            if c == '"':
                self._double_quoted(start)
                continue
            if "0" <= c <= "9":
                m = _NUMBER_RE.match(src, self.pos)
                assert m is not None
                end = m.end()
                if end < self.n and _WORD_TAIL.match(src, end):
                    bad = re.compile(r"[A-Za-z0-9_.]+").match(src, start)
                    assert bad is not None
                    raise self.fail(f"'{bad.group(0)}' is not a valid number", start)
                self.pos = end
                self._tok("NUMBER", m.group(0), start, end)
                continue
            if c.isalpha() or c == "_" or (c == ":" and src.startswith("::", self.pos)
                                           and self.pos + 2 < self.n and (src[self.pos + 2].isalpha()
                                                                          or src[self.pos + 2] == "_")):
                self._word(start)
                continue
            if c == "/" and self._prev_type() not in _VALUE_END:
                self._regex(start)
                continue
            if c == "/":
                self.pos += 1
                self._tok("DIV", "/", start, self.pos)
                continue
            if c == "@" and src.startswith("@(", self.pos):
                self._heredoc(start)
                continue
            m = _PUNCT_RE.match(src, start)
            if m is None:
                raise self.fail(f"unexpected character {c!r}", start)
            text = m.group(0)
            self.pos = m.end()
            self._tok(_PUNCT_TYPE[text], text, start, self.pos)

    def _open_bracket(self, c: str, start: int, spaced: bool) -> None:
        prev = self._prev_type()
        self.pos += 1
        if c == "[":
            type_ = "LBRACK" if ((prev in _VALUE_END or prev == "RBRACE") and not spaced) else "LISTSTART"
        elif c == "(":
            same_line = not spaced or "\n" not in self.src[self.ends[-1]:start] if self.types else False
            type_ = "CALL_LPAREN" if (prev in ("NAME", "STMT_NAME") and same_line
                                      or prev in ("CLASSREF", "RBRACK") and not spaced) else "LPAREN"
        else:
            type_ = "HASH_LBRACE" if prev in _HASH_AFTER or prev == "LBRACE" else "LBRACE"
        self._tok(type_, c, start, self.pos)

    def _word(self, start: int) -> None:
        src = self.src
        c = src[start]
        # A name starts lower-case, a type name upper-case; either may start with '::'.
        m = _NAME_RE.match(src, start) if not c.isupper() else None
        cm = _CLASSREF_RE.match(src, start) if c.isupper() or c == ":" else None
        if cm and (not m or cm.end() > m.end()):
            self.pos = cm.end()
            # Capitalised words may have lower-case segments after '::' (e.g. Foo::bar) - rare; keep simple.
            self._tok("CLASSREF", cm.group(0), start, self.pos)
            return
        if not m:
            raise self.fail(f"unexpected character {src[start]!r}", start)
        end = m.end()
        word = m.group(0)
        if end < self.n and src[end] == "-" and "::" not in word:
            wm = _WORD_RE.match(src, start)
            if wm is not None and wm.end() > end:
                self.pos = wm.end()
                self._tok("NAME", wm.group(0), start, self.pos)
                return
        # Bare words may contain hyphens in a few places (e.g. node names, resource titles); Puppet
        # lexes them as NAME only in a node definition, which the grammar handles with DOT and MINUS.
        self.pos = end
        kw = KEYWORDS.get(word)
        if kw is not None:
            self._tok(kw, word, start, end)
            return
        if word == "type" or word in STATEMENT_FUNCTIONS:
            nxt = self._peek_nonspace(end)
            if word == "type" and _CLASSREF_RE.match(src, nxt) and nxt > end:
                self._tok("TYPE_ALIAS", word, start, end)
                return
            if word in STATEMENT_FUNCTIONS and not src.startswith("=>", nxt) and not (
                nxt < self.n and src[nxt] == "("
            ):
                self._tok("STMT_NAME", word, start, end)
                return
        self._tok("NAME", word, start, end)

    def _peek_nonspace(self, pos: int) -> int:
        src = self.src
        while pos < self.n and src[pos] in " \t\r":
            pos += 1
        return pos

    def _regex(self, start: int) -> None:
        src = self.src
        i = start + 1
        buf = []
        while i < self.n:
            ch = src[i]
            if ch == "\\" and i + 1 < self.n:
                if src[i + 1] == "/":
                    buf.append("/")
                else:
                    buf.append(src[i : i + 2])
                i += 2
                continue
            if ch == "\n":
                break
            if ch == "/":
                self.pos = i + 1
                self._tok("REGEX", "".join(buf), start, self.pos)
                return
            buf.append(ch)
            i += 1
        # Not a regex after all (e.g. a lone '/'): report it where it stands.
        raise self.fail("unterminated regular expression", start)

    def _single_quoted(self, start: int) -> None:
        m = _SQ_RE.match(self.src, start)
        if m is not None:
            text = m.group(1)
            self.pos = m.end()
            self._tok("STRING", _SQ_ESCAPE.sub(r"\1", text) if "\\" in text else text, start, self.pos)
            return
        src = self.src
        i = start + 1
        buf = []
        while i < self.n:
            ch = src[i]
            if ch == "\\" and i + 1 < self.n and src[i + 1] in "\\'":
                buf.append(src[i + 1])
                i += 2
                continue
            if ch == "'":
                self.pos = i + 1
                self._tok("STRING", "".join(buf), start, self.pos)
                return
            buf.append(ch)
            i += 1
        raise self.fail("unterminated single-quoted string", start)

    def _double_quoted(self, start: int) -> None:
        end = self._scan_interpolated(start + 1, '"', _DQ_ESCAPES.keys() | {"u"}, start, None)
        self.pos = end

    # -- interpolation ---------------------------------------------------------------------------
    def _scan_interpolated(self, i: int, terminator: str | None, escapes: set[str] | frozenset[str],
                           tok_start: int, limit: int | None, margin: int = 0,
                           interpolate: bool = True) -> int:
        """Scan string text from ``i`` up to ``terminator`` (or ``limit``), emitting STRING or
        DQPRE/expression tokens/DQMID/DQPOST. Returns the position after the terminator."""
        src = self.src
        end_limit = self.n if limit is None else limit
        buf: list[str] = []
        pieces = 0  # number of interpolations emitted so far
        seg_start = tok_start
        at_line_start = margin > 0
        while True:
            if at_line_start:
                k = 0
                while k < margin and i < end_limit and src[i] in " \t":
                    i += 1
                    k += 1
                at_line_start = False
            if i >= end_limit:
                if terminator is not None:
                    raise self.fail("unterminated double-quoted string", tok_start)
                break
            ch = src[i]
            if terminator is not None and ch == terminator:
                i += 1
                break
            if ch == "\n":
                buf.append(ch)
                i += 1
                at_line_start = margin > 0
                continue
            if ch == "\\" and i + 1 < end_limit:
                nxt = src[i + 1]
                if nxt == "\n" and "L" in escapes:
                    i += 2
                    at_line_start = margin > 0
                    continue
                if nxt in escapes:
                    if nxt == "u":
                        i = self._unicode_escape(i, buf)
                        continue
                    if nxt == "L":
                        buf.append(ch)
                        i += 1
                        continue
                    buf.append(_DQ_ESCAPES.get(nxt, nxt))
                    i += 2
                    continue
                buf.append(ch)
                i += 1
                continue
            if interpolate and ch == "$":
                if src.startswith("${", i):
                    self._emit_text("DQPRE" if pieces == 0 else "DQMID", buf, seg_start, i)
                    buf = []
                    pieces += 1
                    self.pos = i + 2
                    saved = self._heredoc_resume
                    self._lex_until("}")
                    self._heredoc_resume = saved
                    i = self.pos + 1
                    seg_start = self.pos
                    continue
                m = _VAR_RE.match(src, i + 1)
                if m:
                    self._emit_text("DQPRE" if pieces == 0 else "DQMID", buf, seg_start, i)
                    buf = []
                    pieces += 1
                    self._tok("VARIABLE", m.group(0), i, m.end())
                    i = m.end()
                    seg_start = i
                    continue
            buf.append(ch)
            i += 1
        if pieces == 0:
            self._tok("STRING", "".join(buf), tok_start, i)
        else:
            self._tok("DQPOST", "".join(buf), seg_start, i)
        return i

    def _emit_text(self, type_: str, buf: list[str], start: int, end: int) -> None:
        self._tok(type_, "".join(buf), start, end)

    def _unicode_escape(self, i: int, buf: list[str]) -> int:
        src = self.src
        if src.startswith("{", i + 2):
            close = src.find("}", i + 3)
            digits = src[i + 3 : close] if close > 0 else ""
            if close < 0 or not re.fullmatch(r"[0-9A-Fa-f]{1,6}", digits):
                raise self.fail("malformed unicode escape: expected \\u{XXXXXX} with 1-6 hex digits", i)
            buf.append(chr(int(digits, 16)))
            return close + 1
        digits = src[i + 2 : i + 6]
        if not re.fullmatch(r"[0-9A-Fa-f]{4}", digits):
            raise self.fail("malformed unicode escape: expected \\uXXXX with 4 hex digits", i)
        buf.append(chr(int(digits, 16)))
        return i + 6

    # -- heredoc ---------------------------------------------------------------------------------
    def _heredoc(self, start: int) -> None:
        src = self.src
        m = _HEREDOC_RE.match(src, start)
        if not m:
            raise self.fail("malformed heredoc tag: expected @(END), @(\"END\") or @(END:syntax/flags)", start)
        quoted, plain, _syntax, flags = m.group(1), m.group(2), m.group(3), m.group(4)
        tag = (quoted or plain or "").strip()
        interpolate = quoted is not None
        self.pos = m.end()
        # The body starts on the line after the tag's line (or after a previous heredoc's body).
        body_start = self._heredoc_resume
        if body_start is None:
            nl = src.find("\n", self.pos)
            if nl < 0:
                raise self.fail(f"heredoc '{tag}' has no body: its text starts on the next line", start)
            body_start = nl + 1
        end_re = re.compile(r"^([ \t]*)(\|)?[ \t]*(-)?[ \t]*" + re.escape(tag) + r"[ \t]*\r?$", re.M)
        em = end_re.search(src, body_start)
        if not em:
            raise self.fail(f"heredoc end tag '{tag}' not found", start)
        margin = len(em.group(1).expandtabs(1)) if em.group(2) else 0
        trim_newline = em.group(3) is not None
        body_end = em.start()
        after = src.find("\n", em.end())
        self._heredoc_resume = self.n if after < 0 else after + 1
        if flags is None:
            escapes: set[str] = set()
        elif flags == "":
            escapes = {"t", "r", "n", "s", "u", "L", "$", "\\"}
        else:
            escapes = set(flags) | {"\\"}
        # Body text ends before the end tag's line; drop its last newline when '-' is given.
        limit = body_end
        if trim_newline and limit > body_start and src[limit - 1] == "\n":
            limit -= 1
            if limit > body_start and src[limit - 1] == "\r":
                limit -= 1
        first_tok = len(self.types)
        saved_pos = self.pos
        saved_resume = self._heredoc_resume
        self._heredoc_resume = None
        self._scan_interpolated(body_start, None, escapes, start, limit, margin=margin,
                                interpolate=interpolate)
        self._heredoc_resume = saved_resume
        self.pos = saved_pos
        # Positions of the text tokens point at the tag so errors land on the heredoc expression.
        if first_tok < len(self.types) and self.types[first_tok] in ("STRING", "DQPRE"):
            self.starts[first_tok] = start
            self.ends[first_tok] = m.end()


