"""Data formats, digests and seeded randomness: JSON, YAML, TOML, Python and Ruby literals; parsing
JSON, YAML, HOCON and PSON; ``md5``/``sha1``/``sha256``/``digest``, ``base64``; ``fqdn_rand`` and
stdlib's other seeded values; password hashes; the time."""

from __future__ import annotations

import base64 as b64
import hashlib
import json
import re
import time as time_module
from typing import Any

from .. import compilecache
from .. import types as T
from ..values import DEFAULT, RegexValue, Sensitive
from .common import fact
from .contract import Call, function
from .crypt import md5_crypt, sha_crypt
from .ruby import float_to_s, ruby_inspect, ruby_to_s
from .seeded import md5_seed, ruby_random


# -- JSON, as Ruby's generator writes it -----------------------------------------------------------------
def _json_string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _json_scalar(call: Call, v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            call.fail(f"{float_to_s(v)} not allowed in JSON")
        return float_to_s(v)
    if isinstance(v, str):
        return _json_string(v)
    return _json_string(ruby_to_s(v))


def to_json_text(call: Call, v: Any, indent: str | None = None, space: str = " ", depth: int = 0) -> str:
    """Ruby's ``JSON.generate`` (``indent`` None) or ``JSON.pretty_generate``."""
    if isinstance(v, list):
        if indent is None:
            return "[" + ",".join(to_json_text(call, x) for x in v) + "]"
        inner = indent * (depth + 1)
        body = ",\n".join(inner + to_json_text(call, x, indent, space, depth + 1) for x in v)
        return "[\n" + body + "\n" + indent * depth + "]"
    if isinstance(v, dict):
        if indent is None:
            return "{" + ",".join(_json_string(ruby_to_s(k)) + ":" + to_json_text(call, x) for k, x in v.items()) + "}"
        inner = indent * (depth + 1)
        pairs = [inner + _json_string(ruby_to_s(k)) + ":" + space + to_json_text(call, x, indent, space, depth + 1)
                 for k, x in v.items()]
        return "{\n" + ",\n".join(pairs) + ("\n" if pairs else "") + indent * depth + "}"
    if isinstance(v, Sensitive):
        return _json_string(ruby_to_s(v))
    return _json_scalar(call, v)


@function("to_json", "Any $data")
def to_json(call: Call, v: Any) -> str:
    return to_json_text(call, v)


_PRETTY_OPTIONS = ("Struct[{Optional[indent] => Optional[String], Optional[space] => Optional[String], "
                   "Optional[space_before] => Optional[String], Optional[object_nl] => Optional[String], "
                   "Optional[array_nl] => Optional[String], Optional[allow_nan] => Optional[Boolean], "
                   "Optional[max_nesting] => Optional[Integer[-1]]}]")


@function("to_json_pretty", f"Variant[Hash, Array] $data, Optional[Boolean] $skip_undef?, {_PRETTY_OPTIONS} $opts?")
def to_json_pretty(call: Call, v: Any, skip_undef: bool | None = False, opts: dict[str, Any] | None = None) -> str:
    if skip_undef:
        v = [x for x in v if x is not None] if isinstance(v, list) else {k: x for k, x in v.items() if x is not None}
    indent = (opts or {}).get("indent") or "  "
    space = (opts or {}).get("space")
    return to_json_text(call, v, indent, " " if space is None else space) + "\n"


@function("to_yaml", "Any $data, Hash $options?")
def to_yaml(call: Call, v: Any, options: dict[str, Any] | None = None) -> str:
    from ..erb.rvalues import Unsupported
    from ..erb.yaml_emit import to_yaml as ruby_to_yaml

    try:
        return ruby_to_yaml(_plain(v))
    except Unsupported as exc:
        call.fail(f"cannot write {exc.message} as YAML")


def _plain(v: Any) -> Any:
    """Puppet values as the data Ruby would serialize (types and regexes as their text)."""
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {_plain(k) if not isinstance(k, tuple) else list(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (T.PType, RegexValue, Sensitive)) or v is DEFAULT:
        return ruby_to_s(v)
    return v


_BARE_KEY = re.compile(r"\A[a-zA-Z0-9_-]*\Z")


@function("to_toml", "Hash $data")
def to_toml(call: Call, data: dict[Any, Any]) -> str:
    out: list[str] = []

    def key_text(k: Any) -> str:
        k = ruby_to_s(k)
        return k if _BARE_KEY.match(k) else '"' + k.replace('"', '\\"') + '"'

    def value_text(v: Any) -> str:
        if isinstance(v, str):
            return re.sub(r"\\(#[$@{])", r"\1", ruby_inspect(v))
        if isinstance(v, RegexValue):
            return ruby_inspect(ruby_inspect(v))
        return ruby_inspect(_plain(v))

    def sort_pairs(h: dict[Any, Any]) -> tuple[list[Any], list[Any], list[Any]]:
        simple, nested, tables = [], [], []
        try:
            ordered = sorted(h, key=lambda k: ruby_to_s(k).encode())
        except TypeError:
            ordered = list(h)
        for k in ordered:
            v = h[k]
            if isinstance(v, dict):
                nested.append((k, v))
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                tables.append((k, v))
            else:
                simple.append((k, v))
        return simple, nested, tables

    def dump(simple: list[Any], nested: list[Any], tables: list[Any], prefix: list[str]) -> None:
        for k, v in simple:
            out.append(f"{key_text(k)} = {value_text(v)}\n")
        for k, v in nested:
            visit(v, prefix + [key_text(k)])
        for k, v in tables:
            sub = prefix + [key_text(k)]
            for child in v:
                out.append("[[" + ".".join(sub) + "]]\n")
                dump(*sort_pairs(child), sub)

    def visit(h: dict[Any, Any], prefix: list[str]) -> None:
        simple, nested, tables = sort_pairs(h)
        if prefix and (simple or not h):
            out.append("[" + ".".join(prefix) + "]\n")
        dump(simple, nested, tables, prefix)

    visit(data, [])
    return "".join(out)


def _rich_data(v: Any) -> Any:
    """Puppet's rich data form of a value (what ``to_python``/``to_ruby`` print)."""
    if isinstance(v, list):
        return [_rich_data(x) for x in v]
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v):
            return {k: _rich_data(x) for k, x in v.items()}
        return {"__ptype": "Hash", "__pvalue": [y for k, x in v.items() for y in (_rich_data(k), _rich_data(x))]}
    if v is DEFAULT:
        return {"__ptype": "Default"}
    if isinstance(v, RegexValue):
        return {"__ptype": "Regexp", "__pvalue": v.pattern}
    if isinstance(v, Sensitive):
        return {"__ptype": "Sensitive", "__pvalue": _rich_data(v.value)}
    if isinstance(v, T.PType):
        return {"__ptype": "Type", "__pvalue": str(v)}
    return v


def _python_literal(v: Any) -> str:
    if v is True:
        return "True"
    if v is False:
        return "False"
    if v is None:
        return "None"
    if isinstance(v, list):
        return "[" + ", ".join(_python_literal(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_python_literal(k)}: {_python_literal(x)}" for k, x in v.items()) + "}"
    return ruby_inspect(v)


def _ruby_literal(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_ruby_literal(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_ruby_literal(k)} => {_ruby_literal(x)}" for k, x in v.items()) + "}"
    return ruby_inspect(v)


@function("to_python", "Any $object")
def to_python(call: Call, v: Any) -> str:
    return _python_literal(_rich_data(v))


@function("to_ruby", "Any $object")
def to_ruby(call: Call, v: Any) -> str:
    return _ruby_literal(_rich_data(v))


# -- parsing -------------------------------------------------------------------------------------------------
@function("parsejson", "Any $json, Any $default?", legacy=True)
def parsejson(call: Call, text: Any, *default: Any) -> Any:
    try:
        return json.loads(ruby_to_s(text))
    except ValueError as exc:
        if default:
            return default[0]
        call.fail(f"invalid JSON: {exc}")


@function("parsepson", "String[1] $pson_string, Any $default?")
def parsepson(call: Call, text: str, *default: Any) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        if default:
            return default[0]
        call.fail(f"invalid PSON: {exc}")


def load_yaml_text(text: str) -> Any:
    """YAML as Puppet reads it: plain data only (no Ruby objects, dates stay strings)."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    # Psych refuses dates and timestamps unless permitted; Puppet passes none: keep them as strings
    _Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


@function("parseyaml", "Any $yaml, Any $default?", legacy=True)
def parseyaml(call: Call, text: Any, *default: Any) -> Any:
    import yaml

    try:
        return load_yaml_text(ruby_to_s(text))
    except yaml.YAMLError as exc:
        if default:
            return default[0]
        call.fail(f"invalid YAML: {str(exc).splitlines()[0]}")


@function("parsehocon", "String $hocon_string, Any $default?")
def parsehocon(call: Call, text: str, *default: Any) -> Any:
    try:
        return parse_hocon(text)
    except ValueError as exc:
        if default:
            return default[0]
        call.fail(f"invalid HOCON: {exc}")


def parse_hocon(text: str) -> Any:
    """A HOCON subset: JSON with ``=``/``:``, unquoted and dotted keys, optional commas and braces
    around the root, ``#`` and ``//`` comments, and objects merged when a key repeats."""
    pos = 0
    n = len(text)

    def skip(newlines: bool = True) -> None:
        nonlocal pos
        while pos < n:
            c = text[pos]
            if c in " \t\r" or (newlines and c in "\n,"):
                pos += 1
            elif text.startswith("#", pos) or text.startswith("//", pos):
                while pos < n and text[pos] != "\n":
                    pos += 1
            else:
                break

    def key() -> list[str]:
        nonlocal pos
        parts: list[str] = []
        while True:
            if pos < n and text[pos] == '"':
                value = string()
            else:
                m = re.compile(r"[^\s.=:{}\[\],\"#]+").match(text, pos)
                if m is None:
                    raise ValueError(f"expected a key at offset {pos}")
                value = m.group(0)
                pos = m.end()
            parts.append(value)
            if pos < n and text[pos] == ".":
                pos += 1
                continue
            return parts

    def string() -> str:
        nonlocal pos
        end = pos + 1
        while end < n and text[end] != '"':
            end += 2 if text[end] == "\\" else 1
        if end >= n:
            raise ValueError("unterminated string")
        value = json.loads(text[pos:end + 1])
        pos = end + 1
        return str(value)

    def value() -> Any:
        nonlocal pos
        skip(False)
        if pos >= n:
            raise ValueError("expected a value")
        c = text[pos]
        if c == "{":
            pos += 1
            obj = members("}")
            pos += 1
            return obj
        if c == "[":
            pos += 1
            items: list[Any] = []
            while True:
                skip()
                if pos >= n:
                    raise ValueError("unterminated array")
                if text[pos] == "]":
                    pos += 1
                    return items
                items.append(value())
        if c == '"':
            return string()
        m = re.compile(r"[^\n,}\]#]*").match(text, pos)
        assert m is not None
        raw = m.group(0).strip()
        pos = m.end()
        if raw in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[raw]
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    def members(close: str | None) -> dict[str, Any]:
        nonlocal pos
        obj: dict[str, Any] = {}
        while True:
            skip()
            if pos >= n:
                if close is not None:
                    raise ValueError(f"expected '{close}'")
                return obj
            if close is not None and text[pos] == close:
                return obj
            path = key()
            skip(False)
            if pos < n and text[pos] in "=:":
                pos += 1
            v = value()
            target = obj
            for part in path[:-1]:
                target = target.setdefault(part, {})
            last = path[-1]
            if isinstance(target.get(last), dict) and isinstance(v, dict):
                target[last] = {**target[last], **v}
            else:
                target[last] = v

    skip()
    if pos < n and text[pos] == "{":
        result = value()
        skip()
        return result
    if pos < n and text[pos] == "[":
        return value()
    return members(None)


# -- digests and encodings -----------------------------------------------------------------------------------
@function("md5", "String $value", legacy=True)
def md5(call: Call, v: Any) -> str:
    return hashlib.md5(ruby_to_s(v).encode()).hexdigest()


@function("sha1", "String $value", legacy=True)
def sha1(call: Call, v: Any) -> str:
    return hashlib.sha1(ruby_to_s(v).encode()).hexdigest()


@function("sha256", "String $value", legacy=True)
def sha256(call: Call, v: Any) -> str:
    return hashlib.sha256(ruby_to_s(v).encode()).hexdigest()


@function("digest", "String $value", legacy=True)
def digest(call: Call, v: Any) -> str:
    """With the default ``digest_algorithm`` setting, sha256."""
    return hashlib.sha256(ruby_to_s(v).encode()).hexdigest()


@function("base64", "Enum['encode', 'decode'] $action, String $string, Enum['default', 'strict', 'urlsafe'] $method?",
          legacy=True)
def base64(call: Call, action: str, s: str, method: str = "default") -> str:
    data = s.encode("utf-8")
    if action == "encode":
        if method == "strict":
            return b64.b64encode(data).decode()
        if method == "urlsafe":
            return b64.urlsafe_b64encode(data).decode()
        encoded = b64.b64encode(data).decode()
        return "".join(encoded[i:i + 60] + "\n" for i in range(0, len(encoded), 60))
    try:
        if method == "strict":
            raw = b64.b64decode(data, validate=True)
        elif method == "urlsafe":
            raw = b64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))
        else:  # Ruby's unpack('m') skips what is not base64 and needs no padding
            clean = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
            raw = b64.b64decode(clean[:len(clean) - len(clean) % 4] + _tail(clean))
    except ValueError as exc:
        call.fail(f"invalid base64: {exc}")
    return raw.decode("utf-8", "replace")


