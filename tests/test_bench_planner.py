"""The planner benchmark's LLM part times plans the LLM made: it asks for work no
workflow of the benchmark's library covers. Its library intents were matched, and the
planner's checks then replaced the scripted two-task answer with the library's workflow,
so 19 of 20 'LLM' requests timed no LLM call."""

from __future__ import annotations

import random

import bench.planner_bench as planner_bench
import httpx
from sqlalchemy.ext.asyncio import AsyncSession

PLAN = "/api/v1/planner/plan"


async def test_the_llm_parts_intents_match_no_workflow_of_the_library(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    db_session.add_all(planner_bench.library_rows(200, random.Random(11)))
    await db_session.flush()
    # Without an LLM a plan needs a match: what the library covers is planned from it...
    matched = await client.post(PLAN, json={"intent": "SEO audit for a dental clinic: keywords"})
    assert matched.status_code == 201, matched.text
    # ...and what the LLM part asks for is not, so with an LLM the LLM's plan is the answer.
    for intent in planner_bench.llm_intents(5):
        r = await client.post(PLAN, json={"intent": intent})
        assert r.status_code == 422, (intent, r.text)
        assert "No workflow in the library matches" in r.json()["detail"]
