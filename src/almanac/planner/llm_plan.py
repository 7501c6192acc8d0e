"""Planning with an LLM: the prompt, the call, and one repair round for whole-plan problems."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from almanac.llm.base import (
    LLMClient,
    LLMOutputInvalid,
    LLMTooSlow,
    LLMUse,
    Message,
    Prompt,
    StructuredResult,
)
from almanac.ontology.sop import SOP, SOPProblem, check_sop, plain_problems
from almanac.planner.judge import judge_plan
from almanac.planner.schemas import RecalledItem

OPERATION = "planning"
TEMPLATE = "sop_generator"

# What is recalled goes into the prompt cut to these sizes: a memory holds up to 20,000
# characters (a pasted email), and 24 of them (recall_k 8) made a 480,000-character prompt
# that no small model's context takes (its 400 failed the plan). The plan's `context` in
# the response still lists every item whole.
RECALLED_ITEM_CHARS = 1000
RECALLED_TOTAL_CHARS = 12_000


def planning_messages(
    system: str,
    *,
    intent: str,
    now: datetime,
    deadline: datetime | None,
    context: str | None,
    recalled: Sequence[RecalledItem],
    skeleton: SOP | None,
    skeleton_name: str | None,
) -> list[Message]:
    """The system prompt (the active template) and the request with everything recalled."""
    lines = [f"Intent: {intent}", f"Now: {now.isoformat()}"]
    if deadline is not None:
        lines.append(f"Deadline for the whole plan: {deadline.isoformat()}")
    if context:
        lines.append(f"Context from the user: {context}")
    if recalled:
        lines.append("What Almanac remembers that may matter:")
        lines.extend(recalled_lines(recalled))
    if skeleton is not None:
        lines.append(
            f"Skeleton to adapt (the library workflow {skeleton_name!r}; keep a task's id "
            "when the task corresponds, estimates are calibrated from history afterwards "
            "by id):"
        )
        lines.append(json.dumps(skeleton.model_dump(mode="json", exclude_none=True)))
    else:
        lines.append("No workflow in the library matches: design the plan from scratch.")
    return [Message("system", system), Message("user", "\n".join(lines))]


def recalled_lines(recalled: Sequence[RecalledItem]) -> list[str]:
    """One line per recalled item, each cut to RECALLED_ITEM_CHARS, in order until
    RECALLED_TOTAL_CHARS; what is left out is counted."""
    out: list[str] = []
    used = 0
    for n, item in enumerate(recalled):
        text = item.content
        if len(text) > RECALLED_ITEM_CHARS:
            text = text[: RECALLED_ITEM_CHARS - 1] + "…"
        line = f"- [{item.kind}] {text}"
        if used + len(line) > RECALLED_TOTAL_CHARS:
            out.append(f"- ({len(recalled) - n} more not shown)")
            break
        out.append(line)
        used += len(line)
    return out


async def generate_sop(
    llm: LLMClient,
    messages: list[Message],
    *,
    prompt_version: str,
    now: datetime,
    deadline: datetime | None,
    hours_per_day: float,
    intent: str,
    skeleton: SOP | None,
) -> tuple[SOP, LLMUse, bool]:
    """Ask for an SOP, check it as a whole, and ask once more to fix what is wrong.

    Every answer is judged (`judge_plan`): one that collapses, repeats or strays from the
    library skeleton is rejected. Both calls share the planning time budget. Returns the
    plan, how the LLM was used, and whether a whole-plan repair was needed. Raises
    `LLMOutputInvalid` (with the problems as errors) when the repair fails too,
    `LLMAnswerRejected` when the judge rejects an answer, `LLMTooSlow` when the budget runs
    out and `LLMUnavailable` when the model cannot be reached.
    """
    budget = llm.budget_for(OPERATION)
    ends = None if budget is None else time.monotonic() + budget

    def judge(sop: SOP) -> list[str]:
        return judge_plan(sop, intent=intent, skeleton=skeleton)

    async def ask(sent: Prompt, budget_seconds: float | None = None) -> StructuredResult[SOP]:
        return await llm.complete_json(
            operation=OPERATION, prompt=sent, schema=SOP, judge=judge, budget_seconds=budget_seconds
        )

    prompt = Prompt(messages, TEMPLATE, prompt_version)
    result = await ask(prompt)
    sop = result.value
    problems = check_sop(sop, now=now, deadline=deadline, hours_per_day=hours_per_day)
    repaired = False
    if problems:
        repaired = True
        repair = replace(
            prompt,
            messages=[
                *messages,
                Message("assistant", sop.model_dump_json(exclude_none=True)),
                Message("user", _repair_request(problems)),
            ],
        )
        left = None if ends is None else ends - time.monotonic()
        if left is not None and left < 1.0:
            raise LLMTooSlow(f"the LLM's plan needed a repair and its {budget:g} s budget is spent")
        result = await ask(repair, budget_seconds=left)
        sop = result.value
        problems = check_sop(sop, now=now, deadline=deadline, hours_per_day=hours_per_day)
        if problems:
            raise LLMOutputInvalid(
                "the LLM's plan is still inconsistent after one repair: "
                + plain_problems(sop, problems),
                errors=[p.model_dump() for p in problems],
            )
    use = LLMUse.of(
        prompt,
        used=True,
        model=result.record.model,
        detail=f"planned by {result.record.model}"
        + (" after one repair of an inconsistent plan" if repaired else ""),
    )
    return sop, use, repaired


def _repair_request(problems: Sequence[SOPProblem]) -> str:
    listed = "\n".join(f"- {p.field}: {p.message}" for p in problems)
    return (
        "Your plan has these problems:\n"
        f"{listed}\n"
        "Return the whole corrected plan as JSON matching the schema: every task id unique, "
        "depends_on naming only tasks of this plan, no dependency cycle, and a total that "
        "fits before the deadline."
    )
