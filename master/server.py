"""The master's gRPC server: two listeners, one servicer.

gRPC Python asks for client certificates on a port only when it requires them, so the master listens
twice: ``listen`` (mutual TLS, every call) and ``ca_listen`` (server TLS only, where a new agent that
has no certificate yet submits its request). A handler wrapper authenticates every call: the peer is
the CN of its verified certificate, refused if the CRL lists its serial; without a certificate only
``RequestCertificate`` is allowed.

Anyone may reach the certificate listener, so it is a gRPC server of its own (its own threads and
connection cap, short idle timeout) behind a guard that caps connections per client address
(:mod:`master.connguard`): a flood there cannot take the files or threads signed nodes are served with.
Both listeners time out TLS handshakes and idle connections, and the master raises its open-file
limit as far as it may at start (see :mod:`master.limits`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

from master import heap, limits, service
from master.ca import AutosignPolicy, CAError, CertificateAuthority
from master.classify import Classifier
from master.compilepool import CompilePool, WorkerLimits
from master.config import MasterConfig
from master.connguard import ConnectionGuard
from master.environments import Environments
from master.live import Command, LiveHub
from master.notify import FleetDispatcher, LiveChannels, Notice, Notifier
from master.service import MasterContext, Peer, ServiceError
from wire import pki
from wire.proto import bunraku_pb2 as pb
from wire.proto import bunraku_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

_CLOSE = Command("close")
UNAUTHENTICATED_METHODS = frozenset({"/bunraku.v1.Master/RequestCertificate"})
#: the certificate listener's threads, and the calls it takes at once (beyond: RESOURCE_EXHAUSTED)
CA_THREADS = 8
CA_MAX_CALLS = 64
#: a certificate-request connection lives at most this long (seconds), busy or not
CA_MAX_CONNECTION_AGE = 120.0
#: the largest message the certificate listener takes: a certificate request, with room to spare
CA_MAX_REQUEST_BYTES = 64 * 1024


class PeerAuthenticator:
    """Turn a call's TLS auth context into a :class:`Peer` (or refuse the call).

    Operator rights come only from the certificate: the pp_cli_auth extension (and the role) that
    the CA itself puts in certificates it makes with ``bunraku cert generate --operator``, which no
    certificate request can carry. A certificate's name grants nothing."""

    def __init__(self, ca: CertificateAuthority) -> None:
        self.ca = ca
        self._certs: dict[bytes, tuple[int, str, dict[str, str], bool, pki.OperatorRole | None]] = {}
        self._lock = threading.Lock()

    def peer(self, context: grpc.ServicerContext) -> Peer | None:
        auth = context.auth_context()
        pems = auth.get("x509_pem_cert")
        if not pems:
            return None
        pem = pems[0]
        with self._lock:
            parsed = self._certs.get(pem)
        if parsed is None:
            cert = pki.load_cert(pem)
            exts = pki.puppet_extensions(cert.extensions)
            operator = exts.pop("pp_cli_auth", None) == "true"
            role_text = exts.pop(pki.ROLE_EXT, None)
            role = None
            if operator and role_text is not None:
                try:
                    role = pki.parse_role(role_text)
                except pki.PkiError:  # a role we cannot read grants the least, not the most
                    log.warning("unreadable operator role %r; treating it as viewer", role_text)
                    role = pki.OperatorRole("viewer", frozenset())
            parsed = (cert.serial_number, pki.common_name(cert.subject), exts, operator, role)
            with self._lock:
                if len(self._certs) > 10000:
                    self._certs.clear()
                self._certs[pem] = parsed
        serial, name, exts, operator, role = parsed
        if serial in self.ca.revoked_serials():
            log.warning("refused a revoked certificate", extra={"fields": {"certname": name, "serial": serial}})
            context.abort(grpc.StatusCode.UNAUTHENTICATED, f"the certificate of {name} has been revoked")
        try:  # a certificate issued before names were checked whole (``web01\n``) is no node's identity
            self.ca.check_name(name)
        except CAError as exc:
            log.warning("refused a certificate with an invalid name", extra={"fields": {"serial": serial}})
            context.abort(grpc.StatusCode.UNAUTHENTICATED, f"{exc}; revoke it on the master with "
                                                           f"`bunraku cert clean` (serial {serial})")
        return Peer(name, operator, exts, serial, role)


