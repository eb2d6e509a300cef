"""Compile workers under attack from manifests and from the master's death: a compile that loops is
stopped at its CPU limit and says where it was, and a killed master leaves no compile process behind.
Real masters (in this process, and in its own process for the kill), real workers."""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.e2e.harness import client_for, issue_identity, make_site, start_master
from tests.reliability.fleet import MasterProcess
from tests.security.attacks import alive, children, wait_until
from wire.client import ClientError
from wire.proto import bunraku_pb2 as pb

LOOPING_PP = """\
node 'loop.example.com' {
  range(1, 10000).each |$i| { range(1, 10000).each |$j| { } }
}
node default {
  include demo
}
"""


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compile-limits")


@pytest.fixture(scope="module")
def master(tmp: Path) -> Iterator:
    envs = tmp / "envs"
    make_site(envs)
    (envs / "production" / "manifests" / "site.pp").write_text(LOOPING_PP)
    server = start_master(tmp, envs, compile_cpu_seconds=1)
    yield server
    server.stop()


def _catalog(master, tmp: Path, certname: str) -> dict:  # noqa: ANN001
    with client_for(master, issue_identity(master, tmp, certname)) as client:
        reply = client.call("GetCatalog", pb.CatalogRequest(facts_json=b'{"role": "web"}'), timeout=60)
    return json.loads(reply.catalog_json)


def test_a_looping_compile_is_stopped_at_the_cpu_limit_and_names_the_manifest_line(master, tmp: Path) -> None:
    worker = master.ctx.pool.worker_pids()
    with pytest.raises(ClientError) as info:
        _catalog(master, tmp, "loop.example.com")
    assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
    message = str(info.value).partition(": ")[2]
    assert re.fullmatch(r"compile of loop\.example\.com exceeded the CPU limit of 1s at manifests/site\.pp:2:\d+",
                        message), message
    # the worker was interrupted, not lost: it compiles the next node
    assert _catalog(master, tmp, "web01.example.com")["name"] == "web01.example.com"
    assert master.ctx.pool.worker_pids() == worker


def test_a_compile_past_the_wall_clock_timeout_is_killed_with_its_worker(tmp_path: Path) -> None:
    from master.compilepool import CompileFailure, CompileJob, CompilePool, WorkerLimits

    env = make_site(tmp_path / "envs")
    (env / "manifests" / "site.pp").write_text(LOOPING_PP)
    pool = CompilePool(1, limits=WorkerLimits(memory_mb=0, cpu_seconds=0), timeout=2)
    try:
        pool.warm()
        looping = pool.worker_pids()
        job = CompileJob(node="loop.example.com", facts={}, env_dir=env, environment="production", code_id=None,
                         version="1")
        with pytest.raises(CompileFailure) as info:
            pool.compile(job)
        assert str(info.value) == "compile of loop.example.com took longer than 2 s"
        wait_until(lambda: not alive(looping[0]), 10, "the worker to be killed")  # not left running the loop
        data, _hit = pool.compile(CompileJob(node="web01.example.com", facts={"role": "web"}, env_dir=env,
                                             environment="production", code_id=None, version="1"))
        assert json.loads(data)["name"] == "web01.example.com"
    finally:
        pool.shutdown()


def test_bad_compile_limits_are_one_line_errors() -> None:
    from master.config import ConfigError, load_config

    for settings, message in (({"compile_cpu_seconds": -1}, "compile_cpu_seconds must be a number of at least 0"),
                              ({"compile_memory_mb": 64}, "compile_memory_mb must be 0 (no limit) or at least 256")):
        with pytest.raises(ConfigError) as info:
            load_config(None, settings)
        assert message in str(info.value) and "\n" not in str(info.value)


def test_a_killed_master_takes_its_compile_workers_with_it(tmp_path: Path) -> None:
    make_site(tmp_path / "envs")
    master = MasterProcess(tmp_path / "master", tmp_path / "envs", workers=2)
    master.start()
    helpers: list[int] = []
    try:
        assert master.proc is not None
        helpers = children(master.proc.pid)  # the compile workers (and multiprocessing's tracker)
        assert len(helpers) >= 2
        os.kill(master.proc.pid, signal.SIGKILL)  # the master alone, as the OOM killer would
        master.proc.wait(timeout=10)
        wait_until(lambda: not any(alive(pid) for pid in helpers), 10, "the compile workers to die with the master")
    finally:
        master.kill()
        for pid in helpers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
