"""The planner: every rule holds, deterministic, never worse than the baselines, near the LP bound."""
from __future__ import annotations

import pytest
from hypothesis import given, settings

from scheduler import (
    FAMILIES,
    check,
    config_bound,
    first_fit_decreasing,
    generate,
    lp_bound,
    plan,
    round_robin,
    tiny,
)
from tests.scheduler.strategies import instances


@settings(max_examples=150, deadline=None)
@given(instances())
def test_property_plan_obeys_every_rule(inst):
    p = plan(inst)
    report = check(inst, p)
    unplaced = {j.job for j in p.unplaced_jobs}
    # the only allowed violation: a job that fits no worker (the plan lists it, with why)
    assert all(v.rule == "job_placed" and v.subject.removeprefix("job ") in unplaced for v in report.violations), \
        [str(v) for v in report.violations]
    assert_unplaced_jobs_fit_nowhere(inst, p)
    assert report.objective == pytest.approx(p.objective, rel=1e-9, abs=1e-9)
    assert all(u.reason.split(":")[0] in ("compute", "memory", "node pin", "no worker", "demand") for u in p.unserved)


def assert_unplaced_jobs_fit_nowhere(inst, p):
    used_c = {w.id: 0.0 for w in inst.workers}
    used_m = {w.id: 0.0 for w in inst.workers}
    for j in p.jobs:
        used_c[j.worker] += inst.job(j.job).compute_ms_per_s
        used_m[j.worker] += inst.job(j.job).memory_mib
    for u in p.unplaced_jobs:
        job = inst.job(u.job)
        assert u.reason
        assert not any(job.compute_ms_per_s <= w.compute_ms_per_s - used_c[w.id] and
                       job.memory_mib <= w.memory_mib - used_m[w.id] for w in inst.workers)


@settings(max_examples=100, deadline=None)
@given(instances())
def test_property_never_worse_than_the_baselines(inst):
    p = plan(inst).objective
    assert p >= round_robin(inst).objective - 1e-9
    assert p >= first_fit_decreasing(inst).objective - 1e-9


@settings(max_examples=80, deadline=None)
@given(instances())
def test_property_baselines_obey_every_rule(inst):
    for planner in (round_robin, first_fit_decreasing):
        p = planner(inst)
        report = check(inst, p)
        unplaced = {j.job for j in p.unplaced_jobs}
        assert all(v.rule == "job_placed" and v.subject.removeprefix("job ") in unplaced
                   for v in report.violations), (planner.__name__, [str(v) for v in report.violations])


@settings(max_examples=60, deadline=None)
@given(instances(jobs=False))
def test_property_lp_bound_is_an_upper_bound(inst):
    bound = lp_bound(inst)
    assert plan(inst).objective <= bound + 1e-6
    assert first_fit_decreasing(inst).objective <= bound + 1e-6
    assert lp_bound(inst, pooled_pins=True) >= bound - 1e-6  # the coarser relaxation of pins


@settings(max_examples=40, deadline=None)
@given(instances())
def test_property_deterministic(inst):
    assert plan(inst).to_json() == plan(inst).to_json()


def test_tiny_everything_served():
    p = plan(tiny())
    assert not p.unserved and p.objective == pytest.approx(7.0)
    assert p.worker_of("c1") == "w1"  # pinned to n1


def test_short_compute_lowers_rates_before_dropping():
    inst = tiny()
    # one small worker: full rates need (10*5 + 1*5 + .5*5) + ... ~ 200 ms/s; give 90
    small = inst.replace(workers=(inst.workers[0].__class__("w0", "n0", 90.0, 512.0),), jobs=())
    p = plan(small)
    assert check(small, p).ok
    rates = [g.fps for a in p.cameras for g in a.demands]
    assert rates and min(rates) < 5.0  # some demand runs below its desired rate
    assert any(u.reason.startswith("node pin") for u in p.unserved)  # c1 pinned to n1: no such worker now


@pytest.mark.parametrize("family", FAMILIES)
def test_families_valid_and_better_than_baselines(family):
    inst = generate(family, n_cameras=150, seed=3)
    p = plan(inst)
    assert check(inst, p).ok
    assert p.objective >= max(round_robin(inst).objective, first_fit_decreasing(inst).objective) - 1e-9


@pytest.mark.parametrize("family, max_gap", [("uniform", 0.02), ("load100", 0.02), ("compute_bound", 0.02),
                                             ("skewed", 0.02), ("load200", 0.05)])
def test_gap_to_lp_bound(family, max_gap):
    inst = generate(family, n_cameras=200, seed=5)
    assert 1.0 - plan(inst).objective / lp_bound(inst) <= max_gap


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "memory_bound"])
def test_gap_to_the_configuration_bound(family):
    """Every family within 2 % of the configuration bound (valid on its own) at 200 cameras;
    memory_bound is checked at the issue's size below (at 200 cameras on 4 workers memory
    really is short and that bound relaxes memory)."""
    inst = generate(family, n_cameras=200, seed=5)
    assert 1.0 - plan(inst).objective / config_bound(inst) <= 0.02


