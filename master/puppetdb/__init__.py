"""PuppetDB's v4 query API over the master's store, so that Puppetboard, pypuppetdb and teams' scripts
work against a Bunraku master unchanged.

- ``pql``: PQL (``nodes[certname] { facts { name = "os" } }``) read into the AST;
- ``entities``: PuppetDB's entities (nodes, facts, resources, reports, events, ...) and their fields as SQL
  over the store's tables;
- ``query``: the AST compiled to SQLAlchemy selects (filtering, sorting, paging and counting in the
  database, on SQLite and PostgreSQL alike), and run;
- ``routes``: the HTTP endpoints, mounted on the dashboard's HTTPS listener behind its authentication.

See docs/PUPPETDB.md for what is supported."""

from __future__ import annotations

from master.puppetdb.errors import QueryError

__all__ = ["QueryError"]
