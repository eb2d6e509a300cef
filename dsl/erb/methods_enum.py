"""Built-in methods of Array, Hash and Range, and the Enumerable methods they share.

Enumerable methods work on what ``each`` yields: an Array's elements, a Hash's ``[key, value]`` pairs
(which a block of two parameters receives spread, ``|k, v|``), a Range's members.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from .registry import (
    MAX_ELEMENTS,
    Method,
    argc,
    check_count,
    check_size,
    need_block,
    range_slice,
    rmethod,
    type_error,
)
from .registry import int_arg as _int
from .rvalues import (
    RRange,
    RubyError,
    Symbol,
    Unsupported,
    class_name,
    compare,
    equal,
    hash_key,
    inspect,
    is_int,
    is_num,
    to_s,
    truthy,
)

if TYPE_CHECKING:
    from .interp import Blk, Interp


def range_values(r: RRange) -> list[Any]:
    bounds = r.int_bounds()
    if bounds is not None:
        lo, hi = bounds
        check_count(hi - lo + 1)
        return list(range(lo, hi + 1))
    if r.high is None:
        raise RubyError("RangeError", "cannot convert endless range to an array")
    if isinstance(r.low, str) and isinstance(r.high, str):
        from .methods_str import _succ

        out: list[Any] = []
        s = r.low
        if len(s) > len(r.high) or compare(s, r.high) == 1 and len(s) == len(r.high):
            return out
        while len(s) <= len(r.high):
            if s == r.high:
                if not r.exclusive:
                    out.append(s)
                break
            out.append(s)
            check_count(len(out))
            s = _succ(s)
        return out
    if r.low is None:
        raise RubyError("TypeError", "can't iterate from NilClass")
    raise RubyError("TypeError", f"can't iterate from {class_name(r.low)}")


class REnumerator:
    """What a yielding method returns without a block (``map.with_index``, ``each_slice(2).to_a``): the
    receiver, the method and its arguments, replayed with a block when the enumerator is used."""

    ruby_class = "Enumerator"

    def __init__(self, it: Interp, recv: Any, meth: str, args: list[Any]) -> None:
        self.it = it
        self.recv = recv
        self.meth = meth
        self.args = args

    def run(self, block: Any) -> Any:
        return self.it.send(self.recv, self.meth, list(self.args), block)

    def to_list(self) -> list[Any]:
        out: list[Any] = []

        def collect(*yielded: Any) -> Any:
            out.append(yielded[0] if len(yielded) == 1 else list(yielded))
            check_count(len(out))
            return None

        self.run(collect)
        return out


def items(recv: Any) -> list[Any]:
    if isinstance(recv, list):
        return recv
    if isinstance(recv, dict):
        return [[k, v] for k, v in recv.items()]
    if isinstance(recv, RRange):
        return range_values(recv)
    if isinstance(recv, REnumerator):
        return recv.to_list()
    raise type_error(recv, "Array")


def compare_or_fail(a: Any, b: Any) -> int:
    """``a <=> b``, or Ruby's ArgumentError (which shows numbers and nil by value, others by class)."""
    c = compare(a, b)
    if c is None:
        other = inspect(b) if is_num(b) or b is None or isinstance(b, (bool, Symbol)) else class_name(b)
        raise RubyError("ArgumentError", f"comparison of {class_name(a)} with {other} failed")
    return c


_KEY = functools.cmp_to_key(compare_or_fail)


def sort_values(values: list[Any]) -> list[Any]:
    return sorted(values, key=_KEY)


def _ary(v: Any) -> list[Any]:
    if isinstance(v, list):
        return v
    raise type_error(v, "Array")


