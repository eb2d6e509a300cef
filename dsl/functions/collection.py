"""Arrays and hashes: size and emptiness, keys and values, sorting and uniqueness, digging into
data, merging, and stdlib's array and hash helpers (``concat``, ``delete*``, ``member``, ``union`` ...)."""

from __future__ import annotations

import functools
import re
from typing import Any

from .. import types as T
from ..valuerules import deep_copy_value, hashable, to_number, to_str
from ..values import Sensitive
from .common import fqdn, iteration_items
from .contract import Call, function
from .ruby import cmp, eq, eql_key, regexp, ruby_to_s, uniq
from .seeded import ruby_random


@function("length", "Variant[Collection, String] $arg", also=("size",))
def length(call: Call, v: Any) -> int:
    return len(v)


@function("empty", "Collection $coll", "Sensitive[String] $str", "String $str", "Numeric $num", "Undef $x")
def empty(call: Call, v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, Sensitive):
        return len(v.value) == 0
    if isinstance(v, (int, float)):
        return False
    return len(v) == 0


@function("keys", "Hash $hsh")
def keys(call: Call, h: dict[Any, Any]) -> list[Any]:
    return [list(k) if isinstance(k, tuple) else k for k in h]


@function("values", "Hash $hsh")
def values(call: Call, h: dict[Any, Any]) -> list[Any]:
    return list(h.values())


def _flatten(v: list[Any]) -> list[Any]:
    out: list[Any] = []
    for x in v:
        if isinstance(x, list):
            out.extend(_flatten(x))
        else:
            out.append(x)
    return out


@function("flatten", "Any *$args")
def flatten(call: Call, *args: Any) -> list[Any]:
    return _flatten(list(args))


def _ruby_sorted(call: Call, items: list[Any]) -> list[Any]:
    def by(a: Any, b: Any) -> int:
        c = cmp(a, b)
        if c is None:
            call.fail(f"comparison of {T.generalized_name(a)} with {T.generalized_name(b)} failed")
        return c

    return sorted(items, key=functools.cmp_to_key(by))


def _block_order(call: Call) -> Any:
    def by(a: Any, b: Any) -> int:
        c = call.block(a, b)
        if not isinstance(c, int) or isinstance(c, bool):
            call.type_error(f"the block must return an Integer (-1, 0 or 1), got {T.generalized_name(c)}")
        return c

    return functools.cmp_to_key(by)


@function("sort", "String $string_value, Callable[2, 2] &$block?", "Array $array_value, Callable[2, 2] &$block?")
def sort(call: Call, v: Any) -> Any:
    items = list(v)
    ordered = sorted(items, key=_block_order(call)) if call.block is not None else _ruby_sorted(call, items)
    return "".join(ordered) if isinstance(v, str) else ordered


@function("unique", "String $string, Callable[1, 1] &$block?", "Hash $hash, Callable[1, 1] &$block?",
          "Array $array, Callable[1, 1] &$block?", "Iterable $iterable, Callable[1, 1] &$block?")
def unique(call: Call, v: Any) -> Any:
    key = call.block
    if isinstance(v, str):
        return "".join(uniq(list(v), key))
    if isinstance(v, dict):
        groups: dict[Any, tuple[list[Any], list[Any]]] = {}
        for k, x in v.items():
            group = groups.setdefault(eql_key(key(x) if key else x), ([], []))
            group[0].append(k)
            group[1].append(x)
        return {tuple(ks): uniq(xs) for ks, xs in groups.values()}
    items, _ = iteration_items(call, v)
    return uniq(items, key)


# -- min and max, with Puppet's (deprecated) number-in-string comparison ---------------------------------
_NUMBERLIKE = re.compile(r"\A-?\d+([._eE]\d+)?\Z")


def _ruby_to_f(s: str) -> float:
    m = re.match(r"\s*[-+]?(\d[\d_]*)?(\.\d+)?([eE][-+]?\d+)?", s)
    text = m.group(0).replace("_", "") if m else ""
    try:
        return float(text) if text.strip() else 0.0
    except ValueError:
        return 0.0


