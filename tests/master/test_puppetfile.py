"""Puppetfile modules: r10k's format read line by line, git modules resolved from real repositories
(branch, tag) over file://, Forge-style releases fetched from a real HTTP server and unpacked safely
(no paths or links out, size caps), each module cached by (URL, commit) / (name, version)."""

from __future__ import annotations

import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from master import puppetfile
from master.puppetfile import ModuleError, ModuleInstaller, PuppetfileError, parse
from tests.e2e.harness import git

NTP_INIT = "class ntp { notify { 'ntp': } }\n"


# -- helpers shared with test_deploy.py ----------------------------------------------------------------
def make_module_repo(base: Path, name: str = "ntp") -> tuple[Path, Path]:
    """A bare repository ``<name>.git`` (branch main, tag v1.0.0) and the work tree that pushes to it."""
    work = base / f"{name}-work"
    (work / "manifests").mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    (work / "manifests" / "init.pp").write_text(NTP_INIT.replace("ntp", name))
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "v1")
    git(work, "tag", "-a", "v1.0.0", "-m", "release 1.0.0")
    bare = base / f"{name}.git"
    git(base, "clone", "-q", "--bare", str(work), str(bare))
    git(work, "remote", "add", "origin", str(bare))
    return bare, work


def module_commit(work: Path, text: str) -> str:
    (work / "manifests" / "params.pp").write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "change")
    git(work, "push", "-q", "origin", "main")
    return git(work, "rev-parse", "HEAD")