@pytest.mark.slow
def test_memory_bound_groups_cameras_by_algorithm():
    """2,000 cameras, many distinct algorithms, small worker memory: cameras sharing algorithms
    go together (each worker holds about one scene's pool), within 2 % of the bound."""
    inst = generate("memory_bound", n_cameras=2000, seed=1)
    p = plan(inst)
    assert check(inst, p).ok
    assert 1.0 - p.objective / config_bound(inst) <= 0.02
    from scheduler._model import compile_instance
    from scheduler.planner import _priced_once, pack_all

    mixed, memory_short = _priced_once(compile_instance(inst), pack_all)  # the similarity order alone
    assert memory_short and p.objective >= 1.3 * mixed.objective  # it mixes the scenes' pools: ~0.57 of the bound


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_one_memory_short_worker_chooses_algorithms_near_the_optimum(seed):
    """memory_bound, 30 cameras on one worker: which algorithms to hold is a knapsack; the
    plan is near the exact optimum (the similarity packing alone reached ~0.71 of it)."""
    from tests.scheduler.exact import exact_optimum

    inst = generate("memory_bound", n_cameras=30, seed=seed)
    best = exact_optimum(inst)
    if best is None:
        return
    p = plan(inst)
    assert check(inst, p).ok and p.objective >= 0.9 * best


@settings(max_examples=25, deadline=None)
@given(instances(max_cameras=4, max_workers=2))
def test_property_exact_optimum_between_plan_and_bound(inst):
    """Against the true optimum (a MILP, tests/scheduler/exact.py): the plan never claims more,
    the LP bound never less."""
    from tests.scheduler.exact import exact_optimum

    best = exact_optimum(inst)
    if best is None:  # a job fits nowhere, or HiGHS ran out of time
        return
    assert plan(inst).objective <= best + 1e-6 * max(1.0, best)
    assert lp_bound(inst) >= best - 1e-6 * max(1.0, best)
    assert lp_bound(inst, pooled_pins=True) >= best - 1e-6 * max(1.0, best)


def test_memory_short_camera_leaves_out_demands_rather_than_its_rate():
    """One camera whose demands together exceed every worker's memory: its valuable demand
    (priority 5 at 10 fps) runs at its full rate with the cheap ones it fits, instead of the
    whole camera dropping to 0.5 fps where only two small demands are open."""
    from scheduler import AlgorithmSpec, Backbone, CameraSpec, Demand, Instance, WorkerSpec

    algs = (AlgorithmSpec("a0", 2.65, 21.4), AlgorithmSpec("a1", 3.13, 84.9), AlgorithmSpec("a2", 4.44, 143.9),
            AlgorithmSpec("a3", 4.46, 135.5), AlgorithmSpec("a4", 2.58, 0.0))
    spec = [("a2", 5.0, 10.0, 1.0), ("a0", 0.1, 2.0, 2.0), ("a1", 0.1, 1.0, 1.0), ("a4", 0.1, 1.0, 0.1),
            ("a3", 0.1, 1.0, 0.5)]
    cam = CameraSpec("c0", 0.0, 0.0, None, tuple(Demand("c0", a, p, f, mn) for a, p, f, mn in spec))
    workers = (WorkerSpec("w0", "n0", 521.0, 120.8), WorkerSpec("w1", "n0", 160.0, 192.0),
               WorkerSpec("w2", "n0", 257.0, 349.7))
    inst = Instance(Backbone(0.0), workers, (cam,), algs, ())
    p = plan(inst)
    assert check(inst, p).ok
    grants = {g.algorithm: g.fps for a in p.cameras for g in a.demands}
    assert grants.get("a2") == 10.0 and p.objective >= 5.0
    assert any(u.reason.startswith("memory") for u in p.unserved)


def test_a_camera_pinned_to_a_missing_node_does_not_set_the_price():
    """A valuable camera pinned to a node without workers can never run; it must not raise the
    compute price so far that the placeable camera's demands are screened out."""
    from scheduler import AlgorithmSpec, Backbone, CameraSpec, Demand, Instance, WorkerSpec

    algs = (AlgorithmSpec("a0", 1.1, 151.9), AlgorithmSpec("a1", 4.71, 16.0), AlgorithmSpec("a3", 0.5, 56.3))
    c1 = CameraSpec("c1", 9.8, 0.0, None, (Demand("c1", "a1", 2.17, 15.0, 1.5), Demand("c1", "a0", 0.19, 10.0, 5.0)))
    c4 = CameraSpec("c4", 1.9, 6.8, "n2", (Demand("c4", "a0", 8.35, 15.0, 7.5), Demand("c4", "a3", 8.47, 5.0, 2.5)))
    inst = Instance(Backbone(1.9), (WorkerSpec("w0", "n1", 64.0, 1200.0),), (c1, c4), algs, ())
    p = plan(inst)
    assert check(inst, p).ok and p.worker_of("c1") == "w0" and p.objective > 0.3
    assert all(u.reason.startswith("node pin") for u in p.unserved if u.camera == "c4")
