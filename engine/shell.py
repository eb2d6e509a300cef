"""Running system tools for providers: one place that turns a failed command into a ProviderError."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence

from engine.errors import ProviderError

log = logging.getLogger(__name__)


def run(argv: Sequence[str], *, check: bool = True, env: dict[str, str] | None = None,
        timeout: float | None = 600) -> subprocess.CompletedProcess[str]:
    log.debug("running %s", " ".join(argv))
    try:
        proc = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env=env, timeout=timeout)
    except FileNotFoundError:
        raise ProviderError(f"command not found: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise ProviderError(f"{argv[0]} timed out after {timeout:g} seconds") from None
    if check and proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise ProviderError(f"{' '.join(argv)} failed with exit code {proc.returncode}"
                            + (f": {detail[-1]}" if detail else ""))
    return proc