# -- Enumerable -------------------------------------------------------------------------------------------
@rmethod("Enumerable", "each")
def _each(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    if blk is None:
        return REnumerator(it, recv, "each", args)
    if isinstance(recv, REnumerator):
        return recv.run(blk)
    for x in items(recv):
        blk(x)
    return recv


@rmethod("Enumerable", "each_with_index")
def _each_with_index(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    if blk is None:
        return REnumerator(it, recv, "each_with_index", args)
    for i, x in enumerate(items(recv)):
        blk(x, i)
    return recv


@rmethod("Enumerator", "with_index", "each_with_index")
def _enum_with_index(it: Interp, recv: REnumerator, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    offset = _int(args[0]) if args and args[0] is not None else 0
    if blk is None:
        return REnumerator(it, recv, "with_index", args)
    user = blk
    counter = [offset]

    def indexed(*yielded: Any) -> Any:
        value = yielded[0] if len(yielded) == 1 else list(yielded)
        i = counter[0]
        counter[0] += 1
        return user(value, i)

    return recv.run(indexed)


@rmethod("Enumerator", "with_object", "each_with_object")
def _enum_with_object(it: Interp, recv: REnumerator, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    user = need_block(blk, "with_object")
    memo = args[0]

    def with_memo(*yielded: Any) -> Any:
        return user(yielded[0] if len(yielded) == 1 else list(yielded), memo)

    recv.run(with_memo)
    return memo


@rmethod("Enumerator", "size")
def _enum_size(it: Interp, recv: REnumerator, args: list[Any], blk: Blk | None) -> Any:
    return len(recv.to_list())


@rmethod("Enumerator", "inspect", "to_s")
def _enum_inspect(it: Interp, recv: REnumerator, args: list[Any], blk: Blk | None) -> Any:
    return f"#<Enumerator: {inspect(recv.recv)}:{recv.meth}>"


@rmethod("Enumerable", "each_with_object")
def _each_with_object(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    need_block(blk, "each_with_object")
    memo = args[0]
    for x in items(recv):
        blk(x, memo)  # type: ignore[misc]
    return memo


@rmethod("Enumerable", "each_slice")
def _each_slice(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    n = _int(args[0])
    if n <= 0:
        raise RubyError("ArgumentError", "invalid slice size")
    if blk is None:
        return REnumerator(it, recv, "each_slice", args)
    values = items(recv)
    slices = [values[i:i + n] for i in range(0, len(values), n)]
    for s in slices:
        blk(s)
    return recv if isinstance(recv, list) else None


@rmethod("Enumerable", "each_cons")
def _each_cons(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    n = _int(args[0])
    if n <= 0:
        raise RubyError("ArgumentError", "invalid size")
    if blk is None:
        return REnumerator(it, recv, "each_cons", args)
    values = items(recv)
    groups = [values[i:i + n] for i in range(0, len(values) - n + 1)]
    for g in groups:
        blk(g)
    return recv


@rmethod("Enumerable", "map", "collect")
def _map(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    if blk is None:
        return REnumerator(it, recv, "map", args)
    if isinstance(recv, REnumerator):
        return [blk(x) for x in recv.to_list()]
    return [blk(x) for x in items(recv)]


@rmethod("Enumerable", "flat_map", "collect_concat")
def _flat_map(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "flat_map")
    out: list[Any] = []
    for x in items(recv):
        r = b(x)
        if isinstance(r, list):
            out.extend(r)
        else:
            out.append(r)
    return out


@rmethod("Enumerable", "filter_map")
def _filter_map(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "filter_map")
    out = []
    for x in items(recv):
        r = b(x)
        if truthy(r):
            out.append(r)
    return out


@rmethod("Enumerable", "select", "filter", "find_all")
def _select(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    if blk is None:
        return REnumerator(it, recv, "select", args)
    b = blk
    if isinstance(recv, dict):
        return {k: v for k, v in recv.items() if truthy(b([k, v]))}
    return [x for x in items(recv) if truthy(b(x))]


@rmethod("Enumerable", "reject")
def _reject(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    if blk is None:
        return REnumerator(it, recv, "reject", args)
    b = blk
    if isinstance(recv, dict):
        return {k: v for k, v in recv.items() if not truthy(b([k, v]))}
    return [x for x in items(recv) if not truthy(b(x))]


@rmethod("Enumerable", "partition")
def _partition(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "partition")
    yes: list[Any] = []
    no: list[Any] = []
    for x in items(recv):
        (yes if truthy(b(x)) else no).append(x)
    return [yes, no]


@rmethod("Enumerable", "group_by")
def _group_by(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "group_by")
    out: dict[Any, Any] = {}
    for x in items(recv):
        out.setdefault(hash_key(b(x)), []).append(x)
    return out


@rmethod("Enumerable", "tally")
def _tally(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    out: dict[Any, int] = {}
    for x in items(recv):
        k = hash_key(x)
        out[k] = out.get(k, 0) + 1
    return out


@rmethod("Enumerable", "find", "detect")
def _find(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "find")
    for x in items(recv):
        if truthy(b(x)):
            return x
    return None


@rmethod("Enumerable", "find_index")
def _find_index(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    for i, x in enumerate(items(recv)):
        if (args and equal(x, args[0])) or (not args and blk is not None and truthy(blk(x))):
            return i
    return None


def _predicate(kind: str) -> Method:
    def fn(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
        argc(args, 0, 1)
        if args:
            pattern = args[0]

            def test(x: Any) -> bool:
                return truthy(it.case_eq(pattern, x, 0))
        elif blk is not None:
            b = blk

            def test(x: Any) -> bool:
                return truthy(b(x))
        else:
            def test(x: Any) -> bool:
                return truthy(x)
        values = items(recv)
        if kind == "any?":
            return any(test(x) for x in values)
        if kind == "all?":
            return all(test(x) for x in values)
        if kind == "none?":
            return not any(test(x) for x in values)
        return sum(1 for x in values if test(x)) == 1

    return fn


for _kind in ("any?", "all?", "none?", "one?"):
    rmethod("Enumerable", _kind)(_predicate(_kind))


@rmethod("Enumerable", "count")
def _count(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    values = items(recv)
    if args:
        return sum(1 for x in values if equal(x, args[0]))
    if blk is not None:
        return sum(1 for x in values if truthy(blk(x)))
    return len(values)


@rmethod("Enumerable", "include?", "member?")
def _include(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return any(equal(x, args[0]) for x in items(recv))


@rmethod("Enumerable", "to_a", "entries")
def _to_a(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return list(items(recv))


@rmethod("Enumerable", "to_h")
def _to_h(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    out: dict[Any, Any] = {}
    for x in items(recv):
        pair = blk(x) if blk is not None else x
        if not isinstance(pair, list) or len(pair) != 2:
            raise RubyError("TypeError", f"wrong element type {class_name(pair)} (expected array)")
        out[hash_key(pair[0])] = pair[1]
    return out


@rmethod("Enumerable", "sort")
def _sort(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    values = list(items(recv))
    if blk is not None:
        b = blk

        def by_block(a: Any, c: Any) -> int:
            r = b(a, c)
            if not is_int(r):
                raise RubyError("ArgumentError", f"comparison of {class_name(a)} with {class_name(c)} failed")
            return int(r)

        return sorted(values, key=functools.cmp_to_key(by_block))
    return sort_values(values)


@rmethod("Enumerable", "sort_by")
def _sort_by(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "sort_by")
    keyed = [(b(x), x) for x in items(recv)]
    keyed.sort(key=lambda kx: _KEY(kx[0]))
    return [x for _, x in keyed]


def _extreme(kind: str, by: bool) -> Method:
    def fn(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
        argc(args, 0, 1)
        values = items(recv)
        if by:
            b = need_block(blk, kind + "_by")
            ordered = sorted(((b(x), i, x) for i, x in enumerate(values)),
                             key=lambda t: (_KEY(t[0]), t[1] if kind == "min" else -t[1]))
            ranked = [x for _, _, x in ordered]
        elif blk is not None:
            b2 = blk
            ranked = sorted(values, key=functools.cmp_to_key(lambda a, c: _int(b2(a, c))))
        else:
            ranked = sort_values(values)
        if kind == "max":
            ranked = ranked[::-1]
        if args:
            return ranked[:_int(args[0])]
        return ranked[0] if ranked else None

    return fn


for _kind in ("min", "max"):
    rmethod("Enumerable", _kind)(_extreme(_kind, False))
    rmethod("Enumerable", _kind + "_by")(_extreme(_kind, True))


@rmethod("Enumerable", "minmax")
def _minmax(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    ranked = sort_values(items(recv))
    return [ranked[0], ranked[-1]] if ranked else [None, None]


@rmethod("Enumerable", "sum")
def _sum(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    total: Any = args[0] if args else 0
    for x in items(recv):
        v = blk(x) if blk is not None else x
        total = it.send(total, "+", [v], None)
    return total


@rmethod("Enumerable", "inject", "reduce")
def _inject(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 2)
    values = list(items(recv))
    op: str | None = None
    if len(args) == 2:
        acc, op = args[0], _op_name(args[1])
    elif len(args) == 1 and blk is None:
        op = _op_name(args[0])
        if not values:
            return None
        acc, values = values[0], values[1:]
    elif len(args) == 1:
        acc = args[0]
    else:
        if not values:
            return None
        acc, values = values[0], values[1:]
    for x in values:
        if op is not None:
            acc = it.send(acc, op, [x], None)
        else:
            acc = blk(acc, x)  # type: ignore[misc]
    return acc


def _op_name(v: Any) -> str:
    if isinstance(v, Symbol):
        return v.name
    if isinstance(v, str):
        return v
    raise RubyError("TypeError", f"{inspect(v)} is not a symbol nor a string")


@rmethod("Enumerable", "first")
def _first(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    if isinstance(recv, RRange) and recv.high is None:
        if not args:
            return recv.low
        return [recv.low + i for i in range(_int(args[0]))]
    values = items(recv)
    if args:
        n = _int(args[0])
        if n < 0:
            raise RubyError("ArgumentError", "negative array size")
        return values[:n]
    return values[0] if values else None


@rmethod("Enumerable", "take")
def _take(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    n = _int(args[0])
    if n < 0:
        raise RubyError("ArgumentError", "attempt to take negative size")
    return items(recv)[:n]


@rmethod("Enumerable", "drop")
def _drop(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    n = _int(args[0])
    if n < 0:
        raise RubyError("ArgumentError", "attempt to drop negative size")
    return items(recv)[n:]


@rmethod("Enumerable", "take_while")
def _take_while(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "take_while")
    out = []
    for x in items(recv):
        if not truthy(b(x)):
            break
        out.append(x)
    return out


@rmethod("Enumerable", "drop_while")
def _drop_while(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "drop_while")
    values = items(recv)
    for i, x in enumerate(values):
        if not truthy(b(x)):
            return values[i:]
    return []


@rmethod("Enumerable", "uniq")
def _uniq(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return _uniq_values(items(recv), blk)


def _uniq_values(values: list[Any], blk: Blk | None) -> list[Any]:
    out: list[Any] = []
    seen: list[Any] = []
    seen_hashable: set[Any] = set()
    for x in values:
        key = blk(x) if blk is not None else x
        try:
            hk = (type(key), key) if not isinstance(key, (list, dict)) else None
        except TypeError:
            hk = None
        if hk is not None:
            try:
                if hk in seen_hashable:
                    continue
                seen_hashable.add(hk)
                out.append(x)
                continue
            except TypeError:
                pass
        if any(equal(key, s) and type(key) is type(s) for s in seen):
            continue
        seen.append(key)
        out.append(x)
    return out


@rmethod("Enumerable", "zip")
def _zip(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    values = items(recv)
    others = [items(a) for a in args]
    out = [[x] + [o[i] if i < len(o) else None for o in others] for i, x in enumerate(values)]
    if blk is not None:
        for row in out:
            blk(row)
        return None
    return out


@rmethod("Enumerable", "reverse_each")
def _reverse_each(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    values = items(recv)[::-1]
    if blk is None:
        return values
    for x in values:
        blk(x)
    return recv


@rmethod("Enumerable", "each_entry")
def _each_entry(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return _each(it, recv, args, blk)


def _chunks(it: Interp, recv: Any, blk: Blk | None, name: str, together_when: bool) -> list[list[Any]]:
    b = need_block(blk, name)
    values = items(recv)
    if not values:
        return []
    out = [[values[0]]]
    for prev, cur in zip(values, values[1:]):
        if truthy(b(prev, cur)) == together_when:
            out[-1].append(cur)
        else:
            out.append([cur])
    return out


@rmethod("Enumerable", "chunk_while")
def _chunk_while(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return _chunks(it, recv, blk, "chunk_while", True)


@rmethod("Enumerable", "slice_when")
def _slice_when(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return _chunks(it, recv, blk, "slice_when", False)


@rmethod("Enumerable", "lazy", "to_set")
def _unsupported_enum(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    raise Unsupported("lazy enumerators and sets")


# -- Array -------------------------------------------------------------------------------------------------
@rmethod("Array", "+")
def _a_add(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    other = _ary(args[0])
    check_count(len(recv) + len(other))
    return recv + other


@rmethod("Array", "-", "difference")
def _a_sub(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    out = recv
    for a in args:
        other = _ary(a)
        out = [x for x in out if not any(equal(x, y) and type(x) is type(y) for y in other)]
    return list(out)


@rmethod("Array", "*")
def _a_mul(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    if isinstance(args[0], str):
        return _join(it, recv, args, None)
    n = _int(args[0])
    if n < 0:
        raise RubyError("ArgumentError", "negative argument")
    check_count(len(recv) * n)
    return recv * n


@rmethod("Array", "&", "intersection")
def _a_and(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    out = _uniq_values(recv, None)
    for a in args:
        other = _ary(a)
        out = [x for x in out if any(equal(x, y) and type(x) is type(y) for y in other)]
    return out


@rmethod("Array", "|", "union")
def _a_or(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    combined = list(recv)
    for a in args:
        combined.extend(_ary(a))
    return _uniq_values(combined, None)


@rmethod("Array", "==", "eql?")
def _a_eq(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return equal(recv, args[0])


@rmethod("Array", "<=>")
def _a_cmp(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return compare(recv, args[0])


@rmethod("Array", "<<", "push", "append")
def _a_push(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    recv.extend(args)
    check_count(len(recv))
    return recv


@rmethod("Array", "pop")
def _a_pop(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    if args:
        n = _int(args[0])
        out = recv[-n:] if n else []
        del recv[len(recv) - len(out):]
        return out
    return recv.pop() if recv else None


@rmethod("Array", "shift")
def _a_shift(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    if args:
        n = _int(args[0])
        out = recv[:n]
        del recv[:n]
        return out
    return recv.pop(0) if recv else None


@rmethod("Array", "unshift", "prepend")
def _a_unshift(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    recv[:0] = args
    check_count(len(recv))
    return recv


@rmethod("Array", "insert")
def _a_insert(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, None)
    i = _int(args[0])
    if i < 0:
        i += len(recv) + 1
    if i > len(recv):
        recv.extend([None] * (i - len(recv)))
    recv[i:i] = args[1:]
    return recv


@rmethod("Array", "concat")
def _a_concat(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    for a in args:
        recv.extend(_ary(a))
    check_count(len(recv))
    return recv


@rmethod("Array", "length", "size")
def _a_length(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return len(recv)


@rmethod("Array", "empty?")
def _a_empty(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return not recv


def _index_of(recv: list[Any], i: int) -> int | None:
    n = len(recv)
    if i < 0:
        i += n
    return i if 0 <= i < n else None


def array_slice(recv: list[Any], args: list[Any]) -> Any:
    argc(args, 1, 2)
    n = len(recv)
    a = args[0]
    if len(args) == 2:
        start, length = _int(a), _int(args[1])
        if start < 0:
            start += n
        if start < 0 or start > n or length < 0:
            return None
        return recv[start:start + length]
    if isinstance(a, RRange):
        return range_slice(recv, a)
    i = _index_of(recv, _int(a))
    return recv[i] if i is not None else None


@rmethod("Array", "[]", "slice")
def _a_aref(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    return array_slice(recv, args)


@rmethod("Array", "at")
def _a_at(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    i = _index_of(recv, _int(args[0]))
    return recv[i] if i is not None else None


@rmethod("Array", "dig")
def _a_dig(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, None)
    return _dig(it, recv, args)


def _dig(it: Interp, recv: Any, args: list[Any]) -> Any:
    value = it.send(recv, "[]", [args[0]], None)
    if len(args) == 1 or value is None:
        return value
    if not isinstance(value, (list, dict)):
        raise RubyError("TypeError", f"{class_name(value)} does not have #dig method")
    return _dig(it, value, args[1:])


@rmethod("Array", "[]=")
def _a_aset(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 2, 3)
    value = args[-1]
    if len(args) == 3 or isinstance(args[0], RRange):
        if len(args) == 3:
            start, length = _int(args[0]), _int(args[1])
        else:
            r = args[0]
            start = _int(r.low) if r.low is not None else 0
            stop = _int(r.high) if r.high is not None else len(recv)
            if start < 0:
                start += len(recv)
            if stop < 0:
                stop += len(recv)
            length = stop - start + (0 if r.exclusive or r.high is None else 1)
        if start < 0:
            start += len(recv)
        if start > len(recv):
            recv.extend([None] * (start - len(recv)))
        recv[start:start + max(length, 0)] = value if isinstance(value, list) else [value]
        return value
    i = _int(args[0])
    if i < 0:
        i += len(recv)
        if i < 0:
            raise RubyError("IndexError", f"index {args[0]} too small for array; minimum: -{len(recv)}")
    if i >= len(recv):
        check_count(i + 1)
        recv.extend([None] * (i + 1 - len(recv)))
    recv[i] = value
    return value


@rmethod("Array", "fetch")
def _a_fetch(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    i = _index_of(recv, _int(args[0]))
    if i is not None:
        return recv[i]
    if blk is not None:
        return blk(args[0])
    if len(args) > 1:
        return args[1]
    raise RubyError("IndexError", f"index {args[0]} outside of array bounds: {-len(recv)}...{len(recv)}")


@rmethod("Array", "first")
def _a_first(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    if args:
        n = _int(args[0])
        if n < 0:
            raise RubyError("ArgumentError", "negative array size")
        return recv[:n]
    return recv[0] if recv else None


@rmethod("Array", "last")
def _a_last(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    if args:
        n = _int(args[0])
        if n < 0:
            raise RubyError("ArgumentError", "negative array size")
        return recv[-n:] if n else []
    return recv[-1] if recv else None


@rmethod("Array", "index", "find_index")
def _a_index(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    return _find_index(it, recv, args, blk)


@rmethod("Array", "rindex")
def _a_rindex(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    for i in range(len(recv) - 1, -1, -1):
        x = recv[i]
        if (args and equal(x, args[0])) or (not args and blk is not None and truthy(blk(x))):
            return i
    return None


@rmethod("Array", "join")
def _join(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    sep = args[0] if args else None
    if sep is not None and not isinstance(sep, str):
        raise type_error(sep, "String")
    out: list[str] = []
    total = [0]
    _join_into(it, recv, out, total, [])
    text = (sep or "").join(out)
    check_size(len(text))
    return text


def _join_into(it: Interp, values: list[Any], out: list[str], total: list[int], path: list[int]) -> None:
    if id(values) in path:
        raise RubyError("ArgumentError", "recursive array join")
    for x in values:
        if isinstance(x, list):
            _join_into(it, x, out, total, path + [id(values)])
            continue
        s = x if isinstance(x, str) else it.to_s(x)
        total[0] += len(s)
        check_size(total[0])
        out.append(s)


@rmethod("Array", "to_s", "inspect")
def _a_inspect(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    return inspect(recv)


@rmethod("Array", "to_a", "entries", "to_ary")
def _a_to_a(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    return recv


@rmethod("Array", "reverse")
def _a_reverse(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    return recv[::-1]


@rmethod("Array", "rotate")
def _a_rotate(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    if not recv:
        return []
    n = (_int(args[0]) if args else 1) % len(recv)
    return recv[n:] + recv[:n]


def _flatten(values: list[Any], depth: int, path: tuple[int, ...] = ()) -> list[Any]:
    out: list[Any] = []
    for x in values:
        if isinstance(x, list) and depth != 0:
            if id(x) in path or id(x) == id(values):
                raise RubyError("ArgumentError", "tried to flatten recursive array")
            out.extend(_flatten(x, depth - 1, path + (id(values),)))
        else:
            out.append(x)
    check_count(len(out))
    return out


@rmethod("Array", "flatten")
def _a_flatten(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    return _flatten(recv, _int(args[0]) if args and args[0] is not None else -1)


@rmethod("Array", "compact")
def _a_compact(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    return [x for x in recv if x is not None]


@rmethod("Array", "uniq")
def _a_uniq(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    return _uniq_values(recv, blk)


@rmethod("Array", "sample", "shuffle", "shuffle!")
def _a_random(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    raise Unsupported("random choice in a template (the catalog would change on every compile)")


def _inplace(name: str, compute: Method, nil_when_same: bool) -> Method:
    def fn(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
        new = compute(it, recv, args, blk)
        same = len(new) == len(recv) and all(a is b for a, b in zip(new, recv))
        recv[:] = new
        return None if (nil_when_same and same) else recv

    return fn


for _name, _compute, _nil in (("flatten!", _a_flatten, True), ("compact!", _a_compact, True),
                              ("uniq!", _a_uniq, True), ("reverse!", _a_reverse, False),
                              ("sort!", _sort, False), ("sort_by!", _sort_by, False), ("map!", _map, False),
                              ("collect!", _map, False), ("select!", _select, True), ("filter!", _select, True),
                              ("keep_if", _select, False), ("reject!", _reject, True),
                              ("delete_if", _reject, False), ("rotate!", _a_rotate, False)):
    rmethod("Array", _name)(_inplace(_name, _compute, _nil))


@rmethod("Array", "delete")
def _a_delete(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    found = None
    keep = []
    for x in recv:
        if equal(x, args[0]):
            found = x
        else:
            keep.append(x)
    if len(keep) == len(recv):
        return blk(args[0]) if blk is not None else None
    recv[:] = keep
    return found


@rmethod("Array", "delete_at")
def _a_delete_at(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    i = _index_of(recv, _int(args[0]))
    return recv.pop(i) if i is not None else None


@rmethod("Array", "clear")
def _a_clear(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    recv.clear()
    return recv


@rmethod("Array", "replace")
def _a_replace(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    recv[:] = _ary(args[0])
    return recv


@rmethod("Array", "fill")
def _a_fill(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    if blk is not None or len(args) != 1:
        raise Unsupported("Array#fill with a range or block")
    recv[:] = [args[0]] * len(recv)
    return recv


@rmethod("Array", "values_at")
def _a_values_at(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    out = []
    for a in args:
        i = _index_of(recv, _int(a))
        out.append(recv[i] if i is not None else None)
    return out


@rmethod("Array", "assoc")
def _a_assoc(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    for x in recv:
        if isinstance(x, list) and x and equal(x[0], args[0]):
            return x
    return None


@rmethod("Array", "transpose")
def _a_transpose(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    rows = [_ary(r) for r in recv]
    if not rows:
        return []
    width = len(rows[0])
    for r in rows:
        if len(r) != width:
            raise RubyError("IndexError", f"element size differs ({len(r)} should be {width})")
    return [[r[i] for r in rows] for i in range(width)]


@rmethod("Array", "product")
def _a_product(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    out: list[list[Any]] = [[x] for x in recv]
    for a in args:
        other = _ary(a)
        check_count(len(out) * len(other))
        out = [row + [y] for row in out for y in other]
    return out


@rmethod("Array", "each_index")
def _a_each_index(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "each_index")
    for i in range(len(recv)):
        b(i)
    return recv


@rmethod("Array", "sum")
def _a_sum(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    values = [blk(x) for x in recv] if blk is not None else recv
    total: Any = args[0] if args else 0
    if all(is_num(v) for v in values) and is_num(total):
        if any(isinstance(v, float) for v in values) or isinstance(total, float):
            # Ruby adds Floats with Kahan-Babuska compensation, which math.fsum matches
            import math

            return math.fsum([total, *values])
        return total + sum(values)
    for v in values:
        total = it.send(total, "+", [v], None)
    return total


@rmethod("Array", "pack")
def _a_pack(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    raise Unsupported("method 'pack' on Array")


@rmethod("Array", "cycle")
def _a_cycle(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "cycle")
    if not args:
        raise Unsupported("Array#cycle without a count")
    for _ in range(_int(args[0])):
        for x in recv:
            b(x)
    return None


@rmethod("Array", "combination", "permutation")
def _a_combination(it: Interp, recv: list[Any], args: list[Any], blk: Blk | None) -> Any:
    import itertools

    argc(args, 1)
    n = _int(args[0])
    combos = itertools.combinations(recv, n)
    out = []
    for c in combos:
        out.append(list(c))
        check_count(len(out))
    if blk is not None:
        for c2 in out:
            blk(c2)
        return recv
    return out


# -- Hash ---------------------------------------------------------------------------------------------------
def _h_get(recv: dict[Any, Any], key: Any) -> tuple[bool, Any]:
    try:
        k = hash_key(key)
    except Unsupported:
        return False, None
    if k in recv:
        v = recv[k]
        # 1 and true, 1 and 1.0 are one Python key but different Ruby keys
        if type(k) is bool or isinstance(k, float) or is_int(k):
            for stored in recv:
                if stored == k and type(stored) is type(k):
                    return True, v
            return False, None
        return True, v
    return False, None


@rmethod("Hash", "[]")
def _h_aref(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return _h_get(recv, args[0])[1]


@rmethod("Hash", "[]=", "store")
def _h_aset(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 2)
    recv[hash_key(args[0])] = args[1]
    return args[1]


@rmethod("Hash", "fetch")
def _h_fetch(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    found, value = _h_get(recv, args[0])
    if found:
        return value
    if blk is not None:
        return blk(args[0])
    if len(args) > 1:
        return args[1]
    raise RubyError("KeyError", f"key not found: {inspect(args[0])}")


@rmethod("Hash", "dig")
def _h_dig(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, None)
    return _dig(it, recv, args)


@rmethod("Hash", "key?", "has_key?", "include?", "member?")
def _h_has_key(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return _h_get(recv, args[0])[0]


@rmethod("Hash", "value?", "has_value?")
def _h_has_value(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return any(equal(v, args[0]) for v in recv.values())


@rmethod("Hash", "key")
def _h_key(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    for k, v in recv.items():
        if equal(v, args[0]):
            return k
    return None


@rmethod("Hash", "keys")
def _h_keys(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return list(recv)


@rmethod("Hash", "values")
def _h_values(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return list(recv.values())


@rmethod("Hash", "values_at")
def _h_values_at(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    return [_h_get(recv, a)[1] for a in args]


@rmethod("Hash", "fetch_values")
def _h_fetch_values(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    return [_h_fetch(it, recv, [a], blk) for a in args]


@rmethod("Hash", "length", "size")
def _h_length(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return len(recv)


@rmethod("Hash", "empty?")
def _h_empty(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return not recv


@rmethod("Hash", "each", "each_pair")
def _h_each(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    if blk is None:
        return REnumerator(it, recv, "each", args)
    for k, v in list(recv.items()):
        blk([k, v])
    return recv


@rmethod("Hash", "each_key")
def _h_each_key(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "each_key")
    for k in list(recv):
        b(k)
    return recv


@rmethod("Hash", "each_value")
def _h_each_value(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "each_value")
    for v in list(recv.values()):
        b(v)
    return recv


@rmethod("Hash", "to_h")
def _h_to_h(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    if blk is None:
        return recv
    return _to_h(it, recv, args, blk)


@rmethod("Hash", "to_hash")
def _h_to_hash(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    return recv


@rmethod("Hash", "to_s", "inspect")
def _h_inspect(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    return inspect(recv)


@rmethod("Hash", "==", "eql?")
def _h_eq(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return equal(recv, args[0])


def _merge_into(it: Interp, target: dict[Any, Any], others: list[Any], blk: Blk | None) -> dict[Any, Any]:
    for o in others:
        if not isinstance(o, dict):
            raise type_error(o, "Hash")
        for k, v in o.items():
            if blk is not None and k in target:
                target[k] = blk(k, target[k], v)
            else:
                target[k] = v
    return target


@rmethod("Hash", "merge")
def _h_merge(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    return _merge_into(it, dict(recv), args, blk)


@rmethod("Hash", "merge!", "update")
def _h_update(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    return _merge_into(it, recv, args, blk)


@rmethod("Hash", "delete")
def _h_delete(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    found, value = _h_get(recv, args[0])
    if found:
        del recv[hash_key(args[0])]
        return value
    return blk(args[0]) if blk is not None else None


@rmethod("Hash", "delete_if", "reject!")
def _h_delete_if(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "delete_if")
    drop = [k for k, v in list(recv.items()) if truthy(b([k, v]))]
    for k in drop:
        del recv[k]
    return recv


@rmethod("Hash", "keep_if", "select!", "filter!")
def _h_keep_if(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "keep_if")
    drop = [k for k, v in list(recv.items()) if not truthy(b([k, v]))]
    for k in drop:
        del recv[k]
    return recv


@rmethod("Hash", "invert")
def _h_invert(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    return {hash_key(v): k for k, v in recv.items()}


@rmethod("Hash", "transform_values")
def _h_transform_values(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    b = need_block(blk, "transform_values")
    return {k: b(v) for k, v in recv.items()}


@rmethod("Hash", "transform_keys")
def _h_transform_keys(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    if args and isinstance(args[0], dict):
        mapping = args[0]
        return {hash_key(mapping.get(k, k)): v for k, v in recv.items()}
    b = need_block(blk, "transform_keys")
    return {hash_key(b(k)): v for k, v in recv.items()}


@rmethod("Hash", "compact")
def _h_compact(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    return {k: v for k, v in recv.items() if v is not None}


@rmethod("Hash", "slice")
def _h_slice(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    out = {}
    for a in args:
        found, v = _h_get(recv, a)
        if found:
            out[hash_key(a)] = v
    return out


@rmethod("Hash", "except")
def _h_except(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    out = dict(recv)
    for a in args:
        if _h_get(recv, a)[0]:
            del out[hash_key(a)]
    return out


@rmethod("Hash", "clear")
def _h_clear(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    recv.clear()
    return recv


@rmethod("Hash", "default")
def _h_default(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    return None


@rmethod("Hash", "sort")
def _h_sort(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    return _sort(it, recv, args, blk)


@rmethod("Hash", "count")
def _h_count(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    return _count(it, recv, args, blk)


@rmethod("Hash", "any?")
def _h_any(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    if blk is None and not args:
        return bool(recv)
    return _predicate("any?")(it, recv, args, blk)


@rmethod("Hash", "filter_map")
def _h_filter_map(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    return _filter_map(it, recv, args, blk)


@rmethod("Hash", "sum")
def _h_sum(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    return _sum(it, recv, args, blk)


@rmethod("Hash", "compare_by_identity", "default_proc", "rehash")
def _h_unsupported(it: Interp, recv: dict[Any, Any], args: list[Any], blk: Blk | None) -> Any:
    raise Unsupported("method on Hash")


# -- Range ----------------------------------------------------------------------------------------------
@rmethod("Range", "first", "begin")
def _r_first(it: Interp, recv: RRange, args: list[Any], blk: Blk | None) -> Any:
    if args:
        return _first(it, recv, args, blk)
    return recv.low


@rmethod("Range", "last", "end")
def _r_last(it: Interp, recv: RRange, args: list[Any], blk: Blk | None) -> Any:
    if args:
        n = _int(args[0])
        return range_values(recv)[-n:] if n else []
    return recv.high


@rmethod("Range", "exclude_end?")
def _r_exclude_end(it: Interp, recv: RRange, args: list[Any], blk: Blk | None) -> Any:
    return recv.exclusive


@rmethod("Range", "size", "count", "length")
def _r_size(it: Interp, recv: RRange, args: list[Any], blk: Blk | None) -> Any:
    if args or blk is not None:
        return _count(it, recv, args, blk)
    bounds = recv.int_bounds()
    if bounds is None:
        if recv.high is None:
            return float("inf")
        return len(range_values(recv))
    return max(bounds[1] - bounds[0] + 1, 0)


def _covers(r: RRange, v: Any) -> bool:
    if r.low is not None:
        c = compare(r.low, v)
        if c is None or c > 0:
            return False
    if r.high is not None:
        c = compare(v, r.high)
        if c is None or c > 0 or (c == 0 and r.exclusive):
            return False
    return True


@rmethod("Range", "include?", "member?", "cover?", "===")
def _r_include(it: Interp, recv: RRange, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return _covers(recv, args[0])


@rmethod("Range", "to_s")
def _r_to_s(it: Interp, recv: RRange, args: list[Any], blk: Blk | None) -> Any:
    return to_s(recv)


@rmethod("Range", "inspect")
def _r_inspect(it: Interp, recv: RRange, args: list[Any], blk: Blk | None) -> Any:
    return inspect(recv)


@rmethod("Range", "step", "%")
def _r_step(it: Interp, recv: RRange, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    n = _int(args[0])
    if n <= 0:
        raise RubyError("ArgumentError", "step can't be negative" if n < 0 else "step can't be 0")
    values = range_values(recv)[::n]
    if blk is None:
        return values
    for v in values:
        blk(v)
    return recv


@rmethod("Range", "sum")
def _r_sum(it: Interp, recv: RRange, args: list[Any], blk: Blk | None) -> Any:
    bounds = recv.int_bounds()
    if bounds is not None and blk is None and not args:
        lo, hi = bounds
        return (lo + hi) * (hi - lo + 1) // 2 if hi >= lo else 0
    return _sum(it, recv, args, blk)


@rmethod("Range", "==", "eql?")
def _r_eq(it: Interp, recv: RRange, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return recv == args[0]


__all__ = ["MAX_ELEMENTS", "items", "range_values", "sort_values", "array_slice"]
