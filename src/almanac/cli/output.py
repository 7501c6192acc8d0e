"""Printing for the fast commands: JSON, or a boxed table sized to the terminal.

Standard library only (no rich), so commands that print a table still start fast.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from typing import Any

from almanac.printable import visible


def emit(data: Any) -> None:
    """The answer as indented JSON on stdout (for `--json`)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def table(title: str, columns: list[str], rows: list[list[str]], width: int | None = None) -> None:
    """A boxed table like the rich ones other commands print (rich's default box), columns
    padded to their widest cell; the last column wraps to the terminal width."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    # A line break or tab inside a cell would break the box: every run of whitespace is one
    # space (the last column wraps it anyway).
    # Control characters and bidi marks in stored text are shown, not obeyed (a title
    # with "\x1b[2J" cleared the screen).
    columns = [visible(" ".join(c.split())) for c in columns]
    rows = [[visible(" ".join(c.split())) for c in row] for row in rows]
    title = visible(title)
    columns, rows = _fitted_columns(columns, rows, width)
    widths = [len(c) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    # Each column takes its cell and " │ " around it; the last one gets what the terminal
    # leaves, at least 20.
    fixed = sum(widths[:-1]) + 3 * len(columns) + 1
    widths[-1] = min(widths[-1], max(20, width - fixed))
    # Still too wide (many columns): the widest columns wrap too, one character at a time
    # (a terminal would wrap each line and break the box), between words, down to each
    # column's longest word ("2026-12-04 03:15" on two lines). Where that is not enough,
    # a box would cut words ("preferen" over "ce"): the rows are records instead.
    over = sum(widths) + 3 * len(columns) + 1 - width
    longest_word = [
        max(len(w) for cell in (columns[i], *(r[i] for r in rows)) for w in [*cell.split(), ""])
        for i in range(len(columns))
    ]
    while over > 0:
        wide = [i for i in range(len(widths)) if widths[i] > max(6, longest_word[i])]
        if not wide:
            if rows:
                _records(title, columns, rows, width)
                return
            break
        widths[max(wide, key=lambda i: widths[i])] -= 1
        over -= 1

    def rule(left: str, fill: str, cross: str, right: str) -> str:
        return left + cross.join(fill * (w + 2) for w in widths) + right

    def line(cells: list[str], bar: str) -> list[str]:
        wrapped = [
            textwrap.wrap(c, w) or [""] if len(c) > w else [c]
            for c, w in zip(cells, widths, strict=True)
        ]
        return [
            bar
            + bar.join(
                f" {(lines[n] if n < len(lines) else '').ljust(w)} "
                for lines, w in zip(wrapped, widths, strict=True)
            )
            + bar
            for n in range(max(len(lines) for lines in wrapped))
        ]

    if not rows:
        # One line, as `tasks` and `schedule` say nothing: a box of headers over no rows
        # read as a table that failed to fill.
        sys.stdout.write(f"{title}: none\n")
        return
    total = sum(widths) + 3 * len(columns) + 1
    out = [title.center(total).rstrip(), rule("┏", "━", "┳", "┓"), *line(columns, "┃")]
    out.append(rule("┡", "━", "╇", "┩"))
    for row in rows:
        out.extend(line(row, "│"))
    out.append(rule("└", "─", "┴", "┘"))
    sys.stdout.write("\n".join(out) + "\n")


def _records(title: str, columns: list[str], rows: list[list[str]], width: int) -> None:
    """Each row as "• name: value · name: value", wrapped between values (a value wider
    than the line between its words), the last column on lines of its own; empty values
    are left out."""
    out = [title]
    for row in rows:
        pairs = [f"{n}: {v}" for n, v in zip(columns[:-1], row[:-1], strict=True) if v]
        lines: list[str] = []
        for pair in pairs:
            if lines and len(lines[-1]) + 3 + len(pair) <= width - 2:
                lines[-1] += f" · {pair}"
            else:
                lines += textwrap.wrap(pair, width - 2) if len(pair) > width - 2 else [pair]
        if row[-1]:
            lines += textwrap.wrap(f"{columns[-1]}: {row[-1]}", width - 2)
        out += [("• " if n == 0 else "  ") + text for n, text in enumerate(lines)]
    sys.stdout.write("\n".join(out) + "\n")


def _fitted_columns(
    columns: list[str], rows: list[list[str]], width: int
) -> tuple[list[str], list[list[str]]]:
    """Wider than the terminal at the cells' widths: the columns empty in every row (not
    the first) go, as they say nothing."""
    if not rows:
        return columns, rows
    natural = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    if sum(natural[:-1]) + 20 + 3 * len(columns) + 1 <= width:
        return columns, rows
    keep = [i for i in range(len(columns)) if i == 0 or any(r[i] for r in rows)]
    return [columns[i] for i in keep], [[r[i] for i in keep] for r in rows]


def local_minute(value: str | None) -> str:
    """An API time (sent in UTC) to the minute in the user's zone (`ALMANAC_TIMEZONE`), as
    `tasks` and `agenda` show times: sliced as sent, a fact valid from 1 January in Berlin
    read "2025-12-31T23:00". A value that does not parse is shown as sent."""
    if not value:
        return ""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from almanac.cli.when import zone_name

    try:
        when = datetime.fromisoformat(value)
        zone = ZoneInfo(zone_name())
    except (ValueError, KeyError):  # zoneinfo raises a KeyError subclass for unknown zones
        return value[:16].replace("T", " ")
    if when.tzinfo is None:
        return value[:16].replace("T", " ")
    return f"{when.astimezone(zone):%Y-%m-%d %H:%M}"
