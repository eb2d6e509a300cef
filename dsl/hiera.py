"""Hiera 5 lookup, as Puppet 7 does it.

Two layers are searched in order: the environment (its hiera.yaml) and the module named by the
key's first ``::`` segment (its hiera.yaml). Each layer is a hiera.yaml version 5 hierarchy of
YAML/JSON data files. On top of that: the merge strategies first/unique/hash/deep,
``lookup_options`` (merge and convert_to per key or key pattern), ``%{...}`` interpolation in paths
and data, dotted sub-keys.

The algorithm follows Puppet's ``lib/puppet/pops/lookup`` (lookup_adapter.rb, hiera_config.rb,
interpolation.rb, sub_lookup.rb), ``merge_strategy.rb`` and the deep_merge gem line by line, quirks
included, because data written for Puppet must give the same values here. The quirk that shows most:
Puppet merges at three depths — layers, hierarchy levels, the paths of one level — and a merge over
exactly one candidate skips the conversion a merge over several does (``unique`` flattens and
``deep`` knocks out only when two values meet). ``_Strategy.lookup`` is therefore called at each of
the three depths, exactly as Puppet calls ``MergeStrategy#lookup``.

Parsed files are cached twice: per ``Hiera`` instance (read once, never stat'ed again) and in a
module-level cache keyed by (path, mtime, size) shared by all instances, so a long-lived master that
makes one ``Hiera`` per compilation re-parses only what changed.
"""

from __future__ import annotations

import functools
import glob as globlib
import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dsl.errors import EvaluationError, Span
from dsl.values import Sensitive

log = logging.getLogger(__name__)

__all__ = ["Converter", "Hiera", "HieraError", "Scope"]

#: Resolves a variable for interpolation: ``scope('facts') -> (True, {...})``, ``(False, None)`` if unknown.
Scope = Callable[[str], tuple[bool, Any]]
#: ``convert_to`` hook: ``(type, value, extra_args) -> converted``; the compiler plugs in Puppet's ``new``.
Converter = Callable[[Any, Any, list[Any]], Any]


class HieraError(EvaluationError):
    """A hiera.yaml, a data file or a lookup is wrong; the span names the file when there is one."""


class _Missing:
    """Puppet's ``throw :no_such_key``, as a value: cheaper than an exception on the hot path."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<not found>"


MISSING: Any = _Missing()

LOOKUP_OPTIONS = "lookup_options"


def _span(file: Path | str | None, line: int = 0, col: int = 0) -> Span | None:
    if file is None:
        return None
    return Span(str(file), line, col, line, col)


# --------------------------------------------------------------------------------------------------
# Ruby semantics the merges and string conversions depend on


def _rkey(v: Any) -> Any:
    """A hashable key equal for values Ruby's ``eql?`` finds equal (``1`` and ``1.0`` differ, so do ``1`` and ``true``)."""
    t = type(v)
    if v is None or t is str or t is int or t is float or t is bool:
        return (t.__name__, v)
    if isinstance(v, list | tuple):
        return ("a", tuple(_rkey(x) for x in v))
    if isinstance(v, dict):
        return ("h", frozenset((_rkey(k), _rkey(x)) for k, x in v.items()))
    try:
        hash(v)
    except TypeError:
        return ("r", repr(v))
    return ("o", v)


