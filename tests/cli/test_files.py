"""`cli.files.read_input`: what a command reads is a bounded regular file, or a message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from almanac.cli.files import UnreadableFile, read_input


def test_reads_a_regular_file_up_to_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"x" * 10)
    assert read_input(path, 10) == b"x" * 10
    with pytest.raises(UnreadableFile, match="larger than 9 bytes"):
        read_input(path, 9)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.symlink_to(p.with_name("nowhere")), "does not exist"),
        (lambda p: os.mkfifo(p), "not a regular file"),  # opening it would block for ever
    ],
)
def test_refuses_what_is_no_regular_file(tmp_path: Path, make, reason: str) -> None:
    path = tmp_path / "thing.md"
    make(path)
    with pytest.raises(UnreadableFile, match=reason):
        read_input(path, 1024)


def test_a_device_is_not_read() -> None:
    # /dev/zero has no end and reports size 0: the .ics import's size check let it through.
    with pytest.raises(UnreadableFile, match="not a regular file"):
        read_input(Path("/dev/zero"), 1024)


def test_calendar_import_refuses_a_device_with_exit_2() -> None:
    from typer.testing import CliRunner

    from almanac.cli.main import app

    result = CliRunner().invoke(app, ["calendar", "import", "/dev/null"])
    assert result.exit_code == 2, result.output
    assert "not a regular file" in result.output
