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
    server = serve(app, "0.0.0.0", 8443, certfile=..., keyfile=..., cafile=..., crlfile=...)
    ...
    server.shutdown()
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: name -> the module that defines it; imported on first use, so that `bunraku dashboard token-issue`
#: (which needs only the token file) does not load the web server and the store
_EXPORTS = {
    "Dashboard": "app", "create_app": "app", "viewer_from_certificate": "app",
    "Metrics": "metrics",
    "EmptyRolloutSource": "rollouts", "RolloutSource": "rollouts", "StaticRolloutSource": "rollouts",
    "ConnectionLimits": "server", "DashboardServer": "server", "serve": "server", "tls_context": "server",
    "TokenError": "tokens", "TokenStore": "tokens", "Viewer": "tokens",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"master.dashboard.{module}"), name)
    globals()[name] = value
    return value
