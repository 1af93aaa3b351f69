"""A tighter upper bound: the Lagrangian (configuration-LP) bound of the compute rows.

Relax each worker class's compute capacity with a price ``lam_k >= 0`` (value per ms/s).
What is left splits by camera: camera ``c`` picks a class ``k`` its pin allows, a camera
rate ``r``, and for every demand ``d`` either ``f_d = 0`` or ``f_d`` in
``[min_fps_d, min(fps_d, r)]``, earning

    value(c, k, r, f) = sum_d (p_d / fps_d - lam_k head_d) f_d - lam_k frame_c r .

For a fixed ``r`` each term is linear in ``f_d``, so its best is ``f_d = min(fps_d, r)`` when
``min_fps_d <= r`` and the coefficient is positive, else 0; as a function of ``r`` the best
is piecewise linear, changing slope only at the camera's own ``fps_d`` and ``min_fps_d``, and
is upper semicontinuous there (a demand's window opens *at* its ``min_fps``), so evaluating
those breakpoints solves the camera's subproblem exactly. Then, for ANY ``lam >= 0``,

    L(lam) = sum_c max(0, max_{k, r} best(c, k, r)) + sum_k lam_k n_k C_k
             - sum_j min_{k holds j} lam_k job_j

is an upper bound of every plan's objective: a plan's objective is at most its objective plus
``sum_w lam_w (C_w - used_w) >= 0``, which splits into exactly these per-camera and per-job
terms, each at most its maximum (the class price is the same on every worker of a class, so
``sum_k lam_k n_k C_k`` is ``sum_w lam_w C_w``). Unlike the LP relaxation it keeps ``min_fps``
(a demand cannot run at 0.3 fps when its minimum is 1) and one camera's rate shared by its
demands.

Memory is priced the same way (``pi_k >= 0``) through a per-camera *share* that is a valid
lower bound of what a worker uses: a worker holding algorithm ``a`` for ``n_a`` of its
cameras pays ``mem_a = sum over those cameras of mem_a / n_a >= sum of mem_a / N_a``, where
``N_a`` bounds how many cameras granted ``a`` one worker of the class can hold (cameras that
demand ``a``, and its compute over the least compute of a camera granting ``a``: ``(frame +
head_a) min_fps``); likewise the backbone is at least ``backbone / N`` per camera (``N`` the
most cameras a worker holds). So each granted demand pays a fixed ``pi_k mem_a / N_a``, each
running camera ``pi_k backbone / N``, jobs ``pi_k`` times their memory, and ``L`` gains
``sum_k pi_k n_k M_k``. With a fixed charge per demand the best over ``r`` is still at the
breakpoints (on each interval each demand's term ``max(0, coef f - charge)`` is convex in
``r``). Where few cameras share an algorithm (memory really short) the shares bite; with many
they vanish (the LP's memory rows are then the stronger, hence the minimum of the two).

The prices come from column generation: a master LP (SciPy HiGHS) over columns (camera,
class, rate, granted demands: value, compute, memory share) with one row per camera, one
compute and one memory row per class, and the jobs; its duals are the next prices, the
exact subproblem prices out new columns, and every iterate's ``L(lam, pi)`` is a valid
bound, so the smallest one found is reported whether or not the generation converged. The value does not rely on the master's accuracy.

>>> from scheduler.families import tiny
>>> from scheduler import plan
>>> config_bound(tiny()) >= plan(tiny()).objective - 1e-9
True
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from scheduler._model import compile_instance
from scheduler.instance import Instance

log = logging.getLogger(__name__)

#: relative distance between the best L(lam) and the master LP at which generation stops
TOLERANCE = 2e-5


@dataclass(frozen=True, slots=True)
class _Sub:
    """The cameras' subproblems as flat arrays: evaluation points (camera, rate) and the
    (point, demand) pairs whose demand may run at that rate."""

    e_cam: np.ndarray  # (E,) camera of each evaluation point
    e_rate: np.ndarray  # (E,) its rate r
    e_start: np.ndarray  # (C+1,) CSR: points of camera c are e_start[c]:e_start[c+1]
    q_e: np.ndarray  # (Q,) point of each pair
    q_d: np.ndarray  # (Q,) demand of each pair
    q_f: np.ndarray  # (Q,) min(fps_d, r) (min_fps_d <= r holds)
    a: np.ndarray  # (D,) value per fps: priority / fps
    head: np.ndarray  # (D,) head ms per frame
    frame: np.ndarray  # (C,) decode + backbone ms per frame


def _subproblems(m) -> _Sub:
    C, D = m.n_cams, m.n_d
    start, end = m.start[:C], m.end[:C]
    fps, mn = m.d_fps[:D], m.d_min[:D]
    e_cam, e_rate = [], []
    for c in range(C):
        s, e = int(start[c]), int(end[c])
        if e > s:
            pts = np.unique(np.concatenate([fps[s:e], mn[s:e]]))
            e_cam.append(np.full(len(pts), c, dtype=np.int64))
            e_rate.append(pts)
    e_cam = np.concatenate(e_cam) if e_cam else np.zeros(0, dtype=np.int64)
    e_rate = np.concatenate(e_rate) if e_rate else np.zeros(0)
    e_start = np.searchsorted(e_cam, np.arange(C + 1))
    # every (point, demand of the same camera) pair, then keep those whose window is open at r
    n_pts = np.diff(e_start)
    n_dem = (end - start)
    reps = np.repeat(n_dem, n_pts)  # per point: how many demands its camera has
    q_e = np.repeat(np.arange(len(e_cam)), reps)
    first = np.repeat(start[e_cam], reps)
    offs = np.arange(len(q_e)) - np.repeat(np.cumsum(reps) - reps, reps)
    q_d = first + offs
    r = e_rate[q_e]
    keep = mn[q_d] <= r
    q_e, q_d, r = q_e[keep], q_d[keep], r[keep]
    return _Sub(e_cam, e_rate, e_start, q_e, q_d, np.minimum(fps[q_d], r), m.d_pri[:D] / fps, m.d_head[:D],
                m.c_frame[:C])


def _best(sub: _Sub, lam: float, phi: np.ndarray | None = None, fixed: np.ndarray | None = None):
    """Per camera at compute price ``lam``, with a fixed charge ``phi[d]`` per granted demand
    and ``fixed[c]`` per running camera (the memory shares, priced): (net value, value,
    compute, rate, selected pairs) of its best configuration; net <= 0 means not running
    it is best (value and compute then 0)."""
    E = len(sub.e_cam)
    C = len(sub.e_start) - 1
    t = (sub.a - lam * sub.head)[sub.q_d] * sub.q_f
    if phi is not None:
        t = t - phi[sub.q_d]
    on = t > 0
    net = np.bincount(sub.q_e[on], weights=t[on], minlength=E) - lam * sub.frame[sub.e_cam] * sub.e_rate
    if fixed is not None:
        net = net - fixed[sub.e_cam]
    has = np.diff(sub.e_start) > 0
    best_net = np.zeros(C)
    arg = np.full(C, -1, dtype=np.int64)
    if E:
        # the best point of each camera: a stable argmax per CSR segment
        order = np.lexsort((np.arange(E), -net, sub.e_cam))
        firsts = order[sub.e_start[:-1][has]]
        best_net[has] = net[firsts]
        arg[has] = firsts
    run = best_net > 0
    pts = arg[run]
    chosen = np.zeros(E, dtype=bool)
    chosen[pts] = True
    sel = on & chosen[sub.q_e]
    val_e = np.bincount(sub.q_e[sel], weights=(sub.a[sub.q_d] * sub.q_f)[sel], minlength=E)
    cmp_e = np.bincount(sub.q_e[sel], weights=(sub.head[sub.q_d] * sub.q_f)[sel], minlength=E) + \
        sub.frame[sub.e_cam] * sub.e_rate
    value, compute, rate = np.zeros(C), np.zeros(C), np.zeros(C)
    value[run], compute[run], rate[run] = val_e[pts], cmp_e[pts], sub.e_rate[pts]
    best_net[~run] = 0.0
    return best_net, value, compute, rate, sel


def _memory_shares(m, elig: np.ndarray, C_k: np.ndarray):
    """Per class: each demand's share of its algorithm's memory (``mem_a / N_a``, ``N_a`` an
    upper bound on how many cameras granted ``a`` fit one worker of the class) and each
    camera's share of the backbone (``backbone / N``, ``N`` the most cameras one worker
    holds). A worker's memory is at least the sum of its cameras' shares (module doc)."""
    C, D = m.n_cams, m.n_d
    d_cam, d_alg = m.d_cam[:D], m.d_alg[:D]
    kmin = (m.c_frame[:C][d_cam] + m.d_head[:D]) * m.d_min[:D]  # compute of a camera granting d, at least
    cam_min = np.full(C, np.inf)
    np.minimum.at(cam_min, d_cam, kmin)
    A = len(m.a_mem)
    dm, cb = [], []
    with np.errstate(over="ignore", divide="ignore"):  # a tiny least compute: no cap (inf)
        for k in range(len(C_k)):
            _share(m, elig[k], C_k[k], kmin, cam_min, A, d_cam, d_alg, dm, cb)
    return dm, cb


def _share(m, ok, C, kmin, cam_min, A, d_cam, d_alg, dm, cb) -> None:
    """One class (compute ``C``, cameras ``ok``): append its demand shares and camera shares."""
    cap = C * (1 + 1e-6)  # check's tolerance
    low = cam_min[ok]
    low = low[np.isfinite(low)]
    n_cam = float(ok.sum())
    per_worker = n_cam if not len(low) or low.min() <= 0 else min(n_cam, np.floor(cap / low.min() + 1e-9))
    okd = ok[d_cam]
    count = np.bincount(d_alg[okd], minlength=A).astype(float)  # cameras that may be granted a here
    amin = np.full(A, np.inf)
    np.minimum.at(amin, d_alg[okd], kmin[okd])
    fit = np.where(amin > 0, np.floor(cap / np.where(amin > 0, amin, 1.0) + 1e-9), np.inf)
    n_a = np.maximum(1.0, np.minimum(np.minimum(count, fit), max(per_worker, 1.0)))
    dm.append(m.a_mem[d_alg] / n_a[d_alg])
    cb.append(np.full(m.n_cams, m.backbone_mib / max(per_worker, 1.0)))


def config_bound(instance: Instance, *, time_limit_s: float = 120.0, max_iters: int = 80) -> float:
    """The Lagrangian (configuration-LP) upper bound of ``instance``'s objective (see module doc)."""
    return config_bound_details(instance, time_limit_s=time_limit_s, max_iters=max_iters)["bound"]


