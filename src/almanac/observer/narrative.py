"""What a reflection says beyond its numbers: the report as the LLM is shown it, the
narrative's prompt and judge, and the summary remembered for later plans."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from almanac.llm.base import Message
from almanac.observer.judge import judge_narrative
from almanac.observer.schemas import Narrative

SUMMARY_CHARS = 20_000  # RememberIn's content bound
# The slipped tasks the LLM is shown (the rest are counted): every task of the period past its
# deadline went in, each with a title of up to 500 characters, hundreds of them in the week
# of someone behind on everything (the report itself still lists them all).
SLIPPED_IN_PROMPT = 20


def shared_report(report: dict[str, Any]) -> dict[str, Any]:
    """The report as the LLM sees it: a client's slipped task without its title, a step
    outside the workflow's library without its key. The narrative is remembered with the
    reflection, which every client's plans recall."""
    slipped = [
        {k: v for k, v in s.items() if k != "client_id"}
        | ({"title": "(a client's task)"} if s.get("client_id") is not None else {})
        for s in report.get("slipped", [])[:SLIPPED_IN_PROMPT]
    ]
    more = len(report.get("slipped", [])) - len(slipped)
    # Nor the key of a step the library does not define (an LLM's id for one plan's task).
    drift = [
        d if d.get("in_library", True) else {**d, "step": "(a plan's own step)"}
        for d in report.get("drift", [])
    ]
    shared = {**report, "slipped": slipped, "drift": drift}
    return shared | ({"slipped_not_listed": more} if more else {})


def narrative_messages(system: str, mode: str, report: dict[str, Any]) -> list[Message]:
    """The reflection prompt: the template, then the computed numbers as JSON (a client's
    task titles left out, see `shared_report`)."""
    shared = shared_report(report)
    user = (
        f"The {mode} numbers (JSON):\n{json.dumps(shared, sort_keys=True, default=str)}\n\n"
        'Answer as {"narrative": "...", "adjustments": ["...", "..."]}'
    )
    return [Message("system", system), Message("user", user)]


def judge_report_narrative(report: dict[str, Any]) -> Callable[[Narrative], list[str]]:
    """The judge of narratives about `report`."""
    return lambda answer: judge_narrative(narrative_text(answer), report)


def narrative_text(answer: Narrative) -> str:
    """The narrative as stored: the prose, then the adjustments as a list."""
    text = answer.narrative.strip()
    if answer.adjustments:
        text += "\n" + "\n".join(f"- {a}" for a in answer.adjustments)
    return text


def reflection_summary(report: dict[str, Any], narrative: str | None) -> str:
    n = report["numbers"]
    p = report["period"]
    span = p["start"] if p["start"] == p["end"] else f"{p['start']} to {p['end']}"
    lines = [
        f"{report['mode'].capitalize()} reflection for {span}: {n['tasks_planned']} "
        f"task{'' if n['tasks_planned'] == 1 else 's'} planned, {n['tasks_done']} done; "
        f"{n['hours_estimated']:g} h estimated, "
        f"{n['hours_actual']:g} h worked."
    ]
    if measured := n.get("done_tasks_measured"):
        lines[0] += (
            f" The {measured} task(s) done with hours recorded were estimated at "
            f"{n['done_hours_estimated']:g} h and took {n['done_hours_worked']:g} h."
        )
    lines += [f"- {r}" for r in report["recommendations"]]
    if narrative:
        lines += ["", narrative]
    text = "\n".join(lines)
    # A memory holds at most SUMMARY_CHARS; the reflection row keeps the whole text.
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"