def _tail(clean: bytes) -> bytes:
    rest = clean[len(clean) - len(clean) % 4:]
    return rest + b"=" * (-len(rest) % 4) if len(rest) > 1 else b""


# -- seeded randomness ---------------------------------------------------------------------------------------
def _fqdn_fact(call: Call) -> str:
    v = fact(call, "networking.fqdn")
    return "" if v is None else ruby_to_s(v)


def fqdn_rand_value(call: Call, maximum: Any, seed: Any = None, downcase: Any = None) -> int:
    from .collection import ruby_to_i

    n = ruby_to_i(maximum)
    if n <= 0:
        call.fail(f"invalid argument - {n}: the maximum must be a positive Integer")
    host = _fqdn_fact(call)
    if downcase:
        host = host.lower()
    text = ":".join([host, str(n), "" if seed is None else ruby_to_s(seed)])
    return ruby_random(md5_seed(text)).rand(n)


@function("fqdn_rand", "Variant[Numeric, String] $max, Any $seed?, Any $downcase?", legacy=True)
def fqdn_rand(call: Call, maximum: Any, seed: Any = None, downcase: Any = None) -> int:
    return fqdn_rand_value(call, maximum, seed, downcase not in (None, "", False))


_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@function("fqdn_rand_string", "Variant[Integer[1], Pattern[/\\A\\d+\\z/]] $length, Optional[String] $charset?, "
          "Any *$seeds", legacy=True)
