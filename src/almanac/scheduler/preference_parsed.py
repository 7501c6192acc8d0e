"""What the preference rules understood (`ParsedPreferences`) and the per-day rules they add."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import time

from almanac.scheduler.schemas import DayHoursIn, SchedulingPreferences

_PLURAL = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


@dataclass
class ParsedPreferences:
    """What the rules understood, and a human line per preference applied."""

    prefs: SchedulingPreferences = field(default_factory=SchedulingPreferences)
    applied: list[str] = field(default_factory=list)  # the lines in force, oldest text first
    not_understood: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # understood, refused, and why
    # Per text read, in order: (its lines in force, its lines ignored and why).
    per_text: list[tuple[list[str], list[str]]] = field(default_factory=list)
    _in_force: dict[str, tuple[str, int]] = field(default_factory=dict, repr=False)
    _tagged: list[tuple[str, str, int]] = field(default_factory=list, repr=False)
    _part_days: set[str] = field(default_factory=set, repr=False)  # "Friday afternoons off"

    def apply(self, kind: str | None, line: str, tag: str = "") -> None:
        """`line` from the text read last; a later one of the same `kind` (a daily maximum,
        the earliest hour...) replaces the earlier, which is then no longer listed as applied.
        `tag` (else `kind`) names the line for `withdraw`."""
        i = len(self.per_text) - 1
        if kind is not None:
            if (old := self._in_force.get(kind)) is not None:
                self._drop(*old)
                self.refuse(f"{old[0]} is replaced by the later {line}", old[1])
            self._in_force[kind] = (line, i)
        self.applied.append(line)
        self.per_text[i][0].append(line)
        self._tagged.append((kind or tag, line, i))

    def refuse(self, reason: str, i: int = -1) -> None:
        self.ignored.append(reason)
        self.per_text[i][1].append(reason)

    def withdraw(self, tag: str, why: str) -> None:
        """The lines of `tag` are not in force after all (`settle`), and the response says why."""
        for t, line, i in self._tagged:
            if t == tag and line in self.per_text[i][0]:
                self._drop(line, i)
                self.refuse(f"{line} is not applied: {why}", i)
        self._in_force.pop(tag, None)

    def replaced(self, kind: str, line: str) -> bool:
        """Whether an earlier text's `kind` was in force and is now replaced by `line`, of
        the text read last but of another kind (working hours replace an earliest hour)."""
        old = self._in_force.get(kind)
        if old is None or old[1] >= len(self.per_text) - 1:
            return False
        del self._in_force[kind]
        self._drop(*old)
        self.refuse(f"{old[0]} is replaced by the later {line}", old[1])
        return True

    def supersede(self, side: str, days: Iterable[int] | None, text: str) -> None:
        """Earlier texts' rules for some days on `side` no longer hold on `days` (None: every
        day, which leaves a half day off in force): the text read last says their hours."""
        now = len(self.per_text) - 1
        for rule in list(self.prefs.day_hours):
            tag = rule_tag(rule)
            line, i = self._in_force.get(tag, ("", now))
            if (
                not tag.startswith(side + "@")
                or i >= now
                or (days is None and tag in self._part_days)
            ):
                continue
            gone = set(rule.weekdays) & set(rule.weekdays if days is None else days)
            if not gone:
                continue
            self.prefs.day_hours.remove(rule)
            del self._in_force[tag]
            self._drop(line, i)
            self.refuse(
                f"{line} no longer holds on {plural_days(gone)}: the later {text!r} "
                "says their hours",
                i,
            )
            kept = rule.model_copy(update={"weekdays": sorted(set(rule.weekdays) - gone)})
            if kept.weekdays and rule_tag(kept) not in self._in_force:
                said = line.removeprefix(f"on {plural_days(rule.weekdays)}")
                restated = f"on {plural_days(kept.weekdays)}{said}"
                self.prefs.day_hours.append(kept)
                self._in_force[rule_tag(kept)] = (restated, i)
                self.applied.append(restated)
                self.per_text[i][0].append(restated)
                self._tagged.append((rule_tag(kept), restated, i))

    def _drop(self, line: str, i: int) -> None:
        self.applied.remove(line)
        self.per_text[i][0].remove(line)


def plural_days(days: Iterable[int]) -> str:
    """The days as "Mondays and Fridays", three or more in a row as "Mondays to Thursdays"."""
    runs: list[list[int]] = []
    for d in sorted(set(days)):
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return " and ".join(
        f"{_PLURAL[r[0]]} to {_PLURAL[r[-1]]}"
        if len(r) > 2
        else " and ".join(_PLURAL[d] for d in r)
        for r in runs
    )


def rule_tag(rule: DayHoursIn) -> str:
    """What names a rule for some days (`settle`, `withdraw`): its side and its days."""
    side = "not_before" if rule.not_before else "not_after"
    return f"{side}@{','.join(map(str, sorted(rule.weekdays)))}"


def day_rule(
    out: ParsedPreferences,
    side: str,
    at: time,
    days: Iterable[int],
    line: str,
    *,
    part: bool = False,
) -> None:
    """Nothing before (`side` "not_before") or after `at` on `days`, listed as `line`
    (`part`: a half day off, which a later text's hours for every day leave in force)."""
    before, after = (at, None) if side == "not_before" else (None, at)
    rule = DayHoursIn(weekdays=sorted(set(days)), not_before=before, not_after=after)
    p = out.prefs
    # A later rule for the same days and side replaces the earlier.
    p.day_hours = [r for r in p.day_hours if rule_tag(r) != rule_tag(rule)]
    p.day_hours.append(rule)
    out.apply(rule_tag(rule), line)
    (out._part_days.add if part else out._part_days.discard)(rule_tag(rule))
