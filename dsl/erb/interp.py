"""The evaluator of the Ruby subset: walks a template's syntax tree with Ruby's semantics and
Puppet's template object (``@var`` reads the Puppet scope, ``scope`` is the scope object).

Limits: a template may make at most :data:`MAX_STEPS` method calls and loop iterations and print at most
:data:`registry.MAX_SIZE` characters, so a template cannot occupy a compile worker for minutes or take
gigabytes; both are errors with the template line, like Ruby's own errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from . import ast as A
from .registry import MAX_SIZE, check_size, find_method, no_method, ruby_has_method
from .rvalues import (
    ANCESTORS,
    ERROR_PARENTS,
    RClass,
    RMatch,
    RMethodRef,
    RProc,
    RRange,
    RRegexp,
    RubyError,
    Symbol,
    Unsupported,
    class_name,
    compare,
    hash_key,
    to_s,
    truthy,
)

#: method calls plus loop iterations one rendering may make
MAX_STEPS = 2_000_000


class Host(Protocol):
    """What a template sees of Puppet: the scope's variables and functions."""

    #: the template's file (``file``, ``__FILE__``), None for inline templates
    file: str | None

    def variable(self, name: str) -> tuple[bool, Any]:
        """``@name``: a variable visible in the scope (unqualified)."""

    def lookupvar(self, name: str) -> Any:
        """``scope['name']``, ``scope.lookupvar('name')``: qualified names too; nil when unknown."""

    def setvar(self, name: str, value: Any) -> None:
        """``scope.setvar('name', value)``."""

    def call_function(self, name: str, args: list[Any], block: Callable[..., Any] | None) -> Any:
        """A Puppet function."""

    def all_variables(self) -> dict[str, Any]:
        """``scope.to_hash``: every variable visible in the scope."""

    def classes(self) -> list[str]:
        """The classes declared in the catalog so far."""

    def tags(self) -> list[str]:
        """The catalog's tags."""


class Budget:
    """The calls and iterations left to a rendering - shared with the templates it renders through
    ``scope.function_template``, so nesting cannot multiply it."""

    __slots__ = ("steps", "depth")

    def __init__(self) -> None:
        self.steps = 0
        self.depth = 0


class StepLimit(Exception):
    """The template made more than :data:`MAX_STEPS` calls and iterations."""

    def __init__(self, line: int | None = None) -> None:
        super().__init__(line)
        self.line = line