def fqdn_rand_string(call: Call, length: Any, charset: str | None = None, *seeds: Any) -> str:
    n = int(length)
    if n <= 0:
        call.fail("the length must be a positive Integer")
    chars = list(charset or "") or list(_ALNUM)
    out = []
    for i in range(1, n + 1):
        seed = ":".join([ruby_to_s(s) for s in seeds] + [str(i)])
        out.append(chars[fqdn_rand_value(call, len(chars), seed)])
    return "".join(out)


@function("fqdn_uuid", "String $fqdn", legacy=True)
def fqdn_uuid(call: Call, name: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_DNS, name))


@function("seeded_rand", "Variant[Integer[1], Pattern[/\\A\\d+\\z/]] $max, String $seed", legacy=True)
def seeded_rand(call: Call, maximum: Any, seed: str) -> int:
    n = int(maximum)
    if n <= 0:
        call.fail("the maximum must be a positive Integer")
    return ruby_random(md5_seed(seed)).rand(n)


@function("seeded_rand_string", "Integer[1] $length, String $seed, String[2] $charset?")
def seeded_rand_string(call: Call, length: int, seed: str, charset: str | None = None) -> str:
    chars = charset or "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    rng = ruby_random(int(hashlib.sha256(seed.encode()).hexdigest(), 16))
    return "".join(chars[rng.rand(len(chars))] for _ in range(length))


