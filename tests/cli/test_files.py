"""`cli.files.read_input`: what a command reads is a bounded regular file, or a message."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def _piped(path: Path, data: bytes) -> Iterator[None]:
    """A pipe at `path` that a thread writes `data` into, as `<(curl ...)` would."""
    os.mkfifo(path)

    def write() -> None:
        try:
            with path.open("wb") as fh:
                fh.write(data)
        except BrokenPipeError:
            pass  # the reader stopped at its limit

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield
    finally:
        if writer.is_alive():  # nobody opened it to read: let the writer's open return
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            writer.join(5)
            os.close(fd)
        writer.join(5)


def test_a_pipe_the_user_named_is_read(tmp_path: Path) -> None:
    # Before: refused as "not a regular file", though `almanac calendar import <(curl ...)`
    # and `... | almanac prompts new NAME /dev/stdin` read it before the bound was added.
    path = tmp_path / "feed.ics"
    with _piped(path, b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"):
        assert read_input(path, 1024) == b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"


def test_a_pipe_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "endless.md"
    with _piped(path, b"x" * 200_000), pytest.raises(UnreadableFile, match="larger than"):
        read_input(path, 1000)


def test_docs_add_walks_past_a_pipe_in_a_folder(tmp_path: Path) -> None:
    # A pipe the walk found (not one the user named) has no writer: reading it would block.
    from almanac.cli.docs import _files

    (tmp_path / "a.md").write_text("a")
    os.mkfifo(tmp_path / "b.md")
    (tmp_path / "c.md").symlink_to(tmp_path / "gone.md")  # reported as a broken link
    assert _files([tmp_path]) == [(tmp_path / "a.md", None), (tmp_path / "c.md", None)]
