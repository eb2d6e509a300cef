"""The master's retention job and its settings: durations as PuppetDB writes them, one master at a time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from master.config import ConfigError, load_config
from master.retention import Retention
from master.store import Store
from master.store.documents import now_utc
from tests.master.test_store import _report


def test_ttls_read_as_durations(tmp_path: Path) -> None:
    conf = tmp_path / "m.yaml"
    conf.write_text("report_ttl: 7d\nnode_ttl: 12h\nnode_purge_ttl: 0\nstore_maintenance_seconds: 30m\n")
    cfg = load_config(conf)
    assert (cfg.report_ttl, cfg.node_ttl, cfg.node_purge_ttl, cfg.store_maintenance_seconds) == (
        7 * 86400, 12 * 3600, 0, 1800)
    assert load_config(None).report_ttl == 14 * 86400  # PuppetDB's default
    conf.write_text("report_ttl: two weeks\n")
    with pytest.raises(ConfigError, match=r"^error: report_ttl must be a duration such as 14d"):
        load_config(conf)
    conf.write_text("node_ttl: -1d\n")
    with pytest.raises(ConfigError, match=r"node_ttl must be a number of at least 0"):
        load_config(conf)


def test_one_of_two_masters_runs_a_pass(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    cfg = load_config(None, {"report_ttl": "1d"})
    now = now_utc()
    with Store.open(url) as a, Store.open(url) as b:
        for days in (0, 3, 5):
            a.save_report(_report("web01", at=now - timedelta(days=days)))
        first, second = Retention(a, cfg, "master-a"), Retention(b, cfg, "master-b")
        assert first.run_once() == {"reports": 2, "deactivated": 0, "purged": 0, "history": 0, "documents": 0}
        assert second.run_once() is None  # the lease is master-a's
        assert len(a.reports("web01", last=10)) == 1


def test_puppets_api_is_on_8140_by_default_when_the_grpc_port_is_elsewhere(tmp_path: Path) -> None:
    assert load_config(None, {"listen": "0.0.0.0:8150"}).puppet_api_address() == ("0.0.0.0:8140", True)
    assert load_config(None, {"listen": "127.0.0.1:8140"}).puppet_api_address() == (None, False)  # 8140 taken
    assert load_config(None, {"listen": "127.0.0.1:0"}).puppet_api_address() == (None, False)  # tests, ephemeral
    given = load_config(None, {"listen": "0.0.0.0:8150", "puppet_listen": "10.0.0.1:8141"})
    assert given.puppet_api_address() == ("10.0.0.1:8141", False)
    conf = tmp_path / "m.yaml"
    conf.write_text("listen: 0.0.0.0:8150\npuppet_listen: off\n")  # YAML's bare off
    assert load_config(conf).puppet_api_address() == (None, False)
