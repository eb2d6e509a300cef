"""Resource types: pure validation and normalisation of parameters. Importing registers them."""

from engine.types import cron, exec, file, notify, package, resources, service, user  # noqa: F401
