"""``puppet:///`` sources served by the master: metadata (with sha256) first, content only when the
local content cache (keyed by sha256) does not already hold it."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import grpc

from engine.errors import ProviderError
from engine.sources import ArtifactRef, ModulepathFileSource, SourceStat
from wire.client import ClientError, MasterClient
from wire.proto import bunraku_pb2 as pb

log = logging.getLogger(__name__)

#: how many times one run carries on with an artifact download the network cut
ARTIFACT_ATTEMPTS = 3
#: refusals another attempt would only repeat (no such artifact, yanked, another digest, not allowed)
_FINAL_CODES = frozenset({grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
                          grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT,
                          grpc.StatusCode.OUT_OF_RANGE})


class RemoteFileSource:
    def __init__(self, client: MasterClient, environment: str, cache_dir: Path) -> None:
        self.client = client
        self.environment = environment
        self.cache_dir = cache_dir
        self.local = ModulepathFileSource()
        self._meta: dict[str, pb.FileMetadataReply] = {}
        self.fetched = 0

    def _metadata(self, uri: str) -> pb.FileMetadataReply:
        meta = self._meta.get(uri)
        if meta is None:
            try:
                meta = self.client.call("FileMetadata", pb.FileMetadataRequest(uri=uri, environment=self.environment))
            except ClientError as exc:
                raise ProviderError(f"could not get metadata of {uri}: {exc}") from None
            self._meta[uri] = meta
        return meta

    def stat(self, uri: str) -> SourceStat | None:
        if not uri.startswith("puppet://"):
            return self.local.stat(uri)
        meta = self._metadata(uri)
        if not meta.found:
            return None
        return SourceStat(meta.kind, meta.size, meta.mtime, meta.mode)

    def read(self, uri: str) -> bytes:
        if not uri.startswith("puppet://"):
            return self.local.read(uri)
        meta = self._metadata(uri)
        if not meta.found or meta.kind != "file":
            raise ProviderError(f"could not find source {uri}")
        cached = self.cache_dir / meta.sha256[:2] / meta.sha256
        if cached.exists():
            data = cached.read_bytes()
            if hashlib.sha256(data).hexdigest() == meta.sha256:
                return data
            from agent.catalogcache import set_aside

            set_aside(cached, "checksum mismatch")  # damaged on disk: fetch it again
        h = hashlib.sha256()
        parts: list[bytes] = []
        final = ""
        try:
            for chunk in self.client.stream("FileContent", pb.FileContentRequest(
                    uri=uri, environment=self.environment, sha256=meta.sha256)):
                if chunk.data:
                    h.update(chunk.data)
                    parts.append(chunk.data)
                if chunk.sha256:
                    final = chunk.sha256
        except ClientError as exc:
            raise ProviderError(f"could not fetch {uri}: {exc}") from None
        if final != h.hexdigest():
            raise ProviderError(f"content of {uri} arrived corrupted (checksum mismatch)")
        data = b"".join(parts)
        self.fetched += 1
        self._cache(cached, data)
        return data

    def _cache(self, cached: Path, data: bytes) -> None:
        """Keep fetched content for the next run; a cache that cannot be written (a full disk) only
        means fetching it again."""
        tmp: str | None = None
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".cache.", dir=cached.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, cached)
        except OSError as exc:
            log.info("could not cache %s: %s", cached.name, exc.strerror or exc)
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def fetch_artifact(self, ref: ArtifactRef, dest: str) -> str:
        """Download ``ref`` from the master into ``dest`` a chunk at a time, carrying on from the end of a
        partial ``dest`` (a download cut short, in this run or an earlier one). The caller checks the digest."""
        uri = f"artifact:///{ref.app}/{ref.version}"
        name = ref.filename or f"{ref.app}-{ref.version}"
        error: ClientError | None = None
        for _attempt in range(ARTIFACT_ATTEMPTS):
            have = os.path.getsize(dest) if os.path.exists(dest) else 0
            if ref.size >= 0 and have > ref.size:  # not a prefix of this content: start again
                os.truncate(dest, 0)
                have = 0
            if ref.size >= 0 and have == ref.size:
                return name
            try:
                with open(dest, "ab") as out:
                    for chunk in self.client.stream("FileContent", pb.FileContentRequest(
                            uri=uri, environment=self.environment, sha256=ref.sha256, offset=have)):
                        out.write(chunk.data)
                    out.flush()
                    os.fsync(out.fileno())
                self.fetched += 1
                return name
            except ClientError as exc:
                error = exc
                if exc.code in _FINAL_CODES:
                    break
                log.info("artifact %s %s: download cut at %d bytes (%s); carrying on", ref.app, ref.version,
                         os.path.getsize(dest), exc)
        held = os.path.getsize(dest) if os.path.exists(dest) else 0
        raise ProviderError(f"could not fetch artifact {ref.app} {ref.version}: {error}"
                            + (f" (the next run carries on from {held} bytes)" if held else ""))

    def listdir(self, uri: str) -> list[str]:
        if not uri.startswith("puppet://"):
            return self.local.listdir(uri)
        meta = self._metadata(uri)
        if not meta.found:
            raise ProviderError(f"could not find source {uri}")
        return list(meta.children)
