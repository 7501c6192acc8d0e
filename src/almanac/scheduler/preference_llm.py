"""Scheduling preferences read by the LLM: with one configured, the `schedule_optimizer`
prompt turns all facts into `SchedulingPreferences`; if that fails, the rules' answer
(`preferences.parse_preferences`) is used and a warning says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time

from pydantic import ValidationError

from almanac.errors import AlmanacError
from almanac.llm.base import LLMClient, Message, Prompt
from almanac.scheduler.preferences import (
    SETTINGS_HOURS,
    parse_preferences,
    plural_days,
    rule_tag,
    settle,
)
from almanac.scheduler.schemas import SchedulingPreferences

# A preference goes into the prompt cut to PREFERENCE_CHARS (a fact holds up to 20,000: one
# pasted email); past PREFERENCES_CHARS in all the rules read them instead. Up to 400 facts
# of 20,000 made a prompt of megabytes that no model's context takes (a 400 on every solve)
# and, for a server that takes it, a bill for each. Cutting the list would leave some
# preferences unread while the answer said the LLM read them.
PREFERENCE_CHARS = 1000
PREFERENCES_CHARS = 20_000

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def describe(prefs: SchedulingPreferences) -> list[str]:
    """Human lines for preferences that came from the LLM."""
    return [line for _, line in _tagged(prefs)]


def _tagged(prefs: SchedulingPreferences) -> list[tuple[str, str]]:
    """(tag, line) of each preference, tagged as `settle` names what it withdraws."""
    lines = []
    if prefs.workday_start and prefs.workday_end:
        lines.append(
            ("hours", f"working hours {prefs.workday_start:%H:%M}-{prefs.workday_end:%H:%M}")
        )
    if prefs.working_days is not None:
        names = [_WEEKDAYS[d] for d in sorted(set(prefs.working_days))]
        lines.append(("days", f"working days {', '.join(names) or 'none'}"))
    if prefs.not_before:
        lines.append(("not_before", f"nothing before {prefs.not_before:%H:%M}"))
    if prefs.not_after:
        lines.append(("not_after", f"nothing after {prefs.not_after:%H:%M}"))
    if prefs.daily_max_hours is not None:
        lines.append(("daily_max", f"at most {prefs.daily_max_hours:g} h a day"))
    if prefs.weekly_max_hours is not None:
        lines.append(("weekly_max", f"at most {prefs.weekly_max_hours:g} h a week"))
    if prefs.buffer_minutes is not None:
        lines.append(("buffer", f"{prefs.buffer_minutes} min between blocks"))
    for w in prefs.preferred_windows:
        lines.append(("", f"{w.label} preferred {w.start:%H:%M}-{w.end:%H:%M}"))
    for r in prefs.day_hours:
        on = f"on {plural_days(r.weekdays)}"
        if r.not_before:
            lines.append((rule_tag(r), f"{on} nothing before {r.not_before:%H:%M}"))
        if r.not_after:
            lines.append((rule_tag(r), f"{on} nothing after {r.not_after:%H:%M}"))
    return lines


def preference_listing(texts: Sequence[str]) -> str:
    """The facts as the prompt lists them, each cut to PREFERENCE_CHARS."""
    return "\n".join(
        f"- {t if len(t) <= PREFERENCE_CHARS else t[: PREFERENCE_CHARS - 1] + '…'}" for t in texts
    )


def fits_llm(texts: Sequence[str]) -> bool:
    """Whether the facts, as listed, fit the LLM's prompt."""
    return len(preference_listing(texts)) <= PREFERENCES_CHARS


async def llm_preferences(
    llm: LLMClient, prompt: str, version: str | None, texts: Sequence[str]
) -> SchedulingPreferences:
    """Ask the LLM to structure the preference facts (raises AlmanacError on failure)."""
    listing = preference_listing(texts)
    messages = [
        Message("system", prompt),
        Message("user", f"Preferences and constraints:\n{listing}"),
    ]
    result = await llm.complete_json(
        operation="scheduling",
        prompt=Prompt(messages, "schedule_optimizer", version),
        schema=SchedulingPreferences,
    )
    return result.value


async def resolve_preferences(
    texts: Sequence[str],
    llm: LLMClient | None,
    prompt: tuple[str, str | None] | None,
    warnings: list[str],
    workdays: Sequence[int] = (0, 1, 2, 3, 4),
    hours: tuple[time, time] = SETTINGS_HOURS,
) -> tuple[SchedulingPreferences, list[str], str]:
    """(preferences, applied lines, source) using the LLM when possible, else the rules."""
    parsed = parse_preferences(texts, workdays, hours)
    if not texts:
        return parsed.prefs, [], "defaults"
    if llm is not None and prompt is not None and not fits_llm(texts):
        warnings.append(
            f"{len(texts)} preference memories are more than the LLM is given "
            f"({PREFERENCES_CHARS:,} characters): read by the rules instead, no LLM was used"
        )
    elif llm is not None and prompt is not None:
        try:
            prefs = await llm_preferences(llm, prompt[0], prompt[1], texts)
        except (AlmanacError, ValidationError) as exc:
            # The LLM is an improvement, not a dependency: the rules still give an answer.
            warnings.append(f"LLM could not read the preferences ({exc}); used the rules instead")
        else:
            prefs = prefs.model_copy(deep=True)
            said = _tagged(prefs)
            why = dict(settle(prefs, hours, workdays))  # each line its own reason
            kept = describe(prefs)
            every = "; ".join(dict.fromkeys(why.values()))
            warnings.extend(
                f"preference ignored: {line} is not applied: {why.get(tag, every)}"
                for tag, line in said
                if line not in kept
            )
            return prefs, kept, "llm"
    elif llm is not None:
        warnings.append("no active schedule_optimizer prompt; preferences read by rules")
    for text in parsed.not_understood:
        warnings.append(f"preference not understood by the rules: {text!r}")
    for reason in parsed.ignored:
        warnings.append(f"preference ignored: {reason}")
    return parsed.prefs, parsed.applied, "rules"
