"""Strings: case, trimming, splitting and joining, formatting, regular expressions, quoting and
escaping for shells and URIs, and file-name parts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .. import types as T
from ..values import RegexValue
from .common import flat
from .contract import Call, function
from .ruby import WHITESPACE, char_set, format_values, gsub, regexp, ruby_to_s, split


def _each_string(call: Call, v: Any, fn: Callable[[str], str], what: str = "arg") -> Any:
    """``fn`` applied to a string, to the strings of an array (recursively), or to the keys and values
    of a hash; numbers are kept as they are."""
    if isinstance(v, str):
        return fn(v)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    if isinstance(v, list):
        return [_each_string(call, x, fn, what) for x in v]
    if isinstance(v, dict):
        return {_each_string(call, k, fn, what): _each_string(call, x, fn, what) for k, x in v.items()}
    call.type_error(f"parameter '{what}' expects a value of type Numeric, String, Array, or Hash, "
                    f"got {T.generalized_name(v)}")


_CASE = ("Numeric $arg", "String $arg", "Array $arg", "Hash $arg")
_TEXT = ("Numeric $arg", "String $arg", "Array[Variant[String, Numeric]] $arg")


def _text(call: Call, v: Any, fn: Callable[[str], str]) -> Any:
    """For the functions taking ``Iterable[Variant[String, Numeric]]``: Puppet infers one element type
    for the array, so strings and numbers mixed in one array are refused."""
    if isinstance(v, list) and any(isinstance(x, str) for x in v) and any(not isinstance(x, str) for x in v):
        call.type_error("parameter 'arg' expects an Iterable[Variant[String, Numeric]] value, got an Array of "
                        "Strings and Numerics mixed")
    return _each_string(call, v, fn)


@function("upcase", *_CASE)
def upcase(call: Call, v: Any) -> Any:
    return _each_string(call, v, str.upper)


@function("downcase", *_CASE)
def downcase(call: Call, v: Any) -> Any:
    return _each_string(call, v, str.lower)


def _capitalize(s: str) -> str:
    return s[:1].upper() + s[1:].lower()


@function("capitalize", *_TEXT)
def capitalize(call: Call, v: Any) -> Any:
    return _text(call, v, _capitalize)


def _ruby_split_on(s: str, sep: str) -> list[str]:
    parts = s.split(sep)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


@function("camelcase", *_TEXT)
def camelcase(call: Call, v: Any) -> Any:
    return _text(call, v, lambda s: "".join(_capitalize(p) for p in _ruby_split_on(s, "_")))


@function("strip", *_TEXT)
def strip(call: Call, v: Any) -> Any:
    return _text(call, v, lambda s: s.strip(WHITESPACE))


@function("lstrip", *_TEXT)
def lstrip(call: Call, v: Any) -> Any:
    return _text(call, v, lambda s: s.lstrip(WHITESPACE))


@function("rstrip", *_TEXT)
def rstrip(call: Call, v: Any) -> Any:
    return _text(call, v, lambda s: s.rstrip(WHITESPACE))


def _chomp(s: str) -> str:
    if s.endswith("\r\n"):
        return s[:-2]
    if s.endswith(("\n", "\r")):
        return s[:-1]
    return s


@function("chomp", *_TEXT)
def chomp(call: Call, v: Any) -> Any:
    return _text(call, v, _chomp)


@function("chop", *_TEXT)
def chop(call: Call, v: Any) -> Any:
    return _text(call, v, lambda s: s[:-2] if s.endswith("\r\n") else s[:-1])


@function("swapcase", "Variant[String, Array] $value")
def swapcase(call: Call, v: Any) -> Any:
    if isinstance(v, list):
        return [x.swapcase() if isinstance(x, str) else x for x in v]
    return v.swapcase()


@function("squeeze", "Variant[String, Array] $value, String $characters?")
def squeeze(call: Call, v: Any, chars: str | None = None) -> Any:
    test = char_set(call, chars) if chars is not None else (lambda c: True)

    def one(s: Any) -> Any:
        if not isinstance(s, str):
            call.type_error(f"expects Strings, got {T.generalized_name(s)}")
        out: list[str] = []
        for c in s:
            if out and out[-1] == c and test(c):
                continue
            out.append(c)
        return "".join(out)

    return [one(x) for x in v] if isinstance(v, list) else one(v)


@function("split", "String $str, String $pattern", "String $str, Regexp $pattern", "String $str, Type[Regexp] $pattern")
def split_(call: Call, s: str, pattern: Any) -> list[str]:
    if isinstance(pattern, T.PType):
        r = T.resolve(pattern)
        pattern = r.pattern if isinstance(r, T.PRegexp) and r.pattern is not None else RegexValue("")
    return split(s, regexp(call, pattern))


def _join(v: list[Any], sep: str) -> str:
    return sep.join(_join(x, sep) if isinstance(x, list) else ruby_to_s(x) for x in v)


@function("join", "Array $arg, String $delimiter?")
def join(call: Call, v: list[Any], sep: str = "") -> str:
    return _join(v, sep)


@function("sprintf", "String $format, Any *$arguments", legacy=True)
def sprintf(call: Call, fmt: str, *args: Any) -> str:
    return format_values(call, fmt, list(args))


@function("sprintf_hash", "String $format, Hash $arguments")
def sprintf_hash(call: Call, fmt: str, values: dict[str, Any]) -> str:
    return format_values(call, fmt, [values])


_REGSUBST_TARGET = "Variant[Array[String], String] $target"
_REPLACEMENT = "Variant[String, Hash[String, String]] $replacement"


@function("regsubst",
          f"{_REGSUBST_TARGET}, String $pattern, {_REPLACEMENT}, Optional[Pattern[/^[GEIM]*$/]] $flags?, "
          "Enum['N', 'E', 'S', 'U'] $encoding?",
          f"{_REGSUBST_TARGET}, Variant[Regexp, Type[Regexp]] $pattern, {_REPLACEMENT}, Pattern[/^G?$/] $flags?")
def regsubst(call: Call, target: Any, pattern: Any, replacement: Any, flags: str | None = None,
             encoding: str | None = None) -> Any:
    flags = flags or ""
    reflags = 0
    if "E" in flags:
        reflags |= re.X
    if "I" in flags:
        reflags |= re.I
    if "M" in flags:
        reflags |= re.S
    if isinstance(pattern, T.PType):
        r = T.resolve(pattern)
        pattern = r.pattern if isinstance(r, T.PRegexp) and r.pattern is not None else RegexValue("")
    rx = regexp(call, pattern, reflags)
    count = 0 if "G" in flags else 1
    if isinstance(target, list):
        return [gsub(call, x, rx, replacement, count) for x in target]
    return gsub(call, target, rx, replacement, count)


def _match_one(pattern: Any, s: str) -> list[Any] | None:
    if isinstance(pattern, str):
        pattern = RegexValue(pattern)
    if isinstance(pattern, RegexValue):
        m = pattern.compiled.search(s)
        return None if m is None else [m.group(0), *m.groups()]
    if isinstance(pattern, T.PType):
        r = T.resolve(pattern)
        if isinstance(r, T.PRegexp):
            return _match_one(r.pattern if r.pattern is not None else RegexValue(""), s)
        if isinstance(r, T.PPattern):
            return next((hit for p in r.patterns if (hit := _match_one(p, s)) is not None), None)
        if isinstance(r, T.PVariant):
            return next((hit for t in r.types if (hit := _match_one(t, s)) is not None), None)
        raise TypeError(f"a {r} is not a pattern")
    if isinstance(pattern, list):
        return next((hit for p in pattern if (hit := _match_one(p, s)) is not None), None)
    raise TypeError(f"a {T.generalized_name(pattern)} is not a pattern")


@function("match", "String $string, Variant[Any, Type] $pattern", "Array[String] $string, Variant[Any, Type] $pattern")
def match(call: Call, target: Any, pattern: Any) -> Any:
    try:
        if isinstance(target, list):
            return [_match_one(pattern, s) for s in target]
        return _match_one(pattern, target)
    except TypeError as exc:
        call.type_error(f"expects a pattern (a String, Regexp, Regexp[r], Pattern[p] or an Array of them): {exc}")
    except re.error as exc:
        call.fail(f"invalid regular expression: {exc}")


@function("regexpescape", "Variant[String, Array] $value")
def regexpescape(call: Call, v: Any) -> Any:
    if isinstance(v, list):
        return [_regexp_escape(x) if isinstance(x, str) else x for x in v]
    return _regexp_escape(v)


_REGEXP_SPECIAL = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\f": "\\f", "\v": "\\v", " ": "\\ "}


def _regexp_escape(s: str) -> str:
    return "".join(_REGEXP_SPECIAL.get(c) or ("\\" + c if c in "[]{}()|-*.\\?+^$#" else c) for c in s)


# -- quoting ----------------------------------------------------------------------------------------------
_SHELL_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%_+=:,./-")
_SHELL_DANGEROUS = set('!"`$\\')


@function("shellquote", "Variant[String, Array] *$words", legacy=True)
def shellquote(call: Call, *words: Any) -> str:
    out = []
    for word in flat(words):
        if not isinstance(word, str):
            call.type_error(f"expects Strings, got {T.generalized_name(word)}")
        if word and all(c in _SHELL_SAFE for c in word):
            out.append(word)
        elif not any(c in _SHELL_DANGEROUS for c in word):
            out.append(f'"{word}"')
        elif "'" not in word:
            out.append(f"'{word}'")
        else:
            out.append('"' + "".join("\\" + c if c in _SHELL_DANGEROUS else c for c in word) + '"')
    return " ".join(out)


_SHELLWORDS_UNSAFE = re.compile(r"[^A-Za-z0-9_\-.,:+/@\n]")


def shell_escape_word(s: str) -> str:
    """Ruby's ``Shellwords.escape``."""
    if not s:
        return "''"
    return _SHELLWORDS_UNSAFE.sub(lambda m: "\\" + m.group(0), s).replace("\n", "'\n'")


