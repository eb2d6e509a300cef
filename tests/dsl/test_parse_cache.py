"""The on-disk parse cache (``dsl.parsecache``): on by default in a per-user directory, safe to share
between concurrent processes, bounded, keyed on the release and the parser's code, and never loading
a pickle that someone else could have written."""

from __future__ import annotations

import os
import pickle
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dsl import ast, parsecache
from dsl.errors import Span
from dsl.parser import _MEMO, parse_reference, parse_string

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "notify { 'cached': message => 'from the parser' }\n"


@pytest.fixture(autouse=True)
def fresh_process_state() -> None:
    """What one process remembers (parsed texts, directory verdicts) must not leak between tests."""
    _MEMO.clear()
    parsecache._dir_state.clear()
    parsecache._written_since_check.clear()


def entries(path: Path) -> list[Path]:
    return sorted(path.glob("*.ast"))


def forged(source: str) -> ast.Program:
    """A tree for ``source`` that the parser would never make: loading it shows a cache hit."""
    span = Span("forged.pp", 1, 1, 1, 2)
    body = ast.Block(span, (ast.Call(span, "forged", (), None),))
    return ast.Program(span, body, source)


def plant(cache: Path, filename: str, source: str) -> Path:
    """Write a forged entry for ``source`` exactly where the cache looks for it."""
    import hashlib

    digest = hashlib.sha256(source.encode()).hexdigest()
    path = cache / parsecache.entry_name(filename, digest)
    path.write_bytes(pickle.dumps(forged(source)))
    return path


