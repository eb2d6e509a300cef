"""Compiling a node's catalog: the one place where the language's stages are wired together.

    CompileRequest --loader/parser--> definitions --Compiler (evaluator)--> engine.catalog.Catalog

The compiler follows Puppet's order: the site's top-level code (``Class[main]``), then the node
definition, then ENC classes, then a loop evaluating pending defined-type instances and
collectors until nothing changes, then overrides, relationships and validation.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from engine.catalog import KIND_OF_DECLARATION, Catalog, CatalogError, Resource, capitalize_type, default_kind

from . import ast, compilecache
from . import types as T
from .errors import DslError, DslTypeError, EvaluationError, Span
from .evaluator import Evaluator, FunctionImpl, Scope
from .functions import FUNCTIONS
from .functions.ports import PortError, Ports, unknown_function_message
from .loader import Autoloader, Definitions, site_manifests
from .parser import parse_file, parse_string
from .resource_types import (
    BUILTIN_SPECS,
    BUILTIN_TYPES,
    METAPARAMS,
    RELATIONSHIP_METAPARAMS,
    TitleMismatch,
    TypeSpec,
    catalog_parameters,
    show_key,
    uniqueness_key,
)
from .resource_types import _hashable as _hashable_key
from .trusted import trusted_data
from .valuerules import _tag_segments, puppet_equal, tag_segments, to_str, truthy
from .valuerules import to_data as _to_data
from .values import RegexValue, Sensitive

#: what a tag may be (letters and digits in any script)
_VALID_TAG_RE = re.compile(r"\A\w[\w:.\-]*\Z")
#: the metaparameters a resource inherits from its container, in Puppet's order
_INHERITED_METAPARAMS = ("noop", "schedule", "audit", "loglevel", "alias", "tag", "stage")
_INHERITED_SET = frozenset(_INHERITED_METAPARAMS)
#: the Puppet version whose language and catalogs Bunraku reproduces (``$serverversion``)
PUPPET_COMPAT_VERSION = "7.23.0"
#: types Puppet's static loader and Pcore define besides the data types: ``Node[...]``, ``Deferred`` ...
_PCORE_TYPE_NAMES = frozenset({"node", "deferred", "error", "richdatakey", "data", "richdata"})


@dataclass
class CompileRequest:
    """Everything a compilation needs; the CLI and the master build one."""

    node: str
    facts: dict[str, Any]
    manifests: list[Path] = field(default_factory=list)
    modulepath: list[Path] = field(default_factory=list)
    hiera_config: Path | None = None
    env_dir: Path | None = None
    environment: str = "production"
    strict_variables: bool = False
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)  # from an ENC
    parameters: dict[str, Any] = field(default_factory=dict)  # top-scope variables from an ENC
    trusted: dict[str, Any] | None = None
    code_id: str | None = None
    version: int | str | None = None
    exported_allowed: bool = False
    #: what other nodes export: type name ('File') -> resource dicts (catalog JSON shape, with 'node');
    #: the master passes one backed by its store, which also allows ``@@`` and ``<<| |>>``
    exported_source: Any = None
    #: the master's compiles: files a manifest, template or Hiera level reads stay inside the environment
    #: and its modules (Puppet reads any absolute path; on a master that is the CA's key)
    confine_files: bool = False
    #: run the Python ports of functions that modules ship (lib/bunraku/functions) even when
    #: ``confine_files`` is set; outside a master they always run, as Puppet runs modules' Ruby
    python_functions: bool = False

    @classmethod
    def from_cli(cls, *, manifest: Path | None, node: str, facts: dict[str, Any],
                 modulepath: Sequence[Path] = (), hiera_config: Path | None = None,
                 env_dir: Path | None = None, environment: str = "production",
                 strict_variables: bool = False) -> CompileRequest:
        mpath = list(modulepath)
        manifests: list[Path] = []
        if env_dir is not None:
            env_dir = Path(env_dir)
            if not env_dir.is_dir():
                raise EvaluationError(f"environment directory {env_dir} does not exist",
                                      Span(str(env_dir), 0, 0, 0, 0))
            if not mpath:
                mpath = [env_dir / "modules"]
                site_modules = env_dir / "site-modules"
                if site_modules.is_dir():
                    mpath.append(site_modules)
            if hiera_config is None and (env_dir / "hiera.yaml").is_file():
                hiera_config = env_dir / "hiera.yaml"
            if manifest is None:
                manifest = env_dir / "manifests"
        if manifest is not None:
            manifest = Path(manifest)
            if not manifest.exists():
                raise EvaluationError(f"manifest {manifest} does not exist", Span(str(manifest), 0, 0, 0, 0))
            manifests = site_manifests(manifest)
        return cls(node=node, facts=facts, manifests=manifests, modulepath=mpath,
                   hiera_config=hiera_config, env_dir=env_dir, environment=environment,
                   strict_variables=strict_variables)


# -- resources under construction ------------------------------------------------------------------
class CResource:
    """A resource while the catalog is compiled (mutable; becomes an ``engine.catalog.Resource``)."""

    __slots__ = ("type", "title", "params", "span", "tags", "virtual", "exported", "scope",
                 "container", "kind", "evaluated", "definition", "sensitive", "param_spans",
                 "positioned", "keep_name")

    def __init__(self, type_: str, title: str, span: Span, scope: Scope | None, kind: str) -> None:
        self.type = type_
        self.title = title
        self.params: dict[str, Any] = {}
        self.param_spans: dict[str, Span] = {}
        self.span = span
        self.tags: list[str] = []
        self.virtual = False
        self.exported = False
        self.scope = scope
        self.container: str | None = None
        self.kind = kind  # 'builtin', 'define', 'class', 'node', 'stage'
        self.evaluated = False
        self.definition: Any = None
        self.sensitive: set[str] = set()
        # classes and nodes carry no file/line in the catalog unless declared like a resource
        self.positioned = kind not in ("class", "node")
        # a title that was not a String (``create_resources`` with an Integer key): its string form
        # stays in the catalog as ``name`` and is no tag
        self.keep_name = False

    @property
    def ref(self) -> str:
        return f"{self.type}[{self.title}]"

    def add_tags(self, tags: Sequence[str]) -> None:
        have = self.tags
        for t in tags:
            if t not in have:
                have.append(t)


class _Relationship:
    __slots__ = ("sources", "targets", "param", "node")

    def __init__(self, sources: list[Any], targets: list[Any], param: str, node: ast.Node) -> None:
        self.sources = sources
        self.targets = targets
        self.param = param
        self.node = node


class _Collection:
    __slots__ = ("node", "type", "query", "scope", "ops", "matched", "remote_done", "empty_alternative")

    def __init__(self, node: ast.Collector, type_: str, scope: Scope) -> None:
        self.node = node
        self.type = type_
        self.query = node.query
        self.scope = scope
        self.ops = node.ops
        self.matched: list[CResource] = []
        self.remote_done = False
        #: in ``a -> Coll<||> ~> b``, what ``Coll`` stands for as a source when it collects nothing
        self.empty_alternative: list[Any] = []


# -- the compiler --------------------------------------------------------------------------------
class Compiler(Evaluator):
    def __init__(self, request: CompileRequest) -> None:
        super().__init__(cast("dict[str, FunctionImpl]", FUNCTIONS), request.strict_variables)
        self.request = request
        self.definitions = Definitions()
        #: source file -> the module it belongs to (``$module_name``)
        self._file_modules: dict[str, str] = {}
        self.autoloader = Autoloader(request.modulepath, self.definitions, request.env_dir)
        self.ports = Ports(self.autoloader.modules, self.autoloader.module_dir,
                           enabled=request.python_functions or not request.confine_files)
        self.resources: dict[str, CResource] = {}
        self.edges: list[tuple[str, str]] = []
        self.class_list: list[str] = []
        self.catalog_tags: list[str] = []
        self.classes_declared: dict[str, CResource] = {}
        self.pending_defines: list[CResource] = []
        self.collections: list[_Collection] = []
        self.overrides: list[tuple[ast.ResourceOverride, list[Any], Scope]] = []
        self.relationships: list[_Relationship] = []
        self.node_scope: Scope | None = None
        self.aliases: dict[str, str] = {}
        self.key_aliases: dict[tuple[Any, ...], str] = {}  # several key attributes: (type, *values)
        self.op_spans: dict[str, Span] = {}
        self._exports_ok = request.exported_allowed or request.exported_source is not None
        self._hiera: Any = None
        #: resource type names as written -> (capitalised name, kind), once resolved (they stay so)
        self._type_names: dict[str, tuple[str, str]] = {}
        #: (type, kind) -> its TypeSpec (or None), see type_spec
        self._type_specs: dict[tuple[str, str], TypeSpec | None] = {}
        #: a definition's parameter list -> the set of its names (keyed by id; the list is kept alive)
        self._param_names: dict[int, tuple[Any, frozenset[str]]] = {}
        #: (id of a TypeSpec, title) -> what its title stands for (see _parse_title)
        self._parsed_titles: dict[tuple[int, str], Any] = {}
        self._live: set[str] = set()
        self._dispatch.update({
            ast.ResourceExpr: self._resource_expr, ast.ResourceDefaults: self._resource_defaults,
            ast.ResourceOverride: self._resource_override, ast.Collector: self._collector,
            ast.Relationship: self._relationship, ast.ClassDef: self._definition,
            ast.DefineDef: self._definition, ast.NodeDef: self._definition,
            ast.FunctionDef: self._definition, ast.TypeAlias: self._definition,
        })

    # -- entry point -----------------------------------------------------------------------------
    def compile(self) -> Catalog:
        self._evaluate()
        return self._build_catalog()

    def compile_document(self) -> dict[str, Any]:
        """:meth:`compile`, as the catalog's ``to_dict()``."""
        self._evaluate()
        return self._build_document()

    def release(self) -> None:
        """Once the catalog is built: break the compile's reference cycles (the evaluator and its bound
        handlers, the top scope and Class[main], Hiera and its converter), so that what it built is freed
        as the last reference to it goes rather than by the cyclic collector, which would otherwise walk
        the tens of thousands of objects of a large compile now and then. The compiler is not used again."""
        self._dispatch.clear()
        self.top.resource = None
        self._hiera = None

    def _evaluate(self) -> None:
        req = self.request
        programs = [parse_file(p) for p in req.manifests]
        for program in programs:
            self.definitions.register_program(program)
        self.user_functions = self.definitions.functions
        self._setup_top_scope()
        stage = self._new_resource("Stage", "main", Span("", 0, 0, 0, 0), None, "stage")
        stage.params["name"] = "main"
        stage.tags = ["stage"]
        main = self._new_resource("Class", "main", Span("", 0, 0, 0, 0), self.top, "class")
        main.params["name"] = "main"
        main.tags = ["class"]
        main.container = stage.ref
        self.edges.append((stage.ref, main.ref))
        self.top.resource = main
        self.class_scopes[""] = self.top
        self.class_scopes["main"] = self.top
        for program in programs:
            self.eval_block(_top_level_code(program.body))
        self._evaluate_node()
        for name, params in req.classes.items():
            self.declare_class(name, params, self.node_scope or self.top, None, resource_like=bool(params))
        self._evaluate_generators()
        self._finish_overrides()
        self._evaluate_generators()

    def _setup_top_scope(self) -> None:
        req = self.request
        facts = dict(req.facts)
        top = self.top.vars
        for k, v in facts.items():
            if isinstance(k, str) and k.isidentifier() and k not in ("facts", "trusted"):
                top[k] = v
        if compilecache.current() is not None:  # a masterless compile whose catalog may be reused
            facts = compilecache.WatchedVars(facts)
            top = self.top.vars = compilecache.WatchedVars(top)
        certname = req.node
        trusted = req.trusted or trusted_data(certname, "local")  # a masterless run, as ``puppet apply``
        top["facts"] = facts
        top["trusted"] = trusted
        # Puppet's server facts are also top-scope variables; modules gate features on
        # versioncmp($serverversion, ...), so it is the Puppet version whose catalogs Bunraku reproduces
        top["server_facts"] = {"serverversion": PUPPET_COMPAT_VERSION, "environment": req.environment}
        top["serverversion"] = PUPPET_COMPAT_VERSION
        top["environment"] = req.environment
        top["name"] = "main"
        top["title"] = "main"
        top["module_name"] = ""
        top["clientcert"] = certname
        top.update(req.parameters)

    # -- definitions are registered at load time; evaluating one does nothing ---------------------
    def _definition(self, node: ast.Node) -> None:
        return None

    # -- node ------------------------------------------------------------------------------------
    def _evaluate_node(self) -> None:
        nodes = self.definitions.nodes
        if not nodes:
            return
        name = self.request.node.lower()
        match = None
        match_name = None
        # exact names, then the name with domain parts stripped one by one, then regexes, then default
        candidates = [name]
        for cand in candidates:
            for nd in nodes:
                for m in nd.matches:
                    if m.kind == "name" and m.value.lower() == cand:
                        match, match_name = nd, m.value.lower()
                        break
                if match:
                    break
            if match:
                break
        captures: list[Any] | None = None
        if match is None:
            for nd in nodes:
                for m in nd.matches:
                    if m.kind == "regex":
                        rm = RegexValue(m.value).compiled.search(name)
                        if rm:
                            match, match_name = nd, "__node_regexp__" + re.sub(r"[^-\w:.]", "", m.value)
                            captures = [rm.group(0)] + list(rm.groups())
                            break
                if match:
                    break
        if match is None:
            for nd in nodes:
                if any(m.kind == "default" for m in nd.matches):
                    match, match_name = nd, "default"
                    break
        if match is None:
            raise EvaluationError(f"could not find a node definition for '{self.request.node}', and there "
                                  "is no 'node default'; add one", Span(self.request.manifests[0].as_posix()
                                                                         if self.request.manifests else "",
                                                                         0, 0, 0, 0))
        assert match_name is not None
        main = self.resources["Class[main]"]
        res = self._new_resource("Node", match_name, match.span, self.top, "node")
        res.tags = []
        res.add_tags(["node"] + (tag_segments(match_name) or [match_name.lower()]))
        res.add_tags(main.tags)
        res.container = main.ref
        self.edges.append((main.ref, res.ref))
        self.class_list.append(match_name)
        self._catalog_tag(tag_segments(match_name))
        scope = Scope("node", match_name, self.top, self.top, res)
        scope.matches = captures
        self.node_scope = scope
        saved = self.scope
        self.scope = scope
        try:
            self.eval_block(match.body)
        finally:
            self.scope = saved

    def _catalog_tag(self, tags: Sequence[str]) -> None:
        for t in tags:
            if t not in self.catalog_tags:
                self.catalog_tags.append(t)

    # -- resources -------------------------------------------------------------------------------
    def _new_resource(self, type_: str, title: str, span: Span, scope: Scope | None, kind: str) -> CResource:
        res = CResource(type_, title, span, scope, kind)
        self.resources[res.ref] = res
        return res

    def normalize_type(self, name: str, node: ast.Node) -> tuple[str, str]:
        """Return (capitalised type name, kind) for a resource type name, autoloading defines."""
        known = self._type_names.get(name)
        if known is not None:
            return known
        known = self._normalize_type(name, node)
        self._type_names[name] = known  # the module path and the definitions loaded only grow
        return known

    def _normalize_type(self, name: str, node: ast.Node) -> tuple[str, str]:
        lname = name.lower().lstrip(":")
        if lname in BUILTIN_TYPES:
            return capitalize_type(lname), "builtin"
        # a module's resource type wins over a defined type or class of the same name, as in Puppet
        if self.autoloader.find_resource_type(lname) is not None:
            return capitalize_type(lname), "builtin"
        if lname not in self.definitions.defines:
            self.autoloader.find_definition(lname)
        if lname in self.definitions.defines:
            return capitalize_type(lname), "define"
        if lname in self.definitions.classes:
            self.fail(node, f"'{lname}' is a class, not a resource type; declare it with "
                            f"include {lname} or class {{ '{lname}': }}")
        self.fail(node, f"unknown resource type: '{name}'; check the name and that the module "
                        "defining it is on the module path")

    def _resource_expr(self, node: ast.ResourceExpr) -> list[Any]:
        tname = node.type_name.lower()
        if tname == "class":
            return self._class_resource_expr(node)
        if node.form == "exported" and not self._exports_ok:
            self.fail(node, "exported resources (@@) need the master's store, which this compilation "
                            "does not have; compile through the master or remove the @@")
        type_, kind = self.normalize_type(node.type_name, node)
        refs: list[Any] = []
        # A body titled `default` sets defaults for the other bodies of the same expression.
        body_defaults: dict[str, Any] = {}
        bodies = node.bodies
        if len(bodies) != 1 or type(bodies[0].title) is ast.DefaultLit:
            for body in bodies:
                if type(body.title) is ast.DefaultLit:
                    body_defaults = self._eval_ops(body.ops, type_, for_defaults=True)
        form = node.form
        dispatch = self._dispatch
        for body in bodies:
            if type(body.title) is ast.DefaultLit:
                continue
            handler = dispatch.get(type(body.title))  # what eval() does, without its call
            title_value = handler(body.title) if handler is not None else self.eval_statement(body.title)
            titles = title_value if isinstance(title_value, list) else [title_value]
            params = self._eval_ops(body.ops, type_)
            for title in titles:
                if type(title) is not str and isinstance(title, (int, float)) and not isinstance(title, bool):
                    title = to_str(title)
                if not isinstance(title, str):
                    self.fail(body.title, f"resource titles must be strings, got {T.generalized_name(title)}")
                if title == "":
                    self.fail(body.title, "a resource title cannot be empty")
                if body_defaults:
                    merged = dict(body_defaults)
                    merged.update(params)
                else:
                    merged = params  # (declare_resource copies what it keeps)
                res = self.declare_resource(type_, kind, title, merged, node, node.span,
                                            virtual=form != "regular", exported=form == "exported")
                refs.append(T.PResource(res.type, res.title))
        return refs

    def _eval_ops(self, ops: Sequence[ast.AttributeOp], type_: str, for_defaults: bool = False,
                  allow_append: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {}
        spans = self.op_spans = {}
        dispatch = self._dispatch
        for op in ops:
            if op.name == "*":
                value = self.eval(op.value)
                if value is None:
                    continue
                if not isinstance(value, dict):
                    self.fail(op, f"'* =>' expects a Hash of attributes, got {T.generalized_name(value)}")
                for k, v in value.items():
                    if not isinstance(k, str):
                        self.fail(op, "attribute names in a '* =>' hash must be strings")
                    if k in params:
                        self.fail(op, f"the attribute '{k}' is set more than once")
                    params[k] = v
                continue
            if op.name in params:
                self.fail(op, f"the attribute '{op.name}' is set more than once")
            vnode = op.value
            if type(vnode) is ast.Literal and type(vnode.value) is str:
                value = vnode.value  # what _literal gives for a string
            else:
                handler = dispatch.get(type(vnode))  # what eval() does, without its call
                value = handler(vnode) if handler is not None else self.eval_statement(vnode)
            spans[op.name] = op.span
            if op.op == "+>":
                if not allow_append:
                    self.fail(op, "'+>' can only be used in an override or collector block")
                params[op.name] = ("+>", value)
            else:
                params[op.name] = value
        return params

    def _container_for(self, scope: Scope) -> CResource:
        owner = scope.owner()
        res = owner.resource
        if res is None:
            res = self.resources["Class[main]"]
        return res

    def declare_resource(self, type_: str, kind: str, title: str, params: dict[str, Any],
                         node: ast.Node, span: Span, virtual: bool = False,
                         exported: bool = False, string_title: bool = True) -> CResource:
        ref = f"{type_}[{title}]"
        resources = self.resources
        old = resources.get(ref)
        if old is None and self.aliases:
            old = resources.get(self.aliases.get(ref, ""))
        if old is not None:
            where = f"{old.span.file}:{old.span.line}" if old.span.line else "another place"
            self.fail(span, f"duplicate declaration: {ref} is already declared at {where}; "
                            "a resource can be declared only once")
        key_alias = None if kind == "define" and not params.get("name") else \
            self._uniqueness_alias(type_, kind, title, params, span)  # (a define's key is then its title)
        scope = self.scope
        res = CResource(type_, title, span, scope, kind)
        res.virtual = virtual
        res.exported = exported
        res.param_spans = self.op_spans
        self.op_spans = {}
        # Attributes are checked as Puppet does: a defined type's when its instance is evaluated (an
        # exported one that is never collected is never checked), a resource type's when the
        # catalog is finished - with defaults and overrides, at the resource's line.
        res.params = {k: v for k, v in params.items() if v is not None}
        # an attribute given undef is still given: no default replaces it
        s: Scope | None = scope
        while s is not None:  # (from the first scope that has defaults: the ones below it add none)
            if s.defaults is not None:
                self._apply_defaults(res, s, params)
                break
            s = s.parent
        owner = scope
        while owner.local and owner.enclosing is not None:  # _container_for, inline
            owner = owner.enclosing
        container = owner.resource
        if container is None:
            container = resources["Class[main]"]
        container_ref = f"{container.type}[{container.title}]"
        res.container = container_ref
        # the type's tags, the title's, the container's: each once, in that order (as add_tags)
        if string_title:
            res.tags = list(dict.fromkeys((*_tag_segments(type_.lower()), *_tag_segments(title), *container.tags)))
        else:
            res.tags = list(dict.fromkeys((*_tag_segments(type_.lower()), *container.tags)))
            if kind in ("builtin", "define"):
                res.keep_name = True
                res.params.setdefault("name", title)
        extra = res.params.get("tag")
        if extra is not None:
            res.add_tags(self._explicit_tags(extra, span))
        resources[ref] = res
        if type_ != "Stage":
            self.edges.append((container_ref, ref))
        alias = res.params.get("alias")
        if alias is not None:
            for a in alias if isinstance(alias, list) else [alias]:
                self.aliases[f"{type_}[{a}]"] = ref
        if isinstance(key_alias, tuple):
            self.key_aliases[key_alias] = ref
        elif key_alias is not None:
            self.aliases[key_alias] = ref
        if kind == "define":
            res.definition = self.definitions.defines[type_.lower()]
            if not virtual:
                self.pending_defines.append(res)
        return res

    def type_spec(self, type_: str, kind: str) -> TypeSpec | None:
        """What the compiler knows of a resource type (None for defined types and the rest)."""
        if kind != "builtin":
            return None
        try:
            return self._type_specs[(type_, kind)]
        except KeyError:
            pass
        lname = type_.lower()
        spec = BUILTIN_SPECS.get(lname) or self.autoloader.find_resource_type(lname)
        if spec is not None:  # (the module path does not change during a compile)
            self._type_specs[(type_, kind)] = spec
        return spec

    def _uniqueness_alias(self, type_: str, kind: str, title: str, params: dict[str, Any],
                          span: Span) -> str | tuple[Any, ...] | None:
        """Puppet's uniqueness check: a resource whose namevar (through the title or a parameter)
        names what another resource already manages is a duplicate. Returns the alias the resource
        is then also known by ("Type[name]", or a key tuple for several key attributes)."""
        if kind not in ("builtin", "define"):
            return None
        try:
            key = self._uniqueness_key(self.type_spec(type_, kind), title, params)
        except TitleMismatch as exc:
            self.fail(span, f"{type_}[{title}]: {exc}")
        if key is None or key == (title,):
            return None
        alias: str | tuple[Any, ...] = f"{type_}[{key[0]}]" if len(key) == 1 and isinstance(key[0], str) \
            else (type_, *key)
        other = self.key_aliases.get(alias) if isinstance(alias, tuple) else \
            (alias if alias in self.resources else self.aliases.get(alias))
        if other is not None:
            old = self.resources[other]
            where = f"{old.span.file}:{old.span.line}" if old.span.line else "another place"
            shown, full = show_key(type_, key)
            self.fail(span, f"cannot alias {type_}[{title}] to {shown}; resource {full} is already declared "
                            f"at {where} ({old.ref})")
        return alias

    def _check_attributes(self, type_: str, kind: str, params: dict[str, Any], node: ast.Node | Span,
                          title: str | None = None) -> None:
        lname = type_.lower()
        allowed = BUILTIN_TYPES.get(lname)
        if allowed is not None and allowed.issuperset(params):
            return  # (the common case: the loop at the end finds nothing)
        label = f"{type_}[{title}]" if title is not None else type_
        if allowed is None:
            if kind == "define":
                ddef = self.definitions.defines[lname]
                names = {p.name for p in ddef.params} | METAPARAMS
                for k in params:
                    if k not in names and k not in ("name", "title"):
                        self.fail(node, f"{label}: has no parameter named '{k}'")
            elif kind == "builtin":
                spec = self.autoloader.find_resource_type(lname)
                for k in params:
                    if spec is not None and not spec.accepts(k):
                        self.fail(node, f"{label}: has no parameter named '{k}'")
            return
        for k in params:
            if k not in allowed:
                self.fail(node, f"{label}: has no parameter named '{k}'")

    def _apply_defaults(self, res: CResource, scope: Scope, given: Container[str] | None = None) -> None:
        s: Scope | None = scope
        type_ = res.type
        params = res.params
        while s is not None:
            d = s.defaults
            if d is not None:
                tdef = d.get(type_)
                if tdef:
                    for k, (v, _op) in tdef.items():
                        if k not in params and v is not None and (given is None or k not in given):
                            params[k] = v
            s = s.parent

    def _resource_defaults(self, node: ast.ResourceDefaults) -> None:
        name = node.type_name.lstrip(":")
        if name.lower() == "class":
            self.fail(node, "resource defaults cannot be set for classes")
        type_, kind = self.normalize_type(name, node)
        params = self._eval_ops(node.ops, type_)
        scope = self.scope.owner() if self.scope.kind == "lambda" else self.scope
        if scope.defaults is None:
            scope.defaults = {}
        entry: dict[str, tuple[Any, Any]] = scope.defaults.setdefault(type_, {})
        for k, v in params.items():
            entry[k] = (v, node)
        return None

    def _resource_override(self, node: ast.ResourceOverride) -> None:
        target = self.eval(node.target)
        refs = target if isinstance(target, list) else [target]
        for r in refs:
            if not isinstance(r, (T.PResource, T.PClass)):
                self.fail(node, f"an override needs resource references, got {T.generalized_name(r)}")
        params = self._eval_ops(node.ops, "", allow_append=True)
        self.overrides.append((node, [(r, params) for r in refs], self.scope))
        self._try_override(node, refs, params, final=False)

    def _try_override(self, node: ast.ResourceOverride, refs: list[Any], params: dict[str, Any],
                      final: bool) -> bool:
        done = True
        for r in refs:
            ref = r.ref
            res = self.resources.get(ref)
            if res is None:
                if final:
                    self.fail(node, f"cannot override {ref}: no such resource in the catalog")
                done = False
                continue
            self._set_params(res, params, node)
        return done

    def _set_params(self, res: CResource, params: dict[str, Any], node: ast.Node) -> None:
        if res.kind == "define" and res.evaluated:  # before, evaluating the instance checks them
            plain = {k: (v[1] if isinstance(v, tuple) and len(v) == 2 and v[0] == "+>" else v)
                     for k, v in params.items()}
            self._check_attributes(res.type, res.kind, plain, res.span, res.title)
        for k, v in params.items():
            if isinstance(v, tuple) and len(v) == 2 and v[0] == "+>":
                old = res.params.get(k)
                add = v[1] if isinstance(v[1], list) else [v[1]]
                if old is None:
                    res.params[k] = add if len(add) != 1 else add[0]
                else:
                    res.params[k] = (old if isinstance(old, list) else [old]) + add
            elif v is None:
                res.params.pop(k, None)
            else:
                res.params[k] = v
            if k == "tag" and v is not None:
                res.add_tags(self._explicit_tags(v[1] if isinstance(v, tuple) else v, node))

    def _finish_overrides(self) -> None:
        for node, pairs, _scope in self.overrides:
            refs = [r for r, _ in pairs]
            missing = [r for r in refs if r.ref not in self.resources]
            if missing:
                self.fail(node, f"cannot override {missing[0].ref}: no such resource in the catalog")

    # -- collectors ----------------------------------------------------------------------------------
    def _collector(self, node: ast.Collector) -> _Collection:
        if node.exported and not self._exports_ok:
            self.fail(node, "collecting exported resources (<<| |>>) needs the master's store, which this "
                            "compilation does not have")
        type_, _kind = self.normalize_type(node.type_name, node)
        coll = _Collection(node, type_, self.scope)
        self.collections.append(coll)
        return coll

    def _collect_remote(self, coll: _Collection) -> bool:
        """``<<| |>>``: add what other nodes export (from the master's store) that the query matches."""
        source = self.request.exported_source
        if source is None or coll.remote_done:
            return False
        coll.remote_done = True
        added = False
        for doc in source(coll.type):
            if doc.get("node") == self.request.node:
                continue  # this node's own exports come from this compilation
            title = str(doc.get("title"))
            ref = f"{coll.type}[{title}]"
            res = CResource(coll.type, title, coll.node.span, coll.scope,
                            "define" if coll.type.lower() in self.definitions.defines else "builtin")
            res.params = dict(doc.get("parameters") or {})
            res.tags = list(doc.get("tags") or [])
            if coll.query is not None and not self._query_matches(coll.query, res, coll.scope):
                continue
            existing = self.resources.get(ref)
            if existing is not None:
                if existing.exported or existing in coll.matched:
                    continue
                self.fail(coll.node, f"collecting exported {ref} from {doc.get('node')}: this node declares "
                                     f"{ref} too; rename one of them")
            container = self._container_for(coll.scope)
            res.container = container.ref
            res.add_tags(container.tags)
            if res.kind == "define":
                res.definition = self.definitions.defines[coll.type.lower()]
                self.pending_defines.append(res)
            self.resources[ref] = res
            self.edges.append((container.ref, ref))
            added = True  # the local pass below matches it again and applies the override block
        return added

    def _run_collections(self) -> bool:
        changed = False
        for coll in self.collections:
            if coll.node.exported and self._collect_remote(coll):
                changed = True
            for res in list(self.resources.values()):
                if res.type != coll.type or res in coll.matched:
                    continue
                if coll.query is not None and not self._query_matches(coll.query, res, coll.scope):
                    continue
                coll.matched.append(res)
                if res.virtual and (not res.exported or coll.node.exported):
                    res.virtual = False
                    res.exported = False  # collected here: applied here
                    if res.kind == "define":
                        self.pending_defines.append(res)
                    changed = True
                if coll.ops:
                    saved = self.scope
                    self.scope = coll.scope
                    try:
                        params = self._eval_ops(coll.ops, coll.type, allow_append=True)
                    finally:
                        self.scope = saved
                    self._set_params(res, params, coll.node)
        return changed

    def _query_matches(self, q: ast.Node, res: CResource, scope: Scope) -> bool:
        if isinstance(q, ast.And):
            return self._query_matches(q.left, res, scope) and self._query_matches(q.right, res, scope)
        if isinstance(q, ast.Or):
            return self._query_matches(q.left, res, scope) or self._query_matches(q.right, res, scope)
        if isinstance(q, ast.BinOp) and q.op in ("==", "!="):
            if not isinstance(q.left, (ast.QName, ast.Literal)):
                self.fail(q, "a collector query compares an attribute name with a value")
            attr = q.left.name if isinstance(q.left, ast.QName) else str(q.left.value)
            saved = self.scope
            self.scope = scope
            try:
                want = self.eval(q.right)
            finally:
                self.scope = saved
            if attr == "title":
                have: Any = res.title
            elif attr == "tag":
                hit = any(puppet_equal(t, want) for t in res.tags)
                return hit if q.op == "==" else not hit
            else:
                have = res.params.get(attr)
            if isinstance(have, list):
                hit = any(puppet_equal(h, want) for h in have)
            else:
                hit = puppet_equal(_ref_str(have), _ref_str(want))
            return hit if q.op == "==" else not hit
        if isinstance(q, ast.Not):
            return not self._query_matches(q.operand, res, scope)
        self.fail(q, "collector queries support ==, !=, and, or and parentheses")

    # -- relationships ----------------------------------------------------------------------------------
    def _relationship(self, node: ast.Relationship) -> list[Any]:
        left = self._rel_operand(self.eval(node.left), node.left)
        right = self._rel_operand(self.eval(node.right), node.right)
        op = node.op
        if op == "->":
            self.relationships.append(_Relationship(left, right, "before", node))
        elif op == "~>":
            self.relationships.append(_Relationship(left, right, "notify", node))
        elif op == "<-":
            self.relationships.append(_Relationship(right, left, "before", node))
        else:
            self.relationships.append(_Relationship(right, left, "notify", node))
        # as in Puppet, a chain closes over an empty operand: ``a -> [] -> b`` is ``a -> b``, and so is
        # ``a -> Coll<||> -> b`` when the collector turns out to collect nothing
        if not right:
            return left
        if len(right) == 1 and isinstance(right[0], _Collection):
            right[0].empty_alternative = left
        return right

    def _rel_operand(self, value: Any, node: ast.Node) -> list[Any]:
        items = value if isinstance(value, list) else [value]
        out: list[Any] = []
        for item in items:
            if isinstance(item, (T.PResource, T.PClass, _Collection)):
                if not any(item is o or item == o for o in out):
                    out.append(item)
            elif isinstance(item, list):
                out.extend(self._rel_operand(item, node))
            elif isinstance(item, str) and re.match(r"\A[A-Z][\w:]*\[.*\]\Z", item):
                type_name, _, title = item[:-1].partition("[")
                out.append(T.PResource(capitalize_type(type_name), title))
            else:
                self.fail(node, f"a relationship needs resources, references or collectors, got "
                                f"{T.generalized_name(item)}")
        return out

    def _expand_rel(self, items: list[Any], source: bool = False) -> list[str]:
        refs: list[str] = []
        for item in items:
            if isinstance(item, _Collection):
                matched = [r.ref for r in item.matched if not r.virtual]
                if not matched and source:
                    # a source collector that collected nothing stands for what preceded it in its chain
                    matched = self._expand_rel(item.empty_alternative, source=True)
                refs.extend(matched)
            else:
                refs.append(item.ref)
        return refs

    # -- classes ---------------------------------------------------------------------------------------
    def _class_resource_expr(self, node: ast.ResourceExpr) -> list[Any]:
        refs: list[Any] = []
        for body in node.bodies:
            title = self.eval(body.title)
            params = self._eval_ops(body.ops, "Class")
            for t in title if isinstance(title, list) else [title]:
                if not isinstance(t, str):
                    self.fail(body.title, f"class names must be strings, got {T.generalized_name(t)}")
                res = self.declare_class(t, params, self.scope, node, resource_like=True)
                refs.append(T.PClass(res.title.lower() if res.title != "main" else "main"))
        return refs

    def find_class(self, name: str) -> ast.ClassDef | None:
        key = name.lower().lstrip(":")
        cdef = self.definitions.classes.get(key)
        if cdef is None:
            self.autoloader.find_definition(key)
            cdef = self.definitions.classes.get(key)
        return cdef

    def declare_class(self, name: str, params: dict[str, Any], scope: Scope, node: ast.Node | None,
                      resource_like: bool = False) -> CResource:
        key = name.lower()
        if key.startswith("::"):
            key = key[2:]
        ref = f"Class[{capitalize_type(key)}]"
        existing = self.classes_declared.get(key)
        if existing is not None:
            if resource_like:
                where = f"{existing.span.file}:{existing.span.line}" if existing.span.line else "another place"
                self.fail(node or existing.span,
                          f"duplicate declaration: {ref} is already declared at {where}; a class declared "
                          "with class { } must not be declared elsewhere (include it instead)")
            return existing
        cdef = self.find_class(key)
        if cdef is None:
            self.fail(node or Span("", 0, 0, 0, 0),
                      f"could not find class '{key}' for node {self.request.node}; check the name and "
                      "that its module is on the module path")
        parent_scope: Scope | None = None
        if cdef.parent is not None:
            parent_name = cdef.parent.lower().lstrip(":")
            self.declare_class(parent_name, {}, scope, cdef, resource_like=False)
            parent_scope = self.class_scopes.get(parent_name)
        span = node.span if node is not None else cdef.span
        res = CResource("Class", capitalize_type(key), span, scope, "class")
        res.positioned = resource_like and node is not None
        res.definition = cdef
        self.classes_declared[key] = res
        self.resources[ref] = res
        stage = params.get("stage")
        stage_ref = f"Stage[{stage}]" if isinstance(stage, str) else "Stage[main]"
        if stage_ref not in self.resources:
            self.fail(node or cdef, f"class {key} is assigned to {stage_ref}, which is not declared")
        res.container = stage_ref
        self.edges.append((stage_ref, ref))
        res.add_tags(["class"] + tag_segments(key))
        declaring = self._container_for(scope)
        res.add_tags(declaring.tags)
        extra_tags = params.get("tag")
        if extra_tags is not None:
            res.add_tags(self._explicit_tags(extra_tags, node or span))
        self.class_list.append(key)
        self._catalog_tag(tag_segments(key))
        enclosing = parent_scope or self.node_scope or self.top
        cscope = Scope("class", key, enclosing, scope, res)
        self.class_scopes[key] = cscope
        self._bind_parameters(res, cdef.params, params, cscope, node or cdef, is_class=True)
        for meta in METAPARAMS:
            if meta in params and params[meta] is not None:
                res.params[meta] = params[meta]
        saved = self.scope
        self.scope = cscope
        try:
            self.eval_block(_top_level_code(cdef.body))
        finally:
            self.scope = saved
        res.evaluated = True
        return res

    def _definition_module(self, definition: Any, guess: str) -> str:
        """``$module_name`` of a class or define: the module whose directory holds its file (``''`` for
        what the site manifest defines), as Puppet takes it from where the code was loaded."""
        file = getattr(getattr(definition, "span", None), "file", None)
        if not file:
            return guess
        if file not in self._file_modules:
            found = ""
            for name, mdir in self.autoloader.modules():
                if any(file.startswith(f"{d}/") for d in {str(mdir), str(mdir.resolve())}):
                    found = name
                    break
            self._file_modules[file] = found
        return self._file_modules[file]

    def _caller_module(self, res: CResource, is_class: bool) -> str:
        """``$caller_module_name``: the module of the code that declared ``res`` (for a class with a
        parent, the parent class's, whose scope Puppet evaluates it in); ``''`` from the site manifest
        or a node."""
        declaring = res.scope
        parent = getattr(res.definition, "parent", None) if is_class else None
        if parent is not None:
            declaring = self.class_scopes.get(parent.lower().lstrip(":"), declaring)
        if declaring is None:
            return ""
        module = declaring.owner().vars.get("module_name")
        return module if isinstance(module, str) else ""

    def _bind_parameters(self, res: CResource, declared: Sequence[ast.Param], given: dict[str, Any],
                         scope: Scope, node: ast.Node, is_class: bool) -> None:
        cached = self._param_names.get(id(declared))
        if cached is None or cached[0] is not declared:
            cached = self._param_names[id(declared)] = (declared, frozenset(p.name for p in declared))
        names = cached[1]
        for k in given:
            if k not in names and k not in METAPARAMS and k not in ("name", "title"):
                self.fail(node, f"{res.ref}: has no parameter named '{k}'")
        scope.vars["title"] = res.title.lower() if is_class else res.title
        scope.vars["name"] = scope.vars["title"] if is_class else given.get("name", res.title)
        mod = (res.title.lower() if is_class else res.type.lower()).split("::")[0]
        scope.vars["module_name"] = self._definition_module(res.definition, mod)
        scope.vars["caller_module_name"] = self._caller_module(res, is_class)
        for p in declared:
            found = False
            value: Any = None
            origins: list[Path] = []
            if given.get(p.name) is not None:
                found, value = True, given[p.name]
            elif is_class:  # a class parameter given as undef is looked up in Hiera too, as Puppet does
                found, value = self.hiera_class_param(f"{res.title.lower()}::{p.name}", node, origins)
            if not found or value is None:  # undef, given or bound, does not trump a default
                origins.clear()
                if p.default is not None:
                    saved = self.scope
                    self.scope = scope
                    try:
                        value = self.eval(p.default)
                    finally:
                        self.scope = saved
                    found = True
                elif p.name in given:
                    found = True  # an explicit undef is a value: no "expects a value" error
            if not found:
                if p.type_expr is not None:
                    t = self._param_type(p.type_expr, scope)
                    if t.instance(None):
                        scope.vars[p.name] = None
                        continue
                self.fail(node, f"{res.ref}: expects a value for parameter '{p.name}'", DslTypeError)
            if p.type_expr is not None:
                t = self._param_type(p.type_expr, scope)
                if not t.instance(value):
                    source = f" (the value is Hiera data from {', '.join(map(str, origins))})" if origins else ""
                    self.fail(node, f"{res.ref}: parameter '{p.name}' {T.mismatch_message(t, value)}{source}",
                              DslTypeError)
            if isinstance(value, Sensitive):
                res.sensitive.add(p.name)
            scope.vars[p.name] = value
            if value is not None:
                res.params[p.name] = value

    def _param_type(self, node: ast.Node, scope: Scope) -> T.PType:
        """A parameter's type: :meth:`_eval_type_in`, which for the name of a simple type (``Integer``,
        ``String``: see types.SIMPLE_TYPES, which resolve_type_name looks at first) is always the same."""
        if type(node) is ast.TypeRef:
            simple = T.SIMPLE_TYPES.get(node.name)
            if simple is not None:
                return simple
        return self._eval_type_in(node, scope)

    def _eval_type_in(self, node: ast.Node, scope: Scope) -> T.PType:
        saved = self.scope
        self.scope = scope
        try:
            return self.eval_type(node)
        finally:
            self.scope = saved

    def hiera_class_param(self, key: str, node: ast.Node, origins: list[Path] | None = None) -> tuple[bool, Any]:
        hiera = self.hiera()
        if hiera is None:
            return False, None
        return hiera.lookup(key, self.hiera_scope_lookup, None, origins=origins)

    def hiera(self) -> Any:
        if self._hiera is None:
            req = self.request
            if req.hiera_config is None and req.env_dir is None and not req.modulepath:
                self._hiera = False
                return None
            from .hiera import Hiera

            self._hiera = Hiera.for_environment(req.env_dir, req.hiera_config, req.modulepath,
                                               convert=self._hiera_convert, confine=req.confine_files)
        return self._hiera or None

    def _hiera_convert(self, type_spec: Any, value: Any, args: list[Any]) -> Any:
        """Hiera's ``convert_to``: Puppet's ``new`` with the type written in the data."""
        from .conversions import new_value

        if not isinstance(type_spec, str):
            raise EvaluationError(f"convert_to needs a type name, got {type_spec!r}")
        program = parse_string(type_spec, "<convert_to>")
        stmts = program.body.statements
        if len(stmts) != 1:
            raise EvaluationError(f"convert_to: '{type_spec}' is not a type")
        saved = self.scope
        self.scope = self.top
        try:
            t = self.eval_type(stmts[0])
            return new_value(self, t, [value, *args], stmts[0])
        finally:
            self.scope = saved

    def hiera_scope_lookup(self, name: str) -> tuple[bool, Any]:
        return self.lookup_var(name)

    # -- defined types -------------------------------------------------------------------------------
    def _evaluate_define(self, res: CResource) -> None:
        res.evaluated = True
        ddef: ast.DefineDef = res.definition
        enclosing = self.node_scope or self.top
        dscope = Scope("define", res.type.lower(), enclosing, res.scope, res)
        given = dict(res.params)
        res.params = {}
        self._bind_parameters(res, ddef.params, given, dscope, _SpanNode(res.span), is_class=False)
        for k, v in given.items():
            if k in METAPARAMS or k == "name":
                res.params[k] = v
        saved = self.scope
        self.scope = dscope
        try:
            self.eval_block(ddef.body)
        finally:
            self.scope = saved

    def _evaluate_generators(self) -> None:
        for _ in range(10000):
            changed = self._run_collections()
            pending = [r for r in self.pending_defines if not r.evaluated and not r.virtual]
            self.pending_defines = []
            for res in pending:
                if not res.evaluated:
                    self._evaluate_define(res)
            if not changed and not pending:
                return
        raise EvaluationError("evaluation did not settle after 10000 rounds of defined types and collectors")

    # -- functions and aliases from modules -------------------------------------------------------------
    def find_function(self, name: str, node: ast.Node) -> Any:
        try:
            return self.ports.find(name)
        except PortError as exc:
            self.fail(node, f"{name}(): {exc}")

    def unknown_function_message(self, name: str) -> str:
        return unknown_function_message(name, list(self.autoloader.modules()))

    def load_function(self, name: str, node: ast.Node) -> ast.FunctionDef | None:
        key = name.lower()
        if "::" in key:
            self.autoloader.find_function(key)
            fdef = self.definitions.functions.get(key)
            if fdef is not None:
                return fdef
        return None

    def _typeref(self, node: ast.TypeRef) -> T.PType:
        t = super()._typeref(node)
        if isinstance(t, T.PResource) and t.title is None and t.type_name and not self._names_a_type(t.type_name):
            # Puppet resolves a type name where it is written: a parameter type that names nothing fails
            # even when the parameter's value would never be checked against it
            self.fail(node, f"resource type not found: '{node.name.lstrip(':')}' is not a data type, a type "
                            "alias, a resource type or a defined type")
        return t

    def _names_a_type(self, name: str) -> bool:
        """Whether ``name`` (not a data type or type alias) is a resource type, a defined type or a class
        (classes are let through: ``Class[Foo]`` names them with a bare type name)."""
        lname = name.lower().lstrip(":")
        if lname in BUILTIN_TYPES or lname in _PCORE_TYPE_NAMES or lname.startswith(("pcore::", "puppet::")):
            return True
        if "::" not in lname and self.autoloader.find_resource_type(lname) is not None:
            return True
        if lname not in self.definitions.defines and lname not in self.definitions.classes:
            self.autoloader.find_definition(lname)
        return lname in self.definitions.defines or lname in self.definitions.classes

    def load_type_alias(self, name: str, node: ast.Node | None) -> T.PType | None:
        alias = self.definitions.aliases.get(name)
        if alias is None and "::" in name:
            self.autoloader.find_type_alias(name)
            alias = self.definitions.aliases.get(name)
        if alias is None:
            return None
        target = alias

        def resolve() -> T.PType:
            saved = self.scope
            self.scope = self.top
            try:
                return self.eval_type(target.type_expr)
            finally:
                self.scope = saved

        t = T.PTypeAlias(alias.name.lstrip(":"), resolve)
        self.type_aliases[name] = t
        return t

    # -- the catalog ----------------------------------------------------------------------------------
    def _explicit_tags(self, value: Any, where: ast.Node | Span) -> list[str]:
        """The tags a ``tag`` attribute gives (lowercased, ``a::b`` also as ``a`` and ``b``). Unlike the
        tags a title or a type name would give, an invalid one is an error, as in Puppet."""
        out: list[str] = []
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, list):
                out.extend(self._explicit_tags(item, where))
                continue
            if item is None:
                continue
            name = to_str(item).lower()
            if not _VALID_TAG_RE.match(name):
                self.fail(where, f"invalid tag '{name}': a tag starts with a letter, digit or underscore "
                                 "and goes on with those, ':', '.' or '-'")
            out.append(name)
            if "::" in name:
                out.extend(p for p in name.split("::") if p)
        return out

    def _propagate_metaparams(self) -> None:
        """Puppet's last step of a compile: walking containment breadth-first from ``Class[main]``, a
        resource inherits the non-relationship metaparameters (``noop``, ``tag``, ``loglevel`` ...) of its
        container where it has none of its own, so a defined-type instance's reach its resources. Classes
        hang off their stage, not ``Class[main]``, so theirs stay put (unless contained from main)."""
        if all(_INHERITED_SET.isdisjoint(res.params) for res in self.resources.values()):
            return  # no resource has any of them: none to hand down
        children: dict[str, list[str]] = {}
        for source, target in self.edges:
            children.setdefault(source, []).append(target)

        def own(ref: str) -> dict[str, Any]:
            res = self.resources.get(ref)
            if res is None or _INHERITED_SET.isdisjoint(res.params):
                return {}
            return {p: res.params[p] for p in _INHERITED_METAPARAMS if res.params.get(p) is not None}

        inherited: dict[str, dict[str, Any]] = {}
        queue, seen = deque(["Class[main]"]), set()
        while queue:
            source = queue.popleft()
            if source in seen:
                continue
            seen.add(source)
            data = inherited.get(source) or own(source)
            for target in children.get(source, ()):
                res = self.resources.get(target)
                if data and res is not None:
                    for param, value in data.items():
                        if res.params.get(param) is None:
                            res.params[param] = value
                    inherited[target] = {**data, **own(target)}
                queue.append(target)

    def _build_catalog(self) -> Catalog:
        catalog = self._new_catalog()
        for entry in self._catalog_entries():
            catalog.add(Resource(*entry))
        for source, target in self._catalog_edges():
            catalog.add_edge(source, target)
        catalog.classes = list(self.class_list)
        catalog.tags = self._final_tags()
        return catalog

    def _build_document(self) -> dict[str, Any]:
        """The catalog as :meth:`engine.catalog.Catalog.to_dict` writes the one :meth:`_build_catalog`
        builds, built directly (no Resource and Edge objects, no copies of them)."""
        catalog = self._new_catalog()
        catalog.classes = list(self.class_list)
        catalog.tags = self._final_tags()
        doc = catalog.to_dict()
        resources: list[dict[str, Any]] = []
        seen: set[str] = set()
        for type_, title, params, tags, file, line, exported, sensitive, kind in self._catalog_entries():
            ref = f"{type_}[{title}]"
            if ref in seen:  # as Catalog.add
                raise CatalogError(f"duplicate resource {ref}")
            seen.add(ref)
            out: dict[str, Any] = {"type": type_, "title": title, "tags": tags}  # as Resource.to_dict
            if file is not None:
                out["file"] = file
            if line is not None:
                out["line"] = line
            out["exported"] = exported
            out["kind"] = kind or default_kind(type_)
            if params:
                out["parameters"] = params
            if sensitive:
                out["sensitive_parameters"] = sensitive
            resources.append(out)
        doc["resources"] = resources
        doc["edges"] = [{"source": source, "target": target} for source, target in self._catalog_edges()]
        return doc

    def _new_catalog(self) -> Catalog:
        """The catalog without its resources: relationships resolved, attributes checked and metaparameters
        propagated first (errors in that order, as Puppet finishes a catalog)."""
        req = self.request
        for rel in self.relationships:
            sources = self._expand_rel(rel.sources, source=True)
            targets = self._expand_rel(rel.targets)
            for s in sources:
                res = self.resources.get(self.aliases.get(s, s))
                if res is None or res.virtual:
                    self.fail(rel.node, f"could not find resource '{s}' for a relationship; declare it "
                                        "or fix the reference")
                for t in targets:
                    tres = self.resources.get(self.aliases.get(t, t))
                    if tres is None or tres.virtual:
                        self.fail(rel.node, f"could not find resource '{t}' for a relationship with '{s}'; "
                                            "declare it or fix the reference")
                    old = res.params.get(rel.param)
                    lst = old if isinstance(old, list) else ([] if old is None else [old])
                    lst = list(lst)
                    lst.append(T.PResource(t.partition("[")[0], t[t.index("[") + 1:-1]))
                    res.params[rel.param] = lst
        for res in self.resources.values():
            # as Puppet when it finishes the catalog: with defaults and overrides, at the resource's line
            # (a defined type's instance was checked when evaluated; a virtual one never was)
            if res.kind == "builtin" or res.kind == "define" and not res.evaluated:
                self._check_attributes(res.type, res.kind, res.params, res.span, res.title)
        self._propagate_metaparams()
        catalog = Catalog(req.node, version=req.version, code_id=req.code_id, environment=req.environment)
        live = {ref for ref, r in self.resources.items() if not r.virtual}
        live.update(a for a, target in self.aliases.items() if target in live)
        self._live = live
        return catalog

    def _final_tags(self) -> list[str]:
        return list(self.catalog_tags) + [t for t in ("node", "class") if t not in self.catalog_tags]

    def _catalog_entries(self) -> Iterator[tuple[Any, ...]]:
        """Each resource of the catalog, in order, as the fields of an :class:`engine.catalog.Resource`
        (type, title, parameters, tags, file, line, exported, sensitive_parameters, kind)."""
        resources = self.resources
        live = self._live
        type_spec = self.type_spec
        parse = self._parse_title
        for res in resources.values():
            if res.virtual and not res.exported:
                continue
            params: dict[str, Any] = {}
            sensitive = list(res.sensitive)
            given = res.params
            kind = res.kind
            if kind == "builtin" or kind == "define":
                given = catalog_parameters(type_spec(res.type, kind), res.title, given, parse=parse)
                if res.keep_name and "name" not in given and "name" in res.params:
                    given = {"name": res.params["name"], **given}
            for k, v in given.items():
                if v is None:
                    continue
                if k in _RELATIONSHIP_SET:
                    refs = _to_refs(v)
                    for r in refs:
                        if r not in live:
                            self.fail(res.param_spans.get(k, res.span), f"could not find resource '{r}' in parameter '{k}' of "
                                                f"{res.ref}; declare it or fix the reference")
                    params[k] = refs if (isinstance(v, list) or len(refs) != 1) else refs[0]
                    continue
                kind_of_value = type(v)
                if kind_of_value is str or kind_of_value is int or kind_of_value is bool:
                    params[k] = v  # as to_data gives them back
                    continue
                if isinstance(v, Sensitive):
                    sensitive.append(k)
                    v = v.value
                elif isinstance(v, (list, dict)) and _holds_sensitive(v):
                    sensitive.append(k)  # the catalog holds the value unwrapped: the whole parameter is secret
                params[k] = _to_data(v)
            positioned = res.positioned
            span = res.span
            yield (res.type, res.title, params, list(res.tags),
                   span.file if span.line and positioned else None,
                   (span.line or None) if positioned else None,
                   res.exported, sorted(set(sensitive)) if sensitive else [],
                   KIND_OF_DECLARATION.get(kind))

    def _catalog_edges(self) -> Iterator[tuple[str, str]]:
        live = self._live
        emitted = live | {ref for ref, r in self.resources.items() if r.exported}
        for source, target in self.edges:
            if source in emitted and target in emitted:
                yield source, target

    def _parse_title(self, spec: TypeSpec, title: str) -> dict[str, Any] | None:
        """``spec.parse_title(title)``, worked out once per compile for a type and title (a resource's
        title is parsed for its uniqueness key and again for its catalog parameters)."""
        found = self._parsed_title(spec, title)
        return None if found is None else dict(found)

    def _parsed_title(self, spec: TypeSpec, title: str) -> dict[str, Any] | None:
        """:meth:`_parse_title`, the one dict the compile keeps (not to be changed)."""
        key = (id(spec), title)
        found = self._parsed_titles.get(key, _UNPARSED)
        if found is _UNPARSED:
            try:
                found = spec.parse_title(title)
            except TitleMismatch as exc:
                found = exc
            self._parsed_titles[key] = found
        if isinstance(found, TitleMismatch):
            raise TitleMismatch(str(found))
        return found  # type: ignore[no-any-return]

    def _uniqueness_key(self, spec: TypeSpec | None, title: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """:func:`uniqueness_key`; for a type of one key attribute that the parameters do not set (nor
        ``name``), from the title alone: what the title stands for, else its ``name``, else the title."""
        if spec is not None and spec.isomorphic and len(spec.key_attributes) == 1:
            namevar = spec.key_attributes[0]
            if params.get(namevar) is None and params.get("name") is None:
                parsed = self._parsed_title(spec, title)
                if parsed is None:
                    return None
                value = parsed.get(namevar)
                if value is None or value is False:
                    value = parsed.get("name") or title
                return (_hashable_key(value),)
        return uniqueness_key(spec, title, params, parse=self._parse_title)


_UNPARSED: Any = object()
_RELATIONSHIP_SET = frozenset(RELATIONSHIP_METAPARAMS)


class _SpanNode(ast.Node):
    __slots__ = ()


def _holds_sensitive(v: Any) -> bool:
    """Whether an array or hash holds a Sensitive at any depth (not inside a Deferred's arguments,
    which the catalog keeps wrapped)."""
    items = v.values() if isinstance(v, dict) else v
    return any(isinstance(x, Sensitive) or (isinstance(x, (list, dict)) and _holds_sensitive(x)) for x in items)


def _top_level_code(block: ast.Block) -> ast.Block:
    stmts = tuple(s for s in block.statements
                  if type(s) not in (ast.ClassDef, ast.DefineDef, ast.NodeDef, ast.FunctionDef, ast.TypeAlias))
    return ast.Block(block.span, stmts)


def _ref_str(v: Any) -> Any:
    if isinstance(v, (T.PResource, T.PClass)):
        return v.ref
    return v


def _to_refs(v: Any) -> list[str]:
    out: list[str] = []
    for item in v if isinstance(v, list) else [v]:
        if isinstance(item, (T.PResource, T.PClass)):
            out.append(item.ref)
        elif isinstance(item, list):
            out.extend(_to_refs(item))
        elif isinstance(item, str):
            if "[" in item and item.endswith("]"):
                type_name, _, title = item[:-1].partition("[")
                out.append(f"{capitalize_type(type_name)}[{title}]")
            else:
                out.append(item)
        elif item is None:
            continue
        else:
            out.append(to_str(item))
    return out


# -- public API ------------------------------------------------------------------------------------
def compile_catalog(request: CompileRequest) -> Catalog:
    """Compile the catalog of ``request.node``. Raises :class:`DslError` for anything a user can fix."""
    return _compile(request, Compiler.compile)


def compile_catalog_document(request: CompileRequest) -> dict[str, Any]:
    """``compile_catalog(request).to_dict()``, without building the Catalog object (the master's workers
    send the document)."""
    return _compile(request, Compiler.compile_document)


def _compile(request: CompileRequest, how: Any) -> Any:
    compiler = Compiler(request)
    try:
        result = how(compiler)
        compiler.release()
        return result
    except RecursionError:
        raise EvaluationError("manifest nesting too deep (recursion limit reached)",
                              Span(request.manifests[0].as_posix() if request.manifests else "", 0, 0, 0, 0)
                              ) from None
    except MemoryError:  # a value too big to build (a huge range, a string repeated without end)
        raise EvaluationError("compilation ran out of memory",
                              Span(request.manifests[0].as_posix() if request.manifests else "", 0, 0, 0, 0)
                              ) from None


def lookup_for_node(request: CompileRequest, key: str, merge: str | None = None,
                    explain: list[str] | None = None) -> tuple[bool, Any]:
    """A Hiera lookup with the node's facts in scope, as the compiler would do it; ``explain`` receives
    the lines of ``lookup --explain``."""
    compiler = Compiler(request)
    compiler._setup_top_scope()
    hiera = compiler.hiera()
    if hiera is None:
        if explain is not None:
            explain.append("No Hiera configuration: no hiera.yaml in the environment, none given, no modules")
        return False, None
    return hiera.lookup(key, compiler.hiera_scope_lookup, merge, explain=explain)


__all__ = ["CompileRequest", "compile_catalog", "compile_catalog_document", "lookup_for_node", "DslError", "truthy"]
