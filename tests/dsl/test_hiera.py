"""Hiera 5 lookups (dsl/hiera.py), checked against what Puppet 7.23 answers.

``hiera_data/puppet_t1`` and ``hiera_data/puppet_t2`` are environments on which the expected values
below were confirmed with real Puppet::

    puppet lookup KEY [--merge M] --environmentpath hiera_data --environment puppet_t1 \\
        --node n1 --facts FACTS.yaml --confdir /tmp/c --vardir /tmp/v [--explain]

with the facts of ``FACTS`` below. Everything else builds its files under ``tmp_path``.
"""

from __future__ import annotations

import logging
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dsl.errors import EvaluationError
from dsl.hiera import Hiera, HieraError, split_key
from dsl.values import Sensitive

DATA = Path(__file__).parent / "hiera_data"
FACTS: dict[str, Any] = {
    "os": {"family": "Debian"}, "nodename": "n1", "services": ["web", "db"], "virtual": False, "disks": ["sda", "sdb"],
}


def make_scope(**variables: Any) -> Callable[[str], tuple[bool, Any]]:
    variables.setdefault("facts", FACTS)
    variables.setdefault("trusted", {"certname": "n1.example.com"})

    def scope(name: str) -> tuple[bool, Any]:
        return (name in variables, variables.get(name))

    return scope


SCOPE = make_scope()


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


COMMON_ONLY = "version: 5\nhierarchy: [{name: common, path: common.yaml}]\n"


def env(tmp_path: Path, files: dict[str, str], modulepath: tuple[str, ...] = ("modules",)) -> Hiera:
    """An environment of ``files``; a hiera.yaml reading data/common.yaml unless ``files`` has one."""
    root = write(tmp_path / "env", {"hiera.yaml": COMMON_ONLY, **files})
    return Hiera.for_environment(root, None, [root / m for m in modulepath])


def lookup(h: Hiera, key: str, merge: Any = None, scope: Any = SCOPE) -> Any:
    found, value = h.lookup(key, scope, merge)
    assert found, f"{key} not found"
    return value


def error_of(h: Hiera, key: str, merge: Any = None, scope: Any = SCOPE) -> HieraError:
    with pytest.raises(HieraError) as info:
        h.lookup(key, scope, merge)
    return info.value


TIERED = {  # three levels: node, os family, common
    "hiera.yaml": """
        version: 5
        defaults:
          datadir: data
          data_hash: yaml_data
        hierarchy:
          - name: node
            path: "nodes/%{trusted.certname}.yaml"
          - name: os
            path: "os/%{facts.os.family}.yaml"
          - name: common
            path: common.yaml
    """,
}


# --------------------------------------------------------------------------------------------------
# Confirmed with Puppet 7.23 on hiera_data/puppet_t1 and puppet_t2

PUPPET_T1: list[tuple[str, Any, Any]] = [
    # key, merge, expected value ("ERR: ..." for an error message)
    ("arr", None, ["a", "b"]),
    ("arr", "unique", ["a", "b", "c"]),
    ("arr", "deep", ["b", "c", "a"]),  # deep merges arrays as dest | source: lower priority first
    ("arr", "hash", "ERR: The first element of the merge has wrong type, expects a Hash value, got Tuple"),
    # lookup_options: the node level's {hh: {merge: hash}} replaces common's {hh: {convert_to: Sensitive}}
    ("hh", None, {"b": 2, "a": 1, "c": 3}),  # hash merge keeps the lower level's key order
    ("nulled", None, None),  # found, undef
    ("nulled", "deep", "value"),  # deep merge skips an undef source
    ("nulled", "unique", [None, "value"]),
    ("dot.x", None, 1),
    ("dot.y", None, "NOT FOUND"),  # first found does not go on to a lower level for the sub-key
    ("dot.y", "hash", 2),
    ("uniq1", None, ["x", "x", ["y", "x"]]),
    ("uniq1", "unique", ["x", "y", "x"]),  # found once: flattened but not made unique
    ("uh", "unique", [{"a": 1}, 1]),
    ("rec_a", None, "ERR: Recursive lookup detected in [rec_a, rec_b]"),
    ("self", None, "ERR: Recursive lookup detected in [self]"),
    ("arrstr", None, 'v=["a", "b"]'),
    ("hashstr", None, 'v={"b"=>2, "a"=>1, "c"=>3}'),
    ("intstr", None, "v=5"),
    ("fltstr", None, "v=1.0    Debian"),  # unknown variable, missing fact, empty trusted: ''
    ("strdig", None, "ERR: Data Provider type mismatch: Got String when a hash-like object was expected to "
                     "access value using 'x' from key 'facts.os.family.x'"),
    ("deeph", "deep", {"x": ["b", "a"], "y": {"q": 2, "p": 1}, "list": ["c", "e", "--c", "d"]}),
    ("kh", {"strategy": "deep", "knockout_prefix": "--"},
     {"e": 5, "a": ["y", "z"], "b": "", "c": "", "n": ["v"]}),
    ("kh", "hash", {"e": 5, "a": ["--x", "z"], "b": "--", "c": "--d", "n": ["--w", "v"]}),
    ("kt", {"strategy": "deep", "knockout_prefix": "--"}, {"tags": ["drop", "base", "keep"], "other": 1}),
    ("kt", "deep", {"tags": ["drop", "base", "--drop", "keep"], "other": 1}),
    ("karr", {"strategy": "deep", "knockout_prefix": "--"}, ["s"]),
    ("hasharr", {"strategy": "deep", "merge_hash_arrays": True}, [{"a": 1, "c": 3}, {"b": 2}]),
    ("sorted", {"strategy": "deep", "sort_merged_arrays": True}, ["a", "m", "z"]),
    ("prof::x", None, [1, 2]),  # an exact key in lookup_options wins over a matching pattern
    ("aliasnull", None, None),
    ("aliasmissing", None, ""),
    ("aliasarr", None, ["a", "b"]),
    ("aliasbad", None, "ERR: 'alias' interpolation is only permitted if the expression is equal to the entire string"),
    ("lit", None, "%{facts.os.family}"),
    ("litlook", None, "Debian"),  # the looked-up value is interpolated once more
    ("scopem", None, "Debian"),
    ("badm", None, "ERR: Unknown interpolation method 'foo'"),
    ("quoted", None, "Debian"),
    ("spaces", None, "Debian"),
    ("empty", None, "abc"),
    ("nosuch", None, "NOT FOUND"),
    ("hh", "unique",
     "ERR: The second element of the merge has wrong type, expects a value of type Scalar or Array, got Struct"),
    ("rc_a", None, "ERR: Recursive lookup detected in [rc_a, rc_b, rc_c]"),
    ("rc_c", None, "ERR: Recursive lookup detected in [rc_c, rc_a, rc_b]"),
    ("sub_lookup", None, "2"),
    ("boolfact", None, "false"),
    ("idx", None, "sdb"),
    ("keyinterp", None, {"n1": "admin"}),
]