@function("shell_escape", "Any $string")
def shell_escape(call: Call, v: Any) -> str:
    return shell_escape_word(ruby_to_s(v))


@function("shell_join", "Array $args")
def shell_join(call: Call, items: list[Any]) -> str:
    return " ".join(shell_escape_word(ruby_to_s(x)) for x in items)


@function("shell_split", "Any $string")
def shell_split(call: Call, v: Any) -> list[str]:
    """Ruby's ``Shellwords.split``: words, single and double quotes, backslashes."""
    text = ruby_to_s(v)
    words: list[str] = []
    field: list[str] = []
    in_word = False
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in " \t\n\r\f\v":
            if in_word:
                words.append("".join(field))
                field, in_word = [], False
            i += 1
            continue
        in_word = True
        if c == "'":
            end = text.find("'", i + 1)
            if end < 0:
                call.fail(f"unmatched single quote: {text!r}")
            field.append(text[i + 1:end])
            i = end + 1
        elif c == '"':
            i += 1
            while True:
                if i >= n:
                    call.fail(f"unmatched double quote: {text!r}")
                d = text[i]
                if d == '"':
                    i += 1
                    break
                if d == "\\" and i + 1 < n and text[i + 1] in '$`"\\\n':
                    if text[i + 1] != "\n":
                        field.append(text[i + 1])
                    i += 2
                    continue
                field.append(d)
                i += 1
        elif c == "\\":
            if i + 1 < n and text[i + 1] != "\n":
                field.append(text[i + 1])
            i += 2
        else:
            field.append(c)
            i += 1
    if in_word:
        words.append("".join(field))
    return words


