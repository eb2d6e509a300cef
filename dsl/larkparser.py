"""The reference parser: the LALR grammar (``grammar.lark``) run by Lark on the lexer's tokens, with a
transformer that builds the AST while the parser reduces. ``dsl.parser`` parses with the fast path
(``dsl.rdparser``) and comes here for whatever it declines, every invalid text among it: the syntax
error messages are made here. Lark objects never leave this module.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput, UnexpectedToken, VisitError
from lark.lexer import Lexer as _LarkLexer

from . import ast
from .errors import DslError, DslSyntaxError, Span
from .lexer import Tok
from .rdparser import check_builtin_params as _check_builtin_params
from .rdparser import interpolation_target as _interpolation_target
from .rdparser import join as _join
from .rdparser import octal_or_int as _octal_or_int

_GRAMMAR = Path(__file__).with_name("grammar.lark")


class _NoLexer(_LarkLexer):
    """Tokens are fed to the interactive parser directly; Lark's lexer is never used."""

    def __init__(self, conf: Any) -> None:
        pass

    def lex(self, lexer_state: Any, parser_state: Any = None) -> Any:  # pragma: no cover - never called
        return iter(())


_TRANSFORMER: _ToAst | None = None


@lru_cache(maxsize=1)
def _lark() -> Lark:
    global _TRANSFORMER
    _TRANSFORMER = _ToAst()
    return Lark(_GRAMMAR.read_text(encoding="utf-8"), parser="lalr", lexer=_NoLexer,
                maybe_placeholders=False, cache=True, transformer=_TRANSFORMER)


# -- human names for tokens in messages ------------------------------------------------------------
_TOKEN_TEXT = {
    "_RBRACE": "'}'", "_LBRACE": "'{'", "_HASH_LBRACE": "'{'", "_RPAREN": "')'", "_LPAREN": "'('",
    "_CALL_LPAREN": "'('", "_RBRACK": "']'", "_LBRACK": "'['", "_LISTSTART": "'['", "_COMMA": "','",
    "_COLON": "':'", "_SEMIC": "';'", "FARROW": "'=>'", "PARROW": "'+>'", "_EQUALS": "'='",
    "_PIPE": "'|'", "_DOT": "'.'", "$END": "end of file", "VARIABLE": "a variable", "NAME": "a name",
    "STRING": "a string", "NUMBER": "a number", "CLASSREF": "a type name",
}
_OPENERS = {"_LBRACE": "}", "_HASH_LBRACE": "}", "_LPAREN": ")", "_CALL_LPAREN": ")",
            "_LBRACK": "]", "_LISTSTART": "]"}
_CLOSERS = {"_RBRACE", "_RPAREN", "_RBRACK"}


def _describe_opener(tokens: list[Token], idx: int) -> str:
    tok = tokens[idx]
    kind = tok.type
    if kind == "_HASH_LBRACE":
        prev = tokens[idx - 1].type if idx else None
        return "selector" if prev == "_QMARK" else "hash"
    if kind == "_LISTSTART":
        return "array"
    if kind == "_LBRACK":
        return "access"
    if kind in ("_LPAREN", "_CALL_LPAREN"):
        return "parameter list" if idx >= 2 and tokens[idx - 2].type in ("CLASS", "DEFINE", "FUNCTION") \
            else "parenthesis"
    # '{': look back to the statement keyword or resource type that owns it
    j = idx - 1
    depth = 0
    while j >= 0:
        t = tokens[j].type
        if t in _CLOSERS:
            depth += 1
        elif t in _OPENERS:
            if depth == 0:
                break
            depth -= 1
        elif depth == 0:
            if t == "CLASS" and j == idx - 1:
                return "resource body"
            if t in ("CLASS", "DEFINE", "NODE", "FUNCTION"):
                return {"CLASS": "class", "DEFINE": "define", "NODE": "node",
                        "FUNCTION": "function"}[t] + " body"
            if t in ("IF", "UNLESS", "_ELSIF", "_ELSE"):
                return "block"
            if t == "CASE":
                return "case"
            if t == "_PIPE":
                return "lambda body"
            if t in ("_SEMIC", "_RBRACE") or j < idx - 1 and t in ("_LBRACE",):
                break
        j -= 1
    prev = tokens[idx - 1] if idx else None
    if prev is not None and prev.type in ("NAME", "CLASS"):
        return "resource body"
    if prev is not None and prev.type == "CLASSREF":
        return "resource defaults"
    return "block"


