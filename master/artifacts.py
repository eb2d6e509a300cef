"""Application artifacts: packages CI pushes (``bunraku artifact push APP VERSION FILE``) and agents'
``release`` resources download.

An artifact is (app, version) -> content, the content named by its sha256 and kept once per digest in the
master's store, in chunks of at most ``CHUNK_BYTES`` (table ``artifact_chunks``): a push is one call per
chunk and a download streams chunk by chunk, so neither holds a file whole in memory, and several masters
on one PostgreSQL store serve the same bytes. A push resumes where the store's copy ends (the store takes
only the next bytes it lacks); a download starts at any offset. Versions are immutable: pushing another
content under a stored version is refused. ``yank`` withdraws a version (no longer served); ``gc``
deletes yanked versions' content and uploads left unfinished.

A compiled catalog names a release by app and version; :func:`pin_catalog` gives each ``release``
resource the digest, size and file name of its artifact (the agent checks what it downloads against the
digest), and the version a rollout of the app assigned the node, if any (``master.rollout``: an artifact
rollout is a rollout whose environment is ``artifact:APP`` and whose release is the version).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from master.store.documents import now_utc
from master.store.schema import artifact_chunks, artifacts

if TYPE_CHECKING:
    from master.service import MasterContext, Peer
    from master.store import Store

log = logging.getLogger(__name__)

#: the most bytes of one chunk (one row, one push call, one download message)
CHUNK_BYTES = 1024 * 1024
#: the URI an agent downloads an artifact by: artifact:///APP/VERSION
URI_PREFIX = "artifact:///"
#: a rollout of an application version is a rollout of this pseudo-environment (+ the app's name)
ROLLOUT_PREFIX = "artifact:"
#: how long an unfinished upload is kept before ``gc`` removes it
DEFAULT_GC_AGE = timedelta(hours=24)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}\Z")
_DIGEST = re.compile(r"[0-9a-f]{64}\Z")


class ArtifactError(Exception):
    """Something asked of the artifact repository cannot be done (one-line message)."""


class ArtifactNotFound(ArtifactError):
    pass


def check_name(what: str, value: str) -> str:
    """An app name or version: letters, digits and ``. _ + -``, starting with a letter or digit."""
    if not _NAME.match(value or ""):
        raise ArtifactError(f"invalid {what} {value!r}: use letters, digits and . _ + - (at most 128), "
                            "starting with a letter or digit")
    return value


def artifact_uri(app: str, version: str) -> str:
    return f"{URI_PREFIX}{app}/{version}"


def parse_uri(uri: str) -> tuple[str, str]:
    app, _, version = uri[len(URI_PREFIX):].partition("/")
    return check_name("app", app), check_name("version", version)


def _describe(row: Any) -> dict[str, Any]:
    return {"app": row.app, "version": row.version, "sha256": row.digest, "size": int(row.size),
            "filename": row.filename, "meta": dict(row.meta or {}), "pushed_by": row.pushed_by,
            "pushed_at": row.pushed_at.isoformat(), "yanked": row.yanked_at is not None,
            "yanked_at": row.yanked_at.isoformat() if row.yanked_at else None, "yanked_by": row.yanked_by}


class ArtifactStore:
    """The artifact repository in the master's store (SQLite or PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._postgres = store.engine.dialect.name == "postgresql"

    # -- pushing -----------------------------------------------------------------------------------------
    @staticmethod
    def _received(conn: Connection, digest: str) -> int:
        """Bytes of ``digest`` held, from the start (chunks are only ever appended where the copy ends)."""
        end = conn.execute(sa.select(sa.func.max(artifact_chunks.c.offset + artifact_chunks.c.size))
                           .where(artifact_chunks.c.digest == digest)).scalar()
        return int(end or 0)

    def received(self, digest: str) -> int:
        return self.store._run("artifact received", lambda conn: self._received(conn, digest))

    def put_chunk(self, digest: str, size: int, offset: int, data: bytes, *, now: datetime | None = None) -> int:
        """Store ``data`` found at ``offset`` of the content ``digest`` (``size`` bytes in all) if it begins
        where the store's copy ends; returns how many bytes the store holds after (the next offset to send)."""
        if not _DIGEST.match(digest):
            raise ArtifactError("the sha256 must be 64 lowercase hex digits")
        if len(data) > CHUNK_BYTES:
            raise ArtifactError(f"a chunk is at most {CHUNK_BYTES} bytes, got {len(data)}")
        at = now or now_utc()
        insert = pg_dialect.insert if self._postgres else sqlite_dialect.insert

        def work(conn: Connection) -> int:
            held = self._received(conn, digest)
            if not data or offset != held:
                return held
            if held + len(data) > size:
                raise ArtifactError(f"more bytes than the size announced ({size})")
            conn.execute(insert(artifact_chunks).values(digest=digest, offset=offset, size=len(data), data=data,
                                                        stored_at=at).on_conflict_do_nothing())
            return self._received(conn, digest)

        return self.store._run("store artifact chunk", work, write=True)

    def finish(self, app: str, version: str, digest: str, size: int, filename: str, meta: Mapping[str, str],
               by: str, *, now: datetime | None = None) -> dict[str, Any]:
        """Record ``app`` ``version`` once its content is whole and its sha256 is ``digest``."""
        check_name("app", app)
        check_name("version", version)
        filename = (filename or "").rsplit("/", 1)[-1]
        if not filename or filename in (".", "..") or len(filename) > 255:
            raise ArtifactError("the artifact needs a file name (its suffix says how it is unpacked)")
        existing = self.get(app, version)
        if existing is not None:
            if existing["sha256"] == digest:
                return existing  # the same push again: nothing to do
            raise ArtifactError(f"{app} {version} exists with other content (sha256 {existing['sha256'][:12]}); "
                                "versions never change: push a new version")
        held = self.received(digest)
        if held != size:
            raise ArtifactError(f"{app} {version}: the store holds {held} of {size} bytes; push again to resume")
        if self.content_digest(digest) != digest:
            self._delete_content(digest)
            raise ArtifactError(f"{app} {version}: the content arrived damaged (sha256 mismatch); push it again")
        at = now or now_utc()
        insert = pg_dialect.insert if self._postgres else sqlite_dialect.insert

        def work(conn: Connection) -> None:
            conn.execute(insert(artifacts).values(
                app=app, version=version, digest=digest, size=size, filename=filename, meta=dict(meta),
                pushed_by=by, pushed_at=at).on_conflict_do_nothing())

        self.store._run("record artifact", work, write=True)
        found = self.get(app, version)
        assert found is not None
        if found["sha256"] != digest:  # another push of this version won the race
            raise ArtifactError(f"{app} {version} exists with other content; push a new version")
        log.info("artifact pushed", extra={"fields": {"app": app, "version": version, "sha256": digest,
                                                      "bytes": size, "by": by}})
        return found

    def content_digest(self, digest: str) -> str:
        h = hashlib.sha256()
        for data in self.chunks(digest, 0):
            h.update(data)
        return h.hexdigest()

    # -- reading -----------------------------------------------------------------------------------------
    def get(self, app: str, version: str) -> dict[str, Any] | None:
        def work(conn: Connection) -> dict[str, Any] | None:
            row = conn.execute(sa.select(artifacts).where(artifacts.c.app == app,
                                                          artifacts.c.version == version)).first()
            return None if row is None else _describe(row)
        return self.store._run("get artifact", work)

    def list(self, app: str | None = None) -> list[dict[str, Any]]:
        def work(conn: Connection) -> list[dict[str, Any]]:
            query = sa.select(artifacts).order_by(artifacts.c.app, artifacts.c.pushed_at, artifacts.c.version)
            if app:
                query = query.where(artifacts.c.app == app)
            return [_describe(r) for r in conn.execute(query).all()]
        return self.store._run("list artifacts", work)

    def chunks(self, digest: str, offset: int = 0) -> Iterator[bytes]:
        """The content of ``digest`` from ``offset`` on, one chunk (one short read) at a time."""
        def starts(conn: Connection) -> list[tuple[int, int]]:
            c = artifact_chunks.c
            return [(int(r.offset), int(r.size)) for r in conn.execute(
                sa.select(c.offset, c.size).where(c.digest == digest, c.offset + c.size > offset)
                .order_by(c.offset)).all()]

        for start, _size in self.store._run("artifact chunks", starts):
            def read(conn: Connection, start: int = start) -> bytes:
                return bytes(conn.execute(sa.select(artifact_chunks.c.data).where(
                    artifact_chunks.c.digest == digest, artifact_chunks.c.offset == start)).scalar_one())
            data = self.store._run("read artifact chunk", read)
            yield data[offset - start:] if start < offset else data

    # -- withdrawing -------------------------------------------------------------------------------------
    def yank(self, app: str, version: str, by: str, *, now: datetime | None = None) -> dict[str, Any]:
        at = now or now_utc()

        def work(conn: Connection) -> None:
            conn.execute(sa.update(artifacts).where(artifacts.c.app == app, artifacts.c.version == version,
                                                    artifacts.c.yanked_at.is_(None))
                         .values(yanked_at=at, yanked_by=by))

        if self.get(app, version) is None:
            raise ArtifactNotFound(f"no artifact {app} {version}")
        self.store._run("yank artifact", work, write=True)
        found = self.get(app, version)
        assert found is not None
        return found

    def _delete_content(self, digest: str) -> None:
        self.store._run("delete artifact content", lambda conn: conn.execute(
            sa.delete(artifact_chunks).where(artifact_chunks.c.digest == digest)), write=True)

    def gc(self, *, unfinished_age: timedelta = DEFAULT_GC_AGE, now: datetime | None = None) -> dict[str, Any]:
        """Delete yanked versions, the content no version names any more, and uploads left unfinished
        longer than ``unfinished_age``; returns what went: ``{versions: [...], digests: n, bytes: n}``."""
        cutoff = (now or now_utc()) - unfinished_age
        c = artifact_chunks.c

        def work(conn: Connection) -> dict[str, Any]:
            yanked = conn.execute(sa.select(artifacts.c.app, artifacts.c.version, artifacts.c.digest)
                                  .where(artifacts.c.yanked_at.is_not(None))).all()
            conn.execute(sa.delete(artifacts).where(artifacts.c.yanked_at.is_not(None)))
            named = sa.select(artifacts.c.digest)
            freed = {r.digest for r in yanked}
            stale = {r.digest for r in conn.execute(
                sa.select(c.digest).where(c.digest.not_in(named)).group_by(c.digest)
                .having(sa.func.max(c.stored_at) < cutoff)).all()}
            doomed = sorted(d for d in freed | stale
                            if conn.execute(sa.select(sa.func.count()).select_from(artifacts)
                                            .where(artifacts.c.digest == d)).scalar() == 0)
            size = 0
            for d in doomed:
                size += int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(c.size), 0))
                                         .where(c.digest == d)).scalar() or 0)
                conn.execute(sa.delete(artifact_chunks).where(c.digest == d))
            return {"versions": [f"{r.app} {r.version}" for r in yanked], "digests": len(doomed), "bytes": size}

        return self.store._run("artifact gc", work, write=True)


