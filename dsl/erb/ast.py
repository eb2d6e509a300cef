"""The syntax tree of the Ruby subset: frozen, slotted nodes, each with the template line it came from.

Operators are method calls in Ruby (``a + b`` is ``a.+(b)``), so they are :class:`Call` nodes here too;
only the ones with their own evaluation rules (``&&``, ``||``, ``!``, ``defined?``, assignments) have
nodes of their own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Node:
    line: int


# -- output of the template ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Text(Node):
    """Print the template's text piece ``index``."""

    index: int


@dataclass(frozen=True, slots=True)
class Insert(Node):
    """``<%= expr %>``: print ``expr.to_s``."""

    expr: Node


@dataclass(frozen=True, slots=True)
class Seq(Node):
    """Statements in order; the value is the last one's (nil when empty)."""

    body: tuple[Node, ...]


# -- literals -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Literal(Node):
    """nil, true, false, an Integer, a Float or a String without interpolation."""

    value: object


@dataclass(frozen=True, slots=True)
class DStr(Node):
    """A string with ``#{}`` interpolation: literal pieces and expressions."""

    parts: tuple[str | Node, ...]


@dataclass(frozen=True, slots=True)
class Sym(Node):
    name: str


@dataclass(frozen=True, slots=True)
class DSym(Node):
    parts: tuple[str | Node, ...]


@dataclass(frozen=True, slots=True)
class RegexLit(Node):
    parts: tuple[str | Node, ...]
    flags: str


@dataclass(frozen=True, slots=True)
class ArrayLit(Node):
    elements: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class HashLit(Node):
    """Pairs in order; a :class:`DoubleSplat` in ``pairs`` stands alone as (splat, None)."""

    pairs: tuple[tuple[Node, Node | None], ...]


@dataclass(frozen=True, slots=True)
class RangeLit(Node):
    low: Node | None
    high: Node | None
    exclusive: bool


@dataclass(frozen=True, slots=True)
class SelfRef(Node):
    pass


@dataclass(frozen=True, slots=True)
class Lambda(Node):
    """``->(x) { }``, ``lambda { |x| }``, ``proc { |x| }``."""

    block: Block


# -- variables ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LVar(Node):
    name: str


@dataclass(frozen=True, slots=True)
class IVar(Node):
    """``@name``: the Puppet variable of that name in the template's scope."""

    name: str


@dataclass(frozen=True, slots=True)
class GVar(Node):
    """``$~``, ``$1``...: the last regex match."""

    name: str


@dataclass(frozen=True, slots=True)
class Const(Node):
    """``Name``, ``Outer::Name`` (``scope`` set) or ``::Name`` (``top``)."""

    scope: Node | None
    name: str
    top: bool = False


# -- calls ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Splat(Node):
    value: Node


@dataclass(frozen=True, slots=True)
class DoubleSplat(Node):
    value: Node


@dataclass(frozen=True, slots=True)
class BlockPass(Node):
    """``&:name`` or ``&callable`` as the last argument."""

    value: Node


@dataclass(frozen=True, slots=True)
class Param(Node):
    """A block or method parameter: a name, a nested ``(a, b)`` destructuring, ``*rest`` or ``&blk``."""

    name: str
    nested: tuple[Param, ...] = ()
    splat: bool = False
    block: bool = False
    default: Node | None = None


@dataclass(frozen=True, slots=True)
class Block(Node):
    params: tuple[Param, ...]
    body: Node
    #: ``|a|`` with a trailing comma (``|a, |``) destructures like several parameters
    has_params: bool = False


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A method call: ``recv.name(args) { block }``; ``recv`` None for a receiver-less call.

    ``vcall``: a bare name that may be a method call (``foo``), for Ruby's "undefined local variable or
    method" message. ``safe``: ``&.``."""

    recv: Node | None
    name: str
    args: tuple[Node, ...] = ()
    block: Block | None = None
    block_arg: Node | None = None
    safe: bool = False
    vcall: bool = False


@dataclass(frozen=True, slots=True)
class Super(Node):
    pass


# -- assignment -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Assign(Node):
    """``target = value``; target is an LVar, IVar, GVar, Const, an index Call (``a[k]``) or an
    attribute Call (``a.b``)."""

    target: Node
    value: Node


@dataclass(frozen=True, slots=True)
class OpAssign(Node):
    """``target op= value``; op is a binary operator, ``||`` or ``&&``."""

    target: Node
    op: str
    value: Node


@dataclass(frozen=True, slots=True)
class MultiAssign(Node):
    """``a, b = value``: the value (an array, or one value) spread over the targets."""

    targets: tuple[Node, ...]
    splat_index: int
    value: Node


# -- logic and control flow --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class And(Node):
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Or(Node):
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Not(Node):
    expr: Node


@dataclass(frozen=True, slots=True)
class Defined(Node):
    expr: Node


@dataclass(frozen=True, slots=True)
class If(Node):
    cond: Node
    then: Node
    else_: Node | None


@dataclass(frozen=True, slots=True)
class While(Node):
    cond: Node
    body: Node
    until: bool = False
    #: ``begin ... end while cond`` runs the body before the first test
    do_while: bool = False


@dataclass(frozen=True, slots=True)
class For(Node):
    targets: tuple[Node, ...]
    iterable: Node
    body: Node


@dataclass(frozen=True, slots=True)
class When(Node):
    tests: tuple[Node, ...]
    body: Node


@dataclass(frozen=True, slots=True)
class Case(Node):
    subject: Node | None
    whens: tuple[When, ...]
    else_: Node | None


@dataclass(frozen=True, slots=True)
class RescueClause(Node):
    classes: tuple[Node, ...]
    var: str | None
    body: Node


@dataclass(frozen=True, slots=True)
class Begin(Node):
    body: Node
    rescues: tuple[RescueClause, ...]
    else_: Node | None
    ensure: Node | None


@dataclass(frozen=True, slots=True)
class Jump(Node):
    """``next``, ``break``, ``return`` (with an optional value), ``redo``, ``retry``."""

    kind: str
    value: Node | None


@dataclass(frozen=True, slots=True)
class Def(Node):
    """``def name(params) ... end``: a method of the template object."""

    name: str
    params: tuple[Param, ...]
    body: Node
