"""The sandboxed Jinja2 environment ``template()`` and ``inline_template()`` render in.

The sandbox keeps a template away from Python internals (``''.__class__.__mro__`` ...) in the master;
on top of it, nothing a template writes in a few characters may take minutes or gigabytes: huge
exponents and repetitions (``9 ** 999999999``, ``'x' * 10 ** 10``), and huge widths or precisions in
every formatting path — the ``%`` operator, ``str.format``/``format_map``, the ``format``, ``center``,
``indent`` and ``tojson`` filters, padding methods (``center``, ``ljust``, ``rjust``, ``zfill``,
``expandtabs``), and joins, replacements, batches and slices that would multiply a string or a list
past :data:`dsl.formatlimits.MAX_STRING_SIZE`. Each is refused with a ``SecurityError`` whose message
says what was too large; the caller positions it.
"""

from __future__ import annotations

import functools
import string
from typing import Any

import jinja2
import jinja2.filters
import jinja2.sandbox
import jinja2.utils
from markupsafe import Markup

from .formatlimits import (
    MAX_STRING_SIZE,
    count_error,
    field_error,
    format_spec_error,
    join_error,
    mapping_or_args,
    printf_error,
    replace_error,
    size_error,
)

MAX_EXPONENT = 4096

#: str methods whose first argument is the width of the result.
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def _refuse(message: str | None) -> None:
    if message is not None:
        raise jinja2.sandbox.SecurityError(message)


class _SpecLimit(string.Formatter):
    """Checks each field's spec once nested fields (``{0:>{1}}``) are substituted into it."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        _refuse(format_spec_error(format_spec))
        return super().format_field(value, format_spec)


class _LimitedFormatter(_SpecLimit, jinja2.sandbox.SandboxedFormatter):
    pass


class _LimitedEscapeFormatter(_SpecLimit, jinja2.sandbox.SandboxedEscapeFormatter):
    pass


def _check_str_call(text: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if method in _PADDING_METHODS and args:
        _refuse(field_error(args[0]))
    elif method == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int):
            _refuse(size_error(len(text) + text.count("\t") * tabsize, "expanding tabs"))
    elif method == "join" and args:
        _refuse(join_error(text, args[0]))
    elif method == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        _refuse(replace_error(text, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1)))


# -- filters with a limit: the same behaviour as Jinja's own, after the check ------------------------------
def _center(value: str, width: int = 80) -> str:
    _refuse(field_error(width))
    return jinja2.filters.do_center(value, width)


def _indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    _refuse(count_error(width, "indent width"))
    return jinja2.filters.do_indent(s, width, first, blank)


def _format(value: str, *args: Any, **kwargs: Any) -> str:
    _refuse(printf_error(str(value), mapping_or_args(args, kwargs)))
    return jinja2.filters.do_format(value, *args, **kwargs)


@jinja2.pass_eval_context
def _tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Markup:
    _refuse(count_error(indent, "indent width"))
    return jinja2.filters.do_tojson(eval_ctx, value, indent)


def _batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
    _refuse(count_error(linecount, "batch size"))
    return jinja2.filters.do_batch(value, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None) -> Any:
    _refuse(count_error(slices, "number of slices"))
    return jinja2.filters.sync_do_slice(value, slices, fill_with)


@jinja2.pass_eval_context
def _join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
    _refuse(join_error(str(d), value))
    return jinja2.filters.sync_do_join(eval_ctx, value, d, attribute)


@jinja2.pass_eval_context
def _replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
    _refuse(replace_error(str(s), str(old), str(new), -1 if count is None else count))
    return jinja2.filters.do_replace(eval_ctx, s, old, new, count)


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    if isinstance(n, int) and isinstance(max, int):
        _refuse(size_error(n * max * 16, "lipsum"))  # at most 16 characters a word
    return jinja2.utils.generate_lorem_ipsum(n, html, min, max)


_LIMITED_FILTERS = {"center": _center, "indent": _indent, "format": _format, "tojson": _tojson,
                    "batch": _batch, "slice": _slice, "join": _join, "replace": _replace}


class TemplateSandbox(jinja2.sandbox.SandboxedEnvironment):
    intercepted_binops = frozenset({"**", "*", "%", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters.update(_LIMITED_FILTERS)
        self.globals["lipsum"] = _lipsum

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            raise jinja2.sandbox.SecurityError(f"exponent {right} is too large (at most {MAX_EXPONENT})")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (isinstance(seq, (str, list, tuple)) and isinstance(times, int)
                        and len(seq) * times > MAX_STRING_SIZE):
                    raise jinja2.sandbox.SecurityError("repetition too large")
        if (operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, type(left))
                and len(left) + len(right) > MAX_STRING_SIZE):
            raise jinja2.sandbox.SecurityError(f"result too large (at most {MAX_STRING_SIZE} items)")
        if operator == "%" and isinstance(left, str):
            _refuse(printf_error(left, right))
        return super().call_binop(context, operator, left, right)

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, str):
            _check_str_call(owner, getattr(obj, "__name__", ""), args, kwargs)
        return super().call(context, obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        """``str.format``/``format_map`` as the sandbox runs them, with each field's spec checked."""
        if super().wrap_str_format(value) is None:
            return None
        text = value.__self__
        formatter: jinja2.sandbox.SandboxedFormatter = (
            _LimitedEscapeFormatter(self, escape=text.escape) if isinstance(text, Markup)
            else _LimitedFormatter(self))
        by_mapping = value.__name__ == "format_map"

        def limited_format(*args: Any, **kwargs: Any) -> str:
            if not by_mapping:
                return type(text)(formatter.vformat(text, args, kwargs))
            if kwargs or len(args) != 1:
                raise TypeError("format_map() takes exactly one mapping")
            return type(text)(formatter.vformat(text, (), args[0]))

        return functools.update_wrapper(limited_format, value)


def template_environment() -> TemplateSandbox:
    return TemplateSandbox(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
