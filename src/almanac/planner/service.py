"""From an intent to a draft plan: recall, match the library, plan (LLM or not), check, store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from almanac.config import PlannerSettings
from almanac.db.uow import UnitOfWork
from almanac.embedder import Embedder
from almanac.errors import AlmanacError, NotFound, RateLimited, ValidationFailed
from almanac.llm.base import LLMClient, LLMError, LLMUse
from almanac.llm.repository import LLMCallRepository
from almanac.memory.port import MemoryPort
from almanac.models import Plan
from almanac.ontology.catalog import CatalogRepository
from almanac.ontology.sop import MAX_TASK_HOURS, SOP, check_sop, plain_problems
from almanac.planner import llm_plan
from almanac.planner.context import UNREMEMBERED_NOTE, recall_context, remember_plan
from almanac.planner.estimates import Applied, Estimator, apply_estimates, params_from
from almanac.planner.fallback import (
    fallback_detail,
    library_note,
    llm_failed_no_match,
    no_match_without_llm,
)
from almanac.planner.hand import adjusted_note
from almanac.planner.idempotency import IN_PROCESS, first_plan, keyed, raced
from almanac.planner.matching import Match, rank
from almanac.planner.plans import plan_out
from almanac.planner.repository import PlanRepository, PromptRepository
from almanac.planner.schemas import (
    EstimatesMode,
    PlanIn,
    PlanOut,
    PromptUsageRow,
    RecalledItem,
    UsageOut,
    UsageRow,
)
from almanac.planner.skeleton import Part, build_skeleton, summary_of, title_for, with_deadline

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Skeleton:
    """The library's contribution to a plan: the SOP and where its tasks came from."""

    name: str
    workflow_id: int | None
    sop: SOP
    origin: dict[str, tuple[int, str]]  # plan task id -> (workflow id, workflow task key)
    score: float | None


def utc_now() -> datetime:
    return datetime.now(UTC)


