"""Simulated consultancies for bench/learning_loop.py: who works on what, how long it takes.

Pure and seeded. A world says which library workflows are in use, for which clients, and
how the truth departs from the library: a per-workflow bias, per-client paces, per-task
deviations, engagements that run hard or easy as a whole, drift (steps and ramps, faster
and slower), log-normal noise (or normal in hours: `shape`) with occasional outliers, and
tasks whose work is never logged. Intents can be phrased the way a person would, not as
workflow names. `today` is the benchmark's original scenario, kept as it was.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

# The original scenario: workflow -> how much longer (or shorter) the work truly takes.
TODAY_BIAS = {
    "Business diagnostic": 1.5,
    "Marketing ops sprint": 1.35,
    "Client onboarding": 0.7,
    "Monthly client reporting": 1.25,
    "Content calendar": 0.8,
    "Proposal writing": 1.0,
}

PHRASES = {
    "Business diagnostic": [
        "Take a hard look at how {c} does marketing and tell them what to fix first",
        "Assessment of {c}'s marketing, with a roadmap",
        "health check of the marketing at {c}",
    ],
    "Marketing ops sprint": [
        "Clean up {c}'s CRM and get their email automation working",
        "two weeks fixing tracking and hubspot for {c}",
        "martech cleanup sprint at {c}",
    ],
    "Client onboarding": [
        "{c} just signed: get them set up and do the kickoff",
        "welcome {c} as a new client",
        "set up the engagement with {c} after the contract",
    ],
    "Monthly client reporting": [
        "month end numbers and KPI report for {c}",
        "put together {c}'s performance report for this month",
        "monthly results dashboard and review with {c}",
    ],
    "Content calendar": [
        "plan next quarter's blog and linkedin posts for {c}",
        "editorial plan for {c}'s social media",
        "content strategy and calendar for {c}",
    ],
    "Proposal writing": [
        "write a quote and statement of work for {c}",
        "pitch {c} with a priced proposal",
        "answer {c}'s RFP with a bid",
    ],
    "Client offboarding": [
        "wrap up the engagement with {c} and hand over",
        "close the project with {c}, ask for a testimonial",
    ],
    "Newsletter launch": [
        "start an email newsletter for {c} on beehiiv",
        "grow {c}'s subscribers with a launched newsletter",
    ],
}
CLIENT_NAMES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli"]


@dataclass(frozen=True, slots=True)
class Drift:
    """From `week` on, `workflow` (for `client`, or everyone) takes `factor` times as long;
    a ramp reaches the factor linearly over `ramp` weeks."""

    workflow: str
    client: int | None
    week: int
    factor: float
    ramp: int = 0

    def at(self, week: float) -> float:
        if week < self.week:
            return 1.0
        if self.ramp <= 0 or week >= self.week + self.ramp:
            return self.factor
        share = (week - self.week + 1) / (self.ramp + 1)
        return math.exp(share * math.log(self.factor))


@dataclass(frozen=True, slots=True)
class Spec:
    """A kind of world; `build` draws one from a seed."""

    name: str
    workflows: int = 6
    clients: int = 3
    client_sd: float = 0.3  # client pace, log sd
    client_workflow_sd: float = 0.1  # a client's pace on one workflow
    bias_sd: float = 0.35  # the library's error per workflow
    task_sd: float = 0.15
    instance_sd: float = 0.1  # an engagement that runs hard or easy as a whole
    noise: float = 0.2
    outliers: float = 0.0  # share of task runs 2.5-4x off, either way
    unlogged: float = 0.0  # share of tasks done but never logged
    engage: float = 0.6  # chance a client needs a workflow in a given week
    phrased: bool = True
    # Noise around the pace: "log" (log-normal, the median is the pace) or "linear"
    # (normal in hours, mean = median = the pace): the pace is what the oracle knows.
    shape: str = "log"
    drifts: tuple[
        str, ...
    ] = ()  # "faster" (0.8x, all clients), "slower" (1.6x, one client), "ramp"


SPECS = {
    "today": Spec(
        "today", clients=0, bias_sd=0, task_sd=0, instance_sd=0, noise=0.15, engage=1, phrased=False
    ),
    "clients": Spec("clients"),
    "drift": Spec("drift", drifts=("faster", "slower")),
    "noisy": Spec("noisy", noise=0.35, outliers=0.08, unlogged=0.3, instance_sd=0.15),
    "everything": Spec(
        "everything",
        clients=4,
        noise=0.3,
        outliers=0.05,
        unlogged=0.2,
        drifts=("faster", "slower", "ramp"),
    ),
}


@dataclass
class World:
    spec: Spec
    seed: int
    workflows: list[str]
    bias: dict[str, float]
    client_pace: dict[tuple[int | None, str], float]
    task_bias: dict[tuple[str, str], float] = field(default_factory=dict)
    drifts: list[Drift] = field(default_factory=list)

    def pace(self, workflow: str, task: str, client: int | None, week: float) -> float:
        """True duration / library estimate, before noise (what an oracle knows)."""
        p = self.bias[workflow] * self.client_pace.get((client, workflow), 1.0)
        p *= self.task_bias.get((workflow, task), 1.0)
        for d in self.drifts:
            if d.workflow == workflow and d.client in (None, client):
                p *= d.at(week)
        return p

    def clients(self) -> list[int | None]:
        return list(range(1, self.spec.clients + 1)) or [None]


def build(spec: Spec, seed: int, weeks: int) -> World:
    rng = random.Random(f"{spec.name}:{seed}")
    if spec.name == "today":
        names = list(TODAY_BIAS)
        return World(spec, seed, names, dict(TODAY_BIAS), {})
    names = rng.sample(sorted(PHRASES), spec.workflows)
    bias = {w: math.exp(rng.gauss(0, spec.bias_sd)) for w in names}
    clients = list(range(1, spec.clients + 1))
    general = {c: math.exp(rng.gauss(0, spec.client_sd)) for c in clients}
    pace = {
        (c, w): general[c] * math.exp(rng.gauss(0, spec.client_workflow_sd))
        for c in clients
        for w in names
    }
    world = World(spec, seed, names, bias, pace)
    movers = rng.sample(names, 3)
    for kind, workflow in zip(spec.drifts, movers, strict=False):
        if kind == "faster":
            world.drifts.append(Drift(workflow, None, rng.randint(4, weeks // 2), 0.8))
        elif kind == "slower":
            who = rng.choice(clients) if clients else None
            world.drifts.append(Drift(workflow, who, rng.randint(4, weeks // 2 + 1), 1.6))
        elif kind == "ramp":
            world.drifts.append(Drift(workflow, None, 3, 0.75, ramp=5))
    return world


def add_task_bias(world: World, tasks: dict[str, list[str]]) -> None:
    """Per-task deviations, once the library's task keys are known."""
    rng = random.Random(f"tasks:{world.spec.name}:{world.seed}")
    for w in world.workflows:
        for key in tasks.get(w, []):
            world.task_bias[(w, key)] = math.exp(rng.gauss(0, world.spec.task_sd))


