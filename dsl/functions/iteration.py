"""Iteration and flow: ``each``, ``map``, ``filter``, ``reduce``, ``any``, ``all``, ``index``, ``step``,
``reverse_each``, ``slice``, ``partition``, ``group_by``, ``tree_each``, ``with``, ``then``, ``lest``,
``call``, and ``break``/``next``/``return`` when called as functions.

Iterators are lists here: ``step`` and ``reverse_each`` without a block give the items themselves,
which is what ``Array(...)`` of Puppet's iterator gives."""

from __future__ import annotations

from typing import Any

from .. import types as T
from ..evaluator import _Break, _Next, _Return
from ..valuerules import hashable, puppet_equal, truthy
from ..values import RegexValue
from .common import block_takes_two, call_with_item, iteration_items
from .contract import Call, function

#: one dispatch per shape of block, as Puppet declares them: a block of two parameters gets key and
#: value (or index and value), a block of one gets the item
_ITERATE = ("Hash[Any, Any] $hash, Callable[2, 2] &$block", "Hash[Any, Any] $hash, Callable[1, 1] &$block",
            "Iterable $enumerable, Callable[2, 2] &$block", "Iterable $enumerable, Callable[1, 1] &$block")


@function("each", *_ITERATE)
def each(call: Call, coll: Any) -> Any:
    items, is_hash = iteration_items(call, coll)
    try:
        for i, item in enumerate(items):
            call_with_item(call.block, item, i, is_hash)
    except _Break:
        pass
    return coll


@function("map", *_ITERATE)
def map_(call: Call, coll: Any) -> list[Any]:
    items, is_hash = iteration_items(call, coll)
    out = []
    try:
        for i, item in enumerate(items):
            out.append(call_with_item(call.block, item, i, is_hash))
    except _Break:
        pass
    return out


@function("filter", *_ITERATE)
def filter_(call: Call, coll: Any) -> Any:
    items, is_hash = iteration_items(call, coll)
    kept: list[Any] = []
    try:
        for i, item in enumerate(items):
            if truthy(call_with_item(call.block, item, i, is_hash)):
                kept.append(item)
    except _Break:
        pass
    if is_hash:
        return {k: v for k, v in kept}
    return kept


@function("any", *_ITERATE)
def any_(call: Call, coll: Any) -> bool:
    items, is_hash = iteration_items(call, coll)
    try:
        return any(truthy(call_with_item(call.block, x, i, is_hash)) for i, x in enumerate(items))
    except _Break:
        return False


@function("all", *_ITERATE)
def all_(call: Call, coll: Any) -> bool:
    items, is_hash = iteration_items(call, coll)
    try:
        return all(truthy(call_with_item(call.block, x, i, is_hash)) for i, x in enumerate(items))
    except _Break:
        return True


@function("reduce", "Iterable $enumerable, Callable[2, 2] &$block",
          "Iterable $enumerable, Any $memo, Callable[2, 2] &$block")
def reduce(call: Call, coll: Any, *memo: Any) -> Any:
    items, _ = iteration_items(call, coll)
    if memo:
        acc = memo[0]
    elif not items:
        return None
    else:
        acc, items = items[0], items[1:]
    try:
        for item in items:
            acc = call.block(acc, item)
    except _Break:
        pass
    return acc


@function("index", *_ITERATE, "String $str, Variant[String, Regexp] $match", "Iterable $enumerable, Any $match")
def index(call: Call, coll: Any, *match: Any) -> Any:
    if not match:
        items, is_hash = iteration_items(call, coll)
        try:
            for i, item in enumerate(items):
                if is_hash and not block_takes_two(call.block):
                    hit = call.block(item[1])  # a hash's one-parameter block gets the value here
                else:
                    hit = call_with_item(call.block, item, i, is_hash)
                if truthy(hit):
                    return item[0] if is_hash else i
        except _Break:
            pass
        return None
    want = match[0]
    if isinstance(coll, str) and isinstance(want, (str, RegexValue)):
        if isinstance(want, RegexValue):
            m = want.compiled.search(coll)
            return None if m is None else m.start()
        i = coll.find(want)
        return None if i < 0 else i
    if isinstance(coll, dict):
        return next((k for k, v in coll.items() if puppet_equal(v, want)), None)
    items, _ = iteration_items(call, coll)
    return next((i for i, x in enumerate(items) if puppet_equal(x, want)), None)


@function("step", "Iterable $iterable, Integer[1] $step", "Iterable $iterable, Integer[1] $step, Callable[1, 1] &$block")
def step(call: Call, coll: Any, n: int) -> Any:
    items, _ = iteration_items(call, coll)
    picked = items[::n]
    if call.block is None:
        return picked
    try:
        for x in picked:
            call.block(x)
    except _Break:
        pass
    return None


@function("reverse_each", "Iterable $iterable", "Iterable $iterable, Callable[1, 1] &$block")
def reverse_each(call: Call, coll: Any) -> Any:
    items, _ = iteration_items(call, coll)
    items = list(reversed(items))
    if call.block is None:
        return items
    try:
        for x in items:
            call.block(x)
    except _Break:
        pass
    return None


@function("slice", "Hash[Any, Any] $hash, Integer[1] $slice_size, Callable &$block?",
          "Iterable $enumerable, Integer[1] $slice_size, Callable &$block?")
