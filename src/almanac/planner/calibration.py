"""Estimates that learn from history: past runs in, a calibrated ratio per task out (pure).

Everything happens in log-ratio space, y = log(actual / library estimate): durations err
multiplicatively, and over- and under-runs then weigh alike. Per workflow, y is modelled as

    y = a (the workflow) + b[client] + d[task] + noise

each effect shrunk towards 0 — the library — by a ridge penalty σ²/τ² (a normal prior with
spread τ: a hierarchical estimate). A client with one engagement borrows from the
workflow's other clients and from the library; a client with many runs gets its own pace.
Runs without a client count for the workflow but carry no client effect; no client (or a
new one) is planned at the typical client's pace, the known clients' current levels
weighted by their support (`WorkflowFit.typical`).

Change is followed in three ways: runs lose half their weight every `half_life_days`
(relative to the workflow's newest run, so a quiet month does not erase what is known); a
change-point detector (planner/change.py) on clipped instance means, workflow-wide and per
client, with thresholds in units of their own observed spread, turns a real shift into a
step effect: the runs since it carry the new pace's offset from the old, shrunk towards
none by their own weight, while the older runs keep telling clients and tasks apart; what
a client's newest engagements still say after that fit is read by a run-length posterior
over engagements (planner/runlength.py: one engagement whose tasks all moved is strong
evidence, one odd task is not), and the client's level moves as far as a change is
believed; outliers are damped by Huber weights (iteratively reweighted), never dropped.
Nothing is discarded silently: every run keeps a weight, and the estimate says how many
runs it rests on and whether a change or the (wide) cap applied.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Literal

from almanac.planner import intervals, runlength
from almanac.planner.backfit import backfit, client_effect
from almanac.planner.change import MAD_TO_SIGMA
from almanac.planner.change import shifts as find_shifts
from almanac.planner.params import DEFAULT, Params

Basis = Literal["library", "workflow", "client"]
Z80 = 1.2816  # the normal quantile of an 80% central interval
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Run:
    """One completed task of a past plan, against the library's estimate for it."""

    workflow_id: int
    task: str  # the workflow's task key
    client_id: int | None
    library_hours: float
    actual_hours: float
    at: datetime
    instance: int  # the process template (engagement) it belonged to
    planned_hours: float | None = None  # what its plan said (the estimate then)


@dataclass(frozen=True, slots=True)
class Support:
    """What one level of the estimate rests on."""

    runs: int = 0
    weight: float = 0.0  # effective runs after decay, change and outlier weights
    last: datetime | None = None


@dataclass(slots=True)
class WorkflowFit:
    """The fitted effects of one workflow, with what each rests on."""

    workflow_id: int
    a: float
    sigma: float
    clients: dict[int, float] = field(default_factory=dict)
    tasks: dict[str, float] = field(default_factory=dict)
    support: Support = Support()
    client_support: dict[int, Support] = field(default_factory=dict)
    task_support: dict[str, Support] = field(default_factory=dict)
    # A detected shift: workflow-wide (key None) or for one client; the first run after.
    changes: dict[int | None, datetime] = field(default_factory=dict)
    # The new pace's offset after those changes (log ratio), when modelled as steps.
    steps: dict[int | None, float] = field(default_factory=dict)
    # The typical client's offset from `a`: the known clients' current levels, weighted by
    # their current support (runs without a client at `a`). For no client or a new one.
    typical: float = 0.0
    damped: int = 0  # runs whose weight the outlier damping cut below one half
    # How far one run falls below and above its estimate, central 80% (log ratio).
    half_widths: tuple[float, float] = (Z80 * 0.3, Z80 * 0.3)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A task's calibrated ratio to the library estimate, its 80% interval and its basis."""

    ratio: float
    low: float
    high: float
    basis: Basis
    runs: int = 0  # this workflow's task runs
    client_runs: int = 0  # of them, this client's
    task_runs: int = 0  # of them, this task's
    effective_runs: float = 0.0
    last_run: datetime | None = None
    change_at: datetime | None = None
    capped: bool = False


def _log_ratio(run: Run) -> float:
    return max(-3.0, min(3.0, math.log(max(run.actual_hours, 1e-3) / run.library_hours)))