def _loose_cmp(a: Any, b: Any, strings_only: bool) -> int | None:
    sa, sb = ruby_to_s(a), ruby_to_s(b)
    if _NUMBERLIKE.match(sa) and _NUMBERLIKE.match(sb):
        return cmp(_ruby_to_f(sa), _ruby_to_f(sb))
    return cmp(a, b) if strings_only else cmp(sa, sb)


def _extreme(call: Call, values: list[Any], sign: int) -> Any:
    if not values:
        call.fail("expects at least one value")
    if call.block is not None:
        def order(a: Any, b: Any) -> Any:
            return call.block(a, b)
    elif all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in values):
        order = cmp
    else:
        strings_only = all(isinstance(x, str) for x in values)

        def order(a: Any, b: Any) -> Any:
            return _loose_cmp(a, b, strings_only)
    best = values[0]
    for v in values[1:]:
        c = order(v, best)
        if not isinstance(c, int):
            call.fail(f"cannot compare {T.generalized_name(v)} with {T.generalized_name(best)}")
        if c * sign > 0:
            best = v
    return best


_EXTREMES = ("Numeric *$values", "String *$values", "Array[Numeric] $values, Callable[2, 2] &$block?",
             "Array[String] $values, Callable[2, 2] &$block?", "Array $values, Callable[2, 2] &$block?",
             "Any *$values, Callable[2, 2] &$block", "Any *$values")


@function("max", *_EXTREMES)
def max_(call: Call, *values: Any) -> Any:
    items = list(values[0]) if call.dispatch in (2, 3, 4) else list(values)
    return _extreme(call, items, 1)


@function("min", *_EXTREMES)
def min_(call: Call, *values: Any) -> Any:
    items = list(values[0]) if call.dispatch in (2, 3, 4) else list(values)
    return _extreme(call, items, -1)


# -- digging ------------------------------------------------------------------------------------------------
@function("dig", "Optional[Collection] $data, Any *$keys")
def dig(call: Call, data: Any, *keys: Any) -> Any:
    v = data
    walked: list[Any] = []
    for k in keys:
        if v is None:
            return None
        if isinstance(v, dict):
            v = v.get(hashable(k))
        elif isinstance(v, list):
            v = v[k] if isinstance(k, int) and not isinstance(k, bool) and -len(v) <= k < len(v) else None
        else:
            call.fail(f"the given data does not contain a Collection at {to_str(walked)}, got '{T.type_of(v)}'")
        walked.append(k)
    return v


def _dotted(path: str) -> list[Any]:
    keys: list[Any] = []
    for part in re.findall(r"(?:'[^']*'|\"[^\"]*\"|[^.])+", path) if path else []:
        if part[:1] in "'\"" and part[-1:] == part[:1]:
            keys.append(part[1:-1])
        elif re.fullmatch(r"-?\d+", part):
            keys.append(int(part))
        else:
            keys.append(part)
    return keys


@function("get", "Any $value, String $dotted_string, Any $default_value?, Callable[1, 1] &$block?")
def get(call: Call, data: Any, path: str, *default: Any) -> Any:
    v = data
    walked: list[Any] = []
    for k in _dotted(path):
        if v is None:
            break
        if isinstance(v, dict):
            v = v.get(hashable(k))
        elif isinstance(v, list) and isinstance(k, int):
            v = v[k] if -len(v) <= k < len(v) else None
        else:
            message = f"the given data does not contain a Collection at {to_str(walked)}, got '{T.type_of(v)}'"
            if call.block is not None:
                return call.block({"issue_code": "EXPECTED_COLLECTION", "message": message, "value": v,
                                   "walked_path": walked, "path": path})
            call.fail(message)
        walked.append(k)
    if v is None and default:
        return default[0]
    return v


@function("dig44", "Variant[Hash, Array] $data, Array $path, Any $default?", legacy=True)
def dig44(call: Call, data: Any, path: list[Any], default: Any = None) -> Any:
    v = data
    for k in path:
        if isinstance(v, list):
            n = to_number(k) if not isinstance(k, bool) else None
            if not isinstance(n, int):
                v = None
                break
            v = v[n] if -len(v) <= n < len(v) else None
        elif isinstance(v, dict):
            v = v.get(hashable(k))
        else:
            v = None
            break
        if v is None:
            break
    return default if v is None else v


