"""The cheapest cover: the least a selector that knew the truth would have to run.

What is the best compute saved any selection could reach on a camera, at full recall? A
selector told the truth (which events occur on the camera at this hour, which governance
tasks apply to it) still has to run, on every frame, something that detects each occurring
event, and the algorithms a task names. The *cheapest cover* is the cheapest such set: a
small set-cover / fixed-charge problem solved exactly with SciPy's HiGHS MILP:

* one binary per candidate algorithm (every production algorithm detecting a needed event,
  the tasks' algorithms, and what they depend on), costing its measured per-frame cost (with
  the shared source it runs on, NanoDet under a track algorithm, added: an upper bound where
  two share one, which a cover never needs since a head covers every event);
* one binary for the backbone, paid once if any head or readout runs;
* for an evidence reader or a woken track, one binary per trigger it may run under, costing
  its cost x the Judge's share of frames that trigger fires (summed over chosen triggers: a
  slight over-count of their union), and one for running on every frame (no trigger chosen);
* each needed event covered at least once; each task algorithm chosen; a chosen algorithm
  brings its dependencies and the backbone.

The Judge then costs the chosen set like any other selection. It is a reference point, not a
product: it runs none of the zone rules, people counters and extra evidence readers the graph
chooses for the operators' zones, so the graph's distance to it is what those cost
(BENCHMARKS.md).

>>> from knowledge_graph.evaluation.bound import _solve
>>> _solve({"a": 5.0, "b": 1.0, "c": 1.0}, needs=[{"a"}, {"b", "c"}], forced=set(), requires={"b": {"bb"}}, fixed={"bb": 3.0})
('a', 'c')
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import numpy as np

from knowledge_graph.evaluation.city import CityCamera
from knowledge_graph.evaluation.metrics import BACKBONE_KINDS, Judge, Selector

BACKBONE = "<backbone>"


class CoverError(RuntimeError):
    """The cover problem has no solution (an event no production algorithm detects)."""


def _solve(cost: Mapping[str, float], *, needs: Iterable[set[str]], forced: set[str], requires: Mapping[str, set[str]],
           fixed: Mapping[str, float], cascades: Mapping[str, Mapping[str, float]] | None = None) -> tuple[str, ...]:
    """Exact minimum over binaries ``x_a`` (algorithms of ``cost``) and ``y_f`` (charges of
    ``fixed``) of ``sum cost[a] x_a + sum fixed[f] y_f``, where every set of ``needs`` has a
    chosen member, ``forced`` are chosen, and ``x_a`` brings each ``requires[a]`` (an algorithm
    or a charge). ``cascades[a] = {trigger: cost}``: ``a`` runs as a cascade of a chosen trigger
    at that cost (paid per chosen trigger), else on every frame at ``cost[a]``. Returns the
    chosen algorithms, sorted."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    cascades = {a: {t: float(v) for t, v in trig.items() if t in cost and t != a} for a, trig in (cascades or {}).items() if a in cost}
    names = sorted(set(cost) | set(fixed))
    n_x = len(names)
    col = {n: i for i, n in enumerate(names)}
    always = {a: n_x + i for i, a in enumerate(sorted(cascades))}  # z_a: a runs on every frame
    pairs = [(a, t) for a in sorted(cascades) for t in sorted(cascades[a])]
    via = {p: n_x + len(always) + i for i, p in enumerate(pairs)}  # w_at: a runs as t's cascade
    n = n_x + len(always) + len(pairs)
    c = np.zeros(n)
    for nm in names:
        c[col[nm]] = fixed.get(nm, 0.0) + (0.0 if nm in cascades else cost.get(nm, 0.0))
    for a, j in always.items():
        c[j] = cost[a]
    for (a, t), j in via.items():
        c[j] = cascades[a][t]
    rows, lo = [], []

    def row(coef: Mapping[int, float], low: float) -> None:
        r = np.zeros(n)
        for j, v in coef.items():
            r[j] += v
        rows.append(r)
        lo.append(low)

    for need in needs:  # at least one of each need
        row({col[a]: 1.0 for a in need}, 1.0)
    for a, reqs in requires.items():  # y_r >= x_a
        for q in reqs:
            row({col[q]: 1.0, col[a]: -1.0}, 0.0)
    for a, trig in cascades.items():
        row({always[a]: 1.0, col[a]: -1.0, **{col[t]: 1.0 for t in trig}}, 0.0)  # z_a >= x_a - sum x_t
        for t in trig:  # w_at >= x_a + x_t - 1
            row({via[(a, t)]: 1.0, col[a]: -1.0, col[t]: -1.0}, -1.0)
    lb = np.zeros(n)
    lb[[col[a] for a in forced]] = 1.0
    cons = [LinearConstraint(np.array(rows), np.array(lo), np.inf)] if rows else []
    res = milp(c, constraints=cons, integrality=np.ones(n), bounds=Bounds(lb, np.ones(n)))
    if not res.success:
        raise CoverError(f"no cover: {res.message}")
    return tuple(nm for nm in names if nm in cost and res.x[col[nm]] > 0.5)


