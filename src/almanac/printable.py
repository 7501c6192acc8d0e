"""Stored text shown as text: control characters (a clear screen, a bell, a backspace, a
title change) and bidirectional overrides in a memory, a fact or a task title become
visible escapes, never obeyed by the terminal or the chat window that shows them."""

from __future__ import annotations

import unicodedata

# Marks that reorder or hide the text around them ("evil" shown as "live").
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escaped(ch: str) -> str:
    if ch in "\n\t" or (unicodedata.category(ch) != "Cc" and ch not in _BIDI):
        return ch
    return f"\\u{ord(ch):04x}"  # valid inside a JSON string too


def visible(text: str) -> str:
    """`text` with every control character and bidi mark as a visible escape."""
    if text.isprintable():
        return text
    return "".join(_escaped(ch) for ch in text)