def _sigma(residuals: Sequence[float], p: Params) -> float:
    """Robust noise per run (MAD), pulled towards the prior when there are few runs."""
    if not residuals:
        return p.sigma_prior
    centre = median(residuals)
    s = MAD_TO_SIGMA * median(abs(r - centre) for r in residuals)
    n = len(residuals)
    var = (n * s * s + p.sigma_prior_runs * p.sigma_prior**2) / (n + p.sigma_prior_runs)
    return max(p.sigma_floor, math.sqrt(var))


def fit_workflow(workflow_id: int, runs: Sequence[Run], p: Params = DEFAULT) -> WorkflowFit:
    """Fit one workflow's effects from its runs (any order; runs with no estimate skipped)."""
    runs = [r for r in runs if r.library_hours > 0 and r.actual_hours >= 0]
    if not runs:
        return WorkflowFit(workflow_id, 0.0, p.sigma_prior)
    y = [_log_ratio(r) for r in runs]
    newest = max(r.at for r in runs)
    days = [(r.at - newest).total_seconds() / DAY for r in runs]  # <= 0
    base = [0.5 ** (-t / p.half_life_days) for t in days]
    client_h = min(p.client_half_life_days, p.half_life_days)
    # The client's shorter memory on top of the workflow's, as one power: the quotient of
    # the two decays is 0/0 for a run centuries older than the newest (both underflow).
    client_rate = 1 / client_h - 1 / p.half_life_days
    client_extra = [0.5 ** (-t * client_rate) for t in days]
    clients = [r.client_id for r in runs]
    tasks = [r.task for r in runs]

    # Detected changes as steps: the indices of the runs since each, and whose it is.
    steps: list[list[int]] = []
    step_keys: list[int | None] = []
    shifts: list[float] = []
    off = [0.0] * len(runs)  # each run's sum of the steps it is in

    def fit(
        w: Sequence[float], sigma: float, client_memory: bool = True
    ) -> tuple[float, dict[int, float], dict[str, float]]:
        k = (
            (sigma / p.tau_workflow) ** 2,
            (sigma / p.tau_client) ** 2,
            (sigma / p.tau_task) ** 2,
            (sigma / p.tau_change) ** 2,
        )
        client_w = [wi * e for wi, e in zip(w, client_extra, strict=True)] if client_memory else w
        a, b, d, found = backfit(y, w, clients, tasks, k, p.rounds, client_w, steps)
        shifts[:] = found
        off[:] = [0.0] * len(runs)
        for idx, size in zip(steps, found, strict=True):
            for i in idx:
                off[i] += size
        return a, b, d

    def residuals(a: float, b: dict[int, float], d: dict[str, float]) -> list[float]:
        return [
            yi - a - client_effect(b, c) - d.get(t, 0.0) - o
            for yi, c, t, o in zip(y, clients, tasks, off, strict=True)
        ]

    sigma = p.sigma_prior
    # For finding changes, clients keep the workflow's memory: with their shorter one, a
    # change every client shares would hide in the client effects.
    a, b, d = fit(base, sigma, client_memory=False)
    sigma = _sigma(residuals(a, b, d), p)
    # Change points: workflow-wide on what the client and task effects leave, then per client.
    changes: dict[int | None, datetime] = {}
    change_w = [1.0] * len(runs)
    v_all = [
        yi - client_effect(b, c) - d.get(t, 0.0) for yi, c, t in zip(y, clients, tasks, strict=True)
    ]
    groups: list[tuple[int | None, list[int]]] = [(None, list(range(len(runs))))]
    named = sorted({c for c in clients if c is not None})
    per_client = len(named) > 1 or None in clients  # else the workflow's are the client's
    if per_client:
        for c in named:
            groups.append((c, [i for i, ci in enumerate(clients) if ci == c]))
    for key, idx in groups:
        v = [v_all[i] if key is None else v_all[i] + b.get(key, 0.0) for i in idx]
        instances = [runs[i].instance for i in idx]
        at = [days[i] for i in idx]
        for start in find_shifts(instances, v, at, sigma, p.change_z, p.change_min_shift):
            after = [i for i in idx if days[i] >= start]
            changes[key] = min(runs[i].at for i in after)
            steps.append(after)
            step_keys.append(key)
            for i in idx:
                if days[i] < start:
                    change_w[i] = p.change_weight
    # The runs before a change keep their weight: they still tell clients and tasks apart
    # (a client with no run since a workflow-wide change keeps its own pace); the steps
    # carry the new pace.
    weights = list(base)
    a, b, d = fit(weights, sigma)
    huber = [1.0] * len(runs)
    for _ in range(2):  # iteratively reweighted: outliers damped, not averaged in
        res = residuals(a, b, d)
        sigma = _sigma([r for r, w in zip(res, weights, strict=True) if w >= 0.25], p)
        limit = p.huber_k * sigma
        huber = [1.0 if abs(r) <= limit else limit / abs(r) for r in res]
        a, b, d = fit([w * h for w, h in zip(weights, huber, strict=True)], sigma)
    final = [w * h for w, h in zip(weights, huber, strict=True)]
    res = residuals(a, b, d)
    out = WorkflowFit(workflow_id, a, sigma, b, d, changes=changes)
    for key, size in zip(step_keys, shifts, strict=True):
        out.steps[key] = out.steps.get(key, 0.0) + size
    # A change is reported where the fit kept it: one client's shift also moves the
    # workflow's mean, but the other clients' runs since then hold the workflow step near 0.
    out.changes = {
        k: at for k, at in changes.items() if abs(out.steps.get(k, 0.0)) >= p.change_min_shift / 2
    }
    if per_client:  # one client's newest engagements, read for a change the steps missed
        own = [client_effect(b, c) for c in clients]  # with the client's own steps, below
        for key, idx, size in zip(step_keys, steps, shifts, strict=True):
            for i in idx if key is not None else ():
                own[i] += size
        moved = runlength.client_moves(
            clients,
            [r.instance for r in runs],
            [x + o for x, o in zip(res, own, strict=True)],
            days,
            {c: b.get(c, 0.0) + out.steps.get(c, 0.0) for c in named},
            sigma,
            runlength.Prior(p.change_hazard, p.change_prior, p.change_min_probability),
            p.change_min_shift,
        )
        for c, (delta, since) in moved.items():
            out.steps[c] = out.steps.get(c, 0.0) + delta
            if since is not None:
                out.changes[c] = min(
                    r.at for r, t in zip(runs, days, strict=True) if r.client_id == c and t >= since
                )
    # The interval: held-out residuals' own central 80% (planner/intervals.py).
    current = [i for i, w in enumerate(weights) if w >= 0.25]
    no_client = object()
    loo = intervals.held_out(
        [res[i] for i in current],
        [final[i] for i in current],
        [final[i] * client_extra[i] for i in current],
        [runs[i].instance for i in current],
        [no_client if clients[i] is None else clients[i] for i in current],
        [tasks[i] for i in current],
        (sigma / p.tau_client) ** 2,
        (sigma / p.tau_task) ** 2,
    )
    # The errors recent plans really made (none from before a change, none from plans at
    # the library's figure, which knew nothing yet; a four-week half-life). Held-out
    # residuals miss that the future is not the past, those errors still carry what the
    # estimator had not learnt yet: the interval takes the middle of the two.
    ahead = [
        (
            math.log(max(r.actual_hours, 1e-3) / r.planned_hours),
            change_w[i] * 0.5 ** (-days[i] / p.client_half_life_days),
        )
        for i, r in enumerate(runs)
        # Plans that used history: a plan at the library's figure knew nothing yet.
        if r.planned_hours
        and r.planned_hours > 0
        and abs(r.planned_hours - r.library_hours) > 0.051
    ]
    out.half_widths = intervals.spread(loo, p.sigma_prior, p.sigma_prior_runs)
    if len(ahead) >= 10:
        out.half_widths = intervals.middle(
            out.half_widths, intervals.weighted_spread(ahead, p.sigma_prior, p.sigma_prior_runs)
        )
    out.damped = sum(1 for h in huber if h < 0.5)
    out.support = _support(runs, final, range(len(runs)))
    final_client = [f * e for f, e in zip(final, client_extra, strict=True)]
    for c in b:
        idx = [i for i, ci in enumerate(clients) if ci == c]
        out.client_support[c] = _support(runs, final_client, idx)
    for t in d:
        out.task_support[t] = _support(runs, final, [i for i, ti in enumerate(tasks) if ti == t])
    # Client effects keep a shorter memory than `a`: a pace every client shares that the
    # detector missed (or found late) sits in all of them, and `a` alone was no typical
    # client: after reporting got 20% faster for three clients, each was planned at ~8 h
    # and a new client (the observer's "typical client") at 10.4 h, the true pace 7.4 h.
    levels = [(b[c] + out.steps.get(c, 0.0), out.client_support[c].weight) for c in b]
    unnamed = sum(w for w, c in zip(final_client, clients, strict=True) if c is None)
    total = sum(w for _, w in levels) + unnamed
    out.typical = sum(x * w for x, w in levels) / total if total > 0 else 0.0
    return out


