"""The planner's entry point: a full plan (with the small-instance portfolio) or an incremental one.

Kept apart from :mod:`scheduler.planner` (the packing phases and the plan's rows), which the
baselines and the incremental engine build on, so that no module of the scheduler imports
one that imports it back.

>>> from scheduler.families import tiny
>>> sorted(a.camera for a in plan(tiny()).cameras)
['c0', 'c1', 'c2']
"""
from __future__ import annotations

from scheduler._model import compile_instance
from scheduler.baselines import first_fit_decreasing, round_robin
from scheduler.incremental import replan
from scheduler.instance import Instance
from scheduler.planner import PORTFOLIO_MAX_CAMERAS, pack_all, pack_decreasing, priced_plan
from scheduler.result import PlanResult


def plan(instance: Instance, *, previous: PlanResult | None = None) -> PlanResult:
    """The plan for ``instance``; incremental against ``previous`` when given."""
    if previous is not None:
        return replan(instance, previous)
    m = compile_instance(instance)
    best = priced_plan(m, pack_all)
    if m.n_cameras <= PORTFOLIO_MAX_CAMERAS:
        # small instances: also the decreasing-size packing and the two baselines, keep the best
        # (ties: the first), so a plan is never worse than a baseline on them
        for other in (lambda: priced_plan(compile_instance(instance), pack_decreasing),
                      lambda: first_fit_decreasing(instance), lambda: round_robin(instance)):
            cand = other()
            if cand.objective > best.objective + 1e-9 * max(1.0, abs(best.objective)):
                best = cand
    return best


__all__ = ["plan"]
