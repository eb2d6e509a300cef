"""One log format for the master and the agent: the time, Puppet's level name, the message."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pytest

from master.logfmt import NOTICE, PuppetFormatter, setup_logging
from tests.e2e.harness import make_site, start_master

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (Debug|Info|Notice|Warning|Error): ")


def _format(level: int, message: str, **fields: object) -> str:
    record = logging.LogRecord("bunraku.test", level, __file__, 1, message, None, None)
    if fields:
        record.fields = fields
    return PuppetFormatter().format(record)


def test_puppet_level_names_with_the_time() -> None:
    lines = {level: _format(level, "hello") for level in
             (logging.DEBUG, logging.INFO, NOTICE, logging.WARNING, logging.ERROR, logging.CRITICAL)}
    assert all(LINE.match(line) for line in lines.values()), lines
    assert [line.split(" ", 1)[1] for line in lines.values()] == [
        "Debug: hello", "Info: hello", "Notice: hello", "Warning: hello", "Error: hello", "Error: hello"]
    assert _format(logging.INFO, "catalog served", node="web01", note="two words").endswith(
        'Info: catalog served node=web01 note="two words"')


def test_the_master_logs_text_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    try:
        setup_logging()
        logging.getLogger("master.test").info("ready", extra={"fields": {"port": 8140}})
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = stream.getvalue().strip()
    assert LINE.match(line) and line.endswith("Info: ready port=8140"), line


def test_the_dashboard_says_it_listens_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_site(tmp_path / "envs")
    caplog.set_level(logging.INFO)
    master = start_master(tmp_path, tmp_path / "envs", dashboard_listen="127.0.0.1:0", puppet_listen="off")
    try:
        said = [r.getMessage() for r in caplog.records if "dashboard listening" in r.getMessage()]
        assert said == [f"dashboard listening on https://127.0.0.1:{master.dashboard.port}/"]
    finally:
        master.stop()
