"""The context block: one text an assistant puts in its prompt, packed to a token budget.

Facts that matter (relevant ones first, then the user's and the client's by salience),
the most relevant memories with their dates, open tasks and the next blocks, each line
with its id. Packing is pure (`pack`): a first pass gives every section its best few
lines, a second fills what is left in section order, so a small budget still shows a bit
of everything."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from almanac.context.schemas import ContextOut
from almanac.memory.schemas import FactsQuery, RecallQuery
from almanac.memory.service import MemoryService
from almanac.memory.tokens import TokenCounter, token_counter
from almanac.scheduler.problem import almanac_id
from almanac.scheduler.repository import AgendaReader

FIRST_PASS = 3  # lines per section before any section gets more
RECALL_K = 30
LINE_CHARS = 300


@dataclass
class Section:
    title: str
    lines: list[tuple[str, str]]  # (id, line)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LINE_CHARS else text[: LINE_CHARS - 1] + "…"


def pack(
    header: str, sections: list[Section], budget: int, counter: TokenCounter
) -> tuple[str, int, dict[str, list[str]], int]:
    """(text, tokens, ids per section, omitted lines) within `budget` tokens."""
    heads = [f"## {s.title}" for s in sections]
    costs = counter.count_many([header, *heads, *(line for s in sections for _, line in s.lines)])
    used = costs[0]
    head_cost = dict(zip(range(len(sections)), costs[1 : 1 + len(sections)], strict=True))
    line_costs: list[list[int]] = []
    at = 1 + len(sections)
    for s in sections:
        line_costs.append(costs[at : at + len(s.lines)])
        at += len(s.lines)
    chosen: list[list[int]] = [[] for _ in sections]
    blocked = [False] * len(sections)

    def take(i: int, j: int) -> bool:
        nonlocal used
        extra = line_costs[i][j] + (0 if chosen[i] else head_cost[i])
        if used + extra > budget:
            return False
        used += extra
        chosen[i].append(j)
        return True

    for limit in (FIRST_PASS, None):
        for i, s in enumerate(sections):
            for j in range(
                len(chosen[i]), len(s.lines) if limit is None else min(limit, len(s.lines))
            ):
                if blocked[i] or not take(i, j):
                    blocked[i] = True  # keep rank order: nothing after a line that did not fit
                    break
    parts = [header]
    ids: dict[str, list[str]] = {}
    for i, s in enumerate(sections):
        if chosen[i]:
            parts.append(heads[i])
            parts += [s.lines[j][1] for j in chosen[i]]
        ids[s.title.lower().replace(" ", "_")] = [s.lines[j][0] for j in chosen[i]]
    omitted = sum(len(s.lines) for s in sections) - sum(len(c) for c in chosen)
    return "\n".join(parts), used, ids, omitted


class ContextService:
    """Gathers the candidate lines (memory and agenda reads) and packs them."""

    def __init__(self, memory: MemoryService) -> None:
        self.memory = memory
        self.agenda = AgendaReader(memory.uow.session)
        self.tz = ZoneInfo(memory.settings.timezone)

    def _day(self, value: datetime | None) -> str:
        return value.astimezone(self.tz).strftime("%Y-%m-%d") if value else "undated"

    def _hm(self, value: datetime) -> str:
        return value.astimezone(self.tz).strftime("%a %Y-%m-%d %H:%M")

    async def build(self, query: str, client_id: int | None, budget: int) -> ContextOut:
        started = time.perf_counter()
        now = datetime.now(UTC)
        hits = (
            await self.memory.recall(RecallQuery(query=query, k=RECALL_K, client_id=client_id))
        ).results
        facts: dict[int, tuple[float, str]] = {}
        for rank, h in enumerate(h for h in hits if h.kind == "fact"):
            facts[h.id] = (-1.0 + rank / 1000, h.content)  # relevant facts first, in order
        subjects = [("user", None)] + ([("client", str(client_id))] if client_id else [])
        for subject_type, subject_id in subjects:
            # Another client's facts never enter this client's context, whatever their
            # subject (one about this client stated for another is that other's).
            q = FactsQuery(
                subject_type=subject_type, subject_id=subject_id, limit=50, for_client=client_id
            )
            for f in await self.memory.facts.list(q):
                facts.setdefault(f.id, (1.0 - f.salience_score, f.content))
        fact_lines = [
            (f"fact:{fid}", f"- [fact #{fid}] {_clip(content)}")
            for fid, (_, content) in sorted(facts.items(), key=lambda kv: kv[1][0])
        ]
        memory_lines = [
            (f"event:{h.id}", f"- [memory #{h.id}, {self._day(h.occurred_at)}] {_clip(h.content)}")
            for h in hits
            if h.kind == "event"
        ]
        task_lines = [
            (f"task:{t.id}", self._task_line(t))
            for t in await self.agenda.open_tasks(client_id, 30)
        ]
        block_lines = self._block_lines(await self.agenda.current_blocks(client_id), now)
        who = f"client {client_id}" if client_id else "all clients"
        header = f"# Almanac context ({who}; {self._hm(now)} {self.memory.settings.timezone})"
        sections = [
            Section("Facts", fact_lines),
            Section("Memories", memory_lines),
            Section("Open tasks", task_lines),
            Section("Next blocks", block_lines),
        ]
        counter = token_counter()
        text, used, ids, omitted = pack(header, sections, budget, counter)
        return ContextOut(
            text=text,
            token_budget=budget,
            tokens=used,
            tokenizer=counter.name,
            sections=ids,
            omitted=omitted,
            took_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    def _task_line(self, t: Any) -> str:
        bits = [f"{t.estimate_hours:g} h"] if t.estimate_hours is not None else []
        if t.scheduled_start:
            bits.append(f"starts {self._hm(t.scheduled_start)}")
        if t.deadline:
            bits.append(f"due {self._day(t.deadline)}")
        bits.append(t.status)
        return f"- [task #{t.id}, plan #{t.plan_id}] {_clip(t.title)} ({', '.join(bits)})"

    def _block_lines(
        self, rows: list[tuple[int, dict[str, Any], str | None]], now: datetime
    ) -> list[tuple[str, str]]:
        out = []
        for plan_id, b, title in rows:
            try:
                start = datetime.fromisoformat(b["start"])
                end = datetime.fromisoformat(b["end"])
                key, chunk = str(b["task_key"]), int(b.get("chunk", 0))
            except (KeyError, TypeError, ValueError):
                continue
            if end <= now:
                continue
            bid = almanac_id(plan_id, key, chunk)
            line = (
                f"- [block {bid}] {self._hm(start)}–{end.astimezone(self.tz):%H:%M} {title or key}"
            )
            out.append((start, f"block:{bid}", _clip(line)))
        out.sort(key=lambda x: x[0])
        return [(i, line) for _, i, line in out[:30]]
