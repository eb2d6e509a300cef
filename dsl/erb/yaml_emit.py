"""``to_yaml`` as Ruby 3.1 writes it: Psych 4 choosing each scalar's style, libyaml 0.2.5 laying out
block collections and folding long scalars at 80 columns.

Templates print YAML configuration files with ``@hash.to_yaml``, so the bytes matter: which strings are
quoted, and how, follows Psych's rules (a string that would read back as another type is single-quoted,
one starting with a non-word character double-quoted, a multi-line one a ``|`` block) and then
libyaml's analysis of what each style can carry. Ruby's regexes are line-anchored (``^``/``$`` match at
every line), which decides some of those rules for multi-line strings; the patterns below keep that.
Objects shared between two places of the data would be written by Ruby as anchors and aliases; Puppet
data has no identity to share, so none are written.
"""

from __future__ import annotations

import re
from typing import Any

from ..values import Default
from .rvalues import Symbol, Unsupported, class_name, float_to_s, is_int

_BEST_WIDTH = 80
_BEST_INDENT = 2

PLAIN, SINGLE, DOUBLE, LITERAL = "plain", "single", "double", "literal"

# Psych's ScalarScanner patterns, with Ruby's line anchors (re.M)
_STRINGY = re.compile(r"^[^\d.:-]?(?:[^\W\d_]|[_\s!@#$%^&*(){}<>|/\\~;=])+", re.M)
_TIME = re.compile(r"^-?\d{4}-\d{1,2}-\d{1,2}(?:[Tt]|\s+)\d{1,2}:\d\d:\d\d(?:\.\d*)?"
                   r"(?:\s*(?:Z|[-+]\d{1,2}:?(?:\d\d)?))?$", re.M)
_DATE = re.compile(r"^\d{4}-(?:1[012]|0\d|\d)-(?:[12]\d|3[01]|0\d|\d)$", re.M)
_FLOAT = re.compile(r"^(?:[-+]?([0-9][0-9_,]*)?\.[0-9]*([eE][-+][0-9]+)?)$", re.M)
_INTEGER = re.compile(r"^(?:[-+]?0b[0-1_,]+|[-+]?0[0-7_,]+|[-+]?(?:0|[1-9](?:[0-9]|,[0-9]|_[0-9])*)"
                      r"|[-+]?0x[0-9a-fA-F_,]+)$", re.M)
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9]){1,2}(?:\.[0-9_]*)?$", re.M)
_NON_WORD_START = re.compile(r'^[^\w][^"]*$', re.M)
_OCTAL_LOOKALIKE = re.compile(r"\A0[0-7]*[89]")
_INNER_NEWLINE = re.compile(r"\n(?!\n?\Z)")  # Ruby's \Z: the end, or before a final newline


def _reads_back_as_string(s: str) -> bool:
    """Psych's ``String === ScalarScanner#tokenize(s)``: would the plain scalar load as a String?"""
    if not s:
        return False  # nil
    if _STRINGY.search(s) or "\n" in s:
        if len(s) > 5:
            return True
        if re.search(r"^[^ytonf~]", s, re.I | re.M):
            return True
        if s == "~" or re.search(r"^null$", s, re.I | re.M):
            return False
        if re.search(r"^(yes|true|on)$", s, re.I | re.M) or re.search(r"^(no|false|off)$", s, re.I | re.M):
            return False
        return True
    if _TIME.search(s) or _DATE.search(s):
        return False  # Psych would load a Time or Date (or fail to and keep the string; both rare)
    if re.search(r"^\+?\.inf$", s, re.I | re.M) or re.search(r"^-\.inf$", s, re.I | re.M) or \
            re.search(r"^\.nan$", s, re.I | re.M):
        return False
    if re.search(r"^:.", s, re.M):
        return False  # a Symbol
    if _SEXAGESIMAL.search(s):
        return False
    if _FLOAT.search(s):
        return bool(re.search(r"\A[-+]?\.\Z", s))
    if _INTEGER.search(s):
        return False
    return True


def _requested_string_style(s: str) -> str:
    """Psych's YAMLTree#visit_String: the style it asks libyaml for."""
    if _INNER_NEWLINE.search(s):
        return LITERAL
    if s == "<<":
        raise Unsupported("to_yaml of the string '<<'")
    if s in ("y", "n"):
        return DOUBLE
    if _NON_WORD_START.search(s):
        return DOUBLE
    if not _reads_back_as_string(s) or _OCTAL_LOOKALIKE.match(s):
        return SINGLE
    return PLAIN


def _is_printable(c: str) -> bool:
    o = ord(c)
    return o == 0x0A or 0x20 <= o <= 0x7E or o == 0x85 or 0xA0 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD \
        and o != 0xFEFF or 0x10000 <= o <= 0x10FFFF


_BREAKS = "\r\n\x85\u2028\u2029"


