"""Bunraku's catalogs of the golden manifests, made safe to apply in a temporary directory.

:func:`confine` moves every file under a root of the test's own and prunes what could touch the host
beyond it (packages, services, users, execs of anything but ``true`` or ``false``, files served by a master), with
the relationships to it; owners and groups that do not exist here are dropped. The same document can
then go to Puppet and to Bunraku.
"""

from __future__ import annotations

import grp
import json
import pwd
from pathlib import Path
from typing import Any

from engine.catalog import COMPILABLE_TYPE
from tests.dsl.catalog_compare import GOLDEN_DIR, GOLDEN_NODE, CompileCase, golden_cases, load_facts

MANIFESTS = Path(__file__).resolve().parent / "manifests"
HARMLESS_COMMANDS = frozenset({"/bin/true", "/usr/bin/true", "true", "/bin/false", "/usr/bin/false"})
#: Exec parameters that would look at or act on the host beyond running the command.
HOST_EXEC_PARAMS = frozenset({"creates", "onlyif", "unless", "cwd", "user", "group", "environment"})
#: File parameters that need a master (source) or act beyond the named path.
HOST_FILE_PARAMS = frozenset({"source", "recurse", "purge"})
RELATIONSHIPS = ("before", "require", "notify", "subscribe")
#: Resources Puppet cannot apply from its own catalog either (the golden ``expected/`` catalog, which
#: Puppet compiled, holds the same value), so no verdict on Bunraku's.
#: Metaparameters Bunraku's engine does not implement: a resource carrying one is left out, and the
#: difference is Bunraku's to close, not hidden (Puppet then audits a property instead of syncing it).
NOT_IMPLEMENTED = {"audit": "Bunraku does not implement audit (Puppet records the value instead of syncing)"}
PUPPET_CANNOT_APPLY = {
    "Exec[undef-array-param]": "its path has an undef element, which Puppet's exec type fails on",
    # Deferred values that cannot be resolved where the catalog is applied: Puppet fails the whole run
    "Notify[deferred-nested]": "its Deferred calls lookup with arguments lookup does not accept",
    "Notify[deferred-no-args]": "its Deferred names a function no module defines",
}


class DoesNotCompile(Exception):
    """The manifest needs more than a compile here (exported resources need a master's store)."""


def manifest_case(manifest: Path) -> CompileCase:
    """A manifest of ``manifests/`` here, compiled like the golden ones (same node and facts)."""
    return CompileCase(name=manifest.stem, node=GOLDEN_NODE, manifest=manifest, modulepath=[],
                       expected=manifest, facts_file=GOLDEN_DIR / "facts.yaml")


def interop_cases() -> list[CompileCase]:
    """Every golden manifest, then ``manifests/converge.pp``."""
    return [*golden_cases(), manifest_case(MANIFESTS / "converge.pp")]


def compile_case(case: CompileCase) -> dict[str, Any]:
    """The catalog Bunraku compiles for ``case``, as its JSON (what ``bunraku compile`` prints)."""
    from dsl import compiler
    from dsl.errors import DslError

    req = compiler.CompileRequest.from_cli(
        manifest=case.manifest, node=case.node, facts=load_facts(case.facts_file), modulepath=case.modulepath,
        hiera_config=case.hiera_config, env_dir=case.env_dir, environment="production", strict_variables=False)
    try:
        catalog = compiler.compile_catalog(req)
    except DslError as exc:
        raise DoesNotCompile(f"{case.name} does not compile without a master: {exc}") from exc
    doc: dict[str, Any] = json.loads(catalog.to_json())
    return doc


# -- making a catalog safe to apply in a temporary directory ---------------------------------------------
def _account_exists(kind: str, name: Any) -> bool:
    try:
        (pwd.getpwnam if kind == "owner" else grp.getgrnam)(str(name))
    except KeyError:
        return False
    return True


def _host_bound(resource: dict[str, Any]) -> bool:
    """Whether applying the resource could act outside the test's directory."""
    if resource.get("kind") != COMPILABLE_TYPE or resource["type"] in ("Stage", "Notify", "Schedule"):
        return False
    params = resource.get("parameters") or {}
    if resource["type"] == "File":
        return bool(HOST_FILE_PARAMS & params.keys())
    if resource["type"] == "Exec":
        command = params.get("command", resource["title"])
        return command not in HARMLESS_COMMANDS or bool(HOST_EXEC_PARAMS & params.keys())
    return True


def confine(catalog: dict[str, Any], root: Path) -> tuple[dict[str, Any], list[str]]:
    """The catalog with every file under ``root`` and nothing that reaches beyond it; and what was
    pruned or dropped (for the failure messages)."""
    doc = json.loads(json.dumps(catalog))
    notes: list[str] = []
    renamed: dict[str, str] = {}
    pruned: set[str] = set()
    kept = []
    for res in doc["resources"]:
        ref = f"{res['type']}[{res['title']}]"
        params = res.setdefault("parameters", {})
        unsupported = [NOT_IMPLEMENTED[k] for k in params if k in NOT_IMPLEMENTED]
        reason = (PUPPET_CANNOT_APPLY.get(ref) or (unsupported[0] if unsupported else None)
                  or ("it could act beyond the test's directory" if _host_bound(res) else None))
        if reason is not None:
            # references may name it by title or, as Puppet allows, by an alias, its name or path
            names = [params.get("name"), params.get("path"),
                     *(params["alias"] if isinstance(params.get("alias"), list) else [params.get("alias")])]
            pruned.update(f"{res['type']}[{n}]" for n in names if isinstance(n, str))
            pruned.add(ref)
            notes.append(f"pruned {ref}: {reason}")
            continue
        if res["type"] == "File":
            for key in ("owner", "group"):
                if key in params and not _account_exists(key, params[key]):
                    notes.append(f"dropped {key} => {params.pop(key)!r} of {ref} (no such account here)")
            path = str(params.get("path", res["title"]))
            if "path" in params:
                params["path"] = str(root) + path
                renamed[f"File[{path}]"] = f"File[{params['path']}]"
            else:
                res["title"] = str(root) + path
                renamed[ref] = f"File[{res['title']}]"
            target = params.get("target")
            if isinstance(target, str) and target.startswith("/"):
                params["target"] = str(root) + target
        kept.append(res)

    def remap(value: Any) -> Any:
        refs = value if isinstance(value, list) else [value]
        out = [renamed.get(r, r) for r in refs if r not in pruned]
        return out if isinstance(value, list) else (out[0] if out else None)

    for res in kept:
        params = res["parameters"]
        for key in RELATIONSHIPS:
            if key in params:
                value = remap(params[key])
                if value in (None, []):
                    del params[key]
                else:
                    params[key] = value
        if not params:
            del res["parameters"]
    doc["resources"] = kept
    doc["edges"] = [{"source": renamed.get(e["source"], e["source"]), "target": renamed.get(e["target"], e["target"])}
                    for e in doc["edges"] if e["source"] not in pruned and e["target"] not in pruned]
    return doc, notes


def prepare_root(doc: dict[str, Any], root: Path) -> None:
    """The directories above the catalog's files (a catalog need not declare ``/etc`` to manage a file in it)."""
    root.mkdir(parents=True, exist_ok=True)
    managed = {Path((r.get("parameters") or {}).get("path", r["title"])) for r in doc["resources"] if r["type"] == "File"}
    for path in managed:
        if path.parent not in managed:  # a managed directory is the catalog's to create
            path.parent.mkdir(parents=True, exist_ok=True)
