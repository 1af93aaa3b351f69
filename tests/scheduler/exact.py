"""The exact optimum of a small instance, as a MILP solved by SciPy HiGHS (test oracle only).

Per worker ``w``: camera on it ``x[c,w]``, demand granted there ``g[d,w]``, algorithm held
``z[a,w]``, worker hosting a camera ``b[w]``, job there ``u[j,w]`` (all binary); camera rate
``r[c,w]`` and demand rate ``y[d,w]`` continuous with ``min_fps g <= y <= fps g``,
``y <= r``; compute and memory per worker exactly as the rules say.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix


def exact_optimum(inst) -> float | None:
    W = len(inst.workers)
    cams = inst.cameras
    dem = [(ci, d) for ci, c in enumerate(cams) for d in c.demands]
    algs = {a.id: i for i, a in enumerate(inst.algorithms)}
    A, J = len(algs), len(inst.jobs)
    if not dem or W == 0:
        return 0.0 if not inst.jobs else None
    C, D = len(cams), len(dem)
    # variable layout
    ox, or_, oy, og, oz, ob, ou = 0, C * W, 2 * C * W, 2 * C * W + D * W, 2 * C * W + 2 * D * W, \
        2 * C * W + 2 * D * W + A * W, 2 * C * W + 2 * D * W + A * W + W
    n = ou + J * W
    X = lambda c, w: ox + c * W + w  # noqa: E731
    R = lambda c, w: or_ + c * W + w  # noqa: E731
    Y = lambda i, w: oy + i * W + w  # noqa: E731
    G = lambda i, w: og + i * W + w  # noqa: E731
    Z = lambda a, w: oz + a * W + w  # noqa: E731
    B = lambda w: ob + w  # noqa: E731
    U = lambda j, w: ou + j * W + w  # noqa: E731
    rows, lo, hi = [], [], []

    def row(coefs, lb, ub):
        rows.append(coefs)
        lo.append(lb)
        hi.append(ub)

    ub = np.ones(n)
    for c in range(C):
        row({X(c, w): 1 for w in range(W)}, -np.inf, 1)
        for w in range(W):
            ub[R(c, w)] = np.inf
            if cams[c].node is not None and inst.workers[w].node != cams[c].node:
                ub[X(c, w)] = 0
            row({B(w): 1, X(c, w): -1}, 0, np.inf)
    for i, (c, d) in enumerate(dem):
        for w in range(W):
            ub[Y(i, w)] = np.inf
            row({G(i, w): 1, X(c, w): -1}, -np.inf, 0)
            row({Y(i, w): 1, G(i, w): -d.fps}, -np.inf, 0)
            row({Y(i, w): 1, G(i, w): -d.min_fps}, 0, np.inf)
            row({Y(i, w): 1, R(c, w): -1}, -np.inf, 0)
            row({Z(algs[d.algorithm], w): 1, G(i, w): -1}, 0, np.inf)
    for w, wk in enumerate(inst.workers):
        comp = {R(c, w): cams[c].decode_ms + cams[c].backbone_ms for c in range(C)}
        for i, (c, d) in enumerate(dem):
            comp[Y(i, w)] = inst.algorithm(d.algorithm).head_ms
        mem = {B(w): inst.backbone.memory_mib}
        for a in inst.algorithms:
            mem[Z(algs[a.id], w)] = a.memory_mib
        for j, job in enumerate(inst.jobs):
            comp[U(j, w)] = job.compute_ms_per_s
            mem[U(j, w)] = job.memory_mib
        row(comp, -np.inf, wk.compute_ms_per_s)
        row(mem, -np.inf, wk.memory_mib)
    for j in range(J):
        row({U(j, w): 1 for w in range(W)}, 1, 1)
    M = lil_matrix((len(rows), n))
    for k, coefs in enumerate(rows):
        for v, a in coefs.items():
            M[k, v] += a
    cost = np.zeros(n)
    for i, (c, d) in enumerate(dem):
        for w in range(W):
            cost[Y(i, w)] = -d.priority / d.fps
    integrality = np.ones(n)
    integrality[or_:or_ + C * W] = 0
    integrality[oy:oy + D * W] = 0
    res = milp(cost, constraints=LinearConstraint(M.tocsr(), lo, hi), integrality=integrality,
               bounds=Bounds(np.zeros(n), ub), options={"time_limit": float(__import__("os").environ.get("H8_MILP_S", 20))})
    if res.status != 0:
        return None  # infeasible (a job fits nowhere) or not solved in time
    return float(-res.fun)