@pytest.mark.parametrize(("key", "merge", "expected"), PUPPET_T1, ids=[f"{k}-{m}" for k, m, _ in PUPPET_T1])
def test_lookups_puppet_confirmed(key: str, merge: Any, expected: Any) -> None:
    h = Hiera.for_environment(DATA / "puppet_t1", None, [])
    scope = make_scope(trusted={})  # `puppet lookup --facts` leaves $trusted empty
    if isinstance(expected, str) and expected.startswith("ERR: "):
        assert error_of(h, key, merge, scope).message == expected[5:]
    elif expected == "NOT FOUND":
        assert h.lookup(key, scope, merge) == (False, None)
    else:
        assert h.lookup(key, scope, merge) == (True, expected)


PUPPET_T2: list[tuple[str, Any, Any]] = [
    ("g", None, "a"),  # glob: files in sorted order, sub-directories not matched by *
    ("ga", "unique", ["a", "b"]),
    ("s", None, "web"),  # mapped_paths over facts.services
    ("fromjson.a", None, 1),  # json_data
    ("mymod::x", None, ["env", "mod"]),  # the module's lookup_options apply to its keys
    ("mymod::y", None, "env"),  # the environment layer comes first
    ("mymod::h", None, {"mod": 2, "env": 1}),  # the environment's lookup_options win over the module's
    ("mymod::u", None, [1, 1]),
    ("other", None, "NOT FOUND"),  # a module's key outside its namespace is never found
    ("badmod::x", None, "ERR: all lookup_options keys must start with module name 'badmod'"),
    ("dmod::a", None, "fromcommon"),
    ("dmod::b", None, ["d1"]),  # default_hierarchy: its lookup_options give merge only, not convert_to
    ("s", "unique", ["web", "db"]),
]


@pytest.mark.parametrize(("key", "merge", "expected"), PUPPET_T2, ids=[f"{k}-{m}" for k, m, _ in PUPPET_T2])
def test_layers_puppet_confirmed(key: str, merge: Any, expected: Any) -> None:
    h = Hiera.for_environment(DATA / "puppet_t2", None, [DATA / "puppet_t2" / "modules"])
    scope = make_scope(trusted={})
    if isinstance(expected, str) and expected.startswith("ERR: "):
        assert error_of(h, key, merge, scope).message == expected[5:]
    elif expected == "NOT FOUND":
        assert h.lookup(key, scope, merge) == (False, None)
    else:
        assert h.lookup(key, scope, merge) == (True, expected)


# --------------------------------------------------------------------------------------------------
# hiera.yaml


def test_hiera_error_is_an_evaluation_error() -> None:
    assert issubclass(HieraError, EvaluationError)


def test_environment_without_hiera_yaml_has_no_data(tmp_path: Path) -> None:
    # confirmed with Puppet 7.23: without hiera.yaml (and no environment_data_provider in
    # environment.conf) the environment has no data provider; data/common.yaml is not read
    root = write(tmp_path / "env", {"data/common.yaml": "a: 1\n"})
    assert Hiera.for_environment(root, None, []).lookup("a", SCOPE) == (False, None)


def test_default_hierarchy_on_request(tmp_path: Path) -> None:
    root = write(tmp_path / "env", {"data/common.yaml": "a: 1\n"})
    h = Hiera.for_environment(root, None, [], env_default_hierarchy=True)
    assert h.lookup("a", SCOPE) == (True, 1)
    assert h.lookup("b", SCOPE) == (False, None)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert Hiera.for_environment(empty, None, [], env_default_hierarchy=True).lookup("a", SCOPE) == (False, None)


def test_no_environment_at_all() -> None:
    assert Hiera.for_environment(None, None, []).lookup("a", SCOPE) == (False, None)


def test_hiera_config_overrides_env_hiera_yaml(tmp_path: Path) -> None:
    write(tmp_path, {
        "env/hiera.yaml": "version: 5\nhierarchy: [{name: c, path: common.yaml}]\n",
        "env/data/common.yaml": "a: env\n",
        "other/hiera.yaml": "version: 5\nhierarchy: [{name: c, path: other.yaml, datadir: d}]\n",
        "other/d/other.yaml": "a: other\n",
    })
    h = Hiera.for_environment(tmp_path / "env", tmp_path / "other" / "hiera.yaml", [])
    assert lookup(h, "a") == "other"  # datadir is relative to the hiera.yaml's directory


