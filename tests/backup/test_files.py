"""An export or a backup goes to what its path names: through a symlink, into a FIFO as it
is, and otherwise whole and private (0600), never half-written in place."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from almanac.backup.files import written


def test_a_new_file_is_private_and_appears_only_when_whole(tmp_path: Path) -> None:
    target = tmp_path / "export.jsonl"
    with written(target) as fh:
        fh.write("one\n")
        assert not target.exists()  # still the .partial beside it
    assert target.read_text() == "one\n"
    # Every client's data: its owner's alone, as the backup is (the export was 0644).
    assert target.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob("*.partial"))


def test_a_failed_write_leaves_what_was_there(tmp_path: Path) -> None:
    target = tmp_path / "export.jsonl"
    target.write_text("yesterday's\n")
    with pytest.raises(RuntimeError), written(target) as fh:
        fh.write("half")
        raise RuntimeError("the database went away")
    assert target.read_text() == "yesterday's\n"
    assert not list(tmp_path.glob("*.partial"))


def test_a_symlink_is_written_through(tmp_path: Path) -> None:
    """Renamed over, the link became a file and the file it named (on a NAS) stayed empty."""
    (tmp_path / "nas").mkdir()
    real = tmp_path / "nas" / "almanac.jsonl"
    real.write_text("")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(real)
    with written(link) as fh:
        fh.write("rows\n")
    assert link.is_symlink() and real.read_text() == "rows\n"
    assert not list((tmp_path / "nas").glob("*.partial")) and not list(tmp_path.glob("*.partial"))


def test_a_fifo_is_written_into_not_replaced(tmp_path: Path) -> None:
    """Renamed over, the pipe another program read from was gone, and it read nothing."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    with written(fifo) as fh:
        fh.write("rows\n")
    reader.join(10)
    assert got == ["rows\n"]
    assert fifo.is_fifo()
