"""Release control pieces: operator roles from the certificate, REV resolution, which release a node is
compiled at, and the live hub that dispatches "run now" (the whole path is in tests/e2e)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from master.ca import CertificateAuthority
from master.config import ConfigError, load_config
from master.environments import EnvError, Environments
from master.live import Command, LiveHub, LiveRefused
from master.rollout import Rollouts
from master.server import PeerAuthenticator
from master.service import MasterContext, Peer, ServiceError, release_environment, require_role
from master.store import Store
from tests.e2e.harness import commit_change, git, make_git_site
from wire import pki


# -- roles ------------------------------------------------------------------------------------------------
def test_role_text_parses_role_and_groups() -> None:
    assert pki.parse_role("role=operator;groups=web,db") == pki.OperatorRole("operator", frozenset({"web", "db"}))
    assert pki.parse_role("role=viewer") == pki.OperatorRole("viewer")
    assert pki.parse_role(" role = admin ; groups = * ") == pki.OperatorRole("admin")
    with pytest.raises(pki.PkiError, match="operator role 'root' is not one of viewer, operator, admin"):
        pki.parse_role("role=root")
    with pytest.raises(pki.PkiError, match="expected role=ROLE;groups=G1,G2"):
        pki.parse_role("role=viewer;team=x")
    with pytest.raises(pki.PkiError, match="groups= names no group"):
        pki.parse_role("role=viewer;groups=,")
    op = pki.parse_role("role=operator;groups=web")
    assert op.allows("viewer") and op.allows("operator") and not op.allows("admin")
    assert op.covers("web") and not op.covers("db") and not op.covers(None)
    assert pki.OperatorRole("admin").covers(None)


class _Context:
    def __init__(self, pem: bytes) -> None:
        self.pem = pem

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_pem_cert": [self.pem]}

    def abort(self, code: Any, message: str) -> None:
        raise AssertionError(message)


@pytest.fixture()
def ca(tmp_path: Path) -> CertificateAuthority:
    authority = CertificateAuthority(tmp_path / "ssl")
    authority.setup("master.test")
    return authority


def test_the_role_comes_from_the_certificate_extension(ca: CertificateAuthority) -> None:
    auth = PeerAuthenticator(ca)
    _key, cert = ca.generate("alice", role="role=operator;groups=web")
    peer = auth.peer(_Context(cert))  # type: ignore[arg-type]
    assert peer is not None and peer.operator and peer.role == pki.OperatorRole("operator", frozenset({"web"}))
    assert "bunraku_role" not in peer.extensions  # not a fact of the node: it is the operator's authority
    _key, legacy = ca.generate("root-op", operator=True)  # pp_cli_auth without a role: admin
    assert auth.peer(_Context(legacy)).role == pki.OperatorRole("admin")  # type: ignore[arg-type,union-attr]
    _key, node = ca.generate("web01.example.com")
    assert auth.peer(_Context(node)).role is None  # type: ignore[arg-type,union-attr]
    _key, named = ca.generate("admin")  # a name grants nothing: only the extension does
    assert not auth.peer(_Context(named)).operator  # type: ignore[arg-type,union-attr]
    with pytest.raises(pki.PkiError, match="is not one of"):
        ca.generate("bob", role="role=superuser")


def test_agents_cannot_ask_for_a_role_in_their_request() -> None:
    with pytest.raises(pki.PkiError, match="is not a Puppet extension request"):
        pki.make_csr(pki.generate_key(), "web01.example.com", extensions={pki.ROLE_OID: "role=admin"})


def test_require_role_checks_the_role_then_the_group() -> None:
    viewer = Peer("v", True, role=pki.OperatorRole("viewer"))
    with pytest.raises(ServiceError, match="permission denied: v is a viewer; it takes the operator role to "
                                           "start a rollout") as err:
        require_role(viewer, "operator", "web", what="start a rollout")
    assert err.value.code == "permission_denied"
    web_op = Peer("o", True, role=pki.OperatorRole("operator", frozenset({"web"})))
    require_role(web_op, "operator", "web")
    with pytest.raises(ServiceError, match="only in group\\(s\\) web, not in every group"):
        require_role(web_op, "operator", None)
    with pytest.raises(ServiceError, match="not an operator certificate"):
        require_role(Peer("web01"), "viewer")
    assert Peer("x", True).role == pki.OperatorRole("admin")


def test_release_settings_in_the_config_are_validated(tmp_path: Path) -> None:
    config = load_config(None, {"environments": {"production": {"follow_branch": False, "release": "abc"}}})
    assert not config.follows_branch("production") and config.pinned_release("production") == "abc"
    assert config.follows_branch("staging") and config.pinned_release("staging") is None
    with pytest.raises(ConfigError, match="environments.production: unknown setting\\(s\\): follow"):
        load_config(None, {"environments": {"production": {"follow": True}}})


# -- REV resolution ----------------------------------------------------------------------------------------
@pytest.fixture()
def repo(tmp_path: Path) -> tuple[Path, Environments]:
    work = make_git_site(tmp_path)
    return work, Environments(git_repo=str(work), cache_dir=tmp_path / "code", git_poll_seconds=0)


def test_rev_resolves_to_a_full_commit_of_the_environment(repo: tuple[Path, Environments]) -> None:
    work, envs = repo
    first = git(work, "rev-parse", "HEAD")
    second = commit_change(work, "manifests/site.pp", "node default { }\n")
    assert envs.resolve("production", "production") == second
    assert envs.resolve("production", first[:8]) == first
    assert envs.resolve("production", second) == second
    with pytest.raises(EnvError, match="^unknown revision 'nope': not a branch or commit of "):
        envs.resolve("production", "nope")
    with pytest.raises(EnvError, match="revision '--all' is not valid"):
        envs.resolve("production", "--all")
    with pytest.raises(EnvError, match="'staging' is not a branch of a git repository"):
        envs.resolve("staging", "production")
    assert envs.at_commit("production", first).code_id == first


def test_directory_environments_have_no_releases(tmp_path: Path) -> None:
    (tmp_path / "envs" / "production").mkdir(parents=True)
    envs = Environments(environmentpath=tmp_path / "envs")
    with pytest.raises(EnvError, match="not a branch of a git repository"):
        envs.resolve("production", "HEAD")


# -- which release a node gets -----------------------------------------------------------------------------
def _ctx(tmp_path: Path, envs: Environments, store_name: str = "store.db", **environments: Any) -> MasterContext:
    store = Store.open(path=tmp_path / store_name)
    config = load_config(None, {"environments": environments})
    return MasterContext(config, None, store, envs, None, None, rollouts=Rollouts(store))  # type: ignore[arg-type]


def test_following_the_branch_serves_the_head_unless_a_release_is_assigned(
        tmp_path: Path, repo: tuple[Path, Environments]) -> None:
    work, envs = repo
    ctx = _ctx(tmp_path, envs)
    first = git(work, "rev-parse", "HEAD")
    second = commit_change(work, "manifests/site.pp", "node default { }\n")
    assert release_environment(ctx, "n1", envs.get("production")).code_id == second
    ctx.rollouts.pin_release("n1", "production", first)
    assert release_environment(ctx, "n1", envs.get("production")).code_id == first


def test_not_following_the_branch_keeps_a_node_on_its_release(tmp_path: Path,
                                                              repo: tuple[Path, Environments]) -> None:
    work, envs = repo
    ctx = _ctx(tmp_path, envs, production={"follow_branch": False})
    first = git(work, "rev-parse", "HEAD")
    assert release_environment(ctx, "n1", envs.get("production")).code_id == first  # first contact: the head
    second = commit_change(work, "manifests/site.pp", "node default { }\n")
    assert release_environment(ctx, "n1", envs.get("production")).code_id == first  # ... and it stays
    assert release_environment(ctx, "n2", envs.get("production")).code_id == second  # a new node: the head now
    assert ctx.rollouts.assigned_release("n1", "production") == first


def test_a_pinned_release_is_served_to_nodes_without_an_assignment(tmp_path: Path,
                                                                   repo: tuple[Path, Environments]) -> None:
    work, envs = repo
    first = git(work, "rev-parse", "HEAD")
    commit_change(work, "manifests/site.pp", "node default { }\n")
    ctx = _ctx(tmp_path, envs, production={"follow_branch": False, "release": first[:10]})
    assert release_environment(ctx, "n1", envs.get("production")).code_id == first
    assert ctx.rollouts.assigned_release("n1", "production") is None
    bad = _ctx(tmp_path, envs, "bad.db", production={"follow_branch": False, "release": "nope"})
    with pytest.raises(ServiceError, match="environments.production.release: unknown revision 'nope'"):
        release_environment(bad, "n1", envs.get("production"))


# -- the live hub ------------------------------------------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_trigger_reaches_connected_agents_only() -> None:
    clock = _Clock()
    beats: list[str] = []
    hub = LiveHub(heartbeat_seconds=1, timeout=5, clock=clock, on_heartbeat=beats.append)
    assert hub.trigger("web01") is False  # never connected: the rollout defers it
    conn = hub.connect("web01")
    assert beats == ["web01"] and hub.connected_nodes() == ["web01"]
    assert hub.trigger("web01", "incremental", 7) is True
    assert conn.commands.get_nowait() == Command("run", "incremental", 7)
    clock.now += 6  # silent for longer than the timeout: unresponsive
    assert hub.trigger("web01") is False and not hub.connected("web01")
    hub.heard_from("web01")
    assert hub.trigger("web01") is True
    hub.disconnect(conn)
    assert hub.trigger("web01") is False


def test_the_stream_pings_first_and_a_new_channel_replaces_the_old() -> None:
    hub = LiveHub(heartbeat_seconds=0.05, timeout=5, on_connect=lambda node: Command("run", "full", 3))
    old = hub.connect("web01")
    stream = hub.commands(old, lambda: True)
    assert next(stream) == Command("ping")
    assert next(stream) == Command("run", "full", 3)  # a run the rollouts were waiting for on connect
    assert next(stream) == Command("ping")  # nothing to do: a heartbeat
    new = hub.connect("web01")
    assert list(stream) == []  # the old channel ends
    assert old.closed.is_set() and hub.connected("web01")
    hub.trigger("web01")
    assert new.commands.get_nowait() == Command("run", "full", 3)  # on_connect
    assert new.commands.get_nowait() == Command("run")


def test_the_hub_holds_a_bounded_number_of_channels() -> None:
    hub = LiveHub(max_agents=1)
    hub.connect("a")
    hub.connect("a")  # a reconnect replaces, it does not count twice
    with pytest.raises(LiveRefused, match="holds 1 live channels already"):
        hub.connect("b")
    hub.close()
    with pytest.raises(LiveRefused, match="shutting down"):
        hub.connect("a")