def test_missing_hiera_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HieraError, match="hiera.yaml not found"):
        Hiera.for_environment(None, tmp_path / "nope.yaml", [])


def test_defaults_default_to_yaml_data_in_data(tmp_path: Path) -> None:
    h = env(tmp_path, {"hiera.yaml": "version: 5\nhierarchy: [{name: c, path: common.yaml}]\n",
                       "data/common.yaml": "a: 1\n"})
    assert lookup(h, "a") == 1
    h = env(tmp_path / "b", {"hiera.yaml": "version: 5\ndefaults: {datadir: d}\nhierarchy: [{name: c, path: c.yaml}]\n"})
    assert "must be defined in hierarchy 'c'" in error_of(h, "a").message  # defaults given: no yaml_data


def test_per_level_datadir_and_json(tmp_path: Path) -> None:
    h = env(tmp_path, {
        "hiera.yaml": """
            version: 5
            defaults: {datadir: yamldata, data_hash: yaml_data}
            hierarchy:
              - {name: json, path: common.json, data_hash: json_data, datadir: jsondata}
              - {name: yaml, path: common.yaml}
        """,
        "jsondata/common.json": '{"a": {"b": [1, 2]}, "n": null}',
        "yamldata/common.yaml": "a: {c: 3}\nonly_yaml: true\n",
    })
    assert lookup(h, "a") == {"b": [1, 2]}
    assert lookup(h, "a", "deep") == {"c": 3, "b": [1, 2]}
    assert h.lookup("n", SCOPE) == (True, None)
    assert lookup(h, "only_yaml") is True


def test_paths_list_and_missing_files_skipped(tmp_path: Path) -> None:
    h = env(tmp_path, {
        "hiera.yaml": """
            version: 5
            hierarchy:
              - name: several
                paths: ["nodes/%{trusted.certname}.yaml", "missing.yaml", "role/%{role}.yaml"]
              - {name: common, path: common.yaml}
        """,
        "data/nodes/n1.example.com.yaml": "a: [node]\n",
        "data/role/web.yaml": "a: [role]\nb: role\n",
        "data/common.yaml": "a: [common]\nb: common\n",
    })
    assert lookup(h, "a", "unique", make_scope(role="web")) == ["node", "role", "common"]
    assert lookup(h, "b", None, make_scope(role="web")) == "role"
    # an unknown variable interpolates to '' and role/.yaml does not exist
    assert lookup(h, "b", None, make_scope()) == "common"
    assert lookup(h, "a", "unique", make_scope(trusted={})) == ["common"]


def test_interpolated_paths_follow_the_scope_of_each_lookup(tmp_path: Path) -> None:
    h = env(tmp_path, dict(TIERED, **{
        "data/os/Debian.yaml": "pkg: apt\n",
        "data/os/RedHat.yaml": "pkg: yum\n",
        "data/common.yaml": "pkg: none\n",
    }))
    assert lookup(h, "pkg") == "apt"
    assert lookup(h, "pkg", scope=make_scope(facts={"os": {"family": "RedHat"}})) == "yum"
    assert lookup(h, "pkg", scope=make_scope(facts={})) == "none"
    assert lookup(h, "pkg", scope=make_scope(facts={"os": {"family": "Debian"}}, trusted={})) == "apt"


def test_glob_and_globs(tmp_path: Path) -> None:
    h = env(tmp_path, {
        "hiera.yaml": """
            version: 5
            hierarchy:
              - {name: g, glob: "conf.d/*.yaml"}
              - {name: gs, globs: ["extra/{b,a}.yaml", "deep/**/*.yaml"]}
        """,
        "data/conf.d/20-b.yaml": "k: [b]\n",
        "data/conf.d/10-a.yaml": "k: [a]\n",
        "data/conf.d/sub/x.yaml": "k: [sub]\n",
        "data/extra/a.yaml": "k: [ea]\n",
        "data/extra/b.yaml": "k: [eb]\n",
        "data/deep/x/y/z.yaml": "k: [deep]\n",
    })
    assert lookup(h, "k") == ["a"]
    assert lookup(h, "k", "unique") == ["a", "b", "eb", "ea", "deep"]


def test_glob_matching_nothing(tmp_path: Path) -> None:
    h = env(tmp_path, {"hiera.yaml": "version: 5\nhierarchy: [{name: g, glob: 'x/*.yaml'}]\n"})
    assert h.lookup("k", SCOPE) == (False, None)


def test_mapped_paths(tmp_path: Path) -> None:
    h = env(tmp_path, {
        "hiera.yaml": """
            version: 5
            hierarchy:
              - name: services
                mapped_paths: [facts.services, svc, "svc/%{svc}.yaml"]
              - name: one
                mapped_paths: [role, r, "role/%{r}.yaml"]
        """,
        "data/svc/web.yaml": "ports: [80]\n",
        "data/svc/db.yaml": "ports: [5432]\n",
        "data/role/app.yaml": "ports: [8080]\n",
    })
    assert lookup(h, "ports", "unique", make_scope(role="app")) == [80, 5432, 8080]
    assert h.lookup("ports", make_scope(facts={"services": []}), "unique") == (False, None)


