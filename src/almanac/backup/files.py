"""Where an export or a backup is written: private, whole, and to what the path names.

A regular file (or none yet) is written beside itself as `<name>.partial`, mode 0600 (every
client's data: readable by its owner only, whatever the umask), and renamed into place
once whole. A symlink is followed first: renaming over the link replaced it with a file and
left the file it pointed to (on a NAS, say) empty. A FIFO or a device is written as it is,
in place: renaming over it replaced the pipe another program was reading.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


def resolved(path: Path) -> Path:
    """The file `path` names, through any symlinks."""
    return Path(os.path.realpath(path))


def in_place(path: Path) -> bool:
    """Whether `path` (resolved) is written as it is: it exists and is no regular file."""
    return path.exists() and not path.is_file()


def private_partial(target: Path) -> Path:
    """An empty `<target>.partial`, mode 0600, made before anything is written into it."""
    tmp = target.with_name(target.name + ".partial")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    tmp.chmod(0o600)  # whatever the umask
    return tmp


@contextlib.contextmanager
def written(path: Path) -> Iterator[TextIO]:
    """A text stream for `path`, put in place only when the block ends without an error."""
    target = resolved(path)
    if in_place(target):
        with target.open("w", encoding="utf-8") as fh:
            yield fh
        return
    tmp = private_partial(target)
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            yield fh
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
