"""What a reflection recommends: one line per finding, in the user's words."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from almanac.observer.rows import SprintRow
from almanac.scheduler.day_limits import above


def recommend(
    found: Sequence[dict[str, Any]],
    slipped: Sequence[dict[str, Any]],
    overbooked: Sequence[dict[str, Any]],
    billable: dict[str, Any],
    sprint: SprintRow | None,
) -> list[str]:
    """The drifts, the slipped tasks, the overbooked days and a billable share below target."""
    recommendations = _recommend_drifts(found)
    if slipped:
        recommendations.append(
            f"{len(slipped)} task(s) slipped past their deadline ({_named(slipped)}): re-plan "
            "them or move their deadlines"
        )
    for o in overbooked:
        recommendations.append(
            f"{o['day']} was booked for {o['hours']:g} h, {above((o['max_hours'], o['limit']))}: "
            "move work to a lighter day"
        )
    if billable["below_target"] and sprint is not None:
        recommendations.append(
            f"billable share (billable ÷ worked hours) was {billable['share_pct']:g}%, "
            f"under the {sprint.billable_target_pct:g}% target with "
            f"{sprint.runway_weeks:g} weeks of runway: schedule billable work first"
        )
    return recommendations


def _recommend_drift(d: dict[str, Any]) -> str:
    over = d["mean_variance_pct"] > 0
    if d["kind"] == "workflow":
        what = f"workflow {d['workflow']}"
    elif d.get("in_library", True):
        what = f"step {d['step']} of workflow {d['workflow']}"
    else:
        # Remembered for every client's plans: a plan's own task is not named.
        what = f"a step of workflow {d['workflow']} outside its library"
    text = (
        f"{what} ran {abs(d['mean_variance_pct']):g}% {'over' if over else 'under'} its "
        f"estimate in its last {d['runs']} runs"
    )
    suggested, current = d["suggested_hours"], d.get("estimate_hours")
    if suggested is None or suggested == current:
        return text
    if current is None or (suggested > current) == over:
        return text + f": {'raise' if over else 'lower'} its estimate to {suggested:g} h"
    # The planner's figure rests on every run (and client), these on the last few: never
    # "raise" to less.
    return text + f"; from all its runs the planner plans it at {suggested:g} h"


def _recommend_drifts(found: Sequence[dict[str, Any]]) -> list[str]:
    """One line per drift, except a workflow's steps outside its library running the same
    way: unnamed, each read as the same line, so one line counts them."""
    lines: list[str] = []
    outside: dict[tuple[int, bool], list[dict[str, Any]]] = defaultdict(list)
    for d in found:
        if d["kind"] == "step" and not d.get("in_library", True):
            outside[(d["workflow_id"], d["mean_variance_pct"] > 0)].append(d)
        else:
            lines.append(_recommend_drift(d))
    for (_, over), alike in outside.items():
        if len(alike) == 1:
            lines.append(_recommend_drift(alike[0]))
            continue
        pct = _span([abs(d["mean_variance_pct"]) for d in alike], "%")
        runs = _span([d["runs"] for d in alike], "")
        lines.append(
            f"{len(alike)} steps of workflow {alike[0]['workflow']} outside its library ran "
            f"{pct} {'over' if over else 'under'} their estimates in their last {runs} runs: "
            f"{'raise' if over else 'lower'} their estimates"
        )
    return list(dict.fromkeys(lines))  # two workflows of one name read alike too


def _span(values: Sequence[float], unit: str) -> str:
    low, high = min(values), max(values)
    return f"{low:g}{unit}" if low == high else f"{low:g}{unit} to {high:g}{unit}"


def _named(slipped: Sequence[dict[str, Any]]) -> str:
    """Slipped tasks by title, a client's only counted (remembered for every client)."""
    own = [s["title"] for s in slipped if s.get("client_id") is None]
    theirs = len(slipped) - len(own)
    parts = own[:3] + ([f"{theirs} of clients' work"] if theirs else [])
    return ", ".join(parts)