@function("try_get_value", "Any $data, Any $path?, Any $default?, Any $separator?", legacy=True)
def try_get_value(call: Call, data: Any, path: Any = "", default: Any = "", separator: Any = "") -> Any:
    call.warn("try_get_value() DEPRECATED: this function is deprecated, please use dig() instead.")
    default_value = None if default == "" else default
    if not isinstance(data, (dict, list)) or path in ("", None):
        return data if default_value is None else default_value
    keys = [int(k) if re.fullmatch(r"\d+", k) else k for k in str(path).split(str(separator or "/"))]
    v: Any = data
    for k in keys:
        if isinstance(v, dict):
            v = v.get(k)
        elif isinstance(v, list) and isinstance(k, int):
            v = v[k] if k < len(v) else None
        else:
            v = None
        if v is None:
            return default_value
    return v


# -- stdlib: merging ---------------------------------------------------------------------------------------
@function("merge", "Variant[Hash[Scalar, Any], Undef, String[0, 0]] *$args", "Iterable *$args, Callable[3, 3] &$block",
          "Iterable *$args, Callable[2, 2] &$block")
def merge(call: Call, *args: Any) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    if call.block is None:
        for a in args:
            if isinstance(a, dict):
                out.update(a)
        return out
    for coll in args:
        items, is_hash = iteration_items(call, coll)
        for i, item in enumerate(items):
            if call.dispatch == 1:
                r = call.block(out, item[0], item[1]) if is_hash else call.block(out, i, item)
            else:
                r = call.block(out, item)
            if isinstance(r, dict):
                out.update(r)
    return out


def deep_merged(a: dict[Any, Any], b: dict[Any, Any]) -> dict[Any, Any]:
    out = dict(a)
    for k, v in b.items():
        if k in out and isinstance(out[k], dict) and isinstance(v, dict):
            out[k] = deep_merged(out[k], v)
        else:
            out[k] = deep_copy_value(v)
    return out


@function("deep_merge", "Variant[Hash, String[0, 0]] $first, Variant[Hash, String[0, 0]] +$others", legacy=True)
def deep_merge(call: Call, *hashes: Any) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for h in hashes:
        if isinstance(h, dict):
            out = deep_merged(out, h)
    return out


# -- stdlib: choosing ----------------------------------------------------------------------------------------
@function("pick", "Any *$values", legacy=True)
def pick(call: Call, *values: Any) -> Any:
    for v in values:
        if v is not None and v != "":
            return v
    call.fail("must receive at least one non empty value")


@function("pick_default", "Any +$values", legacy=True)
def pick_default(call: Call, *values: Any) -> Any:
    for v in values[:-1]:
        if v is not None and v != "":
            return v
    return values[-1]


# -- stdlib: arrays ----------------------------------------------------------------------------------------
@function("concat", "Array $array, Any +$values", legacy=True)
def concat(call: Call, first: list[Any], *rest: Any) -> list[Any]:
    out = list(first)
    for x in rest:
        out.extend(x if isinstance(x, list) else [x])
    return out


@function("count", "Collection $collection, Any $item?", legacy=True)
def count(call: Call, coll: Any, *item: Any) -> int:
    items = list(coll.items()) if isinstance(coll, dict) else list(coll)
    if item and item[0] != "":
        return sum(1 for x in items if eq(x if not isinstance(x, tuple) else list(x), item[0]))
    return sum(1 for x in items if x is not None and x != "")


@function("delete", "Variant[Array, Hash, String] $collection, Any $items", legacy=True)
def delete(call: Call, coll: Any, items: Any) -> Any:
    remove = items if isinstance(items, list) else [items]
    if isinstance(coll, dict):
        return {k: v for k, v in coll.items() if not any(eq(k, r) for r in remove)}
    if isinstance(coll, list):
        return [x for x in coll if not any(eq(x, r) for r in remove)]
    for r in remove:
        coll = coll.replace(ruby_to_s(r), "") if r != "" else coll
    return coll


