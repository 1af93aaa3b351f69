"""The fast incremental path's own bookkeeping: a cost change patches the compute ladders
by difference (they must equal a recompile's), the shared plan outputs stay each plan's own,
instances rebuilt from JSON are re-based onto the chain, and the cases that must leave the
fast path for the thorough one do."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import CameraSpec, Demand, Instance, check, generate, plan, rebase
from scheduler._model import ladder_rows
from tests.scheduler.strategies import instances
from tests.scheduler.test_incremental import valid


def _live(m):
    return np.array([c for c in range(m.n_cams) if m.cams[c] is not None], dtype=np.int64)


def _recost(inst, k, factor, mem=1.0):
    a = inst.algorithms[k]
    algs = inst.algorithms[:k] + (dataclasses.replace(a, head_ms=a.head_ms * factor, memory_mib=a.memory_mib * mem),) + \
        inst.algorithms[k + 1:]
    return inst.replace(algorithms=algs)


def test_cost_changes_patch_the_ladders_as_a_recompile_would():
    inst = generate("heterogeneous", n_cameras=300, seed=3)
    p = plan(inst)
    head = p._state.head
    for i, (k, f, mem) in enumerate([(0, 1.4, 1.0), (3, 0.7, 1.3), (0, 0.8, 0.5), (5, 2.0, 1.0)]):
        # a camera changed too: its old demand segment must not be patched as if live
        cams = inst.cameras
        inst = inst.replace(cameras=cams[:i] + (dataclasses.replace(cams[i], demands=cams[i].demands[1:]),) + cams[i + 1:])
        p = plan(inst, previous=p)
        inst = _recost(inst, k, f, mem)
        p = plan(inst, previous=p)
        assert p._state.head is head  # still the fast path
        valid(inst, p)
        m = p._state.model
        live = _live(m)
        V, K, F = ladder_rows(m, live)
        np.testing.assert_allclose(m.K[live], K, rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(m.V[live], V)
        # the packing's free compute is what its cameras and jobs leave
        pk = p._state.packing
        used = np.zeros(len(m.wids))
        placed = live[pk.worker[live] >= 0]
        np.add.at(used, pk.worker[placed], m.K[placed, pk.level[placed]])
        for j, w in pk.jobs.items():
            used[w] += m.jobs[j].compute_ms_per_s
        alive = m.w_alive
        np.testing.assert_allclose(pk.free_c[alive], (m.w_compute - used)[alive], rtol=1e-9, atol=1e-6)


def test_each_plan_of_a_chain_keeps_its_own_rows():
    inst = generate("uniform", n_cameras=2000, seed=5)
    p0 = plan(inst)
    rows0 = p0.to_json()
    chain = [p0]
    cur = inst
    for i in range(6):
        cams = cur.cameras
        cur = cur.replace(cameras=cams[:i] + cams[i + 1:]) if i % 2 else _recost(cur, i, 1.5)
        chain.append(plan(cur, previous=chain[-1]))
    assert p0.to_json() == rows0  # read after the chain patched the shared state: unchanged
    assert {a.camera for a in chain[-1].cameras} != {a.camera for a in p0.cameras}
    assert check(cur, chain[-1]).ok


def test_a_rate_missing_from_the_level_grid_recompiles():
    empty = Instance.from_json({"format": "warehouse.schedule/1", "backbone": {"memory_mib": 64},
                                "workers": [{"id": "w0", "node": "n0", "compute_ms_per_s": 1000, "memory_mib": 512}],
                                "cameras": [], "algorithms": [{"id": "fire", "head_ms": 1, "memory_mib": 4}],
                                "demands": [], "jobs": []})
    p0 = plan(empty)
    cam = CameraSpec("c0", 2.0, 8.0, None, (Demand("c0", "fire", 1.0, 2.0, 0.5),))
    nxt = empty.replace(cameras=(cam,))
    p1 = plan(nxt, previous=p0)
    assert [(a.camera, a.fps) for a in p1.cameras] == [("c0", 2.0)]  # its own rate, not the empty grid's 1 fps
    assert p1.objective == pytest.approx(1.0)


def test_many_cameras_changed_at_once_take_the_thorough_path():
    inst = generate("heterogeneous", n_cameras=400, seed=6)
    p = plan(inst)
    cams = tuple(dataclasses.replace(c, decode_ms=c.decode_ms * 1.5) for c in inst.cameras[:100]) + inst.cameras[100:]
    nxt = inst.replace(cameras=cams)
    q = plan(nxt, previous=p)
    assert q._state.head is not p._state.head
    valid(nxt, q)
    assert q.objective >= 0.98 * plan(nxt).objective


@settings(max_examples=40, deadline=None)
@given(instances(max_cameras=10), st.integers(0, 3))
def test_property_rebased_rebuilt_instance_plans_as_the_replaced_one(inst, which):
    """An instance rebuilt from JSON and re-based onto the chain gives the same plan as the
    instance made by replace() (deterministic; the control plane's path)."""
    if not inst.cameras or not inst.workers:
        return
    cams = inst.cameras
    changed = [inst.replace(cameras=cams[1:]),
               inst.replace(cameras=cams + (CameraSpec("zz", 1.0, 2.0, None, tuple(
                   Demand("zz", a.id, 1.0, cams[0].demands[0].fps if cams[0].demands else 1.0, 0.5)
                   for a in inst.algorithms[:1])),)),
               inst.replace(workers=inst.workers[1:]),
               _recost(inst, 0, 3.0, 2.0)][which]
    direct = plan(changed, previous=plan(inst))
    rebuilt = Instance.from_json(changed.to_json())
    prev = plan(inst)
    based = rebase(rebuilt, prev)
    assert based == changed and based._index["delta"].base() is prev._state.model.inst
    again = plan(based, previous=prev)
    valid(changed, again)
    assert again.to_json() == direct.to_json()


@pytest.mark.parametrize("k, factor", [(0, 1.4), (1, 3.0), (2, 8.0), (7, 1.8)])
def test_bulk_lowering_of_over_full_workers_equals_the_camera_by_camera_repair(monkeypatch, k, factor):
    """Over-full workers are first lowered in numpy, one camera per worker per pass (20 to 52
    of the 60 workers here); the plan must be the one the camera-by-camera repair alone gives
    (same order, same levels), also when the bulk step stops early and hands over."""
    import scheduler._engine as engine
    import scheduler._moves as moves

    inst = generate("heterogeneous", n_cameras=1500, n_workers=60, seed=8)
    changed = _recost(inst, k, factor)  # algorithms 0-3 are shared by every scene
    plans = []
    for variant in ("bulk", "one pass", "alone"):
        if variant == "one pass":
            monkeypatch.setattr(engine, "lower_worst", lambda *a, **kw: moves.lower_worst(*a, passes=1, **kw))
        elif variant == "alone":
            monkeypatch.setattr(engine, "lower_worst", lambda m, pk, over, *a, **kw: np.zeros(len(over), dtype=bool))
        plans.append(plan(changed, previous=plan(inst)))
    valid(changed, plans[0])
    assert plans[0].to_json() == plans[1].to_json() == plans[2].to_json()


def test_drift_of_a_chain_reads_its_cached_gains_as_a_full_recomputation_would():
    from scheduler import drift
    from scheduler.drift import dual_bound

    inst = generate("heterogeneous", n_cameras=600, seed=9)
    p = plan(inst)
    for i in range(12):
        cams, algs = inst.cameras, inst.algorithms
        inst = [lambda: inst.replace(cameras=cams[1:]),
                lambda: _recost(inst, i % len(algs), 1.6),
                lambda: inst.replace(workers=inst.workers[1:]),
                lambda: inst.replace(cameras=cams + (CameraSpec(f"n{i}", 2.0, 8.0, None, tuple(
                    Demand(f"n{i}", a.id, 1.0, 5.0, 1.0) for a in algs[:6])),)),
                lambda: _recost(inst, (i + 3) % len(algs), 0.6)][i % 5]()
        p = plan(inst, previous=p)
        st = p._state
        expect = max(0.0, 1.0 - p.objective / dual_bound(st.model, st.lam) - st.base_gap)
        assert drift(p, inst) == pytest.approx(expect, rel=1e-9, abs=1e-12)
