"""Tokens of the Ruby subset ERB templates are written in.

Ruby's lexer depends on what came before: ``/`` starts a regex where a value is expected and divides
after one, ``foo -1`` passes ``-1`` to a method ``foo`` while ``x -1`` subtracts from a local ``x``,
``%w[a b]`` is a literal or a modulo, ``:a`` a symbol or the colon of a ternary. So the lexer tracks
whether the previous token ended a value and which names are local variables (assigned earlier, or
block parameters - Ruby's own rule, approximated without scopes), and every token records whether
whitespace surrounds it, which the parser needs for the same decisions (``foo [1]`` versus ``foo[1]``).

ERB's output markers (see :mod:`dsl.erb.scanner`) become ``text``, ``insert`` and line-marker tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .scanner import MARK

KEYWORDS = frozenset({
    "alias", "and", "begin", "BEGIN", "break", "case", "class", "def", "defined?", "do", "else", "elsif",
    "end", "END", "ensure", "false", "for", "if", "in", "module", "next", "nil", "not", "or", "redo",
    "rescue", "retry", "return", "self", "super", "then", "true", "undef", "unless", "until", "when",
    "while", "yield", "__FILE__", "__LINE__", "__method__",
})

#: keywords after which a value is complete (an operator may follow)
_VALUE_KEYWORDS = frozenset({"end", "self", "nil", "true", "false", "__FILE__", "__LINE__", "__method__"})

#: operators, longest first
_OPERATORS = sorted([
    "**=", "<=>", "===", "...", "<<=", ">>=", "&&=", "||=", "&.",
    "**", "==", "!=", ">=", "<=", "&&", "||", "<<", ">>", "=~", "!~", "..", "::", "=>", "->",
    "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=",
    "+", "-", "*", "/", "%", "=", "<", ">", "!", "&", "|", "^", "~", "?", ":", ",", ".", ";",
    "(", ")", "[", "]", "{", "}",
], key=len, reverse=True)
_OPERATOR_RE = re.compile("|".join(re.escape(o) for o in _OPERATORS))

_IDENT = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*")
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*|0[bB][01](?:_?[01])*|0[oO]?[0-7](?:_?[0-7])*(?![.eE]\d)"
    r"|\d(?:_?\d)*(?:\.\d(?:_?\d)*)?(?:[eE][+-]?\d+)?")
_SPACE = re.compile(r"[ \t\r\f\v]+|\\\r?\n")
_MARKER = re.compile(re.escape(MARK) + r"([TIL])(\d*)" + re.escape(MARK))
_GVAR = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\d+|[~!@&`'+*$?:\"<>,./\\;0_])")
_CONTINUATION = re.compile(r"(?:[ \t\r]*(?:#[^\n]*)?\n)*[ \t\r]*&?\.(?!\.)")
_ESCAPES = {"n": "\n", "t": "\t", "s": " ", "r": "\r", "0": "\0", "e": "\x1b", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v"}
_CLOSERS = {"(": ")", "[": "]", "{": "}", "<": ">"}


class LexError(Exception):
    """Text that is not Ruby (or not the subset); carries the line."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(slots=True)
class Token:
    """``kind`` is one of: int float str dstr sym dsym regex words symbols ident const ivar gvar cvar
    label kw op nl text insert eof. ``spc``/``spc_after``: whitespace right before/after it."""

    kind: str
    value: Any
    line: int
    spc: bool = False
    spc_after: bool = False
    #: for ``ident``: a name the lexer has seen assigned (a local variable), so ``x -1`` subtracts
    local: bool = False
    #: for ``dstr``/``dsym``/``regex``/``words``: the pieces, strings and token lists of ``#{}`` code
    parts: list[Any] = field(default_factory=list)


