"""The built-in functions, one module per family, each declaring its signatures through
:mod:`dsl.functions.contract` (checked in one place, as Puppet's 4.x function API checks them):

- :mod:`.catalog` — declaring classes and resources, tags, privacy, failing and logging
- :mod:`.iteration` — each, map, filter, reduce ... and the flow functions
- :mod:`.strings` — case, trimming, splitting, formatting, regular expressions, quoting
- :mod:`.collection` — arrays and hashes, digging, merging, stdlib's array and hash helpers
- :mod:`.numbers` — arithmetic helpers and ordering (compare, versioncmp)
- :mod:`.typeconv` — types and conversions (type, assert_type, new, stdlib's booleans)
- :mod:`.encoding` — JSON, YAML, TOML, digests, base64, seeded randomness, password hashes, time
- :mod:`.templates` — EPP, ERB and Jinja2 templates, module files
- :mod:`.lookup` — Hiera lookups, variables and facts
- :mod:`.legacy` — stdlib's deprecated is_* and validate_* functions, validate_legacy
- :mod:`.network` — IP addresses and the node's interfaces
- :mod:`.modules` — ports of the Ruby functions other Debian modules ship

:mod:`.ports` loads the Python ports a module may ship of its own functions (docs/FUNCTIONS.md).
"""

from __future__ import annotations

from . import (  # noqa: F401 - each family registers its functions on import
    catalog,
    collection,
    encoding,
    iteration,
    legacy,
    lookup,
    modules,
    network,
    numbers,
    strings,
    templates,
    typeconv,
)
from .contract import FUNCTIONS, Call, Function, function

__all__ = ["FUNCTIONS", "Call", "Function", "function"]
