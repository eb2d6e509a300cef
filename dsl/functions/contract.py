"""The signature contract of functions, checked in one place.

A function declares its dispatches as Puppet's 4.x function API does: each is a parameter list with
Puppet types, optional (``?``) and repeated (``*`` for none or more, ``+`` for one or more)
parameters, and an optional block (``&``)::

    @function("split", "String $str, Variant[String, Regexp, Type[Regexp]] $pattern")
    def split(call: Call, s: str, pattern: Any) -> list[str]: ...

    @function("each", "Hash $hash, Callable[2, 2] &$block", "Iterable $enumerable, Callable[1, 1] &$block")

:meth:`Function.__call__` picks the first dispatch the arguments fit (their count, their types, the
block and the number of its parameters) and calls the body with the arguments as Python arguments
(``call`` first); when none fits it raises one positioned error naming the function and the argument,
worded as Puppet 7 words it (``upcase(): expects 1 argument, got none``, ``keys(): parameter 'hsh'
expects a Hash value, got Integer``). A body therefore never checks its own arity, and raises only
through :meth:`Call.fail`, which names the function; anything else escaping a body is still reported
as one positioned line, never a traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from .. import types as T
from ..errors import DslError, DslTypeError, EvaluationError
from ..evaluator import Closure, Evaluator, _Break, _Next, _Return
from ..values import RegexValue

if TYPE_CHECKING:
    from .. import ast

log = logging.getLogger(__name__)

INF = float("inf")

#: every built-in function, by name (a function with several names appears under each)
FUNCTIONS: dict[str, Function] = {}

#: where :func:`function` registers: the built-ins, or the table of one environment's ports while the
#: autoloader loads a module's ``lib/bunraku/functions/*.py`` (see :mod:`dsl.functions.ports`)
_TARGET: ContextVar[dict[str, Function] | None] = ContextVar("function_registry", default=None)


# -- the declaration ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type_text: str
    lo: int  # how many arguments it takes at least: 1 required, 0 optional or repeated
    hi: float  # at most: 1, or INF when repeated

    def __str__(self) -> str:
        mark = {(1, 1): "", (0, 1): "?", (0, INF): "*", (1, INF): "+"}[(self.lo, self.hi)]
        return f"{display_type(self.type_text)} {self.name}{mark}"


@dataclass(frozen=True, slots=True)
class BlockParam:
    name: str
    type_text: str  # ``Callable`` or ``Callable[lo, hi]`` / ``Callable[T1, T2]``
    required: bool
    lo: int = 0
    hi: float = INF

    def accepts(self, block: Any) -> bool:
        """Whether a lambda can be called with every count of arguments this block is given (any
        lambda, for a plain ``Callable``)."""
        if not isinstance(block, Closure) or (self.lo == 0 and self.hi == INF):
            return True
        params = block.lam.params
        most = INF if params and params[-1].captures_rest else len(params)
        return block.min_arity <= self.lo and most >= self.hi

    def __str__(self) -> str:
        return f"{display_type(self.type_text)} {self.name}{'' if self.required else '?'}"


@dataclass(slots=True)
class Dispatch:
    params: tuple[Param, ...]
    block: BlockParam | None
    text: str
    lo: int = 0  # how many arguments it takes at least
    hi: float = 0  # and at most
    _types: list[T.PType] | None = field(default=None)

    def __post_init__(self) -> None:
        self.lo = sum(p.lo for p in self.params)
        self.hi = sum(p.hi for p in self.params)

    def types(self, ev: Any = None) -> list[T.PType]:
        """The parameters' types. The language's own types are resolved once; a signature naming a
        type alias (a module's port may: ``Stdlib::Port``) is resolved in the calling compilation."""
        if self._types is not None:
            return self._types
        try:
            self._types = [resolve_type(p.type_text) for p in self.params]
        except UnknownTypeName:
            if ev is None:
                raise
            return [resolve_type_in(p.type_text, ev) for p in self.params]
        return self._types

    def param_at(self, i: int, n: int) -> int:
        """The index of the parameter that takes argument ``i`` of ``n``."""
        spare = n - self.lo  # arguments beyond the required ones, given to optional/repeated params
        pos = 0
        for k, p in enumerate(self.params):
            take = p.lo
            extra = min(spare, p.hi - p.lo)
            take += int(extra)
            spare -= int(extra)
            if i < pos + take:
                return k
            pos += take
        return len(self.params) - 1

    def mismatch(self, args: Sequence[Any], ev: Any = None) -> tuple[int, int] | None:
        """The first argument that does not fit: (parameter index, argument index), or None."""
        types = self.types(ev)
        if len(self.params) == 1 and self.params[0].hi == 1:  # the common case, without param_at
            return None if not args or types[0].instance(args[0]) else (0, 0)
        for i, v in enumerate(args):
            k = self.param_at(i, len(args))
            if not types[k].instance(v):
                return k, i
        return None

    def why(self, k: int, i: int, args: Sequence[Any], ev: Any) -> str:
        return f"parameter '{self.params[k].name}' {mismatch_message(self.types(ev)[k], args[i])}"

    def __str__(self) -> str:
        parts = [str(p) for p in self.params] + ([str(self.block)] if self.block else [])
        return "(" + ", ".join(parts) + ")"


_PARAM_RE = re.compile(r"(?P<type>.*?)\s*(?P<mark>[*+&]?)\$(?P<name>\w+)(?P<opt>\?)?\s*\Z", re.S)
_CALLABLE_RE = re.compile(r"\ACallable(?:\[(?P<args>.*)\])?\Z", re.S)


def parse_signature(text: str) -> Dispatch:
    """``"String $str, Integer $n?, Any *$rest, Callable[1, 1] &$block"`` -> a :class:`Dispatch`."""
    params: list[Param] = []
    block: BlockParam | None = None
    for part in _split_top(text):
        m = _PARAM_RE.match(part.strip())
        if m is None:
            raise ValueError(f"bad parameter {part!r} in signature {text!r}")
        type_text = m.group("type").strip()
        mark, name, optional = m.group("mark"), m.group("name"), bool(m.group("opt"))
        if block is not None:
            raise ValueError(f"the block must be the last parameter in {text!r}")
        if mark == "&":
            block = _block_param(name, type_text or "Callable", not optional)
            continue
        if params and params[-1].hi == INF:
            raise ValueError(f"a repeated parameter must be the last one in {text!r}")
        if params and params[-1].lo == 0 and not optional and mark != "*":
            raise ValueError(f"a required parameter follows an optional one in {text!r}")
        lo, hi = {"": (0 if optional else 1, 1), "*": (0, INF), "+": (1, INF)}[mark]
        params.append(Param(name, type_text or "Any", lo, hi))
    return Dispatch(tuple(params), block, text)


def _block_param(name: str, type_text: str, required: bool) -> BlockParam:
    m = _CALLABLE_RE.match(type_text)
    if m is None:
        raise ValueError(f"a block's type must be a Callable, not {type_text!r}")
    args = [a.strip() for a in _split_top(m.group("args") or "")]
    if not args:
        return BlockParam(name, type_text, required)
    if all(a.isdigit() or a == "default" for a in args):
        lo = int(args[0])
        hi = INF if len(args) < 2 or args[1] == "default" else int(args[1])
        return BlockParam(name, type_text, required, lo, hi)
    return BlockParam(name, type_text, required, len(args), len(args))


def _split_top(text: str) -> list[str]:
    """Split at the commas outside brackets, quotes and regular expressions."""
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    quote = ""
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "/" and text[i - 1:i] in ("[", " ", ","):
            quote = "/"
        elif c in "[{(":
            depth += 1
        elif c in "]})":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if depth != 0 or quote:
        raise ValueError(f"unbalanced brackets or quotes in {text!r}")
    if text[start:].strip():
        parts.append(text[start:])
    return [p for p in parts if p.strip()]


def display_type(text: str) -> str:
    return " ".join(text.split())


# -- types named in signatures ------------------------------------------------------------------------
class UnknownTypeName(ValueError):
    """A signature names a type that is not one of the language's own."""


class _SignatureTypes(Evaluator):
    """Evaluates the type expressions of signatures: only the language's own types, no aliases."""

    def resolve_type_name(self, name: str, node: ast.Node | None) -> T.PType:
        simple = T.SIMPLE_TYPES.get(name.lstrip(":"))
        if simple is None:
            raise UnknownTypeName(f"unknown type '{name}' in a function signature")
        return simple


_TYPES: dict[str, T.PType] = {}
_EXPRESSIONS: dict[str, ast.Node] = {}


def _type_expression(text: str) -> ast.Node:
    node = _EXPRESSIONS.get(text)
    if node is None:
        from ..parser import parse_string

        stmts = parse_string(text, "<signature>").body.statements
        if len(stmts) != 1:
            raise ValueError(f"'{text}' is not one type")
        node = _EXPRESSIONS[text] = stmts[0]
    return node


def resolve_type(text: str) -> T.PType:
    t = _TYPES.get(text)
    if t is None:
        value = _SignatureTypes({}).eval(_type_expression(text))
        if not isinstance(value, T.PType):
            raise ValueError(f"'{text}' is not a type")
        t = _TYPES[text] = value
    return t


def resolve_type_in(text: str, ev: Any) -> T.PType:
    """A signature's type as the compilation ``ev`` resolves it, with its type aliases."""
    saved = ev.scope
    ev.scope = ev.top
    try:
        t: T.PType = ev.eval_type(_type_expression(text))
    finally:
        ev.scope = saved
    return t


def mismatch_message(t: T.PType, v: Any) -> str:
    """Why ``v`` is not a ``t``, in the words of Puppet's mismatch describer."""
    return describe_mismatch([t], v)


def describe_mismatch(expected: list[T.PType], v: Any) -> str:
    """``expects an Integer value, got String``, ``expects a value of type A, B, or C, got X``: the
    expected types (a Variant counts as its alternatives) and the value's type, in full when the value
    is of the kind of one of them (``expects a String[1] value, got String``), else by their names
    (``expects a Hash value, got Tuple``); enumerations merge into one."""
    flat: list[T.PType] = []
    for t in expected:
        r = T.resolve(t)
        flat.extend(r.types if isinstance(r, T.PVariant) and not isinstance(t, T.PTypeAlias) else [t])
    flat = list(dict.fromkeys(flat))
    if flat and all(isinstance(T.resolve(x), T.PEnum) for x in flat):
        values = sorted({val for x in flat for val in T.resolve(x).values})  # type: ignore[attr-defined]
        return T.mismatch_message(T.PEnum(tuple(values)), v)
    actual = T.type_of(v)
    detailed = any(_kin(e, actual, v) for e in flat)
    if len(flat) == 1:
        if detailed:
            return T.mismatch_message(flat[0], v)
        return f"expects {_article(_short_name(flat[0]))} value, got {_actual_name(v)}"
    if detailed:
        names = [str(e) for e in flat]
        fully = any(_same_kind(e, actual) for e in flat)
        got = str(actual) if fully or any(e.instance(v) for e in flat) else _actual_name(v)
    else:
        names = [_short_name(e) for e in flat]
        got = _actual_name(v)
    return f"expects a value of type {_alternatives(names)}, got {got}"


def _same_kind(e: T.PType, actual: T.PType) -> bool:
    r = T.resolve(e)
    return type(r) is type(actual) or isinstance(e, T.PTypeAlias) or \
        (isinstance(r, T.PStruct) and isinstance(actual, T.PHash)) or \
        (isinstance(r, T.PTuple) and isinstance(actual, T.PArray))


def _kin(e: T.PType, actual: T.PType, v: Any) -> bool:
    """Whether the value is of the kind of ``e`` (Puppet then describes the mismatch in full)."""
    bare = T.SIMPLE_TYPES.get(T.resolve(e).name)
    return _same_kind(e, actual) or (bare is not None and bare.instance(v))


def _short_name(t: T.PType) -> str:
    """A type's name; Optional, NotUndef, Sensitive and Type with the name of what they contain."""
    if isinstance(t, T.PTypeAlias):
        return str(t)
    inner = getattr(t, "type", None)
    if isinstance(t, (T.PTypeType, T.POptional, T.PNotUndef, T.PSensitive)) and isinstance(inner, T.PType) \
            and not isinstance(inner, T.PAny):
        return f"{t.name}[{T.resolve(inner).name}]"
    return t.name


def _actual_name(v: Any) -> str:
    if isinstance(v, dict) and not v:
        return "Hash"
    return _short_name(T.type_of(v))


def _article(name: str) -> str:
    return ("an " if name[:1] in "AEIOU" else "a ") + name


def _alternatives(names: list[str]) -> str:
    names = list(dict.fromkeys(names))
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} or {names[1]}"
    return ", ".join(names[:-1]) + ", or " + names[-1]