class _Next(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _Break(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class RException:
    """A Ruby exception object, as ``rescue => e`` binds it."""

    __slots__ = ("cls", "message")

    def __init__(self, cls: str, message: str) -> None:
        self.cls = cls
        self.message = message

    @property
    def ruby_class(self) -> str:
        return self.cls

    def ruby_to_s(self) -> str:
        return self.message


class ScopeObject:
    """Puppet's ``Puppet::Parser::Scope`` as templates use it: ``scope['x']``, ``scope.lookupvar``,
    ``scope.function_NAME([args])``, ``scope.call_function(name, [args])``, ``scope.setvar``."""

    ruby_class = "Puppet::Parser::Scope"

    def __init__(self, host: Host) -> None:
        self.host = host

    def ruby_to_s(self) -> str:
        return "Scope()"


class TemplateObject:
    """``self`` of a template: Puppet's TemplateWrapper (``scope``, ``file``, ``has_variable?``)."""

    ruby_class = "Puppet::Parser::TemplateWrapper"

    def __init__(self, host: Host, name: str) -> None:
        self.host = host
        self.name = name

    def ruby_to_s(self) -> str:
        return f"template[{self.host.file or 'inline'}]"


#: constants a template may name
CONSTANTS = {name: RClass(name) for name in (
    "String", "Array", "Hash", "Integer", "Float", "Numeric", "Symbol", "NilClass", "TrueClass",
    "FalseClass", "Regexp", "Range", "Object", "Comparable", "Enumerable", "Proc", "Kernel", "BasicObject",
    "MatchData", "Math", "IPAddr", *ERROR_PARENTS)}
CONSTANTS["Fixnum"] = RClass("Integer")
CONSTANTS["Bignum"] = RClass("Integer")


def is_a(value: Any, cls: str) -> bool:
    own = class_name(value)
    if isinstance(value, RException):
        c: str | None = value.cls
        while c is not None:
            if c == cls:
                return True
            c = ERROR_PARENTS.get(c)
        return cls in ("Object", "Kernel", "BasicObject")
    return cls in ANCESTORS.get(own, (own, "Object", "Kernel", "BasicObject"))


class Env:
    """Local variables of a template, a block or a method; blocks see their enclosing variables."""

    __slots__ = ("vars", "parent")

    def __init__(self, parent: Env | None = None) -> None:
        self.vars: dict[str, Any] = {}
        self.parent = parent

    def lookup(self, name: str) -> Any:
        e: Env | None = self
        while e is not None:
            if name in e.vars:
                return e.vars[name]
            e = e.parent
        return None

    def has(self, name: str) -> bool:
        e: Env | None = self
        while e is not None:
            if name in e.vars:
                return True
            e = e.parent
        return False

    def assign(self, name: str, value: Any) -> None:
        e: Env | None = self
        while e is not None:
            if name in e.vars:
                e.vars[name] = value
                return
            e = e.parent
        self.vars[name] = value


class Blk:
    """A block as built-in methods receive it: call it like a function with the yielded values."""

    __slots__ = ("it", "block", "env", "is_lambda", "name")

    def __init__(self, it: Interp, block: A.Block | None, env: Env | None, is_lambda: bool = False,
                 name: str | None = None) -> None:
        self.it = it
        self.block = block
        self.env = env
        self.is_lambda = is_lambda
        self.name = name  # '&:upcase'

    def __call__(self, *args: Any) -> Any:
        if self.name is not None:
            if not args:
                raise RubyError("ArgumentError", "no receiver given")
            return self.it.send(args[0], self.name, list(args[1:]), None)
        return self.it.call_block(self, list(args))

    @property
    def arity(self) -> int:
        if self.name is not None:
            return -2
        assert self.block is not None
        params = self.block.params
        if any(p.splat for p in params):
            return -(sum(1 for p in params if not p.splat and not p.block and p.default is None) + 1)
        return sum(1 for p in params if not p.block)


class Interp:
    def __init__(self, host: Host, texts: tuple[str, ...], name: str, budget: Budget | None = None) -> None:
        self.host = host
        self.budget = budget if budget is not None else Budget()
        self.texts = texts
        self.name = name
        self.out: list[str] = []
        self.out_len = 0
        self.ivars: dict[str, Any] = {}
        self.last_match: RMatch | None = None
        self.defs: dict[str, A.Def] = {}
        self.self_obj = TemplateObject(host, name)
        self.scope_obj = ScopeObject(host)
        self._dispatch: dict[type, Callable[[Any, Env], Any]] = {
            A.Seq: self._seq, A.Text: self._text, A.Insert: self._insert, A.Literal: self._literal,
            A.DStr: self._dstr, A.Sym: self._sym, A.DSym: self._dsym, A.RegexLit: self._regex,
            A.ArrayLit: self._array, A.HashLit: self._hash, A.RangeLit: self._range, A.SelfRef: self._self,
            A.Lambda: self._lambda, A.LVar: self._lvar, A.IVar: self._ivar, A.GVar: self._gvar,
            A.Const: self._const, A.Call: self._call, A.Assign: self._assign, A.OpAssign: self._op_assign,
            A.MultiAssign: self._multi_assign, A.And: self._and, A.Or: self._or, A.Not: self._not,
            A.Defined: self._defined, A.If: self._if, A.While: self._while, A.For: self._for,
            A.Case: self._case, A.Begin: self._begin, A.Jump: self._jump, A.Def: self._def,
            A.Splat: self._splat_alone, A.BlockPass: self._blockpass_alone,
        }

    # -- running ---------------------------------------------------------------------------------------
    def run(self, program: A.Seq) -> str:
        env = Env()
        try:
            self.eval(program, env)
        except _Next:
            raise RubyError("SyntaxError", "Invalid next") from None
        except _Break:
            raise RubyError("SyntaxError", "Invalid break") from None
        except _Return:
            raise Unsupported("'return' outside a method") from None
        return "".join(self.out)

    def eval(self, node: A.Node, env: Env) -> Any:
        return self._dispatch[type(node)](node, env)

    def tick(self) -> None:
        self.budget.steps += 1
        if self.budget.steps > MAX_STEPS:
            raise StepLimit(None)

    def emit(self, text: str) -> None:
        self.out_len += len(text)
        if self.out_len > MAX_SIZE:
            check_size(self.out_len, "the template's output")
        self.out.append(text)

    # -- output and literals ---------------------------------------------------------------------------
    def _seq(self, node: A.Seq, env: Env) -> Any:
        value = None
        ev = self._dispatch
        for stmt in node.body:
            value = ev[type(stmt)](stmt, env)
        return value

    def _text(self, node: A.Text, env: Env) -> Any:
        self.emit(self.texts[node.index])
        return None

    def _insert(self, node: A.Insert, env: Env) -> Any:
        value = self.eval(node.expr, env)
        try:
            self.emit(value if isinstance(value, str) else self.to_s(value))
        except (RubyError, Unsupported) as exc:
            if exc.line is None:
                exc.line = node.line
            raise
        return None

    def to_s(self, value: Any) -> str:
        """``value.to_s`` (templates cannot define classes, so Ruby's built-in conversion is the only one)."""
        return to_s(value)

    def _literal(self, node: A.Literal, env: Env) -> Any:
        return node.value

    def _interpolate(self, parts: tuple[str | A.Node, ...], env: Env) -> str:
        out = []
        for p in parts:
            if isinstance(p, str):
                out.append(p)
            else:
                v = self.eval(p, env)
                out.append(v if isinstance(v, str) else to_s(v))
        text = "".join(out)
        if len(text) > MAX_SIZE:
            try:
                check_size(len(text), "this string")
            except RubyError as exc:
                exc.line = parts_line(parts)
                raise
        return text

    def _dstr(self, node: A.DStr, env: Env) -> Any:
        return self._interpolate(node.parts, env)

    def _sym(self, node: A.Sym, env: Env) -> Any:
        return Symbol(node.name)

    def _dsym(self, node: A.DSym, env: Env) -> Any:
        return Symbol(self._interpolate(node.parts, env))

    def _regex(self, node: A.RegexLit, env: Env) -> Any:
        try:
            return RRegexp(self._interpolate(node.parts, env), node.flags)
        except (RubyError, Unsupported) as exc:
            if exc.line is None:
                exc.line = node.line
            raise

    def _array(self, node: A.ArrayLit, env: Env) -> Any:
        out: list[Any] = []
        for el in node.elements:
            if isinstance(el, A.Splat):
                out.extend(self.splat_values(self.eval(el.value, env)))
            else:
                out.append(self.eval(el, env))
        return out

    def splat_values(self, value: Any) -> list[Any]:
        if value is None:
            return []
        if isinstance(value, list):
            return value
        if isinstance(value, dict):
            return [[k, v] for k, v in value.items()]
        if isinstance(value, RRange):
            from .methods_enum import range_values

            return range_values(value)
        return [value]

    def _hash(self, node: A.HashLit, env: Env) -> Any:
        out: dict[Any, Any] = {}
        for k, v in node.pairs:
            if isinstance(k, A.DoubleSplat):
                extra = self.eval(k.value, env)
                if extra is not None:
                    if not isinstance(extra, dict):
                        raise RubyError("TypeError", f"no implicit conversion of {class_name(extra)} into Hash",
                                        k.line)
                    out.update(extra)
                continue
            key = self.eval(k, env)
            assert v is not None
            value = self.eval(v, env)
            try:
                out[hash_key(key)] = value
            except Unsupported as exc:
                exc.line = k.line
                raise
        return out

    def _range(self, node: A.RangeLit, env: Env) -> Any:
        low = self.eval(node.low, env) if node.low is not None else None
        high = self.eval(node.high, env) if node.high is not None else None
        if not ((low is None or high is None) or (compare(low, high) is not None)):
            raise RubyError("ArgumentError", "bad value for range", node.line)
        return RRange(low, high, node.exclusive)

    def _self(self, node: A.SelfRef, env: Env) -> Any:
        return self.self_obj

    def _lambda(self, node: A.Lambda, env: Env) -> Any:
        return RProc(node.block, env, is_lambda=True)

    def _splat_alone(self, node: A.Splat, env: Env) -> Any:
        return self.splat_values(self.eval(node.value, env))

    def _blockpass_alone(self, node: A.BlockPass, env: Env) -> Any:
        raise RubyError("SyntaxError", "block argument should not be given", node.line)

    # -- variables ------------------------------------------------------------------------------------
    def _lvar(self, node: A.LVar, env: Env) -> Any:
        e: Env | None = env
        name = node.name
        while e is not None:
            vars_ = e.vars
            if name in vars_:
                return vars_[name]
            e = e.parent
        return None

    def ivar(self, name: str) -> Any:
        if name in self.ivars:
            return self.ivars[name]
        if name == "__scope__":
            return self.scope_obj
        if name == "__file__":
            return self.host.file
        return self.host.variable(name)[1]

    def _ivar(self, node: A.IVar, env: Env) -> Any:
        name = node.name
        if name in self.ivars:
            return self.ivars[name]
        return self.ivar(name)

    def _gvar(self, node: A.GVar, env: Env) -> Any:
        name = node.name
        m = self.last_match
        if name == "$~":
            return m
        if name[1:].isdigit():
            return m.group(int(name[1:])) if m is not None else None
        if name == "$&":
            return m.group(0) if m is not None else None
        if name == "$`":
            return m.m.string[:m.m.start()] if m is not None else None
        if name == "$'":
            return m.m.string[m.m.end():] if m is not None else None
        if name == "$,":
            return None
        if name == "$/":
            return "\n"
        raise Unsupported(f"global variable '{name}'", node.line)

    def _const(self, node: A.Const, env: Env) -> Any:
        if node.scope is not None:
            outer = self.eval(node.scope, env)
            if not isinstance(outer, RClass):
                raise RubyError("TypeError", f"{to_s(outer)} is not a class/module", node.line)
            full = f"{outer.name}::{node.name}"
            if outer.name == "Float" and node.name in ("INFINITY", "NAN", "EPSILON", "MAX", "MIN"):
                import sys

                return {"INFINITY": float("inf"), "NAN": float("nan"), "EPSILON": sys.float_info.epsilon,
                        "MAX": sys.float_info.max, "MIN": sys.float_info.min}[node.name]
            if full in CONSTANTS:
                return CONSTANTS[full]
            if outer.name == "Puppet":
                raise Unsupported(f"constant '{full}'", node.line)
            raise RubyError("NameError", f"uninitialized constant {full}", node.line)
        name = node.name
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in ("Puppet", "JSON", "YAML", "Time", "File", "Dir", "ENV", "Facter", "Set", "Date",
                    "Struct", "OpenStruct", "URI", "Base64", "Digest", "SecureRandom", "Process", "ARGV",
                    "STDOUT", "STDERR", "RUBY_VERSION", "Encoding", "Random"):
            if name == "Puppet":
                return RClass("Puppet")
            raise Unsupported(f"constant '{name}'", node.line)
        raise RubyError("NameError", f"uninitialized constant {name}", node.line)

    # -- assignment -----------------------------------------------------------------------------------
    def _assign(self, node: A.Assign, env: Env) -> Any:
        value = self.eval(node.value, env)
        self.assign_to(node.target, value, env)
        return value

    def assign_to(self, target: A.Node, value: Any, env: Env) -> None:
        if isinstance(target, A.LVar):
            env.assign(target.name, value)
        elif isinstance(target, A.IVar):
            self.ivars[target.name] = value
        elif isinstance(target, A.Call):
            recv = self.eval(target.recv, env) if target.recv is not None else self.self_obj
            if target.name == "[]":
                args = self.eval_args(target.args, env)
                self.send(recv, "[]=", args + [value], None, target.line)
            else:
                self.send(recv, target.name + "=", [value], None, target.line)
        elif isinstance(target, A.GVar):
            raise Unsupported(f"assignment to global variable '{target.name}'", target.line)
        elif isinstance(target, A.Const):
            raise Unsupported(f"constant assignment '{target.name}'", target.line)
        else:  # pragma: no cover - the parser only produces the targets above
            raise Unsupported("assignment target", target.line)

    def _op_assign(self, node: A.OpAssign, env: Env) -> Any:
        target = node.target
        # evaluate the receiver and index once: h[k] ||= [] must not evaluate k twice
        if isinstance(target, A.Call):
            recv = self.eval(target.recv, env) if target.recv is not None else self.self_obj
            args = self.eval_args(target.args, env) if target.name == "[]" else []
            getter, setter = (("[]", "[]=") if target.name == "[]" else (target.name, target.name + "="))
            current = self.send(recv, getter, list(args), None, target.line)
            assign, value = self._op_value(node, current, env)
            if assign:
                self.send(recv, setter, list(args) + [value], None, target.line)
            return value
        if isinstance(target, A.LVar):
            current = env.lookup(target.name)
        elif isinstance(target, A.IVar):
            current = self.ivar(target.name)
        else:
            raise Unsupported("operator assignment to this target", node.line)
        assign, value = self._op_value(node, current, env)
        if assign:
            self.assign_to(target, value, env)
        return value

    def _op_value(self, node: Any, current: Any, env: Env) -> tuple[bool, Any]:
        """``x op= value`` given x's current value: (whether to assign, the result). ``||=`` and
        ``&&=`` short-circuit without evaluating the value."""
        if node.op == "||" and truthy(current) or node.op == "&&" and not truthy(current):
            return False, current
        if node.op in ("||", "&&"):
            return True, self.eval(node.value, env)
        return True, self.send(current, node.op, [self.eval(node.value, env)], None, node.line)

    def _multi_assign(self, node: A.MultiAssign, env: Env) -> Any:
        value = self.eval(node.value, env)
        values = value if isinstance(value, list) else ([] if value is None else [value])
        self.destructure(node.targets, node.splat_index, values, env)
        return value

    def destructure(self, targets: tuple[A.Node, ...], splat_index: int, values: list[Any], env: Env) -> None:
        n = len(targets)
        if splat_index < 0:
            for i, t in enumerate(targets):
                self.assign_to(t, values[i] if i < len(values) else None, env)
            return
        after = n - splat_index - 1
        for i in range(splat_index):
            self.assign_to(targets[i], values[i] if i < len(values) else None, env)
        middle_end = max(splat_index, len(values) - after)
        self.assign_to(targets[splat_index], values[splat_index:middle_end], env)
        for j in range(after):
            k = middle_end + j
            self.assign_to(targets[splat_index + 1 + j], values[k] if k < len(values) else None, env)

    # -- logic ------------------------------------------------------------------------------------------
    def _and(self, node: A.And, env: Env) -> Any:
        left = self.eval(node.left, env)
        return self.eval(node.right, env) if truthy(left) else left

    def _or(self, node: A.Or, env: Env) -> Any:
        left = self.eval(node.left, env)
        return left if truthy(left) else self.eval(node.right, env)

    def _not(self, node: A.Not, env: Env) -> Any:
        return not truthy(self.eval(node.expr, env))

    def _defined(self, node: A.Defined, env: Env) -> Any:
        expr = node.expr
        if isinstance(expr, A.IVar):
            if expr.name in self.ivars or expr.name in ("__scope__", "__file__"):
                return "instance-variable"
            # Puppet sets an instance variable for each variable of the scope that is not undef
            found, value = self.host.variable(expr.name)
            return "instance-variable" if found and value is not None else None
        if isinstance(expr, A.LVar):
            return "local-variable"
        if isinstance(expr, A.GVar):
            if expr.name[1:].isdigit():
                return "global-variable" if self.last_match is not None and \
                    self.last_match.group(int(expr.name[1:])) is not None else None
            return "global-variable" if expr.name in ("$~", "$&", "$,", "$/") else None
        if isinstance(expr, A.Const):
            try:
                self.eval(expr, env)
            except (RubyError, Unsupported):
                return None
            return "constant"
        if isinstance(expr, A.Call):
            if expr.recv is None:
                if expr.name in self.defs or _self_method(expr.name) is not None:
                    return "method"
                return None
            try:
                recv = self.eval(expr.recv, env)
            except (RubyError, Unsupported):
                return None
            if self.responds_to(recv, expr.name):
                return "method"
            return None
        if isinstance(expr, (A.Assign, A.OpAssign, A.MultiAssign)):
            return "assignment"
        if isinstance(expr, A.SelfRef):
            return "self"
        return "expression"

    def _if(self, node: A.If, env: Env) -> Any:
        if truthy(self.eval(node.cond, env)):
            return self.eval(node.then, env)
        if node.else_ is not None:
            return self.eval(node.else_, env)
        return None

    def _while(self, node: A.While, env: Env) -> Any:
        first = node.do_while
        try:
            while True:
                if not first:
                    cond = truthy(self.eval(node.cond, env))
                    if cond == node.until:
                        break
                first = False
                self.budget.steps += 1
                if self.budget.steps > MAX_STEPS:
                    raise StepLimit(node.line)
                try:
                    self.eval(node.body, env)
                except _Next:
                    pass
        except _Break as brk:
            return brk.value
        return None

    def _for(self, node: A.For, env: Env) -> Any:
        iterable = self.eval(node.iterable, env)
        items = self.each_values(iterable, node.line)
        try:
            for item in items:
                self.tick()
                if len(node.targets) == 1:
                    self.assign_to(node.targets[0], item, env)
                else:
                    self.destructure(node.targets, -1, item if isinstance(item, list) else [item], env)
                try:
                    self.eval(node.body, env)
                except _Next:
                    pass
        except _Break as brk:
            return brk.value
        return iterable

    def each_values(self, value: Any, line: int | None = None) -> list[Any]:
        """What ``each`` yields: elements, [key, value] pairs, range members."""
        if isinstance(value, list):
            return list(value)
        if isinstance(value, dict):
            return [[k, v] for k, v in value.items()]
        if isinstance(value, RRange):
            from .methods_enum import range_values

            return range_values(value)
        if value is None:
            raise RubyError("NoMethodError", "undefined method `each' for nil:NilClass", line)
        raise RubyError("NoMethodError", f"undefined method `each' for {class_name(value)}", line)

    def _case(self, node: A.Case, env: Env) -> Any:
        if node.subject is None:
            for w in node.whens:
                for t in w.tests:
                    if truthy(self.eval(t, env)):
                        return self.eval(w.body, env)
            return self.eval(node.else_, env) if node.else_ is not None else None
        subject = self.eval(node.subject, env)
        for w in node.whens:
            for t in w.tests:
                tests = self.splat_values(self.eval(t.value, env)) if isinstance(t, A.Splat) else [self.eval(t, env)]
                for test in tests:
                    if truthy(self.case_eq(test, subject, t.line)):
                        return self.eval(w.body, env)
        return self.eval(node.else_, env) if node.else_ is not None else None

    def case_eq(self, test: Any, subject: Any, line: int) -> Any:
        """``test === subject``."""
        return self.send(test, "===", [subject], None, line)

    def _begin(self, node: A.Begin, env: Env) -> Any:
        try:
            try:
                value = self.eval(node.body, env)
            except RubyError as exc:
                for clause in node.rescues:
                    if self._rescues(clause, exc, env):
                        if clause.var is not None:
                            env.assign(clause.var, RException(exc.cls, exc.message))
                        return self.eval(clause.body, env)
                raise
            if node.else_ is not None:
                value = self.eval(node.else_, env)
            return value
        finally:
            if node.ensure is not None:
                self.eval(node.ensure, env)

    def _rescues(self, clause: A.RescueClause, exc: RubyError, env: Env) -> bool:
        if not clause.classes:
            return is_a(RException(exc.cls, exc.message), "StandardError")
        for c in clause.classes:
            cls = self.eval(c, env)
            for one in (cls if isinstance(cls, list) else [cls]):
                if isinstance(one, RClass) and is_a(RException(exc.cls, exc.message), one.name):
                    return True
        return False

    def _jump(self, node: A.Jump, env: Env) -> Any:
        value = self.eval(node.value, env) if node.value is not None else None
        if node.kind == "next":
            raise _Next(value)
        if node.kind == "break":
            raise _Break(value)
        raise _Return(value)

    def _def(self, node: A.Def, env: Env) -> Any:
        self.defs[node.name] = node
        return Symbol(node.name)

    # -- calls --------------------------------------------------------------------------------------------
    def eval_args(self, nodes: tuple[A.Node, ...], env: Env) -> list[Any]:
        out: list[Any] = []
        for a in nodes:
            if isinstance(a, A.Splat):
                out.extend(self.splat_values(self.eval(a.value, env)))
            else:
                out.append(self.eval(a, env))
        return out

    def _call(self, node: A.Call, env: Env) -> Any:
        self.budget.steps += 1
        if self.budget.steps > MAX_STEPS:
            raise StepLimit(node.line)
        recv_node = node.recv
        if recv_node is None:
            recv: Any = self.self_obj
        else:
            recv = self.eval(recv_node, env)
            if node.safe and recv is None:
                return None
        args = self.eval_args(node.args, env) if node.args else []
        blk: Blk | None = None
        if node.block is not None:
            blk = Blk(self, node.block, env)
        elif node.block_arg is not None:
            blk = self.to_block(self.eval(node.block_arg.value, env) if isinstance(node.block_arg, A.BlockPass)
                                else self.eval(node.block_arg, env), node.line)
        name = node.name
        try:
            if recv_node is None:
                result = self.call_self(name, args, blk, node, env)
            elif isinstance(recv, str) and name in STRING_MUTATORS:
                # Ruby changes the string in place; rebind what the receiver was read from instead
                new_value, result = self.send_raw(recv, name, args, blk)
                self._rebind(recv_node, new_value, env)
            else:
                result = self.send(recv, name, args, blk)
        except _Break as brk:
            if node.block is not None:
                return brk.value
            raise
        except (RubyError, Unsupported) as exc:
            if exc.line is None:
                exc.line = node.line
            raise
        return result

    def _rebind(self, target: A.Node, value: Any, env: Env) -> None:
        if isinstance(target, A.LVar):
            env.assign(target.name, value)
        elif isinstance(target, A.IVar):
            self.ivars[target.name] = value
        elif isinstance(target, A.Call) and target.name == "[]" and target.recv is not None:
            container = self.eval(target.recv, env)
            args = self.eval_args(target.args, env)
            if isinstance(container, (list, dict)):
                self.send(container, "[]=", args + [value], None, target.line)
        # other receivers (a literal, a method result) have no place to write back to, as in Ruby

    def to_block(self, value: Any, line: int) -> Blk | None:
        if value is None:
            return None
        if isinstance(value, Blk):
            return value
        if isinstance(value, Symbol):
            return Blk(self, None, None, name=value.name)
        if isinstance(value, RMethodRef):
            return Blk(self, None, None, name=value.name)
        if isinstance(value, RProc):
            return Blk(self, value.block, value.env, is_lambda=value.is_lambda)
        raise RubyError("TypeError", f"wrong argument type {class_name(value)} (expected Proc)", line)

    def send(self, recv: Any, name: str, args: list[Any], blk: Blk | None, line: int | None = None) -> Any:
        """Call method ``name`` of ``recv``."""
        result = self.send_raw(recv, name, args, blk, line)
        if isinstance(recv, str) and name in STRING_MUTATORS:
            return result[1]
        return result

    def send_raw(self, recv: Any, name: str, args: list[Any], blk: Blk | None, line: int | None = None) -> Any:
        """Call method ``name`` of ``recv``; String's mutators answer (new string, Ruby's result)."""
        fn = find_method(class_name(recv), name)
        if fn is None:
            if isinstance(recv, ScopeObject) and name.startswith("function_"):
                from .methods_core import scope_function

                return scope_function(self, name[len("function_"):], args)
            if isinstance(recv, RClass):
                from .methods_core import class_method

                return class_method(self, recv, name, args, blk)
            exc = no_method(recv, name)
            if line is not None:
                exc.line = line  # type: ignore[attr-defined]
            raise exc
        try:
            return fn(self, recv, args, blk)
        except (RubyError, Unsupported) as exc:
            if exc.line is None and line is not None:
                exc.line = line
            raise
        except RecursionError:
            raise RubyError("SystemStackError", "stack level too deep", line) from None

    def responds_to(self, recv: Any, name: str) -> bool:
        if find_method(class_name(recv), name) is not None:
            return True
        if isinstance(recv, ScopeObject) and name.startswith("function_"):
            return True
        return False

    def call_self(self, name: str, args: list[Any], blk: Blk | None, node: A.Call, env: Env) -> Any:
        """A call without receiver: a method the template defined, the template object's, or Kernel's."""
        d = self.defs.get(name)
        if d is not None:
            return self.invoke_def(d, args, blk)
        fn = _self_method(name)
        if fn is not None:
            return fn(self, self.self_obj, args, blk)
        if node.vcall:
            raise RubyError("NameError", f"undefined local variable or method `{name}' for {self.self_obj.ruby_to_s()}")
        if ruby_has_method("Kernel", name):
            raise Unsupported(f"method '{name}'")
        raise RubyError("NoMethodError", f"undefined method `{name}' for {self.self_obj.ruby_to_s()}")

    def invoke_def(self, d: A.Def, args: list[Any], blk: Blk | None) -> Any:
        self.tick()
        env = Env()
        required = sum(1 for p in d.params if not p.splat and not p.block and p.default is None)
        optional = sum(1 for p in d.params if p.default is not None)
        has_rest = any(p.splat for p in d.params)
        if len(args) < required or (not has_rest and len(args) > required + optional):
            want = f"{required}" if not optional and not has_rest else \
                f"{required}{'+' if has_rest else '..' + str(required + optional)}"
            raise RubyError("ArgumentError", f"wrong number of arguments (given {len(args)}, expected {want})")
        self.bind_params(d.params, args, env, strict=True, blk=blk)
        try:
            return self.eval(d.body, env)
        except _Return as ret:
            return ret.value

    # -- blocks ---------------------------------------------------------------------------------------------
    def call_block(self, blk: Blk, args: list[Any]) -> Any:
        block = blk.block
        assert block is not None
        self.budget.steps += 1
        if self.budget.steps > MAX_STEPS:
            raise StepLimit(block.line)
        env = Env(blk.env)
        params = block.params
        if params:
            # a block of several parameters called with one Array spreads it: |k, v| over [k, v]
            if not blk.is_lambda and len(args) == 1 and isinstance(args[0], list) and \
                    sum(1 for p in params if not p.block) > 1:
                args = args[0]
            self.bind_params(params, args, env, strict=blk.is_lambda, blk=None)
        try:
            return self.eval(block.body, env)
        except _Next as nxt:
            return nxt.value
        except _Return as ret:
            if blk.is_lambda:
                return ret.value
            raise

    def bind_params(self, params: tuple[A.Param, ...], args: list[Any], env: Env, strict: bool,
                    blk: Blk | None) -> None:
        positional = [p for p in params if not p.block]
        splat_at = next((i for i, p in enumerate(positional) if p.splat), -1)
        if strict and splat_at < 0:
            required = sum(1 for p in positional if p.default is None)
            if len(args) < required or len(args) > len(positional):
                raise RubyError("ArgumentError",
                                f"wrong number of arguments (given {len(args)}, expected {required})")
        n = len(positional)
        if splat_at < 0:
            for i, p in enumerate(positional):
                if i < len(args):
                    self._bind_one(p, args[i], env)
                elif p.default is not None:
                    self._bind_one(p, self.eval(p.default, env), env)
                else:
                    self._bind_one(p, None, env)
        else:
            after = n - splat_at - 1
            for i in range(splat_at):
                self._bind_one(positional[i], args[i] if i < len(args) else None, env)
            middle_end = max(splat_at, len(args) - after)
            if positional[splat_at].name:
                env.vars[positional[splat_at].name] = list(args[splat_at:middle_end])
            for j in range(after):
                k = middle_end + j
                self._bind_one(positional[splat_at + 1 + j], args[k] if k < len(args) else None, env)
        for p in params:
            if p.block and p.name:
                env.vars[p.name] = RProc(blk.block, blk.env, blk.is_lambda) if blk is not None and \
                    blk.block is not None else None

    def _bind_one(self, p: A.Param, value: Any, env: Env) -> None:
        if p.nested:
            values = value if isinstance(value, list) else [value]
            self.bind_params(p.nested, values, env, strict=False, blk=None)
        elif p.name:
            env.vars[p.name] = value


def parts_line(parts: tuple[str | A.Node, ...]) -> int | None:
    for p in parts:
        if not isinstance(p, str):
            return p.line
    return None


#: String methods that change the receiver in Ruby
STRING_MUTATORS = frozenset({
    "<<", "concat", "prepend", "replace", "insert", "[]=", "gsub!", "sub!", "strip!", "lstrip!", "rstrip!",
    "chomp!", "chop!", "upcase!", "downcase!", "capitalize!", "swapcase!", "squeeze!", "tr!", "delete!",
    "reverse!", "clear", "slice!", "force_encoding",
})


def _self_method(name: str) -> Callable[..., Any] | None:
    """Kernel's functions, then the template object's methods."""
    from .methods_core import KERNEL_FUNCTIONS

    fn = KERNEL_FUNCTIONS.get(name)
    if fn is None:
        fn = find_method(TemplateObject.ruby_class, name)
    return fn