def slice_(call: Call, coll: Any, size: int) -> Any:
    items, _ = iteration_items(call, coll)
    slices = [items[i:i + size] for i in range(0, len(items), size)]
    if call.block is None:
        return slices
    spread = block_takes_two(call.block)
    try:
        for s in slices:
            if spread:
                call.block(*(s + [None] * (size - len(s))))
            else:
                call.block(s)
    except _Break:
        pass
    return coll


def _grouping(call: Call, coll: Any) -> list[tuple[Any, Any]]:
    """(item, block result) for each item; a hash's items are [key, value] pairs."""
    items, is_hash = iteration_items(call, coll)
    out = []
    for i, item in enumerate(items):
        out.append((item, call_with_item(call.block, item, i, is_hash)))
    return out


@function("partition", "Hash[Any, Any] $hash, Callable[2, 2] &$block", "Hash[Any, Any] $hash, Callable[1, 1] &$block",
          "Iterable $enumerable, Callable[2, 2] &$block", "Iterable $enumerable, Callable[1, 1] &$block")
def partition(call: Call, coll: Any) -> list[list[Any]]:
    yes: list[Any] = []
    no: list[Any] = []
    for item, hit in _grouping(call, coll):
        (yes if truthy(hit) else no).append(item)
    return [yes, no]


@function("group_by", "Hash[Any, Any] $hash, Callable[2, 2] &$block", "Hash[Any, Any] $hash, Callable[1, 1] &$block",
          "Iterable $enumerable, Callable[2, 2] &$block", "Iterable $enumerable, Callable[1, 1] &$block")
def group_by(call: Call, coll: Any) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = {}
    for item, key in _grouping(call, coll):
        groups.setdefault(hashable(key), []).append(item)
    return groups


_TREE_OPTIONS = ("Struct[{Optional[order] => Enum[depth_first, breadth_first], "
                 "Optional[include_containers] => Boolean, Optional[include_values] => Boolean, "
                 "Optional[include_root] => Boolean, Optional[container_type] => Type, "
                 "Optional[include_refs] => Boolean}]")


@function("tree_each", f"Variant[Array, Hash] $tree, {_TREE_OPTIONS} $options?, Callable[2, 2] &$block",
          f"Variant[Array, Hash] $tree, {_TREE_OPTIONS} $options?, Callable[1, 1] &$block",
          f"Variant[Array, Hash] $tree, {_TREE_OPTIONS} $options?")
def tree_each(call: Call, tree: Any, options: dict[str, Any] | None = None) -> Any:
    opts = options or {}
    containers = opts.get("include_containers", True)
    values = opts.get("include_values", True)
    root = opts.get("include_root", True)
    nodes: list[list[Any]] = []

    def children(v: Any) -> list[tuple[Any, Any]]:
        if isinstance(v, dict):
            return list(v.items())
        if isinstance(v, list):
            return list(enumerate(v))
        return []

    def wanted(path: list[Any], v: Any) -> bool:
        is_container = isinstance(v, (list, dict))
        if not path and not root:
            return False
        return containers if is_container else values

    if opts.get("order") == "breadth_first":
        queue: list[tuple[list[Any], Any]] = [([], tree)]
        while queue:
            path, v = queue.pop(0)
            if wanted(path, v):
                nodes.append([path, v])
            queue.extend((path + [k], x) for k, x in children(v))
    else:
        def visit(path: list[Any], v: Any) -> None:
            if wanted(path, v):
                nodes.append([path, v])
            for k, x in children(v):
                visit(path + [k], x)

        visit([], tree)
    if call.block is None:
        return nodes
    two = block_takes_two(call.block)
    try:
        for path, v in nodes:
            call.block(path, v) if two else call.block([path, v])
    except _Break:
        pass
    return tree


@function("with", "Any *$arguments, Callable &$block")
def with_(call: Call, *args: Any) -> Any:
    return call.block(*args)


@function("then", "Any $value, Callable[1, 1] &$block")
def then(call: Call, value: Any) -> Any:
    return None if value is None else call.block(value)


@function("lest", "Any $value, Callable[0, 0] &$block")
def lest(call: Call, value: Any) -> Any:
    return call.block() if value is None else value


@function("call", "String $function_name, Any *$arguments, Callable &$block?", "Any $deferred")
def call_(call: Call, name: Any, *args: Any) -> Any:
    if call.dispatch == 1:  # call(Deferred(...)): make the deferred call now
        from ..evaluator import DeferredValue

        if not isinstance(name, DeferredValue):
            call.type_error(f"parameter 'function_name' expects a String value, got {T.generalized_name(name)}")
        name, args = name.name, tuple(name.arguments or ())
        if name.startswith("$"):
            found, value = call.ev.lookup_var(name[1:], call.node)
            return value if found else None
    return call.ev.call_function(name, list(args), call.block, call.node)


@function("break")
def break_(call: Call) -> Any:
    raise _Break()


@function("next", "Any $value?")
def next_(call: Call, value: Any = None) -> Any:
    raise _Next(value)


@function("return", "Any $value?")
def return_(call: Call, value: Any = None) -> Any:
    raise _Return(value)
