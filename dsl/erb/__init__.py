"""ERB templates, rendered natively with Puppet's semantics (``template()`` of a non-Jinja file and
``inline_template()``).

Stages: :mod:`.scanner` turns the template into one Ruby program (ERB's own compilation, trim mode
``-``), :mod:`.lexer` and :mod:`.parser` read the Ruby subset into :mod:`.ast`, :mod:`.interp` evaluates
it with the built-in methods of :mod:`.methods_core`, :mod:`.methods_str` and :mod:`.methods_enum`;
:mod:`.template` wires them together. This module connects a template to the compiler: ``@name`` is
the Puppet variable ``$name`` of the calling scope, ``scope`` its scope object, and Puppet functions are
called through ``scope.function_NAME([args])`` and ``scope.call_function('name', [args])``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import EvaluationError
from . import methods_core, methods_enum, methods_str  # noqa: F401 - they register the built-in methods
from .rvalues import RubyError, Unsupported
from .template import ErbError, compile_template, render

if TYPE_CHECKING:
    from .. import ast
    from ..evaluator import Evaluator, Scope

__all__ = ["ErbError", "PuppetScopeHost", "compile_template", "render", "render_erb"]


class PuppetScopeHost:
    """A template's view of the compiler: the scope ``template()`` was called in."""

    def __init__(self, ev: Evaluator, node: ast.Node, file: str | None) -> None:
        self.ev = ev
        self.node = node
        self.scope: Scope = ev.scope
        self.file = file
        # Puppet binds the @variables when the rendering starts: a variable the template sets itself
        # (scope.setvar) is not an @variable of this rendering, only of the templates it renders next
        self.set_here: set[str] = set()

    def variable(self, name: str) -> tuple[bool, Any]:
        if name in self.set_here:
            return False, None
        s: Scope | None = self.scope
        while s is not None:
            if name in s.vars:
                return True, s.vars[name]
            s = s.enclosing
        return False, None

    def lookupvar(self, name: str) -> Any:
        if not name or name[0].isdigit():
            return None
        saved = self.ev.scope
        self.ev.scope = self.scope
        try:
            found, value = self.ev.lookup_var(name, self.node)
        finally:
            self.ev.scope = saved
        if not found and self.ev.strict_variables:
            raise RubyError("Puppet::ParseError", f"Undefined variable '{name}'")
        return value

    def setvar(self, name: str, value: Any) -> None:
        if name in self.scope.vars:
            raise RubyError("Puppet::ParseError", f"Cannot reassign variable '${name}'")
        if name in ("facts", "trusted", "server_facts"):
            raise RubyError("Puppet::ParseError", f"Attempt to assign to a reserved variable name: '{name}'")
        self.scope.vars[name] = value
        self.set_here.add(name)

    def call_function(self, name: str, args: list[Any], block: Callable[..., Any] | None) -> Any:
        if block is not None:
            raise Unsupported(f"a Ruby block passed to the Puppet function '{name}'")
        saved = self.ev.scope
        self.ev.scope = self.scope
        try:
            return self.ev.call_function(name, args, None, self.node)
        except EvaluationError as exc:
            # a Puppet error inside the function is Puppet::ParseError for the template (rescuable)
            raise RubyError("Puppet::ParseError", exc.message) from None
        finally:
            self.ev.scope = saved

    def all_variables(self) -> dict[str, Any]:
        chain: list[Scope] = []
        s: Scope | None = self.scope
        while s is not None:
            chain.append(s)
            s = s.enclosing
        out: dict[str, Any] = {}
        for sc in reversed(chain):
            for k, v in sc.vars.items():
                if v is None:
                    out.pop(k, None)
                else:
                    out[k] = v
        return out

    def classes(self) -> list[str]:
        return list(getattr(self.ev, "class_list", []))

    def tags(self) -> list[str]:
        return list(getattr(self.ev, "catalog_tags", []))


def render_erb(ev: Evaluator, text: str, name: str, node: ast.Node, file: str | None) -> str:
    """Render ERB ``text`` in the evaluator's current scope; errors fail at ``node`` (the call),
    naming the template (``name``) and its line: ``mod/templates/x.erb:12: undefined method ...``."""
    host = PuppetScopeHost(ev, node, file)
    try:
        return render(host, text, name)
    except ErbError as exc:
        where = f"{name}:{exc.line}" if exc.line is not None else name
        message = exc.message
        while message.startswith(f"{where}: {where}: "):  # a template rendering itself, level after level
            message = message[len(where) + 2:]
        ev.fail(node, message if message.startswith(f"{where}: ") else f"{where}: {message}")
