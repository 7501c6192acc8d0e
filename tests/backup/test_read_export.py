"""A file's rows checked against their tables before anything is written: each bad value
is its line, its column and the reason, where it was a driver's traceback (a salience of
"high", a client id past 32 bits, a NUL) or "the file is not whole" for a whole file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from almanac.backup.export import ExportFileError, read_export

EVENT = {
    "id": 1, "content": "Invoice Acme on the 1st", "event_type": "memory",
    "event_source": "user", "memory_scope": "session", "salience_score": 0.5,
    "occurred_at": "2026-12-01T09:00:00+00:00", "metadata": {}, "payload": {},
}  # fmt: skip


def _file(tmp_path: Path, row: dict[str, Any]) -> Path:
    header = {"format": "almanac-export", "version": 1, "tables": {"events": 1}}
    path = tmp_path / "export.jsonl"
    lines = [json.dumps(header), json.dumps({"table": "events", "row": row})]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_good_row_is_read(tmp_path: Path) -> None:
    _, rows = read_export(_file(tmp_path, EVENT))
    assert rows["events"] == [EVENT]
    # The text "\u0000" (a backslash and five characters) is no NUL: JSONB holds it.
    quoted = {**EVENT, "metadata": {"note": "\\u0000 is how JSON writes a NUL"}}
    _, rows = read_export(_file(tmp_path, quoted))
    assert rows["events"] == [quoted]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"salience_score": "high"}, "events.salience_score: must be a number"),
        ({"client_id": 2**40}, "events.client_id: must be from -2147483648 to 2147483647"),
        ({"id": 2**63}, "events.id: must be from"),
        ({"content": "a\x00b"}, "events.content: must not hold a NUL character"),
        ({"occurred_at": 12345}, "events.occurred_at: must be an ISO 8601 text"),
        ({"occurred_at": "yesterday"}, "events.occurred_at: must be an ISO 8601 time"),
        ({"occurred_at": "2026-12-01T09:00:00"}, "with its offset"),
        ({"evil": 1}, "events.evil: no such column in events"),
        ({"content": None}, "events.content: must not be null"),
        ({"metadata": {"a": "\x00"}}, "events.metadata: must not hold a NUL character"),
        ({"event_type": "x" * 500}, "events.event_type: must be at most"),
    ],
)
def test_a_bad_value_is_its_line_column_and_reason(
    tmp_path: Path, change: dict[str, Any], said: str
) -> None:
    with pytest.raises(ExportFileError) as err:
        read_export(_file(tmp_path, {**EVENT, **change}))
    assert "line 2: " in err.value.message and said in err.value.message, err.value.message
