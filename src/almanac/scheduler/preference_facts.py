"""A plan's client's preference facts read from memory, and what became of them: read by the
rules or the LLM (`preference_llm`), and each memory's lines for the response."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from pydantic import ValidationError

from almanac.config import SchedulerSettings
from almanac.errors import AlmanacError
from almanac.llm.base import LLMClient
from almanac.memory.port import MemoryPort
from almanac.memory.schemas import FactsQuery
from almanac.planner.repository import PromptRepository
from almanac.scheduler.preference_llm import describe, fits_llm, resolve_preferences
from almanac.scheduler.preferences import parse_preferences
from almanac.scheduler.repository import SchedulerRepository
from almanac.scheduler.schemas import PreferenceSource, PreferencesOut, SchedulingPreferences


def preferences_kept(read: SchedulingPreferences | None) -> dict[str, Any]:
    """What a run keeps of the preferences it was solved with, for a solve while memory
    is unavailable (`SchedulerRepository.last_read_preferences`)."""
    if read is None:
        return {"preferences_read": "fallback"}
    return {"preferences_read": "memory", "preferences_used": read.model_dump(mode="json")}


@dataclass
class Preferences:
    """The preference facts and prompt read for a plan's client, and what became of them."""

    client_id: int | None
    facts: list[tuple[int, str]]  # (fact id, text), oldest first
    prompt: tuple[str, str | None] | None  # (content, version) of the active prompt
    out: tuple[SchedulingPreferences, list[str], str]  # preferences, applied lines, source
    warnings: list[str]
    asked_llm: bool
    from_memory: bool = True  # False: memory could not be read (stored or defaults used)


