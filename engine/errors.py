"""The engine's errors: one root, one subclass per stage."""

from __future__ import annotations


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""


class ValidationError(EngineError):
    """A resource's parameters are invalid (raised by a type's pure validation)."""


class ProviderError(EngineError):
    """A provider could not read or change the system."""


class GraphError(EngineError):
    """The resource graph is inconsistent (a cycle, a relationship to a missing resource)."""


class RegistryError(EngineError):
    """A type or provider name is registered twice or is unknown."""
