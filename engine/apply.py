"""The apply transaction: check every resource in graph order, change what differs (or only report
it in noop), propagate refresh events and failures, and return a :class:`Report`.

    report = apply_catalog(catalog, root=Path("/"), noop=False)
    report = apply_catalog(catalog, incremental_from=last_good_catalog)   # see engine.incremental

Probes (``healthcheck``) observe instead of converging: they run in noop too, never send refresh
events, and record their outcome in ``report.health`` as well as in their resource status (an
unhealthy check is a failed resource, so the report status is ``failed`` as Puppet's would be for
any failed resource). A probe that takes part in no relationship is evaluated after every other
resource of the catalog: ordering only, so a failure elsewhere does not stop it from looking (the
report already says "failed"; the health check says whether the service answers all the same) and
its own failure holds back nothing. Relationships place a probe in the graph like any resource:
``require`` makes it wait only for what it names and be skipped when that fails (health
``unknown``); ``before`` makes it a gate for what follows.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from engine import registry
from engine.catalog import Catalog, Resource, capitalize_type
from engine.context import ApplyContext
from engine.deferred import DeferredError, FunctionCaller, resolve_parameters
from engine.errors import EngineError, ValidationError
from engine.graph import DOWN, END, LEAF, NOTIFY, START, UP, Graph, build_graph
from engine.incremental import (
    as_catalog,
    catalog_digest,
    changed_resources,
    closure,
    removed_resources,
    volatile_resources,
)
from engine.preflight import plan_of
from engine.registry import Change, Provider, ResourceType
from engine.report import REDACTED, Event, Report, ResourceStatus, puppet_time
from engine.sources import FileSource
from engine.summary import DIFF_TAG

log = logging.getLogger(__name__)

#: Types that only carry containment.
CONTAINER_TYPES = frozenset({"Stage", "Class", "Node"})
#: Types Puppet catalogs carry that have nothing to do on the host.
INERT_TYPES = frozenset({"Schedule", "Filebucket", "Anchor", "Whit"})


def _unwrap(value: Any) -> tuple[Any, bool]:
    """Puppet's rich-data Sensitive wrapper ``{"__ptype": "Sensitive", "__pvalue": v}``."""
    if isinstance(value, dict) and value.get("__ptype") == "Sensitive":
        return value.get("__pvalue"), True
    return value, False


#: Event names Puppet's types give to the values a property takes (``file { ensure => directory }``
#: is ``directory_created``); see :func:`event_name`.
VALUE_EVENTS: dict[tuple[str, str], dict[str, str]] = {
    ("file", "ensure"): {"file": "file_created", "present": "file_created", "directory": "directory_created",
                         "link": "link_created"},
    ("package", "ensure"): {"present": "package_installed", "installed": "package_installed",
                            "absent": "package_removed", "purged": "package_purged"},
    ("service", "ensure"): {"running": "service_started", "true": "service_started",
                            "stopped": "service_stopped", "false": "service_stopped"},
    ("service", "enable"): {"true": "service_enabled", "false": "service_disabled", "mask": "service_disabled",
                            "manual": "service_manual_start", "delayed": "service_delayed_start"},
    ("user", "ensure"): {"present": "user_created", "absent": "user_removed", "role": "role_created"},
}
#: Properties whose every event has one name.
PROPERTY_EVENTS = {("exec", "returns"): "executed_command"}


def event_name(type_name: str, prop: str | None, desired: Any) -> str:
    """Puppet's name for the event of a change: a name the type gives the desired value, else
    ``<type>_created`` / ``<type>_removed`` / ``<type>_changed`` for ``ensure``, else ``<property>_changed``."""
    if prop is None:
        return "resource_error"
    kind = type_name.lower()
    fixed = PROPERTY_EVENTS.get((kind, prop))
    if fixed is not None:
        return fixed
    word = ("true" if desired else "false") if isinstance(desired, bool) else str(desired).lower()
    named = VALUE_EVENTS.get((kind, prop), {}).get(word)
    if named is not None:
        return named
    if prop != "ensure":
        return f"{prop}_changed"
    return f"{kind}_created" if word == "present" else f"{kind}_removed" if word == "absent" else f"{kind}_changed"


def _secret_texts(value: Any, nested: bool = False) -> list[str]:
    """The texts of a sensitive value that a message must not show: the value, or every string in it
    (a Deferred may resolve a sensitive parameter to an array or a hash)."""
    if isinstance(value, str) or (isinstance(value, int) and not nested):
        return [str(value)] if str(value) else []
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _secret_texts(v, True)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _secret_texts(v, True)]
    return []


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(f"'{v}'" for v in value) + "]"
    return f"'{value}'"