def bunraku(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = ROOT / ".venv" / "bin" / "bunraku"
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_on_by_default_in_the_users_cache_directory(tmp_path: Path) -> None:
    manifest = tmp_path / "site.pp"
    manifest.write_text(SOURCE)
    env = {k: v for k, v in os.environ.items() if k != "BUNRAKU_PARSE_CACHE"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    cache = tmp_path / "xdg" / "bunraku" / "parse"
    for _ in range(2):  # a text is stored the second time it is parsed
        proc = bunraku("compile", str(manifest), "--node", "n1", env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    assert len(entries(cache)) == 1
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    # without XDG_CACHE_HOME: ~/.cache
    env.pop("XDG_CACHE_HOME")
    env["HOME"] = str(tmp_path / "home")
    for _ in range(2):
        proc = bunraku("compile", str(manifest), "--node", "n1", env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    assert len(entries(tmp_path / "home" / ".cache" / "bunraku" / "parse")) == 1


def test_a_second_parse_loads_the_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "c"
    monkeypatch.setenv("BUNRAKU_PARSE_CACHE", str(cache))
    program = parse_string(SOURCE, "a.pp")
    assert entries(cache) == []  # seen once: only a marker
    _MEMO.clear()
    assert parse_string(SOURCE, "a.pp") == program
    (entry,) = entries(cache)
    assert pickle.loads(entry.read_bytes()) == program
    entry.write_bytes(pickle.dumps(forged(SOURCE)))  # ours, in our directory: it is loaded
    _MEMO.clear()
    assert parse_string(SOURCE, "a.pp") == forged(SOURCE)


def test_off_and_unwritable_directories_only_cost_speed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    for off in ("off", "", "0"):
        monkeypatch.setenv("BUNRAKU_PARSE_CACHE", off)
        _MEMO.clear()
        assert parse_string(SOURCE, "a.pp") == parse_reference(SOURCE, "a.pp")
    assert not (tmp_path / "home").exists()
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("BUNRAKU_PARSE_CACHE", str(blocker / "cache"))
    _MEMO.clear()
    assert parse_string(SOURCE, "a.pp") == parse_reference(SOURCE, "a.pp")


def test_a_directory_others_can_write_into_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "shared"
    cache.mkdir()
    os.chmod(cache, 0o777)
    plant(cache, "a.pp", SOURCE)
    monkeypatch.setenv("BUNRAKU_PARSE_CACHE", str(cache))
    assert parse_string(SOURCE, "a.pp") == parse_reference(SOURCE, "a.pp")
    assert len(entries(cache)) == 1  # nothing written there either


def test_a_symlinked_directory_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    plant(real, "a.pp", SOURCE)
    link = tmp_path / "link"
    link.symlink_to(real)
    monkeypatch.setenv("BUNRAKU_PARSE_CACHE", str(link))
    assert parse_string(SOURCE, "a.pp") == parse_reference(SOURCE, "a.pp")


def test_a_private_directory_of_ours_is_tightened_to_0700(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "c"
    cache.mkdir()
    os.chmod(cache, 0o755)
    monkeypatch.setenv("BUNRAKU_PARSE_CACHE", str(cache))
    parse_string(SOURCE, "a.pp")
    _MEMO.clear()
    parse_string(SOURCE, "a.pp")
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert len(entries(cache)) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make files owned by another user")
def test_entries_and_directories_of_another_user_are_never_loaded(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "c"
    cache.mkdir(mode=0o700)
    planted = plant(cache, "a.pp", SOURCE)
    os.chown(planted, 65534, 65534)
    monkeypatch.setenv("BUNRAKU_PARSE_CACHE", str(cache))
    assert parse_string(SOURCE, "a.pp") == parse_reference(SOURCE, "a.pp")
    # a directory owned by someone else
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    plant(other, "b.pp", SOURCE)
    os.chown(other, 65534, 65534)
    monkeypatch.setenv("BUNRAKU_PARSE_CACHE", str(other))
    assert parse_string(SOURCE, "b.pp") == parse_reference(SOURCE, "b.pp")


def test_an_entry_for_other_text_or_a_corrupt_one_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    cache = tmp_path / "c"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("BUNRAKU_PARSE_CACHE", str(cache))
    name = parsecache.entry_name("a.pp", hashlib.sha256(SOURCE.encode()).hexdigest())
    (cache / name).write_bytes(pickle.dumps(forged("other text")))
    assert parse_string(SOURCE, "a.pp") == parse_reference(SOURCE, "a.pp")
    _MEMO.clear()
    (cache / name).write_bytes(b"\x80\x05garbage")
    assert parse_string(SOURCE, "a.pp") == parse_reference(SOURCE, "a.pp")
    assert pickle.loads((cache / name).read_bytes()) == parse_reference(SOURCE, "a.pp")  # rewritten


def test_keyed_on_the_release_and_the_parser_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "c"
    monkeypatch.setenv("BUNRAKU_PARSE_CACHE", str(cache))
    key = parsecache.format_key()
    from cli import __version__

    assert key.startswith(f"{__version__}/{parsecache.CACHE_FORMAT}/")
    cache.mkdir(mode=0o700)
    plant(cache, "a.pp", SOURCE)
    assert parse_string(SOURCE, "a.pp") == forged(SOURCE)  # same release: the entry is used
    # another release (or a changed parser): the same file and text name another entry
    monkeypatch.setattr(parsecache, "_format_key", key.replace(__version__, __version__ + ".1", 1))
    for _ in range(2):
        _MEMO.clear()
        assert parse_string(SOURCE, "a.pp") == parse_reference(SOURCE, "a.pp")
    assert len(entries(cache)) == 2
    # the key follows the code: a release string read from the CLI package, a hash of the parser
    root = tmp_path / "tree"
    (root / "cli").mkdir(parents=True)
    (root / "cli" / "__init__.py").write_text('"""x"""\n\n__version__ = "9.8.7"\n')
    assert parsecache.bunraku_version(root) == "9.8.7"


def test_concurrent_writers_leave_whole_entries(tmp_path: Path) -> None:
    cache = tmp_path / "c"
    sources = [f"notify {{ 'n{i}': message => '{'x' * (i * 50)}' }}\n" for i in range(30)]
    (tmp_path / "sources.txt").write_text("\0".join(sources))
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from dsl.parser import parse_string
        sources = open({str(tmp_path / 'sources.txt')!r}).read().split("\\0")
        for round in range(3):
            for i, s in enumerate(sources):
                parse_string(s, f"f{{i}}.pp")
                import dsl.parser
                dsl.parser._MEMO.clear()
        """)
    env = dict(os.environ, BUNRAKU_PARSE_CACHE=str(cache))
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env) for _ in range(6)]
    assert [p.wait(timeout=300) for p in procs] == [0] * 6
    assert len(entries(cache)) == len(sources)
    assert not [p for p in cache.iterdir() if p.name.startswith(".tmp-")]
    for i, s in enumerate(sources):
        _MEMO.clear()
        assert parse_string(s, f"f{i}.pp") == parse_reference(s, f"f{i}.pp")


def test_pickles_rebuild_through_the_constructors() -> None:
    """The compact pickle form rebuilds equal trees (and spans) for everything the parser makes."""
    text = "".join(p.read_text() for p in sorted((ROOT / "examples").glob("**/*.pp")))
    program = parse_reference(text, "all.pp")
    data = parsecache.dumps(program)
    assert pickle.loads(data) == program
    assert len(data) < len(pickle.dumps(program, protocol=pickle.HIGHEST_PROTOCOL))


def test_bounded_in_size_least_recently_used_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "c"
    monkeypatch.setenv("BUNRAKU_PARSE_CACHE", str(cache))
    limit_kib = 40
    monkeypatch.setenv("BUNRAKU_PARSE_CACHE_MAX_MB", str(limit_kib / 1024))
    body = "".join(f"file {{ '/f{i}': ensure => file, mode => '0644' }}\n" for i in range(20))
    for i in range(60):
        for _ in range(2):
            _MEMO.clear()
            parse_string(f"# {i}\n" + body, f"m{i}.pp")
    sizes = [p.stat().st_size for p in cache.iterdir()]
    assert 5 < len(entries(cache)) < 60
    assert sum(sizes) <= limit_kib * 1024
    # least recently used first: a hit counts as a use
    for p in cache.iterdir():
        p.unlink()
    for _ in range(2):
        _MEMO.clear()
        parse_string("# a\n" + body, "a.pp")
    (a,) = entries(cache)
    for _ in range(2):
        _MEMO.clear()
        parse_string("# b\n" + body, "b.pp")
    (b,) = [p for p in entries(cache) if p != a]
    os.utime(a, (1, 1))
    os.utime(b, (2, 2))
    _MEMO.clear()
    parse_string("# a\n" + body, "a.pp")  # a hit: 'a' is now the most recently used
    parsecache.evict(cache, a.stat().st_size + b.stat().st_size - 1)
    assert a.exists() and not b.exists()
