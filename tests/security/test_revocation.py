"""Revocation on a running master, over real TLS: a certificate revoked while its node holds a live channel
or downloads a file loses both (no RUN command reaches it), and a CRL replaced by another process is read
again even when its modification time is unchanged."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from master.ca import CertificateAuthority
from tests.e2e.harness import client_for, issue_identity, make_site, start_master
from wire.client import ClientError
from wire.proto import bunraku_pb2 as pb
from wire.proto import bunraku_pb2_grpc as pb_grpc

BIG_FILE = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("revocation")


@pytest.fixture(scope="module")
def master(tmp: Path) -> Iterator[Any]:
    env = make_site(tmp / "envs")
    (env / "modules" / "demo" / "files" / "big.bin").write_bytes(os.urandom(BIG_FILE))
    server = start_master(tmp, tmp / "envs", rate_limit=False)
    yield server
    server.stop()


def test_a_revoked_node_loses_its_live_channel_and_gets_no_run(master: Any, tmp: Path) -> None:
    node = "live01.example.com"
    with client_for(master, issue_identity(master, tmp, node)) as client:
        _server, call, first = client.open_stream("Live", pb.LiveHello())
        try:
            assert first.kind == pb.LiveCommand.PING
            CertificateAuthority(master.config.ssldir).revoke(node)  # as `bunraku cert revoke`
            assert master.ctx.live.trigger(node)  # a rollout tells the node to run: the channel is still held
            received, code = [], None
            try:
                for command in call:
                    received.append(command.kind)
                    if command.kind == pb.LiveCommand.RUN:
                        break
            except grpc.RpcError as exc:
                code = exc.code()
            assert pb.LiveCommand.RUN not in received
            assert code == grpc.StatusCode.UNAUTHENTICATED
        finally:
            call.cancel()
    assert not master.ctx.live.connected(node)


def test_a_revoked_node_loses_a_file_download_under_way(master: Any, tmp: Path) -> None:
    node = "files01.example.com"
    paths = issue_identity(master, tmp, node)
    creds = grpc.ssl_channel_credentials(paths.ca.read_bytes(), paths.key.read_bytes(), paths.cert.read_bytes())
    # a small receive window: the master can be only a little ahead of what the client has read
    options = [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 64 * 1024)]
    with grpc.secure_channel(master.address, creds, options=options) as channel:
        stream = pb_grpc.MasterStub(channel).FileContent(
            pb.FileContentRequest(uri="puppet:///modules/demo/big.bin"), timeout=60)
        received = len(next(stream).data)
        CertificateAuthority(master.config.ssldir).revoke(node)
        with pytest.raises(grpc.RpcError) as err:
            for chunk in stream:
                received += len(chunk.data)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert f"the certificate of {node} has been revoked" in (err.value.details() or "")
        assert received < BIG_FILE


def test_a_crl_replaced_with_its_old_modification_time_still_revokes(master: Any, tmp: Path) -> None:
    node = "crl01.example.com"
    with client_for(master, issue_identity(master, tmp, node)) as client:
        client.call("Heartbeat", pb.HeartbeatRequest())  # the master has read the CRL as it is now
        crl = master.ctx.ca.crl_path
        before = crl.stat()
        CertificateAuthority(master.config.ssldir).revoke(node)  # another process
        os.utime(crl, ns=(before.st_atime_ns, before.st_mtime_ns))  # a clock too coarse, or set back
        assert crl.stat().st_mtime_ns == before.st_mtime_ns
        with pytest.raises(ClientError) as err:
            client.call("Heartbeat", pb.HeartbeatRequest())
        assert err.value.code == grpc.StatusCode.UNAUTHENTICATED and "revoked" in str(err.value)
