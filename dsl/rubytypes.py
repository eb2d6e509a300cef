"""Custom resource types shipped by modules, read from their Ruby source without running Ruby.

Puppet's compiler learns a module's type (``lib/puppet/type/<name>.rb``) by loading it: the
``Puppet::Type.newtype(:name) do ... end`` block declares parameters (``newparam``), properties
(``newproperty``, ``ensurable``), which parameters are namevars (``isnamevar``, ``:namevar => true``)
and how a title splits into them (``title_patterns``). This module reads those declarations from the
text: a small Ruby scanner (strings, heredocs, %-literals, regexes, comments, block nesting) and a
reader that walks the statements of the ``newtype`` block, following literal ``each`` loops over
attribute names and helpers the type calls from a module it ``extend``s.

What it cannot follow (a parameter whose name is computed at run time, a helper it cannot find)
makes the type *incomplete*: the compiler then accepts any parameter of it, and the reasons are
logged at debug level. A file that does not scan as Ruby at all reads as incomplete too, never as an
error: an agent with Puppet may still apply it.

``puppet generate types`` writes the same facts as Puppet code (``<env>/.resource_types/<name>.pp``,
``Puppet::Resource::ResourceType3.new(...)``); :func:`read_generated_type` reads those.

:func:`load_type` caches by file: a type is read again only when its file (or a helper file it
used) changes size, mtime or inode, so all compiles of an environment share one reading.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .resource_types import AttributeSpec, TitlePattern, TypeSpec, compile_ruby_regex

log = logging.getLogger(__name__)

__all__ = ["RubyTypeError", "load_type", "read_generated_type", "read_type_file", "read_type_source"]


class RubyTypeError(Exception):
    """The text is not Ruby this reader can scan (unbalanced blocks, an unterminated string)."""


# -- scanning ---------------------------------------------------------------------------------------
KEYWORDS = frozenset({
    "alias", "and", "begin", "BEGIN", "break", "case", "class", "def", "defined?", "do", "else", "elsif",
    "end", "END", "ensure", "false", "for", "if", "in", "module", "next", "nil", "not", "or", "redo",
    "rescue", "retry", "return", "self", "super", "then", "true", "undef", "unless", "until", "when",
    "while", "yield", "__FILE__", "__LINE__", "__method__", "__dir__",
})
_VALUE_KEYWORDS = frozenset({"end", "self", "true", "false", "nil", "__FILE__", "__LINE__", "__method__",
                             "__dir__"})
#: keywords after which ``if``/``unless``/``while``/``until`` start a statement (not a modifier)
_STMT_KEYWORDS = frozenset({"then", "else", "do", "begin", "and", "or", "not", "ensure", "elsif", "when",
                            "in", "if", "unless", "while", "until", "case", "rescue"})
_OPERATORS = sorted([
    "**=", "<=>", "===", "...", "<<=", ">>=", "&&=", "||=", "&.",
    "**", "==", "!=", ">=", "<=", "&&", "||", "<<", ">>", "=~", "!~", "..", "::", "=>", "->",
    "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=",
    "+", "-", "*", "/", "%", "=", "<", ">", "!", "&", "|", "^", "~", "?", ":", ",", ".", ";",
    "(", ")", "[", "]", "{", "}", "\\",
], key=len, reverse=True)
_OPERATOR_RE = re.compile("|".join(re.escape(o) for o in _OPERATORS))
_IDENT_RE = re.compile(r"[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*")
_NUMBER_RE = re.compile(r"0[xX][0-9a-fA-F_]+|0[bB][01_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?")
_SPACE_RE = re.compile(r"(?:[ \t\r\f\v]|\\\r?\n)+")
_HEREDOC_RE = re.compile(r"<<([-~]?)(['\"`]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_SYMBOL_RE = re.compile(r":([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*[?!=]?)")
_OP_SYMBOL_RE = re.compile(r":(\[\]=?|<=>|===?|=~|!=|!~|\*\*|[-+]@|<<|>>|<=|>=|[-+*/%<>!~^&|])")
_GVAR_RE = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\d+|[~!@&`'+*$?:\"<>,./\\;0_])")
_PERCENT_RE = re.compile(r"%([qQwWiIrsx]?)([^A-Za-z0-9\s])")
_ESCAPES = {"n": "\n", "t": "\t", "s": " ", "r": "\r", "0": "\0", "e": "\x1b", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v"}
_PAIRS = {"(": ")", "[": "]", "{": "}", "<": ">"}


class Tok:
    """A token: ``kind`` is one of id const kw label sym str dstr regex words num op nl ivar gvar cvar.

    ``value``: the name, operator or literal; a ``str`` token's text (``dstr``: interpolated, value
    is the raw text); a ``regex`` is ``(source, flags, interpolated)``; ``words`` a list of strings."""

    __slots__ = ("kind", "value", "line", "space")

    def __init__(self, kind: str, value: Any, line: int, space: bool) -> None:
        self.kind = kind
        self.value = value
        self.line = line
        self.space = space

    def __repr__(self) -> str:
        return f"Tok({self.kind} {self.value!r} @{self.line})"

    def is_op(self, *values: str) -> bool:
        return self.kind == "op" and self.value in values

    def is_kw(self, *values: str) -> bool:
        return self.kind == "kw" and self.value in values

    def ends_value(self) -> bool:
        if self.kind in ("id", "const", "str", "dstr", "regex", "sym", "num", "ivar", "gvar", "cvar",
                         "words"):
            return True
        if self.kind == "op":
            return self.value in (")", "]", "}")
        return self.kind == "kw" and self.value in _VALUE_KEYWORDS


class _Scanner:
    """Ruby source to tokens. Decisions Ruby makes from context (``/`` a regex or a division, ``<<``
    a heredoc or a shift, ``%w[]`` or a modulo, ``:a`` a symbol or a ternary's colon) follow the
    previous token and the spacing, as Ruby's own lexer does for the common cases."""

    def __init__(self, src: str, pos: int = 0, line: int = 1) -> None:
        self.src = src
        self.pos = pos
        self.line = line
        self.toks: list[Tok] = []
        self.heredocs: list[tuple[int, str, bool, bool]] = []  # (token index, tag, indented, raw)

    def fail(self, message: str) -> RubyTypeError:
        return RubyTypeError(f"line {self.line}: {message}")

    def prev(self) -> Tok | None:
        return self.toks[-1] if self.toks else None

    def _value_expected(self, space: bool) -> bool:
        """Whether a value (not an operator) comes next: a regex, a symbol, a %-literal, a heredoc."""
        prev = self.prev()
        if prev is None or not prev.ends_value():
            return True
        nxt = self.src[self.pos + 1:self.pos + 2]
        # `foo /x/`, `desc <<-EOT`: a method called with an argument
        return prev.kind == "id" and space and nxt not in (" ", "=", "\t")

    def add(self, kind: str, value: Any, space: bool, line: int | None = None) -> None:
        self.toks.append(Tok(kind, value, self.line if line is None else line, space))

    def scan(self, stop_at_brace: bool = False) -> list[Tok]:
        src = self.src
        n = len(src)
        depth = 0
        at_line_start = self.pos == 0 or src[self.pos - 1] == "\n"
        while self.pos < n:
            space = False
            m = _SPACE_RE.match(src, self.pos)
            if m:
                self.line += m.group(0).count("\n")
                self.pos = m.end()
                space = True
                if self.pos >= n:
                    break
            c = src[self.pos]
            if at_line_start and not stop_at_brace:
                if src.startswith("=begin", self.pos) and (self.pos + 6 >= n or src[self.pos + 6].isspace()):
                    end = re.compile(r"^=end\b.*$", re.M).search(src, self.pos)
                    if end is None:
                        raise self.fail("=begin without =end")
                    self.line += src.count("\n", self.pos, end.end())
                    self.pos = end.end()
                    continue
                if src.startswith("__END__", self.pos) and src[self.pos + 7:self.pos + 8] in ("", "\n", "\r"):
                    break
            at_line_start = False
            if c == "\n":
                self.add("nl", "\n", space)
                self.pos += 1
                self.line += 1
                at_line_start = True
                if self.heredocs:
                    self._read_heredoc_bodies()
                continue
            if c == "#":
                eol = src.find("\n", self.pos)
                self.pos = n if eol < 0 else eol
                continue
            if c == "'" or c == '"' or c == "`":
                self._string(c, space)
                continue
            if c == "@":
                m = re.compile(r"@@?[A-Za-z_][A-Za-z0-9_]*").match(src, self.pos)
                if not m:
                    raise self.fail("'@' without a name")
                self.add("cvar" if m.group(0).startswith("@@") else "ivar", m.group(0), space)
                self.pos = m.end()
                continue
            if c == "$":
                m = _GVAR_RE.match(src, self.pos)
                if m:
                    self.add("gvar", m.group(0), space)
                    self.pos = m.end()
                    continue
            if c.isdigit():
                m = _NUMBER_RE.match(src, self.pos)
                assert m is not None
                text = m.group(0).replace("_", "")
                try:
                    value: Any = int(text, 0) if not re.search(r"[.eE]", text) or text[:2].lower() == "0x" \
                        else float(text)
                except ValueError:
                    value = text
                self.add("num", value, space)
                self.pos = m.end()
                continue
            m = _IDENT_RE.match(src, self.pos)
            if m:
                self._identifier(m, space)
                continue
            if c == ":" and self._symbol(space):
                continue
            if c == "/" and self._value_expected(space):
                self._regex("/", space)
                continue
            if c == "%" and self._value_expected(space):
                m = _PERCENT_RE.match(src, self.pos)
                if m and not (m.group(1) == "" and m.group(2) in ("=", " ")):
                    self._percent(m, space)
                    continue
            if c == "<" and src.startswith("<<", self.pos):
                m = _HEREDOC_RE.match(src, self.pos)
                if m and (self._value_expected(space) or m.group(1)):
                    self.add("str", "", space)
                    self.heredocs.append((len(self.toks) - 1, m.group(3), bool(m.group(1)), m.group(2) == "'"))
                    self.pos = m.end()
                    continue
            if c == "?" and self._value_expected(space) and self.pos + 1 < n:
                nxt = src[self.pos + 1]
                after = src[self.pos + 2:self.pos + 3]
                if not nxt.isspace() and not (after.isalnum() or after == "_"):
                    if nxt == "\\":
                        self.add("str", src[self.pos + 2:self.pos + 3], space)
                        self.pos += 3
                    else:
                        self.add("str", nxt, space)
                        self.pos += 2
                    continue
            m = _OPERATOR_RE.match(src, self.pos)
            if not m:
                raise self.fail(f"unexpected character {c!r}")
            op = m.group(0)
            self.pos = m.end()
            if op == "\\":
                continue
            if stop_at_brace:
                if op == "{":
                    depth += 1
                elif op == "}":
                    if depth == 0:
                        return self.toks
                    depth -= 1
            self.add("op", op, space)
        if stop_at_brace:
            raise self.fail("unterminated #{...}")
        if self.heredocs:
            raise self.fail(f"heredoc {self.heredocs[0][1]} has no end")
        return self.toks

    def _identifier(self, m: re.Match[str], space: bool) -> None:
        src = self.src
        name = m.group(0)
        end = m.end()
        if end < len(src) and src[end] in "?!" and src[end + 1:end + 2] != "=" and name[0].islower():
            name += src[end]
            end += 1
        prev = self.prev()
        after_dot = prev is not None and prev.kind == "op" and prev.value in (".", "&.", "::") and not space \
            or prev is not None and prev.is_op(".", "&.")
        # `namevar: true` - a label (a hash key), unless it is `A::B` or the `:` of a ternary
        if src[end:end + 1] == ":" and src[end + 1:end + 2] != ":" and not (prev is not None and prev.is_op("?")):
            self.add("label", name, space)
            self.pos = end + 1
            return
        if name in KEYWORDS and not after_dot and not (prev is not None and prev.is_kw("def")):
            self.add("kw", name, space)
        elif name[0].isupper():
            self.add("const", name, space)
        else:
            self.add("id", name, space)
        self.pos = end

    def _symbol(self, space: bool) -> bool:
        src = self.src
        nxt = src[self.pos + 1:self.pos + 2]
        if nxt == ":":
            return False
        prev = self.prev()
        if prev is not None and prev.ends_value() and not space:
            return False  # `a ?b:c` and friends: an operator colon
        if nxt in ('"', "'"):
            self.pos += 1
            self._string(nxt, space)
            tok = self.toks[-1]
            tok.kind = "sym" if tok.kind == "str" else "dstr"
            return True
        m = _SYMBOL_RE.match(src, self.pos) or _OP_SYMBOL_RE.match(src, self.pos)
        if m is None:
            return False
        name = m.group(1)
        if name.endswith("=") and src[m.end():m.end() + 1] in (">", "~"):
            name = name[:-1]  # `:a=>1`
            self.pos = m.end() - 1
        else:
            self.pos = m.end()
        self.add("sym", name, space)
        return True

    def _delimited(self, close: str, open_: str | None, interpolate: bool) -> tuple[str, bool]:
        """Read up to the closing delimiter (nesting paired ones); the text with escapes resolved,
        and whether it interpolates ``#{...}``."""
        src = self.src
        out: list[str] = []
        nest = 0
        dynamic = False
        while True:
            if self.pos >= len(src):
                raise self.fail(f"unterminated literal (expected {close!r})")
            c = src[self.pos]
            if c == "\\":
                nxt = src[self.pos + 1:self.pos + 2]
                if nxt == "\n":
                    self.line += 1
                if interpolate:
                    out.append(_ESCAPES.get(nxt, nxt))
                elif nxt in (close, "\\") or (open_ is not None and nxt == open_):
                    out.append(nxt)
                else:
                    out.append(c + nxt)
                self.pos += 2
                continue
            if c == "\n":
                self.line += 1
            if open_ is not None and c == open_:
                nest += 1
            elif c == close:
                if nest == 0:
                    self.pos += 1
                    return "".join(out), dynamic
                nest -= 1
            if interpolate and c == "#" and src[self.pos + 1:self.pos + 2] == "{":
                dynamic = True
                start = self.pos
                sub = _Scanner(src, self.pos + 2, self.line)
                sub.scan(stop_at_brace=True)
                self.pos = sub.pos
                self.line = sub.line
                out.append(src[start:self.pos])
                continue
            if interpolate and c == "#" and src[self.pos + 1:self.pos + 2] in ("@", "$"):
                dynamic = True
            out.append(c)
            self.pos += 1

    def _string(self, quote: str, space: bool) -> None:
        line = self.line
        self.pos += 1
        text, dynamic = self._delimited(quote, None, quote != "'")
        self.add("dstr" if dynamic else "str", text, space, line)

    def _regex(self, close: str, space: bool, open_: str | None = None) -> None:
        line = self.line
        self.pos += 1
        start = self.pos
        _, dynamic = self._delimited(close, open_, True)
        source = self.src[start:self.pos - 1]
        if close == "/":
            source = source.replace("\\/", "/")
        m = re.compile(r"[mixounse]*").match(self.src, self.pos)
        flags = m.group(0) if m else ""
        self.pos += len(flags)
        self.add("regex", (source, flags, dynamic), space, line)

    def _percent(self, m: re.Match[str], space: bool) -> None:
        kind, open_ = m.group(1), m.group(2)
        close = _PAIRS.get(open_, open_)
        nest = open_ if open_ in _PAIRS else None
        line = self.line
        if kind == "r":
            self.pos = m.end() - 1
            self._regex(close, space, nest)
            return
        self.pos = m.end()
        text, dynamic = self._delimited(close, nest, kind in ("", "Q", "W", "I", "x"))
        if kind in ("w", "W", "i", "I"):
            self.add("words", text.split(), space, line)
        elif kind == "s":
            self.add("sym", text, space, line)
        else:
            self.add("dstr" if dynamic else "str", text, space, line)

    def _read_heredoc_bodies(self) -> None:
        src = self.src
        for index, tag, indented, raw in self.heredocs:
            lines: list[str] = []
            while True:
                if self.pos >= len(src):
                    raise self.fail(f"heredoc {tag} has no end")
                end = src.find("\n", self.pos)
                end = len(src) if end < 0 else end
                text = src[self.pos:end]
                self.pos = min(end + 1, len(src))
                self.line += 1
                if (text.strip() if indented else text.rstrip("\r")) == tag:
                    break
                lines.append(text)
            body = "\n".join(lines)
            self.toks[index].value = body
            if not raw and "#{" in body:
                self.toks[index].kind = "dstr"
        self.heredocs = []


def scan_ruby(src: str) -> list[Tok]:
    """Tokens of Ruby source; newlines that cannot end a statement are dropped."""
    toks = _Scanner(src).scan()
    out: list[Tok] = []
    for i, t in enumerate(toks):
        if t.kind == "nl":
            if not out or out[-1].kind == "nl":
                continue
            last = out[-1]
            if last.kind == "op" and last.value not in (")", "]", "}", ";") or last.kind == "label" \
                    or last.is_kw("and", "or", "not"):
                continue  # `a,` / `x =` / `a ||` continue on the next line
            nxt = next((u for u in toks[i + 1:] if u.kind != "nl"), None)
            if nxt is not None and nxt.is_op(".", "&."):
                continue  # a method chain continued on the next line
        out.append(t)
    return out


# -- block structure -------------------------------------------------------------------------------
_BLOCK_KEYWORDS = frozenset({"def", "class", "module", "begin", "case", "for"})
_CLOSE = {"(": ")", "[": "]", "{": "}"}


def match_blocks(toks: Sequence[Tok]) -> dict[int, int]:
    """Index of each opener (``(`` ``[`` ``{`` ``do`` ``def`` ``if`` ...) -> index of its closer."""
    matches: dict[int, int] = {}
    stack: list[tuple[int, str]] = []
    loop_awaiting_do = False
    for i, t in enumerate(toks):
        if t.kind == "nl" or t.is_op(";"):
            loop_awaiting_do = False
            continue
        if t.kind == "op":
            if t.value in _CLOSE:
                stack.append((i, _CLOSE[t.value]))
            elif t.value in (")", "]", "}"):
                if not stack or stack[-1][1] != t.value:
                    raise RubyTypeError(f"line {t.line}: unbalanced {t.value!r}")
                matches[stack.pop()[0]] = i
            continue
        if t.kind != "kw":
            continue
        word = t.value
        if word == "end":
            if not stack or stack[-1][1] != "end":
                raise RubyTypeError(f"line {t.line}: 'end' without a block to close")
            matches[stack.pop()[0]] = i
        elif word == "do":
            if loop_awaiting_do:
                loop_awaiting_do = False
            else:
                stack.append((i, "end"))
        elif word in _BLOCK_KEYWORDS:
            if word == "def" and _endless_def(toks, i):
                continue
            stack.append((i, "end"))
            loop_awaiting_do = word == "for"
        elif word in ("if", "unless", "while", "until"):
            prev = toks[i - 1] if i else None
            if prev is None or prev.kind == "nl" or prev.is_op(";") or \
                    (prev.kind == "op" and prev.value not in (")", "]", "}")) or \
                    (prev.kind == "kw" and prev.value in _STMT_KEYWORDS) or prev.kind == "label":
                stack.append((i, "end"))
                loop_awaiting_do = word in ("while", "until")
    if stack:
        t = toks[stack[-1][0]]
        raise RubyTypeError(f"line {t.line}: {t.value!r} is never closed")
    return matches


def _endless_def(toks: Sequence[Tok], i: int) -> bool:
    """``def name(args) = expr`` needs no ``end`` (``def value=(v)`` is a setter, not that)."""
    j = i + 1
    while j < len(toks) and toks[j].kind in ("id", "const", "kw", "op") and not toks[j].is_op("(") \
            and not (toks[j].is_op("=") and toks[j].space):
        j += 1
    if j < len(toks) and toks[j].is_op("("):
        depth = 0
        while j < len(toks):
            if toks[j].is_op("("):
                depth += 1
            elif toks[j].is_op(")"):
                depth -= 1
                if depth == 0:
                    break
            j += 1
        j += 1
    return j < len(toks) and toks[j].is_op("=")


# -- reading the newtype block ------------------------------------------------------------------------
class _Marker:
    """A value the reader knows only the nature of."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


#: an expression whose value is not known without running Ruby
UNKNOWN: Any = _Marker("unknown")
#: ``lambda { |x| x }``: a title pattern's identity transform
IDENTITY: Any = _Marker("identity")


@dataclass(frozen=True)
class _Const:
    path: str


@dataclass(frozen=True)
class _Regex:
    source: str
    flags: str


#: class-level calls in a type body that never declare attributes
_INERT_CALLS = frozenset({
    "desc", "doc", "autorequire", "autobefore", "autosubscribe", "autonotify", "validate", "feature",
    "require", "require_relative", "load", "include", "attr_accessor", "attr_reader", "attr_writer",
    "private", "protected", "public", "module_function", "private_class_method", "apply_to_device",
    "apply_to_host", "apply_to_all", "alias_method", "define_method", "raise", "fail", "puts", "warn", "p",
    "pp", "providify", "provide", "confine", "defaultfor", "has_feature", "has_features", "commands",
    "optional_commands", "debug", "info", "notice", "warning", "err", "deprecate_params", "self_refresh",
    "newvalues", "newvalue", "defaultto", "munge", "unmunge", "attr", "instance_variable_set",
    "class_variable_set", "lambda", "proc", "loop", "catch", "at_exit", "freeze", "remove_method",
    "undef_method", "extend",
})
_ATTRIBUTE_CALLS = {"newparam": False, "newcheck": False, "newmetaparam": False, "newproperty": True}
_LOOP_METHODS = frozenset({"each", "each_pair", "map", "collect", "each_key"})


@dataclass
class _Attr:
    name: str
    prop: bool
    namevar: bool = False
    values: list[str] = field(default_factory=list)
    default: Any = None


@dataclass
class _Source:
    """One scanned file: tokens, block matches, and where it came from."""

    path: Path
    toks: list[Tok]
    matches: dict[int, int]

    @classmethod
    def of(cls, path: Path, text: str) -> _Source:
        toks = scan_ruby(text)
        return cls(path, toks, match_blocks(toks))


class _Reader:
    """Walks the statements of a ``newtype`` block, collecting attributes and title patterns."""

    def __init__(self, src: _Source, lib_dirs: Sequence[Path]) -> None:
        self.src = src
        self.lib_dirs = list(lib_dirs)
        self.attrs: dict[str, _Attr] = {}
        self.title_patterns: Any = ()  # () Puppet's default; a list of (regex, names); UNKNOWN
        self.problems: list[str] = []
        self.isomorphic = True
        self.extends: list[str] = []
        self.helpers: dict[str, tuple[_Source, int]] = {}  # method name -> (source, index of `def`)
        self.used_files: set[Path] = set()
        self._inlining: list[str] = []

    # -- token helpers ---------------------------------------------------------------------------
    def statements(self, src: _Source, start: int, end: int) -> Iterator[tuple[int, int]]:
        """(start, end) of each statement in ``src.toks[start:end]``; nested blocks stay whole.
        ``else``/``elsif``/``when``/``rescue``/``ensure`` separate statements too (every branch of a
        conditional is read: a parameter declared on one branch exists for the compiler)."""
        toks = src.toks
        i = start
        first = start
        while i < end:
            t = toks[i]
            if t.kind == "nl" or t.is_op(";") or t.is_kw("else", "elsif", "when", "rescue", "ensure", "then"):
                if i > first:
                    yield first, i
                first = i + 1
                if t.is_kw("elsif", "when", "rescue"):
                    # skip the condition: up to the end of the line or `then`
                    j = i + 1
                    while j < end and toks[j].kind != "nl" and not toks[j].is_kw("then") and not toks[j].is_op(";"):
                        j = src.matches.get(j, j) + 1
                    first = j
                    i = j
                    continue
                i += 1
                continue
            i = src.matches.get(i, i) + 1
        if first < end:
            yield first, end

    @staticmethod
    def split_args(src: _Source, start: int, end: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        first = start
        i = start
        while i < end:
            if src.toks[i].is_op(","):
                out.append((first, i))
                first = i + 1
                i += 1
                continue
            i = src.matches.get(i, i) + 1
        if first < end:
            out.append((first, end))
        return [(a, b) for a, b in out if a < b]

    def call_parts(self, src: _Source, i: int, end: int) -> tuple[list[tuple[int, int]], tuple[int, int] | None,
                                                                   list[str]]:
        """For a call whose name is at ``i``: its argument ranges, its block body range and the
        block's parameter names."""
        toks = src.toks
        j = i + 1
        args: list[tuple[int, int]] = []
        if j < end and toks[j].is_op("(") and not toks[j].space:
            close = src.matches[j]
            args = self.split_args(src, j + 1, close)
            j = close + 1
        else:
            k = j
            if not (j < end and toks[j].is_op("{")):  # `each { |x| ... }`: a block, no arguments
                while k < end and not toks[k].is_kw("do"):
                    k = src.matches.get(k, k) + 1
            args = self.split_args(src, j, k)
            j = k
        block = None
        params: list[str] = []
        if j < end and (toks[j].is_kw("do") or toks[j].is_op("{")):
            close = src.matches[j]
            b = j + 1
            if b < close and toks[b].is_op("|"):
                k = b + 1
                while k < close and not toks[k].is_op("|"):
                    if toks[k].kind == "id":
                        params.append(toks[k].value)
                    k += 1
                b = k + 1
            elif b < close and toks[b].is_op("||"):
                b += 1
            block = (b, close)
        return args, block, params

    def literal(self, src: _Source, start: int, end: int, env: dict[str, Any]) -> Any:
        """The value of a literal expression (symbols as strings), or UNKNOWN."""
        toks = src.toks
        while start < end and toks[start].kind == "nl":
            start += 1
        while end > start and toks[end - 1].kind == "nl":
            end -= 1
        if start >= end:
            return UNKNOWN
        t = toks[start]
        if end - start == 1:
            if t.kind in ("sym", "str", "num", "label"):
                return t.value
            if t.kind == "words":
                return list(t.value)
            if t.kind == "regex":
                source, flags, dynamic = t.value
                return UNKNOWN if dynamic else _Regex(source, flags)
            if t.kind == "kw" and t.value in ("true", "false", "nil"):
                return {"true": True, "false": False, "nil": None}[t.value]
            if t.kind == "id" and t.value in env:
                return env[t.value]
            return UNKNOWN
        if t.is_op("[") and src.matches.get(start) == end - 1:
            return [self.literal(src, a, b, env) for a, b in self.split_args(src, start + 1, end - 1)]
        if t.is_op("{") and src.matches.get(start) == end - 1:
            return self.hash_literal(src, start + 1, end - 1, env)
        if t.kind == "const":
            j = start
            parts = []
            while j < end and toks[j].kind == "const":
                parts.append(toks[j].value)
                if j + 1 < end and toks[j + 1].is_op("::"):
                    j += 2
                    continue
                j += 1
                break
            if j == end:
                return _Const("::".join(parts))
            if parts == ["Regexp"] and toks[j].is_op(".") and j + 1 < end and toks[j + 1].value == "new" \
                    and j + 2 < end and toks[j + 2].is_op("(") and src.matches.get(j + 2) == end - 1:
                return self.literal(src, j + 3, end - 1, env)
            return UNKNOWN
        if t.is_op("->") or t.kind == "id" and t.value in ("lambda", "proc"):
            return self.identity_lambda(src, start, end)
        if t.is_op("-") and end - start == 2 and toks[start + 1].kind == "num":
            return -toks[start + 1].value
        if end - start >= 3 and toks[end - 2].is_op(".") and toks[end - 1].kind == "id" \
                and toks[end - 1].value in ("to_sym", "to_s", "intern", "freeze"):
            value = self.literal(src, start, end - 2, env)  # `name.to_sym` of a loop variable
            return value if isinstance(value, str) else UNKNOWN
        return UNKNOWN

    def hash_literal(self, src: _Source, start: int, end: int, env: dict[str, Any]) -> Any:
        out: dict[Any, Any] = {}
        for a, b in self.split_args(src, start, end):
            pair = self.pair(src, a, b, env)
            if pair is None:
                return UNKNOWN
            out[pair[0]] = pair[1]
        return out

    def pair(self, src: _Source, a: int, b: int, env: dict[str, Any]) -> tuple[Any, Any] | None:
        toks = src.toks
        if toks[a].kind == "label":
            return toks[a].value, self.literal(src, a + 1, b, env)
        i = a
        while i < b:
            if toks[i].is_op("=>"):
                key = self.literal(src, a, i, env)
                if key is UNKNOWN or isinstance(key, (list, dict)):
                    return None
                return key, self.literal(src, i + 1, b, env)
            i = src.matches.get(i, i) + 1
        return None

    def identity_lambda(self, src: _Source, start: int, end: int) -> Any:
        """``lambda { |x| x }``, ``->(x) { x }``, ``proc do |x| x end``: the identity; others unknown."""
        names = [t.value for t in src.toks[start:end] if t.kind == "id" and t.value not in ("lambda", "proc")]
        if len(names) == 2 and names[0] == names[1]:
            return IDENTITY
        return UNKNOWN

    def options(self, src: _Source, args: list[tuple[int, int]], env: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for a, b in args:
            if src.toks[a].is_op("{") and src.matches.get(a) == b - 1:
                h = self.hash_literal(src, a + 1, b - 1, env)
                if isinstance(h, dict):
                    out.update(h)
                continue
            pair = self.pair(src, a, b, env)
            if pair is not None:
                out[str(pair[0])] = pair[1]
        return out

    # -- the type body ---------------------------------------------------------------------------
    def read_body(self, src: _Source, start: int, end: int, env: dict[str, Any], singleton: bool = False) -> None:
        self.collect_helpers(src, start, end, singleton)
        for a, b in self.statements(src, start, end):
            self.body_statement(src, a, b, env, singleton)

    def collect_helpers(self, src: _Source, start: int, end: int, singleton: bool) -> None:
        toks = src.toks
        for a, _b in self.statements(src, start, end):
            if toks[a].is_kw("def"):
                name, _ = self.def_name(src, a)
                if name is not None and (singleton or name.startswith("self.")):
                    self.helpers.setdefault(name.removeprefix("self."), (src, a))

    @staticmethod
    def def_name(src: _Source, i: int) -> tuple[str | None, int]:
        """The name of the method defined at ``def`` (``self.x`` for singleton methods) and the
        index where its body starts."""
        toks = src.toks
        j = i + 1
        parts: list[str] = []
        while j < len(toks) and (toks[j].kind in ("id", "const", "kw", "label") or toks[j].is_op(".")):
            if toks[j].kind == "label":  # `def x:` never happens; be safe
                return None, j
            parts.append(toks[j].value)
            j += 1
            if toks[j - 1].kind != "op" and not (j < len(toks) and toks[j].is_op(".")):
                break
        if j < len(toks) and toks[j].is_op("(") and j in src.matches:
            j = src.matches[j] + 1
        name = "".join(parts)
        return (name or None), j

    def body_statement(self, src: _Source, a: int, b: int, env: dict[str, Any], singleton: bool) -> None:
        toks = src.toks
        t = toks[a]
        if t.is_kw("self") and b - a >= 3 and toks[a + 1].is_op(".") and toks[a + 2].kind == "id":
            a += 2  # `self.newparam(...)`, `self.doc = ...`
            t = toks[a]
        if t.kind == "kw":
            if t.value == "def":
                name, body = self.def_name(src, a)
                if name in ("self.title_patterns", "title_patterns") and (singleton or name.startswith("self.")):
                    self.title_patterns = self.read_title_patterns(src, body, src.matches[a], dict(env))
                elif name in ("self.isomorphic?", "isomorphic?") and (singleton or name.startswith("self.")):
                    value = self.literal(src, body, src.matches[a], env)
                    if value is False:
                        self.isomorphic = False
                return
            if t.value in ("if", "unless", "begin", "case", "while", "until"):
                close = src.matches.get(a)
                if close is None:
                    return  # a modifier, not a block
                j = a + 1
                if t.value != "begin":
                    while j < close and toks[j].kind != "nl" and not toks[j].is_kw("then") and not toks[j].is_op(";"):
                        j = src.matches.get(j, j) + 1
                self.read_body(src, j, close, env, singleton)
                return
            if t.value == "class" and a + 2 < b and toks[a + 1].is_op("<<") and toks[a + 2].is_kw("self"):
                close = src.matches[a]
                self.read_body(src, a + 3, close, env, singleton=True)
                return
            return
        if t.kind in ("ivar", "cvar"):
            if t.value == "@isomorphic" and b - a >= 3 and toks[a + 1].is_op("="):
                if self.literal(src, a + 2, b, env) is False:
                    self.isomorphic = False
            return
        if t.kind == "id" and b - a >= 2 and toks[a + 1].is_op("=", "||=") and not singleton:
            env[t.value] = self.literal(src, a + 2, b, env)  # a local: `identity = lambda { |x| x }`
            return
        if t.kind == "const":
            self.const_statement(src, a, b, env)
            return
        if t.kind in ("op", "words") and self.loop_statement(src, a, b, env, singleton):
            return
        if t.kind != "id":
            return
        name = t.value
        if name in _ATTRIBUTE_CALLS:
            self.attribute_call(src, a, b, env, _ATTRIBUTE_CALLS[name])
            return
        if name == "ensurable":
            self.ensurable(src, a, b, env)
            return
        if name == "extend":
            args, _, _ = self.call_parts(src, a, b)
            for x, y in args:
                value = self.literal(src, x, y, env)
                if isinstance(value, _Const):
                    self.extends.append(value.path)
            return
        if name in _INERT_CALLS:
            return
        if b - a >= 2 and toks[a + 1].is_op(".", "&.", "[", "=", "+=", "-=", "||=", "<<", "==", "=~"):
            return  # a method call on a local, an assignment, an expression: declares nothing
        self.helper_call(src, a, b, env, name)

    def const_statement(self, src: _Source, a: int, b: int, env: dict[str, Any]) -> None:
        """``Puppet.warning(...)``, ``FOO = 1``: nothing; a helper handed the type (``X.add(self)``)
        may declare attributes we cannot see."""
        toks = src.toks
        if b - a >= 2 and toks[a + 1].is_op("="):
            return
        if any(toks[i].is_kw("self") for i in range(a, b)) and not toks[a].value == "Puppet":
            self.problems.append(f"line {toks[a].line}: hands the type to {toks[a].value}..., which may "
                                 "declare attributes")

    def loop_statement(self, src: _Source, a: int, b: int, env: dict[str, Any], singleton: bool) -> bool:
        """``[:a, :b].each do |name| newparam(name) ... end`` (also ``%w[]``, ``%i[]``, a hash)."""
        toks = src.toks
        if toks[a].kind == "words":
            recv_end = a + 1
        elif toks[a].is_op("[", "{") and a in src.matches:
            recv_end = src.matches[a] + 1
        else:
            return False
        if not (recv_end + 1 < b and toks[recv_end].is_op(".") and toks[recv_end + 1].kind == "id"
                and toks[recv_end + 1].value in _LOOP_METHODS):
            return False
        items = self.literal(src, a, recv_end, env)
        _, block, params = self.call_parts(src, recv_end + 1, b)
        if block is None:
            return True
        if items is UNKNOWN or (isinstance(items, list) and any(x is UNKNOWN for x in items)):
            if self.declares(src, *block):
                self.problems.append(f"line {toks[a].line}: a loop over values that are not literals "
                                     "declares attributes")
            return True
        seq = list(items.items()) if isinstance(items, dict) else list(items)
        for item in seq:
            inner = dict(env)
            values = list(item) if isinstance(item, tuple) and len(params) > 1 else [item]
            for pname, value in zip(params, values):
                inner[pname] = value
            self.read_body(src, block[0], block[1], inner, singleton)
        return True

    @staticmethod
    def declares(src: _Source, start: int, end: int) -> bool:
        return any(t.kind == "id" and (t.value in _ATTRIBUTE_CALLS or t.value == "ensurable")
                   for t in src.toks[start:end])

    def helper_call(self, src: _Source, a: int, b: int, env: dict[str, Any], name: str) -> None:
        """A bare call in the type body: a helper defined in this file or in a module the type
        ``extend``s is read as if written here; anything else may declare attributes we cannot see."""
        found = self.helpers.get(name) or self.find_in_extends(name)
        if found is None:
            self.problems.append(f"line {src.toks[a].line}: calls '{name}', which is not defined in this "
                                 "file or in a module it extends")
            return
        if name in self._inlining or len(self._inlining) > 8:
            return
        hsrc, at = found
        _, body = self.def_name(hsrc, at)
        self._inlining.append(name)
        try:
            for x, y in self.statements(hsrc, body, hsrc.matches[at]):
                self.body_statement(hsrc, x, y, dict(env), False)
        finally:
            self._inlining.pop()

    def find_in_extends(self, name: str) -> tuple[_Source, int] | None:
        for const in self.extends:
            rel = Path(*[_snake(part) for part in const.split("::")]).with_suffix(".rb")
            for lib in self.lib_dirs:
                path = lib / rel
                if not path.is_file():
                    continue
                try:
                    hsrc = _Source.of(path, path.read_text(encoding="utf-8", errors="replace"))
                except (OSError, RubyTypeError) as exc:
                    self.problems.append(f"{path}: {exc}")
                    continue
                self.used_files.add(path)
                for i, t in enumerate(hsrc.toks):
                    if t.is_kw("def"):
                        dname, _ = self.def_name(hsrc, i)
                        if dname in (name, f"self.{name}"):
                            return hsrc, i
        return None

    def attribute_call(self, src: _Source, a: int, b: int, env: dict[str, Any], prop: bool) -> None:
        args, block, _ = self.call_parts(src, a, b)
        toks = src.toks
        if not args:
            self.problems.append(f"line {toks[a].line}: {toks[a].value} without a name")
            return
        name = self.literal(src, *args[0], env)
        if not isinstance(name, str):
            self.problems.append(f"line {toks[a].line}: {toks[a].value} with a name that is not a literal")
            return
        opts = self.options(src, args[1:], env)
        attr = self.attrs.get(name)
        if attr is None or attr.prop != prop:
            attr = _Attr(name, prop)
            self.attrs[name] = attr
        if opts.get("namevar", None) not in (None, False):  # Ruby truth: `:namevar => :true` counts
            attr.namevar = True
        if isinstance(opts.get("parent"), _Const) and opts["parent"].path.endswith("Parameter::Boolean"):
            attr.values = ["true", "false", "yes", "no"]
        if block is not None:
            self.attribute_block(src, block[0], block[1], env, attr)

    def attribute_block(self, src: _Source, start: int, end: int, env: dict[str, Any], attr: _Attr) -> None:
        toks = src.toks
        for a, b in self.statements(src, start, end):
            t = toks[a]
            if t.kind == "kw" and t.value in ("if", "unless", "begin") and a in src.matches:
                j = a + 1
                while j < src.matches[a] and toks[j].kind != "nl":
                    j = src.matches.get(j, j) + 1
                self.attribute_block(src, j, src.matches[a], env, attr)
                continue
            if t.kind != "id":
                continue
            if t.value == "isnamevar":
                attr.namevar = True
            elif t.value in ("newvalues", "newvalue", "aliasvalue"):
                args, _, _ = self.call_parts(src, a, b)
                if t.value == "newvalue":
                    args = args[:1]
                for x, y in args:
                    value = self.literal(src, x, y, env)
                    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                        text = str(value)
                    elif isinstance(value, bool):
                        text = "true" if value else "false"
                    elif isinstance(value, _Regex):
                        text = f"/{value.source}/"
                    else:
                        continue
                    if text not in attr.values:
                        attr.values.append(text)
            elif t.value == "defaultto":
                args, block, _ = self.call_parts(src, a, b)
                if block is None and len(args) == 1:
                    value = self.literal(src, *args[0], env)
                    if value is not UNKNOWN and isinstance(value, (str, int, float, bool)):
                        attr.default = value
            elif t.value == "defaultvalues":
                for v in ("present", "absent"):
                    if v not in attr.values:
                        attr.values.append(v)

    def ensurable(self, src: _Source, a: int, b: int, env: dict[str, Any]) -> None:
        _, block, _ = self.call_parts(src, a, b)
        attr = self.attrs.get("ensure")
        if attr is None or not attr.prop:
            attr = _Attr("ensure", True)
            self.attrs = {"ensure": attr, **self.attrs}  # Puppet lists ensure first
        if block is None:
            attr.values = ["present", "absent"]
        else:
            self.attribute_block(src, block[0], block[1], env, attr)

    def read_title_patterns(self, src: _Source, start: int, end: int, env: dict[str, Any]) -> Any:
        toks = src.toks
        stmts = list(self.statements(src, start, end))
        for a, b in stmts[:-1]:
            if toks[a].kind == "id" and b - a >= 3 and toks[a + 1].is_op("="):
                env[toks[a].value] = self.literal(src, a + 2, b, env)
        if not stmts:
            return UNKNOWN
        a, b = stmts[-1]
        if toks[a].is_kw("return"):
            a += 1
        value = self.literal(src, a, b, env)
        if not isinstance(value, list):
            return UNKNOWN
        patterns: list[tuple[_Regex, list[str]]] = []
        for entry in value:
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], _Regex)
                    and isinstance(entry[1], list)):
                return UNKNOWN
            names: list[str] = []
            for spec in entry[1]:
                if not (isinstance(spec, list) and spec and isinstance(spec[0], str)):
                    return UNKNOWN
                if len(spec) > 1 and spec[1] is not IDENTITY:
                    return UNKNOWN  # a transforming lambda: Puppet runs it, we cannot
                names.append(spec[0])
            patterns.append((entry[0], names))
        return patterns