def _abort(context: grpc.ServicerContext, exc: ServiceError) -> None:
    code = getattr(grpc.StatusCode, exc.code.upper(), grpc.StatusCode.INTERNAL)
    context.abort(code, str(exc))


class AuthInterceptor(grpc.ServerInterceptor):
    """Wraps every handler: find the peer, refuse anonymous callers except for the CSR."""

    def __init__(self, auth: PeerAuthenticator) -> None:
        self.auth = auth

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        method = details.method
        authenticator = self.auth

        def guard(behaviour: Callable[..., Any]) -> Callable[..., Any]:
            def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
                peer = authenticator.peer(context)
                if peer is None and method not in UNAUTHENTICATED_METHODS:
                    context.abort(grpc.StatusCode.UNAUTHENTICATED,
                                  "a client certificate signed by this master's CA is required")
                context.peer_identity_ = peer  # type: ignore[attr-defined]
                return behaviour(request, context)
            return wrapped

        return limits.guard_handler(handler, guard)


def _peer(context: Any) -> Peer:
    peer = getattr(context, "peer_identity_", None)
    assert peer is not None
    return peer


class MasterServicer(pb_grpc.MasterServicer):
    """Translate messages, call :mod:`master.service`, translate back."""

    def __init__(self, ctx: MasterContext) -> None:
        self.ctx = ctx
        #: the client behind an address gRPC saw, where a connection guard relays the listener
        self.client_addresses: limits.AddressResolver | None = None

    def _client(self, context: grpc.ServicerContext) -> str | None:
        """The caller's address (without the port), the relayed client's where a guard knows it."""
        seen = context.peer() or ""
        found = self.client_addresses(seen) if self.client_addresses is not None else None
        if found:
            return found
        kind, _, rest = seen.partition(":")
        if kind not in ("ipv4", "ipv6"):
            return None
        return urllib.parse.unquote(rest).rpartition(":")[0].strip("[]") or None

    def _still_valid(self, context: grpc.ServicerContext, peer: Peer) -> None:
        """End a stream whose certificate has been revoked since it opened: checked before each message."""
        if peer.serial and peer.serial in self.ctx.ca.revoked_serials():
            log.warning("closed a stream of a revoked certificate", extra={"fields": {"certname": peer.certname,
                                                                                      "serial": peer.serial}})
            context.abort(grpc.StatusCode.UNAUTHENTICATED, f"the certificate of {peer.certname} has been revoked")

    def _call(self, context: grpc.ServicerContext, func: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        if args and isinstance(args[0], Peer) and args[0].operator:
            self.ctx.store.settle(1.0)  # an operator sees the writes this master still holds behind requests
        try:
            return func(self.ctx, *args, **kw)
        except ServiceError as exc:
            _abort(context, exc)

    def RequestCertificate(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        status, cert, message = self._call(context, service.request_certificate, request.certname,
                                           bytes(request.csr_pem), client=self._client(context))
        codes = {"signed": pb.CertificateReply.SIGNED, "pending": pb.CertificateReply.PENDING,
                 "rejected": pb.CertificateReply.REJECTED}
        return pb.CertificateReply(status=codes[status], certificate_pem=cert or b"",
                                   ca_certificate_pem=self.ctx.ca.ca_pem(), crl_pem=self.ctx.ca.crl_pem(),
                                   message=message)

    def GetCatalog(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        data, code_id, env, hit = self._call(context, service.get_catalog, _peer(context), request.node,
                                             request.environment, request.facts_json)
        offer = self._call(context, service.agent_offer, _peer(context), request.node)
        return pb.CatalogReply(catalog_json=data, code_id=code_id, environment=env, cache_hit=hit,
                               crl_pem=self.ctx.ca.crl_pem(),
                               agent_version=pb.AgentVersion(**offer) if offer else None)

    def SubmitFacts(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        self._call(context, service.submit_facts, _peer(context), request.node, request.environment,
                   request.facts_json)
        return pb.FactsReply()

    def SubmitReport(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        rid = self._call(context, service.submit_report, _peer(context), request.report_json)
        return pb.ReportReply(id=rid)

    def FileMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        meta = self._call(context, service.file_metadata, _peer(context), request.uri, request.environment)
        if meta is None:
            return pb.FileMetadataReply(found=False)
        return pb.FileMetadataReply(found=True, kind=meta.kind, size=meta.size, mtime=meta.mtime, mode=meta.mode,
                                    sha256=meta.sha256, children=meta.children)

    def FileContent(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:  # noqa: N802
        peer = _peer(context)
        chunks = self._call(context, service.file_chunks, peer, request.uri, request.environment,
                            sha256=request.sha256, offset=request.offset)
        for data, sha in chunks:
            self._still_valid(context, peer)
            yield pb.FileChunk(data=data, sha256=sha)

    def PluginSync(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        env, files = self._call(context, service.plugin_sync, _peer(context), request.environment)
        return pb.PluginSyncReply(environment=env, facts=[pb.PluginFile(path=p, sha256=s, uri=u)
                                                          for p, s, u in files])

    def ListNodes(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        nodes = self._call(context, service.list_nodes, _peer(context), request.unresponsive_after_seconds)
        return pb.ListNodesReply(nodes=[pb.NodeStatus(
            name=n.name, status=n.status or "", last_run=_iso(n.last_run), last_seen=_iso(n.last_seen),
            code_id=n.code_id or "", environment=n.environment or "", group=n.group or "",
            report_count=n.report_count or 0, cached_catalog=n.cached_catalog or "",
            agent_disabled=n.disabled is not None, disabled_reason=n.disabled or "",
            agent_version=n.agent_version or "")
            for n in nodes])

    def GetReports(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        reports = self._call(context, service.get_reports, _peer(context), request.node, request.last)
        return pb.GetReportsReply(report_json=[json.dumps(r, default=str).encode() for r in reports])

    def GetFacts(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        facts = self._call(context, service.get_facts, _peer(context), request.node)
        if facts is None:
            return pb.GetFactsReply(found=False)
        return pb.GetFactsReply(found=True, facts_json=json.dumps(facts, default=str).encode())

    def Heartbeat(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        self._call(context, service.heartbeat, _peer(context),
                   (request.disabled_reason or "reason not specified") if request.disabled else None)
        return pb.HeartbeatReply()

    def Live(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:  # noqa: N802
        peer = _peer(context)
        conn = self._call(context, service.live_connect, peer,
                          (request.disabled_reason or "reason not specified") if request.disabled else None)
        hub = self.ctx.live
        assert hub is not None  # live_connect refuses when there is no hub
        kinds = {"ping": pb.LiveCommand.PING, "run": pb.LiveCommand.RUN, "task": pb.LiveCommand.TASK,
                 "cancel": pb.LiveCommand.CANCEL}
        context.add_callback(lambda: conn.commands.put(_CLOSE))
        for command in hub.commands(conn, context.is_active):
            self._still_valid(context, peer)  # (at least every heartbeat: a revoked node gets no RUN)
            yield pb.LiveCommand(kind=kinds[command.kind], mode=command.mode, rollout_id=command.rollout_id,
                                 heartbeat_seconds=hub.heartbeat_seconds,
                                 task=pb.TaskCommand(**command.task) if command.task else None)

    def StartRollout(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        options = {"canary": request.canary or None, "batch": request.batch or None,
                   "max_concurrent": request.max_concurrent or None, "max_failures": request.max_failures or None,
                   "health_timeout": request.health_timeout or None, "pause_between": request.pause_between or None,
                   "auto_rollback": request.auto_rollback, "incremental": request.incremental,
                   "force": request.force}
        if request.agent_version:  # a version of the agent itself (master.agentupgrade)
            from master import agentupgrade

            info = self._call(context, agentupgrade.start_agent_rollout, _peer(context), request.agent_version,
                              request.environment, request.group or None, options)
            return pb.RolloutReply(rollout_json=json.dumps(info, default=str).encode())
        if request.artifact:  # an application version (master.artifacts), through the same rollouts
            from master import artifacts

            info = self._call(context, artifacts.start_artifact_rollout, _peer(context), request.artifact,
                              request.environment, request.group or None, options)
            return pb.RolloutReply(rollout_json=json.dumps(info, default=str).encode())
        info = self._call(context, service.start_rollout, _peer(context), request.rev, request.environment,
                          request.group or None, options)
        return pb.RolloutReply(rollout_json=json.dumps(info, default=str).encode())

    def RolloutStatus(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        info = self._call(context, service.rollout_status, _peer(context), request.id)
        return pb.RolloutReply(rollout_json=json.dumps(info, default=str).encode())

    def RolloutCommand(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        info = self._call(context, service.rollout_command, _peer(context), request.id, request.command)
        return pb.RolloutReply(rollout_json=json.dumps(info, default=str).encode())

    def ListRollouts(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        items = self._call(context, service.list_rollouts, _peer(context))
        return pb.ListRolloutsReply(rollouts_json=json.dumps(items, default=str).encode())

    def RunTask(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        from master.tasks import service as tasks

        info, created = self._call(context, tasks.run_task, _peer(context), group=request.group or None,
                                   nodes=list(request.nodes), account=request.account,
                                   max_concurrent=request.max_concurrent, timeout=request.timeout,
                                   idempotency_key=request.idempotency_key, command=list(request.command),
                                   task=request.task, params=dict(request.params),
                                   environment=request.environment, expires_in=request.expires_in)
        return pb.TaskReply(task_json=json.dumps(info, default=str).encode(), created=created)

    def TaskStatus(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        from master.tasks import service as tasks

        info = self._call(context, tasks.task_status, _peer(context), request.id)
        return pb.TaskReply(task_json=json.dumps(info, default=str).encode())

    def ListTasks(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        from master.tasks import service as tasks

        items = self._call(context, tasks.list_tasks, _peer(context), request.last)
        return pb.TaskReply(task_json=json.dumps(items, default=str).encode())

    def CancelTask(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        from master.tasks import service as tasks

        info = self._call(context, tasks.cancel_task, _peer(context), request.id)
        return pb.TaskReply(task_json=json.dumps(info, default=str).encode())

    def TaskResult(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        from master.tasks import service as tasks

        self._call(context, tasks.task_result, _peer(context), request.task_id, request.state,
                   exit_code=request.exit_code if request.state in ("succeeded", "failed") else None,
                   stdout=bytes(request.stdout), stderr=bytes(request.stderr),
                   stdout_truncated=request.stdout_truncated, stderr_truncated=request.stderr_truncated,
                   duration=request.duration or None, reason=request.reason)
        return pb.TaskResultReply()

    def PushArtifact(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        from master import artifacts

        held, info = self._call(context, artifacts.push_artifact, _peer(context), app=request.app,
                                version=request.version, sha256=request.sha256, size=request.size,
                                offset=request.offset, data=bytes(request.data), finish=request.finish,
                                filename=request.filename, meta=dict(request.meta))
        return pb.PushArtifactReply(received=held, artifact_json=json.dumps(info).encode() if info else b"")

    def ArtifactCommand(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        from master import artifacts

        info = self._call(context, artifacts.artifact_command, _peer(context), request.command, request.app,
                          request.version, request.older_than)
        return pb.ArtifactReply(json=json.dumps(info, default=str).encode())

    def DiffCatalog(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        diff, old, new = self._call(context, service.diff_catalog, _peer(context), request.node,
                                    request.from_rev, request.to_rev, request.environment)
        return pb.DiffCatalogReply(diff_json=json.dumps(diff, default=str).encode(), from_code_id=old,
                                   to_code_id=new)


def _iso(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def open_store(config: MasterConfig, *, create: bool = False) -> Any:
    """The master's store, checked and compared with the marker in its vardir (see master.store.guard);
    ``create`` makes a new one where this master's is missing."""
    from master.store.guard import open_for_master

    config.vardir.mkdir(parents=True, exist_ok=True)
    return open_for_master(config.store_url, config.store_path, config.vardir, create=create)


def journal_dir(config: MasterConfig) -> Path:
    """Where the master journals the store writes it commits behind its requests."""
    return config.vardir / "store-journal"


class MasterServer:
    """The whole master: CA, store, environments, classifier, compile pool and the gRPC server."""

    def __init__(self, config: MasterConfig, *, store: Any = None, create_store: bool = False) -> None:
        self.config = config
        self.store = store
        self.create_store = create_store
        self.port = 0
        self.ca_port = 0
        self._server: grpc.Server | None = None
        self._ca_server: grpc.Server | None = None
        self._guard: ConnectionGuard | None = None
        self._agent_guard: ConnectionGuard | None = None
        self._payload_threads: futures.ThreadPoolExecutor | None = None
        self.ctx: MasterContext | None = None
        self._channels: LiveChannels | None = None

    def start(self) -> None:
        cfg = self.config
        policy = AutosignPolicy.parse(cfg.autosign, cfg.autosign_challenges)
        ca = CertificateAuthority(cfg.ssldir, autosign=policy, max_pending=cfg.ca_max_pending,
                                  max_pending_per_network=cfg.ca_max_pending_per_network)
        paths = ca.setup(cfg.certname, cfg.dns_alt_names)
        ca.reserve_master_names(cfg.certname, paths.cert.read_bytes())
        if self.store is None:
            self.store = open_store(cfg, create=self.create_store)
        auth = PeerAuthenticator(ca)
        server, ca_server = self._listen(auth, ca, paths)
        pool = CompilePool(cfg.workers, parse_cache=cfg.vardir / "parse-cache",
                           cache_size=cfg.catalog_cache_size, user=cfg.user,
                           limits=WorkerLimits(cfg.compile_memory_mb, cfg.compile_cpu_seconds))
        pool.warm()  # the workers switch to cfg.user as they start
        if cfg.user:  # bound and prepared: from here on as the unprivileged user
            from master.privileges import drop_privileges

            drop_privileges(cfg.user, [cfg.ssldir, cfg.vardir])
        from master.store import writebehind

        journal = journal_dir(cfg)
        if cfg.store_write_behind and self.store.write_behind is None:
            # what a master killed before committing left in the journal is committed first (in the background)
            self.store.start_write_behind(journal)
        elif not cfg.store_write_behind and any(journal.glob(f"*{writebehind.SUFFIX}")):
            self.store.start_write_behind(journal)  # left while it was on: committed before serving
            if not self.store.stop_write_behind():
                log.warning("store: the writes left in %s could not all be committed; they stay there", journal)
        from master.deploy import Deployer

        # git_repo / git_remote: fetching, Puppetfile modules and deploys (envs.deploy, deployer.trigger)
        self.deployer = Deployer.from_config(cfg)
        envs = self.deployer.environments if self.deployer is not None else Environments(
            environmentpath=cfg.environmentpath, cache_dir=cfg.vardir / "code", timeout=cfg.environment_timeout,
            git_poll_seconds=cfg.git_poll_seconds)
        if self.deployer is not None:
            self.deployer.start()
        classifier = Classifier(groups_file=cfg.groups, enc=cfg.enc)
        self.ctx = self._context(ca, envs, classifier, pool)
        self._start_release_control(self.ctx)
        self._start_dashboard(self.ctx, paths)
        self._start_puppet_api(self.ctx, paths)
        servicer = MasterServicer(self.ctx)
        ca_servicer = MasterServicer(self.ctx)  # its clients come through the guard, which knows who they are
        ca_servicer.client_addresses = self._guard.client_address if self._guard is not None else None
        pb_grpc.add_MasterServicer_to_server(servicer, server)
        pb_grpc.add_MasterServicer_to_server(ca_servicer, ca_server)
        server.start()
        ca_server.start()
        self._server, self._ca_server = server, ca_server
        log.info("master listening", extra={"fields": {"listen": self.address, "ca_listen": self.ca_address,
                                                       "certname": cfg.certname, "workers": pool.workers}})

    def _listen(self, auth: PeerAuthenticator, ca: CertificateAuthority, paths: Any) -> tuple[grpc.Server, grpc.Server]:
        """Bind both listeners: the agents' gRPC server, and the certificate requests' own, behind its
        per-address guard. Sets ``port`` and ``ca_port``; the servers are started later."""
        cfg = self.config
        open_files = limits.raise_open_file_limit()
        heap.tune()
        caps = limits.connection_caps(cfg.max_connections, cfg.ca_max_connections,
                                      cfg.ca_max_connections_per_address, open_files)
        budget = self._budget = limits.budget_for(cfg)  # one budget for all the listeners (Puppet's API too)
        # Calls that may carry large requests run on threads of their own: gRPC receives a request in
        # the thread that handles it, so this bounds how many large requests are in memory at once,
        # and leaves the other threads (live channels, heartbeats, file serving) free.
        workers = cfg.workers or os.cpu_count() or 1
        payload_threads = self._payload_threads = futures.ThreadPoolExecutor(
            min(cfg.max_threads, max(8, 2 * workers)), thread_name_prefix="rpc-payload")
        base = limits.grpc_options(cfg.max_message_bytes) + [("grpc.so_reuseport", 0)]
        server = grpc.server(futures.ThreadPoolExecutor(cfg.max_threads + cfg.live_max_agents,
                                                        thread_name_prefix="rpc"),
                             interceptors=[*limits.interceptors_for(cfg, budget, payload_threads=payload_threads),
                                           AuthInterceptor(auth)],
                             options=base + limits.connection_options(
                                 max_connections=caps.agents, handshake_timeout=cfg.handshake_timeout,
                                 idle_timeout=cfg.idle_timeout) + limits.receive_window_options())
        host, _, port = cfg.ca_address().rpartition(":")
        guard = ConnectionGuard(host, int(port), upstream=("127.0.0.1", 0), max_connections=caps.ca,
                                max_per_address=caps.ca_per_address,
                                max_per_network=min(cfg.ca_max_connections_per_network, caps.ca))
        ca_server = grpc.server(futures.ThreadPoolExecutor(CA_THREADS, thread_name_prefix="ca-rpc"),
                                interceptors=[*limits.interceptors_for(cfg, budget, guard.client_address),
                                              AuthInterceptor(auth)],
                                options=[o for o in base if o[0] != "grpc.max_receive_message_length"]
                                + [("grpc.max_receive_message_length", CA_MAX_REQUEST_BYTES)]
                                + limits.connection_options(
                                    max_connections=caps.ca, handshake_timeout=cfg.handshake_timeout,
                                    idle_timeout=cfg.ca_idle_timeout, max_age=CA_MAX_CONNECTION_AGE)
                                + limits.receive_window_options(),
                                maximum_concurrent_rpcs=CA_MAX_CALLS)
        key, chain = paths.key.read_bytes(), paths.cert.read_bytes()
        mtls = grpc.ssl_server_credentials([(key, chain)], root_certificates=ca.ca_pem(), require_client_auth=True)
        tls = grpc.ssl_server_credentials([(key, chain)], root_certificates=None, require_client_auth=False)
        per_address, per_network = cfg.max_connections_per_address, cfg.max_connections_per_network
        if per_address or per_network:
            # Per-address caps on the agent listener: gRPC has none, so the guard accepts and relays (it
            # costs the master some CPU per byte of catalogs and files, hence off unless configured).
            agent_guard = ConnectionGuard(*_host_port(cfg.listen), upstream=("127.0.0.1", 0),
                                          max_connections=caps.agents, max_per_address=per_address or caps.agents,
                                          max_per_network=per_network or caps.agents)
            agent_guard.upstream = ("127.0.0.1", server.add_secure_port("127.0.0.1:0", mtls))
            self.port = agent_guard.start() if agent_guard.upstream[1] else 0
            self._agent_guard = agent_guard
        else:
            self.port = server.add_secure_port(cfg.listen, mtls)
        guard.upstream = ("127.0.0.1", ca_server.add_secure_port("127.0.0.1:0", tls))
        if not self.port or not guard.upstream[1]:
            raise OSError(f"cannot listen on {cfg.listen}")
        self.ca_port = guard.start()
        self._guard = guard
        return server, ca_server

    @property
    def address(self) -> str:
        return f"{self.config.listen.rpartition(':')[0]}:{self.port}"

    @property
    def ca_address(self) -> str:
        return f"{self.config.ca_address().rpartition(':')[0]}:{self.ca_port}"

    def _rollout_owner(self) -> str:
        """This master's id in rollout leases: stable for one installation, so a restarted master takes its
        own rollouts' leases back at once; another master sharing the store waits for the lease to expire."""
        import socket

        cfg = self.config
        return cfg.rollout_owner or f"{cfg.certname}@{socket.gethostname()}:{Path(cfg.vardir).resolve()}"

    def _context(self, ca: CertificateAuthority, envs: Environments, classifier: Classifier,
                 pool: CompilePool) -> MasterContext:
        """The master's context with all its collaborators, made here and nowhere else: the store, the live
        hub (connected agents), the rollout controller and the Prometheus counters."""
        from master.dashboard import Metrics
        from master.dashboard.rollouts import ControllerRolloutSource
        from master.rollout import Rollouts

        cfg = self.config
        hub = LiveHub(heartbeat_seconds=cfg.live_heartbeat_seconds, timeout=cfg.live_timeout,
                      max_agents=cfg.live_max_agents)
        # several masters on one PostgreSQL store: who holds which channel, and notifications between them
        notifier = Notifier(self.store, origin=self._rollout_owner())
        channels = LiveChannels(self.store, master=notifier.origin, fresh_seconds=cfg.live_timeout) \
            if notifier.postgres else None
        if channels is not None:
            hub.connect_listeners.append(channels.opened)
            hub.disconnect_listeners.append(channels.closed)
        rollouts = Rollouts(self.store, dispatcher=FleetDispatcher(hub, notifier, channels),
                            owner=self._rollout_owner(), lease_seconds=cfg.rollout_lease_seconds)
        rollouts.agents.fresh_seconds = cfg.live_timeout  # an agent's word lasts while its channel does
        metrics = Metrics(self.store, rollouts=ControllerRolloutSource(rollouts))
        ctx = MasterContext(cfg, ca, self.store, envs, classifier, pool, rollouts=rollouts, live=hub, metrics=metrics,
                            notifier=notifier)
        self._channels = channels
        notifier.subscribe("catalogs", lambda notice: self._catalogs_changed(ctx, notice))
        notifier.on_reconnect(lambda: service.invalidate_catalogs(ctx, None))
        deployer = getattr(self, "deployer", None)
        if deployer is not None:
            deployer.notifier = notifier

        def pending_run(node: str) -> Command | None:
            expected = rollouts.expected_run(node)
            return None if expected is None else Command("run", expected[1], expected[0])

        hub.on_heartbeat = lambda node: service.record_contact(ctx, node)
        hub.on_connect = pending_run
        ctx.tasks = self._task_dispatcher(ctx, hub)
        ctx.tasks.listen(notifier)
        return ctx

    def _catalogs_changed(self, ctx: MasterContext, notice: Notice) -> None:
        """A ``catalogs`` notification: code deployed or exports changed on some master (maybe this one)."""
        env = notice["env"]
        if not isinstance(env, str):
            return
        name = None if env == "*" else env
        deployer = getattr(self, "deployer", None)
        elsewhere = ctx.notifier is not None and notice.origin != ctx.notifier.origin
        if notice["why"] == "deploy" and elsewhere and deployer is not None and deployer.remote is not None:
            def fetch_then_flush() -> None:  # the other master fetched the new head into its own mirror
                deployer.fetch()
                service.invalidate_catalogs(ctx, name)

            threading.Thread(target=fetch_then_flush, name="deploy-fetch", daemon=True).start()
            return
        service.invalidate_catalogs(ctx, name, code=notice["why"] != "exports")

    def _task_dispatcher(self, ctx: MasterContext, hub: LiveHub) -> Any:
        """Tasks: this master sends the queued runs of the agents connected to it (master.tasks)."""
        from master.tasks.dispatch import TaskDispatcher
        from master.tasks.service import payload_for
        from master.tasks.store import TaskStore

        cfg = self.config
        return TaskDispatcher(TaskStore(ctx.store), hub, owner=self._rollout_owner(),
                              payload=lambda run: payload_for(ctx, run), fleet_limit=cfg.task_max_concurrent,
                              group_limits=ctx.classifier.task_limits, poll_seconds=cfg.task_poll_seconds)

    def _start_release_control(self, ctx: MasterContext) -> None:
        """The rollout controller, ticked by a background thread, and the retention loop."""
        cfg = self.config
        store = ctx.store
        rollouts = ctx.rollouts
        owner = self._rollout_owner()
        self._ticking = threading.Event()
        self._ticker = threading.Thread(target=self._tick_rollouts, args=(rollouts, self._ticking),
                                        name="rollouts", daemon=True)
        self._ticker.start()
        from master.retention import Retention

        self.retention = Retention(store, cfg, owner)
        threading.Thread(target=self.retention.loop, args=(self._ticking,), name="retention", daemon=True).start()
        if ctx.notifier is not None:
            ctx.notifier.start()
        if self._channels is not None and ctx.live is not None:
            from master.notify import keep_channels_fresh

            self._fresh = threading.Thread(target=keep_channels_fresh, name="live-channels", daemon=True,
                                           args=(ctx.live, self._channels, self._ticking, cfg.live_heartbeat_seconds))
            self._fresh.start()
        if ctx.tasks is not None:
            threading.Thread(target=ctx.tasks.loop, args=(self._ticking,), name="tasks", daemon=True).start()

    def _start_dashboard(self, ctx: MasterContext, paths: Any) -> None:
        """Prometheus counters always; the HTTPS dashboard (and /metrics) when dashboard_listen is set.
        Viewers log in with an operator certificate from this CA or a token the admin issued."""
        from master.dashboard import TokenStore, create_app, serve
        from master.dashboard.rollouts import ControllerRolloutSource

        cfg = self.config
        source = ControllerRolloutSource(ctx.rollouts) if ctx.rollouts is not None else None
        self.dashboard: Any = None
        if not cfg.dashboard_listen:
            return
        tokens = TokenStore(cfg.dashboard_tokens_path)
        # the CA's revoked serials are checked on every request: revocation needs no restart
        app = create_app(ctx.store, metrics=ctx.metrics, rollouts=source, tokens=tokens,
                         revoked_serials=ctx.ca.revoked_serials, deployer=getattr(self, "deployer", None),
                         node_ttl=cfg.node_ttl)
        app.master_name = cfg.certname  # PuppetDB's producer
        host, _, port = cfg.dashboard_listen.rpartition(":")
        self.dashboard = serve(app, host, int(port), certfile=paths.cert, keyfile=paths.key,
                               cafile=paths.ca, crlfile=ctx.ca.crl_path)

    def _start_puppet_api(self, ctx: MasterContext, paths: Any) -> None:
        """Puppet's HTTP API for unmodified Puppet agents (:mod:`master.puppetapi`) when puppet_listen is set:
        the same CA, store and use cases as the gRPC listener."""
        from master.limits import RateLimit
        from master.puppetapi import Limits, PuppetAPIServer

        cfg = self.config
        self.puppet_api: Any = None
        listen, auto = cfg.puppet_api_address()
        if listen is None:
            return
        host, _, port = listen.rpartition(":")
        limits = Limits(max_connections=cfg.puppet_max_connections,
                        max_per_address=cfg.puppet_max_connections_per_address,
                        handshake_timeout=cfg.handshake_timeout, keepalive_timeout=cfg.puppet_keepalive_timeout,
                        max_body=cfg.max_message_bytes, threads=cfg.max_threads,
                        rate_limit=RateLimit.parse(cfg.rate_limit), max_report_bytes=cfg.max_report_bytes)
        try:
            self.puppet_api = PuppetAPIServer(ctx, host.strip("[]"), int(port), certfile=paths.cert,
                                              keyfile=paths.key, cafile=paths.ca, limits=limits,
                                              budget=getattr(self, "_budget", None))
            self.puppet_api.start()
        except OSError as exc:
            self.puppet_api = None
            if not auto:
                raise
            # on by default, so a port already taken is no reason not to serve Bunraku's own agents
            log.warning("Puppet's HTTP API is not served: %s; set puppet_listen to another HOST:PORT, or to off",
                        exc)

    def _tick_rollouts(self, rollouts: Any, stop: threading.Event) -> None:
        # A master that just started has heard from nobody yet: give the agents one live_timeout to
        # reconnect before it drives (and would defer as offline) the rollouts it resumes.
        if stop.wait(self.config.live_timeout):
            return
        while not stop.wait(self.config.rollout_tick_seconds):
            try:
                rollouts.tick()
            except Exception as exc:  # noqa: BLE001 - the store may be briefly unavailable; try again
                log.warning("rollouts: tick failed: %s", exc)

    def stop(self, grace: float = 2.0) -> None:
        puppet_api = getattr(self, "puppet_api", None)
        if puppet_api is not None:
            puppet_api.stop()
            self.puppet_api = None
        dashboard = getattr(self, "dashboard", None)
        if dashboard is not None:
            dashboard.shutdown()
            self.dashboard = None
        deployer = getattr(self, "deployer", None)
        if deployer is not None:
            deployer.stop()
            self.deployer = None
        ticking = getattr(self, "_ticking", None)
        if ticking is not None:
            ticking.set()
            self._ticker.join(timeout=10)
            fresh = getattr(self, "_fresh", None)
            if fresh is not None:
                fresh.join(timeout=10)
        if self.ctx is not None and self.ctx.notifier is not None:
            self.ctx.notifier.close()
        if self.ctx is not None and self.ctx.live is not None:
            self.ctx.live.close()
        if self._guard is not None:
            self._guard.stop()
            self._guard = None
        if self._agent_guard is not None:
            self._agent_guard.stop()
            self._agent_guard = None
        if self._ca_server is not None:
            self._ca_server.stop(grace).wait()
            self._ca_server = None
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
        if self._payload_threads is not None:
            self._payload_threads.shutdown(wait=False, cancel_futures=True)
            self._payload_threads = None
        if self.store is not None:  # no request is left to defer a write: commit what waits
            if not self.store.stop_write_behind():
                log.warning("store: bookkeeping writes not committed at stop stay in %s for the next start",
                            journal_dir(self.config))
        if self.ctx is not None:
            self.ctx.pool.shutdown()

    def wait(self) -> None:
        if self._server is not None:
            self._server.wait_for_termination()


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)