@function("delete_at", "Array $array, Variant[Integer[0], Pattern[/^\\d+$/]] $index", legacy=True)
def delete_at(call: Call, arr: list[Any], index: Any) -> list[Any]:
    i = int(index)
    if i > len(arr) - 1:
        call.fail("the index exceeds the size of the array")
    return arr[:i] + arr[i + 1:]


@function("delete_regex", "Variant[Array, Hash, String] $collection, Any $patterns", legacy=True)
def delete_regex(call: Call, coll: Any, patterns: Any) -> Any:
    rxs = [regexp(call, rf"\b{ruby_to_s(p)}\b") for p in (patterns if isinstance(patterns, list) else [patterns])]

    def hit(x: Any) -> bool:
        return isinstance(x, str) and any(rx.search(x) for rx in rxs)

    if isinstance(coll, dict):
        return {k: v for k, v in coll.items() if not hit(k)}
    if isinstance(coll, str):
        call.type_error("expects an Array or a Hash, got String")
    return [x for x in coll if not hit(x)]


@function("delete_undef_values", "Variant[Array, Hash] $collection", legacy=True)
def delete_undef_values(call: Call, coll: Any) -> Any:
    if isinstance(coll, dict):
        return {k: v for k, v in coll.items() if v is not None}
    return [x for x in coll if x is not None]


@function("delete_values", "Hash $hash, Any $value", legacy=True)
def delete_values(call: Call, h: dict[Any, Any], value: Any) -> dict[Any, Any]:
    return {k: v for k, v in h.items() if not eq(value, v)}


@function("difference", "Array $first, Array $second", legacy=True)
def difference(call: Call, a: list[Any], b: list[Any]) -> list[Any]:
    drop = {eql_key(x) for x in b}
    return [x for x in a if eql_key(x) not in drop]


@function("intersection", "Array $first, Array $second", legacy=True)
def intersection(call: Call, a: list[Any], b: list[Any]) -> list[Any]:
    keep = {eql_key(x) for x in b}
    return uniq([x for x in a if eql_key(x) in keep])


@function("union", "Array +$arrays", legacy=True)
def union(call: Call, *arrays: list[Any]) -> list[Any]:
    return uniq([x for a in arrays for x in a])


@function("zip", "Array $first, Array $second, Any $flatten?", legacy=True)
def zip_(call: Call, a: list[Any], b: list[Any], flat_result: Any = None) -> list[Any]:
    pairs = [[x, b[i] if i < len(b) else None] for i, x in enumerate(a)]
    if flat_result not in (None, "") and _str2bool(call, flat_result):
        return _flatten(pairs)
    return pairs


def _str2bool(call: Call, v: Any) -> bool:
    from .typeconv import str2bool

    if not isinstance(v, (str, bool)):
        call.type_error(f"expects a String or Boolean to tell whether to flatten, got {T.generalized_name(v)}")
    return bool(str2bool(call, v))


@function("values_at", "Array $array, Variant[Integer, String, Array] $indices", legacy=True)
def values_at(call: Call, arr: list[Any], indices: Any) -> list[Any]:
    wanted: list[int] = []
    for i in _flatten(indices if isinstance(indices, list) else [indices]):
        text = ruby_to_s(i)
        m = re.fullmatch(r"(\d+)(\.\.\.?|-)(\d+)", text)
        if m:
            start, stop = int(m.group(1)), int(m.group(3))
            if start > stop:
                call.fail("the stop index of a range is smaller than its start index")
            if stop > len(arr) - 1:
                call.fail("the stop index of a range exceeds the size of the array")
            wanted.extend(range(start, stop if m.group(2) == "..." else stop + 1))
        elif re.fullmatch(r"\d+", text):
            if int(text) > len(arr) - 1:
                call.fail("the index exceeds the size of the array")
            wanted.append(int(text))
        else:
            call.fail(f"unknown format of index '{text}'")
    if not wanted:
        call.fail("expects at least one index")
    return [arr[i] for i in wanted if arr[i] is not None]