class _Leaf:
    """A leaf resource prepared for evaluation."""

    __slots__ = ("res", "rtype", "params", "provider_cls", "error", "sensitive", "secrets", "noop")

    def __init__(self, res: Resource) -> None:
        self.res = res
        self.rtype: ResourceType | None = None
        self.params: dict[str, Any] = {}
        self.provider_cls: type[Provider] | None = None
        self.error: str | None = None
        self.sensitive: frozenset[str] = frozenset(res.sensitive_parameters)
        self.secrets: list[str] = []
        self.noop = False


class Transaction:
    def __init__(self, catalog: Catalog, ctx: ApplyContext, *, tags: Iterable[str] | None = None,
                 incremental_from: Catalog | dict[str, Any] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.catalog = catalog
        #: called as progress(resources evaluated, resources to evaluate) while the run goes on
        self.progress = progress
        self.base = as_catalog(incremental_from) if incremental_from is not None else None
        self.ctx = ctx
        self.tags = {t.lower() for t in tags} if tags else None
        self.resources = catalog.resources
        self.report = Report(
            host=catalog.name, configuration_version=catalog.version, code_id=catalog.code_id,
            catalog_uuid=catalog.catalog_uuid, environment=catalog.environment, noop=ctx.noop,
        )
        self.time_by_type: dict[str, float] = {}
        self._parents = catalog.containment_parent()
        self._paths: dict[str, list[str]] = {}

    # -- preparation ----------------------------------------------------------------------------------
    def _prepare(self) -> tuple[list[bool], list[_Leaf | None]]:
        children = {e.source for e in self.catalog.edges}
        is_container: list[bool] = []
        leaves: list[_Leaf | None] = []
        for res in self.resources:
            if res.exported:
                # exported (@@) for other nodes to collect: never applied where it was declared
                is_container.append(True)
                leaves.append(None)
                continue
            rtype = registry.get_type(res.type)
            if rtype is None and (res.type in CONTAINER_TYPES or "::" in res.type or res.ref in children
                                  or res.type in INERT_TYPES):
                is_container.append(True)
                leaves.append(None)
                continue
            is_container.append(False)
            leaf = _Leaf(res)
            leaves.append(leaf)
            if rtype is None:
                # a module's custom type (Ruby) the compiler accepted: fail it, converge the rest
                leaf.error = (f"no provider for type '{res.type.lower()}' in this agent; it needs a Puppet "
                              "agent or a Python port")
                continue
            leaf.rtype = rtype
            raw: dict[str, Any] = {}
            sensitive = set(leaf.sensitive) | rtype.sensitive_properties
            try:
                params, secret_params = resolve_parameters(res.parameters, self.ctx.functions, self.ctx.facts)
            except DeferredError as exc:
                leaf.error = str(exc)
                continue
            sensitive |= secret_params
            for k, v in params.items():
                v, secret = _unwrap(v)
                if secret:
                    sensitive.add(k)
                raw[k] = v
            leaf.sensitive = frozenset(sensitive)
            leaf.secrets = [text for k in sensitive for text in _secret_texts(raw.get(k))]
            noop_param = raw.get("noop")
            leaf.noop = noop_param is True or noop_param == "true"
            try:
                leaf.params = rtype.validate(res.title, raw)
                pname = raw.get("provider") or rtype.default_provider(leaf.params, self.ctx)
                leaf.provider_cls = registry.get_provider(rtype.name, str(pname))
            except EngineError as exc:
                leaf.error = str(exc)
        return is_container, leaves

    def _selected(self, res: Resource) -> bool:
        if self.tags is None:
            return True
        return any(t.lower() in self.tags for t in res.tags) or res.type.lower() in self.tags

    def containment_path(self, ref: str) -> list[str]:
        path = self._paths.get(ref)
        if path is None:
            parent = self._parents.get(ref)
            path = (self.containment_path(parent) if parent else []) + [_path_name(ref)]
            self._paths[ref] = path
        return path

    # -- the run ----------------------------------------------------------------------------------------
    def run(self) -> Report:
        started = time.perf_counter()
        registry.load_types({res.type for res in self.catalog})
        is_container, leaves = self._prepare()

        def autoreq(i: int) -> Iterable[str]:
            leaf = leaves[i]
            if leaf is None or leaf.rtype is None or leaf.error:
                return ()
            try:
                return leaf.rtype.autorequires(leaf.res.title, leaf.params)
            except EngineError:
                return ()

        graph = build_graph(self.catalog, self.resources, is_container, autoreq)
        n = len(graph.kind)
        failed_by: list[str | None] = [None] * n
        changed: list[bool] = [False] * n
        refreshes: list[int] = [0] * n
        related = {ref for a, b, _ in self.catalog.relationships() for ref in (a, b)}
        deferred: list[int] = []
        wanted = self._incremental_plan(graph) if self.base is not None else None
        considered = skipped_unchanged = 0
        progress = self.progress
        total = sum(1 for leaf in leaves if leaf is not None)
        for node in graph.order:
            k = graph.kind[node]
            if k == LEAF:
                if progress is not None and considered % 25 == 0:
                    progress(considered, total)
                leaf = leaves[graph.res[node]]
                assert leaf is not None
                probe = leaf.rtype is not None and leaf.rtype.probe
                if failed_by[node] is not None:
                    # Skipped, and what depends on it is skipped in turn (below), as in Puppet.
                    considered += 1
                    self._skip(leaf, failed_by[node] or "")
                elif wanted is not None and not probe and leaf.res.ref not in wanted:
                    if self._selected(leaf.res):
                        skipped_unchanged += 1
                    continue
                elif not self._selected(leaf.res):
                    continue
                else:
                    considered += 1
                    if probe and leaf.res.ref not in related:
                        deferred.append(node)  # after everything else; see the module docstring
                        continue
                    ok, did_change = self._evaluate(leaf, refreshes[node])
                    if not ok:
                        failed_by[node] = leaf.res.ref
                    changed[node] = did_change
            out = graph.succ[node]
            if not out:
                continue
            if failed_by[node] is not None:
                for m, _ in out:
                    if failed_by[m] is None:
                        failed_by[m] = failed_by[node]
                continue
            if k == START:
                if refreshes[node]:
                    for m, ek in out:
                        if ek == DOWN:
                            refreshes[m] += refreshes[node]
                continue
            if changed[node]:
                for m, ek in out:
                    if ek == NOTIFY:
                        refreshes[m] += 1
                    elif ek == UP:
                        changed[m] = True
            elif k == END:
                pass
        for node in deferred:  # a failed container relationship already skipped it above
            leaf = leaves[graph.res[node]]
            assert leaf is not None
            self._evaluate(leaf, 0)
        if self.base is not None:
            self.report.apply_mode = "incremental"
            self.report.incremental = {
                "base_catalog_digest": catalog_digest(self.base), "considered": considered,
                "skipped_unchanged": skipped_unchanged,
            }
        self.report.transaction_completed = True
        self.report.finalise(time.perf_counter() - started, self.time_by_type)
        return self.report

    def _incremental_plan(self, graph: Graph) -> set[str]:
        """The references an incremental run evaluates (probes are added by the caller)."""
        assert self.base is not None
        seeds = changed_resources(self.base, self.catalog) | volatile_resources(self.catalog)
        wanted = closure(graph, self.resources, seeds)
        removed = removed_resources(self.base, self.catalog)
        if removed:
            self.report.log("info", f"{len(removed)} resource(s) no longer in the catalog are left "
                            f"unmanaged, not purged: {', '.join(sorted(removed))}")
        log.debug("incremental apply: %d changed or volatile, %d to evaluate", len(seeds), len(wanted))
        return wanted

    # -- one resource -------------------------------------------------------------------------------------
    def _status(self, leaf: _Leaf) -> ResourceStatus:
        res = leaf.res
        status = ResourceStatus(res.type, res.title, res.file, res.line, list(res.tags),
                                self.containment_path(res.ref))
        if leaf.provider_cls is not None:
            status.provider = leaf.provider_cls.name
        self.report.resource_statuses[res.ref] = status
        return status

    def _skip(self, leaf: _Leaf, failed_ref: str) -> None:
        status = self._status(leaf)
        status.skipped = True
        status.skip_reason = f"dependency {failed_ref} failed"
        if leaf.rtype is not None and leaf.rtype.probe:
            self.report.record_health(leaf.res.title, healthy=None, attempts=0,
                                      message=f"not run: {status.skip_reason}", duration=0.0)
        self.report.log("warning", f"Skipping because of failed dependencies ({failed_ref})",
                        self._source(leaf, None), leaf.res.file, leaf.res.line, leaf.res.tags)

    def _source(self, leaf: _Leaf, prop: str | None) -> str:
        path = "/" + "/".join(self.containment_path(leaf.res.ref))
        return f"{path}/{prop}" if prop else path

    def _scrub(self, leaf: _Leaf, text: str) -> str:
        if not leaf.secrets:
            return text
        # one pass, longest secret first; a [redacted] already there is kept whole (a short secret
        # such as 'a' must not garble it)
        secrets = sorted(set(leaf.secrets), key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(t) for t in [REDACTED, *secrets]))
        return pattern.sub(REDACTED, text)

    def _event(self, leaf: _Leaf, status: ResourceStatus, change: Change, outcome: str,
               message: str | None = None, name: str | None = None) -> None:
        # a change is redacted when its property is sensitive, or when its message shows one that is
        # (a file created with sensitive content: its checksum is not for the log either)
        redacted = change.property in leaf.sensitive or any(p in leaf.sensitive for p in change.shows)
        if redacted:
            previous, desired = REDACTED, REDACTED
            text = message or f"changed {REDACTED} to {REDACTED}"
        else:
            previous, desired = change.previous, change.desired
            text = message or change.message
        if outcome == "noop" and message is None:
            text = (f"current_value {REDACTED}, should be {REDACTED} (noop)" if redacted else
                    f"current_value {_fmt(previous)}, should be {_fmt(desired)} (noop)")
        if message is not None or not redacted:  # the redacted templates above hold no secret to scrub
            text = self._scrub(leaf, text)
        if name is None:
            name = event_name(leaf.res.type, change.property, change.desired)
        event = Event(change.property or None, previous, desired, text, outcome, puppet_time(), name, redacted)
        status.events.append(event)
        level = "err" if outcome == "failure" else "notice"
        self.report.log(level, text, self._source(leaf, change.property), leaf.res.file, leaf.res.line,
                        leaf.res.tags)
        if change.diff and not redacted:
            # kept in every report (operators read it on the dashboard); on the console with --show-diff
            level = "notice" if self.ctx.show_diff else "info"
            self.report.log(level, self._scrub(leaf, change.diff), self._source(leaf, change.property),
                            leaf.res.file, leaf.res.line, [*leaf.res.tags, DIFF_TAG])

    def _drain_notes(self, leaf: _Leaf) -> None:
        notes = self.ctx.notes
        if notes:
            for level, message, output in notes:
                if output and leaf.sensitive:
                    message = "[output redacted]"
                self.report.log(level, self._scrub(leaf, message), self._source(leaf, None),
                                leaf.res.file, leaf.res.line, leaf.res.tags)
            notes.clear()

    def _evaluate(self, leaf: _Leaf, refresh_count: int) -> tuple[bool, bool]:
        """Check, then change or report; return (succeeded, changed-or-would-change)."""
        t0 = time.perf_counter()
        status = self._status(leaf)
        ok, did_change = self._evaluate_into(leaf, status, refresh_count)
        elapsed = time.perf_counter() - t0
        if leaf.rtype is not None and leaf.rtype.probe and leaf.res.title not in self.report.health["checks"]:
            # It could not even start (invalid parameters, no provider): no observation, so unknown.
            reason = next((e.message for e in status.events if e.status == "failure"), "not run")
            self.report.record_health(leaf.res.title, healthy=None, attempts=0, message=reason, duration=0.0)
        status.evaluation_time = elapsed
        rtype = leaf.res.type
        self.time_by_type[rtype] = self.time_by_type.get(rtype, 0.0) + elapsed
        return ok, did_change

    def _evaluate_into(self, leaf: _Leaf, status: ResourceStatus, refresh_count: int) -> tuple[bool, bool]:
        res = leaf.res
        if leaf.error is not None or leaf.provider_cls is None:
            return self._fail(leaf, status, leaf.error or "no provider", "Could not evaluate")
        noop = self.ctx.noop or leaf.noop
        provider = leaf.provider_cls(self.ctx, res.title, leaf.params)
        if leaf.rtype is not None and leaf.rtype.probe:
            return self._probe(leaf, status, provider), False
        try:
            changes = provider.check()
            problem = provider.preflight(changes) if changes else None  # see engine.preflight
        except EngineError as exc:
            self._drain_notes(leaf)
            return self._fail(leaf, status, str(exc), "Could not evaluate")
        except OSError as exc:
            self._drain_notes(leaf)
            return self._fail(leaf, status, _os_error(exc), "Could not evaluate")
        self._drain_notes(leaf)
        if problem is not None:
            return self._fail(leaf, status, problem, "Cannot apply")
        if changes:
            status.out_of_sync = True
            status.out_of_sync_count = len(changes)
        ok = True
        for change in changes:
            if noop:
                self._event(leaf, status, change, "noop")
                continue
            try:
                provider.sync(change)
            except (EngineError, OSError) as exc:
                reason = str(exc) if isinstance(exc, EngineError) else _os_error(exc)
                self._drain_notes(leaf)
                msg = f"change from {_fmt(change.previous)} to {_fmt(change.desired)} failed: {reason}"
                if change.property in leaf.sensitive:
                    msg = f"change from {REDACTED} to {REDACTED} failed: {reason}"
                self._event(leaf, status, change, "failure", message=self._scrub(leaf, msg))
                status.failed = True
                ok = False
                break
            self._drain_notes(leaf)
            self._event(leaf, status, change, "success")
            status.change_count += 1
        if ok and changes and self.ctx.noop:
            # what it would create, for the checks of what comes after it (engine.preflight)
            plan_of(self.ctx).record(res.ref, provider.would_create(changes))
        if ok and not noop:
            if changes:
                status.changed = True
            ok = self._generated(leaf, provider) and ok
        elif ok and noop:
            self._generated(leaf, provider)
        if ok and refresh_count and leaf.rtype is not None and leaf.rtype.refresh_property:
            ok = self._refresh(leaf, status, provider, refresh_count, noop) and ok
        did_change = bool(status.events) and ok
        if ok and not noop and res.type == "Release":  # the version each application runs after this run
            self.report.releases[str(leaf.params.get("app") or res.title)] = str(leaf.params.get("version"))
        if did_change and self.ctx.noop and not changes:  # a refresh it would take (see above for changes)
            plan_of(self.ctx).record(res.ref, provider.would_create(changes))
        return ok, did_change

    def _probe(self, leaf: _Leaf, status: ResourceStatus, provider: Provider) -> bool:
        """Observe; an event ``health`` (success or failure) and an entry in ``report.health``."""
        try:
            result = provider.probe()
        except (EngineError, OSError) as exc:
            self._drain_notes(leaf)
            reason = str(exc) if isinstance(exc, EngineError) else _os_error(exc)
            self._fail(leaf, status, reason, "Could not evaluate")
            return False
        self._drain_notes(leaf)
        message = self._scrub(leaf, result.message)
        observed = "healthy" if result.ok else "unhealthy"
        self._event(leaf, status, Change("health", observed, "healthy", message),
                    "success" if result.ok else "failure", message=message, name="health_checked")
        self.report.record_health(leaf.res.title, healthy=result.ok, attempts=result.attempts,
                                  message=message, duration=result.duration)
        if not result.ok:
            status.failed = True
        return result.ok

    def _refresh(self, leaf: _Leaf, status: ResourceStatus, provider: Provider, count: int,
                 noop: bool) -> bool:
        assert leaf.rtype is not None
        plural = "s" if count != 1 else ""
        try:
            if noop:
                will = provider.will_refresh()
                self._drain_notes(leaf)
                problem = provider.preflight([]) if will else None  # what the refresh needs (engine.preflight)
                if problem is not None:
                    raise EngineError(problem)
                if will:
                    self._event(leaf, status, Change(_REFRESH, None, None, ""), "noop",
                                message=f"Would have triggered 'refresh' from {count} event{plural}",
                                name="refresh")
                return True
            if provider.refresh():
                self._drain_notes(leaf)
                self._event(leaf, status, Change(_REFRESH, None, None, ""), "success",
                            message=f"Triggered 'refresh' from {count} event{plural}", name="refresh")
                status.changed = status.restarted = status.out_of_sync = True
                status.change_count += 1
                status.out_of_sync_count += 1
            self._drain_notes(leaf)
            return True
        except (EngineError, OSError) as exc:
            self._drain_notes(leaf)
            reason = str(exc) if isinstance(exc, EngineError) else _os_error(exc)
            self._event(leaf, status, Change(_REFRESH, None, None, ""), "failure",
                        message=self._scrub(leaf, f"Failed to call refresh: {reason}"), name="resource_error")
            status.failed = status.failed_to_restart = status.out_of_sync = True
            status.out_of_sync_count += 1
            return False

    def _generated(self, leaf: _Leaf, provider: Provider) -> bool:
        """Evaluate resources a provider generates (recursed files, purged users) right after it."""
        try:
            extra = provider.generate()
        except (EngineError, OSError) as exc:
            status = self.report.resource_statuses[leaf.res.ref]
            reason = str(exc) if isinstance(exc, EngineError) else _os_error(exc)
            self._event(leaf, status, Change("generate", None, None, ""), "failure",
                        message=f"Failed to generate additional resources: {reason}")
            status.failed = True
            return False
        ok = True
        for type_name, title, params in extra:
            ref = f"{capitalize_type(type_name)}[{title}]"
            if ref in self.catalog or ref in self.report.resource_statuses:
                continue  # explicit resources win over generated ones
            child = Resource(capitalize_type(type_name), title, tags=list(leaf.res.tags),
                             file=leaf.res.file, line=leaf.res.line)
            sub = _Leaf(child)
            sub.rtype = registry.get_type(type_name)
            sub.params = params
            sub.noop = leaf.noop
            sub.sensitive = leaf.sensitive
            sub.secrets = leaf.secrets
            assert sub.rtype is not None
            sub.provider_cls = registry.get_provider(sub.rtype.name, str(params.get("provider") or
                                                     sub.rtype.default_provider(params, self.ctx)))
            self._parents[ref] = self._parents.get(leaf.res.ref, "")
            sub_ok, _ = self._evaluate(sub, 0)
            ok = ok and sub_ok
        return ok

    def _fail(self, leaf: _Leaf, status: ResourceStatus, reason: str, prefix: str) -> tuple[bool, bool]:
        status.failed = status.out_of_sync = True
        status.out_of_sync_count += 1  # as Puppet counts its failure event
        message = self._scrub(leaf, f"{prefix}: {reason}")
        status.events.append(Event(None, None, None, message, "failure", puppet_time(), "resource_error"))
        self.report.log("err", message, self._source(leaf, None), leaf.res.file, leaf.res.line, leaf.res.tags)
        return False, False


