"""`bunraku store maintain` and `bunraku store deactivate`: the retention the master runs, on demand."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from master.store import Store
from master.store.documents import now_utc
from tests.master.test_store import _report

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bunraku.py"), "store", *args], capture_output=True, text=True)


def test_maintain_and_deactivate(tmp_path: Path) -> None:
    vardir = tmp_path / "var"
    vardir.mkdir()
    conf = tmp_path / "m.yaml"
    conf.write_text(f"vardir: {vardir}\nreport_ttl: 7d\n")
    now = now_utc()
    with Store.open(path=vardir / "store.sqlite") as store:
        for days in (1, 10, 20):
            store.save_report(_report("web01", at=now - timedelta(days=days)), received_at=now)
        store.heartbeat("old01")
    done = _cli("maintain", "--config", str(conf))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2 reports, 0 deactivated, 0 purged, 0 history, 0 documents"
    assert _cli("deactivate", "old01", "--config", str(conf)).stdout.strip() == "deactivated old01"
    missing = _cli("deactivate", "nobody", "--config", str(conf))
    assert missing.returncode == 1 and missing.stderr.strip().startswith("error: the store knows no node nobody")
    with Store.open(path=vardir / "store.sqlite") as store:
        assert [s.name for s in store.node_statuses()] == ["web01"]
        assert len(store.reports("web01", last=10)) == 1
    none = _cli("maintain", "--vardir", str(tmp_path / "empty"))
    assert none.returncode == 1 and none.stderr.startswith("error: ") and "Traceback" not in none.stderr