class _Analysis:
    __slots__ = ("multiline", "block_plain", "single", "block", "empty")

    def __init__(self, s: str) -> None:
        self.empty = not s
        if not s:
            self.multiline = False
            self.block_plain = True
            self.single = True
            self.block = False
            return
        block_ind = s.startswith("---") or s.startswith("...")
        line_breaks = special = leading_space = leading_break = trailing_space = trailing_break = False
        break_space = space_break = previous_space = previous_break = False
        preceded_ws = True
        n = len(s)
        followed_ws = n == 1 or s[1] in " \t" + _BREAKS
        for i, c in enumerate(s):
            if i == 0:
                if c in "#,[]{}&*!|>'\"%@`":
                    block_ind = True
                if c in "?:" and followed_ws:
                    block_ind = True
                if c == "-" and followed_ws:
                    block_ind = True
            else:
                if c == ":" and followed_ws:
                    block_ind = True
                if c == "#" and preceded_ws:
                    block_ind = True
            if not _is_printable(c):
                special = True
            if c in _BREAKS:
                line_breaks = True
            if c == " ":
                leading_space = leading_space or i == 0
                trailing_space = trailing_space or i == n - 1
                break_space = break_space or previous_break
                previous_space, previous_break = True, False
            elif c in _BREAKS:
                leading_break = leading_break or i == 0
                trailing_break = trailing_break or i == n - 1
                space_break = space_break or previous_space
                previous_space, previous_break = False, True
            else:
                previous_space = previous_break = False
            preceded_ws = c in " \t" + _BREAKS
            followed_ws = i + 2 >= n or s[i + 2] in " \t" + _BREAKS
        self.multiline = line_breaks
        self.block_plain = self.single = self.block = True
        if leading_space or leading_break or trailing_space or trailing_break:
            self.block_plain = False
        if trailing_space:
            self.block = False
        if break_space:
            self.block_plain = self.single = False
        if space_break or special:
            self.block_plain = self.single = self.block = False
        if line_breaks or block_ind:
            self.block_plain = False


class _Emitter:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.column = 0
        self.whitespace = True
        self.indention = True
        self.indent = -1
        self.indents: list[int] = []
        self.open_ended = 0

    # -- writing -----------------------------------------------------------------------------------------
    def put(self, text: str) -> None:
        self.out.append(text)
        self.column += len(text)

    def put_break(self) -> None:
        self.out.append("\n")
        self.column = 0

    def write_indent(self) -> None:
        indent = max(self.indent, 0)
        if not self.indention or self.column > indent or (self.column == indent and not self.whitespace):
            self.put_break()
        if self.column < indent:
            self.put(" " * (indent - self.column))
        self.whitespace = True
        self.indention = True

    def indicator(self, text: str, need_ws: bool, is_ws: bool, is_indention: bool) -> None:
        if need_ws and not self.whitespace:
            self.put(" ")
        self.put(text)
        self.whitespace = is_ws
        self.indention = self.indention and is_indention

    def increase_indent(self, flow: bool, indentless: bool) -> None:
        self.indents.append(self.indent)
        if self.indent < 0:
            self.indent = _BEST_INDENT if flow else 0
        elif not indentless:
            self.indent += _BEST_INDENT

    # -- nodes -------------------------------------------------------------------------------------------
    def node(self, value: Any, mapping: bool, simple_key: bool) -> None:
        if isinstance(value, dict):
            if not value:
                self.indicator("{", True, True, False)
                self.indicator("}", False, False, False)
                return
            self.increase_indent(False, False)
            for k, v in value.items():
                self.write_indent()
                if not _is_simple_key(k):
                    raise Unsupported("to_yaml of a Hash with complex keys")
                self.node(k, True, True)
                self.indicator(":", False, False, False)
                self.node(v, True, False)
            self.indent = self.indents.pop()
            return
        if isinstance(value, list):
            if not value:
                self.indicator("[", True, True, False)
                self.indicator("]", False, False, False)
                return
            self.increase_indent(False, mapping and not self.indention)
            for item in value:
                self.write_indent()
                self.indicator("-", True, False, True)
                self.node(item, False, False)
            self.indent = self.indents.pop()
            return
        self.scalar(value, simple_key)

    def scalar(self, value: Any, simple_key: bool) -> None:
        text, requested, quoted_implicit = _scalar_of(value)
        a = _Analysis(text)
        style = requested
        if simple_key and a.multiline:
            style = DOUBLE
        if style == PLAIN:
            if not a.block_plain or (a.empty and simple_key):
                style = SINGLE
        if style == SINGLE and not a.single:
            style = DOUBLE
        if style == LITERAL and (not a.block or simple_key):
            style = DOUBLE
        if style != PLAIN and not quoted_implicit:  # Psych would tag it ("! ''" for a nil key)
            raise Unsupported(f"to_yaml of {class_name(value)} {text!r} in a key")
        self.increase_indent(True, False)
        allow_breaks = not simple_key
        if style == PLAIN:
            self.write_plain(text, allow_breaks)
        elif style == SINGLE:
            self.write_single(text, allow_breaks)
        elif style == DOUBLE:
            self.write_double(text, allow_breaks)
        else:
            self.write_literal(text)
        self.indent = self.indents.pop()

    def write_plain(self, s: str, allow_breaks: bool) -> None:
        if not self.whitespace and s:
            self.put(" ")
        spaces = False
        for i, c in enumerate(s):
            if c == " ":
                if allow_breaks and not spaces and self.column > _BEST_WIDTH and s[i + 1:i + 2] != " ":
                    self.write_indent()
                else:
                    self.put(c)
                spaces = True
            else:
                self.put(c)
                self.indention = False
                spaces = False
        self.whitespace = False
        self.indention = False

    def write_single(self, s: str, allow_breaks: bool) -> None:
        self.indicator("'", True, False, False)
        spaces = breaks = False
        last = len(s) - 1
        for i, c in enumerate(s):
            if c == " ":
                if allow_breaks and not spaces and self.column > _BEST_WIDTH and 0 < i < last \
                        and s[i + 1:i + 2] != " ":
                    self.write_indent()
                else:
                    self.put(c)
                spaces = True
            elif c in _BREAKS:
                if not breaks and c == "\n":
                    self.put_break()
                self._write_break(c)
                self.indention = True
                breaks = True
            else:
                if breaks:
                    self.write_indent()
                self.put("''" if c == "'" else c)
                self.indention = False
                spaces = breaks = False
        if breaks:
            self.write_indent()
        self.indicator("'", False, False, False)
        self.whitespace = False
        self.indention = False

    def _write_break(self, c: str) -> None:
        if c == "\n":
            self.put_break()
        else:
            self.out.append(c)
            self.column = 0

    def write_double(self, s: str, allow_breaks: bool) -> None:
        self.indicator('"', True, False, False)
        spaces = False
        last = len(s) - 1
        for i, c in enumerate(s):
            if not _is_printable(c) or c == "\ufeff" or c in _BREAKS or c in '"\\':
                self.put("\\" + _double_escape(c))
                spaces = False
            elif c == " ":
                if allow_breaks and not spaces and self.column > _BEST_WIDTH and 0 < i < last:
                    self.write_indent()
                    if s[i + 1:i + 2] == " ":
                        self.put("\\")
                else:
                    self.put(c)
                spaces = True
            else:
                self.put(c)
                spaces = False
        self.indicator('"', False, False, False)
        self.whitespace = False
        self.indention = False

    def write_literal(self, s: str) -> None:
        self.indicator("|", True, False, False)
        if s[:1] == " " or s[:1] in _BREAKS:
            self.indicator(str(_BEST_INDENT), False, False, False)
        self.open_ended = 0
        if not s or s[-1] not in _BREAKS:
            self.indicator("-", False, False, False)
        elif len(s) == 1 or s[-2] in _BREAKS:
            self.indicator("+", False, False, False)
            self.open_ended = 2
        self.put_break()
        self.indention = True
        self.whitespace = True
        breaks = True
        for c in s:
            if c in _BREAKS:
                self._write_break(c)
                self.indention = True
                breaks = True
            else:
                if breaks:
                    self.write_indent()
                self.put(c)
                self.indention = False
                breaks = False


