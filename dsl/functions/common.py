"""Helpers the function families share: iterating a value as Puppet does, calling a block with the
right arguments, names given as nested arrays, the facts, and module files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import types as T
from ..evaluator import Closure
from .contract import Call


def flat(args: Any) -> list[Any]:
    """Nested arrays flattened (``include(['a', ['b']])``)."""
    out: list[Any] = []
    for a in args:
        if isinstance(a, list):
            out.extend(flat(a))
        else:
            out.append(a)
    return out


def iteration_items(call: Call, v: Any) -> tuple[list[Any], bool]:
    """What an iteration function walks over, and whether the items are [key, value] pairs."""
    if isinstance(v, dict):
        return [[k, x] for k, x in v.items()], True
    if isinstance(v, list):
        return v, False
    if isinstance(v, bool):
        call.type_error(f"cannot iterate over {T.generalized_name(v)}")
    if isinstance(v, int):
        return list(range(max(v, 0))), False
    if isinstance(v, str):
        return list(v), False
    r = T.resolve(v) if isinstance(v, T.PType) else v
    if isinstance(r, T.PInteger) and r.lo != -T.INF and r.hi != T.INF:
        if r.hi - r.lo > 10_000_000:
            call.fail(f"the range {r} is too large to iterate over")
        return list(range(int(r.lo), int(r.hi) + 1)), False
    if isinstance(r, T.PEnum):
        return list(r.values), False
    call.type_error(f"cannot iterate over {T.generalized_name(v)}")


def call_with_item(block: Any, item: Any, index: int, is_hash: bool) -> Any:
    """A block of one parameter gets the item (a [key, value] pair for a hash); of two, the index
    (or key) and the value."""
    if block_takes_two(block):
        return block(item[0], item[1]) if is_hash else block(index, item)
    return block(item)


def block_takes_two(block: Any) -> bool:
    """Whether a block can take two arguments (Puppet then passes key and value, or index and value)."""
    if isinstance(block, Closure):
        params = block.lam.params
        return block.min_arity <= 2 and (len(params) >= 2 or bool(params and params[-1].captures_rest))
    return False


def facts(call: Call) -> dict[str, Any]:
    found, value = call.ev.lookup_var("facts")
    return value if found and isinstance(value, dict) else {}


def fact(call: Call, dotted: str) -> Any:
    """A fact by dotted path (``networking.fqdn``), falling back on the legacy top-scope variable."""
    value: Any = facts(call)
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            value = None
            break
    if value is None and "." not in dotted:
        found, legacy = call.ev.lookup_var("::" + dotted)
        value = legacy if found else None
    return value


def fqdn(call: Call) -> str:
    name = fact(call, "networking.fqdn")
    if name is None:
        name = fact(call, "fqdn")
    return "" if name is None else str(name)


def module_file(call: Call, ref: str, subdir: str) -> Path:
    """``'foo/x.epp'`` -> ``<modulepath>/foo/<subdir>/x.epp``, never outside that directory. An absolute
    path is read as it is, as Puppet does, except on the master (``confine_files``), where it must lead
    into the environment or a module on the module path (docs/SECURITY.md)."""
    if Path(ref).is_absolute():
        return readable_path(call, ref)
    mod, _, rest = ref.partition("/")
    mdir = call.ev.autoloader.module_dir(mod)
    if mdir is None or not rest:
        call.fail(f"could not find module '{mod}' for '{ref}' on the module path")
    base = (mdir / subdir).resolve()
    path = (base / rest).resolve()
    if base != path and base not in path.parents:
        call.fail(f"'{ref}' points outside the module's {subdir}/ directory")
    return mdir / subdir / rest  # as the module path names it (links are followed only to check)


def confined(call: Call) -> bool:
    request = getattr(call.ev, "request", None)
    return bool(getattr(request, "confine_files", False))


def readable_path(call: Call, ref: str) -> Path:
    """An absolute path a function may read: any, or on the master one inside the environment or a
    module of the module path (after following links)."""
    path = Path(ref)
    if not confined(call):
        return path
    resolved = path.resolve()
    request = call.ev.request
    roots = [Path(root).resolve() for root in call.ev.autoloader.modulepath]
    if request.env_dir is not None:
        roots.append(Path(request.env_dir).resolve())
    if any(root in resolved.parents for root in roots):
        return resolved
    call.fail(f"'{ref}' is outside the environment and its modules; a manifest compiled by the master reads "
              "no other file of the master's")


def find_module_file(call: Call, ref: str, subdir: str) -> Path | None:
    """As :func:`module_file`, None when the module or the file does not exist."""
    if Path(ref).is_absolute():
        path = module_file(call, ref, subdir)
        return path if path.is_file() else None
    mod, _, rest = ref.partition("/")
    mdir = call.ev.autoloader.module_dir(mod) if mod else None
    if mdir is None or not rest:
        return None
    path = module_file(call, ref, subdir)
    return path if path.is_file() else None