@dataclass(frozen=True, slots=True)
class Engagement:
    week: int
    day: int
    workflow: str
    client: int | None
    intent: str
    instance_factor: float


def engagements(world: World, week: int, rng: random.Random) -> list[Engagement]:
    """This week's work, in a random order."""
    out = []
    for w in world.workflows:
        for c in world.clients():
            if rng.random() >= world.spec.engage:
                continue
            name = CLIENT_NAMES[(c or 1) - 1]
            if world.spec.phrased:
                intent = rng.choice(PHRASES[w]).format(c=name)
            else:
                intent = f"{w} for client {week}-{world.workflows.index(w)}"
            out.append(
                Engagement(
                    week,
                    rng.randint(0, 4),
                    w,
                    c,
                    intent,
                    math.exp(rng.gauss(0, world.spec.instance_sd)),
                )
            )
    rng.shuffle(out)
    return out


def true_hours(
    world: World, e: Engagement, task: str, library: float, rng: random.Random
) -> tuple[float, bool]:
    """(true hours, logged?) of one task of an engagement."""
    hours = library * world.pace(e.workflow, task, e.client, e.week) * e.instance_factor
    if world.spec.shape == "linear":
        # Symmetric in hours (mean = median = the pace): log residuals lean left.
        hours *= max(0.1, rng.gauss(1, world.spec.noise))
    else:
        hours *= math.exp(rng.gauss(0, world.spec.noise))
    if rng.random() < world.spec.outliers:
        hours *= math.exp(rng.choice((-1, 1)) * rng.uniform(math.log(2.5), math.log(4)))
    return hours, rng.random() >= world.spec.unlogged