# -- use cases (the gRPC servicer calls these; policy here) ------------------------------------------------
def _service_error(code: str, message: str) -> Exception:
    from master.service import ServiceError

    return ServiceError(code, message)


def _repository(ctx: MasterContext) -> ArtifactStore:
    return ArtifactStore(ctx.store)


def _guarded(op: Any, *args: Any, **kw: Any) -> Any:
    """``op(*args, **kw)`` whose errors reach the caller as one ServiceError."""
    from master.store import StoreError

    try:
        return op(*args, **kw)
    except ArtifactNotFound as exc:
        raise _service_error("not_found", str(exc)) from None
    except ArtifactError as exc:
        raise _service_error("failed_precondition", str(exc)) from None
    except StoreError as exc:
        log.error("artifact store failed: %s", exc)
        raise _service_error("unavailable", f"the master's store failed: {exc}") from None


def push_artifact(ctx: MasterContext, peer: Peer, *, app: str, version: str, sha256: str, size: int, offset: int,
                  data: bytes, finish: bool, filename: str, meta: Mapping[str, str]) -> tuple[int, dict[str, Any] | None]:
    """One call of a push: store a chunk (or only say how much is held); with ``finish``, record the
    version. Returns (bytes held, the artifact when finished)."""
    from master.access import PUBLISH_ROLE
    from master.service import require_role

    require_role(peer, PUBLISH_ROLE, any_group=True, what="push artifacts")
    try:
        check_name("app", app)
        check_name("version", version)
    except ArtifactError as exc:
        raise _service_error("invalid_argument", str(exc)) from None
    if size < 0 or offset < 0:
        raise _service_error("invalid_argument", "size and offset cannot be negative")
    repo = _repository(ctx)
    existing = _guarded(repo.get, app, version)
    if existing is not None and existing["sha256"] != sha256:
        raise _service_error("already_exists", f"{app} {version} exists with other content (sha256 "
                                               f"{existing['sha256'][:12]}); versions never change: push a new version")
    held = _guarded(repo.put_chunk, sha256, size, offset, data)
    if not finish:
        return held, None
    return held, _guarded(repo.finish, app, version, sha256, size, filename, meta, peer.certname)


