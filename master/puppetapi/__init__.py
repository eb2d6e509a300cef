"""Puppet's HTTP API on the master, for unmodified Puppet agents: the CA (``/puppet-ca/v1``), and node,
catalog, file serving, pluginsync and reports (``/puppet/v3``), over HTTPS with client certificates from
the master's own CA. A thin adapter: :mod:`master.puppetapi.app` translates requests into calls of
:mod:`master.service` (the same use cases and the same policy as the gRPC servicer) and answers in
Puppet's formats; :mod:`master.puppetapi.server` is the listener (aiohttp); the Puppet file-serving
mounts are :mod:`master.puppetapi.fileserving`."""

from master.puppetapi.server import Limits, PuppetAPIServer

__all__ = ["Limits", "PuppetAPIServer"]
