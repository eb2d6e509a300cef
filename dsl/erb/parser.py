"""A recursive-descent parser (precedence climbing for operators) for the Ruby subset of ERB templates.

Hand-written rather than a Lark LALR grammar like the Puppet language's: Ruby's syntax depends on
whitespace and on what names mean - ``foo [1]`` passes an array to a method while ``foo[1]`` indexes,
``x -1`` subtracts from a local variable but passes ``-1`` to a method ``x``, a newline ends a statement
unless the line obviously continues, ``do`` binds to the outermost command call but ``{`` to the
nearest - decisions that need the set of local variables assigned so far and the spacing around a
token, which a context-free LALR table cannot consult. A parser that holds that state is also the
straightforward way to give messages that name the construct ("unsupported Ruby in ERB: class
definition") instead of a table's "unexpected token".
"""

from __future__ import annotations

from typing import NoReturn

from . import ast as A
from .lexer import LexError, Token, tokenize

#: binary operators: precedence (higher binds tighter) and right-associativity
_BINARY: dict[str, tuple[int, bool]] = {
    "..": (2, False), "...": (2, False),
    "||": (3, False),
    "&&": (4, False),
    "<=>": (6, False), "==": (6, False), "===": (6, False), "!=": (6, False), "=~": (6, False),
    "!~": (6, False),
    "<": (7, False), "<=": (7, False), ">": (7, False), ">=": (7, False),
    "|": (8, False), "^": (8, False),
    "&": (9, False),
    "<<": (10, False), ">>": (10, False),
    "+": (11, False), "-": (11, False),
    "*": (12, False), "/": (12, False), "%": (12, False),
    "**": (14, True),
}
_TERNARY_PREC = 1
_UNARY_MINUS_PREC = 13
_ASSIGN_OPS = {"=", "+=", "-=", "*=", "/=", "%=", "**=", "||=", "&&=", "|=", "&=", "^=", "<<=", ">>="}
_UNSUPPORTED_KEYWORDS = {
    "class": "class definition", "module": "module definition", "alias": "alias", "undef": "undef",
    "BEGIN": "BEGIN block", "END": "END block", "yield": "yield", "super": "super",
    "redo": "redo", "retry": "retry",
}