ARTIFACT_COMMANDS = ("list", "show", "yank", "gc")


def artifact_command(ctx: MasterContext, peer: Peer, command: str, app: str, version: str,
                     older_than: float) -> Any:
    from master import access
    from master.service import require_role

    repo = _repository(ctx)
    if command in ("list", "show"):
        if not peer.operator or peer.role is None or not access.may_see_artifacts(peer.role):
            raise _service_error("permission_denied", f"permission denied: {peer.certname} may not see artifacts "
                                                      "(it takes a viewer, operator, admin or publisher role)")
        if command == "list":
            return _guarded(repo.list, app or None)
        found = _guarded(repo.get, app, version)
        if found is None:
            raise _service_error("not_found", f"no artifact {app} {version}")
        return found
    if command == "yank":
        require_role(peer, access.PUBLISH_ROLE, any_group=True, what="yank artifacts")
        found = _guarded(repo.yank, app, version, peer.certname)
        log.info("artifact yanked", extra={"fields": {"app": app, "version": version, "by": peer.certname}})
        return found
    if command == "gc":
        require_role(peer, "admin", any_group=True, what="collect artifacts")
        age = timedelta(seconds=older_than) if older_than > 0 else DEFAULT_GC_AGE
        return _guarded(repo.gc, unfinished_age=age)
    raise _service_error("invalid_argument", f"unknown artifact command {command!r} "
                                             f"(one of {', '.join(ARTIFACT_COMMANDS)})")


