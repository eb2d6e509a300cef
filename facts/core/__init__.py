"""The core collectors. Importing this package registers them all in ``facts.registry.COLLECTORS``."""

from facts.core import augeas, hardware, network, operating_system, packages, ssh, storage, system, virtual

__all__ = ["augeas", "hardware", "network", "operating_system", "packages", "ssh", "storage", "system", "virtual"]
