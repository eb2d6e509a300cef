"""The manifest AST: frozen, slotted dataclasses, each carrying its source span.

Lark trees never leave ``dsl.parser``; everything after parsing works on these nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import Span


@dataclass(frozen=True, slots=True)
class Node:
    span: Span


# -- values ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Any  # str, int, float, bool or None (undef)


@dataclass(frozen=True, slots=True)
class DefaultLit(Node):
    pass


@dataclass(frozen=True, slots=True)
class Concat(Node):
    """A double-quoted string or heredoc with interpolation: text (str) and expression parts."""

    parts: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RegexLit(Node):
    pattern: str


@dataclass(frozen=True, slots=True)
class Var(Node):
    name: str


@dataclass(frozen=True, slots=True)
class QName(Node):
    """A bare word: ``present``, ``foo::bar``."""

    name: str


@dataclass(frozen=True, slots=True)
class TypeRef(Node):
    """A capitalised name: ``File``, ``Integer``, ``Profile::Base``."""

    name: str


@dataclass(frozen=True, slots=True)
class ArrayLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class HashLit(Node):
    pairs: tuple[tuple[Node, Node], ...]


# -- operators ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Access(Node):
    target: Node
    keys: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class BinOp(Node):
    op: str
    left: Node
    right: Node


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
    operand: Node


@dataclass(frozen=True, slots=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Splat(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Selector(Node):
    subject: Node
    entries: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Param(Node):
    name: str
    type_expr: Node | None
    default: Node | None
    captures_rest: bool


@dataclass(frozen=True, slots=True)
class Lambda(Node):
    params: tuple[Param, ...]
    body: Block


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]
    lambda_: Lambda | None


@dataclass(frozen=True, slots=True)
class MethodCall(Node):
    target: Node
    name: str
    args: tuple[Node, ...]
    lambda_: Lambda | None


@dataclass(frozen=True, slots=True)
class TypeCall(Node):
    """``Integer('42')``: a new value of a type; ``Integer[0, 9]('5')`` has the parametrized type as target."""

    type_name: str
    args: tuple[Node, ...]
    target: Node | None = None


# -- statements -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Block(Node):
    statements: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class If(Node):
    cond: Node
    then: Block
    otherwise: Node | None  # Block, If (elsif) or None


@dataclass(frozen=True, slots=True)
class Unless(Node):
    cond: Node
    then: Block
    otherwise: Block | None


@dataclass(frozen=True, slots=True)
class CaseOption(Node):
    values: tuple[Node, ...]
    body: Block


@dataclass(frozen=True, slots=True)
class Case(Node):
    subject: Node
    options: tuple[CaseOption, ...]


@dataclass(frozen=True, slots=True)
class Assign(Node):
    target: Node  # Var or ArrayLit of Var
    value: Node


@dataclass(frozen=True, slots=True)
class AttributeOp(Node):
    name: str  # '*' for a splat
    op: str  # '=>' or '+>'
    value: Node


@dataclass(frozen=True, slots=True)
class ResourceBody(Node):
    title: Node
    ops: tuple[AttributeOp, ...]


@dataclass(frozen=True, slots=True)
class ResourceExpr(Node):
    type_name: str  # as written: 'file', 'class', 'foo::bar'
    bodies: tuple[ResourceBody, ...]
    form: str  # 'regular', 'virtual', 'exported'


@dataclass(frozen=True, slots=True)
class ResourceDefaults(Node):
    type_name: str
    ops: tuple[AttributeOp, ...]


@dataclass(frozen=True, slots=True)
class ResourceOverride(Node):
    target: Node
    ops: tuple[AttributeOp, ...]


@dataclass(frozen=True, slots=True)
class Collector(Node):
    type_name: str
    query: Node | None
    exported: bool
    ops: tuple[AttributeOp, ...]


@dataclass(frozen=True, slots=True)
class Relationship(Node):
    op: str  # '->', '~>', '<-', '<~'
    left: Node
    right: Node


# -- definitions ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ClassDef(Node):
    name: str
    params: tuple[Param, ...]
    parent: str | None
    body: Block


@dataclass(frozen=True, slots=True)
class DefineDef(Node):
    name: str
    params: tuple[Param, ...]
    body: Block


@dataclass(frozen=True, slots=True)
class HostMatch(Node):
    kind: str  # 'name', 'regex', 'default'
    value: str


@dataclass(frozen=True, slots=True)
class NodeDef(Node):
    matches: tuple[HostMatch, ...]
    parent: HostMatch | None
    body: Block


@dataclass(frozen=True, slots=True)
class FunctionDef(Node):
    name: str
    params: tuple[Param, ...]
    return_type: Node | None
    body: Block


@dataclass(frozen=True, slots=True)
class TypeAlias(Node):
    name: str
    type_expr: Node


@dataclass(frozen=True, slots=True)
class Program(Node):
    body: Block
    source: str