UNSUPPORTED = [
    ("lookup_key: eyaml_lookup_key", "hierarchy 'secrets' uses lookup_key: eyaml_lookup_key"),
    ("data_dig: my_dig", "hierarchy 'secrets' uses data_dig: my_dig"),
    ("data_hash: hocon_data", "hierarchy 'secrets' uses data_hash: hocon_data"),
    ("hiera3_backend: vault", "hierarchy 'secrets' uses hiera3_backend: vault"),
]


@pytest.mark.parametrize(("line", "message"), UNSUPPORTED)
def test_unsupported_backend(tmp_path: Path, line: str, message: str) -> None:
    h = env(tmp_path, {
        "hiera.yaml": f"""
            version: 5
            hierarchy:
              - name: common
                path: common.yaml
              - name: secrets
                {line}
                path: secrets.eyaml
        """,
        "data/common.yaml": "a: 1\n",
    })
    err = error_of(h, "a")
    assert err.message.startswith(message + ", which is not supported")
    assert err.file == str(tmp_path / "env" / "hiera.yaml")
    assert err.line == 6 and err.col == 5


def test_unsupported_backend_in_defaults(tmp_path: Path) -> None:
    h = env(tmp_path, {"hiera.yaml": """
        version: 5
        defaults: {lookup_key: eyaml_lookup_key}
        hierarchy: [{name: x, path: x.eyaml}]
    """})
    assert error_of(h, "a").message.startswith("hierarchy 'x' uses lookup_key: eyaml_lookup_key")


@pytest.mark.parametrize("version", ["3", "4"])
def test_old_hiera_yaml_versions(tmp_path: Path, version: str) -> None:
    h = env(tmp_path, {"hiera.yaml": f"version: {version}\n:backends: [yaml]\n"})
    err = error_of(h, "a")
    assert err.format_line() == (
        f"{tmp_path / 'env' / 'hiera.yaml'}:1:1: error: hiera.yaml version {version} is not supported, only version 5"
    )


def test_hiera_yaml_without_version_is_version_3(tmp_path: Path) -> None:
    h = env(tmp_path, {"hiera.yaml": ":backends: [yaml]\n:hierarchy: [common]\n"})
    assert "version 3 is not supported" in error_of(h, "a").message


CONFIG_ERRORS = [
    ("version: 5\nhierarchy: [{name: a, path: a.yaml}, {name: a, path: b.yaml}]\n",
     "Hierarchy name 'a' defined more than once"),
    ("version: 5\nhierarchy: [{name: a, path: a.yaml, glob: '*.yaml'}]\n",
     "Only one of path, paths, glob, globs, uri, uris, or mapped_paths can be defined in hierarchy 'a'"),
    ("version: 5\nhierarchy: [{name: a}]\n",
     "one of 'path', 'paths' 'glob', 'globs' or 'mapped_paths' must be declared in hierarchy 'a' when using a "
     "data_hash function"),
    ("version: 5\nhierarchy: [{name: a, path: a.yaml, yaml_data: x}]\n", "unrecognized key 'yaml_data' in hierarchy 'a'"),
    ("version: 5\ndefaults: {datadir: d}\nhierarchy: [{name: a, path: a.yaml}]\n",
     "One of data_hash, lookup_key, data_dig, or hiera3_backend must be defined in hierarchy 'a'"),
    ("version: 5\nhierarchy: [{name: a, path: a.yaml, options: {path: x}}]\n",
     "Option key 'path' used in hierarchy 'a' is reserved by Puppet"),
    ("version: 5\nhierarchy: [{name: a, path: '%{lookup(\"x\")}.yaml'}]\n",
     "Interpolation using method syntax is not allowed in this context (hierarchy 'a')"),
    ("version: 5\nhierarchy: [{name: a, uri: 'http://x'}]\n",
     "hierarchy 'a' uses 'uri', which only lookup_key functions read; it is not supported"),
    ("version: 5\nhierarchy: [{name: a, mapped_paths: [x, y]}]\n",
     "'mapped_paths' in hierarchy 'a' must have 3 elements: variable, key, path template"),
    ("version: 5\ndefault_hierarchy: [{name: a, path: a.yaml}]\n", "'default_hierarchy' is only allowed in the module layer"),
    ("version: 6\n", "This runtime does not support hiera.yaml version 6"),
    ("version: 5\nhierarchy: [x]\n", "hierarchy entry 1 must be a hash"),
]


@pytest.mark.parametrize(("text", "message"), CONFIG_ERRORS)
def test_hiera_yaml_errors(tmp_path: Path, text: str, message: str) -> None:
    h = env(tmp_path, {"hiera.yaml": text})
    assert error_of(h, "a").message == message


# --------------------------------------------------------------------------------------------------
# Parse errors


def test_malformed_yaml_data_has_line_and_column(tmp_path: Path) -> None:
    h = env(tmp_path, {"data/common.yaml": "a: 1\nb: [1,\nc: 2\n"})
    err = error_of(h, "a")
    path = tmp_path / "env" / "data" / "common.yaml"
    # Puppet 7.23: "Unable to parse (.../common.yaml): did not find expected ',' or ']' while parsing a
    # flow sequence at line 2 column 4"
    assert (err.file, err.line, err.col) == (str(path), 2, 4)
    assert err.format_line() == (
        f"{path}:2:4: error: invalid YAML: did not find expected ',' or ']' while parsing a flow sequence"
    )
    assert "\n" not in err.format_line()


def test_malformed_hiera_yaml(tmp_path: Path) -> None:
    h = env(tmp_path, {"hiera.yaml": "version: 5\nhierarchy:\n  - name: [x\n"})
    err = error_of(h, "a")
    assert err.file == str(tmp_path / "env" / "hiera.yaml")
    assert (err.line, err.col) == (3, 11)
    assert err.message == "invalid YAML: did not find expected ',' or ']' while parsing a flow sequence"