def forge_tarball(release: str, files: dict[str, str], *, extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{release}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buf.getvalue()


class Forge:
    """A real HTTP server on loopback serving ``/v3/files/<release>.tar.gz`` and counting requests."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        forge = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                forge.requests.append(self.path)
                data = forge.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, release: str, data: bytes) -> None:
        self.files[f"/v3/files/{release}.tar.gz"] = data

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def forge() -> Iterator[Forge]:
    server = Forge()
    yield server
    server.close()


# -- parsing --------------------------------------------------------------------------------------------
def test_parse_reads_r10k_syntax() -> None:
    specs = parse("""\
forge 'https://forge.example.com'
# a comment
mod 'puppetlabs-stdlib', '9.4.1'
mod 'apache',
  :git => 'https://git.example.com/apache.git',
  :tag => 'v2.1.0'
mod 'ntp', git: 'file:///srv/ntp.git', branch: 'main'   # trailing comment
mod 'acme/site', :local => true
mod 'pinned', git: 'file:///srv/p.git', commit: 'abcdef1234567'
""")
    got = [(s.name, s.directory, s.kind, s.source, s.ref_kind, s.ref, s.line) for s in specs]
    assert got == [
        ("puppetlabs-stdlib", "stdlib", "forge", "puppetlabs-stdlib", "version", "9.4.1", 3),
        ("apache", "apache", "git", "https://git.example.com/apache.git", "tag", "v2.1.0", 4),
        ("ntp", "ntp", "git", "file:///srv/ntp.git", "branch", "main", 7),
        ("acme/site", "site", "local", "", "", "", 8),
        ("pinned", "pinned", "git", "file:///srv/p.git", "commit", "abcdef1234567", 9),
    ]


@pytest.mark.parametrize(("text", "line", "words"), [
    ("mod 'a-b', '1.0.0'\nmoduledir 'vendor'\n", 2, "unknown statement 'moduledir'"),
    ("mod 'ntp', git: 'file:///x', flavour: 'y'\n", 1, "unknown option(s) flavour"),
    ("\n\nmod 'a-b', :latest\n", 3, ":latest is not supported"),
    ("mod 'ntp', git: 'file:///x', tag: 'a', branch: 'b'\n", 1, "one of ref, tag, branch, commit"),
    ("mod 'stdlib'\n", 1, "pin a version"),
    ("mod 'a-b', '1.0.0'\nmod 'c-b', '2.0.0'\n", 2, "already named on line 1"),
    ("mod 'a-b', '1.0.0' + 1\n", 1, "cannot read"),
])
def test_unknown_syntax_is_one_error_naming_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(PuppetfileError) as info:
        parse(text, "Puppetfile")
    message = str(info.value)
    assert message.startswith(f"Puppetfile:{line}: ")
    assert words in message
    assert "\n" not in message


# -- git modules ----------------------------------------------------------------------------------------
def test_git_module_by_branch_and_tag_cached_by_url_and_commit(tmp_path: Path) -> None:
    bare, work = make_module_repo(tmp_path)
    v1 = git(work, "rev-parse", "HEAD")
    installer = ModuleInstaller(tmp_path / "cache")
    specs = parse(f"mod 'ntp', git: 'file://{bare}', branch: 'main'\n"
                  f"mod 'other', git: 'file://{bare}', tag: 'v1.0.0'\n")
    lock = installer.resolve(specs)
    # the same (URL, commit) twice: fetched once
    assert [(m.spec.directory, m.resolved, m.fetched) for m in lock.modules] == [("ntp", v1, True), ("other", v1, False)]
    assert (lock.modules[0].tree / "manifests" / "init.pp").read_text() == NTP_INIT
    again = installer.resolve(specs)
    assert [m.fetched for m in again.modules] == [False, False]  # (URL, commit) already in the cache
    assert again.digest == lock.digest

    v2 = module_commit(work, "class ntp::params {}\n")
    moved = installer.resolve(specs)
    assert [(m.resolved, m.fetched) for m in moved.modules] == [(v2, True), (v1, False)]  # the tag stays
    assert moved.digest != lock.digest
    assert (moved.modules[0].tree / "manifests" / "params.pp").is_file()


def test_git_module_errors_name_the_module(tmp_path: Path) -> None:
    bare, _ = make_module_repo(tmp_path)
    installer = ModuleInstaller(tmp_path / "cache")
    with pytest.raises(ModuleError) as info:
        installer.resolve(parse(f"mod 'ntp', git: 'file://{bare}', tag: 'v9'\n"))
    assert str(info.value) == f"Puppetfile module ntp (line 1): no tag 'v9' in file://{bare}"
    assert info.value.module == "ntp"
    with pytest.raises(ModuleError) as info:
        installer.resolve(parse(f"mod 'gone', git: 'file://{tmp_path}/missing.git'\n"))
    assert str(info.value).startswith("Puppetfile module gone (line 1): git ls-remote failed: ")
    assert "\n" not in str(info.value)


# -- Forge modules --------------------------------------------------------------------------------------
def test_forge_release_fetched_once_and_unpacked(tmp_path: Path, forge: Forge) -> None:
    forge.publish("acme-motd-1.2.3", forge_tarball("acme-motd-1.2.3", {
        "manifests/init.pp": "class motd {}\n", "metadata.json": '{"name": "acme-motd"}'}))
    installer = ModuleInstaller(tmp_path / "cache", forge_url=forge.url + "/")
    lock = installer.resolve(parse("mod 'acme-motd', '1.2.3'\n"))
    (module,) = lock.modules
    assert (module.resolved, module.fetched) == ("1.2.3", True)
    assert (module.tree / "manifests" / "init.pp").read_text() == "class motd {}\n"
    assert forge.requests == ["/v3/files/acme-motd-1.2.3.tar.gz"]
    assert [m.fetched for m in installer.resolve(parse("mod 'acme/motd', '1.2.3'\n")).modules] == [False]
    assert len(forge.requests) == 1  # (name, version) is cached


def _link(name: str, target: str, *, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def _file(name: str, size: int = 1) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


@pytest.mark.parametrize(("extra", "words"), [
    ([_file("acme-evil-1.0.0/../../escaped")], "would be written outside the module"),
    ([_file("/tmp/escaped")], "would be written outside the module"),
    ([_link("acme-evil-1.0.0/files/passwd", "/etc/passwd")], "points outside the module"),
    ([_link("acme-evil-1.0.0/files/up", "../../../etc")], "points outside the module"),
    ([_link("acme-evil-1.0.0/files/hard", "/etc/shadow", hard=True)], "points outside the module"),
])
def test_traversal_tarball_is_refused(tmp_path: Path, forge: Forge, extra: list[tarfile.TarInfo],
                                      words: str) -> None:
    forge.publish("acme-evil-1.0.0", forge_tarball("acme-evil-1.0.0", {"manifests/init.pp": "class evil {}\n"},
                                                   extra=extra))
    installer = ModuleInstaller(tmp_path / "cache", forge_url=forge.url)
    with pytest.raises(ModuleError) as info:
        installer.resolve(parse("mod 'acme-evil', '1.0.0'\n"))
    assert str(info.value).startswith("Puppetfile module acme-evil (line 1): ")
    assert words in str(info.value)
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()
    assert not (tmp_path / "cache" / "forge" / "acme-evil-1.0.0").exists()


def test_size_caps_and_missing_release(tmp_path: Path, forge: Forge, monkeypatch: pytest.MonkeyPatch) -> None:
    forge.publish("acme-big-1.0.0", forge_tarball("acme-big-1.0.0", {"files/a": "a" * 5000}))
    installer = ModuleInstaller(tmp_path / "cache", forge_url=forge.url)
    monkeypatch.setattr(puppetfile, "MAX_UNPACKED_BYTES", 4096)
    with pytest.raises(ModuleError, match="more than 4096 bytes unpacked"):
        installer.resolve(parse("mod 'acme-big', '1.0.0'\n"))
    monkeypatch.setattr(puppetfile, "MAX_DOWNLOAD_BYTES", 10)
    with pytest.raises(ModuleError, match="larger than 10 bytes"):
        installer.resolve(parse("mod 'acme-big', '1.0.0'\n"))
    with pytest.raises(ModuleError) as info:
        installer.resolve(parse("mod 'acme-none', '2.0.0'\n"))
    assert str(info.value) == (f"Puppetfile module acme-none (line 1): {forge.url}/v3/files/acme-none-2.0.0.tar.gz: "
                               f"HTTP 404 Not Found")
    with pytest.raises(ModuleError, match="needs the forge_url setting"):
        ModuleInstaller(tmp_path / "c2").resolve(parse("mod 'acme-none', '2.0.0'\n"))
