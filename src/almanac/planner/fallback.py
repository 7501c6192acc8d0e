"""What a plan says when the LLM's answer could not be used or no LLM is there to ask
(pure: errors in, text out).

Only Almanac's own words: a server's error text never reaches a note or a response.
"""

from __future__ import annotations

from almanac.errors import AlmanacError
from almanac.llm.base import LLMError, why_unusable
from almanac.planner.matching import Match


class PlanningFailed(AlmanacError, title="LLM unusable and no library match"):
    """Neither the LLM nor the library could make the plan (status: the LLM's error's)."""


def fallback_detail(exc: LLMError) -> str:
    """The note on a library plan made because the LLM's answer could not be used."""
    return f"{why_unusable(exc, 'plan')}: planned from the library instead"


def library_note(
    name: str,
    score: float | None,
    *,
    adapted_to_deadline: bool,
    calibrated: bool,
    mode: str,
    tried_llm: bool,
) -> str:
    """What a plan made from the library is, in words that hold: an LLM that was asked is
    not "no LLM", and estimates no past run changed are not "calibrated from history"."""
    what = f"the library workflow {name!r}"
    if score is not None:
        what += f" (match {score:.2f})"
    how = ["adapted to the deadline"] if adapted_to_deadline else []
    if calibrated:
        how.append("calibrated from history")
    elif mode == "library":
        how.append("with the library's estimates")
    else:
        how.append("with the library's estimates (no past runs to calibrate them from yet)")
    lead = "The LLM's plan was not used" if tried_llm else "No LLM was used"
    return f"{lead}: this plan is {what}, {' and '.join(how)}."


def _closest(candidates: list[Match]) -> str:
    near = ", ".join(f"{m.candidate.name!r} ({m.score:.2f})" for m in candidates[:3])
    return f"the closest were {near}" if near else "the workflow library is empty"


def llm_failed_no_match(exc: LLMError, candidates: list[Match]) -> AlmanacError:
    """The LLM could not plan and nothing in the library matched: say both."""
    return PlanningFailed(
        f"{why_unusable(exc, 'plan')}, and no workflow in the library matches this intent "
        "to plan from instead "
        f"({_closest(candidates)}). Try again, name a workflow with workflow_id, or add one.",
        exc.status_code,
        errors=[{"field": "intent", "message": "no matching library workflow"}, *exc.errors],
        headers=exc.headers,
    )


def no_match_without_llm(candidates: list[Match], threshold: float) -> AlmanacError:
    """No LLM is configured and nothing in the library matched confidently: a 422 naming
    `intent`, with the closest workflows and how to go on."""
    near = ", ".join(f"{m.candidate.name!r} ({m.score:.2f})" for m in candidates[:3])
    hint = (
        f" The closest were {near}, below the match threshold {threshold:g}."
        if near
        else " The workflow library is empty (`almanac workflows import` loads the starter one)."
    )
    closest = [
        {"kind": m.candidate.kind, "id": m.candidate.id, "name": m.candidate.name, "score": m.score}
        for m in candidates[:3]
    ]
    return AlmanacError(
        "No workflow in the library matches this intent and no LLM is configured."
        + hint
        + " Name one with workflow_id, add a workflow (POST /api/v1/planner/workflows), or "
        "configure an LLM (ALMANAC_LLM__PROVIDER=openai with ALMANAC_LLM__BASE_URL and "
        "ALMANAC_LLM__MODEL).",
        422,
        errors=[
            {
                "field": "intent",
                "message": "no workflow matches confidently and no LLM is configured",
                "threshold": threshold,
                "closest": closest,
            }
        ],
    )
