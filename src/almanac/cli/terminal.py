"""Stored text shown on a terminal shows as text: control characters (a clear screen, a
bell, a backspace, a title change) and bidirectional overrides in a memory, a fact or a
task title are printed as visible escapes, never obeyed by the terminal."""

from __future__ import annotations

import re
import sys
from typing import Any, TextIO

from almanac.printable import visible

# What Rich writes to colour its own tables: kept on the way to a terminal.
_SGR = re.compile(r"\x1b\[[0-9;]*m")


class _Guarded:
    """A terminal stream that writes stored text visibly; colours (SGR) pass."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        parts = _SGR.split(text)
        codes = _SGR.findall(text)
        out = visible(parts[0]) + "".join(
            c + visible(p) for c, p in zip(codes, parts[1:], strict=True)
        )
        self._stream.write(out)
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def guard_terminal() -> None:
    """Wrap stdout and stderr when they are terminals (a pipe or a file gets the bytes as
    they are: an export must stay exact)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, _Guarded) or not stream.isatty():
            continue
        setattr(sys, name, _Guarded(stream))
