"""The weighted ridge fit behind planner/calibration.py (pure).

y = a + b[client] + d[task] + the steps, each effect shrunk towards 0 by its own penalty,
solved by Gauss-Seidel: a few rounds suffice, since each effect is a weighted mean of what
the others leave.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence


def backfit(
    y: Sequence[float],
    w: Sequence[float],
    clients: Sequence[int | None],
    tasks: Sequence[str],
    k: tuple[float, float, float, float],
    rounds: int,
    client_w: Sequence[float],
    steps: Sequence[Sequence[int]] = (),
) -> tuple[float, dict[int, float], dict[str, float], list[float]]:
    """Weighted ridge fit of y = a + b[client] + d[task] + the steps by Gauss-Seidel.

    Client effects use their own weights `client_w` (a shorter memory: a client's pace
    changes with the client, while the workflow's and its tasks' change slowly). A step
    (the runs from a change point on, `steps[j]` their indices) is the new pace's offset
    from the old, shrunk towards none by its own runs' weight (penalty `k[3]`).
    """
    a, b, d = 0.0, dict[int, float](), dict[str, float]()
    shift = [0.0] * len(steps)
    off = [0.0] * len(y)
    rows = list(zip(y, w, clients, tasks, strict=True))
    total = sum(w) + k[0]
    for _ in range(rounds):
        before = a
        a = (
            sum(
                wi * (yi - client_effect(b, c) - d.get(t, 0.0) - o)
                for (yi, wi, c, t), o in zip(rows, off, strict=True)
            )
            / total
        )
        num: dict[int, float] = defaultdict(float)
        den: dict[int, float] = defaultdict(float)
        for (yi, _, c, t), wc, o in zip(rows, client_w, off, strict=True):
            if c is not None:
                num[c] += wc * (yi - a - d.get(t, 0.0) - o)
                den[c] += wc
        b = {c: num[c] / (den[c] + k[1]) for c in num}
        num_d: dict[str, float] = defaultdict(float)
        den_d: dict[str, float] = defaultdict(float)
        for (yi, wi, c, t), o in zip(rows, off, strict=True):
            num_d[t] += wi * (yi - a - client_effect(b, c) - o)
            den_d[t] += wi
        moved = abs(a - before) + sum(
            abs(d.get(t, 0.0) - num_d[t] / (den_d[t] + k[2])) for t in num_d
        )
        d = {t: num_d[t] / (den_d[t] + k[2]) for t in num_d}
        for j, idx in enumerate(steps):
            old = shift[j]
            num_s = sum(
                w[i]
                * (y[i] - a - client_effect(b, clients[i]) - d.get(tasks[i], 0.0) - off[i] + old)
                for i in idx
            )
            shift[j] = num_s / (sum(w[i] for i in idx) + k[3])
            for i in idx:
                off[i] += shift[j] - old
            moved += abs(shift[j] - old)
        if moved < 1e-7:
            break
    return a, dict(b), dict(d), shift


def client_effect(b: dict[int, float], client: int | None) -> float:
    return b.get(client, 0.0) if client is not None else 0.0