# -- password hashes -------------------------------------------------------------------------------------------
_HASHES = {"md5": "1", "sha-256": "5", "sha-512": "6"}


@function("pw_hash", "Variant[String, Sensitive[String], Undef] $password, String $hash_type, "
          "Variant[String[1], Sensitive[String[1]]] $salt", legacy=True)
def pw_hash(call: Call, password: Any, kind: str, salt: Any) -> str | None:
    password = password.value if isinstance(password, Sensitive) else password
    salt = salt.value if isinstance(salt, Sensitive) else salt
    prefix = _HASHES.get(kind.lower())
    if prefix is None:
        if kind.lower().startswith("bcrypt"):
            call.fail(f"{kind} hashes are not supported; use SHA-512, SHA-256 or MD5")
        call.fail(f"{kind} is not a valid hash type")
    if not re.fullmatch(r"[a-zA-Z0-9./]+", salt):
        call.fail("characters in salt must be in the set [a-zA-Z0-9./]")
    if not password:
        return None
    data = password.encode("utf-8")
    if prefix == "1":
        return md5_crypt(data, salt)
    return sha_crypt(data, salt, 256 if prefix == "5" else 512)


@function("str2saltedsha512", "String $password", legacy=True)
def str2saltedsha512(call: Call, password: str) -> str:
    import os

    compilecache.impure("asked for randomness")
    seed = os.urandom(4)
    return (seed + hashlib.sha512(seed + password.encode()).digest()).hex()


