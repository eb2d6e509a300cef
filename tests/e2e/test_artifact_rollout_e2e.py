"""An application version rolled out end to end: a real master on loopback with its store, live agents
running the daemon loop, artifacts pushed over gRPC, `release` resources downloading and switching them,
a health check failing on one node, and the auto-rollback switching every node back to the version it
still has on disk."""

from __future__ import annotations

import http.server
import io
import os
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import LiveFleet, client_for, issue_identity, live_agent, start_master, wait_for

WEB = [f"web{i:02d}.example.com" for i in range(4)]
BROKEN = "web02.example.com"  # version 2.0 is unhealthy here
GROUPS = "groups:\n  web:\n    nodes: ['web*']\n"
LIVE = {"live_heartbeat_seconds": 0.5, "live_timeout": 3, "rollout_tick_seconds": 0.3}


def _site(env: Path, port: int) -> None:
    (env / "manifests").mkdir(parents=True)
    (env / "manifests" / "site.pp").write_text(f"""\
node default {{
  release {{ 'shop': version => '1.0', path => '/srv/shop', keep => 3 }}
  healthcheck {{ 'shop':
    url     => "http://127.0.0.1:{port}/health/${{trusted['certname']}}",
    retries => 0,
  }}
}}
""")


def _artifact(path: Path, version: str) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in {"VERSION": version.encode(), "index.php": b"<?php echo 'shop';"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


class Health(http.server.BaseHTTPRequestHandler):
    """200 when the node's deployed version (its current/VERSION) is healthy; 503 for 2.0 on BROKEN."""

    agents: Path

    def do_GET(self) -> None:  # noqa: N802
        node = self.path.rsplit("/", 1)[-1]
        try:
            version = (self.agents / node / "root/srv/shop/current/VERSION").read_text()
        except OSError:
            version = "none"
        ok = version != "none" and not (node == BROKEN and version == "2.0")
        self.send_response(200 if ok else 503)
        self.end_headers()
        self.wfile.write(version.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from master import artifactclient

    tmp = tmp_path_factory.mktemp("artifact-rollout")
    Health.agents = tmp / "agents"
    health = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=health.serve_forever, daemon=True).start()
    _site(tmp / "envs" / "production", health.server_address[1])
    groups = tmp / "groups.yaml"
    groups.write_text(GROUPS)
    master = start_master(tmp, tmp / "envs", groups=groups, **LIVE)
    ci = client_for(master, issue_identity(master, tmp, "ci", operator=True))
    artifactclient.push(ci, "shop", "1.0", _artifact(tmp / "shop-1.0.tar.gz", "1.0"))
    agents = LiveFleet()
    for name in WEB:
        paths = issue_identity(master, tmp, name)
        agents.add(live_agent(master.address, master.ca_address, tmp, name, paths.ssldir))
    store = master.ctx.store
    wait_for(lambda: len([n for n in store.node_statuses() if n.last_run and n.status == "changed"]) == len(WEB), 60,
             "every agent's first run")
    wait_for(lambda: len(master.ctx.live.connected_nodes()) == len(WEB), 10, "every live channel")
    yield {"tmp": tmp, "master": master, "agents": agents, "ci": ci}
    agents.close()
    ci.close()
    master.stop()
    health.shutdown()


def _current(tmp: Path, node: str) -> str:
    return os.readlink(tmp / "agents" / node / "root/srv/shop/current")


def test_a_version_rolled_out_in_waves_halts_on_an_unhealthy_node_and_rolls_back_from_disk(
        fleet: dict[str, Any]) -> None:
    from master import artifactclient
    from master import fleet as ops

    tmp, ci = fleet["tmp"], fleet["ci"]
    for node in WEB:
        assert _current(tmp, node) == "releases/1.0"
    first = {n: os.stat(tmp / "agents" / n / "root/srv/shop/releases/1.0").st_ino for n in WEB}
    artifactclient.push(ci, "shop", "2.0", _artifact(tmp / "shop-2.0.tar.gz", "2.0"))
    started = ops.start_rollout(ci, "", "production", group="web", canary="1", batch="1", max_concurrent=1,
                                health_timeout=30, auto_rollback=True, artifact="shop=2.0")
    assert (started["environment"], started["code_id"]) == ("artifact:shop", "2.0")
    assert [len(w["nodes"]) for w in started["waves"]] == [1, 1, 1, 1]

    def finished() -> dict[str, Any] | None:
        info = ops.rollout_status(ci, started["id"])
        return info if info["state"] not in ("running", "rolling_back") else None

    info = wait_for(finished, 120, "the rollout to end")
    lines = "\n".join(ops.rollout_lines(info))
    assert info["state"] == "rolled_back", lines
    by_name = {n["name"]: n for n in info["nodes"]}
    assert by_name[BROKEN]["state"] in ("rolled_back",), lines
    broken_reason = [e for e in info["timeline"] if e["kind"] == "failed"][0]
    assert broken_reason["node"] == BROKEN
    assert "health check shop unhealthy" in broken_reason["detail"]["detail"], lines
    took = [n for n in WEB if (tmp / "agents" / n / "root/srv/shop/releases/2.0").is_dir()]
    assert BROKEN in took
    for node in WEB:  # every node is back on 1.0: the very directory unpacked first, no new download
        assert _current(tmp, node) == "releases/1.0", (node, lines)
        # and its last report says so: the version each app runs is what the rollout judges
        assert fleet["master"].ctx.store.reports(node, last=1)[0]["releases"] == {"shop": "1.0"}
        assert os.stat(tmp / "agents" / node / "root/srv/shop/releases/1.0").st_ino == first[node]
        assert not (tmp / "agents" / node / "root/srv/shop/.incoming/1.0.part").exists()
    for node in set(WEB) - set(took):  # nodes after the failure never got 2.0
        assert by_name[node]["state"] in ("pending", "rolled_back"), lines
    assert fleet["master"].ctx.rollouts.assigned_release(BROKEN, "artifact:shop") is None


def test_an_artifact_rollout_refuses_unknown_versions_and_apps(fleet: dict[str, Any]) -> None:
    from master import fleet as ops
    from wire.client import ClientError

    with pytest.raises(ClientError, match=r"no artifact shop 9\.9; push it first"):
        ops.start_rollout(fleet["ci"], "", "production", group="web", artifact="shop=9.9")
    with pytest.raises(ClientError, match="expected APP=VERSION"):
        ops.start_rollout(fleet["ci"], "", "production", group="web", artifact="shop")
    from master import artifactclient

    artifactclient.push(fleet["ci"], "other", "1", _artifact(fleet["tmp"] / "o.tar.gz", "1"))
    with pytest.raises(ClientError, match=r"no node of group web of environment production deploys other"):
        ops.start_rollout(fleet["ci"], "", "production", group="web", artifact="other=1")


def test_the_example_site_deploys_a_php_app_and_a_java_service(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    from tests.engine.conftest import SHELL_PROGRAMS, install_programs

    repo = Path(__file__).resolve().parents[2]
    env = repo / "examples" / "environments" / "production"
    root = tmp_path / "root"
    for folder in ("etc/systemd/system", "srv", "opt"):  # as on any Debian host
        (root / folder).mkdir(parents=True)
    install_programs(root, *SHELL_PROGRAMS)
    artifacts = tmp_path / "artifacts"
    (artifacts / "shop/1.4.2").mkdir(parents=True)
    with tarfile.open(artifacts / "shop/1.4.2/shop-1.4.2.tar.gz", "w:gz") as tar:
        data = b"<?php echo 'shop 1.4.2';\n"
        info = tarfile.TarInfo("public/index.php")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (artifacts / "inventory/2.0.1").mkdir(parents=True)
    jar = artifacts / "inventory/2.0.1/inventory.jar"
    with zipfile.ZipFile(jar, "w") as zf:  # a jar is a zip with a manifest; it is deployed whole
        zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: example.Inventory\n")

    def apply(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(repo / "bunraku.py"), "apply", str(env / "manifests" / "site.pp"), "--modulepath",
             str(env / "modules"), "--hiera-config", str(env / "hiera.yaml"), "--facts",
             str(repo / "examples/facts/app01.example.com.yaml"), "--node", "app01.example.com", "--root", str(root),
             "--tags", "profile::shop,profile::inventory", "--artifact-dir", str(artifacts), "--detailed-exitcodes",
             "--no-catalog-cache", "--state-dir", str(tmp_path / "state"), *extra],
            capture_output=True, text=True, cwd=repo, timeout=300)

    first = apply()
    assert first.returncode == 2, first.stdout + first.stderr
    assert os.readlink(root / "srv/shop/current") == "releases/1.4.2"
    assert (root / "srv/shop/current/public/index.php").read_text() == "<?php echo 'shop 1.4.2';\n"
    assert os.readlink(root / "opt/inventory/current") == "releases/2.0.1"
    assert (root / "opt/inventory/current/inventory.jar").read_bytes() == jar.read_bytes()
    unit = (root / "etc/systemd/system/inventory.service").read_text()
    assert "ExecStart=/usr/bin/java -jar /opt/inventory/current/inventory.jar" in unit
    again = apply()
    assert again.returncode == 0, again.stdout + again.stderr