def _support(runs: Sequence[Run], weights: Sequence[float], idx: Iterable[int]) -> Support:
    chosen = list(idx)
    if not chosen:
        return Support()
    return Support(
        runs=len(chosen),
        weight=round(sum(weights[i] for i in chosen), 3),
        last=max(runs[i].at for i in chosen),
    )


def by_workflow(runs: Iterable[Run]) -> dict[int, list[Run]]:
    """The runs of each workflow, in their order, workflows in order of their first run."""
    grouped: dict[int, list[Run]] = defaultdict(list)
    for run in runs:
        grouped[run.workflow_id].append(run)
    return dict(grouped)


def fit(runs: Iterable[Run], p: Params = DEFAULT) -> dict[int, WorkflowFit]:
    """One fit per workflow that has runs."""
    return {wid: fit_workflow(wid, rows, p) for wid, rows in by_workflow(runs).items()}


def library_estimate(p: Params = DEFAULT) -> Estimate:
    """The library's own estimate, with the interval the prior spreads imply."""
    sd = math.sqrt(p.sigma_prior**2 + p.tau_workflow**2 + p.tau_client**2 + p.tau_task**2)
    return Estimate(1.0, math.exp(-Z80 * sd), math.exp(Z80 * sd), "library")


def predict(
    fitted: WorkflowFit | None, task: str, client_id: int | None, p: Params = DEFAULT
) -> Estimate:
    """The ratio to the library estimate for `task` done for `client_id`."""
    if fitted is None or fitted.support.runs == 0:
        return library_estimate(p)
    # The held-out half-widths already carry the error of effects the run's own history
    # fixes; what they cannot know is added: a client or task with no runs yet.
    mu = fitted.a + fitted.steps.get(None, 0.0)
    if client_id is not None:
        mu += fitted.steps.get(client_id, 0.0)
    extra = 0.0
    client = fitted.client_support.get(client_id) if client_id is not None else None
    if client is not None and client.runs and client_id is not None:
        mu += fitted.clients.get(client_id, 0.0)
    elif fitted.client_support:
        mu += fitted.typical
        extra += p.tau_client**2  # an unknown client may be anywhere among the clients
    own = fitted.task_support.get(task)
    if own is not None and own.runs:
        mu += fitted.tasks.get(task, 0.0)
    else:
        extra += p.tau_task**2
    lower, upper = (math.sqrt(h * h + Z80 * Z80 * extra) for h in fitted.half_widths)
    low_cap, high_cap = p.cap
    ratio = math.exp(mu)
    capped = not low_cap <= ratio <= high_cap
    ratio = min(high_cap, max(low_cap, ratio))
    change = fitted.changes.get(client_id) if client_id is not None else None
    change = change or fitted.changes.get(None)
    return Estimate(
        ratio=ratio,
        low=min(high_cap, max(low_cap, math.exp(mu - lower))),
        high=min(high_cap, max(low_cap, math.exp(mu + upper))),
        basis="client" if client is not None and client.runs else "workflow",
        runs=fitted.support.runs,
        client_runs=client.runs if client is not None else 0,
        task_runs=own.runs if own is not None else 0,
        effective_runs=round(
            (client.weight if client is not None and client.runs else fitted.support.weight), 2
        ),
        last_run=(client.last if client is not None and client.runs else fitted.support.last),
        change_at=change,
        capped=capped,
    )
