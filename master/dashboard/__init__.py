"""The fleet view, built into the master: a web dashboard over HTTPS, a JSON API and Prometheus metrics.

Pages (server-rendered HTML, inline CSS and SVG charts, no script, nothing loaded from elsewhere):
overview (nodes by status, unresponsive nodes, the last day's failures and changes), nodes (filtered,
paginated), a node (facts, classes, catalog history, recent reports, run time and changes over time), a
report (events, file diffs, logs), reports (by node, group, status, time range; paginated by cursor),
statistics (fleet, group or node over 24 h / 7 d / 30 d: runs, run time, corrective against intentional
changes, failures, compile time), search by fact, rollouts. JSON under /api/, metrics at /metrics.

Who may look: a holder of an operator certificate from the master's CA (mutual TLS; the certificate is
optional in the handshake; a revoked one is refused from the next request on), or of a token the admin
issued (``TokenStore.issue``), given as ``Authorization: Bearer``, ``?token=`` once (it becomes a cookie)
or on the login page. What they see follows the role and groups of the certificate or token, by the
policy the gRPC service applies (``master.access``): a viewer limited to groups sees only their nodes.

The master wires it with::

    metrics = Metrics(store)                      # call metrics.catalog_compiled(s), .report_received(status)
    app = create_app(store, metrics=metrics, tokens=TokenStore(ssldir / "dashboard-tokens.json"),
                     revoked_serials=ca.revoked_serials)
    server = serve(app, "0.0.0.0", 8141, certfile=..., keyfile=..., cafile=..., crlfile=...)
    ...
    server.shutdown()
"""

from __future__ import annotations

from master.dashboard.app import Dashboard, create_app, viewer_from_certificate
from master.dashboard.metrics import Metrics
from master.dashboard.rollouts import EmptyRolloutSource, RolloutSource, StaticRolloutSource
from master.dashboard.server import ConnectionLimits, DashboardServer, serve, tls_context
from master.dashboard.tokens import TokenError, TokenStore, Viewer

__all__ = [
    "ConnectionLimits",
    "Dashboard",
    "DashboardServer",
    "EmptyRolloutSource",
    "Metrics",
    "RolloutSource",
    "StaticRolloutSource",
    "TokenError",
    "TokenStore",
    "Viewer",
    "create_app",
    "serve",
    "tls_context",
    "viewer_from_certificate",
]
