from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.apply import apply_catalog
from engine.errors import ValidationError
from engine.filebucket import FileBucket
from engine.modes import desired_mode, parse_mode
from engine.sources import ModulepathFileSource
from engine.types.file import FileType

from .conftest import CatalogBuilder, changes, converge, failures


def test_file_directory_link_content_mode_converge(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/srv", ensure="directory", mode="0750")
    cb.add("File", "/srv/app.conf", content="a = 1\n", mode="u=rw,go=r", owner="root", group="users")
    cb.add("File", "/srv/current", ensure="link", target="/srv/app.conf")
    cb.add("File", "/srv/empty", ensure="present")
    predicted, first, _ = converge(cb.catalog, root, state)
    assert (root / "srv/app.conf").read_text() == "a = 1\n"
    assert oct((root / "srv/app.conf").stat().st_mode & 0o7777) == "0o644"
    assert (root / "srv/app.conf").stat().st_gid == 100
    assert oct((root / "srv").stat().st_mode & 0o7777) == "0o750"
    assert os.readlink(root / "srv/current") == "/srv/app.conf"
    ev = first.resource_statuses["File[/srv/app.conf]"].events
    assert [e.property for e in ev] == ["ensure"]
    assert ev[0].message == "defined content as '{sha256}" + __import__("hashlib").sha256(b"a = 1\n").hexdigest() + "'"
    assert ev[0].name == "file_created"
    # parent directory autorequired: created before the file in it
    refs = list(first.resource_statuses)
    assert refs.index("File[/srv]") < refs.index("File[/srv/app.conf]")


def test_content_mode_owner_drift_is_corrected_property_by_property(root: Path, state: Path) -> None:
    target = root / "etc/motd"
    target.write_text("old\n")
    target.chmod(0o600)
    cb = CatalogBuilder()
    cb.add("File", "/etc/motd", content="new\n", mode="0644", group="users", backup="puppet")
    predicted, first, _ = converge(cb.catalog, root, state, show_diff=True)
    props = [e.property for e in first.resource_statuses["File[/etc/motd]"].events]
    assert props == ["content", "group", "mode"]
    diff_logs = [entry.message for entry in predicted.logs if entry.message.startswith("---")]
    assert diff_logs and "-old\n+new" in diff_logs[0]
    bucket = FileBucket(state)
    [entry] = bucket.entries()
    assert entry.paths == ("/etc/motd",)
    assert bucket.get(entry.checksum) == b"old\n"
    bucket.restore(entry.checksum[:8], str(target))
    assert target.read_text() == "old\n"


def test_absent_file_and_directory_needs_force(root: Path, state: Path) -> None:
    (root / "gone").write_text("x")
    (root / "dir").mkdir()
    (root / "dir/f").write_text("x")
    (root / "keepdir").mkdir()
    cb = CatalogBuilder()
    cb.add("File", "/gone", ensure="absent")
    cb.add("File", "/dir", ensure="absent", force=True)
    cb.add("File", "/keepdir", ensure="absent")
    _, first, _ = converge(cb.catalog, root, state)
    assert not (root / "gone").exists() and not (root / "dir").exists()
    assert (root / "keepdir").is_dir()
    assert any("use 'force'" in entry.message for entry in first.logs)


def test_source_from_modulepath_and_recurse_purge(root: Path, state: Path, tmp_path: Path) -> None:
    files = tmp_path / "modules/web/files"
    (files / "site/sub").mkdir(parents=True)
    (files / "index.html").write_text("<h1>hi</h1>\n")
    (files / "site/a.txt").write_text("A\n")
    (files / "site/sub/b.txt").write_text("B\n")
    (root / "www/site").mkdir(parents=True)
    (root / "www/site/stale.txt").write_text("old")
    sources = ModulepathFileSource([tmp_path / "modules"])
    cb = CatalogBuilder()
    cb.add("File", "/www", ensure="directory")
    cb.add("File", "/www/index.html", source="puppet:///modules/web/index.html")
    cb.add("File", "/www/site", ensure="directory", source="puppet:///modules/web/site", recurse=True,
           purge=True, force=True)
    _, first, _ = converge(cb.catalog, root, state, file_sources=sources)
    assert (root / "www/index.html").read_text() == "<h1>hi</h1>\n"
    assert (root / "www/site/sub/b.txt").read_text() == "B\n"
    assert not (root / "www/site/stale.txt").exists()
    assert "File[/www/site/stale.txt]" in first.resource_statuses
    (files / "site/a.txt").write_text("A2\n")
    again = apply_catalog(cb.catalog, root=root, state_dir=state, file_sources=sources)
    assert changes(again) == {("File[/www/site/a.txt]", "content")}


def test_missing_source_and_missing_parent_fail_with_a_reason(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/nope/x", content="x")
    cb.add("File", "/y", source="puppet:///modules/none/y")
    report = apply_catalog(cb.catalog, root=root, state_dir=state)
    bad = failures(report)
    assert "parent directory /nope does not exist" in bad["File[/nope/x]"][0]
    assert "could not retrieve information from source(s) puppet:///modules/none/y" in \
        report.resource_statuses["File[/y]"].events[0].message


def test_atomic_write_leaves_no_temporary_files(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    for i in range(5):
        cb.add("File", f"/etc/f{i}", content=f"{i}\n" * 1000)
    apply_catalog(cb.catalog, root=root, state_dir=state)
    assert not [p for p in (root / "etc").iterdir() if p.name.startswith(".")]


def test_noop_changes_nothing_and_writes_nothing(root: Path, state: Path) -> None:
    (root / "etc/motd").write_text("old\n")
    before = {p: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}
    cb = CatalogBuilder()
    cb.add("File", "/etc/motd", content="new\n", backup="puppet")
    cb.add("File", "/etc/new", content="n\n")
    report = apply_catalog(cb.catalog, root=root, state_dir=state, noop=True)
    assert report.noop_pending and report.status == "unchanged"
    after = {p: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}
    assert before == after
    assert not state.exists()


@pytest.mark.parametrize(("spec", "current", "is_dir", "want"), [
    ("0644", 0o600, False, 0o644),
    ("644", 0o600, True, 0o755),
    ("u=rw,go=r", 0o777, False, 0o644),
    ("a+X", 0o600, True, 0o711),
    ("a+X", 0o600, False, 0o600),
    ("go-w", 0o666, False, 0o644),
    ("g=u", 0o640, False, 0o660),
])
def test_modes(spec: str, current: int, is_dir: bool, want: int) -> None:
    assert desired_mode(parse_mode(spec), current, is_dir) == want


@pytest.mark.parametrize(("params", "message"), [
    ({"path": "relative"}, "file paths must be fully qualified, not 'relative'"),
    ({"mode": "u=rwz"}, "invalid mode 'u=rwz': 'u=rwz' is not a symbolic mode clause like u=rw, go-w or a+X"),
    ({"mode": "0999"}, "invalid mode '0999': numeric modes are 3 or 4 octal digits"),
    ({"content": "x", "source": "/a"}, "you cannot specify more than one of content, source, target"),
    ({"ensure": "sideways"}, "invalid value 'sideways' for ensure; expected one of: present, file, directory, "
                             "link, absent"),
    ({"colour": "red"}, "no parameter named 'colour'"),
])
def test_file_validation_messages(params: dict, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        FileType().validate("/x", params)
    assert str(err.value) == message


def test_every_report_keeps_the_content_diff_the_console_shows_it_with_show_diff(root: Path, state: Path) -> None:
    from engine.summary import report_lines

    target = root / "etc/app.conf"
    target.parent.mkdir(parents=True, exist_ok=True)
    for show in (False, True):
        target.write_text("port = 8080\n")
        cb = CatalogBuilder()
        cb.add("File", "/etc/app.conf", content="port = 9090\n")
        cb.add("File", "/etc/quiet.conf", content="b\n", show_diff=False)
        (root / "etc/quiet.conf").write_text("a\n")
        report = apply_catalog(cb.catalog, root=root, state_dir=state, show_diff=show)
        [diff] = [e for e in report.logs if e.message.startswith("---")]
        assert "-port = 8080\n+port = 9090" in diff.message and "/etc/app.conf" in diff.message
        assert "content_diff" in diff.tags and diff.level == ("notice" if show else "info")
        console = "\n".join(text for _level, text in report_lines(report, verbose=True))
        assert ("+port = 9090" in console) is show


def test_a_huge_diff_is_cut_and_a_huge_file_not_diffed(root: Path, state: Path) -> None:
    from engine.providers.file import DIFF_MAX_INPUT, DIFF_MAX_TEXT, unified_diff

    old = "".join(f"line {i}\n" for i in range(20000)).encode()
    new = "".join(f"LINE {i}\n" for i in range(20000)).encode()
    text = unified_diff(old, new, "/x")
    assert text is not None and len(text) <= DIFF_MAX_TEXT + 100 and text.endswith("(diff cut at 64 KiB)\n")
    assert unified_diff(b"a" * (DIFF_MAX_INPUT + 1), b"b", "/x") is None
