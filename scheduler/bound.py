"""An upper bound on the objective: the LP relaxation, solved with SciPy's HiGHS.

Workers that are interchangeable (same compute, same memory, and the same node when some
camera is pinned to it) form a *class*; by symmetry the relaxation over a class equals the
relaxation over one pooled worker with ``n`` times its limits, so the LP has one copy of
each variable per class, not per worker. Per class ``k`` (``n_k`` workers of compute
``C_k``, memory ``M_k``):

* ``X[c,k]`` in [0, 1]: share of camera ``c`` placed in the class, ``sum_k X[c,k] <= 1``;
* ``Y[d,k] >= 0``: granted fps of demand ``d`` there, ``Y <= fps_d X``; ``R[c,k] >= Y``
  for each of the camera's demands (the camera runs at its fastest demand's rate);
* compute: ``sum_c frame_ms R + sum_d head_ms Y + jobs <= n_k C_k``;
* ``B[k]`` in [0, n_k] (workers hosting a camera), ``Z[a,k]`` in [0, n_k] (workers
  holding algorithm ``a``): memory ``backbone B + sum_a mem_a Z + jobs <= n_k M_k``,
  ``Z <= B``, and the cuts that make the shared terms bite: the cameras' compute in the
  class is at most ``C_k B[k]``, and the compute of the cameras granted ``a`` is at most
  ``C_k Z[a,k]`` (a worker that holds no copy of ``a`` runs none of its demands);
* jobs: ``J[j,k] >= 0``, ``sum_k J[j,k] = 1`` over classes with a worker big enough.

Every integer plan gives a feasible point (dropping ``min_fps`` only enlarges the set), so
the optimum is an upper bound of the objective.

The configuration (Lagrangian) bound of :mod:`scheduler.bound_config` keeps ``min_fps`` and
each camera's single rate but relaxes memory; both are valid upper bounds, so the smaller
is too: :func:`bounds` computes both and ``BoundReport.best`` is the one to quote.

>>> from scheduler.families import tiny
>>> from scheduler import plan
>>> lp_bound(tiny()) >= plan(tiny()).objective - 1e-9
True
>>> r = bounds(tiny())
>>> r.best == min(r.lp, r.config) and r.best >= plan(tiny()).objective - 1e-9
True
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from scheduler._model import compile_instance
from scheduler.errors import SchedulerError
from scheduler.instance import Instance

log = logging.getLogger(__name__)


class BoundError(SchedulerError):
    """HiGHS did not solve the relaxation (the message carries its status)."""


#: above this many demand-by-class variables, pins are relaxed to per-node compute rows
MAX_PINNED_VARS = 150_000


@dataclass(frozen=True, slots=True)
class BoundReport:
    """Both upper bounds of one instance and how long each took (wall seconds)."""

    lp: float  # the LP relaxation (memory and its cuts kept, min_fps dropped)
    config: float  # the configuration / Lagrangian bound (min_fps kept, memory relaxed)
    lp_s: float
    config_s: float

    @property
    def best(self) -> float:
        """The tightest valid bound: the smaller of the two."""
        return min(self.lp, self.config)

    @property
    def best_kind(self) -> str:
        return "config" if self.config < self.lp else "lp"

    def to_json(self) -> dict:
        return {"bound": self.best, "bound_kind": self.best_kind, "lp_bound": self.lp, "config_bound": self.config,
                "lp_s": round(self.lp_s, 3), "config_s": round(self.config_s, 3)}


def bounds(instance: Instance, *, time_limit_s: float = 600.0) -> BoundReport:
    """The LP bound and the configuration bound of ``instance`` (``.best``: the tighter)."""
    from scheduler.bound_config import config_bound

    t0 = time.perf_counter()
    lp = lp_bound(instance, time_limit_s=time_limit_s)
    t1 = time.perf_counter()
    cfg = config_bound(instance, time_limit_s=min(time_limit_s, 120.0))
    return BoundReport(lp, cfg, t1 - t0, time.perf_counter() - t1)


def lp_bound(instance: Instance, *, time_limit_s: float = 600.0, pooled_pins: bool | None = None) -> float:
    """The LP-relaxation upper bound of ``instance``'s objective.

    ``pooled_pins``: instead of one class per pinned node, workers are classed by size only
    and each pinned node gets a row bounding its pinned cameras' compute by the node's
    compute (a coarser, still valid relaxation, much smaller with many pinned nodes). By
    default it is used when the per-node LP would exceed ``MAX_PINNED_VARS`` variables."""
    m = compile_instance(instance)
    if m.n_cameras == 0 or m.n_d == 0 or len(m.w_compute) == 0:
        return 0.0
    if pooled_pins is None:
        pins = m.c_pin[:m.n_cams]
        n_classes = len({(int(m.w_node[w]) if int(m.w_node[w]) in set(pins[pins >= 0].tolist()) else -1,
                          float(m.w_compute[w]), float(m.w_memory[w])) for w in range(len(m.w_compute))})
        free_demands = int((m.end[:m.n_cams] - m.start[:m.n_cams])[pins == -1].sum())
        pooled_pins = bool((pins >= 0).any()) and free_demands * n_classes > MAX_PINNED_VARS
    return _lp(m, time_limit_s, pooled_pins)


def _lp(m, time_limit_s: float, pooled_pins: bool) -> float:
    from scipy.optimize import linprog  # imported here: SciPy is heavy and only the bound needs it
    from scipy.sparse import coo_matrix

    pinned_nodes = set() if pooled_pins else set(m.c_pin[m.c_pin >= 0].tolist())
    keys = [(int(m.w_node[w]) if int(m.w_node[w]) in pinned_nodes else -1, float(m.w_compute[w]),
             float(m.w_memory[w])) for w in range(len(m.w_compute))]
    classes = sorted(set(keys))
    n_k = np.array([keys.count(k) for k in classes], dtype=float)
    C_k = np.array([k[1] for k in classes])
    M_k = np.array([k[2] for k in classes])
    node_k = np.array([k[0] for k in classes])
    K, C, A = len(classes), m.n_cameras, len(m.a_mem)
    node_of_w = {}  # pinned node -> has a class
    for i, k in enumerate(classes):
        node_of_w.setdefault(k[0], []).append(i)

    # eligible (camera, class) pairs
    pc, pk = [], []
    for c in range(C):
        pin = int(m.c_pin[c])
        if m.end[c] == m.start[c]:
            continue
        if pooled_pins and pin >= 0 and not (m.w_node == pin).any():
            continue  # pinned to a node without workers: never served
        ks = range(K) if pin == -1 or pooled_pins else node_of_w.get(pin, [])
        pc.extend([c] * len(ks))
        pk.extend(ks)
    pc, pk = np.asarray(pc, dtype=np.int64), np.asarray(pk, dtype=np.int64)
    P = len(pc)
    if P == 0:
        return 0.0
    counts = m.end[pc] - m.start[pc]
    q_pair = np.repeat(np.arange(P), counts)
    q_d = np.repeat(m.start[pc] - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(int(counts.sum()))
    q_k = pk[q_pair]
    Q = len(q_d)
    jobs = m.inst.jobs
    jc = np.array([j.compute_ms_per_s for j in jobs])
    jm = np.array([j.memory_mib for j in jobs])
    jpairs = [(j, k) for j in range(len(jobs)) for k in range(K) if jc[j] <= C_k[k] and jm[j] <= M_k[k]]
    placeable = sorted({j for j, _ in jpairs})
    JP = len(jpairs)
    # variable offsets
    oX, oR, oY, oZ, oB, oJ = 0, P, 2 * P, 2 * P + Q, 2 * P + Q + A * K, 2 * P + Q + A * K + K
    n_var = oJ + JP
    rows, cols, vals, rhs = [], [], [], []
    r = 0

    def add(rr, cc, vv):
        rows.append(np.asarray(rr, dtype=np.int64))
        cols.append(np.asarray(cc, dtype=np.int64))
        vals.append(np.asarray(vv, dtype=float))

    # 1: sum_k X[c,k] <= 1
    cam_row = {c: i for i, c in enumerate(np.unique(pc).tolist())}
    add(r + np.array([cam_row[c] for c in pc.tolist()]), oX + np.arange(P), np.ones(P))
    rhs.append(np.ones(len(cam_row)))
    r += len(cam_row)
    # 2: Y - fps X <= 0 ; 3: Y - R <= 0
    for other, coef in ((oX, -m.d_fps[q_d]), (oR, -np.ones(Q))):
        add(np.r_[r + np.arange(Q), r + np.arange(Q)], np.r_[oY + np.arange(Q), other + q_pair],
            np.r_[np.ones(Q), coef])
        rhs.append(np.zeros(Q))
        r += Q
    frame = m.c_frame[pc]
    head = m.d_head[q_d]
    # 4: compute per class ; 5: camera compute <= C_k B_k
    for with_jobs in (True, False):
        rr = [r + pk, r + q_k]
        cc = [oR + np.arange(P), oY + np.arange(Q)]
        vv = [frame, head]
        if with_jobs and JP:
            rr.append(r + np.array([k for _, k in jpairs]))
            cc.append(oJ + np.arange(JP))
            vv.append(jc[[j for j, _ in jpairs]])
        if not with_jobs:
            rr.append(r + np.arange(K))
            cc.append(oB + np.arange(K))
            vv.append(-C_k)
        add(np.concatenate(rr), np.concatenate(cc), np.concatenate(vv))
        rhs.append(n_k * C_k if with_jobs else np.zeros(K))
        r += K
    # 6: sum_{d in a} (frame + head) Y[d,k] <= C_k Z[a,k]
    za = m.d_alg[q_d] * K + q_k
    add(np.r_[r + za, r + np.arange(A * K)], np.r_[oY + np.arange(Q), oZ + np.arange(A * K)],
        np.r_[m.c_frame[m.d_cam[q_d]] + head, -np.tile(C_k, A)])
    rhs.append(np.zeros(A * K))
    r += A * K
    # 7: memory per class
    zk = np.tile(np.arange(K), A)
    rr = [r + zk, r + np.arange(K)]
    cc = [oZ + np.arange(A * K), oB + np.arange(K)]
    vv = [np.repeat(m.a_mem, K), np.full(K, m.backbone_mib)]
    if JP:
        rr.append(r + np.array([k for _, k in jpairs]))
        cc.append(oJ + np.arange(JP))
        vv.append(jm[[j for j, _ in jpairs]])
    add(np.concatenate(rr), np.concatenate(cc), np.concatenate(vv))
    rhs.append(n_k * M_k)
    r += K
    # 8: Z[a,k] <= B[k]
    add(np.r_[r + np.arange(A * K), r + np.arange(A * K)], np.r_[oZ + np.arange(A * K), oB + zk],
        np.r_[np.ones(A * K), -np.ones(A * K)])
    rhs.append(np.zeros(A * K))
    r += A * K
    if pooled_pins:  # 9: cameras pinned to node n use at most n's compute
        pin_p, pin_q = m.c_pin[pc], m.c_pin[m.d_cam[q_d]]
        nodes = sorted(set(pin_p[pin_p >= 0].tolist()))
        row_of = {n: i for i, n in enumerate(nodes)}
        sel_p, sel_q = np.nonzero(pin_p >= 0)[0], np.nonzero(pin_q >= 0)[0]
        add(np.r_[r + np.array([row_of[n] for n in pin_p[sel_p].tolist()], dtype=np.int64),
                  r + np.array([row_of[n] for n in pin_q[sel_q].tolist()], dtype=np.int64)],
            np.r_[oR + sel_p, oY + sel_q], np.r_[frame[sel_p], head[sel_q]])
        rhs.append(np.array([float(m.w_compute[m.w_node == n].sum()) for n in nodes]))
        r += len(nodes)
    A_ub = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n_var)).tocsr()
    b_ub = np.concatenate(rhs)
    A_eq = b_eq = None
    if placeable:
        jrow = {j: i for i, j in enumerate(placeable)}
        A_eq = coo_matrix((np.ones(JP), ([jrow[j] for j, _ in jpairs], oJ + np.arange(JP))),
                          shape=(len(placeable), n_var)).tocsr()
        b_eq = np.ones(len(placeable))
    cost = np.zeros(n_var)
    cost[oY:oY + Q] = -(m.d_pri[q_d] / m.d_fps[q_d])
    ub = np.full(n_var, np.inf)
    ub[oX:oX + P] = 1.0
    ub[oZ:oZ + A * K] = np.tile(n_k, A)
    ub[oB:oB + K] = n_k
    res = linprog(cost, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=np.c_[np.zeros(n_var), ub],
                  method="highs-ipm", options={"time_limit": time_limit_s, "presolve": True})
    if res.status != 0:
        raise BoundError(f"HiGHS status {res.status}: {res.message}; the bound is unknown for this instance")
    log.debug("lp bound: %d vars, %d rows, %d classes (pooled pins: %s), value %.4f", n_var, r, K, pooled_pins,
              -res.fun)
    # the dual bound is what HiGHS proves; add its tolerance so the bound stays an upper bound
    return float(-res.fun) * (1.0 + 1e-7) + 1e-9
