"""Incremental re-planning: absorb a change (camera added or removed, demands or costs
changed, worker lost or added, job started or finished) moving only what must move.

1. jobs stay on their worker when it still exists and holds them;
2. every camera of the previous plan whose worker still exists (and still satisfies its pin)
   stays there, best value density first, at its previous rate or the highest lower rate
   that still fits (rates are lowered before a camera moves);
3. what did not fit, new cameras and previously unserved ones are placed in the free room,
   at the highest rate that fits (``fill``); then rates are raised where room is left;
4. ``migrations`` counts cameras placed in both plans on different workers.

The compute price is recomputed on the new instance: when compute got shorter, kept cameras
take the lower of their previous rate and the rate the new price gives them, so the room
for what must move comes from lowering rates, not from moving cameras.
"""
from __future__ import annotations

import logging

import numpy as np

from scheduler._model import choose_levels, compile_instance, price, screen
from scheduler._pack import Packing, lowest_level
from scheduler.instance import Instance
from scheduler.planner import TARGET_FILL, build_result, by_density, fill, place_jobs
from scheduler.result import PlanResult

log = logging.getLogger(__name__)


def rebase(instance: Instance, previous: PlanResult) -> Instance:
    """``instance`` (the same content) as a change of the instance ``previous`` was planned
    for, made by ``Instance.replace`` so that ``plan(result, previous=previous)`` can take the
    fast incremental path. For a caller that rebuilds the whole instance on every change
    (from JSON, say): only the records that differ count as changed. ``instance`` itself when
    ``previous`` carries no planner state or is not the newest plan of its chain.

    >>> from scheduler import plan
    >>> from scheduler.families import tiny
    >>> p = plan(tiny())
    >>> nxt = rebase(Instance.from_json(tiny().replace(jobs=()).to_json()), p)
    >>> nxt == tiny().replace(jobs=()), plan(nxt, previous=p).migrations
    (True, 0)
    """
    state = previous._state
    if state is None or state.head.version != state.version:
        return instance
    base = state.model.inst
    delta = instance._index.get("delta")
    if base is instance or (delta is not None and delta.base() is base):
        return instance
    return base.replace(backbone=instance.backbone, workers=instance.workers, cameras=instance.cameras,
                        algorithms=instance.algorithms, jobs=instance.jobs, declared_defaults=instance.declared_defaults)


def replan(instance: Instance, previous: PlanResult) -> PlanResult:
    delta = instance._index.get("delta")
    if delta is not None and previous._state is not None:
        from scheduler._engine import fast_replan

        fast = fast_replan(instance, previous, delta)
        if fast is not None:
            return fast
    m = compile_instance(instance)
    pk = Packing(m)
    place_jobs(pk, {j.job: j.worker for j in previous.jobs})
    state = previous._state
    # re-priced on the new instance: when compute got shorter, kept cameras lower their rates
    # (they do not move) to make room for better-valued work that must move
    lam = price(m.V, m.K, float(pk.free_c.sum()) * TARGET_FILL)
    if screen(m, lam):
        lam = price(m.V, m.K, float(pk.free_c.sum()) * TARGET_FILL)
    chosen = choose_levels(m.V, m.K, lam)
    before = previous.by_camera()
    w_ix = {w.id: i for i, w in enumerate(instance.workers)}
    kept, others = [], []
    for c, cam in enumerate(instance.cameras):
        a = before.get(cam.id)
        w = w_ix.get(a.worker, -1) if a is not None else -1
        if w >= 0 and (m.c_pin[c] == -1 or m.c_pin[c] == m.w_node[w]):
            kept.append(c)
        elif lowest_level(m, c) >= 0:
            others.append(c)
    prev_fps = np.array([before[instance.cameras[c].id].fps for c in kept]) if kept else np.zeros(0)
    target = {c: min(_level_at_most(m, c, f), int(chosen[c]) if chosen[c] >= 0 else lowest_level(m, c))
              for c, f in zip(kept, prev_fps.tolist())}
    moved = []
    for c in by_density(m, kept, np.array([target.get(i, -1) for i in range(m.n_cameras)], dtype=np.int64)):
        w = w_ix[before[instance.cameras[c].id].worker]
        lv = target[c]
        low = lowest_level(m, c)
        placed = False
        while lv >= max(low, 0):
            if m.V[c, lv] > 1e-12:
                algs = m.algs_at(c, lv)
                if pk.fits(c, lv, w, algs):
                    pk.place(c, lv, w, algs)
                    placed = True
                    break
            lv -= 1
        if not placed and low >= 0:
            moved.append(c)
    fill(pk, moved + others, chosen)
    placed_now = [c for c in range(m.n_cameras) if pk.worker[c] >= 0]
    pk.upgrade(by_density(m, placed_now, pk.level))
    wids = [w.id for w in instance.workers]
    migrations = sum(1 for c in placed_now
                     if (a := before.get(instance.cameras[c].id)) is not None and a.worker != wids[pk.worker[c]])
    changes = (state.changes_since_full + 1) if state is not None else 1
    base_gap = state.base_gap if state is not None else None
    log.debug("incremental plan: %d kept, %d moved, %d migrations", len(kept), len(moved), migrations)
    return build_result(pk, lam=lam, migrations=migrations, base_gap=base_gap, changes=changes,
                        reuse=state.reuse_by_id() if state is not None else None)


def _level_at_most(m, c: int, fps: float) -> int:
    """The highest level whose camera rate does not exceed ``fps`` (the previous rate)."""
    ok = np.nonzero((m.cam_fps[c] <= fps + 1e-9) & (m.V[c] > 1e-12))[0]
    return int(ok[-1]) if len(ok) else lowest_level(m, c)