def download_chunks(ctx: MasterContext, peer: Peer, uri: str, sha256: str, offset: int
                    ) -> Iterator[tuple[bytes, str]]:
    """An artifact's content from ``offset`` (any node or operator may download): (data, digest on the
    last chunk). ``sha256``, when given, must be the artifact's (the catalog's digest)."""
    try:
        app, version = parse_uri(uri)
    except ArtifactError as exc:
        raise _service_error("invalid_argument", f"{uri}: {exc}") from None
    repo = _repository(ctx)
    found = _guarded(repo.get, app, version)
    if found is None:
        raise _service_error("not_found", f"no artifact {app} {version} on the master; push it with "
                                          f"`bunraku artifact push {app} {version} FILE`")
    if found["yanked"]:
        raise _service_error("failed_precondition", f"artifact {app} {version} was yanked")
    if sha256 and sha256 != found["sha256"]:
        raise _service_error("failed_precondition", f"artifact {app} {version} has sha256 {found['sha256'][:12]}, "
                                                    f"not {sha256[:12]} as the catalog says")
    if offset < 0 or offset > found["size"]:
        raise _service_error("out_of_range", f"offset {offset} is past the end of {app} {version} "
                                             f"({found['size']} bytes)")
    return _with_digest(repo.chunks(found["sha256"], offset), found["sha256"])


def _with_digest(chunks: Iterator[bytes], digest: str) -> Iterator[tuple[bytes, str]]:
    pending: bytes | None = None
    for data in chunks:
        if pending is not None:
            yield pending, ""
        pending = data
    yield pending or b"", digest


