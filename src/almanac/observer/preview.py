"""Prompt preview: what a prompt version renders for a sample input, and what the LLM
answers to it (and whether that answer passes the operation's checks).

The sample input stands in for what the service would gather: for `sop_generator` an
intent (matched against the library as a plan would be; recall is left out), for
`daily_reflection`/`weekly_review` a report, for `fact_extractor` a memory's text. The
call is a real one: recorded in `llm_calls` and counted like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path
from pydantic import BaseModel, ValidationError

from almanac.db.uow import UnitOfWork
from almanac.deps import State, UoW
from almanac.errors import NotFound, ValidationFailed
from almanac.http_problems import error_message
from almanac.llm.base import (
    LLMAnswerRejected,
    LLMClient,
    LLMError,
    LLMUse,
    Message,
    Prompt,
)
from almanac.observer.narrative import judge_report_narrative, narrative_messages
from almanac.observer.proposals import extraction_messages, judge_facts
from almanac.observer.schemas import Narrative, RawFacts
from almanac.ontology.sop import SOP
from almanac.planner import llm_plan
from almanac.planner.deps import planner_service
from almanac.planner.judge import judge_plan
from almanac.planner.repository import PromptRepository
from almanac.planner.schemas import PlanIn, PreviewIn, PreviewMessage, PreviewOut
from almanac.planner.service import Skeleton

_OPERATIONS = {
    "sop_generator": "planning",
    "daily_reflection": "reflection",
    "weekly_review": "reflection",
    "fact_extractor": "extraction",
}


class PromptPreview:
    """Renders a prompt version and, with an LLM, asks it. Never commits."""

    def __init__(
        self,
        uow: UnitOfWork,
        *,
        llm: LLMClient | None,
        skeleton_for: Callable[[PlanIn], Awaitable[Skeleton | None]],
    ) -> None:
        self.uow = uow
        self.llm = llm
        self.skeleton_for = skeleton_for

    async def preview(self, name: str, body: PreviewIn) -> PreviewOut:
        """Render version `body.version` (default: the active one) of `name` for the input."""
        if name not in _OPERATIONS:
            raise ValidationFailed(
                f"no preview for {name!r}: one of {', '.join(sorted(_OPERATIONS))}",
                field="name",
            )
        rows = await PromptRepository(self.uow.session).versions(name)
        if not rows:
            raise NotFound(f"no prompt template named {name!r}")
        row = next(
            (r for r in rows if (r.version == body.version if body.version else r.is_active)),
            None,
        )
        if row is None:
            raise NotFound(f"prompt template {name!r} has no version {body.version or 'active'}")
        messages, schema, judge, skeleton = await self._render(name, row.content, body.input)
        out = PreviewOut(
            template_name=name,
            version=row.version,
            operation=_OPERATIONS[name],
            messages=[PreviewMessage(role=m.role, content=m.content) for m in messages],
            skeleton=skeleton,
            llm=LLMUse(used=False, detail="no LLM is configured: rendered only"),
        )
        llm = self.llm
        if llm is None or not body.call_llm:
            if llm is not None:
                out.llm = LLMUse(used=False, detail="call_llm is false: rendered only")
            return out
        await self.uow.end_reads()  # a preview writes nothing: no transaction while it waits
        prompt = Prompt(messages, name, row.version)
        try:
            result = await llm.complete_json(
                operation=out.operation,
                prompt=prompt,
                schema=schema,
                judge=judge,  # recorded with the call, so versions can be compared
            )
        except LLMAnswerRejected as exc:
            out.llm = LLMUse.of(
                prompt,
                used=True,
                model=llm.model_for(out.operation),
                detail="answered, but the answer failed the checks",
            )
            out.answer, out.accepted, out.rejection = exc.answer, False, exc.reasons
            return out
        except LLMError as exc:
            out.llm = LLMUse.of(
                prompt,
                used=False,
                model=llm.model_for(out.operation),
                detail=f"no usable answer: {exc.message}",
            )
            out.accepted, out.rejection = False, [exc.message]
            return out
        out.answer, out.accepted = result.value.model_dump(mode="json"), True
        out.llm = LLMUse.of(
            prompt,
            used=True,
            model=result.record.model,
            detail=f"answered by {result.record.model} in {result.record.latency_ms:.0f} ms "
            f"({result.record.tokens_in} tokens in, {result.record.tokens_out} out)",
        )
        return out

    async def _render(
        self, name: str, system: str, sample: dict[str, Any]
    ) -> tuple[list[Message], type[BaseModel], Any, str | None]:
        if name == "sop_generator":
            body = _validated(PlanIn, sample)
            skeleton = await self.skeleton_for(body)
            sop = skeleton.sop if skeleton else None
            messages = llm_plan.planning_messages(
                system,
                intent=body.intent,
                now=datetime.now(UTC),
                deadline=body.deadline,
                context=body.context,
                recalled=[],
                skeleton=sop,
                skeleton_name=skeleton.name if skeleton else None,
            )

            def judge(plan: SOP) -> list[str]:
                return judge_plan(plan, intent=body.intent, skeleton=sop)

            return messages, SOP, judge, skeleton.name if skeleton else None
        if name == "fact_extractor":
            memory = _validated(_MemorySample, sample)
            messages = extraction_messages(
                system, content=memory.content, metadata=memory.metadata, header="sample"
            )
            source = {"content": memory.content, "metadata": memory.metadata}
            return messages, RawFacts, lambda a: judge_facts(a, source), None
        report = _validated(_ReportSample, sample).report
        mode = "daily" if name == "daily_reflection" else "weekly"
        return (
            narrative_messages(system, mode, report),
            Narrative,
            judge_report_narrative(report),
            None,
        )


class _MemorySample(BaseModel):
    content: str
    metadata: dict[str, Any] = {}


class _ReportSample(BaseModel):
    report: dict[str, Any]


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], sample: dict[str, Any]) -> M:
    """The sample as `model`; else a 422 naming each bad field under `input` (e.g.
    `input.intent`) with its reason, as a request body's own errors are named."""
    try:
        return model.model_validate(sample)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(["input", *(str(p) for p in err.get("loc", ()))]),
                "message": error_message(dict(err)).removeprefix("Value error, "),
            }
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        failed = ValidationFailed(detail)
        failed.errors = errors
        raise failed from exc


# Under the planner's prompts, but served from here: previewing the observer's prompts needs
# the observer, which sits above the planner.
router = APIRouter(prefix="/api/v1/planner", tags=["planner"])


@router.post("/prompts/{name}/preview")
async def preview_prompt(
    name: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{1,99}$")],
    body: PreviewIn,
    uow: UoW,
    state: State,
) -> PreviewOut:
    """Render a prompt version for a sample input; with an LLM, its answer and verdict."""
    planner = planner_service(uow, state)
    preview = PromptPreview(uow, llm=state.llm, skeleton_for=planner.skeleton_for)
    return await preview.preview(name, body)
