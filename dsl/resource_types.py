"""What the compiler knows about resource types: attributes, namevars, title patterns.

The built-in types are listed here with their attribute names; the compiler rejects unknown
attributes of them at compile time, as Puppet does, and the engine implements the ones it can apply.
Types a module ships in Ruby (``lib/puppet/type/*.rb``) are read by :mod:`dsl.rubytypes` into the
same :class:`TypeSpec`. A spec also says what makes a resource unique in a catalog (its key
attributes, filled from the title through the type's title patterns), which the compiler uses to
reject two resources that manage the same thing under different titles.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from engine.catalog import HEALTHCHECK_ATTRIBUTES, METAPARAMS

from .values import ruby_regex_to_python

RELATIONSHIP_METAPARAMS = ("before", "require", "notify", "subscribe")

_TYPES: dict[str, str] = {
    "file": "path ensure backup recurse recurselimit replace force ignore links purge sourceselect "
            "show_diff validate_cmd validate_replacement content source target mode owner group "
            "checksum checksum_value ctime mtime type seltype selrange selrole seluser "
            "selinux_ignore_defaults source_permissions max_files staging_location provider",
    "user": "name ensure uid gid groups membership home managehome shell comment password "
            "password_min_age password_max_age password_warn_days expiry system allowdupe forcelocal "
            "purge_ssh_keys provider attribute_membership attributes auth_membership auths "
            "ia_load_module iterations key_membership keys loginclass profile_membership profiles "
            "project role_membership roles salt",
    "group": "name ensure gid members auth_membership system allowdupe forcelocal provider "
             "attribute_membership attributes ia_load_module",
    "package": "name ensure provider source install_options uninstall_options adminfile allowcdrom "
               "category configfiles description flavor instance mark package_settings platform "
               "reinstall_on_refresh responsefile root status vendor allow_virtual command",
    "service": "name ensure enable binary control flags hasrestart hasstatus manifest path pattern "
               "restart start status stop provider logonaccount logonpassword timeout",
    "exec": "command creates cwd environment group logoutput onlyif path provider refresh refreshonly "
            "returns timeout tries try_sleep umask unless user",
    "notify": "name message withpath",
    "cron": "name ensure command environment hour minute month monthday weekday special target user "
            "provider",
    "tidy": "path age backup matches recurse rmdirs size type max_files",
    "schedule": "name period periodmatch range repeat weekday",
    "resources": "name purge unless_system_user unless_uid",
    "stage": "name",
    "filebucket": "name path port server",
    "host": "name ensure ip host_aliases comment target provider",
    "mailalias": "name ensure recipient file target provider",
    "mount": "name ensure device fstype options pass dump atboot remounts target blockdevice provider",
    "ssh_authorized_key": "name ensure key type user target options drop_private_keys provider",
    "sshkey": "name ensure key type host_aliases target provider",
    "healthcheck": " ".join(HEALTHCHECK_ATTRIBUTES),  # Bunraku's own type: defined with the engine's
    "release": "app version path keep owner group format before_switch after_switch healthcheck sha256 size "
               "filename provider",  # Bunraku's own type (engine/types/release.py)
    "whit": "name",
    "component": "name",
}

#: Puppet's ``validattr?``: ``name`` is valid for every resource type, whatever its namevar
BUILTIN_TYPES: dict[str, frozenset[str]] = {
    name: frozenset(attrs.split()) | METAPARAMS | {"name"} for name, attrs in _TYPES.items()
}

#: The attribute that names the managed thing when the title doesn't.
NAMEVARS = {"file": "path", "exec": "command", "tidy": "path", "release": "app"}


# -- what a type knows about its attributes and titles ------------------------------------------------
def compile_ruby_regex(source: str, flags: str = "") -> re.Pattern[str]:
    """A Ruby regex as Python's ``re`` runs it: Ruby's ``m`` (dot matches newline) is Python's ``s``
    (also inside ``(?m-ix:...)`` groups), and Ruby's ``^``/``$`` always match at line ends."""
    pattern = ruby_regex_to_python(source)
    pattern = _INLINE_FLAGS.sub(lambda m: "(?" + m.group(1).replace("m", "s") + "-"
                                + m.group(2).replace("m", "s") + ":" if m.group(2) is not None
                                else "(?" + m.group(1).replace("m", "s") + ":", pattern)
    bits = re.M
    if "m" in flags:
        bits |= re.S
    if "i" in flags:
        bits |= re.I
    if "x" in flags:
        bits |= re.X
    return re.compile(pattern, bits)


