"""Resource types: pure validation and normalisation of parameters. Importing registers them."""

from engine.types import (  # noqa: F401
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
