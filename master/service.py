"""What the master does, as plain functions of (context, peer, request values); the gRPC servicer and
Puppet's HTTP API (:mod:`master.puppetapi`) only translate messages. ``peer`` is who the client
certificate says the caller is."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from cryptography import x509

from dsl.trusted import trusted_data
from master import access, fileserver, limits
from master.ca import CAError, CAFull, CertificateAuthority, InvalidCertname
from master.catalogdiff import diff_catalogs
from master.classify import Classification, ClassificationError, Classifier
from master.compilepool import CompileFailure, CompileJob, CompilePool, digest
from master.config import MasterConfig
from master.connguard import network_key
from master.environments import EnvError, Environment, Environments
from master.logfmt import NOTICE
from master.store.documents import redact_catalog
from wire import pki
from wire.pki import OperatorRole

if TYPE_CHECKING:  # built by the master (master.server), which imports them; here only their types
    from master.dashboard.metrics import Metrics
    from master.live import LiveHub
    from master.notify import Notifier
    from master.rollout import Rollouts
    from master.store import Store
    from master.tasks.dispatch import TaskDispatcher

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


class ServiceError(Exception):
    """A refused or failed call: ``code`` is a gRPC status name (permission_denied, not_found ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Peer:
    certname: str
    operator: bool = False
    extensions: dict[str, str] = field(default_factory=dict)
    serial: int = 0
    #: the operator's role (viewer | operator | admin, maybe limited to groups); None: a node
    role: OperatorRole | None = None

    def __post_init__(self) -> None:
        if self.operator and self.role is None:  # pp_cli_auth without a role: an admin, as before roles
            object.__setattr__(self, "role", OperatorRole("admin"))


@dataclass
class MasterContext:
    config: MasterConfig
    ca: CertificateAuthority
    store: Store
    environments: Environments
    classifier: Classifier
    pool: CompilePool
    rollouts: Rollouts | None = None  # releases assigned to nodes, rollouts (None: this master runs none)
    live: LiveHub | None = None       # connected agents (None: no live channel)
    metrics: Metrics | None = None    # Prometheus counters (None: not counted)
    tasks: TaskDispatcher | None = None  # task runs sent down this master's live channels (None: no tasks)
    notifier: Notifier | None = None  # notifications between masters sharing the store (master.notify)
    _facts_seen: dict[str, str] = field(default_factory=dict)
    _groups_seen: dict[str, str | None] = field(default_factory=dict)
    _exports_seen: dict[str, str] = field(default_factory=dict)
    _exports_generation: int = 0
    _exports_version: dict[str, tuple[float, str]] = field(default_factory=dict)
    #: what each agent last said of itself (disabled message or None) and when the store was told
    _disabled_seen: dict[str, tuple[str | None, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)


def _fields(**kw: Any) -> dict[str, Any]:
    return {"fields": kw}


def _own_node(peer: Peer, node: str, needed: str = "viewer") -> str:
    """The node a node call is about: the caller itself (operators of role ``needed`` may name any node)."""
    if node and node != peer.certname and not peer.operator:
        log.warning("refused: %s asked about %s", peer.certname, node, extra=_fields(peer=peer.certname, node=node))
        raise ServiceError("permission_denied", f"{peer.certname} may not act for node {node}")
    if node and node != peer.certname:
        require_role(peer, needed, any_group=True, what=f"act for node {node}")
    return node or peer.certname


def _act_for(ctx: MasterContext, peer: Peer, node: str) -> str:
    """The node a call that acts for a node (compile its catalog, write its facts or reports) is about:
    the caller itself, or - for an admin - the node it names. An admin limited to groups acts only for
    nodes of its groups; to it, a node outside them answers exactly as a node that does not exist."""
    target = _own_node(peer, node, "admin")
    if target != peer.certname and not _node_visible(ctx, peer, target):
        log.warning("refused: %s asked to act for %s outside its groups", peer.certname, target,
                    extra=_fields(peer=peer.certname, node=target))
        raise ServiceError("not_found", f"no node {target}")
    return target


def _require_operator(peer: Peer) -> None:
    if not peer.operator:
        raise ServiceError("permission_denied", f"{peer.certname} is not an operator certificate")


def require_role(peer: Peer, needed: str, group: str | None = None, *, any_group: bool = False,
                 what: str = "do this") -> OperatorRole:
    """Refuse unless ``peer`` is an operator of at least role ``needed`` for ``group`` (a role limited
    to groups covers only those; ``any_group`` skips the group check, for reads filtered later)."""
    _require_operator(peer)
    role = peer.role
    assert role is not None
    if not role.allows(needed):
        raise ServiceError("permission_denied", f"permission denied: {peer.certname} is a {role.role}; "
                                                f"it takes the {needed} role to {what}")
    if not any_group and not role.covers(group):
        where = f"group {group}" if group else "every group"
        raise ServiceError("permission_denied", f"permission denied: {peer.certname} may {what} only in group(s) "
                                                f"{', '.join(sorted(role.groups or ()))}, not in {where}")
    return role


def _node_group(ctx: MasterContext, node: str) -> str | None:
    try:
        return ctx.classifier.classify(node).group
    except ClassificationError:
        return None


def _node_visible(ctx: MasterContext, peer: Peer, node: str) -> bool:
    """A group-limited operator reads only the nodes of its groups; to it, a node outside them is
    indistinguishable from a node that does not exist (no group name, no "permission denied")."""
    if node == peer.certname or peer.role is None or peer.role.groups is None:
        return True
    return peer.role.covers(_node_group(ctx, node))


def _json_mapping(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data) if data else {}
    except ValueError as exc:
        raise ServiceError("invalid_argument", f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ServiceError("invalid_argument", f"{what} is nested too deep") from None
    if not isinstance(value, dict):
        raise ServiceError("invalid_argument", f"{what} must be a JSON object")
    try:
        if what == "report":
            limits.check_report(value)
        else:
            limits.check_document(value, what)
    except limits.DocumentError as exc:
        raise ServiceError("invalid_argument", str(exc)) from None
    return value


def trusted_for(peer: Peer) -> dict[str, Any]:
    """``$trusted`` of the caller's compile: its verified certificate (:func:`dsl.trusted.trusted_data`)."""
    return trusted_data(peer.certname, "remote", peer.extensions)


def trusted_for_node(ctx: MasterContext, node: str) -> dict[str, Any]:
    """``$trusted`` of a compile made on a node's behalf (stored facts: ``catalog diff``, a rollout's
    check): the certificate the CA signed for it, as its own compile would see it; without one (a node
    that never had a certificate here), its name alone."""
    extensions: dict[str, str] = {}
    try:
        pem = ctx.ca.certificate(node)
        if pem:
            extensions = pki.puppet_extensions(pki.load_cert(pem).extensions)
    except (CAError, OSError, pki.PkiError) as exc:
        log.warning("no certificate extensions for %s's $trusted: %s", node, exc)
    extensions.pop("pp_cli_auth", None)
    extensions.pop(pki.ROLE_EXT, None)
    return trusted_data(node, "remote", extensions)


# -- certificates ---------------------------------------------------------------------------------
def authenticate_certificate(ctx: MasterContext, cert: x509.Certificate) -> Peer:
    """The caller a client certificate names, for a front end whose TLS layer has verified it against the
    CA. Refused (unauthenticated) when the CRL lists it - read on every call, so revocation needs no
    restart - or when its name is no certname. Operator rights and role come from the certificate alone
    (:func:`master.access.certificate_role`)."""
    name = pki.common_name(cert.subject)
    serial = cert.serial_number
    if serial in ctx.ca.revoked_serials():
        log.warning("refused a revoked certificate", extra=_fields(certname=name, serial=serial))
        raise ServiceError("unauthenticated", f"the certificate of {name} has been revoked")
    try:  # a certificate issued before names were checked whole (``web01\n``) is no node's identity
        ctx.ca.check_name(name)
    except CAError as exc:
        log.warning("refused a certificate with an invalid name", extra=_fields(serial=serial))
        raise ServiceError("unauthenticated", f"{exc}; revoke it on the master with `bunraku cert clean` "
                                              f"(serial {serial})") from None
    extensions = pki.puppet_extensions(cert.extensions)
    extensions.pop("pp_cli_auth", None)
    extensions.pop(pki.ROLE_EXT, None)
    role = access.certificate_role(cert)
    return Peer(name, role is not None, extensions, serial, role)


def get_certificate(ctx: MasterContext, certname: str) -> bytes | None:
    """The signed certificate of ``certname`` (public: anyone may fetch it, as from Puppet's CA), or None."""
    try:
        return ctx.ca.certificate(certname)
    except InvalidCertname as exc:
        raise ServiceError("invalid_argument", str(exc)) from None


def request_certificate(ctx: MasterContext, certname: str, csr_pem: bytes, *,
                        client: str | None = None) -> tuple[str, bytes | None, str]:
    """Submit a certificate request. ``client``: the address it came from, when the front end knows it
    (the requests waiting from one network are capped: see :meth:`CertificateAuthority.submit`)."""
    try:
        status, cert, message = ctx.ca.submit(certname, csr_pem,
                                              source=network_key(client) if client else None)
    except InvalidCertname as exc:
        raise ServiceError("invalid_argument", str(exc)) from None
    except CAFull as exc:
        raise ServiceError("resource_exhausted", str(exc)) from None
    except CAError as exc:
        return "rejected", None, str(exc)
    except OSError as exc:  # the CA's own files: logged here; the client hears no path
        log.error("certificate request from %r failed: %s", certname[:64], exc)
        raise ServiceError("unavailable", "the CA could not store the request; try again later") from None
    log.info("certificate request", extra=_fields(certname=certname, status=status))
    return status, cert, message


# -- classification and environments ----------------------------------------------------------------
def classify(ctx: MasterContext, node: str, requested: str) -> tuple[Environment, Classification]:
    try:
        cls = ctx.classifier.classify(node)
    except ClassificationError as exc:
        raise ServiceError("failed_precondition", str(exc)) from None
    name = cls.environment or requested or "production"
    try:
        env = ctx.environments.get(name)
    except EnvError as exc:
        raise ServiceError("not_found", str(exc)) from None
    if ctx._groups_seen.get(node, "") != cls.group:
        if cls.group is None or _bookkeep(ctx.store.set_node_group, node, cls.group) is not _NOT_WRITTEN:
            ctx._groups_seen[node] = cls.group
    return env, cls


def _store(op: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
    """``op(*args, **kw)``, a method of the store, whose errors reach the caller as one ServiceError."""
    method = op.__name__
    try:
        return op(*args, **kw)
    except Exception as exc:  # the store's errors must reach the caller as one line, not a traceback
        from master.store import StoreUnavailable

        if isinstance(exc, StoreUnavailable):  # full, or its file gone: the store has said so, once
            advice = "keep the report and retry" if method == "save_report" else "try again later"
            raise ServiceError("unavailable", f"{exc.problem}; {advice}") from None
        log.error("store %s failed: %s", method, exc, extra=_fields(op=method))
        raise ServiceError("unavailable", f"the master's store failed ({method}): {exc}") from None


#: What ``_bookkeep`` returns when the write did not happen.
_NOT_WRITTEN: Any = object()


def _bookkeep(op: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
    """``op(*args, **kw)``, a write of the store that only keeps the record up to date (contact, facts,
    catalog seen): its failure must not fail the request it rides on (a full store still serves catalogs).
    Returns the store's answer, or _NOT_WRITTEN."""
    method = op.__name__
    try:
        return op(*args, **kw)
    except Exception as exc:  # noqa: BLE001 - best effort by design
        from master.store import StoreUnavailable

        if isinstance(exc, StoreUnavailable):  # full, or its file gone: the store has said so, once
            log.debug("store %s skipped: %s", method, exc)
        else:
            log.warning("store %s failed (the request goes on): %s", method, exc, extra=_fields(op=method))
        return _NOT_WRITTEN


def record_contact(ctx: MasterContext, node: str) -> None:
    """``node`` was heard from (a live-channel heartbeat): best effort, written behind."""
    _bookkeep(ctx.store.defer_contact, node)


def _facts_digest(facts_json: bytes) -> str:
    """What tells one facts document from another: its bytes as the agent sent them (the same bytes
    parse to the same facts), hashed without parsing or serialising anything again."""
    return hashlib.sha256(facts_json).hexdigest()


def _facts_known(ctx: MasterContext, node: str, facts_digest: str) -> bool:
    """``node`` sent these very facts last time, and they were checked and stored then."""
    with ctx._lock:
        return ctx._facts_seen.get(node) == facts_digest


def _save_facts(ctx: MasterContext, node: str, facts: dict[str, Any], environment: str, *,
                facts_digest: str | None = None) -> None:
    d = facts_digest or digest(facts)
    with ctx._lock:
        if ctx._facts_seen.get(node) == d:
            return
    _store(ctx.store.save_facts, node, facts, environment=environment)
    with ctx._lock:
        ctx._facts_seen[node] = d


def _note_facts(ctx: MasterContext, node: str, facts_json: bytes, facts_digest: str, environment: str,
                drop: tuple[str, ...]) -> None:
    """Keep the facts a catalog request brought (checked already), as their JSON text less ``drop``:
    best effort, written behind."""
    if _bookkeep(ctx.store.defer_facts, node, facts_json, environment=environment, drop=drop) is _NOT_WRITTEN:
        return  # not remembered as saved: the next request tries again
    with ctx._lock:
        ctx._facts_seen[node] = facts_digest


# -- node calls -----------------------------------------------------------------------------------
def get_catalog(ctx: MasterContext, peer: Peer, node: str, environment: str, facts_json: bytes,
                *, use_cache: bool = True) -> tuple[bytes, str, str, bool]:
    """(catalog JSON, code_id, environment, cache hit) for the caller's own node."""
    node = _act_for(ctx, peer, node)
    _count_facts(ctx, facts_json)
    facts_digest = _facts_digest(facts_json)
    drop: tuple[str, ...] | None = None  # the facts are new: kept less these keys
    if not _facts_known(ctx, node, facts_digest):  # else checked and stored already: not parsed again
        # $trusted comes from the certificate, never from facts; the worker parses the checked bytes itself
        drop = ("trusted",) if "trusted" in _json_mapping(facts_json, "facts") else ()
    env, cls = classify(ctx, node, environment)
    env = release_environment(ctx, node, env)
    if drop is not None:
        _note_facts(ctx, node, facts_json, facts_digest, env.name, drop)
    store_url = ctx.store.connect_url()
    job = CompileJob(node=node, facts={}, facts_json=facts_json, facts_digest=facts_digest, env_dir=env.path,
                     environment=env.name, code_id=env.code_id, version=env.version, classes=cls.classes,
                     parameters=cls.parameters, trusted=trusted_for(peer), store_url=store_url,
                     exported_version=_exported_version(ctx, env.name) if store_url else "")
    started = time.perf_counter()
    try:
        compiled, hit = ctx.pool.compile_full(job, use_cache=use_cache)
        data = compiled.data
    except CompileFailure as exc:
        log.warning("compile failed for %s: %s", node, exc, extra=_fields(node=node, env=env.name))
        if ctx.metrics is not None:
            ctx.metrics.compile_failed()
        if ctx.rollouts is not None and env.code_id:
            ctx.rollouts.note_compile_failure(node, env.code_id, str(exc))
        raise ServiceError("failed_precondition", str(exc)) from None
    seconds = time.perf_counter() - started
    if not hit and ctx.metrics is not None:
        ctx.metrics.catalog_compiled(seconds)
    if not hit:
        # the worker digested the catalog, and redacted it when it held no secret: stored as it is, behind
        _bookkeep(ctx.store.defer_catalog, node, compiled.digest, compiled.header,
                  lambda: data if compiled.redacted else json.dumps(redact_catalog(json.loads(data))).encode(),
                  code_id=env.code_id, environment=env.name, compile_seconds=seconds)
        if store_url:
            _save_exports(ctx, node, env.name, compiled.exports)
    _bookkeep(ctx.store.defer_contact, node, group=cls.group)
    data = _pin_artifacts(ctx, node, data)
    log.info("catalog served", extra=_fields(node=node, env=env.name, code_id=env.code_id, cache_hit=hit,
                                             ms=round(seconds * 1000, 1), bytes=len(data)))
    return data, env.code_id or "", env.name, hit


def agent_offer(ctx: MasterContext, peer: Peer, node: str) -> dict[str, Any] | None:
    """The agent version a rollout assigned the caller's node (:mod:`master.agentupgrade`), or None."""
    from master import agentupgrade

    node = _act_for(ctx, peer, node)
    try:
        return agentupgrade.offer_for(ctx, node)
    except Exception as exc:  # noqa: BLE001 - the catalog is served all the same; the next request asks again
        log.warning("agent version lookup failed for %s: %s", node, exc, extra=_fields(node=node))
        return None


def _pin_artifacts(ctx: MasterContext, node: str, data: bytes) -> bytes:
    """The catalog with its ``release`` resources' artifact digests (and rollout-assigned versions)."""
    from master import artifacts

    try:
        return artifacts.pin_catalog(ctx, node, data)
    except Exception as exc:  # the store's errors reach the agent as one line, not a traceback
        log.error("artifact pinning failed for %s: %s", node, exc, extra=_fields(node=node))
        raise ServiceError("unavailable", f"the master's store failed (artifacts): {exc}") from None


def _save_exports(ctx: MasterContext, node: str, environment: str, exports_json: str) -> None:
    """Keep what the node exports (``@@``, the JSON of its exported resources) for the others' ``<<| |>>``;
    written only when it changed, so the catalogs that collect it are recompiled only then."""
    key = hashlib.sha256(f"{environment}\0{exports_json}".encode()).hexdigest()
    with ctx._lock:
        if ctx._exports_seen.get(node) == key:
            return
    exported: list[Mapping[str, Any]] = json.loads(exports_json)
    wrote = _bookkeep(ctx.store.save_exported, node, environment, exported)
    if wrote is _NOT_WRITTEN:
        return  # the catalog is served all the same; the next compile tries again
    with ctx._lock:
        ctx._exports_seen[node] = key
        if wrote:
            ctx._exports_generation += 1
            ctx._exports_version.pop(environment, None)
    if wrote and ctx.notifier is not None:  # (committed): the other masters' cached catalogs may collect it
        ctx.notifier.notify("catalogs", {"env": environment, "why": "exports"})


def invalidate_catalogs(ctx: MasterContext, environment: str | None, *, code: bool = True) -> None:
    """Drop what this master cached of ``environment`` (None: every one): the code is checked again (unless
    ``code`` is false), the exported resources read again, and the catalogs compiled again on their next
    request. A ``catalogs`` notification (some master deployed code, or a node's exports changed) calls this."""
    if code:
        ctx.environments.forget(environment)
    with ctx._lock:
        if environment is None:
            ctx._exports_version.clear()
        else:
            ctx._exports_version.pop(environment, None)
    dropped = ctx.pool.drop(environment)
    log.info("catalog cache of %s flushed (%d catalogs)", environment or "every environment", dropped,
             extra=_fields(env=environment or "*", dropped=dropped))


#: how long a master trusts its reading of what other masters (sharing the store) have exported
EXPORTS_POLL_SECONDS = 5.0


def _exported_version(ctx: MasterContext, environment: str) -> str:
    """Part of the catalog-cache key: changes at once when this master saves exports, and within
    EXPORTS_POLL_SECONDS when another master sharing the store does (no store query per request)."""
    now = time.monotonic()
    with ctx._lock:
        cached = ctx._exports_version.get(environment)
        generation = ctx._exports_generation
    if cached is None or now - cached[0] > EXPORTS_POLL_SECONDS:
        cached = (now, str(_store(ctx.store.exported_version, environment)))
        with ctx._lock:
            ctx._exports_version[environment] = cached
    return f"{generation}:{cached[1]}"


def _count_facts(ctx: MasterContext, facts_json: bytes) -> None:
    if facts_json and ctx.metrics is not None:
        ctx.metrics.facts_received()


def submit_facts(ctx: MasterContext, peer: Peer, node: str, environment: str, facts_json: bytes) -> None:
    node = _act_for(ctx, peer, node)
    _count_facts(ctx, facts_json)
    facts_digest = _facts_digest(facts_json)
    if _facts_known(ctx, node, facts_digest):
        return
    facts = _json_mapping(facts_json, "facts")
    facts.pop("trusted", None)
    _save_facts(ctx, node, facts, environment or "production", facts_digest=facts_digest)


def submit_report(ctx: MasterContext, peer: Peer, report_json: bytes, *, node: str | None = None) -> str:
    """Store the caller's report. ``node``: the node the request names besides the report's ``host``
    (Puppet's ``PUT /report/NAME``); both must be the caller.

    Only an admin may store a report for another node, and an admin limited to groups only for a node
    of its groups (another node answers as one that does not exist): a report is what a node says it
    did, and a false one would mislead rollouts' health checks and the dashboard, so no role that only
    reads or steers runs (viewer, operator) writes one; no feature needs more.

    A report larger than ``max_report_bytes`` is refused before it is parsed (RESOURCE_EXHAUSTED,
    "larger than max ...", which the agent takes as final and sets the report aside); the store keeps
    the newest ``reports_per_node`` reports of each node."""
    limit = ctx.config.max_report_bytes
    if len(report_json) > limit:
        log.warning("refused a report of %d bytes from %s", len(report_json), peer.certname,
                    extra=_fields(peer=peer.certname, bytes=len(report_json)))
        raise ServiceError("resource_exhausted", f"the report is {len(report_json)} bytes, larger than max_report_bytes "
                                                 f"({limit}) of this master")
    report = _json_mapping(report_json, "report")
    host = report.get("host")
    if host != peer.certname and not peer.operator:
        raise ServiceError("permission_denied", f"{peer.certname} may not submit a report for {host!r}")
    if node is not None and node != host:
        _act_for(ctx, peer, node)
        raise ServiceError("invalid_argument", f"the report is for {host!r}, not for {node!r}")
    if host != peer.certname:
        require_role(peer, "admin", any_group=True, what=f"submit a report for {host}")
        if not isinstance(host, str) or not host:
            raise ServiceError("invalid_argument", "the report names no host")
        _act_for(ctx, peer, host)
    if not report.get("transaction_uuid"):
        raise ServiceError("invalid_argument", "the report has no transaction_uuid")
    ctx.store.settle(1.0)  # what the node's catalog request left behind is stored before its report
    rid = _store(ctx.store.save_report, report, keep=ctx.config.reports_per_node or None)
    if ctx.metrics is not None:
        ctx.metrics.report_received(str(report.get("status")))
    log.info("report stored", extra=_fields(node=host, status=report.get("status"),
                                            transaction=report.get("transaction_uuid")))
    return str(rid)


def _node_env(ctx: MasterContext, peer: Peer, environment: str) -> Environment:
    env, _cls = classify(ctx, peer.certname, environment)
    return release_environment(ctx, peer.certname, env) if not peer.operator else env


def serving_environment(ctx: MasterContext, peer: Peer, environment: str) -> Environment:
    """The environment (at the caller's release) whose modules serve the caller's file requests."""
    return _node_env(ctx, peer, environment)


def node_definition(ctx: MasterContext, peer: Peer, node: str, environment: str
                    ) -> tuple[Environment, Classification]:
    """What the master knows of ``node`` before it compiles (Puppet's node object): its environment,
    as classification overrides the one the agent asked for, and its classes and parameters."""
    node = _act_for(ctx, peer, node)
    env, cls = classify(ctx, node, environment)
    return release_environment(ctx, node, env), cls


def release_environment(ctx: MasterContext, node: str, env: Environment) -> Environment:
    """``env`` at the release ``node`` should get (git environments; see :mod:`master.config`): its
    assigned release; else the branch head when the environment follows its branch; else the pinned
    ``release``; else the head, recorded as the node's release so only rollouts move it on."""
    if env.code_id is None or ctx.rollouts is None:
        return env
    assigned = _rollouts(ctx.rollouts.assigned_release, node, env.name)
    if assigned is None:
        if ctx.config.follows_branch(env.name):
            return env
        pinned = ctx.config.pinned_release(env.name)
        if pinned is not None:
            try:
                return ctx.environments.at_commit(env.name, ctx.environments.resolve(env.name, pinned))
            except EnvError as exc:
                raise ServiceError("failed_precondition", f"environments.{env.name}.release: {exc}") from None
        assigned = _rollouts(ctx.rollouts.pin_release, node, env.name, env.code_id)
    if assigned == env.code_id:
        return env
    try:
        return ctx.environments.at_commit(env.name, assigned)
    except EnvError as exc:
        raise ServiceError("unavailable", f"release {assigned[:12]} of {env.name}: {exc}") from None


def _rollouts(op: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
    """``op(*args, **kw)``, a method of the rollouts, whose errors reach the caller as one ServiceError."""
    method = op.__name__
    try:
        return op(*args, **kw)
    except Exception as exc:
        from master.rollout import PlanError, RolloutError

        if isinstance(exc, RolloutError | PlanError):
            raise ServiceError("failed_precondition", str(exc)) from None
        log.error("rollouts %s failed: %s", method, exc, extra=_fields(op=method))
        raise ServiceError("unavailable", f"the master's store failed ({method}): {exc}") from None


def file_metadata(ctx: MasterContext, peer: Peer, uri: str, environment: str) -> fileserver.FileMetadata | None:
    env = _node_env(ctx, peer, environment)
    try:
        return fileserver.metadata(env, uri)
    except fileserver.FileServerError as exc:
        log.warning("file request refused: %s", exc, extra=_fields(peer=peer.certname, uri=uri))
        raise ServiceError("permission_denied", str(exc)) from None


def file_chunks(ctx: MasterContext, peer: Peer, uri: str, environment: str, *, sha256: str = "",
                offset: int = 0) -> Iterator[tuple[bytes, str]]:
    from master import artifacts

    if uri.startswith(artifacts.URI_PREFIX):  # an application artifact, from the store (resumable)
        return artifacts.download_chunks(ctx, peer, uri, sha256, offset)
    env = _node_env(ctx, peer, environment)
    try:
        path = fileserver.resolve(env, uri)
    except fileserver.FileServerError as exc:
        log.warning("file request refused: %s", exc, extra=_fields(peer=peer.certname, uri=uri))
        raise ServiceError("permission_denied", str(exc)) from None
    if path is None or not path.is_file():
        raise ServiceError("not_found", f"{uri}: no such file")
    return fileserver.chunks(env, uri)


def plugin_sync(ctx: MasterContext, peer: Peer, environment: str) -> tuple[str, list[tuple[str, str, str]]]:
    env = _node_env(ctx, peer, environment)
    return env.name, fileserver.plugin_facts(env)


# -- operator calls ------------------------------------------------------------------------------
def list_nodes(ctx: MasterContext, peer: Peer, unresponsive_after: float) -> list[Any]:
    role = require_role(peer, "viewer", any_group=True, what="list nodes")
    after = timedelta(seconds=unresponsive_after or 3600)
    return [n for n in _store(ctx.store.node_statuses, unresponsive_after=after) if role.covers(n.group)]


#: the most reports one GetReports call returns
MAX_REPORTS_PER_CALL = 1000


def get_reports(ctx: MasterContext, peer: Peer, node: str, last: int) -> list[dict[str, Any]]:
    """The node's newest ``last`` reports (at most MAX_REPORTS_PER_CALL), newest first, as many as fit
    in one reply of ``max_message_bytes``: read one at a time, so a call never holds more than that."""
    node = _own_node(peer, node)
    if not _node_visible(ctx, peer, node):
        return []  # what a node that never reported answers
    wanted = min(max(1, last or 1), MAX_REPORTS_PER_CALL)
    room = ctx.config.max_message_bytes - 64 * 1024  # the reply's own framing
    out: list[dict[str, Any]] = []
    for summary in _store(ctx.store.report_summaries, node, last=wanted):
        document = _store(ctx.store.get_report, summary["id"])
        if document is None:  # pruned meanwhile
            continue
        size = len(json.dumps(document, default=str)) + 8
        if out and size > room:
            break
        room -= size
        out.append(document)
    return out


def get_facts(ctx: MasterContext, peer: Peer, node: str) -> dict[str, Any] | None:
    node = _own_node(peer, node)
    if not _node_visible(ctx, peer, node):
        return None  # what a node without stored facts answers
    return _store(ctx.store.get_facts, node)


def _stored_facts(ctx: MasterContext, node: str) -> dict[str, Any] | None:
    facts = _store(ctx.store.get_facts, node)
    if isinstance(facts, dict) and "values" in facts and isinstance(facts["values"], dict):
        facts = facts["values"]
    return facts if isinstance(facts, dict) else None


def _compile_stored(ctx: MasterContext, node: str, facts: dict[str, Any], cls: Classification, name: str,
                    env: Environment) -> bytes:
    """``node``'s catalog from facts it sent earlier, at ``env`` (a commit): what a catalog diff and a
    rollout's check before it starts compile. Raises CompileFailure."""
    job = CompileJob(node=node, facts=facts, env_dir=env.path, environment=name, code_id=env.code_id,
                     version=env.version, classes=cls.classes, parameters=cls.parameters,
                     trusted=trusted_for_node(ctx, node))
    data, _hit = ctx.pool.compile(job)
    return data


#: per-node compile errors shown when a rollout is refused (the rest are counted)
PRECHECK_ERRORS_SHOWN = 10


def check_release_compiles(ctx: MasterContext, nodes: list[str], environment: str, code_id: str) -> list[str]:
    """Compile ``code_id`` for every node of a rollout that has sent facts, in the compile workers in
    parallel; returns ``node: error`` for each node whose catalog does not compile. A release that fails
    here would only fall back to cached catalogs on those nodes and time out the rollout's health gate."""
    from concurrent.futures import ThreadPoolExecutor

    env = ctx.environments.at_commit(environment, code_id)

    def one(node: str) -> str | None:
        facts = _stored_facts(ctx, node)
        if facts is None:
            return None  # never ran against a master: nothing to compile with (it is judged when it runs)
        try:
            _env, cls = classify(ctx, node, environment)
            _compile_stored(ctx, node, facts, cls, environment, env)
        except CompileFailure as exc:
            return f"{node}: {exc}"
        except ServiceError as exc:
            return f"{node}: {exc}"
        return None

    with ThreadPoolExecutor(max_workers=max(1, ctx.config.workers or 2) * 2, thread_name_prefix="precheck") as pool:
        return [error for error in pool.map(one, nodes) if error is not None]


def diff_catalog(ctx: MasterContext, peer: Peer, node: str, from_rev: str, to_rev: str,
                 environment: str) -> tuple[dict[str, Any], str, str]:
    """Compile ``node`` with its stored facts at two revisions of its environment; diff resources."""
    require_role(peer, "viewer", any_group=True, what="diff catalogs")
    facts = get_facts(ctx, peer, node)
    if facts is None:
        raise ServiceError("not_found", f"no stored facts for {node}; it must run against this master once")
    if "values" in facts and isinstance(facts["values"], dict):
        facts = facts["values"]
    _env, cls = classify(ctx, node, environment)
    name = cls.environment or environment or "production"
    catalogs = []
    for rev in (from_rev, to_rev):
        try:
            env = ctx.environments.at_revision(name, rev)
        except EnvError as exc:
            raise ServiceError("not_found", str(exc)) from None
        try:
            data = _compile_stored(ctx, node, facts, cls, name, env)
        except CompileFailure as exc:
            raise ServiceError("failed_precondition", f"at {rev}: {exc}") from None
        catalogs.append((json.loads(data), env.code_id or ""))
    (old, old_id), (new, new_id) = catalogs
    return diff_catalogs(old, new), old_id, new_id


# -- the live channel (node calls) ------------------------------------------------------------------
def heartbeat(ctx: MasterContext, peer: Peer, disabled: str | None = None) -> None:
    """The caller (an agent) is alive; ``disabled``: it is disabled, for this reason (None: enabled)."""
    note_agent_state(ctx, peer.certname, disabled)
    if ctx.live is not None:
        ctx.live.heard_from(peer.certname)
    else:
        _bookkeep(ctx.store.defer_contact, peer.certname)


#: seconds after which an agent's unchanged disabled state is written to the store again (another master
#: sharing the store may have written a newer one meanwhile)
DISABLED_REFRESH_SECONDS = 300.0


def note_agent_state(ctx: MasterContext, node: str, disabled: str | None) -> None:
    """What an agent says of itself: disabled (and why) or not. Rollouts fail a disabled agent's node at
    once rather than wait for a run it would skip; the store keeps it for ``bunraku nodes`` and the
    dashboard (written when it changes, not on every heartbeat)."""
    if ctx.rollouts is not None:
        ctx.rollouts.agents.note(node, disabled)
    now = time.monotonic()
    with ctx._lock:
        seen = ctx._disabled_seen.get(node)
        if seen is not None and seen[0] == disabled and now - seen[1] < DISABLED_REFRESH_SECONDS:
            return
        ctx._disabled_seen[node] = (disabled, now)
    changed = _bookkeep(ctx.store.note_agent_disabled, node, disabled)
    if changed is _NOT_WRITTEN:
        with ctx._lock:
            ctx._disabled_seen.pop(node, None)  # told again at the next heartbeat
    elif changed:
        log.log(NOTICE, "%s: agent %s", node, f"disabled: {disabled}" if disabled is not None else "enabled again",
                extra=_fields(node=node, disabled=disabled))


def live_connect(ctx: MasterContext, peer: Peer, disabled: str | None = None) -> Any:
    """Open the caller's live channel; returns the hub's connection (see :mod:`master.live`)."""
    from master.live import LiveRefused

    if ctx.live is None:
        raise ServiceError("unimplemented", "this master has no live channel")
    note_agent_state(ctx, peer.certname, disabled)
    try:
        return ctx.live.connect(peer.certname)
    except LiveRefused as exc:
        raise ServiceError("resource_exhausted", str(exc)) from None


# -- release control (operator calls) ---------------------------------------------------------------
def _require_rollouts(ctx: MasterContext) -> Rollouts:
    if ctx.rollouts is None:
        raise ServiceError("unimplemented", "this master does not run rollouts")
    return ctx.rollouts


def start_rollout(ctx: MasterContext, peer: Peer, rev: str, environment: str, group: str | None,
                  options: dict[str, Any]) -> dict[str, Any]:
    """Resolve ``rev`` to a commit of ``environment`` and start rolling it out (operator role)."""
    from master.rollout import PlanError, RolloutOptions

    environment = environment or "production"
    require_role(peer, "operator", group, what="start a rollout")
    rollouts = _require_rollouts(ctx)
    options = dict(options)
    force = bool(options.pop("force", False))
    try:
        opts = RolloutOptions.parse(**options)
    except PlanError as exc:
        raise ServiceError("invalid_argument", str(exc)) from None
    try:
        code_id = ctx.environments.resolve(environment, rev)
        ctx.environments.at_commit(environment, code_id)  # materialise now: fail here, not on every node
    except EnvError as exc:
        raise ServiceError("invalid_argument", str(exc)) from None
    nodes = _rollouts(rollouts.nodes_in_scope, environment, group or None)
    errors = check_release_compiles(ctx, nodes, environment, code_id)
    if errors and not force:
        shown = "; ".join(errors[:PRECHECK_ERRORS_SHOWN])
        more = f" (and {len(errors) - PRECHECK_ERRORS_SHOWN} more)" if len(errors) > PRECHECK_ERRORS_SHOWN else ""
        raise ServiceError("failed_precondition",
                           f"{environment}@{code_id[:12]} does not compile for {len(errors)} of {len(nodes)} "
                           f"node(s): {shown}{more}; fix the release, or start it anyway with --force")
    if errors:
        log.warning("rollout forced although the release does not compile for %d node(s)", len(errors),
                    extra=_fields(code_id=code_id, env=environment, group=group, by=peer.certname))
    rid = _rollouts(rollouts.start, code_id, environment, options=opts, group=group or None,
                    nodes=nodes, created_by=peer.certname)
    _kick(rollouts, rid)
    log.info("rollout started", extra=_fields(rollout=rid, code_id=code_id, env=environment, group=group,
                                              by=peer.certname))
    return rollout_status(ctx, peer, rid)


def _rollout_for(ctx: MasterContext, peer: Peer, rollout_id: int, needed: str, what: str) -> dict[str, Any]:
    """The rollout, if ``peer`` may ``what`` it. A rollout of a group the operator's role does not cover
    is answered exactly as one that does not exist, so that its id tells nothing about other groups."""
    from master.rollout import RolloutError

    role = require_role(peer, needed, any_group=True, what=what)
    missing = ServiceError("not_found", f"no rollout {rollout_id}")
    try:
        info: dict[str, Any] = _require_rollouts(ctx).get(int(rollout_id))
    except RolloutError:
        raise missing from None
    except Exception as exc:
        log.error("rollouts get failed: %s", exc, extra=_fields(op="get"))
        raise ServiceError("unavailable", f"the master's store failed (get): {exc}") from None
    if not role.covers(info.get("group")):
        log.warning("refused: %s asked for rollout %s of group %s", peer.certname, rollout_id, info.get("group"),
                    extra=_fields(peer=peer.certname, rollout=rollout_id))
        raise missing
    return info


def rollout_status(ctx: MasterContext, peer: Peer, rollout_id: int) -> dict[str, Any]:
    """The rollout as :func:`master.rollout.view.rollout_status` gives it (the dashboard shows the same)."""
    from master.rollout.view import rollout_status as status_view

    rollouts = _require_rollouts(ctx)
    _rollout_for(ctx, peer, rollout_id, "viewer", "see rollouts")
    return _rollouts(status_view, rollouts, int(rollout_id))


ROLLOUT_COMMANDS = ("pause", "resume", "retry", "abort", "rollback")


def rollout_command(ctx: MasterContext, peer: Peer, rollout_id: int, command: str) -> dict[str, Any]:
    rollouts = _require_rollouts(ctx)
    if command not in ROLLOUT_COMMANDS:
        raise ServiceError("invalid_argument", f"unknown rollout command {command!r} "
                                               f"(one of {', '.join(ROLLOUT_COMMANDS)})")
    _rollout_for(ctx, peer, rollout_id, "operator", f"{command} rollouts")
    act: Callable[..., Any] = {"pause": rollouts.pause, "resume": rollouts.resume, "retry": rollouts.retry,
                               "abort": rollouts.abort, "rollback": rollouts.rollback}[command]
    _rollouts(act, int(rollout_id), by=peer.certname)
    log.info("rollout %s", command, extra=_fields(rollout=rollout_id, by=peer.certname))
    if ctx.rollouts is not None and command in ("resume", "retry", "rollback"):
        _kick(rollouts, int(rollout_id))
    return rollout_status(ctx, peer, rollout_id)


def _kick(rollouts: Rollouts, rollout_id: int) -> None:
    """Advance a rollout right away (when this master can drive it) rather than at the next tick."""
    try:
        if rollouts.acquire_lease(rollout_id):
            rollouts.tick_one(rollout_id)
    except Exception as exc:  # noqa: BLE001 - the background tick will do it
        log.warning("rollout %d: could not advance it now: %s", rollout_id, exc)


def list_rollouts(ctx: MasterContext, peer: Peer) -> list[dict[str, Any]]:
    rollouts = _require_rollouts(ctx)
    role = require_role(peer, "viewer", any_group=True, what="list rollouts")
    return [r for r in _rollouts(rollouts.list_all) if role.groups is None or role.covers(r.get("group"))]