def test_malformed_json(tmp_path: Path) -> None:
    h = env(tmp_path, {"hiera.yaml": "version: 5\nhierarchy: [{name: j, path: c.json, data_hash: json_data}]\n",
                       "data/c.json": '{\n  "a": 1,\n}\n'})
    err = error_of(h, "a")
    assert (err.line, err.col) == (3, 1)
    assert err.message.startswith("invalid JSON: ")


def test_data_file_must_be_a_hash(tmp_path: Path) -> None:
    h = env(tmp_path, {"data/common.yaml": "- a\n- b\n"})
    err = error_of(h, "a")
    assert err.format_line() == (
        f"{tmp_path / 'env' / 'data' / 'common.yaml'}:1:1: error: data file must contain a hash at the top level, "
        "got Tuple"
    )


def test_empty_data_file_is_no_data(tmp_path: Path) -> None:
    h = env(tmp_path, {"data/common.yaml": "# nothing yet\n"})
    assert h.lookup("a", SCOPE) == (False, None)


def test_unquoted_date_is_refused_like_puppet(tmp_path: Path) -> None:
    # Puppet 7.23: "Unable to parse (.../common.yaml): Tried to load unspecified class: Date"
    h = env(tmp_path, {"data/common.yaml": "a: 1\nday: 2020-01-01\n"})
    err = error_of(h, "a")
    assert (err.line, err.col) == (2, 6)
    assert err.message == "invalid YAML: Tried to load unspecified class: Date"
    h = env(tmp_path / "q", {"data/common.yaml": "day: '2020-01-01'\n"})
    assert lookup(h, "day") == "2020-01-01"


def test_interpolation_error_names_the_data_file_and_key(tmp_path: Path) -> None:
    h = env(tmp_path, {"data/common.yaml": "a: 1\nb: \"x %{alias('a')}\"\n"})
    err = error_of(h, "b")
    assert (err.file, err.line) == (str(tmp_path / "env" / "data" / "common.yaml"), 2)


# --------------------------------------------------------------------------------------------------
# Merges


MERGE_FILES = dict(TIERED, **{
    "data/nodes/n1.example.com.yaml": """
        list: [n1, shared, ['nested']]
        conf: {a: node, deep: {x: node, l: [n], gone: '--'}, tags: ['--drop', keep]}
        scalar: node
    """,
    "data/os/Debian.yaml": """
        list: [debian, shared]
        conf: {b: os, deep: {y: os, l: [o]}}
    """,
    "data/common.yaml": """
        list: [common]
        conf: {a: common, c: common, deep: {x: common, z: common, gone: here}, tags: [drop, base]}
        scalar: common
    """,
})


def test_first(tmp_path: Path) -> None:
    h = env(tmp_path, MERGE_FILES)
    assert lookup(h, "conf")["a"] == "node"
    assert lookup(h, "scalar", "first") == "node"


def test_unique(tmp_path: Path) -> None:
    h = env(tmp_path, MERGE_FILES)
    assert lookup(h, "list", "unique") == ["n1", "shared", "nested", "debian", "common"]


def test_unique_rejects_hashes_from_a_lower_level(tmp_path: Path) -> None:
    h = env(tmp_path, MERGE_FILES)
    assert error_of(h, "conf", "unique").message == (
        "The second element of the merge has wrong type, expects a value of type Scalar or Array, got Struct"
    )


def test_hash_is_shallow(tmp_path: Path) -> None:
    h = env(tmp_path, MERGE_FILES)
    assert lookup(h, "conf", "hash") == {
        "a": "node", "c": "common", "deep": {"x": "node", "l": ["n"], "gone": "--"},
        "tags": ["--drop", "keep"], "b": "os",
    }


def test_deep(tmp_path: Path) -> None:
    h = env(tmp_path, MERGE_FILES)
    assert lookup(h, "conf", "deep") == {
        "a": "node", "c": "common",
        "deep": {"x": "node", "z": "common", "gone": "--", "y": "os", "l": ["o", "n"]},
        "tags": ["drop", "base", "--drop", "keep"], "b": "os",
    }


def test_deep_with_knockout(tmp_path: Path) -> None:
    h = env(tmp_path, MERGE_FILES)
    assert lookup(h, "conf", {"strategy": "deep", "knockout_prefix": "--"}) == {
        "a": "node", "c": "common",
        "deep": {"x": "node", "z": "common", "gone": "", "y": "os", "l": ["o", "n"]},
        # Puppet 7.23 agrees (puppet_t1 'kt'): '--drop' is spent merging with the os level, which has
        # no tags, so common's 'drop' survives
        "tags": ["drop", "base", "keep"], "b": "os",
    }


def test_deep_scalars_higher_priority_wins(tmp_path: Path) -> None:
    h = env(tmp_path, MERGE_FILES)
    assert lookup(h, "scalar", "deep") == "node"


def test_merge_given_as_hash_without_options(tmp_path: Path) -> None:
    h = env(tmp_path, MERGE_FILES)
    assert lookup(h, "list", {"strategy": "unique"}) == ["n1", "shared", "nested", "debian", "common"]


@pytest.mark.parametrize(("merge", "message"), [
    ("bogus", "Unknown merge strategy: 'bogus'"),
    ({"knockout_prefix": "--"},
     "The hash given as 'merge' must contain the name of a strategy in string form for the key 'strategy'"),
    ({"strategy": "unique", "knockout_prefix": "--"}, "The merge options has wrong type, unrecognized key 'knockout_prefix'"),
    ({"strategy": "deep", "knockout_prefix": ""}, "knockout_prefix cannot be an empty string in deep_merge!"),
])
def test_bad_merge_arguments(tmp_path: Path, merge: Any, message: str) -> None:
    h = env(tmp_path, MERGE_FILES)
    assert error_of(h, "list", merge).message == message


