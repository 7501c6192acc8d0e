"""A starting placement that reaches both floors when no baseline does (see `floors`).

The greedy sets the work floor and EDF the deadline floor. When neither, nor any mix of the
two (`baselines.candidates`), reaches both, this builds one that does where it can: from every
baseline placement at once, local moves that each bring the placement nearer to both floors
(the sum of its shortfalls, each relative to its floor):

- *fill*: tasks left out (their dependencies placed) go into the first free time that fits,
  the most valuable first;
- *make room*: a target (below the work floor, a task left out; below the deadline floor,
  also a task placed late) takes the place of placed work in its way before its deadline
  (a task with the work that depends on it, the least valuable first), the target first;
  then fill, the work taken out included (it may fit elsewhere).

When these stall, the same moves from the deadlines' side (`hold_deadlines`): from the
placement meeting the deadline floor with the most work (EDF's at least), each move must keep
that floor and add work.

A placement reaching both is CP-SAT's hint: both floors hold from its first solution and the
search only improves on it. Otherwise the nearest placement found is the start of the
solver's search for a schedule reaching both. Pure; the moves are bounded by shares of the
time limit (milliseconds on several plans, up to a third of the limit on one crowded plan),
read on a clock the caller passes: no first-fit try starts after the deadline, and a move
it cuts is undone unless it already brought the placement nearer (either way a valid one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from . import floors as fl
from .explain import Placement
from .floors import Floors, Measure, floors_of, measure
from .greedy_state import State, ancestors
from .grid import Grid
from .model import UnplacedCause

# First-fit tries in all (each about a tenth of a millisecond on two weeks of 50 tasks): a
# backstop, time (`SHARE`) bounds the moves. One over-demanded plan may need thousands (100
# tasks at 1.5x capacity: ~5,000) where several plans need hundreds. The first round's per
# start placement; each round after has four times more.
_TRIES = 100_000
_FIRST_ROUND = 50
# Share of the solve's time limit the moves may use; they run only when no baseline or mix
# reaches both floors.
SHARE = 0.1
# Share of the time limit for the moves from the deadlines' side (`hold_deadlines`), when the
# moves above do not reach both; taken from the solver's own search for both, which on one
# over-demanded plan rarely finds one in the time (100 tasks at 1.5x: ~0.3 s of moves do).
HOLD_SHARE = 0.25


NAME = "both-floors"
# When the moves do not reach both: the placement they found nearest to both floors. It is
# nearer than any baseline, so the solver's search for a schedule reaching both starts there.
NEAR = "near-floors"


def add_hint(
    grid: Grid,
    hints: dict[str, tuple[Placement, dict[str, tuple[UnplacedCause, str]]]],
    time_limit: float,
    clock: Callable[[], float],
) -> None:
    """When no hint reaches both floors (see `floors.floors_of`), add one that does as `NAME`
    if the moves find one (within `SHARE`, then `HOLD_SHARE`, of `time_limit` seconds read on
    `clock`), else the nearest they found as `NEAR`."""
    measures = {n: measure(grid, p) for n, (p, _) in hints.items()}
    floors = floors_of(measures, valued=grid.problem.weights.missed_deadline > 0)
    if floors.met == 0 or any(floors.reached_by(m) for m in measures.values()):
        return
    placements = {n: p for n, (p, _) in hints.items()}
    found, reached = reach_both(
        grid, placements, floors, deadline=clock() + time_limit * SHARE, clock=clock
    )
    if not reached:
        held, reached = hold_deadlines(
            grid,
            {**placements, NEAR: found},
            floors,
            deadline=clock() + time_limit * HOLD_SHARE,
            idle=grid.problem.idle_seconds,
            clock=clock,
        )
        near = {NEAR: measure(grid, found), "held": measure(grid, held)}
        if reached or fl.nearest(floors, near) == "held":
            found = held
    # The causes of what it leaves out are derived (`explain`).
    hints[NAME if reached else NEAR] = (found, {})


def reach_both(
    grid: Grid,
    placements: Mapping[str, Placement],
    floors: Floors,
    tries: int = _TRIES,
    deadline: float | None = None,
    clock: Callable[[], float] | None = None,
) -> tuple[Placement, bool]:
    """A placement reaching both `floors` and True, or the nearest the moves found and False.

    Climbs from every placement at once, in rounds of growing budgets (a start near both
    floors by one measure may be stuck where another is a few moves away); at most `tries`
    first-fit tries in all, and none started at or after `deadline` (read on `clock`).
    """
    climbs = [_Climb(grid, placements[n], floors, clock, deadline) for n in sorted(placements)]
    climbs.sort(key=lambda c: c.near())
    active, budget = list(climbs), _FIRST_ROUND
    while active:
        for climb in active:
            if climb.run(budget) is not None:
                return climb.placement(), True
        spent = sum(c.tries for c in climbs)
        if spent >= tries or climbs[0].out_of_time():
            break
        active = [c for c in active if not c.stuck]
        budget = min(budget * 4, tries)
    return min(climbs, key=lambda c: c.near()).placement(), False


def hold_deadlines(
    grid: Grid,
    placements: Mapping[str, Placement],
    floors: Floors,
    tries: int = _TRIES,
    deadline: float | None = None,
    idle: float | None = None,
    clock: Callable[[], float] | None = None,
) -> tuple[Placement, bool]:
    """The search from the deadlines' side: from the placement meeting the deadline floor with
    the most work (EDF's, or one with more), moves that keep that floor and add work. The
    placement they end on, and whether it reaches both floors (at most `tries` first-fit
    tries, none started after `deadline` nor `idle` seconds after the last move that helped,
    read on `clock`: like the solver, it stops when it stops improving).

    `reach_both` spreads its tries over every start and weighs both shortfalls at once; on one
    over-demanded plan one climb from the start that already holds the deadlines (the hard
    part to win back), filling in work, reaches both in a fraction of the tries."""
    held = {n: p for n, p in placements.items() if measure(grid, p).met >= floors.met}
    if not held:
        return {}, False
    start = max(sorted(held), key=lambda n: measure(grid, held[n]).work)
    climb = _Climb(grid, held[start], floors, clock, deadline, idle, hold=True)
    budget = _FIRST_ROUND
    while climb.run(budget) is None and not climb.stuck:
        if climb.tries >= tries or climb.out_of_time():
            break
        budget = min(budget * 4, tries)
    return climb.placement(), climb.reached()


class _Climb:
    """Local moves on one placement, each bringing it nearer to both floors (`score`)."""

    def __init__(
        self,
        grid: Grid,
        placement: Placement,
        floors: Floors,
        clock: Callable[[], float] | None = None,
        deadline: float | None = None,
        idle: float | None = None,
        hold: bool = False,
    ) -> None:
        """`hold`: moves must keep the deadline floor once reached (see `score`). No move
        starts after `deadline`, nor `idle` after the last that helped (read on `clock`)."""
        if clock is None and (deadline is not None or idle is not None):
            raise ValueError("a deadline needs a clock to be read on")
        self.grid, self.floors, self.hold = grid, floors, hold
        self.clock, self.deadline, self.idle = clock, deadline, idle
        self.state = State(grid)
        for tid in grid.topo:
            if tid in placement and tid in grid.plans:
                self.state.commit(grid.plans[tid], list(placement[tid]))
        m = measure(grid, self.state.placed)
        self.work, self.met = m.work, m.met
        self.tries = 0
        self.stuck = False
        self.last = clock() if clock is not None else 0.0  # when a move last helped
        self.order = {t: k for k, t in enumerate(grid.topo)}

    def value(self, tid: str) -> int:
        return fl.value(self.grid.plans[tid])

    def on_time(self, tid: str, chunks: list[tuple[int, int]]) -> bool:
        return fl.on_time(self.grid, self.grid.plans[tid], chunks)

    def near(self) -> tuple[float, int, int]:
        """How far from both floors (each shortfall relative to its floor), lower is better;
        then more work, then more deadlines met."""
        return self.floors.shortfall(Measure(self.work, self.met)), -self.work, -self.met

    def score(self) -> tuple[float, int, int]:
        """What each move must lower: `near`; with `hold`, the deadlines short of their
        floor first, then the work short of its floor (no trading one for the other)."""
        if self.hold:
            return max(0, self.floors.met - self.met), -self.work, -self.met
        return self.near()

    def out_of_time(self) -> bool:
        """Whether the deadline, or `idle` after the last move that helped, has passed."""
        if self.clock is None:
            return False
        now = self.clock()
        if self.deadline is not None and now >= self.deadline:
            return True
        return self.idle is not None and now >= self.last + self.idle

    def run(self, tries: int) -> Placement | None:
        """Move until both floors are reached (the placement), no move helps (`stuck`),
        `tries` first-fit tries in all or the time is out (None: `run` may go on with a
        larger budget)."""
        while not self.reached() and not self.stuck and self.tries < tries:
            if self.out_of_time():
                break
            moved = self.move(tries)
            self.stuck = moved is False
            if moved and self.clock is not None:
                self.last = self.clock()
        return self.placement() if self.reached() else None

    def placement(self) -> Placement:
        return {t: list(c) for t, c in self.state.placed.items()}

    def reached(self) -> bool:
        return self.floors.reached_by(Measure(self.work, self.met))

    def ready(self) -> list[str]:
        """Tasks left out that could be placed now (their dependencies are), most valuable
        first."""
        placed, plans = self.state.placed, self.grid.plans
        out = [
            t
            for t in self.grid.topo
            if t in plans
            and t not in placed
            and plans[t].cause is None
            and all(d in placed or d not in plans for d in plans[t].task.depends_on)
        ]
        return sorted(out, key=lambda t: (-self.value(t), self.order[t]))

    def late(self) -> list[str]:
        """Placed tasks that miss a deadline inside the horizon, the most valuable first."""
        plans, size = self.grid.plans, self.grid.size
        out = [
            t
            for t, chunks in self.state.placed.items()
            if plans[t].deadline_in(size) and not self.on_time(t, chunks)
        ]
        return sorted(out, key=lambda t: (-plans[t].task.priority, self.order[t]))

    def fit(self, tid: str) -> list[tuple[int, int]] | None:
        """`tid`'s first free time that fits; None also once the time is out (each caller
        then undoes its move), so no try starts after the deadline."""
        if self.out_of_time():
            return None
        self.tries += 1
        plan, state = self.grid.plans[tid], self.state
        return state.first_fit(plan, state.lo(plan), state.free_runs(plan))

    def add(self, tid: str, chunks: list[tuple[int, int]]) -> None:
        self.state.commit(self.grid.plans[tid], chunks)
        self.work += self.value(tid)
        self.met += self.on_time(tid, chunks)

    def remove(self, tids: Iterable[str]) -> Placement:
        out = {}
        for tid in tids:
            chunks = self.state.placed[tid]
            out[tid] = chunks
            self.state.uncommit(tid)
            self.work -= self.value(tid)
            self.met -= self.on_time(tid, chunks)
        return out

    def fill(self, near: tuple[int, int] | None = None, after: str = "") -> list[str]:
        """Insert every task left out that fits, most valuable first; the tasks placed.

        `near` (slots [lo, hi)): only tasks whose window meets it, and those `after` or the
        fill made ready; after a removal what did not fit before mostly fits only there (and a
        full fill starts every move)."""
        added: list[str] = []
        again = True
        while again:
            again = False
            for tid in self.ready():
                if near and tid not in self.fresh([after, *added]) and not self.meets(tid, near):
                    continue
                chunks = self.fit(tid)
                if chunks is not None:
                    self.add(tid, chunks)
                    added.append(tid)
                    again = True
        return added

    def move(self, tries: int) -> bool | None:
        """The first move that brings the placement nearer both floors; whether one did
        (None: the tries or the time ran out first).

        Below the work floor the targets are the tasks left out, the most valuable first;
        below the deadline floor, also the tasks placed late. A target takes the place of
        placed work in its way (with what depends on that work), the target first; the free
        time left is then filled, the work taken out included (it may fit elsewhere)."""
        before = self.score()
        if self.fill() and self.score() < before:
            return True
        targets = self.ready() if self.work < self.floors.work else []
        if self.met < self.floors.met:
            targets = [*self.late(), *self.ready()]
        for target in targets:
            for group in self.in_way(target):
                if self.tries >= tries or self.out_of_time():
                    return None
                saved = self.remove(group)
                chunks = self.fit(target)
                if chunks is not None:
                    self.add(target, chunks)
                    added = self.fill(self.days_of(saved), target)
                    if self.score() < before:
                        return True
                    self.remove([target, *added][::-1])
                for tid in self.grid.topo:
                    if tid in saved:
                        self.add(tid, saved[tid])
        return False

    def days_of(self, placement: Placement) -> tuple[int, int]:
        """The slots of the days `placement` uses, from the first day's start to the last's end."""
        days = [self.grid.days[self.grid.day_of[s]] for cs in placement.values() for s, _ in cs]
        return min(d.lo for d in days), max(d.hi for d in days)

    def meets(self, tid: str, near: tuple[int, int]) -> bool:
        plan = self.grid.plans[tid]
        return self.state.lo(plan) < near[1] and near[0] < plan.hi

    def fresh(self, added: list[str]) -> set[str]:
        """Tasks that depend on one of `added` (made ready by it)."""
        return {u for a in added if a for u in self.state.users[a]}

    def in_way(self, target: str) -> list[list[str]]:
        """Groups of placed work whose removal may make room for `target` (before its
        deadline when it has one): a task with its placed dependants, the target itself
        first when it is placed late, the least valuable group first."""
        plan, placed = self.grid.plans[target], self.state.placed
        lo = self.state.lo(plan)
        hi = plan.soft_deadline if plan.soft_deadline is not None else plan.hi
        needs = ancestors(self.grid, target)
        # A task placed late moves with the work after it (which then follows it again).
        own = self.dependants(target) if target in placed else []
        groups = []
        for v in placed:
            if v in needs or v == target:
                continue
            if not any(s < hi and lo < s + n for s, n in placed[v]):
                continue
            group = [*own, *(t for t in self.dependants(v) if t not in own)]
            groups.append((sum(self.value(t) for t in group), self.order[v], group))
        return [g for *_, g in sorted(groups)]

    def dependants(self, tid: str) -> list[str]:
        """`tid` and the placed work that depends on it, dependencies first."""
        seen, stack = {tid}, [tid]
        while stack:
            for user in self.state.users[stack.pop()]:
                if user in self.state.placed and user not in seen:
                    seen.add(user)
                    stack.append(user)
        return [t for t in self.grid.topo if t in seen]