class PlannerService:
    """Makes plans. Never commits: the request (or the CLI's unit of work) does.

    The read phase (library, memory, caps, prompt) ends before an LLM call, so no
    transaction stays open while the model thinks; the plan is written afterwards.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        *,
        memory: MemoryPort,
        embedder: Embedder,
        llm: LLMClient | None,
        settings: PlannerSettings,
        daily_planning_cap: int,
        timezone: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.uow = uow
        self.memory = memory
        self.embedder = embedder
        self.llm = llm
        self.settings = settings
        self.daily_planning_cap = daily_planning_cap
        self.timezone = timezone
        self.clock = clock
        self.plans = PlanRepository(uow.session)
        self.catalog = CatalogRepository(uow.session)
        self.prompts = PromptRepository(uow.session)

    async def plan(self, body: PlanIn, *, caller: int = IN_PROCESS) -> tuple[PlanOut, bool]:
        """Store a draft plan for `body.intent`; (plan, created). A retry under `caller`'s
        idempotency key returns the first plan without planning (or calling the LLM) again."""
        key = keyed(body, caller)
        if key is not None and (first := await first_plan(self.plans, key)) is not None:
            return first, False
        now = self.clock()
        if body.deadline is not None and body.deadline <= now:
            raise ValidationFailed("deadline is in the past", field="deadline")
        notes: list[str] = []
        degraded: list[str] = []
        skeleton, candidates = await self._skeleton(body)
        workflows = sorted({w for w, _ in skeleton.origin.values()}) if skeleton else []
        recalled = await recall_context(
            self.memory, body, workflows, self.settings.recall_k, degraded, notes
        )
        llm = self.llm
        sop: SOP | None = None
        use: LLMUse
        source = "library"
        if llm is not None and skeleton is not None and await self._cap_reached(now):
            # The cap guards spending on the LLM; a plan the library can make needs none.
            cap = self.daily_planning_cap
            use = LLMUse(
                used=False,
                detail=f"the daily cap of {cap} planning calls to the LLM is reached: "
                "this plan is library-only",
            )
            notes.append(use.detail)
        elif llm is not None:
            try:
                sop, use = await self._with_llm(body, now, recalled, skeleton)
                source = "llm"
            except LLMError as exc:
                if skeleton is None:
                    raise llm_failed_no_match(exc, candidates) from exc
                degraded.append("llm")
                use = LLMUse(
                    used=False,
                    model=llm.model_for(llm_plan.OPERATION),
                    detail=fallback_detail(exc),
                )
                notes.append(use.detail)
        else:
            use = LLMUse(
                used=False, detail="no LLM is configured: planned from the workflow library"
            )
        from_library = sop is None
        if sop is None:
            if skeleton is None:
                raise no_match_without_llm(candidates, self.settings.match_threshold)
            sop = skeleton.sop
        mode: EstimatesMode = body.estimates or self.settings.estimates
        applied = await self._estimate(sop, skeleton, body.client_id, mode)
        sop, estimates, calibration = applied.sop, applied.estimates, applied.changes
        if from_library and skeleton is not None:
            notes.append(
                library_note(
                    skeleton.name,
                    skeleton.score,
                    adapted_to_deadline=body.deadline is not None,
                    calibrated=any(e.basis in ("workflow", "client") for e in estimates),
                    mode=mode,
                    tried_llm="llm" in degraded,
                )
            )
        sop = with_deadline(sop, body.deadline)
        problems = check_sop(
            sop, now=now, deadline=body.deadline, hours_per_day=self.settings.hours_per_day
        )
        if problems:
            raise AlmanacError(
                "the plan cannot be stored: " + plain_problems(sop, problems),
                422,
                errors=[p.model_dump() for p in problems],
            )
        if calibration:
            notes.append(
                adjusted_note(len(calibration), sum(c.to_hours - c.from_hours for c in calibration))
            )
        if applied.bounded:
            notes.append(
                f"The bound of 0.2x-5x the library estimate applied to "
                f"{', '.join(applied.bounded)}."
            )
        if applied.held:
            notes.append(
                f"Held at {MAX_TASK_HOURS:g} h, the most one task may take (history says "
                f"more; split it): {', '.join(applied.held)}."
            )
        if mode == "library":
            notes.append("Library estimates were requested: no history was used.")
        row = Plan(
            plan_title=sop.title,
            intent=body.intent,
            sop=sop.model_dump(mode="json"),
            client_id=body.client_id,
            engagement_id=body.engagement_id,
            workflow_id=skeleton.workflow_id if skeleton else None,
            status="draft",
            metadata_={
                "source": source,
                "llm": use.model_dump(),
                "calibration": [c.model_dump() for c in calibration],
                "estimates_mode": mode,
                "estimates": [e.model_dump(mode="json") for e in estimates],
                "context": [r.model_dump() for r in recalled],
                "notes": notes,
                "degraded": degraded,
                "deadline": body.deadline.isoformat() if body.deadline else None,
                "match": _match_report(skeleton, candidates, self.settings.match_threshold),
                "user_context": body.context,
                "skeleton": (
                    {
                        "name": skeleton.name,
                        "workflow_id": skeleton.workflow_id,
                        "score": skeleton.score,
                    }
                    if skeleton
                    else None
                ),
            },
            **(key.columns() if key is not None else {}),
        )
        plan = await self.plans.add_once(row)
        if plan is None:  # a concurrent request with this key stored its plan first
            return await raced(self.plans, key), False
        job = await remember_plan(self.memory, self.uow.session, plan, sop)
        if job is not None and "memory" in degraded:
            # Nothing is lost: the memory is written once the Gateway takes it.
            notes.append(
                f"{UNREMEMBERED_NOTE} (the Memory Gateway is "
                f"unavailable): remembering it is queued (job {job}) and retried, for about "
                "a day, until the Memory Gateway takes it; until then later plans do not "
                "recall it as a past plan"
            )
            plan.metadata_ = {**plan.metadata_, "degraded": degraded, "notes": notes}
            await self.plans.flush(plan)
        return plan_out(plan), True

    async def skeleton_for(self, body: PlanIn) -> Skeleton | None:
        """The library skeleton a plan for `body` would adapt (None: nothing matches)."""
        return (await self._skeleton(body))[0]

    async def _skeleton(self, body: PlanIn) -> tuple[Skeleton | None, list[Match]]:
        if body.workflow_id is not None:
            workflow = await self.catalog.workflow(body.workflow_id)
            if workflow is None:
                raise NotFound(
                    f"workflow {body.workflow_id} does not exist",
                    errors=[{"field": "workflow_id", "message": "no such workflow"}],
                )
            sop, origin = build_skeleton(
                title_for(workflow.name, body.intent),
                summary_of(workflow.metadata_),
                [Part(workflow.id, workflow.name, workflow.steps)],
            )
            return Skeleton(workflow.name, workflow.id, sop, origin, None), []
        candidates = await rank(self.embedder, body.intent, await self.catalog.candidates())
        if not candidates or candidates[0].score < self.settings.match_threshold:
            return None, candidates
        best = candidates[0].candidate
        workflows = await self.catalog.workflows(best.workflow_ids)
        parts = [
            Part(w, workflows[w].name, workflows[w].steps)
            for w in best.workflow_ids
            if w in workflows
        ]
        if not parts:
            return None, candidates
        sop, origin = build_skeleton(title_for(best.name, body.intent), "", parts)
        workflow_id = best.id if best.kind == "workflow" else None
        return Skeleton(best.name, workflow_id, sop, origin, candidates[0].score), candidates

    async def _with_llm(
        self, body: PlanIn, now: datetime, recalled: list[RecalledItem], skeleton: Skeleton | None
    ) -> tuple[SOP, LLMUse]:
        assert self.llm is not None
        await self._check_cap(now)
        template = await self.prompts.active(llm_plan.TEMPLATE)
        if template is None:
            raise ValidationFailed(
                f"no active {llm_plan.TEMPLATE!r} prompt template: activate a version",
                field="prompt_templates",
            )
        messages = llm_plan.planning_messages(
            template.content,
            intent=body.intent,
            now=now,
            deadline=body.deadline,
            context=body.context,
            recalled=recalled,
            skeleton=skeleton.sop if skeleton else None,
            skeleton_name=skeleton.name if skeleton else None,
        )
        # Everything the model needs is read: release the connection while it thinks.
        await self.uow.end_reads()
        sop, use, _ = await llm_plan.generate_sop(
            self.llm,
            messages,
            prompt_version=template.version,
            now=now,
            deadline=body.deadline,
            hours_per_day=self.settings.hours_per_day,
            intent=body.intent,
            skeleton=skeleton.sop if skeleton else None,
        )
        return sop, use

    def _midnight(self, now: datetime) -> datetime:
        """The start of `now`'s day in the user's time zone (when daily caps reset)."""
        local = now.astimezone(ZoneInfo(self.timezone))
        return local.replace(hour=0, minute=0, second=0, microsecond=0)

    async def usage(self, since: datetime | None = None) -> UsageOut:
        """LLM calls, tokens and cost per operation and model (default: since local midnight)."""
        midnight = self._midnight(self.clock())
        repo = LLMCallRepository(self.uow.session)
        return UsageOut(
            since=since or midnight,
            rows=[UsageRow.model_validate(r) for r in await repo.usage(since or midnight)],
            prompts=[
                PromptUsageRow.model_validate(r)
                for r in await repo.usage_by_prompt(since or midnight)
            ],
            planning_calls_today=await repo.count_since(llm_plan.OPERATION, midnight),
            daily_planning_cap=self.daily_planning_cap,
        )

    async def _cap_reached(self, now: datetime) -> bool:
        cap = self.daily_planning_cap
        midnight = self._midnight(now)
        used = await LLMCallRepository(self.uow.session).count_since(llm_plan.OPERATION, midnight)
        return used >= cap

    async def _check_cap(self, now: datetime) -> None:
        """Risk 2: at most `llm.daily_planning_cap` planning calls a day (user's time zone)
        that reached the model; only plans that need the LLM (no library match) get a 429."""
        cap = self.daily_planning_cap
        midnight = self._midnight(now)
        used = await LLMCallRepository(self.uow.session).count_since(llm_plan.OPERATION, midnight)
        if used >= cap:
            reset = midnight + timedelta(days=1)  # the next local midnight, wall-clock
            # Real seconds, not wall-clock ones (datetimes of one zone subtract as naive):
            # a day with a clock change has 23 or 25 hours.
            wait = max(1, int((reset.astimezone(UTC) - now.astimezone(UTC)).total_seconds()))
            raise RateLimited(
                f"the daily cap of {cap} planning calls to the LLM is reached ({used} today); "
                f"it resets at midnight ({self.timezone}). Raise "
                "ALMANAC_LLM__DAILY_PLANNING_CAP, or name a library workflow with workflow_id "
                "(no workflow in the library matches this intent)",
                headers={"Retry-After": str(wait)},
            )

    async def _estimate(
        self, sop: SOP, skeleton: Skeleton | None, client_id: int | None, mode: EstimatesMode
    ) -> Applied:
        """Every task's estimate, its interval and how it was made (planner/estimates.py)."""
        origin = skeleton.origin if skeleton is not None else {}
        # The baseline is the library's estimate (the skeleton's), even when an LLM
        # adapted the plan: past runs are measured against it too.
        library = (
            {t.id: t.estimate_hours for t in skeleton.sop.tasks()} if skeleton is not None else {}
        )
        params = params_from(self.settings.calibration_half_life_days)
        fits = {}
        if mode == "calibrated" and origin:
            estimator = Estimator(
                self.uow.session, params, min_runs=self.settings.calibration_min_runs
            )
            fits = await estimator.fits(sorted({w for w, _ in origin.values()}))
        return apply_estimates(
            sop,
            origin,
            library,
            fits,
            client_id=client_id,
            mode=mode,
            params=params,
            tz=ZoneInfo(self.timezone),
        )


def _match_report(
    skeleton: Skeleton | None, candidates: list[Match], threshold: float
) -> dict[str, Any] | None:
    """The confidence of the library match and the runners-up (None for a named workflow)."""
    if not candidates:
        return None

    def item(m: Match) -> dict[str, Any]:
        c = m.candidate
        return {"kind": c.kind, "id": c.id, "name": c.name, "score": m.score}

    chosen = candidates[0] if skeleton is not None and skeleton.score is not None else None
    return {
        "confidence": candidates[0].score,
        "threshold": threshold,
        "chosen": item(chosen) if chosen else None,
        "alternatives": [item(m) for m in candidates[1 if chosen else 0 : 4]],
    }
