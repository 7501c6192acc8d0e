"""A client's pace across workflows, as the prior of its pace on each one (pure).

b[c, w] = g[c] + u[c, w]: a client's general pace g (spread tau_g) and its workflow's own
part u (spread tau_u), tau_g^2 + tau_u^2 = tau_client^2, the prior spread of one client
effect as before. tau_u is read from the data (method of moments over clients seen on
several workflows); g for workflow w is estimated from the client's other workflows only
(leave one out), so a workflow's own runs are not counted twice.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping

from almanac.planner.calibration import WorkflowFit
from almanac.planner.params import DEFAULT, Params

TAU_U_FLOOR = 0.05  # below ~5% a workflow's own part is not told from noise


def client_priors(
    fits: Mapping[int, WorkflowFit], p: Params = DEFAULT
) -> dict[int, dict[int, tuple[float, float]]]:
    """Per workflow, per client: (prior mean, prior sd) of its client effect."""
    seen: dict[int, dict[int, tuple[float, float]]] = defaultdict(dict)  # c -> w -> (b, var)
    for w, f in fits.items():
        for c, b in f.clients.items():
            weight = f.client_support.get(c)
            if weight is None or weight.weight <= 0:
                continue
            seen[c][w] = (b, f.sigma**2 / weight.weight)
    tau2 = p.tau_client**2
    # Method of moments: spread of a client's effects around its own mean, less noise.
    dev, n = 0.0, 0
    for per in seen.values():
        if len(per) < 2:
            continue
        m = sum(b for b, _ in per.values()) / len(per)
        k = len(per)
        for b, var in per.values():
            dev += (b - m) ** 2 * k / (k - 1) - var
            n += 1
    tau_u2 = min(tau2, max(TAU_U_FLOOR**2, dev / n)) if n else tau2
    tau_g2 = tau2 - tau_u2
    out: dict[int, dict[int, tuple[float, float]]] = defaultdict(dict)
    for c, per in seen.items():
        for w in fits:
            others = [(b, var) for w2, (b, var) in per.items() if w2 != w]
            if not others or tau_g2 <= 0:
                continue
            prec = [1 / (var + tau_u2) for _, var in others]
            total = sum(prec) + 1 / tau_g2
            g = sum(pi * b for pi, (b, _) in zip(prec, others, strict=True)) / total
            out[w][c] = (g, math.sqrt(tau_u2 + 1 / total))
    return dict(out)
