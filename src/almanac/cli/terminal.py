"""Stored text shown on a terminal shows as text: control characters (a clear screen, a
bell, a backspace, a title change) and bidirectional overrides in a memory, a fact or a
task title are printed as visible escapes, never obeyed by the terminal."""

from __future__ import annotations

import re
import sys
import unicodedata
from typing import Any, TextIO

# Marks that reorder or hide the text around them ("evil" shown as "live").
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# What Rich writes to colour its own tables: kept on the way to a terminal.
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _escaped(ch: str) -> str:
    if ch in "\n\t" or (unicodedata.category(ch) != "Cc" and ch not in _BIDI):
        return ch
    return f"\\u{ord(ch):04x}"  # valid inside a JSON string too


def visible(text: str) -> str:
    """`text` with every control character and bidi mark as a visible escape."""
    if text.isprintable():
        return text
    return "".join(_escaped(ch) for ch in text)


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
