"""A calendar server's failure in words a user can act on."""

from __future__ import annotations

import re

# An HTTP library's error quotes the objects it failed in ("<urllib3.connection.
# HTTPConnection object at 0x7f…>"): nothing a user can act on.
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>:?\s*")
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def unreachable_reason(exc: BaseException) -> str:
    """Why a server could not be reached, in words: the system's reason ("Connection
    refused", "Name or service not known") where the error carries one."""
    text = str(exc)
    found = _ERRNO.search(text)
    if found is not None:
        return found.group(1).strip().rstrip(".")
    return _OBJECT_REPR.sub("", text) or type(exc).__name__
