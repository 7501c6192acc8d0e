"""The Observer: reflect on a day or week, remember it, and learn patterns from the runs.

A reflection is the deterministic report (observer.report) plus, with an LLM, a narrative
on top of it; the numbers never depend on the LLM. It is stored once per mode and period
(re-running replaces it) and remembered as a `reflection` event so later plans recall it.
With the Memory Gateway in-process, the reflection, its event and its pattern facts are
written in the caller's one transaction (see memory.port).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from almanac.config import PlannerSettings, SchedulerSettings
from almanac.db.uow import UnitOfWork
from almanac.errors import AlmanacError, DatabaseUnavailable, DependencyUnavailable, NotFound
from almanac.llm.base import (
    LLMClient,
    LLMError,
    LLMUse,
    Prompt,
    why_unusable,
)
from almanac.memory.forget_repository import ForgetRepository
from almanac.memory.port import MemoryPort, RemoteMemory
from almanac.models.observer import Reflection
from almanac.observer import patterns as pat
from almanac.observer.facts import FactExtractor
from almanac.observer.memories import summarize_memories
from almanac.observer.narrative import (
    judge_report_narrative,
    narrative_messages,
    narrative_text,
    reflection_summary,
)
from almanac.observer.remembering import queue_remember_reflection, reflection_memory
from almanac.observer.report import DRIFT_THRESHOLD_PCT, build_report, finished_in, period_bounds
from almanac.observer.repository import ObserverRepository
from almanac.observer.rows import RunRow, WorkflowInfo
from almanac.observer.schemas import Mode, Narrative, PatternOut, ReflectionOut
from almanac.planner import estimates as est
from almanac.planner.estimates import Estimator, params_from
from almanac.planner.repository import PromptRepository
from almanac.scheduler.day_limits import user_day_limits
from almanac.scheduler.repository import SchedulerRepository

logger = logging.getLogger(__name__)

TEMPLATES: dict[str, str] = {"daily": "daily_reflection", "weekly": "weekly_review"}
OPERATION = "reflection"


def reflection_out(row: Reflection) -> ReflectionOut:
    """The API shape of a reflection row."""
    return ReflectionOut.model_validate(row, from_attributes=True)


class ObserverService:
    """Reflections, patterns and fact extraction over one UnitOfWork."""

    def __init__(
        self,
        uow: UnitOfWork,
        *,
        memory: MemoryPort,
        llm: LLMClient | None,
        planner: PlannerSettings,
        scheduler: SchedulerSettings,
        timezone: str,
        clock: Callable[[], datetime] | None = None,
        drift_threshold_pct: float = DRIFT_THRESHOLD_PCT,
    ) -> None:
        self.uow = uow
        self.memory = memory
        self.llm = llm
        self.planner = planner
        self.scheduler = scheduler
        self.timezone = timezone
        self.repo = ObserverRepository(uow.session)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.drift_threshold_pct = drift_threshold_pct
        self.facts = FactExtractor(uow, memory=memory, llm=llm)

    def tz(self) -> ZoneInfo:
        """The user's time zone (validated by Settings)."""
        return ZoneInfo(self.timezone)

    def today(self) -> date:
        """Today in the user's time zone."""
        return self.clock().astimezone(self.tz()).date()

    # -- reflections -----------------------------------------------------------------------

    async def reflect(self, mode: Mode, day: date | None = None) -> ReflectionOut:
        """Build, narrate, store (replacing the same period) and remember a reflection."""
        tz, now = self.tz(), self.clock()
        first, last, start, end = period_bounds(day or self.today(), mode, tz)
        period = (mode, first, last, start, end, now)
        report, _, _, read = await self._report(*period)
        narrative, use = await self._narrate(mode, report)
        # The writes hold the owner's data lock, which a forget takes first (and before
        # any row of the reflections it rewrites): a forget under way waits for this
        # commit, and one committed since the reads above is seen by reading again: then
        # the report is the new read's, without the narrative written from the old one,
        # and the pattern facts never count a forgotten client's runs.
        await ForgetRepository(self.uow.session).lock_owner()
        fresh, runs, workflows, still = await self._report(*period)
        if not read <= still:
            report, narrative = fresh, None
            use = LLMUse(
                used=False,
                detail="rows the narrative was written from were deleted meanwhile (a forget, a"
                " delete): numbers only; reflect again for a narrative",
            )
        report["llm"] = use.model_dump()
        event_id = await self._remember_period(mode, first, last, end, now, report, narrative)
        values = {
            "mode": mode,
            "period_start": first,
            "period_end": last,
            "timezone": tz.key,
            "report": report,
            "narrative": narrative,
            "llm": use.model_dump(),
            "event_id": event_id,
        }
        row = await self.repo.upsert_reflection(values)
        try:
            await self.facts.pattern_facts(self._patterns(runs, workflows), event_id)
        except DependencyUnavailable as exc:
            if isinstance(exc, DatabaseUnavailable):
                raise  # this transaction's own database: nothing can be stored
            # A remote Gateway away must not lose the reflection (a 503, and the job's
            # retries spent): the pattern facts come from the runs, so the next reflection
            # writes them; say so in it.
            logger.warning("pattern facts not written: %s", exc.message)
            report["pattern_facts"] = f"not written: {exc.message}; the next reflection writes them"
            row = await self.repo.upsert_reflection(values)
        return reflection_out(row)

    async def _report(
        self, mode: Mode, first: date, last: date, start: datetime, end: datetime, now: datetime
    ) -> tuple[dict[str, Any], list[RunRow], dict[int, WorkflowInfo], set[object]]:
        """The period's report (without its LLM part), from reads made now; its runs and
        workflows; and which rows it read (to tell whether any went since)."""
        tz = self.tz()
        blocks = await self.repo.blocks(start, end)
        runs = await self.repo.runs(start, end)
        # Tasks with blocks, and tasks finished in the period (done counts them there).
        finished = finished_in(runs, start, end)
        with_rows = {b.task_id for b in blocks} | set(finished)
        tasks = await self.repo.tasks(start, end, sorted(t for t in with_rows if t is not None))
        workflows = await self._workflow_info({r.workflow_id for r in runs if r.workflow_id})
        report = build_report(
            mode=mode,
            first=first,
            last=last,
            tz=tz,
            now=now,
            tasks=tasks,
            runs=runs,
            blocks=blocks,
            sprint=await self.repo.sprint(first - timedelta(days=first.weekday())),
            workflows=workflows,
            # The scheduler's own limits: a day it filled by its rules is not overbooked.
            day_limits=await user_day_limits(
                self.memory,
                PromptRepository(self.uow.session),
                self.scheduler,
                SchedulerRepository(self.uow.session),
            ),
            drift_threshold_pct=self.drift_threshold_pct,
            finished=finished,
        )
        memories = await self.repo.memories(start, end)
        report["memories"] = summarize_memories(memories)
        read: set[object] = {("task", t.id) for t in tasks} | {("run", r.id) for r in runs}
        read |= {("block", b.task_key, b.start) for b in blocks}
        read |= {("memory", m[2]) for m in memories}
        return report, runs, workflows, read

    async def _narrate(self, mode: Mode, report: dict[str, Any]) -> tuple[str | None, LLMUse]:
        llm = self.llm
        if llm is None:
            return None, LLMUse(
                used=False, detail="no LLM is configured: this report is the numbers only"
            )
        name = TEMPLATES[mode]
        template = await PromptRepository(self.uow.session).active(name)
        if template is None:
            return None, LLMUse(
                used=False, detail=f"no active {name!r} prompt template: numbers only"
            )
        prompt = Prompt(narrative_messages(template.content, mode, report), name, template.version)
        # Everything the report needs has been read: no transaction while the LLM thinks.
        # The reflection is a snapshot of that read; writing it replaces the period's.
        await self.uow.end_reads()
        try:
            result = await llm.complete_json(
                operation=OPERATION,
                prompt=prompt,
                schema=Narrative,
                judge=judge_report_narrative(report),
            )
        except LLMError as exc:
            return None, LLMUse.of(
                prompt,
                used=False,
                model=llm.model_for(OPERATION),
                detail=f"{why_unusable(exc, 'narrative')}: no narrative, the numbers stand",
            )
        text = narrative_text(result.value)
        return text, LLMUse.of(
            prompt,
            used=True,
            model=result.record.model,
            detail=f"narrative by {result.record.model}",
        )

    async def _remember_period(
        self,
        mode: Mode,
        first: date,
        last: date,
        end: datetime,
        now: datetime,
        report: dict[str, Any],
        narrative: str | None,
    ) -> int | None:
        """The period's memory: the stored reflection's when it says the same, else a new
        one. A Gateway elsewhere cannot replace a memory under its key: it stores the
        changed one beside the old, which goes once the reflection pointing at the new one
        has committed (in process the old row is replaced in this transaction)."""
        was = await self.repo.of_period(mode, first)
        prior = was.event_id if was is not None else None
        # A stored report that was not remembered says so: its memory is an older one.
        if prior is not None and was is not None and "memory" not in (was.report or {}):
            if reflection_summary(was.report, was.narrative) == reflection_summary(
                report, narrative
            ):
                return prior
        event_id = await self._remember(mode, first, last, end, now, report, narrative)
        if event_id is None:
            # Not remembered now (the report says so): the period keeps the memory it had,
            # stale but known, so the next reflection that is remembered replaces it (it
            # was forgotten here, and stayed beside the new one for good).
            return prior
        memory = self.memory
        if isinstance(memory, RemoteMemory) and prior is not None and event_id != prior:
            self.uow.after_commit(partial(memory.forget_event, prior))
        return event_id

    async def _remember(
        self,
        mode: Mode,
        first: date,
        last: date,
        end: datetime,
        now: datetime,
        report: dict[str, Any],
        narrative: str | None,
    ) -> int | None:
        occurred = min(now, end - timedelta(microseconds=1))
        item = reflection_memory(mode, first, last, occurred, report, narrative)
        try:
            return await self.memory.remember(item)
        except AlmanacError as exc:
            # A remote Gateway outage must not lose the reflection itself; say so in it,
            # and remember it once the Gateway is back (queued with the reflection).
            logger.warning("reflection not remembered: %s", exc.message)
            job = await queue_remember_reflection(self.uow.session, mode, first)
            report["memory"] = (
                f"not remembered: {exc.message}; remembering it is queued (job {job}) and "
                "retried until the Memory Gateway takes it"
            )
            return None

    async def get(self, reflection_id: int) -> ReflectionOut:
        """One reflection by id."""
        row = await self.repo.reflection(reflection_id)
        if row is None:
            raise NotFound(f"reflection {reflection_id} does not exist")
        return reflection_out(row)

    async def reflections(
        self, mode: Mode | None, limit: int, offset: int = 0
    ) -> list[ReflectionOut]:
        """Reflections, latest period first."""
        return [reflection_out(r) for r in await self.repo.reflections(mode, limit, offset)]

    # -- patterns --------------------------------------------------------------------------

    async def _workflow_info(self, ids: set[int] | None) -> dict[int, WorkflowInfo]:
        """Per workflow: the library's estimate and the planner's, from the same fits."""
        rows = await self.repo.workflows(sorted(ids) if ids is not None else None)
        planner = self.planner
        params = params_from(planner.calibration_half_life_days)
        fits = await Estimator(
            self.uow.session, params, min_runs=planner.calibration_min_runs
        ).fits([w.id for w in rows], {w.id: w.steps for w in rows})
        out: dict[int, WorkflowInfo] = {}
        for w in rows:
            tasks = est.workflow_tasks(w.id, w.name, w.steps, fits, params=params)
            fitted = fits.get(w.id)
            clients = {}
            for c, support in fitted.client_support.items() if fitted else []:
                hours = est.workflow_tasks(w.id, w.name, w.steps, fits, client_id=c, params=params)
                clients[c] = (support.runs, round(sum(hours.values()), 2))
            out[w.id] = WorkflowInfo(
                name=w.name,
                estimate_hours=pat.workflow_estimate(w.steps),
                suggested_hours=round(sum(tasks.values()), 2) if tasks else None,
                library_tasks=est.library_hours(w.steps),
                suggested_tasks=tasks,
                clients=clients,
                basis=est.fit_summary(fitted) if fitted else {},
            )
        return out

    @staticmethod
    def _patterns(runs: list[RunRow], workflows: dict[int, WorkflowInfo]) -> list[PatternOut]:
        return pat.patterns(runs, workflows)

    async def patterns(self) -> list[PatternOut]:
        """Per workflow with completed runs: variance, trend, current and suggested estimate."""
        workflows = await self._workflow_info(None)
        far = datetime.max.replace(tzinfo=UTC) - timedelta(days=2)
        runs = await self.repo.runs(far, far)
        return self._patterns(runs, workflows)
