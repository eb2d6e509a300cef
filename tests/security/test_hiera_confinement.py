"""Hiera on the master reads only the environment's (or a module's) own data: a hierarchy level or a fact
interpolated into a data path cannot reach another environment's data or any file of the master."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest

from dsl.compiler import CompileRequest, compile_catalog
from dsl.errors import DslError
from tests.e2e.harness import client_for, issue_identity, start_master
from wire.client import ClientError
from wire.proto import bunraku_pb2 as pb

HIERA = """\
version: 5
hierarchy:
  - name: "by os"
    path: "os/%{facts.os.family}.yaml"
  - name: common
    path: common.yaml
"""

SITE = "node default { notify { 'value': message => lookup('secret', String, first, 'none') } }\n"


def _environments(base: Path, datadir_line: str = "") -> Path:
    prod = base / "production"
    (prod / "manifests").mkdir(parents=True)
    (prod / "manifests/site.pp").write_text(SITE)
    (prod / "hiera.yaml").write_text(HIERA.replace("hierarchy:", f"{datadir_line}hierarchy:")
                                     if datadir_line else HIERA)
    (prod / "data/os").mkdir(parents=True)
    (prod / "data/os/Debian.yaml").write_text("secret: production-debian\n")
    (prod / "data/common.yaml").write_text("secret: production-common\n")
    other = base / "payroll"
    (other / "data").mkdir(parents=True)
    (other / "data/common.yaml").write_text("secret: payroll-db-password\n")
    return prod


def _compile(env: Path, family: str, *, confine: bool) -> str:
    request = CompileRequest.from_cli(manifest=None, node="web01", facts={"os": {"family": family}}, env_dir=env)
    request.confine_files = confine
    catalog = json.loads(compile_catalog(request).to_json())
    return next(r["parameters"]["message"] for r in catalog["resources"] if r["type"] == "Notify")


def test_a_fact_cannot_climb_out_of_the_datadir_on_the_master(tmp_path: Path) -> None:
    env = _environments(tmp_path)
    assert _compile(env, "Debian", confine=True) == "production-debian"
    with pytest.raises(DslError, match="may not contain '..' or start with '/'") as err:
        _compile(env, "../../../payroll/data/common", confine=True)
    assert "payroll-db-password" not in str(err.value)
    # an absolute value lands inside the datadir ("os//tmp/..."): no such file, the next level answers
    assert _compile(env, str(tmp_path / "payroll/data/common"), confine=True) == "production-common"
    # outside a master (bunraku compile/apply on the host itself) the host's facts are its own: as Puppet
    assert _compile(env, "../../../payroll/data/common", confine=False) == "payroll-db-password"


def test_an_environment_datadir_outside_the_environment_is_refused_on_the_master(tmp_path: Path) -> None:
    env = _environments(tmp_path, datadir_line=f"defaults:\n  data_hash: yaml_data\n  datadir: {tmp_path / 'payroll/data'}\n")
    with pytest.raises(DslError, match="outside the data of the environment"):
        _compile(env, "Debian", confine=True)
    assert _compile(env, "Debian", confine=False) == "payroll-db-password"


def test_a_node_sending_a_climbing_fact_gets_no_other_environments_data(tmp_path: Path) -> None:
    _environments(tmp_path / "envs")
    master = start_master(tmp_path, tmp_path / "envs")
    try:
        with client_for(master, issue_identity(master, tmp_path, "web01.example.com")) as node:
            good = node.call("GetCatalog", pb.CatalogRequest(facts_json=json.dumps(
                {"os": {"family": "Debian"}}).encode()))
            assert b"production-debian" in good.catalog_json
            with pytest.raises(ClientError) as err:
                node.call("GetCatalog", pb.CatalogRequest(facts_json=json.dumps(
                    {"os": {"family": "../../../payroll/data/common"}}).encode()))
        assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "payroll-db-password" not in str(err.value) and "outside the data" in str(err.value)
    finally:
        master.stop()


@pytest.mark.parametrize("expression", [
    "template('{key}')",
    "file('{key}')",
    "epp('{key}')",
    "inline_template(\"<%= scope.function_file(['{key}']) %>\")",
    "inline_template(\"<%= scope.call_function('file', ['{key}']) %>\")",
    "file('demo/../../../../../../../..{key}')",
])
def test_a_manifest_cannot_read_the_masters_files(tmp_path: Path, expression: str) -> None:
    """The CA's private key is a file on the master like any other: no function reads it for a catalog."""
    env = tmp_path / "envs" / "production"
    (env / "manifests").mkdir(parents=True)
    (env / "modules/demo/files").mkdir(parents=True)
    master = start_master(tmp_path, tmp_path / "envs")
    try:
        key = Path(master.config.ssldir) / "ca" / "ca_key.pem"
        assert key.is_file()
        (env / "manifests/site.pp").write_text(
            "node default { notify { 'x': message => " + expression.format(key=key) + " } }\n")
        with client_for(master, issue_identity(master, tmp_path, "web01.example.com")) as node:
            with pytest.raises(ClientError) as err:
                node.call("GetCatalog", pb.CatalogRequest(facts_json=b"{}"))
        assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "PRIVATE KEY" not in str(err.value)
    finally:
        master.stop()
