"""Templates and module files: ``epp``, ``inline_epp``, ``template`` (ERB, or Jinja2 for ``.j2``),
``inline_template``, ``file``, ``find_file``, ``find_template``, ``binary_file``, module directories
and metadata, and stdlib's ``loadyaml``/``loadjson``/``glob``. Every path resolves inside a module of
the module path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

from ..errors import EvaluationError, Span
from ..evaluator import Scope
from ..valuerules import to_str
from ..values import Sensitive
from .common import confined, find_module_file, flat, module_file, readable_path
from .contract import Call, function


def _read_template(call: Call, ref: str, path: Path) -> str:
    try:
        # bytes, not text mode: Puppet keeps a template's \r\n line endings
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        call.error(f"template '{ref}' ({path}) is not valid UTF-8 (byte {exc.start})")
    except OSError as exc:
        call.error(f"could not read template '{ref}' ({path}): {exc.strerror}")


_EPP_PARAMETERS = "Hash[Pattern[/^\\w+$/], Any] $parameters?"


@function("epp", f"String $path, {_EPP_PARAMETERS}")
def epp(call: Call, ref: str, params: dict[str, Any] | None = None) -> str:
    from ..epp import render_epp

    path = module_file(call, ref, "templates")
    return render_epp(call.ev, _read_template(call, ref, path), str(path), params, call.node)


@function("inline_epp", f"String $template, {_EPP_PARAMETERS}")
def inline_epp(call: Call, text: str, params: dict[str, Any] | None = None) -> str:
    from ..epp import render_epp

    node = call.node
    return render_epp(call.ev, text, node.span.file, params, node, line_offset=node.span.line - 1)


@function("__epp_text", "String $text")
def epp_text(call: Call, text: str) -> None:
    buffers = call.ev.__dict__.get("_epp_buffers")
    if not buffers:
        call.fail("is internal to EPP templates")
    buffers[-1].append(text)


@function("__epp_render", "Any $value")
def epp_render(call: Call, value: Any) -> None:
    buffers = call.ev.__dict__.get("_epp_buffers")
    if not buffers:
        call.fail("is internal to EPP templates")
    buffers[-1].append(to_str(value))


#: template() renders these with Jinja2; every other template is ERB, as in Puppet
_JINJA_SUFFIXES = (".j2", ".jinja", ".jinja2")


@function("template", "String +$paths", legacy=True)
def template(call: Call, *refs: str) -> str:
    from ..erb import render_erb

    out = []
    for ref in refs:
        path = module_file(call, ref, "templates")
        text = _read_template(call, ref, path)
        if ref.endswith(_JINJA_SUFFIXES):
            out.append(jinja_render(call, text, ref, path))
            continue
        mod, _, rest = ref.partition("/")
        name = ref if Path(ref).is_absolute() else f"{mod}/templates/{rest}"
        out.append(render_erb(call.ev, text, name, call.node, str(path)))
    return "".join(out)


@function("inline_template", "String +$templates", legacy=True)
def inline_template(call: Call, *texts: str) -> str:
    from ..erb import render_erb

    return "".join(render_erb(call.ev, t, "inline_template", call.node, None) for t in texts)


def jinja_render(call: Call, text: str, name: str, path: Path | None = None) -> str:
    import jinja2
    import jinja2.sandbox

    from ..jinja import template_environment

    env = template_environment()
    variables: dict[str, Any] = {}
    s: Scope | None = call.ev.scope
    chain = []
    while s is not None:
        chain.append(s)
        s = s.enclosing
    for sc in reversed(chain):
        variables.update({k: v.value if isinstance(v, Sensitive) else v for k, v in sc.vars.items()})
    try:
        return env.from_string(text).render(variables)
    except jinja2.TemplateSyntaxError as exc:
        _template_error(call, name, path, exc.lineno, str(exc.message))
    except jinja2.UndefinedError as exc:
        _template_error(call, name, path, _template_line(exc), str(exc.message))
    except jinja2.sandbox.SecurityError as exc:
        _template_error(call, name, path, _template_line(exc), str(exc))
    except Exception as exc:  # noqa: BLE001 - a template's runtime error is the user's error
        _template_error(call, name, path, _template_line(exc), f"{type(exc).__name__}: {exc}")


def _template_error(call: Call, name: str, path: Path | None, line: int | None, message: str) -> NoReturn:
    """An error at the template's own line (where the fix goes), naming the manifest line that rendered it."""
    if path is None or line is None:
        call.error(f"template {name}{f':{line}' if line else ''}: {message}")
    raise EvaluationError(f"{message} (in template {name}, rendered at {call.node.span})",
                          Span(str(path), line, 1, line, 1))


