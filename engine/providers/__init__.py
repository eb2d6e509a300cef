"""Providers: read the current state and change only what differs. Importing registers them."""

from engine.providers import cron, exec, file, notify, package, resources, service, user  # noqa: F401