def _double_escape(c: str) -> str:
    special = {"\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f", "\r": "r",
               "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L", "\u2029": "P"}
    if c in special:
        return special[c]
    o = ord(c)
    if o <= 0xFF:
        return f"x{o:02X}"
    if o <= 0xFFFF:
        return f"u{o:04X}"
    return f"U{o:08X}"


def _scalar_of(value: Any) -> tuple[str, str, bool]:
    """(text, requested style, whether a quoted form needs no tag) of a scalar, as Psych emits it."""
    if value is None:
        return "", PLAIN, False
    if value is True:
        return "true", PLAIN, False
    if value is False:
        return "false", PLAIN, False
    if is_int(value):
        return str(value), PLAIN, False
    if isinstance(value, float):
        if value != value:
            return ".nan", PLAIN, False
        if value in (float("inf"), float("-inf")):
            return (".inf" if value > 0 else "-.inf"), PLAIN, False
        return float_to_s(value), PLAIN, False
    if isinstance(value, (Symbol, Default)):
        name = "default" if isinstance(value, Default) else value.name
        if not name:
            raise Unsupported("to_yaml of an empty Symbol")
        return ":" + name, PLAIN, False
    if isinstance(value, str):
        return value, _requested_string_style(value), True
    raise Unsupported(f"to_yaml of {class_name(value)}")


def _is_simple_key(key: Any) -> bool:
    if isinstance(key, (list, dict)):
        return False
    text = _scalar_of(key)[0]
    return len(text) <= 128 and not any(c in _BREAKS for c in text)


def to_yaml(value: Any) -> str:
    """``value.to_yaml``."""
    e = _Emitter()
    e.write_indent()
    e.indicator("---", True, False, False)
    e.node(value, False, False)
    e.write_indent()
    if e.open_ended == 2:
        e.indicator("...", True, False, False)
        e.write_indent()
    return "".join(e.out)
