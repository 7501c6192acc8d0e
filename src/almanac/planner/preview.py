"""Preview a prompt version: the messages it renders for a sample input, and the LLM's answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from almanac.llm.base import (
    LLMClient,
    LLMError,
    LLMUse,
    Message,
    Prompt,
)
from almanac.ontology.sop import SOP
from almanac.planner import llm_plan
from almanac.planner.prompts import PromptService
from almanac.planner.schemas import PreviewMessage
from almanac.types import Strict

OPERATION = "preview"


class PromptPreviewIn(Strict):
    sample: Annotated[str, Field(min_length=1, max_length=4000)]
    call_llm: bool = False


class PromptPreviewOut(BaseModel):
    template_name: str
    version: str
    messages: list[PreviewMessage]
    answer: dict[str, Any] | None = None
    llm: LLMUse


def render(name: str, content: str, sample: str, now: datetime) -> list[Message]:
    """What the version would send: the planner's request for `sop_generator`, else the sample."""
    if name == llm_plan.TEMPLATE:
        return llm_plan.planning_messages(
            content,
            intent=sample,
            now=now,
            deadline=None,
            context=None,
            recalled=[],
            skeleton=None,
            skeleton_name=None,
        )
    return [Message("system", content), Message("user", sample)]


async def preview(
    prompts: PromptService, llm: LLMClient | None, name: str, version: str, body: PromptPreviewIn
) -> PromptPreviewOut:
    """Render a version; with `call_llm` and an LLM configured, ask it (sop_generator only)."""
    row = await prompts.version(name, version)
    messages = render(name, row.content, body.sample, datetime.now(UTC))
    answer: dict[str, Any] | None = None
    if not body.call_llm:
        use = LLMUse(used=False, detail="rendered only; set call_llm for the answer of the LLM")
    elif llm is None:
        use = LLMUse(used=False, detail="no LLM configured: only the rendered messages are shown")
    elif name != llm_plan.TEMPLATE:
        use = LLMUse(used=False, detail=f"an answer preview exists for {llm_plan.TEMPLATE} only")
    else:
        await prompts.uow.end_reads()  # a preview writes nothing: no transaction while it waits
        prompt = Prompt(messages, name, version)
        try:
            result = await llm.complete_json(operation=OPERATION, prompt=prompt, schema=SOP)
            answer = result.value.model_dump(mode="json", exclude_none=True)
            use = LLMUse.of(
                prompt,
                used=True,
                model=llm.model_for(OPERATION),
                detail="answer from the LLM (not saved as a plan)",
            )
        except LLMError as exc:
            use = LLMUse(used=False, model=llm.model_for(OPERATION), detail=str(exc))
    return PromptPreviewOut(
        template_name=name,
        version=version,
        messages=[PreviewMessage(role=m.role, content=m.content) for m in messages],
        answer=answer,
        llm=use,
    )
