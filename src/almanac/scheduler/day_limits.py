"""The most hours of blocks a day may hold, as the scheduler reads them.

Reflections and sprint reports judge a day against this, so they never call a day
overbooked that the scheduler filled by its own rules: the user's daily maximum (a
remembered preference, else the settings) within that weekday's working hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from almanac.config import SchedulerSettings
from almanac.llm.base import LLMClient
from almanac.memory.port import MemoryPort
from almanac.planner.repository import PromptRepository
from almanac.scheduler import problem as pb
from almanac.scheduler.preference_facts import PreferenceFacts
from almanac.scheduler.repository import SchedulerRepository
from almanac.scheduler.schemas import SchedulingPreferences

LimitKind = Literal["daily max", "working hours", "day off"]


@dataclass(frozen=True)
class DayLimits:
    """A daily maximum (hours, or None) and each working weekday's hours (0 = Monday)."""

    daily_max_hours: float | None
    working_hours: dict[int, float] = field(default_factory=dict)

    @classmethod
    def flat(cls, hours: float) -> DayLimits:
        """Every day limited to `hours` (a daily maximum, every day a working day)."""
        return cls(hours, dict.fromkeys(range(7), 24.0))

    def on(self, day: date) -> tuple[float, LimitKind]:
        """(hours, what sets them) for `day`. A day without working hours holds none (only a
        block forced there by hand can be on it): it was given the daily maximum, so the
        week said 6 h on a Friday the user never works."""
        work = self.working_hours.get(day.weekday())
        if work is None:
            return 0.0, "day off"
        cap = self.daily_max_hours
        if cap is not None and cap <= work:
            return cap, "daily max"
        return work, "working hours"


def above(limit: tuple[float, LimitKind]) -> str:
    """How a day past its limit is said, the same in every answer (the week page too)."""
    if limit[1] == "day off":
        return "on a day off (no working hours)"
    return f"above the {limit[1]} of {limit[0]:g} h"


def day_limits(settings: SchedulerSettings, prefs: SchedulingPreferences) -> DayLimits:
    """The limits a solve with these settings and preferences keeps."""
    rules = pb.limits(settings, prefs, [])
    hours: dict[int, float] = {}
    for w in rules.working_hours:
        span = (w.end.hour * 60 + w.end.minute) - (w.start.hour * 60 + w.start.minute)
        hours[w.weekday] = hours.get(w.weekday, 0.0) + span / 60
    cap = rules.daily_max_minutes
    return DayLimits(None if cap is None else cap / 60, hours)


async def user_day_limits(
    memory: MemoryPort,
    prompts: PromptRepository,
    settings: SchedulerSettings,
    runs: SchedulerRepository,
) -> DayLimits:
    """The user's own limits (no client's): their remembered preferences read by the rules.

    The rules, not an LLM: a report must not wait on one. With memory down, those the
    newest run kept, as a solve would use (else the settings').
    """
    llm: LLMClient | None = None
    read = await PreferenceFacts(memory, prompts, llm, settings, runs).solved_by_rules([None])
    return day_limits(settings, read.get(None) or SchedulingPreferences())