def _syntax_error(exc: UnexpectedInput, tokens: list[Token], filename: str, source: str) -> DslSyntaxError:
    tok = getattr(exc, "token", None)
    if tok is None or tok.type == "$END":
        pos_index = len(tokens)
    else:
        pos_index = next((i for i, t in enumerate(tokens) if t is tok), len(tokens))
    # Which brackets are open at the point of failure?
    stack: list[int] = []
    for i in range(pos_index):
        t = tokens[i].type
        if t in _OPENERS:
            stack.append(i)
        elif t in _CLOSERS and stack:
            stack.pop()
    expected = set(getattr(exc, "expected", ()) or ())
    at_end = tok is None or tok.type == "$END"
    if at_end:
        last = tokens[-1] if tokens else None
        line = last.end_line if last is not None else 1
        col = last.end_column if last is not None else 1
        span = Span(filename, line or 1, col or 1, line or 1, col or 1)
        if stack:
            opener = tokens[stack[-1]]
            closer = _OPENERS[opener.type]
            what = _describe_opener(tokens, stack[-1])
            return DslSyntaxError(
                f"expected '{closer}' to close the {what} opened at line {opener.line}, "
                "but the file ended", span, source)
        return DslSyntaxError("unexpected end of file", span, source)
    assert tok is not None
    span = Span(filename, tok.line, tok.column, tok.end_line, tok.end_column)
    shown = _token_display(tok)
    if stack and tok.type in _CLOSERS and _OPENERS[tokens[stack[-1]].type] != _TOKEN_TEXT[tok.type][1]:
        opener = tokens[stack[-1]]
        return DslSyntaxError(
            f"expected '{_OPENERS[opener.type]}' to close the {_describe_opener(tokens, stack[-1])} "
            f"opened at line {opener.line}, found {shown}", span, source)
    prev = tokens[pos_index - 1] if pos_index else None
    if prev is not None and {"_COMMA", "_RBRACE"} <= expected | {"_RBRACE"} and "_COMMA" in expected \
            and tok.type in ("NAME", "STMT_NAME") and stack and tokens[stack[-1]].type == "_LBRACE":
        return DslSyntaxError(f"expected ',' or '}}' after the attribute value, found {shown}", span, source)
    if "_COLON" in expected and stack and tokens[stack[-1]].type == "_LBRACE" \
            and _describe_opener(tokens, stack[-1]) == "resource body":
        return DslSyntaxError(f"expected ':' after the resource title, found {shown}", span, source)
    if tok.type in _CLOSERS and not stack:
        return DslSyntaxError(f"unmatched {shown}: nothing is open here to close", span, source)
    if stack and _OPENERS[tokens[stack[-1]].type] in {_TOKEN_TEXT.get(e, "")[1:2] for e in expected} \
            and tok.type not in _CLOSERS and tok.line != tokens[stack[-1]].line:
        opener = tokens[stack[-1]]
        return DslSyntaxError(
            f"expected '{_OPENERS[opener.type]}' to close the {_describe_opener(tokens, stack[-1])} "
            f"opened at line {opener.line}, found {shown}", span, source)
    names = sorted({_TOKEN_TEXT[e] for e in expected if e in _TOKEN_TEXT})
    hint = ""
    if names and len(names) <= 4:
        hint = "; expected " + " or ".join(names)
    return DslSyntaxError(f"syntax error at {shown}{hint}", span, source)


def _token_display(tok: Token) -> str:
    if tok.type in ("STRING",):
        return f"string '{tok.value}'"
    if tok.type == "VARIABLE":
        return f"'${tok.value}'"
    text = str(tok.value)
    return f"'{text}'"


# -- the transformer ------------------------------------------------------------------------------
class _CallArgs(tuple):  # type: ignore[type-arg]
    pass


class _Ops(tuple):  # type: ignore[type-arg]
    pass


class _Params(tuple):  # type: ignore[type-arg]
    pass


