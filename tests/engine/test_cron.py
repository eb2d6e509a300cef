from __future__ import annotations

from pathlib import Path

import pytest

from engine.apply import apply_catalog
from engine.errors import ValidationError
from engine.providers.cron import parse_crontab, render_crontab
from engine.types.cron import CronType, normalise_field

from .conftest import CatalogBuilder, changes, converge

HAND = "# my own notes\nMAILTO=me@example.com\n*/5 * * * * /usr/local/bin/hand-written\n"


def test_cron_entries_converge_and_hand_written_lines_stay(root: Path, state: Path) -> None:
    tab = root / "var/spool/cron/crontabs/root"
    tab.parent.mkdir(parents=True)
    tab.write_text(HAND + "# Puppet Name: legacy\n0 1 * * * /bin/old\n")
    cb = CatalogBuilder()
    cb.add("Cron", "backup", command="/usr/bin/backup --all", user="root", minute=[0, 30], hour="2-4",
           weekday="mon-fri", environment=["PATH=/usr/bin:/bin"])
    cb.add("Cron", "boot", command="/usr/bin/at-boot", special="@reboot")
    cb.add("Cron", "legacy", command="/bin/new", minute=0, hour="*/6")
    _, first, _ = converge(cb.catalog, root, state)
    text = tab.read_text()
    assert text.startswith(HAND)
    assert "# Bunraku Name: backup\nPATH=/usr/bin:/bin\n0,30 2-4 * * mon-fri /usr/bin/backup --all\n" in text
    assert "# Bunraku Name: boot\n@reboot /usr/bin/at-boot\n" in text
    assert "# Puppet Name: legacy\n0 */6 * * * /bin/new\n" in text
    assert {e.property for e in first.resource_statuses["Cron[legacy]"].events} == {"command", "hour"}
    assert oct(tab.stat().st_mode & 0o777) == "0o600" and tab.stat().st_gid == 101
    cb.catalog.get("Cron[boot]").parameters["ensure"] = "absent"
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    assert changes(report) == {("Cron[boot]", "ensure")}
    assert "at-boot" not in tab.read_text() and tab.read_text().startswith(HAND)


def test_crontab_parse_render_round_trip() -> None:
    text = HAND + "# Bunraku Name: x\nA=1\n@daily /bin/x\n"
    items = parse_crontab(text)
    assert render_crontab(items) == text


@pytest.mark.parametrize(("field", "value", "want"), [
    ("minute", [0, 15, 30], "0,15,30"), ("hour", "*/2", "*/2"), ("weekday", "1-5", "1-5"),
    ("month", "jan", "jan"), ("monthday", None, "*"), ("minute", "absent", "*"),
])
def test_cron_fields(field: str, value: object, want: str) -> None:
    assert normalise_field(field, value) == want


@pytest.mark.parametrize(("params", "message"), [
    ({"command": "/x", "hour": 25}, "hour 25 is out of range 0-23"),
    ({"command": "/x", "minute": "5-1"}, "invalid minute range '5-1'"),
    ({"command": "/x", "special": "sometimes"}, "invalid special 'sometimes'; expected one of reboot, yearly, "
                                                "annually, monthly, weekly, daily, midnight, hourly"),
    ({"command": "/x", "special": "daily", "hour": 1},
     "special cannot be combined with minute/hour/monthday/month/weekday"),
    ({}, "a present cron entry needs a single-line command"),
])
def test_cron_validation(params: dict, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        CronType().validate("c", params)
    assert str(err.value) == message
