"""Compiling and rendering ERB templates: the one place that wires scanner, parser and interpreter.

Compiled templates are cached by their text, so a master rendering one module's template for many
nodes parses it once.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from dataclasses import dataclass

from . import ast as A
from .interp import MAX_STEPS, Budget, Host, Interp, StepLimit
from .parser import RubySyntaxError, parse_ruby
from .rvalues import RubyError, Unsupported
from .scanner import compile_erb


class ErbError(Exception):
    """Rendering failed; ``line`` is the template line (None when unknown)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    program: A.Seq
    texts: tuple[str, ...]


@functools.lru_cache(maxsize=512)
def compile_template(text: str) -> CompiledTemplate:
    """Parse ERB text; raises :class:`ErbError` for Ruby that does not parse or is outside the subset."""
    erb = compile_erb(text)
    try:
        program = parse_ruby(erb.source)
    except RubySyntaxError as exc:
        message = exc.message
        if not message.startswith("unsupported Ruby in ERB"):
            message = message if message.startswith("syntax error") else f"syntax error: {message}"
        raise ErbError(message, exc.line) from None
    except RecursionError:
        raise ErbError("syntax error: nesting too deep", None) from None
    return CompiledTemplate(program, erb.texts)


#: the budget of the outermost rendering in progress (templates nest through scope.function_template)
_BUDGET: ContextVar[Budget | None] = ContextVar("erb_budget", default=None)
#: how deep templates may render each other
MAX_NESTING = 32


def render(host: Host, text: str, name: str) -> str:
    """Render ERB ``text`` with Puppet's template semantics against ``host`` (the scope)."""
    tpl = compile_template(text)
    budget = _BUDGET.get()
    token = None
    if budget is None:
        budget = Budget()
        token = _BUDGET.set(budget)
    if budget.depth >= MAX_NESTING:
        raise ErbError(f"templates nested more than {MAX_NESTING} deep (a template rendering itself?)", None)
    budget.depth += 1
    it = Interp(host, tpl.texts, name, budget)
    try:
        return it.run(tpl.program)
    except RubyError as exc:
        raise ErbError(exc.message, exc.line) from None
    except Unsupported as exc:
        raise ErbError(f"unsupported Ruby in ERB: {exc.message}", exc.line) from None
    except StepLimit as exc:
        raise ErbError(f"the template made more than {MAX_STEPS} method calls and loop iterations "
                       "(Bunraku's limit)", exc.line) from None
    except RecursionError:
        raise ErbError("stack level too deep", None) from None
    finally:
        budget.depth -= 1
        if token is not None:
            _BUDGET.reset(token)