#: A refresh is an event of the resource, not of one of its properties (Puppet's ``property: null``).
_REFRESH = ""


def _os_error(exc: OSError) -> str:
    if exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    return str(exc.strerror or exc)


def _path_name(ref: str) -> str:
    if ref.startswith("Class[") and ref.endswith("]"):
        return capitalize_type(ref[6:-1])
    return ref


def apply_catalog(
    catalog: Catalog,
    *,
    root: Path | str = Path("/"),
    noop: bool = False,
    tags: Iterable[str] | None = None,
    show_diff: bool = False,
    state_dir: Path | str | None = None,
    facts: dict[str, Any] | None = None,
    file_sources: FileSource | None = None,
    save_report: bool = True,
    incremental_from: Catalog | dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    functions: FunctionCaller | None = None,
) -> Report:
    """Converge ``root`` to ``catalog`` (or, with ``noop``, only report what would change).

    The report is saved under ``state_dir`` (``ROOT/var/lib/bunraku`` by default) unless ``noop`` is
    set: a noop run writes nothing anywhere. Raises :class:`engine.errors.GraphError` for a
    dependency cycle or a relationship with a missing resource; failures of single resources are in
    the report.

    With ``incremental_from`` (the last catalog applied successfully, as a :class:`Catalog` or its
    JSON dict) only what changed since it is evaluated, with its dependents and refresh targets,
    plus every probe; the rest is skipped unchecked, so drift of unchanged resources is left for
    the next full run, and resources removed since then are not purged (see
    :mod:`engine.incremental`). The report says ``apply_mode: incremental`` and what was skipped.

    ``functions`` resolves the catalog's Deferred values (:mod:`engine.deferred`); without it a
    resource holding one fails.
    """
    started = time.perf_counter()
    ctx = ApplyContext(root=root, noop=noop, facts=facts, state_dir=state_dir, show_diff=show_diff,
                       file_sources=file_sources)
    ctx.functions = functions
    report = Transaction(catalog, ctx, tags=tags, incremental_from=incremental_from, progress=progress).run()
    report.add_times("catalog_application", time.perf_counter() - started)
    if save_report and not noop:
        try:
            report.save(ctx.state)  # resolved inside the root now, after the catalog changed it
        except OSError as exc:
            log.warning("could not save the report under %s: %s", ctx.state_dir, exc)
    return report


__all__ = ["apply_catalog", "Transaction", "ValidationError"]