def test_merge_does_not_corrupt_cached_data(tmp_path: Path) -> None:
    h = env(tmp_path, MERGE_FILES)
    ko = {"strategy": "deep", "knockout_prefix": "--"}
    first = lookup(h, "conf", ko)
    first["deep"]["x"] = "mutated by the caller"
    assert lookup(h, "conf", ko) == lookup(env(tmp_path / "again", MERGE_FILES), "conf", ko)
    assert lookup(h, "conf")["tags"] == ["--drop", "keep"]


# --------------------------------------------------------------------------------------------------
# lookup_options


def test_lookup_options_exact_and_pattern(tmp_path: Path) -> None:
    h = env(tmp_path, dict(TIERED, **{
        "data/nodes/n1.example.com.yaml": """
            profile::base::pkgs: [vim]
            profile::base::conf: {a: 1}
            plain: {a: 1}
        """,
        "data/common.yaml": """
            lookup_options:
              '^profile::.*::pkgs$':
                merge: unique
              profile::base::conf:
                merge: {strategy: deep, knockout_prefix: '--'}
              '^profile::':
                merge: first
            profile::base::pkgs: [curl, vim]
            profile::base::conf: {b: 2}
            plain: {b: 2}
        """,
    }))
    assert lookup(h, "profile::base::pkgs") == ["vim", "curl"]
    assert lookup(h, "profile::base::conf") == {"b": 2, "a": 1}
    assert lookup(h, "plain") == {"a": 1}
    # the explicit merge argument wins over lookup_options
    assert lookup(h, "profile::base::pkgs", "first") == ["vim"]


def test_lookup_options_merge_across_levels_is_a_hash_merge(tmp_path: Path) -> None:
    # confirmed with Puppet 7.23 (puppet_t1 'hh'): the higher level's options for a key replace the lower's
    h = env(tmp_path, dict(TIERED, **{
        "data/nodes/n1.example.com.yaml": "lookup_options: {k: {merge: unique}}\nk: [a]\n",
        "data/os/Debian.yaml": "lookup_options: {other: {merge: hash}}\n",
        "data/common.yaml": "lookup_options: {k: {convert_to: Sensitive}}\nk: [b]\n",
    }))
    assert lookup(h, "k") == ["a", "b"]


def test_lookup_options_is_not_a_key(tmp_path: Path) -> None:
    h = env(tmp_path, {"data/common.yaml": "lookup_options: {a: {merge: unique}}\n"})
    assert h.lookup("lookup_options", SCOPE) == (False, None)
    assert h.lookup("lookup_options.a", SCOPE) == (False, None)


def test_lookup_options_must_be_a_hash(tmp_path: Path) -> None:
    h = env(tmp_path, {"data/common.yaml": "lookup_options: [a]\na: 1\n"})
    assert error_of(h, "a").message == "value of lookup_options must be a hash, got Tuple"


def test_convert_to_sensitive_and_hook(tmp_path: Path) -> None:
    files = {"data/common.yaml": """
        lookup_options:
          secret: {convert_to: Sensitive}
          port: {convert_to: [Integer, 8]}
        secret: hunter2
        port: '0750'
    """}
    h = env(tmp_path, files)
    assert lookup(h, "secret") == Sensitive("hunter2")
    assert "needs the compiler's type conversion for 'Integer'" in error_of(h, "port").message

    calls = []

    def convert(type_: Any, value: Any, args: list[Any]) -> Any:
        calls.append((type_, value, args))
        return int(value, *args)

    root = tmp_path / "env"
    h = Hiera.for_environment(root, None, [], convert=convert)
    assert lookup(h, "port") == 0o750
    assert calls == [("Integer", "0750", [8])]

    def broken(type_: Any, value: Any, args: list[Any]) -> Any:
        raise ValueError("nope")

    h = Hiera.for_environment(root, None, [], convert=broken)
    assert error_of(h, "port").message == "The convert_to lookup_option for key 'port' raised error: nope"


# --------------------------------------------------------------------------------------------------
# Interpolation


INTERP_FILES = {"data/common.yaml": """
    facts_dotted: "%{facts.os.family}"
    top: "%{::osfamily}"
    bare: "%{osfamily}"
    cert: "%{trusted.certname}"
    quoted: "%{facts.'a.b'}"
    indexed: "%{facts.disks.1}"
    unknown: "[%{nope}][%{facts.nope.deeper}]"
    via_lookup: "l=%{lookup('facts_dotted')}"
    via_hiera: "h=%{hiera('facts_dotted')}"
    via_scope: "s=%{scope('osfamily')}"
    literal: "100%{literal('%')}"
    whole_alias: "%{alias('structured')}"
    structured: {list: [1, 2], "%{facts.os.family}_key": "%{facts.os.family}"}
    nested: ["%{osfamily}", {k: ["%{lookup('cert')}"]}]
    sub_lookup: "%{lookup('structured.list.1')}"
    number: "%{facts.count}"
    boolean: "%{facts.virtual}"
    nil_alias: "%{alias('nil_value')}"
    nil_value: ~
    type_alias_int: "%{alias('n')}"
    n: 42
"""}

INTERP_SCOPE = make_scope(
    facts={"os": {"family": "Debian"}, "a.b": "quoted", "disks": ["sda", "sdb"], "count": 4, "virtual": False},
    osfamily="Debian",
)