@function("str2saltedpbkdf2", "Variant[String, Sensitive[String]] $password, Variant[String, Sensitive[String]] $salt, "
          "Integer[40001, 69999] $iterations", legacy=True)
def str2saltedpbkdf2(call: Call, password: Any, salt: Any, iterations: int) -> dict[str, Any]:
    password = password.value if isinstance(password, Sensitive) else password
    salt = salt.value if isinstance(salt, Sensitive) else salt
    if len(salt.encode()) < 8:
        call.fail("the salt must be at least 8 bytes long")
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt.encode(), iterations, 128)
    return {"password_hex": key.hex(), "salt_hex": salt.encode().hex(), "iterations": iterations}


# -- time ------------------------------------------------------------------------------------------------------
@function("time", "String $timezone?", legacy=True)
def time(call: Call, timezone: str | None = None) -> int:
    compilecache.impure("asked for the time")
    return int(time_module.time())


@function("strftime", "Timestamp $time_object, String $format, Optional[String] $timezone?",
          "Timespan $time_object, String $format", "String $format, String $timezone?")
def strftime(call: Call, *args: Any) -> str:
    from ..timevalues import TimeError, format_timespan, format_timestamp

    if call.dispatch < 2:
        try:
            if call.dispatch == 0:
                return format_timestamp(args[0], args[1], args[2] if len(args) > 2 else None)
            return format_timespan(args[0], args[1])
        except TimeError as exc:
            call.fail(str(exc))
    return _strftime_now(call, *args)


def _strftime_now(call: Call, fmt: str, timezone: str | None = None) -> str:
    import datetime

    compilecache.impure("asked for the time")
    now = datetime.datetime.now(datetime.UTC)
    if timezone:
        try:
            from zoneinfo import ZoneInfo

            now = now.astimezone(ZoneInfo("UTC" if timezone.upper() in ("UTC", "Z", "GMT") else timezone))
        except Exception:  # noqa: BLE001 - an unknown zone name is the user's error
            call.fail(f"unknown time zone '{timezone}'")
    else:
        now = now.astimezone()
    try:
        return now.strftime(fmt.replace("%L", f"{now.microsecond // 1000:03d}").replace("%N", f"{now.microsecond * 1000:09d}"))
    except ValueError as exc:
        call.fail(f"invalid format: {exc}")
