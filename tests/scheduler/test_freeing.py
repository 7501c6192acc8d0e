"""`freeing.trim`, the pure part of fitting a task's blocks to what is left of it: the
earliest future blocks stay, a partial one is shortened unless below the minimum chunk,
started blocks and other tasks' blocks never change, chunk numbers stay with their blocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from almanac.scheduler.core import Block
from almanac.scheduler.freeing import trim

NOW = datetime(2030, 3, 4, 8, tzinfo=UTC)


def block(task: str, chunk: int, hour: float, length: int) -> Block:
    start = NOW + timedelta(hours=hour)
    return Block(task, chunk, start, start + timedelta(minutes=length))


def test_the_latest_go_first_whatever_their_chunk_numbers() -> None:
    # Chunk numbers out of time order, as after a replan moved blocks.
    blocks = [block("a", 2, 1, 120), block("a", 0, 4, 120), block("a", 1, 7, 60)]
    kept, cuts = trim(blocks, "a", 150, NOW, 30)
    assert [(b.chunk, b.start, b.end) for b in kept] == [
        (2, blocks[0].start, blocks[0].end),
        (0, blocks[1].start, blocks[1].start + timedelta(minutes=30)),
    ]
    assert [(c.block.chunk, c.end) for c in cuts] == [
        (0, blocks[1].start + timedelta(minutes=30)),
        (1, None),
    ]


def test_a_remainder_below_the_minimum_chunk_frees_the_block() -> None:
    blocks = [block("a", 0, 1, 60), block("a", 1, 3, 60)]
    kept, cuts = trim(blocks, "a", 75, NOW, 30)
    assert kept == [blocks[0]]
    assert [(c.block, c.end) for c in cuts] == [(blocks[1], None)]
    # With no minimum beyond the slot, the quarter hour stays.
    kept, cuts = trim(blocks, "a", 75, NOW, 15)
    assert kept[1].end - kept[1].start == timedelta(minutes=15)


def test_started_blocks_and_other_tasks_never_change() -> None:
    started = block("a", 0, -0.5, 60)  # began half an hour ago
    other = block("b", 0, 2, 60)
    future = block("a", 1, 3, 60)
    kept, cuts = trim([started, other, future], "a", 0, NOW, 30)
    assert kept == [started, other]
    assert [c.block for c in cuts] == [future]
    assert trim([started, other, future], "a", 60, NOW, 30) == ([started, other, future], [])
