"""simple_plan: round-robin by camera, a camera's algorithms together, limits checked."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import Assignment, CostModel, PlacementError, PlanError, SchedulerError, Worker, simple_plan


def workers(n, fps=100.0, mem=1024.0):
    return [Worker(f"w{i}", compute_fps=fps, memory_mib=mem) for i in range(n)]


def test_round_robin_keeps_a_cameras_algorithms_together():
    cams = ["a", "b", "c", "d", "e"]
    asg = [Assignment(c, alg, fps=5) for c in cams for alg in ("fire", "smoke")]
    plan = simple_plan(cams, asg, workers(2))
    assert [p.worker_id for p in plan.placements] == ["w0", "w1", "w0", "w1", "w0"]
    assert all({a.algorithm_id for a in p.assignments} == {"fire", "smoke"} for p in plan.placements)
    assert plan.cameras_on("w1") == ("b", "d")


def test_camera_fps_is_its_fastest_algorithm_and_priority_orders_them():
    asg = [Assignment("a", "litter", fps=1, priority=0), Assignment("a", "fire", fps=8, priority=5)]
    p = simple_plan(["a"], asg, workers(1)).placement("a")
    assert p.fps == 8.0 and [a.algorithm_id for a in p.assignments] == ["fire", "litter"]


def test_a_full_worker_is_skipped():
    # w0 has room for one 10-fps camera only
    ws = [Worker("w0", compute_fps=11, memory_mib=1024), Worker("w1", compute_fps=100, memory_mib=1024)]
    asg = [Assignment(c, "fire", fps=10) for c in ("a", "b", "c")]
    plan = simple_plan(["a", "b", "c"], asg, ws)
    assert [plan.worker_of(c) for c in ("a", "b", "c")] == ["w0", "w1", "w1"]


def test_cameras_without_assignments_are_not_placed():
    plan = simple_plan(["a", "idle"], [Assignment("a", "fire", fps=1)], workers(2))
    assert [p.camera_id for p in plan.placements] == ["a"]


@pytest.mark.parametrize(
    "cams, asg, ws, exc, match",
    [
        (["a"], [Assignment("a", "fire", fps=50)], workers(2, fps=20), PlacementError,
         r"camera 'a' needs 50.5 backbone frames/s"),  # compute limit
        (["a"], [Assignment("a", f"alg{i}", fps=1) for i in range(100)], workers(1, mem=100), PlacementError,
         r"164 MiB"),  # memory limit: backbone 64 + 100 heads
        (["a"], [Assignment("a", "fire", fps=1)], [], PlanError, "no workers given"),  # nothing to run on
        (["a"], [Assignment("b", "fire", fps=1)], workers(1), PlanError, r"cameras \['b'\]"),  # unknown camera
        (["a", "a"], [], workers(1), PlanError, "duplicate camera id 'a'"),  # duplicate camera
        (["a"], [Assignment("a", "fire", fps=1)] * 2, workers(1), PlanError, "duplicate \\(camera, algorithm\\)"),
        (["a"], [], [Worker("w", 1, 1), Worker("w", 1, 1)], PlanError, "duplicate worker id 'w'"),  # duplicate worker
    ],
)
def test_errors(cams, asg, ws, exc, match):
    with pytest.raises(exc, match=match):
        simple_plan(cams, asg, ws)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Assignment("a", "fire", fps=0), "fps=0"),  # no rate
        (lambda: Assignment("", "fire", fps=1), "needs a camera_id"),  # no camera
        (lambda: Worker("w", compute_fps=0, memory_mib=1), "compute_fps=0"),  # no compute
        (lambda: Worker("w", compute_fps=1, memory_mib=float("inf")), "memory_mib=inf"),  # unbounded
        (lambda: Worker("", compute_fps=1, memory_mib=1), "worker_id is empty"),  # no id
    ],
)
def test_record_validation(make, match):
    with pytest.raises(PlanError, match=match):
        make()


def test_errors_share_one_base():
    assert issubclass(PlanError, SchedulerError) and issubclass(PlanError, ValueError)
    assert issubclass(PlacementError, SchedulerError)


@settings(max_examples=60, deadline=None)
@given(
    n_workers=st.integers(1, 4),
    cams=st.lists(st.lists(st.sampled_from(["fire", "smoke", "litter", "crowd"]), min_size=0, max_size=4, unique=True),
                  min_size=1, max_size=12),
    fps=st.sampled_from([1.0, 2.0, 5.0]),
)
def test_property_every_assignment_placed_once_within_limits(n_workers, cams, fps):
    ids = [f"c{i}" for i in range(len(cams))]
    asg = [Assignment(c, alg, fps=fps) for c, algs in zip(ids, cams) for alg in algs]
    ws = workers(n_workers, fps=30.0, mem=80.0)
    cost = CostModel()
    try:
        plan = simple_plan(ids, asg, ws, cost=cost)
    except PlacementError:
        # a refusal must be real: total compute needed exceeds what all workers have
        need = sum(cost.camera_compute_fps([a for a in asg if a.camera_id == c]) for c in ids if any(a.camera_id == c for a in asg))
        assert need > 30.0 * n_workers - 30.0  # at least one worker's worth did not fit
        return
    placed = [a for p in plan.placements for a in p.assignments]
    assert sorted(map(str, placed)) == sorted(map(str, asg))
    for w in ws:
        mine = [p for p in plan.placements if p.worker_id == w.worker_id]
        assert sum(cost.camera_compute_fps(p.assignments) for p in mine) <= w.compute_fps + 1e-9
        assert cost.worker_memory_mib(a.algorithm_id for p in mine for a in p.assignments) <= w.memory_mib