@pytest.mark.parametrize(("key", "expected"), [
    ("facts_dotted", "Debian"),
    ("top", "Debian"),
    ("bare", "Debian"),
    ("cert", "n1.example.com"),
    ("quoted", "quoted"),
    ("indexed", "sdb"),
    ("unknown", "[][]"),
    ("via_lookup", "l=Debian"),
    ("via_hiera", "h=Debian"),
    ("via_scope", "s=Debian"),
    ("literal", "100%"),
    ("whole_alias", {"list": [1, 2], "Debian_key": "Debian"}),
    ("nested", ["Debian", {"k": ["n1.example.com"]}]),
    ("sub_lookup", "2"),
    ("number", "4"),
    ("boolean", "false"),
    ("nil_alias", None),
    ("type_alias_int", 42),
])
def test_interpolation(tmp_path: Path, key: str, expected: Any) -> None:
    h = env(tmp_path, INTERP_FILES)
    assert h.lookup(key, INTERP_SCOPE) == (True, expected)


def test_scope_receives_names_without_leading_colons(tmp_path: Path) -> None:
    asked = []

    def scope(name: str) -> tuple[bool, Any]:
        asked.append(name)
        return INTERP_SCOPE(name)

    h = env(tmp_path, INTERP_FILES)
    lookup(h, "top", scope=scope)
    assert "osfamily" in asked
    assert all(not n.startswith("::") for n in asked)


def test_unknown_variable_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    h = env(tmp_path, INTERP_FILES)
    with caplog.at_level(logging.WARNING, logger="dsl.hiera"):
        lookup(h, "unknown", scope=INTERP_SCOPE)
        lookup(h, "unknown", scope=INTERP_SCOPE)
    assert [r.getMessage() for r in caplog.records] == ["Undefined variable 'nope' interpolated as an empty string"]


def test_recursion_through_three_keys(tmp_path: Path) -> None:
    h = env(tmp_path, {"data/common.yaml": """
        a: "%{lookup('b')}"
        b: "x%{hiera('c')}"
        c: "%{alias('a')}"
    """})
    assert error_of(h, "a").message == "Recursive lookup detected in [a, b, c]"
    assert error_of(h, "c").message == "Recursive lookup detected in [c, a, b]"


def test_same_key_twice_is_not_recursion(tmp_path: Path) -> None:
    h = env(tmp_path, {"data/common.yaml": "a: x\nb: \"%{lookup('a')}-%{lookup('a')}\"\n"})
    assert lookup(h, "b") == "x-x"


def test_interpolated_hash_keys(tmp_path: Path) -> None:
    h = env(tmp_path, {"data/common.yaml": "users: {'%{facts.nodename}': admin}\n"})
    assert lookup(h, "users") == {"n1": "admin"}


# --------------------------------------------------------------------------------------------------
# Dotted keys


DOTTED = {"data/common.yaml": """
    a: {b: {c: 1}, list: [x, y], 'x.y': quoted, "n": ~}
    s: text
"""}


@pytest.mark.parametrize(("key", "expected"), [
    ("a.b", (True, {"c": 1})),
    ("a.b.c", (True, 1)),
    ("a.list.1", (True, "y")),
    ("a.list.5", (False, None)),
    ("a.'x.y'", (True, "quoted")),
    ('a."x.y"', (True, "quoted")),
    ("a.n", (True, None)),
    ("a.missing", (False, None)),
    ("missing.b", (False, None)),
])
def test_dotted_keys(tmp_path: Path, key: str, expected: Any) -> None:
    assert env(tmp_path, DOTTED).lookup(key, SCOPE) == expected


def test_dotted_key_into_a_string_is_an_error(tmp_path: Path) -> None:
    assert error_of(env(tmp_path, DOTTED), "s.x").message == (
        "Data Provider type mismatch: Got String when a hash-like object was expected to access value using 'x' "
        "from key 's.x'"
    )


def test_dotted_key_syntax_error(tmp_path: Path) -> None:
    assert error_of(env(tmp_path, DOTTED), "a..b").message == "Syntax error in key: 'a..b'"


@pytest.mark.parametrize(("key", "segments"), [
    ("a", ("a",)),
    ("a::b.c", ("a::b", "c")),
    ("a.'b.c'.0", ("a", "b.c", 0)),
    ('a . "b" ', ("a", "b")),
    ("a.", None),
    (".a", None),
    ("a..b", None),
])
def test_split_key(key: str, segments: Any) -> None:
    assert split_key(key) == segments


# --------------------------------------------------------------------------------------------------
# Null values


def test_null_in_a_higher_level_is_found_undef(tmp_path: Path) -> None:
    # confirmed with Puppet 7.23 (puppet_t1 'nulled'): first found returns undef, deep skips it
    h = env(tmp_path, dict(TIERED, **{"data/nodes/n1.example.com.yaml": "k: ~\n", "data/common.yaml": "k: v\n"}))
    assert h.lookup("k", SCOPE) == (True, None)
    assert h.lookup("k", SCOPE, "deep") == (True, "v")


# --------------------------------------------------------------------------------------------------
# Module layer


