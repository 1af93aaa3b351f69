"""Baselines to compare the planner with, on the same instances and the same rules.

Both grant each camera all of its demands at their desired rates or nothing (no rate
lowering), and place jobs like the planner does.

* ``round_robin``: cameras in instance order, each on the next worker (in turn) that holds it;
* ``first_fit_decreasing``: cameras by compute, largest first, each on the first worker
  that holds it.

>>> from scheduler.families import tiny
>>> round_robin(tiny()).objective <= first_fit_decreasing(tiny()).objective + 10
True
"""
from __future__ import annotations

import numpy as np

from scheduler._model import compile_instance
from scheduler._pack import Packing
from scheduler.instance import Instance
from scheduler.planner import build_result, place_jobs
from scheduler.result import PlanResult


def _top(pk: Packing) -> int:
    return pk.m.V.shape[1] - 1


def round_robin(instance: Instance) -> PlanResult:
    m = compile_instance(instance)
    pk = Packing(m)
    place_jobs(pk)
    W = len(m.w_compute)
    top, turn = _top(pk), 0
    for c in range(m.n_cameras):
        if top < 0 or m.V[c, top] <= 0:
            continue
        algs = m.algs_at(c, top)
        for step in range(W):
            w = (turn + step) % W
            if (m.c_pin[c] == -1 or m.w_node[w] == m.c_pin[c]) and pk.fits(c, top, w, algs):
                pk.place(c, top, w, algs)
                turn = (w + 1) % W
                break
        else:
            pk.reason[c] = pk.diagnose(c)
    return build_result(pk, lam=0.0, migrations=0, base_gap=0.0, changes=0)


def first_fit_decreasing(instance: Instance) -> PlanResult:
    m = compile_instance(instance)
    pk = Packing(m)
    place_jobs(pk)
    top = _top(pk)
    if top >= 0:
        cams = np.lexsort((np.arange(m.n_cameras), -m.K[:m.n_cameras, top]))
        for c in cams.tolist():
            if m.V[c, top] <= 0:
                continue
            algs = m.algs_at(c, top)
            elig = pk.eligible(c)
            for w in elig.tolist():
                if pk.fits(c, top, w, algs):
                    pk.place(c, top, w, algs)
                    break
            else:
                pk.reason[c] = pk.diagnose(c)
    return build_result(pk, lam=0.0, migrations=0, base_gap=0.0, changes=0)