# -- catalogs ----------------------------------------------------------------------------------------------
def pin_catalog(ctx: MasterContext, node: str, data: bytes) -> bytes:
    """``data`` (a catalog's JSON) with each ``release`` resource given its artifact's ``sha256``,
    ``size`` and ``filename``, and the version a rollout of its app assigned ``node`` (if any). A
    catalog without release resources comes back as it is, unparsed."""
    if b'"Release"' not in data:
        return data
    catalog = json.loads(data)
    repo = _repository(ctx)
    changed = False
    for resource in catalog.get("resources") or []:
        if resource.get("type") != "Release":
            continue
        params = resource.setdefault("parameters", {})
        app = str(params.get("app") or resource.get("title") or "")
        if ctx.rollouts is not None:
            assigned = ctx.rollouts.assigned_release(node, ROLLOUT_PREFIX + app)
            if assigned is not None and assigned != params.get("version"):
                params["version"] = assigned
                changed = True
        version = str(params.get("version") or "")
        try:
            found = repo.get(app, version) if _NAME.match(app) and _NAME.match(version) else None
        except Exception as exc:  # noqa: BLE001 - the agent says it cannot get the artifact
            log.warning("artifact lookup for %s failed: %s", node, exc)
            found = None
        if found is not None and not found["yanked"]:
            params.update({"sha256": found["sha256"], "size": found["size"], "filename": found["filename"]})
            changed = True
    return json.dumps(catalog).encode() if changed else data


# -- rollouts of an application version ------------------------------------------------------------------
def _deploys(ctx: MasterContext, node: str, app: str) -> bool:
    """Whether ``node``'s latest catalog has a ``release`` resource of ``app``."""
    catalog = ctx.store.get_catalog(node) or {}
    return any(r.get("type") == "Release" and str((r.get("parameters") or {}).get("app") or r.get("title")) == app
               for r in catalog.get("resources") or [])


def rollout_options(options: dict[str, Any], *, drop: tuple[str, ...]) -> Any:
    """The rollout options of an artifact's rollout (those in ``drop`` do not apply to it), or a one-line
    invalid_argument."""
    from master.rollout import PlanError, RolloutOptions

    try:
        return RolloutOptions.parse(**{k: v for k, v in options.items() if k not in drop})
    except PlanError as exc:
        raise _service_error("invalid_argument", str(exc)) from None


def available(ctx: MasterContext, app: str, version: str, *, what: str, missing: str) -> dict[str, Any]:
    """The stored artifact ``app`` ``version``; failed_precondition (``missing``) when there is none, or
    when it was yanked."""
    found = _guarded(_repository(ctx).get, app, version)
    if found is None:
        raise _service_error("failed_precondition", missing)
    if found["yanked"]:
        raise _service_error("failed_precondition", f"{what} was yanked")
    return dict(found)


def start_artifact_rollout(ctx: MasterContext, peer: Peer, spec: str, environment: str, group: str | None,
                           options: dict[str, Any]) -> dict[str, Any]:
    """Roll ``APP=VERSION`` out to the nodes (of ``environment`` and ``group``) whose catalogs deploy APP.

    The rollout is an ordinary one (waves, health gates, failure budget, rollback) whose environment is
    ``artifact:APP`` and whose release is the version: each node's assigned version overrides the one in
    its manifest (:func:`pin_catalog`), and rolling back assigns the version it had before (none: its
    manifest's), which the agent finds on disk."""
    from master.service import _kick, _require_rollouts, _rollouts, require_role, rollout_status

    app, sep, version = spec.partition("=")
    try:
        if not sep:
            raise ArtifactError(f"--artifact {spec!r}: expected APP=VERSION (e.g. shop=1.4.2)")
        check_name("app", app)
        check_name("version", version)
    except ArtifactError as exc:
        raise _service_error("invalid_argument", str(exc)) from None
    require_role(peer, "operator", group, what="start a rollout")
    rollouts = _require_rollouts(ctx)
    opts = rollout_options(options, drop=("force",))
    available(ctx, app, version, what=f"artifact {app} {version}",
              missing=f"no artifact {app} {version}; push it first with `bunraku artifact push {app} {version} FILE`")
    environment = environment or "production"
    nodes = [n for n in _rollouts(rollouts.nodes_in_scope, environment, group or None)
             if _guarded(_deploys, ctx, n, app)]
    if not nodes:
        where = f"group {group} of " if group else ""
        raise _service_error("failed_precondition", f"no node of {where}environment {environment} deploys {app} "
                                                    f"(a `release {{ '{app}': ... }}` in its last catalog)")
    rid = _rollouts(rollouts.start, version, ROLLOUT_PREFIX + app, options=opts, group=group or None, nodes=nodes,
                    created_by=peer.certname)
    _kick(rollouts, rid)
    log.info("artifact rollout started", extra={"fields": {"rollout": rid, "app": app, "version": version,
                                                           "group": group, "by": peer.certname}})
    return rollout_status(ctx, peer, rid)