def _snake(name: str) -> str:
    """``KeystoneConfig`` -> ``keystone_config``, ``PuppetX`` -> ``puppet_x`` (Ruby's file naming)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _find_newtype(src: _Source) -> tuple[str, int, int] | None:
    """The type name and the body range of the ``newtype(:name) do ... end`` block."""
    toks = src.toks
    for i, t in enumerate(toks):
        if t.kind != "id" or t.value != "newtype" or i == 0 or not toks[i - 1].is_op("."):
            continue
        j = i + 1
        if j < len(toks) and toks[j].is_op("("):
            close = src.matches[j]
            name_tok = toks[j + 1] if j + 1 < close else None
            j = close + 1
        else:
            name_tok = toks[j] if j < len(toks) else None
            while j < len(toks) and not toks[j].is_kw("do") and not toks[j].is_op("{") and toks[j].kind != "nl":
                j += 1
        if name_tok is None or name_tok.kind not in ("sym", "str"):
            raise RubyTypeError(f"line {t.line}: newtype with a name that is not a literal")
        if j >= len(toks) or not (toks[j].is_kw("do") or toks[j].is_op("{")):
            raise RubyTypeError(f"line {t.line}: newtype without a block")
        return str(name_tok.value), j + 1, src.matches[j]
    return None


def read_type_source(text: str, path: Path, lib_dirs: Sequence[Path] = ()) -> tuple[TypeSpec, set[Path]]:
    """Read the type defined in ``text`` (the contents of ``path``). Returns the spec and the other
    files read (helpers of modules the type extends). Raises :class:`RubyTypeError` when the text
    does not scan or defines no type."""
    src = _Source.of(path, text)
    found = _find_newtype(src)
    if found is None:
        raise RubyTypeError("no Puppet::Type.newtype(...) block")
    name, start, end = found
    libs = list(lib_dirs)
    own_lib = path.parent.parent.parent
    if own_lib not in libs:
        libs.insert(0, own_lib)
    reader = _Reader(src, libs)
    reader.read_body(src, start, end, {})
    patterns: tuple[TitlePattern, ...] | None = ()
    if reader.title_patterns is UNKNOWN:
        patterns = None
        reader.problems.append("title_patterns are computed at run time")
    elif reader.title_patterns:
        built = []
        for regex, names in reader.title_patterns:
            try:
                built.append(TitlePattern(compile_ruby_regex(regex.source, regex.flags), tuple(names),
                                          f"/{regex.source}/{regex.flags}"))
            except re.error:
                reader.problems.append(f"title pattern /{regex.source}/ is not a regex Python can run")
                built = []
                patterns = None
                break
        if patterns is not None:
            patterns = tuple(built)
    attrs = tuple(AttributeSpec(a.name, a.prop, a.namevar, tuple(a.values), a.default)
                  for a in reader.attrs.values())
    names_problems = [p for p in reader.problems if "title" not in p]
    spec = TypeSpec(name=name, attributes=attrs, title_patterns=patterns, complete=not names_problems,
                    source=str(path), problems=tuple(reader.problems), isomorphic=reader.isomorphic)
    return spec, reader.used_files


def read_type_file(path: Path, lib_dirs: Sequence[Path] = ()) -> TypeSpec:
    """Read ``lib/puppet/type/<name>.rb``; see :func:`read_type_source`."""
    return read_type_source(path.read_text(encoding="utf-8", errors="replace"), path, lib_dirs)[0]


# -- Puppet's generated metadata ----------------------------------------------------------------------
def read_generated_type(path: Path) -> TypeSpec:
    """Read ``<env>/.resource_types/<name>.pp`` as ``puppet generate types`` writes it."""
    from . import ast
    from .parser import parse_file

    program = parse_file(path)
    for stmt in program.body.statements:
        if isinstance(stmt, ast.MethodCall) and stmt.name == "new" and isinstance(stmt.target, ast.TypeRef) \
                and stmt.target.name.lower() == "puppet::resource::resourcetype3":
            args = stmt.args
            break
    else:
        raise RubyTypeError(f"{path}: no Puppet::Resource::ResourceType3.new(...)")
    if len(args) < 3 or not isinstance(args[0], ast.Literal) or not isinstance(args[0].value, str):
        raise RubyTypeError(f"{path}: ResourceType3.new needs a name, properties and parameters")

    def params(node: ast.Node, prop: bool) -> list[AttributeSpec]:
        if not isinstance(node, ast.ArrayLit):
            raise RubyTypeError(f"{path}:{node.span.line}: expected a list of Puppet::Resource::Param")
        out = []
        for item in node.items:
            if not isinstance(item, ast.TypeCall) or len(item.args) < 2 \
                    or not isinstance(item.args[1], ast.Literal):
                raise RubyTypeError(f"{path}:{item.span.line}: expected Puppet::Resource::Param(Type, 'name')")
            namevar = len(item.args) > 2 and isinstance(item.args[2], ast.Literal) and item.args[2].value is True
            values = _enum_values(item.args[0])
            out.append(AttributeSpec(str(item.args[1].value), prop, namevar, values))
        return out

    attrs = params(args[1], True) + params(args[2], False)
    patterns: tuple[TitlePattern, ...] | None = ()
    if len(args) > 3 and isinstance(args[3], ast.HashLit):
        built = []
        for key, value in args[3].pairs:
            if not isinstance(key, ast.RegexLit) or not isinstance(value, ast.ArrayLit):
                raise RubyTypeError(f"{path}:{key.span.line}: a title pattern maps a regex to names")
            names = tuple(str(v.value) for v in value.items if isinstance(v, ast.Literal))
            built.append(TitlePattern(compile_ruby_regex(key.pattern, ""), names, f"/{key.pattern}/"))
        patterns = tuple(built)
    isomorphic = not (len(args) > 4 and isinstance(args[4], ast.Literal) and args[4].value is False)
    return TypeSpec(name=str(args[0].value), attributes=tuple(attrs), title_patterns=patterns,
                    complete=True, source=str(path), isomorphic=isomorphic, generated=True)


def _enum_values(node: Any) -> tuple[str, ...]:
    from . import ast

    if isinstance(node, ast.Access) and isinstance(node.target, ast.TypeRef):
        if node.target.name == "Enum":
            return tuple(str(k.value) for k in node.keys if isinstance(k, ast.Literal))
        if node.target.name in ("Variant", "Optional"):
            out: list[str] = []
            for k in node.keys:
                if isinstance(k, ast.TypeRef) and k.name == "Boolean":
                    out += ["true", "false"]
                out += [v for v in _enum_values(k) if v not in out]
            return tuple(out)
    return ()


# -- the cache -----------------------------------------------------------------------------------------
_Signature = tuple[int, int, int]
_CACHE: dict[Path, tuple[_Signature, tuple[tuple[Path, _Signature], ...], TypeSpec]] = {}
_CACHE_LOCK = threading.Lock()


def _signature(path: Path) -> _Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def load_type(path: Path, lib_dirs: Sequence[Path] = ()) -> TypeSpec:
    """The type of a Ruby type file or a generated ``.pp``, cached while the file (and the helper
    files it used) stay unchanged. A file that cannot be read statically gives an incomplete spec
    (every parameter accepted) and a debug log, never an error."""
    sig = _signature(path)
    with _CACHE_LOCK:
        hit = _CACHE.get(path)
    if hit is not None and sig is not None and hit[0] == sig and all(_signature(p) == s for p, s in hit[1]):
        return hit[2]
    used: set[Path] = set()
    name = path.stem
    try:
        if path.suffix == ".pp":
            spec = read_generated_type(path)
        else:
            spec, used = read_type_source(path.read_text(encoding="utf-8", errors="replace"), path, lib_dirs)
    except (OSError, RubyTypeError, UnicodeError) as exc:
        spec = TypeSpec(name=name, complete=False, title_patterns=None, source=str(path),
                        problems=(str(exc),))
    except Exception as exc:  # a parse error in a generated .pp, or a reader bug: degrade, never fail
        log.debug("reading resource type %s failed", path, exc_info=True)
        spec = TypeSpec(name=name, complete=False, title_patterns=None, source=str(path),
                        problems=(f"{type(exc).__name__}: {exc}",))
    if spec.problems:
        log.debug("resource type %s (%s): %s%s", spec.name, path, "; ".join(spec.problems),
                  "" if spec.complete else " - every parameter is accepted")
    deps = tuple((p, s) for p in sorted(used) if (s := _signature(p)) is not None)
    if sig is not None:
        with _CACHE_LOCK:
            _CACHE[path] = (sig, deps, spec)
    return spec