class _ToAst(Transformer):  # type: ignore[type-arg]
    """Builds the AST while the LALR parser reduces (no parse tree is built in between)."""

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)
        self._ctx = threading.local()

    @property
    def filename(self) -> str:
        return self._ctx.filename  # type: ignore[no-any-return]

    @property
    def source(self) -> str:
        return self._ctx.source  # type: ignore[no-any-return]

    def begin(self, filename: str, source: str) -> None:
        self._ctx.filename = filename
        self._ctx.source = source

    # spans -----------------------------------------------------------------------------------
    def _span_of(self, c: list[Any]) -> Span:
        """The span from the first to the last positioned child (tokens, nodes, lists of them)."""
        first = _first_span(c, self.filename, reverse=False)
        if first is None:
            return Span(self.filename, 0, 0, 0, 0)
        last = _first_span(c, self.filename, reverse=True) or first
        return Span(self.filename, first.line, first.col, last.end_line, last.end_col)

    def _tspan(self, tok: Token) -> Span:
        return Span(self.filename, tok.line or 0, tok.column or 0, tok.end_line or 0, tok.end_column or 0)

    def _fail(self, message: str, span: Span) -> DslSyntaxError:
        return DslSyntaxError(message, span, self.source)

    # program structure -------------------------------------------------------------------------
    def start(self, c: list[Any]) -> ast.Block:
        return c[0]

    def statements(self, c: list[Any]) -> ast.Block:
        return ast.Block(self._span_of(c), tuple(c))

    def block(self, c: list[Any]) -> ast.Block:
        return c[0]

    # resources ---------------------------------------------------------------------------------
    def relationship(self, c: list[Any]) -> ast.Relationship:
        return ast.Relationship(self._tspan(c[1]), str(c[1]), c[0], c[2])

    def resource(self, c: list[Any]) -> ast.ResourceExpr:
        form = "regular"
        if isinstance(c[0], Token) and c[0].type in ("AT", "ATAT"):
            form = "virtual" if c[0].type == "AT" else "exported"
            c = c[1:]
        type_tok: Token = c[0]
        return ast.ResourceExpr(self._tspan(type_tok), str(type_tok), tuple(c[1]), form)

    def resource_bodies(self, c: list[Any]) -> list[ast.ResourceBody]:
        return c

    def resource_body(self, c: list[Any]) -> ast.ResourceBody:
        ops = c[1] if len(c) > 1 else ()
        return ast.ResourceBody(c[0].span, c[0], tuple(ops))

    def attribute_ops(self, c: list[Any]) -> _Ops:
        return _Ops(c)

    def attribute_op(self, c: list[Any]) -> ast.AttributeOp:
        name_tok = c[0]
        return ast.AttributeOp(self._tspan(name_tok), str(name_tok), str(c[1]), c[2])

    def attr_name(self, c: list[Any]) -> Token:
        return c[0]

    def splat_op(self, c: list[Any]) -> ast.AttributeOp:
        return ast.AttributeOp(self._tspan(c[0]), "*", "=>", c[2])

    def resource_defaults(self, c: list[Any]) -> ast.ResourceDefaults:
        ops = c[1] if len(c) > 1 else ()
        return ast.ResourceDefaults(self._tspan(c[0]), str(c[0]), tuple(ops))

    def resource_override(self, c: list[Any]) -> ast.ResourceOverride:
        ops = c[1] if len(c) > 1 else ()
        return ast.ResourceOverride(c[0].span, c[0], tuple(ops))

    def collector_ops(self, c: list[Any]) -> _Ops:
        return _Ops(c[0]) if c else _Ops()

    def _collector(self, c: list[Any], exported: bool) -> ast.Collector:
        type_tok = c[0]
        query = None
        ops: tuple[Any, ...] = ()
        for item in c[1:]:
            if isinstance(item, _Ops):
                ops = tuple(item)
            else:
                query = item
        return ast.Collector(self._tspan(type_tok), str(type_tok), query, exported, ops)

    def collector(self, c: list[Any]) -> ast.Collector:
        return self._collector(c, False)

    def exported_collector(self, c: list[Any]) -> ast.Collector:
        return self._collector(c, True)

    def stmt_call(self, c: list[Any]) -> ast.Call:
        return ast.Call(self._span_of(c), str(c[0]), tuple(c[1]), None)

    # assignment ----------------------------------------------------------------------------------
    def assignment(self, c: list[Any]) -> ast.Assign:
        target = c[0]
        eq = c[1]
        if isinstance(target, ast.ArrayLit):
            for item in target.items:
                if not isinstance(item, ast.Var):
                    raise self._fail("only variables can be assigned to in an array assignment", item.span)
        return ast.Assign(self._tspan(eq), target, c[2])

    def obsolete_assign(self, c: list[Any]) -> ast.Node:
        raise self._fail(f"the '{c[1]}' operator is no longer supported; write "
                         f"${c[0].name} = ${c[0].name} {'+' if str(c[1]) == '+=' else '-'} ...",
                         self._tspan(c[1]))

    # expressions ---------------------------------------------------------------------------------
    def or_(self, c: list[Any]) -> ast.Or:
        return ast.Or(_join(c[0].span, c[2].span), c[0], c[2])

    def and_(self, c: list[Any]) -> ast.And:
        return ast.And(_join(c[0].span, c[2].span), c[0], c[2])

    def binop(self, c: list[Any]) -> ast.BinOp:
        # Positions of operations are where the expression starts, as Puppet reports them.
        return ast.BinOp(_join(c[0].span, c[2].span), str(c[1]), c[0], c[2])

    def neg(self, c: list[Any]) -> ast.Node:
        operand = c[1]
        if isinstance(operand, ast.Literal) and isinstance(operand.value, (int, float)) \
                and not isinstance(operand.value, bool):
            return ast.Literal(self._span_of(c), -operand.value)
        return ast.Neg(self._span_of(c), operand)

    def splat(self, c: list[Any]) -> ast.Splat:
        return ast.Splat(self._span_of(c), c[1])

    def not_(self, c: list[Any]) -> ast.Not:
        return ast.Not(self._span_of(c), c[1])

    def selector(self, c: list[Any]) -> ast.Selector:
        return ast.Selector(self._span_of(c), c[0], tuple(c[1]))

    def selector_entries(self, c: list[Any]) -> list[Any]:
        return c

    def selector_entry(self, c: list[Any]) -> tuple[Any, Any]:
        return (c[0], c[2])

    def access(self, c: list[Any]) -> ast.Access:
        return ast.Access(self._span_of(c), c[0], tuple(c[1]))

    def access_type_call(self, c: list[Any]) -> ast.TypeCall:
        access = ast.Access(self._span_of(c[:2]), c[0], tuple(c[1]))
        return ast.TypeCall(access.span, "", tuple(c[2]), access)

    def method_call(self, c: list[Any]) -> ast.MethodCall:
        target, name_tok = c[0], c[1]
        args: tuple[Any, ...] = ()
        lam = None
        for item in c[2:]:
            if isinstance(item, _CallArgs):
                args = tuple(item)
            elif isinstance(item, ast.Lambda):
                lam = item
        return ast.MethodCall(self._tspan(name_tok), target, str(name_tok), args, lam)

    def method_name(self, c: list[Any]) -> Token:
        return c[0]

    def call_args(self, c: list[Any]) -> _CallArgs:
        return _CallArgs(c[0]) if c else _CallArgs()

    def call(self, c: list[Any]) -> ast.Call:
        lam = c[2] if len(c) > 2 else None
        return ast.Call(self._tspan(c[0]), str(c[0]), tuple(c[1]), lam)

    def type_call(self, c: list[Any]) -> ast.TypeCall:
        return ast.TypeCall(self._tspan(c[0]), str(c[0]), tuple(c[1]))

    def args(self, c: list[Any]) -> list[Any]:
        return c

    # literals ------------------------------------------------------------------------------------
    def number(self, c: list[Any]) -> ast.Literal:
        text = str(c[0])
        span = self._tspan(c[0])
        try:
            if "." in text or (("e" in text or "E" in text) and not text.startswith(("0x", "0X"))):
                return ast.Literal(span, float(text))
            return ast.Literal(span, _octal_or_int(text))
        except ValueError:
            raise self._fail(f"'{text}' is not a valid number", span) from None

    def string(self, c: list[Any]) -> ast.Literal:
        return ast.Literal(self._tspan(c[0]), str(c[0]))

    def dqstring(self, c: list[Any]) -> ast.Concat:
        parts: list[Any] = []
        for item in c:
            if isinstance(item, Token):
                if item.value:
                    parts.append(str(item.value))
            else:
                parts.append(_interpolation_target(item))
        return ast.Concat(self._span_of(c), tuple(parts))

    def regex(self, c: list[Any]) -> ast.RegexLit:
        return ast.RegexLit(self._tspan(c[0]), str(c[0]))

    def true(self, c: list[Any]) -> ast.Literal:
        return ast.Literal(self._tspan(c[0]), True)

    def false(self, c: list[Any]) -> ast.Literal:
        return ast.Literal(self._tspan(c[0]), False)

    def undef(self, c: list[Any]) -> ast.Literal:
        return ast.Literal(self._tspan(c[0]), None)

    def default(self, c: list[Any]) -> ast.DefaultLit:
        return ast.DefaultLit(self._tspan(c[0]))

    def variable(self, c: list[Any]) -> ast.Var:
        return ast.Var(self._tspan(c[0]), str(c[0]))

    def qname(self, c: list[Any]) -> ast.QName:
        return ast.QName(self._tspan(c[0]), str(c[0]))

    def typeref(self, c: list[Any]) -> ast.TypeRef:
        return ast.TypeRef(self._tspan(c[0]), str(c[0]))

    def array(self, c: list[Any]) -> ast.ArrayLit:
        return ast.ArrayLit(self._span_of(c), tuple(c[0]) if c else ())

    def hash(self, c: list[Any]) -> ast.HashLit:
        return ast.HashLit(self._span_of(c), tuple(c[0]) if c else ())

    def hash_pairs(self, c: list[Any]) -> list[Any]:
        return c

    def hash_pair(self, c: list[Any]) -> tuple[Any, Any]:
        return (c[0], c[2])

    # lambdas and conditionals -------------------------------------------------------------------
    def lambda_(self, c: list[Any]) -> ast.Lambda:
        return ast.Lambda(self._span_of(c), tuple(c[:-1]), c[-1])

    def if_expr(self, c: list[Any]) -> ast.If:
        kw, cond, then = c[0], c[1], c[2]
        rest = c[3:]
        otherwise: ast.Node | None = None
        for part in reversed(rest):
            if part[0] == "else":
                otherwise = part[1]
            else:
                _, e_cond, e_block, e_span = part
                otherwise = ast.If(e_span, e_cond, e_block, otherwise)
        return ast.If(self._tspan(kw), cond, then, otherwise)

    def elsif_part(self, c: list[Any]) -> tuple[Any, ...]:
        return ("elsif", c[0], c[1], c[0].span)

    def else_part(self, c: list[Any]) -> tuple[Any, ...]:
        return ("else", c[0])

    def unless_expr(self, c: list[Any]) -> ast.Unless:
        otherwise = c[3][1] if len(c) > 3 else None
        return ast.Unless(self._tspan(c[0]), c[1], c[2], otherwise)

    def case_expr(self, c: list[Any]) -> ast.Case:
        return ast.Case(self._tspan(c[0]), c[1], tuple(c[2:]))

    def case_option(self, c: list[Any]) -> ast.CaseOption:
        values = tuple(c[0])
        return ast.CaseOption(values[0].span, values, c[1])

    # definitions ---------------------------------------------------------------------------------
    def params(self, c: list[Any]) -> _Params:
        return _Params(c)

    def param(self, c: list[Any]) -> ast.Param:
        type_expr = None
        rest = False
        default = None
        name = ""
        span = self._span_of(c)
        for item in c:
            if isinstance(item, Token):
                if item.type == "TIMES":
                    rest = True
                elif item.type == "VARIABLE":
                    name = str(item)
                    span = self._tspan(item)
            elif name:
                default = item
            else:
                type_expr = item
        if not name.isidentifier() or "::" in name:
            raise self._fail(f"'${name}' is not a valid parameter name", span)
        return ast.Param(span, name, type_expr, default, rest)

    def param_type(self, c: list[Any]) -> ast.Node:
        if isinstance(c[0], Token):
            return ast.TypeRef(self._tspan(c[0]), str(c[0]))
        return ast.Access(self._span_of(c), c[0], tuple(c[1]))

    def class_def(self, c: list[Any]) -> ast.ClassDef:
        name = str(c[1])
        params: tuple[Any, ...] = ()
        parent = None
        for item in c[2:-1]:
            if isinstance(item, _Params):
                params = tuple(item)
            elif isinstance(item, tuple) and item and item[0] == "parent":
                parent = item[1]
        _check_builtin_params(params, "Class Definition", self.source)
        return ast.ClassDef(self._tspan(c[1]), name, params, parent, c[-1])

    def class_parent(self, c: list[Any]) -> tuple[str, str]:
        return ("parent", str(c[0]))

    def define_def(self, c: list[Any]) -> ast.DefineDef:
        params = tuple(c[2]) if len(c) > 3 else ()
        _check_builtin_params(params, "Defined Type", self.source)
        return ast.DefineDef(self._tspan(c[1]), str(c[1]), params, c[-1])

    def node_def(self, c: list[Any]) -> ast.NodeDef:
        parent = None
        if len(c) > 3:
            parent = c[2]
        return ast.NodeDef(self._tspan(c[0]), tuple(c[1]), parent, c[-1])

    def node_parent(self, c: list[Any]) -> ast.HostMatch:
        return c[0]

    def hostnames(self, c: list[Any]) -> list[Any]:
        return c

    def host_string(self, c: list[Any]) -> ast.HostMatch:
        return ast.HostMatch(self._tspan(c[0]), "name", str(c[0]))

    def host_dq(self, c: list[Any]) -> ast.HostMatch:
        concat = c[0]
        if any(not isinstance(p, str) for p in concat.parts):
            raise self._fail("a node name cannot interpolate variables", concat.span)
        return ast.HostMatch(concat.span, "name", "".join(concat.parts))

    def host_regex(self, c: list[Any]) -> ast.HostMatch:
        return ast.HostMatch(self._tspan(c[0]), "regex", str(c[0]))

    def host_default(self, c: list[Any]) -> ast.HostMatch:
        return ast.HostMatch(self._tspan(c[0]), "default", "default")

    def host_dotted(self, c: list[Any]) -> ast.HostMatch:
        return ast.HostMatch(self._tspan(c[0]), "name", ".".join(str(t) for t in c))

    def function_def(self, c: list[Any]) -> ast.FunctionDef:
        params: tuple[Any, ...] = ()
        ret = None
        for item in c[2:-1]:
            if isinstance(item, _Params):
                params = tuple(item)
            elif isinstance(item, ast.Node):
                ret = item
        return ast.FunctionDef(self._tspan(c[1]), str(c[1]), params, ret, c[-1])

    def type_alias(self, c: list[Any]) -> ast.TypeAlias:
        return ast.TypeAlias(self._tspan(c[1]), str(c[1]), c[-1])


