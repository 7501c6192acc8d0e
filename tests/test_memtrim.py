"""memtrim: freed heap goes back to the operating system."""

from __future__ import annotations

import sys

import pytest

from almanac import memtrim


def _rss_kb() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_gives_a_freed_burst_back() -> None:
    # Many mid-sized buffers (below mmap's threshold, so they come from the heap), then
    # all but the last freed: the last one pins the top, so only a trim returns the rest.
    burst = [bytearray(64 * 1024) for _ in range(3000)]  # ~190 MB
    keep = burst[-1]
    del burst[:-1]
    before = _rss_kb()
    assert memtrim.trim()
    after = _rss_kb()
    assert before - after > 100 * 1024, (before, after)
    assert keep  # still alive: the trim released only free pages
