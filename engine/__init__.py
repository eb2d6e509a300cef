"""Bunraku engine."""

#: The version of this build (pyproject.toml's; tests/engine/test_version.py keeps them equal). A constant,
#: not a package-metadata lookup: reading the installed distribution's metadata costs every run ~40 ms.
__version__ = "0.1.0"