_INLINE_FLAGS = re.compile(r"(?<!\\)\(\?([mix]*)(?:-([mix]*))?:")


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """One attribute of a resource type: a property (``newproperty``, ``ensure``) or a parameter."""

    name: str
    property: bool
    namevar: bool = False
    #: the values ``newvalues`` lists (regexes as ``/source/``); empty means any value
    values: tuple[str, ...] = ()
    #: a literal ``defaultto``, else None
    default: Any = None


@dataclass(frozen=True, slots=True)
class TitlePattern:
    """A regex a title is matched against and the attributes its groups fill, in order."""

    regex: re.Pattern[str]
    attributes: tuple[str, ...]
    source: str = ""


class TitleMismatch(ValueError):
    """No title pattern of the type matches the title."""


@dataclass(frozen=True)
class TypeSpec:
    """What the compiler knows of a resource type: its attributes, namevars and title patterns.

    ``title_patterns`` is ``()`` for Puppet's default (the title is the single namevar), a tuple
    of patterns when the type defines them, None when they are not statically known. An
    incomplete spec (``complete=False``) accepts every parameter."""

    name: str
    attributes: tuple[AttributeSpec, ...] = ()
    title_patterns: tuple[TitlePattern, ...] | None = ()
    complete: bool = True
    source: str = ""
    problems: tuple[str, ...] = ()
    isomorphic: bool = True
    #: read from ``puppet generate types`` output rather than from Ruby
    generated: bool = False
    attribute_names: frozenset[str] = field(init=False, repr=False, compare=False)
    #: Puppet's key attributes: the namevar parameters and a parameter called ``name``
    key_attributes: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _patterns: tuple[TitlePattern, ...] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attribute_names", frozenset(a.name for a in self.attributes))
        if self.generated:  # Puppet's generated metadata flags every key attribute, properties too
            keys = tuple(a.name for a in self.attributes if a.namevar)
        else:  # a Ruby type: its namevar parameters, and a parameter called name
            keys = tuple(a.name for a in self.attributes if not a.property and (a.namevar or a.name == "name"))
        object.__setattr__(self, "key_attributes", keys)
        object.__setattr__(self, "_patterns", self._title_patterns())

    @property
    def properties(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes if a.property)

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes if not a.property)

    @property
    def namevar(self) -> str:
        """The attribute the title stands for: the single key attribute, else ``name``."""
        return self.key_attributes[0] if len(self.key_attributes) == 1 else "name"

    def attribute(self, name: str) -> AttributeSpec | None:
        return next((a for a in self.attributes if a.name == name), None)

    def accepts(self, name: str) -> bool:
        """Whether a manifest may set attribute ``name`` (metaparameters and ``name`` always)."""
        return not self.complete or name in self.attribute_names or name in METAPARAMS or name == "name"

    def with_provider(self) -> TypeSpec:
        """The spec with Puppet's ``provider`` parameter, which a type has once a provider exists."""
        if "provider" in self.attribute_names:
            return self
        return replace(self, attributes=(*self.attributes, AttributeSpec("provider", False)))

    def effective_title_patterns(self) -> tuple[TitlePattern, ...] | None:
        """The patterns titles are matched against; None when they are not known."""
        return self._patterns

    def _title_patterns(self) -> tuple[TitlePattern, ...] | None:
        if self.title_patterns is None or not self.complete:
            return None
        if self.title_patterns:
            return self.title_patterns
        if len(self.key_attributes) == 1:
            return (TitlePattern(_WHOLE_TITLE, self.key_attributes, "/(.*)/m"),)
        if not self.key_attributes:
            return ()  # no title fits: Puppet fails every resource of such a type
        return None  # Puppet insists on title patterns for several key attributes

    def parse_title(self, title: str) -> dict[str, Any] | None:
        """The attributes a title stands for (Puppet's ``parse_title``); None when unknown.
        Raises :class:`TitleMismatch` when no pattern matches."""
        patterns = self._patterns
        if patterns is None:
            return None
        for pattern in patterns:
            if pattern.regex is _WHOLE_TITLE:
                return {pattern.attributes[0]: title}
            m = pattern.regex.search(title)
            if m is not None:
                return dict(zip(pattern.attributes, m.groups()))
        raise TitleMismatch(f'no set of title patterns matched the title "{title}"')


