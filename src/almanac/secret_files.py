"""Secrets Almanac generates once and keeps in its data folder (mode 0600).

Two processes starting at once on a new folder agree on one value: each writes a complete
private temporary file and links it into place, which fails for all but the first, who
then read the winner's value (never a half-written one).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def read_secret(path: Path) -> str | None:
    """The value in `path` (None when missing or empty), its mode tightened back to 0600."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    with contextlib.suppress(OSError):  # tighten a file someone loosened
        os.chmod(path, 0o600)
    return text or None


def keep_secret(path: Path, make: Callable[[], str]) -> tuple[str, bool]:
    """The value kept in `path`, created from `make()` when there is none; and whether this
    call created it."""
    found = read_secret(path)
    if found is not None:
        return found, False
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(value + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            # Another process won, or an empty file was left behind: keep what is there.
            won = read_secret(path)
            if won is not None:
                return won, False
            os.replace(tmp, path)
            return read_secret(path) or value, True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return value, True
