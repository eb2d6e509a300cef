"""Parameters of the rich-value types: ``SemVer['>=1.0.0', '3.x']``, ``Timespan[from, to]`` and
``Timestamp[from, to]`` (ends as values, numbers of seconds or strings; ``default`` for an open end)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from . import types as T
from .semver import VersionError, VersionRange
from .timevalues import TimeError, Timespan, Timestamp, parse_timespan, parse_timestamp, to_nanos
from .values import DEFAULT

if TYPE_CHECKING:
    from . import ast
    from .evaluator import Evaluator


def parametrize_rich(ev: Evaluator, base: T.PType, args: list[Any], node: ast.Node) -> T.PType:
    try:
        if isinstance(base, T.PSemVer):
            ranges = []
            for a in args:
                if isinstance(a, VersionRange):
                    ranges.append(a)
                elif isinstance(a, str):
                    ranges.append(VersionRange.parse(a))
                else:
                    _fail(ev, node, f"SemVer[] takes version ranges (String or SemVerRange), got "
                                    f"{T.generalized_name(a)}")
            return T.PSemVer(ranges)
        if not 1 <= len(args) <= 2:
            _fail(ev, node, f"{base.name}[] takes 1 or 2 arguments, got {len(args)}")
        ends = [_end(ev, base, a, node) for a in args]
        lo = ends[0]
        hi = ends[1] if len(ends) > 1 else None
        if lo is not None and hi is not None and lo.nsecs > hi.nsecs:
            _fail(ev, node, f"{base.name}[]: 'from' must be less or equal to 'to', got {lo} and {hi}")
        return T.PTimespan(lo, hi) if isinstance(base, T.PTimespan) else T.PTimestamp(lo, hi)
    except (VersionError, TimeError) as exc:
        _fail(ev, node, str(exc))


def _fail(ev: Evaluator, node: ast.Node, message: str) -> NoReturn:
    ev.fail(node, message)


def _end(ev: Evaluator, base: T.PType, a: Any, node: ast.Node) -> Any:
    cls = Timespan if isinstance(base, T.PTimespan) else Timestamp
    if a is DEFAULT:
        return None
    if isinstance(a, cls):
        return a
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        return cls(to_nanos(a))
    if isinstance(a, str):
        return parse_timespan(a) if cls is Timespan else parse_timestamp(a, None, None)
    _fail(ev, node, f"Unable to create a {cls.__name__} from {T.generalized_name(a)}")
