"""The artifact repository: pushed over gRPC in chunks (resumable), kept in the store by digest, listed,
shown, yanked, collected, downloaded from any offset and checked against the digest; roles."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import client_for, make_site, start_master
from tests.master.test_store import store_url  # noqa: F401 - the SQLite and PostgreSQL stores

ROOT = Path(__file__).resolve().parents[2]


def _identity(master: Any, tmp: Path, name: str, role: str | None) -> Any:
    from wire import pki

    key, cert = master.ctx.ca.generate(name, operator=role is not None, role=f"role={role}" if role else None)
    paths = pki.SSLPaths(tmp / "ids" / name, name)
    pki.write_private(paths.key, key)
    pki.write_public(paths.cert, cert)
    pki.write_public(paths.ca, master.ctx.ca.ca_pem())
    return paths


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("artifacts")
    make_site(tmp / "envs")
    master = start_master(tmp, tmp / "envs")
    ids = {name: _identity(master, tmp, name, role) for name, role in
           [("ci", "publisher"), ("viewer", "viewer"), ("admin", "admin"), ("web01", None)]}
    clients = {name: client_for(master, paths) for name, paths in ids.items()}
    yield {"tmp": tmp, "master": master, "ids": ids, "clients": clients}
    for client in clients.values():
        client.close()
    master.stop()


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _download(client: Any, app: str, version: str, offset: int = 0, sha256: str = "") -> tuple[bytes, str]:
    from wire.proto import bunraku_pb2 as pb

    parts, final = [], ""
    for chunk in client.stream("FileContent", pb.FileContentRequest(uri=f"artifact:///{app}/{version}",
                                                                    sha256=sha256, offset=offset)):
        parts.append(chunk.data)
        final = chunk.sha256 or final
    return b"".join(parts), final


def test_a_push_is_kept_by_digest_and_downloads_from_any_offset(repo: dict[str, Any]) -> None:
    from master import artifactclient

    blob = os.urandom(3 * 1024 * 1024 + 12345)  # four chunks, the last one short
    path = repo["tmp"] / "shop-1.0.0.jar"
    path.write_bytes(blob)
    info = artifactclient.push(repo["clients"]["ci"], "shop", "1.0.0", path, {"commit": "3f2a9c1"})
    digest = hashlib.sha256(blob).hexdigest()
    assert (info["sha256"], info["size"], info["filename"], info["meta"], info["pushed_by"]) == (
        digest, len(blob), "shop-1.0.0.jar", {"commit": "3f2a9c1"}, "ci")
    node = repo["clients"]["web01"]
    data, final = _download(node, "shop", "1.0.0", sha256=digest)
    assert data == blob and final == digest
    for offset in (1, 1024 * 1024, 2 * 1024 * 1024 + 7, len(blob)):
        assert _download(node, "shop", "1.0.0", offset)[0] == blob[offset:]
    # the same content under another version is stored once
    artifactclient.push(repo["clients"]["ci"], "shop", "1.0.0-copy", path)
    from master.store.schema import artifact_chunks

    count = repo["master"].ctx.store.engine.connect().execute(
        artifact_chunks.select().with_only_columns(artifact_chunks.c.offset)
        .where(artifact_chunks.c.digest == digest)).all()
    assert len(count) == 4


def test_an_interrupted_push_resumes_where_the_store_left_off(repo: dict[str, Any]) -> None:
    from master import artifactclient
    from master.artifacts import ArtifactStore
    from wire.proto import bunraku_pb2 as pb

    blob = os.urandom(2 * 1024 * 1024 + 99)
    path = repo["tmp"] / "api.tar.gz"
    path.write_bytes(blob)
    digest = hashlib.sha256(blob).hexdigest()
    client = repo["clients"]["ci"]
    base = {"app": "api", "version": "2.0", "sha256": digest, "size": len(blob), "filename": "api.tar.gz"}
    # the first chunk arrives, then the push dies
    held = client.call("PushArtifact", pb.PushArtifactRequest(**base, data=blob[:1024 * 1024])).received
    assert held == 1024 * 1024
    assert artifactclient.command(client, "list", "api") == []  # unfinished: no version yet
    # a chunk sent at the wrong offset is not taken: the store says where to go on
    assert client.call("PushArtifact", pb.PushArtifactRequest(**base, offset=5, data=b"xx")).received == held
    sent: list[int] = []
    info = artifactclient.push(client, "api", "2.0", path, progress=lambda done, _total: sent.append(done))
    assert sent == [2 * 1024 * 1024, len(blob)]  # only what was missing
    assert info["sha256"] == digest
    assert ArtifactStore(repo["master"].ctx.store).content_digest(digest) == digest


def test_versions_never_change_and_damaged_content_is_refused(repo: dict[str, Any]) -> None:
    from master import artifactclient
    from wire.client import ClientError
    from wire.proto import bunraku_pb2 as pb

    client = repo["clients"]["ci"]
    first = repo["tmp"] / "a.zip"
    first.write_bytes(b"one")
    artifactclient.push(client, "web", "1", first)
    artifactclient.push(client, "web", "1", first)  # the same push again: fine
    other = repo["tmp"] / "b.zip"
    other.write_bytes(b"two")
    with pytest.raises(ClientError, match="web 1 exists with other content .*push a new version"):
        artifactclient.push(client, "web", "1", other)
    lie = hashlib.sha256(b"something else").hexdigest()
    base = {"app": "web", "version": "2", "sha256": lie, "size": 3, "filename": "b.zip"}
    client.call("PushArtifact", pb.PushArtifactRequest(**base, data=b"two"))
    with pytest.raises(ClientError, match="arrived damaged"):
        client.call("PushArtifact", pb.PushArtifactRequest(**base, offset=3, finish=True))
    with pytest.raises(ClientError, match="invalid app '../x'"):
        artifactclient.push(client, "../x", "1", first)


def test_roles_publisher_pushes_viewer_reads_nodes_only_download(repo: dict[str, Any]) -> None:
    from master import artifactclient
    from wire.client import ClientError

    path = repo["tmp"] / "r.jar"
    path.write_bytes(b"jar")
    with pytest.raises(ClientError, match="viewer; it takes the publisher role to push artifacts"):
        artifactclient.push(repo["clients"]["viewer"], "r", "1", path)
    with pytest.raises(ClientError, match="not an operator certificate"):
        artifactclient.push(repo["clients"]["web01"], "r", "1", path)
    artifactclient.push(repo["clients"]["ci"], "r", "1", path)
    assert [a["version"] for a in artifactclient.command(repo["clients"]["viewer"], "list", "r")] == ["1"]
    with pytest.raises(ClientError, match="may not see artifacts"):
        artifactclient.command(repo["clients"]["web01"], "list")
    with pytest.raises(ClientError, match="takes the admin role to collect artifacts"):
        artifactclient.command(repo["clients"]["ci"], "gc")
    with pytest.raises(ClientError, match="takes the viewer role"):  # a publisher steers nothing else
        from master import fleet

        fleet.list_nodes(repo["clients"]["ci"])


def test_a_digest_other_than_the_catalogs_or_a_yanked_version_is_not_served(repo: dict[str, Any]) -> None:
    from master import artifactclient
    from master.artifacts import ArtifactStore
    from wire.client import ClientError

    client, node = repo["clients"]["ci"], repo["clients"]["web01"]
    path = repo["tmp"] / "y.tar.gz"
    _tarball(path, {"index.php": b"<?php echo 1;"})
    artifactclient.push(client, "yank", "1", path)
    with pytest.raises(ClientError, match="not 000000000000 as the catalog says"):
        _download(node, "yank", "1", sha256="0" * 64)
    with pytest.raises(ClientError, match="no artifact yank 9 on the master"):
        _download(node, "yank", "9")
    assert artifactclient.command(client, "yank", "yank", "1")["yanked"]
    with pytest.raises(ClientError, match="artifact yank 1 was yanked"):
        _download(node, "yank", "1")
    digest = artifactclient.file_digest(path)[0]
    store = ArtifactStore(repo["master"].ctx.store)
    # an abandoned upload: kept for a day, then collected
    store.put_chunk("a" * 64, 10, 0, b"12345")
    done = artifactclient.command(repo["clients"]["admin"], "gc")
    assert "yank 1" in done["versions"] and done["digests"] == 1
    assert store.received(digest) == 0 and store.received("a" * 64) == 5
    assert store.gc(unfinished_age=timedelta(0))["digests"] == 1
    assert store.received("a" * 64) == 0
    assert store.get("yank", "1") is None


def test_cli_push_list_show_yank(repo: dict[str, Any]) -> None:
    master = repo["master"]
    ssl = repo["ids"]["ci"]
    path = repo["tmp"] / "cli.jar"
    path.write_bytes(b"PK\x03\x04 a jar")

    def bunraku(*args: str, who: Any = ssl) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ROOT / "bunraku.py"), "artifact", *args, "--server",
                               master.address, "--ssldir", str(who.ssldir), "--certname", who.certname],
                              capture_output=True, text=True, timeout=60, cwd=ROOT)

    pushed = bunraku("push", "cli", "1.4.2", str(path), "--meta", "commit=abc")
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.startswith("pushed cli 1.4.2: cli.jar, 10 B, sha256 ")
    listed = bunraku("list", "cli")
    assert listed.stdout.splitlines()[0].split() == ["APP", "VERSION", "SIZE", "SHA256", "PUSHED", "BY", "STATE"]
    assert listed.stdout.splitlines()[1].split()[:2] == ["cli", "1.4.2"]
    shown = json.loads(bunraku("show", "cli", "1.4.2", "--json").stdout)
    assert shown["meta"] == {"commit": "abc"}
    bad = bunraku("push", "cli", "1.4.2", str(repo["tmp"] / "missing.jar"))
    assert (bad.returncode, bad.stderr.strip()) == (1, f"error: {repo['tmp'] / 'missing.jar'}: no such file")
    meta = bunraku("push", "cli", "1.4.3", str(path), "--meta", "oops")
    assert meta.returncode == 1 and meta.stderr.startswith("error: --meta 'oops': expected KEY=VALUE")
    assert "Traceback" not in meta.stderr
    viewer = bunraku("yank", "cli", "1.4.2", who=repo["ids"]["viewer"])
    assert viewer.returncode == 1 and "takes the publisher role to yank artifacts" in viewer.stderr
    assert bunraku("yank", "cli", "1.4.2").stdout.strip() == "yanked cli 1.4.2"


def test_an_interrupted_download_carries_on_from_where_it_stopped(repo: dict[str, Any]) -> None:
    from agent.filesource import RemoteFileSource
    from engine.sources import ArtifactRef
    from master import artifactclient
    from wire.proto import bunraku_pb2 as pb

    blob = os.urandom(3 * 1024 * 1024 + 5)
    path = repo["tmp"] / "big.tar.gz"
    path.write_bytes(blob)
    info = artifactclient.push(repo["clients"]["ci"], "big", "1", path)
    node = repo["clients"]["web01"]
    dest = repo["tmp"] / "big.part"
    stream = node.stream("FileContent", pb.FileContentRequest(uri="artifact:///big/1", sha256=info["sha256"]))
    with open(dest, "wb") as out:  # the connection drops after the first chunk
        out.write(next(stream).data)
    stream.close()
    assert dest.stat().st_size == 1024 * 1024

    asked: list[int] = []

    class Recording:
        def stream(self, method: str, request: Any, **kw: Any) -> Any:
            asked.append(request.offset)
            return node.stream(method, request, **kw)

    source = RemoteFileSource(Recording(), "production", repo["tmp"] / "cache")  # type: ignore[arg-type]
    ref = ArtifactRef("big", "1", info["sha256"], info["size"], info["filename"])
    assert source.fetch_artifact(ref, str(dest)) == "big.tar.gz"
    assert asked == [1024 * 1024] and dest.read_bytes() == blob
    assert source.fetch_artifact(ref, str(dest)) == "big.tar.gz" and asked == [1024 * 1024]  # whole: no call
    dest.write_bytes(blob + b"junk")  # longer than the artifact: not a prefix, so it starts again
    source.fetch_artifact(ref, str(dest))
    assert asked[-1] == 0 and dest.read_bytes() == blob
    from engine.errors import ProviderError

    with pytest.raises(ProviderError, match=r"could not fetch artifact big 9: .*no artifact big 9 on the master"):
        source.fetch_artifact(ArtifactRef("big", "9"), str(repo["tmp"] / "none.part"))


def test_catalogs_get_the_digest_of_each_release_and_the_version_a_rollout_assigned(repo: dict[str, Any]) -> None:
    from master import artifactclient
    from master.artifacts import pin_catalog
    from master.rollout.controller import _assign

    path = repo["tmp"] / "pin.jar"
    path.write_bytes(b"jar v1")
    v1 = artifactclient.push(repo["clients"]["ci"], "pin", "1", path)
    path.write_bytes(b"jar v2")
    v2 = artifactclient.push(repo["clients"]["ci"], "pin", "2", path)
    catalog = {"resources": [{"type": "Release", "title": "pin", "parameters": {"version": "1", "path": "/srv/p"}},
                             {"type": "Release", "title": "gone", "parameters": {"version": "1", "path": "/srv/g"}},
                             {"type": "File", "title": "/x", "parameters": {}}]}
    ctx = repo["master"].ctx
    pinned = json.loads(pin_catalog(ctx, "web01", json.dumps(catalog).encode()))
    params = pinned["resources"][0]["parameters"]
    assert (params["version"], params["sha256"], params["size"], params["filename"]) == ("1", v1["sha256"], 6,
                                                                                        "pin.jar")
    assert "sha256" not in pinned["resources"][1]["parameters"]  # unknown: the agent says so when it fetches
    plain = b'{"resources": [{"type": "File", "title": "/x"}]}'
    assert pin_catalog(ctx, "web01", plain) is plain
    from datetime import UTC, datetime

    ctx.store._run("assign", lambda conn: _assign(conn, "web01", "artifact:pin", "2", "1", 1, datetime.now(UTC)),
                   write=True)
    params = json.loads(pin_catalog(ctx, "web01", json.dumps(catalog).encode()))["resources"][0]["parameters"]
    assert (params["version"], params["sha256"]) == ("2", v2["sha256"])
    params = json.loads(pin_catalog(ctx, "web02", json.dumps(catalog).encode()))["resources"][0]["parameters"]
    assert params["version"] == "1"


def test_two_masters_on_one_store_serve_what_the_other_stored(store_url: str) -> None:  # noqa: F811
    from master.artifacts import CHUNK_BYTES, ArtifactError, ArtifactStore
    from master.store import Store

    blob = os.urandom(2 * CHUNK_BYTES + 17)
    digest = hashlib.sha256(blob).hexdigest()
    with Store.open(store_url) as one, Store.open(store_url) as two:
        first, second = ArtifactStore(one), ArtifactStore(two)
        assert first.put_chunk(digest, len(blob), 0, blob[:CHUNK_BYTES]) == CHUNK_BYTES
        # the push goes on through the other master, where the first one left off
        assert second.received(digest) == CHUNK_BYTES
        assert second.put_chunk(digest, len(blob), 0, blob[:CHUNK_BYTES]) == CHUNK_BYTES  # already there
        held = second.put_chunk(digest, len(blob), CHUNK_BYTES, blob[CHUNK_BYTES:2 * CHUNK_BYTES])
        held = second.put_chunk(digest, len(blob), held, blob[held:])
        assert held == len(blob)
        with pytest.raises(ArtifactError, match="more bytes than the size announced"):
            second.put_chunk("b" * 64, 3, 0, b"four")
        info = second.finish("shop", "1.0", digest, len(blob), "shop.tar.gz", {"k": "v"}, "ci")
        assert first.get("shop", "1.0") == info
        assert b"".join(first.chunks(digest, 5)) == blob[5:]
        assert b"".join(first.chunks(digest, CHUNK_BYTES + 3)) == blob[CHUNK_BYTES + 3:]


def test_a_push_of_more_chunks_than_the_rate_limit_allows_at_once_slows_down_and_completes(tmp_path: Path) -> None:
    """A large artifact is one call per MiB: more than a certificate's burst of calls. The push waits when the
    master says to slow down and carries on, rather than failing half-way."""
    from master import artifactclient

    make_site(tmp_path / "envs")
    # two calls at once, then one every half second: the first chunk's call, the later ones and the call that
    # finishes the push are each turned away at least once
    master = start_master(tmp_path, tmp_path / "envs", rate_limit={"per_node_per_minute": 120, "burst": 2})
    try:
        ci = client_for(master, _identity(master, tmp_path, "ci", "publisher"))
        data = bytes(range(256)) * (4096 * 3 + 7)  # three chunks and a bit
        (tmp_path / "big.bin").write_bytes(data)
        info = artifactclient.push(ci, "big", "1", tmp_path / "big.bin")
        assert info["size"] == len(data) and info["sha256"] == hashlib.sha256(data).hexdigest()
        ci.close()
    finally:
        master.stop()
