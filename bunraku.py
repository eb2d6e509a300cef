"""``python bunraku.py``: the command line lives in the ``cli`` package (``bunraku`` runs ``cli:main``)."""

from cli import __version__, main

__all__ = ["__version__", "main"]

if __name__ == "__main__":  # pragma: no cover
    main()
