"""Printing for the fast commands: JSON, or a plain table sized to the terminal.

Standard library only (no rich), so commands that print a table still start fast.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from typing import Any


def emit(data: Any) -> None:
    """The answer as indented JSON on stdout (for `--json`)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def table(title: str, columns: list[str], rows: list[list[str]], width: int | None = None) -> None:
    """Columns padded to their widest cell; the last column wraps to the terminal width."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    widths = [len(c) for c in columns]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    fixed = sum(widths[:-1]) + 2 * (len(columns) - 1)
    last = max(20, width - fixed)
    out = [title]

    def line(cells: list[str]) -> None:
        head = "  ".join(c.ljust(w) for c, w in zip(cells[:-1], widths, strict=False))
        wrapped = textwrap.wrap(cells[-1], last) or [""]
        out.append(f"{head}  {wrapped[0]}".rstrip() if head else wrapped[0])
        out.extend(" " * fixed + more for more in wrapped[1:])

    line(columns)
    out.append("-" * min(width, fixed + max([len(columns[-1])] + [len(r[-1]) for r in rows])))
    for row in rows:
        line(row)
    if not rows:
        out.append("(none)")
    sys.stdout.write("\n".join(out) + "\n")