# -- the call ----------------------------------------------------------------------------------------
class Call:
    """What a function body gets besides its arguments: the evaluator, the call's position, the
    block and the function's name. ``call.fail(msg)`` raises ``NAME(): msg`` at the call."""

    __slots__ = ("ev", "node", "block", "name", "dispatch")

    def __init__(self, ev: Any, node: ast.Node, block: Any, name: str, dispatch: int) -> None:
        self.ev = ev  # the Evaluator; during compilation the Compiler
        self.node = node
        self.block = block
        self.name = name
        self.dispatch = dispatch  # the index of the dispatch the arguments fit

    def fail(self, message: str, cls: type[EvaluationError] = EvaluationError) -> NoReturn:
        raise cls(f"{self.name}(): {message}", self.node.span)

    def type_error(self, message: str) -> NoReturn:
        self.fail(message, DslTypeError)

    def error(self, message: str, cls: type[EvaluationError] = EvaluationError) -> NoReturn:
        """Raise ``message`` at the call as it is, without the function's name (``fail()``, stdlib's
        validate_* messages)."""
        raise cls(message, self.node.span)

    def warn(self, message: str) -> None:
        self.ev.warn(self.node, f"{self.name}(): {message}")

    def call_block(self, *args: Any) -> Any:
        assert self.block is not None
        return self.block(*args)

    def call_function(self, name: str, *args: Any, block: Any = None) -> Any:
        return self.ev.call_function(name, list(args), block, self.node)


