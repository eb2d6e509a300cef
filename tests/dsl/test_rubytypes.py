"""Custom resource types read from modules' Ruby (``lib/puppet/type/*.rb``) without running Ruby.

Three layers: the reader on small type files written for each construct (data-driven), the reader
over every type file of the installed Debian modules held against what Puppet itself found in them
(``module_types/puppet_types.json``, written by ``module_types/regen.py``), and the compiler using
what was read: unknown attributes, namevars and uniqueness, title patterns, name resolution. The
messages and lines are Puppet's (see ``golden/errors/custom_type_*.pp``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dsl.compiler import CompileRequest, compile_catalog
from dsl.errors import DslError
from dsl.loader import Autoloader, Definitions
from dsl.resource_types import (
    BUILTIN_SPECS,
    TitleMismatch,
    catalog_parameters,
    compile_ruby_regex,
    uniqueness_key,
)
from dsl.rubytypes import load_type, read_generated_type

DEBIAN_MODULES = Path("/usr/share/puppet/modules")
ORACLE = Path(__file__).resolve().parent / "module_types" / "puppet_types.json"


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# the reader, one construct at a time


@dataclass
class TypeCase:
    id: str
    source: str
    properties: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()
    keys: tuple[str, ...] = ("name",)
    #: attribute -> (values, default) to check
    details: dict[str, tuple[tuple[str, ...], Any]] = field(default_factory=dict)
    #: title -> what it stands for; None: patterns unknown
    titles: dict[str, dict[str, Any]] | None = field(default_factory=dict)
    complete: bool = True
    #: other files of the module (lib/puppet_x helpers)
    extra: dict[str, str] = field(default_factory=dict)


TYPE_CASES = [
    TypeCase(
        "ensurable-namevar-option",
        """
        Puppet::Type.newtype(:t) do
          @doc = 'A type.'
          ensurable
          newparam(:name, :namevar => true) do
            desc 'The name.'
          end
          newproperty(:val) do
            desc "A value with #{'interpolation'} and a } brace"
          end
        end
        """,
        properties=("ensure", "val"), parameters=("name",),
        details={"ensure": (("present", "absent"), None)},
        titles={"x": {"name": "x"}},
    ),
    TypeCase(
        "namevar-label-and-isnamevar",
        """
        Puppet::Type.newtype(:t) do
          newparam(:path, namevar: true)
          newparam(:other) do
            isnamevar
          end
          newparam(:plain)
          def self.title_patterns
            [[/^(.*?):(.*)$/, [[:path], [:other]]]]
          end
        end
        """,
        parameters=("path", "other", "plain"), keys=("path", "other"),
        titles={"/a:b": {"path": "/a", "other": "b"}},
    ),
    TypeCase(
        "isnamevar-without-name-param",
        """
        Puppet::Type.newtype(:t) do
          newparam(:path) do
            isnamevar
            validate do |value|
              raise ArgumentError, "not absolute: #{value}" unless value.start_with?('/')
            end
          end
          newproperty(:content)
        end
        """,
        properties=("content",), parameters=("path",), keys=("path",),
        titles={"/etc/x": {"path": "/etc/x"}},
    ),
    TypeCase(
        "newvalues-and-defaults",
        """
        Puppet::Type.newtype(:t) do
          newparam(:name, namevar: true)
          newparam(:flag) do
            newvalues(:true, :false)
            defaultto :false
          end
          newparam(:mode) do
            newvalues('fast', "slow", /^\\d+$/)
            defaultto('fast')
          end
          newparam(:count) do
            defaultto 3
          end
          newparam(:computed) do
            defaultto { @resource[:count] * 2 }
          end
          newparam(:bool, :boolean => true, :parent => Puppet::Parameter::Boolean)
          newproperty(:state) do
            newvalue(:running) do
              provider.start
            end
            newvalue(:stopped) { provider.stop }
            aliasvalue(:up, :running)
          end
        end
        """,
        properties=("state",), parameters=("name", "flag", "mode", "count", "computed", "bool"),
        details={
            "flag": (("true", "false"), "false"),
            "mode": (("fast", "slow", "/^\\d+$/"), "fast"),
            "count": ((), 3),
            "computed": ((), None),
            "bool": (("true", "false", "yes", "no"), None),
            "state": (("running", "stopped", "up"), None),
        },
    ),
    TypeCase(
        "ensurable-block",
        """
        Puppet::Type.newtype(:t) do
          ensurable do
            desc 'Present or not.'
            newvalue(:present) { provider.create }
            newvalue(:absent) { provider.destroy }
            newvalue(:latest)
            defaultto(:present)
            def change_to_s(current, desired)
              return "created" if current == :absent
              super
            end
          end
          newparam(:name, namevar: true)
        end
        """,
        properties=("ensure",), parameters=("name",),
        details={"ensure": (("present", "absent", "latest"), "present")},
    ),
    TypeCase(
        "literal-loops",
        """
        Puppet::Type.newtype(:t) do
          newparam(:name, :namevar => true)
          [:user, :project].each do |p|
            newparam(p) do
              isnamevar
            end
          end
          %w[alpha beta].each { |prop| newproperty(prop.to_sym) }
          %i[gamma].each do |prop|
            newproperty(prop)
          end
          { left: :l, right: :r }.each do |param, _short|
            newparam(param)
          end
          def self.title_patterns
            [[/^(.+)@(.+)$/, [[:user], [:project]]], [/(.*)/m, [[:name]]]]
          end
        end
        """,
        properties=("alpha", "beta", "gamma"), parameters=("name", "user", "project", "left", "right"),
        keys=("name", "user", "project"),
        titles={"u@p": {"user": "u", "project": "p"}},
    ),
    TypeCase(
        "literal-loops-complete",
        """
        Puppet::Type.newtype(:t) do
          newparam(:name, :namevar => true)
          %w[alpha beta].each { |prop| newproperty(prop) }
          [
            :one,
            :two,
          ].each do |p|
            newparam(p)
          end
        end
        """,
        properties=("alpha", "beta"), parameters=("name", "one", "two"),
    ),
    TypeCase(
        "title-patterns-identity-lambda-and-singleton-class",
        """
        Puppet::Type.newtype(:t) do
          newparam(:name)
          newparam(:path) { isnamevar }
          newparam(:key, namevar: true)
          class << self
            def title_patterns
              identity = lambda { |x| x }
              [
                [%r{^(/[^:]+):(.+)$}, [[:path, identity], [:key]]],
                [/(.*)/m, [[:name]]],
              ]
            end
          end
        end
        """,
        parameters=("name", "path", "key"), keys=("name", "path", "key"),
        titles={"/etc/x.kv:size": {"path": "/etc/x.kv", "key": "size"}, "label": {"name": "label"}},
    ),
    TypeCase(
        "title-patterns-computed",
        """
        Puppet::Type.newtype(:t) do
          newparam(:name, namevar: true)
          newparam(:domain, namevar: true)
          def self.title_patterns
            PuppetX::Helpers.split_patterns(:name, :domain)
          end
        end
        """,
        parameters=("name", "domain"), keys=("name", "domain"), titles=None,
    ),
    TypeCase(
        "transforming-lambda-is-not-read",
        """
        Puppet::Type.newtype(:t) do
          newparam(:name, namevar: true)
          newparam(:other, namevar: true)
          def self.title_patterns
            [[/^(.*)-(.*)$/, [[:name, lambda { |x| x.downcase }], [:other]]]]
          end
        end
        """,
        parameters=("name", "other"), keys=("name", "other"), titles=None,
    ),
    TypeCase(
        "scanner-hard-parts",
        '''
        # a comment with newparam(:not_me) and an `end`
        require 'puppet/parameter/boolean'
        module Puppet
          Type.newtype(:t, :self_refresh => true) do
            @doc = <<-EOT
              A heredoc with end, do and newparam(:not_me) in it.
                 end
            EOT
            desc <<~'RAW'
              #{not interpolated} do
            RAW
        =begin
            newparam(:commented_out)
        =end
            newparam(:name, namevar: true) do
              munge do |value|
                value = value.to_s.strip
                value.capitalize! if value =~ /^(true|false)$/i
                value = value / 2 unless value.nil?
                case value
                when %r{^/}, ?x then value
                else value
                end
              end
            end
            newproperty(:value, :array_matching => :all) do
              def insync?(is)
                return true if @should.empty?
                while is.size > 10 do
                  is.pop
                end
                is == @should ? :yes : :no
              end
              def should=(values)
                super
              end
              def is_to_s(v) = "#{v}"
            end
            newparam(:percent) { desc %q(a (nested) string with end) }
            self.doc += 'continued ' \\
                        'on the next line'
          end
        end
        __END__
        newparam(:after_end)
        ''',
        properties=("value",), parameters=("name", "percent"),
    ),
    TypeCase(
        "conditional-attributes-are-all-read",
        """
        Puppet::Type.newtype(:t) do
          newparam(:name, namevar: true)
          if Puppet.features.root?
            newparam(:as_root)
          else
            newparam(:as_user)
          end
          newparam(:later) unless Puppet::Util::Platform.windows?
        end
        """,
        parameters=("name", "as_root", "as_user", "later"),
    ),
    TypeCase(
        "helper-in-this-file",
        """
        Puppet::Type.newtype(:t) do
          def self.add_common
            ensurable
            newparam(:name, namevar: true)
          end
          add_common
          newproperty(:extra)
          self.newparam(:via_self)
          self.doc = 'documented'
        end
        """,
        properties=("ensure", "extra"), parameters=("name", "via_self"),
    ),
    TypeCase(
        "helper-in-an-extended-module",
        """
        Puppet::Type.newtype(:t_config) do
          require File.expand_path(File.join(File.dirname(__FILE__), '..', '..', 'puppet_x', 'golden_x', 'ini_setting'))
          extend PuppetX::GoldenX::IniSetting
          create_parameters
          autorequire(:file) { ['/etc/t.conf'] }
        end
        """,
        properties=("ensure", "value"), parameters=("name", "secret"),
        extra={"lib/puppet_x/golden_x/ini_setting.rb": """
            module PuppetX
              module GoldenX
                module IniSetting
                  def create_parameters
                    ensurable
                    newparam(:name, :namevar => true) do
                      newvalues(/\\S+\\/\\S+/)
                    end
                    newproperty(:value)
                    newparam(:secret, :boolean => true)
                  end
                end
              end
            end
            """},
    ),
    TypeCase(
        "unknown-helper-makes-it-incomplete",
        """
        Puppet::Type.newtype(:t) do
          newparam(:name, namevar: true)
          add_everything_else
        end
        """,
        parameters=("name",), complete=False,
    ),
    TypeCase(
        "computed-name-makes-it-incomplete",
        """
        Puppet::Type.newtype(:t) do
          newparam(:name, namevar: true)
          Facter.value(:params).each { |p| newparam(p) }
          newparam(some_name)
        end
        """,
        parameters=("name",), complete=False,
    ),
    TypeCase(
        "not-ruby",
        """
        Puppet::Type.newtype(:t) do
          newparam(:name, namevar: true) do
            desc 'unterminated
        end
        """,
        keys=(), complete=False, titles=None,
    ),
    TypeCase(
        "no-newtype",
        """
        module PuppetX
          def helper; end
        end
        """,
        keys=(), complete=False, titles=None,
    ),
]


def _read_case(tmp_path: Path, case: TypeCase) -> Any:
    module = tmp_path / "mod"
    write(module, {"lib/puppet/type/t.rb": case.source, **case.extra})
    return load_type(module / "lib/puppet/type/t.rb", [module / "lib"])


@pytest.mark.parametrize("case", TYPE_CASES, ids=[c.id for c in TYPE_CASES])
def test_type_file_constructs(tmp_path: Path, case: TypeCase) -> None:
    spec = _read_case(tmp_path, case)
    assert spec.complete is case.complete, spec.problems
    if not case.complete:
        assert spec.problems
    assert spec.properties == case.properties
    assert spec.parameters == case.parameters
    assert spec.key_attributes == case.keys
    for name, (values, default) in case.details.items():
        attr = spec.attribute(name)
        assert attr is not None, name
        assert (attr.values, attr.default) == (values, default), name
    if case.titles is None:
        assert spec.effective_title_patterns() is None
    else:
        for title, parts in case.titles.items():
            assert spec.parse_title(title) == parts


def test_unreadable_type_accepts_everything_and_says_why_at_debug(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    case = next(c for c in TYPE_CASES if c.id == "not-ruby")
    with caplog.at_level(logging.DEBUG, logger="dsl.rubytypes"):
        spec = _read_case(tmp_path, case)
    assert not spec.complete and spec.accepts("anything")
    assert any("every parameter is accepted" in r.getMessage() and r.levelno == logging.DEBUG
               for r in caplog.records)


def test_reading_is_cached_until_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "mod/lib/puppet/type/t.rb"
    write(tmp_path / "mod", {"lib/puppet/type/t.rb": "Puppet::Type.newtype(:t) do\n  newparam(:name)\nend\n"})
    first = load_type(path)
    assert load_type(path) is first
    path.write_text("Puppet::Type.newtype(:t) do\n  newparam(:name)\n  newparam(:more)\nend\n", encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    again = load_type(path)
    assert again is not first and again.parameters == ("name", "more")


def test_a_helper_file_change_invalidates_the_type(tmp_path: Path) -> None:
    case = next(c for c in TYPE_CASES if c.id == "helper-in-an-extended-module")
    first = _read_case(tmp_path, case)
    helper = tmp_path / "mod/lib/puppet_x/golden_x/ini_setting.rb"
    helper.write_text(helper.read_text().replace("newproperty(:value)", "newproperty(:value)\n newparam(:x)"))
    st = helper.stat()
    os.utime(helper, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert first.parameters == ("name", "secret")
    assert load_type(tmp_path / "mod/lib/puppet/type/t.rb", [tmp_path / "mod/lib"]).parameters == \
        ("name", "x", "secret")


GENERATED = """
# This file was automatically generated by 'puppet generate types'.
Puppet::Resource::ResourceType3.new(
  'gen',
  [
    # The basic property that the resource should be in.
    Puppet::Resource::Param(Enum['present', 'absent'], 'ensure'),
    Puppet::Resource::Param(Any, 'val')
  ],
  [
    Puppet::Resource::Param(Any, 'name', true),
    Puppet::Resource::Param(Any, 'scope', true),
    Puppet::Resource::Param(Variant[Boolean, Enum['true', 'false']], 'force'),
    Puppet::Resource::Param(Any, 'provider')
  ],
  {
    /^([^\\/]+)\\/(.*)$/ => ['scope', 'name'],
    /(?m-ix:(.*))/ => ['name']
  },
  true,
  false)