class RubySyntaxError(Exception):
    """The template's Ruby does not parse; ``line`` is the template line."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _describe(tok: Token) -> str:
    if tok.kind == "eof":
        return "end of template"
    if tok.kind == "nl":
        return "end of line"
    if tok.kind in ("op", "kw"):
        return f"'{tok.value}'"
    if tok.kind == "text":
        return "template text"
    if tok.kind == "insert":
        return "'<%='"
    if tok.kind in ("ident", "const", "label"):
        return f"'{tok.value}'"
    if tok.kind == "ivar":
        return f"'@{tok.value}'"
    return f"a {tok.kind}" if tok.kind not in ("int", "float") else f"'{tok.value}'"


class Parser:
    def __init__(self, tokens: list[Token], locals_: set[str] | None = None) -> None:
        self.tokens = tokens
        self.i = 0
        self.scopes: list[set[str]] = [set(locals_) if locals_ else set()]
        self.no_do = 0  # inside a command call's arguments or a loop condition: 'do' is not ours

    # -- helpers --------------------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        j = min(self.i + k, len(self.tokens) - 1)
        return self.tokens[j]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def at(self, kind: str, value: object = None) -> bool:
        t = self.tokens[self.i]
        return t.kind == kind and (value is None or t.value == value)

    def at_op(self, *values: str) -> bool:
        t = self.tokens[self.i]
        return t.kind == "op" and t.value in values

    def at_kw(self, *values: str) -> bool:
        t = self.tokens[self.i]
        return t.kind == "kw" and t.value in values

    def fail(self, message: str, tok: Token | None = None) -> NoReturn:
        raise RubySyntaxError(message, (tok or self.tok).line)

    def expect_op(self, value: str, context: str = "") -> Token:
        if not self.at_op(value):
            where = f" {context}" if context else ""
            self.fail(f"syntax error: expected '{value}'{where}, got {_describe(self.tok)}")
        return self.advance()

    def expect_kw(self, value: str, opened: Token) -> Token:
        if not self.at_kw(value):
            self.fail(f"syntax error: expected '{value}' to close the '{opened.value}' opened at line "
                      f"{opened.line}, got {_describe(self.tok)}")
        return self.advance()

    def skip_terms(self) -> None:
        while self.at("nl") or self.at_op(";"):
            self.advance()

    def skip_nl(self) -> None:
        while self.at("nl"):
            self.advance()

    def is_local(self, name: str) -> bool:
        return any(name in s for s in self.scopes)

    def declare(self, name: str) -> None:
        if not self.is_local(name):
            self.scopes[-1].add(name)

    # -- statements -------------------------------------------------------------------------------------
    def parse_program(self) -> A.Seq:
        body = self.parse_stmts(())
        if not self.at("eof"):
            self.fail(f"syntax error: unexpected {_describe(self.tok)}")
        return body

    def parse_stmts(self, terminators: tuple[str, ...], closers: tuple[str, ...] = ()) -> A.Seq:
        """Statements up to one of the keywords ``terminators`` (or operators ``closers``, or the end)."""
        line = self.tok.line
        body: list[A.Node] = []
        self.skip_terms()
        while not self.at("eof") and not self.at_kw(*terminators) and not self.at_op(*closers):
            body.append(self.parse_stmt())
            if self.at("nl") or self.at_op(";"):
                self.skip_terms()
            elif not self.at("eof") and not self.at_kw(*terminators) and not self.at_op(*closers):
                if self.at("text") or self.at("insert"):
                    continue  # ERB output needs no separator after '<% end %>' ... text
                self.fail(f"syntax error: unexpected {_describe(self.tok)}")
        return A.Seq(line, tuple(body))

    def parse_stmt(self) -> A.Node:
        node = self.parse_expr_stmt()
        while self.tok.kind == "kw" and self.tok.value in ("if", "unless", "while", "until", "rescue"):
            kw = self.advance()
            if kw.value == "rescue":
                fallback = self.parse_expr_stmt()
                node = A.Begin(kw.line, node, (A.RescueClause(kw.line, (), None, fallback),), None, None)
                continue
            cond = self.parse_expr_stmt()
            if kw.value == "if":
                node = A.If(kw.line, cond, node, None)
            elif kw.value == "unless":
                node = A.If(kw.line, cond, A.Literal(kw.line, None), node)
            else:
                do_while = isinstance(node, A.Begin) and not node.rescues and node.ensure is None
                node = A.While(kw.line, cond, node, until=kw.value == "until", do_while=do_while)
        return node

    def parse_expr_stmt(self) -> A.Node:
        """``not``, ``and``, ``or`` - the loosest operators."""
        left = self.parse_not()
        while self.at_kw("and", "or"):
            kw = self.advance()
            self.skip_nl()
            right = self.parse_not()
            left = A.And(kw.line, left, right) if kw.value == "and" else A.Or(kw.line, left, right)
        return left

    def parse_not(self) -> A.Node:
        if self.at_kw("not"):
            kw = self.advance()
            return A.Not(kw.line, self.parse_not())
        return self.parse_expr()

    def parse_expr(self) -> A.Node:
        """An expression with assignment (right-associative, below the ternary)."""
        start = self.i
        if self._at_multiple_assignment():
            return self.parse_multiple_assignment()
        left = self.parse_ternary()
        if self.tok.kind == "op" and self.tok.value in _ASSIGN_OPS:
            op = self.advance()
            target = self._assignable(left, op, start)
            self.skip_nl()
            value = self.parse_assignment_value()
            if op.value == "=":
                return A.Assign(op.line, target, value)
            return A.OpAssign(op.line, target, op.value[:-1], value)
        return left

    def parse_assignment_value(self) -> A.Node:
        value = self.parse_expr()
        if self.at_op(","):  # a = 1, 2 makes an array
            items = [value]
            while self.at_op(","):
                self.advance()
                self.skip_nl()
                items.append(self.parse_arg())
            return A.ArrayLit(value.line, tuple(items))
        if self.at_kw("rescue"):
            kw = self.advance()
            fallback = self.parse_expr()
            return A.Begin(kw.line, value, (A.RescueClause(kw.line, (), None, fallback),), None, None)
        return value

    def _assignable(self, node: A.Node, op: Token, start: int) -> A.Node:
        if isinstance(node, A.Call) and node.recv is None and node.vcall:
            self.declare(node.name)
            return A.LVar(node.line, node.name)
        if isinstance(node, A.LVar):
            return node
        if isinstance(node, (A.IVar, A.GVar)):
            return node
        if isinstance(node, A.Const) and op.value == "=":
            return node
        if isinstance(node, A.Call) and node.recv is not None and node.block is None:
            if node.name == "[]" or (not node.args and node.name[-1:] not in "?!" and node.name.isidentifier()):
                return node
        self.fail(f"syntax error: cannot assign to {self._what(node)}", op)

    @staticmethod
    def _what(node: A.Node) -> str:
        if isinstance(node, A.Call):
            return f"the result of '{node.name}'"
        return type(node).__name__.lower()

    def _at_multiple_assignment(self) -> bool:
        """``a, b = ...`` / ``*a, b = ...`` at the start of a statement."""
        t = self.tok
        if not (t.kind in ("ident", "ivar") or (t.kind == "op" and t.value == "*")):
            return False
        j = self.i
        depth = 0
        saw_comma = False
        while j < len(self.tokens):
            tk = self.tokens[j]
            if tk.kind in ("nl", "eof", "text", "insert") or (tk.kind == "op" and tk.value == ";"):
                return False
            if tk.kind == "kw" and tk.value in ("do", "if", "unless", "and", "or", "then", "while"):
                return False
            if tk.kind == "op":
                if tk.value in ("(", "[", "{"):
                    depth += 1
                elif tk.value in (")", "]", "}"):
                    depth -= 1
                    if depth < 0:
                        return False
                elif tk.value == "," and depth == 0:
                    saw_comma = True
                elif tk.value == "=" and depth == 0:
                    return saw_comma
                elif depth == 0 and tk.value not in (".", "*", "::"):
                    return False
            elif depth == 0 and tk.kind not in ("ident", "ivar", "const"):
                return False
            j += 1
        return False

    def parse_multiple_assignment(self) -> A.Node:
        line = self.tok.line
        targets: list[A.Node] = []
        splat_index = -1
        while True:
            if self.at_op("*"):
                self.advance()
                splat_index = len(targets)
            start = self.i
            node = self.parse_primary_postfix()
            targets.append(self._assignable(node, self.tok, start))
            if self.at_op(","):
                self.advance()
                continue
            break
        self.expect_op("=")
        self.skip_nl()
        value = self.parse_assignment_value()
        return A.MultiAssign(line, tuple(targets), splat_index, value)

    # -- operators --------------------------------------------------------------------------------------
    def parse_ternary(self) -> A.Node:
        cond = self.parse_binary(_TERNARY_PREC + 1)
        if self.at_op("?"):
            q = self.advance()
            self.skip_nl()
            then = self.parse_ternary_branch()
            self.skip_nl()
            if self.at("label"):  # 'a ? b :c' lexed oddly is not expected; be explicit
                self.fail("syntax error: expected ':' of the ternary operator")
            self.expect_op(":", "in the ternary operator")
            self.skip_nl()
            otherwise = self.parse_ternary_branch()
            return A.If(q.line, cond, then, otherwise)
        return cond

    def parse_ternary_branch(self) -> A.Node:
        start = self.i
        node = self.parse_ternary()
        if self.tok.kind == "op" and self.tok.value in _ASSIGN_OPS:
            op = self.advance()
            target = self._assignable(node, op, start)
            value = self.parse_ternary_branch()
            return A.Assign(op.line, target, value) if op.value == "=" else \
                A.OpAssign(op.line, target, op.value[:-1], value)
        return node

    def parse_binary(self, min_prec: int) -> A.Node:
        left = self.parse_unary()
        while True:
            t = self.tok
            if t.kind != "op" or t.value not in _BINARY:
                return left
            prec, right_assoc = _BINARY[t.value]
            if prec < min_prec:
                return left
            self.advance()
            self.skip_nl()
            if t.value in ("..", "..."):
                # an endless range '(1..)' has nothing after the operator
                if self.at_op(")", "]") or self.at("nl") or self.at("eof"):
                    left = A.RangeLit(t.line, left, None, t.value == "...")
                    continue
                right = self.parse_binary(prec + 1)
                left = A.RangeLit(t.line, left, right, t.value == "...")
                continue
            right = self.parse_binary(prec if right_assoc else prec + 1)
            if t.value == "&&":
                left = A.And(t.line, left, right)
            elif t.value == "||":
                left = A.Or(t.line, left, right)
            elif t.value == "!=":
                left = A.Call(t.line, left, "!=", (right,))
            elif t.value == "!~":
                left = A.Not(t.line, A.Call(t.line, left, "=~", (right,)))
            else:
                left = A.Call(t.line, left, t.value, (right,))

    def parse_unary(self) -> A.Node:
        t = self.tok
        if t.kind == "op":
            if t.value == "!":
                self.advance()
                return A.Not(t.line, self.parse_unary())
            if t.value == "-":
                self.advance()
                nt = self.tok
                if nt.kind in ("int", "float") and not nt.spc and not (self.peek().kind == "op"
                                                                       and self.peek().value == "**"):
                    self.advance()
                    lit: A.Node = A.Literal(nt.line, -nt.value)
                    return self.parse_postfix(lit)
                operand = self.parse_binary(_UNARY_MINUS_PREC)
                return A.Call(t.line, operand, "-@")
            if t.value == "+":
                self.advance()
                return A.Call(t.line, self.parse_binary(_UNARY_MINUS_PREC), "+@")
            if t.value == "~":
                self.advance()
                return A.Call(t.line, self.parse_unary(), "~")
            if t.value in ("..", "..."):
                self.advance()
                high = self.parse_binary(3)
                return A.RangeLit(t.line, None, high, t.value == "...")
        if t.kind == "kw" and t.value == "defined?":
            self.advance()
            if self.at_op("(") and not self.tok.spc:
                self.advance()
                self.skip_nl()
                expr = self.parse_expr_stmt()
                self.skip_nl()
                self.expect_op(")", "to close defined?(")
                return self.parse_postfix(A.Defined(t.line, expr))  # defined?(@x).inspect
            return A.Defined(t.line, self.parse_unary())
        if t.kind == "kw" and t.value == "not":
            self.advance()
            return A.Not(t.line, self.parse_unary())
        return self.parse_primary_postfix()

    # -- calls and postfix ---------------------------------------------------------------------------
    def parse_primary_postfix(self) -> A.Node:
        return self.parse_postfix(self.parse_primary())

    def parse_postfix(self, node: A.Node) -> A.Node:
        while True:
            t = self.tok
            if t.kind == "op" and t.value in (".", "&."):
                self.advance()
                self.skip_nl()
                node = self.parse_method_call(node, safe=t.value == "&.")
                continue
            if t.kind == "op" and t.value == "::":
                nt = self.peek()
                if nt.kind == "const" and not (self.peek(2).kind == "op" and self.peek(2).value == "("
                                               and not self.peek(2).spc):
                    self.advance()
                    self.advance()
                    node = A.Const(nt.line, node, nt.value)
                    continue
                self.advance()
                node = self.parse_method_call(node, safe=False)
                continue
            if t.kind == "op" and t.value == "[":  # 'foo [1]' with a method foo never gets here
                self.advance()
                self.skip_nl()
                args = self.parse_call_args("]")
                self.expect_op("]", "to close the index")
                node = A.Call(t.line, node, "[]", args)
                continue
            if t.kind == "op" and t.value == "{" and self._block_capable(node):
                assert isinstance(node, A.Call)
                node = self._with_block(node, self.parse_brace_block())
                continue
            if t.kind == "kw" and t.value == "do" and not self.no_do and self._block_capable(node):
                assert isinstance(node, A.Call)
                node = self._with_block(node, self.parse_do_block())
                continue
            return node

    @staticmethod
    def _block_capable(node: A.Node) -> bool:
        return isinstance(node, A.Call) and node.block is None and node.block_arg is None \
            and node.name[:1] not in "[+-*/%<>=!&|^~"

    @staticmethod
    def _with_block(node: A.Call, block: A.Block) -> A.Call:
        return A.Call(node.line, node.recv, node.name, node.args, block, None, node.safe, False)

    def parse_method_call(self, recv: A.Node, safe: bool) -> A.Node:
        t = self.advance()
        if t.kind in ("ident", "const", "kw"):
            name = str(t.value)
        elif t.kind == "label":  # 'a.b: c' cannot be a call; report it plainly
            self.fail(f"syntax error: unexpected label '{t.value}:'", t)
        elif t.kind == "op" and t.value == "(":  # recv.(args) is recv.call(args)
            self.i -= 1
            name = "call"
        elif t.kind == "op" and t.value in ("+", "-", "*", "/", "%", "==", "<", ">", "<=", ">=", "<=>", "[",
                                             "!", "<<"):
            name = str(t.value)
            if name == "[":
                self.expect_op("]")
                name = "[]"
        else:
            self.fail(f"syntax error: expected a method name after '.', got {_describe(t)}", t)
        return self.parse_call_rest(recv, name, t, safe)

    def parse_call_rest(self, recv: A.Node | None, name: str, t: Token, safe: bool,
                        allow_command: bool = True) -> A.Node:
        """Arguments (parenthesized or command style) and a block after a method name."""
        args: tuple[A.Node, ...] = ()
        block_arg: A.Node | None = None
        block: A.Block | None = None
        nt = self.tok
        if nt.kind == "op" and nt.value == "(" and not nt.spc:
            self.advance()
            self.skip_nl()
            saved = self.no_do
            self.no_do = 0
            args, block_arg = self.parse_call_args_with_block(")")
            self.no_do = saved
            self.skip_nl()
            self.expect_op(")", f"to close the arguments of '{name}'")
            call = A.Call(t.line, recv, name, args, None, block_arg, safe)
            return call
        if allow_command and self._starts_command_arg(nt, t):
            self.no_do += 1
            try:
                args, block_arg = self.parse_command_args()
            finally:
                self.no_do -= 1
            if self.at_kw("do") and not self.no_do:
                block = self.parse_do_block()
            return A.Call(t.line, recv, name, args, block, block_arg, safe)
        return A.Call(t.line, recv, name, (), None, None, safe, vcall=recv is None)

    def _starts_command_arg(self, nt: Token, name_tok: Token) -> bool:
        """Whether ``nt`` begins the first argument of a parenthesis-less call of ``name_tok``."""
        if name_tok.kind == "ident" and str(name_tok.value)[-1:] in "?!" and not nt.spc:
            # 'include?_x' - Ruby reads a name glued to a predicate as its argument
            return nt.kind in ("ident", "ivar", "str", "dstr", "int", "const")
        if not nt.spc:
            return False
        if nt.kind in ("int", "float", "str", "dstr", "sym", "dsym", "regex", "words", "symbols", "ident",
                       "const", "ivar", "gvar", "cvar", "label"):
            return True
        if nt.kind == "kw":
            return nt.value in ("nil", "true", "false", "self", "defined?", "not", "__FILE__", "lambda")
        if nt.kind == "op":
            if nt.value in ("[", "->"):
                return True
            if nt.value == "(":
                return True
            if nt.value in ("-", "*", "&", "::", "!", "**") and not nt.spc_after:
                return True
        return False

    def parse_command_args(self) -> tuple[tuple[A.Node, ...], A.Node | None]:
        args: list[A.Node] = []
        pairs: list[tuple[A.Node, A.Node | None]] = []
        block_arg: A.Node | None = None
        while True:
            if self.at_op("&"):
                amp = self.advance()
                block_arg = A.BlockPass(amp.line, self.parse_ternary())
                break
            self._parse_one_arg(args, pairs)
            if self.at_op(","):
                self.advance()
                self.skip_nl()
                continue
            break
        if pairs:
            args.append(A.HashLit(pairs[0][0].line, tuple(pairs)))
        return tuple(args), block_arg

    def parse_call_args(self, close: str) -> tuple[A.Node, ...]:
        args, block_arg = self.parse_call_args_with_block(close)
        if block_arg is not None:
            self.fail("syntax error: a block argument is not allowed here")
        return args

    def parse_call_args_with_block(self, close: str) -> tuple[tuple[A.Node, ...], A.Node | None]:
        args: list[A.Node] = []
        pairs: list[tuple[A.Node, A.Node | None]] = []
        block_arg: A.Node | None = None
        self.skip_nl()
        while not self.at_op(close):
            if self.at_op("&"):
                amp = self.advance()
                block_arg = A.BlockPass(amp.line, self.parse_ternary())
                self.skip_nl()
                break
            self._parse_one_arg(args, pairs)
            self.skip_nl()
            if self.at_op(","):
                self.advance()
                self.skip_nl()
                continue
            break
        if pairs:
            args.append(A.HashLit(pairs[0][0].line, tuple(pairs)))
        return tuple(args), block_arg

    def _parse_one_arg(self, args: list[A.Node], pairs: list[tuple[A.Node, A.Node | None]]) -> None:
        t = self.tok
        if t.kind == "label":
            self.advance()
            self.skip_nl()
            pairs.append((A.Sym(t.line, str(t.value)), self.parse_arg()))
            return
        if t.kind == "op" and t.value == "**":
            self.advance()
            pairs.append((A.DoubleSplat(t.line, self.parse_ternary()), None))
            return
        if t.kind == "op" and t.value == "*" and not t.spc_after:
            self.advance()
            args.append(A.Splat(t.line, self.parse_ternary()))
            return
        value = self.parse_arg()
        if self.at_op("=>"):
            self.advance()
            self.skip_nl()
            pairs.append((value, self.parse_arg()))
            return
        if pairs:
            self.fail("syntax error: a positional argument after keyword arguments")
        args.append(value)

    def parse_arg(self) -> A.Node:
        """One argument: an expression without ``and``/``or``/``not`` or statement modifiers."""
        if self.at_kw("not"):
            t = self.advance()
            return A.Not(t.line, self.parse_arg())
        return self.parse_expr()

    # -- blocks ----------------------------------------------------------------------------------------
    def parse_brace_block(self) -> A.Block:
        t = self.expect_op("{")
        self.scopes.append(set())
        try:
            params, has = self.parse_block_params()
            saved = self.no_do
            self.no_do = 0
            body = self.parse_stmts((), ("}",))
            self.no_do = saved
            self.expect_op("}", f"to close the block opened at line {t.line}")
        finally:
            self.scopes.pop()
        return A.Block(t.line, params, body, has)

    def parse_do_block(self) -> A.Block:
        t = self.advance()
        self.scopes.append(set())
        try:
            params, has = self.parse_block_params()
            saved = self.no_do
            self.no_do = 0
            body = self.parse_body_with_rescue(t)
            self.no_do = saved
            self.expect_kw("end", t)
        finally:
            self.scopes.pop()
        return A.Block(t.line, params, body, has)

    def parse_block_params(self) -> tuple[tuple[A.Param, ...], bool]:
        self.skip_nl()
        if self.at_op("||"):
            self.advance()
            return (), True
        if not self.at_op("|"):
            return (), False
        self.advance()
        params = self.parse_param_list(("|",))
        self.expect_op("|", "to close the block parameters")
        return params, True

    def parse_param_list(self, closers: tuple[str, ...]) -> tuple[A.Param, ...]:
        params: list[A.Param] = []
        while not self.at_op(*closers):
            t = self.tok
            if t.kind == "op" and t.value == "(":
                self.advance()
                nested = self.parse_param_list((")",))
                self.expect_op(")")
                params.append(A.Param(t.line, "", nested))
            elif t.kind == "op" and t.value in ("*", "&", "**"):
                self.advance()
                name = ""
                if self.at("ident"):
                    name = str(self.advance().value)
                    self.declare(name)
                if t.value == "**":
                    self.fail("unsupported Ruby in ERB: keyword rest parameter", t)
                params.append(A.Param(t.line, name, splat=t.value == "*", block=t.value == "&"))
            elif t.kind == "ident":
                self.advance()
                name = str(t.value)
                self.declare(name)
                default = None
                if self.at_op("="):
                    self.advance()
                    default = self.parse_ternary()
                params.append(A.Param(t.line, name, default=default))
            elif t.kind == "label":
                self.fail("unsupported Ruby in ERB: keyword parameter", t)
            else:
                self.fail(f"syntax error: unexpected {_describe(t)} in parameters")
            if self.at_op(","):
                self.advance()
                if self.at_op(*closers):  # |a, | destructures like |a, _|
                    params.append(A.Param(t.line, "", splat=True))
                continue
            if self.at_op(";"):  # block-local variables '|x; y|'
                self.advance()
                while self.at("ident"):
                    self.declare(str(self.advance().value))
                    if self.at_op(","):
                        self.advance()
        return tuple(params)

    # -- primaries -------------------------------------------------------------------------------------
    def parse_primary(self) -> A.Node:
        t = self.tok
        k = t.kind
        if k in ("str", "dstr"):
            self.advance()
            parts: list[str | A.Node] = list(self._parts(t)) if k == "dstr" else [str(t.value)]
            while self.tok.kind in ("str", "dstr"):  # 'a' "b" - adjacent literals are one string
                nt = self.advance()
                parts.extend(self._parts(nt) if nt.kind == "dstr" else [str(nt.value)])
            if all(isinstance(p, str) for p in parts):
                return A.Literal(t.line, "".join(str(p) for p in parts))
            return A.DStr(t.line, tuple(parts))
        if k in ("int", "float"):
            self.advance()
            return A.Literal(t.line, t.value)
        if k == "sym":
            self.advance()
            return A.Sym(t.line, str(t.value))
        if k == "dsym":
            self.advance()
            return A.DSym(t.line, self._parts(t))
        if k == "regex":
            self.advance()
            return A.RegexLit(t.line, self._parts(t), str(t.value))
        if k == "words":
            self.advance()
            return A.ArrayLit(t.line, tuple(A.Literal(t.line, w) for w in t.value))
        if k == "symbols":
            self.advance()
            return A.ArrayLit(t.line, tuple(A.Sym(t.line, w) for w in t.value))
        if k == "text":
            self.advance()
            return A.Text(t.line, int(t.value))
        if k == "insert":
            self.advance()
            self.expect_op("(")
            inner = self.parse_stmts((), (")",))
            self.expect_op(")", "to close '<%='")
            expr: A.Node = inner.body[0] if len(inner.body) == 1 else inner
            return A.Insert(t.line, expr)
        if k == "ivar":
            self.advance()
            return A.IVar(t.line, str(t.value))
        if k == "cvar":
            self.fail(f"unsupported Ruby in ERB: class variable '@@{t.value}'")
        if k == "gvar":
            self.advance()
            return A.GVar(t.line, str(t.value))
        if k == "const":
            self.advance()
            name = str(t.value)
            nt = self.tok
            if nt.kind == "op" and nt.value == "(" and not nt.spc:  # Array(x), Integer(x)
                return self.parse_call_rest(None, name, t, False)
            if nt.kind in ("str", "dstr") and nt.spc and name in ("Integer", "Float", "String", "Array"):
                return self.parse_call_rest(None, name, t, False)
            return A.Const(t.line, None, name)
        if k == "ident":
            return self.parse_identifier()
        if k == "label":
            self.fail(f"syntax error: unexpected label '{t.value}:'")
        if k == "kw":
            return self.parse_keyword()
        if k == "op":
            return self.parse_op_primary()
        self.fail(f"syntax error: unexpected {_describe(t)}")

    def _parts(self, t: Token) -> tuple[str | A.Node, ...]:
        out: list[str | A.Node] = []
        for p in t.parts:
            if isinstance(p, str):
                out.append(p)
            else:
                out.append(self.parse_sub(p, t.line))
        return tuple(out)

    def parse_sub(self, tokens: list[Token], line: int) -> A.Node:
        """The code of a ``#{}`` interpolation, parsed with the enclosing local variables."""
        eof = Token("eof", None, tokens[-1].line if tokens else line, True, True)
        sub = Parser(tokens + [eof])
        sub.scopes = self.scopes
        body = sub.parse_program()
        return body.body[0] if len(body.body) == 1 else body

    def parse_identifier(self) -> A.Node:
        t = self.advance()
        name = str(t.value)
        nt = self.tok
        if self.is_local(name) and not (nt.kind == "op" and nt.value == "(" and not nt.spc):
            return A.LVar(t.line, name)
        if name in ("lambda", "proc") and (self.at_op("{") or self.at_kw("do")):
            block = self.parse_brace_block() if self.at_op("{") else self.parse_do_block()
            return A.Lambda(t.line, block)
        if name in ("loop",) and (self.at_op("{") or self.at_kw("do")):
            block = self.parse_brace_block() if self.at_op("{") else self.parse_do_block()
            return A.Call(t.line, None, "loop", (), block)
        return self.parse_call_rest(None, name, t, False)

    def parse_keyword(self) -> A.Node:
        t = self.tok
        v = t.value
        if v in ("nil", "true", "false"):
            self.advance()
            return A.Literal(t.line, {"nil": None, "true": True, "false": False}[str(v)])
        if v == "self":
            self.advance()
            return A.SelfRef(t.line)
        if v == "__FILE__":
            self.advance()
            return A.Call(t.line, None, "__FILE__", ())
        if v == "__LINE__":
            self.advance()
            return A.Literal(t.line, t.line)
        if v == "if" or v == "unless":
            return self.parse_if()
        if v in ("while", "until"):
            return self.parse_while()
        if v == "case":
            return self.parse_case()
        if v == "for":
            return self.parse_for()
        if v == "begin":
            return self.parse_begin()
        if v == "def":
            return self.parse_def()
        if v in ("next", "break", "return"):
            self.advance()
            value: A.Node | None = None
            if not (self.at("nl") or self.at("eof") or self.at_op(";", "}", ")") or self.at("text")
                    or self.at_kw("end", "if", "unless", "while", "until", "else", "elsif", "when")):
                value = self.parse_expr()
                if self.at_op(","):
                    items = [value]
                    while self.at_op(","):
                        self.advance()
                        items.append(self.parse_expr())
                    value = A.ArrayLit(t.line, tuple(items))
            return A.Jump(t.line, str(v), value)
        if v == "then":
            self.fail("syntax error: unexpected 'then'")
        if v in _UNSUPPORTED_KEYWORDS:
            self.fail(f"unsupported Ruby in ERB: {_UNSUPPORTED_KEYWORDS[str(v)]}")
        self.fail(f"syntax error: unexpected {_describe(t)}")

    def parse_op_primary(self) -> A.Node:
        t = self.tok
        v = t.value
        if v == "(":
            self.advance()
            saved = self.no_do
            self.no_do = 0
            body = self.parse_stmts((), (")",))
            self.no_do = saved
            self.expect_op(")", f"to close the '(' opened at line {t.line}")
            if not body.body:
                return A.Literal(t.line, None)
            return body.body[0] if len(body.body) == 1 else body
        if v == "[":
            self.advance()
            saved = self.no_do
            self.no_do = 0
            args = self.parse_call_args("]")
            self.no_do = saved
            self.skip_nl()
            self.expect_op("]", f"to close the array opened at line {t.line}")
            return A.ArrayLit(t.line, args)
        if v == "{":
            return self.parse_hash()
        if v == "->":
            self.advance()
            params: tuple[A.Param, ...] = ()
            self.scopes.append(set())
            try:
                if self.at_op("("):
                    self.advance()
                    params = self.parse_param_list((")",))
                    self.expect_op(")")
                elif self.at("ident"):
                    params = self.parse_param_list(("{",))
                if self.at_op("{"):
                    inner = self.parse_brace_block()
                elif self.at_kw("do"):
                    inner = self.parse_do_block()
                else:
                    self.fail("syntax error: expected '{' or 'do' after '->'")
            finally:
                self.scopes.pop()
            return A.Lambda(t.line, A.Block(t.line, params, inner.body, True))
        if v == "::":
            self.advance()
            if not self.at("const"):
                self.fail("syntax error: expected a constant after '::'")
            c = self.advance()
            return A.Const(c.line, None, str(c.value), top=True)
        if v == "*":
            self.advance()
            return A.Splat(t.line, self.parse_ternary())
        if v == "..":
            self.advance()
            return A.RangeLit(t.line, None, self.parse_binary(3), False)
        self.fail(f"syntax error: unexpected {_describe(t)}")

    def parse_hash(self) -> A.Node:
        t = self.expect_op("{")
        pairs: list[tuple[A.Node, A.Node | None]] = []
        saved = self.no_do
        self.no_do = 0
        self.skip_nl()
        while not self.at_op("}"):
            kt = self.tok
            if kt.kind == "label":
                self.advance()
                self.skip_nl()
                key: A.Node = A.Sym(kt.line, str(kt.value))
                if self.at_op(",", "}"):  # {x:} is {x: x}
                    pairs.append((key, A.Call(kt.line, None, str(kt.value), vcall=True)
                                  if not self.is_local(str(kt.value)) else A.LVar(kt.line, str(kt.value))))
                else:
                    pairs.append((key, self.parse_arg()))
            elif kt.kind == "op" and kt.value == "**":
                self.advance()
                pairs.append((A.DoubleSplat(kt.line, self.parse_ternary()), None))
            elif kt.kind in ("str", "dstr") and self.peek().kind == "op" and self.peek().value == ":" \
                    and not self.peek().spc:
                self.advance()
                self.advance()
                self.skip_nl()
                key = A.Sym(kt.line, str(kt.value)) if kt.kind == "str" else A.DSym(kt.line, self._parts(kt))
                pairs.append((key, self.parse_arg()))
            else:
                key = self.parse_arg()
                self.skip_nl()
                self.expect_op("=>", "in the hash")
                self.skip_nl()
                pairs.append((key, self.parse_arg()))
            self.skip_nl()
            if self.at_op(","):
                self.advance()
                self.skip_nl()
                continue
            break
        self.skip_nl()
        self.no_do = saved
        self.expect_op("}", f"to close the hash opened at line {t.line}")
        return A.HashLit(t.line, tuple(pairs))

    # -- compound statements -------------------------------------------------------------------------
    def parse_then(self) -> None:
        """The separator after a condition: ``then``, a newline or ``;`` (or ERB text)."""
        if self.at_kw("then"):
            self.advance()
            return
        if self.at("nl") or self.at_op(";"):
            self.skip_terms()
            if self.at_kw("then"):
                self.advance()
            return
        if self.at("text") or self.at("insert") or self.at("eof"):
            return  # at the end, the missing 'end' is the error to report
        self.fail(f"syntax error: expected 'then' or a new line after the condition, got {_describe(self.tok)}")

    def parse_if(self) -> A.Node:
        t = self.advance()
        cond = self.parse_condition()
        self.parse_then()
        then = self.parse_stmts(("elsif", "else", "end"))
        else_: A.Node | None = None
        if t.value == "if" and self.at_kw("elsif"):
            else_ = self.parse_elsif()
            return A.If(t.line, cond, then, else_)
        if self.at_kw("else"):
            self.advance()
            else_ = self.parse_stmts(("end",))
        self.expect_kw("end", t)
        if t.value == "unless":
            return A.If(t.line, cond, else_ or A.Literal(t.line, None), then)
        return A.If(t.line, cond, then, else_)

    def parse_elsif(self) -> A.Node:
        t = self.advance()
        cond = self.parse_condition()
        self.parse_then()
        then = self.parse_stmts(("elsif", "else", "end"))
        else_: A.Node | None = None
        if self.at_kw("elsif"):
            return A.If(t.line, cond, then, self.parse_elsif())
        if self.at_kw("else"):
            self.advance()
            else_ = self.parse_stmts(("end",))
        self.expect_kw("end", t)
        return A.If(t.line, cond, then, else_)

    def parse_condition(self) -> A.Node:
        self.no_do += 1
        try:
            return self.parse_expr_stmt()
        finally:
            self.no_do -= 1

    def parse_while(self) -> A.Node:
        t = self.advance()
        cond = self.parse_condition()
        if self.at_kw("do"):
            self.advance()
        else:
            self.parse_then_or_nl()
        body = self.parse_stmts(("end",))
        self.expect_kw("end", t)
        return A.While(t.line, cond, body, until=t.value == "until")

    def parse_then_or_nl(self) -> None:
        if self.at("nl") or self.at_op(";"):
            self.skip_terms()
        elif not (self.at("text") or self.at("insert")):
            self.fail(f"syntax error: expected 'do' or a new line, got {_describe(self.tok)}")

    def parse_for(self) -> A.Node:
        t = self.advance()
        targets: list[A.Node] = []
        while True:
            nt = self.tok
            if nt.kind == "ident":
                self.advance()
                self.declare(str(nt.value))
                targets.append(A.LVar(nt.line, str(nt.value)))
            elif nt.kind == "ivar":
                self.advance()
                targets.append(A.IVar(nt.line, str(nt.value)))
            else:
                self.fail(f"syntax error: expected a variable after 'for', got {_describe(nt)}")
            if self.at_op(","):
                self.advance()
                continue
            break
        if not self.at_kw("in"):
            self.fail(f"syntax error: expected 'in' in the for loop, got {_describe(self.tok)}")
        self.advance()
        iterable = self.parse_condition()
        if self.at_kw("do"):
            self.advance()
        else:
            self.parse_then_or_nl()
        body = self.parse_stmts(("end",))
        self.expect_kw("end", t)
        return A.For(t.line, tuple(targets), iterable, body)

    def parse_case(self) -> A.Node:
        t = self.advance()
        subject: A.Node | None = None
        if not (self.at("nl") or self.at_op(";")):
            subject = self.parse_expr_stmt()
        self.skip_terms()
        whens: list[A.When] = []
        while self.at_kw("when"):
            w = self.advance()
            tests: list[A.Node] = []
            while True:
                self.skip_nl()
                if self.at_op("*"):
                    st = self.advance()
                    tests.append(A.Splat(st.line, self.parse_ternary()))
                else:
                    tests.append(self.parse_ternary())
                if self.at_op(","):
                    self.advance()
                    continue
                break
            self.parse_then()
            body = self.parse_stmts(("when", "else", "end"))
            whens.append(A.When(w.line, tuple(tests), body))
        if self.at_kw("in"):
            self.fail("unsupported Ruby in ERB: pattern matching (case/in)")
        if not whens:
            self.fail(f"syntax error: expected 'when' after 'case', got {_describe(self.tok)}")
        else_: A.Node | None = None
        if self.at_kw("else"):
            self.advance()
            else_ = self.parse_stmts(("end",))
        self.expect_kw("end", t)
        return A.Case(t.line, subject, tuple(whens), else_)

    def parse_body_with_rescue(self, opened: Token) -> A.Node:
        body = self.parse_stmts(("rescue", "else", "ensure", "end"))
        if not self.at_kw("rescue", "else", "ensure"):
            return body
        rescues: list[A.RescueClause] = []
        while self.at_kw("rescue"):
            r = self.advance()
            classes: list[A.Node] = []
            var: str | None = None
            while not (self.at("nl") or self.at_op(";", "=>") or self.at_kw("then")):
                classes.append(self.parse_ternary())
                if self.at_op(","):
                    self.advance()
                    continue
                break
            if self.at_op("=>"):
                self.advance()
                if not self.at("ident"):
                    self.fail("syntax error: expected a variable name after '=>' in rescue")
                var = str(self.advance().value)
                self.declare(var)
            self.parse_then()
            rbody = self.parse_stmts(("rescue", "else", "ensure", "end"))
            rescues.append(A.RescueClause(r.line, tuple(classes), var, rbody))
        else_: A.Node | None = None
        ensure: A.Node | None = None
        if self.at_kw("else"):
            self.advance()
            else_ = self.parse_stmts(("ensure", "end"))
        if self.at_kw("ensure"):
            self.advance()
            ensure = self.parse_stmts(("end",))
        return A.Begin(opened.line, body, tuple(rescues), else_, ensure)

    def parse_begin(self) -> A.Node:
        t = self.advance()
        body = self.parse_body_with_rescue(t)
        self.expect_kw("end", t)
        if not isinstance(body, A.Begin):
            body = A.Begin(t.line, body, (), None, None)
        return body

    def parse_def(self) -> A.Node:
        t = self.advance()
        nt = self.advance()
        if nt.kind not in ("ident", "const", "kw"):
            self.fail(f"syntax error: expected a method name after 'def', got {_describe(nt)}", nt)
        if self.at_op("."):
            self.fail("unsupported Ruby in ERB: singleton method definition")
        name = str(nt.value)
        self.scopes.append(set())
        try:
            params: tuple[A.Param, ...] = ()
            if self.at_op("("):
                self.advance()
                params = self.parse_param_list((")",))
                self.expect_op(")")
            elif not (self.at("nl") or self.at_op(";")):
                params = self._bare_params()
            body = self.parse_body_with_rescue(t)
            self.expect_kw("end", t)
        finally:
            self.scopes.pop()
        return A.Def(t.line, name, params, body)

    def _bare_params(self) -> tuple[A.Param, ...]:
        params: list[A.Param] = []
        while self.at("ident"):
            p = self.advance()
            self.declare(str(p.value))
            params.append(A.Param(p.line, str(p.value)))
            if not self.at_op(","):
                break
            self.advance()
        return tuple(params)


def parse_ruby(source: str) -> A.Seq:
    """Parse a compiled ERB program (see :func:`dsl.erb.scanner.compile_erb`)."""
    try:
        tokens = tokenize(source)
    except LexError as exc:
        raise RubySyntaxError(exc.message, exc.line) from None
    return Parser(tokens).parse_program()
