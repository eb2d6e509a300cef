"""Resource types: pure validation and normalisation of parameters. Each module registers its types when
imported; :mod:`engine.registry` imports those a run needs (``BUILTIN_MODULES``)."""