"""


def test_generated_metadata_is_read(tmp_path: Path) -> None:
    path = tmp_path / "gen.pp"
    path.write_text(GENERATED, encoding="utf-8")
    spec = read_generated_type(path)
    assert spec.name == "gen" and spec.generated and spec.complete
    assert spec.properties == ("ensure", "val")
    assert spec.parameters == ("name", "scope", "force", "provider")
    assert spec.key_attributes == ("name", "scope")
    assert spec.attribute("ensure").values == ("present", "absent")  # type: ignore[union-attr]
    assert spec.attribute("force").values == ("true", "false")  # type: ignore[union-attr]
    assert spec.parse_title("web/x") == {"scope": "web", "name": "x"}
    assert spec.parse_title("multi\nline") == {"name": "multi\nline"}


def test_the_environment_generated_type_wins_over_the_ruby(tmp_path: Path) -> None:
    env = tmp_path / "env"
    write(env, {
        "modules/m/lib/puppet/type/gen.rb": "Puppet::Type.newtype(:gen) do\n  newparam(:name)\nend\n",
        ".resource_types/gen.pp": GENERATED,
    })
    with_env = Autoloader([env / "modules"], Definitions(), env)
    assert with_env.find_resource_type("gen").generated  # type: ignore[union-attr]
    without = Autoloader([env / "modules"], Definitions())
    assert without.find_resource_type("gen").parameters == ("name",)  # type: ignore[union-attr]


def test_a_provider_anywhere_on_the_modulepath_adds_the_provider_parameter(tmp_path: Path) -> None:
    write(tmp_path, {
        "a/t/lib/puppet/type/t.rb": "Puppet::Type.newtype(:t) do\n  newparam(:name)\nend\n",
        "a/u/lib/puppet/type/u.rb": "Puppet::Type.newtype(:u) do\n  newparam(:name)\nend\n",
        "b/other/lib/puppet/provider/t/shell.rb": "Puppet::Type.type(:t).provide(:shell) {}\n",
    })
    loader = Autoloader([tmp_path / "a", tmp_path / "b"], Definitions())
    assert loader.find_resource_type("t").parameters == ("name", "provider")  # type: ignore[union-attr]
    assert loader.find_resource_type("u").parameters == ("name",)  # type: ignore[union-attr]
    assert loader.find_resource_type("nothing") is None
    assert loader.find_resource_type("t::sub") is None


def test_ruby_regexes_as_python_runs_them() -> None:
    assert compile_ruby_regex(r"(?m-ix:(.*))").fullmatch("a\nb")
    assert compile_ruby_regex(r"(?-mix:a.b)").fullmatch("a\nb") is None
    assert compile_ruby_regex(r"^(/|.+:/|.*[^/])/*\Z", "m").search("/tmp/x//").group(1) == "/tmp/x"
    assert compile_ruby_regex(r"^(?<scope>\w+)\z", "i").search("AB").group("scope") == "AB"


# --------------------------------------------------------------------------------------------------
# every type file of the installed Debian modules


def _oracle() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(ORACLE.read_text(encoding="utf-8"))
    return data


SAMPLE_TITLES = ("a", "a:b", "a::b", "a::b::c", "u@p", "u::d@p::pd", "u@::d", "x@y@z", "/a/b:c",
                 "n:C:/x", "name with space", "r/s::t")


@pytest.mark.skipif(not list(DEBIAN_MODULES.glob("*/lib/puppet/type/*.rb")),
                    reason="Debian's puppet-module-* packages are not installed (/usr/share/puppet/modules)")
def test_every_installed_type_file_is_read_as_puppet_reads_it() -> None:
    loader = Autoloader([DEBIAN_MODULES], Definitions())
    oracle = _oracle()
    files = list(loader.resource_type_files())
    compared = 0
    unreadable = []
    mismatches = []
    for path in files:
        spec = loader.find_resource_type(path.stem)
        assert spec is not None and spec.name == path.stem
        if not spec.complete or [p for p in spec.problems if "title_patterns" not in p]:
            unreadable.append(f"{path}: {spec.problems}")
            continue
        rel = str(path.relative_to(DEBIAN_MODULES))
        want = oracle.get(rel)
        if want is None or want["sha256"] != hashlib.sha256(path.read_bytes()).hexdigest():
            continue  # another version of the module than the one Puppet was asked about
        compared += 1
        got = {"properties": list(spec.properties), "parameters": sorted(spec.parameters),
               "namevars": sorted(a.name for a in spec.attributes if a.namevar)}
        exp = {"properties": want["properties"], "parameters": sorted(want["parameters"]),
               "namevars": sorted(want["namevars"])}
        if got != exp:
            mismatches.append(f"{rel}: read {got}, Puppet {exp}")
            continue
        patterns = spec.effective_title_patterns()
        if patterns is None:
            continue  # computed at run time (keystone's composite namevars): not read statically
        theirs = [(compile_ruby_regex(src[1:-1]), tuple(attrs)) for src, attrs in want["title_patterns"]]
        for title in SAMPLE_TITLES:
            ours_parts = next((dict(zip(p.attributes, m.groups())) for p in patterns
                               if (m := p.regex.search(title))), None)
            their_parts = next((dict(zip(a, m.groups())) for r, a in theirs if (m := r.search(title))), None)
            if ours_parts != their_parts:
                mismatches.append(f"{rel}: title {title!r} gives {ours_parts}, Puppet {their_parts}")
    assert not unreadable, "type files not read:\n" + "\n".join(unreadable)
    assert not mismatches, "\n".join(mismatches)
    assert len(files) >= 200 and compared >= 200, (len(files), compared)


# --------------------------------------------------------------------------------------------------
# what the compiler does with them

MODULES = {
    "tmod/lib/puppet/type/tsimple.rb": """
        Puppet::Type.newtype(:tsimple) do
          ensurable
          newparam(:name, :namevar => true)
          newproperty(:val)
          newparam(:flag) do
            newvalues(:true, :false)
          end
        end
        """,
    "tmod/lib/puppet/provider/tsimple/ruby.rb": "Puppet::Type.type(:tsimple).provide(:ruby) {}\n",
    "tmod/lib/puppet/type/tpath.rb": """
        Puppet::Type.newtype(:tpath) do
          newparam(:path) { isnamevar }
          newproperty(:content)
        end
        """,
    "tmod/lib/puppet/type/tkv.rb": """
        Puppet::Type.newtype(:tkv) do
          newparam(:name)
          newparam(:path, namevar: true)
          newparam(:key, namevar: true)
          newproperty(:value)
          def self.title_patterns
            [[/^(\\/[^:]+):(.+)$/, [[:path], [:key]]], [/(.*)/m, [[:name]]]]
          end
        end
        """,
    "tmod/lib/puppet/type/tloose.rb": """
        Puppet::Type.newtype(:tloose) do
          newparam(:name, namevar: true)
          add_generated_parameters
        end
        """,
    "tarc/lib/puppet/type/tarc.rb": """
        Puppet::Type.newtype(:tarc) do
          ensurable
          newparam(:path, namevar: true)
          newparam(:source)
        end
        """,
    "tarc/manifests/init.pp": """
        class tarc($dir = '/opt') {
          notify { "tarc class ${dir}": }
        }
        """,
    "tdup/lib/puppet/type/tdup.rb": """
        Puppet::Type.newtype(:tdup) do
          newparam(:name, namevar: true)
          newparam(:from_type)
        end
        """,
    "tdup/manifests/init.pp": """
        define tdup($from_define = 1) {
          notify { "tdup define ${title}": }
        }
        """,
}


@pytest.fixture(scope="module")
def modulepath(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("modules")
    write(root, MODULES)
    return root


def compile_text(tmp_path: Path, modulepath: Path, text: str) -> dict[str, Any]:
    manifest = tmp_path / "site.pp"
    manifest.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    req = CompileRequest.from_cli(manifest=manifest, node="n.example.com", facts={}, modulepath=[modulepath])
    doc: dict[str, Any] = compile_catalog(req).to_dict()
    return doc


def resources(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{r['type']}[{r['title']}]": r.get("parameters", {}) for r in doc["resources"]
            if r["type"] not in ("Stage", "Class")}


#: (manifest, line and message of the error) - Puppet's lines (see golden/errors/custom_type_*.pp)
ERROR_CASES = {
    "unknown-attribute": ("tsimple { 'x':\n  ensure => present,\n  value  => 1,\n}\n",
                          1, "Tsimple[x]: has no parameter named 'value'"),
    "title-is-not-an-attribute": ("tsimple { 'x': title => 'y' }\n", 1, "has no parameter named 'title'"),
    "no-provider-no-provider-parameter": ("tpath { '/x': provider => 'ruby' }\n", 1,
                                          "Tpath[/x]: has no parameter named 'provider'"),
    "from-a-default-at-the-resource": ("Tsimple { value => 1 }\nnotify { 'n': }\ntsimple { 'x': }\n", 3,
                                       "Tsimple[x]: has no parameter named 'value'"),
    "from-an-override-at-the-resource": ("tsimple { 'x': val => 1 }\nTsimple['x'] { value => 2 }\n", 1,
                                         "Tsimple[x]: has no parameter named 'value'"),
    "from-a-collector-at-the-resource": ("@tsimple { 'x': val => 1 }\nTsimple <| |> { value => 2 }\n", 1,
                                         "Tsimple[x]: has no parameter named 'value'"),
    "the-type-not-the-define-of-that-name": ("tdup { 'x': from_define => 1 }\n", 1,
                                             "Tdup[x]: has no parameter named 'from_define'"),
    # a defined type's attributes are checked when its instance is evaluated: a duplicate declared
    # further down is reported first, as Puppet does; an instance never realized is checked at the end
    "define-checked-when-evaluated": ("define d($x = 1) {}\nd { 'a': y => 1 }\nnotify { 'n': }\nnotify { 'n': }\n",
                                      4, "duplicate declaration: Notify[n] is already declared at"),
    "virtual-define-checked-at-the-end": ("define d($x = 1) {}\n@d { 'a': y => 1 }\nnotify { 'n': }\n", 2,
                                          "D[a]: has no parameter named 'y'"),
    "title-taken-by-a-namevar": ("tsimple { 'a': name => 'x' }\ntsimple { 'x': }\n", 2,
                                 "duplicate declaration: Tsimple[x] is already declared at"),
    "namevar-taken-by-a-title": ("tsimple { 'x': }\ntsimple { 'a': name => 'x' }\n", 2,
                                 'cannot alias Tsimple[a] to ["x"]; resource ["Tsimple", "x"] is already declared'),
    "namevar-taken-by-a-namevar": ("tpath { 'a': path => '/p' }\ntpath { 'b': path => '/p' }\n", 2,
                                   'cannot alias Tpath[b] to ["/p"]'),
    "composite-key-taken": ("tkv { '/etc/a:k': }\ntkv { 'other': name => '/etc/a:k', path => '/etc/a', key => 'k' }\n",
                            2, 'cannot alias Tkv[other] to ["k", "/etc/a:k", "/etc/a"]'),
    "file-trailing-slash": ("file { '/tmp/d/': }\nfile { '/tmp/d': }\n", 2,
                            "duplicate declaration: File[/tmp/d] is already declared at"),
    "defined-type-name": ("define d() {}\nd { 'a': name => 'x' }\nd { 'x': }\n", 3,
                          "duplicate declaration: D[x] is already declared at"),
    "class-is-not-a-type": ("tarc_missing { 'x': }\n", 1, "unknown resource type: 'tarc_missing'"),
}


@pytest.mark.parametrize("name", list(ERROR_CASES))
def test_compile_errors(tmp_path: Path, modulepath: Path, name: str) -> None:
    text, line, message = ERROR_CASES[name]
    with pytest.raises(DslError) as info:
        compile_text(tmp_path, modulepath, text)
    assert info.value.span.line == line, str(info.value)
    assert message in str(info.value)


def test_valid_attributes_metaparameters_and_name_compile(tmp_path: Path, modulepath: Path) -> None:
    doc = compile_text(tmp_path, modulepath, """
        tsimple { 'a': ensure => present, val => 1, flag => 'maybe', provider => ruby, name => 'z',
                       tag => 't', noop => true, before => Notify['n'] }
        notify { 'n': require => Tsimple['z'] }
        tloose { 'x': whatever => 1, more => 2 }
        """)
    res = resources(doc)
    # values are not checked at compile time (Puppet's agent does that), only attribute names
    assert res["Tsimple[a]"]["flag"] == "maybe" and res["Tsimple[a]"]["name"] == "z"
    assert res["Notify[n]"]["require"] == "Tsimple[z]"  # a reference by namevar resolves
    assert res["Tloose[x]"] == {"whatever": 1, "more": 2}  # not fully read: anything goes
    kinds = {f"{r['type']}[{r['title']}]": r["kind"] for r in doc["resources"]}
    assert kinds["Tsimple[a]"] == "compilable_type"


def test_a_type_and_a_class_or_define_of_the_same_name(tmp_path: Path, modulepath: Path) -> None:
    res = resources(compile_text(tmp_path, modulepath, """
        tarc { '/tmp/x': source => 'y' }
        include tarc
        tdup { 'a': from_type => 1 }
        """))
    assert res["Tarc[/tmp/x]"] == {"source": "y"}
    assert "Notify[tarc class /opt]" in res
    assert res["Tdup[a]"] == {"from_type": 1} and "Notify[tdup define a]" not in res


def test_namevars_in_the_catalog_as_puppet_writes_them(tmp_path: Path, modulepath: Path) -> None:
    res = resources(compile_text(tmp_path, modulepath, """
        tkv { '/etc/a.kv:size': value => 1 }
        tkv { 'x': }
        tkv { 'y': }
        tpath { 'a': name => 'b' }
        tpath { '/same': path => '/same' }
        tsimple { 'same': name => 'same' }
        file { '/tmp/dir/': ensure => directory }
        file { '/tmp/named': name => '/tmp/renamed' }
        exec { 'one': command => '/bin/true' }
        exec { 'two': command => '/bin/true' }
        package { 'p1': name => 'pkg' }
        package { 'p2': name => 'pkg', provider => 'pip' }
        """))
    assert res["Tkv[/etc/a.kv:size]"] == {"path": "/etc/a.kv", "key": "size", "value": 1}
    assert res["Tkv[x]"] == {} and res["Tkv[y]"] == {}
    assert res["Tpath[a]"] == {"path": "b"}
    assert res["Tpath[/same]"] == {} and res["Tsimple[same]"] == {}
    assert res["File[/tmp/dir/]"] == {"path": "/tmp/dir", "ensure": "directory"}
    assert res["File[/tmp/named]"] == {"path": "/tmp/renamed"}
    assert res["Exec[one]"] == res["Exec[two]"] == {"command": "/bin/true"}  # execs may share a command
    assert res["Package[p2]"] == {"name": "pkg", "provider": "pip"}


def test_uniqueness_keys_follow_puppet() -> None:
    file = BUILTIN_SPECS["file"]
    assert uniqueness_key(file, "/tmp/x/", {}) == ("/tmp/x",)
    assert uniqueness_key(file, "a", {"path": "/tmp/x"}) == ("/tmp/x",)
    assert uniqueness_key(BUILTIN_SPECS["exec"], "a", {"command": "x"}) is None
    assert uniqueness_key(BUILTIN_SPECS["package"], "p", {"name": "n"}) == (None, "n", None)
    assert uniqueness_key(None, "t", {"name": "n"}) == ("n",)
    assert catalog_parameters(None, "t", {"name": "t", "x": 1}) == {"x": 1}
    assert catalog_parameters(file, "/", {}) == {}


def test_a_title_no_pattern_matches_fails(tmp_path: Path) -> None:
    module = tmp_path / "m"
    write(module, {"lib/puppet/type/strict.rb": """
        Puppet::Type.newtype(:strict) do
          newparam(:name, namevar: true)
          newparam(:zone, namevar: true)
          def self.title_patterns
            [[/^(\\w+)@(\\w+)$/, [[:name], [:zone]]]]
          end
        end
        """})
    spec = load_type(module / "lib/puppet/type/strict.rb")
    with pytest.raises(TitleMismatch):
        spec.parse_title("no zone")
    manifest = tmp_path / "site.pp"
    manifest.write_text("notify { 'x': }\nstrict { 'no zone': }\n", encoding="utf-8")
    req = CompileRequest.from_cli(manifest=manifest, node="n", facts={}, modulepath=[tmp_path])
    with pytest.raises(DslError, match='no set of title patterns matched the title "no zone"') as info:
        compile_catalog(req)
    assert info.value.span.line == 2
