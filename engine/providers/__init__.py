"""Providers: read the current state and change only what differs. Each module registers its providers when
imported; :mod:`engine.registry` imports those a run needs (``BUILTIN_MODULES``)."""