@function("batch_escape", "Any $string")
def batch_escape(call: Call, v: Any) -> str:
    body = "".join('""' if c == '"' else "\\" + c if c in "$\\" else c for c in ruby_to_s(v))
    return f'"{body}"'


@function("powershell_escape", "Any $string")
def powershell_escape(call: Call, v: Any) -> str:
    return "".join("`" + c if c in " '`|\n$" else '\\`"' if c == '"' else c for c in ruby_to_s(v))


_URI_KEEP = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'();/?:@&=+$,[]")


def uri_escape(s: str) -> str:
    """Ruby's ``URI::DEFAULT_PARSER.escape`` (RFC 2396): what is neither reserved nor unreserved."""
    return "".join(c if c in _URI_KEEP else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in s)


@function("uriescape", "Variant[String, Array] $value")
def uriescape(call: Call, v: Any) -> Any:
    if isinstance(v, list):
        return [uri_escape(x) if isinstance(x, str) else x for x in v]
    return uri_escape(v)


@function("stdlib::xml_encode", "String $str, Enum['text', 'attr'] $type?")
def xml_encode(call: Call, s: str, kind: str = "text") -> str:
    out = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if kind == "attr":
        return '"' + out.replace('"', "&quot;") + '"'
    return out


@function("dos2unix", "String $string")
def dos2unix(call: Call, s: str) -> str:
    return s.replace("\r\n", "\n")


@function("unix2dos", "String $string")
def unix2dos(call: Call, s: str) -> str:
    return re.sub(r"\r*\n", "\r\n", s)


@function("stdlib::start_with", "String $test_string, Variant[String[1], Array[String[1], 1]] $prefixes")
def start_with(call: Call, s: str, prefixes: Any) -> bool:
    return s.startswith(tuple(prefixes) if isinstance(prefixes, list) else prefixes)


