"""What a plan says when the LLM's answer could not be used (pure: errors in, text out).

Only Almanac's own words: a server's error text never reaches a note or a response.
"""

from __future__ import annotations

from almanac.errors import AlmanacError
from almanac.llm.base import LLMAnswerRejected, LLMOutputInvalid, LLMTooSlow
from almanac.planner.matching import Match


class PlanningFailed(AlmanacError, title="LLM unusable and no library match"):
    """Neither the LLM nor the library could make the plan (status: the LLM's error's)."""


def fallback_detail(exc: AlmanacError) -> str:
    """The note on a library plan made because the LLM's answer could not be used."""
    if isinstance(exc, LLMTooSlow):
        return f"the LLM was too slow ({exc.message}): planned from the library instead"
    if isinstance(exc, LLMAnswerRejected):
        return (
            f"the LLM's plan was rejected ({'; '.join(exc.reasons)}): "
            "planned from the library instead"
        )
    if isinstance(exc, LLMOutputInvalid):
        return f"the LLM's plan could not be used ({exc.message}): planned from the library instead"
    return f"the LLM failed ({exc.message}); planned from the library instead"


def _closest(candidates: list[Match]) -> str:
    near = ", ".join(f"{m.candidate.name!r} ({m.score:.2f})" for m in candidates[:3])
    return f"the closest were {near}" if near else "the workflow library is empty"


def llm_failed_no_match(exc: AlmanacError, candidates: list[Match]) -> AlmanacError:
    """The LLM could not plan and nothing in the library matched: say both."""
    if isinstance(exc, LLMTooSlow):
        what = f"the LLM was too slow ({exc.message})"
    elif isinstance(exc, LLMAnswerRejected):
        what = f"the LLM's plan was rejected ({'; '.join(exc.reasons)})"
    elif isinstance(exc, LLMOutputInvalid):
        what = f"the LLM's answer was not a valid plan ({exc.message})"
    else:
        what = f"the LLM is unavailable ({exc.message})"
    return PlanningFailed(
        f"{what}, and no workflow in the library matches this intent to plan from instead "
        f"({_closest(candidates)}). Try again, name a workflow with workflow_id, or add one.",
        exc.status_code,
        errors=[{"field": "intent", "message": "no matching library workflow"}, *exc.errors],
        headers=exc.headers,
    )