def _rb_uniq(items: Iterable[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for item in items:
        k = _rkey(item)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out


def _rb_flatten(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    stack = [iter(items)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


_RUBY_CLASS = {str: "String", int: "Integer", float: "Float", bool: "Boolean", list: "Array", dict: "Hash"}


def _rb_class(v: Any) -> str:
    """Ruby's class name, as Puppet's sub-lookup errors print it."""
    if v is None:
        return "NilClass"
    if v is True:
        return "TrueClass"
    if v is False:
        return "FalseClass"
    return _RUBY_CLASS.get(type(v), type(v).__name__)


def _puppet_type_name(v: Any) -> str:
    """The generalized Puppet type a type mismatch reports: ``got Tuple`` for an array, as Puppet says."""
    if v is None:
        return "Undef"
    if isinstance(v, bool):
        return "Boolean"
    if isinstance(v, list):
        return "Tuple"
    if isinstance(v, dict):
        return "Struct"
    return _RUBY_CLASS.get(type(v), type(v).__name__)


def _rb_float(f: float) -> str:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    r = repr(f)  # Python and Ruby switch to exponent form at the same magnitudes
    if "e" in r:
        mant, exp = r.split("e")
        if "." not in mant:
            mant += ".0"
        return f"{mant}e{exp[0]}{exp[1:].zfill(2)}" if exp[0] in "+-" else f"{mant}e+{exp.zfill(2)}"
    return r


_RB_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\e", "\f": "\\f",
               "\v": "\\v", "\a": "\\a", "\b": "\\b"}


def _rb_inspect(v: Any) -> str:
    if v is None:
        return "nil"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        out = []
        for i, ch in enumerate(v):
            if ch in _RB_ESCAPES:
                out.append(_RB_ESCAPES[ch])
            elif ch == "#" and v[i + 1:i + 2] in ("{", "$", "@"):
                out.append("\\#")
            elif ord(ch) < 0x20 or ord(ch) == 0x7F:
                out.append(f"\\x{ord(ch):02X}")
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'
    if isinstance(v, float):
        return _rb_float(v)
    if isinstance(v, list):
        return "[" + ", ".join(_rb_inspect(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_rb_inspect(k)}=>{_rb_inspect(x)}" for k, x in v.items()) + "}"
    return str(v)


def _rb_to_s(v: Any) -> str:
    """What Ruby's ``gsub`` block puts in the string: ``to_s``, so arrays and hashes show as ``inspect``."""
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    if isinstance(v, bool | list | dict | float):
        return _rb_inspect(v)
    return str(v)


# --------------------------------------------------------------------------------------------------
# Keys: "a::b.c.'d.e'.0" -> ['a::b', 'c', 'd.e', 0]  (sub_lookup.rb#split_key)

_SPECIAL = re.compile(r"['\".]")
_SEGMENT = re.compile(r"(\s*\"[^\"]+\"\s*|\s*'[^']+'\s*|[^'\".]+)")
_INT_SEGMENT = re.compile(r":?[+-]?[0-9]+")


@functools.lru_cache(maxsize=4096)
def split_key(key: str) -> tuple[str | int, ...] | None:
    """The segments of a dotted key, or None on a syntax error."""
    if _SPECIAL.search(key) is None:
        return (key,)
    parts = _SEGMENT.split(key)
    while parts and parts[-1] == "":  # Ruby's split drops trailing empty fields
        parts.pop()
    if not parts or parts.pop(0) != "":
        return None
    count = len(parts)
    if count == 0:
        return None
    kept = [p for p in parts if p != "."]
    if len(kept) * 2 != count + 1:
        return None
    out: list[str | int] = []
    for seg in kept:
        seg = seg.strip()
        if seg.startswith(('"', "'")):
            out.append(seg[1:-1])
        elif _INT_SEGMENT.fullmatch(seg):
            out.append(0 if seg.startswith(":") else int(seg))  # Ruby's ":5".to_i is 0
        else:
            out.append(seg)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Key:
    text: str
    root: str
    segments: tuple[str | int, ...]
    module: str | None


def _parse_key(key: str) -> _Key:
    segments = split_key(key)
    if segments is None:
        raise HieraError(f"Syntax error in key: '{key}'")
    root = str(segments[0])
    qual = root.find("::")
    return _Key(key, root, tuple(segments[1:]), root[:qual] if qual >= 0 else None)


def _dig(value: Any, segments: Sequence[str | int], key: str) -> Any:
    """``value`` navigated by ``segments`` (sub_lookup.rb#sub_lookup); MISSING if a segment is absent."""
    for seg in segments:
        if value is None:
            return MISSING
        if isinstance(seg, int) and isinstance(value, list):
            if not 0 <= seg < len(value):
                return MISSING
            value = value[seg]
        elif isinstance(value, dict):
            if seg not in value:
                return MISSING
            value = value[seg]
        else:
            raise HieraError(
                f"Data Provider type mismatch: Got {_rb_class(value)} when a hash-like object was expected "
                f"to access value using '{seg}' from key '{key}'"
            )
    return value


# --------------------------------------------------------------------------------------------------
# Merge strategies (merge_strategy.rb)


class _Strategy:
    name = ""
    allowed_options: frozenset[str] = frozenset({"strategy"})

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = options or {}
        for k in self.options:
            if k not in self.allowed_options:
                raise HieraError(f"The merge options has wrong type, unrecognized key '{k}'")

    def lookup(self, variants: Sequence[Any], fetch: Callable[[Any], Any]) -> Any:
        """Puppet's ``MergeStrategy#lookup``: merge what ``fetch`` finds for each variant, in priority order."""
        if not variants:
            return MISSING
        if len(variants) == 1:
            value = fetch(variants[0])
            return value if value is MISSING else self.merge_single(value)
        return self.reduce(variants, fetch)

    def reduce(self, variants: Iterable[Any], fetch: Callable[[Any], Any]) -> Any:
        memo = MISSING
        for variant in variants:
            value = fetch(variant)
            if value is MISSING:
                continue
            memo = self.convert_value(value) if memo is MISSING else self.merge(memo, value)
        return memo

    def convert_value(self, value: Any) -> Any:
        return value

    def merge_single(self, value: Any) -> Any:
        return value

    def merge(self, e1: Any, e2: Any) -> Any:  # e1 has the higher priority
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


class _First(_Strategy):
    name = "first"

    def lookup(self, variants: Sequence[Any], fetch: Callable[[Any], Any]) -> Any:
        return self.reduce(variants, fetch)

    def reduce(self, variants: Iterable[Any], fetch: Callable[[Any], Any]) -> Any:
        # First found does not go on when a root key was found and its sub-key was not.
        for variant in variants:
            value = fetch(variant)
            if value is not MISSING:
                return value
        return MISSING


def _assert_merge_arg(param: str, ok: bool, expected: str, value: Any) -> None:
    if not ok:
        raise HieraError(f"The {param} element of the merge has wrong type, expects {expected}, got {_puppet_type_name(value)}")


class _HashMerge(_Strategy):
    name = "hash"

    def merge(self, e1: Any, e2: Any) -> Any:
        for param, v in (("first", e1), ("second", e2)):
            _assert_merge_arg(param, isinstance(v, dict) and all(isinstance(k, str) for k in v), "a Hash value", v)
        merged = dict(e2)  # Ruby's e2.merge(e1): e2's key order, e1's values win
        merged.update(e1)
        return merged


class _UniqueMerge(_Strategy):
    name = "unique"

    def merge(self, e1: Any, e2: Any) -> Any:
        for param, v in (("first", e1), ("second", e2)):
            ok = isinstance(v, list) or (v is not None and isinstance(v, str | int | float | bool))
            _assert_merge_arg(param, ok, "a value of type Scalar or Array", v)
        return _rb_uniq(self.convert_value(e1) + self.convert_value(e2))

    def convert_value(self, value: Any) -> Any:
        return _rb_flatten(value) if isinstance(value, list) else [value]

    def merge_single(self, value: Any) -> Any:
        return _rb_uniq(value) if isinstance(value, list) else value


class _DeepMerge(_Strategy):
    name = "deep"
    allowed_options = frozenset({"strategy", "knockout_prefix", "merge_debug", "merge_hash_arrays", "sort_merged_arrays"})

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        ko = self.options.get("knockout_prefix")
        if ko is not None and not isinstance(ko, str):
            raise HieraError("The merge options has wrong type, entry 'knockout_prefix' expects a String value")
        if ko == "":
            raise HieraError("knockout_prefix cannot be an empty string in deep_merge!")
        self.ko: str | None = ko
        try:
            self.ko_re = re.compile("^" + ko, re.M) if ko else None
        except re.error:
            self.ko_re = re.compile("^" + re.escape(ko or ""), re.M)
        self.sort = bool(self.options.get("sort_merged_arrays"))
        self.hash_arrays = bool(self.options.get("merge_hash_arrays"))

    def describe(self) -> str:
        return str({"strategy": "deep", **{k: v for k, v in self.options.items() if k != "strategy"}})

    def merge(self, e1: Any, e2: Any) -> Any:
        return self._deep_merge(e1, _deep_copy(e2))

    # deep_merge/core.rb with preserve_unmergeables off, as Puppet calls it
    def _deep_merge(self, source: Any, dest: Any) -> Any:
        if source is None:
            return dest
        if dest is None or dest is False:
            return source
        if isinstance(source, dict):
            for k, sv in list(source.items()):
                if isinstance(dest, dict):
                    dv = dest.get(k)
                    if dv is not None and dv is not False:
                        dest[k] = self._deep_merge(sv, dv)
                    else:
                        dest[k] = self._deep_merge(sv, _dup(sv))
                else:
                    dest = self._overwrite(source, dest)
            return dest
        if isinstance(source, list):
            if self.ko is not None and any(isinstance(x, str) and x == self.ko for x in source):
                dest = _clear_or_nil(dest)
                source[:] = [x for x in source if not (isinstance(x, str) and x == self.ko)]
            if isinstance(dest, list):
                if self.ko_re is not None:
                    kept = []
                    for item in source:
                        if isinstance(item, str):
                            stripped = self.ko_re.sub("", item)
                            if stripped != item:
                                dest[:] = [d for d in dest if not (isinstance(d, str) and d in (stripped, item))]
                                continue
                        kept.append(item)
                    source[:] = kept
                if self.hash_arrays and all(isinstance(x, dict) for x in source) and all(isinstance(x, dict) for x in dest):
                    merged = [self._deep_merge(source[i] if i < len(source) and source[i] else {}, d)
                              for i, d in enumerate(dest)]
                    merged += source[len(dest):]
                    dest = merged
                else:
                    dest = _rb_uniq(dest + source)  # Ruby's dest | source: the lower priority first
                if self.sort:
                    try:
                        dest.sort()
                    except TypeError as exc:
                        raise HieraError(f"sort_merged_arrays cannot sort {_rb_inspect(dest)}: {exc}") from None
                return dest
            return self._overwrite(source, dest)
        return self._overwrite(source, dest)

    def _overwrite(self, source: Any, dest: Any) -> Any:
        if self.ko_re is None:
            return source
        if isinstance(source, str):
            stripped = self.ko_re.sub("", source)
            return stripped if stripped == source else ""
        if isinstance(source, list):
            source[:] = [x for x in source if not (isinstance(x, str) and self.ko_re.search(x))]
        return source


def _dup(v: Any) -> Any:
    if isinstance(v, list):
        return list(v)
    if isinstance(v, dict):
        return dict(v)
    return v


def _deep_copy(v: Any) -> Any:
    if isinstance(v, list):
        return [_deep_copy(x) for x in v]
    if isinstance(v, dict):
        return {k: _deep_copy(x) for k, x in v.items()}
    return v


def _clear_or_nil(v: Any) -> Any:
    if isinstance(v, list | dict):
        v.clear()
        return v
    if isinstance(v, str):
        return ""
    return None


_STRATEGIES: dict[str, type[_Strategy]] = {
    "first": _First, "default": _First, "unique": _UniqueMerge, "hash": _HashMerge, "deep": _DeepMerge,
}
_SHARED: dict[str, _Strategy] = {name: cls() for name, cls in _STRATEGIES.items()}


def merge_strategy(merge: None | str | dict[str, Any]) -> _Strategy:
    """The strategy named by a ``merge`` argument: None, a name, or ``{'strategy' => name, options...}``."""
    if merge is None:
        return _SHARED["first"]
    if isinstance(merge, _Strategy):
        return merge
    if isinstance(merge, dict):
        name = merge.get("strategy")
        if not isinstance(name, str):
            raise HieraError(
                "The hash given as 'merge' must contain the name of a strategy in string form for the key 'strategy'"
            )
        cls = _STRATEGIES.get(name)
        if cls is None:
            raise HieraError(f"Unknown merge strategy: '{name}'")
        return cls(merge) if len(merge) > 1 else _SHARED[name]
    if isinstance(merge, str) and merge in _SHARED:
        return _SHARED[merge]
    raise HieraError(f"Unknown merge strategy: '{merge}'")


# --------------------------------------------------------------------------------------------------
# Files


class _DataLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Puppet loads YAML with Psych's safe_load, which refuses what is not plain data: dates and times."""


def _refuse_timestamp(loader: Any, node: yaml.Node) -> Any:
    cls = "Time" if re.search(r"[Tt ]\d", str(node.value)) else "Date"
    raise yaml.constructor.ConstructorError(None, None, f"Tried to load unspecified class: {cls}", node.start_mark)


_DataLoader.add_constructor("tag:yaml.org,2002:timestamp", _refuse_timestamp)

_PARSED: dict[tuple[str, str, int, int], Any] = {}
_PARSED_LIMIT = 4096


def _parse_file(path: Path, fmt: str) -> Any:
    """The YAML or JSON in ``path``, parsed once per (path, mtime, size) for the life of the process."""
    try:
        st = path.stat()
        key = (fmt, str(path), st.st_mtime_ns, st.st_size)
        if key in _PARSED:
            return _PARSED[key]
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise HieraError(f"cannot read {fmt.upper()} file: {exc.strerror}", _span(path)) from None
    except UnicodeDecodeError as exc:
        raise HieraError(f"file is not UTF-8: {exc.reason}", _span(path)) from None
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HieraError(f"invalid JSON: {exc.msg}", _span(path, exc.lineno, exc.colno)) from None
    else:
        try:
            data = yaml.load(text, Loader=_DataLoader)  # noqa: S506 - a safe loader
        except yaml.MarkedYAMLError as exc:
            # Psych (libyaml, like CSafeLoader) reports "PROBLEM CONTEXT" at the context mark when there is one.
            mark = exc.context_mark or exc.problem_mark
            problem = " ".join(" ".join(str(p) for p in (exc.problem, exc.context) if p).split()) or "syntax error"
            line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
            raise HieraError(f"invalid YAML: {problem}", _span(path, line, col)) from None
        except yaml.YAMLError as exc:
            raise HieraError(f"invalid YAML: {' '.join(str(exc).split())}", _span(path)) from None
    if len(_PARSED) >= _PARSED_LIMIT:
        _PARSED.clear()
    _PARSED[key] = data
    return data


def _yaml_position(path: Path | None, trail: Sequence[str | int]) -> tuple[int, int]:
    """Line and column of the node reached by ``trail`` in a YAML file, (0, 0) when unknown; for error messages only."""
    if path is None:
        return 0, 0
    try:
        node = yaml.compose(path.read_text(encoding="utf-8-sig"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return 0, 0
    mark = node.start_mark if node is not None else None
    for step in trail:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == step:
                    mark, node = k.start_mark, v
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            mark = node.start_mark
        else:
            break
    return (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)


# --------------------------------------------------------------------------------------------------
# hiera.yaml (hiera_config.rb, version 5)

_FUNCTION_KEYS = ("data_hash", "lookup_key", "data_dig", "hiera3_backend")
_LOCATION_KEYS = ("path", "paths", "glob", "globs", "uri", "uris", "mapped_paths")
_LEVEL_KEYS = frozenset({"name", "options", "datadir", "v4_data_hash", *_FUNCTION_KEYS, *_LOCATION_KEYS})
_DEFAULTS_KEYS = frozenset({"data_hash", "lookup_key", "data_dig", "datadir", "options"})
_TOP_KEYS = frozenset({"version", "defaults", "hierarchy", "plan_hierarchy", "default_hierarchy"})
_DATA_HASH_FORMATS = {"yaml_data": "yaml", "json_data": "json"}
_RESERVED_OPTIONS = ("path", "uri")
_OPTION_NAME = re.compile(r"\A[A-Za-z](:?[0-9A-Za-z_-]*[0-9A-Za-z])?\Z")

_INTERP = re.compile(r"%\{([^}]*)\}")
_METHOD = re.compile(r"(\w+)\((?:\"([^\"]+)\"|'([^']+)')\)", re.ASCII)
_EMPTY_INTERPOLATIONS = frozenset({"", "::", '""', "''", '"::"', "'::'"})
_METHODS = frozenset({"lookup", "hiera", "alias", "scope", "literal"})
_MODULE_NAME = re.compile(r"\A[a-z][a-z0-9_]*\Z")

#: Puppet's HieraConfigV5::DEFAULT_CONFIG_HASH, used for an environment without hiera.yaml
_DEFAULT_CONFIG: dict[str, Any] = {
    "version": 5,
    "defaults": {"datadir": "data", "data_hash": "yaml_data"},
    "hierarchy": [{"name": "Common", "path": "common.yaml"}],
}


@dataclass(frozen=True, slots=True)
class _Level:
    name: str
    fmt: str  # 'yaml' | 'json'
    kind: str  # 'paths' | 'globs' | 'mapped'
    templates: tuple[str, ...]  # paths or globs; for 'mapped': (source variable, key, template)
    datadir: str  # the level's absolute data directory, before interpolation


@dataclass(frozen=True, slots=True)
class _Config:
    path: Path | None  # None: Puppet's default hierarchy
    levels: tuple[_Level, ...]
    default_levels: tuple[_Level, ...] | None  # a module's default_hierarchy
    exprs: tuple[str, ...]  # the scope expressions the data locations depend on


def _load_config(path: Path | None, root: Path, layer: str) -> _Config:
    """Parse and validate a hiera.yaml (or Puppet's default when ``path`` is None)."""
    raw = _DEFAULT_CONFIG if path is None else _parse_file(path, "yaml")

    def fail(message: str, *trail: str | int) -> HieraError:
        return HieraError(message, _span(path, *_yaml_position(path, trail)))

    version = raw.get("version") if isinstance(raw, dict) else None
    if version is None or version in (3, 4, "3", "4"):
        found = 3 if version is None else int(version)
        raise fail(f"hiera.yaml version {found} is not supported, only version 5", "version")
    if version not in (5, "5"):
        raise fail(f"This runtime does not support hiera.yaml version {version}", "version")
    for k in raw:
        if k not in _TOP_KEYS:
            raise fail(f"unrecognized key '{k}' in hiera.yaml", k)
    # Puppet: `config[KEY_DEFAULTS] ||= DEFAULT_CONFIG_HASH[KEY_DEFAULTS]`, so no defaults means yaml_data
    defaults = raw.get("defaults")
    if defaults is None:
        defaults = _DEFAULT_CONFIG["defaults"]
    if not isinstance(defaults, dict):
        raise fail("'defaults' must be a hash", "defaults")
    for k in defaults:
        if k not in _DEFAULTS_KEYS:
            raise fail(f"unrecognized key '{k}' in defaults", "defaults", k)
    if sum(1 for k in _FUNCTION_KEYS if k in defaults) > 1:
        raise fail("Only one of data_hash, lookup_key, data_dig, or hiera3_backend can be defined in defaults", "defaults")
    _check_options(defaults.get("options"), "defaults", fail, ("defaults",))
    default_datadir = defaults.get("datadir", "data")
    if not isinstance(default_datadir, str) or not default_datadir:
        raise fail("'datadir' in defaults must be a non-empty string", "defaults", "datadir")

    if "default_hierarchy" in raw and layer != "module":
        raise fail("'default_hierarchy' is only allowed in the module layer", "default_hierarchy")
    levels = _parse_levels(raw.get("hierarchy", _DEFAULT_CONFIG["hierarchy"]), "hierarchy", defaults,
                           default_datadir, root, fail)
    default_levels = None
    if "default_hierarchy" in raw:
        default_levels = _parse_levels(raw["default_hierarchy"], "default_hierarchy", defaults, default_datadir,
                                       root, fail)
    exprs: list[str] = []
    for lv in levels + (default_levels or ()):
        for expr in _level_exprs(lv, fail):
            if expr not in exprs:
                exprs.append(expr)
    return _Config(path, levels, default_levels, tuple(exprs))


def _check_options(options: Any, where: str, fail: Callable[..., HieraError], trail: tuple[str | int, ...]) -> None:
    if options is None:
        return
    if not isinstance(options, dict) or not all(isinstance(k, str) and _OPTION_NAME.match(k) for k in options):
        raise fail(f"'options' in {where} must be a hash with option names as keys", *trail, "options")
    for key in _RESERVED_OPTIONS:
        if key in options:
            if where == "defaults":
                raise fail(f"Option key '{key}' used in defaults is reserved by Puppet", *trail, "options")
            raise fail(f"Option key '{key}' used in {where} is reserved by Puppet", *trail, "options")


def _parse_levels(entries: Any, section: str, defaults: dict[str, Any], default_datadir: str, root: Path,
                  fail: Callable[..., HieraError]) -> tuple[_Level, ...]:
    if not isinstance(entries, list):
        raise fail(f"'{section}' must be an array of hierarchy levels", section)
    levels: list[_Level] = []
    names: set[str] = set()
    for i, he in enumerate(entries):
        if not isinstance(he, dict):
            raise fail(f"{section} entry {i + 1} must be a hash", section, i)
        name = he.get("name")
        if not isinstance(name, str) or not name:
            raise fail(f"{section} entry {i + 1} must have a non-empty 'name'", section, i)
        where = f"hierarchy '{name}'"
        for k in he:
            if k not in _LEVEL_KEYS:
                raise fail(f"unrecognized key '{k}' in {where}", section, i, k)
        if name in names:
            raise fail(f"Hierarchy name '{name}' defined more than once", section, i, "name")
        names.add(name)
        functions = [k for k in (*_FUNCTION_KEYS, "v4_data_hash") if k in he]
        if len(functions) > 1:
            raise fail(f"Only one of data_hash, lookup_key, data_dig, or hiera3_backend can be defined in {where}",
                       section, i)
        default_kind = next((k for k in _FUNCTION_KEYS if k in defaults), None)
        if functions:
            kind, function = functions[0], he[functions[0]]
        elif default_kind is not None:
            kind, function = default_kind, defaults[default_kind]
        else:
            raise fail(f"One of data_hash, lookup_key, data_dig, or hiera3_backend must be defined in {where}",
                       section, i)
        if kind != "data_hash" or function not in _DATA_HASH_FORMATS:
            trail = (section, i, kind) if functions else ("defaults", kind)
            raise fail(f"{where} uses {kind}: {function}, which is not supported "
                       "(only data_hash: yaml_data and data_hash: json_data are)", *trail)
        locations = [k for k in _LOCATION_KEYS if k in he]
        if len(locations) > 1:
            raise fail(f"Only one of path, paths, glob, globs, uri, uris, or mapped_paths can be defined in {where}",
                       section, i)
        if not locations:
            raise fail(f"one of 'path', 'paths' 'glob', 'globs' or 'mapped_paths' must be declared in {where} "
                       "when using a data_hash function", section, i)
        loc = locations[0]
        value = he[loc]
        if loc in ("uri", "uris"):
            raise fail(f"{where} uses '{loc}', which only lookup_key functions read; it is not supported",
                       section, i, loc)
        if loc in ("path", "glob"):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(p, str) and p for p in value):
            raise fail(f"'{loc}' in {where} must be a non-empty string" if loc in ("path", "glob")
                       else f"'{loc}' in {where} must be an array of non-empty strings", section, i, loc)
        if loc == "mapped_paths" and len(value) != 3:
            raise fail(f"'mapped_paths' in {where} must have 3 elements: variable, key, path template",
                       section, i, loc)
        _check_options(he.get("options"), where, fail, (section, i))
        datadir = he.get("datadir", default_datadir)
        if not isinstance(datadir, str) or not datadir:
            raise fail(f"'datadir' in {where} must be a non-empty string", section, i, "datadir")
        kind_of = {"path": "paths", "paths": "paths", "glob": "globs", "globs": "globs", "mapped_paths": "mapped"}[loc]
        levels.append(_Level(name, _DATA_HASH_FORMATS[function], kind_of, tuple(value), str(root / datadir)))
    return tuple(levels)


def _template_exprs(template: str, fail: Callable[..., HieraError], level: str) -> list[str]:
    exprs = []
    for m in _INTERP.finditer(template):
        expr = m.group(1).strip()
        if expr in _EMPTY_INTERPOLATIONS:
            continue
        if _METHOD.fullmatch(expr):
            raise fail(f"Interpolation using method syntax is not allowed in this context (hierarchy '{level}')")
        exprs.append(expr)
    return exprs


def _level_exprs(lv: _Level, fail: Callable[..., HieraError]) -> list[str]:
    exprs = _template_exprs(lv.datadir, fail, lv.name)
    if lv.kind == "mapped":
        source, var, template = lv.templates
        exprs.append(source)
        for expr in _template_exprs(template, fail, lv.name):
            root = str((split_key(expr) or [expr])[0])
            if root.removeprefix("::") != var:
                exprs.append(expr)
    else:
        for t in lv.templates:
            exprs.extend(_template_exprs(t, fail, lv.name))
    return exprs


@dataclass(frozen=True, slots=True)
class _ResolvedLevel:
    name: str
    fmt: str
    locations: tuple[tuple[Path, bool], ...]  # (path, exists)


class _Resolved:
    """A layer's hierarchy with its paths interpolated for one set of scope values."""

    __slots__ = ("cached", "levels")

    def __init__(self, levels: tuple[_ResolvedLevel, ...], cached: bool) -> None:
        self.levels = levels
        self.cached = cached


class _Layer:
    """The environment's or one module's hiera.yaml, with its resolutions cached by scope values."""

    def __init__(self, kind: str, config_path: Path | None, root: Path, module: str | None = None) -> None:
        self.kind = kind
        self.config_path = config_path
        self.root = root
        self.module = module
        self.config: _Config | None = None
        self.resolved: dict[tuple[bool, Any], _Resolved] = {}

    def __repr__(self) -> str:
        where = self.config_path or f"{self.root} (default hierarchy)"
        return f"<{self.kind} layer {where}>"


class _Invocation:
    """One top-level lookup: the scope and the stack of keys being looked up, for recursion detection."""

    __slots__ = ("depth", "interpolations", "origins", "resolved", "scope", "stack", "trace")

    def __init__(self, scope: Scope, trace: list[str] | None = None, origins: list[Path] | None = None) -> None:
        self.scope = scope
        self.stack: list[str] = []
        self.interpolations = 0
        self.resolved: dict[tuple[_Layer, bool], _Resolved] = {}  # the scope does not change within a lookup
        #: ``lookup --explain``: lines of what was searched, indented by ``depth``
        self.trace = trace
        self.depth = 0
        #: the data files the value came from
        self.origins = origins

    def say(self, text: str) -> None:
        if self.trace is not None:
            self.trace.append("  " * self.depth + text)

    def push(self, name: str) -> None:
        if name in self.stack:
            raise HieraError(f"Recursive lookup detected in [{', '.join(self.stack)}]")
        self.stack.append(name)


@dataclass(frozen=True, slots=True)
class _CompiledOptions:
    exact: dict[str, Any]
    patterns: tuple[tuple[re.Pattern[str], Any], ...]

    def for_key(self, root: str) -> Any:
        opts = self.exact.get(root)
        if opts is not None:
            return opts
        for pattern, opts in self.patterns:
            if pattern.search(root):
                return opts
        return None


_NO_OPTIONS = _CompiledOptions({}, ())
_CACHE_LIMIT = 512


# --------------------------------------------------------------------------------------------------
# The lookup


class Hiera:
    """Hiera 5 lookups for one environment: its layer, then the key's module's layer.

    Data files and hiera.yaml files are read once per instance; make one per compilation (cheap: the
    parsed files are shared through a process-wide cache) so edits to the data are seen.
    """

    def __init__(self, env_config: Path | None, env_root: Path | None, modulepath: Sequence[Path] = (),
                 *, convert: Converter | None = None, confine: bool = False) -> None:
        """``env_config``: the environment's hiera.yaml; ``env_root`` alone: Puppet's default hierarchy
        (``data/common.yaml``) under it; neither: no environment layer.

        ``confine`` (the master sets it): a layer reads data only inside its own directory (the
        environment's, a module's), and a value interpolated into a path (a fact a node sends) cannot
        climb out of the level's datadir with ``..`` or an absolute path. Puppet reads wherever the
        hierarchy points; on a master serving many environments that lets an author or a node read
        another environment's data."""
        self.confine = confine
        self.env_layer = None if env_root is None else _Layer("environment", env_config, env_root)
        self.modulepath = tuple(Path(p) for p in modulepath)
        self.convert = convert
        self._modules: dict[str, _Layer | None] = {}
        self._keys: dict[str, _Key] = {}
        self._data: dict[tuple[str, Path], dict[Any, Any]] = {}
        self._options: dict[tuple[Any, ...], _CompiledOptions] = {}
        self._warned: set[Any] = set()

    @classmethod
    def for_environment(cls, env_dir: Path | None, hiera_config: Path | None, modulepath: Sequence[Path],
                        *, convert: Converter | None = None, env_default_hierarchy: bool = False,
                        confine: bool = False) -> Hiera:
        """The environment layer is ``hiera_config`` if given, else ``env_dir/hiera.yaml`` if it exists.

        Without either there is no environment layer at all: Puppet 7 (confirmed with 7.23) gives an
        environment without hiera.yaml no data provider, so its ``data/common.yaml`` is not read. Pass
        ``env_default_hierarchy=True`` to read it anyway with Puppet's default hierarchy (what Puppet
        does with ``environment_data_provider = hiera`` in environment.conf).
        """
        if hiera_config is not None:
            hiera_config = Path(hiera_config)
            if not hiera_config.is_file():
                raise HieraError("hiera.yaml not found", _span(hiera_config))
            return cls(hiera_config, hiera_config.parent, modulepath, convert=convert, confine=confine)
        if env_dir is not None:
            env_dir = Path(env_dir)
            candidate = env_dir / "hiera.yaml"
            if candidate.is_file():
                return cls(candidate, env_dir, modulepath, convert=convert, confine=confine)
            if env_default_hierarchy:
                return cls(None, env_dir, modulepath, convert=convert, confine=confine)
        return cls(None, None, modulepath, convert=convert, confine=confine)

    def __repr__(self) -> str:
        return f"Hiera({self.env_layer!r}, modulepath={[str(p) for p in self.modulepath]})"

    # ---- public

    def lookup(self, key: str, scope: Scope, merge: None | str | dict[str, Any] = None, *,
               explain: list[str] | None = None, origins: list[Path] | None = None) -> tuple[bool, Any]:
        """``(True, value)`` for a found key (the value may be None: found, undef), else ``(False, None)``.

        ``explain`` receives the lines of ``lookup --explain`` (each level and path searched, and what was
        found there); ``origins`` the data files the value came from."""
        value = self._lookup(_Invocation(scope, explain, origins), key, merge)
        return (False, None) if value is MISSING else (True, value)

    # ---- LookupAdapter#lookup

    def _key(self, key: str) -> _Key:
        k = self._keys.get(key)
        if k is None:
            if len(self._keys) >= 4 * _CACHE_LIMIT:
                self._keys.clear()
            k = self._keys[key] = _parse_key(key)
        return k

    def _lookup(self, inv: _Invocation, key: str, merge: Any) -> Any:
        if key == LOOKUP_OPTIONS or key.startswith(LOOKUP_OPTIONS + "."):
            return MISSING  # reserved: never found as data
        k = self._key(key)
        mod_layer = self._module_layer(k.module) if k.module else None
        trace, inv.trace = inv.trace, None  # the lookup of lookup_options is not part of the explanation
        try:
            options = self._options_for(inv, mod_layer).for_key(k.root)
        finally:
            inv.trace = trace
        if options is not None and not isinstance(options, dict):
            raise HieraError(f"lookup_options for key '{k.root}' must be a hash, got {_puppet_type_name(options)}")
        if merge is None and options:
            merge = options.get("merge")
        strategy = merge_strategy(merge)
        inv.say(f'Searching for "{k.text}"')
        inv.depth += 1
        if not isinstance(strategy, _First):
            inv.say(f"Merge strategy {strategy.describe()}")
        # Puppet's provider stack (global, environment, module) is always searched as several variants.
        value = strategy.reduce(
            (self.env_layer, mod_layer),
            lambda layer: MISSING if layer is None else self._explained_layer(inv, layer, k, strategy),
        )
        if value is not MISSING:
            value = _dig(value, k.segments, k.text)
        if value is MISSING and mod_layer is not None:
            if inv.trace is not None and self._config(mod_layer).default_levels is not None:
                inv.say(f'Module "{mod_layer.module}" default hierarchy')
            value = self._default_hierarchy_lookup(inv, mod_layer, k)
        if not isinstance(strategy, _First) and value is not MISSING:
            inv.say(f"Merged result: {_rb_inspect(value)}")
        inv.depth -= 1
        if value is MISSING:
            inv.say(f'Not found: "{k.text}"')
            return MISSING
        if options and options.get("convert_to") is not None:
            value = self._convert(k.text, options["convert_to"], value)
        return value

    def _convert(self, key: str, convert_to: Any, value: Any) -> Any:
        spec = list(convert_to) if isinstance(convert_to, list) else [convert_to]
        if not spec:
            raise HieraError(f"The convert_to lookup_option for key '{key}' is empty")
        type_, args = spec[0], spec[1:]
        if self.convert is not None:
            try:
                return self.convert(type_, value, args)
            except HieraError:
                raise
            except Exception as exc:  # noqa: BLE001 - the hook is Puppet's new(), any failure is the data's
                raise HieraError(f"The convert_to lookup_option for key '{key}' raised error: {exc}") from None
        if type_ == "Sensitive" and not args:
            return Sensitive(value)
        raise HieraError(f"The convert_to lookup_option for key '{key}' needs the compiler's type conversion "
                         f"for '{type_}' (only Sensitive is built in)")

    # ---- layers

    def _module_layer(self, name: str) -> _Layer | None:
        if name in self._modules:
            return self._modules[name]
        layer = None
        if _MODULE_NAME.match(name):
            for base in self.modulepath:
                mod_dir = base / name
                if mod_dir.is_dir():
                    config = mod_dir / "hiera.yaml"
                    if config.is_file():
                        layer = _Layer("module", config, mod_dir, name)
                    break  # the first module of that name on the modulepath is the module
        self._modules[name] = layer
        return layer

    def _config(self, layer: _Layer) -> _Config:
        if layer.config is None:
            if layer.kind == "module":
                raw = _parse_file(layer.config_path, "yaml") if layer.config_path else {}
                version = raw.get("version") if isinstance(raw, dict) else None
                if version is None or version in (3, "3"):
                    # Puppet ignores a version 3 hiera.yaml at a module's root, with a warning.
                    self._warn_once(("v3", layer.config_path),
                                    "%s: hiera.yaml version 3 found at module root was ignored", layer.config_path)
                    layer.config = _Config(layer.config_path, (), None, ())
                    return layer.config
            layer.config = _load_config(layer.config_path, layer.root, layer.kind)
        return layer.config

    def _resolve(self, inv: _Invocation, layer: _Layer, default_hierarchy: bool = False) -> _Resolved:
        """The layer's levels with locations interpolated for this scope; cached by the values they use."""
        memo = inv.resolved.get((layer, default_hierarchy))
        if memo is not None:
            return memo
        config = self._config(layer)
        cacheable = True
        values = []
        for expr in config.exprs:
            v = self._scope_value(inv, expr, expr, None)
            if isinstance(v, str) and "%{" in v:
                cacheable = False  # Puppet interpolates the value again; its inputs are not all in the signature
                break
            values.append(_rkey(v))
        signature = (default_hierarchy, tuple(values))
        if cacheable:
            hit = layer.resolved.get(signature)
            if hit is not None:
                inv.resolved[(layer, default_hierarchy)] = hit
                return hit
        levels = config.default_levels if default_hierarchy else config.levels
        resolved = _Resolved(self._resolve_levels(inv, layer, levels or (), is_default=config.path is None),
                             cacheable)
        if cacheable:
            if len(layer.resolved) >= _CACHE_LIMIT:
                layer.resolved.clear()
            layer.resolved[signature] = resolved
        inv.resolved[(layer, default_hierarchy)] = resolved
        return resolved

    def _resolve_levels(self, inv: _Invocation, layer: _Layer, levels: Sequence[_Level],
                        is_default: bool) -> tuple[_ResolvedLevel, ...]:
        out = []
        for lv in levels:
            datadir = Path(self._interpolate(lv.datadir, inv, False, None))
            if self.confine:
                self._check_confined(layer, lv, datadir, lv.datadir, datadir)
            locations: list[tuple[Path, bool]] = []
            if lv.kind == "paths":
                for template in lv.templates:
                    path = datadir / self._interpolate(template, inv, False, None)
                    if self.confine:
                        self._check_confined(layer, lv, datadir, template, path)
                    exists = path.is_file()
                    if exists or not is_default:  # the default hierarchy drops missing paths
                        locations.append((path, exists))
            elif lv.kind == "globs":
                for template in lv.templates:
                    pattern = str(datadir / self._interpolate(template, inv, False, None))
                    if self.confine:
                        self._check_confined(layer, lv, datadir, template, Path(pattern))
                    found = [Path(p) for p in _ruby_glob(pattern) if not Path(p).is_dir()]
                    if self.confine:
                        for path in found:
                            self._check_confined(layer, lv, datadir, template, path)
                    locations.extend((path, True) for path in found)
            else:
                source, var, template = lv.templates
                mapped = self._scope_value(inv, source, "mapped_path[0]", None)
                if mapped:
                    items = [mapped] if isinstance(mapped, str) else (
                        [list(kv) for kv in mapped.items()] if isinstance(mapped, dict) else list(mapped))
                    for item in items:
                        path = datadir / self._interpolate(template, inv, False, {var: item})
                        if self.confine:
                            self._check_confined(layer, lv, datadir, template, path)
                        locations.append((path, path.is_file()))
            if is_default and not locations:
                continue
            out.append(_ResolvedLevel(lv.name, lv.fmt, tuple(locations)))
        return tuple(out)

    def _check_confined(self, layer: _Layer, lv: _Level, datadir: Path, template: str, path: Path) -> None:
        """Refuse a data location outside the layer's directory (links resolved), or one that a value
        interpolated into the path moved out of the level's datadir with ``..`` or a leading ``/``
        (the hierarchy may climb where its author wrote ``..``; a fact may not)."""
        home = os.path.realpath(layer.root)
        inside_home = os.path.commonpath([home, os.path.realpath(path)]) == home
        author_climbs = ".." in Path(template).parts or Path(template).is_absolute()
        norm_dir, norm_path = os.path.normpath(datadir), os.path.normpath(path)
        inside_dir = os.path.commonpath([norm_dir, norm_path]) == norm_dir
        if not inside_home or not (author_climbs or inside_dir) or "\x00" in str(path):
            owner = f"module {layer.module}" if layer.module else "the environment"
            raise HieraError(f"hierarchy level '{lv.name}' resolves to a path outside the data of {owner}; "
                             "a value interpolated into a data path may not contain '..' or start with '/'",
                             _span(layer.config_path or layer.root))

    def _explained_layer(self, inv: _Invocation, layer: _Layer, k: _Key, strategy: _Strategy) -> Any:
        if inv.trace is not None:
            what = f'Module "{layer.module}" Data Provider' if layer.kind == "module" else "Environment Data Provider"
            inv.say(f"{what} (hiera configuration version 5)" + (f": {layer.config_path}" if layer.config_path
                                                                   else " (default hierarchy)"))
        inv.depth += 1
        try:
            return self._layer_lookup(inv, layer, k.root, k.text, strategy)
        finally:
            inv.depth -= 1

    def _layer_lookup(self, inv: _Invocation, layer: _Layer, root: str, name: str, strategy: _Strategy) -> Any:
        """ConfiguredDataProvider#key_lookup: the levels of one layer, then the paths of each level."""
        inv.push(name)
        try:
            resolved = self._resolve(inv, layer)
            if not resolved.levels:
                inv.say("No hierarchy levels")
                return MISSING
            return strategy.lookup(resolved.levels, lambda lv: self._level_value(inv, layer, lv, root, strategy))
        finally:
            inv.stack.pop()

    def _level_value(self, inv: _Invocation, layer: _Layer, lv: _ResolvedLevel, root: str,
                     strategy: _Strategy) -> Any:
        if inv.trace is None:
            return strategy.lookup(lv.locations, lambda loc: self._data_value(inv, layer, lv, loc, root))
        inv.say(f'Hierarchy entry "{lv.name}"')
        inv.depth += 1
        try:
            if not lv.locations:
                inv.say("No paths")
            return strategy.lookup(lv.locations, lambda loc: self._data_value(inv, layer, lv, loc, root))
        finally:
            inv.depth -= 1

    def _default_hierarchy_lookup(self, inv: _Invocation, layer: _Layer, k: _Key) -> Any:
        """LookupAdapter#lookup_default_in_module: a module's default_hierarchy, with its own lookup_options."""
        config = self._config(layer)
        if config.default_levels is None:
            return MISSING
        resolved = self._resolve(inv, layer, default_hierarchy=True)
        cache_key = ("default", resolved)
        compiled = self._options.get(cache_key) if resolved.cached else None
        if compiled is None:
            before = inv.interpolations
            raw = self._levels_lookup(inv, layer, resolved, LOOKUP_OPTIONS, LOOKUP_OPTIONS, merge_strategy("hash"))
            compiled = _compile_options(_validate_options(None if raw is MISSING else raw, layer.module))
            if resolved.cached and inv.interpolations == before:
                self._store_options(cache_key, compiled)
        options = compiled.for_key(k.root)
        strategy = merge_strategy(options.get("merge") if isinstance(options, dict) else None)
        value = self._levels_lookup(inv, layer, resolved, k.root, k.text, strategy)
        return value if value is MISSING else _dig(value, k.segments, k.text)

    def _levels_lookup(self, inv: _Invocation, layer: _Layer, resolved: _Resolved, root: str, name: str,
                       strategy: _Strategy) -> Any:
        if not resolved.levels:
            return MISSING
        inv.push(name)
        try:
            return strategy.lookup(resolved.levels, lambda lv: self._level_value(inv, layer, lv, root, strategy))
        finally:
            inv.stack.pop()

    # ---- data

    def _data_hash(self, layer: _Layer, fmt: str, path: Path) -> dict[Any, Any]:
        cache_key = (fmt, path)
        data = self._data.get(cache_key)
        if data is None:
            parsed = _parse_file(path, fmt)
            if parsed is None and fmt == "yaml":
                self._warn_once(("empty", path), "%s: file does not contain a valid yaml hash", path)
                parsed = {}
            if not isinstance(parsed, dict):
                raise HieraError(f"data file must contain a hash at the top level, got {_puppet_type_name(parsed)}",
                                 _span(path, 1, 1))
            if layer.module is not None:
                prefix = layer.module + "::"
                stray = [k for k in parsed if k != LOOKUP_OPTIONS and not (isinstance(k, str) and k.startswith(prefix))]
                if stray:
                    # Puppet warns and never finds them: a module's keys are looked up only in that module.
                    self._warn_once(("stray", path), "Module '%s': %s must use keys qualified with the name of the "
                                    "module (ignored: %s)", layer.module, path, ", ".join(map(str, stray)))
            data = self._data[cache_key] = parsed
        return data

    def _data_value(self, inv: _Invocation, layer: _Layer, level: _ResolvedLevel, location: tuple[Path, bool],
                    root: str) -> Any:
        path, exists = location
        if inv.trace is not None:
            inv.say(f'Path "{path}"')
        if not exists:
            inv.say("  Path not found")
            return MISSING
        data = self._data_hash(layer, level.fmt, path)
        if root not in data:
            inv.say(f'  No such key: "{root}"')
            return MISSING
        try:
            value = self._interpolate(data[root], inv, True, None)
            if inv.trace is not None:
                inv.say(f'  Found key: "{root}" value: {_rb_inspect(value)}')
            if inv.origins is not None and root != LOOKUP_OPTIONS:
                inv.origins.append(path)
            return value
        except HieraError as exc:
            if exc.span is None:
                line, col = _yaml_position(path, (root,)) if level.fmt == "yaml" else (0, 0)
                exc.span = _span(path, line, col)
            raise

    # ---- lookup_options

    def _options_for(self, inv: _Invocation, mod_layer: _Layer | None) -> _CompiledOptions:
        """The lookup_options in force for keys of ``mod_layer``'s module (or no module): environment's win."""
        env_res = self._resolve(inv, self.env_layer) if self.env_layer is not None else None
        mod_res = self._resolve(inv, mod_layer) if mod_layer is not None else None
        cacheable = (env_res is None or env_res.cached) and (mod_res is None or mod_res.cached)
        cache_key = (env_res, mod_res)
        if cacheable:
            hit = self._options.get(cache_key)
            if hit is not None:
                return hit
        before = inv.interpolations
        hash_merge = merge_strategy("hash")
        opts = None
        if self.env_layer is not None:
            found = self._layer_lookup(inv, self.env_layer, LOOKUP_OPTIONS, LOOKUP_OPTIONS, hash_merge)
            opts = _validate_options(None if found is MISSING else found, None)
        if mod_layer is not None:
            found = self._layer_lookup(inv, mod_layer, LOOKUP_OPTIONS, LOOKUP_OPTIONS, hash_merge)
            mod_opts = _validate_options(None if found is MISSING else found, mod_layer.module)
            if opts is None:
                opts = mod_opts
            elif mod_opts:
                opts = hash_merge.merge(opts, mod_opts)
        compiled = _compile_options(opts)
        if cacheable and inv.interpolations == before:
            self._store_options(cache_key, compiled)
        return compiled

    def _store_options(self, key: tuple[Any, ...], compiled: _CompiledOptions) -> None:
        if len(self._options) >= _CACHE_LIMIT:
            self._options.clear()
        self._options[key] = compiled

    # ---- interpolation (interpolation.rb)

    def _interpolate(self, value: Any, inv: _Invocation, allow_methods: bool, local: dict[str, Any] | None) -> Any:
        if isinstance(value, str):
            return value if "%{" not in value else self._interpolate_string(value, inv, allow_methods, local)
        if isinstance(value, list):
            return [self._interpolate(v, inv, allow_methods, local) for v in value]
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                k2 = self._interpolate(k, inv, allow_methods, local)
                try:
                    out[k2] = self._interpolate(v, inv, allow_methods, local)
                except TypeError:
                    raise HieraError(f"interpolated hash key {_rb_inspect(k)} is not a string") from None
            return out
        return value

    def _interpolate_string(self, subject: str, inv: _Invocation, allow_methods: bool,
                            local: dict[str, Any] | None) -> Any:
        inv.interpolations += 1
        parts = []
        pos = 0
        for m in _INTERP.finditer(subject):
            expr = m.group(1).strip()
            value = None
            if expr not in _EMPTY_INTERPOLATIONS:
                method, arg = self._method_and_data(expr, allow_methods)
                if method == "alias":
                    if subject != m.group(0):
                        raise HieraError("'alias' interpolation is only permitted if the expression is equal to the "
                                         "entire string")
                    return self._global_lookup(inv, arg)
                if method == "scope":
                    value = self._scope_value(inv, arg, subject, local)
                elif method == "literal":
                    value = arg
                else:
                    value = self._global_lookup(inv, arg)
                inv.push("scope:" + arg if method == "scope" else arg)
                try:
                    value = self._interpolate(value, inv, allow_methods, local)
                finally:
                    inv.stack.pop()
            parts.append(subject[pos:m.start()])
            parts.append(_rb_to_s(value))
            pos = m.end()
        parts.append(subject[pos:])
        return "".join(parts)

    @staticmethod
    def _method_and_data(expr: str, allow_methods: bool) -> tuple[str, str]:
        m = _METHOD.fullmatch(expr)
        if m is None:
            return "scope", expr
        if not allow_methods:
            raise HieraError("Interpolation using method syntax is not allowed in this context")
        if m.group(1) not in _METHODS:
            raise HieraError(f"Unknown interpolation method '{m.group(1)}'")
        return m.group(1), m.group(2) if m.group(2) is not None else m.group(3)

    def _global_lookup(self, inv: _Invocation, key: str) -> Any:
        value = self._lookup(inv, key, None)
        return "" if value is MISSING else value

    def _scope_value(self, inv: _Invocation, key: str, subject: str, local: dict[str, Any] | None) -> Any:
        segments = split_key(key)
        if segments is None:
            raise HieraError(f"Syntax error in string: {subject}")
        name = str(segments[0]).removeprefix("::")
        if local is not None and name in local:
            value = local[name]
        else:
            found, value = inv.scope(name)
            if not found:
                self._warn_once(("undef", name), "Undefined variable '%s' interpolated as an empty string", name)
                return None
        if value is not None and len(segments) > 1:
            value = _dig(value, segments[1:], key)
            if value is MISSING:
                value = None
        return value

    def _warn_once(self, token: Any, message: str, *args: Any) -> None:
        if token not in self._warned:
            self._warned.add(token)
            log.warning(message, *args)


def _validate_options(options: Any, module: str | None) -> dict[str, Any] | None:
    """LookupAdapter#validate_lookup_options: a hash; in a module, only keys of that module."""
    if options is None:
        return None
    if not isinstance(options, dict):
        raise HieraError(f"value of lookup_options must be a hash, got {_puppet_type_name(options)}")
    if module is not None:
        prefix = module + "::"
        for key in options:
            if not isinstance(key, str):
                raise HieraError(f"all lookup_options keys must start with module name '{module}'")
            if key.startswith("^"):
                if key[1:1 + len(prefix)] != prefix:
                    raise HieraError(f"all lookup_options patterns must match a key starting with module name '{module}'")
            elif not key.startswith(prefix):
                raise HieraError(f"all lookup_options keys must start with module name '{module}'")
    return options


def _compile_options(options: dict[str, Any] | None) -> _CompiledOptions:
    if not options:
        return _NO_OPTIONS
    exact: dict[str, Any] = {}
    patterns: list[tuple[re.Pattern[str], Any]] = []
    for key, value in options.items():
        if isinstance(key, str) and key.startswith("^"):
            try:
                patterns.append((re.compile(_ruby_regex(key), re.M), value))
            except re.error as exc:
                raise HieraError(f"lookup_options pattern '{key}' is not a valid regular expression: {exc}") from None
        else:
            exact[key] = value
    return _CompiledOptions(exact, tuple(patterns))


def _ruby_regex(pattern: str) -> str:
    """The few Ruby regexp spellings Python reads differently."""
    return (pattern.replace("\\z", "\\Z").replace("\\h", "[0-9a-fA-F]").replace("(?<", "(?P<")
            .replace("(?P<=", "(?<=").replace("(?P<!", "(?<!"))


def _ruby_glob(pattern: str) -> list[str]:
    """Ruby's Dir.glob: ``{a,b}`` alternatives in order, each sorted; ``**/`` descends directories."""
    out: list[str] = []
    for alt in _expand_braces(pattern):
        out.extend(sorted(globlib.glob(alt, recursive="**" in alt)))
    return out


def _expand_braces(pattern: str) -> list[str]:
    depth = 0
    start = -1
    for i, ch in enumerate(pattern):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                body = pattern[start + 1:i]
                alts: list[str] = []
                cur: list[str] = []
                level = 0
                for c in body:
                    if c == "," and level == 0:
                        alts.append("".join(cur))
                        cur = []
                        continue
                    level += c == "{"
                    level -= c == "}"
                    cur.append(c)
                alts.append("".join(cur))
                head, tail = pattern[:start], pattern[i + 1:]
                return [x for alt in alts for x in _expand_braces(head + alt + tail)]
    return [pattern]