def _template_line(exc: BaseException) -> int | None:
    """The template line that raised ``exc`` (Jinja puts template lines in the traceback)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@function("file", "String +$paths", legacy=True)
def file(call: Call, *refs: str) -> str:
    for ref in refs:
        path = find_module_file(call, ref, "files")
        if path is not None:
            try:
                return path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                call.fail(f"could not read file '{ref}': {exc}")
    call.fail(f"could not find any files from {', '.join(refs)}")


@function("binary_file", "String $path")
def binary_file(call: Call, ref: str) -> str:
    path = module_file(call, ref, "files")
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        call.fail(f"could not find the file '{ref}'")
    except UnicodeDecodeError:
        call.fail(f"the file '{ref}' is not text; Bunraku keeps binary content in files served by source =>")
    except OSError as exc:
        call.fail(f"could not read the file '{ref}': {exc.strerror}")


def _find(call: Call, refs: tuple[Any, ...], subdir: str) -> str | None:
    for ref in flat(refs):
        path = find_module_file(call, ref, subdir)
        if path is not None:
            return str(path)
    return None


@function("find_file", "String *$paths", "Array[String] *$paths_array")
def find_file(call: Call, *refs: Any) -> str | None:
    return _find(call, refs, "files")


@function("find_template", "String *$paths", "Array[String] *$paths_array")
def find_template(call: Call, *refs: Any) -> str | None:
    return _find(call, refs, "templates")


@function("module_directory", "String *$names", "Array[String] *$names")
def module_directory(call: Call, *names: Any) -> str | None:
    for name in flat(names):
        found = call.ev.autoloader.module_dir(name)
        if found is not None:
            return str(found)
    return None


@function("get_module_path", "String $module", legacy=True)
def get_module_path(call: Call, name: str) -> str:
    found = call.ev.autoloader.module_dir(name)
    if found is None:
        call.fail(f"could not find module {name} in the module path")
    return str(found)


@function("load_module_metadata", "String $module, Any $allow_empty?", legacy=True)
def load_module_metadata(call: Call, name: str, allow_empty: Any = "") -> dict[str, Any]:
    found = call.ev.autoloader.module_dir(name)
    if found is None:
        call.fail(f"could not find module {name} in the module path")
    metadata = found / "metadata.json"
    if not metadata.is_file():
        if allow_empty not in ("", None, False):
            return {}
        call.fail(f"no metadata.json file for module {name}")
    try:
        data = json.loads(metadata.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        call.fail(f"could not read the metadata of module {name}: {exc}")
    return data if isinstance(data, dict) else {}


def _data_file(call: Call, ref: str) -> Path | None:
    if "://" in ref:
        call.fail(f"'{ref}': loading data from a URL is not supported; put the file in a module")
    path = module_file(call, ref, "files")
    return path if path.is_file() else None


@function("loadyaml", "String $path, Any $default?", legacy=True)
def loadyaml(call: Call, ref: str, *default: Any) -> Any:
    import yaml

    from .encoding import load_yaml_text

    path = _data_file(call, ref)
    if path is None:
        call.warn(f"can't load '{ref}': the file does not exist")
        return default[0] if default else None
    try:
        return load_yaml_text(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        if default:
            return default[0]
        call.fail(f"could not read '{ref}': {str(exc).splitlines()[0]}")


@function("loadjson", "String $path, Any $default?", legacy=True)
def loadjson(call: Call, ref: str, *default: Any) -> Any:
    path = _data_file(call, ref)
    if path is None:
        call.warn(f"can't load '{ref}': the file does not exist")
        return default[0] if default else None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        if default:
            return default[0]
        call.fail(f"could not read '{ref}': {exc}")


@function("glob", "Variant[String, Array[String]] $patterns", legacy=True)
def glob(call: Call, patterns: Any) -> list[str]:
    import glob as globbing

    out: list[str] = []
    for pattern in patterns if isinstance(patterns, list) else [patterns]:
        for found in sorted(globbing.glob(pattern)):
            if found not in out and _readable(call, found):
                out.append(found)
    return out


def _readable(call: Call, path: str) -> bool:
    """On the master, what lies outside the environment and its modules is not there for a manifest."""
    if not confined(call):
        return True
    try:
        readable_path(call, str(Path(path).absolute()))
    except EvaluationError:
        return False
    return True