class PreferenceFacts:
    """Reads the preferences the scheduler applies (the settings judge them)."""

    def __init__(
        self,
        memory: MemoryPort,
        prompts: PromptRepository,
        llm: LLMClient | None,
        settings: SchedulerSettings,
        runs: SchedulerRepository | None = None,
    ) -> None:
        self.memory = memory
        self.prompts = prompts
        self.llm = llm
        self.settings = settings
        self.runs = runs  # the runs' kept preferences, for when memory cannot be read

    async def inputs(
        self, client_id: int | None
    ) -> tuple[list[tuple[int, str]], tuple[str, str | None] | None, list[str]]:
        """(preference facts, the active prompt when an LLM is configured, warnings)."""
        warnings: list[str] = []
        facts = await self._texts(client_id, warnings)
        return facts or [], await self._prompt(), warnings

    async def _prompt(self) -> tuple[str, str | None] | None:
        """The active schedule_optimizer prompt (content, version) when an LLM is configured."""
        template = await self.prompts.active("schedule_optimizer") if self.llm else None
        return (template.content, template.version) if template else None

    async def read(
        self, client_id: int | None, end_reads: Callable[[], Awaitable[None]]
    ) -> Preferences:
        """The preferences, by the LLM when one is configured (`end_reads` first); with
        memory unavailable, those the newest run that read them kept (else the defaults)."""
        warnings: list[str] = []
        read = await self._texts(client_id, warnings)
        prompt = await self._prompt()
        if read is None:
            stored = await self._stored(client_id, warnings)
            out: tuple[SchedulingPreferences, list[str], str] = (
                (stored, describe(stored), "stored")
                if stored is not None
                else (self._by_rules([]), [], "defaults")
            )
            return Preferences(client_id, [], prompt, out, warnings, False, from_memory=False)
        facts = read
        texts = [t for _, t in facts]
        asked = self._asks(facts, prompt)
        if asked:
            # No connection or row lock may be held while an LLM thinks.
            await end_reads()
        out = await resolve_preferences(
            texts, self.llm, prompt, warnings, self._workdays(), self._hours()
        )
        return Preferences(client_id, facts, prompt, out, warnings, asked)

    async def solved_by_rules(
        self, client_ids: Iterable[int | None]
    ) -> dict[int | None, SchedulingPreferences | None]:
        """Per client, the rules' reading when a solve reads the preferences by them; None
        when it asks the LLM, whose hours placed the blocks and which neither the view nor
        a hand move (holding row locks) asks."""
        prompt = await self._prompt()
        out: dict[int | None, SchedulingPreferences | None] = {}
        for client_id in client_ids:
            facts = await self._texts(client_id, [])
            if facts is None:
                out[client_id] = await self._stored(client_id, []) or self._by_rules([])
            else:
                out[client_id] = None if self._asks(facts, prompt) else self._by_rules(facts)
        return out

    def _by_rules(self, facts: list[tuple[int, str]]) -> SchedulingPreferences:
        return parse_preferences([t for _, t in facts], self._workdays(), self._hours()).prefs

    def _asks(self, facts: list[tuple[int, str]], prompt: tuple[str, str | None] | None) -> bool:
        texts = [t for _, t in facts]
        return self.llm is not None and prompt is not None and bool(texts) and fits_llm(texts)

    def out(self, read: Preferences) -> PreferencesOut:
        """What the response says of the preferences: applied lines and each memory's."""
        _, applied, source = read.out
        # Each memory's lines as read with the others: one a later memory replaced is not applied.
        texts = [t for _, t in read.facts]
        per_text = parse_preferences(texts, self._workdays(), self._hours()).per_text
        sources = [
            PreferenceSource(fact_id=i, text=t, applied=mine, ignored=ignored)
            for (i, t), (mine, ignored) in zip(read.facts, per_text, strict=True)
        ]
        return PreferencesOut(
            applied=applied, llm_used=source == "llm", source=source, memories=sources
        )

    def _workdays(self) -> list[int]:
        """The settings' working days, 0 = Monday: what a remembered day off is taken from."""
        return [d - 1 for d in self.settings.working_days if 1 <= d <= 7]

    def _hours(self) -> tuple[time, time]:
        """The settings' working day: what remembered hours are judged against."""
        return self.settings.workday_start, self.settings.workday_end

    async def _stored(
        self, client_id: int | None, warnings: list[str]
    ) -> SchedulingPreferences | None:
        """The preferences the newest run that read memory was solved with, said so: a
        run of this client's plans, else of the user's own (their preferences hold for
        every client; another client's run would bring that client's along)."""
        if self.runs is None:
            return None
        last = await self.runs.last_read_preferences(client_id)
        whose = ""
        if last is None and client_id is not None:
            last = await self.runs.last_read_preferences(None)
            whose = f" (one of your own plans: no plan of client {client_id} read them yet)"
        if last is None:
            return None
        run_id, when, raw = last
        try:
            prefs = SchedulingPreferences.model_validate(raw)
        except ValidationError:
            return None  # kept by a version that shaped them otherwise: the defaults hold
        warnings.append(
            f"used the preferences read for scheduler run {run_id} on {when:%Y-%m-%d}, "
            f"the newest that could read them{whose}"
        )
        return prefs

    async def _texts(
        self, client_id: int | None, warnings: list[str]
    ) -> list[tuple[int, str]] | None:
        """(fact id, text) of preference and constraint facts, oldest first; None when
        memory cannot be read."""
        texts: list[tuple[datetime, int, str]] = []
        # The user's own preferences and this plan's client's, never another client's.
        scope = client_id or 0
        try:
            for kind in ("preference", "constraint"):
                facts = await self.memory.facts(
                    FactsQuery(fact_type=kind, limit=200, for_client=scope)
                )
                texts.extend((f.valid_from, f.id, f.content) for f in facts)
        except AlmanacError as exc:
            # Preferences refine the defaults; without memory a solve still schedules.
            warnings.append(f"memory unavailable, preferences not read: {exc.message}")
            return None
        return [(i, t) for _, i, t in sorted(texts, key=lambda x: x[0])]
