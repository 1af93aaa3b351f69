"""Drift: how far incremental re-plans have fallen behind a full re-plan, and when to run one.

Incremental re-planning keeps cameras where they are; each change it absorbs can leave the
plan a little further from what a full re-plan would find. ``drift(previous, instance)``
measures that without planning: the plan's gap to a cheap reference (the Lagrangian dual of
the pooled compute, priced at the plan's own compute price) minus the same gap at the last
full plan. The control plane asks :func:`needs_full_replan` after each change and runs the
full re-plan in the background when it says so, then swaps the plan in.

>>> from scheduler.families import tiny
>>> from scheduler import plan
>>> p = plan(tiny())
>>> round(drift(p, tiny()), 6), needs_full_replan(p, tiny())
(0.0, False)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scheduler._model import Model
from scheduler.instance import Instance
from scheduler.result import PlanResult


@dataclass(frozen=True, slots=True)
class DriftPolicy:
    """Re-plan in full when drift passes ``max_drift`` (share of the objective) or after
    ``max_changes`` incremental re-plans, whichever comes first."""

    max_drift: float = 0.01
    max_changes: int = 500


def dual_bound(m: Model, lam: float) -> float:
    """sum_c max(0, max_level V - lam K) + lam * pooled free compute (after jobs)."""
    cap = float(m.w_compute[m.w_alive].sum()) - sum(j.compute_ms_per_s for j in m.jobs if j is not None)
    if m.V.size == 0:
        return 0.0
    gain = (m.V - lam * m.K).max(axis=1)
    return float(np.maximum(gain, 0.0).sum() + lam * max(cap, 0.0))


def _chain_dual(state) -> float:
    """``dual_bound`` of the newest plan of a chain, its per-camera gains kept in the chain's
    cache and recomputed only for the cameras whose ladders the fast path changed since."""
    m, lam, cache = state.model, state.lam, state.head.cache
    gain = cache.get("gain")
    stale = cache.pop("stale", [])
    cache["stale"] = []
    if gain is None or cache.get("gain_lam") != lam or len(gain) != len(m.V):
        gain = np.maximum((m.V - lam * m.K).max(axis=1), 0.0) if m.V.size else np.zeros(len(m.V))
    else:
        rows = np.unique(np.concatenate(stale)) if stale else np.zeros(0, dtype=np.int64)
        if len(rows):
            gain[rows] = np.maximum((m.V[rows] - lam * m.K[rows]).max(axis=1), 0.0)
    cache["gain"], cache["gain_lam"] = gain, lam
    cap = float(m.w_compute[m.w_alive].sum()) - sum(j.compute_ms_per_s for j in m.jobs if j is not None)
    return float(gain.sum() + lam * max(cap, 0.0))


def drift(previous: PlanResult, instance: Instance) -> float:
    """Gap growth since the last full plan (0 for a full plan; grows as changes accumulate)."""
    state = previous._state
    if state is None:
        return float("inf")  # a plan read from JSON: nothing known about how it was made
    if state.model.inst is instance and state.head.version == state.version:
        dual = _chain_dual(state)
    else:
        from scheduler._model import compile_instance

        dual = dual_bound(compile_instance(instance), state.lam)
    gap = 1.0 - previous.objective / dual if dual > 0 else 0.0
    return max(0.0, gap - state.base_gap)


def needs_full_replan(previous: PlanResult, instance: Instance, policy: DriftPolicy = DriftPolicy()) -> bool:
    state = previous._state
    if state is None:
        return True
    return state.changes_since_full >= policy.max_changes or drift(previous, instance) > policy.max_drift
