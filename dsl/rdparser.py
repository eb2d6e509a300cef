"""The fast path of the parser: recursive descent over the lexer's tokens, building the AST directly.

It accepts exactly the language of ``grammar.lark`` and builds the same nodes with the same spans as
the reference LALR path in :mod:`dsl.parser` (where the LALR tables resolve a shift/reduce choice by
shifting, this parser is greedy in the same place). It never reports a syntax error itself: on any
input it cannot parse it raises :class:`Fallback`, and the reference path reparses the text and
reports the error word for word (``tests/dsl/test_parser_equivalence.py`` holds the two to the same
trees over every manifest we have, and over broken variants of them).

Spans follow one rule, the reference's: a node that covers several children spans from the first
child that has a position to the last one; tokens dropped from the tree (brackets, commas) never
count.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from . import ast
from .errors import DslError, DslSyntaxError, Span
from .lexer import Lexer


class Fallback(Exception):
    """The fast path cannot parse this text; the reference path will (or will report why not)."""


#: tokens that can start an expression (the FIRST set of ``expr`` in the grammar)
EXPR_START = frozenset({
    "NUMBER", "STRING", "DQPRE", "REGEX", "TRUE", "FALSE", "UNDEF", "DEFAULT", "VARIABLE", "NAME",
    "STMT_NAME", "CLASSREF", "_LISTSTART", "_HASH_LBRACE", "_LPAREN", "IF", "UNLESS", "CASE", "MINUS",
    "TIMES", "NOT",
})
ATTR_NAMES = frozenset({
    "NAME", "STMT_NAME", "UNLESS", "IF", "CASE", "CLASS", "DEFINE", "NODE", "FUNCTION", "AND", "OR", "IN",
    "TRUE", "FALSE", "UNDEF", "DEFAULT", "TYPE_ALIAS",
})
ATTR_START = ATTR_NAMES | {"TIMES"}
METHOD_NAMES = frozenset({"NAME", "STMT_NAME", "TYPE_ALIAS", "IN", "AND", "OR", "DEFAULT"})
HOST_START = frozenset({"STRING", "DQPRE", "REGEX", "DEFAULT", "NAME"})
EDGES = frozenset({"OUT_EDGE", "OUT_EDGE_SUB", "IN_EDGE", "IN_EDGE_SUB"})
#: binary operators by precedence, lowest first; 3 is the selector (``? {``)
PREC = {
    "OR": 1, "AND": 2, "_QMARK": 3, "LT": 4, "LE": 4, "GT": 4, "GE": 4, "ISEQUAL": 5, "NOTEQUAL": 5,
    "LSHIFT": 6, "RSHIFT": 6, "PLUS": 7, "MINUS": 7, "TIMES": 8, "DIV": 8, "MODULO": 8, "MATCH": 9,
    "NOMATCH": 9, "IN": 10,
}
_END = "$END"


# -- helpers shared with the reference path ----------------------------------------------------------
def octal_or_int(text: str) -> int:
    if text.startswith(("0x", "0X")):
        return int(text, 16)
    if len(text) > 1 and text.startswith("0"):
        return int(text, 8)
    return int(text)


def number_value(text: str) -> int | float:
    """The value of a NUMBER token; ValueError when it is not a valid number (``08``)."""
    if "." in text or (("e" in text or "E" in text) and not text.startswith(("0x", "0X"))):
        return float(text)
    return octal_or_int(text)


def check_builtin_params(params: tuple[ast.Param, ...], what: str, source: str) -> None:
    for p in params:
        if p.name in ("name", "title"):
            raise DslSyntaxError(f"the parameter ${p.name} redefines a built-in parameter of the {what}; "
                                 "rename it", p.span, source)


def join(a: Span, b: Span) -> Span:
    return Span(a.file, a.line, a.col, b.end_line, b.end_col)


def interpolation_target(expr: ast.Node) -> ast.Node:
    """Puppet's bare-word rule: in ``${...}`` a bare word (or number) is a variable, also when it is
    the target of an access or a method call: ``${x}``, ``${x[1]}``, ``${x.upcase}``."""
    if isinstance(expr, ast.QName):
        return ast.Var(expr.span, expr.name)
    if isinstance(expr, ast.Literal) and isinstance(expr.value, int) and not isinstance(expr.value, bool):
        return ast.Var(expr.span, str(expr.value))
    if isinstance(expr, ast.Literal) and isinstance(expr.value, float):
        raise DslSyntaxError(f"illegal numeric variable name '{expr.value}': a variable name that starts "
                             "with a digit must be a decimal number", expr.span)
    if isinstance(expr, ast.Access):
        return ast.Access(expr.span, interpolation_target(expr.target), expr.keys)
    if isinstance(expr, ast.MethodCall):
        return ast.MethodCall(expr.span, interpolation_target(expr.target), expr.name, expr.args,
                              expr.lambda_)
    return expr


def cover(file: str, spans: list[Span]) -> Span:
    """From the first span that has a position to the last one (none: the empty span)."""
    for first in spans:
        if first.line:
            break
    else:
        return Span(file, 0, 0, 0, 0)
    for last in reversed(spans):
        if last.line:
            break
    return Span(file, first.line, first.col, last.end_line, last.end_col)


# -- the parser ---------------------------------------------------------------------------------------
class Parser:
    """One parse of one token list (``dsl.lexer.Lexer(...).tokens()``)."""

    __slots__ = ("types", "values", "starts", "ends", "line_starts", "nlines", "line_offset", "i", "file",
                 "source")

    def __init__(self, lexer: Lexer, filename: str, source: str) -> None:
        types, self.values, self.starts, self.ends = lexer.arrays()
        self.types = types + [_END, _END, _END]
        self.line_starts = lexer.line_starts
        self.nlines = len(lexer.line_starts)
        self.line_offset = lexer.line_offset
        self.i = 0
        self.file = filename
        self.source = source

    def parse(self) -> ast.Program:
        try:
            body = self._statements(_END)
        except DslError:
            raise Fallback from None
        except RecursionError:
            raise Fallback from None
        if self.types[self.i] != _END:  # pragma: no cover - _statements stops only at the end
            raise Fallback
        return ast.Program(body.span, body, self.source)

    # tokens ---------------------------------------------------------------------------------------
    def _span(self, k: int) -> Span:
        """The span of token ``k``."""
        starts = self.line_starts
        start, end = self.starts[k], self.ends[k]
        idx = bisect_right(starts, start) - 1
        line = idx + 1 + self.line_offset
        if idx + 1 < self.nlines and end >= starts[idx + 1]:  # the token spans lines
            eidx = bisect_right(starts, end) - 1
            return Span(self.file, line, start - starts[idx] + 1, eidx + 1 + self.line_offset,
                        end - starts[eidx] + 1)
        return Span(self.file, line, start - starts[idx] + 1, line, end - starts[idx] + 1)

    def _take(self, type_: str) -> int:
        i = self.i
        if self.types[i] != type_:
            raise Fallback
        self.i = i + 1
        return i

    def _cover_nodes(self, nodes: list[Any]) -> Span:
        for first in nodes:
            if first.span.line:
                break
        else:
            return Span(self.file, 0, 0, 0, 0)
        for last in reversed(nodes):
            if last.span.line:
                break
        a, b = first.span, last.span
        return Span(self.file, a.line, a.col, b.end_line, b.end_col)

    def _cover_tok(self, k: int, node: ast.Node) -> Span:
        """From token ``k`` to the end of the node after it (or of the token, when the node has none)."""
        s = node.span
        t = self._span(k)
        if s.line:
            return Span(self.file, t.line, t.col, s.end_line, s.end_col)
        return t

    # statements -----------------------------------------------------------------------------------
    def _statements(self, end: str) -> ast.Block:
        types = self.types
        stmts: list[ast.Node] = []
        append = stmts.append
        statement = self._statement
        while True:
            t = types[self.i]
            if t == "_SEMIC":
                self.i += 1
            elif t == end:
                break
            else:
                append(statement())
        return ast.Block(self._cover_nodes(stmts), tuple(stmts))

    def _block(self) -> ast.Block:
        self._take("_LBRACE")
        block = self._statements("_RBRACE")
        self.i += 1
        return block

    def _statement(self) -> ast.Node:
        types = self.types
        i = self.i
        t = types[i]
        nxt = types[i + 1]
        if t == "NAME":
            if nxt == "_LBRACE":
                return self._chain(self._resource())
        elif t == "VARIABLE":
            if nxt == "EQUALS":
                self.i += 1
                return self._assignment(ast.Var(self._span(i), self.values[i]))
            if nxt in ("APPENDS", "DELETES"):
                raise Fallback  # the reference path reports the obsolete operator
        elif t == "STMT_NAME":
            if nxt in EXPR_START:
                return self._stmt_call()
        elif t == "CLASS":
            if nxt == "NAME":
                return self._class_def()
        elif t == "CLASSREF":
            if nxt == "_LBRACE":
                return self._resource_defaults()
        elif t == "DEFINE":
            return self._define_def()
        elif t == "NODE":
            return self._node_def()
        elif t == "FUNCTION":
            return self._function_def()
        elif t == "TYPE_ALIAS":
            return self._type_alias()
        elif t == "_LISTSTART":
            arr = self._array()
            if types[self.i] == "EQUALS":
                return self._assignment(arr)
            return self._statement_expr(self._postfix_rest(arr))
        # a chain of resources, collectors and expressions, or a resource override
        if t in ("AT", "ATAT") or t == "CLASS" and nxt == "_LBRACE":
            return self._chain(self._resource())
        if t == "CLASSREF" and nxt in ("_LCOLLECT", "_LLCOLLECT"):
            return self._chain(self._collector())
        if t in ("MINUS", "TIMES", "NOT"):
            return self._chain(self._expr())
        return self._statement_expr(self._postfix())

    def _statement_expr(self, post: ast.Node) -> ast.Node:
        """A statement that began with the postfix expression ``post``."""
        if self.types[self.i] == "_LBRACE":
            self.i += 1
            ops = self._attribute_ops_opt()
            self._take("_RBRACE")
            return ast.ResourceOverride(post.span, post, ops)
        return self._chain(self._binary_rest(post, 1))

    def _chain(self, left: ast.Node) -> ast.Node:
        types = self.types
        while types[self.i] in EDGES:
            op = self.i
            self.i += 1
            left = ast.Relationship(self._span(op), self.values[op], left, self._chain_operand())
        return left

    def _chain_operand(self) -> ast.Node:
        types = self.types
        t = types[self.i]
        nxt = types[self.i + 1]
        if t in ("AT", "ATAT") or t in ("NAME", "CLASS") and nxt == "_LBRACE":
            return self._resource()
        if t == "CLASSREF" and nxt in ("_LCOLLECT", "_LLCOLLECT"):
            return self._collector()
        return self._expr()

    def _stmt_call(self) -> ast.Call:
        tok = self.i
        self.i += 1
        args = self._args()
        spans = [self._span(tok)] + [a.span for a in args]
        return ast.Call(cover(self.file, spans), self.values[tok], tuple(args), None)

    def _assignment(self, target: ast.Node) -> ast.Assign:
        """``target`` has been read; the current token is '='."""
        eq = self._take("EQUALS")
        value = self._expr_or_assignment()
        if isinstance(target, ast.ArrayLit):
            for item in target.items:
                if not isinstance(item, ast.Var):
                    raise Fallback  # the reference path reports it
        return ast.Assign(self._span(eq), target, value)

    def _expr_or_assignment(self) -> ast.Node:
        types = self.types
        t = types[self.i]
        if t == "VARIABLE" and types[self.i + 1] == "EQUALS":
            tok = self.i
            self.i += 1
            return self._assignment(ast.Var(self._span(tok), self.values[tok]))
        if t == "_LISTSTART":
            arr = self._array()
            if types[self.i] == "EQUALS":
                return self._assignment(arr)
            return self._binary_rest(self._postfix_rest(arr), 1)
        return self._expr()

    # resources ------------------------------------------------------------------------------------
    def _resource(self) -> ast.ResourceExpr:
        types = self.types
        form = "regular"
        t = types[self.i]
        if t == "AT":
            form = "virtual"
            self.i += 1
        elif t == "ATAT":
            form = "exported"
            self.i += 1
        if types[self.i] not in ("NAME", "CLASS"):
            raise Fallback
        type_tok = self.i
        self.i += 1
        self._take("_LBRACE")
        bodies = [self._resource_body()]
        while types[self.i] == "_SEMIC":
            self.i += 1
            if types[self.i] == "_RBRACE":
                break
            bodies.append(self._resource_body())
        self._take("_RBRACE")
        return ast.ResourceExpr(self._span(type_tok), self.values[type_tok], tuple(bodies), form)

    def _resource_body(self) -> ast.ResourceBody:
        title = self._expr()
        self._take("_COLON")
        return ast.ResourceBody(title.span, title, self._attribute_ops_opt())

    def _attribute_ops_opt(self) -> tuple[ast.AttributeOp, ...]:
        types = self.types
        if types[self.i] not in ATTR_START:
            return ()
        ops = [self._attribute_op()]
        while types[self.i] == "_COMMA":
            self.i += 1
            if types[self.i] not in ATTR_START:
                break
            ops.append(self._attribute_op())
        return tuple(ops)

    def _attribute_op(self) -> ast.AttributeOp:
        types = self.types
        i = self.i
        name_tok = i
        op_type = types[i + 1]
        if types[i] == "TIMES":
            if op_type != "FARROW":
                raise Fallback
            self.i = i + 2
            return ast.AttributeOp(self._span(name_tok), "*", "=>", self._expr())
        if op_type != "FARROW" and op_type != "PARROW":
            raise Fallback
        op = self.values[i + 1]
        self.i = i + 2
        return ast.AttributeOp(self._span(name_tok), self.values[name_tok], op, self._expr())

    def _resource_defaults(self) -> ast.ResourceDefaults:
        tok = self.i
        self.i += 2  # CLASSREF '{'
        ops = self._attribute_ops_opt()
        self._take("_RBRACE")
        return ast.ResourceDefaults(self._span(tok), self.values[tok], ops)

    def _collector(self) -> ast.Collector:
        types = self.types
        tok = self.i
        exported = types[self.i + 1] == "_LLCOLLECT"
        closer = "_RRCOLLECT" if exported else "_RCOLLECT"
        self.i += 2
        query = None
        if types[self.i] != closer:
            query = self._expr()
        self._take(closer)
        ops: tuple[ast.AttributeOp, ...] = ()
        if types[self.i] == "_LBRACE":
            self.i += 1
            ops = self._attribute_ops_opt()
            self._take("_RBRACE")
        return ast.Collector(self._span(tok), self.values[tok], query, exported, ops)

    # expressions ----------------------------------------------------------------------------------
    def _expr(self) -> ast.Node:
        return self._binary_rest(self._unary(), 1)

    def _binary_rest(self, left: ast.Node, min_prec: int) -> ast.Node:
        types = self.types
        # After an operator of some precedence, only one of the same or a lower one may follow (as
        # in the grammar's rule chain): ``$a ? {...} == 1`` ends the expression before '=='.
        ceiling = 99
        while True:
            prec = PREC.get(types[self.i])
            if prec is None or prec < min_prec or prec > ceiling:
                return left
            ceiling = prec
            op = self.i
            self.i += 1
            if prec == 3:
                left = self._selector(left)
                continue
            right = self._binary_rest(self._unary(), prec + 1)
            span = Span(left.span.file, left.span.line, left.span.col, right.span.end_line, right.span.end_col)
            if prec == 1:
                left = ast.Or(span, left, right)
            elif prec == 2:
                left = ast.And(span, left, right)
            else:
                left = ast.BinOp(span, self.values[op], left, right)

    def _selector(self, subject: ast.Node) -> ast.Selector:
        types = self.types
        self._take("_HASH_LBRACE")
        entries = [self._pair()]
        while types[self.i] == "_COMMA":
            self.i += 1
            if types[self.i] not in EXPR_START:
                break
            entries.append(self._pair())
        self._take("_RBRACE")
        spans = [subject.span]
        for k, v in entries:
            spans.append(k.span)
            spans.append(v.span)
        return ast.Selector(cover(self.file, spans), subject, tuple(entries))

    def _pair(self) -> tuple[ast.Node, ast.Node]:
        key = self._expr()
        self._take("FARROW")
        return (key, self._expr())

    def _unary(self) -> ast.Node:
        t = self.types[self.i]
        if t == "MINUS":
            tok = self.i
            self.i += 1
            operand = self._unary()
            span = self._cover_tok(tok, operand)
            if isinstance(operand, ast.Literal) and isinstance(operand.value, (int, float)) \
                    and not isinstance(operand.value, bool):
                return ast.Literal(span, -operand.value)
            return ast.Neg(span, operand)
        if t == "TIMES":
            tok = self.i
            self.i += 1
            operand = self._unary()
            return ast.Splat(self._cover_tok(tok, operand), operand)
        if t == "NOT":
            tok = self.i
            self.i += 1
            operand = self._unary()
            return ast.Not(self._cover_tok(tok, operand), operand)
        return self._postfix_rest(self._primary())

    def _postfix(self) -> ast.Node:
        return self._postfix_rest(self._primary())

    def _postfix_rest(self, node: ast.Node) -> ast.Node:
        types = self.types
        while True:
            t = types[self.i]
            if t == "_LBRACK":
                self.i += 1
                keys = self._args()
                self._take("_RBRACK")
                spans = [node.span] + [a.span for a in keys]
                access = ast.Access(cover(self.file, spans), node, tuple(keys))
                if types[self.i] == "_CALL_LPAREN":
                    node = ast.TypeCall(access.span, "", self._call_args(), access)
                else:
                    node = access
            elif t == "_DOT":
                self.i += 1
                if types[self.i] not in METHOD_NAMES:
                    raise Fallback
                name_tok = self.i
                self.i += 1
                args: tuple[ast.Node, ...] = ()
                lam = None
                if types[self.i] == "_CALL_LPAREN":
                    args = self._call_args()
                if types[self.i] == "_PIPE":
                    lam = self._lambda()
                node = ast.MethodCall(self._span(name_tok), node, self.values[name_tok], args, lam)
            else:
                return node

    def _args(self) -> list[ast.Node]:
        types = self.types
        expr = self._expr
        args = [expr()]
        while types[self.i] == "_COMMA":
            self.i += 1
            if types[self.i] not in EXPR_START:
                break
            args.append(expr())
        return args

    def _call_args(self) -> tuple[ast.Node, ...]:
        self.i += 1  # '('
        if self.types[self.i] == "_RPAREN":
            self.i += 1
            return ()
        args = self._args()
        self._take("_RPAREN")
        return tuple(args)

    def _primary(self) -> ast.Node:
        types = self.types
        i = self.i
        t = types[i]
        tok = i
        self.i = i + 1
        if t == "STRING":
            return ast.Literal(self._span(tok), self.values[tok])
        if t == "NAME":
            if types[i + 1] == "_CALL_LPAREN":
                args = self._call_args()
                lam = self._lambda() if types[self.i] == "_PIPE" else None
                return ast.Call(self._span(tok), self.values[tok], args, lam)
            return ast.QName(self._span(tok), self.values[tok])
        if t == "VARIABLE":
            return ast.Var(self._span(tok), self.values[tok])
        if t == "NUMBER":
            try:
                return ast.Literal(self._span(tok), number_value(self.values[tok]))
            except ValueError:
                raise Fallback from None
        if t == "CLASSREF":
            if types[i + 1] == "_CALL_LPAREN":
                return ast.TypeCall(self._span(tok), self.values[tok], self._call_args())
            return ast.TypeRef(self._span(tok), self.values[tok])
        if t == "DQPRE":
            return self._dqstring(tok)
        if t == "_LISTSTART":
            self.i = i
            return self._array()
        if t == "_HASH_LBRACE":
            return self._hash()
        if t == "TRUE":
            return ast.Literal(self._span(tok), True)
        if t == "FALSE":
            return ast.Literal(self._span(tok), False)
        if t == "UNDEF":
            return ast.Literal(self._span(tok), None)
        if t == "DEFAULT":
            return ast.DefaultLit(self._span(tok))
        if t == "REGEX":
            return ast.RegexLit(self._span(tok), self.values[tok])
        if t == "STMT_NAME":
            return ast.QName(self._span(tok), self.values[tok])
        if t == "_LPAREN":
            inner = self._expr()
            self._take("_RPAREN")
            return inner
        if t == "IF":
            return self._if(tok)
        if t == "UNLESS":
            return self._unless(tok)
        if t == "CASE":
            return self._case(tok)
        raise Fallback

    def _dqstring(self, first: int) -> ast.Concat:
        types = self.types
        parts: list[Any] = []
        if self.values[first]:
            parts.append(self.values[first])
        while True:
            parts.append(interpolation_target(self._expr_or_assignment()))
            t = types[self.i]
            tok = self.i
            self.i += 1
            if t == "DQMID":
                if self.values[tok]:
                    parts.append(self.values[tok])
            elif t == "DQPOST":
                if self.values[tok]:
                    parts.append(self.values[tok])
                a, b = self._span(first), self._span(tok)
                span = Span(self.file, a.line, a.col, b.end_line, b.end_col)
                return ast.Concat(span, tuple(parts))
            else:
                raise Fallback

    def _array(self) -> ast.ArrayLit:
        self.i += 1  # '['
        if self.types[self.i] == "_RBRACK":
            self.i += 1
            return ast.ArrayLit(Span(self.file, 0, 0, 0, 0), ())
        items = self._args()
        self._take("_RBRACK")
        return ast.ArrayLit(self._cover_nodes(items), tuple(items))

    def _hash(self) -> ast.HashLit:
        types = self.types
        if types[self.i] == "_RBRACE":
            self.i += 1
            return ast.HashLit(Span(self.file, 0, 0, 0, 0), ())
        pairs = [self._pair()]
        while types[self.i] == "_COMMA":
            self.i += 1
            if types[self.i] not in EXPR_START:
                break
            pairs.append(self._pair())
        self._take("_RBRACE")
        spans = []
        for k, v in pairs:
            spans.append(k.span)
            spans.append(v.span)
        return ast.HashLit(cover(self.file, spans), tuple(pairs))

    def _lambda(self) -> ast.Lambda:
        types = self.types
        self.i += 1  # '|'
        params: list[ast.Param] = []
        if types[self.i] != "_PIPE":
            params.append(self._param())
            while types[self.i] == "_COMMA":
                self.i += 1
                if types[self.i] == "_PIPE":
                    break
                params.append(self._param())
        self._take("_PIPE")
        body = self._block()
        spans = [p.span for p in params] + [body.span]
        return ast.Lambda(cover(self.file, spans), tuple(params), body)

    def _if(self, kw: int) -> ast.If:
        types = self.types
        cond = self._expr()
        then = self._block()
        elsifs: list[tuple[ast.Node, ast.Block]] = []
        while types[self.i] == "_ELSIF":
            self.i += 1
            e_cond = self._expr()
            elsifs.append((e_cond, self._block()))
        otherwise: ast.Node | None = None
        if types[self.i] == "_ELSE":
            self.i += 1
            otherwise = self._block()
        for e_cond, e_block in reversed(elsifs):
            otherwise = ast.If(e_cond.span, e_cond, e_block, otherwise)
        return ast.If(self._span(kw), cond, then, otherwise)

    def _unless(self, kw: int) -> ast.Unless:
        cond = self._expr()
        then = self._block()
        otherwise = None
        if self.types[self.i] == "_ELSE":
            self.i += 1
            otherwise = self._block()
        return ast.Unless(self._span(kw), cond, then, otherwise)

    def _case(self, kw: int) -> ast.Case:
        types = self.types
        subject = self._expr()
        self._take("_LBRACE")
        options: list[ast.CaseOption] = []
        while types[self.i] != "_RBRACE":
            values = tuple(self._args())
            self._take("_COLON")
            options.append(ast.CaseOption(values[0].span, values, self._block()))
        self.i += 1
        return ast.Case(self._span(kw), subject, tuple(options))

    # definitions ----------------------------------------------------------------------------------
    def _params_opt(self) -> tuple[ast.Param, ...]:
        types = self.types
        if types[self.i] not in ("_LPAREN", "_CALL_LPAREN"):
            return ()
        self.i += 1
        params: list[ast.Param] = []
        if types[self.i] != "_RPAREN":
            params.append(self._param())
            while types[self.i] == "_COMMA":
                self.i += 1
                if types[self.i] == "_RPAREN":
                    break
                params.append(self._param())
        self._take("_RPAREN")
        return tuple(params)

    def _param(self) -> ast.Param:
        types = self.types
        type_expr = None
        if types[self.i] == "CLASSREF":
            type_expr = self._param_type()
        rest = False
        if types[self.i] == "TIMES":
            rest = True
            self.i += 1
        var = self._take("VARIABLE")
        default = None
        if types[self.i] == "EQUALS":
            self.i += 1
            default = self._expr()
        name = self.values[var]
        if not name.isidentifier() or "::" in name:
            raise Fallback  # the reference path reports the bad name
        return ast.Param(self._span(var), name, type_expr, default, rest)

    def _param_type(self) -> ast.Node:
        tok = self._take("CLASSREF")
        node: ast.Node = ast.TypeRef(self._span(tok), self.values[tok])
        while self.types[self.i] == "_LBRACK":
            self.i += 1
            args = self._args()
            self._take("_RBRACK")
            node = ast.Access(cover(self.file, [node.span] + [a.span for a in args]), node, tuple(args))
        return node

    def _class_def(self) -> ast.ClassDef:
        self.i += 1  # 'class'
        name = self._take("NAME")
        params = self._params_opt()
        parent = None
        if self.types[self.i] == "_INHERITS":
            self.i += 1
            if self.types[self.i] not in ("NAME", "DEFAULT"):
                raise Fallback
            parent = self.values[self.i]
            self.i += 1
        body = self._block()
        check_builtin_params(params, "Class Definition", self.source)
        return ast.ClassDef(self._span(name), self.values[name], params, parent, body)

    def _define_def(self) -> ast.DefineDef:
        self.i += 1  # 'define'
        name = self._take("NAME")
        params = self._params_opt()
        body = self._block()
        check_builtin_params(params, "Defined Type", self.source)
        return ast.DefineDef(self._span(name), self.values[name], params, body)

    def _node_def(self) -> ast.NodeDef:
        types = self.types
        kw = self.i
        self.i += 1
        matches = [self._hostname()]
        while types[self.i] == "_COMMA":
            self.i += 1
            if types[self.i] not in HOST_START:
                break
            matches.append(self._hostname())
        parent = None
        if types[self.i] == "_INHERITS":
            self.i += 1
            parent = self._hostname()
        body = self._block()
        return ast.NodeDef(self._span(kw), tuple(matches), parent, body)

    def _hostname(self) -> ast.HostMatch:
        types = self.types
        t = types[self.i]
        if t not in HOST_START:
            raise Fallback
        tok = self.i
        self.i += 1
        if t == "STRING":
            return ast.HostMatch(self._span(tok), "name", self.values[tok])
        if t == "REGEX":
            return ast.HostMatch(self._span(tok), "regex", self.values[tok])
        if t == "DEFAULT":
            return ast.HostMatch(self._span(tok), "default", "default")
        if t == "DQPRE":
            concat = self._dqstring(tok)
            if any(not isinstance(p, str) for p in concat.parts):
                raise Fallback  # the reference path reports it
            return ast.HostMatch(concat.span, "name", "".join(concat.parts))
        names = [self.values[tok]]
        while types[self.i] == "_DOT":
            if types[self.i + 1] not in ("NAME", "NUMBER"):
                raise Fallback
            names.append(self.values[self.i + 1])
            self.i += 2
        return ast.HostMatch(self._span(tok), "name", ".".join(names))

    def _function_def(self) -> ast.FunctionDef:
        self.i += 1  # 'function'
        name = self._take("NAME")
        params = self._params_opt()
        ret = None
        if self.types[self.i] == "RSHIFT":
            self.i += 1
            ret = self._param_type()
        body = self._block()
        return ast.FunctionDef(self._span(name), self.values[name], params, ret, body)

    def _type_alias(self) -> ast.TypeAlias:
        self.i += 1  # 'type'
        name = self._take("CLASSREF")
        self._take("EQUALS")
        return ast.TypeAlias(self._span(name), self.values[name], self._expr())


def parse_lexed(lexer: Lexer, filename: str, source: str) -> ast.Program:
    """The AST of a text; raises :class:`Fallback` where the reference path must decide (and
    :class:`DslSyntaxError` for what the lexer rejects)."""
    return Parser(lexer, filename, source).parse()
