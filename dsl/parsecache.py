"""The on-disk parse cache: parsed manifests (pickled ASTs) shared across processes.

On by default for every command, in a per-user directory: ``$BUNRAKU_PARSE_CACHE`` when set (empty,
``off``, ``0`` or ``none`` turn the disk cache off), else ``$XDG_CACHE_HOME/bunraku/parse``, else
``~/.cache/bunraku/parse``. Properties:

- a pickle is only ever loaded from a directory that is owned by the current user and open to no one
  else (mode 0700: a directory we own that no one else can write into is tightened to 0700, one that
  others can write into, or a symlink, is ignored), and only from a regular file that the user owns
  and no one else can write; the loaded program must also carry the very source text it is for;
- entries are keyed on the file name, the content hash and the cache format, which covers the
  Bunraku version and the code of the parser and the AST classes, so a new release or a changed
  parser never loads an old pickle;
- a text is stored the second time it is parsed (the first time leaves an empty marker): a text
  parsed only once (a generated snippet, a one-off compile) costs no pickling and takes no room;
- writes go to a temporary file in the same directory, then ``os.replace``: concurrent writers and
  readers never see a partial entry;
- the directory is bounded (``BUNRAKU_PARSE_CACHE_MAX_MB``, 256 by default): beyond it the least
  recently used entries are removed;
- any failure (unwritable directory, full disk, corrupt entry) only makes parsing slower: the cache
  then lives in memory only.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import io
import logging
import operator
import os
import pickle
import re
import stat
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from . import ast
from .errors import Span

log = logging.getLogger(__name__)

#: Bump when the pickled form changes in a way the code hash below would not see.
CACHE_FORMAT = 2
DEFAULT_MAX_MB = 256
_OFF = {"", "off", "0", "none", "false", "no"}
_SUFFIX = ".ast"
_SEEN = ".seen"
_TMP_PREFIX = ".tmp-"
#: what an empty marker is counted as against the bound (a disk block)
_MARKER_SIZE = 4096

_lock = threading.Lock()
_dir_state: dict[str, bool] = {}  # directory -> usable
_written_since_check: dict[str, int] = {}
_format_key: str | None = None


def cache_dir() -> Path | None:
    """The configured cache directory (not yet checked), or None when the disk cache is off."""
    value = os.environ.get("BUNRAKU_PARSE_CACHE")
    if value is not None:
        return None if value.strip().lower() in _OFF else Path(value)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "bunraku" / "parse"
    home = os.path.expanduser("~")
    if not os.path.isabs(home):  # no home directory: in memory only
        return None
    return Path(home) / ".cache" / "bunraku" / "parse"


def max_bytes() -> int:
    try:
        mb = float(os.environ.get("BUNRAKU_PARSE_CACHE_MAX_MB", DEFAULT_MAX_MB))
    except ValueError:
        mb = DEFAULT_MAX_MB
    return max(0, int(mb * 1024 * 1024))


def format_key() -> str:
    """The Bunraku version, the cache format, the Python version, and a hash of the code that
    produces and defines the pickled objects."""
    global _format_key
    if _format_key is None:
        h = hashlib.sha256()
        here = Path(__file__).resolve().parent
        for name in ("ast.py", "errors.py", "lexer.py", "rdparser.py", "parser.py", "parsecache.py"):
            try:
                h.update((here / name).read_bytes())
            except OSError:
                h.update(name.encode())
        version = bunraku_version(here.parent)
        _format_key = f"{version}/{CACHE_FORMAT}/{sys.version_info[0]}.{sys.version_info[1]}/{h.hexdigest()}"
    return _format_key


def bunraku_version(root: Path) -> str:
    """The release, read from the source that defines it (importing it, or the package metadata, would
    cost more than a parse of a small file)."""
    for rel in ("engine/__init__.py", "cli/common.py", "cli/__init__.py", "bunraku.py"):
        try:
            text = (root / rel).read_text(encoding="utf-8")
        except OSError:
            continue
        m = re.search(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", text, re.M)
        if m:
            return m.group(1)
    return "unknown"


def entry_name(filename: str, digest: str) -> str:
    return hashlib.sha256(f"{format_key()}\0{filename}\0{digest}".encode()).hexdigest() + _SUFFIX


def usable_dir(path: Path) -> bool:
    """Create the directory (0700) when missing; True when it is safe to use (see the module doc)."""
    key = str(path)
    with _lock:
        known = _dir_state.get(key)
    if known is not None:
        return known
    ok = _check_dir(path)
    with _lock:
        _dir_state[key] = ok
    return ok


def _check_dir(path: Path) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        st = os.lstat(path)
    except OSError as exc:
        log.debug("parse cache %s not usable: %s", path, exc)
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        log.debug("parse cache %s ignored: not a directory owned by this user", path)
        return False
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        log.debug("parse cache %s ignored: others can write into it", path)
        return False
    if mode & 0o077:
        try:
            os.chmod(path, 0o700)
        except OSError:
            return False
    return True


_reducers: dict[type, Any] | None = None


def _reducer(cls: type) -> Any:
    getter = operator.attrgetter(*(f.name for f in dataclasses.fields(cls)))
    if len(dataclasses.fields(cls)) == 1:
        return lambda obj: (cls, (getter(obj),))
    return lambda obj: (cls, getter(obj))


def _pickle_table() -> dict[type, Any]:
    """Spans and nodes pickle as their class and field values, rebuilt by the constructor: several
    times cheaper than the generic protocol of frozen slotted dataclasses."""
    global _reducers
    if _reducers is None:
        classes: list[type] = [Span]
        todo: list[type] = [ast.Node]
        while todo:
            cls = todo.pop()
            classes.append(cls)
            todo.extend(cls.__subclasses__())
        _reducers = {cls: _reducer(cls) for cls in classes}
    return _reducers


def dumps(program: ast.Program) -> bytes:
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _pickle_table()  # type: ignore[assignment]
    gc_was_on = gc.isenabled()
    gc.disable()  # many objects, no garbage: a collection would only cost time
    try:
        pickler.dump(program)
    finally:
        if gc_was_on:
            gc.enable()
    return buf.getvalue()


def _loads(fh: Any) -> Any:
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        return pickle.load(fh)
    finally:
        if gc_was_on:
            gc.enable()


def load(path: Path, name: str, source: str) -> ast.Program | None:
    """The cached program for ``source``, or None."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path / name, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            program = _loads(fh)
    except Exception as exc:  # a corrupt or foreign entry is a miss
        log.debug("parse cache entry %s not loaded: %s", name, exc)
        return None
    finally:
        if fd >= 0:
            os.close(fd)
    if not isinstance(program, ast.Program) or program.source != source:
        return None
    try:  # least recently used goes first when the cache is full
        os.utime(path / name)
    except OSError:
        pass
    return program