class CheapestCover:
    """The cheapest set that covers every event occurring on a camera at an hour and serves
    the governance tasks that apply to it (module doc); memoised by camera and need."""

    def __init__(self, judge: Judge) -> None:
        self.judge = judge
        self._detects: dict[str, list[str]] = {}
        for a in judge.production:
            for e in judge.events.get(a, ()):
                self._detects.setdefault(e, []).append(a)
        self._memo: dict[tuple, tuple[str, ...]] = {}

    def needed_events(self, cam: CityCamera, at: datetime) -> frozenset[str]:
        return frozenset(t.event for t in cam.events if t.occurs_at_hour(at.hour))

    def __call__(self, cam: CityCamera, at: datetime) -> tuple[str, ...]:
        events, tasks = self.needed_events(cam, at), self.judge.task_algorithms(cam, at)
        key = (cam.camera_id, events, tasks)  # a cascade's share depends on the camera's rates
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._cover(cam, at, events, tasks)
        return hit

    def _cover(self, cam: CityCamera, at: datetime, events: frozenset[str], tasks: frozenset[str]) -> tuple[str, ...]:
        j = self.judge
        missing = sorted(e for e in events if not self._detects.get(e))
        if missing:
            raise CoverError(f"events {missing} have no production detector; the catalog must hold one")
        cand = set(tasks).union(*(self._detects[e] for e in events)) if events else set(tasks)
        for a in list(cand):  # with what they depend on
            cand |= j.needs(a)
        ms = j.costs.algorithm_ms
        fixed: dict[str, float] = {BACKBONE: float(j.costs.backbone_ms)}
        requires: dict[str, set[str]] = {}
        src_ms: dict[str, float] = {}
        for a in cand:
            req = set(j.needs(a))
            if j.kinds.get(a) in BACKBONE_KINDS:
                req.add(BACKBONE)
            for src in j.sources.get(a, ()):  # one pass serves all (the source itself, when it is a candidate)
                if src in cand:
                    req.add(src)
                else:
                    src_ms[a] = src_ms.get(a, 0.0) + float(ms.get(src, 0.0))
            if req:
                requires[a] = req
        cost = {a: float(ms.get(a, 0.0)) + src_ms.get(a, 0.0) for a in cand}
        cascades: dict[str, dict[str, float]] = {}
        for a in cand:  # a reader or woken track runs only on the frames its trigger fires (the Judge's share)
            rule = j.rules.get(a)
            if rule:
                trig = j.triggers(a, tuple(sorted(cand)))
                cascades[a] = {t: cost[a] * j.run_share(cam, [t], at, rule[1], rule[2]) for t in trig}
        return _solve(cost, needs=[set(self._detects[e]) for e in sorted(events)], forced=set(tasks),
                      requires=requires, fixed=fixed, cascades=cascades)


def cheapest_cover_selector(judge: Judge) -> Selector:
    return CheapestCover(judge)


__all__ = ["CheapestCover", "CoverError", "cheapest_cover_selector"]