class Lexer:
    def __init__(self, src: str, line: int = 1, locals_: set[str] | None = None) -> None:
        self.src = src
        self.pos = 0
        self.line = line
        self.tokens: list[Token] = []
        self.locals: set[str] = locals_ if locals_ is not None else set()
        self.paren_depth = 0
        self.ternaries = 0  # '?' of ternaries waiting for their ':'
        self.block_params = False  # between the bars of a block's parameters

    # -- state ---------------------------------------------------------------------------------------
    def _prev(self) -> Token | None:
        return self.tokens[-1] if self.tokens else None

    def _value_end(self) -> bool:
        """Whether the previous token completes a value, so an operator may follow."""
        t = self._prev()
        if t is None:
            return False
        if t.kind in ("int", "float", "str", "dstr", "sym", "dsym", "regex", "words", "symbols", "ident",
                      "const", "ivar", "gvar", "cvar", "text"):
            return True
        if t.kind == "kw":
            return t.value in _VALUE_KEYWORDS
        if t.kind == "op":
            return t.value in (")", "]", "}")
        return False

    def _command_position(self, spc: bool, next_char: str) -> bool:
        """``foo -1``, ``foo /re/``, ``foo :sym``: after a method name (not a local variable), with a
        space before and none after, an ambiguous character starts the method's first argument."""
        t = self._prev()
        if t is None or t.kind != "ident" or t.local or not spc:
            return False
        if len(self.tokens) >= 2 and self.tokens[-2].kind == "kw" and self.tokens[-2].value == "def":
            return False
        return next_char not in " \t\n\r="

    def _operand_expected(self, spc: bool, next_char: str) -> bool:
        return not self._value_end() or self._command_position(spc, next_char)

    def _peek(self, k: int = 0) -> str:
        i = self.pos + k
        return self.src[i] if i < len(self.src) else ""

    def _add(self, kind: str, value: Any, line: int, spc: bool, **extra: Any) -> Token:
        tok = Token(kind, value, line, spc, **extra)
        self.tokens.append(tok)
        return tok

    # -- the main loop ---------------------------------------------------------------------------------
    def tokenize(self, until_brace: bool = False) -> list[Token]:
        """Tokens up to the end of the source - or, for the code of a ``#{}``, up to its ``}``."""
        src = self.src
        n = len(src)
        spc = False
        brace_depth = 0
        while True:
            if self.pos >= n:
                if until_brace:
                    raise LexError("unterminated string interpolation: expected '}'", self.line)
                break
            c = src[self.pos]
            m = _SPACE.match(src, self.pos)
            if m:
                self.line += m.group(0).count("\n")
                self.pos = m.end()
                spc = True
                continue
            if self.tokens:
                self.tokens[-1].spc_after = spc
            if c == "\n":
                self._newline()
                spc = True
                continue
            if c == "#":
                end = src.find("\n", self.pos)
                self.pos = n if end < 0 else end
                continue
            if c == MARK:
                self._marker()
                spc = False
                continue
            if until_brace and c == "}" and brace_depth == 0:
                self.pos += 1
                break
            if c == "{":
                brace_depth += 1
            elif c == "}":
                brace_depth -= 1
            self._token(c, spc)
            spc = False
        if self.tokens:
            self.tokens[-1].spc_after = True
        return self.tokens

    def _newline(self) -> None:
        self.pos += 1
        line = self.line
        self.line += 1
        prev = self._prev()
        if prev is None or prev.kind == "nl":
            return
        # after an operator, a comma or an opening bracket the expression continues on the next line
        if prev.kind == "op" and prev.value not in (")", "]", "}"):
            return
        if prev.kind == "kw" and prev.value in ("and", "or", "not"):
            return
        # so does a value followed by a line starting with '.meth' or '&.meth'
        if self._value_end() and _CONTINUATION.match(self.src, self.pos):
            return
        self._add("nl", "\n", line, True)

    def _marker(self) -> None:
        m = _MARKER.match(self.src, self.pos)
        if m is None:
            raise LexError("unexpected NUL character", self.line)
        self.pos = m.end()
        kind, num = m.group(1), m.group(2)
        if kind == "T":
            self._add("text", int(num), self.line, False)
        elif kind == "I":
            self._add("insert", None, self.line, False)
        else:
            self.line = int(num)

    def _token(self, c: str, spc: bool) -> None:
        src = self.src
        line = self.line
        nxt = self._peek(1)
        if c.isdigit():
            m = _NUMBER.match(src, self.pos)
            assert m is not None
            text = m.group(0).replace("_", "")
            self.pos = m.end()
            if re.fullmatch(r"\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+", text):
                self._add("float", float(text), line, spc)
            elif text[:2] in ("0x", "0X"):
                self._add("int", int(text[2:], 16), line, spc)
            elif text[:2] in ("0b", "0B"):
                self._add("int", int(text[2:], 2), line, spc)
            elif text[:2] in ("0o", "0O"):
                self._add("int", int(text[2:], 8), line, spc)
            elif len(text) > 1 and text[0] == "0":
                if not text.isdigit() or "8" in text or "9" in text:
                    raise LexError(f"invalid octal digit in '{text}'", line)
                self._add("int", int(text, 8), line, spc)
            else:
                self._add("int", int(text), line, spc)
            return
        if c == "@":
            m = re.compile(r"@@?[A-Za-z_][A-Za-z0-9_]*").match(src, self.pos)
            if m is None:
                raise LexError("'@' without a variable name", line)
            self.pos = m.end()
            name = m.group(0)
            self._add("cvar" if name.startswith("@@") else "ivar", name.lstrip("@"), line, spc)
            return
        if c == "$":
            m = _GVAR.match(src, self.pos)
            if m is None:
                raise LexError("'$' without a variable name", line)
            self.pos = m.end()
            self._add("gvar", m.group(0), line, spc)
            return
        if c == "_" or c.isalpha() or ord(c) > 127:
            self._identifier(spc)
            return
        if c == "'":
            self.pos += 1
            self._add("str", self._single_quoted("'", ""), line, spc)
            return
        if c == '"':
            self.pos += 1
            self._double_quoted_token("dstr", '"', "", line, spc)
            return
        if c == "`":
            raise LexError("unsupported Ruby in ERB: shell command (`...`)", line)
        if c == ":" and nxt == '"' and self._operand_or_symbol(spc):
            self.pos += 2
            self._double_quoted_token("dsym", '"', "", line, spc)
            return
        if c == ":" and nxt == "'" and self._operand_or_symbol(spc):
            self.pos += 2
            self._add("sym", self._single_quoted("'", ""), line, spc)
            return
        if c == ":" and nxt != ":" and self._operand_or_symbol(spc):
            m = re.compile(r":([A-Za-z_][A-Za-z0-9_]*[?!=]?|\[\]=?|<=>|===?|=~|!=|!~|\*\*|[+\-*/%<>!~^&|]|<<|>>|<=|>=)"
                           ).match(src, self.pos)
            if m is not None:
                self.pos = m.end()
                self._add("sym", m.group(1), line, spc)
                return
        if c == "/" and self._operand_expected(spc, nxt):
            self.pos += 1
            self._regex("/", "", line, spc)
            return
        if c == "%" and self._operand_expected(spc, nxt) and self._percent_literal(line, spc):
            return
        if c == "?" and self._operand_expected(spc, nxt) and nxt and not nxt.isspace() \
                and not (self._peek(2).isalnum() or self._peek(2) == "_"):
            if nxt == "\\":
                raise LexError("unsupported Ruby in ERB: escaped character literal", line)
            self.pos += 2
            self._add("str", nxt, line, spc)
            return
        if c == "<" and nxt == "<" and self._operand_expected(spc, self._peek(2)) \
                and re.compile(r"<<[~-]?(['\"]?)[A-Za-z_]").match(src, self.pos):
            raise LexError("unsupported Ruby in ERB: heredoc", line)
        if c == "=" and src.startswith("=begin", self.pos) and (self.pos == 0 or src[self.pos - 1] == "\n"):
            end = src.find("\n=end", self.pos)
            if end < 0:
                raise LexError("embedded document meets end of file: expected '=end'", line)
            self.line += src.count("\n", self.pos, end + 1)
            eol = src.find("\n", end + 1)
            self.pos = len(src) if eol < 0 else eol
            return
        m = _OPERATOR_RE.match(src, self.pos)
        if m is None:
            raise LexError(f"unexpected character {c!r}", line)
        op = m.group(0)
        self.pos = m.end()
        if op == "?":
            self.ternaries += 1
        elif op == ":" and self.ternaries:
            self.ternaries -= 1
        elif op == "|":
            prev = self._prev()
            if self.block_params:
                self.block_params = False
            elif prev is not None and ((prev.kind == "kw" and prev.value == "do")
                                       or (prev.kind == "op" and prev.value == "{")):
                self.block_params = True
        self._add("op", op, line, spc)

    def _operand_or_symbol(self, spc: bool) -> bool:
        if self.ternaries and self._value_end():
            return False
        return self._operand_expected(spc, self._peek(1))

    def _identifier(self, spc: bool) -> None:
        src = self.src
        line = self.line
        m = _IDENT.match(src, self.pos)
        assert m is not None
        name = m.group(0)
        end = m.end()
        prev = self._prev()
        after_dot = prev is not None and prev.kind == "op" and prev.value in (".", "&.") \
            or (prev is not None and prev.kind == "kw" and prev.value == "def")
        # 'empty?', 'strip!' - unless it is 'x != y' or 'x ? a : b' with the '?' glued on
        if end < len(src) and src[end] in "?!" and not (end + 1 < len(src) and src[end + 1] == "=" and
                                                          src[end + 2:end + 3] not in ("=", "~", ">")):
            if name == "defined" and src[end] == "?" and not after_dot:
                self.pos = end + 1
                self._add("kw", "defined?", line, spc)
                return
            if src[end] == "!" or name not in self.locals:  # a local followed by '?' is 'x ? a : b'
                name += src[end]
                end += 1
        # 'key: value' - a label, unless it is the ':' of a ternary or '::'
        if end < len(src) and src[end] == ":" and src[end + 1:end + 2] != ":" and not after_dot \
                and (not self.ternaries or (prev is not None and prev.kind == "op"
                                            and prev.value in ("{", ",", "("))):
            self.pos = end + 1
            self._add("label", name, line, spc)
            return
        self.pos = end
        if not after_dot and name in KEYWORDS:
            self._add("kw", name, line, spc)
            return
        if name[0].isupper():
            self._add("const", name, line, spc)
            return
        is_local = name in self.locals
        if not after_dot and not is_local and name[-1] not in "?!":
            # 'x = ...', 'x ||= ...', 'x += ...': from here on x is a local variable
            if re.compile(r"[ \t]*(?:\|\||&&|[-+*/%|&^]|\*\*|<<|>>)?=(?![=~>])").match(src, end) \
                    or self.block_params or (prev is not None and prev.kind == "kw" and prev.value == "for"):
                self.locals.add(name)
                is_local = True
            elif prev is not None and prev.kind == "op" and prev.value == "=>" and len(self.tokens) >= 2 \
                    and any(t.kind == "kw" and t.value == "rescue" for t in self.tokens[-3:-1]):
                self.locals.add(name)
                is_local = True
            elif self._in_multiple_assignment(end):
                self.locals.add(name)
                is_local = True
        self._add("ident", name, line, spc, local=is_local and not after_dot)

    def _in_multiple_assignment(self, end: int) -> bool:
        """``a, b = ...``: the names before the '=' of a multiple assignment at the start of a line."""
        m = re.compile(r"(?:[ \t]*,[ \t]*\*?[a-z_][A-Za-z0-9_]*)+[ \t]*=(?![=~>])").match(self.src, end)
        if m is None:
            return False
        prev = self._prev()
        return prev is None or prev.kind in ("nl", "text") or (prev.kind == "op" and prev.value in (";", ","))

    # -- strings ---------------------------------------------------------------------------------------
    def _single_quoted(self, close: str, open_: str) -> str:
        """A '...' or %q() body: only the closing delimiter and backslash are escaped."""
        src = self.src
        out: list[str] = []
        depth = 0
        while True:
            if self.pos >= len(src):
                raise LexError("unterminated string meets end of file", self.line)
            c = src[self.pos]
            if c == "\\" and self.pos + 1 < len(src) and src[self.pos + 1] in ("\\", close, open_ or close):
                out.append(src[self.pos + 1])
                self.pos += 2
                continue
            if c == "\n":
                self.line += 1
            if open_ and c == open_:
                depth += 1
            elif c == close:
                if depth == 0:
                    self.pos += 1
                    return "".join(out)
                depth -= 1
            out.append(c)
            self.pos += 1

    def _double_quoted_token(self, kind: str, close: str, open_: str, line: int, spc: bool) -> None:
        parts = self._double_quoted(close, open_)
        if all(isinstance(p, str) for p in parts):
            text = "".join(parts)
            self._add("str" if kind == "dstr" else "sym", text, line, spc)
        else:
            self._add(kind, None, line, spc, parts=parts)

    def _double_quoted(self, close: str, open_: str, regex: bool = False) -> list[Any]:
        """A "..." body: escapes and ``#{}`` interpolation; pieces are strings and token lists.

        In a regex the escapes stay for the regex engine, except an escaped delimiter."""
        src = self.src
        parts: list[Any] = []
        buf: list[str] = []
        depth = 0
        while True:
            if self.pos >= len(src):
                raise LexError("unterminated string meets end of file" if not regex else
                               "unterminated regexp meets end of file", self.line)
            c = src[self.pos]
            if c == "\\":
                self.pos += 1
                if regex:
                    e = src[self.pos:self.pos + 1]
                    if e == close or (open_ and e == open_):
                        buf.append(e if e == "/" else "\\" + e)
                    else:
                        buf.append("\\" + e)
                    self.pos += 1
                    if e == "\n":
                        self.line += 1
                    continue
                buf.append(self._escape())
                continue
            if c == "#" and self._peek(1) == "{":
                self.pos += 2
                if buf:
                    parts.append("".join(buf))
                    buf = []
                sub = Lexer(src, self.line, self.locals)
                sub.pos = self.pos
                code = sub.tokenize(until_brace=True)
                self.pos = sub.pos
                self.line = sub.line
                parts.append(code)
                continue
            if c == "#" and self._peek(1) in ("@", "$"):
                m = re.compile(r"#(@@?[A-Za-z_]\w*|\$[A-Za-z_]\w*)").match(src, self.pos)
                if m is not None:
                    if buf:
                        parts.append("".join(buf))
                        buf = []
                    name = m.group(1)
                    kind = "gvar" if name[0] == "$" else ("cvar" if name.startswith("@@") else "ivar")
                    parts.append([Token(kind, name if kind == "gvar" else name.lstrip("@"), self.line)])
                    self.pos = m.end()
                    continue
            if c == "\n":
                self.line += 1
            if open_ and c == open_:
                depth += 1
            elif c == close:
                if depth == 0:
                    self.pos += 1
                    break
                depth -= 1
            buf.append(c)
            self.pos += 1
        if buf or not parts:
            parts.append("".join(buf))
        return parts

    def _escape(self) -> str:
        """The character(s) a backslash escape in a double-quoted string stands for; pos is after '\\'."""
        src = self.src
        if self.pos >= len(src):
            raise LexError("unterminated string meets end of file", self.line)
        c = src[self.pos]
        self.pos += 1
        if c in _ESCAPES:
            if c == "0" and self._peek().isdigit():
                self.pos -= 1
                return self._octal()
            return _ESCAPES[c]
        if c in "1234567":
            self.pos -= 1
            return self._octal()
        if c == "x":
            m = re.compile(r"[0-9a-fA-F]{1,2}").match(src, self.pos)
            if m is None:
                raise LexError("invalid hex escape", self.line)
            self.pos = m.end()
            return chr(int(m.group(0), 16))
        if c == "u":
            m = re.compile(r"\{([0-9a-fA-F ]+)\}|([0-9a-fA-F]{4})").match(src, self.pos)
            if m is None:
                raise LexError("invalid Unicode escape", self.line)
            self.pos = m.end()
            if m.group(1) is not None:
                return "".join(chr(int(h, 16)) for h in m.group(1).split())
            return chr(int(m.group(2), 16))
        if c == "\n":
            self.line += 1
            return ""
        if c in "cCM":
            raise LexError(f"unsupported Ruby in ERB: escape '\\{c}'", self.line)
        return c

    def _octal(self) -> str:
        m = re.compile(r"[0-7]{1,3}").match(self.src, self.pos)
        assert m is not None
        self.pos = m.end()
        return chr(int(m.group(0), 8) & 0xFF)

    def _regex(self, close: str, open_: str, line: int, spc: bool) -> None:
        parts = self._double_quoted(close, open_, regex=True)
        m = re.compile(r"[imxounse]*").match(self.src, self.pos)
        assert m is not None
        self.pos = m.end()
        self._add("regex", m.group(0), line, spc, parts=parts)

    def _percent_literal(self, line: int, spc: bool) -> bool:
        """``%w[a b]``, ``%i[a b]``, ``%q(..)``, ``%Q(..)``, ``%(..)``, ``%r{..}``; False: a modulo."""
        src = self.src
        m = re.compile(r"%([wWiIqQr]?)([^A-Za-z0-9\s])").match(src, self.pos)
        if m is None:
            return False
        kind, open_ = m.group(1), m.group(2)
        if not kind and open_ in "=":
            return False
        close = _CLOSERS.get(open_, open_)
        nest = open_ if open_ in _CLOSERS else ""
        self.pos = m.end()
        if kind in ("", "Q"):
            self._double_quoted_token("dstr", close, nest, line, spc)
        elif kind == "q":
            self._add("str", self._single_quoted(close, nest), line, spc)
        elif kind == "r":
            self._regex(close, nest, line, spc)
        elif kind in ("w", "i"):
            body = self._single_quoted(close, nest)
            words = body.split()
            self._add("words" if kind == "w" else "symbols", words, line, spc)
        else:  # %W, %I: words with interpolation
            parts = self._double_quoted(close, nest)
            if any(not isinstance(p, str) for p in parts):
                raise LexError(f"unsupported Ruby in ERB: interpolation in %{kind}[]", line)
            words = "".join(parts).split()
            self._add("words" if kind == "W" else "symbols", words, line, spc)
        return True


def tokenize(src: str) -> list[Token]:
    lexer = Lexer(src)
    tokens = lexer.tokenize()
    tokens.append(Token("eof", None, lexer.line, True, True))
    return tokens