@function("stdlib::end_with", "String $test_string, Variant[String[1], Array[String[1], 1]] $suffixes")
def end_with(call: Call, s: str, suffixes: Any) -> bool:
    return s.endswith(tuple(suffixes) if isinstance(suffixes, list) else suffixes)


# -- file names, as Ruby's File does them -----------------------------------------------------------------
def ruby_basename(path: str, ext: str | None = None) -> str:
    stripped = path.rstrip("/")
    if not stripped:
        return "/" if path else ""
    base = stripped.rsplit("/", 1)[-1]
    if ext is not None and ext:
        if ext == ".*":
            dot = base.rfind(".")
            if dot > 0:
                base = base[:dot]
        elif base.endswith(ext) and base != ext:
            base = base[:-len(ext)]
    return base


def ruby_dirname(path: str) -> str:
    if not path:
        return "."
    stripped = path.rstrip("/")
    if not stripped:
        return "/"
    if "/" not in stripped:
        return "."
    head = stripped.rsplit("/", 1)[0].rstrip("/")
    return head or "/"


def ruby_extname(path: str) -> str:
    base = ruby_basename(path)
    stem = base.lstrip(".")
    dot = stem.rfind(".")
    if dot < 0:
        return ""
    return stem[dot:]


@function("basename", "String $path, String $extension?")
def basename(call: Call, path: str, ext: str | None = None) -> str:
    return ruby_basename(path, ext)


@function("dirname", "String[1] $path")
def dirname(call: Call, path: str) -> str:
    return ruby_dirname(path)


@function("stdlib::extname", "String $filename")
def extname(call: Call, path: str) -> str:
    return ruby_extname(path)


# -- scanf -------------------------------------------------------------------------------------------------
_SCANF_DIRECTIVE = re.compile(r"%(\*)?(\d+)?([diuxXofeEgGsc%]|\[\^?\]?[^\]]*\])")


@function("scanf", "String $data, String $format, Callable &$block?")
def scanf(call: Call, data: str, fmt: str) -> Any:
    """Ruby's ``String#scanf``: the values the format's conversions read, as far as the data matches."""
    values: list[Any] = []
    pos = 0
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c.isspace():
            while pos < len(data) and data[pos].isspace():
                pos += 1
            i += 1
            continue
        if c != "%":
            if pos >= len(data) or data[pos] != c:
                break
            pos += 1
            i += 1
            continue
        m = _SCANF_DIRECTIVE.match(fmt, i)
        if m is None:
            call.fail(f"bad scanf directive at '{fmt[i:]}'")
        i = m.end()
        skip, width, conv = m.group(1), m.group(2), m.group(3)
        if conv == "%":
            if pos >= len(data) or data[pos] != "%":
                break
            pos += 1
            continue
        if conv not in "c" and not conv.startswith("["):
            while pos < len(data) and data[pos].isspace():
                pos += 1
        limit = len(data) if width is None else min(len(data), pos + int(width))
        chunk = data[pos:limit]
        number_patterns = {"d": r"[-+]?\d+", "u": r"[-+]?\d+", "i": r"[-+]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|\d+)",
                           "x": r"[-+]?(?:0[xX])?[0-9a-fA-F]+", "X": r"[-+]?(?:0[xX])?[0-9a-fA-F]+",
                           "o": r"[-+]?[0-7]+"}
        float_pattern = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
        value: Any
        if conv in number_patterns:
            mm = re.match(number_patterns[conv], chunk)
            if mm is None:
                break
            text = mm.group(0)
            base = {"d": 10, "u": 10, "x": 16, "X": 16, "o": 8}.get(conv, 0)
            value = int(text, base) if base else int(text, 0) if not re.match(r"[-+]?0[0-7]", text) \
                else int(text.replace("0", "0o", 1), 0)
        elif conv in "feEgG":
            mm = re.match(float_pattern, chunk)
            if mm is None:
                break
            text = mm.group(0)
            value = float(text)
        elif conv == "s":
            mm = re.match(r"\S+", chunk)
            if mm is None:
                break
            text = value = mm.group(0)
        elif conv == "c":
            text = data[pos:pos + int(width or 1)]
            if not text:
                break
            value = text
        else:
            body = conv[1:-1]
            negate = body.startswith("^")
            test = char_set(call, ("^" if negate else "") + (body[1:] if negate else body))
            end = pos
            while end < limit and test(data[end]):
                end += 1
            if end == pos:
                break
            text = value = data[pos:end]
        pos += len(text)
        if not skip:
            values.append(value)
    if call.block is not None:
        return call.block(values)
    return values