MODULE_FILES = {
    "data/common.yaml": """
        lookup_options:
          ntp::servers: {merge: unique}
        ntp::servers: [env.pool]
        ntp::from_env_only: env
    """,
    "modules/ntp/hiera.yaml": """
        version: 5
        hierarchy:
          - name: os
            path: "os/%{facts.os.family}.yaml"
          - name: common
            path: common.yaml
    """,
    "modules/ntp/data/os/Debian.yaml": "ntp::package: ntpsec\n",
    "modules/ntp/data/common.yaml": """
        lookup_options:
          ntp::options: {merge: hash}
          '^ntp::.*_list$': {merge: unique}
        ntp::package: ntp
        ntp::servers: [module.pool]
        ntp::options: {iburst: true}
        ntp::a_list: [m]
        stray_key: nobody finds me
        other::key: nor me
    """,
    "modules/nodata/manifests/init.pp": "class nodata {}\n",
}


def test_module_layer(tmp_path: Path) -> None:
    h = env(tmp_path, MODULE_FILES)
    assert lookup(h, "ntp::package") == "ntpsec"
    assert lookup(h, "ntp::servers") == ["env.pool", "module.pool"]
    assert lookup(h, "ntp::options") == {"iburst": True}
    assert lookup(h, "ntp::a_list") == ["m"]
    assert lookup(h, "ntp::from_env_only") == "env"
    assert h.lookup("nodata::x", SCOPE) == (False, None)
    assert h.lookup("absent::x", SCOPE) == (False, None)


def test_module_keys_outside_its_namespace_are_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    h = env(tmp_path, MODULE_FILES)
    with caplog.at_level(logging.WARNING, logger="dsl.hiera"):
        assert h.lookup("stray_key", SCOPE) == (False, None)
        assert h.lookup("other::key", SCOPE) == (False, None)
        lookup(h, "ntp::package")
    assert any("must use keys qualified with the name of the module" in r.getMessage() for r in caplog.records)


def test_module_lookup_options_must_stay_in_the_namespace(tmp_path: Path) -> None:
    files = dict(MODULE_FILES)
    files["modules/ntp/data/common.yaml"] = "lookup_options: {other::x: {merge: unique}}\nntp::x: 1\n"
    assert error_of(env(tmp_path, files), "ntp::x").message == "all lookup_options keys must start with module name 'ntp'"
    files["modules/ntp/data/common.yaml"] = "lookup_options: {'^other::': {merge: unique}}\nntp::x: 1\n"
    assert error_of(env(tmp_path / "p", files), "ntp::x").message == (
        "all lookup_options patterns must match a key starting with module name 'ntp'"
    )


def test_environment_lookup_options_win_over_the_modules(tmp_path: Path) -> None:
    files = dict(MODULE_FILES)
    files["data/common.yaml"] = "lookup_options: {ntp::options: {merge: first}}\nntp::options: {env: 1}\n"
    assert lookup(env(tmp_path, files), "ntp::options") == {"env": 1}


def test_first_module_on_the_modulepath_wins(tmp_path: Path) -> None:
    files = {
        "site/ntp/hiera.yaml": "version: 5\nhierarchy: [{name: c, path: common.yaml}]\n",
        "site/ntp/data/common.yaml": "ntp::x: site\n",
        "modules/ntp/hiera.yaml": "version: 5\nhierarchy: [{name: c, path: common.yaml}]\n",
        "modules/ntp/data/common.yaml": "ntp::x: modules\n",
    }
    assert lookup(env(tmp_path, files, ("site", "modules")), "ntp::x") == "site"


def test_module_default_hierarchy(tmp_path: Path) -> None:
    h = env(tmp_path, {
        "modules/dmod/hiera.yaml": """
            version: 5
            hierarchy: [{name: c, path: common.yaml}]
            default_hierarchy: [{name: d, path: defaults.yaml, datadir: defaults}]
        """,
        "modules/dmod/data/common.yaml": "dmod::a: common\n",
        "modules/dmod/defaults/defaults.yaml": """
            lookup_options: {dmod::b: {merge: unique}}
            dmod::a: default
            dmod::b: [1, 1]
        """,
    })
    assert lookup(h, "dmod::a") == "common"
    assert lookup(h, "dmod::b") == [1]


def test_module_hiera_yaml_version_3_is_ignored(tmp_path: Path) -> None:
    h = env(tmp_path, {"modules/old/hiera.yaml": ":backends: [yaml]\n", "modules/old/data/common.yaml": "old::a: 1\n"})
    assert h.lookup("old::a", SCOPE) == (False, None)


# --------------------------------------------------------------------------------------------------
# Caching and speed


def test_files_are_parsed_once_per_instance(tmp_path: Path) -> None:
    h = env(tmp_path, dict(TIERED, **{"data/common.yaml": "a: 1\n"}))
    assert lookup(h, "a") == 1
    (tmp_path / "env" / "data" / "common.yaml").write_text("a: 2222\n")
    assert lookup(h, "a") == 1  # this instance keeps what it read
    fresh = Hiera.for_environment(tmp_path / "env", None, [])
    assert lookup(fresh, "a") == 2222  # a new instance sees the edit (size and mtime changed)


def test_absent_key_is_fast(tmp_path: Path) -> None:
    h = env(tmp_path, dict(TIERED, **{
        "hiera.yaml": textwrap.dedent(TIERED["hiera.yaml"]) + "  - name: extra\n    path: extra.yaml\n",
        "data/nodes/n1.example.com.yaml": "a: 1\n",
        "data/os/Debian.yaml": "a: 1\n",
        "data/common.yaml": "a: 1\n",
        "data/extra.yaml": "a: 1\n",
    }))
    assert h.lookup("absent", SCOPE) == (False, None)
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        h.lookup("absent", SCOPE)
    per_lookup = (time.perf_counter() - start) / n
    assert per_lookup < 200e-6, f"{per_lookup * 1e6:.1f} µs per absent-key lookup"