def config_bound_details(instance: Instance, *, time_limit_s: float = 120.0, max_iters: int = 80,
                         memory: bool = True) -> dict:
    """``config_bound`` with how it was found: ``bound``, ``master`` (the last master LP,
    a lower estimate of the Lagrangian dual), ``iterations``, ``prices`` (compute, then
    memory, per class). ``memory=False`` prices compute only (memory relaxed entirely)."""
    t0 = time.perf_counter()
    m = compile_instance(instance)
    C = m.n_cams
    if C == 0 or m.n_d == 0 or len(m.w_compute) == 0:
        return {"bound": 0.0, "master": 0.0, "iterations": 0, "prices": []}
    # worker classes: same compute, same memory, same node when a camera is pinned to it
    pins = m.c_pin[:C]
    pinned_nodes = set(pins[pins >= 0].tolist())
    keys = [(int(m.w_node[w]) if int(m.w_node[w]) in pinned_nodes else -1, float(m.w_compute[w]),
             float(m.w_memory[w])) for w in range(len(m.w_compute))]
    classes = sorted(set(keys))
    K = len(classes)
    n_k = np.array([keys.count(k) for k in classes], dtype=float)
    C_k = np.array([k[1] for k in classes])
    cap = np.concatenate([n_k * C_k, n_k * np.array([k[2] for k in classes])]) * (1 + 1e-6)
    node_k = np.array([k[0] for k in classes])
    elig = np.zeros((K, C), dtype=bool)  # class k may hold camera c
    for k in range(K):
        elig[k] = (pins == -1) | (pins == node_k[k])
    elig &= (m.end[:C] > m.start[:C])[None, :]
    jobs = [j for j in m.jobs if j is not None]
    jc = np.array([j.compute_ms_per_s for j in jobs])
    jm = np.array([j.memory_mib for j in jobs]) if memory else np.zeros(len(jobs))
    jk = np.array([[j.compute_ms_per_s <= k[1] and j.memory_mib <= k[2] for k in classes] for j in jobs],
                  dtype=bool).reshape(len(jobs), K)
    placeable = jk.any(axis=1) if len(jobs) else np.zeros(0, dtype=bool)
    sub = _subproblems(m)
    dm, cb = _memory_shares(m, elig, C_k)

    def lagrangian(price: np.ndarray):
        lam, pi = price[:K], price[K:] if memory else np.zeros(K)
        best = np.zeros(C)
        per_class = []
        for k in range(K):
            net, val, cmp_, _, sel = _best(sub, float(lam[k]), pi[k] * dm[k], pi[k] * cb[k])
            mem = np.bincount(sub.e_cam[sub.q_e[sel]], weights=dm[k][sub.q_d[sel]], minlength=C) + \
                np.where(val > 0, cb[k], 0.0)
            net = np.where(elig[k], net, -np.inf)
            per_class.append((net, val, cmp_, mem))
            best = np.maximum(best, net)
        jobs_cost = sum(float(np.min((lam * jc[j] + pi * jm[j])[jk[j]])) for j in np.nonzero(placeable)[0])
        return float(best.sum() + lam @ cap[:K] + pi @ cap[K:] - jobs_cost), per_class

    cols: list[tuple] = []

    def add_columns(per_class, duals_c):
        added = 0
        for k, (net, val, cmp_, mem) in enumerate(per_class):
            new = np.nonzero((net > duals_c + 1e-9) & (val > 0))[0]
            cols.append((new, np.full(len(new), k, dtype=np.int64), val[new], cmp_[new], mem[new]))
            added += len(new)
        return added

    def n_cols():
        return sum(len(x[0]) for x in cols)

    price = np.zeros(2 * K)
    best_bound, best_price = lagrangian(price)[0], price
    duals_c = np.zeros(C)
    add_columns(lagrangian(price)[1], duals_c)
    master, it = 0.0, 0
    # seed columns at a few compute prices so the first master already rations compute
    for scale in (0.25, 0.5, 1.0, 2.0) if n_cols() else ():
        dens = np.concatenate([x[2] for x in cols]) / np.maximum(np.concatenate([x[3] for x in cols]), 1e-12)
        seed = np.r_[np.full(K, float(np.median(dens)) * scale), np.zeros(K)]
        val, pc = lagrangian(seed)
        if val < best_bound:
            best_bound, best_price = val, seed
        add_columns(pc, duals_c)
    while it < max_iters and time.perf_counter() - t0 < time_limit_s and n_cols():
        it += 1
        solved = _master([np.concatenate([x[i] for x in cols]) for i in range(5)], C, cap, jc, jm, jk,
                         placeable, memory)
        if solved is None:
            break
        master, price, duals_c = solved
        val, pc = lagrangian(price)
        if val < best_bound:
            best_bound, best_price = val, price
        if best_bound - master <= TOLERANCE * max(1.0, abs(best_bound)):
            break
        if add_columns(pc, duals_c) == 0:
            break
    log.debug("config bound: %d classes, %d iterations, bound %.4f, master %.4f, %.2fs", K, it, best_bound,
              master, time.perf_counter() - t0)
    # rounding in the sums above: keep it an upper bound
    return {"bound": float(best_bound) * (1.0 + 1e-9) + 1e-9, "master": float(master), "iterations": it,
            "prices": [float(x) for x in best_price]}


