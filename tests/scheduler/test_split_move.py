"""A block split around a new meeting: its move says where all of its hours went.

A replan moved a 2 h block hit by a 1 h meeting in its middle to a 1 h slot elsewhere and
kept an hour around the meeting in two new pieces: the move named only the 1 h slot, so the
preview said two hours went into one, and the pieces were in no move at all."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.scheduler.core import Block
from almanac.scheduler.moves import moves

from .conftest import add_meeting, make_plan, next_monday, parse

URL = "/api/v1/scheduler"
T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)


def block(task: str, h0: float, h1: float, chunk: int = 0) -> Block:
    return Block(
        task_id=task,
        start=T0 + timedelta(hours=h0),
        end=T0 + timedelta(hours=h1),
        reason="",
        chunk=chunk,
    )


def test_the_pieces_a_move_leaves_go_with_it_and_others_are_no_move() -> None:
    previous = [block("review", 0, 2), block("deck", 3, 5)]
    current = [
        block("review", 0, 0.5),
        block("review", 1.5, 2, chunk=1),
        block("review", 6, 7, chunk=2),
        block("deck", 3, 5),
        block("brief", 8, 9),  # a task with no previous block: no move takes it
    ]
    [move] = moves(previous, current)
    assert move.old == previous[0] and move.new == current[0]
    assert sorted(b.start for b in move.also) == [current[1].start, current[2].start]


def test_a_block_the_task_gained_is_no_part_of_its_move() -> None:
    # Review of round 27: a task with 2 more hours (or hours that fit now) whose 2 h block
    # moved read "0-2 -> 3-5, 6-8", two hours moved into four; the new block is no move.
    previous = [block("review", 0, 2)]
    current = [block("review", 3, 5), block("review", 6, 8, chunk=1)]
    [move] = moves(previous, current)
    assert move.new == current[0] and move.also == ()
    # A piece that fits the hours left still goes with it.
    current = [block("review", 3, 4), block("review", 6, 7, chunk=1), block("review", 8, 9)]
    [move] = moves(previous, current)
    assert move.new == current[0] and move.also == (current[1],)


async def test_a_replan_lists_every_new_place_of_a_split_block(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    monday = next_monday()
    plan = await make_plan(
        db_session,
        [
            {"key": "review", "estimate_hours": 2.0, "priority": 3},
            {"key": "deck", "estimate_hours": 3.0},
            {"key": "brief", "estimate_hours": 2.0},
        ],
    )
    # One day of 8 working hours, 7 of them planned.
    body = {"plan_id": plan.id, "start_date": monday.isoformat(), "horizon_days": 1}
    r = await sched_client.post(f"{URL}/schedule", json={**body, "dry_run": False})
    assert r.status_code == 200, r.text
    before = {(b["task_key"], b["start"], b["end"]) for b in r.json()["blocks"]}
    review = [b for b in r.json()["blocks"] if b["task_key"] == "review"]
    assert len(review) == 1, review
    start = parse(review[0]["start"])
    await add_meeting(
        db_session, start + timedelta(minutes=30), start + timedelta(minutes=90), "Call"
    )

    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan.id, "dry_run": True})
    assert r.status_code == 200, r.text
    out = r.json()
    fresh: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for b in out["blocks"]:
        if (b["task_key"], b["start"], b["end"]) not in before:
            fresh[b["task_key"]].add((b["start"], b["end"]))
    told: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for m in out["moves"]:
        if m["to_start"]:
            told[m["task_key"]].add((m["to_start"], m["to_end"]))
        told[m["task_key"]] |= {(a["start"], a["end"]) for a in m["also_to"]}
    moved = {m["task_key"] for m in out["moves"]}
    assert "review" in moved, out["moves"]
    # Every new block of a task that moved is named by its moves, and only those.
    assert {k: v for k, v in fresh.items() if k in moved} == dict(told), (fresh, told)
    # The day is full (7 h of work and the 1 h call in 8 h): something is split to fit.
    assert any(m["also_to"] for m in out["moves"]), out["moves"]
