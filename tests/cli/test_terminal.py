"""Stored text printed to a terminal is shown, never obeyed as terminal control."""

from __future__ import annotations

import io
import json
import sys

import pytest

from almanac.cli.output import table
from almanac.cli.terminal import guard_terminal
from almanac.printable import visible

HOSTILE = "Deck \u0007\u001b[2J\u001b[31mRED\u001b[0m \b\b\bback \u202eevil\u200f\u009b6n"


def _raw_controls(text: str) -> list[str]:
    return [ch for ch in text if ch not in "\n" and (ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0)]


def test_a_table_shows_control_characters_and_bidi_marks_as_escapes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A task titled with "\\x1b[2J" cleared the screen under `almanac tasks`; a memory
    with U+202E printed "evil" as "live"."""
    table("tasks", ["id", "title"], [["1", HOSTILE]], 200)
    out = capsys.readouterr().out
    assert _raw_controls(out) == [] and "\u202e" not in out and "\u200f" not in out, repr(out)
    assert "\\u001b[2J" in out and "\\u0007" in out and "\\u202eevil" in out, out
    assert "Deck" in out and "RED" in out


def test_visible_keeps_ordinary_text_whole() -> None:
    text = "Café 9–5, naïve 日本語 🎉\tand\nlines"
    assert visible(text) == text


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_colours_but_no_other_control(monkeypatch: pytest.MonkeyPatch) -> None:
    tty, pipe = _Tty(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", tty)
    monkeypatch.setattr(sys, "stderr", pipe)
    guard_terminal()
    guard_terminal()  # twice: wrapped once
    sys.stdout.write("\x1b[1mbold\x1b[0m " + HOSTILE + "\n")
    print(json.dumps({"title": "\u202eevil"}, ensure_ascii=False))
    sys.stderr.write(HOSTILE)
    shown = tty.getvalue()
    assert shown.startswith("\x1b[1mbold\x1b[0m Deck \\u0007\\u001b[2J"), repr(shown)
    assert "\x1b[31mRED" in shown  # a colour passes, as Rich's own do
    assert "\b" not in shown and "\u202e" not in shown and "\x9b" not in shown, repr(shown)
    # JSON stays JSON: the escape is one a parser reads back as the character.
    assert json.loads(shown.splitlines()[-1]) == {"title": "\u202eevil"}
    assert pipe.getvalue() == HOSTILE  # not a terminal: the bytes as they are