Impl = Callable[..., Any]
ImplT = TypeVar("ImplT", bound=Impl)


class Function:
    """A function: its name, its dispatches and its body.

    ``legacy`` marks a port of a function written for Puppet's 3.x API: Puppet hands such a function
    an undef argument as an empty string, and so does :meth:`__call__`."""

    __slots__ = ("name", "dispatches", "impl", "origin", "legacy")

    def __init__(self, name: str, dispatches: Sequence[Dispatch], impl: Impl, origin: str,
                 legacy: bool = False) -> None:
        self.name = name
        self.dispatches = tuple(dispatches)
        self.impl = impl
        self.origin = origin  # the Python module that defines it
        self.legacy = legacy

    def __repr__(self) -> str:
        return f"<function {self.name}{' | '.join(str(d) for d in self.dispatches)}>"

    def signatures(self) -> Iterator[str]:
        for d in self.dispatches:
            yield f"{self.name}{d}"

    # -- the one place a call is checked ---------------------------------------------------------------
    def select(self, args: Sequence[Any], block: Any, ev: Any = None) -> tuple[int, str | None, type[EvaluationError]]:
        """(index of the first dispatch the call fits, None) or (-1, why none fits, error class)."""
        n = len(args)
        by_count = [(i, d) for i, d in enumerate(self.dispatches) if d.lo <= n <= d.hi]
        if not by_count:
            lo = min(d.lo for d in self.dispatches)
            hi = max(d.hi for d in self.dispatches)
            return -1, _count_message(lo, hi, n), EvaluationError
        if block is None:
            fits = [(i, d) for i, d in by_count if d.block is None or not d.block.required]
            if not fits:
                return -1, "expects a block", EvaluationError
        else:
            with_block = [(i, d) for i, d in by_count if d.block is not None]
            if not with_block:
                return -1, "does not expect a block", EvaluationError
            fits = [(i, d) for i, d in with_block if d.block is not None and d.block.accepts(block)]
            if not fits:
                lo = min(d.block.lo for _, d in with_block if d.block is not None)
                hi = max(d.block.hi for _, d in with_block if d.block is not None)
                got = len(block.lam.params) if isinstance(block, Closure) else 0
                return -1, "block " + _count_message(lo, hi, got), EvaluationError
        rejected: list[tuple[Dispatch, int, int]] = []
        for i, d in fits:
            miss = d.mismatch(args, ev)
            if miss is None:
                return i, None, EvaluationError
            rejected.append((d, *miss))
        return -1, _rejection_message(rejected, args, ev), DslTypeError

    def __call__(self, ev: Any, args: list[Any], block: Any, node: ast.Node) -> Any:
        if self.legacy:
            args = [_legacy_argument(a) for a in args]
        try:
            index, why, cls = self.select(args, block, ev)
        except (ValueError, DslError) as exc:  # a port's signature that does not parse or names no type
            ev.fail(node, f"{self.name}(): its signature is wrong: {getattr(exc, 'message', exc)}")
        if why is not None:
            ev.fail(node, f"{self.name}(): {why}", cls)
        call = Call(ev, node, block, self.name, index)
        try:
            return self.impl(call, *args)
        except DslError as exc:
            if exc.span is None or exc.span.line == 0:  # raised below the body without a position: the call's
                where = f"{exc.span.file}: " if exc.span is not None and exc.span.file not in ("", "<unknown>") else ""
                raise type(exc)(f"{self.name}(): {where}{exc.message}", node.span) from None
            raise
        except (_Next, _Break, _Return, RecursionError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - a body's slip is still one positioned line
            log.debug("%s() failed", self.name, exc_info=True)
            ev.fail(node, f"{self.name}(): internal error: {type(exc).__name__}: {exc}")


def _legacy_argument(v: Any) -> Any:
    """An argument as Puppet hands it to a 3.x function: undef as '', a regular expression as its
    ``/source/`` text (at any depth)."""
    if v is None:
        return ""
    return _legacy_value(v)


def _legacy_value(v: Any) -> Any:
    if isinstance(v, RegexValue):
        return f"/{v.pattern}/"
    if isinstance(v, list):
        return [_legacy_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _legacy_value(x) for k, x in v.items()}
    return v


def _count_message(lo: float, hi: float, n: int) -> str:
    got = "none" if n == 0 else str(n)
    if lo == hi:
        if lo == 0:
            return f"expects no arguments, got {got}"
        return f"expects {int(lo)} argument{'s' if lo != 1 else ''}, got {got}"
    if hi == INF:
        return f"expects at least {int(lo)} argument{'s' if lo != 1 else ''}, got {got}"
    return f"expects between {int(lo)} and {int(hi)} arguments, got {got}"


def _rejection_message(rejected: list[tuple[Dispatch, int, int]], args: Sequence[Any], ev: Any) -> str:
    """One dispatch: its reason. Several failing at the same parameter and argument: the types they
    would take (``parameter 'pattern' expects a value of type String, Regexp, or Type[Regexp]``).
    Otherwise each signature with its reason, on one line."""
    if len(rejected) == 1:
        d, k, i = rejected[0]
        return d.why(k, i, args, ev)
    first, index, arg = rejected[0]
    name = first.params[index].name
    if all(d.params[k].name == name and i == arg for d, k, i in rejected):
        return f"parameter '{name}' {describe_mismatch([d.types(ev)[k] for d, k, _ in rejected], args[arg])}"
    return "expects one of " + "; ".join(f"{d} (rejected: {d.why(k, i, args, ev)})" for d, k, i in rejected)


# -- registering ---------------------------------------------------------------------------------------
def function(name: str, *signatures: str, also: Sequence[str] = (), legacy: bool = False
             ) -> Callable[[ImplT], ImplT]:
    """Declare a function with its dispatches (``"Type $name"`` lists; none means no arguments).

    Built-ins register in :data:`FUNCTIONS` (a name registered twice fails at import); a module's
    Python port registers in its environment's table while the autoloader loads it. ``also`` are
    other names of the same function; ``legacy`` marks a port of a Puppet 3.x API function."""

    dispatches = [parse_signature(s) for s in (signatures or ("",))]

    def register(impl: ImplT) -> ImplT:
        target = _TARGET.get()
        table = FUNCTIONS if target is None else target
        for n in (name, *also):
            if n in table:
                raise RuntimeError(f"function {n} registered twice")
            table[n] = Function(n, dispatches, impl, impl.__module__, legacy)
        return impl  # the body stays a plain Python function other bodies may call

    return register
