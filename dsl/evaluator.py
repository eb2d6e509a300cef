"""Expression evaluation: scopes, operators, conditionals, lambdas and calls.

The :class:`Evaluator` knows the language's values and operators; the catalog-building statements
(resources, classes, collectors, relationships) are implemented by its subclass in
:mod:`dsl.compiler`, which wires the stages together.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from . import ast
from . import types as T
from .errors import DslTypeError, EvaluationError, Span
from .semver import Version, VersionError, VersionRange
from .timevalues import TimeError, Timespan, Timestamp, time_arith
from .valuerules import (  # noqa: F401 - re-exported: the evaluator's public value rules
    compare,
    deep_copy_value,
    format_float,
    puppet_equal,
    to_number,
    to_str,
    truthy,
)
from .valuerules import hashable as _hashable
from .values import DEFAULT, RegexValue

log = logging.getLogger(__name__)


# -- control flow ---------------------------------------------------------------------------------
#: integers beyond this many bits are refused (Puppet's are 64-bit; this only stops runaway sizes)
_MAX_INT_BITS = 4096
#: Puppet's Integer is 64-bit: a literal or an arithmetic result outside of it is an error
_INT_MIN, _INT_MAX = -(2 ** 63), 2 ** 63 - 1

class _Next(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _Break(Exception):
    pass


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


# -- scopes ---------------------------------------------------------------------------------------
class Scope:
    """A variable scope. ``enclosing`` is where unqualified lookups continue (lexical/inherited);
    ``parent`` is the dynamic parent, used for resource defaults; ``resource`` is the catalog
    resource (class, define instance or node) whose body this scope evaluates."""

    __slots__ = ("vars", "enclosing", "parent", "kind", "name", "resource", "defaults", "matches",
                 "local")

    def __init__(self, kind: str, name: str, enclosing: Scope | None, parent: Scope | None,
                 resource: Any = None, local: bool = False) -> None:
        self.vars: dict[str, Any] = {}
        self.enclosing = enclosing
        self.parent = parent
        self.kind = kind
        self.name = name
        self.resource = resource
        self.defaults: dict[str, dict[str, tuple[Any, ast.AttributeOp]]] | None = None
        self.matches: list[Any] | None = None
        self.local = local

    def child(self, kind: str = "local") -> Scope:
        s = Scope(kind, self.name, self, self, self.resource, local=True)
        return s

    def owner(self) -> Scope:
        """The nearest non-local scope (the class, define, node or top scope)."""
        s = self
        while s.local and s.enclosing is not None:
            s = s.enclosing
        return s


class DeferredValue:
    """``Deferred('fn', [args])``: a function call the agent makes when it applies the catalog.

    The catalog holds it as Puppet's rich data writes it, ``{"__ptype": "Deferred", "name": "fn",
    "arguments": [...]}`` (:func:`dsl.deferred.catalog_form`); the agent resolves it
    (:mod:`engine.deferred`). Its string form is ``Deferred({'name' => 'fn', 'arguments' => [...]})``."""

    __slots__ = ("name", "arguments")
    NAME_RE = re.compile(r"\A\$?[a-z][a-z0-9_]*(?:::[a-z][a-z0-9_]*)*\Z")

    def __init__(self, name: str, arguments: list[Any] | None) -> None:
        self.name = name
        self.arguments = arguments

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeferredValue) and (self.name, self.arguments) == (other.name, other.arguments)

    def __hash__(self) -> int:
        return hash(("Deferred", self.name))

    def __str__(self) -> str:
        from .conversions import _to_string  # String()'s form: quoted strings, 'undef'

        init: dict[str, Any] = {"name": self.name}
        if self.arguments is not None:
            init["arguments"] = self.arguments
        return f"Deferred({_to_string(init, [])})"


class Closure:
    """A lambda together with the scope it was written in."""

    __slots__ = ("lam", "scope", "ev", "min_arity", "_plain")

    def __init__(self, lam: ast.Lambda, scope: Scope, ev: Evaluator) -> None:
        self.lam = lam
        self.scope = scope
        self.ev = ev
        #: how many arguments the block needs (its parameters without a default or ``*``)
        self.min_arity = sum(1 for p in lam.params if p.default is None and not p.captures_rest)
        #: no parameter has a type, a default or ``*``: given as many arguments, each is just bound
        self._plain = all(p.type_expr is None and p.default is None and not p.captures_rest for p in lam.params)

    @property
    def arity(self) -> int:
        return len(self.lam.params)

    def __call__(self, *args: Any) -> Any:
        ev = self.ev
        scope = self.scope.child("lambda")
        params = self.lam.params
        if self._plain and len(args) == len(params):  # what bind_positional does for them
            bound = scope.vars
            for p, value in zip(params, args):
                bound[p.name] = value
        else:
            ev.bind_positional(params, args, scope, label="block", at=self.lam,
                               missing_expected=self.min_arity, type_errors_at_parameter=True)
        saved = ev.scope
        ev.scope = scope
        try:
            return ev.eval_block(self.lam.body)
        except _Next as nxt:
            return nxt.value
        finally:
            ev.scope = saved


# -- the evaluator --------------------------------------------------------------------------------
FunctionImpl = Callable[..., Any]


class Evaluator:
    """Evaluates expressions in a current :class:`Scope`."""

    def __init__(self, functions: dict[str, FunctionImpl], strict_variables: bool = False) -> None:
        self.functions = functions
        self.strict_variables = strict_variables
        self.top = Scope("top", "", None, None)
        self.scope = self.top
        self.class_scopes: dict[str, Scope] = {}
        self.type_aliases: dict[str, T.PType] = {}
        self.warnings: list[str] = []
        self.user_functions: dict[str, ast.FunctionDef] = {}
        self._dispatch: dict[type, Callable[[Any], Any]] = {
            ast.Literal: self._literal, ast.DefaultLit: self._default, ast.Concat: self._concat,
            ast.RegexLit: self._regex, ast.Var: self._var, ast.QName: self._qname,
            ast.TypeRef: self._typeref, ast.ArrayLit: self._array, ast.HashLit: self._hash,
            ast.Access: self._access, ast.BinOp: self._binop, ast.And: self._and, ast.Or: self._or,
            ast.Not: self._not, ast.Neg: self._neg, ast.Splat: self._splat_alone,
            ast.Selector: self._selector, ast.Call: self._call, ast.MethodCall: self._method_call,
            ast.TypeCall: self._type_call, ast.Block: self.eval_block, ast.If: self._if,
            ast.Unless: self._unless, ast.Case: self._case, ast.Assign: self._assign,
            ast.Lambda: self._lambda_alone,
        }

    # -- errors ----------------------------------------------------------------------------------
    def fail(self, node: ast.Node | Span | None, message: str,
             cls: type[EvaluationError] = EvaluationError) -> NoReturn:
        span = node if isinstance(node, Span) or node is None else node.span
        raise cls(message, span)

    def warn(self, node: ast.Node | None, message: str) -> None:
        where = f"{node.span.file}:{node.span.line}:{node.span.col}: " if node is not None else ""
        text = f"{where}warning: {message}"
        self.warnings.append(text)
        log.warning("%s", text)

    # -- statements --------------------------------------------------------------------------------
    def eval(self, node: ast.Node) -> Any:
        handler = self._dispatch.get(type(node))
        if handler is None:
            return self.eval_statement(node)
        return handler(node)

    def eval_statement(self, node: ast.Node) -> Any:  # pragma: no cover - overridden
        self.fail(node, f"{type(node).__name__} cannot be evaluated here")

    def eval_block(self, block: ast.Block) -> Any:
        result = None
        dispatch = self._dispatch
        for stmt in block.statements:
            if type(stmt) is ast.QName and stmt.name in ("break", "next", "return"):
                self._control(stmt.name, None, stmt)
            handler = dispatch.get(type(stmt))  # what eval() does, without its call
            result = handler(stmt) if handler is not None else self.eval_statement(stmt)
        return result

    def _control(self, name: str, value: Any, node: ast.Node) -> NoReturn:
        if name == "break":
            raise _Break()
        if name == "next":
            raise _Next(value)
        raise _Return(value)

    # -- literals ----------------------------------------------------------------------------------
    def _literal(self, node: ast.Literal) -> Any:
        value = node.value
        if type(value) is int and not _INT_MIN <= value <= _INT_MAX:
            self.fail(node, f"the Integer literal {value} is outside of the 64-bit Integer range")
        return value

    def _default(self, node: ast.DefaultLit) -> Any:
        return DEFAULT

    def _concat(self, node: ast.Concat) -> str:
        out = []
        dispatch = self._dispatch
        for part in node.parts:
            kind = type(part)
            if kind is str:
                out.append(part)
                continue
            if kind is ast.Var:
                value = self._var(part)
            else:
                handler = dispatch.get(kind)  # what eval() does, without its call
                value = handler(part) if handler is not None else self.eval_statement(part)
            out.append(value if type(value) is str else interpolated_str(value))
        return "".join(out)

    def _regex(self, node: ast.RegexLit) -> RegexValue:
        try:
            return RegexValue(node.pattern)
        except re.error as exc:
            self.fail(node, f"invalid regular expression /{node.pattern}/: {exc}")

    def _qname(self, node: ast.QName) -> str:
        return node.name

    def _array(self, node: ast.ArrayLit) -> list[Any]:
        return self.eval_args(node.items)

    def _hash(self, node: ast.HashLit) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for k, v in node.pairs:
            key = self.eval(k)
            if isinstance(key, list):
                key = tuple(key)  # pragma: no cover - rare: arrays as keys
            out[key] = self.eval(v)
        return out

    def eval_args(self, nodes: Iterable[ast.Node]) -> list[Any]:
        out: list[Any] = []
        dispatch = self._dispatch
        for n in nodes:
            if type(n) is not ast.Splat:
                handler = dispatch.get(type(n))  # what eval() does, without its call
                out.append(handler(n) if handler is not None else self.eval_statement(n))
            else:
                assert isinstance(n, ast.Splat)
                v = self.eval(n.operand)
                if isinstance(v, list):
                    out.extend(v)
                elif v is None:
                    continue
                elif isinstance(v, dict):
                    out.extend([[k, x] for k, x in v.items()])
                else:
                    out.append(v)
        return out

    def _splat_alone(self, node: ast.Splat) -> Any:
        v = self.eval(node.operand)
        return v if isinstance(v, list) else [v]

    def _lambda_alone(self, node: ast.Lambda) -> Any:
        self.fail(node, "a lambda must follow a function call")

    # -- variables ---------------------------------------------------------------------------------
    def _var(self, node: ast.Var) -> Any:
        name = node.name
        if "::" not in name and not name[0].isdigit():  # lookup_var's last case, inline
            s: Scope | None = self.scope
            while s is not None:
                v = s.vars
                if name in v:
                    return v[name]
                s = s.enclosing
            found, value = False, None
        else:
            found, value = self.lookup_var(name, node)
        if not found:
            if self.strict_variables:
                self.fail(node, f"unknown variable '${node.name}'")
            self.warn(node, f"unknown variable '${node.name}'")
            return None
        return value

    def lookup_var(self, name: str, node: ast.Node | None = None) -> tuple[bool, Any]:
        if name[0].isdigit():
            s: Scope | None = self.scope
            idx = int(name)
            while s is not None:
                if s.matches is not None:
                    m = s.matches
                    return True, (m[idx] if idx < len(m) else None)
                if not s.local:
                    break
                s = s.enclosing
            return True, None
        if "::" in name:
            if name.startswith("::"):
                bare = name[2:]
                if "::" not in bare:
                    return (True, self.top.vars[bare]) if bare in self.top.vars else (False, None)
                name = bare
            cls, _, var = name.rpartition("::")
            scope = self.class_scopes.get(cls.lower())
            if scope is None:
                self.on_unknown_class_scope(cls, node)
                return False, None
            if var in scope.vars:
                return True, scope.vars[var]
            # a variable of an inherited class is visible through the child
            s2 = scope.enclosing
            while s2 is not None and s2.kind == "class":
                if var in s2.vars:
                    return True, s2.vars[var]
                s2 = s2.enclosing
            return False, None
        s = self.scope
        while s is not None:
            v = s.vars
            if name in v:
                return True, v[name]
            s = s.enclosing
        return False, None

    def on_unknown_class_scope(self, cls: str, node: ast.Node | None) -> None:
        self.warn(node, f"could not look up qualified variable '${cls}::...': class {cls.lower()} has not "
                        "been evaluated")

    def set_var(self, name: str, value: Any, node: ast.Node) -> None:
        if "::" in name:
            self.fail(node, f"cannot assign to a variable in another namespace: '${name}'")
        if name[0].isdigit():
            self.fail(node, f"cannot assign to the numeric match variable '${name}'")
        vars_ = self.scope.vars
        if name in vars_:
            self.fail(node, f"cannot reassign variable '${name}'")
        if name in ("facts", "trusted", "server_facts") and self.scope is not self.top:
            self.fail(node, f"attempt to assign to a reserved variable name: '${name}'")
        vars_[name] = value

    def _assign(self, node: ast.Assign) -> Any:
        value = self.eval(node.value)
        target = node.target
        if type(target) is ast.Var:
            self.set_var(target.name, value, node)
        else:
            assert isinstance(target, ast.ArrayLit)
            names = [t.name for t in target.items if isinstance(t, ast.Var)]
            if isinstance(value, list):
                if len(value) != len(names):
                    self.fail(node, f"array assignment of {len(value)} values to {len(names)} variables")
                for n, v in zip(names, value):
                    self.set_var(n, v, node)
            elif isinstance(value, dict):
                for n in names:
                    if n not in value:
                        self.fail(node, f"no value for '${n}' in the hash being assigned")
                    self.set_var(n, value[n], node)
            else:
                self.fail(node, "an array of variables can only be assigned an array or a hash")
        return value

    # -- types -------------------------------------------------------------------------------------
    def _typeref(self, node: ast.TypeRef) -> T.PType:
        return self.resolve_type_name(node.name, node)

    def resolve_type_name(self, name: str, node: ast.Node | None) -> T.PType:
        if name.startswith("::"):
            name = name[2:]
        simple = T.SIMPLE_TYPES.get(name)
        if simple is not None:
            return simple
        key = name.lower()
        alias = self.type_aliases.get(key)
        if alias is not None:
            return alias
        alias = self.load_type_alias(key, node)
        if alias is not None:
            return alias
        from engine.catalog import capitalize_type

        return T.PResource(capitalize_type(name))

    def load_type_alias(self, name: str, node: ast.Node | None) -> T.PType | None:
        return None

    def eval_type(self, node: ast.Node) -> T.PType:
        v = self.eval(node)
        if isinstance(v, T.PType):
            return v
        self.fail(node, f"expected a type, got {T.generalized_name(v)}")

    def parametrize(self, base: T.PType, args: list[Any], node: ast.Node) -> T.PType:
        """``Integer[1, 5]``, ``Array[String]``, ``File['/x']`` ..."""
        from .typeparams import parametrize

        return parametrize(self, base, args, node)

    # -- access ------------------------------------------------------------------------------------
    def _access(self, node: ast.Access) -> Any:
        dispatch = self._dispatch
        handler = dispatch.get(type(node.target))  # what eval() does, without its call
        target = handler(node.target) if handler is not None else self.eval_statement(node.target)
        key_nodes = node.keys
        if type(target) is dict and len(key_nodes) == 1 and type(key_nodes[0]) is not ast.Splat:
            # the most common access, $h['key']: the end of eval_args and of the dict case below
            handler = dispatch.get(type(key_nodes[0]))
            key = handler(key_nodes[0]) if handler is not None else self.eval_statement(key_nodes[0])
            return target.get(_hashable(key))
        keys = self.eval_args(key_nodes)
        if isinstance(target, T.PType):
            return self.parametrize(target, keys, node)
        if isinstance(target, str):
            return self._slice(target, keys, node, is_str=True)
        if isinstance(target, list):
            return self._slice(target, keys, node, is_str=False)
        if isinstance(target, dict):
            if len(keys) == 1:
                return target.get(_hashable(keys[0]))
            return [target[_hashable(k)] for k in keys if _hashable(k) in target]
        if target is None:
            self.fail(node, "operator '[]' is not applicable to an Undef value")
        self.fail(node, f"operator '[]' is not applicable to {_a(T.generalized_name(target))} value")

    def _slice(self, target: Any, keys: list[Any], node: ast.Node, is_str: bool) -> Any:
        n = len(target)
        for k in keys:
            if not isinstance(k, int) or isinstance(k, bool):
                self.fail(node, f"{'a String' if is_str else 'an Array'} can only be accessed with "
                                f"an Integer, got {T.generalized_name(k)}")
        if len(keys) == 1:
            i = keys[0]
            if i < 0:
                i += n
            if 0 <= i < n:
                return target[i]
            return "" if is_str else None
        if len(keys) == 2:
            start, count = keys
            if start < 0:
                start += n
            if count < 0:
                end = n + count + 1
            else:
                end = start + count
            # a start before the first element shortens the slice; an end before it selects nothing
            return target[max(start, 0):max(end, 0)]
        self.fail(node, "access takes one or two Integer arguments")

    # -- operators ---------------------------------------------------------------------------------
    def _and(self, node: ast.And) -> bool:
        return truthy(self.eval(node.left)) and truthy(self.eval(node.right))

    def _or(self, node: ast.Or) -> bool:
        return truthy(self.eval(node.left)) or truthy(self.eval(node.right))

    def _not(self, node: ast.Not) -> bool:
        return not truthy(self.eval(node.operand))

    def _neg(self, node: ast.Neg) -> Any:
        v = self.eval(node.operand)
        if isinstance(v, Timespan):
            return Timespan(-v.nsecs)
        n = to_number(v)
        if n is None:
            self.fail(node, f"operator unary '-' is not applicable to {_a(T.generalized_name(v))} value")
        return -n

    def _binop(self, node: ast.BinOp) -> Any:
        op = node.op
        dispatch = self._dispatch  # what eval() does, without its call
        handler = dispatch.get(type(node.left))
        left = handler(node.left) if handler is not None else self.eval_statement(node.left)
        handler = dispatch.get(type(node.right))
        right = handler(node.right) if handler is not None else self.eval_statement(node.right)
        if type(left) is int and type(right) is int and (op == "+" or op == "-"):
            result = left + right if op == "+" else left - right  # what _arith gives for two Integers
            if not _INT_MIN <= result <= _INT_MAX:
                self.fail(node, f"the result of '{op}' is outside of the 64-bit Integer range")
            return result
        if op == "==":
            return puppet_equal(left, right)
        if op == "!=":
            return not puppet_equal(left, right)
        if op == "=~":
            return self.match(left, right, node)
        if op == "!~":
            return not self.match(left, right, node, capture=False)
        if op == "in":
            return self.in_op(left, right, node)
        if op in ("<", ">", "<=", ">="):
            return self._compare_op(op, left, right, node)
        if op == "+":
            if isinstance(left, list):
                if isinstance(right, list):
                    return left + right
                if isinstance(right, dict):
                    return left + [[k, v] for k, v in right.items()]
                return left + [right]
            if isinstance(left, dict):
                if isinstance(right, dict):
                    out = dict(left)
                    out.update(right)
                    return out
                if isinstance(right, list):
                    out = dict(left)
                    if len(right) % 2 == 0 and not any(isinstance(x, list) for x in right):
                        for i in range(0, len(right), 2):
                            out[_hashable(right[i])] = right[i + 1]
                        return out
                    for pair in right:
                        if isinstance(pair, list) and len(pair) == 2:
                            out[_hashable(pair[0])] = pair[1]
                    return out
                self.fail(node, f"a Hash can only be added to a Hash or an Array, got {T.generalized_name(right)}")
        if op == "-":
            if isinstance(left, list):
                remove = right if isinstance(right, list) else ([right] if not isinstance(right, dict)
                                                                else [[k, v] for k, v in right.items()])
                return [x for x in left if not any(puppet_equal(x, r) for r in remove)]
            if isinstance(left, dict):
                if isinstance(right, dict):
                    keys = set(right)
                elif isinstance(right, list):
                    keys = {_hashable(k) for k in right}
                else:
                    keys = {right}
                return {k: v for k, v in left.items() if k not in keys}
        if op == "<<":
            if isinstance(left, list):
                return left + [right]
        if op in ("+", "-", "*", "/", "%", "<<", ">>") and (
                isinstance(left, (Timespan, Timestamp)) or isinstance(right, (Timespan, Timestamp))):
            try:
                return time_arith(op, left, right, to_number)
            except TimeError as exc:
                self.fail(node, str(exc))
        if op in ("+", "-", "*", "/", "%", "<<", ">>"):
            result = self._arith(op, left, right, node)
            if type(result) is int and not _INT_MIN <= result <= _INT_MAX:
                self.fail(node, f"the result of '{op}' is outside of the 64-bit Integer range")
            return result
        self.fail(node, f"unknown operator '{op}'")  # pragma: no cover

    def _arith(self, op: str, left: Any, right: Any, node: ast.BinOp) -> Any:
        a = to_number(left)
        b = to_number(right)
        if a is None:
            self.fail(node, f"operator '{op}' is not applicable to {_a(T.generalized_name(left))} value"
                      + (f" ('{left}' is not a number)" if isinstance(left, str) else ""))
        if b is None:
            self.fail(node, f"operator '{op}' is not applicable to {_a(T.generalized_name(right))} value"
                      + (f" ('{right}' is not a number)" if isinstance(right, str) else ""))
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            product = a * b
            if isinstance(product, int) and product.bit_length() > _MAX_INT_BITS:
                self.fail(node, "operator '*': the result is out of range")
            return product
        if op == "/":
            if b == 0:
                self.fail(node, "division by 0")
            if isinstance(a, int) and isinstance(b, int):
                return a // b  # Ruby's integer division floors
            return a / b
        if op == "%":
            if not isinstance(a, int) or not isinstance(b, int):
                self.fail(node, "operator '%' is only applicable to Integer values")
            if b == 0:
                self.fail(node, "division by 0")
            return a % b  # the sign of the divisor, as Ruby
        if op in ("<<", ">>"):
            if not isinstance(a, int) or not isinstance(b, int):
                self.fail(node, f"operator '{op}' is only applicable to Integer values")
            shift = b if op == "<<" else -b
            if shift > _MAX_INT_BITS:  # would build a number of gigabytes
                self.fail(node, f"operator '{op}': shifting by {abs(b)} bits is out of range")
            return a << shift if shift >= 0 else a >> -shift
        self.fail(node, f"unknown operator '{op}'")  # pragma: no cover

    def _compare_op(self, op: str, left: Any, right: Any, node: ast.BinOp) -> bool:
        if isinstance(left, T.PType) and isinstance(right, T.PType):
            if op == "<":
                return right.assignable(left) and left != right
            if op == "<=":
                return right.assignable(left)
            if op == ">":
                return left.assignable(right) and left != right
            return left.assignable(right)
        try:
            c = compare(left, right)
        except TypeError:
            self.fail(node, f"comparison of {T.generalized_name(left)} with {T.generalized_name(right)} "
                            "is not possible")
        return {"<": c < 0, ">": c > 0, "<=": c <= 0, ">=": c >= 0}[op]

    def match(self, left: Any, right: Any, node: ast.Node, capture: bool = True) -> bool:
        if isinstance(right, T.PType):
            return right.instance(left)
        if isinstance(right, VersionRange):  # a version (or a string that is one) in a range
            if isinstance(left, str):
                try:
                    left = Version.parse(left)
                except VersionError:
                    return False
            return isinstance(left, Version) and right.include(left)
        if isinstance(right, str):
            try:
                right = RegexValue(right)
            except re.error as exc:
                self.fail(node, f"invalid regular expression '{right}': {exc}")
        if not isinstance(right, RegexValue):
            self.fail(node, f"the right side of '=~' must be a regular expression, a string or a type, "
                            f"got {T.generalized_name(right)}")
        if not isinstance(left, str):
            self.fail(node, f"the left side of '=~' must be a String, got {T.generalized_name(left)}")
        m = right.compiled.search(left)
        if m is None:
            return False
        if capture:
            self.scope.matches = [m.group(0)] + list(m.groups())
        return True

    def in_op(self, left: Any, right: Any, node: ast.Node) -> bool:
        if isinstance(right, str):
            if isinstance(left, str):
                return left.lower() in right.lower()
            if isinstance(left, RegexValue):
                return left.compiled.search(right) is not None
            return False
        if isinstance(right, dict):
            right = list(right.keys())
        if isinstance(right, list):
            if isinstance(left, RegexValue):
                return any(isinstance(x, str) and left.compiled.search(x) for x in right)
            if isinstance(left, T.PType):
                return any(left.instance(x) for x in right)
            return any(puppet_equal(left, x) for x in right)
        return False

    # -- conditionals ------------------------------------------------------------------------------
    def _if(self, node: ast.If) -> Any:
        saved = self.scope.matches
        try:
            if truthy(self.eval(node.cond)):
                return self.eval_block(node.then)
            if node.otherwise is not None:
                return self.eval(node.otherwise)
            return None
        finally:
            self.scope.matches = saved

    def _unless(self, node: ast.Unless) -> Any:
        if not truthy(self.eval(node.cond)):
            return self.eval_block(node.then)
        if node.otherwise is not None:
            return self.eval_block(node.otherwise)
        return None

    def case_matches(self, subject: Any, option: Any, node: ast.Node) -> bool:
        if option is DEFAULT:
            return True
        if isinstance(option, RegexValue):
            if not isinstance(subject, str):
                return False
            m = option.compiled.search(subject)
            if m:
                self.scope.matches = [m.group(0)] + list(m.groups())
                return True
            return False
        if isinstance(option, T.PType) and not isinstance(subject, T.PType):
            return option.instance(subject)
        if isinstance(option, VersionRange) and isinstance(subject, Version):
            return option.include(subject)
        if isinstance(option, list) and isinstance(subject, list) and len(option) == len(subject):
            return all(self.case_matches(s, o, node) for s, o in zip(subject, option))
        if isinstance(option, dict) and isinstance(subject, dict):
            return all(k in subject and self.case_matches(subject[k], v, node) for k, v in option.items())
        return puppet_equal(subject, option)

    def _case(self, node: ast.Case) -> Any:
        subject = self.eval(node.subject)
        saved = self.scope.matches
        try:
            default_option = None
            for option in node.options:
                for value_node in option.values:
                    if type(value_node) is ast.DefaultLit:
                        default_option = option
                        continue
                    values = self.eval_args([value_node])
                    for v in values:
                        if self.case_matches(subject, v, value_node):
                            return self.eval_block(option.body)
            if default_option is not None:
                return self.eval_block(default_option.body)
            return None
        finally:
            self.scope.matches = saved

    def _selector(self, node: ast.Selector) -> Any:
        subject = self.eval(node.subject)
        saved = self.scope.matches
        try:
            default_entry = None
            for key_node, value_node in node.entries:
                if type(key_node) is ast.DefaultLit:
                    default_entry = value_node
                    continue
                for k in self.eval_args([key_node]):
                    if self.case_matches(subject, k, key_node):
                        return self.eval(value_node)
            if default_entry is not None:
                return self.eval(default_entry)
        finally:
            self.scope.matches = saved
        self.fail(node, f"no matching entry for selector parameter with value '{to_str(subject)}'")

    # -- calls -------------------------------------------------------------------------------------
    def make_closure(self, lam: ast.Lambda | None) -> Closure | None:
        return Closure(lam, self.scope, self) if lam is not None else None

    def _call(self, node: ast.Call) -> Any:
        name = node.name
        if name in ("break", "next", "return"):
            args = self.eval_args(node.args)
            self._control(name, args[0] if len(args) == 1 else (args or None), node)
        args = self.eval_args(node.args)
        return self.call_function(name, args, self.make_closure(node.lambda_), node)

    def _method_call(self, node: ast.MethodCall) -> Any:
        target = self.eval(node.target)
        args = [target] + self.eval_args(node.args)
        return self.call_function(node.name, args, self.make_closure(node.lambda_), node)

    def _type_call(self, node: ast.TypeCall) -> Any:
        if node.type_name.lower().lstrip(":") == "deferred":
            return self._deferred(self.eval_args(node.args), node)
        if node.target is not None:  # Integer[0, 9]('5')
            t = self.eval(node.target)
            if not isinstance(t, T.PType):
                self.fail(node, f"only a Type can be called, got {T.generalized_name(t)}")
        else:
            t = self.resolve_type_name(node.type_name, node)
        args = self.eval_args(node.args)
        return self.call_function("new", [t] + args, None, node)

    def _deferred(self, args: list[Any], node: ast.Node) -> DeferredValue:
        """``Deferred(name, arguments?)`` or ``Deferred({'name' => ..., 'arguments' => ...})``."""
        if len(args) == 1 and isinstance(args[0], dict):
            init = args[0]
            unknown = sorted(str(k) for k in init if k not in ("name", "arguments"))
            if unknown:
                self.fail(node, f"Deferred has no attribute '{unknown[0]}'")
            args = [init.get("name"), init.get("arguments")]
        if not 1 <= len(args) <= 2:
            self.fail(node, f"Deferred expects 1 or 2 arguments, got {len(args)}")
        name = args[0]
        arguments = args[1] if len(args) == 2 else None
        if not isinstance(name, str) or not DeferredValue.NAME_RE.match(name):
            self.fail(node, "Deferred's name must be a function name (a String like 'fn' or 'mod::fn'), got "
                            f"{to_str(name) if isinstance(name, str) else T.generalized_name(name)}", DslTypeError)
        if arguments is not None and not isinstance(arguments, list):
            self.fail(node, f"Deferred's arguments must be an Array, got {T.generalized_name(arguments)}",
                      DslTypeError)
        return DeferredValue(name, arguments)

    def call_function(self, name: str, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
        if name.startswith("::"):
            name = name[2:]
        fn = self.functions.get(name)
        if fn is None:
            udf = self.user_functions.get(name) or self.load_function(name, node)
            if udf is not None:
                return self.call_user_function(udf, args, block, node)
            fn = self.find_function(name, node)
            if fn is None:
                self.fail(node, self.unknown_function_message(name))
        try:
            return fn(self, args, block, node)
        except (_Next, _Break, _Return):
            raise
        except EvaluationError:
            raise
        except RecursionError:
            self.fail(node, f"{name}(): nesting too deep")

    def load_function(self, name: str, node: ast.Node) -> ast.FunctionDef | None:
        return None

    def find_function(self, name: str, node: ast.Node) -> FunctionImpl | None:
        """A function that is neither built in nor written in the language (a module's Python port)."""
        return None

    def unknown_function_message(self, name: str) -> str:
        return f"unknown function '{name}'"

    def bind_positional(self, params: tuple[ast.Param, ...], args: tuple[Any, ...] | list[Any], scope: Scope, *,
                        label: str, at: ast.Node, missing_expected: int, type_errors_at_parameter: bool) -> None:
        """Bind ``args`` to ``params`` in ``scope`` (defaults evaluated there, ``*$rest`` collecting the
        remainder, types checked): what lambdas and Puppet-language functions share."""
        n = len(args)
        for i, p in enumerate(params):
            if p.captures_rest:
                value: Any = list(args[i:])
            elif i < n:
                value = args[i]
            elif p.default is not None:
                saved = self.scope
                self.scope = scope
                try:
                    value = self.eval(p.default)
                finally:
                    self.scope = saved
            else:
                self.fail(at, f"{label} expects {missing_expected} argument(s), got {n}")
            if p.type_expr is not None:
                t = self.eval_type(p.type_expr)
                if not t.instance(value):
                    self.fail(p if type_errors_at_parameter else at,
                              f"{label} parameter '{p.name}' {T.mismatch_message(t, value)}", DslTypeError)
            scope.vars[p.name] = value
        if n > len(params) and not (params and params[-1].captures_rest):
            self.fail(at, f"{label} expects {len(params)} argument(s), got {n}")

    def call_user_function(self, fdef: ast.FunctionDef, args: list[Any], block: Closure | None,
                           node: ast.Node) -> Any:
        scope = Scope("function", fdef.name, self.top, self.scope, self.scope.resource)
        self.bind_positional(fdef.params, args, scope, label=f"function '{fdef.name}'", at=node,
                             missing_expected=len(fdef.params), type_errors_at_parameter=False)
        saved = self.scope
        self.scope = scope
        try:
            result = self.eval_block(fdef.body)
        except _Return as ret:
            result = ret.value
        finally:
            self.scope = saved
        if fdef.return_type is not None:
            t = self.eval_type(fdef.return_type)
            if not t.instance(result):
                self.fail(node, f"function '{fdef.name}' returned a value that "
                                f"{T.mismatch_message(t, result)}", DslTypeError)
        return result




def interpolated_str(v: Any) -> str:
    """A value as string interpolation writes it: as :func:`to_str`, except that undef inside an array
    or a hash is empty (Puppet 7: ``"${[undef, 1]}"`` is ``[, 1]``, while ``String()`` writes ``undef``)."""
    if isinstance(v, list):
        return "[" + ", ".join(interpolated_str(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{interpolated_str(k)} => {interpolated_str(x)}" for k, x in v.items()) + "}"
    return to_str(v)


def _a(name: str) -> str:
    return ("an " if name[:1] in "AEIOU" else "a ") + name
