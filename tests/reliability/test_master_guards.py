"""Bad input over the wire: oversized messages, malformed or too deep facts and reports, templates and
files outside modules, and a flooding client. Each is refused with a clear status and one-line message,
nothing bad is stored, and other nodes are served meanwhile."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from master.limits import DocumentError, RateLimit, RateLimiter, check_document, check_report
from tests.e2e.harness import client_for, issue_identity, make_site, start_master
from tests.reliability.fleet import record_figures
from wire.client import ClientError
from wire.proto import bunraku_pb2 as pb

EVIL_PP = """\
node default {
  file { '/etc/a': content => epp('demo/../../../../../../etc/passwd') }
}
"""
SSTI_PP = """\
node default {
  file { '/etc/a': content => template('demo/ssti.j2') }
}
"""
SSTI_JINJA = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
# ERB is Ruby: a template could read files or run commands if the interpreter let it
ERB_ESCAPE_PP = """\
node default {
  file { '/etc/a': content => inline_template("<%= File.read('/etc/passwd') %><%= `id` %>") }
}
"""


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guards")


@pytest.fixture(scope="module")
def master(tmp: Path) -> Iterator:
    envs = tmp / "envs"
    make_site(envs)
    (envs / "production" / "modules" / "demo" / "templates").mkdir(exist_ok=True)
    (envs / "production" / "modules" / "demo" / "templates" / "ssti.j2").write_text(SSTI_JINJA)
    for name, text in (("evil", EVIL_PP), ("ssti", SSTI_PP), ("erbescape", ERB_ESCAPE_PP)):
        (envs / name / "manifests").mkdir(parents=True)
        (envs / name / "manifests" / "site.pp").write_text(text)
        os.symlink(envs / "production" / "modules", envs / name / "modules")
    files = envs / "production" / "modules" / "demo" / "files"
    os.symlink("/etc/passwd", files / "passwd-link")
    os.symlink("../manifests/init.pp", files / "manifest-link")
    server = start_master(tmp, envs)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(master, tmp: Path) -> Iterator:
    with client_for(master, issue_identity(master, tmp, "web01.example.com")) as c:
        yield c


def _refused(client, method: str, request, code: grpc.StatusCode) -> str:  # noqa: ANN001
    with pytest.raises(ClientError) as info:
        client.call(method, request)
    assert info.value.code == code, (info.value.code, str(info.value))
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_an_oversized_message_is_refused_and_the_master_keeps_serving(master, client) -> None:
    big = json.dumps({"blob": "x" * (17 * 1024 * 1024)}).encode()
    with pytest.raises(ClientError) as info:  # our client will not even send it
        client.call("SubmitFacts", pb.FactsRequest(facts_json=big))
    assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert master.config.max_message_bytes == 16 * 1024 * 1024
    # another client that would: the master refuses to receive it
    from wire.proto import bunraku_pb2_grpc as pb_grpc

    paths = client.paths
    creds = grpc.ssl_channel_credentials(paths.ca.read_bytes(), paths.key.read_bytes(), paths.cert.read_bytes())
    options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
    with grpc.secure_channel(master.address, creds, options=options) as channel:
        with pytest.raises(grpc.RpcError) as raw:
            pb_grpc.MasterStub(channel).SubmitFacts(pb.FactsRequest(facts_json=big), timeout=30)
    assert raw.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    reply = client.call("GetCatalog", pb.CatalogRequest(facts_json=b'{"role": "web"}'))
    assert json.loads(reply.catalog_json)["name"] == "web01.example.com"


@pytest.mark.parametrize(("facts", "expected"), [
    (b"[" * 200_000 + b"]" * 200_000, "nested too deep"),
    (b'{"a": [[[[]]]]}', None),
    (("{" + '"a":{' * 100 + "}" * 101).encode(), "nested deeper than 64 levels"),
    (b'{"role": "\xff\xfe"}', "not valid JSON"),
    (b'{"n": NaN}', "NaN"),
    (b'{"n": Infinity}', "NaN"),
    (b'["not", "a", "mapping"]', "must be a JSON object"),
    (b"\x00\x00\x00", "not valid JSON"),
    (json.dumps({"s": "y" * (5 * 1024 * 1024)}).encode(), "longer than"),
    (json.dumps({f"k{i}": i for i in range(600_000)}).encode(), "more than 500000 values"),
])
def test_malformed_facts_are_refused_before_storing(master, client, facts: bytes, expected: str | None) -> None:
    if expected is None:  # a fine, small nesting: accepted
        client.call("SubmitFacts", pb.FactsRequest(facts_json=facts))
        return
    message = _refused(client, "SubmitFacts", pb.FactsRequest(facts_json=facts), grpc.StatusCode.INVALID_ARGUMENT)
    assert expected in message
    stored = master.store.get_facts("web01.example.com") or {}
    assert "s" not in stored and "k1" not in stored


def _report(**kw: object) -> dict:
    base = {"host": "web01.example.com", "transaction_uuid": str(uuid.uuid4()), "status": "unchanged",
            "time": "2024-01-01T00:00:00Z", "environment": "production", "noop": False,
            "resource_statuses": {}, "metrics": {}, "logs": []}
    base.update(kw)
    return base


@pytest.mark.parametrize(("changes", "expected"), [
    ({"status": 7}, "status must be str"),
    ({"status": "exploded"}, "status must be one of"),
    ({"resource_statuses": []}, "resource_statuses must be dict"),
    ({"resource_statuses": {"File[/x]": "nope"}}, "must be an object"),
    ({"resource_statuses": {"File[/x]": {"events": {}}}}, "events must be a list"),
    ({"noop": "yes"}, "noop must be bool"),
    ({"logs": "x"}, "logs must be list"),
    ({"time": 12}, "time must be str"),
    ({"transaction_uuid": ["a"]}, "transaction_uuid must be str"),
    ({"metrics": {"x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}},
     "nested deeper"),
])
def test_malformed_reports_are_refused_and_not_stored(master, client, changes: dict, expected: str) -> None:
    report = _report(**changes)
    message = _refused(client, "SubmitReport", pb.ReportRequest(report_json=json.dumps(report).encode()),
                       grpc.StatusCode.INVALID_ARGUMENT)
    assert expected in message
    if isinstance(report["transaction_uuid"], str):
        stored = {r["transaction_uuid"] for r in master.store.reports("web01.example.com", last=100)}
        assert report["transaction_uuid"] not in stored


def test_templates_outside_modules_and_template_escapes_are_refused_by_the_master(client) -> None:
    message = _refused(client, "GetCatalog", pb.CatalogRequest(environment="evil", facts_json=b"{}"),
                       grpc.StatusCode.FAILED_PRECONDITION)
    assert "points outside the module's templates/ directory" in message and "root:" not in message
    message = _refused(client, "GetCatalog", pb.CatalogRequest(environment="ssti", facts_json=b"{}"),
                       grpc.StatusCode.FAILED_PRECONDITION)
    assert "modules/demo/templates/ssti.j2:1:1: error:" in message and "is unsafe" in message
    message = _refused(client, "GetCatalog", pb.CatalogRequest(environment="erbescape", facts_json=b"{}"),
                       grpc.StatusCode.FAILED_PRECONDITION)
    assert "inline_template:1: unsupported Ruby in ERB: shell command" in message and "root:" not in message


def test_symlinks_out_of_a_module_are_refused_by_the_file_server(client) -> None:
    for uri in ("puppet:///modules/demo/passwd-link", "puppet:///modules/demo/manifest-link",
                "puppet:///modules/demo/%2e%2e/manifests/init.pp", "puppet:///modules/demo/a\x00b",
                "puppet:///modules/../demo/demo.conf"):
        try:
            reply = client.call("FileMetadata", pb.FileMetadataRequest(uri=uri))
            assert not reply.found, uri  # taken literally ('%2e%2e' is a name, not '..'): nothing there
        except ClientError as exc:
            assert exc.code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND), uri
        with pytest.raises(ClientError):
            list(client.stream("FileContent", pb.FileContentRequest(uri=uri)))


# -- the property behind the refusals ----------------------------------------------------------------
def test_check_document_is_total_on_any_json_value() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
        max_leaves=40)

    @settings(max_examples=300, deadline=None)
    @given(json_values)
    def check(value: object) -> None:
        for fn in (lambda v: check_document(v, "facts"), check_report):
            try:
                fn(value) if fn is not check_report or isinstance(value, dict) else None
            except DocumentError as exc:
                assert "\n" not in str(exc)

    check()
    deep: list = []
    for _ in range(100_000):  # far deeper than Python could recurse: the check is iterative
        deep = [deep]
    with pytest.raises(DocumentError, match="nested deeper"):
        check_document(deep, "facts")


# -- rate limits ------------------------------------------------------------------------------------
def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(RateLimit(per_node_per_minute=60, burst=3), clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")  # buckets are per peer
    now[0] += 1.0  # one token a second
    assert limiter.allow("a") and not limiter.allow("a")
    now[0] += 100
    assert sum(limiter.allow("a") for _ in range(10)) == 3  # never more than the burst


@pytest.mark.parametrize(("value", "message"), [
    ({"per_node_per_minute": 0}, "must be > 0"), ({"burst": "x"}, "must be numbers"),
    ({"rate": 1}, "unknown key"), ("lots", "must be a mapping"),
])
def test_bad_rate_limit_settings_are_one_line_errors(value: object, message: str) -> None:
    from master.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=message):
        load_config(None, {"rate_limit": value})
    assert load_config(None, {"rate_limit": False}).rate_limit is False


def test_a_flooding_node_is_throttled_while_another_node_gets_its_catalog(tmp_path: Path) -> None:
    make_site(tmp_path / "envs")
    server = start_master(tmp_path, tmp_path / "envs", rate_limit={"per_node_per_minute": 120, "burst": 10},
                          max_threads=8)
    try:
        flood_paths = issue_identity(server, tmp_path, "flood.example.com")
        good_paths = issue_identity(server, tmp_path, "good.example.com")
        outcomes: dict[str, int] = {"ok": 0, "throttled": 0}
        stop = threading.Event()

        def flood() -> None:
            with client_for(server, flood_paths) as c:
                while not stop.is_set() and sum(outcomes.values()) < 3000:
                    try:
                        c.call("SubmitFacts", pb.FactsRequest(facts_json=b'{"role": "flood"}'))
                        outcomes["ok"] += 1
                    except ClientError as exc:
                        assert exc.code == grpc.StatusCode.RESOURCE_EXHAUSTED, exc
                        assert "too many calls from flood.example.com" in str(exc)
                        outcomes["throttled"] += 1

        threads = [threading.Thread(target=flood) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            with client_for(server, good_paths) as c:
                for _ in range(5):
                    reply = c.call("GetCatalog", pb.CatalogRequest(facts_json=b'{"role": "web"}'), timeout=10)
                    assert json.loads(reply.catalog_json)["name"] == "good.example.com"
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        assert outcomes["throttled"] > outcomes["ok"] > 0
        assert outcomes["ok"] <= 10 + 2 * 30  # the burst plus what refills in the seconds it ran
        record_figures("rate_limit_flood", dict(outcomes))
    finally:
        server.stop()