@function("member", "Array $array, Variant[String, Integer, Array] $item", legacy=True)
def member(call: Call, arr: list[Any], item: Any) -> bool:
    wanted = item if isinstance(item, list) else [item]
    if not wanted:
        call.fail("expects an item to search for")
    have = {eql_key(x) for x in arr}
    return all(eql_key(w) in have for w in wanted)


@function("has_key", "Hash $hash, Any $key", legacy=True)
def has_key(call: Call, h: dict[Any, Any], key: Any) -> bool:
    return hashable(key) in h


@function("hash", "Array $array", legacy=True)
def hash_(call: Call, arr: list[Any]) -> dict[Any, Any]:
    items = _flatten(arr)
    if len(items) % 2:
        call.fail("cannot make a hash of an odd number of elements")
    return {hashable(items[i]): items[i + 1] for i in range(0, len(items), 2)}


@function("join_keys_to_values", "Hash $hash, String $separator", legacy=True)
def join_keys_to_values(call: Call, h: dict[Any, Any], sep: str) -> list[str]:
    out: list[str] = []
    for k, v in h.items():
        if isinstance(v, list):
            out.extend(ruby_to_s(k) + sep + ruby_to_s(x) for x in v)
        elif ruby_to_s(v) == "undef":
            out.append(ruby_to_s(k))
        else:
            out.append(ruby_to_s(k) + sep + ruby_to_s(v))
    return out


def _affix(call: Call, coll: Any, fix: str, before: bool) -> Any:
    def join(s: Any) -> str:
        text = ruby_to_s(s)
        return fix + text if before else text + fix

    if isinstance(coll, dict):
        return {join(k): v for k, v in coll.items()}
    return [join(x) for x in coll]


@function("prefix", "Variant[Array, Hash] $collection, Optional[String] $prefix?", legacy=True)
def prefix(call: Call, coll: Any, fix: str | None = None) -> Any:
    return _affix(call, coll, fix or "", True)


@function("suffix", "Variant[Array, Hash] $collection, Optional[String] $suffix?", legacy=True)
def suffix(call: Call, coll: Any, fix: str | None = None) -> Any:
    return _affix(call, coll, fix or "", False)


@function("grep", "Array $array, Any $pattern", legacy=True)
def grep(call: Call, arr: list[Any], pattern: Any) -> list[Any]:
    rx = regexp(call, pattern)
    return [x for x in arr if isinstance(x, str) and rx.search(x)]


@function("reject", "Array $array, Any $pattern", legacy=True)
def reject(call: Call, arr: list[Any], pattern: Any) -> list[Any]:
    rx = regexp(call, pattern)
    return [x for x in arr if not (isinstance(x, str) and rx.search(x))]


@function("reverse", "Variant[Array, String] $value", legacy=True)
def reverse(call: Call, v: Any) -> Any:
    return v[::-1]


@function("shuffle", "Variant[Array, String] $value", legacy=True)
def shuffle(call: Call, v: Any) -> Any:
    # Puppet shuffles with the process's random numbers; a catalog should not change between two
    # compiles of the same code, so the order here is seeded by the node and the value
    import hashlib

    items = list(v)
    rng = ruby_random(int(hashlib.md5(f"{fqdn(call)}:{ruby_to_s(items)}".encode()).hexdigest(), 16))
    n = len(items)
    for i in range(n):
        j = rng.rand(n - i) + i
        items[i], items[j] = items[j], items[i]
    return "".join(items) if isinstance(v, str) else items


@function("fqdn_rotate", "Variant[Array, String] $value, Any *$seeds", legacy=True)
def fqdn_rotate(call: Call, v: Any, *seeds: Any) -> Any:
    import hashlib

    items = list(v)
    if len(items) <= 1:
        return v
    found, legacy_fqdn = call.ev.lookup_var("::fqdn")
    text = ":".join([ruby_to_s(legacy_fqdn if found else None), *[ruby_to_s(s) for s in seeds]]) \
        if seeds else ruby_to_s(legacy_fqdn if found else None) + ":"
    seed = int(hashlib.md5(text.encode()).hexdigest(), 16)
    offset = ruby_random(seed).rand(len(items))
    rotated = items[offset:] + items[:offset]
    return "".join(rotated) if isinstance(v, str) else rotated


