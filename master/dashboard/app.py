"""The dashboard's WSGI application: who is asking (operator certificate or token), which route answers,
what the viewer may see (its role and groups, by the policy the gRPC service applies: ``master.access``), and
the shared things routes need (store, caches, templates, clock)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import jinja2
from cryptography import x509
from cryptography.x509.oid import NameOID

from master.access import certificate_role, may_read
from master.dashboard import api, pages, queries, tasks
from master.dashboard.http import (
    HTTPError,
    Request,
    Response,
    UnsafeHeader,
    json_response,
    redirect,
    safe_next,
    with_query,
)
from master.dashboard.metrics import CONTENT_TYPE, Metrics
from master.dashboard.rollouts import EmptyRolloutSource, RolloutSource
from master.dashboard.tokens import TokenError, TokenStore, Viewer
from master.puppetdb.routes import ROUTES as PUPPETDB_ROUTES
from master.store import NODE_STATUSES, NodeStatus, Store, StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Puppet's pp_cli_auth extension (1.3.6.1.4.1.34380.1.3.39): the CA puts it on operator certificates only
#: (wire/pki.py OPERATOR_OID), so an agent's certificate, signed by the same CA, does not log in.
OPERATOR_OID = "1.3.6.1.4.1.34380.1.3.39"
#: Serials of certificates the CA has revoked (the CA re-reads its CRL when the file changes).
RevokedSerials = Callable[[], Collection[int]]
#: Where the server puts the client certificate it verified (DER); a client cannot set this key.
PEER_CERT_KEY = "bunraku.peer_cert"
COOKIE = "bunraku_token"
COOKIE_MAX_AGE = 12 * 3600

Handler = Callable[..., Response]


@dataclass(frozen=True, slots=True)
class Route:
    pattern: re.Pattern[str]
    handler: Handler
    methods: tuple[str, ...] = ("GET", "HEAD")
    public: bool = False
    machine: bool = False  # answers 401 (not a redirect to the login page) when nobody is logged in


def _route(path: str, handler: Handler, **options: Any) -> Route:
    return Route(re.compile(path), handler, **options)  # fullmatch: "/nodes\n" is no route


ROUTES: list[Route] = [
    _route("/", pages.overview),
    _route("/nodes", pages.node_list),
    _route("/node/(?P<name>[^/]+)", pages.node_page),
    _route("/reports", pages.report_list),
    _route("/report/(?P<report_id>[0-9]+)", pages.report_page),
    _route("/search", pages.search),
    _route("/stats", pages.stats),
    _route("/rollouts", pages.rollout_list),
    _route("/rollout/(?P<rollout_id>[^/]+)", pages.rollout_page),
    _route("/tasks", tasks.task_list),
    _route("/task/(?P<task_id>[^/]+)", tasks.task_page),
    _route("/login", pages.login, methods=("GET", "HEAD", "POST"), public=True),
    _route("/logout", pages.logout, methods=("POST",), public=True),
    _route("/metrics", lambda dash, req: dash.fleet_metrics(req), machine=True),
    _route("/api/whoami", api.whoami, machine=True),
    _route("/api/nodes", api.nodes, machine=True),
    _route("/api/node/(?P<name>[^/]+)", api.node, machine=True),
    _route("/api/reports", api.reports, machine=True),
    _route("/api/report/(?P<report_id>[0-9]+)", api.report, machine=True),
    _route("/api/stats", api.stats, machine=True),
    _route("/api/search", api.search, machine=True),
    _route("/api/rollouts", api.rollouts, machine=True),
    _route("/api/rollout/(?P<rollout_id>[^/]+)", api.rollout, machine=True),
    _route("/api/tasks", tasks.api_tasks, machine=True),
    _route("/api/task/(?P<task_id>[^/]+)", tasks.api_task, machine=True),
    _route("/deploy", api.deploy, methods=("POST",), machine=True),
]
# PuppetDB's query API (Puppetboard, pypuppetdb), behind the same authentication and group limits
ROUTES += [_route(path, handler, methods=methods, machine=True) for path, handler, methods in PUPPETDB_ROUTES]


def parse_certificate(der: bytes | None) -> x509.Certificate | None:
    if not der:
        return None
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def viewer_from_certificate(der: bytes | None) -> Viewer | None:
    """The operator named by a client certificate the TLS layer has verified against the CA, with the
    role and groups the CA gave it; None for no certificate or a certificate without the operator
    extension (an agent's). Revocation is the caller's to check (``Dashboard`` does, per request)."""
    cert = parse_certificate(der)
    return None if cert is None else _viewer_of(cert)


def _viewer_of(cert: x509.Certificate) -> Viewer | None:
    role = certificate_role(cert)
    if role is None:
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = str(names[0].value) if names else "operator"
    return Viewer(name=name, role=role.role, method="certificate", groups=role.groups)


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    """Every node's status at one moment (one store query), with what pages derive from it."""

    statuses: list[NodeStatus]
    by_name: dict[str, NodeStatus]
    counts: dict[str, int]
    groups: list[str]
    environments: list[str]
    taken_at: datetime

    @classmethod
    def of(cls, statuses: list[NodeStatus], taken_at: datetime) -> FleetSnapshot:
        tally = Counter(s.status for s in statuses)
        return cls(statuses=statuses, by_name={s.name: s for s in statuses},
                   counts={status: tally.get(status, 0) for status in NODE_STATUSES},
                   groups=sorted({s.group for s in statuses if s.group}),
                   environments=sorted({s.environment for s in statuses if s.environment}), taken_at=taken_at)


class Dashboard:
    """The WSGI application. Thread-safe: the server calls it from many threads."""

    def __init__(self, store: Store, *, metrics: Metrics | None = None, rollouts: RolloutSource | None = None,
                 tokens: TokenStore | None = None, revoked_serials: RevokedSerials | None = None,
                 now: Callable[[], datetime] | None = None,
                 unresponsive_after: timedelta = timedelta(hours=1), cache_seconds: float = 10.0,
                 settled_cache_seconds: float = 3600.0, stats_cache_seconds: float = 300.0,
                 page_size: int = 50, title: str = "Bunraku", deployer: Any = None, node_ttl: float = 0.0) -> None:
        self.store = store
        #: the store's retention setting: PuppetDB's API tells expired nodes from deactivated ones by it
        self.node_ttl = node_ttl
        #: the master's code deployer (master.deploy.Deployer) when it fetches from a git server
        self.deployer = deployer
        self.rollouts: RolloutSource = rollouts if rollouts is not None else EmptyRolloutSource()
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.metrics = metrics if metrics is not None else Metrics(
            store, rollouts=self.rollouts, unresponsive_after=unresponsive_after, now=self.now)
        if self.metrics.store is None:  # the master's Metrics, made before the store was at hand
            self.metrics.store = store
        if rollouts is not None and isinstance(self.metrics.rollouts, EmptyRolloutSource):
            self.metrics.rollouts = rollouts
        self.tokens = tokens
        # asked on every request with a certificate: a certificate revoked while the master runs stops
        # working at once, also on connections and TLS sessions opened before
        self.revoked_serials = revoked_serials
        self.unresponsive_after = unresponsive_after
        self.cache_seconds = cache_seconds
        # past hours and days do not change (short of a report spooled for longer than this): their figures
        # are kept this long, and only the open bucket is read again
        self.settled_cache_seconds = settled_cache_seconds if cache_seconds > 0 else 0.0
        # the whole-period tables (groups, top nodes) read every run of the period: kept longer
        self.stats_cache_seconds = stats_cache_seconds if cache_seconds > 0 else 0.0
        self._buckets: dict[tuple[Any, ...], dict[datetime, tuple[float, dict[str, Any]]]] = {}
        self.page_size = page_size
        self.title = title
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("master.dashboard", "templates"),
            autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        pages.install_filters(self.templates)
        self._cache: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- shared data -------------------------------------------------------------------------------------------

    def cached(self, key: Any, compute: Callable[[], T], *, seconds: float | None = None) -> T:
        """``compute()``, reused for ``cache_seconds`` (fleet-wide figures move slowly; pages stay fast)."""
        ttl = self.cache_seconds if seconds is None else seconds
        if ttl <= 0:
            return compute()
        now = time.monotonic()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                self._cache.move_to_end(key)
                return hit[1]  # type: ignore[no-any-return]
        value = compute()
        with self._cache_lock:
            self._cache[key] = (now + ttl, value)
            while len(self._cache) > 256:
                self._cache.popitem(last=False)
        return value

    def run_series(self, *, since: datetime, until: datetime, bucket: str, node: str | None = None,
                   group: str | None = None, groups: frozenset[str] | None = None) -> list[dict[str, Any]]:
        """``queries.run_series`` over whole buckets (the first one starts at ``since``'s hour or day), with
        settled buckets reused: a month of statistics reads only the hours not yet seen. ``groups``: only
        the runs of nodes in these groups (a limited viewer's; None: every node)."""
        step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
        starts = queries.bucket_keys(since, until, bucket)
        if self.settled_cache_seconds <= 0:
            return queries.run_series(self.store, since=starts[0], until=until, bucket=bucket, node=node,
                                      group=group, groups=groups)
        key = (bucket, node, group, groups)
        clock = time.monotonic()
        with self._cache_lock:
            known = self._buckets.setdefault(key, {})
            for old in [s for s, (expires, _) in known.items() if expires <= clock or s < starts[0] - timedelta(days=32)]:
                del known[old]
            missing = [s for s in starts if s not in known]
        if missing:
            fresh = queries.run_series(self.store, since=missing[0], until=until, bucket=bucket, node=node,
                                       group=group, groups=groups)
            settled_before = self.now() - timedelta(minutes=5)
            with self._cache_lock:
                for entry in fresh:
                    settled = entry["start"] + step <= settled_before
                    ttl = self.settled_cache_seconds if settled else self.cache_seconds
                    known[entry["start"]] = (clock + ttl, entry)
                result = {s: entry for s, (_, entry) in known.items()}
                for entry in fresh:  # this call's answer, even if nothing may be kept
                    result[entry["start"]] = entry
            return [result[s] for s in starts]
        with self._cache_lock:
            return [known[s][1] for s in starts]

    def fleet(self, viewer: Viewer | None = None) -> FleetSnapshot:
        """Every node's status; for ``viewer``, only the nodes it may see (a group-limited viewer: the nodes of
        its groups, nothing else; counts, groups and environments follow)."""
        def take() -> FleetSnapshot:
            now = self.now()
            return FleetSnapshot.of(self.store.node_statuses(unresponsive_after=self.unresponsive_after, now=now),
                                    now)

        whole = self.cached("fleet", take)
        if viewer is None or viewer.groups is None:
            return whole
        access = viewer.access
        return self.cached(("fleet", viewer.groups, whole.taken_at), lambda: FleetSnapshot.of(
            [s for s in whole.statuses if may_read(access, s.group)], whole.taken_at))

    # -- what a viewer may see (the policy itself is master.access's, shared with the gRPC service) --------------

    @staticmethod
    def scope(request: Request) -> frozenset[str] | None:
        """The groups the request's viewer is limited to (None: every group), for queries over runs."""
        return request.viewer.groups if request.viewer is not None else frozenset()

    def may_see_node(self, request: Request, name: str) -> bool:
        """Whether the viewer may see node ``name``. A group-limited viewer sees the nodes the store puts in
        its groups; everything else answers as a node that does not exist."""
        viewer = request.viewer
        if viewer is None:
            return False
        return viewer.groups is None or name in self.fleet(viewer).by_name

    def may_see_rollout(self, request: Request, rollout: dict[str, Any]) -> bool:
        """A rollout of a group the viewer's groups cover (one over the whole fleet: every group only)."""
        return request.viewer is not None and may_read(request.viewer.access, rollout.get("group"))

    def shown_rollout(self, request: Request, rollout: dict[str, Any]) -> dict[str, Any]:
        """``rollout`` with, for a group-limited viewer, only the nodes it may see in its waves."""
        viewer = request.viewer
        if viewer is None or viewer.groups is None:
            return rollout
        visible = self.fleet(viewer).by_name
        if "waves" not in rollout:
            return rollout
        waves = [{**wave, "nodes": [n for n in wave.get("nodes") or [] if n.get("name") in visible]}
                 for wave in rollout.get("waves") or []]
        shown = {**rollout, "waves": waves}
        if "nodes" in rollout:
            shown["nodes"] = [n for n in rollout["nodes"] if n.get("name") in visible]
        if "timeline" in rollout:
            shown["timeline"] = [e for e in rollout["timeline"] if not e.get("node") or e["node"] in visible]
        if "failures" in rollout:
            shown["failures"] = [f for f in rollout["failures"] if f.get("node") in visible]
        if "progress" in rollout:  # counted again over what this viewer sees
            from master.dashboard.rollouts import rollout_progress

            shown["progress"] = rollout_progress({"waves": waves})
        return shown

    def fleet_metrics(self, request: Request) -> Response:
        """Prometheus metrics: fleet-wide figures, so for viewers of every group only."""
        if request.viewer is None or request.viewer.groups is not None:
            raise HTTPError(403, "the metrics cover the whole fleet; a viewer limited to groups cannot read them")
        return Response(200, self.metrics.render(), CONTENT_TYPE)

    def render(self, template: str, request: Request, http_status: int = 200, **context: Any) -> Response:
        page = self.templates.get_template(template).render(
            viewer=request.viewer, title=self.title, request_path=request.path, now=self.now(),
            store_problem=self.store.write_problem, **context)
        return Response(http_status, page.encode("utf-8"))

    # -- authentication ----------------------------------------------------------------------------------------

    def _verify_token(self, token: str) -> Viewer | None:
        if self.tokens is None:
            return None
        try:
            return self.tokens.verify(token)
        except TokenError as exc:
            log.error("dashboard: %s", exc)
            return None

    def _revoked(self, cert: x509.Certificate) -> bool:
        """Whether the CA has revoked ``cert`` (an unreadable CRL counts as revoked: a certificate that
        cannot be checked does not log in)."""
        if self.revoked_serials is None:
            return False
        try:
            return cert.serial_number in self.revoked_serials()
        except (OSError, ValueError) as exc:
            log.error("dashboard: cannot read the CA's revocation list: %s", exc)
            return True

    def _authenticate(self, request: Request, route: Route) -> Response | None:
        """Set ``request.viewer``; a response when the request must end here (refused, or redirected)."""
        cert = parse_certificate(request.environ.get(PEER_CERT_KEY))
        if cert is not None and self._revoked(cert):
            # a revoked certificate opens nothing, not even with a token alongside
            log.warning("dashboard: revoked certificate refused for %s %s from %s", request.method, request.path,
                        request.environ.get("REMOTE_ADDR", "?"))
            return self._refuse(request, route, "this certificate has been revoked", status=403)
        viewer = _viewer_of(cert) if cert is not None else None
        if viewer is not None:
            request.viewer = viewer
            return None
        presented: str | None = None
        header = request.environ.get("HTTP_AUTHORIZATION", "")
        if header[:7].lower() == "bearer ":
            presented = header[7:].strip()
        elif request.environ.get("HTTP_X_AUTHENTICATION") and route.machine:  # PuppetDB's clients send this
            presented = request.environ["HTTP_X_AUTHENTICATION"].strip()
        elif request.query.get("token"):
            presented = request.query["token"]
        elif request.cookies.get(COOKIE):
            presented = request.cookies[COOKIE]
        if presented is not None:
            viewer = self._verify_token(presented)
            if viewer is None and route.public:  # a stale cookie must not keep anyone from the login page
                return None
            if viewer is None:
                log.warning("dashboard: token refused for %s %s from %s", request.method, request.path,
                            request.environ.get("REMOTE_ADDR", "?"))
                return self._refuse(request, route, "token refused", clear_cookie=COOKIE in request.cookies)
            request.viewer = viewer
            if "token" in request.query and not route.machine and request.method in ("GET", "HEAD"):
                # keep the token out of the address bar and history: a cookie from now on
                rest = {k: v for k, v in request.query.items() if k != "token"}
                # the path as the browser sent it, decoded ("/%5Cevil.example.com" is "/\evil.example.com"):
                # checked like any redirect target, so that it stays on this site
                return redirect(safe_next(with_query(request.path, **rest)), 303,
                                [self.login_cookie(request, presented)])
            return None
        if route.public:
            return None
        return self._refuse(request, route, None)

    def _refuse(self, request: Request, route: Route, reason: str | None, *, clear_cookie: bool = False,
                status: int = 401) -> Response:
        headers = [self.logout_cookie(request)] if clear_cookie else []
        if route.machine:
            response = json_response({"error": reason or "authentication required"}, status)
            if status == 401:
                response.headers.append(("WWW-Authenticate", 'Bearer realm="bunraku"'))
            response.headers += headers
            return response
        if status == 403:
            return self.render("error.html", request, 403, status=403, message=reason or "forbidden")
        if reason is None and request.method in ("GET", "HEAD"):
            return redirect(with_query("/login", next=request.full_path), 302)
        response = self.render("login.html", request, 401, error=reason, next=safe_next(request.full_path))
        response.headers += headers
        return response

    def login_cookie(self, request: Request, token: str) -> tuple[str, str]:
        secure = "; Secure" if request.secure else ""
        return ("Set-Cookie", f"{COOKIE}={token}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Strict{secure}")

    def logout_cookie(self, request: Request) -> tuple[str, str]:
        secure = "; Secure" if request.secure else ""
        return ("Set-Cookie", f"{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}")

    # -- WSGI --------------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        for route in ROUTES:
            match = route.pattern.fullmatch(request.path)
            if match is None:
                continue
            refused = self._authenticate(request, route)
            if refused is not None:
                return refused
            if request.method not in route.methods:
                return Response(405, b"method not allowed", "text/plain; charset=utf-8",
                                [("Allow", ", ".join(route.methods))])
            self.store.settle(1.0)  # a viewer sees the writes the master still holds behind its requests
            try:
                return route.handler(self, request, **match.groupdict())
            except HTTPError as exc:
                if route.machine:
                    return json_response({"error": exc.message}, exc.status)
                return self.render("error.html", request, exc.status, status=exc.status, message=exc.message)
            except StoreError as exc:
                log.error("dashboard: %s %s: %s", request.method, request.path, exc)
                if route.machine:
                    return json_response({"error": "store unavailable"}, 503)
                return self.render("error.html", request, 503, status=503, message="the store is unavailable")
        # unknown paths: say so only to someone logged in
        refused = self._authenticate(request, _route(".*", pages.login, machine=request.path.startswith("/api/")))
        if refused is not None:
            return refused
        if request.path.startswith("/api/"):
            return json_response({"error": "no such endpoint"}, 404)
        return self.render("error.html", request, 404, status=404, message=f"no page at {request.path}")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        request = Request.from_environ(environ)
        try:
            response = self.handle(request)
        except Exception:
            log.exception("dashboard: %s %s failed", request.method, request.path)
            response = Response(500, b"internal error (see the master's log)", "text/plain; charset=utf-8")
        try:
            headers = response.wsgi_headers()
        except UnsafeHeader as exc:
            log.error("dashboard: %s %s: %s", request.method, request.path, exc)
            response = Response(500, b"internal error (see the master's log)", "text/plain; charset=utf-8")
            headers = response.wsgi_headers()
        self.metrics.dashboard_request(response.status)
        log.debug("dashboard: %s %s -> %d in %.1f ms (%s)", request.method, request.path, response.status,
                  (time.perf_counter() - started) * 1000, request.viewer.name if request.viewer else "-")
        start_response(response.status_line, headers)
        return [b"" if request.method == "HEAD" else response.body]


def create_app(store: Store, *, metrics: Metrics | None = None, rollouts: RolloutSource | None = None,
               tokens: TokenStore | None = None, revoked_serials: RevokedSerials | None = None,
               **options: Any) -> Dashboard:
    """The dashboard as a WSGI application over ``store``. ``metrics``: the master's Metrics (one is made
    when absent); ``rollouts``: the release-control source (none yet: empty); ``tokens``: the token file
    for viewers without an operator certificate (None: certificates only); ``revoked_serials``: the CA's
    revoked serials, asked per request (the master's ``CertificateAuthority.revoked_serials``). ``options``
    go to Dashboard (``now``, ``unresponsive_after``, ``cache_seconds``, ``page_size``, ``title``)."""
    return Dashboard(store, metrics=metrics, rollouts=rollouts, tokens=tokens, revoked_serials=revoked_serials,
                     **options)


__all__ = ["Dashboard", "FleetSnapshot", "create_app", "safe_next", "viewer_from_certificate"]
