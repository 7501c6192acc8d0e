"""The fast commands' table writer: boxed like rich's tables, the last column wrapped."""

from __future__ import annotations

import pytest

from almanac.cli.output import local_minute, table


def test_a_table_is_boxed_and_wraps_its_last_column(capsys: pytest.CaptureFixture[str]) -> None:
    long = "Prefers mornings for deep work and no meetings before ten on weekdays"
    table("facts", ["id", "subject", "content"], [["1", "client:7", long], ["22", "me", "x"]], 50)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].strip() == "facts"
    box = lines[1:]
    assert box[0].startswith("┏") and box[2].startswith("┡") and box[-1].startswith("└")
    assert [c.strip() for c in box[1].split("┃")[1:-1]] == ["id", "subject", "content"]
    assert len({len(line) for line in box}) == 1 and len(box[0]) <= 50  # fits, aligned
    body = box[3:-1]
    assert " ".join(line.split("│")[3].strip() for line in body[:-1]) == long  # wrapped whole
    assert [c.strip() for c in body[-1].split("│")[1:-1]] == ["22", "me", "x"]


def test_an_empty_table_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Not a box of headers over no rows and "(none)" under it."""
    table("jobs", ["id", "kind"], [], 80)
    assert capsys.readouterr().out == "jobs: none\n"


def test_a_line_break_in_any_cell_keeps_the_box(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [["1", "Acme\nGmbH", "first line\nsecond\r\nthird"], ["2", "tab\there", "x"]]
    table("clients", ["id", "name\nlong", "note"], rows, 60)
    box = capsys.readouterr().out.splitlines()[1:]
    assert len({len(line) for line in box}) == 1  # every line as wide: the box holds
    assert all(line[0] in "┏┃┡│└" and line[-1] in "┓┃┩│┘" for line in box), box
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in box[3:-1]]
    assert cells == [["1", "Acme GmbH", "first line second third"], ["2", "tab here", "x"]]


def test_times_are_shown_in_the_users_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALMANAC_TIMEZONE", "America/New_York")
    assert local_minute("2026-07-01T03:30:00Z") == "2026-06-30 23:30"  # EDT, the day before
    assert local_minute("2026-12-01T03:30:00+00:00") == "2026-11-30 22:30"  # EST
    assert local_minute(None) == "" and local_minute("") == ""
    # Not a zone the CLI can read: the time as sent, never a traceback.
    monkeypatch.setenv("ALMANAC_TIMEZONE", "Mars/Olympus")
    assert local_minute("2026-07-01T03:30:00Z") == "2026-07-01 03:30"


def test_a_table_of_many_columns_fits_the_terminal_and_loses_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`almanac facts` at 80 columns printed a 102-column box (the fixed columns at their
    widest and the content its 20): a terminal wraps each line and the box falls apart.
    Columns empty in every row go first, then the widest cells wrap between words."""
    columns = ["id", "subject", "type", "category", "client", "valid from", "valid to", "content"]
    content = "I work 9-5 Mon-Fri, never on weekends"
    rows = [
        ["1", "user:me", "preference", "", "", "2026-12-04 03:15", "current", content],
        [
            "2",
            "workflow:Business diagnostic",
            "pattern",
            "",
            "",
            "2026-12-04 03:16",
            "current",
            "x",
        ],
    ]
    table("facts", columns, rows, 80)
    box = capsys.readouterr().out.splitlines()[1:]
    assert len({len(line) for line in box}) == 1 and len(box[0]) <= 80, "\n".join(box)
    rule = next(n for n, line in enumerate(box) if line.startswith("┡"))
    heads = [[c.strip() for c in line.split("┃")[1:-1]] for line in box[1:rule]]
    header = [" ".join(" ".join(h[i] for h in heads).split()) for i in range(len(heads[0]))]
    assert header == ["id", "subject", "type", "valid from", "valid to", "content"], header
    # Each column read down, its wrapped pieces joined: every cell is there whole, and no
    # word is cut ("preferen" over "ce").
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in box[rule + 1 : -1]]
    down = [" ".join(" ".join(row[i] for row in cells).split()) for i in range(6)]
    assert down[1] == "user:me workflow:Business diagnostic", down
    assert down[2] == "preference pattern" and down[4] == "current current", down
    assert down[3] == "2026-12-04 03:15 2026-12-04 03:16", down
    assert down[5] == f"{content} x", down


def test_a_table_too_narrow_for_whole_words_is_a_list_of_records(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`almanac facts` at 80 columns with a client column read "preferen/ce", "deep_wor/k"
    and "2026-/12-04/09:00": where the columns cannot keep their words whole, each row is
    a record of named values, no word cut, nothing lost."""
    columns = ["id", "subject", "type", "category", "client", "valid from", "valid to", "content"]
    rows = [
        [
            "12",
            "client:acme",
            "preference",
            "deep_work",
            "3",
            "2026-12-04 09:00",
            "open",
            "Prefers deep work before noon on weekdays",
        ],
        ["13", "user:me", "constraint", "invoicing", "", "2026-12-04 09:00", "2026-12-10 00:00"]
        + ["Invoices go out on the 15th"],
    ]
    table("facts", columns, rows, 80)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "facts" and all(len(line) <= 80 for line in lines), out
    assert not any(c in out for c in "┏│┃"), out
    records = out.split("\n• ")[1:]
    assert len(records) == 2, out
    for record, row in zip(records, rows, strict=True):
        flat = " ".join(record.split())
        for name, value in zip(columns, row, strict=True):
            # Every value whole beside its name; an empty one is left out.
            assert (f"{name}: {value}" in flat) is bool(value), (name, value, flat)
        words = record.split()
        assert "preferen" not in words and "2026-" not in words, record
    # The long last column starts its own line.
    assert "\n  content: Prefers deep work" in out, out


def test_a_table_that_fits_keeps_its_empty_columns(capsys: pytest.CaptureFixture[str]) -> None:
    table("facts", ["id", "client", "content"], [["1", "", "short"]], 80)
    assert "client" in capsys.readouterr().out


def test_narrow_columns_wrap_between_words_before_a_list(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`almanac jobs` at 80 columns broke "almanac:calendar_sync" into three pieces while
    the time beside it could have wrapped at its space; at 100 the time wraps and the box
    stays, at 80 no box keeps the task's name whole, and the rows are records."""
    columns = ["#", "task", "queue", "status", "attempts", "deferred", "args", "reason"]
    rows = [["3", "almanac:calendar_sync", "maintenance", "succeeded", "1", "2026-12-04 03:30"]]
    rows[0] += ["{}", ""]
    table("jobs", columns, rows, 86)
    box = capsys.readouterr().out.splitlines()[1:]
    assert len(box[0]) <= 86 and "reason" not in box[1], "\n".join(box)
    body = [line for line in box if line.startswith("│")]
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in body]
    assert [c[5] for c in cells] == ["2026-12-04", "03:30"], "\n".join(box)
    assert [c[1] for c in cells] == ["almanac:calendar_sync", ""], "\n".join(box)
    table("jobs", columns, rows, 80)
    out = capsys.readouterr().out
    assert out.startswith("jobs\n• #: 3 · task: almanac:calendar_sync · "), out
    assert all(len(line) <= 80 for line in out.splitlines()), out
