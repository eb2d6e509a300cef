"""Operator identity on a running master: rights come only from the operator extension the CA puts in
certificates it makes itself, never from a name; `bunraku master --config` keeps the file's settings
unless an option is given; and a group-limited operator learns nothing of other groups' rollouts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.e2e.harness import client_for, issue_identity, issue_identity_from_ca, make_site, start_master
from tests.reliability.fleet import MasterProcess, bunraku
from tests.security.anonymous import AnonymousClient
from wire import pki
from wire.client import ClientError
from wire.proto import bunraku_pb2 as pb

PENDING, SIGNED = pb.CertificateReply.PENDING, pb.CertificateReply.SIGNED
ADVICE = "`bunraku cert generate NAME --operator --role ROLE --out-ssldir DIR` for admin"


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("operators")


@pytest.fixture(scope="module")
def master(tmp: Path) -> Iterator:
    """Autosign on, so that anybody gets a certificate for any free name."""
    make_site(tmp / "envs")
    server = start_master(tmp, tmp / "envs", autosign="true")
    yield server
    server.stop()


def _denied(client, method: str, request) -> str:  # noqa: ANN001
    with pytest.raises(ClientError) as err:
        client.call(method, request)
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED, (method, str(err.value))
    return str(err.value)


# -- names grant nothing ------------------------------------------------------------------------------------
def test_a_certificate_named_admin_is_never_an_operator(master, tmp: Path) -> None:
    with client_for(master, issue_identity(master, tmp, "db01.example.com")) as victim:
        victim.call("GetCatalog", pb.CatalogRequest(facts_json=b'{"role": "db", "secret": "s"}'))
    anon = AnonymousClient(master.ca_address)
    reply, key, _csr = anon.ask("admin")
    if reply.status == PENDING:  # even if an admin signs a request that merely bears the name
        master.ctx.ca.sign("admin")
    paths = pki.SSLPaths(tmp / "anon-admin", "admin")
    pki.write_private(paths.key, pki.key_pem(key))
    pki.write_public(paths.cert, master.ctx.ca.certificate("admin") or b"")
    pki.write_public(paths.ca, anon.ca_pem)
    with client_for(master, paths) as impostor:
        assert "admin is not an operator certificate" in _denied(impostor, "ListNodes", pb.ListNodesRequest())
        _denied(impostor, "GetFacts", pb.GetFactsRequest(node="db01.example.com"))
        _denied(impostor, "GetCatalog", pb.CatalogRequest(node="db01.example.com", facts_json=b"{}"))
        _denied(impostor, "ListRollouts", pb.ListRolloutsRequest())


def test_operator_rights_come_from_the_certificate_the_ca_made(master, tmp: Path) -> None:
    out = tmp / "op-ssl"
    made = bunraku("cert", "--ssldir", str(master.config.ssldir), "generate", "alice", "--operator", "--role",
                   "viewer", "--out-ssldir", str(out))
    assert made.returncode == 0, made.stderr
    with client_for(master, pki.SSLPaths(out, "alice")) as operator:
        assert operator.call("ListNodes", pb.ListNodesRequest()) is not None


@pytest.mark.parametrize("how", ["flag", "file"])
def test_name_based_operator_grants_are_refused_with_advice(tmp: Path, how: str) -> None:
    settings = {"operators": ["admin"]} if how == "file" else {}
    proc = MasterProcess(tmp / f"refused-{how}", None, **settings)
    extra = ["--operator", "admin"] if how == "flag" else []
    result = bunraku("master", "--config", str(proc.config_path), *extra, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    where = "--operator" if how == "flag" else f"{proc.config_path}: error: operators"
    assert where in result.stderr
    assert "a certificate's name does not make it an operator" in result.stderr and ADVICE in result.stderr


# -- the configuration file and the command line ---------------------------------------------------------------
def test_the_files_settings_hold_unless_an_option_is_given(tmp: Path) -> None:
    proc = MasterProcess(tmp / "config-merge", None, autosign_challenges=["s3cret"])
    proc.start()
    try:
        anon = AnonymousClient(proc.ca_address)
        assert anon.ask("with-challenge.example.com", challenge="s3cret")[0].status == SIGNED
        assert anon.ask("without.example.com")[0].status == PENDING
    finally:
        proc.stop()
    proc.start("--autosign", "true")  # given on the command line: overrides the file's (default) false
    try:
        anon = AnonymousClient(proc.ca_address)
        assert anon.ask("flagged.example.com")[0].status == SIGNED
    finally:
        proc.stop()


# -- rollouts of other groups ------------------------------------------------------------------------------------
def test_a_rollout_outside_the_operators_groups_answers_as_no_rollout(master, tmp: Path) -> None:
    from master.rollout import RolloutOptions

    web_rollout = master.ctx.rollouts.start("0" * 40, "production", options=RolloutOptions.parse(), group="web",
                                            nodes=["web01.example.com"], created_by="ops")
    missing = web_rollout + 1000
    ssldir = Path(master.config.ssldir)
    with client_for(master, issue_identity_from_ca(ssldir, tmp, "admin-op", role="role=admin")) as admin:
        status = admin.call("RolloutStatus", pb.RolloutStatusRequest(id=web_rollout))
        assert json.loads(status.rollout_json)["group"] == "web"
    db_operator = issue_identity_from_ca(ssldir, tmp, "db-op", role="role=operator;groups=db")
    with client_for(master, db_operator) as client:
        for call, request in (("RolloutStatus", lambda rid: pb.RolloutStatusRequest(id=rid)),
                              ("RolloutCommand", lambda rid: pb.RolloutCommandRequest(id=rid, command="pause"))):
            answers = []
            for rid in (web_rollout, missing):
                with pytest.raises(ClientError) as err:
                    client.call(call, request(rid))
                answers.append((err.value.code, str(err.value).replace(f"no rollout {rid}", "no rollout N")))
            assert answers[0] == answers[1], call
            assert answers[0][0] == grpc.StatusCode.NOT_FOUND and "no rollout N" in answers[0][1]
        assert all(r["group"] != "web" for r in json.loads(client.call("ListRollouts", pb.ListRolloutsRequest())
                                                            .rollouts_json))


# -- nodes of other groups --------------------------------------------------------------------------------------
def test_a_node_outside_the_operators_groups_answers_as_an_unknown_node(tmp: Path) -> None:
    groups = tmp / "groups.yaml"
    groups.write_text("groups:\n  web:\n    nodes: ['web*']\n  db:\n    nodes: ['db*']\n")
    make_site(tmp / "envs-groups")
    server = start_master(tmp / "groups-master", tmp / "envs-groups", groups=groups)
    try:
        for node in ("web01.example.com", "db01.example.com"):
            with client_for(server, issue_identity(server, tmp / "groups-ids", node)) as agent:
                agent.call("GetCatalog", pb.CatalogRequest(facts_json=b'{"role": "x"}'))
        ssldir = Path(server.config.ssldir)
        web_viewer = issue_identity_from_ca(ssldir, tmp / "groups-ids", "web-viewer", role="role=viewer;groups=web")
        with client_for(server, web_viewer) as viewer:
            assert viewer.call("GetFacts", pb.GetFactsRequest(node="web01.example.com")).found
            answers = []
            for node in ("db01.example.com", "nosuch.example.com"):
                facts = viewer.call("GetFacts", pb.GetFactsRequest(node=node))
                reports = viewer.call("GetReports", pb.GetReportsRequest(node=node, last=5))
                with pytest.raises(ClientError) as diff:
                    viewer.call("DiffCatalog", pb.DiffCatalogRequest(node=node, from_rev="a", to_rev="b"))
                answers.append((facts.found, list(reports.report_json), diff.value.code,
                                str(diff.value).replace(node, "NODE")))
            assert answers[0] == answers[1]
            assert "db" not in answers[0][3].replace("NODE", "")
    finally:
        server.stop()


def _report(host: str) -> pb.ReportRequest:
    report = {"host": host, "transaction_uuid": str(uuid.uuid4()), "status": "failed", "time": "2024-01-01T00:00:00Z",
              "environment": "production", "noop": False, "resource_statuses": {}, "metrics": {},
              "logs": [{"level": "err", "message": "forged", "source": "x", "time": "2024-01-01T00:00:00Z"}]}
    return pb.ReportRequest(report_json=json.dumps(report).encode())


def test_an_admin_limited_to_groups_acts_for_no_node_outside_them(tmp: Path) -> None:
    groups = tmp / "groups-acting.yaml"
    groups.write_text("groups:\n  web:\n    nodes: ['web*']\n  db:\n    nodes: ['db*']\n")
    make_site(tmp / "envs-acting")
    server = start_master(tmp / "acting-master", tmp / "envs-acting", groups=groups)
    ids = tmp / "acting-ids"
    try:
        with client_for(server, issue_identity(server, ids, "db01.example.com")) as db:
            db.call("GetCatalog", pb.CatalogRequest(facts_json=b'{"role": "db", "owner": "db01"}'))
        ssldir = Path(server.config.ssldir)
        forged = b'{"role": "db", "owner": "web-admin"}'
        calls = {"GetCatalog": lambda node: pb.CatalogRequest(node=node, facts_json=forged),
                 "SubmitFacts": lambda node: pb.FactsRequest(node=node, facts_json=forged),
                 "SubmitReport": _report}
        web_admin = issue_identity_from_ca(ssldir, ids, "web-admin", role="role=admin;groups=web")
        with client_for(server, web_admin) as admin:
            for method, request in calls.items():
                answers = []
                for node in ("db01.example.com", "nosuch.example.com"):  # outside its groups / unknown
                    with pytest.raises(ClientError) as err:
                        admin.call(method, request(node))
                    answers.append((err.value.code, str(err.value).replace(node, "NODE")))
                assert answers[0] == answers[1], method
                assert answers[0][0] == grpc.StatusCode.NOT_FOUND, answers[0]
            # within its groups it acts as before
            admin.call("SubmitFacts", pb.FactsRequest(node="web07.example.com", facts_json=b'{"role": "web"}'))
            admin.call("SubmitReport", _report("web07.example.com"))
        assert server.store.get_facts("db01.example.com")["owner"] == "db01"
        assert server.store.reports("db01.example.com", last=10) == []
        assert len(server.store.reports("web07.example.com", last=10)) == 1
        # an operator steers runs but writes no node's report, even in its groups; an admin of every group may
        web_operator = issue_identity_from_ca(ssldir, ids, "web-operator", role="role=operator;groups=web")
        with client_for(server, web_operator) as operator:
            assert "it takes the admin role" in _denied(operator, "SubmitReport", _report("web07.example.com"))
        with client_for(server, issue_identity_from_ca(ssldir, ids, "all-admin", role="role=admin")) as admin:
            admin.call("SubmitReport", _report("db01.example.com"))
        assert len(server.store.reports("db01.example.com", last=10)) == 1
    finally:
        server.stop()
