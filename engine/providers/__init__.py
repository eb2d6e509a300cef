"""Providers: read the current state and change only what differs. Importing registers them."""

from engine.providers import (  # noqa: F401
    cron,
    exec,
    file,
    healthcheck,
    host,
    mailalias,
    mount,
    notify,
    package,
    resources,
    service,
    ssh_authorized_key,
    sshkey,
    user,
)
