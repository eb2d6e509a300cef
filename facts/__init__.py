"""Bunraku facts: Facter-compatible fact collection (core, legacy, external and custom facts).

``collect_facts()`` returns this host's facts; ``query(facts, "os.release.major")`` reads one;
``@fact("name", needs=(...))`` declares a custom fact in a module's ``facts/*.py``.
"""

from facts.api import collect_facts
from facts.custom import fact
from facts.query import query

__all__ = ["collect_facts", "fact", "query"]