def _master(columns, C, cap, jc, jm, jk, placeable, memory: bool):
    """The restricted master LP: max sum v x over the columns; each camera at most one unit,
    each class's compute and memory share (with the jobs') within its pooled capacity.
    Returns (value, prices: compute then memory per class, camera duals), or None."""
    from scipy.optimize import linprog  # imported here: SciPy is heavy and only the bounds need it
    from scipy.sparse import coo_matrix

    cc, ck, cv, cq, cm = columns
    K = len(cap) // 2
    N = len(cc)
    jpairs = [(j, k) for j in np.nonzero(placeable)[0].tolist() for k in np.nonzero(jk[j])[0].tolist()]
    JP = len(jpairs)
    jpk = np.array([k for _, k in jpairs], dtype=np.int64)
    rows = np.concatenate([cc, C + ck, C + K + ck, C + jpk, C + K + jpk])
    cols = np.concatenate([np.arange(N), np.arange(N), np.arange(N), N + np.arange(JP), N + np.arange(JP)])
    vals = np.concatenate([np.ones(N), cq, cm if memory else np.zeros(N), np.array([jc[j] for j, _ in jpairs]),
                           np.array([jm[j] for j, _ in jpairs])])
    A_ub = coo_matrix((vals, (rows, cols)), shape=(C + 2 * K, N + JP)).tocsr()
    b_ub = np.concatenate([np.ones(C), cap])
    A_eq = b_eq = None
    jobs = sorted({j for j, _ in jpairs})
    if jobs:
        jrow = {j: i for i, j in enumerate(jobs)}
        A_eq = coo_matrix((np.ones(JP), ([jrow[j] for j, _ in jpairs], N + np.arange(JP))),
                          shape=(len(jobs), N + JP)).tocsr()
        b_eq = np.ones(len(jobs))
    cost = np.concatenate([-cv, np.zeros(JP)])
    res = linprog(cost, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs-ds")
    if res.status != 0:  # e.g. the jobs alone do not fit the pooled compute: no prices from it
        return None
    marg = -res.ineqlin.marginals
    return float(-res.fun), np.maximum(marg[C:], 0.0), np.maximum(marg[:C], 0.0)
