"""Running system tools for providers: one place that turns a failed command into a ProviderError."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence

from engine.errors import ProviderError
from engine.spawn import run_program

log = logging.getLogger(__name__)


#: tools whose ``-p``/``--password`` argument is a (hashed) password: never logged nor put in errors
_PASSWORD_TOOLS = frozenset({"useradd", "usermod", "groupadd", "groupmod"})


def shown(argv: Sequence[str]) -> str:
    """The command line as logs and errors show it: password arguments masked."""
    if not argv or argv[0].rsplit("/", 1)[-1] not in _PASSWORD_TOOLS:
        return " ".join(argv)
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg in ("-p", "--password"):
            out[i + 1] = "[redacted]"
    return " ".join(out)


def run(argv: Sequence[str], *, check: bool = True, env: dict[str, str] | None = None,
        timeout: float | None = 600, root: str = "/") -> subprocess.CompletedProcess[str]:
    """Run ``argv``: a tool of this host, or with ``root`` other than / a program of that target root,
    chrooted into it (see :mod:`engine.spawn`)."""
    log.debug("running %s", shown(argv))
    try:
        if root != "/":
            proc = run_program(root, argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               env=env, timeout=timeout)
        else:
            proc = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  env=env, timeout=timeout)
    except FileNotFoundError:
        raise ProviderError(f"command not found: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise ProviderError(f"{argv[0]} timed out after {timeout:g} seconds") from None
    if check and proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise ProviderError(f"{shown(argv)} failed with exit code {proc.returncode}"
                            + (f": {detail[-1]}" if detail else ""))
    return proc