_WHOLE_TITLE = re.compile(r"(.*)", re.S)


def _spec_of_builtin(name: str, attrs: frozenset[str]) -> TypeSpec:
    keys = {"package": ("name", "provider", "command")}.get(name) or (NAMEVARS.get(name, "name"),)
    specs = [AttributeSpec(k, False, True) for k in keys]
    specs += [AttributeSpec(a, False) for a in sorted(attrs - METAPARAMS - set(keys) - {"name"})]
    patterns: tuple[TitlePattern, ...] = ()
    if name == "file":  # a trailing slash does not make another file; the root stays "/"
        patterns = (TitlePattern(compile_ruby_regex(r"^(/|.+:/|.*[^/])/*\Z", "m"), ("path",)),)
    elif name == "package":  # several key attributes, but the title is only ever the name
        patterns = (TitlePattern(_WHOLE_TITLE, ("name",)),)
    # exec and tidy names are not the things they manage: two of them may share a command or path
    return TypeSpec(name=name, attributes=tuple(specs), title_patterns=patterns, source="built-in",
                    isomorphic=name not in ("exec", "tidy"))


BUILTIN_SPECS: dict[str, TypeSpec] = {name: _spec_of_builtin(name, attrs) for name, attrs in BUILTIN_TYPES.items()}


# -- titles, namevars and uniqueness -------------------------------------------------------------------
def uniqueness_key(spec: TypeSpec | None, title: str, params: Mapping[str, Any], *,
                   parse: Callable[[TypeSpec, str], dict[str, Any] | None] | None = None) -> tuple[Any, ...] | None:
    """What makes a resource unique in a catalog (Puppet's ``uniqueness_key``): the values of the
    type's key attributes, from the title (through its patterns) and the given parameters. For a
    defined type (``spec`` None) it is the ``name``. None when the type's titles are not known.
    Raises :class:`TitleMismatch` like :meth:`TypeSpec.parse_title` (``parse``: what stands for it, given
    the spec and the title, returning a dict of its own)."""
    if spec is None:
        return (_hashable(params.get("name") or title),)
    if not spec.key_attributes or not spec.isomorphic:
        return None
    values = parse(spec, title) if parse is not None else spec.parse_title(title)
    if values is None:
        return None
    values.update((k, v) for k, v in params.items() if v is not None)
    namevar = spec.namevar
    name = values.get(namevar) or values.get("name") or title
    for k in (namevar, "name"):
        if values.get(k) is None or values.get(k) is False:
            values[k] = name
    return tuple(_hashable(values.get(k)) for k in sorted(spec.key_attributes))


def catalog_parameters(spec: TypeSpec | None, title: str, params: dict[str, Any], *,
                       parse: Callable[[TypeSpec, str], dict[str, Any] | None] | None = None) -> dict[str, Any]:
    """A resource's parameters as Puppet writes them in the catalog: what the title stands for
    comes first (``file { '/x/': }`` has ``path => '/x'``), ``name`` is written as the namevar it
    stands for, and the namevar is left out when it equals the title."""
    if spec is None:
        if params.get("name") == title:
            return {k: v for k, v in params.items() if k != "name"}
        return params
    namevar = spec.namevar
    try:
        derived = parse(spec, title) if parse is not None else spec.parse_title(title)
    except TitleMismatch:
        derived = None
    if derived is None:
        return params
    if derived == {namevar: title} and namevar not in params and (namevar == "name" or "name" not in params):
        return params  # the common case: the title is the namevar, nothing to add or rename
    out: dict[str, Any] = {k: v for k, v in derived.items() if v is not None}
    rename = namevar != "name"
    for k, v in params.items():
        out[namevar if rename and k == "name" else k] = v
    if out.get(namevar) == title:
        del out[namevar]
    return out


def show_key(type_name: str, key: tuple[Any, ...]) -> tuple[str, str]:
    """A uniqueness key as Puppet prints it: ``["x"]`` and ``["Sysctl", "x"]``."""
    def show(v: Any) -> str:
        return "nil" if v is None else json.dumps(v) if isinstance(v, str) else repr(v)

    return "[" + ", ".join(show(v) for v in key) + "]", "[" + ", ".join(show(v) for v in (type_name, *key)) + "]"


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple((_hashable(k), _hashable(v)) for k, v in value.items())
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value