def ruby_to_i(v: Any) -> int:
    """Ruby's ``to_i``: an Integer, a Float truncated, the leading digits of a String (else 0)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, float):
        return int(v) if v == v and v not in (float("inf"), float("-inf")) else 0
    m = re.match(r"\s*[-+]?\d[\d_]*", ruby_to_s(v))
    return int(m.group(0).replace("_", "")) if m else 0


_RANGE_TEXT = re.compile(r"\A(\w+)(\.\.\.?|-)(\w+)\Z")
_MAX_RANGE = 1_000_000
#: a larger range is an error, never a silently shortened list (the catalog would differ from Puppet's)
_RANGE_MESSAGE = f"the range has more than {_MAX_RANGE} elements; build it in parts or use Integer[a, b].each"


class _RangeTooLarge(Exception):
    pass


def _ruby_upto(start: str, stop: str, exclusive: bool) -> list[str]:
    """Ruby's ``String#upto``: characters, zero-padded numbers, else ``succ`` until ``stop`` (or until
    the string grows longer than ``stop``)."""
    from ..erb.methods_str import _succ

    if len(start) == 1 and len(stop) == 1 and start.isascii() and stop.isascii():
        lo, hi = ord(start), ord(stop)
        return [chr(c) for c in range(lo, hi if exclusive else hi + 1)]
    if start.isascii() and stop.isascii() and start.isdigit() and stop.isdigit():
        width = len(start)
        lo, hi = int(start), int(stop)
        if (hi if exclusive else hi + 1) - lo > _MAX_RANGE:
            raise _RangeTooLarge
        return [str(n).zfill(width) for n in range(lo, hi if exclusive else hi + 1)]
    ea, eb = start.encode(), stop.encode()
    if ea > eb or (exclusive and ea == eb):
        return []
    after_end = _succ(stop)
    out: list[str] = []
    current = start
    while current != after_end:
        if len(out) >= _MAX_RANGE:
            raise _RangeTooLarge
        following = _succ(current) if exclusive or current != stop else None
        out.append(current)
        if following is None:
            break
        current = following
        if exclusive and current == stop:
            break
        if len(current) > len(stop) or not current:
            break
    return out


@function("range", "Any $start_or_range, Any $stop?, Any $step?", legacy=True)
def range_(call: Call, start: Any, stop: Any = None, step: Any = None) -> list[Any]:
    exclusive = False
    if stop is None:
        m = _RANGE_TEXT.match(ruby_to_s(start))
        if m is None:
            call.fail(f"cannot compute a range from the value: {ruby_to_s(start)}")
        start, kind, stop = m.group(1), m.group(2), m.group(3)
        exclusive = kind == "..."
        by = 1
    else:
        by = abs(ruby_to_i(step)) if step not in (None, "") else 1
        if by == 0:
            call.fail("the step size must be a non zero integer (e.g. 1 or -1)")
    if re.fullmatch(r"\d+", ruby_to_s(start)):
        a = int(ruby_to_s(start))
        b = ruby_to_i(stop)
        end = b if exclusive else b + 1
        if (end - a) // by > _MAX_RANGE:
            call.fail(_RANGE_MESSAGE)
        return list(range(a, end, by))
    try:
        return _ruby_upto(ruby_to_s(start), ruby_to_s(stop), exclusive)[::by]
    except _RangeTooLarge:
        call.fail(_RANGE_MESSAGE)


@function("any2array", "Any *$values", legacy=True)
def any2array(call: Call, *values: Any) -> list[Any]:
    if len(values) != 1:
        return list(values)
    v = values[0]
    if isinstance(v, list):
        return v
    if v == "":
        return []
    if isinstance(v, dict):
        return [x for kv in v.items() for x in kv]
    return [v]

