"""Files a command reads: bounded, and refused with a message rather than a traceback.

Standard library only, so the fast path (`cli/api.py`'s commands) can use it.
"""

from __future__ import annotations

import stat
from pathlib import Path


class UnreadableFile(Exception):
    """A file a command cannot read; the message names it and says why."""


def read_input(path: Path, limit: int) -> bytes:
    """The bytes of the file `path`, at most `limit` of them.

    A regular file, or a pipe the user named (`<(curl ...)`, `/dev/stdin` fed by a pipe):
    read up to the limit, which bounds a pipe that never ends. A device (`/dev/zero` was
    read until the machine ran out of memory; a terminal) is refused, and a folder or a
    broken link escaped as a traceback: each is an `UnreadableFile` instead.
    """
    try:
        mode = path.stat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            raise UnreadableFile(f"{path} is {kind}")
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError as exc:
        raise UnreadableFile(f"{path} does not exist (or is a broken link)") from exc
    except OSError as exc:
        raise UnreadableFile(f"{path} cannot be read ({exc.strerror or exc})") from exc
    if len(data) > limit:
        raise UnreadableFile(f"{path} is larger than {limit:,} bytes")
    return data