def store(path: Path, name: str, program: ast.Program) -> None:
    """Store the program parsed for entry ``name`` (the second time it is asked for)."""
    marker = path / (name[: -len(_SUFFIX)] + _SEEN)
    try:
        os.unlink(marker)
    except FileNotFoundError:
        if not os.path.lexists(path / name):  # (an entry that did not load is replaced at once)
            try:  # the first time: only remember that this text was seen
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                os.close(os.open(marker, flags, 0o600))
            except OSError as exc:
                log.debug("parse cache marker %s not written: %s", marker.name, exc)
            else:
                _account(path, _MARKER_SIZE)
            return
    except OSError as exc:
        log.debug("parse cache marker %s not removed: %s", marker.name, exc)
        return
    try:
        data = dumps(program)
    except Exception as exc:  # pragma: no cover - every AST pickles
        log.debug("parse cache: cannot pickle %s: %s", name, exc)
        return
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=_SUFFIX, dir=path)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path / name)
        tmp = None
    except OSError as exc:  # a cache that cannot be written is only slower
        log.debug("parse cache entry %s not written: %s", name, exc)
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    _account(path, len(data))


def _account(path: Path, size: int) -> None:
    """Count what was written; check the bound on the first write of a process and then whenever
    a sixteenth of it has been written."""
    limit = max_bytes()
    key = str(path)
    with _lock:
        written = _written_since_check.get(key)
        due = written is None or written + size > limit // 16
        _written_since_check[key] = 0 if due else (written or 0) + size
    if due:
        evict(path, limit)


def evict(path: Path, limit: int) -> None:
    """Remove the least recently used entries until the directory holds at most ``limit`` bytes
    (down to 90% of it, so that eviction does not run on every write); stale temporary files go too."""
    entries: list[tuple[float, int, str]] = []
    total = 0
    now = time.time()
    try:
        with os.scandir(path) as it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if e.name.startswith(_TMP_PREFIX):
                    if now - st.st_mtime > 3600:
                        _unlink(path / e.name)
                    continue
                if not e.name.endswith((_SUFFIX, _SEEN)) or not stat.S_ISREG(st.st_mode):
                    continue
                size = st.st_size if e.name.endswith(_SUFFIX) else _MARKER_SIZE
                entries.append((st.st_mtime, size, e.name))
                total += size
    except OSError as exc:
        log.debug("parse cache %s not scanned: %s", path, exc)
        return
    if total <= limit:
        return
    target = int(limit * 0.9)
    entries.sort()
    for _mtime, size, name in entries:
        if total <= target:
            break
        if _unlink(path / name):
            total -= size


def _unlink(p: Path) -> bool:
    try:
        os.unlink(p)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False