# Lark names the rule 'lambda'; Python can't have a method named so.
setattr(_ToAst, "lambda", _ToAst.lambda_)  # noqa: B010


def _first_span(items: Any, filename: str, reverse: bool) -> Span | None:
    seq = reversed(items) if reverse else items
    for item in seq:
        if isinstance(item, Token):
            if item.line:
                return Span(filename, item.line, item.column or 0, item.end_line or 0, item.end_column or 0)
        elif isinstance(item, ast.Node):
            if item.span.line:
                return item.span
        elif isinstance(item, (list, tuple)):
            found = _first_span(item, filename, reverse)
            if found is not None:
                return found
    return None


def parse_tokens(toks: list[Tok], filename: str, source: str) -> ast.Program:
    """The AST of the lexer's tokens; raises DslSyntaxError with the reference message."""
    tokens = [Token(t.type, t.value, t.start_pos, t.line, t.column, t.end_line, t.end_column, t.end_pos)
              for t in toks]
    lark = _lark()
    assert _TRANSFORMER is not None
    _TRANSFORMER.begin(filename, source)
    parser = lark.parse_interactive("")
    try:
        for tok in tokens:
            parser.feed_token(tok)
        body = parser.feed_eof()
    except UnexpectedToken as exc:
        raise _syntax_error(exc, tokens, filename, source) from None
    except UnexpectedInput as exc:  # pragma: no cover - other Lark input errors
        raise _syntax_error(exc, tokens, filename, source) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, DslError):
            raise exc.orig_exc from None
        raise
    return ast.Program(body.span, body, source)
